/**
 * `cutline estimate`: what the method gates of a run will cost and how long they will take, before anything runs.
 * measureGates reads catalog row estimates and times a short sample on the source (the first chunk's key walk, its
 * check, and a one-row check for the per-call overhead, each as many at once as the gate runs); estimateGates turns
 * that into chunks, requests, dollars and seconds with the model docs/scale.md writes out. GatePlan stores the same
 * estimate in evidence (07_gates/estimate.json) and Gates sets the actual numbers beside it.
 */
import type { Clock, SqlClient } from '../ports';
import { estimateRows } from './compare/catalog';
import { CONVERGE_CHUNKS, DEFAULT_PLAN, denseIntegerKey, PLAN_SEGMENTS, RANGE_ABOVE_ROWS, RANGE_SAMPLES } from './compare/chunks';
import { checksumSql, countSqlFor } from './compare/checksum';
import { keySelect, orderBy } from './compare/keys';
import { buildTablePlan } from './compare/table-plan';
import { PRICES, PRICES_READ, PRICES_REGION } from './prices';
import type { RunSpec } from './spec';
import { quoteIdent } from './sql-builders';
import { DATA_API_CALL_MS, INVOCATION_MARGIN_MS, STAGE_FUNCTION_MEMORY_MB, STAGE_FUNCTION_SECONDS } from './states';

/** Seconds of chunks one Distributed Map child checks in one invocation (GatePlan sizes batches from it). */
export const GATE_BATCH_SECONDS = 120;
/** A child's input (spec and chunks) stays under this many bytes: Step Functions' 256 KiB less room for the envelope. */
export const GATE_BATCH_BYTES = 200 * 1024;
/** What an invocation keeps for itself before its next chunk: a check of both sides (each a Data API call) and the saves. */
export const GO_ON_MARGIN_MS = 2 * DATA_API_CALL_MS + INVOCATION_MARGIN_MS;
/** The planner's timed sample runs at most this many copies at once. */
export const MAX_SAMPLE_CONCURRENCY = 16;
/** Child executions of a Distributed Map the local runner runs at once (AWS: up to MaxConcurrency). */
export const LOCAL_CHILD_CONCURRENCY = 8;
/** An inline Map runs at most 40 iterations at once (Step Functions; cli/engine INLINE_MAP_CONCURRENCY). */
const INLINE_MAP = 40;
const FUNCTION_GB = STAGE_FUNCTION_MEMORY_MB / 1024;
/** Per invocation: start, the plan and checkpoint reads and the checkpoint write (S3 round trips), in seconds. Assumed. */
const INVOCATION_OVERHEAD_S = 0.15;
/** A child execution's start by the Map Run, in seconds (Step Functions schedules children in waves). Assumed. */
const CHILD_START_S = 0.1;
/** An ExecuteStatement round trip inside a region, ms: assumed (not measured here), added to a local sample when modelling AWS. */
export const AWS_DATA_API_CALL_MS = 10;
/** State transitions of the run outside the gate chunks (every other state once, a few retries). */
const FIXED_TRANSITIONS = 40;
/** Evidence files of a run besides the gate checkpoints (records, reports, plan files). */
const FIXED_FILES = 40;

/** What was measured on the source, per call, under the gate's concurrency. */
export interface GateSample {
  /** Rows per second of one check query (its rows over its time less the per-call overhead). */
  readonly rowsPerSecond: number;
  /** A one-row check: the per-call overhead (round trip, parse, plan), ms. */
  readonly callMs: number;
  /** One step of the planner's key walk, ms. */
  readonly walkMs: number;
  /** Rows of the timed chunk and how many ran at once. */
  readonly rows: number;
  readonly concurrency: number;
}

export interface TableRows {
  readonly table: string;
  readonly rows: number;
  /** catalog: the statistics' estimate; counted: the table had none (never analyzed), so it was counted; at least: counted up to the cap (ANALYZE it for an estimate). */
  readonly from: 'catalog' | 'counted' | 'at least';
  /** Planned by key ranges (one dense integer key, RANGE_SAMPLES timed samples) rather than walked chunk by chunk. */
  readonly ranged?: boolean;
  /** Walked in this many segments at once (a big table on PostgreSQL, PLAN_SEGMENTS). */
  readonly segments?: number;
}

