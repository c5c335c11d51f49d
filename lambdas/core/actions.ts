/**
 * Cutover and rollback actions (flip a runtime selector parameter, run SQL,
 * run a jumpbox command), each journaled so it takes effect once.
 */
import { randomUUID } from 'node:crypto';
import type { CommandResult, Deps, FullOutput, SqlClient } from '../ports';

/** What the actions touch: the databases, the jumpbox, the parameters, the journal in the evidence. */
export type ActionDeps = Pick<Deps, 'sql' | 'evidence' | 'commands' | 'parameters' | 'http' | 'clock' | 'logger' | 'progress' | 'backups'>;
import { CLAIM_SECONDS, COMMAND_GRACE_SECONDS, pollSecondsAfter } from './command-loop';
import { retryTransient } from './retry';
import { backupId } from './backup';
import { CutoverFailed, errorMessage } from './errors';
import { canonicalJson, readEvidenceJson, sha256Hex } from './evidence';
import type { Action, RunSpec } from './spec';
import { dbRef } from './spec';

import { NO_TRANSACTION } from './migration-steps';

import { createIfMissing } from './lease';

export interface ActionResult {
  readonly index: number;
  readonly type: Action['type'];
  readonly description: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly previous?: string | null;
  readonly exitCode?: number | null;
  readonly commandId?: string;
  /** A command's full stdout when SSM cut it (its size, SHA-256 and where it is until the work bucket expires it). */
  readonly fullStdout?: FullOutput;
}

const TERMINAL = new Set(['Success', 'Cancelled', 'Failed', 'TimedOut']);

/** A sent command: its id and when it was sent (the clock for its timeout). */
export interface SentCommand {
  readonly commandId: string;
  readonly sentAt: string;
}

/** A command still running after one look: the state machine waits `pollSeconds` (a Wait state) and asks again. */
export interface CommandRunning extends SentCommand {
  readonly running: true;
  readonly pollSeconds: number;
}

/**
 * One step of a command: send it (unless `sent`), then look once. Ended: its result. Still running past its
 * timeout and the grace: CancelCommand, and it ends TimedOut. Otherwise: still running, with when to look again.
 */
export async function stepCommand(
  deps: Pick<Deps, 'commands' | 'clock'>,
  instanceId: string,
  script: string,
  timeoutSeconds: number,
  opts: { sent?: SentCommand; onSent?: (sent: SentCommand) => Promise<void> } = {},
): Promise<CommandResult | CommandRunning> {
  let sent = opts.sent;
  if (!sent) {
    sent = { commandId: await deps.commands.send(instanceId, script, { timeoutSeconds }), sentAt: deps.clock.now().toISOString() };
    await opts.onSent?.(sent);
  }
  const r = await deps.commands.get(instanceId, sent.commandId);
  if (TERMINAL.has(r.status)) return r;
  const elapsed = deps.clock.now().getTime() - Date.parse(sent.sentAt);
  if (elapsed <= (timeoutSeconds + COMMAND_GRACE_SECONDS) * 1000) return { ...sent, running: true, pollSeconds: pollSecondsAfter(elapsed) };
  await deps.commands.cancel(instanceId, sent.commandId);
  return {
    ...r,
    status: 'TimedOut',
    stderr: `${r.stderr}${r.stderr ? '\n' : ''}still ${r.status} ${Math.round(elapsed / 1000)} s after it was sent (timeoutSeconds ${timeoutSeconds}); cancelled (CancelCommand)`,
  };
}

/** Send a command and follow it to its end within this process (smoke checks, a rollback by hand, the bench). */
export async function runCommand(deps: Pick<Deps, 'commands' | 'clock'>, instanceId: string, script: string, timeoutSeconds: number): Promise<CommandResult> {
  let sent: SentCommand | undefined;
  for (;;) {
    const r = await stepCommand(deps, instanceId, script, timeoutSeconds, { ...(sent ? { sent } : {}) });
    if (!('running' in r)) return r;
    sent = r;
    // Poll every ~5% of the time so far (50 ms to 5 s): the end is noticed within 5% of the command's own time.
    await deps.clock.sleep(Math.min(5000, Math.max(50, Math.round((deps.clock.now().getTime() - Date.parse(r.sentAt)) * 0.05))));
  }
}

