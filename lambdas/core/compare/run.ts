/** Compare one table end to end in-process (plan, check every chunk): used by tests, the bench and small runs. */
import type { Clock, SqlClient } from '../../ports';
import { mapLimit } from '../concurrency';
import { readTableShape } from './catalog';
import { DEFAULT_PLAN, type PlanOptions, planChunks } from './chunks';
import { type ChunkCheck, checkChunk, type CheckOptions, DEFAULT_CHECK, type Method } from './gate';
import type { KeyDiff } from './drilldown';
import { planTable, type TableOptions, type TablePlan } from './table-plan';

export interface TableCompare {
  readonly table: string;
  readonly plan: TablePlan;
  readonly chunks: number;
  readonly checks: ChunkCheck[];
  readonly diffs: (KeyDiff & { table: string })[];
  readonly status: 'MATCH' | 'DIFF' | 'UNSTABLE' | 'ERROR';
}

export async function buildTablePlan(clients: { source: SqlClient; target: SqlClient }, opts: TableOptions): Promise<TablePlan> {
  const [s, t] = await Promise.all([readTableShape(clients.source, opts.table), readTableShape(clients.target, opts.targetTable ?? opts.table)]);
  return planTable(opts, { shape: s, dialect: clients.source.dialect }, { shape: t, dialect: clients.target.dialect });
}


export async function compareTable(
  clients: { source: SqlClient; target: SqlClient },
  opts: TableOptions,
  methods: readonly Method[],
  clock: Clock,
  tuning: { plan?: Partial<PlanOptions>; check?: Partial<CheckOptions>; concurrency?: number } = {},
): Promise<TableCompare> {
  const plan = await buildTablePlan(clients, opts);
  const { chunks } = await planChunks(clients.source, plan, clock, { ...DEFAULT_PLAN, ...tuning.plan });
  const checks: ChunkCheck[] = [];
  for (const method of methods) {
    checks.push(...(await mapLimit(chunks, tuning.concurrency ?? 2, (c) => checkChunk(clients, plan, c, method, clock, { ...DEFAULT_CHECK, ...tuning.check }))));
  }
  const diffs = checks.flatMap((c) => (c.diffs ?? []).map((d) => ({ ...d, table: opts.table })));
  const worst = (['ERROR', 'UNSTABLE', 'DIFF'] as const).find((s) => checks.some((c) => c.status === s)) ?? 'MATCH';
  return { table: opts.table, plan, chunks: chunks.length, checks, diffs, status: worst };
}
