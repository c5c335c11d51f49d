/**
 * The method gates as state-machine stages: GatePlan plans chunks once on the
 * source (stored in evidence, reused on a rerun), GateChunk checks one chunk
 * (checkpointed, skipped when done), and the Gates stage reads every
 * checkpoint and decides per table: PASS, FAIL or INCONCLUSIVE.
 */

import type { Deps, EvidenceObject, EvidenceStore, SqlClient } from '../../ports';
import { errorMessage, WorkStillRunning } from '../errors';
import { estimateGates, type GateEstimate, GO_ON_MARGIN_MS, measureGates, sampleConcurrency } from '../estimate';
import { canonicalJson, DIGESTS_SUFFIX, readEvidenceJson, renderDigests, sha256Hex } from '../evidence';
import { gateKey } from '../evidence-layout';
import type { RunSpec } from '../spec';
import { dbRef } from '../spec';
import { estimateRows } from './catalog';
import { DEFAULT_PLAN, denseIntegerKey, KEPT_SAMPLES, PLAN_SEGMENTS, type PlanProgress, type PlanResult, type PlanSample, planChunks, RANGE_ABOVE_ROWS, segmentBounds } from './chunks';
import type { KeyDiff } from './drilldown';
import { DEFAULT_DRILL } from './drilldown';
import { type ChunkCheck, checkChunk, DEFAULT_CHECK } from './gate';
import type { TableChunk } from './keys';
import { buildTablePlan, type TablePlan } from './table-plan';
import { tableVerdict, type Verdict, worstStatus } from './verdict';


const errorKey = (runId: string, item: { table: string; index: number }) => gateKey(runId, `errors/${item.table}/${String(item.index).padStart(6, '0')}.json`);

export interface PlannedTable {
  readonly table: string;
  readonly plan?: TablePlan;
  readonly chunks: number;
  /** Catalog row estimate: a labelled preview, never a gate. */
  readonly estimateRows?: string;
  readonly samples?: PlanSample[];
  /** Its chunks, in files of up to PLAN_PAGE JSON lines (`plan/<table>.chunks/<segment>-<page>.jsonl`): in all, and per segment. */
  readonly pages?: number;
  readonly segmentPages?: number[];
  readonly error?: string;
}

export interface GatePlanFile {
  readonly runId: string;
  readonly methods: RunSpec['gates']['methods'];
  readonly tables: PlannedTable[];
  readonly items: number;
  /** The longest item's JSON bytes (the Distributed Map's batch size follows from it). */
  readonly maxItemBytes?: number;
  /** When GatePlan first started (its estimate's time) and when the plan was complete: the actual plan time. */
  readonly started_utc?: string;
  readonly planned_utc?: string;
}

const estimateKey = (runId: string) => gateKey(runId, 'estimate.json');

/** The estimate made before planning (docs/scale.md's model on a timed sample), once per run; none when it cannot be made. */
async function keepEstimate(spec: RunSpec, deps: Deps, platform: 'aws' | 'local'): Promise<{ started_utc: string; distributed?: boolean } | undefined> {
  const kept = await readJson<{ started_utc: string; distributed?: boolean }>(deps, estimateKey(spec.runId));
  if (kept) return kept;
  const started_utc = deps.clock.now().toISOString();
  try {
    const { tables, sample } = await measureGates(spec, clients(spec, deps), deps.clock);
    const record = { started_utc, ...estimateGates(spec, tables, sample, platform) };
    await deps.evidence.put(estimateKey(spec.runId), canonicalJson(record), 'application/json');
    return record;
  } catch (e) {
    deps.logger.warn('no estimate', { error: errorMessage(e) });
    return { started_utc };
  }
}

/** The estimate GatePlan kept, if any (Gates sets the actual numbers beside it). */
export const readGateEstimate = (runId: string, evidence: EvidenceStore) => readEvidenceJson<GateEstimate & { started_utc: string }>(evidence, estimateKey(runId));