export function describeAction(a: Action): string {
  if (a.description) return a.description;
  if (a.type === 'parameter') return `set parameter ${a.name} = ${JSON.stringify(a.value)}`;
  if (a.type === 'sql') return `run SQL on ${a.database}: ${a.sql.length > 80 ? `${a.sql.slice(0, 77)}...` : a.sql}`;
  if (a.type === 'restore') return `restore the backup made before Schema${a.selector ? ` (in AWS to a new cluster, ${a.selector.parameter} flipped to it)` : ''}`;
  return `run on jumpbox: ${a.script.split('\n')[0]}`;
}

interface Journal {
  /** sql: the marker row committed with the statement. */
  readonly marker?: string;
  /** parameter: the value before the flip, as the first attempt read it. */
  readonly previous?: string | null;
  /**
   * command: one step (send or look once, then return) instead of following it to its end here. `sent`: the command
   * an earlier step or an interrupted attempt sent (followed, not sent again); onSent records a new one.
   */
  readonly step?: { readonly sent?: SentCommand; readonly onSent: (sent: SentCommand) => Promise<void> };
  /** command: the intent's token: the script runs behind a claim on the host named by it (at most once per intent). */
  readonly token?: string;
}

/**
 * A script that runs at most once per token on its host: the first send claims /var/tmp/cutline-claims/<token>
 * (mkdir is atomic) and records its exit code there; a later send of the same intent (the attempt that sent the
 * first was killed before it could record the command id) waits for that exit code and reports it, without running
 * the script again.
 */
export function claimedScript(token: string, script: string, timeoutSeconds: number): string {
  if (!/^[0-9a-f-]{36}$/.test(token)) throw new Error(`command token ${JSON.stringify(token)} is not a UUID`);
  const end = `CUTLINE_SCRIPT_${token.replace(/-/g, '')}`;
  return [
    `c=/var/tmp/cutline-claims/${token}`,
    'mkdir -p /var/tmp/cutline-claims',
    'if ! mkdir "$c" 2>/dev/null; then',
    `  for _ in $(seq 1 ${timeoutSeconds}); do [ -f "$c/exit" ] && break; sleep 1; done`,
    '  echo "cutline: this command already ran under an earlier attempt; its exit code: $(cat "$c/exit" 2>/dev/null || echo unknown)"',
    '  exit "$(cat "$c/exit" 2>/dev/null || echo 1)"',
    'fi',
    `cat > "$c/script.sh" <<'${end}'`,
    script,
    end,
    'bash "$c/script.sh"; rc=$?',
    'echo "$rc" > "$c/exit.tmp" && mv "$c/exit.tmp" "$c/exit"',
    'exit "$rc"',
  ].join('\n');
}

