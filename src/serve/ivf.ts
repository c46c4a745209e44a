// Approximate nearest-neighbour index over L2-normalised vectors: IVF with spherical k-means centroids.
import { Rng } from '../util/rng.js';
import { l2NormalizeRows } from '../model/vector-math.js';

/** One search hit: row index into the indexed vectors and its cosine score. */
export interface Hit {
  index: number;
  score: number;
}

export interface IvfOptions {
  /** Below this many vectors search is exact (brute force). Default 2048. */
  exactBelow?: number;
  /** Number of inverted lists; default round(sqrt(n)). */
  nlist?: number;
  /** k-means (Lloyd) iterations. Default 10. */
  iterations?: number;
  seed?: number;
  /** k-means is fitted on at most this many sampled vectors. Default 64 x nlist (as Faiss suggests, 39-256 per list). */
  trainSample?: number;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ai + k] * b[bi + k];
  return s;
}

/** Keep the best k hits in a small sorted array (k is small in interactive search). */
function pushTop(top: Hit[], k: number, index: number, score: number): void {
  if (top.length === k && score <= top[k - 1].score) return;
  let i = top.length < k ? top.length : k - 1;
  if (top.length < k) top.push({ index, score });
  while (i > 0 && top[i - 1].score < score) {
    top[i] = top[i - 1];
    i--;
  }
  top[i] = { index, score };
}

/**
 * Inverted-file index. Vectors are L2-normalised on insertion; score = cosine. With n < exactBelow the
 * search is exact; otherwise the query is compared to the centroids and only the `nprobe` closest lists
 * are scanned.
 */
export class IvfIndex {
  readonly n: number;
  readonly exact: boolean;
  /** [nlist, d] normalised centroids (empty when exact). */
  centroids: Float32Array = new Float32Array(0);
  /** lists[c] = row indices assigned to centroid c. */
  lists: Int32Array[] = [];

  constructor(
    readonly vectors: Float32Array,
    readonly d: number,
    opts: IvfOptions = {},
  ) {
    l2NormalizeRows(vectors, d);
    this.n = vectors.length / d;
    this.exact = this.n < (opts.exactBelow ?? 2048);
    if (!this.exact) this.train(opts);
  }

  get nlist(): number {
    return this.lists.length;
  }

  private nearestCentroid(v: Float32Array, vi: number): number {
    let best = 0;
    let bestS = -Infinity;
    for (let c = 0; c * this.d < this.centroids.length; c++) {
      const s = dot(v, vi, this.centroids, c * this.d, this.d);
      if (s > bestS) {
        bestS = s;
        best = c;
      }
    }
    return best;
  }

  private train(opts: IvfOptions): void {
    const { n, d, vectors } = this;
    const nlist = Math.max(1, Math.min(n, opts.nlist ?? Math.round(Math.sqrt(n))));
    const rng = new Rng(opts.seed ?? 1);
    const perm = rng.permutation(n);
    const sample = perm.subarray(0, Math.min(n, opts.trainSample ?? 64 * nlist));
    // Init from distinct random rows, then spherical Lloyd steps (mean of members, re-normalised).
    this.centroids = new Float32Array(nlist * d);
    for (let c = 0; c < nlist; c++) this.centroids.set(vectors.subarray(sample[c % sample.length] * d, sample[c % sample.length] * d + d), c * d);
    const assign = new Int32Array(sample.length);
    for (let it = 0; it < (opts.iterations ?? 10); it++) {
      const sums = new Float32Array(nlist * d);
      const counts = new Int32Array(nlist);
      for (let i = 0; i < sample.length; i++) {
        const c = this.nearestCentroid(vectors, sample[i] * d);
        assign[i] = c;
        counts[c]++;
        for (let k = 0; k < d; k++) sums[c * d + k] += vectors[sample[i] * d + k];
      }
      for (let c = 0; c < nlist; c++) {
        // An empty list is re-seeded with a random member so no centroid is wasted.
        if (counts[c] === 0) {
          const r = sample[rng.int(sample.length)] * d;
          sums.set(vectors.subarray(r, r + d), c * d);
        }
      }
      this.centroids = l2NormalizeRows(sums, d);
    }
    const members: number[][] = Array.from({ length: nlist }, () => []);
    for (let i = 0; i < n; i++) members[this.nearestCentroid(vectors, i * d)].push(i);
    this.lists = members.map((m) => Int32Array.from(m));
  }

  /** Top-k rows by cosine to `query` (normalised here). nprobe: lists scanned (default max(1, nlist/8)). */
  search(query: Float32Array, k: number, nprobe?: number): Hit[] {
    const { d } = this;
    const q = l2NormalizeRows(Float32Array.from(query), d);
    const top: Hit[] = [];
    if (this.exact) {
      for (let i = 0; i < this.n; i++) pushTop(top, k, i, dot(q, 0, this.vectors, i * d, d));
      return top;
    }
    const probe = Math.max(1, Math.min(this.nlist, nprobe ?? Math.ceil(this.nlist / 8)));
    const cTop: Hit[] = [];
    for (let c = 0; c < this.nlist; c++) pushTop(cTop, probe, c, dot(q, 0, this.centroids, c * d, d));
    for (const { index: c } of cTop) for (const i of this.lists[c]) pushTop(top, k, i, dot(q, 0, this.vectors, i * d, d));
    return top;
  }
}
