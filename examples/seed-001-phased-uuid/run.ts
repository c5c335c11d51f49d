/**
 * Seed 001 on the embedded default: the compliance API stand-in starts on 127.0.0.1 and the integer → UUID key
 * migration runs as phases after one expand (columns, mapping, backfill, verify): the leaf tables' key swap, then the
 * core group of users, then the index clean-up, each signed off, soaked under a performance monitor and closed by its
 * exit criteria (within 20% of the baseline measured before the run changed anything).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileParameterStore } from '../../lambdas/adapters/local/parameters-file';
import type { SqlClient } from '../../lambdas/ports';
import { type ExampleOptions, exampleRunId, runExampleSpec } from '../support';
import { type Seed001Fault, startComplianceApp } from './app';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function runSeed001(opts: ExampleOptions & { fault?: Seed001Fault } = {}) {
  const runId = opts.runId ?? exampleRunId('seed-001');
  let db: SqlClient | undefined;
  const app = await startComplianceApp({
    db: () => db,
    // The run's parameters (the runtime flags the phases flip), as the runner keeps them for this run.
    parameters: new FileParameterStore(path.join(path.resolve(opts.workDir ?? '.cutline'), runId, 'parameters.json')),
    fault: opts.fault ?? 'none',
  });
  try {
    return await runExampleSpec(here, 'seed-001', { ...opts, runId }, { COMPLIANCE_URL: app.url }, (url, client) => {
      if (url === 'pglite://memory') db = client;
    });
  } finally {
    await app.close();
  }
}
