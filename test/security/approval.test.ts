/**
 * Security: the go/no-go, attacked. Each case is an attack that worked on the
 * code before issue 10 and is refused now. (The terminal prompt is attacked
 * through a real pseudo-terminal in test/e2e/approval-terminal.test.ts.)
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { SnsEmailChannel } from '../../lambdas/adapters/aws/notify';
import { S3ApprovalStore } from '../../lambdas/adapters/aws/s3';
import { MemoryApprovalStore } from '../../lambdas/adapters/local/approval/store';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { approvalQuery, approverProblems, signApproval } from '../../lambdas/core/approval';
import { type ApprovalHttpDeps, handleApprovalHttp } from '../../lambdas/core/approval-http';
import { slackSignature } from '../../lambdas/core/slack';
import { specAsRun } from '../../lambdas/core/pipeline';
import type { ApprovalRequest, ApproverDirectory } from '../../lambdas/ports';
import { miniSpec, tempDir } from '../support/local-run';
import { fakeS3 } from '../support/fake-s3';

const snsm = mockClient(SNSClient);
const KEY = 'k'.repeat(64);
const SLACK = 'slack-signing-secret-0123456789';
const ID = 'a'.repeat(32);
const NOW = new Date('2026-11-30T12:00:00.000Z');
const EXP = '2026-11-30T18:00:00.000Z';
const directory: ApproverDirectory = {
  approvers: [
    { id: 'alice@example.com', email: 'alice@example.com', slackUserId: 'UALICE' },
    { id: 'bob@example.com', email: 'bob@example.com' },
  ],
};

let deps: ApprovalHttpDeps;
let taken: { kind: 'succeed' | 'fail'; output: unknown }[];

async function setUp(pending: { approvers?: string[]; required?: number }) {
  const store = new MemoryApprovalStore();
  await store.save({ approvalId: ID, runId: 'prod-7', taskToken: 'TASK-TOKEN', expiresAt: EXP, ...pending, request: { owner: 'ops', target: 'postgres', summary: 'orders: PASS', goActions: ['flip'] } });
  taken = [];
  deps = {
    approvalStore: store,
    evidence: new FsEvidenceStore(await tempDir()),
    clock: { now: () => NOW, sleep: async () => {} },
    tokens: {
      succeed: async (_t, output) => void taken.push({ kind: 'succeed', output }),
      fail: async (_t, _e, cause) => void taken.push({ kind: 'fail', output: cause }),
      heartbeat: async () => {},
    },
    directory,
    secret: async () => KEY,
    slackSigningSecret: async () => SLACK,
  };
}

const post = (fields: Record<string, string>) =>
  handleApprovalHttp({ method: 'POST', path: '/approve', query: new URLSearchParams(), body: new URLSearchParams(fields).toString(), headers: { host: 'approve.example.com' } }, deps);
function slack(user: { id: string; username: string }, action = 'cutline_approve') {
  const raw = `payload=${encodeURIComponent(JSON.stringify({ user, actions: [{ action_id: action, value: ID }] }))}`;
  const ts = String(Math.floor(NOW.getTime() / 1000));
  return handleApprovalHttp({ method: 'POST', path: '/slack', query: new URLSearchParams(), body: raw, headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(SLACK, ts, raw) } }, deps);
}

describe('one person, one vote', () => {
  beforeEach(() => snsm.reset());

  it('attack: one e-mail recipient reads every approver\'s link. Now each approver gets a message of their own, routed by a filter attribute', async () => {
    snsm.on(PublishCommand).resolves({ MessageId: 'm' });
    const request: ApprovalRequest = {
      runId: 'prod-7',
      approvalId: ID,
      owner: 'ops',
      target: 'postgres',
      summary: 'orders: PASS',
      goActions: ['flip'],
      personalUrls: [
        { approver: 'alice@example.com', url: `https://a.example/approve?${approvalQuery(ID, EXP, KEY, 'alice@example.com')}` },
        { approver: 'Bob@Example.com', url: `https://a.example/approve?${approvalQuery(ID, EXP, KEY, 'Bob@Example.com')}` },
      ],
      expiresAt: EXP,
    };
    await new SnsEmailChannel(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:123456789012:approvals').deliver(request);
    const sent = snsm.commandCalls(PublishCommand).map((c) => c.args[0].input);
    const links = (m: string | undefined) => (m ?? '').match(/https:\/\/a\.example\/approve\?\S+/g) ?? [];
    expect(sent.map((m) => m.MessageAttributes)).toEqual([
      { approver: { DataType: 'String', StringValue: 'alice@example.com' } },
      { approver: { DataType: 'String', StringValue: 'bob@example.com' } },
      { audience: { DataType: 'String', StringValue: 'all' } },
    ]);
    expect(links(sent[0]!.Message)).toEqual([request.personalUrls![0]!.url]);
    expect(links(sent[1]!.Message)).toEqual([request.personalUrls![1]!.url]);
    expect(links(sent[2]!.Message)).toEqual([]);
  });

  it('attack: a typed name on the page votes as a named approver. Now refused: only a link signed for them counts', async () => {
    await setUp({ approvers: ['alice@example.com', 'bob@example.com'], required: 2 });
    const typed = await post({ id: ID, exp: EXP, sig: signApproval(ID, EXP, KEY), approver: 'bob@example.com', decision: 'approve' });
    expect(typed.status).toBe(403);
    expect(typed.body).toContain('not a typed name');
    expect(await deps.approvalStore.votes(ID)).toEqual([]);
  });

  it('attack: any Slack user in the channel presses Approve for a named approver (or names themselves like one). Now only the mapped Slack user counts, as that approver', async () => {
    await setUp({ approvers: ['alice@example.com', 'bob@example.com'], required: 2 });
    const stranger = await slack({ id: 'UMALLORY', username: 'alice@example.com' });
    expect(stranger.status).toBe(403);
    expect(JSON.parse(stranger.body).text).toContain('not a Slack user the deploy config does not map to an approver (got "slack:alice@example.com (UMALLORY)")');
    expect(await deps.approvalStore.votes(ID)).toEqual([]);
    const alice = await slack({ id: 'UALICE', username: 'whatever' });
    expect(alice.status).toBe(200);
    expect((await deps.approvalStore.votes(ID)).map((v) => [v.approver, v.identifiedBy])).toEqual([['alice@example.com', 'slack user']]);
  });

  it('attack: one human votes twice, once in Slack and once on the page. Now one identity votes once across channels', async () => {
    await setUp({ approvers: ['alice@example.com', 'bob@example.com'], required: 2 });
    expect((await slack({ id: 'UALICE', username: 'alice' })).status).toBe(200);
    const again = await post({ id: ID, exp: EXP, who: 'Alice@Example.com', sig: signApproval(ID, EXP, KEY, 'Alice@Example.com'), decision: 'approve' });
    expect(again.status).toBe(409);
    expect(taken).toEqual([]);
    expect((await post({ id: ID, exp: EXP, who: 'bob@example.com', sig: signApproval(ID, EXP, KEY, 'bob@example.com'), decision: 'approve' })).status).toBe(200);
    expect(taken).toHaveLength(1);
    expect((taken[0]!.output as { approvers: string[] }).approvers).toEqual(['alice@example.com', 'bob@example.com']);
  });

  it('attack: required 2 without a named list, satisfied by "alice" then "Alice". Now such a spec is invalid: cutline validate exits 2 naming the field', async () => {
    const spec = await miniSpec({ runId: 'two-of-nobody' });
    spec.approval = { ...spec.approval, required: 2 };
    const file = path.join(await tempDir(), 'spec.json');
    await writeFile(file, JSON.stringify(spec));
    const err: string[] = [];
    expect(await main(['validate', file], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(EXIT.BAD_INPUT);
    expect(err.join('\n')).toMatch(/\$\.approval\.required: got 2 approvals required without approval\.approvers; expected a named approvers list/);
  });

  it('attack: a spec names an approver nobody can reach alone (no subscription of their own). Now ValidateSpec refuses it in AWS', () => {
    const r = specAsRun(
      {
        version: 1,
        runId: 'r',
        owner: 'o',
        tCutover: '2026-12-01T00:00:00Z',
        source: { engine: 'postgres', dataApi: { resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:c', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s', database: 'd' } },
        approval: { channels: [{ type: 'email', topicArn: 'arn:aws:sns:eu-west-1:123456789012:t' }], approvers: ['alice@example.com', 'carol@example.com'], required: 2 },
      },
      'aws',
    );
    expect(r.ok ? [] : r.problems).toEqual([]);
    const problems = approverProblems(r.ok ? r.spec : (undefined as never), directory);
    expect(problems).toEqual([{ path: '$.approval.approvers[1]', message: expect.stringContaining('"carol@example.com", who is not in the deploy config approval.approvers') }]);
  });

  it('attack: a later request overwrites the pointer the CLI follows to a run\'s approval. Now each request writes its own pointer once (conditional write), and the CLI follows the newest', async () => {
    const s3m = mockClient(S3Client);
    fakeS3(s3m, { bucket: 'approvals', conditionalOnly: true });
    const store = new S3ApprovalStore(new S3Client({ region: 'eu-west-1' }), 'approvals');
    const first = { approvalId: 'c'.repeat(32), runId: 'prod-7', taskToken: 'T1', expiresAt: '2026-11-30T18:00:00.000Z' };
    const resumed = { approvalId: 'd'.repeat(32), runId: 'prod-7', taskToken: 'T2', expiresAt: '2026-12-01T18:00:00.000Z' };
    await store.save(first);
    await store.save(resumed);
    expect((await store.latestFor('prod-7'))?.approvalId).toBe(resumed.approvalId);
    s3m.restore();
  });
});
