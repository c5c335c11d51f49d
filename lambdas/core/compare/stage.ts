/**
 * The method gates as state-machine stages: GatePlan plans chunks once on the
 * source (stored in evidence, reused on a rerun), GateChunk checks one chunk
 * (checkpointed, skipped when done), and the Gates stage reads every
 * checkpoint and decides per table: PASS, FAIL or INCONCLUSIVE.
 */
import { gateKey } from '../evidence-layout';
import type { Deps, SqlClient } from '../../ports';
import { errorMessage } from '../errors';
import { canonicalJson, readEvidenceJson } from '../evidence';
import type { RunSpec } from '../spec';
import { dbRef } from '../spec';
import { DEFAULT_PLAN, planChunks } from './chunks';
import { DEFAULT_DRILL } from './drilldown';
import type { KeyDiff } from './drilldown';
import { type ChunkCheck, checkChunk, DEFAULT_CHECK } from './gate';
import { estimateRows } from './catalog';
import type { TableChunk } from './keys';
import { buildTablePlan, type TablePlan } from './table-plan';
import { type Verdict, tableVerdict, worstStatus } from './verdict';


const errorKey = (runId: string, item: { table: string; index: number }) => gateKey(runId, `errors/${item.table}/${String(item.index).padStart(6, '0')}.json`);

export interface PlannedTable {
  readonly table: string;
  readonly plan?: TablePlan;
  readonly chunks: number;
  /** Catalog row estimate: a labelled preview, never a gate. */
  readonly estimateRows?: string;
  readonly samples?: { rows: number; ms: number; rowsPerSecond: number }[];
  readonly error?: string;
}

export interface GatePlanFile {
  readonly runId: string;
  readonly methods: RunSpec['gates']['methods'];
  readonly tables: PlannedTable[];
  readonly items: number;
}

function clients(spec: RunSpec, deps: Deps): { source: SqlClient; target: SqlClient } {
  return { source: deps.sql(dbRef(spec, 'source')), target: deps.sql(dbRef(spec, 'target')) };
}

const readJson = <T>(deps: Deps, key: string) => readEvidenceJson<T>(deps.evidence, key);

/** Plan once: a rerun or resume finds the plan in evidence and reuses it. */
export async function planGates(spec: RunSpec, deps: Deps): Promise<{ file: GatePlanFile; items: TableChunk[]; reused: boolean }> {
  const planKey = gateKey(spec.runId, 'plan.json');
  const itemsKey = gateKey(spec.runId, 'items.json');
  const existing = await readJson<GatePlanFile>(deps, planKey);
  const existingItems = await readJson<TableChunk[]>(deps, itemsKey);
  if (existing && existingItems) return { file: existing, items: existingItems, reused: true };
  const tables: PlannedTable[] = [];
  const items: TableChunk[] = [];
  const g = spec.gates;
  if (spec.target) {
    const c = clients(spec, deps);
    for (const opts of g.tables) {
      try {
        const plan = await buildTablePlan(c, opts);
        const planned = await planChunks(c.source, plan, deps.clock, {
          ...DEFAULT_PLAN,
          targetSeconds: g.chunkSeconds,
          initialRows: g.initialChunkRows,
          maxRows: g.maxChunkRows,
          minRows: Math.min(DEFAULT_PLAN.minRows, g.initialChunkRows),
          sampleWith: g.methods.includes('exact') ? 'exact' : 'fast',
        });
        for (const ch of planned.chunks) items.push({ table: opts.table, index: ch.index, lo: ch.lo, hi: ch.hi });
        tables.push({ table: opts.table, plan, chunks: planned.chunks.length, estimateRows: await estimateRows(c.source, opts.table), samples: planned.samples });
        deps.progress?.({ stage: 'GatePlan', done: tables.length, total: g.tables.length, message: `${opts.table}: ${planned.chunks.length} chunks` });
      } catch (e) {
        tables.push({ table: opts.table, chunks: 0, error: errorMessage(e) });
      }
    }
  }
  const file: GatePlanFile = { runId: spec.runId, methods: g.methods, tables, items: items.length };
  await deps.evidence.put(itemsKey, `${JSON.stringify(items)}\n`, 'application/json');
  await deps.evidence.put(planKey, canonicalJson(file), 'application/json');
  return { file, items, reused: false };
}

