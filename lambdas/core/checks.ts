/**
 * Runbook checks (spec.checks): each runs in the stage its `at` names, after that stage's own work, and its result
 * (status, full hashes, bounded output) goes into the stage's record as `stepChecks`. A failing check fails the stage
 * with the check's class (its own, or the guarded stage's), so the decision matrix says who unblocks what. Checks at
 * `promotion` run in Decide, before the go/no-go: a failure there never promotes.
 */
import type { Deps } from '../ports';
import { runCommand } from './actions';
import type { Classification } from './errors';
import {
  BackfillFailed,
  type CutlineError,
  EnvironmentBlocked,
  errorMessage,
  GateFailed,
  IdempotencyFailed,
  MigrationFailed,
  SmokeFailed,
  SyncFailed,
  VerifyFailed,
} from './errors';
import { canonicalJson, readEvidenceJson, sha256Hex } from './evidence';
import { performanceBaselineKey } from './evidence-layout';
import { canonicalPayload, canonicalPayloadHash, fetchOnce, jsonDifferences } from './smoke';
import type { Check, CheckPoint } from './spec-parts';
import type { RunSpec } from './spec';
import { dbRef } from './spec';

/** The class a failure of a check at each point gets unless the check names another. */
const DEFAULT_CLASS: Record<CheckPoint, Classification> = {
  preflight: 'ENVIRONMENT_BLOCKED',
  schema: 'MIGRATION_FAILED',
  verify: 'VERIFY_FAILED',
  promotion: 'SMOKE_FAILED',
  smoke: 'SMOKE_FAILED',
  phase: 'SMOKE_FAILED',
};

const ERRORS: Partial<Record<Classification, new (message: string, details?: Record<string, unknown>) => CutlineError>> = {
  ENVIRONMENT_BLOCKED: EnvironmentBlocked,
  MIGRATION_FAILED: MigrationFailed,
  BACKFILL_FAILED: BackfillFailed,
  VERIFY_FAILED: VerifyFailed,
  GATE_FAILED: GateFailed,
  SYNC_FAILED: SyncFailed,
  SMOKE_FAILED: SmokeFailed,
  IDEMPOTENCY_FAILED: IdempotencyFailed,
};

/** Output kept in evidence from a command check: its last characters (the end says why it failed). */
export const CHECK_OUTPUT_CHARS = 4_000;

export interface CheckResult {
  readonly name: string;
  readonly at: CheckPoint;
  readonly kind: 'sql' | 'http' | 'command' | 'parity' | 'performance';
  readonly classification: Classification;
  readonly ok: boolean;
  readonly detail: string;
  readonly ms: number;
  readonly sql?: { database: string; rows: number; value?: number | null; sample: Record<string, unknown>[] };
  readonly http?: { url: string; method: string; via: string; status: number; expectStatus: number; BODY_SHA256: string; BODY_LEN: number; canonicalSha256?: string };
  readonly parity?: { baseline: string; candidate: string; requests: number; differing: ParityDifference[] };
  readonly performance?: { metric: 'p50' | 'p95'; before: Timing; after: Timing; slowdownMs: number; slowdownPercent: number | null; maxSlowdownPercent: number; minSlowdownMs: number };
  readonly command?: { status: string; exitCode: number | null; expectExit: number; stdout: string; stderr: string; STDOUT_SHA256: string; STDOUT_LEN: number; outputUrl?: string };
}

export function checkClass(c: Check): Classification {
  return c.classification ?? DEFAULT_CLASS[c.at];
}

const tail = (s: string, n: number) => (s.length > n ? `…${s.slice(-n)}` : s);

export async function sqlCheck(spec: RunSpec, c: NonNullable<Check['sql']>, deps: Pick<Deps, 'sql'>): Promise<Pick<CheckResult, 'ok' | 'detail' | 'sql'>> {
  const client = deps.sql(dbRef(spec, c.database));
  const { rows } = await client.query(c.sql);
  const sample = rows.slice(0, 5).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]: [string, unknown]) => [k, typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v])));
  if (!c.expect) {
    const ok = rows.length === 0;
    return { ok, detail: ok ? 'no rows, as expected' : `got ${rows.length} row(s), first ${JSON.stringify(sample[0]).slice(0, 200)}; expected no rows`, sql: { database: client.label, rows: rows.length, sample } };
  }
  const first = rows[0] ? Object.values(rows[0])[0] : undefined;
  const value = first === null || first === undefined ? null : Number(first);
  const { min, max } = c.expect;
  const bounds = `${min ?? '-∞'} <= value <= ${max ?? '∞'}`;
  const ok = value !== null && Number.isFinite(value) && (min === undefined || value >= min) && (max === undefined || value <= max);
  return { ok, detail: ok ? `value ${value} within ${bounds}` : `got ${first === undefined ? 'no row' : JSON.stringify(first)}; expected a number with ${bounds}`, sql: { database: client.label, rows: rows.length, value, sample } };
}

