/**
 * The approval API, the same for the Lambda Function URL and the local page:
 *   GET  /approve?id&exp&sig  shows the gate results and a form, decides nothing
 *                             (mail scanners prefetch GET links)
 *   POST /approve             decides, after the signature and the expiry
 *   POST /slack               Slack interactivity: signed request, the Slack user is the approver
 * Refused links get a clear page and a 4xx, and change nothing.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ApprovalStore, ApproverDirectory, Clock, EvidenceStore, HttpClient, Logger, TaskTokens } from '../ports';
import { decideApproval, verifyApprovalLink } from './approval';
import { errorMessage } from './errors';
import { verifySlackRequest } from './slack';
import { escapeHtml } from './html';

export interface ApprovalHttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly sourceIp?: string;
  readonly userAgent?: string;
}
export interface ApprovalHttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}
export interface ApprovalHttpDeps {
  readonly approvalStore: ApprovalStore;
  readonly tokens: TaskTokens;
  readonly evidence: EvidenceStore;
  readonly clock: Clock;
  readonly http?: HttpClient;
  readonly logger?: Logger;
  /** Who is who in Slack (deploy config approval.approvers). */
  readonly directory?: ApproverDirectory;
  secret(): Promise<string>;
  slackSigningSecret?(): Promise<string>;
  /**
   * Decide a Slack vote after answering: Slack wants its HTTP 200 within 3 seconds, and a decision waits on S3 and
   * Step Functions. In AWS the function invokes itself asynchronously with the job (decideSlack runs there and
   * reports through the message's response_url). None: decided before answering.
   */
  deferSlack?(job: SlackDecision): Promise<void>;
}

/** A verified Slack vote, decided after Slack got its answer (in AWS: the event of the function's own asynchronous invocation). */
export const SlackDecision = z.strictObject({
  approvalId: z.string().min(1),
  decision: z.enum(['approve', 'reject']),
  approver: z.string().min(1),
  identifiedBy: z.enum(['slack user', 'unmapped slack user']),
  userId: z.string(),
  responseUrl: z.string().url().optional(),
});
export type SlackDecision = z.infer<typeof SlackDecision>;

