/**
 * `npx tsx examples/seed-001-phased-uuid/plan.ts`: regenerate seed 001's migrations,
 * backfill tasks, assertions and each phase's key swap with `cutline plan uuid`, from the seeded schema. The planner
 * gives one contract file per connected group of tables; a phase names the versions of its groups (the leaf tables
 * first, then the core group of users), and its rollback is the planner's idempotent rollback files of those groups
 * with its feature flag back. A test fails if the committed files drift from the planner's output.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { planUuid, readUuidGraph } from '../../cli/uuid-plan';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { rollbackByFiles, writePlanFiles } from '../agent-uuid/plan';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Which phase swaps which tables' keys (each table's whole group goes with it), and the feature flag it turns on. */
export const PHASE_TABLES: Record<string, { tables: string[]; flag: string }> = {
  'leaf-tables': { tables: ['audit_logs', 'llm_audit_logs'], flag: '/compliance/prod/FF_UUID_AUDIT' },
  'core-users': { tables: ['users'], flag: '/compliance/prod/FF_UUID_USERS' },
};

type PhaseSpec = { name: string; contract?: string[]; rollback?: unknown[] } & Record<string, unknown>;

export async function planSeed001(outDir: string): Promise<{ spec: Record<string, unknown> & { phases: PhaseSpec[] } }> {
  const db = await PGlite.create();
  await db.exec(await readFile(path.join(here, 'seed.sql'), 'utf8'));
  // Seed 001 keeps one mapping table for every table (its uuid_migration_mapping): `mapping: "shared"`.
  const plan = planUuid(await readUuidGraph(pgliteClient(db)), { firstVersion: 1, uuidv7: false, batchSize: 5000, mapping: 'shared' });
  await db.close();
  await writePlanFiles(outDir, plan);
  const spec = JSON.parse(await readFile(path.join(here, 'spec.json'), 'utf8')) as Record<string, unknown> & { phases: PhaseSpec[] };
  spec.migrations = { location: 'migrations', contractLocation: 'contract', database: 'target' };
  spec.backfill = { maxConcurrency: 4, tasks: plan.backfill };
  spec.verify = { rowCounts: 'before-vs-after', tables: plan.verifyTables, assertions: plan.assertions, integrity: plan.integrity };
  const claimed = new Set<number>();
  for (const [name, { tables, flag }] of Object.entries(PHASE_TABLES)) {
    const phase = spec.phases.find((p) => p.name === name);
    if (!phase) throw new Error(`spec.json: expected a phase named ${JSON.stringify(name)}`);
    const groups = plan.groups.flatMap((g, i) => (g.some((t) => tables.includes(t)) ? [i + 1] : []));
    for (const g of groups) {
      if (claimed.has(g)) throw new Error(`plan: group ${g} (${plan.groups[g - 1]!.join(', ')}) is in two phases`);
      claimed.add(g);
    }
    const ofGroups = <F extends { name: string }>(files: F[]) => files.filter((f) => groups.some((g) => f.name.endsWith(`_group_${g}.sql`)));
    const contract = ofGroups(plan.contractFiles);
    phase.contract = contract.map((f) => /^V(\d+)__/.exec(f.name)![1]!);
    // The flag first (runbook: stop the new code path before the rollback script), then the groups, the last first.
    phase.rollback = [
      { type: 'parameter', name: flag, value: 'false', description: `feature flag ${flag.split('/').pop()} back off: the application reads integer keys` },
      ...rollbackByFiles(ofGroups(plan.rollbackFiles).reverse(), contract),
    ];
  }
  const unclaimed = plan.groups.flatMap((g, i) => (claimed.has(i + 1) ? [] : [g.join(', ')]));
  if (unclaimed.length) throw new Error(`plan: groups ${unclaimed.join('; ')} are in no phase; expected each in one of ${Object.keys(PHASE_TABLES).join(', ')}`);
  return { spec };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { spec } = await planSeed001(here);
  await writeFile(path.join(here, 'spec.json'), `${JSON.stringify(spec, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), here)}/migrations, contract, rollback and the spec's migrations, backfill, verify and phase contract/rollback\n`);
}
