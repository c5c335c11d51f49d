/**
 * The stages of a cutover, one function per Task state. Handlers (Lambda or
 * local) parse the payload and call these; every stage writes its evidence
 * record, also when it fails, and throws the named error the ASL catches.
 */
import { backfillPlanFile, gateKey, specKey, stepKey } from './evidence-layout';
import type { Deps } from '../ports';
import { approverProblems } from './approval';

import { type Chunk, checkpointsOfPlan, fixedBackfillPlan, runChunk } from './backfill';
import { ensureBackup } from './backup';
import { guard } from './checks';
import { decide } from './decision';

import { BackfillFailed, CutlineError, CutoverFailed, EnvironmentBlocked, errorMessage, MigrationFailed, MigrationStillRunning, SpecInvalid } from './errors';
import { isConnectionLost } from './retry';

import { canonicalJson, DIGESTS_SUFFIX, readEvidenceJson, renderDigests, sha256Hex } from './evidence';
import { isResumeOf, readAttempts, recordAttempt, resumeProblem } from './attempts';

import { applyMigrations, expandFiles, loadMigrations, type Migration } from './migrations';
import { lintMigrations } from './lint';

import type { GateChunkInput, StageState } from './payloads';
import { type Baseline, runPreflight } from './preflight';

import { holdRunLease } from './lease';

import { checksSeconds, dbRef, parseSpec, platformProblems, type RunSpec } from './spec';

import { smokeFailure, smokeResults } from './smoke';
import { runVerify } from './verify';
import { combine, fastGate, type GateOutcome } from './compare/verdict';

import { aggregateGates, checkGateBatch, gateItemsKey, type GateSink, planGates, readGateEstimate, renderDiffReport, type TableReport } from './compare/stage';
import { type GateEstimate, gateBatchSize, gateLanes } from './estimate';
import { endWho, type Invocation, who, recorded, renewLease, leaseHolder } from './stage-record';
import { required } from './stage-results';

import { goActions } from './cutover-stages';


