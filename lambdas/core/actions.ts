/**
 * Cutover and rollback actions (flip a runtime selector parameter, run SQL,
 * run a jumpbox command) and HTTP smoke checks.
 */
import { randomUUID } from 'node:crypto';
import type { CommandResult, Deps, FullOutput, SqlClient } from '../ports';
import { CLAIM_SECONDS, COMMAND_GRACE_SECONDS, pollSecondsAfter } from './command-loop';
import { retryTransient } from './retry';
import { CutoverFailed, errorMessage, SmokeFailed } from './errors';
import { canonicalJson, readEvidenceJson, sha256Hex } from './evidence';
import type { Action, RunSpec } from './spec';
import { dbRef } from './spec';
import { NO_TRANSACTION } from './migrations';
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
async function runAction(spec: RunSpec, a: Action, index: number, deps: Deps, j: Journal = {}): Promise<ActionResult | CommandRunning> {
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

/** A parameter's value before a flip, for the record: a SecureString's only as its SHA-256 (never the secret itself). */
async function readPrevious(deps: Deps, name: string): Promise<string | null> {
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

/** An action's records, without the extension: NNN.intent.json before, NNN.json after. */
const actionKey = (runId: string, phase: 'cutover' | 'rollback', i: number) => `${runId}/${phase === 'cutover' ? '10_cutover' : '12_rollback'}/actions/${String(i + 1).padStart(3, '0')}`;

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
async function journaled(spec: RunSpec, phase: 'cutover' | 'rollback', a: Action, i: number, deps: Deps, waiting?: ActionWaiting): Promise<JournaledResult | ActionWaiting> {
  const dir = actionKey(spec.runId, phase, i);
  const marker = `${spec.runId}/${phase}/${i + 1}`;
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
    const previous = a.type === 'parameter' ? (intent?.previous !== undefined ? intent.previous : await readPrevious(deps, a.name)) : undefined;
    const token = a.type === 'command' ? (intent?.token ?? randomUUID()) : undefined;
    const rec: Intent = { action: i + 1, started_utc: deps.clock.now().toISOString(), ...(previous !== undefined ? { previous } : {}), ...(token ? { token } : {}) };
    // A command already sent (by an earlier look, or by the interrupted attempt) is followed (like SSM, it ran on without us), not sent again.
    const sent = a.type === 'command' && intent?.commandId ? { commandId: intent.commandId, sentAt: intent.sent_utc ?? intent.started_utc } : undefined;
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
 * Cutover: actions in order, each exactly once across attempts; the first failure stops and throws (the ASL then
 * rolls back). A running command pauses it (`waiting`); the state machine's Wait loop calls it again with that.
 */
export async function runCutover(spec: RunSpec, deps: Deps, waiting?: ActionWaiting): Promise<ActionsStep<JournaledResult>> {
  const results: JournaledResult[] = [];
  for (const [i, a] of spec.cutover.actions.entries()) {
    const r = await journaled(spec, 'cutover', a, i, deps, waiting);
    if ('running' in r) return { actions: results, waiting: r };
    results.push(r);
    deps.progress?.({ stage: 'Cutover', done: i + 1, total: spec.cutover.actions.length, message: `${r.description}${r.effect === 'done-before' ? ' (done before: not run again)' : r.effect === 'found-applied' ? ' (found applied)' : ''}` });
    if (!r.ok)
      throw new CutoverFailed(`cutover action ${i + 1} of ${spec.cutover.actions.length} (${r.description}) failed: ${r.detail}`, { actions: results });
  }
  return { actions: results };
}

/**
 * Rollback: every action is tried, even after one fails, and each is reported. The run's own rollback is journaled
 * like the cutover and pauses at a running command the same way (called back, the actions before the one it waited
 * for keep their outcome, failed or not); one by hand (`cutline rollback`) runs every action again, to its end.
 */
export async function runRollback(spec: RunSpec, deps: Deps, opts: { byHand?: boolean; waiting?: ActionWaiting } = {}): Promise<ActionsStep<ActionResult> & { ok: boolean }> {
  const actions: ActionResult[] = [];
  for (const [i, a] of spec.rollback.actions.entries()) {
    const before = opts.waiting && i < opts.waiting.action ? await readEvidenceJson<JournaledResult>(deps.evidence, `${actionKey(spec.runId, 'rollback', i)}.json`) : undefined;
    const r = before ?? (opts.byHand ? await runAction(spec, a, i, deps) : await journaled(spec, 'rollback', a, i, deps, opts.waiting));
    if ('running' in r) return { ok: false, actions, waiting: r as ActionWaiting };
    actions.push(r);
  }
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

/** The most of a response body the jumpbox prints: with its three header lines it stays within SSM's 24,000 characters. */
export const JUMPBOX_BODY_BYTES = 16_000;

interface Fetched {
  readonly status: number;
  /** The body, or (from the jumpbox) its first JUMPBOX_BODY_BYTES. */
  readonly body: string;
  readonly length: number;
  readonly sha256: string;
  /** false: `body` is cut; length and sha256 still describe the whole body. */
  readonly whole: boolean;
}

/**
 * One HTTP request, from here or (via jumpbox) with curl on the jumpbox. On the jumpbox the status, the body's
 * length and its SHA-256 come first, on lines of their own, then at most JUMPBOX_BODY_BYTES of the body: SSM's cut
 * of stdout at 24,000 characters can never take the status with it.
 */
async function fetchOnce(spec: RunSpec, c: { url: string; method: string; timeoutMs: number; via: SmokeCheck['via']; body?: string }, deps: Deps): Promise<Fetched> {
  if (c.via === 'lambda') {
    const r = await deps.http.request(c.url, { method: c.method, timeoutMs: c.timeoutMs, ...(c.body ? { body: c.body, headers: { 'content-type': 'application/json' } } : {}) });
    return { ...r, length: Buffer.byteLength(r.body), sha256: sha256Hex(r.body), whole: true };
  }
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const curl = `curl -sS -o "$f" -X ${c.method} --max-time ${Math.ceil(c.timeoutMs / 1000)} ${c.body ? `-H 'content-type: application/json' --data ${q(c.body)} ` : ''}-w '%{http_code}' ${q(c.url)}`;
  const script = [
    'f=$(mktemp) || exit 70',
    `code=$(${curl}); rc=$?`,
    `printf 'HTTP_STATUS %s\\nBODY_LEN %s\\nBODY_SHA256 %s\\n' "$code" "$(wc -c < "$f" | tr -d ' ')" "$(sha256sum "$f" | cut -d' ' -f1)"`,
    `head -c ${JUMPBOX_BODY_BYTES} "$f"; rm -f "$f"; exit $rc`,
  ].join('\n');
  const r = await runCommand(deps, spec.jumpbox!.instanceId, script, Math.ceil(c.timeoutMs / 1000) + 30);
  if (r.status !== 'Success') throw new Error(`curl on the jumpbox ended ${r.status} (exit ${r.exitCode}): ${r.stderr.slice(-200)}`);
  const m = /^HTTP_STATUS (\d{3})\nBODY_LEN (\d+)\nBODY_SHA256 ([0-9a-f]{64})\n/.exec(r.stdout);
  if (!m) throw new Error(`the jumpbox's curl printed ${JSON.stringify(r.stdout.slice(0, 120))}; expected HTTP_STATUS, BODY_LEN and BODY_SHA256 lines first`);
  const body = r.stdout.slice(m[0].length);
  const length = Number(m[2]);
  return { status: Number(m[1]), body, length, sha256: m[3]!, whole: Buffer.byteLength(body) >= length };
}

/** What an idempotency check compares: the canonical payload hash of a whole body, or the raw SHA-256 the jumpbox computed of one SSM cannot return whole. */
function payloadHash(f: Fetched, c: SmokeCheck): { hash: string; what: string } {
  if (f.whole) return { hash: canonicalPayloadHash(f.body, c.ignoreFields), what: 'canonical hash' };
  if (c.ignoreFields.length)
    throw new Error(
      `the response is ${f.length} bytes, more than the ${JUMPBOX_BODY_BYTES} the jumpbox returns through SSM; expected a smaller response, or no ignoreFields (then the whole body's SHA-256 is compared)`,
    );
  return { hash: f.sha256, what: 'body sha256' };
}

async function smokeOne(spec: RunSpec, c: SmokeCheck, deps: Deps): Promise<Omit<SmokeResult, 'name' | 'url' | 'expectStatus' | 'ms' | 'replay'>> {
  const first = await fetchOnce(spec, c, deps);
  if (first.status !== c.expectStatus) return { status: first.status, ok: false, detail: `got HTTP ${first.status}; expected ${c.expectStatus}; body: ${first.body.slice(0, 200)}` };
  const bodyNote = `body ${first.length} bytes, sha256 ${first.sha256}`;
  if (!c.replay) return { status: first.status, ok: true, detail: `HTTP ${first.status}${c.via === 'jumpbox' ? ' (from the jumpbox)' : ''}; ${bodyNote}` };
  const before = payloadHash(first, c);
  if ('script' in c.replay) {
    const r = await runCommand(deps, spec.jumpbox!.instanceId, c.replay.script, c.replay.timeoutSeconds);
    if (r.status !== 'Success' || r.exitCode !== 0) return { status: first.status, ok: false, detail: `replay ended ${r.status} with exit ${r.exitCode}: ${r.stderr.slice(-200)}` };
  } else {
    const r = await fetchOnce(spec, { url: c.replay.url, method: c.replay.method, timeoutMs: c.timeoutMs, via: c.via, ...(c.replay.body ? { body: c.replay.body } : {}) }, deps);
    if (r.status >= 400) return { status: first.status, ok: false, detail: `replay answered HTTP ${r.status}` };
  }
  const second = await fetchOnce(spec, c, deps);
  if (second.status !== c.expectStatus) return { status: second.status, ok: false, detail: `after the replay: HTTP ${second.status}; expected ${c.expectStatus}` };
  const after = payloadHash(second, c);
  return before.hash === after.hash
    ? { status: second.status, ok: true, detail: `idempotent: ${before.what} ${before.hash.slice(0, 16)}… before and after the replay (ignoring ${c.ignoreFields.join(', ') || 'nothing'}); ${bodyNote}` }
    : { status: second.status, ok: false, detail: `not idempotent: ${before.what} ${before.hash.slice(0, 16)}… before, ${after.hash.slice(0, 16)}… after the replay (ignoring ${c.ignoreFields.join(', ') || 'nothing'})` };
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
