/**
 * After the gates: the go/no-go request, the cutover actions (paused while a jumpbox command runs) and the smoke checks.
 */
import { stepKey } from './evidence-layout';
import type { Deps } from '../ports';
import { type ActionWaiting, describeAction, runCutover } from './actions';
import { runChecks, throwIfFailed } from './checks';
import { smokeFailure, smokeResults } from './smoke';
import { approvalQuery, newApprovalId } from './approval';
import { errorMessage } from './errors';
import { canonicalJson } from './evidence';
import type { StageState } from './payloads';
import type { RunSpec } from './spec';
import { type Invocation, who, recorded, renewLease } from './stage-record';
import { applyContract } from './pipeline';
import { phaseApprovalKey, type PhaseStep } from './phases';

/** What an approver is shown: gate results and exactly what GO will do. */
export function approvalSummary(s: StageState): { summary: string; goActions: string[] } {
  const { gates, verify } = s.results;
  const lines = [
    ...(gates?.tables ?? []).map((t) => `${t.table}: expected ${t.expected}, got ${t.actual} (${t.verdict})`),
    ...(verify?.assertions ?? []).map((a) => `assertion ${a.name}: ${a.ok ? 'no violations' : `${a.violations} violation(s)`}`),
  ];
  return { summary: lines.join('\n'), goActions: goActions(s.spec) };
}

/** Exactly what GO will do: the cutover actions, the contract migrations, then each phase with its soak. */
export function goActions(spec: RunSpec): string[] {
  return [
    ...spec.cutover.actions.map(describeAction),
    ...(spec.migrations?.contractLocation ? [`apply the contract migrations in ${spec.migrations.contractLocation} (after the actions above)`] : []),
    ...spec.phases.map(
      (p, i) =>
        `phase ${i + 1} of ${spec.phases.length}, ${p.name}: ${p.actions.map(describeAction).join('; ')}${p.soak ? `; then soak ${p.soak.seconds} s watching ${p.soak.monitors.map((m) => `${m.name} (rolls back after ${m.failAfter} failing window(s))`).join(', ') || 'nothing'}` : ''}`,
    ),
  ];
}

/**
 * GoNoGo: store the task token privately, deliver a signed link. Returns
 * what was sent (never the token); the state waits for the decision.
 */
export async function requestApprovalStage(input: { taskToken: string; state: StageState }, deps: Deps, baseUrl?: string) {
  const s = input.state;
  const approvalId = newApprovalId();
  // A phase's sign-off (PhaseGoNoGo) or the run's go/no-go: who decides, how long it waits, what it is shown, where it is recorded.
  const ph = phaseGate(s);
  const rules = ph ? { approvers: ph.phase.approval!.approvers ?? s.spec.approval.approvers, required: ph.phase.approval!.required, timeoutSeconds: ph.phase.approval!.timeoutSeconds } : s.spec.approval;
  const expiresAt = new Date(deps.clock.now().getTime() + rules.timeoutSeconds * 1000).toISOString();
  const { summary, goActions } = ph ? { summary: ph.summary, goActions: ph.phase.actions.map(describeAction) } : approvalSummary(s);
  const target = (s.spec.target ?? s.spec.source).engine;
  await deps.approvalStore.save({
    approvalId,
    runId: s.spec.runId,
    taskToken: input.taskToken,
    expiresAt,
    approvers: rules.approvers,
    required: rules.required,
    request: { owner: s.spec.owner, target, summary, goActions, reportUrl: deps.evidence.browseUrl(`${s.spec.runId}/`) },
    ...(ph ? { gate: ph.gate } : {}),
  });
  const secret = baseUrl ? await deps.approvalSecret() : '';
  const link = (who?: string) => `${baseUrl!.replace(/\/+$/, '')}/approve?${approvalQuery(approvalId, expiresAt, secret, who)}`;
  // With an approver list every approver gets a personal link (its signature names them); otherwise one link and a name field.
  const approvers = rules.approvers ?? [];
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
    ph ? ph.gate.recordKey.replace(/\.json$/, '_request.json') : stepKey(s.spec.runId, 'goNoGo', '_request'),
    canonicalJson({ approvalId, expiresAt, channels: delivered, ...(failedChannels.length ? { failedChannels } : {}), summary, goActions, requested_utc: deps.clock.now().toISOString() }),
    'application/json',
  );
  return { approvalId, expiresAt, channels: delivered };
}

/** The phase whose sign-off PhaseGoNoGo asks for (Phase left `approval` in the state), or none: the run's go/no-go. */
function phaseGate(s: StageState) {
  const at = s.results.phase as PhaseStep | undefined;
  const phase = at?.approval ? s.spec.phases[at.index] : undefined;
  if (!at || !phase?.approval) return undefined;
  const recordKey = phaseApprovalKey(s.spec.runId, at.index, phase);
  const before = at.index > 0 ? `phase ${at.index} (${s.spec.phases[at.index - 1]!.name}) applied and soaked without a tripped monitor` : 'the cutover and its smoke checks passed';
  return {
    phase,
    summary: `sign-off for phase ${at.index + 1} of ${s.spec.phases.length}, ${phase.name}: ${before}`,
    gate: { name: `phase ${phase.name}`, recordKey, votesPrefix: recordKey.replace(/\.json$/, '_votes') },
  };
}

/** The command a stage paused at, as its previous call left it in the state (the Wait loop calls the stage again). */
export function waitingIn(s: StageState, stage: 'cutover' | 'rollback'): ActionWaiting | undefined {
  return s.results[stage]?.waiting;
}

export async function cutoverStage(s: StageState, deps: Deps, inv: Invocation = {}) {
  return recorded<{ waiting: ActionWaiting } | { actions: number; contract: number }>(deps, who(s), 'cutover', 'cutover actions, then contract migrations', async () => {
    await renewLease(s, deps);
    const step = await runCutover(s.spec, deps, waitingIn(s, 'cutover'));
    if (step.waiting) return { value: { waiting: step.waiting }, pending: true as const };
    const actions = step.actions;
    // The contract files no phase applies (a progressive cutover's phases apply the versions they name).
    const claimed = new Set(s.spec.phases.flatMap((p) => p.contract));
    const contract = await applyContract(s, deps, inv, (v) => !claimed.has(v), 'contract migrations', actions);
    return { value: { actions: actions.length, contract: contract?.applied.length ?? 0 }, details: { actions, ...(contract ? { contract } : {}) } };
  });
}

export async function smokeStage(s: StageState, deps: Deps) {
  return recorded(deps, who(s), 'smoke', 'smoke checks', async () => {
    await renewLease(s, deps);
    // Smoke checks that ran as the promotion gate (08_decide) are not run again after the flip.
    const atPromotion = s.spec.smoke.at === 'promotion';
    const checks = atPromotion ? [] : await smokeResults(s.spec, deps);
    // The runbook's after-cutover checks run also when a smoke check failed: the record shows all of them, then the run rolls back.
    const stepChecks = s.spec.checks.some((c) => c.at === 'smoke') ? await runChecks(s.spec, 'smoke', deps) : undefined;
    const details = { checks, ...(atPromotion ? { smokeRanAt: 'promotion (08_decide)' } : {}), ...(stepChecks ? { stepChecks } : {}) };
    const failed = smokeFailure(checks, details);
    if (failed) throw failed;
    throwIfFailed(stepChecks ?? [], details);
    return { value: { checks: checks.length + (stepChecks?.length ?? 0) }, details };
  });
}