export async function httpCheck(spec: RunSpec, c: NonNullable<Check['http']>, deps: Pick<Deps, 'http' | 'commands' | 'clock'>): Promise<Pick<CheckResult, 'ok' | 'detail' | 'http'>> {
  const f = await fetchOnce(spec, { url: c.url, method: c.method, timeoutMs: c.timeoutMs, via: c.via, ...(c.body ? { body: c.body } : {}) }, deps);
  let canonical: string | undefined;
  let canonicalError: string | undefined;
  if (f.whole && f.body.length) {
    try {
      canonical = canonicalPayloadHash(f.body, c.ignoreFields);
    } catch (e) {
      canonicalError = errorMessage(e);
    }
  }
  const http = { url: c.url, method: c.method, via: c.via, status: f.status, expectStatus: c.expectStatus, BODY_SHA256: f.sha256, BODY_LEN: f.length, ...(canonical ? { canonicalSha256: canonical } : {}) };
  if (f.status !== c.expectStatus) return { ok: false, detail: `got HTTP ${f.status}; expected ${c.expectStatus}; body: ${f.body.slice(0, 200)}`, http };
  if (c.expectCanonicalSha256 && canonical !== c.expectCanonicalSha256)
    return {
      ok: false,
      detail: `got canonical sha256 ${canonical ?? `none (${canonicalError ?? 'the body was not returned whole'})`}; expected ${c.expectCanonicalSha256} (ignoring ${c.ignoreFields.join(', ') || 'nothing'})`,
      http,
    };
  return { ok: true, detail: `HTTP ${f.status}; body ${f.length} bytes, sha256 ${f.sha256}${canonical ? `, canonical sha256 ${canonical}` : ''}`, http };
}

export async function commandCheck(spec: RunSpec, c: NonNullable<Check['command']>, deps: Pick<Deps, 'commands' | 'clock'>): Promise<Pick<CheckResult, 'ok' | 'detail' | 'command'>> {
  const r = await runCommand(deps, spec.jumpbox!.instanceId, c.script, c.timeoutSeconds);
  const command = {
    status: r.status,
    exitCode: r.exitCode,
    expectExit: c.expectExit,
    stdout: tail(r.stdout, CHECK_OUTPUT_CHARS),
    stderr: tail(r.stderr, CHECK_OUTPUT_CHARS / 2),
    // The whole stdout's hash and size when SSM cut it (the work bucket holds it), else those of what came back.
    STDOUT_SHA256: r.fullStdout?.sha256 ?? sha256Hex(r.stdout),
    STDOUT_LEN: r.fullStdout?.bytes ?? Buffer.byteLength(r.stdout),
    ...(r.outputUrl ? { outputUrl: r.outputUrl } : {}),
  };
  const done = r.status === 'Success' || r.status === 'Failed';
  const ok = done && r.exitCode === c.expectExit;
  return {
    ok,
    detail: ok ? `exit ${r.exitCode}` : `ended ${r.status} with exit ${r.exitCode}; expected exit ${c.expectExit}${r.stderr ? `; stderr: ${tail(r.stderr, 200)}` : ''}`,
    command,
  };
}

export interface ParityDifference {
  readonly request: string;
  readonly status: [number, number];
  /** JSON paths that differ (at most 20); empty when only the status differs. */
  readonly fields: string[];
  readonly baselineSha256: string;
  readonly candidateSha256: string;
}