const esc = escapeHtml;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${esc(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#111}
pre{background:#f4f4f4;padding:.75rem;overflow:auto}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}
.approve{background:#0a7d2c;color:#fff;border:0}.reject{background:#b00020;color:#fff;border:0}label{display:block;margin-top:.75rem}
input,textarea{width:100%;font:inherit}</style></head><body>${body}</body></html>`;
}

/** No script, no remote anything: the page's one inline style, forms posting back to it, never framed. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const;

const html = (status: number, title: string, body: string): ApprovalHttpResponse => ({ status, headers: { ...PAGE_HEADERS }, body: page(title, body) });

/** A decision is posted from the page itself: a cross-site form (another origin, Sec-Fetch-Site cross-site) is refused. */
function crossSite(req: ApprovalHttpRequest): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site && site !== 'same-origin' && site !== 'none') return `the form was posted from another site (Sec-Fetch-Site: ${site})`;
  // Browsers send Origin: null for a form posted under Referrer-Policy no-referrer (this page's): only a real origin is compared.
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin && origin !== 'null' && host) {
    let from: string | undefined;
    try {
      from = new URL(origin).host;
    } catch {
      from = origin;
    }
    if (from !== host) return `the form was posted from ${origin}, not from this page`;
  }
  return undefined;
}
const refused = (status: number, reason: string) => html(status, 'Link refused', `<h1>This approval link cannot be used</h1><p>${esc(reason)}</p><p>Nothing was decided.</p>`);

export async function handleApprovalHttp(req: ApprovalHttpRequest, deps: ApprovalHttpDeps): Promise<ApprovalHttpResponse> {
  try {
    if (req.path === '/healthz') return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' };
    if (req.path === '/slack' && req.method === 'POST') return await slack(req, deps);
    if (req.path !== '/approve') return html(404, 'Not found', '<h1>Not found</h1>');
    if (req.method === 'GET') {
      const link = { approvalId: req.query.get('id'), expiresAt: req.query.get('exp'), sig: req.query.get('sig'), who: req.query.get('who') };
      const check = verifyApprovalLink(link, await deps.secret(), deps.clock.now());
      if (!check.ok) return refused(check.status, check.reason);
      const p = await deps.approvalStore.get(link.approvalId!);
      if (!p) return refused(404, `no pending approval ${link.approvalId}`);
      const done = await deps.approvalStore.final(p.approvalId);
      if (done) return html(409, 'Already decided', `<h1>Already decided</h1><p>${esc(done.decision === 'approve' ? 'Approved' : 'Rejected')} by ${esc(done.approver)} at ${esc(done.decidedAt)}.</p>`);
      const r = p.request;
      // A view is a heartbeat (the state machine's HeartbeatSeconds); a failure here must not hide the page.
      await deps.tokens.heartbeat(p.taskToken).catch(() => undefined);
      return html(
        200,
        `Go / no-go: ${p.runId}`,
        `<h1>Go / no-go for run <code>${esc(p.runId)}</code></h1>
<p>Owner: ${esc(r?.owner ?? '?')} · Target: ${esc(r?.target ?? '?')} · Link expires ${esc(link.expiresAt!)}${(p.required ?? 1) > 1 ? ` · ${p.required} approvals needed` : ''}</p>
<h2>Gate results</h2><pre>${esc(r?.summary ?? '')}</pre>
<h2>GO will</h2><ol>${(r?.goActions ?? []).map((a) => `<li>${esc(a)}</li>`).join('')}</ol>
${r?.reportUrl ? `<p><a href="${esc(r.reportUrl)}">Evidence report</a></p>` : ''}
<form method="post" action="approve">
<input type="hidden" name="id" value="${esc(link.approvalId!)}"><input type="hidden" name="exp" value="${esc(link.expiresAt!)}"><input type="hidden" name="sig" value="${esc(link.sig!)}">
${link.who ? `<input type="hidden" name="who" value="${esc(link.who)}"><p>You decide as <strong>${esc(link.who)}</strong> (named by this link).</p>` : '<label>Your name or e-mail <input name="approver" required autocomplete="email"></label>'}
<label>Comment <textarea name="comment" rows="3"></textarea></label>
<p><button class="approve" name="decision" value="approve">Approve (GO)</button><button class="reject" name="decision" value="reject">Reject (NO-GO)</button></p>
</form>`,
      );
    }
    if (req.method !== 'POST') return html(405, 'Method not allowed', '<h1>Method not allowed</h1>');
    const foreign = crossSite(req);
    if (foreign) return refused(403, foreign);
    const form = new URLSearchParams(req.body);
    const link = { approvalId: form.get('id'), expiresAt: form.get('exp'), sig: form.get('sig'), who: form.get('who') };
    const check = verifyApprovalLink(link, await deps.secret(), deps.clock.now());
    if (!check.ok) return refused(check.status, check.reason);
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'reject') return html(400, 'Bad request', `<h1>Unknown decision</h1><p>got ${esc(JSON.stringify(decision))}; expected "approve" or "reject"</p>`);
    const out = await decideApproval(
      {
        approvalId: link.approvalId!,
        decision,
        // A personal link names the approver in its signature; otherwise the form says who decides.
        approver: (link.who ?? form.get('approver') ?? '').trim(),
        comment: (form.get('comment') ?? '').trim(),
        via: 'approval page',
        identifiedBy: link.who ? 'personal link' : 'typed name',
        ...(req.sourceIp ? { sourceIp: req.sourceIp } : {}),
        ...(req.userAgent ? { userAgent: req.userAgent } : {}),
      },
      deps,
    );
    if (!out.ok) return html(out.status, 'Decision refused', `<h1>Decision refused</h1><p>${esc(out.reason)}</p>`);
    const head = !out.final ? `Approval recorded: ${out.approvals} of ${out.required}` : decision === 'approve' ? 'Approved: GO' : 'Rejected: NO-GO';
    return html(200, 'Decision recorded', `<h1>${esc(head)}</h1><p>Recorded for run ${esc(out.decision.runId)} by ${esc(out.decision.approver)} at ${esc(out.decision.decidedAt)}.</p>`);
  } catch (e) {
    // Details go to the log, never to the page.
    const ref = randomUUID();
    deps.logger?.error('approval request failed', { ref, error: errorMessage(e) });
    return html(500, 'Error', `<h1>Something went wrong</h1><p>Reference ${esc(ref)}: the operator finds the details in the logs.</p><p>Nothing was decided unless the page said so.</p>`);
  }
}

/** Slack block_actions: the verified Slack user decides; the message is replaced with the outcome. */
async function slack(req: ApprovalHttpRequest, deps: ApprovalHttpDeps): Promise<ApprovalHttpResponse> {
  const json = (status: number, body: unknown): ApprovalHttpResponse => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!deps.slackSigningSecret) return json(404, { error: 'Slack is not configured' });
  const v = verifySlackRequest(
    { timestamp: req.headers['x-slack-request-timestamp'], signature: req.headers['x-slack-signature'] },
    req.body,
    await deps.slackSigningSecret(),
    deps.clock.now(),
  );
  if (!v.ok) return json(401, { error: v.reason });
  let payload: { user?: { id?: string; username?: string; name?: string }; actions?: { action_id?: string; value?: string }[]; response_url?: string };
  try {
    payload = JSON.parse(new URLSearchParams(req.body).get('payload') ?? '');
  } catch {
    return json(400, { error: 'expected a form field "payload" holding Slack block_actions JSON' });
  }
  const action = payload.actions?.[0];
  const decision = action?.action_id === 'cutline_approve' ? 'approve' : action?.action_id === 'cutline_reject' ? 'reject' : undefined;
  if (!decision || !action?.value) return json(400, { error: `got action ${JSON.stringify(action?.action_id ?? null)}; expected cutline_approve or cutline_reject` });
  // The Slack user id is vouched for by Slack's signature; the deploy config maps it to an approver. The user name is only a label.
  const userId = payload.user?.id ?? '';
  const mapped = userId ? deps.directory?.approvers.find((a) => a.slackUserId === userId) : undefined;
  const label = payload.user?.username ?? payload.user?.name ?? '';
  const approver = mapped ? mapped.id : `slack:${label} (${userId || '?'})`;
  const job: SlackDecision = { approvalId: action.value, decision, approver, identifiedBy: mapped ? 'slack user' : 'unmapped slack user', userId, ...(payload.response_url ? { responseUrl: payload.response_url } : {}) };
  if (deps.deferSlack) {
    // Answer first (Slack's 3 seconds), decide right after: the outcome replaces the message through response_url.
    await deps.deferSlack(job);
    return json(200, { text: `Recording the ${decision === 'approve' ? 'approval' : 'rejection'} by <@${userId}>…` });
  }
  const out = await decideSlack(job, deps);
  return json(out.status, { text: out.text });
}

/** Decide a verified Slack vote and report it in the Slack message (response_url). */
export async function decideSlack(job: SlackDecision, deps: ApprovalHttpDeps): Promise<{ status: number; text: string }> {
  const out = await decideApproval({ approvalId: job.approvalId, decision: job.decision, approver: job.approver, comment: '', via: 'slack', identifiedBy: job.identifiedBy }, deps);
  const text = out.ok
    ? out.final
      ? `${job.decision === 'approve' ? ':white_check_mark: Approved (GO)' : ':x: Rejected (NO-GO)'} by <@${job.userId}> at ${out.decision.decidedAt}`
      : `Approval by <@${job.userId}> recorded: ${out.approvals} of ${out.required}`
    : `Not recorded: ${out.reason}`;
  // The decision stands whether or not Slack takes the update (a retry of this job would only be a replay).
  if (job.responseUrl && deps.http)
    await deps.http
      .request(job.responseUrl, { method: 'POST', timeoutMs: 5000, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replace_original: out.ok && out.final, text }) })
      .catch((e) => deps.logger?.warn('the Slack message was not updated', { error: errorMessage(e) }));
  return { status: out.ok ? 200 : out.status, text };
}
