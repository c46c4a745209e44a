// Demo results: the method x metric record, chance levels in closed form, and the printed table.

/** Held-out metrics of one method, all fractions in [0, 1]. */
export interface DemoMetrics {
  /** Text -> image recall at 1/5/10 (a caption hits if its own image is in the top K). */
  t2i: { r1: number; r5: number; r10: number };
  /** Image -> text recall at 1/5/10 (an image hits if its own caption is in the top K). */
  i2t: { r1: number; r5: number; r10: number };
  /** Zero-shot emoji category classification, top-1 / top-5 accuracy. */
  category: { top1: number; top5: number };
  /** Zero-shot sub-category classification, top-1 / top-5 accuracy. */
  subcategory: { top1: number; top5: number };
}

/** One row of the results table. */
export interface MethodResult {
  method: string;
  /** What the row is, e.g. 'star head, 300 steps' or 'uniform random ranking'. */
  note: string;
  /** Mean over the training seeds (the single run's metrics with one seed). */
  metrics: DemoMetrics;
  /** Standard deviation over the training seeds (present with more than one seed). */
  sd?: DemoMetrics;
  /** One record per training seed (a deterministic method has one). */
  perSeed?: DemoMetrics[];
}

/**
 * Expected metrics of a uniformly random ranking (closed form): R@K = K / n for n candidates with one
 * correct item, top-k accuracy = k / C for C classes.
 */
export function chanceMetrics(nPairs: number, nCategories: number, nSubcategories: number): DemoMetrics {
  const r = (k: number): number => Math.min(k, nPairs) / nPairs;
  const c = (k: number, n: number): number => Math.min(k, n) / n;
  return {
    t2i: { r1: r(1), r5: r(5), r10: r(10) },
    i2t: { r1: r(1), r5: r(5), r10: r(10) },
    category: { top1: c(1, nCategories), top5: c(5, nCategories) },
    subcategory: { top1: c(1, nSubcategories), top5: c(5, nSubcategories) },
  };
}

const COLUMNS: { head: string; get: (m: DemoMetrics) => number }[] = [
  { head: 'T2I@1', get: (m) => m.t2i.r1 },
  { head: 'T2I@5', get: (m) => m.t2i.r5 },
  { head: 'T2I@10', get: (m) => m.t2i.r10 },
  { head: 'I2T@1', get: (m) => m.i2t.r1 },
  { head: 'I2T@5', get: (m) => m.i2t.r5 },
  { head: 'I2T@10', get: (m) => m.i2t.r10 },
  { head: 'cat@1', get: (m) => m.category.top1 },
  { head: 'cat@5', get: (m) => m.category.top5 },
  { head: 'sub@1', get: (m) => m.subcategory.top1 },
  { head: 'sub@5', get: (m) => m.subcategory.top5 },
];

/** One cell in percent: `6.5`, or `6.5 ± 0.3` when the row has a standard deviation. */
function cell(r: MethodResult, get: (m: DemoMetrics) => number): string {
  const mean = (100 * get(r.metrics)).toFixed(1);
  return r.sd ? `${mean} ± ${(100 * get(r.sd)).toFixed(1)}` : mean;
}

/** Fixed-width text table of the results, values in percent with one decimal (mean ± sd over seeds). */
export function formatTable(rows: MethodResult[]): string {
  const nameW = Math.max(6, ...rows.map((r) => r.method.length));
  const cells = rows.map((r) => COLUMNS.map((c) => cell(r, c.get)));
  const colW = COLUMNS.map((c, i) => Math.max(c.head.length, 5, ...cells.map((row) => row[i].length)));
  const line = (name: string, cs: string[]): string =>
    [name.padEnd(nameW), ...cs.map((c, i) => c.padStart(colW[i]))].join('  ');
  const out = [line('method', COLUMNS.map((c) => c.head))];
  out.push('-'.repeat(out[0].length));
  rows.forEach((r, i) => out.push(line(r.method, cells[i])));
  return out.join('\n');
}

/** The same table as GitHub markdown (for docs and the results file). */
export function formatMarkdownTable(rows: MethodResult[]): string {
  const out = [`| method | ${COLUMNS.map((c) => c.head).join(' | ')} |`, `|---|${COLUMNS.map(() => '---:').join('|')}|`];
  for (const r of rows) out.push(`| ${r.method} | ${COLUMNS.map((c) => cell(r, c.get)).join(' | ')} |`);
  return out.join('\n');
}