/** The same requests to both endpoints, one after the other; statuses and canonical payloads compared. */
async function parityCheck(spec: RunSpec, c: NonNullable<Check['parity']>, deps: Pick<Deps, 'http' | 'commands' | 'clock'>): Promise<Pick<CheckResult, 'ok' | 'detail' | 'parity'>> {
  const differing: ParityDifference[] = [];
  const join = (base: string, p: string) => `${base.replace(/\/+$/, '')}${p}`;
  for (const r of c.requests) {
    const get = (base: string) => fetchOnce(spec, { url: join(base, r.path), method: r.method, timeoutMs: c.timeoutMs, via: c.via, ...(r.body ? { body: r.body } : {}) }, deps);
    const [a, b] = [await get(c.baseline), await get(c.candidate)];
    const parse = (body: string) => {
      try {
        return { v: canonicalPayload(body, c.ignoreFields) };
      } catch {
        return { v: body };
      }
    };
    const fields = a.whole && b.whole ? jsonDifferences(parse(a.body).v, parse(b.body).v) : a.sha256 === b.sha256 ? [] : ['$ (bodies too large to compare field by field)'];
    if (a.status !== b.status || fields.length)
      differing.push({ request: `${r.method} ${r.path}`, status: [a.status, b.status], fields, baselineSha256: a.sha256, candidateSha256: b.sha256 });
  }
  const parity = { baseline: c.baseline, candidate: c.candidate, requests: c.requests.length, differing };
  if (!differing.length) return { ok: true, detail: `${c.requests.length} request(s) answered alike (ignoring ${c.ignoreFields.join(', ') || 'nothing'})`, parity };
  const first = differing
    .slice(0, 5)
    .map((d) => `${d.request}: ${d.status[0] !== d.status[1] ? `HTTP ${d.status[0]} vs ${d.status[1]}` : ''}${d.fields.length ? `${d.status[0] !== d.status[1] ? ', ' : ''}fields ${d.fields.join(', ')}` : ''}`);
  return { ok: false, detail: `${differing.length} of ${c.requests.length} request(s) differ between ${c.baseline} and ${c.candidate}: ${first.join('; ')}${differing.length > 5 ? '; …' : ''}`, parity };
}

/** One timing of a performance check: the runs' milliseconds and their percentiles. */
export interface Timing {
  readonly at: CheckPoint;
  readonly taken_utc: string;
  readonly runs: number;
  readonly p50: number;
  readonly p95: number;
  readonly ms: number[];
}

/** Nearest-rank percentile of a sample (p in 0..100). */
export function percentile(sample: readonly number[], p: number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Pure: whether `after` is slower than `before` beyond both thresholds. */
export function slowdown(before: Pick<Timing, 'p50' | 'p95'>, after: Pick<Timing, 'p50' | 'p95'>, p: Pick<NonNullable<Check['performance']>, 'metric' | 'maxSlowdownPercent' | 'minSlowdownMs'>) {
  const b = before[p.metric];
  const a = after[p.metric];
  const ms = Math.round((a - b) * 1000) / 1000;
  const pct = b > 0 ? Math.round(((a - b) / b) * 10_000) / 100 : null;
  const ok = ms <= p.minSlowdownMs || (pct !== null && pct <= p.maxSlowdownPercent);
  return { ok, ms, pct };
}

type CheckDeps = Pick<Deps, 'sql' | 'http' | 'commands' | 'clock' | 'evidence'>;

/** Time a performance check's request or query `runs` times, within its budget. */
async function timeIt(spec: RunSpec, c: Check, at: CheckPoint, deps: CheckDeps): Promise<Timing> {
  const p = c.performance!;
  const client = p.query ? deps.sql(dbRef(spec, p.query.database)) : undefined;
  const ms: number[] = [];
  const started = deps.clock.now().getTime();
  for (let i = 0; i < p.runs; i++) {
    const t0 = performance.now();
    if (client) await client.query(p.query!.sql);
    else {
      const r = await deps.http.request(p.request!.url, { method: p.request!.method, timeoutMs: p.request!.timeoutMs, ...(p.request!.body ? { body: p.request!.body, headers: { 'content-type': 'application/json' } } : {}) });
      if (r.status >= 400) throw new Error(`run ${i + 1} answered HTTP ${r.status}; expected a success to time`);
    }
    ms.push(Math.round((performance.now() - t0) * 1000) / 1000);
    if (deps.clock.now().getTime() - started > p.budgetSeconds * 1000)
      throw new Error(`${i + 1} of ${p.runs} runs took more than budgetSeconds (${p.budgetSeconds} s); expected all of them within it`);
  }
  return { at, taken_utc: deps.clock.now().toISOString(), runs: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), ms };
}

