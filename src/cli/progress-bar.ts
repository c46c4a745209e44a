// The CLI's count bar for jobs whose total is known only when progress first arrives (indexing, segmenting).
import cliProgress from 'cli-progress';

/** A bar that takes (done, total) updates; `stop` ends it. */
export interface CountBar {
  update(done: number, total: number): void;
  stop(): void;
}

/**
 * A bar with `format` (cli-progress tokens, e.g. `{bar} {value}/{total}`) that starts at the first
 * update, when the total is known; with `quiet` (e.g. `--json`) nothing is drawn.
 */
export function lazyCountBar(format: string, quiet: boolean | undefined): CountBar {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ format }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}
