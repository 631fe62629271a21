#!/usr/bin/env node
import { main } from './index.js';

// `lat predict … | head -1`: the reader went away; stop quietly instead of an unhandled EPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2));
