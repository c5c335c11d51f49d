/**
 * Cutover and rollback actions (flip a runtime selector parameter, run SQL,
 * run a jumpbox command) and HTTP smoke checks.
 */
import type { CommandResult, Deps } from '../ports';
import { CutoverFailed, errorMessage, SmokeFailed } from './errors';
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
}

export async function runSmoke(spec: RunSpec, deps: Deps): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const c of spec.smoke.checks) {
    const t0 = deps.clock.now().getTime();
    try {
      const r = await deps.http.request(c.url, { method: c.method, timeoutMs: c.timeoutMs });
      const ok = r.status === c.expectStatus;
      results.push({
        name: c.name,
        url: c.url,
        expectStatus: c.expectStatus,
        status: r.status,
        ok,
        ms: deps.clock.now().getTime() - t0,
        detail: ok ? `HTTP ${r.status}` : `got HTTP ${r.status}; expected ${c.expectStatus}; body: ${r.body.slice(0, 200)}`,
      });
    } catch (e) {
      results.push({ name: c.name, url: c.url, expectStatus: c.expectStatus, status: null, ok: false, ms: deps.clock.now().getTime() - t0, detail: errorMessage(e) });
    }
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length)
    throw new SmokeFailed(`smoke check(s) failed: ${failed.map((f) => `${f.name} ${f.url}: ${f.detail}`).join('; ')}`, { checks: results });
  return results;
}
