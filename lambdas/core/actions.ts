/**
 * Cutover and rollback actions (flip a runtime selector parameter, run SQL,
 * run a jumpbox command) and HTTP smoke checks.
 */
import type { CommandResult, Deps } from '../ports';
import { CutoverFailed, errorMessage, SmokeFailed } from './errors';
import { sha256Hex } from './evidence';
import type { Action, RunSpec } from './spec';
import { dbRef } from './spec';

export interface ActionResult {
  readonly index: number;
  readonly type: Action['type'];
  readonly description: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly previous?: string | null;
  readonly exitCode?: number | null;
}

const TERMINAL = new Set(['Success', 'Cancelled', 'Failed', 'TimedOut']);

/** Send a command and poll until it ends or its timeout passes. */
export async function runCommand(deps: Deps, instanceId: string, script: string, timeoutSeconds: number): Promise<CommandResult> {
  const commandId = await deps.commands.send(instanceId, script, { timeoutSeconds });
  const started = deps.clock.now().getTime();
  const deadline = started + (timeoutSeconds + 30) * 1000;
  for (;;) {
    const r = await deps.commands.get(instanceId, commandId);
    if (TERMINAL.has(r.status)) return r;
    const now = deps.clock.now().getTime();
    if (now > deadline) return { ...r, status: 'TimedOut' };
    // Poll every ~5% of the time so far (50 ms to 5 s): the end is noticed within 5% of the command's own time.
    await deps.clock.sleep(Math.min(5000, Math.max(50, Math.round((now - started) * 0.05))));
  }
}

export function describeAction(a: Action): string {
  if (a.description) return a.description;
  if (a.type === 'parameter') return `set parameter ${a.name} = ${JSON.stringify(a.value)}`;
  if (a.type === 'sql') return `run SQL on ${a.database}: ${a.sql.length > 80 ? `${a.sql.slice(0, 77)}...` : a.sql}`;
  return `run on jumpbox: ${a.script.split('\n')[0]}`;
}

async function runAction(spec: RunSpec, a: Action, index: number, deps: Deps): Promise<ActionResult> {
  const base = { index, type: a.type, description: describeAction(a) };
  try {
    if (a.type === 'parameter') {
      const previous = (await deps.parameters.getMany([a.name])).get(a.name) ?? null;
      await deps.parameters.put(a.name, a.value);
      return { ...base, ok: true, detail: `${a.name}: ${JSON.stringify(previous)} -> ${JSON.stringify(a.value)}`, previous };
    }
    if (a.type === 'sql') {
      const r = await deps.sql(dbRef(spec, a.database)).query(a.sql);
      return { ...base, ok: true, detail: `${r.rowsAffected} row(s) affected` };
    }
    const r = await runCommand(deps, spec.jumpbox!.instanceId, a.script, a.timeoutSeconds);
    const ok = r.status === 'Success' && r.exitCode === 0;
    return {
      ...base,
      ok,
      exitCode: r.exitCode,
      detail: `${r.status}, exit ${r.exitCode}${r.stderr ? `; stderr: ${r.stderr.slice(-500)}` : ''}${r.stdout ? `; stdout: ${r.stdout.slice(-500)}` : ''}`,
    };
  } catch (e) {
    return { ...base, ok: false, detail: errorMessage(e) };
  }
}

/** Cutover: actions in order; the first failure stops and throws (the ASL then rolls back). */
export async function runCutover(spec: RunSpec, deps: Deps): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  for (const [i, a] of spec.cutover.actions.entries()) {
    const r = await runAction(spec, a, i, deps);
    results.push(r);
    deps.progress?.({ stage: 'Cutover', done: i + 1, total: spec.cutover.actions.length, message: r.description });
    if (!r.ok)
      throw new CutoverFailed(`cutover action ${i + 1} of ${spec.cutover.actions.length} (${r.description}) failed: ${r.detail}`, { actions: results });
  }
  return results;
}

/** Rollback: every action is tried, even after one fails, and each is reported. */
export async function runRollback(spec: RunSpec, deps: Deps): Promise<{ ok: boolean; actions: ActionResult[] }> {
  const actions: ActionResult[] = [];
  for (const [i, a] of spec.rollback.actions.entries()) actions.push(await runAction(spec, a, i, deps));
  return { ok: actions.every((a) => a.ok), actions };
}

export interface SmokeResult {
  readonly name: string;
  readonly url: string;
  readonly expectStatus: number;
  readonly status: number | null;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
  /** An idempotency check (read, replay, read again): seed 003's 07_idempotency_duplicate. */
  readonly replay: boolean;
}

