/**
 * Chunk planning, once, on the source: walk the key index in steps sized
 * toward a target time per chunk. The step adapts with an exponential moving
 * average of measured rows/s (pt-table-checksum's --chunk-time): each of the
 * first CONVERGE_CHUNKS chunks, then every `sampleEvery`-th, is checksummed and timed alone, scaled by the
 * slowdown measured once by running the first sample as many times at once as the gate will run chunks (the rate a
 * chunk sees under that load).
 * The walk goes on from a saved point (`from`) and stops when told to (`stop`):
 * a plan too long for one invocation is kept as it grows and finished by the next.
 *
 * A big table keyed by one dense integer column is not walked: its chunks are key ranges of equal width, computed from
 * min, max and the catalog's row estimate (planByRange), after a few timed samples. A unique integer key puts at most
 * `width` rows in a range `width` wide, whatever the estimate says, so with density >= MIN_RANGE_DENSITY no chunk holds
 * more than 1/MIN_RANGE_DENSITY times its target: O(1) queries plan 10^9 rows, where the walk reads every index entry.
 */
import type { Clock, SqlClient } from '../../ports';
import { quoteIdent } from '../sql-builders';
import { estimateRows } from './catalog';
import { checksumSql, countSqlFor } from './checksum';
import type { TableChunk } from './keys';
import { keySelect, orderBy, rangePredicate } from './keys';
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
  /** Plan by key ranges (no walk) when the catalog estimates more rows than this and the key is one dense integer; default RANGE_ABOVE_ROWS. */
  readonly rangeAboveRows?: number;
}

/** Walking 10^6 rows costs about a second (docs/scale.md); above it a dense integer key is planned by ranges. */
export const RANGE_ABOVE_ROWS = 1_000_000;
/** Rows per key value below which a key is too sparse to plan by ranges (a range could hold 1/density times its target). */
export const MIN_RANGE_DENSITY = 0.5;
/** Timed samples of a range plan, spread over the key (the walk times one chunk in `sampleEvery` as it goes). */
export const RANGE_SAMPLES = 4;

/** The first chunks of a walk are each timed, so the size converges before the walk samples one chunk in `sampleEvery`. */
export const CONVERGE_CHUNKS = 4;

/** Timed samples kept with a plan: the latest this many (a plan of 10^5 chunks would otherwise carry thousands to every reader). */
export const KEPT_SAMPLES = 64;

export const DEFAULT_PLAN: PlanOptions = { targetSeconds: 0.5, initialRows: 5_000, minRows: 500, maxRows: 500_000, sampleEvery: 16, alpha: 0.5 };

export interface PlanSample {
  readonly rows: number;
  readonly ms: number;
  readonly rowsPerSecond: number;
}

/** A plan so far: what the next call (or invocation) goes on from. Small: the chunks themselves are the caller's to keep. */
export interface PlanProgress {
  /** The index of the next chunk, and the key it starts after (null: from the start). */
  readonly next: number;
  readonly lo: readonly string[] | null;
  readonly samples: PlanSample[];
  /** The step and the rows/s average when it stopped. */
  readonly step: number;
  readonly rate: number | null;
  /** How much slower one chunk runs under the gate's concurrency than alone (timed once, on the first sample). */
  readonly slowdown?: number;
  /** A walk of one segment of the key stops at this key (its last chunk ends there); absent or null: the end. */
  readonly upper?: readonly string[] | null;
  /** A plan by key ranges: every boundary follows from these (no query per chunk). */
  readonly range?: { readonly min: string; readonly width: string; readonly count: number };
}

