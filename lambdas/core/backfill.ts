/**
 * Backfill: each task's integer key range is split into chunks once, on the
 * run's first attempt, and that plan is fixed in evidence
 * (04_backfill_plan/plan.json): every resume reuses it. Every
 * chunk runs the task's SQL with :lo / :hi and is checkpointed in evidence
 * with its identity (task definition + key range); a rerun skips a chunk only
 * when the checkpoint names the same identity, and Verify refuses to go on
 * while any planned chunk lacks one.
 */
import { backfillPlanFile, stepKey } from './evidence-layout';
import type { Clock, Deps, SqlClient, SqlParams } from '../ports';
import { BackfillFailed, errorMessage } from './errors';

import { canonicalJson, readEvidenceJson, sha256Hex } from './evidence';
import { mapLimit } from './concurrency';
import { countRows } from './row-count';

import { isTransient, retryTransient } from './retry';
import { columnTypeSql, quoteIdent, splitQualified } from './sql-builders';
import type { BackfillTask, RunSpec } from './spec';
import { dbRef } from './spec';
import { copyChunk, keyBound, loadFileChunk, waitWhileBusy } from './backfill-load';

export interface Chunk {
  readonly task: string;
  readonly index: number;
  /** Inclusive key bounds: decimal strings for an integer key (exact beyond 2^53), else the key's text. */
  readonly lo: string;
  readonly hi: string;
  /** The key's kind when it is not an integer (absent: integer ranges). */
  readonly key?: Exclude<KeyKind, 'int'>;
  /** For load tasks: the file this chunk loads. */
  readonly file?: string;
}


const INTEGER_TYPES = /^(smallint|integer|bigint|int|tinyint|mediumint)( unsigned)?$/i;
const TEXT_TYPES = /^(character varying|varchar|character|char|bpchar|text|citext|tinytext|mediumtext)$/i;

/** How a backfill key is split: integer ranges, or ranges of an ordered text / uuid key found by a keyset walk. */
export type KeyKind = 'int' | 'text' | 'uuid';
export function keyKindOf(dataType: string): KeyKind | undefined {
  return INTEGER_TYPES.test(dataType) ? 'int' : TEXT_TYPES.test(dataType) ? 'text' : /^uuid$/i.test(dataType) ? 'uuid' : undefined;
}
export const KEY_TYPES_EXPECTED = 'an integer, text or uuid key (smallint, integer, bigint, varchar, char, text, uuid)';

/** Pure: split [lo, hi] into ranges of batchSize keys. */
export function planRanges(task: string, lo: bigint, hi: bigint, batchSize: number): Chunk[] {
  const out: Chunk[] = [];
  const size = BigInt(batchSize);
  for (let start = lo, i = 0; start <= hi; start += size, i++) {
    const end = start + size - 1n < hi ? start + size - 1n : hi;
    out.push({ task, index: i, lo: start.toString(), hi: end.toString() });
  }
  return out;
}

async function planTask(client: SqlClient, task: BackfillTask, table_: string, clock: Pick<Clock, 'sleep'>): Promise<{ chunks: Chunk[]; rows: string }> {
  const { schema, table } = splitQualified(table_);
  const type = await client.query(columnTypeSql(client.dialect), { schema, table, column: task.key });
  const dataType = type.rows[0]?.type;
  if (dataType === undefined)
    throw new BackfillFailed(`backfill task "${task.name}": column ${table_}.${task.key} not found on ${client.label}; expected an integer key column`);
  const kind = keyKindOf(String(dataType));
  if (!kind) throw new BackfillFailed(`backfill task "${task.name}": key ${table_}.${task.key} is ${dataType}; expected ${KEY_TYPES_EXPECTED}`);
  if (kind !== 'int') return planKeyset(client, task, table_, kind);
  // Bounds and row count in statements of bounded size (a whole-table count would outlive a Data API call on a big table).
  const counted = await countRows(client, table_, { key: task.key, clock });
  if (!counted.bounds) return { chunks: [], rows: '0' };
  return { chunks: planRanges(task.name, BigInt(counted.bounds.lo), BigInt(counted.bounds.hi), task.batchSize), rows: counted.n };
}

