/** Pending approvals, votes and final decisions of a local run: in memory (a local run is one process). */
import type { ApprovalDecision, ApprovalStore, PendingApproval } from '../../../ports';

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
