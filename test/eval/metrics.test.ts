import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classificationMetrics, knnAccuracy, mmvpScores, rankSummary, ranksFromMatrix, recallAtK, retrievalFromMatrix, softmax2, winogroundScores,
} from '../../src/eval/metrics.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

// 3 images x 5 captions; image 0 owns captions 0,1; image 1 owns caption 2; image 2 owns captions 3,4.
const imageOfText = Int32Array.from([0, 0, 1, 2, 2]);
const sim = [
  0.1, 0.9, 0.5, 0.95, 0.2, // image 0: best own caption 0.9, beaten by caption 3 (0.95) -> rank 2
  0.3, 0.3, 0.3, 0.1, 0.0, //  image 1: own caption 0.3 tied with captions 0 and 1 -> pessimistic rank 3
  0.0, 0.0, 0.0, 0.8, 0.7, //  image 2: rank 1
];

test('multi-caption retrieval ranks and R@K known by construction (ties count against the query)', () => {
  const m = retrievalFromMatrix(sim, 3, imageOfText, [1, 2, 5]);
  close(m.imageToText['R@1'], 100 / 3);
  close(m.imageToText['R@2'], 200 / 3);
  close(m.imageToText['R@5'], 100);
  close(m.imageToText.meanRank, 2);
  close(m.imageToText.medianRank, 2);
  // T2I per caption: [2, 1, 2, 2, 1]
  close(m.textToImage['R@1'], 40);
  close(m.textToImage['R@2'], 100);
  close(m.textToImage.meanRank, 1.6);
  close(m.textToImage.medianRank, 2);
  assert.equal(m.meanR10, undefined);
  assert.equal(m.nImages, 3);
  assert.equal(m.nTexts, 5);
});

test('ranksFromMatrix: all-equal scores give the worst rank, not rank 1', () => {
  const r = ranksFromMatrix(new Array(16).fill(0.5), 4, 4, [0, 1, 2, 3], [0, 1, 2, 3]);
  assert.deepEqual([...r], [4, 4, 4, 4]);
  assert.throws(() => ranksFromMatrix([1, 2], 1, 2, [7], [0, 1]), /no positive/);
});

test('recallAtK, rankSummary and meanR10', () => {
  assert.deepEqual(recallAtK([1, 10, 11, 3], [1, 10]), { 'R@1': 25, 'R@10': 75 });
  assert.deepEqual(rankSummary([5, 1, 3, 100]), { meanRank: 27.25, medianRank: 4 });
  const m = retrievalFromMatrix([1, 0, 0, 1], 2, [0, 1]);
  assert.equal(m.meanR10, 100);
});

test('Winoground text/image/group scores by construction', () => {
  const s = winogroundScores([
    { c0i0: 0.9, c0i1: 0.1, c1i0: 0.2, c1i1: 0.8 }, // all correct
    { c0i0: 0.9, c0i1: 0.95, c1i0: 0.2, c1i1: 0.8 }, // text ok (0.9>0.2, 0.8>0.95? no) -> text fails; image: 0.9>0.95 no
    { c0i0: 0.5, c0i1: 0.1, c1i0: 0.6, c1i1: 0.7 }, // text: 0.5>0.6 no; image: 0.5>0.1 and 0.7>0.6 yes
    { c0i0: 0.5, c0i1: 0.5, c1i0: 0.1, c1i1: 0.9 }, // text: 0.5>0.1, 0.9>0.5 yes; image: tie 0.5>0.5 no
  ]);
  assert.deepEqual(s, { text: 50, image: 50, group: 25, n: 4 });
});

test('MMVP: pair correct only if both statements pick their image; average over categories', () => {
  const r = mmvpScores([
    { category: 'A', s: [[0.9, 0.1], [0.1, 0.9]] }, // correct
    { category: 'A', s: [[0.9, 0.1], [0.9, 0.1]] }, // second statement wrong
    { category: 'B', s: [[0.3, 0.3], [0.1, 0.9]] }, // tie counts as wrong
    { category: 'B', s: [[0.6, 0.5], [0.4, 0.5]] }, // correct
    { category: 'B', s: [[0.6, 0.5], [0.4, 0.5]] }, // correct
  ]);
  close(r.categories.A, 50);
  close(r.categories.B, 200 / 3);
  close(r.average, (50 + 200 / 3) / 2);
  assert.equal(r.pairs, 5);
  close(softmax2(1, 0, 100), 1 / (1 + Math.exp(-100)));
  close(softmax2(0.3, 0.3, 100), 0.5);
});

test('weighted k-NN on a constructed example', () => {
  // 2 queries, kMax 3; train labels: 0,1,1,2
  const trainLabels = [0, 1, 1, 2];
  const idx = Int32Array.from([0, 1, 2, 3, 0, 1]);
  const sc = Float32Array.from([0.9, 0.5, 0.5, 0.8, 0.7, 0.1]);
  // query 0 (label 0), k=1: class 0 wins. k=3: w0 = e^(0.9/T), w1 = 2 e^(0.5/T); T=0.07 -> class 0 wins (e^(0.4/0.07) >> 2)
  // query 1 (label 0), k=1: class 2 wins -> wrong; k=2: w2 = e^(0.8/T) > w0 = e^(0.7/T) -> wrong, true class rank 2
  const k1 = knnAccuracy(idx, sc, 3, trainLabels, [0, 0], 3, 1);
  assert.deepEqual(k1, { k: 1, top1: 50, top5: 100, n: 2 });
  const k3 = knnAccuracy(idx, sc, 3, trainLabels, [0, 0], 3, 3);
  assert.equal(k3.top1, 50);
  // with a huge temperature the weights are ~equal: query 0 with k=3 -> class 1 has two votes and wins
  const hot = knnAccuracy(idx, sc, 3, trainLabels, [0, 0], 3, 3, 1e6);
  assert.equal(hot.top1, 0);
  // only 1 class can be ranked above the truth among 3 classes -> top-5 is always 100 here
  assert.equal(hot.top5, 100);
  assert.throws(() => knnAccuracy(idx, sc, 3, trainLabels, [0, 0], 3, 4), /exceeds/);
});

test('classification metrics: top-1/top-5, per-class, most confused pairs', () => {
  const labels = [0, 0, 0, 1, 1, 2];
  const ranks = [1, 2, 7, 1, 2, 1];
  const pred = [0, 1, 1, 1, 0, 2];
  const m = classificationMetrics(ranks, pred, labels, 3, { classNames: ['cat', 'dog', 'fox'] });
  close(m.top1, 50);
  close(m.top5, (5 / 6) * 100);
  assert.deepEqual(m.perClass.map((c) => c.top1), [100 / 3, 50, 100]);
  close(m.meanPerClass, (100 / 3 + 50 + 100) / 3);
  assert.deepEqual(m.confusions[0], { true: 0, predicted: 1, trueName: 'cat', predictedName: 'dog', count: 2 });
  assert.deepEqual(m.confusions[1], { true: 1, predicted: 0, trueName: 'dog', predictedName: 'cat', count: 1 });
  assert.throws(() => classificationMetrics([1], [0], [5], 3), /label 5/);
});