/** seed 003: the payload without its volatile fields, keys sorted, compact JSON, SHA-256. */
export function canonicalPayloadHash(body: string, ignore: readonly string[]): string {
  const drop = new Set(ignore);
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v as object)
          .filter((k) => !drop.has(k))
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`the response is not JSON (${JSON.stringify(body.slice(0, 80))}); expected a JSON payload to hash`);
  }
  return sha256Hex(JSON.stringify(canon(parsed)));
}

type SmokeCheck = RunSpec['smoke']['checks'][number];

/** One HTTP request, from here or (via jumpbox) with curl on the jumpbox. */
async function fetchOnce(spec: RunSpec, c: { url: string; method: string; timeoutMs: number; via: SmokeCheck['via']; body?: string }, deps: Deps): Promise<{ status: number; body: string }> {
  if (c.via === 'lambda') return deps.http.request(c.url, { method: c.method, timeoutMs: c.timeoutMs, ...(c.body ? { body: c.body, headers: { 'content-type': 'application/json' } } : {}) });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `curl -sS -X ${c.method} --max-time ${Math.ceil(c.timeoutMs / 1000)} ${c.body ? `-H 'content-type: application/json' --data ${q(c.body)} ` : ''}-w '\n%{http_code}' ${q(c.url)}`;
  const r = await runCommand(deps, spec.jumpbox!.instanceId, script, Math.ceil(c.timeoutMs / 1000) + 30);
  if (r.status !== 'Success') throw new Error(`curl on the jumpbox ended ${r.status} (exit ${r.exitCode}): ${r.stderr.slice(-200)}`);
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1).trim()), body: r.stdout.slice(0, cut) };
}

async function smokeOne(spec: RunSpec, c: SmokeCheck, deps: Deps): Promise<Omit<SmokeResult, 'name' | 'url' | 'expectStatus' | 'ms' | 'replay'>> {
  const first = await fetchOnce(spec, c, deps);
  if (first.status !== c.expectStatus) return { status: first.status, ok: false, detail: `got HTTP ${first.status}; expected ${c.expectStatus}; body: ${first.body.slice(0, 200)}` };
  if (!c.replay) return { status: first.status, ok: true, detail: `HTTP ${first.status}${c.via === 'jumpbox' ? ' (from the jumpbox)' : ''}` };
  const before = canonicalPayloadHash(first.body, c.ignoreFields);
  if ('script' in c.replay) {
    const r = await runCommand(deps, spec.jumpbox!.instanceId, c.replay.script, c.replay.timeoutSeconds);
    if (r.status !== 'Success' || r.exitCode !== 0) return { status: first.status, ok: false, detail: `replay ended ${r.status} with exit ${r.exitCode}: ${r.stderr.slice(-200)}` };
  } else {
    const r = await fetchOnce(spec, { url: c.replay.url, method: c.replay.method, timeoutMs: c.timeoutMs, via: c.via, ...(c.replay.body ? { body: c.replay.body } : {}) }, deps);
    if (r.status >= 400) return { status: first.status, ok: false, detail: `replay answered HTTP ${r.status}` };
  }
  const second = await fetchOnce(spec, c, deps);
  if (second.status !== c.expectStatus) return { status: second.status, ok: false, detail: `after the replay: HTTP ${second.status}; expected ${c.expectStatus}` };
  const after = canonicalPayloadHash(second.body, c.ignoreFields);
  return before === after
    ? { status: second.status, ok: true, detail: `idempotent: canonical hash ${before.slice(0, 16)}… before and after the replay (ignoring ${c.ignoreFields.join(', ') || 'nothing'})` }
    : { status: second.status, ok: false, detail: `not idempotent: canonical hash ${before.slice(0, 16)}… before, ${after.slice(0, 16)}… after the replay (ignoring ${c.ignoreFields.join(', ') || 'nothing'})` };
}

export async function runSmoke(spec: RunSpec, deps: Deps): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const c of spec.smoke.checks) {
    const t0 = deps.clock.now().getTime();
    try {
      const r = await smokeOne(spec, c, deps);
      results.push({ name: c.name, url: c.url, expectStatus: c.expectStatus, replay: !!c.replay, ...r, ms: deps.clock.now().getTime() - t0 });
    } catch (e) {
      results.push({ name: c.name, url: c.url, expectStatus: c.expectStatus, replay: !!c.replay, status: null, ok: false, ms: deps.clock.now().getTime() - t0, detail: errorMessage(e) });
    }
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length)
    throw new SmokeFailed(`smoke check(s) failed: ${failed.map((f) => `${f.name} ${f.url}: ${f.detail}`).join('; ')}`, { checks: results });
  return results;
}
