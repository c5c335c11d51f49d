/**
 * Go / no-go links: an opaque approval id, an expiry and an HMAC-SHA256
 * signature over both: never the task token. GET shows, only POST decides; a
 * decision is single-use and bound into the evidence.
 */
import { EVIDENCE_STEPS, stepKey } from './evidence-layout';
import { errorMessage } from './errors';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApprovalDecision, ApproverDirectory, Clock, EvidenceStore, ApprovalStore, TaskTokens } from '../ports';
import type { RunSpec } from './spec';
import { canonicalJson, stepRecord } from './evidence';

export function newApprovalId(): string {
  return randomBytes(16).toString('hex');
}

/** HMAC over the approval id, the expiry and (for a personal link) the approver it names. */
export function signApproval(approvalId: string, expiresAt: string, secret: string, who?: string): string {
  return createHmac('sha256', secret)
    .update(`cutline-approval-v1\n${approvalId}\n${expiresAt}${who ? `\n${who}` : ''}`)
    .digest('base64url');
}

export type LinkCheck = { ok: true } | { ok: false; status: 400 | 403 | 410; reason: string };

/** Checks a link's signature (constant time) and expiry. */
export function verifyApprovalLink(
  link: { approvalId?: string | null; expiresAt?: string | null; sig?: string | null; who?: string | null },
  secret: string,
  now: Date,
): LinkCheck {
  if (!link.approvalId || !/^[0-9a-f]{32}$/.test(link.approvalId))
    return { ok: false, status: 400, reason: `approval id ${JSON.stringify(link.approvalId ?? null)} is malformed; expected 32 hex characters` };
  if (!link.expiresAt || Number.isNaN(Date.parse(link.expiresAt)))
    return { ok: false, status: 400, reason: `expiry ${JSON.stringify(link.expiresAt ?? null)} is not a time; expected an ISO-8601 UTC time` };
  const expected = Buffer.from(signApproval(link.approvalId, link.expiresAt, secret, link.who ?? undefined));
  const got = Buffer.from(link.sig ?? '');
  if (got.length !== expected.length || !timingSafeEqual(got, expected))
    return { ok: false, status: 403, reason: 'the link signature does not match: the link was altered or not issued by cutline' };
  if (Date.parse(link.expiresAt) <= now.getTime())
    return { ok: false, status: 410, reason: `the link expired at ${link.expiresAt}` };
  return { ok: true };
}

/** The query of an approval link; with `who`, a personal link whose signature names the approver. */
export function approvalQuery(approvalId: string, expiresAt: string, secret: string, who?: string): string {
  const q = new URLSearchParams({ id: approvalId, exp: expiresAt, ...(who ? { who } : {}), sig: signApproval(approvalId, expiresAt, secret, who) });
  return q.toString();
}

/** The form an identity is compared and recorded in: trimmed; an e-mail address in lower case (ids like Slack's keep their case). */
export function normalizeIdentity(who: string): string {
  const t = who.trim();
  return /^[^\s@]+@[^\s@]+$/.test(t) ? t.toLowerCase() : t;
}

/**
 * Why an unattended decision (`--auto-approve` / `--auto-reject`) could never count, found before the run starts:
 * an approver not on the spec's list (the vote would be refused), or one vote where the spec needs several (the
 * go/no-go could only time out). Undefined when it can count.
 */
export function autoDecisionProblem(approval: Pick<RunSpec['approval'], 'approvers' | 'required'>, approver: string, flag: '--auto-approve' | '--auto-reject'): string | undefined {
  const list = approval.approvers ?? [];
  if (list.length && !list.map(normalizeIdentity).includes(normalizeIdentity(approver)))
    return `--approver: got ${JSON.stringify(approver)}; expected one of approval.approvers (${list.join(', ')}), as a vote from anyone else is refused`;
  if (flag === '--auto-approve' && approval.required > 1)
    return `--auto-approve: casts one vote, as ${approver}; approval.required is ${approval.required}, so the run could only time out; expected approval.required: 1, or the approvers answering from their own links`;
  return undefined;
}

export type DecideResult =
  | { ok: true; decision: ApprovalDecision; final: boolean; approvals: number; required: number }
  | { ok: false; status: 400 | 403 | 404 | 409 | 410 | 503; reason: string };

/**
 * Record one approver's decision and, once it decides the gate, answer the
 * waiting task: one reject -> SendTaskFailure(ApprovalRejected); the
 * required number of approvals (M of N, default 1) -> SendTaskSuccess.
 * Each approver decides once; the final decision is written once.
 */
