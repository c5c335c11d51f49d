/**
 * Local go/no-go: pending approvals in memory, task tokens as promises, the
 * approval page on 127.0.0.1 (GET shows, POST decides) and a terminal prompt.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createInterface } from 'node:readline/promises';
import { decideApproval, verifyApprovalLink } from '../../core/approval';
import type {
  ApprovalChannel,
  ApprovalDecision,
  ApprovalRequest,
  ApprovalStore,
  Clock,
  EvidenceStore,
  Logger,
  PendingApproval,
  TaskTokens,
} from '../../ports';

export class MemoryApprovalStore implements ApprovalStore {
  private readonly pending = new Map<string, PendingApproval>();
  private readonly decided = new Map<string, ApprovalDecision>();
  async save(p: PendingApproval) {
    this.pending.set(p.approvalId, p);
  }
  async get(id: string) {
    return this.pending.get(id);
  }
  async decideOnce(d: ApprovalDecision) {
    if (this.decided.has(d.approvalId)) return false;
    this.decided.set(d.approvalId, d);
    return true;
  }
  /** The newest pending approval of a run, for the terminal prompt and --auto-approve. */
  latestFor(runId: string): PendingApproval | undefined {
    return [...this.pending.values()].filter((p) => p.runId === runId && !this.decided.has(p.approvalId)).at(-1);
  }
}

/** An error whose name is the ASL error the GoNoGo Catch matches. */
export class TaskFailure extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export class LocalTaskTokens implements TaskTokens {
  private readonly waiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  /** A token and the promise that settles when someone answers it. */
  mint(): { token: string; wait: Promise<unknown> } {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    const wait = new Promise<unknown>((resolve, reject) => this.waiters.set(token, { resolve, reject }));
    // The answer may come before anyone awaits it (auto-reject during delivery): not an unhandled rejection.
    wait.catch(() => undefined);
    return { token, wait };
  }
  async succeed(token: string, output: unknown) {
    const w = this.take(token);
    w.resolve(output);
  }
  async fail(token: string, error: string, cause: string) {
    const w = this.take(token);
    let message = cause;
    try {
      message = (JSON.parse(cause) as { errorMessage?: string }).errorMessage ?? cause;
    } catch {}
    w.reject(new TaskFailure(error, message));
  }
  private take(token: string) {
    const w = this.waiters.get(token);
    if (!w) throw new Error('TaskTimedOut: the task token is unknown or already answered');
    this.waiters.delete(token);
    return w;
  }
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#111}
pre{background:#f4f4f4;padding:.75rem;overflow:auto}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}
.approve{background:#0a7d2c;color:#fff;border:0}.reject{background:#b00020;color:#fff;border:0}label{display:block;margin-top:.75rem}
input,textarea{width:100%;font:inherit}</style></head><body>${body}</body></html>`;
}

export interface ApprovalPageDeps {
  readonly approvalStore: ApprovalStore;
  readonly tokens: TaskTokens;
  readonly evidence: EvidenceStore;
  readonly clock: Clock;
  readonly secret: string;
  readonly logger: Logger;
}

/** The local approval page: GET /approve renders and decides nothing; POST /approve decides once. */
export class LocalApprovalPage {
  private server?: http.Server;
  private readonly requests = new Map<string, ApprovalRequest>();
  baseUrl = '';

  constructor(private readonly deps: ApprovalPageDeps) {}

  remember(r: ApprovalRequest) {
    this.requests.set(r.approvalId, r);
  }

  async start(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as { port: number };
    this.baseUrl = `http://127.0.0.1:${addr.port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const send = (status: number, title: string, body: string) =>
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page(title, body));
    if (url.pathname === '/healthz') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (url.pathname !== '/approve') return send(404, 'Not found', '<h1>Not found</h1>');
    if (req.method === 'GET') {
      const link = { approvalId: url.searchParams.get('id'), expiresAt: url.searchParams.get('exp'), sig: url.searchParams.get('sig') };
      const check = verifyApprovalLink(link, this.deps.secret, this.deps.clock.now());
      if (!check.ok) return send(check.status, 'Link refused', `<h1>This approval link cannot be used</h1><p>${esc(check.reason)}</p>`);
      const r = this.requests.get(link.approvalId!);
      return send(
        200,
        `Go / no-go: ${r?.runId ?? ''}`,
        `<h1>Go / no-go for run <code>${esc(r?.runId ?? '?')}</code></h1>
<p>Owner: ${esc(r?.owner ?? '?')} · Target: ${esc(r?.target ?? '?')} · Link expires ${esc(link.expiresAt!)}</p>
<h2>Gate results</h2><pre>${esc(r?.summary ?? '')}</pre>
<h2>GO will</h2><ol>${(r?.goActions ?? []).map((a) => `<li>${esc(a)}</li>`).join('')}</ol>
<form method="post" action="/approve">
<input type="hidden" name="id" value="${esc(link.approvalId!)}"><input type="hidden" name="exp" value="${esc(link.expiresAt!)}"><input type="hidden" name="sig" value="${esc(link.sig!)}">
<label>Your name or e-mail <input name="approver" required autocomplete="email"></label>
<label>Comment <textarea name="comment" rows="3"></textarea></label>
<p><button class="approve" name="decision" value="approve">Approve (GO)</button><button class="reject" name="decision" value="reject">Reject (NO-GO)</button></p>
</form>`,
      );
    }
    if (req.method !== 'POST') return send(405, 'Method not allowed', '<h1>Method not allowed</h1>');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const link = { approvalId: form.get('id'), expiresAt: form.get('exp'), sig: form.get('sig') };
    const check = verifyApprovalLink(link, this.deps.secret, this.deps.clock.now());
    if (!check.ok) return send(check.status, 'Link refused', `<h1>This approval link cannot be used</h1><p>${esc(check.reason)}</p>`);
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'reject')
      return send(400, 'Bad request', `<h1>Unknown decision</h1><p>got ${esc(JSON.stringify(decision))}; expected "approve" or "reject"</p>`);
    const out = await decideApproval(
      {
        approvalId: link.approvalId!,
        decision,
        approver: (form.get('approver') ?? '').trim(),
        comment: (form.get('comment') ?? '').trim(),
        via: 'local page',
        sourceIp: req.socket.remoteAddress ?? undefined,
        userAgent: req.headers['user-agent'] ?? undefined,
      },
      this.deps,
    );
    if (!out.ok) return send(out.status, 'Decision refused', `<h1>Decision refused</h1><p>${esc(out.reason)}</p>`);
    return send(200, 'Decision recorded', `<h1>${decision === 'approve' ? 'Approved: GO' : 'Rejected: NO-GO'}</h1><p>Recorded for run ${esc(out.decision.runId)} by ${esc(out.decision.approver)} at ${esc(out.decision.decidedAt)}.</p>`);
  }
}

