/**
 * Local go/no-go: pending approvals in memory, task tokens as promises, the
 * approval page on 127.0.0.1 (GET shows, POST decides) and a terminal prompt.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createInterface } from 'node:readline/promises';
import { decideApproval } from '../../core/approval';
import { handleApprovalHttp } from '../../core/approval-http';
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
  private readonly voted = new Map<string, ApprovalDecision[]>();
  private readonly finals = new Map<string, ApprovalDecision>();
  async save(p: PendingApproval) {
    this.pending.set(p.approvalId, p);
  }
  async get(id: string) {
    return this.pending.get(id);
  }
  async latestFor(runId: string) {
    return [...this.pending.values()].filter((p) => p.runId === runId && !this.finals.has(p.approvalId)).at(-1);
  }
  async recordVote(d: ApprovalDecision) {
    const list = this.voted.get(d.approvalId) ?? [];
    if (list.some((v) => v.approver === d.approver)) return false;
    this.voted.set(d.approvalId, [...list, d]);
    return true;
  }
  async votes(id: string) {
    return this.voted.get(id) ?? [];
  }
  async finalizeOnce(d: ApprovalDecision) {
    if (this.finals.has(d.approvalId)) return false;
    this.finals.set(d.approvalId, d);
    return true;
  }
  async final(id: string) {
    return this.finals.get(id);
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
  private readonly waiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; heartbeatMs?: number; timer?: NodeJS.Timeout }>();

  /**
   * A token and the promise that settles when someone answers it. With `heartbeatMs` (the state's HeartbeatSeconds,
   * which the local engine does not implement) the task fails with States.HeartbeatTimeout when no heartbeat,
   * view or answer comes in time, as in Step Functions.
   */
  mint(opts: { heartbeatMs?: number } = {}): { token: string; wait: Promise<unknown> } {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    const wait = new Promise<unknown>((resolve, reject) => this.waiters.set(token, { resolve, reject, ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}) }));
    // The answer may come before anyone awaits it (auto-reject during delivery): not an unhandled rejection.
    wait.catch(() => undefined);
    this.arm(token);
    return { token, wait };
  }
  async succeed(token: string, output: unknown) {
    const w = this.take(token);
    w.resolve(output);
  }
  /** SendTaskHeartbeat: restarts the heartbeat clock; on an answered or timed-out token it fails as Step Functions does. */
  async heartbeat(token: string) {
    if (!this.waiters.has(token)) throw taskGone();
    this.arm(token);
  }
  private arm(token: string) {
    const w = this.waiters.get(token);
    if (!w?.heartbeatMs) return;
    clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      this.waiters.delete(token);
      w.reject(new TaskFailure('States.HeartbeatTimeout', `no heartbeat, view or answer within ${w.heartbeatMs! / 1000} s (HeartbeatSeconds)`));
    }, w.heartbeatMs);
    w.timer.unref?.();
  }
  async fail(token: string, error: string, cause: string) {
    const w = this.take(token);
    let message = cause;
    try {
      message = (JSON.parse(cause) as { errorMessage?: string }).errorMessage ?? cause;
    } catch {}
    w.reject(new TaskFailure(error, message));
  }
  /** The task timed out or its execution stopped: a later answer fails as in Step Functions (TaskTimedOut). */
  expire(token: string): void {
    const w = this.waiters.get(token);
    clearTimeout(w?.timer);
    this.waiters.delete(token);
  }
  private take(token: string) {
    const w = this.waiters.get(token);
    if (!w) throw taskGone();
    clearTimeout(w.timer);
    this.waiters.delete(token);
    return w;
  }
}

/** Named as Step Functions names it (SendTask* on a token that was answered or timed out). */
const taskGone = () => Object.assign(new Error('Provided task does not exist anymore: the task token is unknown, answered or timed out'), { name: 'TaskTimedOut' });