export async function decideApproval(
  d: Omit<ApprovalDecision, 'runId' | 'decidedAt'>,
  deps: { approvalStore: ApprovalStore; tokens: TaskTokens; evidence: EvidenceStore; clock: Clock },
): Promise<DecideResult> {
  const store = deps.approvalStore;
  const pending = await store.get(d.approvalId);
  if (!pending) return { ok: false, status: 404, reason: `no pending approval ${d.approvalId}` };
  const now = deps.clock.now();
  if (Date.parse(pending.expiresAt) <= now.getTime()) return { ok: false, status: 410, reason: `approval ${d.approvalId} expired at ${pending.expiresAt}` };
  if (!d.approver.trim()) return { ok: false, status: 400, reason: 'approver is empty; expected the name or e-mail of the person deciding' };
  // One identity, one vote: "Alice@Example.com " and "alice@example.com" are the same person.
  d = { ...d, approver: normalizeIdentity(d.approver) };
  if (pending.approvers?.length && (d.identifiedBy === 'typed name' || d.identifiedBy === 'unmapped slack user'))
    return {
      ok: false,
      status: 403,
      reason: `run ${pending.runId} names its approvers: a vote counts only through the approver's own link, a Slack user mapped to them or their AWS identity, not ${d.identifiedBy === 'typed name' ? 'a typed name' : 'a Slack user the deploy config does not map to an approver'} (got ${JSON.stringify(d.approver)})`,
    };
  if (pending.approvers?.length && !pending.approvers.map(normalizeIdentity).includes(d.approver))
    return { ok: false, status: 403, reason: `${d.approver} is not on the approver list of run ${pending.runId}` };
  if (await store.final(d.approvalId)) return { ok: false, status: 409, reason: `approval ${d.approvalId} was already decided; a decision is single-use` };
  let decision: ApprovalDecision = { ...d, runId: pending.runId, decidedAt: now.toISOString() };
  const single = { ok: false, status: 409, reason: `${d.approver} already decided approval ${d.approvalId}; a decision is single-use` } as const;
  const repeat = !(await store.recordVote(decision));
  if (repeat) {
    // Already voted: refused, unless it is the same deciding vote again after Step Functions did not take it (no final yet).
    const earlier = (await store.votes(d.approvalId)).find((v) => v.approver === d.approver);
    if (!earlier || earlier.decision !== d.decision) return single;
    decision = earlier;
  }
  const required = Math.max(1, pending.required ?? 1);
  const votes = await store.votes(d.approvalId);
  const approvals = votes.filter((v) => v.decision === 'approve');
  const decides = d.decision === 'reject' || approvals.length >= required;
  if (repeat && !decides) return single;
  // One vote file per approver (two votes in the same millisecond never overwrite each other).
  if (!repeat)
    await deps.evidence.put(
      `${pending.gate?.votesPrefix ?? `${pending.runId}/${EVIDENCE_STEPS.goNoGo}_votes`}/${d.approver.replace(/[^A-Za-z0-9@._-]/g, '_')}_${d.decision}.json`,
      canonicalJson({ ...decision, approvals: approvals.length, required }),
      'application/json',
    );
  if (!decides) {
    await deps.tokens.heartbeat(pending.taskToken).catch(() => undefined);
    return { ok: true, decision, final: false, approvals: approvals.length, required };
  }
  const approvers = d.decision === 'approve' ? approvals.map((v) => v.approver) : [d.approver];
  // The decision takes effect when Step Functions takes it: only then is it final and recorded as PASS / FAIL.
  try {
    if (d.decision === 'approve') {
      await deps.tokens.succeed(pending.taskToken, { approvalId: d.approvalId, approver: d.approver, approvers, comment: d.comment, decidedAt: decision.decidedAt, via: d.via });
    } else {
      await deps.tokens.fail(
        pending.taskToken,
        'ApprovalRejected',
        JSON.stringify({ errorMessage: `rejected by ${d.approver} via ${d.via}: ${d.comment || '(no comment)'}` }),
      );
    }
  } catch (e) {
    const name = (e as { name?: string }).name ?? '';
    if (/TaskTimedOut|TaskDoesNotExist|InvalidToken/.test(name))
      return { ok: false, status: 410, reason: `run ${pending.runId} no longer waits for this decision (${name}); nothing took effect` };
    return { ok: false, status: 503, reason: `Step Functions did not take the ${d.decision} (${errorMessage(e)}); nothing took effect yet: submit the same decision again` };
  }
  if (!(await store.finalizeOnce(decision))) return { ok: false, status: 409, reason: `approval ${d.approvalId} was already decided; a decision is single-use` };
  await deps.evidence.put(
    pending.gate?.recordKey ?? stepKey(pending.runId, 'goNoGo'),
    canonicalJson(
      stepRecord({
        step: 'goNoGo',
        command: `${pending.gate ? `${pending.gate.name} sign-off` : 'go/no-go'} ${d.decision} via ${d.via}`,
        owner: d.approver,
        now,
        result: d.decision === 'approve' ? 'PASS' : 'FAIL',
        details: { ...decision, approvers, required, votes },
      }),
    ),
    'application/json',
  );
  return { ok: true, decision, final: true, approvals: approvals.length, required };
}

/**
 * In AWS every named approver must be reachable only by themselves: an e-mail subscription of their own (deploy
 * config approval.approvers[].email, filtered on their identity) for the email channel, or a Slack user id mapped to
 * them for the slack channel. Problems name the spec path, the value and what was expected.
 */
export function approverProblems(spec: RunSpec, directory: ApproverDirectory): { path: string; message: string }[] {
  const kinds = new Set(spec.approval.channels.map((c) => c.type));
  return (spec.approval.approvers ?? []).flatMap((who, i) => {
    const known = directory.approvers.find((a) => a.id === normalizeIdentity(who));
    if ((kinds.has('email') && known?.email) || (kinds.has('slack') && known?.slackUserId)) return [];
    return [
      {
        path: `$.approval.approvers[${i}]`,
        message: `got ${JSON.stringify(who)}, ${known ? 'which the deploy config lists without ' + [kinds.has('email') ? 'an email' : '', kinds.has('slack') ? 'a slackUserId' : ''].filter(Boolean).join(' or ') : 'who is not in the deploy config approval.approvers'}; expected an approver with ${[kinds.has('email') ? 'an email (their own subscription)' : '', kinds.has('slack') ? 'a slackUserId' : ''].filter(Boolean).join(' or ')}, so only they receive their link or their button counts`,
      },
    ];
  });
}