function clients(spec: RunSpec, deps: Deps): { source: SqlClient; target: SqlClient } {
  return { source: deps.sql(dbRef(spec, 'source')), target: deps.sql(dbRef(spec, 'target')) };
}

const readJson = <T>(deps: Deps, key: string) => readEvidenceJson<T>(deps.evidence, key);

/** A table's chunks are kept in files of this many, each written once as the plan reaches it (O(1) bytes a save). */
const PLAN_PAGE = 2_000;

const tablePlanKey = (runId: string, table: string) => gateKey(runId, `plan/${table}.json`);
const segmentsKey = (runId: string, table: string) => gateKey(runId, `plan/${table}.segments.json`);
const walkKey = (runId: string, table: string, seg: number) => gateKey(runId, `plan/${table}.walk-${String(seg).padStart(2, '0')}.json`);
const pageKey = (runId: string, table: string, seg: number, page: number) => gateKey(runId, `plan/${table}.chunks/${String(seg).padStart(2, '0')}-${String(page).padStart(6, '0')}.jsonl`);


/** The plan: its file, its chunks when few enough to travel in the state (up to `inlineUpTo`), their count and longest line. */
export interface PlannedGates {
  readonly file: GatePlanFile;
  readonly items?: TableChunk[];
  readonly count: number;
  readonly maxItemBytes: number;
  readonly reused: boolean;
}

/**
 * Plan once: a rerun or resume finds the plan in evidence and reuses it. Each table's chunks are kept page by page as
 * they are planned, with the walk's small progress file beside them; an invocation whose time is nearly up fails with
 * WorkStillRunning and the next goes on from there. items.jsonl is then streamed from the pages: memory holds a page.
 */
