/**
 * The approval API Lambda (Function URL events) with S3, SSM and Step
 * Functions mocked: GET decides nothing, POST decides once, forged / expired /
 * replayed requests change nothing; Slack requests signed with real HMACs,
 * stale ones refused; M-of-N.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approvalQuery, signApproval } from '../../lambdas/core/approval';
import { slackSignature } from '../../lambdas/core/slack';
import { type FakeBucket, fakeS3 } from '../support/fake-s3';

const s3 = mockClient(S3Client);
const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const lambda = mockClient(LambdaClient);
const KEY = 'k'.repeat(64);
const SLACK = 'slack-signing-secret-0123456789';
const ID = 'b'.repeat(32);
const EXP = new Date(Date.now() + 3600_000).toISOString();
let objects: FakeBucket;

/** The one method of an S3 body stream the adapter reads. */
function _body(s: string) {
  return { transformToByteArray: async () => new Uint8Array(Buffer.from(s)) };
}
function event(method: string, path: string, opts: { query?: string; body?: string; headers?: Record<string, string> } = {}) {
  return { rawPath: path, rawQueryString: opts.query ?? '', body: opts.body, isBase64Encoded: false, headers: opts.headers ?? {}, requestContext: { http: { method, sourceIp: '203.0.113.7', userAgent: 'test-agent' } } };
}

beforeAll(() => {
  process.env.EVIDENCE_BUCKET = 'ev-bucket';
  process.env.APPROVALS_BUCKET = 'approvals-bucket';
  process.env.APPROVAL_SECRET_PARAMETER = '/cutline/approval/hmac-key';
  process.env.SLACK_SIGNING_SECRET_PARAMETER = '/cutline/slack/signing-secret';
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'cutline-ApprovalApiFunction';
});
beforeEach(() => {
  s3.reset();
  ssm.reset();
  sfn.reset();
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  objects = fakeS3(s3);
  const pending = { approvalId: ID, runId: 'run-42', taskToken: 'TASK-TOKEN-SECRET', expiresAt: EXP, required: 1, request: { owner: 'ops', target: 'postgres', summary: 'orders: PASS', goActions: ['flip the selector'] } };
  objects.set(`private/approvals/${ID}/pending.json`, JSON.stringify(pending));
  ssm.on(GetParametersCommand).callsFake((i: { Names: string[] }) => ({
    Parameters: i.Names.map((n) => ({ Name: n, Value: n.includes('slack') ? SLACK : KEY })),
  }));
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  sfn.on(SendTaskHeartbeatCommand).resolves({});
});
const decisions = () => [...sfn.commandCalls(SendTaskSuccessCommand), ...sfn.commandCalls(SendTaskFailureCommand)];

const form = (extra: Record<string, string>) => new URLSearchParams({ id: ID, exp: EXP, sig: signApproval(ID, EXP, KEY), ...extra }).toString();

describe('approval API (Function URL)', () => {
  it('GET shows the gate results and the form, and decides nothing (a view is a heartbeat)', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const r = await handler(event('GET', '/approve', { query: approvalQuery(ID, EXP, KEY) }));
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('orders: PASS');
    expect(r.body).toContain('<li>flip the selector</li>');
    expect(r.body).not.toContain('TASK-TOKEN-SECRET');
    expect(decisions()).toHaveLength(0);
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)[0]!.args[0].input).toEqual({ taskToken: 'TASK-TOKEN-SECRET' });
    expect(objects.keys().some((k) => k.includes('/votes/'))).toBe(false);
  });

  it('POST approves once: SendTaskSuccess with the approver, source IP and agent in evidence; a replay is 409', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const r = await handler(event('POST', '/approve', { body: form({ approver: 'alice@example.com', comment: 'ok', decision: 'approve' }) }));
    expect(r.statusCode).toBe(200);
    const call = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(call.taskToken).toBe('TASK-TOKEN-SECRET');
    expect(JSON.parse(call.output!)).toMatchObject({ approver: 'alice@example.com', via: 'approval page' });
    const rec = JSON.parse(objects.get('runs/run-42/09_approval.json')!);
    expect(rec.details).toMatchObject({ approver: 'alice@example.com', sourceIp: '203.0.113.7', userAgent: 'test-agent', decision: 'approve' });
    const again = await handler(event('POST', '/approve', { body: form({ approver: 'bob@example.com', decision: 'approve' }) }));
    expect(again.statusCode).toBe(409);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('a tampered signature is 403, an expired link 410: nothing decided', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const tampered = await handler(event('POST', '/approve', { body: form({ approver: 'mallory', decision: 'approve', sig: `${signApproval(ID, EXP, KEY).slice(0, -3)}AAA` }) }));
    expect(tampered.statusCode).toBe(403);
    const past = '2020-01-01T00:00:00.000Z';
    const expired = await handler(event('GET', '/approve', { query: approvalQuery(ID, past, KEY) }));
    expect(expired.statusCode).toBe(410);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('a reject is SendTaskFailure(ApprovalRejected) naming the approver', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    await handler(event('POST', '/approve', { body: form({ approver: 'carol', comment: 'not tonight', decision: 'reject' }) }));
    const f = sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    expect([f.error, JSON.parse(f.cause!).errorMessage]).toEqual(['ApprovalRejected', 'rejected by carol via approval page: not tonight']);
  });

  it('M of N: the first approval is recorded and waits; the second decides', async () => {
    const p = JSON.parse(objects.get(`private/approvals/${ID}/pending.json`)!);
    objects.set(`private/approvals/${ID}/pending.json`, JSON.stringify({ ...p, required: 2 }));
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const one = await handler(event('POST', '/approve', { body: form({ approver: 'alice', decision: 'approve' }) }));
    expect(one.body).toContain('Approval recorded: 1 of 2');
    expect(decisions()).toHaveLength(0);
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(1);
    const same = await handler(event('POST', '/approve', { body: form({ approver: 'alice', decision: 'approve' }) }));
    expect(same.statusCode).toBe(409);
    await handler(event('POST', '/approve', { body: form({ approver: 'bob', decision: 'approve' }) }));
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!).approvers).toEqual(['alice', 'bob']);
  });
});

