/**
 * A progressive cutover (seed 002's shadow / canary / default / full, seed 001's weekly table groups): phases after
 * the go/no-go and the smoke checks. Each phase applies its actions (journaled, exactly once, like the cutover's),
 * then soaks: a Distributed Map over the soak's segments, each a child execution of SoakPoll / Wait states, so a
 * soak of days costs the run a handful of history events and each child stays far under its own 25,000. Every poll
 * probes the phase's monitors (one window each) and keeps the series in evidence; `failAfter` consecutive failing
 * windows trip it. The Phase state then rolls back every applied phase in reverse order, then the run's rollback.
 *
 * Evidence: 13_phases/NN_<phase>/actions/ (the journal), polls/NNNNNN.json (every window), tripped.json (the signal
 * and its values), NN_<phase>.json (the phase's record), and 13_phases.json when every phase has soaked.
 */
import type { Deps } from '../ports';
import { type ActionWaiting, actionKey, type JournaledResult, type JournalPlace, type RollbackEntry, runInOrder } from './actions';
import { type CheckResult, commandCheck, httpCheck, percentile, runChecks, slowdown, sqlCheck, throwIfFailed } from './checks';
import { EVENTS_PER_LOOK } from './command-loop';
import { ApprovalRejected, EnvironmentBlocked, errorMessage, MigrationFailed, MonitorTripped } from './errors';
import { canonicalJson, readEvidenceJson } from './evidence';
import { EVIDENCE_STEPS, specKey } from './evidence-layout';
import type { StageState } from './payloads';
import type { Action, Monitor, Phase, RunSpec } from './spec';
import { type Invocation, recorded, renewLease, who } from './stage-record';
import { applyContract } from './pipeline';

/** History events of one poll in a soak's child execution: SoakPoll (5), SoakMore (2), SoakWait (2); the same as a command look. */
export const EVENTS_PER_POLL = EVENTS_PER_LOOK;
/** Polls per child execution: 2,000 × 9 = 18,000 events, with room under its 25,000 for its start, end and a retry or two. */
export const POLLS_PER_SEGMENT = 2_000;

/** One child execution of a soak: polls [from, from + polls), a Wait first unless it is the soak's first. */
export interface SoakSegment {
  readonly from: number;
  readonly polls: number;
  readonly pollSeconds: number;
  readonly waitFirst: boolean;
}

/** Polls of a soak: one right after the actions, then one after each wait of pollSeconds until `seconds` have passed. */
export const soakPolls = (soak: NonNullable<Phase['soak']>) => Math.floor(soak.seconds / soak.pollSeconds) + 1;

