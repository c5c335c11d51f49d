/**
 * The stages of a cutover, one function per Task state. Handlers (Lambda or
 * local) parse the payload and call these; every stage writes its evidence
 * record, also when it fails, and throws the named error the ASL catches.
 */
import type { Deps, EvidenceObject } from '../ports';
import { type ActionDeps, type ActionWaiting, describeAction, runCutover, runRollback } from './actions';
import { runSmoke } from './smoke';
import { approvalQuery, approverProblems, newApprovalId } from './approval';
import { signRoot } from './signature';
import { backfillPlanFile, type Chunk, checkpointsOfPlan, fixedBackfillPlan, runChunk } from './backfill';
import { classify, decide, type ClassifyOutcome } from './decision';
import { BackfillFailed, CutlineError, CutoverFailed, EnvironmentBlocked, errorMessage, MigrationFailed, MigrationStillRunning, SpecInvalid } from './errors';
import { appendAddendum, buildManifest, readAddenda, canonicalJson, specKey, readEvidenceJson, sha256Hex, type StepRecord, type StepResult, stepKey, stepRecord, isUnlisted } from './evidence';
import { type AttemptRecord, isResumeOf, readAttempts, recordAttempt, resumeProblem } from './attempts';
import { applyMigrations, expandFiles, loadMigrations, type Migration } from './migrations';
import { lintMigrations } from './lint';
import type { EndState, StageState } from './payloads';
import { type Baseline, runPreflight } from './preflight';
import { holdRunLease, releaseRunLease } from './lease';
import { dbRef, parseSpec, platformProblems, RunSpec } from './spec';
import type { TaskKey } from './states';
import { runVerify, type VerifyOutcome } from './verify';
import { combine, fastGate, type GateOutcome } from './compare/verdict';
import { aggregateGates, checkGateChunk, type GateItem, gateKey, planGates, renderDiffReport } from './compare/stage';
import { mdText, renderSummary } from './summary';
import { escapeHtml } from './html';
import { renderReport } from './report';
import { mapLimit } from './concurrency';
import { seed003AfterManualRollback, seed003Files } from './evidence-profile';

/** The baseline (row counts before any change) fixed on the first attempt. */
export const baselineKey = (runId: string) => stepKey(runId, 'preflight', '/baseline');

interface Who {
  readonly runId: string;
  readonly owner: string;
}

/** Run a stage and write its NN_<step>.json record, PASS or FAIL. */
async function recorded<T>(
  deps: Deps,
  who: Who,
  step: TaskKey,
  command: string,
  fn: () => Promise<{ value: T; result?: StepResult; details: Record<string, unknown> } | { value: T; pending: true }>,
): Promise<T> {
  const started = deps.clock.now();
  const write = (result: StepResult, details: Record<string, unknown>) =>
    deps.evidence.put(
      stepKey(who.runId, step),
      canonicalJson(stepRecord({ step, command, owner: who.owner, now: deps.clock.now(), result, details, durationMs: deps.clock.now().getTime() - started.getTime() })),
      'application/json',
    );
  try {
    const out = await fn();
    // Paused at a running command: the stage records its outcome when the Wait loop brings it back to its end.
    if ('pending' in out) return out.value;
    await write(out.result ?? 'PASS', out.details);
    return out.value;
  } catch (e) {
    const details = e instanceof CutlineError ? e.details : {};
    await write('FAIL', { error: e instanceof Error ? e.name : 'Error', message: errorMessage(e), ...details });
    throw e;
  }
}

const who = (s: StageState): Who => ({ runId: s.spec.runId, owner: s.spec.owner });

/**
 * The run lease is held by the run, not by one execution: a resume (in AWS a new execution) takes over the databases
 * its interrupted attempt held; another run is refused until the lease ends.
 */
const leaseHolder = (s: { spec: { runId: string } }) => `run:${s.spec.runId}`;

/** Every stage after Preflight renews the run lease; a run that lost it (expired, taken by another) stops here. */
const renewLease = (s: StageState, deps: Deps) => holdRunLease(s.spec, leaseHolder(s), deps.sql);

/**
 * The spec as a run uses it (defaults applied), or every problem with its
 * JSON path. The local runner calls this before anything is written, so a bad
 * spec changes nothing and uses up no runId.
 */
export function specAsRun(raw: unknown, platform: 'aws' | 'local'): { ok: true; spec: RunSpec } | { ok: false; problems: { path: string; message: string }[] } {
  const r = parseSpec(raw);
  if (!r.ok) return r;
  const problems = platformProblems(r.spec, platform);
  if (problems.length) return { ok: false, problems };
  // The state machine reads heartbeatSeconds by path: always present and, as Step Functions requires, below the timeout.
  return { ok: true, spec: { ...r.spec, approval: { ...r.spec.approval, heartbeatSeconds: r.spec.approval.heartbeatSeconds ?? r.spec.approval.timeoutSeconds - 1 } } };
}


/**
 * A runId is one run: a resume must run the spec the first attempt ran
 * (checkpoints, plans and baselines were made under it). The problem, or
 * undefined when the run is new or the spec is the same.
 */