/**
 * A text or uuid key in ranges of batchSize keys: each chunk runs from the first key after the previous chunk to the
 * batchSize-th key from there (the last to the largest key), in the database's own order, so `BETWEEN :lo AND :hi`
 * selects exactly the keys walked. One statement per chunk (two index lookups, none reading more than batchSize keys),
 * and one more for the last.
 */
async function planKeyset(client: SqlClient, task: BackfillTask, table_: string, kind: 'text' | 'uuid'): Promise<{ chunks: Chunk[]; rows: string }> {
  const q = (x: string) => quoteIdent(x, client.dialect);
  const t = q(table_);
  const k = q(task.key);
  const text = client.dialect === 'postgres' ? `${k}::text` : `CAST(${k} AS CHAR)`;
  const chunks: Chunk[] = [];
  let rows = 0;
  let prev: string | undefined;
  for (;;) {
    const after = prev === undefined ? '' : `WHERE ${k} > :prev`;
    const params: SqlParams = prev === undefined ? {} : { prev: keyBound(prev, kind, client.dialect) };
    const next = (await client.query(
      `SELECT (SELECT ${text} FROM ${t} ${after} ORDER BY ${k} LIMIT 1) AS lo, (SELECT ${text} FROM ${t} ${after} ORDER BY ${k} LIMIT 1 OFFSET ${task.batchSize - 1}) AS hi`,
      params,
    )).rows[0];
    if (next?.lo === null || next?.lo === undefined) break;
    const lo = String(next.lo);
    let hi: string;
    if (next.hi !== null && next.hi !== undefined) {
      hi = String(next.hi);
      rows += task.batchSize;
    } else {
      // The rest: fewer than batchSize keys (uuid has no max() on PostgreSQL, so the largest comes by order).
      const last = (await client.query(`SELECT (SELECT ${text} FROM ${t} ${after} ORDER BY ${k} DESC LIMIT 1) AS hi, (SELECT count(*) FROM ${t} ${after}) AS n`, params)).rows[0]!;
      hi = String(last.hi);
      rows += Number(last.n);
    }
    chunks.push({ task: task.name, index: chunks.length, lo, hi, key: kind });
    prev = hi;
  }
  return { chunks, rows: String(rows) };
}

/** Chunks grouped by task, in spec order: the ASL runs one group after another, chunks within a group in parallel. */
export async function planBackfill(spec: RunSpec, deps: Pick<Deps, 'sql' | 'clock'>): Promise<{ phases: Chunk[][]; tasks: { name: string; rows: string; chunks: number }[] }> {
  const phases: Chunk[][] = [];
  const tasks: { name: string; rows: string; chunks: number }[] = [];
  for (const task of spec.backfill.tasks) {
    if (task.load) {
      const chunks = task.load.files.map((file, index) => ({ task: task.name, index, lo: '0', hi: '0', file }));
      phases.push(chunks);
      tasks.push({ name: task.name, rows: '?', chunks: chunks.length });
      continue;
    }
    // Key ranges come from the table rows are read from: the table itself, or the one copied from.
    const source = task.copyFrom ? deps.sql(dbRef(spec, task.copyFrom.database)) : deps.sql(dbRef(spec, task.database));
    // One statement per task is guaranteed by the spec (validated before anything runs).
    const planned = await planTask(source, task, task.copyFrom?.table ?? task.table, deps.clock);
    if (planned.chunks.length) phases.push(planned.chunks);
    tasks.push({ name: task.name, rows: planned.rows, chunks: planned.chunks.length });
  }
  return { phases, tasks };
}

/** What a task runs, hashed: a checkpoint counts only for the same definition. */
export function taskHash(task: BackfillTask): string {
  return sha256Hex(canonicalJson(task));
}

/** A chunk's identity: what it runs (the task's definition) and over which keys (or which file). */
export function chunkId(task: BackfillTask, c: Pick<Chunk, 'lo' | 'hi' | 'file'>): string {
  return sha256Hex(canonicalJson({ task: taskHash(task), lo: c.lo, hi: c.hi, file: c.file ?? null }));
}

