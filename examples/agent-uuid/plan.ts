/**
 * `npm run demo:plan`: regenerate the demo's migrations, backfill tasks and
 * assertions with `cutline plan uuid` (agents only: every child of agents
 * gets agent_uuid), from the seeded schema. The demo runs what this writes;
 * a test fails if the committed files drift from the planner's output.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { planUuid, readUuidGraph, type UuidPlan } from '../../cli/uuid-plan';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { splitStatements } from '../../lambdas/core/sql-lexer';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A plan's expand, contract and rollback files, each folder under `outDir` replaced. */
export async function writePlanFiles(outDir: string, plan: Pick<UuidPlan, 'files' | 'contractFiles' | 'rollbackFiles'>): Promise<void> {
  for (const [dir, files] of [
    ['migrations', plan.files],
    ['contract', plan.contractFiles],
    ['rollback', plan.rollbackFiles],
  ] as const) {
    await rm(path.join(outDir, dir), { recursive: true, force: true });
    await mkdir(path.join(outDir, dir), { recursive: true });
    for (const f of files) await writeFile(path.join(outDir, dir, f.name), f.body);
  }
}

export async function planDemo(outDir: string): Promise<{ spec: Record<string, unknown> }> {
  const db = await PGlite.create();
  await db.exec("SELECT set_config('cutline.seed_scale', '0.01', false)");
  await db.exec(await readFile(path.join(here, 'seed.sql'), 'utf8'));
  const client = pgliteClient(db);
  // The demo targets PostgreSQL 15 too (`--source-url`): gen_random_uuid, not uuidv7.
  const plan = planUuid(await readUuidGraph(client, ['s3_cloudbackup_agents']), { firstVersion: 1, uuidv7: false, batchSize: 20_000 });
  await db.close();
  await writePlanFiles(outDir, plan);
  const spec = JSON.parse(await readFile(path.join(here, 'spec.json'), 'utf8')) as Record<string, unknown>;
  spec.migrations = { location: 'migrations', contractLocation: 'contract', database: 'target' };
  spec.backfill = { maxConcurrency: 4, tasks: plan.backfill };
  spec.verify = { rowCounts: 'before-vs-after', tables: plan.verifyTables, assertions: plan.assertions, integrity: plan.integrity };
  // After the go: flip the runtime selector and reload workers; the contract files then swap the primary key.
  spec.cutover = {
    actions: [
      { type: 'parameter', name: '/cloudbackup/prod/agent-identity', value: 'agent_uuid', description: 'runtime selector: agents are identified by agent_uuid' },
      { type: 'command', script: 'echo "reloading web workers so they read agent-identity=agent_uuid"', timeoutSeconds: 60, description: 'reload web workers on the jumpbox' },
    ],
  };
  // Rollback, as the runbook says: selector back, then the database restored from the backup made before Schema.
  spec.rollback = {
    actions: [
      { type: 'parameter', name: '/cloudbackup/prod/agent-identity', value: 'agent_id', description: 'runtime selector back to agent_id' },
      { type: 'restore', description: 'restore the database from the pre-cutover backup (runbook: Rollback 2)' },
    ],
  };
  return { spec };
}

/**
 * The rollback without a backup: the planner's idempotent rollback files statement by statement, then the history
 * forgets the contract files (what a spec runs when restoring is not an option, e.g. data written since must stay).
 */
export function rollbackByFiles(rollbackFiles: { name: string; body: string }[], contractFiles: { name: string }[]): Record<string, unknown>[] {
  const versions = contractFiles.map((f) => /^V(\d+)__/.exec(f.name)![1]);
  return [
    ...rollbackFiles.flatMap((f) =>
      splitStatements(f.body, 'postgres').map((st) => ({ type: 'sql', sql: st.sql, description: `${f.name}: ${st.sql.replace(/\s+/g, ' ').slice(0, 90)}` })),
    ),
    { type: 'sql', sql: `DELETE FROM cutline_schema_history WHERE version IN (${versions.map((v) => `'${v}'`).join(', ')})`, description: 'history: the swap is undone' },
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { spec } = await planDemo(here);
  await writeFile(path.join(here, 'spec.json'), `${JSON.stringify(spec, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), here)}/migrations, contract, rollback and the spec's migrations, backfill and verify sections\n`);
}
