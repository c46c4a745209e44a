import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retrievalChance } from '../../src/eval/metrics.js';
import { resultsMarkdown } from '../../src/eval/report.js';

/** Every permutation of 0..n-1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

test('retrieval chance: closed form equals exhaustive enumeration of random rankings', () => {
  const imageOfText = [0, 0, 1, 2, 2, 2];
  const nImages = 3;
  const ks = [1, 2, 5, 10];
  const got = retrievalChance(nImages, imageOfText, ks);
  // I2T: over all orders of the 6 texts, the rank of the best caption of each image.
  const perms = permutations(imageOfText.length);
  for (const k of ks) {
    let hits = 0;
    for (const p of perms) for (let img = 0; img < nImages; img++) if (p.findIndex((t) => imageOfText[t] === img) + 1 <= k) hits++;
    assert.ok(Math.abs(got.imageToText[`R@${k}`] - (100 * hits) / (perms.length * nImages)) < 1e-9, `I2T R@${k}`);
  }
  let rankSum = 0;
  for (const p of perms) for (let img = 0; img < nImages; img++) rankSum += p.findIndex((t) => imageOfText[t] === img) + 1;
  assert.ok(Math.abs(got.imageToText.meanRank - rankSum / (perms.length * nImages)) < 1e-9);
  // T2I: one correct image of 3.
  assert.deepEqual([got.textToImage['R@1'], got.textToImage['R@2'], got.textToImage['R@5'], got.textToImage['R@10'], got.textToImage.meanRank], [100 / 3, 200 / 3, 100, 100, 2]);
  assert.equal(got.imageToText['R@10'], 100);
});

test('eval report prints chance rows for retrieval and zero-shot', () => {
  const chance = retrievalChance(4, [0, 1, 2, 3], [1]);
  const md = resultsMarkdown({
    retrieval: { imageToText: { 'R@1': 50, meanRank: 1.5, medianRank: 1 }, textToImage: { 'R@1': 25, meanRank: 2, medianRank: 2 }, nImages: 4, nTexts: 4, chance, source: 's' },
    zeroshot: { top1: 60, top5: 100, meanPerClass: 55, perClass: [], confusions: [], n: 10, source: 'd', templates: 1, classes: 8 } as never,
  });
  assert.match(md, /\| chance, image -> text \| 25\.00 \| 2\.50 \| \|/);
  assert.match(md, /\| chance, text -> image \| 25\.00 \| 2\.50 \| \|/);
  assert.match(md, /\| chance \| 12\.50 \| 62\.50 \| 12\.50 \|/);
});