export interface GateEstimate {
  readonly platform: 'aws' | 'local';
  readonly tables: readonly TableRows[];
  readonly rows: number;
  readonly sample: GateSample;
  readonly chunkRows: number;
  readonly chunks: number;
  readonly distributed: boolean;
  readonly batchSize: number;
  readonly childExecutions: number;
  /** Chunks or batches checked at once. */
  readonly lanes: number;
  readonly stateTransitions: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly dataApiCalls: number;
  readonly s3: { readonly puts: number; readonly gets: number };
  readonly usd: { readonly stepFunctions: number; readonly lambda: number; readonly s3: number; readonly orchestration: number; readonly dataApi: number };
  readonly seconds: { readonly plan: number; readonly check: number; readonly total: number };
  readonly rowsPerSecond: number;
  readonly prices: { readonly read: string; readonly region: string; readonly items: typeof PRICES };
}

/** Chunks per child execution: GATE_BATCH_SECONDS of chunks at the planned seconds per chunk and method, within GATE_BATCH_BYTES. */
export function gateBatchSize(spec: RunSpec, maxItemBytes: number): number {
  const g = spec.gates;
  const bySeconds = Math.floor(GATE_BATCH_SECONDS / (g.chunkSeconds * g.methods.length));
  const byBytes = Math.floor((GATE_BATCH_BYTES - Buffer.byteLength(JSON.stringify(spec))) / Math.max(1, maxItemBytes));
  return Math.max(1, Math.min(bySeconds, byBytes));
}

/** Chunks checked at once by the inline Map (gates.maxConcurrency unset). */
export const INLINE_LANES = 4;
/** Child executions at once on the Distributed Map (neither gates.distributedConcurrency nor maxConcurrency set): a 16-vCPU writer's worth. */
export const DISTRIBUTED_LANES = 16;

/** Chunk queries at once on each side: the inline Map's, or the Distributed Map's children (an explicit maxConcurrency caps both unless distributedConcurrency is set). */
export const gateLanes = (spec: RunSpec, distributed: boolean) =>
  distributed ? (spec.gates.distributedConcurrency ?? spec.gates.maxConcurrency ?? DISTRIBUTED_LANES) : (spec.gates.maxConcurrency ?? INLINE_LANES);

/** The planner's timed sample runs as many copies at once as the gate will run chunks (at most MAX_SAMPLE_CONCURRENCY). */
export const sampleConcurrency = (spec: RunSpec, distributed: boolean) => Math.min(gateLanes(spec, distributed), MAX_SAMPLE_CONCURRENCY);

/** Before the sample: the rows at the initial chunk size would take the Distributed Map (the sample then runs at its concurrency). */
export const likelyDistributed = (spec: RunSpec, rows: number) => Math.ceil(rows / spec.gates.initialChunkRows) > spec.gates.distributedAbove;