export async function planGates(spec: RunSpec, deps: Deps, remainingMs?: () => number, platform: 'aws' | 'local' = 'local', inlineUpTo = spec.gates.distributedAbove): Promise<PlannedGates> {
  const planKey = gateKey(spec.runId, 'plan.json');
  const itemsKey = gateItemsKey(spec.runId);
  const existing = await readJson<GatePlanFile>(deps, planKey);
  if (existing && existing.maxItemBytes !== undefined) {
    const items = existing.items <= inlineUpTo ? parseLines<TableChunk>(await deps.evidence.get(itemsKey)) : undefined;
    return { file: existing, ...(items ? { items } : {}), count: existing.items, maxItemBytes: existing.maxItemBytes, reused: true };
  }
  const tables: PlannedTable[] = [];
  const g = spec.gates;
  const timeUp = () => remainingMs !== undefined && remainingMs() < GO_ON_MARGIN_MS;
  const estimate = spec.target && g.tables.length ? await keepEstimate(spec, deps, platform) : undefined;
  // Chunks are sized under the concurrency the gate will run them at: the estimate's fan-out, or a guess from the catalog.
  const distributedLikely = estimate?.distributed === true;
  if (spec.target) {
    const c = clients(spec, deps);
    for (const opts of g.tables) {
      const done = await readJson<PlannedTable>(deps, tablePlanKey(spec.runId, opts.table));
      // (A table file without segment pages is an earlier version's: planned again.)
      if (done?.segmentPages !== undefined) {
        tables.push(done);
        continue;
      }
      try {
        const plan = await buildTablePlan(c, opts);
        const planOpts = {
          ...DEFAULT_PLAN,
          targetSeconds: g.chunkSeconds,
          initialRows: g.initialChunkRows,
          maxRows: g.maxChunkRows,
          minRows: Math.min(DEFAULT_PLAN.minRows, g.initialChunkRows),
          sampleWith: g.methods.includes('exact') ? ('exact' as const) : ('fast' as const),
          concurrency: sampleConcurrency(spec, distributedLikely),
        };
        // A big table that has to be walked is cut into segments walked at once (their boundaries kept for a resume).
        let bounds = (await readJson<{ bounds: string[][] }>(deps, segmentsKey(spec.runId, opts.table)))?.bounds;
        if (!bounds) {
          const rows = Number((await estimateRows(c.source, opts.table)) ?? 0);
          const walked = rows > RANGE_ABOVE_ROWS && !(await denseIntegerKey(c.source, plan));
          bounds = walked ? await segmentBounds(c.source, plan, PLAN_SEGMENTS, rows) : [];
          await deps.evidence.put(segmentsKey(spec.runId, opts.table), `${JSON.stringify({ bounds })}\n`, 'application/json');
        }
        const segments = bounds.length + 1;
        const each = { ...planOpts, concurrency: Math.max(1, Math.floor(planOpts.concurrency / segments)) };
        const planSegment = async (seg: number) => {
          const first: PlanProgress | undefined = segments > 1 ? { next: 0, lo: bounds![seg - 1] ?? null, upper: bounds![seg] ?? null, samples: [], step: g.initialChunkRows, rate: null } : undefined;
          const kept = await readJson<PlanProgress & { pages: number }>(deps, walkKey(spec.runId, opts.table, seg));
          let from: PlanProgress | undefined = kept ?? first;
          let planned: PlanResult;
          let pages = kept?.pages ?? 0;
          do {
            let n = 0;
            planned = await planChunks(c.source, plan, deps.clock, segments > 1 ? each : planOpts, { ...(from ? { from } : {}), stop: () => ++n > PLAN_PAGE || timeUp() });
            // The page first, then the progress that counts it: killed between the two, the page is planned and written again.
            if (planned.chunks.length) {
              const lines = planned.chunks.map((ch) => `${JSON.stringify({ table: opts.table, index: ch.index, lo: ch.lo, hi: ch.hi })}\n`).join('');
              await deps.evidence.put(pageKey(spec.runId, opts.table, seg, pages++), lines, 'application/x-ndjson');
            }
            const { chunks: _, complete, ...progress } = planned;
            from = progress;
            if (!complete) {
              await deps.evidence.put(walkKey(spec.runId, opts.table, seg), `${JSON.stringify({ ...progress, pages })}\n`, 'application/json');
              deps.progress?.({ stage: 'GatePlan', done: tables.length, total: g.tables.length, message: `${opts.table}${segments > 1 ? ` segment ${seg + 1}/${segments}` : ''}: ${planned.next} chunks so far` });
              if (timeUp()) throw new WorkStillRunning(`${opts.table}: ${planned.next} chunks planned so far (kept); the next invocation goes on from there`);
            }
          } while (!planned.complete);
          return { pages, chunks: planned.next, samples: planned.samples };
        };
        // Every segment saves what it did before a WorkStillRunning (or another failure) leaves the invocation.
        const settled = await Promise.allSettled(Array.from({ length: segments }, (_, seg) => planSegment(seg)));
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        const done = settled.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof planSegment>>>).value);
        const t: PlannedTable = {
          table: opts.table,
          plan,
          chunks: done.reduce((n, d) => n + d.chunks, 0),
          estimateRows: await estimateRows(c.source, opts.table),
          samples: done.flatMap((d) => d.samples).slice(-KEPT_SAMPLES),
          pages: done.reduce((n, d) => n + d.pages, 0),
          segmentPages: done.map((d) => d.pages),
        };
        await deps.evidence.put(tablePlanKey(spec.runId, opts.table), `${JSON.stringify(t)}\n`, 'application/json');
        tables.push(t);
        deps.progress?.({ stage: 'GatePlan', done: tables.length, total: g.tables.length, message: `${opts.table}: ${t.chunks} chunks` });
      } catch (e) {
        if (e instanceof WorkStillRunning) throw e;
        tables.push({ table: opts.table, chunks: 0, error: errorMessage(e) });
      }
    }
  }
  // items.jsonl: every table's pages in order, streamed (a page in memory at a time).
  const out = deps.evidence.writer(itemsKey, 'application/x-ndjson');
  let count = 0;
  let maxItemBytes = 1;
  const items: TableChunk[] = [];
  // The digest of every page as it is read here, and of items.jsonl: Summary seals them from this ledger unread.
  const digests: EvidenceObject[] = [];
  try {
    for await (const page of plannedPages(spec.runId, tables, deps.evidence, (d) => digests.push(d))) {
      let text = '';
      for (const chunk of page) {
        const row = `${JSON.stringify(chunk)}\n`;
        text += row;
        count++;
        maxItemBytes = Math.max(maxItemBytes, Buffer.byteLength(row));
        if (count <= inlineUpTo) items.push(chunk);
      }
      await out.write(text);
    }
  } catch (e) {
    await out.abort();
    throw e;
  }
  digests.push(await out.close());
  await deps.evidence.put(gateKey(spec.runId, `plan${DIGESTS_SUFFIX}`), renderDigests(digests), 'application/x-ndjson');
  const file: GatePlanFile = {
    runId: spec.runId,
    methods: g.methods,
    tables,
    items: count,
    maxItemBytes,
    ...(estimate ? { started_utc: estimate.started_utc } : {}),
    planned_utc: deps.clock.now().toISOString(),
  };
  await deps.evidence.put(planKey, canonicalJson(file), 'application/json');
  return { file, ...(count <= inlineUpTo ? { items } : {}), count, maxItemBytes, reused: false };
}