/** The baseline of each performance check timed at this point: taken once per run (a resume reuses the first). */
async function takeBaselines(spec: RunSpec, at: CheckPoint, deps: CheckDeps): Promise<void> {
  for (const c of spec.checks.filter((x) => x.performance?.baselineAt === at)) {
    const key = performanceBaselineKey(spec.runId, c.name);
    if (await readEvidenceJson<Timing>(deps.evidence, key)) continue;
    await deps.evidence.putIfAbsent(key, canonicalJson(await timeIt(spec, c, at, deps)), 'application/json');
  }
}

async function performanceCheck(spec: RunSpec, c: Check, at: CheckPoint, deps: CheckDeps): Promise<Pick<CheckResult, 'ok' | 'detail' | 'performance'>> {
  const p = c.performance!;
  const before = await readEvidenceJson<Timing>(deps.evidence, performanceBaselineKey(spec.runId, c.name));
  if (!before) throw new Error(`no baseline for "${c.name}" (taken at ${p.baselineAt}); expected ${p.baselineAt} to have run in this run`);
  const after = await timeIt(spec, c, at, deps);
  const s = slowdown(before, after, p);
  const performance = { metric: p.metric, before, after, slowdownMs: s.ms, slowdownPercent: s.pct, maxSlowdownPercent: p.maxSlowdownPercent, minSlowdownMs: p.minSlowdownMs };
  const what = `${p.metric} ${before[p.metric]} ms at ${p.baselineAt} → ${after[p.metric]} ms at ${at} (${s.pct === null ? 'n/a' : `${s.pct > 0 ? '+' : ''}${s.pct}%`}, ${s.ms > 0 ? '+' : ''}${s.ms} ms over ${after.runs} runs)`;
  return { ok: s.ok, detail: s.ok ? what : `${what}; expected at most +${p.maxSlowdownPercent}% (or +${p.minSlowdownMs} ms)`, performance };
}

/** Run the spec's checks at one point, in spec order, each to its end (a failure does not stop the others). */
export async function runChecks(spec: RunSpec, at: CheckPoint, deps: CheckDeps, names?: readonly string[]): Promise<CheckResult[]> {
  await takeBaselines(spec, at, deps);
  const out: CheckResult[] = [];
  for (const c of spec.checks.filter((x) => x.at === at && (!names || names.includes(x.name)))) {
    const t0 = deps.clock.now().getTime();
    const kind = c.sql ? ('sql' as const) : c.http ? ('http' as const) : c.parity ? ('parity' as const) : c.performance ? ('performance' as const) : ('command' as const);
    const base = { name: c.name, at, kind, classification: checkClass(c) };
    try {
      const r = c.sql
        ? await sqlCheck(spec, c.sql, deps)
        : c.http
          ? await httpCheck(spec, c.http, deps)
          : c.parity
            ? await parityCheck(spec, c.parity, deps)
            : c.performance
              ? await performanceCheck(spec, c, at, deps)
              : await commandCheck(spec, c.command!, deps);
      out.push({ ...base, ...r, ms: deps.clock.now().getTime() - t0 });
    } catch (e) {
      out.push({ ...base, ok: false, detail: errorMessage(e), ms: deps.clock.now().getTime() - t0 });
    }
  }
  return out;
}

/** Fail the stage when a check failed: with the first failing check's class, naming every failing check. */
export function throwIfFailed(results: readonly CheckResult[], details: Record<string, unknown> = {}): void {
  const failed = results.filter((r) => !r.ok);
  if (!failed.length) return;
  const Err = ERRORS[failed[0]!.classification] ?? SmokeFailed;
  // The message travels in the state ($.error): each detail cut, the whole results are in the record.
  throw new Err(`${failed.length} check(s) at ${failed[0]!.at} failed: ${failed.map((f) => `${f.name} (${f.classification}): ${f.detail.slice(0, 300)}`).join('; ')}`, { ...details, stepChecks: results });
}

/** Run the checks at a point and fail the stage on any failure; their results for the stage's record (none: nothing). */
export async function guard(spec: RunSpec, at: CheckPoint, deps: CheckDeps, details: Record<string, unknown> = {}): Promise<{ stepChecks?: CheckResult[] }> {
  if (!spec.checks.some((c) => c.at === at || c.performance?.baselineAt === at)) return {};
  const results = await runChecks(spec, at, deps);
  throwIfFailed(results, details);
  return results.length ? { stepChecks: results } : {};
}