export interface BackfillPlanFile {
  readonly runId: string;
  /** SHA-256 of spec.backfill as planned: a resume under another backfill spec is refused. */
  readonly backfillHash: string;
  readonly planned_utc: string;
  readonly phases: Chunk[][];
  readonly tasks: { name: string; rows: string; chunks: number }[];
}

export const backfillPlanKey = (runId: string) => backfillPlanFile(runId, 'plan.json');

/**
 * The run's backfill plan: made on the first attempt and fixed in evidence,
 * reused unchanged by every resume (rows deleted or added since do not shift
 * the ranges, so no checkpoint can stand for another range).
 */
export async function fixedBackfillPlan(spec: RunSpec, deps: Deps): Promise<{ plan: BackfillPlanFile; reused: boolean }> {
  const key = backfillPlanKey(spec.runId);
  const backfillHash = sha256Hex(canonicalJson(spec.backfill));
  const check = (plan: BackfillPlanFile) => {
    if (plan.backfillHash !== backfillHash)
      throw new BackfillFailed(
        `run ${spec.runId} was planned under another backfill spec (plan sha256 ${plan.backfillHash.slice(0, 12)}…, this spec ${backfillHash.slice(0, 12)}…); expected the same spec on resume, or a new runId`,
        { planKey: key },
      );
    return plan;
  };
  const existing = await readEvidenceJson<BackfillPlanFile>(deps.evidence, key);
  if (existing) return { plan: check(existing), reused: true };
  const made = await planBackfill(spec, deps);
  const plan: BackfillPlanFile = { runId: spec.runId, backfillHash, planned_utc: deps.clock.now().toISOString(), phases: made.phases, tasks: made.tasks };
  // Two planners racing: the first write wins and both use it.
  if (await deps.evidence.putIfAbsent(key, canonicalJson(plan), 'application/json')) return { plan, reused: false };
  return { plan: check((await readEvidenceJson<BackfillPlanFile>(deps.evidence, key))!), reused: true };
}

interface ChunkCheckpoint {
  readonly task: string;
  readonly index: number;
  readonly id?: string;
  readonly rows?: number;
  readonly finished_utc?: string;
}

/** Every chunk of the fixed plan with its checkpoint when it has one for that very chunk (same definition, same range). */
async function plannedCheckpoints(spec: RunSpec, deps: Pick<Deps, 'evidence'>): Promise<{ chunk: Chunk; checkpoint?: ChunkCheckpoint }[]> {
  const plan = await readEvidenceJson<BackfillPlanFile>(deps.evidence, backfillPlanKey(spec.runId));
  return mapLimit(plan?.phases.flat() ?? [], 16, async (chunk) => {
    const task = spec.backfill.tasks.find((t) => t.name === chunk.task);
    const cp = await readEvidenceJson<ChunkCheckpoint>(deps.evidence, chunkKey(spec.runId, chunk)).catch(() => undefined);
    return task && cp?.id === chunkId(task, chunk) ? { chunk, checkpoint: cp } : { chunk };
  });
}

/** Per backfill task: its planned chunks, those done by an earlier attempt (this one skipped them), the rows written. */
export interface BackfillTally {
  readonly task: string;
  readonly chunks: number;
  readonly skipped: number;
  readonly rows: number;
}

/**
 * GO needs every planned chunk checkpointed for the plan it ran under: the
 * chunks of the fixed plan whose checkpoint is missing or names another
 * identity (empty = complete), and, from the same reads, what the checkpoints
 * say per task (`since`: when this attempt started).
 */