export interface PlanResult extends PlanProgress {
  /** The chunks this call planned, from the `next` it was given. */
  readonly chunks: PlannedChunk[];
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
  const from: PlanProgress = walk.from ?? (await planByRange(client, plan, clock, opts)) ?? { next: 0, lo: null, samples: [], step: opts.initialRows, rate: null };
  if (from.range) return rangePage(plan, from, walk.stop);
  const t = quoteIdent(plan.table, client.dialect);
  const chunks: PlannedChunk[] = [];
  const samples: PlanSample[] = [...from.samples];
  let step = from.step;
  let rate = from.rate;
  let slowdown = from.slowdown;
  let lo = from.lo;
  const upper = from.upper ?? null;
  const bounded = upper ? { upper } : {};
  for (let i = from.next; ; i++) {
    if (walk.stop?.()) return { chunks, samples, step, rate, ...(slowdown ? { slowdown } : {}), next: i, lo, ...bounded, complete: false };
    const where = rangePredicate(plan, 'source', { lo, hi: upper });
    const { rows } = await client.query(
      `SELECT ${keySelect(plan, 'source')} FROM ${t} WHERE ${where.sql} ORDER BY ${orderBy(plan, 'source')} LIMIT 1 OFFSET ${step - 1}`,
      where.params,
    );
    const found = rows[0] ? plan.key.map((_, k) => String(rows[0]![`k${k}`])) : null;
    // No key `step` rows on: the chunk runs to the segment's end (or the table's).
    const hi = found ?? upper;
    const chunk: PlannedChunk = { table: plan.table, index: i, lo, hi, estRows: step };
    chunks.push(chunk);
    if (!found || (upper && JSON.stringify(found) === JSON.stringify(upper)))
      return { chunks, samples, step, rate, ...(slowdown ? { slowdown } : {}), next: i + 1, lo: null, ...bounded, complete: true };
    if (i < CONVERGE_CHUNKS || i % opts.sampleEvery === 0) {
      const timed = await timeChunk(client, plan, clock, opts, chunk, step, slowdown);
      const sample = timed.sample;
      slowdown = timed.slowdown;
      samples.push(sample);
      if (samples.length > KEPT_SAMPLES) samples.shift();
      // Converging, the newest sample sets the rate: it was timed on a chunk of the size the one before chose (the
      // first, a small chunk in a warm cache, can be many times too fast). Then the moving average smooths the noise.
      rate = rate === null || i < CONVERGE_CHUNKS ? sample.rowsPerSecond : opts.alpha * sample.rowsPerSecond + (1 - opts.alpha) * rate;
      step = stepFor(rate, opts);
    }
    lo = hi;
  }
}

/** The next chunks of a plan by key ranges, computed: (min − 1 + i × width, min − 1 + (i + 1) × width], open at both ends. */
function rangePage(plan: TablePlan, from: PlanProgress, stop?: () => boolean): PlanResult {
  const { count } = from.range!;
  const min = BigInt(from.range!.min);
  const width = BigInt(from.range!.width);
  const chunks: PlannedChunk[] = [];
  for (let i = from.next; i < count; i++) {
    if (stop?.()) return { ...from, chunks, next: i, lo: chunks.at(-1)?.hi ?? from.lo, complete: false };
    chunks.push({
      table: plan.table,
      index: i,
      lo: i === 0 ? null : [String(min - 1n + BigInt(i) * width)],
      hi: i === count - 1 ? null : [String(min - 1n + BigInt(i + 1) * width)],
      estRows: from.step,
    });
  }
  return { ...from, chunks, next: count, lo: null, complete: true };
}

/** Segments a big walked table is cut into on PostgreSQL, walked at once (each a Data API call at a time, with its own samples). */
export const PLAN_SEGMENTS = 16;

/** Keys sampled per segment to place its boundaries. */
const SEGMENT_SAMPLE_ROWS = 1_000;

/**
 * Boundaries that cut a big table's key into `segments` parts of about equal rows, for walks that run at once
 * (PostgreSQL: a repeatable TABLESAMPLE SYSTEM of about SEGMENT_SAMPLE_ROWS keys a segment, every (n/segments)-th kept).
 * The walks tile the key whatever the boundaries are; a skewed sample only makes the parts uneven. None elsewhere.
 */
export async function segmentBounds(client: SqlClient, plan: TablePlan, segments: number, rows: number): Promise<string[][]> {
  if (client.dialect !== 'postgres' || segments < 2 || !(rows > 0)) return [];
  const pct = Math.min(100, (100 * SEGMENT_SAMPLE_ROWS * segments) / rows);
  const keys = plan.key.map((_, i) => `k${i}`).join(', ');
  const { rows: found } = await client.query(
    `SELECT ${keys} FROM (SELECT ${keySelect(plan, 'source')}, row_number() OVER (ORDER BY ${orderBy(plan, 'source')}) AS rn, count(*) OVER () AS n FROM ${quoteIdent(plan.table, client.dialect)} TABLESAMPLE SYSTEM (${pct.toFixed(6)}) REPEATABLE (7)) s WHERE rn % greatest(1, n / ${segments}) = 0 ORDER BY rn LIMIT ${segments - 1}`,
  );
  return found.map((r) => plan.key.map((_, k) => String(r[`k${k}`])));
}

const stepFor = (rate: number, opts: PlanOptions) => Math.round(Math.min(opts.maxRows, Math.max(opts.minRows, rate * opts.targetSeconds)));

/**
 * Time the gate's query on one chunk as it will run under the gate's concurrency: once alone, scaled by `slowdown`.
 * The first sample of a plan (no slowdown yet) also runs it as many times at once as the gate runs chunks; the ratio is
 * the slowdown, kept for the rest of the plan — so the load is measured once, not paid again by every sample (16
 * copies of every sampled chunk hashed the table's sampled rows 16 times). `rows` when the query does not count them.
 */