/**
 * Every planned chunk in plan order (table by table, numbered on across a table's segments), a page at a time, each
 * page's digest to `read` as it is read. Checked as they stream by: the chunks of a table are numbered 0, 1, 2… and
 * tile its key, each starting where the one before ended, from the open start to the open end. A plan with a gap would
 * leave rows no gate ever read.
 */
async function* plannedPages(runId: string, tables: readonly PlannedTable[], evidence: EvidenceStore, read?: (page: EvidenceObject) => void): AsyncGenerator<TableChunk[]> {
  for (const t of tables) {
    let prevHi = 'null';
    let index = 0;
    const broken = (why: string) => new Error(`the gate plan of ${t.table} is broken at chunk ${index}: ${why}; delete 07_gates/plan/ and plan again`);
    for (const [seg, segPages] of (t.segmentPages ?? []).entries()) {
      let local = 0;
      for (let p = 0; p < segPages; p++) {
        const key = pageKey(runId, t.table, seg, p);
        const body = await evidence.get(key);
        if (!body) throw new Error(`${key} is missing: plan the gates again (delete ${tablePlanKey(runId, t.table)})`);
        read?.({ key, sha256: sha256Hex(body), size: body.length });
        const page: TableChunk[] = [];
        for (const line of Buffer.from(body).toString('utf8').split('\n')) {
          if (!line) continue;
          const chunk = JSON.parse(line) as TableChunk;
          if (chunk.table !== t.table || chunk.index !== local) throw broken(`found ${chunk.table}#${chunk.index} in segment ${seg + 1}`);
          if (prevHi === 'end') throw broken('a chunk after the open end');
          if (JSON.stringify(chunk.lo) !== prevHi) throw broken(`it starts after ${JSON.stringify(chunk.lo)}, the chunk before ended at ${prevHi}`);
          prevHi = chunk.hi === null ? 'end' : JSON.stringify(chunk.hi);
          page.push({ table: t.table, index, lo: chunk.lo, hi: chunk.hi });
          local++;
          index++;
        }
        yield page;
      }
    }
    if (t.segmentPages !== undefined && prevHi !== 'end') throw broken('the last chunk does not run to the end of the key');
    if (t.segmentPages !== undefined && index !== t.chunks) throw broken(`${index} chunks in its pages, ${t.chunks} in its plan`);
  }
}

/** Every planned chunk, one JSON line each, in plan order: what the Distributed Map reads (ItemReader, InputType JSONL). */
export const gateItemsKey = (runId: string) => gateKey(runId, 'items.jsonl');

