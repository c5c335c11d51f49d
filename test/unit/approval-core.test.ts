/** Approval links and votes: signatures, M-of-N, one identity one vote. */
import { describe, expect, it } from 'vitest';
import { decideApproval, signApproval, verifyApprovalLink } from '../../lambdas/core/approval';
import { MemoryApprovalStore } from '../../lambdas/adapters/local/approval/store';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { tempDir } from '../support/local-run';

describe('approval links', () => {
  const id = 'a'.repeat(32);
  const exp = '2026-11-22T00:00:00.000Z';
  const sig = signApproval(id, exp, 'k'.repeat(32));
  const now = new Date('2026-11-21T00:00:00Z');
  it('accepts a valid link and refuses tampered, forged and expired ones', () => {
    expect(verifyApprovalLink({ approvalId: id, expiresAt: exp, sig }, 'k'.repeat(32), now)).toEqual({ ok: true });
    expect(verifyApprovalLink({ approvalId: id, expiresAt: '2027-01-01T00:00:00.000Z', sig }, 'k'.repeat(32), now)).toMatchObject({ ok: false, status: 403 });
    expect(verifyApprovalLink({ approvalId: id, expiresAt: exp, sig }, 'other-key'.repeat(4), now)).toMatchObject({ ok: false, status: 403 });
    expect(verifyApprovalLink({ approvalId: id, expiresAt: exp, sig }, 'k'.repeat(32), new Date('2026-11-23T00:00:00Z'))).toMatchObject({ ok: false, status: 410 });
    expect(verifyApprovalLink({ approvalId: 'x', expiresAt: exp, sig }, 'k'.repeat(32), now)).toMatchObject({ ok: false, status: 400 });
  });
});

/** An M-of-N approval in memory: decide() votes, succeeded / failed list what Step Functions got; `answer` stands in for its reply. */
async function approvalHarness(approvalId: string, runId: string, approvers: string[], o: { required?: number; now?: string; answer?: () => Promise<void> } = {}) {
  const store = new MemoryApprovalStore();
  await store.save({ approvalId, runId, taskToken: 't', expiresAt: '2026-11-21T02:00:00Z', approvers, required: o.required ?? approvers.length });
  const evidence = new FsEvidenceStore(await tempDir());
  const succeeded: { approvers: string[] }[] = [];
  const failed: { error: string; cause: string }[] = [];
  const heartbeats: string[] = [];
  const deps = {
    approvalStore: store,
    evidence,
    // One fixed instant: every vote lands in the same millisecond.
    clock: { now: () => new Date(o.now ?? '2026-11-21T01:00:00.000Z'), sleep: async () => {} },
    tokens: {
      succeed: async (_t: string, out: unknown) => {
        await o.answer?.();
        succeeded.push(out as { approvers: string[] });
      },
      fail: async (_t: string, error: string, cause: string) => {
        await o.answer?.();
        failed.push({ error, cause });
      },
      heartbeat: async (t: string) => void heartbeats.push(t),
    },
  };
  const decide = (approver: string, via = 'test', decision: 'approve' | 'reject' = 'approve', identifiedBy: 'personal link' | 'typed name' = 'personal link') =>
    decideApproval({ approvalId, decision, approver, comment: 'tonight', via, identifiedBy }, deps);
  return { decide, evidence, store, succeeded, failed, heartbeats };
}