export async function checkpointsOfPlan(spec: RunSpec, since: string | undefined, deps: Pick<Deps, 'evidence'>): Promise<{ planned: number; missing: Chunk[]; tasks: BackfillTally[] }> {
  const all = await plannedCheckpoints(spec, deps);
  const tasks = new Map<string, { task: string; chunks: number; skipped: number; rows: number }>();
  for (const { chunk, checkpoint: cp } of all) {
    if (!cp) continue;
    const t = tasks.get(chunk.task) ?? { task: chunk.task, chunks: 0, skipped: 0, rows: 0 };
    t.chunks++;
    t.rows += cp.rows ?? 0;
    if (since !== undefined && (cp.finished_utc ?? '') < since) t.skipped++;
    tasks.set(chunk.task, t);
  }
  return { planned: all.length, missing: all.filter((c) => !c.checkpoint).map((c) => c.chunk), tasks: [...tasks.values()] };
}

export function chunkKey(runId: string, c: Pick<Chunk, 'task' | 'index'>): string {
  return stepKey(runId, 'backfillChunk', `/${c.task}/${String(c.index).padStart(6, '0')}`);
}

export interface ChunkOutcome {
  readonly task: string;
  readonly index: number;
  readonly rows: number;
  readonly skipped: boolean;
  readonly ms: number;
}

export async function runChunk(spec: RunSpec, chunk: Chunk, deps: Deps): Promise<ChunkOutcome> {
  const key = chunkKey(spec.runId, chunk);
  const task = spec.backfill.tasks.find((t) => t.name === chunk.task);
  if (!task) throw new BackfillFailed(`chunk names backfill task "${chunk.task}", which the spec does not have`);
  const id = chunkId(task, chunk);
  // Skipped only when the checkpoint is for this very chunk (same definition, same range); any other is redone and replaced.
  const done = await readEvidenceJson<ChunkCheckpoint>(deps.evidence, key).catch(() => undefined);
  if (done?.id === id) return { task: chunk.task, index: chunk.index, rows: 0, skipped: true, ms: 0 };
  const client = deps.sql(dbRef(spec, task.database));
  const waitedMs = await waitWhileBusy(spec, deps);
  const started = deps.clock.now();
  let rows: number;
  let extra: Record<string, unknown> = {};
  let attempts = 1;
  try {
    // Every kind is idempotent (the SQL by contract, copy and load keep existing keys): a dropped connection, a terminated backend or a deadlock runs the chunk again.
    ({ rows, extra } = await retryTransient(deps.clock, async (attempt) => {
      attempts = attempt;
      if (task.sql) return { rows: (await client.query(task.sql, { lo: keyBound(chunk.lo, chunk.key, client.dialect), hi: keyBound(chunk.hi, chunk.key, client.dialect) })).rowsAffected, extra: {} };
      if (task.copyFrom) {
        const r = await copyChunk(spec, task, chunk, deps);
        return { rows: r.rows, extra: { read: r.read, keptExisting: r.read - r.rows } };
      }
      const r = await loadFileChunk(spec, task, chunk.file!, deps);
      return { rows: r.rows, extra: { read: r.read, outsideRange: r.outsideRange, range: r.range, keptExisting: r.read - r.outsideRange - r.rows } };
    }));
  } catch (e) {
    if (e instanceof BackfillFailed) throw e;
    // Still a dropped connection after its own retries: left unnamed, so the state machine retries the chunk with its longer backoff.
    if (isTransient(e)) throw e;
    throw new BackfillFailed(`backfill task "${task.name}" chunk ${chunk.index} ${chunk.file ?? `[${chunk.lo}, ${chunk.hi}]`} failed: ${errorMessage(e)}`, {
      chunk,
    });
  }
  const ms = deps.clock.now().getTime() - started.getTime();
  await deps.evidence.put(
    key,
    canonicalJson({ ...chunk, id, task_sha256: taskHash(task), rows, ...extra, ...(attempts > 1 ? { attempts } : {}), ms, rows_per_s: ms > 0 ? Math.round((rows * 1000) / ms) : null, waited_busy_ms: waitedMs, finished_utc: deps.clock.now().toISOString() }),
    'application/json',
  );
  if (spec.backfill.pauseMs) await deps.clock.sleep(spec.backfill.pauseMs);
  return { task: chunk.task, index: chunk.index, rows, skipped: false, ms };
}