/** A chunk's identity: its table, index and key range (a checkpoint counts only for the chunk the plan names). */
const itemId = (i: Pick<TableChunk, 'table' | 'index' | 'lo' | 'hi'>) => JSON.stringify([i.table, i.index, i.lo, i.hi]);

/** Rows of the chunk on the source (what `cutline status` turns into rows/s). */
const sourceRows = (checks: readonly ChunkCheck[]) => Number(checks[0]?.source.n ?? 0) || 0;

/** A chunk's checkpoint: one line of its batch's file. */
type Checkpoint = TableChunk & { checks: ChunkCheck[]; finished_utc: string };

/** The checkpoints of a batch of chunks: one JSON line per chunk done, in one file named after the batch's first chunk. */
const batchKey = (runId: string, first: TableChunk) => gateKey(runId, `chunks/${first.table}/${String(first.index).padStart(6, '0')}.jsonl`);

const parseLines = <T>(body: Uint8Array | undefined): T[] =>
  body
    ? Buffer.from(body)
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as T)
    : [];

/** What a gate task returns: its first chunk, how many it holds, the worst status, how many were done before, source rows. */
export interface GateBatchResult {
  readonly t: string;
  readonly i: number;
  readonly n: number;
  readonly s: string;
  readonly skipped: number;
  readonly rows: number;
}

/**
 * Check a batch of chunks (one, from the inline Map; many, from the Distributed Map's ItemBatcher) with every method.
 * The batch's checkpoint file is its evidence, written once at the end, or when the invocation's time is nearly up
 * (then WorkStillRunning: the retry checks only the chunks the file does not hold yet).
 */
export async function checkGateBatch(spec: RunSpec, items: readonly TableChunk[], deps: Deps, remainingMs?: () => number): Promise<GateBatchResult> {
  const first = items[0];
  if (!first) throw new Error('a gate batch holds no chunks; expected at least one');
  const key = batchKey(spec.runId, first);
  // Done only for this chunk of this plan: a checkpoint for another key range under its index is checked again (and replaced).
  const prior = new Map(parseLines<Checkpoint>(await deps.evidence.get(key)).map((c) => [itemId(c), c]));
  const kept: Checkpoint[] = [];
  const statuses: string[] = [];
  let rows = 0;
  let skipped = 0;
  let plan: GatePlanFile | undefined;
  // Differing keys still to name per table (gates.maxDiffs less those already named): listed once per batch, then counted down.
  const budgets = new Map<string, number>();
  const save = async () => {
    if (kept.length > skipped) await deps.evidence.put(key, `${kept.map((c) => JSON.stringify(c)).join('\n')}\n`, 'application/x-ndjson');
  };
  for (const item of items) {
    const done = prior.get(itemId(item));
    if (done) {
      kept.push(done);
      statuses.push(worstStatus(done.checks.map((c) => c.status)));
      rows += sourceRows(done.checks);
      skipped++;
      continue;
    }
    if (remainingMs && remainingMs() < GO_ON_MARGIN_MS && kept.length > skipped) {
      await save();
      throw new WorkStillRunning(`${kept.length} of ${items.length} chunks of the batch from ${first.table}#${first.index} checked (kept); the next invocation checks the rest`);
    }
    plan ??= await readJson<GatePlanFile>(deps, gateKey(spec.runId, 'plan.json'));
    if (!plan) throw new Error(`gate plan ${gateKey(spec.runId, 'plan.json')} is missing; expected GatePlan to have run`);
    if (!budgets.has(item.table)) budgets.set(item.table, Math.max(0, spec.gates.maxDiffs - (await knownDiffs(spec.runId, item.table, deps))));
    const checks = await checkOne(spec, plan, item, budgets.get(item.table)!, deps);
    budgets.set(item.table, Math.max(0, budgets.get(item.table)! - checks.reduce((n, c) => n + (c.diffs?.length ?? 0), 0)));
    const status = worstStatus(checks.map((c) => c.status));
    const record: Checkpoint = { ...item, checks, finished_utc: deps.clock.now().toISOString() };
    statuses.push(status);
    rows += sourceRows(checks);
    if (status !== 'ERROR') kept.push(record);
    // An error is no checkpoint (a rerun checks the chunk again), but its cause is evidence: Gates names it.
    else await deps.evidence.put(errorKey(spec.runId, item), canonicalJson(record), 'application/json');
  }
  await save();
  return { t: first.table, i: first.index, n: items.length, s: worstStatus(statuses), skipped, rows };
}

