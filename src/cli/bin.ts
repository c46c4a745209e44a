// Direct entry for running the CLI from sources (tests use `node --import tsx src/cli/bin.ts`).
import { main } from './main.js';

main(process.argv).catch((err) => {
  console.error(err?.message ?? String(err));
  process.exit(1);
});
