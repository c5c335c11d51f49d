/**
 * Chunk planning, once, on the source: walk the key index in steps sized
 * toward a target time per chunk. The step adapts with an exponential moving
 * average of measured rows/s (pt-table-checksum's --chunk-time): every
 * `sampleEvery` chunks one chunk is checksummed and timed, as many times at once
 * as the gate will run chunks at once (the rate a chunk sees under that load).
 * The walk goes on from a saved point (`from`) and stops when told to (`stop`):
 * a plan too long for one invocation is kept as it grows and finished by the next.
 */
import type { Clock, SqlClient } from '../../ports';
import { quoteIdent } from '../sql-builders';
import type { TableChunk } from './keys';
import { keySelect, orderBy, rangePredicate } from './keys';
import { checksumSql, countSqlFor } from './checksum';
import type { TablePlan } from './table-plan';

export interface PlannedChunk extends TableChunk {
  /** Rows the planner expects (the step it walked); the last chunk may hold fewer. */
  readonly estRows: number;
}

export interface PlanOptions {
  readonly targetSeconds: number;
  readonly initialRows: number;
  readonly minRows: number;
  readonly maxRows: number;
  /** Time one chunk in this many to update the rows/s average. */
  readonly sampleEvery: number;
  /** Weight of the newest sample in the moving average. */
  readonly alpha: number;
  /** The query timed: the exact gate's hash (default) or the fast gate's count. */
  readonly sampleWith?: 'exact' | 'fast';
  /** The timed query runs this many times at once (the gate's concurrency); default 1. */
  readonly concurrency?: number;
}

/** Timed samples kept with a plan: the latest this many (a plan of 10^5 chunks would otherwise carry thousands to every reader). */
export const KEPT_SAMPLES = 64;

export const DEFAULT_PLAN: PlanOptions = { targetSeconds: 0.5, initialRows: 5_000, minRows: 500, maxRows: 500_000, sampleEvery: 16, alpha: 0.5 };

export interface PlanSample {
  readonly rows: number;
  readonly ms: number;
  readonly rowsPerSecond: number;
}

/** A walk so far: what the next invocation goes on from. */
export interface PlanProgress {
  readonly chunks: PlannedChunk[];
  readonly samples: PlanSample[];
  /** The step and the rows/s average when it stopped. */
  readonly step: number;
  readonly rate: number | null;
}

export interface PlanResult extends PlanProgress {
  /** False when `stop` said so before the last chunk: go on with `planChunks(..., { from: result })`. */
  readonly complete: boolean;
}

export async function planChunks(
  client: SqlClient,
  plan: TablePlan,
  clock: Clock,
  opts: PlanOptions = DEFAULT_PLAN,
  walk: { from?: PlanProgress; stop?: () => boolean } = {},
): Promise<PlanResult> {
  const t = quoteIdent(plan.table, client.dialect);
  const chunks: PlannedChunk[] = [...(walk.from?.chunks ?? [])];
  const samples: PlanSample[] = [...(walk.from?.samples ?? [])];
  let step = walk.from?.step ?? opts.initialRows;
  let rate: number | null = walk.from?.rate ?? null;
  let lo: readonly string[] | null = chunks.at(-1)?.hi ?? null;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  for (let i = chunks.length; ; i++) {
    if (walk.stop?.()) return { chunks, samples, step, rate, complete: false };
    const where = lo ? rangePredicate(plan, 'source', { lo, hi: null }) : { sql: '1 = 1', params: {} };
    const { rows } = await client.query(
      `SELECT ${keySelect(plan, 'source')} FROM ${t} WHERE ${where.sql} ORDER BY ${orderBy(plan, 'source')} LIMIT 1 OFFSET ${step - 1}`,
      where.params,
    );
    const hi = rows[0] ? plan.key.map((_, k) => String(rows[0]![`k${k}`])) : null;
    const chunk: PlannedChunk = { table: plan.table, index: i, lo, hi, estRows: step };
    chunks.push(chunk);
    if (!hi) break;
    if (i % opts.sampleEvery === 0) {
      const started = clock.now().getTime();
      const sql = opts.sampleWith === 'fast' ? countSqlFor(plan, 'source', chunk) : checksumSql(plan, 'source', chunk);
      await Promise.all(Array.from({ length: concurrency }, () => client.query(sql.sql, sql.params)));
      const ms = Math.max(1, clock.now().getTime() - started);
      const sampleRate = (step * 1000) / ms;
      samples.push({ rows: step, ms, rowsPerSecond: Math.round(sampleRate) });
      if (samples.length > KEPT_SAMPLES) samples.shift();
      rate = rate === null ? sampleRate : opts.alpha * sampleRate + (1 - opts.alpha) * rate;
      step = Math.round(Math.min(opts.maxRows, Math.max(opts.minRows, rate * opts.targetSeconds)));
    }
    lo = hi;
  }
  return { chunks, samples, step, rate, complete: true };
}