/** The baseline (row counts before any change) fixed on the first attempt. */
export const baselineKey = (runId: string) => stepKey(runId, 'preflight', '/baseline');

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
    // The runbook's own prechecks, once the built-in ones pass (a database that is not there fails those first).
    const guarded = await guard(s.spec, 'preflight', deps, { checks: out.checks });
    // One run per database for the whole run: taken here, renewed by every stage, released by Summary.
    await holdRunLease(s.spec, leaseHolder(s), deps.sql);
    let baseline: Baseline = stored ?? { taken_utc: deps.clock.now().toISOString(), counts: out.baselineCounts };
    if (!stored && !(await deps.evidence.putIfAbsent(key, canonicalJson(baseline), 'application/json')))
      baseline = (await readEvidenceJson<Baseline>(deps.evidence, key))!;
    return {
      value: { ok: true, checks: out.checks.length, baselineCounts: baseline.counts },
      details: { checks: out.checks, ...guarded, baselineCounts: baseline.counts, baselineTakenUtc: baseline.taken_utc, baselineReused: !!stored },
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

/**
 * Apply the expand files (Schema) or contract files (Cutover; a progressive cutover's phase applies the versions it
 * names, `only`, and Cutover those no phase names). History, lint and resume as for every migration.
 */
export async function applyPhase(s: StageState, deps: Deps, phase: 'expand' | 'contract', inv: Invocation, only?: (version: string) => boolean) {
  const { m, client, migrations, isContract } = await loadAll(s, deps);
  const mine = (x: Migration) => (phase === 'contract') === isContract(x) && (!only || only(x.version));
  const files = migrations.filter(mine);
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
    apply: mine,
    baselineVersion: m.baselineVersion,
    leaseSeconds: m.leaseSeconds,
    lockTimeoutMs: m.lockTimeoutMs,
    lockRetries: m.lockRetries,
    remainingMs: inv.remainingMs,
    stage: phase === 'contract' ? 'Contract' : 'Schema',
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

/**
 * Contract migrations after actions (Cutover's, a phase's): applied with history, lint and resume; a failure is
 * CutoverFailed (the run rolls back), a build still running or a dropped connection goes to the state's Retry.
 */
export async function applyContract(s: StageState, deps: Deps, inv: Invocation, only: (version: string) => boolean, what: string, actions: readonly unknown[]) {
  if (!s.spec.migrations?.contractLocation) return undefined;
  try {
    return (await applyPhase(s, deps, 'contract', inv, only)).details;
  } catch (e) {
    // A build still running when the invocation's time is up: the state retries, the next invocation follows it.
    if (e instanceof MigrationStillRunning) throw e;
    // Backends terminated past Schema's own retries: the state runs the stage again (its actions are done-before).
    if (!(e instanceof CutlineError) && isConnectionLost(e)) throw e;
    throw new CutoverFailed(`${what} failed: ${errorMessage(e)}`, { actions, ...(e instanceof CutlineError ? e.details : {}) });
  }
}

/** One invocation of a stage's function: its time left (Lambda's context; locally the runner's function timeout). */
export async function schemaStage(s: StageState, deps: Deps, inv: Invocation = {}) {
  return recorded(deps, who(s), 'schema', 'schema: lint, validate and apply versioned migrations (expand)', async () => {
    await renewLease(s, deps);
    // The backup first: nothing changes before it is there (a resume finds the same one).
    const backup = await ensureBackup(s.spec, deps, inv.remainingMs);
    const withBackup = backup ? { backup } : {};
    if (!s.spec.migrations) {
      const details = { reason: 'no migrations in the spec', ...withBackup };
      const guarded = await guard(s.spec, 'schema', deps, details);
      return { value: { applied: 0, skipped: 0, directoryHash: '' }, result: guarded.stepChecks || backup ? ('PASS' as const) : ('SKIPPED' as const), details: { ...details, ...guarded } };
    }
    const applied = await applyPhase(s, deps, 'expand', inv);
    const { out } = applied;
    const details = { ...applied.details, ...withBackup };
    // The checks get an invocation with the time they may take: after long migrations the next invocation runs them
    // (the state retries MigrationStillRunning; the migrations are done and skipped).
    const need = checksSeconds(s.spec, 'schema') * 1000;
    if (need && inv.remainingMs && inv.remainingMs() < need + 30_000)
      throw new MigrationStillRunning(`the schema checks may take ${need / 1000} s; ${Math.round(inv.remainingMs() / 1000)} s are left: the next invocation runs them`);
    // Checks of the migrated schema (seed 004's migration-history check): a failure is MIGRATION_FAILED unless named otherwise.
    const guarded = await guard(s.spec, 'schema', deps, details);
    return { value: { applied: out.applied.length, skipped: out.skipped, directoryHash: out.directoryHash }, details: { ...details, ...guarded } };
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
    const baseline = s.results.preflight?.baselineCounts ?? {};
    // Summary's backfill table: the checkpoints were just read, they are not read again.
    const out = { ...(await runVerify(s.spec, baseline, deps)), ...(backfill.tasks.length ? { backfill: backfill.tasks } : {}) };
    const ok = out.assertions.every((a) => a.ok) && out.tables.every((t) => !t.error);
    const guarded = await guard(s.spec, 'verify', deps, { ...out });
    return {
      value: out,
      result: ok ? 'PASS' : 'FAIL',
      details: { ...out, ...guarded },
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

/** GatePlan: chunks planned once on the source; small plans travel inline, big ones are read by a Distributed Map in batches. */
export async function gatePlanStage(s: StageState, deps: Deps, remainingMs?: () => number, platform: 'aws' | 'local' = 'local') {
  const { file, items, count, maxItemBytes, reused } = await planGates(s.spec, deps, remainingMs, platform);
  // planGates hands back the chunks only when there are at most distributedAbove of them.
  const distributed = !items || !inlinePhases([items], s.spec.gates.distributedAbove)[0];
  return {
    tables: file.tables.map((t) => ({ table: t.table, chunks: t.chunks, ...(t.error ? { error: t.error } : {}) })),
    count,
    reused,
    distributed,
    // The Map's MaxConcurrencyPath: chunks (inline) or child executions (Distributed) at once.
    lanes: gateLanes(s.spec, distributed),
    ...(distributed ? { batchSize: gateBatchSize(s.spec, maxItemBytes) } : { chunks: items }),
    itemsObjectKey: deps.evidence.objectKey(gateItemsKey(s.spec.runId)),
    resultsPrefix: deps.work.objectKey(gateKey(s.spec.runId, 'map-results')),
  };
}

export async function gateChunkStage(input: GateChunkInput, deps: Deps, remainingMs?: () => number) {
  return 'Items' in input ? checkGateBatch(input.BatchInput.spec, input.Items, deps, remainingMs) : checkGateBatch(input.spec, [input.chunk], deps, remainingMs);
}

/** The estimate GatePlan kept beside what the run measured: chunks, rows, plan and check seconds, rows/s. */
export function scaleOf(estimate: (GateEstimate & { started_utc: string }) | undefined, sink: GateSink, tables: readonly TableReport[]) {
  const plan = sink.planned;
  if (!estimate || !plan?.planned_utc) return undefined;
  const secs = (a: string | undefined, b: string | undefined) => (a && b ? Math.max(0, (Date.parse(b) - Date.parse(a)) / 1000) : null);
  const rows = tables.reduce((n, t) => n + Number(t.exact?.source ?? t.fast?.source ?? 0), 0);
  const check = secs(plan.planned_utc, sink.lastFinishedUtc);
  return {
    estimate: { chunks: estimate.chunks, rows: estimate.rows, planSeconds: estimate.seconds.plan, checkSeconds: estimate.seconds.check, rowsPerSecond: estimate.rowsPerSecond, usd: estimate.usd.orchestration },
    actual: { chunks: plan.items, rows, planSeconds: secs(plan.started_utc, plan.planned_utc), checkSeconds: check, rowsPerSecond: check ? Math.round(rows / check) : null },
  };
}

export async function gatesStage(s: StageState, deps: Deps) {
  const methods = s.spec.gates.methods.join(' + ');
  return recorded(deps, who(s), 'gates', `method gates (${methods}) and count tolerance`, async () => {
    await renewLease(s, deps);
    const verify = required(s.results, 'verify', 'Gates');
    const counts = fastGate(verify.tables, s.spec.gates.fast);
    // Every check of every chunk, one JSON line each: the full per-chunk data, in one file beside the per-table report,
    // written as the checkpoints are read (a run of 10^6 chunks never holds it whole).
    const chunkFile = deps.evidence.writer(gateKey(s.spec.runId, 'chunks.jsonl'), 'application/x-ndjson');
    let written = 0;
    const sink: GateSink = {
      lines: (text) => {
        written++;
        return chunkFile.write(text);
      },
      digests: [],
    };
    const tables = await aggregateGates(s.spec, deps, sink).catch(async (e) => {
      await chunkFile.abort();
      throw e;
    });
    if (written) sink.digests!.push(await chunkFile.close());
    else await chunkFile.abort();
    if (sink.digests!.length) await deps.evidence.put(gateKey(s.spec.runId, `chunks${DIGESTS_SUFFIX}`), renderDigests(sink.digests!), 'application/x-ndjson');
    await deps.evidence.put(gateKey(s.spec.runId, 'report.json'), canonicalJson(tables), 'application/json');
    const scale = scaleOf(await readGateEstimate(s.spec.runId, deps.evidence), sink, tables);
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
    return { value: gate, result: verdict === 'PASS' ? 'PASS' : 'FAIL', details: { ...gate, tables: counts.tables, methodReports: tables, ...(scale ? { scale } : {}) } };
  });
}

export async function decideStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'decide', 'decision matrix', async () => {
    await renewLease(s, deps);
    const d = decide(required(s.results, 'verify', 'Decide'), required(s.results, 'gates', 'Decide'));
    const go = goActions(s.spec);
    // The promotion gate, before the go/no-go so a failure never promotes (seed 003): the runbook's checks (the consumer
    // sync), then the smoke checks against the new path (200 / 404, the idempotency replay) when smoke.at says so.
    const guarded = await guard(s.spec, 'promotion', deps, { ...d, goActions: go });
    // Smoke results under `checks`, as in 11_smoke.json when smoke runs after the flip.
    const smoke = s.spec.smoke.at === 'promotion' && s.spec.smoke.checks.length ? await smokeResults(s.spec, deps) : undefined;
    const details = { ...d, goActions: go, ...guarded, ...(smoke ? { checks: smoke } : {}) };
    const failed = smoke && smokeFailure(smoke, details);
    if (failed) throw failed;
    return { value: { ...d, goActions: go }, details };
  });
}
