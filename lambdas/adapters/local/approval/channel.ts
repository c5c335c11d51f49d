/**
 * The local approval channel: prints the link, and answers by itself (auto) or asks on the terminal. The decision
 * itself is the caller's (`decide`, core's decideApproval wired by the composition root): the adapter only asks.
 */
import { createInterface } from 'node:readline/promises';
import type { ApprovalChannel, ApprovalRequest } from '../../../ports';

/** A decision as the channel hands it over; the answer says whether it counted. */
export interface ChannelDecision {
  readonly approvalId: string;
  readonly decision: 'approve' | 'reject';
  readonly approver: string;
  readonly comment: string;
  readonly via: 'auto-approve flag' | 'terminal';
  readonly identifiedBy: 'local login';
}
export type Decide = (d: ChannelDecision) => Promise<{ ok: true } | { ok: false; reason: string }>;

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
    private readonly decide: Decide,
    private readonly out: (line: string) => void,
  ) {}

  async deliver(r: ApprovalRequest): Promise<void> {
    if (r.personalUrls?.length) for (const p of r.personalUrls) this.out(`Go / no-go for ${r.runId} (${p.approver}): open ${p.url}`);
    else this.out(`Go / no-go for ${r.runId}: open ${r.approveUrl ?? '(no page)'}`);
    if (this.mode.kind === 'auto') {
      const { decision, approver, comment } = this.mode;
      const res = await this.decide({ approvalId: r.approvalId, decision, approver, comment, via: 'auto-approve flag', identifiedBy: 'local login' });
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
      const res = await this.decide({ approvalId: r.approvalId, decision, approver, comment, via: 'terminal', identifiedBy: 'local login' });
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