/** One action's effect, run now. `sql` actions commit with a marker row, so a resume can tell they happened. */
async function runAction(spec: RunSpec, a: Action, index: number, deps: ActionDeps, j: Journal = {}): Promise<ActionResult | CommandRunning> {
  const marker = j.marker;
  const previousKnown = j.previous;
  const base = { index, type: a.type, description: describeAction(a) };
  try {
    if (a.type === 'parameter') {
      const previous = previousKnown !== undefined ? previousKnown : await readPrevious(deps, a.name);
      await deps.parameters.put(a.name, a.value);
      const secret = previous?.startsWith('sha256:') ?? (await deps.parameters.secureNames([a.name])).has(a.name);
      return { ...base, ok: true, detail: secret ? `${a.name} (SecureString): changed; previous value recorded as its SHA-256` : `${a.name}: ${JSON.stringify(previous)} -> ${JSON.stringify(a.value)}`, previous };
    }
    if (a.type === 'sql') {
      const client = deps.sql(dbRef(spec, a.database));
      if (!marker) return { ...base, ok: true, detail: `${(await client.query(a.sql)).rowsAffected} row(s) affected` };
      await retryTransient(deps.clock, () => createIfMissing(client, effectsDdl(client.dialect)));
      const mark = (c: typeof client) => c.query(`INSERT INTO ${EFFECTS_TABLE} (effect) VALUES (:effect)`, { effect: marker });
      if (client.dialect === 'postgres' && NO_TRANSACTION.test(a.sql)) {
        // Cannot run in a transaction (CONCURRENTLY, VACUUM): the marker follows it, so a kill in between runs it again.
        const r = await client.query(a.sql);
        await mark(client);
        return { ...base, ok: true, detail: `${r.rowsAffected} row(s) affected` };
      }
      // The statement and its marker commit together (on MySQL a DDL statement commits by itself first: at least once there).
      // A dropped connection is retried; the marker tells whether the lost attempt committed.
      const rows = await retryTransient(deps.clock, async (attempt) => {
        if (attempt > 1 && (await markerCommitted(client, marker))) return null;
        return client.transaction(async (tx) => {
          const r = await tx.query(a.sql);
          await mark(tx);
          return r.rowsAffected;
        });
      });
      return { ...base, ok: true, detail: rows === null ? 'committed before the connection dropped (marker found)' : `${rows} row(s) affected` };
    }
    if (a.type === 'restore') return await restoreAction(spec, a, base, deps, j);
    const script = j.token ? claimedScript(j.token, a.script, a.timeoutSeconds) : a.script;
    const timeout = a.timeoutSeconds + (j.token ? CLAIM_SECONDS : 0);
    const r = j.step ? await stepCommand(deps, spec.jumpbox!.instanceId, script, timeout, j.step) : await runCommand(deps, spec.jumpbox!.instanceId, script, timeout);
    if ('running' in r) return r;
    const ok = r.status === 'Success' && r.exitCode === 0;
    return {
      ...base,
      ok,
      commandId: r.commandId,
      exitCode: r.exitCode,
      detail: `${r.status}, exit ${r.exitCode}${r.stderr ? `; stderr: ${r.stderr.slice(-500)}` : ''}${r.stdout ? `; stdout: ${r.stdout.slice(-500)}` : ''}${r.fullStdout ? ` (stdout cut at ${r.stdout.length} characters; the full output is ${r.fullStdout.bytes} bytes)` : ''}`,
      ...(r.fullStdout ? { fullStdout: r.fullStdout } : {}),
    };
  } catch (e) {
    return { ...base, ok: false, detail: errorMessage(e) };
  }
}

/**
 * The restore action: idempotent (restoring the same backup again gives the same database; a restore to a new
 * cluster is followed, not started again). While the new cluster is being made the action waits like a running
 * command (the Wait loop calls back), up to its timeoutSeconds; once it is there, the selector is flipped to it.
 */
async function restoreAction(
  spec: RunSpec,
  a: Extract<Action, { type: 'restore' }>,
  base: Pick<ActionResult, 'index' | 'type' | 'description'>,
  deps: ActionDeps,
  j: Journal,
): Promise<ActionResult | CommandRunning> {
  if (!spec.backup || !deps.backups) throw new Error('no backup service or no spec.backup here; expected the backup made before Schema');
  const db = dbRef(spec, spec.backup.database);
  const id = backupId(spec.runId);
  let sent = j.step?.sent;
  for (;;) {
    const r = await deps.backups.restore(db, id);
    if (r.state === 'restored') {
      if (!r.moved) return { ...base, ok: true, detail: `${r.detail}${a.selector ? `; ${a.selector.parameter} unchanged (restored in place, the address is the same)` : ''}` };
      if (!a.selector) return { ...base, ok: true, detail: `${r.detail}; no selector named: the application still points at the old cluster until its address is changed to ${r.moved.endpoint}` };
      const value = a.selector.value === 'arn' ? r.moved.arn : r.moved.endpoint;
      const previous = j.previous !== undefined ? j.previous : await readPrevious(deps, a.selector.parameter);
      await deps.parameters.put(a.selector.parameter, value);
      return { ...base, ok: true, previous, detail: `${r.detail}; ${a.selector.parameter}: ${JSON.stringify(previous)} -> ${JSON.stringify(value)}` };
    }
    if (!sent) {
      sent = { commandId: r.id, sentAt: deps.clock.now().toISOString() };
      await j.step?.onSent(sent);
    }
    const elapsed = deps.clock.now().getTime() - Date.parse(sent.sentAt);
    if (elapsed > a.timeoutSeconds * 1000)
      return { ...base, ok: false, detail: `${r.detail}: still not restored ${Math.round(elapsed / 1000)} s after it started (timeoutSeconds ${a.timeoutSeconds}); ${r.id} is left as it is` };
    // In the state machine: the Wait loop looks again. By hand: look again here.
    if (j.step) return { ...sent, running: true, pollSeconds: pollSecondsAfter(elapsed) };
    await deps.clock.sleep(pollSecondsAfter(elapsed) * 1000);
  }
}

