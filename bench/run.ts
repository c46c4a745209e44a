// `npm run bench [area ...]`: runs each area's benchmark in this process and prints its results.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import os from 'node:os';

const areas = ['engine', 'store', 'encoders', 'backbones', 'eval', 'data', 'model'];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const here = dirname(fileURLToPath(import.meta.url));
  const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js';
  console.log(`sail benchmarks — node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? '?'}), ` +
    `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}, OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? '(unset)'}`);
  for (const area of areas) {
    if (wanted.length && !wanted.includes(area)) continue;
    const file = join(here, area + ext);
    if (!existsSync(file)) continue;
    console.log(`\n=== ${area} ===`);
    const mod = (await import(file)) as { run: () => Promise<void> };
    await mod.run();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
