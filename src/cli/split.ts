// `sail data split SHARDS --out DIR`: seeded, grouped train/test split of a shard folder.
import type { Command } from 'commander';
import { splitShards, type SplitGroupBy } from '../data/split.js';
import { oneOf, parseNumber } from './flags.js';

interface SplitFlags {
  out: string;
  testFraction: string;
  seed: string;
  groupBy: string;
  shardSize: string;
  json?: boolean;
}

/** Register `sail data split` under `sail data`. */
export function registerSplit(data: Command): void {
  data
    .command('split')
    .description('split a shard folder into OUT/train and OUT/test shard folders (seeded; related files stay together) for `sail encode`')
    .argument('<shards>', 'shard folder written by `sail data import` or `sail download`')
    .requiredOption('--out <dir>', 'output folder: gets train/ and test/')
    .option('--test-fraction <f>', 'fraction of samples held out for testing (whole groups move, so it is approximate)', '0.2')
    .option('--seed <n>', 'seed of the split', '42')
    .option('--group-by <mode>', 'keep together: stem (same folder and name stem: cat.png, cat_2.jpg), folder, or none', 'stem')
    .option('--shard-size <n>', 'samples per output shard', '1000')
    .option('--json', 'print the result as JSON')
    .action(async (input: string, f: SplitFlags) => {
      const r = await splitShards({
        input,
        output: f.out,
        testFraction: parseNumber(f.testFraction, '--test-fraction', { positive: true }),
        seed: parseNumber(f.seed, '--seed', { int: true, min: 0 }),
        groupBy: oneOf<SplitGroupBy>(f.groupBy, ['stem', 'folder', 'none'], '--group-by'),
        shardSize: parseNumber(f.shardSize, '--shard-size', { int: true, positive: true }),
      });
      if (f.json) console.log(JSON.stringify(r, null, 2));
      else {
        console.log(`${r.reused ? 'already split' : 'split'} ${input} by ${r.groupBy} (seed ${r.seed}): ` +
          `train ${r.train.rows} samples in ${r.train.groups} groups -> ${r.train.dir}; test ${r.test.rows} samples in ${r.test.groups} groups -> ${r.test.dir}`);
      }
    });
}
