// The one sorted top-k insert, shared by the similarity scan (eval) and the search index (serve).

/**
 * Insert (index, score) into the sorted top-k list held in `idx`/`sc` at [o, o + k) (score descending,
 * padded with -Infinity / -1). The caller has checked `score > sc[o + k - 1]`; an equal score never
 * displaces an entry already in the list, so ties keep arrival order.
 */
export function insertTopK(idx: Int32Array, sc: Float32Array | Float64Array, o: number, k: number, index: number, score: number): void {
  let p = o + k - 1;
  while (p > o && sc[p - 1] < score) {
    sc[p] = sc[p - 1];
    idx[p] = idx[p - 1];
    p--;
  }
  sc[p] = score;
  idx[p] = index;
}