/** How a local run answers its go/no-go. */
export type LocalApprovalMode =
  | { kind: 'auto'; decision: 'approve' | 'reject'; approver: string; comment: string }
  | { kind: 'interactive' }
  | { kind: 'page-only' };

/** The local channel: shows the link, and answers by itself (auto) or asks on the terminal. */
export class LocalApprovalChannel implements ApprovalChannel {
  readonly kind = 'local';
  private rl?: ReturnType<typeof createInterface>;
  constructor(
    private readonly pageServer: LocalApprovalPage,
    private readonly mode: LocalApprovalMode,
    private readonly deps: ApprovalPageDeps,
    private readonly out: (line: string) => void,
  ) {}

  async deliver(r: ApprovalRequest): Promise<void> {
    this.pageServer.remember(r);
    this.out(`Go / no-go for ${r.runId}: open ${r.approveUrl ?? '(no page)'}`);
    if (this.mode.kind === 'auto') {
      const { decision, approver, comment } = this.mode;
      const res = await decideApproval({ approvalId: r.approvalId, decision, approver, comment, via: 'auto-approve flag' }, this.deps);
      if (!res.ok) throw new Error(`auto ${decision} refused: ${res.reason}`);
      this.out(`  ${decision === 'approve' ? 'approved' : 'rejected'} automatically as ${approver}`);
    } else if (this.mode.kind === 'interactive') {
      void this.prompt(r);
    }
  }

  private async prompt(r: ApprovalRequest) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    this.rl = rl;
    try {
      this.out(`\n${r.summary}\nGO will:\n${r.goActions.map((a, i) => `  ${i + 1}. ${a}`).join('\n')}`);
      const answer = (await rl.question('Approve this cutover? [approve/reject] ')).trim().toLowerCase();
      const decision = answer.startsWith('a') || answer === 'y' || answer === 'yes' ? 'approve' : 'reject';
      const approver = (await rl.question('Your name or e-mail: ')).trim() || process.env.USER || 'operator';
      const comment = (await rl.question('Comment: ')).trim();
      const res = await decideApproval({ approvalId: r.approvalId, decision, approver, comment, via: 'terminal' }, this.deps);
      if (!res.ok) this.out(`decision refused: ${res.reason}`);
    } catch {
      // stdin closed or the page decided first: the page remains the way to answer
    } finally {
      rl.close();
    }
  }

  /** Stop a prompt still waiting (the page may have decided first). */
  dispose() {
    this.rl?.close();
  }
}