/** The model (docs/scale.md): pure, so the bench and the tests run it on any numbers. */
export function estimateGates(spec: RunSpec, tables: readonly TableRows[], sample: GateSample, platform: 'aws' | 'local'): GateEstimate {
  const g = spec.gates;
  const m = g.methods.length;
  const minRows = Math.min(DEFAULT_PLAN.minRows, g.initialChunkRows);
  // The planner's fixed point: a chunk of s rows takes callMs + s / rate; it aims at chunkSeconds.
  const chunkRows = Math.round(Math.min(g.maxChunkRows, Math.max(minRows, sample.rowsPerSecond * (g.chunkSeconds - sample.callMs / 1000))));
  const rows = tables.reduce((n, t) => n + t.rows, 0);
  // Each table ends with the open range after its last key.
  const chunks = tables.reduce((n, t) => n + Math.ceil(t.rows / chunkRows) + 1, 0);
  const queryS = (sample.callMs + (chunkRows * 1000) / sample.rowsPerSecond) / 1000;
  // Source and target are read at once; the methods one after another.
  const chunkS = m * queryS;
  const distributed = chunks > g.distributedAbove;
  const itemBytes = 60 + 2 * 24;
  const batchSize = distributed ? gateBatchSize(spec, itemBytes) : 1;
  const children = distributed ? Math.ceil(chunks / batchSize) : 0;
  const lanes = Math.min(gateLanes(spec, distributed), distributed ? (platform === 'local' ? LOCAL_CHILD_CONCURRENCY : Number.POSITIVE_INFINITY) : INLINE_MAP);
  // A walked table: one key step per chunk, a timed sample for each of the first CONVERGE_CHUNKS and then every
  // sampleEvery; a ranged one: RANGE_SAMPLES samples.
  const walked = (t: TableRows) => (t.ranged ? 0 : Math.ceil(t.rows / chunkRows) + 1);
  const walkedChunks = tables.reduce((n, t) => n + walked(t), 0);
  const walkSamples = (n: number) => (n ? Math.ceil(n / DEFAULT_PLAN.sampleEvery) + Math.min(CONVERGE_CHUNKS - 1, n - 1) : 0);
  const planSamples = tables.reduce((n, t) => n + walkSamples(walked(t)), 0) + RANGE_SAMPLES * tables.filter((t) => t.ranged).length;
  // Segments walk at once: a table's walk takes its steps and samples divided among them.
  const planS = tables.reduce((sec, t) => sec + ((walked(t) * sample.walkMs) / 1000 + walkSamples(walked(t)) * queryS) / (t.segments ?? 1), 0) + RANGE_SAMPLES * tables.filter((t) => t.ranged).length * queryS;
  const planInvocations = Math.max(1, Math.ceil(planS / (STAGE_FUNCTION_SECONDS - GO_ON_MARGIN_MS / 1000)));
  const invocations = (distributed ? children : chunks) + planInvocations + 1;
  const checkS = (chunks * chunkS + (distributed ? children * CHILD_START_S : 0)) / lanes;
  const gbSeconds = FUNCTION_GB * (planS + chunks * chunkS + invocations * INVOCATION_OVERHEAD_S);
  const transitions = FIXED_TRANSITIONS + (distributed ? 2 * children : chunks) + planInvocations;
  // Each sample runs once; the first of each table also runs as many copies at once as the gate will (the slowdown).
  const dataApi = chunks * 2 * m + walkedChunks + planSamples + sampleConcurrency(spec, distributed) * tables.length + 10 * tables.length;
  const batches = distributed ? children : chunks;
  const exact = g.methods.includes('exact') ? 1 : 0;
  const files = batches + FIXED_FILES;
  // Per batch: GET its checkpoint file and the plan, LIST the known differences (exact), PUT the checkpoint file.
  // Gates LISTs the checkpoints and GETs each once; Summary LISTs the run and GETs only the files no digest ledger names
  // (the fixed ones and the ledger); GatePlan saves its walk as it doubles.
  const gets = batches * 2 + batches + FIXED_FILES + 1 + 1;
  const puts = batches * (1 + exact) + 2 * Math.ceil(files / 1000) + Math.ceil(Math.log2(Math.max(2, chunks / 2000))) + FIXED_FILES;
  const stepFunctions = transitions * PRICES.stateTransition.usd;
  const lambda = invocations * PRICES.lambdaRequest.usd + gbSeconds * PRICES.lambdaGbSecond.usd;
  const s3 = puts * PRICES.s3Put.usd + gets * PRICES.s3Get.usd;
  return {
    platform,
    tables,
    rows,
    sample,
    chunkRows,
    chunks,
    distributed,
    batchSize,
    childExecutions: children,
    lanes,
    stateTransitions: transitions,
    lambdaInvocations: invocations,
    lambdaGbSeconds: Math.round(gbSeconds),
    dataApiCalls: dataApi,
    s3: { puts, gets },
    usd: { stepFunctions, lambda, s3, orchestration: stepFunctions + lambda + s3, dataApi: dataApi * PRICES.dataApiRequest.usd },
    seconds: { plan: planS, check: checkS, total: planS + checkS },
    rowsPerSecond: checkS > 0 ? Math.round(rows / checkS) : 0,
    prices: { read: PRICES_READ, region: PRICES_REGION, items: PRICES },
  };
}

const time = async (clock: Clock, n: number, q: () => Promise<unknown>) => {
  // The fastest of three rounds (the first warms the cache), each n at once: a busy machine only ever adds time.
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t0 = clock.now().getTime();
    await Promise.all(Array.from({ length: n }, q));
    best = Math.min(best, clock.now().getTime() - t0);
  }
  return Math.max(0.01, best);
};

/** Row estimates of every gate table, and a timed sample on the first table that has rows (a handful of queries). */
/** Rows counted at most for a table without statistics (a few seconds of counting on Aurora). */
export const COUNT_CAP = 10_000_000;