/** Check one chunk with every method; a DIFF found by exact also carries the keys. */
async function checkOne(spec: RunSpec, file: GatePlanFile, item: TableChunk, diffBudget: number, deps: Deps): Promise<ChunkCheck[]> {
  const plan = file.tables.find((t) => t.table === item.table)?.plan;
  if (!plan) throw new Error(`gate plan has no table ${item.table}`);
  const g = spec.gates;
  const checks: ChunkCheck[] = [];
  // A NO_GO is fast: once the run knows maxDiffs differing keys of this table, a differing chunk is counted, not drilled into.
  const budget = g.methods.includes('exact') ? diffBudget : g.maxDiffs;
  for (const method of g.methods)
    checks.push(
      await checkChunk(clients(spec, deps), plan, item, method, deps.clock, {
        ...DEFAULT_CHECK,
        recheck: g.recheck,
        drill: { ...DEFAULT_DRILL, buckets: g.buckets, maxDiffs: budget },
      }),
    );
  const named = checks.reduce((n, c) => n + (c.diffs?.length ?? 0), 0);
  if (named) await deps.evidence.put(gateKey(spec.runId, `known-diffs/${item.table}/${String(item.index).padStart(6, '0')}.${named}.json`), '{}\n', 'application/json');
  return checks;
}

/** Differing keys already named for a table, from the names of the known-diffs markers (one per drilled chunk: a handful, as drilling stops at maxDiffs). */
async function knownDiffs(runId: string, table: string, deps: Deps): Promise<number> {
  const marks = await deps.evidence.keys(gateKey(runId, `known-diffs/${table}/`));
  return marks.reduce((n, m) => n + Number(/\.(\d+)\.json$/.exec(m)?.[1] ?? 0), 0);
}

export interface TableReport {
  readonly table: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly chunks: number;
  readonly estimateRows?: string;
  readonly fast?: { source: string; target: string; diff: string };
  readonly exact?: { source: string; target: string; matching: number; differing: number; unstable: number; errors: number };
  readonly diffs: KeyDiff[];
  readonly diffsTruncated: boolean;
  readonly rowsPerSecond: number | null;
  readonly ms: number;
}

/** What reading the checkpoints leaves beside the verdicts: the plan, the last chunk's end, one JSON line per check. */
export interface GateSink {
  planned?: GatePlanFile;
  lastFinishedUtc?: string;
  /** Takes the JSON lines of each checkpoint file's checks as it is read (written on to chunks.jsonl, not kept). */
  readonly lines?: (text: string) => Promise<void>;
  /** Each checkpoint file as it was read (its digest for the manifest: Summary does not read it again). */
  readonly digests?: EvidenceObject[];
}

/** One method's totals over a table's chunks. */
interface MethodTotals {
  n: number;
  source: bigint;
  target: bigint;
  status: Record<string, number>;
}
/** A table's totals as its checkpoints are read. */
interface Totals {
  chunks: number;
  ms: number;
  fast: MethodTotals;
  exact: MethodTotals;
  diffs: KeyDiff[];
  truncated: boolean;
}
const newTotals = (): Totals => ({
  chunks: 0,
  ms: 0,
  fast: { n: 0, source: 0n, target: 0n, status: {} },
  exact: { n: 0, source: 0n, target: 0n, status: {} },
  diffs: [],
  truncated: false,
});

