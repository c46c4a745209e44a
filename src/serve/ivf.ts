// Approximate nearest-neighbour index over L2-normalised vectors: IVF with spherical k-means centroids.
import { insertTopK } from '../util/top-k.js';
import { Rng } from '../util/rng.js';
import { l2NormalizeRows } from '../util/vectors.js';
import { GraphBuilder } from '../onnx/graph.js';
import { createSession, f32 } from '../onnx/session.js';

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

/** The best k of the (index, score) pairs `each` offers, score descending (ties: first offered first). */
function bestK(k: number, each: (offer: (index: number, score: number) => void) => void): Hit[] {
  if (k <= 0) return [];
  const idx = new Int32Array(k).fill(-1);
  const sc = new Float64Array(k).fill(-Infinity);
  each((index, score) => {
    if (score > sc[k - 1]) insertTopK(idx, sc, 0, k, index, score);
  });
  const hits: Hit[] = [];
  for (let j = 0; j < k && idx[j] >= 0; j++) hits.push({ index: idx[j], score: sc[j] });
  return hits;
}

/** Assigns rows of X [n, d] to their most similar centroid of C [k, d]. */
type Assigner = (x: Float32Array, c: Float32Array, d: number) => Promise<Int32Array>;

const ASSIGN_BLOCK = 8192;

/**
 * Nearest-centroid assignment as one onnxruntime graph (MatMul + ArgMax): k-means over tens of thousands of
 * vectors is GEMM-bound, and plain JS loops are ~100x slower than onnxruntime's kernels.
 */
async function ortAssigner(): Promise<{ assign: Assigner; release: () => Promise<void> }> {
  const g = new GraphBuilder('ivf_assign');
  const x = g.input('x', 'float32', ['N', 'D']);
  const c = g.input('c', 'float32', ['K', 'D']);
  g.output(g.op('ArgMax', [g.op('MatMul', [x, g.op('Transpose', [c], { perm: [1, 0] })])], { axis: 1, keepdims: 0 }), 'best', 'int64', ['N']);
  const session = await createSession(g.toBytes());
  const assign: Assigner = async (xs, cs, d) => {
    const n = xs.length / d;
    const out = new Int32Array(n);
    const ct = f32(cs, [cs.length / d, d]);
    for (let r = 0; r < n; r += ASSIGN_BLOCK) {
      const rows = Math.min(ASSIGN_BLOCK, n - r);
      const res = await session.run({ x: f32(xs.subarray(r * d, (r + rows) * d), [rows, d]), c: ct });
      const best = res.best.data as BigInt64Array;
      for (let i = 0; i < rows; i++) out[r + i] = Number(best[i]);
    }
    return out;
  };
  return { assign, release: () => session.release() };
}

/**
 * Inverted-file index. Vectors are L2-normalised on insertion; score = cosine. With n < exactBelow the
 * search is exact; otherwise the query is compared to the centroids and only the `nprobe` closest lists
 * are scanned. Build with {@link IvfIndex.build}.
 */
export class IvfIndex {
  readonly n: number;
  readonly exact: boolean;

  private constructor(
    readonly vectors: Float32Array,
    readonly d: number,
    /** [nlist, d] normalised centroids (empty when exact). */
    readonly centroids: Float32Array,
    /** lists[c] = row indices assigned to centroid c (empty when exact). */
    readonly lists: Int32Array[],
  ) {
    this.n = vectors.length / d;
    this.exact = lists.length === 0;
  }

  /** Normalise `vectors` [n, d] in place and index them (spherical k-means when n >= exactBelow). */
  static async build(vectors: Float32Array, d: number, opts: IvfOptions = {}): Promise<IvfIndex> {
    l2NormalizeRows(vectors, d);
    const n = vectors.length / d;
    if (n < (opts.exactBelow ?? 2048)) return new IvfIndex(vectors, d, new Float32Array(0), []);
    const { assign, release } = await ortAssigner();
    try {
      const { centroids, lists } = await trainIvf(vectors, d, n, opts, assign);
      return new IvfIndex(vectors, d, centroids, lists);
    } finally {
      await release();
    }
  }

  get nlist(): number {
    return this.lists.length;
  }

  /** Top-k rows by cosine to `query` (normalised here). nprobe: lists scanned (default max(1, nlist/8)). */
  search(query: Float32Array, k: number, nprobe?: number): Hit[] {
    const { d } = this;
    const q = l2NormalizeRows(Float32Array.from(query), d);
    if (this.exact) return bestK(k, (offer) => {
      for (let i = 0; i < this.n; i++) offer(i, dot(q, 0, this.vectors, i * d, d));
    });
    const probe = Math.max(1, Math.min(this.nlist, nprobe ?? Math.ceil(this.nlist / 8)));
    const cTop = bestK(probe, (offer) => {
      for (let c = 0; c < this.nlist; c++) offer(c, dot(q, 0, this.centroids, c * d, d));
    });
    return bestK(k, (offer) => {
      for (const { index: c } of cTop) for (const i of this.lists[c]) offer(i, dot(q, 0, this.vectors, i * d, d));
    });
  }
}

async function trainIvf(vectors: Float32Array, d: number, n: number, opts: IvfOptions, assign: Assigner): Promise<{ centroids: Float32Array; lists: Int32Array[] }> {
  const nlist = Math.max(1, Math.min(n, opts.nlist ?? Math.round(Math.sqrt(n))));
  const rng = new Rng(opts.seed ?? 1);
  const sample = rng.permutation(n).subarray(0, Math.min(n, opts.trainSample ?? 64 * nlist));
  const xs = new Float32Array(sample.length * d);
  sample.forEach((row, i) => xs.set(vectors.subarray(row * d, row * d + d), i * d));
  // Init from distinct random rows, then spherical Lloyd steps (mean of members, re-normalised).
  let centroids: Float32Array = new Float32Array(nlist * d);
  for (let c = 0; c < nlist; c++) centroids.set(xs.subarray((c % sample.length) * d, (c % sample.length) * d + d), c * d);
  for (let it = 0; it < (opts.iterations ?? 10); it++) {
    const a = await assign(xs, centroids, d);
    const sums = new Float32Array(nlist * d);
    const counts = new Int32Array(nlist);
    for (let i = 0; i < a.length; i++) {
      counts[a[i]]++;
      for (let k = 0; k < d; k++) sums[a[i] * d + k] += xs[i * d + k];
    }
    for (let c = 0; c < nlist; c++)
      if (counts[c] === 0) {
        // An empty list is re-seeded with a random sample so no centroid is wasted.
        const r = rng.int(sample.length) * d;
        sums.set(xs.subarray(r, r + d), c * d);
      }
    centroids = l2NormalizeRows(sums, d);
  }
  const all = await assign(vectors, centroids, d);
  const members: number[][] = Array.from({ length: nlist }, () => []);
  for (let i = 0; i < n; i++) members[all[i]].push(i);
  return { centroids, lists: members.map((m) => Int32Array.from(m)) };
}