/** A chunk's identity: its table, index and key range (a checkpoint counts only for the chunk the plan names). */
const itemId = (i: Pick<TableChunk, 'table' | 'index' | 'lo' | 'hi'>) => JSON.stringify([i.table, i.index, i.lo, i.hi]);

/** Rows of the chunk on the source (what `cutline status` turns into rows/s). */
const sourceRows = (checks: readonly ChunkCheck[]) => Number(checks[0]?.source.n ?? 0) || 0;

/** Check one chunk with every method; the checkpoint is its evidence. */
export async function checkGateChunk(spec: RunSpec, item: TableChunk, deps: Deps): Promise<{ t: string; i: number; s: string; skipped: boolean; rows: number }> {
  const ck = gateKey(spec.runId, `chunks/${item.table}/${String(item.index).padStart(6, '0')}.json`);
  const done = await readJson<TableChunk & { checks: ChunkCheck[] }>(deps, ck);
  // Done only for this chunk of this plan: a checkpoint for another key range under its index is checked again (and replaced).
  if (done && itemId(done) === itemId(item)) return { t: item.table, i: item.index, s: worstStatus(done.checks.map((c) => c.status)), skipped: true, rows: sourceRows(done.checks) };
  const file = await readJson<GatePlanFile>(deps, gateKey(spec.runId, 'plan.json'));
  if (!file) throw new Error(`gate plan ${gateKey(spec.runId, 'plan.json')} is missing; expected GatePlan to have run`);
  const plan = file.tables.find((t) => t.table === item.table)?.plan;
  if (!plan) throw new Error(`gate plan has no table ${item.table}`);
  const g = spec.gates;
  const checks: ChunkCheck[] = [];
  // A NO_GO is fast: once the run knows maxDiffs differing keys of this table, a differing chunk is counted, not drilled into.
  const budget = g.methods.includes('exact') ? Math.max(0, g.maxDiffs - (await knownDiffs(spec.runId, item.table, deps))) : g.maxDiffs;
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
  // A DIFF found by exact also carries the keys; an ERROR is retried by a rerun, so no checkpoint.
  const status = worstStatus(checks.map((c) => c.status));
  const record = canonicalJson({ ...item, checks, finished_utc: deps.clock.now().toISOString() });
  if (status !== 'ERROR') await deps.evidence.put(ck, record, 'application/json');
  // An error is no checkpoint (a rerun checks the chunk again), but its cause is evidence: Gates names it.
  else await deps.evidence.put(errorKey(spec.runId, item), record, 'application/json');
  return { t: item.table, i: item.index, s: status, skipped: false, rows: sourceRows(checks) };
}

/** Differing keys already named for a table, from the names of the known-diffs markers (one per drilled chunk: a handful, as drilling stops at maxDiffs). */
async function knownDiffs(runId: string, table: string, deps: Deps): Promise<number> {
  const marks = await deps.evidence.list(gateKey(runId, `known-diffs/${table}/`));
  return marks.reduce((n, m) => n + Number(/\.(\d+)\.json$/.exec(m.key)?.[1] ?? 0), 0);
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
  readonly perChunk: { index: number; method: string; status: string; source: string; target: string; ms: number; rowsPerSecond: number | null }[];
}

function add(a: string, b: string): string {
  return (BigInt(a) + BigInt(b)).toString();
}