/** A parameter's value before a flip, for the record: a SecureString's only as its SHA-256 (never the secret itself). */
async function readPrevious(deps: ActionDeps, name: string): Promise<string | null> {
  const [values, secure] = await Promise.all([deps.parameters.getMany([name]), deps.parameters.secureNames([name])]);
  const v = values.get(name);
  if (v === undefined) return null;
  return secure.has(name) ? `sha256:${sha256Hex(v)}` : v;
}

/** Markers of committed SQL actions, in the database they changed. */
export const EFFECTS_TABLE = 'cutline_effects';
const effectsDdl = (dialect: 'postgres' | 'mysql') =>
  dialect === 'postgres'
    ? `CREATE TABLE IF NOT EXISTS ${EFFECTS_TABLE} (effect text PRIMARY KEY, applied_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))`
    : `CREATE TABLE IF NOT EXISTS ${EFFECTS_TABLE} (effect varchar(255) PRIMARY KEY, applied_at datetime(6) NOT NULL DEFAULT UTC_TIMESTAMP(6))`;

const markerCommitted = async (client: SqlClient, marker: string) =>
  (await client.query(`SELECT 1 AS x FROM ${EFFECTS_TABLE} WHERE effect = :effect`, { effect: marker })).rows.length > 0;

export interface JournaledResult extends ActionResult {
  /** How this attempt knows the effect: run now, done by an earlier attempt, found in place after an interrupted one, a command followed to its end, or run again. */
  readonly effect: 'ran' | 'done-before' | 'found-applied' | 'followed' | 'ran-again';
  /** Attempts whose intent record names this action (1 = never interrupted here). */
  readonly intents: number;
}

interface Intent {
  readonly action: number;
  readonly started_utc: string;
  readonly previous?: string | null;
  /** command: recorded as soon as it was sent, with when (its timeout counts from then). */
  readonly commandId?: string;
  readonly sent_utc?: string;
  /** command: names the claim on the host, so the command runs at most once for this intent, whichever attempt sends it. */
  readonly token?: string;
}

/**
 * Where a cutover or rollback paused at a command still running (in the state as `waiting`): the state machine
 * waits `pollSeconds` in a Wait state and calls the Task again, which looks at the same command once more.
 */
export interface ActionWaiting extends CommandRunning {
  /** The action's index in its list (0-based). */
  readonly action: number;
  readonly effect: JournaledResult['effect'];
  readonly intents: number;
}

/** Where an action list is journaled: its folder in the evidence, and the prefix of its SQL actions' markers. */
export interface JournalPlace {
  readonly dir: string;
  readonly marker: string;
}
export const cutoverPlace = (runId: string): JournalPlace => ({ dir: `${runId}/10_cutover`, marker: `${runId}/cutover` });
export const rollbackPlace = (runId: string): JournalPlace => ({ dir: `${runId}/12_rollback`, marker: `${runId}/rollback` });

/** An action's records, without the extension: NNN.intent.json before, NNN.json after. */
export const actionKey = (place: JournalPlace, i: number) => `${place.dir}/actions/${String(i + 1).padStart(3, '0')}`;

