#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled TypeScript (npm run build writes dist/).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  console.error(err?.message ?? String(err));
  process.exit(1);
});