async function timeChunk(
  client: SqlClient,
  plan: TablePlan,
  clock: Clock,
  opts: PlanOptions,
  chunk: TableChunk,
  rows: number,
  slowdown: number | undefined,
): Promise<{ sample: PlanSample; slowdown: number | undefined }> {
  const sql = opts.sampleWith === 'fast' ? countSqlFor(plan, 'source', chunk) : checksumSql(plan, 'source', chunk);
  const run = async (copies: number) => {
    const started = clock.now().getTime();
    const results = await Promise.all(Array.from({ length: copies }, () => client.query(sql.sql, sql.params)));
    return { ms: Math.max(1, clock.now().getTime() - started), counted: Number(results[0]?.rows[0]?.n) };
  };
  const alone = await run(1);
  const copies = Math.max(1, opts.concurrency ?? 1);
  const factor = slowdown ?? (copies > 1 ? Math.max(1, (await run(copies)).ms / alone.ms) : undefined);
  const ms = Math.max(1, Math.round(alone.ms * (factor ?? 1)));
  const n = Number.isFinite(alone.counted) ? alone.counted : rows;
  return { sample: { rows: n, ms, rowsPerSecond: Math.round((n * 1000) / ms) }, slowdown: factor };
}

/** A key planned by ranges: one integer column, more rows than `rangeAboveRows` by the catalog, at least MIN_RANGE_DENSITY rows per key value. */
export async function denseIntegerKey(
  client: SqlClient,
  plan: TablePlan,
  rangeAboveRows = RANGE_ABOVE_ROWS,
): Promise<{ min: bigint; span: bigint; density: number } | undefined> {
  if (plan.key.length !== 1 || plan.key[0]!.kind !== 'int') return undefined;
  const estimate = Number((await estimateRows(client, plan.table)) ?? 0);
  if (!(estimate > rangeAboveRows)) return undefined;
  const col = quoteIdent(plan.key[0]!.name, client.dialect);
  const asText = (e: string) => (client.dialect === 'postgres' ? `(${e})::text` : `CAST(${e} AS CHAR)`);
  const { rows } = await client.query(`SELECT ${asText(`min(${col})`)} AS lo, ${asText(`max(${col})`)} AS hi FROM ${quoteIdent(plan.table, client.dialect)}`);
  if (rows[0]?.lo === null || rows[0]?.lo === undefined) return undefined;
  const min = BigInt(String(rows[0].lo));
  const span = BigInt(String(rows[0].hi)) - min + 1n;
  const density = Math.min(1, estimate / Number(span));
  return density < MIN_RANGE_DENSITY ? undefined : { min, span, density };
}

/**
 * Chunks of equal key width for one dense integer key: min and max by the index, the row estimate from the catalog,
 * RANGE_SAMPLES timed chunks spread over the key, then every boundary computed. Undefined (walk instead) for a small,
 * sparse, composite or non-integer key, or a table the catalog has no estimate for.
 */
export async function planByRange(client: SqlClient, plan: TablePlan, clock: Clock, opts: PlanOptions): Promise<PlanProgress | undefined> {
  const dense = await denseIntegerKey(client, plan, opts.rangeAboveRows);
  if (!dense) return undefined;
  const { min, span, density } = dense;
  const widthFor = (rowsWanted: number) => BigInt(Math.max(1, Math.round(rowsWanted / density)));
  const samples: PlanSample[] = [];
  let step = opts.initialRows;
  let rate: number | null = null;
  let slowdown: number | undefined;
  for (let s = 0; s < RANGE_SAMPLES; s++) {
    const at = min - 1n + (span * BigInt(s)) / BigInt(RANGE_SAMPLES);
    const chunk: TableChunk = { table: plan.table, index: -1, lo: [String(at)], hi: [String(at + widthFor(step))] };
    const timed = await timeChunk(client, plan, clock, opts, chunk, step, slowdown);
    const sample = timed.sample;
    if (sample.rows === 0) continue; // a gap in the key says nothing of the rate
    slowdown = timed.slowdown;
    samples.push(sample);
    rate = rate === null ? sample.rowsPerSecond : opts.alpha * sample.rowsPerSecond + (1 - opts.alpha) * rate;
    step = stepFor(rate, opts);
  }
  const width = widthFor(step);
  const count = Number((span + width - 1n) / width);
  return { next: 0, lo: null, samples, step, rate, ...(slowdown ? { slowdown } : {}), range: { min: String(min), width: String(width), count } };
}