export interface ApprovalPageDeps {
  readonly approvalStore: ApprovalStore;
  readonly tokens: TaskTokens;
  readonly evidence: EvidenceStore;
  readonly clock: Clock;
  readonly secret: string;
  readonly logger: Logger;
}

/** The local approval page: the approval API (core/approval-http) on 127.0.0.1. */
export class LocalApprovalPage {
  private server?: http.Server;
  baseUrl = '';

  constructor(private readonly deps: ApprovalPageDeps) {}

  async start(port = 0): Promise<string> {
    this.server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');
      const out = await handleApprovalHttp(
        {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])),
          ...(req.socket.remoteAddress ? { sourceIp: req.socket.remoteAddress } : {}),
          ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
        },
        { ...this.deps, secret: async () => this.deps.secret },
      );
      res.writeHead(out.status, out.headers).end(out.body);
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
}

/** How a local run answers its go/no-go. */
export type LocalApprovalMode =
  | { kind: 'auto'; decision: 'approve' | 'reject'; approver: string; comment: string }
  | { kind: 'interactive'; approver: string }
  | { kind: 'page-only' };

/**
 * The terminal go/no-go, by exact intent: only the words approve or reject
 * decide (anything else asks again; nothing defaults); approve shows what GO
 * will do and asks for the runId typed back.
 */
export async function terminalDecision(
  ask: (question: string) => Promise<string>,
  out: (line: string) => void,
  r: Pick<ApprovalRequest, 'runId' | 'summary' | 'goActions'>,
): Promise<{ decision: 'approve' | 'reject'; comment: string }> {
  out(`\n${r.summary}\nGO will:\n${r.goActions.map((a, i) => `  ${i + 1}. ${a}`).join('\n')}`);
  for (;;) {
    const answer = (await ask('Approve this cutover? Type approve or reject: ')).trim().toLowerCase();
    if (answer !== 'approve' && answer !== 'reject') {
      out(`  got ${JSON.stringify(answer)}; expected the word approve or reject`);
      continue;
    }
    if (answer === 'approve') {
      out(`GO will:\n${r.goActions.map((a, i) => `  ${i + 1}. ${a}`).join('\n') || '  (no actions)'}`);
      const typed = (await ask(`Type the runId (${r.runId}) to approve, anything else to go back: `)).trim();
      if (typed !== r.runId) {
        out(`  got ${JSON.stringify(typed)}; expected ${r.runId}: not approved`);
        continue;
      }
    }
    const comment = (await ask('Comment: ')).trim();
    return { decision: answer, comment };
  }
}

/** The local channel: shows the link, and answers by itself (auto) or asks on the terminal. */
export class LocalApprovalChannel implements ApprovalChannel {
  readonly kind = 'local';
  private rl?: ReturnType<typeof createInterface>;
  constructor(
    private readonly mode: LocalApprovalMode,
    private readonly deps: ApprovalPageDeps,
    private readonly out: (line: string) => void,
  ) {}

  async deliver(r: ApprovalRequest): Promise<void> {
    if (r.personalUrls?.length) for (const p of r.personalUrls) this.out(`Go / no-go for ${r.runId} (${p.approver}): open ${p.url}`);
    else this.out(`Go / no-go for ${r.runId}: open ${r.approveUrl ?? '(no page)'}`);
    if (this.mode.kind === 'auto') {
      const { decision, approver, comment } = this.mode;
      const res = await decideApproval({ approvalId: r.approvalId, decision, approver, comment, via: 'auto-approve flag', identifiedBy: 'local login' }, this.deps);
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
      const { decision, comment } = await terminalDecision((q) => rl.question(q), this.out, r);
      // Who decides is this terminal's login, not a typed name.
      const approver = this.mode.kind === 'interactive' ? this.mode.approver : 'operator';
      const res = await decideApproval({ approvalId: r.approvalId, decision, approver, comment, via: 'terminal', identifiedBy: 'local login' }, this.deps);
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