const EFFECT_NOTE: Partial<Record<JournaledResult['effect'], string>> = {
  followed: ' (sent by the interrupted attempt and followed to its end)',
  'ran-again': " (sent again under the interrupted attempt's token: it runs at most once)",
};

/**
 * Exactly-once actions: an intent record before, the outcome after, both in
 * evidence (<step>/actions/NNN.intent.json, NNN.json). On a resume an action
 * with an outcome is not run again; one with only an intent (the attempt was
 * killed during it) is checked against the world first: a parameter that
 * already has the value, a SQL action whose marker committed, count as done;
 * a jumpbox command the interrupted attempt sent is followed, one it may have
 * sent without recording it is sent again under the same claim token (it runs
 * at most once on the host). A command takes one look per call: while it
 * runs, the call returns where it waits (`waiting` is that, when called back).
 */
async function journaled(spec: RunSpec, place: JournalPlace, a: Action, i: number, deps: ActionDeps, waiting?: ActionWaiting): Promise<JournaledResult | ActionWaiting> {
  const dir = actionKey(place, i);
  const marker = `${place.marker}/${i + 1}`;
  const done = await readEvidenceJson<JournaledResult>(deps.evidence, `${dir}.json`);
  if (done?.ok) return { ...done, effect: 'done-before' };
  const intent = await readEvidenceJson<Intent>(deps.evidence, `${dir}.intent.json`);
  // Called back by the Wait loop for the command this execution is following: no interruption in between.
  const ours = waiting?.action === i && intent?.commandId === waiting.commandId ? waiting : undefined;
  const intents = ours?.intents ?? (intent ? 1 : 0) + 1;
  let r: JournaledResult | undefined;
  if (intent && a.type === 'parameter') {
    const now = (await deps.parameters.getMany([a.name])).get(a.name);
    if (now === a.value)
      r = { index: i, type: a.type, description: describeAction(a), ok: true, detail: `${a.name}: ${intent.previous?.startsWith('sha256:') ? 'changed (SecureString)' : `${JSON.stringify(intent.previous ?? null)} -> ${JSON.stringify(a.value)}`} (set before the interruption)`, previous: intent.previous ?? null, effect: 'found-applied', intents };
  } else if (intent && a.type === 'sql') {
    const client = deps.sql(dbRef(spec, a.database));
    await retryTransient(deps.clock, () => createIfMissing(client, effectsDdl(client.dialect)));
    if (await markerCommitted(client, marker))
      r = { index: i, type: a.type, description: describeAction(a), ok: true, detail: 'committed before the interruption (marker found)', effect: 'found-applied', intents };
  }
  if (!r) {
    const flips = a.type === 'parameter' ? a.name : a.type === 'restore' ? a.selector?.parameter : undefined;
    const previous = flips ? (intent?.previous !== undefined ? intent.previous : await readPrevious(deps, flips)) : undefined;
    const token = a.type === 'command' ? (intent?.token ?? randomUUID()) : undefined;
    const rec: Intent = { action: i + 1, started_utc: deps.clock.now().toISOString(), ...(previous !== undefined ? { previous } : {}), ...(token ? { token } : {}) };
    // A command already sent (by an earlier look, or by the interrupted attempt) is followed (like SSM, it ran on without us), not sent again.
    const sent = (a.type === 'command' || a.type === 'restore') && intent?.commandId ? { commandId: intent.commandId, sentAt: intent.sent_utc ?? intent.started_utc } : undefined;
    const effect = ours?.effect ?? (sent ? 'followed' : intent ? 'ran-again' : 'ran');
    if (!sent) await deps.evidence.put(`${dir}.intent.json`, canonicalJson(rec), 'application/json');
    const out = await runAction(spec, a, i, deps, {
      marker,
      previous,
      ...(token ? { token } : {}),
      step: {
        ...(sent ? { sent } : {}),
        onSent: (c) => deps.evidence.put(`${dir}.intent.json`, canonicalJson({ ...rec, commandId: c.commandId, sent_utc: c.sentAt }), 'application/json').then(() => undefined),
      },
    });
    if ('running' in out) return { ...out, action: i, effect, intents };
    r = { ...out, effect, intents, ...(a.type === 'command' && EFFECT_NOTE[effect] ? { detail: `${out.detail}${EFFECT_NOTE[effect]}` } : {}) };
  }
  await deps.evidence.put(`${dir}.json`, canonicalJson(r), 'application/json');
  return r;
}

