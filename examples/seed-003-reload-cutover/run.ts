/**
 * Seed 003 on the embedded default: the tx-lookup services start on 127.0.0.1, the run migrates, loads the JSONL
 * backfill under the T_cutover range contract, and promotes only after the sync, smoke and idempotency gates passed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSpecFile } from '../../cli/spec-file';
import type { SqlClient } from '../../lambdas/ports';
import { type ExampleOptions, runExampleSpec } from '../support';
import { type Seed003Fault, startTxLookup } from './app';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function runSeed003(opts: ExampleOptions & { fault?: Seed003Fault } = {}) {
  let db: SqlClient | undefined;
  const raw = (await readSpecFile(path.join(here, 'spec.json'), { ...process.env, TXLOOKUP_URL: 'http://127.0.0.1' })) as { tCutover: string };
  const app = await startTxLookup({ db: () => db, tCutover: raw.tCutover, fault: opts.fault ?? 'none' });
  try {
    return await runExampleSpec(here, 'seed-003', opts, { TXLOOKUP_URL: app.url }, (url, client) => {
      if (url === 'pglite://memory') db = client;
    });
  } finally {
    await app.close();
  }
}