describe('decideApproval', () => {
  it('an unknown approval is 404 and an expired one 410: nothing recorded, nothing sent', async () => {
    const h = await approvalHarness('d1', 'r', ['alice@example.com']);
    const other = await approvalHarness('d1', 'r', ['alice@example.com'], { now: '2026-11-21T02:00:00.000Z' });
    expect(await other.decide('alice@example.com')).toMatchObject({ ok: false, status: 410 });
    expect(await decideApproval({ approvalId: 'nope', decision: 'approve', approver: 'alice@example.com', comment: '', via: 'test', identifiedBy: 'personal link' }, { approvalStore: h.store, evidence: h.evidence, clock: { now: () => new Date('2026-11-21T01:00:00Z'), sleep: async () => {} }, tokens: { succeed: async () => {}, fail: async () => {}, heartbeat: async () => {} } })).toMatchObject({ ok: false, status: 404 });
    expect([h.succeeded, other.succeeded, await other.store.final('d1')]).toEqual([[], [], undefined]);
  });

  it('2 of 3: the first approval is a vote (the token is kept alive), the second decides, with both approvers named once', async () => {
    const h = await approvalHarness('d2', 'r', ['alice@example.com', 'bob@example.com', 'carol@example.com'], { required: 2 });
    expect(await h.decide('alice@example.com')).toMatchObject({ ok: true, final: false, approvals: 1, required: 2 });
    expect([h.succeeded.length, h.heartbeats]).toEqual([0, ['t']]);
    expect(await h.decide('carol@example.com')).toMatchObject({ ok: true, final: true });
    expect(h.succeeded.map((x) => x.approvers)).toEqual([['alice@example.com', 'carol@example.com']]);
    expect(await h.decide('bob@example.com')).toMatchObject({ ok: false, status: 409 });
    expect(JSON.parse(Buffer.from((await h.evidence.get('r/09_approval.json'))!).toString('utf8'))).toMatchObject({ result: 'PASS' });
  });

  it('one reject decides at once, whatever the quorum: Step Functions gets ApprovalRejected naming who and why', async () => {
    const h = await approvalHarness('d3', 'r', ['alice@example.com', 'bob@example.com'], { required: 2 });
    expect(await h.decide('bob@example.com', 'slack', 'reject')).toMatchObject({ ok: true, final: true });
    expect(h.failed).toEqual([{ error: 'ApprovalRejected', cause: JSON.stringify({ errorMessage: 'rejected by bob@example.com via slack: tonight' }) }]);
    expect(h.succeeded).toEqual([]);
  });

  it('only the named approvers, and only through an identifying channel: a stranger or a typed name is 403', async () => {
    const h = await approvalHarness('d4', 'r', ['alice@example.com']);
    expect(await h.decide('mallory@example.com')).toMatchObject({ ok: false, status: 403 });
    expect(await h.decide('alice@example.com', 'page', 'approve', 'typed name')).toMatchObject({ ok: false, status: 403 });
    expect([h.succeeded, await h.store.final('d4')]).toEqual([[], undefined]);
  });

  it('Step Functions not taking the decision leaves nothing final: a throttled answer is 503 and the same decision again goes through; a run that stopped waiting is 410', async () => {
    let replies = 0;
    const throttled = await approvalHarness('d5', 'r', ['alice@example.com'], {
      answer: async () => {
        if (replies++ === 0) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
    });
    expect(await throttled.decide('alice@example.com')).toMatchObject({ ok: false, status: 503 });
    expect(await throttled.store.final('d5')).toBeUndefined();
    expect(await throttled.decide('alice@example.com')).toMatchObject({ ok: true, final: true });
    expect(throttled.succeeded).toHaveLength(1);
    const gone = await approvalHarness('d6', 'r', ['alice@example.com'], {
      answer: async () => {
        throw Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' });
      },
    });
    expect(await gone.decide('alice@example.com')).toMatchObject({ ok: false, status: 410 });
    expect([await gone.store.final('d6'), await gone.evidence.get('r/09_approval.json')]).toEqual([undefined, undefined]);
  });
});

describe('votes', () => {
  it('two approvals in the same millisecond are two vote files, one per approver', async () => {
    const { decide, evidence, succeeded } = await approvalHarness('a1', 'r1', ['alice@example.com', 'bob@example.com']);
    const a = await decide('alice@example.com');
    const b = await decide('bob@example.com');
    expect([a.ok && a.final, b.ok && b.final]).toEqual([false, true]);
    expect((await evidence.list('r1/09_approval_votes/')).map((o) => o.key)).toEqual(['r1/09_approval_votes/alice@example.com_approve.json', 'r1/09_approval_votes/bob@example.com_approve.json']);
    expect(succeeded).toHaveLength(1);
  });
});

describe('one identity, one vote', () => {
  it('"Alice@Example.com " and "alice@example.com" are one approver: the second vote is refused, the record names her once', async () => {
    const { decide, succeeded } = await approvalHarness('a2', 'r2', ['Alice@Example.com', 'bob@example.com']);
    expect(await decide('Alice@Example.com ', 'page')).toMatchObject({ ok: true, final: false });
    expect(await decide('alice@example.com', 'slack')).toMatchObject({ ok: false, status: 409 });
    expect(succeeded).toHaveLength(0);
    expect(await decide('BOB@example.com', 'page')).toMatchObject({ ok: true, final: true });
    expect(succeeded[0]!.approvers).toEqual(['alice@example.com', 'bob@example.com']);
  });
});