/** Actions done so far, and where they wait for a running command (none: all done). */
export interface ActionsStep<R> {
  readonly actions: R[];
  readonly waiting?: ActionWaiting;
}

/**
 * Actions in order, each exactly once across attempts, journaled at `place`; the first failure stops and throws
 * CutoverFailed (the ASL then rolls back). A running command pauses it (`waiting`); the state machine's Wait loop
 * calls it again with that.
 */
export async function runInOrder(spec: RunSpec, place: JournalPlace, list: readonly Action[], what: string, deps: ActionDeps, waiting?: ActionWaiting): Promise<ActionsStep<JournaledResult>> {
  const results: JournaledResult[] = [];
  for (const [i, a] of list.entries()) {
    const r = await journaled(spec, place, a, i, deps, waiting);
    if ('running' in r) return { actions: results, waiting: r };
    results.push(r);
    deps.progress?.({ stage: what[0]!.toUpperCase() + what.slice(1), done: i + 1, total: list.length, message: `${r.description}${r.effect === 'done-before' ? ' (done before: not run again)' : r.effect === 'found-applied' ? ' (found applied)' : ''}` });
    if (!r.ok) throw new CutoverFailed(`${what} action ${i + 1} of ${list.length} (${r.description}) failed: ${r.detail}`, { actions: results });
  }
  return { actions: results };
}

/** Cutover: the spec's cutover actions (10_cutover/actions/). */
export function runCutover(spec: RunSpec, deps: ActionDeps, waiting?: ActionWaiting): Promise<ActionsStep<JournaledResult>> {
  return runInOrder(spec, cutoverPlace(spec.runId), spec.cutover.actions, 'cutover', deps, waiting);
}

/** One rollback action and where it is journaled (the run's rollback, or a phase's). */
export interface RollbackEntry {
  readonly place: JournalPlace;
  readonly index: number;
  readonly action: Action;
  /** Known not to be possible (a value that cannot be put back): reported failed, never run. */
  readonly unable?: string;
}

/** The run's own rollback actions (12_rollback/actions/). */
export const rollbackEntries = (spec: RunSpec): RollbackEntry[] => spec.rollback.actions.map((action, index) => ({ place: rollbackPlace(spec.runId), index, action }));

/**
 * Rollback: every action is tried, even after one fails, and each is reported (by default the run's rollback
 * actions; with phases, the applied phases' undo first). The run's own rollback is journaled like the cutover and
 * pauses at a running command the same way (`waiting.action` counts over the whole list; called back, the actions
 * before the one it waited for keep their outcome, failed or not); one by hand (`cutline rollback`) runs every
 * action again, to its end.
 */
export async function runRollback(
  spec: RunSpec,
  deps: ActionDeps,
  opts: { byHand?: boolean; waiting?: ActionWaiting; entries?: readonly RollbackEntry[] } = {},
): Promise<ActionsStep<ActionResult> & { ok: boolean }> {
  const actions: ActionResult[] = [];
  for (const [g, e] of (opts.entries ?? rollbackEntries(spec)).entries()) {
    const before = opts.waiting && g < opts.waiting.action ? await readEvidenceJson<JournaledResult>(deps.evidence, `${actionKey(e.place, e.index)}.json`) : undefined;
    const here = opts.waiting?.action === g ? { ...opts.waiting, action: e.index } : undefined;
    const r = e.unable
      ? { index: e.index, type: e.action.type, description: describeAction(e.action), ok: false, detail: e.unable }
      : (before ?? (opts.byHand ? await runAction(spec, e.action, e.index, deps) : await journaled(spec, e.place, e.action, e.index, deps, here)));
    if ('running' in r) return { ok: false, actions, waiting: { ...(r as ActionWaiting), action: g } };
    actions.push(r);
  }
  return { ok: actions.every((a) => a.ok), actions };
}