export async function measureGates(
  spec: RunSpec,
  c: { source: SqlClient; target: SqlClient },
  clock: Clock,
  countCap = COUNT_CAP,
): Promise<{ tables: TableRows[]; sample: GateSample }> {
  const g = spec.gates;
  const tables: TableRows[] = [];
  for (const t of g.tables) {
    const est = Number((await estimateRows(c.source, t.table)) ?? 0);
    if (est > 0) {
      const ranged = (await denseIntegerKey(c.source, await buildTablePlan(c, t)).catch(() => undefined)) !== undefined;
      const segmented = !ranged && est > RANGE_ABOVE_ROWS && c.source.dialect === 'postgres';
      tables.push({ table: t.table, rows: est, from: 'catalog', ...(ranged ? { ranged } : {}), ...(segmented ? { segments: PLAN_SEGMENTS } : {}) });
    }
    else {
      // No statistics (a table never analyzed): counted, up to countCap rows so the count stays far inside the Data API's 45 s.
      const { rows } = await c.source.query(`SELECT count(*) AS n FROM (SELECT 1 FROM ${quoteIdent(t.table, c.source.dialect)} LIMIT ${countCap}) s`);
      const n = Number(rows[0]?.n ?? 0);
      tables.push({ table: t.table, rows: n, from: n >= countCap ? 'at least' : 'counted' });
    }
  }
  const first = g.tables.find((_, i) => tables[i]!.rows > 0) ?? g.tables[0];
  const concurrency = sampleConcurrency(spec, likelyDistributed(spec, tables.reduce((n, t) => n + t.rows, 0)));
  const step = Math.max(1, Math.min(g.initialChunkRows, g.maxChunkRows));
  if (!first) return { tables, sample: { rowsPerSecond: 1, callMs: 0, walkMs: 0, rows: 0, concurrency } };
  const plan = await buildTablePlan(c, first);
  const t = quoteIdent(plan.table, c.source.dialect);
  const key = (offset: number) => `SELECT ${keySelect(plan, 'source')} FROM ${t} ORDER BY ${orderBy(plan, 'source')} LIMIT 1 OFFSET ${offset}`;
  const walkMs = await time(clock, 1, () => c.source.query(key(step - 1)));
  const at = async (offset: number) => (await c.source.query(key(offset))).rows[0];
  const hiRow = (await at(step - 1)) ?? (await at(0));
  const oneRow = await at(0);
  const hi = (r: Record<string, unknown> | undefined) => (r ? plan.key.map((_, k) => String(r[`k${k}`])) : null);
  const sql = (h: string[] | null) => {
    const chunk = { table: plan.table, index: 0, lo: null, hi: h };
    return g.methods.includes('exact') ? checksumSql(plan, 'source', chunk) : countSqlFor(plan, 'source', chunk);
  };
  const big = sql(hi(hiRow));
  const small = sql(hi(oneRow));
  const bigMs = await time(clock, concurrency, () => c.source.query(big.sql, big.params));
  const callMs = await time(clock, concurrency, () => c.source.query(small.sql, small.params));
  const rowsPerSecond = Math.round((step * 1000) / Math.max(0.01, bigMs - callMs));
  return { tables, sample: { rowsPerSecond, callMs, walkMs, rows: step, concurrency } };
}

const usd = (v: number) => (v >= 0.01 ? `$${v.toFixed(2)}` : `$${v.toFixed(4)}`);
const secs = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/** The estimate as an operator reads it before starting. */
export function renderEstimate(e: GateEstimate): string[] {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  return [
    `estimate (${e.platform}): ${n(e.rows)} rows in ${e.tables.length} table(s) (${e.tables.map((t) => (t.from === 'at least' ? `${t.table} at least ${n(t.rows)} (counted up to there: no statistics; ANALYZE it)` : `${t.table} ${n(t.rows)} ${t.from}${t.ranged ? ', planned by key ranges' : t.segments ? `, walked in ${t.segments} segments at once` : ''}`)).join(', ')})`,
    `  sample: ${n(e.sample.rowsPerSecond)} rows/s a query and ${e.sample.callMs.toFixed(1)} ms a call, ${e.sample.concurrency} at once; key walk ${e.sample.walkMs.toFixed(1)} ms a step`,
    `  chunks: ${n(e.chunks)} of ~${n(e.chunkRows)} rows${e.distributed ? `, Distributed Map: ${n(e.childExecutions)} child executions of ${e.batchSize} chunks` : ', inline Map'}`,
    `  requests: ${n(e.stateTransitions)} state transitions, ${n(e.lambdaInvocations)} Lambda invocations (${n(e.lambdaGbSeconds)} GB-s), ${n(e.dataApiCalls)} Data API calls, ${n(e.s3.puts)} S3 PUT/LIST + ${n(e.s3.gets)} GET`,
    `  cost: ${usd(e.usd.orchestration)} orchestration (Step Functions ${usd(e.usd.stepFunctions)}, Lambda ${usd(e.usd.lambda)}, S3 ${usd(e.usd.s3)}) + ${usd(e.usd.dataApi)} Data API; database capacity not included; prices ${e.prices.region} read ${e.prices.read} (lambdas/core/prices.ts)`,
    `  time: ${secs(e.seconds.total)} (plan ${secs(e.seconds.plan)}, check ${secs(e.seconds.check)}, ${e.lanes} ${e.distributed ? 'child executions' : 'chunks'} at once), ~${n(e.rowsPerSecond)} rows/s`,
  ];
}