/** Read every checkpoint and decide per table. */
export async function aggregateGates(spec: RunSpec, deps: Deps, seen: GateSink = {}): Promise<TableReport[]> {
  const file = await readJson<GatePlanFile>(deps, gateKey(spec.runId, 'plan.json'));
  if (!file) return [];
  seen.planned = file;
  const g = spec.gates;
  const reports: TableReport[] = [];
  // A checkpoint counts only for the chunk the plan names (same index, same key range); each file is read once. The plan
  // is read a page at a time and the checkpoint files in plan order beside it (a batch's file is named after its first
  // chunk, and holds the chunks after it): memory holds a page, the batches around the chunk at hand and the totals.
  const offsets = new Map<string, { at: number; chunks: number }>();
  let planned = 0;
  for (const t of file.tables) {
    offsets.set(t.table, { at: planned, chunks: t.chunks });
    planned += t.chunks;
  }
  // A chunk's place in the plan, for a table and index the plan holds.
  const place = (table: string, index: number) => {
    const o = offsets.get(table);
    return o && Number.isInteger(index) && index >= 0 && index < o.chunks ? o.at + index : undefined;
  };
  const files = (await deps.evidence.keys(gateKey(spec.runId, 'chunks/')))
    .map((key) => {
      const named = /\/chunks\/(.+)\/(\d+)\.jsonl$/.exec(key);
      return { key, at: (named && place(named[1]!, Number(named[2]))) ?? Number.POSITIVE_INFINITY };
    })
    .sort((a, b) => (a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.key < b.key ? -1 : 1));
  // Checkpoints read ahead of the chunk at hand, by place in the plan; one behind it (a file out of order) counts for nothing.
  const ahead = new Map<number, Checkpoint[]>();
  let at = 0;
  let nextFile = 0;
  const readFile = async (key: string) => {
    const body = await deps.evidence.get(key);
    if (body) seen.digests?.push({ key, sha256: sha256Hex(body), size: body.length });
    for (const cp of parseLines<Checkpoint>(body)) {
      const p = place(cp.table, cp.index);
      if (p === undefined || p < at) continue;
      const list = ahead.get(p);
      if (list) list.push(cp);
      else ahead.set(p, [cp]);
    }
  };
  // Each check is folded into its table's totals as it is read: memory holds totals and named keys, not the checks.
  const totals = new Map<string, Totals>();
  for await (const page of plannedPages(spec.runId, file.tables, deps.evidence)) {
    let lines = '';
    for (const item of page) {
      while (nextFile < files.length && files[nextFile]!.at <= at) await readFile(files[nextFile++]!.key);
      const id = itemId(item);
      const cp = ahead.get(at)?.find((c) => itemId(c) === id);
      ahead.delete(at);
      at++;
      if (!cp) continue;
      if (!seen.lastFinishedUtc || cp.finished_utc > seen.lastFinishedUtc) seen.lastFinishedUtc = cp.finished_utc;
      const tt = totals.get(cp.table) ?? newTotals();
      totals.set(cp.table, tt);
      tt.chunks++;
      for (const c of cp.checks) {
        if (seen.lines) lines += `${JSON.stringify({ table: cp.table, index: c.index, method: c.method, status: c.status, source: c.source.n, target: c.target.n, ms: c.ms })}\n`;
        tt.ms += c.ms;
        const m = c.method === 'fast' ? tt.fast : tt.exact;
        m.n++;
        m.source += BigInt(c.source.n);
        m.target += BigInt(c.target.n);
        m.status[c.status] = (m.status[c.status] ?? 0) + 1;
        if (c.method === 'exact') {
          for (const d of c.diffs ?? []) {
            if (tt.diffs.length < g.maxDiffs) tt.diffs.push(d);
            else tt.truncated = true;
          }
          tt.truncated ||= !!c.diffsTruncated;
        }
      }
    }
    if (lines) await seen.lines?.(lines);
  }
  // The files past the plan (another plan's, or a table no longer in it) are evidence too: read for their digests.
  while (nextFile < files.length) await readFile(files[nextFile++]!.key);
  for (const t of file.tables) {
    if (t.error || !t.plan) {
      reports.push({ table: t.table, verdict: 'INCONCLUSIVE', reason: t.error ?? 'not planned', chunks: 0, diffs: [], diffsTruncated: false, rowsPerSecond: null, ms: 0 });
      continue;
    }
    const tt = totals.get(t.table) ?? newTotals();
    const missing = t.chunks - tt.chunks;
    const fast = tt.fast.n ? { source: String(tt.fast.source), target: String(tt.fast.target), diff: String(tt.fast.target - tt.fast.source) } : undefined;
    const exact = tt.exact.n
      ? {
          source: String(tt.exact.source),
          target: String(tt.exact.target),
          matching: tt.exact.status.MATCH ?? 0,
          differing: tt.exact.status.DIFF ?? 0,
          unstable: tt.exact.status.UNSTABLE ?? 0,
          errors: tt.exact.status.ERROR ?? 0,
        }
      : undefined;
    const diffs = tt.diffs;
    const truncated = tt.truncated;
    let missingCause: string | undefined;
    if (missing > 0) {
      const errors = await deps.evidence.keys(gateKey(spec.runId, `errors/${t.table}/`));
      const first = errors.length ? await readJson<{ index: number; checks: ChunkCheck[] }>(deps, errors[0]!) : undefined;
      const cause = first?.checks.find((c) => c.error)?.error;
      if (cause) missingCause = `chunk ${first!.index}: ${cause}; ${errors.length} error record(s) in 07_gates/errors/${t.table}/`;
    }
    const { verdict, reason } = tableVerdict(
      {
        chunks: t.chunks,
        missing,
        ...(missingCause ? { missingCause } : {}),
        ...(fast ? { fast } : {}),
        fastUnsettled: (tt.fast.status.UNSTABLE ?? 0) + (tt.fast.status.ERROR ?? 0) > 0,
        ...(exact ? { exact } : {}),
        diffs: diffs.length,
        diffsTruncated: truncated,
      },
      g.fast,
    );
    const ms = tt.ms;
    const rows = Number(exact?.source ?? fast?.source ?? '0');
    reports.push({
      table: t.table,
      verdict,
      reason,
      chunks: t.chunks,
      ...(t.estimateRows ? { estimateRows: t.estimateRows } : {}),
      ...(fast ? { fast } : {}),
      ...(exact ? { exact } : {}),
      diffs,
      diffsTruncated: truncated,
      rowsPerSecond: ms > 0 ? Math.round((rows * 1000) / ms) : null,
      ms,
    });
  }
  return reports;
}