describe('personal links (an approver list)', () => {
  it('the signed link names the approver: the page decides as them, and changing the name breaks the signature', async () => {
    const p = JSON.parse(objects.get(`private/approvals/${ID}/pending.json`)!);
    objects.set(`private/approvals/${ID}/pending.json`, JSON.stringify({ ...p, approvers: ['alice@example.com', 'bob@example.com'] }));
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const page = await handler(event('GET', '/approve', { query: approvalQuery(ID, EXP, KEY, 'alice@example.com') }));
    expect(page.body).toContain('You decide as <strong>alice@example.com</strong>');
    expect(page.body).not.toContain('name="approver"');
    const sig = signApproval(ID, EXP, KEY, 'alice@example.com');
    const forgedWho = await handler(event('POST', '/approve', { body: new URLSearchParams({ id: ID, exp: EXP, sig, who: 'bob@example.com', decision: 'approve' }).toString() }));
    expect(forgedWho.statusCode).toBe(403);
    const ok = await handler(event('POST', '/approve', { body: new URLSearchParams({ id: ID, exp: EXP, sig, who: 'alice@example.com', approver: 'mallory', decision: 'approve' }).toString() }));
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!).approver).toBe('alice@example.com');
  });
});

describe('Slack interactivity', () => {
  const payload = (action: string) => `payload=${encodeURIComponent(JSON.stringify({ user: { id: 'U123', username: 'dana' }, actions: [{ action_id: action, value: ID }], response_url: 'https://hooks.slack.example/actions/1' }))}`;
  const signed = (raw: string, ts = String(Math.floor(Date.now() / 1000)), secret = SLACK) => ({ 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(secret, ts, raw) });

  it('a request signed by Slack decides as the Slack user', async () => {
    const { approvalApi, approvalApiDeps } = await import('../../lambdas/handlers/approval-api');
    const { awsDeps } = await import('../../lambdas/adapters/aws/deps');
    const posted: string[] = [];
    const raw = payload('cutline_approve');
    const r = await approvalApi(event('POST', '/slack', { body: raw, headers: signed(raw) }), {
      ...approvalApiDeps(awsDeps()),
      slackSigningSecret: async () => SLACK,
      http: {
        request: async (_u, o) => {
          posted.push(o.body!);
          return { status: 200, body: 'ok' };
        },
      },
    });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toMatchObject({ approver: 'slack:dana (U123)', via: 'slack' });
    expect(JSON.parse(posted[0]!)).toMatchObject({ replace_original: true, text: expect.stringContaining('Approved (GO) by <@U123>') });
  });

  it('Slack gets its answer before anything is decided (its 3 s): the vote goes to an asynchronous invocation of the function, which decides it', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const raw = payload('cutline_approve');
    const answer = await handler(event('POST', '/slack', { body: raw, headers: signed(raw) }));
    expect([answer.statusCode, JSON.parse(answer.body).text]).toEqual([200, 'Recording the approval by <@U123>…']);
    // Nothing decided yet: no S3 vote, no Step Functions call; one queued invocation of this same function.
    expect(sfn.calls()).toHaveLength(0);
    expect(objects.has(`private/approvals/${ID}/decision.json`)).toBe(false);
    const invoke = lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(invoke.map((i) => [i.FunctionName, i.InvocationType])).toEqual([['cutline-ApprovalApiFunction', 'Event']]);
    const job = JSON.parse(Buffer.from(invoke[0]!.Payload as Uint8Array).toString('utf8'));
    expect(job).toEqual({ cutlineSlackDecision: { approvalId: ID, decision: 'approve', approver: 'slack:dana (U123)', identifiedBy: 'unmapped slack user', userId: 'U123', responseUrl: 'https://hooks.slack.example/actions/1' } });
    // The asynchronous invocation decides, once; the same job again (Lambda retries a failed one) changes nothing.
    const decided = await handler(job);
    expect(decided.statusCode).toBe(200);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toMatchObject({ approver: 'slack:dana (U123)', via: 'slack' });
    expect((await handler(job)).statusCode).toBe(409);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    // A Function URL request can never be taken for a job (its events always have the HTTP shape).
    const forged = await handler(event('POST', '/slack', { body: JSON.stringify(job), headers: signed(JSON.stringify(job)) }));
    expect(forged.statusCode).toBe(400);
  });

  it('a stale timestamp (replay) or a wrong signature is 401 and decides nothing', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const raw = payload('cutline_approve');
    const stale = await handler(event('POST', '/slack', { body: raw, headers: signed(raw, String(Math.floor(Date.now() / 1000) - 301)) }));
    expect([stale.statusCode, JSON.parse(stale.body).error]).toEqual([401, expect.stringContaining('expected within 300 s')]);
    const forged = await handler(event('POST', '/slack', { body: raw, headers: signed(raw, undefined, 'not-the-secret') }));
    expect(forged.statusCode).toBe(401);
    const altered = await handler(event('POST', '/slack', { body: payload('cutline_reject'), headers: signed(raw) }));
    expect(altered.statusCode).toBe(401);
    expect(sfn.calls()).toHaveLength(0);
  });
});