export async function specChangeProblem(spec: RunSpec, deps: Pick<Deps, 'evidence'>): Promise<string | undefined> {
  const stored = await deps.evidence.get(specKey(spec.runId));
  if (!stored) return undefined;
  const before = sha256Hex(stored);
  const now = sha256Hex(canonicalJson(spec));
  return before === now
    ? undefined
    : `run ${spec.runId} was started with another spec (spec.json sha256 ${before.slice(0, 12)}…, this one ${now.slice(0, 12)}…); expected the same spec to resume it, or a new runId for a new run`;
}

export async function validateSpecStage(raw: { spec: unknown; execution: { name: string; id?: string } }, platform: 'aws' | 'local', deps: Deps) {
  const r = specAsRun(raw.spec, platform);
  const rawSpec = (raw.spec ?? {}) as Record<string, unknown>;
  // A resume in AWS is a new execution named after its run (names are single-use): it works on the run once the
  // run is found resumable; refused, it writes only under its own name.
  const resume = r.ok && isResumeOf(raw.execution.name, r.spec.runId) ? { runId: r.spec.runId, problem: await resumeProblem(r.spec.runId, deps) } : undefined;
  // A run owns its runId: evidence goes under the execution's own name; a spec naming another run writes nothing there.
  const runId = resume && !resume.problem ? resume.runId : endWho(raw).runId;
  const owner = r.ok ? r.spec.owner : typeof rawSpec.owner === 'string' ? rawSpec.owner : 'unknown';
  return recorded(deps, { runId, owner }, 'validateSpec', `cutline validate (${platform})`, async () => {
    if (!r.ok) {
      throw new SpecInvalid(`run spec is invalid (${r.problems.length} problem(s)): ${r.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems: r.problems });
    }
    if (resume?.problem) throw new SpecInvalid(resume.problem, { problems: [{ path: '$.runId', message: resume.problem }] });
    if (r.spec.runId !== raw.execution.name && !resume)
      throw new SpecInvalid(
        `runId ${JSON.stringify(r.spec.runId)} differs from the execution name ${JSON.stringify(raw.execution.name)}; expected the execution to be named by its runId (cutline start does) or a resume of it (cutline resume does), so no execution can write into another run's evidence`,
        { problems: [{ path: '$.runId', message: `got ${JSON.stringify(r.spec.runId)}; expected the execution name ${JSON.stringify(raw.execution.name)}` }] },
      );
    const spec = r.spec;
    const unreachable = platform === 'aws' && deps.directory ? approverProblems(spec, deps.directory) : [];
    if (unreachable.length)
      throw new SpecInvalid(`run spec is invalid (${unreachable.length} problem(s)): ${unreachable.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems: unreachable });
    const changed = await specChangeProblem(spec, deps);
    if (changed) throw new SpecInvalid(changed, { problems: [{ path: '$', message: changed }] });
    // Every attempt is evidence: a resumed run says how often it was interrupted.
    const finished = (await deps.evidence.get(stepKey(runId, 'summary'))) !== undefined;
    const attempt = await recordAttempt(runId, raw.execution.id ?? raw.execution.name, platform, finished, deps);
    // The spec as run, for auditors and for `cutline rollback <runId>`: written once (conditional write); a resume
    // finds it, and a spec that raced in between is refused as changed.
    if (!(await deps.evidence.putIfAbsent(specKey(runId), canonicalJson(spec), 'application/json'))) {
      const raced = await specChangeProblem(spec, deps);
      if (raced) throw new SpecInvalid(raced, { problems: [{ path: '$', message: raced }] });
    }
    return {
      value: { spec, summary: { ok: true, runId, attempt: attempt.attempt } },
      details: { runId, source: spec.source.engine, target: (spec.target ?? spec.source).engine, inPlace: !spec.target, attempt: attempt.attempt, previousAttempt: attempt.previous },
    };
  });
}

export async function preflightStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'preflight', 'preflight: databases, parameters, jumpbox', async () => {
    // Baselines are taken once, before the first attempt changes anything; a resume reuses them (never re-counts).
    const key = baselineKey(s.spec.runId);
    const stored = await readEvidenceJson<Baseline>(deps.evidence, key);
    const out = await runPreflight(s.spec, deps, stored);
    const failing = out.checks.filter((c) => !c.ok);
    if (failing.length)
      throw new EnvironmentBlocked(
        `${failing.length} preflight check(s) failed: ${failing.map((c) => `${c.name}: ${c.detail}`).join('; ')}`,
        { checks: out.checks },
      );
    // One run per database for the whole run: taken here, renewed by every stage, released by Summary.
    await holdRunLease(s.spec, leaseHolder(s), deps.sql);
    let baseline: Baseline = stored ?? { taken_utc: deps.clock.now().toISOString(), counts: out.baselineCounts };
    if (!stored && !(await deps.evidence.putIfAbsent(key, canonicalJson(baseline), 'application/json')))
      baseline = (await readEvidenceJson<Baseline>(deps.evidence, key))!;
    return {
      value: { ok: true, checks: out.checks.length, baselineCounts: baseline.counts },
      details: { checks: out.checks, baselineCounts: baseline.counts, baselineTakenUtc: baseline.taken_utc, baselineReused: !!stored },
    };
  });
}

/** Expand and contract files, validated together against the history; lint decides what may run when. */
async function loadAll(s: StageState, deps: Deps) {
  const m = s.spec.migrations!;
  const client = deps.sql(dbRef(s.spec, m.database));
  const expand = await expandFiles(m, deps.scripts);
  const contract = m.contractLocation ? await deps.scripts.list(m.contractLocation) : [];
  const contractNames = new Set(contract.map((f) => f.name));
  const migrations = loadMigrations([...expand, ...contract], client.dialect);
  return { m, client, migrations, isContract: (x: Migration) => contractNames.has(x.script) };
}

async function applyPhase(s: StageState, deps: Deps, phase: 'expand' | 'contract', inv: Invocation) {
  const { m, client, migrations, isContract } = await loadAll(s, deps);
  const files = migrations.filter((x) => (phase === 'contract') === isContract(x));
  const lint = lintMigrations(files, client.dialect, { contract: phase === 'contract' });
  const blocking = lint.filter((f) => f.blocking);
  if (blocking.length)
    throw new MigrationFailed(
      `lint blocks ${blocking.length} statement(s) before anything runs: ${blocking.map((f) => `${f.script}:${f.line} ${f.code} ${f.title} (instead: ${f.safe})`).join('; ')}`,
      { lint },
    );
  const out = await applyMigrations(client, migrations, {
    historyTable: m.historyTable,
    executionArn: s.execution.id,
    appliedBy: s.spec.owner,
    deps,
    apply: (x) => (phase === 'contract') === isContract(x),
    baselineVersion: m.baselineVersion,
    leaseSeconds: m.leaseSeconds,
    lockTimeoutMs: m.lockTimeoutMs,
    lockRetries: m.lockRetries,
    remainingMs: inv.remainingMs,
  });
  return {
    out,
    details: {
      phase,
      location: phase === 'contract' ? m.contractLocation : m.location,
      database: client.label,
      historyTable: m.historyTable,
      files: files.map((x) => ({ script: x.script, version: x.version, sha256: x.sha256, statements: x.statements.length })),
      lint,
      ...out,
    },
  };
}

/** One invocation of a stage's function: its time left (Lambda's context; locally the runner's function timeout). */
export interface Invocation {
  readonly remainingMs?: () => number;
}

export async function schemaStage(s: StageState, deps: Deps, inv: Invocation = {}) {
  return recorded(deps, who(s), 'schema', 'schema: lint, validate and apply versioned migrations (expand)', async () => {
    await renewLease(s, deps);
    if (!s.spec.migrations) return { value: { applied: 0, skipped: 0, directoryHash: '' }, result: 'SKIPPED' as const, details: { reason: 'no migrations in the spec' } };
    const { out, details } = await applyPhase(s, deps, 'expand', inv);
    return { value: { applied: out.applied.length, skipped: out.skipped, directoryHash: out.directoryHash }, details };
  });
}

export async function backfillPlanStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'backfillPlan', 'backfill: plan key-range chunks', async () => {
    await renewLease(s, deps);
    const { plan, reused } = await fixedBackfillPlan(s.spec, deps);
    // A phase's chunks travel in the state while small; above that a Distributed Map reads them from evidence (ItemReader).
    const inline = inlinePhases(plan.phases, s.spec.backfill.distributedAbove);
    const phases = [];
    for (const [i, chunks] of plan.phases.entries()) {
      const items = backfillPlanFile(s.spec.runId, `phase-${String(i + 1).padStart(3, '0')}.items.json`);
      const distributed = !inline[i];
      if (distributed) await deps.evidence.put(items, JSON.stringify(chunks), 'application/json');
      phases.push({
        phase: i + 1,
        count: chunks.length,
        distributed,
        ...(distributed ? { itemsObjectKey: deps.evidence.objectKey(items), resultsPrefix: deps.work.objectKey(backfillPlanFile(s.spec.runId, `results/phase-${i + 1}`)) } : { chunks }),
      });
    }
    return {
      value: { count: plan.phases.reduce((n, p) => n + p.length, 0), phases, tasks: plan.tasks },
      details: { tasks: plan.tasks, phases: plan.phases, planned_utc: plan.planned_utc, backfillHash: plan.backfillHash, reused },
    };
  });
}

/** One chunk: its checkpoint is its evidence (05_backfill/<task>/<n>.json). */
export async function backfillChunkStage(input: { spec: RunSpec; chunk: Chunk }, deps: Deps) {
  const out = await runChunk(input.spec, input.chunk, deps);
  return { t: out.task, i: out.index, rows: out.rows, skipped: out.skipped };
}

export async function verifyStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'verify', 'verify: row counts and assertions', async () => {
    await renewLease(s, deps);
    // The invariant GO rests on: every chunk of the fixed plan has a checkpoint for that plan.
    const attempts = await readAttempts(s.spec.runId, deps).catch(() => []);
    const backfill = await checkpointsOfPlan(s.spec, attempts.at(-1)?.started_utc, deps);
    if (backfill.missing.length)
      throw new BackfillFailed(
        `${backfill.missing.length} of ${backfill.planned} planned backfill chunk(s) have no checkpoint for the plan they ran under: ${backfill.missing
          .slice(0, 10)
          .map((c) => `${c.task}#${c.index} ${c.file ?? `[${c.lo}, ${c.hi}]`}`)
          .join(', ')}${backfill.missing.length > 10 ? ', …' : ''}; expected every planned chunk done before verification`,
        { missing: backfill.missing.slice(0, 100), planned: backfill.planned },
      );
    const baseline = ((s.results.preflight as { baselineCounts?: Record<string, string> } | undefined)?.baselineCounts ?? {}) as Record<string, string>;
    // Summary's backfill table: the checkpoints were just read, they are not read again.
    const out = { ...(await runVerify(s.spec, baseline, deps)), ...(backfill.tasks.length ? { backfill: backfill.tasks } : {}) };
    const ok = out.assertions.every((a) => a.ok) && out.tables.every((t) => !t.error);
    return {
      value: out,
      result: ok ? 'PASS' : 'FAIL',
      details: { ...out },
    };
  });
}

/** Map items small enough to travel in the state: at most `above` of them, and at most a quarter of the 256 KiB state. */
export const INLINE_ITEMS_BYTES = 65_536;
/**
 * Which backfill phases travel in the state: every inline phase is in the state at once (the plan's result), so they
 * share one INLINE_ITEMS_BYTES budget, taken in phase order; a phase past it runs as a Distributed Map.
 */
export function inlinePhases(phases: readonly (readonly unknown[])[], above: number): boolean[] {
  let left = INLINE_ITEMS_BYTES;
  return phases.map((items) => {
    const bytes = Buffer.byteLength(JSON.stringify(items));
    if (items.length > above || bytes > left) return false;
    left -= bytes;
    return true;
  });
}

/** GatePlan: chunks planned once on the source; small plans travel inline, big ones are read by a Distributed Map. */
export async function gatePlanStage(s: StageState, deps: Deps) {
  const { file, items, reused } = await planGates(s.spec, deps);
  const distributed = !inlinePhases([items], s.spec.gates.distributedAbove)[0];
  return {
    tables: file.tables.map((t) => ({ table: t.table, chunks: t.chunks, ...(t.error ? { error: t.error } : {}) })),
    count: items.length,
    reused,
    distributed,
    ...(distributed ? {} : { chunks: items }),
    itemsObjectKey: deps.evidence.objectKey(gateKey(s.spec.runId, 'items.json')),
    resultsPrefix: deps.work.objectKey(gateKey(s.spec.runId, 'map-results')),
  };
}

export async function gateChunkStage(input: { spec: RunSpec; chunk: GateItem }, deps: Deps) {
  return checkGateChunk(input.spec, input.chunk, deps);
}

export async function gatesStage(s: StageState, deps: Deps) {
  const methods = s.spec.gates.methods.join(' + ');
  return recorded(deps, who(s), 'gates', `method gates (${methods}) and count tolerance`, async () => {
    await renewLease(s, deps);
    const verify = s.results.verify as VerifyOutcome;
    const counts = fastGate(verify.tables, s.spec.gates.fast);
    const tables = await aggregateGates(s.spec, deps);
    await deps.evidence.put(gateKey(s.spec.runId, 'report.json'), canonicalJson(tables), 'application/json');
    await deps.evidence.put(gateKey(s.spec.runId, 'diff.txt'), renderDiffReport(tables), 'text/plain; charset=utf-8');
    // The fast tolerance also holds over all method tables together.
    const fastTotals = fastGate(
      tables.filter((t) => t.fast).map((t) => ({ table: t.table, expected: t.fast!.source, actual: t.fast!.target })),
      s.spec.gates.fast,
    );
    const overallFast = fastTotals.tables.length ? fastTotals.overall : undefined;
    const verdict = combine([counts.verdict, ...tables.map((t) => t.verdict), overallFast?.verdict]);
    const gate: GateOutcome = {
      ...counts,
      verdict,
      methodTables: tables.map((t) => ({ table: t.table, verdict: t.verdict, reason: t.reason, chunks: t.chunks, diffs: t.diffs.length, rowsPerSecond: t.rowsPerSecond })),
      ...(overallFast ? { methodOverall: overallFast } : {}),
    };
    return { value: gate, result: verdict === 'PASS' ? 'PASS' : 'FAIL', details: { ...gate, tables: counts.tables, methodReports: tables } };
  });
}

export async function decideStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'decide', 'decision matrix', async () => {
    await renewLease(s, deps);
    const d = decide(s.results.verify as VerifyOutcome, s.results.gates as GateOutcome);
    const go = goActions(s.spec);
    return { value: { ...d, goActions: go }, details: { ...d, goActions: go } };
  });
}

/** What an approver is shown: gate results and exactly what GO will do. */
export function approvalSummary(s: StageState): { summary: string; goActions: string[] } {
  const gates = s.results.gates as GateOutcome | undefined;
  const verify = s.results.verify as VerifyOutcome | undefined;
  const lines = [
    ...(gates?.tables ?? []).map((t) => `${t.table}: expected ${t.expected}, got ${t.actual} (${t.verdict})`),
    ...(verify?.assertions ?? []).map((a) => `assertion ${a.name}: ${a.ok ? 'no violations' : `${a.violations} violation(s)`}`),
  ];
  return { summary: lines.join('\n'), goActions: goActions(s.spec) };
}

/** Exactly what GO will do: the cutover actions, then the contract migrations. */
export function goActions(spec: RunSpec): string[] {
  return [
    ...spec.cutover.actions.map(describeAction),
    ...(spec.migrations?.contractLocation ? [`apply the contract migrations in ${spec.migrations.contractLocation} (after the actions above)`] : []),
  ];
}

/**
 * GoNoGo: store the task token privately, deliver a signed link. Returns
 * what was sent (never the token); the state waits for the decision.
 */
export async function requestApprovalStage(input: { taskToken: string; state: StageState }, deps: Deps, baseUrl?: string) {
  const s = input.state;
  const approvalId = newApprovalId();
  const expiresAt = new Date(deps.clock.now().getTime() + s.spec.approval.timeoutSeconds * 1000).toISOString();
  const { summary, goActions } = approvalSummary(s);
  const target = (s.spec.target ?? s.spec.source).engine;
  await deps.approvalStore.save({
    approvalId,
    runId: s.spec.runId,
    taskToken: input.taskToken,
    expiresAt,
    approvers: s.spec.approval.approvers,
    required: s.spec.approval.required,
    request: { owner: s.spec.owner, target, summary, goActions, reportUrl: deps.evidence.browseUrl(`${s.spec.runId}/`) },
  });
  const secret = baseUrl ? await deps.approvalSecret() : '';
  const link = (who?: string) => `${baseUrl!.replace(/\/+$/, '')}/approve?${approvalQuery(approvalId, expiresAt, secret, who)}`;
  // With an approver list every approver gets a personal link (its signature names them); otherwise one link and a name field.
  const approvers = s.spec.approval.approvers ?? [];
  const approveUrl = baseUrl && approvers.length === 0 ? link() : undefined;
  const personalUrls = baseUrl && approvers.length ? approvers.map((approver) => ({ approver, url: link(approver) })) : undefined;
  const request = { runId: s.spec.runId, approvalId, owner: s.spec.owner, target, summary, goActions, approveUrl, personalUrls, reportUrl: deps.evidence.browseUrl(`${s.spec.runId}/`), expiresAt };
  // Each channel on its own: the go/no-go waits when at least one delivered the link; only all failing fails it.
  const delivered: string[] = [];
  const failedChannels: { kind: string; error: string }[] = [];
  for (const ch of deps.approvals(s.spec.approval.channels)) {
    try {
      await ch.deliver(request);
      delivered.push(ch.kind);
    } catch (e) {
      failedChannels.push({ kind: ch.kind, error: errorMessage(e) });
      deps.logger.warn('approval channel failed', { kind: ch.kind, error: errorMessage(e) });
    }
  }
  if (!delivered.length && failedChannels.length)
    throw new Error(`no approval channel delivered the go/no-go: ${failedChannels.map((f) => `${f.kind}: ${f.error}`).join('; ')}`);
  await deps.evidence.put(
    stepKey(s.spec.runId, 'goNoGo', '_request'),
    canonicalJson({ approvalId, expiresAt, channels: delivered, ...(failedChannels.length ? { failedChannels } : {}), summary, goActions, requested_utc: deps.clock.now().toISOString() }),
    'application/json',
  );
  return { approvalId, expiresAt, channels: delivered };
}

/** The command a stage paused at, as its previous call left it in the state (the Wait loop calls the stage again). */
function waitingIn(s: StageState, stage: 'cutover' | 'rollback'): ActionWaiting | undefined {
  const r = s.results[stage] as { waiting?: ActionWaiting } | undefined;
  return r?.waiting;
}

export async function cutoverStage(s: StageState, deps: Deps, inv: Invocation = {}) {
  return recorded<{ waiting: ActionWaiting } | { actions: number; contract: number }>(deps, who(s), 'cutover', 'cutover actions, then contract migrations', async () => {
    await renewLease(s, deps);
    const step = await runCutover(s.spec, deps, waitingIn(s, 'cutover'));
    if (step.waiting) return { value: { waiting: step.waiting }, pending: true as const };
    const actions = step.actions;
    let contract: Awaited<ReturnType<typeof applyPhase>>['details'] | undefined;
    if (s.spec.migrations?.contractLocation) {
      try {
        contract = (await applyPhase(s, deps, 'contract', inv)).details;
      } catch (e) {
        // A build still running when the invocation's time is up: the state retries, the next invocation follows it.
        if (e instanceof MigrationStillRunning) throw e;
        throw new CutoverFailed(`contract migrations failed: ${errorMessage(e)}`, { actions, ...(e instanceof CutlineError ? e.details : {}) });
      }
    }
    return { value: { actions: actions.length, contract: contract?.applied.length ?? 0 }, details: { actions, ...(contract ? { contract } : {}) } };
  });
}

export async function smokeStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'smoke', 'smoke checks', async () => {
    await renewLease(s, deps);
    const checks = await runSmoke(s.spec, deps);
    return { value: { checks: checks.length }, details: { checks } };
  });
}

/** `cutline rollback <runId>`: the spec's rollback actions by hand, recorded next to the run's own records. */
export async function manualRollback(spec: RunSpec, who: string, deps: ActionDeps & Pick<Deps, 'signer'>) {
  const started = deps.clock.now();
  const out = await runRollback(spec, deps, { byHand: true });
  const record = await deps.evidence.put(
    stepKey(spec.runId, 'rollback', `_manual_${started.toISOString().replace(/[:.]/g, '-')}`),
    canonicalJson(stepRecord({ step: 'rollback', command: 'cutline rollback (by hand)', owner: who, now: deps.clock.now(), result: out.ok ? 'PASS' : 'FAIL', details: { ...out }, durationMs: deps.clock.now().getTime() - started.getTime() })),
    'application/json',
  );
  // After Summary sealed the run: the record, and the summaries that now say so, join the manifest as an addendum.
  const manifest = await readEvidenceJson<{ files: { file: string }[] }>(deps.evidence, `${spec.runId}/manifest.json`);
  if (!manifest) return out;
  const amended = await amendAfterRollback(spec.runId, record, deps);
  // A rollback by hand killed before its addendum left its record and superseded copies unsealed: this one seals them.
  const sealed = new Set([...manifest.files.map((f) => f.file), ...(await readAddenda(deps.evidence, spec.runId)).flatMap((a) => a.files.map((f) => f.file))]);
  const mine = new Set([record, ...amended].map((o) => o.key));
  const leftovers = (await deps.evidence.list(`${spec.runId}/`)).filter((o) => {
    const f = o.key.slice(spec.runId.length + 1);
    return !mine.has(o.key) && !sealed.has(f) && (/^12_rollback_manual_[^/]+\.json$/.test(f) || f.startsWith('superseded/'));
  });
  await appendAddendum(spec.runId, [record, ...amended, ...leftovers], `rollback by hand by ${who}`, deps);
  return out;
}

/** The rollbacks by hand a run's addenda record, oldest first (read by key: status never lists or hashes the run's files). */
export async function manualRollbacks(runId: string, evidence: Pick<Deps['evidence'], 'get'>): Promise<{ by: string; at: string; result: string }[]> {
  const keys = (await readAddenda(evidence, runId)).flatMap((a) => a.files.map((f) => f.file)).filter((f) => /^12_rollback_manual_[^/]+\.json$/.test(f)).map((f) => `${runId}/${f}`);
  const out: { by: string; at: string; result: string }[] = [];
  for (const k of keys) {
    const r = await readEvidenceJson<StepRecord>(evidence, k);
    if (r) out.push({ by: r.owner, at: r.timestamp_utc, result: r.result });
  }
  return out;
}

/**
 * A rollback by hand after Summary: summary.md, report.html and (seed 003) 09_rollback_or_no_rollback.log say so.
 * Each earlier version is kept under superseded/<record>/ (its hash is the one the manifest holds); the new
 * versions are listed by the addendum, which supersedes the manifest's entries.
 */
async function amendAfterRollback(runId: string, record: EvidenceObject, deps: Pick<Deps, 'evidence'>): Promise<EvidenceObject[]> {
  const rec = await readEvidenceJson<StepRecord>(deps.evidence, record.key);
  if (!rec) return [];
  const stem = record.key.slice(runId.length + 1).replace(/\.json$/, '');
  const line = `Rolled back by hand by ${rec.owner} at ${rec.timestamp_utc}: ${rec.result} (${stem}.json).`;
  const edits: [string, (old: string) => string, string][] = [
    ['summary.md', (old) => `${old.trimEnd()}\n\n## Rolled back by hand\n\n${mdText(line)}\n`, 'text/markdown; charset=utf-8'],
    ['report.html', (old) => old.replace(/<body[^>]*>/, (m) => `${m}<section class="rolled-back" role="alert"><h2>Rolled back by hand</h2><p>${escapeHtml(line)}</p></section>`), 'text/html; charset=utf-8'],
    ['09_rollback_or_no_rollback.log', (old) => seed003AfterManualRollback(old, rec), 'text/plain; charset=utf-8'],
  ];
  const written: EvidenceObject[] = [];
  for (const [file, edit, type] of edits) {
    const old = await deps.evidence.get(`${runId}/${file}`);
    if (!old) continue;
    const text = Buffer.from(old).toString('utf8');
    written.push(await deps.evidence.put(`${runId}/superseded/${stem}/${file}`, text, type));
    written.push(await deps.evidence.put(`${runId}/${file}`, edit(text), type));
  }
  return written;
}

export async function rollbackStage(s: StageState, deps: Deps) {
  if (s.manual) {
    const out = await manualRollback(s.spec, s.manual.by, deps);
    return { ok: out.ok, actions: out.actions.length, manual: true };
  }
  return recorded<{ waiting: ActionWaiting } | { ok: boolean; actions: number }>(deps, who(s), 'rollback', 'rollback actions', async () => {
    await renewLease(s, deps);
    const out = await runRollback(s.spec, deps, { waiting: waitingIn(s, 'rollback') });
    if (out.waiting) return { value: { waiting: out.waiting }, pending: true as const };
    return { value: { ok: out.ok, actions: out.actions.length }, result: out.ok ? 'PASS' : 'FAIL', details: { ok: out.ok, actions: out.actions } };
  });
}

/**
 * Where a run's records go: under the execution's own name (the spec's runId when it matches, as `start` names
 * executions), or under the run a resume execution works on once ValidateSpec accepted it (results.validateSpec).
 */
function endWho(s: { spec: unknown; execution: { name: string }; results?: Record<string, unknown> }): Who {
  const spec = (s.spec ?? {}) as Record<string, unknown>;
  const owner = typeof spec.owner === 'string' ? spec.owner : 'unknown';
  if (s.results?.validateSpec && typeof spec.runId === 'string' && isResumeOf(s.execution.name, spec.runId)) return { runId: spec.runId, owner };
  const named = /^[A-Za-z0-9_-]{1,80}$/.test(s.execution.name) ? s.execution.name : 'invalid-execution-name';
  return { runId: named, owner };
}

export async function classifyStage(s: EndState, deps: Deps, platform: 'aws' | 'local' = 'aws'): Promise<ClassifyOutcome> {
  const w = endWho(s);
  const rollback = s.results.rollback as { ok: boolean } | undefined;
  const out = classify({
    error: s.error ?? { Error: 'Unknown', Cause: 'Classify was reached without an error' },
    results: s.results,
    owner: w.owner,
    now: deps.clock.now(),
    rollback: rollback ?? (s.rollbackError ? { ok: false } : undefined),
    platform,
  });
  await deps.evidence.put(
    stepKey(w.runId, 'classify'),
    canonicalJson(stepRecord({ step: 'classify', command: 'classify NO_GO', owner: w.owner, now: deps.clock.now(), result: 'FAIL', details: { ...out, rollbackError: s.rollbackError } })),
    'application/json',
  );
  return out;
}

/** Summary must not fail on a record it cannot read: the report shows what is readable. */
const json = <T>(deps: Deps, key: string): Promise<T | undefined> => readEvidenceJson<T>(deps.evidence, key).catch(() => undefined);

/** The run's records read back from evidence: the report and the seed 003 files show what an auditor will find, not what the run believed. */
async function readRecords(w: Who, files: readonly EvidenceObject[], deps: Deps) {
  const rel = (k: string) => k.slice(w.runId.length + 1);
  const read = <T>(keys: EvidenceObject[]) => mapLimit(keys, 16, async (f) => ({ file: rel(f.key), rec: await json<T>(deps, f.key) }));
  const steps = (await read<StepRecord>(files.filter((x) => /^\d\d_[a-z_]+\.json$/.test(rel(x.key)))))
    .filter((r) => r.rec?.step)
    .map((r) => ({ ...r.rec!, file: r.file }));
  type ChunkRecord = { task: string; index: number; rows: number; ms: number };
  const chunks = (await read<ChunkRecord>(files.filter((x) => rel(x.key).startsWith('05_backfill/')).slice(0, 1000)))
    .map((r) => r.rec)
    .filter((c): c is ChunkRecord => !!c && typeof c.rows === 'number');
  return { steps, chunks };
}

type Records = Awaited<ReturnType<typeof readRecords>>;

async function buildReport(
  w: Who,
  o: { go: boolean; classification: string; reason: string; c?: ClassifyOutcome; attempts: AttemptRecord[] },
  s: EndState,
  rec: Records,
  files: { file: string; sha256: string }[],
  deps: Deps,
): Promise<string> {
  const { steps, chunks } = rec;
  const gates = s.results.gates as GateOutcome | undefined;
  const verify = s.results.verify as VerifyOutcome | undefined;
  const methodReports = (await json<{ table: string; diffs: { key: string; kind: string; columns?: string[] }[] }[]>(deps, gateKey(w.runId, 'report.json'))) ?? [];
  const approval = (await json<StepRecord>(deps, stepKey(w.runId, 'goNoGo')))?.details;
  return renderReport({
    runId: w.runId,
    owner: w.owner,
    outcome: o.go ? 'GO' : 'NO_GO',
    classification: o.classification,
    reason: o.reason,
    generatedUtc: deps.clock.now().toISOString(),
    steps,
    ...(o.c ? { classify: o.c } : {}),
    counts: (gates?.tables ?? []).map((t) => ({ table: t.table, expected: t.expected, actual: t.actual, verdict: t.verdict })),
    methodTables: gates?.methodTables ?? [],
    diffs: methodReports.flatMap((t) => t.diffs.map((d) => ({ table: t.table, ...d }))),
    assertions: (verify?.assertions ?? []).map((a) => ({ name: a.name, ok: a.ok, violations: a.violations })),
    chunks,
    ...(approval ? { approval } : {}),
    files,
    attempts: o.attempts,
  });
}

/**
 * Every backfill chunk's result: an inline phase's are in the state; a Distributed Map phase's state holds only its
 * Map Run and where ResultWriter put the results (SUCCEEDED_<n>.json under the phase's results prefix, in the work
 * bucket), read here.
 */
export interface SummaryOutcome {
  readonly outcome: 'GO' | 'NO_GO';
  readonly classification: string;
  readonly reason: string;
  readonly summaryKey: string;
  readonly manifestKey: string;
  readonly manifestRoot: string;
  readonly attempts: number;
}

export async function summaryStage(s: EndState, deps: Deps): Promise<SummaryOutcome> {
  const w = endWho(s);
  // The run is over (GO, NO_GO, rolled back): its databases are free for the next run. Only this run's lease is
  // released, and only by an execution that works on it (one refused for naming another run releases nothing).
  const parsed = RunSpec.safeParse(s.spec);
  if (parsed.success && parsed.data.runId === w.runId) await releaseRunLease(parsed.data, leaseHolder({ spec: parsed.data }), deps.sql).catch((e) => deps.logger.warn('run lease not released', { error: errorMessage(e) }));
  const c = s.results.classify as ClassifyOutcome | undefined;
  const go = !c && !s.error && s.results.smoke !== undefined && s.results.goNoGo !== undefined;
  const classification = go ? 'GO' : (c?.classification ?? 'INTERNAL_ERROR');
  const reason = go ? 'every gate passed, approved, cut over, smoke checks passed' : (c?.reason ?? s.classifyError?.Cause ?? 'run did not complete');
  const summaryKey = `${w.runId}/summary.md`;
  const attempts = await readAttempts(w.runId, deps).catch(() => []);
  const md = renderSummary({ runId: w.runId, owner: w.owner, outcome: go ? 'GO' : 'NO_GO', classification, reason, classify: c, results: s.results, now: deps.clock.now(), attempts: attempts.length || undefined });
  await deps.evidence.put(summaryKey, md, 'text/markdown; charset=utf-8');
  await deps.evidence.put(
    stepKey(w.runId, 'summary'),
    canonicalJson(stepRecord({ step: 'summary', command: 'summary', owner: w.owner, now: deps.clock.now(), result: go ? 'PASS' : 'FAIL', details: { outcome: go ? 'GO' : 'NO_GO', classification, reason, attempts: attempts.length } })),
    'application/json',
  );
  // Listed (and hashed) once; what Summary writes after that is added from the digests its own puts return.
  const files = new Map((await deps.evidence.list(`${w.runId}/`)).map((f) => [f.key, f]));
  const put = async (name: string, body: string, type: string) => {
    const o = await deps.evidence.put(`${w.runId}/${name}`, body, type);
    files.set(o.key, o);
  };
  const rec = await readRecords(w, [...files.values()], deps);
  if ((s.spec as { evidence?: { profile?: string } } | undefined)?.evidence?.profile === 'seed003') {
    const { steps, chunks } = rec;
    const input = { runId: w.runId, owner: w.owner, outcome: go ? ('GO' as const) : ('NO_GO' as const), classification, nowUtc: deps.clock.now().toISOString(), chunks, summaryMd: md };
    for (const f of seed003Files({ ...input, steps: new Map(steps.map((r) => [r.step, r])) })) await put(f.name, f.body, f.name.endsWith('.md') ? 'text/markdown; charset=utf-8' : 'text/plain; charset=utf-8');
  }
  const listed = () =>
    [...files.values()].filter((f) => !isUnlisted(f.key.slice(w.runId.length + 1))).map((f) => ({ file: f.key.slice(w.runId.length + 1), sha256: f.sha256, size: f.size }));
  await put('report.html', await buildReport(w, { go, classification, reason, c, attempts }, s, rec, listed(), deps), 'text/html; charset=utf-8');
  const built = buildManifest(w.runId, listed());
  // Signed: a chain rebuilt over forged files cannot carry a valid signature without the key.
  const manifest = deps.signer ? { ...built, signature: await signRoot(deps.signer, w.runId, 'manifest', built.root) } : built;
  const manifestKey = `${w.runId}/manifest.json`;
  await deps.evidence.put(manifestKey, canonicalJson(manifest), 'application/json');
  return { outcome: go ? 'GO' : 'NO_GO', classification, reason, summaryKey, manifestKey, manifestRoot: manifest.root, attempts: attempts.length };
}