/** The readable diff report: one line per table, then each differing key. */
export function renderDiffReport(reports: readonly TableReport[]): string {
  const lines = ['table                          verdict        chunks  source rows   target rows   diff keys  rows/s', '-'.repeat(100)];
  for (const r of reports) {
    const src = r.exact?.source ?? r.fast?.source ?? '-';
    const tgt = r.exact?.target ?? r.fast?.target ?? '-';
    lines.push(`${r.table.padEnd(30)} ${r.verdict.padEnd(14)} ${String(r.chunks).padStart(6)}  ${src.padStart(11)}   ${tgt.padStart(11)}   ${String(r.diffs.length).padStart(9)}  ${String(r.rowsPerSecond ?? '-').padStart(6)}`);
  }
  for (const r of reports.filter((x) => x.estimateRows !== undefined)) lines.push(`  ${r.table}: catalog estimate ${r.estimateRows} rows (preview only, never a gate)`);
  for (const r of reports.filter((x) => x.diffs.length || x.verdict !== 'PASS')) {
    lines.push('', `${r.table}: ${r.verdict}: ${r.reason}`);
    for (const d of r.diffs) lines.push(`  ${d.kind.padEnd(8)} key ${d.key}${d.columns ? `  columns: ${d.columns.join(', ')}` : ''}`);
    if (r.diffsTruncated) lines.push('  ... more differing keys not listed (raise gates.maxDiffs)');
  }
  return `${lines.join('\n')}\n`;
}
