/** Compare one table end to end in-process (plan, check every chunk with each method): the gate tests' driver. */
import type { Clock, SqlClient } from '../../lambdas/ports';
import { mapLimit } from '../../lambdas/core/concurrency';
import { DEFAULT_PLAN, type PlanOptions, planChunks } from '../../lambdas/core/compare/chunks';
import { type ChunkCheck, checkChunk, type CheckOptions, DEFAULT_CHECK, type Method } from '../../lambdas/core/compare/gate';
import type { KeyDiff } from '../../lambdas/core/compare/drilldown';
import { buildTablePlan, type TableOptions, type TablePlan } from '../../lambdas/core/compare/table-plan';
import { worstStatus } from '../../lambdas/core/compare/verdict';

export interface TableCompare {
  readonly table: string;
  readonly plan: TablePlan;
  readonly chunks: number;
  readonly checks: ChunkCheck[];
  readonly diffs: (KeyDiff & { table: string })[];
  readonly status: 'MATCH' | 'DIFF' | 'UNSTABLE' | 'ERROR';
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
  return { table: opts.table, plan, chunks: chunks.length, checks, diffs, status: worstStatus(checks.map((c) => c.status)) as TableCompare['status'] };
}
