// Markdown rendering of evaluation results (the JSON is written as-is).
import type { ClassificationMetrics, RetrievalMetrics } from './metrics.js';

/** Results of `sail eval`, one entry per task that ran. */
export interface EvalResults {
  head?: string;
  retrieval?: RetrievalMetrics & { source: string };
  zeroshot?: ClassificationMetrics & { source: string; templates: number; classes: number };
  knn?: { source: string; results: { k: number; top1: number; top5: number; n: number }[] };
  linear?: ClassificationMetrics & { source: string; lambda: number };
  winoground?: { source: string; text: number; image: number; group: number; n: number };
  mmvp?: { source: string; average: number; categories: Record<string, number>; pairs: number };
}

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

/** A Markdown report with one table per task. */
export function resultsMarkdown(r: EvalResults): string {
  const out: string[] = ['# sail eval results', ''];
  if (r.head) out.push(`Head: \`${r.head}\``, '');
  if (r.retrieval) {
    const m = r.retrieval;
    const ks = Object.keys(m.imageToText).filter((k) => k.startsWith('R@'));
    out.push(`## Retrieval (${m.nImages} images, ${m.nTexts} texts; ${r.retrieval.source})`, '');
    out.push(`| direction | ${ks.join(' | ')} | mean rank | median rank |`, `|---|${ks.map(() => '---:').join('|')}|---:|---:|`);
    for (const [name, d] of [['image -> text', m.imageToText], ['text -> image', m.textToImage]] as const) {
      out.push(`| ${name} | ${ks.map((k) => f(d[k])).join(' | ')} | ${f(d.meanRank)} | ${f(d.medianRank)} |`);
    }
    if (m.chance) {
      for (const [name, d] of [['chance, image -> text', m.chance.imageToText], ['chance, text -> image', m.chance.textToImage]] as const) {
        out.push(`| ${name} | ${ks.map((k) => f(d[k])).join(' | ')} | ${f(d.meanRank)} | |`);
      }
    }
    if (m.meanR10 !== undefined) out.push('', `Mean of I2T and T2I R@10 (probing score): ${f(m.meanR10)}`);
    out.push('');
  }
  if (r.zeroshot) {
    const z = r.zeroshot;
    out.push(`## Zero-shot classification (${z.n} images, ${z.classes} classes, ${z.templates} templates; ${z.source})`, '');
    // chance: a uniformly random class ranking, top-k = min(k, C) / C
    const chance = (k: number) => (100 * Math.min(k, z.classes)) / z.classes;
    out.push('| | top-1 | top-5 | mean per-class |', '|---|---:|---:|---:|', `| head | ${f(z.top1)} | ${f(z.top5)} | ${f(z.meanPerClass)} |`,
      `| chance | ${f(chance(1))} | ${f(chance(5))} | ${f(chance(1))} |`, '');
    if (z.confusions.length) {
      out.push('Most confused (true -> predicted):', '', '| true | predicted | count |', '|---|---|---:|');
      for (const c of z.confusions) out.push(`| ${c.trueName ?? c.true} | ${c.predictedName ?? c.predicted} | ${c.count} |`);
      out.push('');
    }
  }
  if (r.knn) {
    out.push(`## Weighted k-NN (T = 0.07; ${r.knn.source})`, '', '| k | top-1 | top-5 |', '|---:|---:|---:|');
    for (const k of r.knn.results) out.push(`| ${k.k} | ${f(k.top1)} | ${f(k.top5)} |`);
    out.push('');
  }
  if (r.linear) {
    const l = r.linear;
    out.push(`## Linear probe (closed-form ridge, lambda ${l.lambda}; ${l.source})`, '', '| top-1 | top-5 | mean per-class |', '|---:|---:|---:|', `| ${f(l.top1)} | ${f(l.top5)} | ${f(l.meanPerClass)} |`, '');
  }
  if (r.winoground) {
    const w = r.winoground;
    out.push(`## Winoground (${w.n} examples; ${w.source})`, '', '| text | image | group |', '|---:|---:|---:|', `| ${f(w.text)} | ${f(w.image)} | ${f(w.group)} |`, '');
  }
  if (r.mmvp) {
    const m = r.mmvp;
    const cats = Object.keys(m.categories);
    out.push(`## MMVP-VLM (${m.pairs} pairs; ${m.source})`, '', `| ${cats.join(' | ')} | average |`, `|${cats.map(() => '---:').join('|')}|---:|`);
    out.push(`| ${cats.map((c) => f(m.categories[c])).join(' | ')} | ${f(m.average)} |`, '');
  }
  return out.join('\n');
}