/** Read every checkpoint and decide per table. */
export async function aggregateGates(spec: RunSpec, deps: Deps): Promise<TableReport[]> {
  const file = await readJson<GatePlanFile>(deps, gateKey(spec.runId, 'plan.json'));
  if (!file) return [];
  const g = spec.gates;
  const reports: TableReport[] = [];
  // A checkpoint counts only for the chunk the plan names (same index, same key range).
  const items = (await readJson<TableChunk[]>(deps, gateKey(spec.runId, 'items.json'))) ?? [];
  const planned = new Set(items.map((i) => itemId(i)));
  for (const t of file.tables) {
    if (t.error || !t.plan) {
      reports.push({ table: t.table, verdict: 'INCONCLUSIVE', reason: t.error ?? 'not planned', chunks: 0, diffs: [], diffsTruncated: false, rowsPerSecond: null, ms: 0, perChunk: [] });
      continue;
    }
    const objs = await deps.evidence.list(gateKey(spec.runId, `chunks/${t.table}/`));
    const checkpoints: { checks: ChunkCheck[] }[] = [];
    for (const o of objs) {
      const cp = await readJson<TableChunk & { checks: ChunkCheck[] }>(deps, o.key);
      if (cp && planned.has(itemId(cp))) checkpoints.push(cp);
    }
    const checks = checkpoints.flatMap((c) => c.checks);
    const missing = t.chunks - checkpoints.length;
    const fastChecks = checks.filter((c) => c.method === 'fast');
    const exactChecks = checks.filter((c) => c.method === 'exact');
    const fast = fastChecks.length ? { source: fastChecks.reduce((n, c) => add(n, c.source.n), '0'), target: fastChecks.reduce((n, c) => add(n, c.target.n), '0'), diff: '0' } : undefined;
    if (fast) fast.diff = (BigInt(fast.target) - BigInt(fast.source)).toString();
    const exact = exactChecks.length
      ? {
          source: exactChecks.reduce((n, c) => add(n, c.source.n), '0'),
          target: exactChecks.reduce((n, c) => add(n, c.target.n), '0'),
          matching: exactChecks.filter((c) => c.status === 'MATCH').length,
          differing: exactChecks.filter((c) => c.status === 'DIFF').length,
          unstable: exactChecks.filter((c) => c.status === 'UNSTABLE').length,
          errors: exactChecks.filter((c) => c.status === 'ERROR').length,
        }
      : undefined;
    const diffs = exactChecks.flatMap((c) => c.diffs ?? []).slice(0, g.maxDiffs);
    const truncated = exactChecks.some((c) => c.diffsTruncated) || exactChecks.flatMap((c) => c.diffs ?? []).length > g.maxDiffs;
    let missingCause: string | undefined;
    if (missing > 0) {
      const errors = await deps.evidence.list(gateKey(spec.runId, `errors/${t.table}/`));
      const first = errors.length ? await readJson<{ index: number; checks: ChunkCheck[] }>(deps, errors[0]!.key) : undefined;
      const cause = first?.checks.find((c) => c.error)?.error;
      if (cause) missingCause = `chunk ${first!.index}: ${cause}; ${errors.length} error record(s) in 07_gates/errors/${t.table}/`;
    }
    const { verdict, reason } = tableVerdict(
      {
        chunks: t.chunks,
        missing,
        ...(missingCause ? { missingCause } : {}),
        ...(fast ? { fast } : {}),
        fastUnsettled: fastChecks.some((c) => c.status === 'UNSTABLE' || c.status === 'ERROR'),
        ...(exact ? { exact } : {}),
        diffs: diffs.length,
        diffsTruncated: truncated,
      },
      g.fast,
    );
    const ms = checks.reduce((n, c) => n + c.ms, 0);
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
      perChunk: checks.map((c) => ({ index: c.index, method: c.method, status: c.status, source: c.source.n, target: c.target.n, ms: c.ms, rowsPerSecond: c.ms > 0 ? Math.round((Number(c.source.n) * 1000) / c.ms) : null })),
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
