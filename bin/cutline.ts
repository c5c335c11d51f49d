#!/usr/bin/env -S npx tsx
/** The `cutline` CLI (see cli/commands.ts for commands and exit codes). */
import { main } from '../cli/commands';

process.exitCode = await main(process.argv.slice(2), {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  env: process.env,
});