describe('a decision takes effect only when Step Functions takes it', () => {
  it('SendTaskSuccess fails: 503 "nothing took effect", no PASS record, no final; the same decision again goes through', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    sfn.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })).resolves({});
    const post = () => handler(event('POST', '/approve', { body: form({ approver: 'alice@example.com', comment: 'ok', decision: 'approve' }) }));
    const first = await post();
    expect(first.statusCode).toBe(503);
    expect(first.body).toContain('nothing took effect yet: submit the same decision again');
    expect(objects.has('runs/run-42/09_approval.json')).toBe(false);
    expect(objects.has(`private/approvals/${ID}/decision.json`)).toBe(false);
    const again = await post();
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(objects.get('runs/run-42/09_approval.json')!).result).toBe('PASS');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
    // Now it is final: a third submit is a replay.
    const third = await post();
    expect(third.statusCode).toBe(409);
  });

  it('the run stopped waiting (TaskTimedOut): 410, nothing recorded as decided', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    sfn.on(SendTaskFailureCommand).rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));
    const r = await handler(event('POST', '/approve', { body: form({ approver: 'bob@example.com', comment: 'no', decision: 'reject' }) }));
    expect(r.statusCode).toBe(410);
    expect(objects.has('runs/run-42/09_approval.json')).toBe(false);
  });
});

describe('the page itself', () => {
  it('no script, never framed, no sniffing (CSP, nosniff); a cross-site form post decides nothing; a 500 shows no internals', async () => {
    const { handler } = await import('../../lambdas/handlers/approval-api');
    const view = await handler(event('GET', '/approve', { query: approvalQuery(ID, EXP, KEY) }));
    expect(view.headers['content-security-policy']).toContain("default-src 'none'");
    expect(view.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(view.headers['x-content-type-options']).toBe('nosniff');
    const crossSite = await handler(event('POST', '/approve', { body: form({ approver: 'alice@example.com', decision: 'approve' }), headers: { 'sec-fetch-site': 'cross-site', host: 'approve.example.com' } }));
    expect(crossSite.statusCode).toBe(403);
    const otherOrigin = await handler(event('POST', '/approve', { body: form({ approver: 'alice@example.com', decision: 'approve' }), headers: { origin: 'https://evil.example.net', host: 'approve.example.com' } }));
    expect(otherOrigin.statusCode).toBe(403);
    expect(decisions()).toHaveLength(0);
    const same = await handler(event('POST', '/approve', { body: form({ approver: 'alice@example.com', decision: 'approve' }), headers: { origin: 'https://approve.example.com', host: 'approve.example.com', 'sec-fetch-site': 'same-origin' } }));
    expect(same.statusCode).toBe(200);
    s3.on(GetObjectCommand).rejects(new Error('AccessDenied: arn:aws:iam::123456789012:role/internal-secret-role'));
    const broken = await handler(event('GET', '/approve', { query: approvalQuery(ID, EXP, KEY) }));
    expect(broken.statusCode).toBe(500);
    expect(broken.body).not.toContain('internal-secret-role');
    expect(broken.body).toMatch(/Reference [0-9a-f-]{36}/);
  });
});
