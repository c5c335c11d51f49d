/**
 * `npm run demo`: the seed 000 agent UUID cutover, end to end, on an embedded
 * PostgreSQL: seed a cloud-backup schema (120,000 runs), migrate, backfill in
 * chunks, verify, gate, approve, cut over, smoke-check the demo app, summary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultApprover, runLocal } from '../../cli/runner/run';
import { readSpecFile } from '../../cli/spec-file';
import { FileParameterStore } from '../../lambdas/adapters/local/parameters-file';
import type { SqlClient } from '../../lambdas/ports';
import { exampleRunId } from '../support';
import { startAgentsApp } from './app';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function runDemo(
  opts: {
    evidenceDir?: string;
    workDir?: string;
    decision?: 'approve' | 'reject';
    runId?: string;
    out?: (l: string) => void;
    keepOpen?: boolean;
    dataApi?: boolean;
    fault?: 'uuid-routes';
    /** Scale of the seeded data (1 = 120,000 runs; the examples' tests use less). */
    seedScale?: number;
  } = {},
) {
  const runId = opts.runId ?? exampleRunId('demo-agent-uuid');
  const workDir = path.resolve(opts.workDir ?? '.cutline');
  let db: SqlClient | undefined;
  const app = await startAgentsApp({
    db: () => db,
    parameters: new FileParameterStore(path.join(workDir, runId, 'parameters.json')),
    selector: '/cloudbackup/prod/agent-identity',
    ...(opts.fault ? { fault: opts.fault } : {}),
  });
  try {
    const spec = (await readSpecFile(path.join(here, 'spec.json'), { ...process.env, DEMO_APP_URL: app.url })) as Record<string, unknown> & { local: { seed: string[] } };
    spec.runId = runId;
    if (opts.seedScale !== undefined) {
      // seed.sql reads its scale from this setting (one connection for the whole seed).
      const scale = path.join(workDir, runId, 'seed-scale.sql');
      await mkdir(path.dirname(scale), { recursive: true });
      await writeFile(scale, `SELECT set_config('cutline.seed_scale', '${Number(opts.seedScale)}', false);\n`);
      spec.local.seed = [scale, ...spec.local.seed];
    }
    return await runLocal({
      spec,
      evidenceDir: opts.evidenceDir,
      workDir,
      approval: { kind: 'auto', decision: opts.decision ?? 'approve', approver: defaultApprover(), comment: 'demo: approved by --auto-approve' },
      out: opts.out,
      keepOpen: opts.keepOpen,
      ...(opts.dataApi === false ? { dataApi: false } : {}),
      onOpen: (url, client) => {
        if (url === 'pglite://memory') db = client;
      },
    });
  } finally {
    await app.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runDemo();
  process.exitCode = r.outcome === 'GO' ? 0 : 1;
}