export function soakSegments(soak: Phase['soak']): SoakSegment[] {
  if (!soak) return [];
  const total = soakPolls(soak);
  const out: SoakSegment[] = [];
  for (let from = 0; from < total; from += POLLS_PER_SEGMENT) out.push({ from, polls: Math.min(POLLS_PER_SEGMENT, total - from), pollSeconds: soak.pollSeconds, waitFirst: from > 0 });
  return out;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** A phase's folder: <runId>/13_phases/NN_<name> (NN from 01, in spec order). */
export const phaseDir = (runId: string, i: number, p: Pick<Phase, 'name'>) => `${runId}/${EVIDENCE_STEPS.phase}/${pad(i + 1, 2)}_${p.name}`;
const phasePlace = (runId: string, i: number, p: Phase): JournalPlace => ({ dir: phaseDir(runId, i, p), marker: `${runId}/phase/${p.name}` });
const undoPlace = (runId: string, i: number, p: Phase): JournalPlace => ({ dir: `${phaseDir(runId, i, p)}/rollback`, marker: `${runId}/phase/${p.name}/rollback` });
/** A phase's sign-off: the request, each vote and the decision, in its folder. */
export const phaseApprovalKey = (runId: string, i: number, p: Pick<Phase, 'name'>) => `${phaseDir(runId, i, p)}/approval.json`;
/** An operator's abort or early promote of a phase's soak (`cutline abort|promote <runId>`): single-use. */
const controlKey = (dir: string) => `${dir}/control.json`;
const pollKey = (dir: string, n: number) => `${dir}/polls/${pad(n + 1, 6)}.json`;
const tripKey = (dir: string) => `${dir}/tripped.json`;

/** What Phase leaves at $.results.phase: where the phases are, and what the state machine does next. */
export interface PhaseStep {
  readonly index: number;
  /** A command of this phase still runs: the Wait loop calls Phase again. */
  readonly waiting?: ActionWaiting;
  /** Applied: soak it (the Soak map over these; none: no soak). */
  readonly segments?: SoakSegment[];
  /** Every phase has soaked. */
  readonly done?: true;
  /** The phase asks for a sign-off before its actions: the PhaseGoNoGo state waits for it this long. */
  readonly approval?: { readonly timeoutSeconds: number };
  /** Its sign-off came (PhaseApproved): the actions run, and this stays while a command of theirs runs. */
  readonly approved?: true;
}

/** One monitor's window. */
export interface Window {
  readonly monitor: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly value?: number | null;
  readonly latencyMs?: number;
  readonly status?: number;
}
/** One poll's record (13_phases/NN_<phase>/polls/NNNNNN.json): every monitor's window and the running streaks. */
export interface PollRecord {
  readonly phase: string;
  readonly poll: number;
  readonly of: number;
  readonly at_utc: string;
  readonly windows: Window[];
  /** Consecutive failing windows per monitor, this one included. */
  readonly streaks: Record<string, number>;
}
interface Tripped {
  readonly phase: string;
  readonly monitor: string;
  readonly failAfter: number;
  readonly poll: number;
  readonly at_utc: string;
  /** The failing windows that tripped it, oldest first. */
  readonly windows: (Window & { poll: number; at_utc: string })[];
}

/**
 * Phase: apply phase `index`'s actions (paused while a command runs) and hand the soak's segments to the Soak map;
 * called again after the soak (`soaked`), close the phase: a tripped monitor throws MonitorTripped (the Catch rolls
 * back), otherwise the phase's record is written and the next phase starts.
 */
export async function phaseStage(s: StageState, deps: Deps, inv: Invocation = {}): Promise<PhaseStep> {
  const cur = (s.results.phase ?? { index: 0 }) as PhaseStep & { soaked?: boolean };
  const { spec } = s;
  const i = cur.index;
  const p = spec.phases[i];
  if (!p) throw new Error(`phase ${i + 1} is not in the spec (it has ${spec.phases.length}); expected the state machine to stop after the last`);
  const dir = phaseDir(spec.runId, i, p);
  const last = i === spec.phases.length - 1;
  return recorded<PhaseStep>(deps, who(s), 'phase', `phases (${spec.phases.map((x) => x.name).join(', ')})`, async () => {
    await renewLease(s, deps);
    if (!cur.soaked) {
      if (p.approval && !cur.approved) return { value: { index: i, approval: { timeoutSeconds: p.approval.timeoutSeconds } }, pending: true as const };
      // Latency baselines before the first action changed anything (a call back for a running command keeps them).
      if (!cur.waiting) await takeBaselines(spec, p, dir, deps);
      // Entry checks once, before the first action started (a call back for a running command does not repeat them).
      if (p.entryChecks.length && !cur.waiting && !(await deps.evidence.get(`${actionKey(phasePlace(spec.runId, i, p), 0)}.intent.json`))) {
        const entry = await runChecks(spec, 'phase', deps, p.entryChecks);
        await deps.evidence.put(`${dir}/entry_checks.json`, canonicalJson({ phase: p.name, checks: entry, checked_utc: deps.clock.now().toISOString() }), 'application/json');
        throwIfFailed(entry, { phase: p.name, entryChecks: entry });
      }
      const step = await runInOrder(spec, phasePlace(spec.runId, i, p), p.actions, `phase "${p.name}"`, deps, cur.waiting);
      if (step.waiting) return { value: { index: i, waiting: step.waiting, ...(cur.approved ? { approved: true as const } : {}) }, pending: true as const };
      // Then its contract files (with the migration history: applied once, resumed at a statement).
      const contract = p.contract.length ? await applyContract(s, deps, inv, (v) => p.contract.includes(v), `phase "${p.name}" contract migrations`, step.actions) : undefined;
      const missing = p.contract.filter((v) => !contract?.files.some((f) => f.version === v));
      if (missing.length) throw new MigrationFailed(`phase "${p.name}" names contract version(s) ${missing.join(', ')}, which ${spec.migrations?.contractLocation ?? 'the contract folder'} does not hold; expected a V<version>__<name>.sql file each`);
      await deps.evidence.put(`${dir}/applied.json`, canonicalJson({ phase: p.name, actions: step.actions, ...(contract ? { contract } : {}), applied_utc: deps.clock.now().toISOString() }), 'application/json');
      return { value: { index: i, segments: soakSegments(p.soak) }, pending: true as const };
    }
    const applied = await readEvidenceJson<{ actions: JournaledResult[]; contract?: unknown; applied_utc: string }>(deps.evidence, `${dir}/applied.json`);
    const tripped = await readEvidenceJson<Tripped>(deps.evidence, tripKey(dir));
    const polls = p.soak ? soakPolls(p.soak) : 0;
    const approval = p.approval ? ((await readEvidenceJson<{ result: string; details: Record<string, unknown> }>(deps.evidence, phaseApprovalKey(spec.runId, i, p))) ?? null) : undefined;
    const signedOff = approval ? { result: approval.result, approvers: approval.details.approvers, comment: approval.details.comment, decidedAt: approval.details.decidedAt, via: approval.details.via } : approval;
    const record: Record<string, unknown> = { phase: p.name, index: i + 1, of: spec.phases.length, ...(signedOff !== undefined ? { signedOff } : {}), actions: applied?.actions ?? [], ...(applied?.contract ? { contract: applied.contract } : {}), applied_utc: applied?.applied_utc, soak: p.soak ? { seconds: p.soak.seconds, pollSeconds: p.soak.pollSeconds, polls, monitors: p.soak.monitors.map((m) => m.name) } : null };
    const entryChecks = p.entryChecks.length ? (await readEvidenceJson<{ checks: CheckResult[] }>(deps.evidence, `${dir}/entry_checks.json`))?.checks : undefined;
    if (entryChecks) record.entryChecks = entryChecks;
    const control = await readEvidenceJson<PhaseControl>(deps.evidence, controlKey(dir));
    if (control) record.operator = control;
    if (control?.action === 'abort') {
      await deps.evidence.put(`${dir}.json`, canonicalJson({ ...record, result: 'FAIL', decision: 'ROLLBACK' }), 'application/json');
      throw new ApprovalRejected(`phase "${p.name}" aborted by ${control.by} via ${control.via} during its soak: ${control.comment || '(no comment)'}`, { phase: p.name, operator: control });
    }
    if (tripped) {
      await deps.evidence.put(`${dir}.json`, canonicalJson({ ...record, result: 'FAIL', decision: 'ROLLBACK', tripped }), 'application/json');
      const values = tripped.windows.map((w) => `${w.detail}`).join(' | ');
      throw new MonitorTripped(
        `phase "${p.name}" (${i + 1} of ${spec.phases.length}): monitor "${tripped.monitor}" failed ${tripped.failAfter} window(s) in a row (poll ${tripped.poll} at ${tripped.at_utc}): ${values.slice(0, 600)}`,
        { phase: p.name, tripped },
      );
    }
    // Exit criteria after a soak that held.
    const exitChecks = p.exitChecks.length ? await runChecks(spec, 'phase', deps, p.exitChecks) : undefined;
    if (exitChecks) record.exitChecks = exitChecks;
    if (exitChecks?.some((c) => !c.ok)) {
      await deps.evidence.put(`${dir}.json`, canonicalJson({ ...record, result: 'FAIL', decision: 'ROLLBACK' }), 'application/json');
      throwIfFailed(exitChecks, { phase: p.name, exitChecks });
    }
    await deps.evidence.put(`${dir}.json`, canonicalJson({ ...record, result: 'PASS', decision: last ? 'DONE' : 'NEXT', soaked_utc: deps.clock.now().toISOString() }), 'application/json');
    if (!last) return { value: { index: i + 1 }, pending: true as const };
    return { value: { index: i + 1, done: true as const }, details: { phases: spec.phases.map((x, k) => ({ phase: x.name, record: `${phaseDir(spec.runId, k, x).slice(spec.runId.length + 1)}.json` })) } };
  });
}

/** SoakPoll's input: the Soak map's item, and after the first poll its own last result. */
export interface SoakPollInput {
  readonly spec: RunSpec;
  readonly phase: number;
  readonly segment: SoakSegment;
  readonly poll?: SoakPollResult;
}
export interface SoakPollResult {
  /** Polls this segment has made. */
  readonly n: number;
  readonly more: boolean;
  readonly waitSeconds: number;
  readonly streaks: Record<string, number>;
}

/** A monitor's request `samples` times: the last status, the first failure, the latencies' percentiles. */
async function sampleHttp(spec: RunSpec, h: NonNullable<Monitor['http']>, deps: Deps): Promise<{ status: number; failed?: string; timing: { p50: number; p95: number } }> {
  const ms: number[] = [];
  let status = 0;
  let failed: string | undefined;
  for (let i = 0; i < h.samples; i++) {
    const t0 = deps.clock.now().getTime();
    const r = await httpCheck(spec, { ...h, via: 'lambda', ignoreFields: [] }, deps);
    ms.push(deps.clock.now().getTime() - t0);
    status = r.http?.status ?? status;
    if (!r.ok) failed ??= r.detail;
  }
  return { status, ...(failed ? { failed } : {}), timing: { p50: percentile(ms, 50), p95: percentile(ms, 95) } };
}

/** Baselines of a phase's http monitors that compare with one, measured before its actions (3 windows' worth each). */
type Baselines = Record<string, { p50: number; p95: number; samples: number; taken_utc: string }>;
const baselineKey = (dir: string) => `${dir}/baseline.json`;

async function takeBaselines(spec: RunSpec, p: Phase, dir: string, deps: Deps): Promise<void> {
  const compared = (p.soak?.monitors ?? []).filter((m) => m.http?.maxSlowdownPercent !== undefined);
  if (!compared.length || (await deps.evidence.get(baselineKey(dir)))) return;
  const out: Baselines = {};
  for (const m of compared) {
    const h = { ...m.http!, samples: Math.min(60, m.http!.samples * 3) };
    const s = await sampleHttp(spec, h, deps);
    if (s.failed) throw new EnvironmentBlocked(`phase "${p.name}": the baseline of monitor "${m.name}" failed before the phase changed anything: ${s.failed}`);
    out[m.name] = { ...s.timing, samples: h.samples, taken_utc: deps.clock.now().toISOString() };
  }
  // The first baseline stands (a retried call keeps it).
  await deps.evidence.putIfAbsent(baselineKey(dir), canonicalJson(out), 'application/json');
}

/** One monitor's window: its probe, judged. A probe that throws is a failing window (an unreachable service is a signal). */
async function window(spec: RunSpec, m: Monitor, deps: Deps, baseline?: Baselines): Promise<Window> {
  const t0 = deps.clock.now().getTime();
  try {
    if (m.sql) {
      const r = await sqlCheck(spec, m.sql, deps);
      return { monitor: m.name, ok: r.ok, detail: r.detail, ...(r.sql?.value !== undefined ? { value: r.sql.value } : {}) };
    }
    if (m.command) {
      const r = await commandCheck(spec, m.command, deps);
      return { monitor: m.name, ok: r.ok, detail: r.detail, value: r.command?.exitCode ?? null };
    }
    if (m.alarm) {
      if (!deps.alarms) throw new Error('no alarm service where this poll runs; expected CloudWatch (AWS) or the alarms file (local)');
      const state = (await deps.alarms.states([m.alarm.name])).get(m.alarm.name);
      if (!state) return { monitor: m.name, ok: false, detail: `no alarm named ${JSON.stringify(m.alarm.name)}; expected an alarm to watch` };
      return { monitor: m.name, ok: state !== 'ALARM', detail: `alarm ${m.alarm.name} is ${state}` };
    }
    const h = m.http!;
    const s = await sampleHttp(spec, h, deps);
    const latencyMs = s.timing[h.metric];
    const what = `${h.samples > 1 ? `${h.metric} ` : ''}${latencyMs} ms${h.samples > 1 ? ` over ${h.samples} requests` : ''}`;
    const problems = [
      ...(s.failed ? [s.failed] : []),
      ...(h.maxLatencyMs !== undefined && latencyMs > h.maxLatencyMs ? [`took ${what}, expected at most ${h.maxLatencyMs} ms`] : []),
    ];
    if (h.maxSlowdownPercent !== undefined) {
      const before = baseline?.[m.name];
      if (!before) problems.push('no baseline measured before the phase; expected one');
      else {
        const d = slowdown(before, s.timing, { metric: h.metric, maxSlowdownPercent: h.maxSlowdownPercent, minSlowdownMs: h.minSlowdownMs });
        if (!d.ok) problems.push(`${what} against ${before[h.metric]} ms before the phase (+${d.pct}%, +${d.ms} ms); expected at most +${h.maxSlowdownPercent}% (or +${h.minSlowdownMs} ms)`);
      }
    }
    const detail = problems.length ? `HTTP ${s.status}; ${problems.join('; ')}` : `HTTP ${s.status} in ${what}`;
    return { monitor: m.name, ok: !problems.length, detail, latencyMs, status: s.status };
  } catch (e) {
    return { monitor: m.name, ok: false, detail: errorMessage(e).slice(0, 300), latencyMs: deps.clock.now().getTime() - t0 };
  }
}

/**
 * SoakPoll: one poll of a phase's monitors. The streaks come from the previous poll (its result in the state, or at
 * a segment's start its record); a monitor at `failAfter` trips the soak (tripped.json) and the polls stop. After a
 * trip, a later segment polls nothing.
 */
export async function soakPollStage(input: SoakPollInput, deps: Deps): Promise<SoakPollResult> {
  const { spec, segment } = input;
  const p = spec.phases[input.phase]!;
  const dir = phaseDir(spec.runId, input.phase, p);
  const stop = { n: input.poll?.n ?? 0, more: false, waitSeconds: 0, streaks: input.poll?.streaks ?? {} };
  if ((await readEvidenceJson(deps.evidence, tripKey(dir))) || (await readEvidenceJson(deps.evidence, controlKey(dir)))) return stop;
  await renewLease({ spec } as StageState, deps);
  const local = input.poll?.n ?? 0;
  const n = segment.from + local;
  const previous = input.poll?.streaks ?? (n > 0 ? ((await readEvidenceJson<PollRecord>(deps.evidence, pollKey(dir, n - 1)))?.streaks ?? {}) : {});
  const monitors = p.soak?.monitors ?? [];
  const windows: Window[] = [];
  const baseline = monitors.some((m) => m.http?.maxSlowdownPercent !== undefined) ? await readEvidenceJson<Baselines>(deps.evidence, baselineKey(dir)) : undefined;
  for (const m of monitors) windows.push(await window(spec, m, deps, baseline));
  const streaks = Object.fromEntries(windows.map((w) => [w.monitor, w.ok ? 0 : (previous[w.monitor] ?? 0) + 1]));
  const at = deps.clock.now().toISOString();
  const total = p.soak ? soakPolls(p.soak) : 0;
  await deps.evidence.put(pollKey(dir, n), canonicalJson({ phase: p.name, poll: n + 1, of: total, at_utc: at, windows, streaks } satisfies PollRecord), 'application/json');
  deps.progress?.({ stage: 'Soak', done: n + 1, total, message: `${p.name}: ${windows.map((w) => `${w.monitor} ${w.ok ? 'ok' : `FAIL ${streaks[w.monitor]}`}`).join(', ') || 'no monitors'}` });
  const trip = monitors.find((m) => (streaks[m.name] ?? 0) >= m.failAfter);
  if (trip) {
    const recent: Tripped['windows'] = [];
    for (let k = n - trip.failAfter + 1; k < n; k++) {
      const rec = await readEvidenceJson<PollRecord>(deps.evidence, pollKey(dir, k));
      const w = rec?.windows.find((x) => x.monitor === trip.name);
      if (rec && w) recent.push({ ...w, poll: rec.poll, at_utc: rec.at_utc });
    }
    recent.push({ ...windows.find((w) => w.monitor === trip.name)!, poll: n + 1, at_utc: at });
    await deps.evidence.put(tripKey(dir), canonicalJson({ phase: p.name, monitor: trip.name, failAfter: trip.failAfter, poll: n + 1, at_utc: at, windows: recent } satisfies Tripped), 'application/json');
    return { ...stop, n: local + 1, streaks };
  }
  return { n: local + 1, more: local + 1 < segment.polls, waitSeconds: segment.pollSeconds, streaks };
}

/**
 * The rollback of the applied phases, last applied first: a phase's own `rollback` actions, or by default every
 * parameter it flipped put back to the value it had before (as its journal recorded it). A phase none of whose
 * actions started is not rolled back.
 */
export async function phaseRollbackEntries(spec: RunSpec, deps: Pick<Deps, 'evidence'>): Promise<RollbackEntry[]> {
  const out: RollbackEntry[] = [];
  for (let i = spec.phases.length - 1; i >= 0; i--) {
    const p = spec.phases[i]!;
    const place = phasePlace(spec.runId, i, p);
    if (!(await deps.evidence.get(`${actionKey(place, 0)}.intent.json`))) continue;
    let undo: Action[] = p.rollback ?? [];
    const unable = new Map<number, string>();
    if (!p.rollback) {
      for (const [k, a] of [...p.actions.entries()].reverse()) {
        if (a.type !== 'parameter') continue;
        const done = await readEvidenceJson<JournaledResult>(deps.evidence, `${actionKey(place, k)}.json`);
        const intent = await readEvidenceJson<{ previous?: string | null }>(deps.evidence, `${actionKey(place, k)}.intent.json`);
        const previous = done?.previous !== undefined ? done.previous : intent?.previous;
        if (previous === undefined) continue; // never started
        const description = `phase ${p.name}: ${a.name} back to ${previous === null || previous.startsWith('sha256:') ? 'its value before' : JSON.stringify(previous)}`;
        // No value to put back (the parameter was new, or a SecureString kept only as its hash): a failed step, not a guess.
        if (previous === null || previous.startsWith('sha256:'))
          unable.set(undo.length, `${a.name} ${previous === null ? 'had no value before the phase' : 'is a SecureString (only its hash was kept)'}; expected it put back by hand`);
        undo = [...undo, { type: 'parameter' as const, name: a.name, value: previous ?? '', description }];
      }
    }
    out.push(...undo.map((action, index) => ({ place: undoPlace(spec.runId, i, p), index, action, ...(unable.has(index) ? { unable: unable.get(index)! } : {}) })));
  }
  return out;
}

/** An operator's word on a soak: stop it and roll back, or end it early and go on. */
export interface PhaseControl {
  readonly action: 'abort' | 'promote';
  readonly by: string;
  readonly via: string;
  readonly comment: string;
  readonly phase: string;
  readonly at_utc: string;
}

/**
 * `cutline abort|promote <runId>`: the phase the run is soaking (applied, not yet closed) gets the operator's word,
 * once (the first word on a phase stands). The soak notices it at its next poll.
 */
export async function controlPhase(
  runId: string,
  c: Omit<PhaseControl, 'phase' | 'at_utc'>,
  deps: Pick<Deps, 'evidence' | 'clock'>,
): Promise<{ ok: true; phase: string } | { ok: false; reason: string }> {
  const spec = await readEvidenceJson<RunSpec>(deps.evidence, specKey(runId));
  if (!spec) return { ok: false, reason: `no run ${runId} in ${deps.evidence.location}; expected the runId of a run that started` };
  if (!spec.phases?.length) return { ok: false, reason: `run ${runId} has no phases; expected a progressive cutover (spec.phases) to ${c.action}` };
  for (const [i, p] of spec.phases.entries()) {
    const dir = phaseDir(runId, i, p);
    if (!(await deps.evidence.get(`${dir}/applied.json`)) || (await deps.evidence.get(`${dir}.json`))) continue;
    const word: PhaseControl = { ...c, phase: p.name, at_utc: deps.clock.now().toISOString() };
    if (!(await deps.evidence.putIfAbsent(controlKey(dir), canonicalJson(word), 'application/json'))) {
      const first = await readEvidenceJson<PhaseControl>(deps.evidence, controlKey(dir));
      return { ok: false, reason: `phase ${p.name} of run ${runId} already has an operator's word: ${first?.action} by ${first?.by} at ${first?.at_utc}; it stands` };
    }
    return { ok: true, phase: p.name };
  }
  return { ok: false, reason: `run ${runId} is not soaking a phase (none applied and still open); expected a run in a phase's soak` };
}
