/** `cutline approve|reject <runId>` in AWS: the caller's AWS identity decides, once; S3, STS and Step Functions mocked. */
import { S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { miniSpec } from '../support/local-run';
import { type FakeBucket, fakeS3 } from '../support/fake-s3';

const s3m = mockClient(S3Client);
const stsm = mockClient(STSClient);
const sfnm = mockClient(SFNClient);
const lambdam = mockClient(LambdaClient);
const ID = 'c'.repeat(32);
let objects: FakeBucket;

beforeEach(() => {
  s3m.reset();
  stsm.reset();
  sfnm.reset();
  lambdam.reset();
  objects = fakeS3(s3m);
  objects.set(`private/approvals/by-run/prod-1/2026-12-01T00:00:00.000Z_${ID}.json`, JSON.stringify({ approvalId: ID }));
  objects.set(`private/approvals/${ID}/pending.json`, JSON.stringify({ approvalId: ID, runId: 'prod-1', taskToken: 'TOKEN', expiresAt: new Date(Date.now() + 3600_000).toISOString() }));
  stsm.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::123456789012:assumed-role/dba/alice' });
  sfnm.on(SendTaskSuccessCommand).resolves({});
  sfnm.on(SendTaskFailureCommand).resolves({});
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const aws = { s3: new S3Client({ region: 'eu-west-1' }), sts: new STSClient({ region: 'eu-west-1' }), sfn: new SFNClient({ region: 'eu-west-1' }), lambda: new LambdaClient({ region: 'eu-west-1' }) };
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: { CUTLINE_EVIDENCE_BUCKET: 'ev', CUTLINE_APPROVALS_BUCKET: 'approvals' } as NodeJS.ProcessEnv, aws } };
}

describe('cutline approve / reject', () => {
  it('approve: SendTaskSuccess as the caller, recorded in the evidence; a second time is refused', async () => {
    const t = io();
    expect(await main(['approve', 'prod-1', '--comment', 'hashes match'], t.io)).toBe(EXIT.OK);
    expect(t.out[0]).toBe('approved run prod-1 as arn:aws:sts::123456789012:assumed-role/dba/alice');
    expect(JSON.parse(sfnm.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toMatchObject({ approver: 'arn:aws:sts::123456789012:assumed-role/dba/alice', via: 'cli', comment: 'hashes match' });
    expect(JSON.parse(objects.get('runs/prod-1/09_approval.json')!).details.decision).toBe('approve');
    const again = io();
    expect(await main(['approve', 'prod-1', '--comment', 'again'], again.io)).toBe(EXIT.BAD_INPUT);
    expect(again.err[0]).toContain('already decided');
  });

  it('reject: SendTaskFailure(ApprovalRejected) with the comment', async () => {
    const t = io();
    expect(await main(['reject', 'prod-1', '--comment', 'gate drift on orders'], t.io)).toBe(EXIT.OK);
    const f = sfnm.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    expect([f.error, JSON.parse(f.cause!).errorMessage]).toEqual(['ApprovalRejected', 'rejected by arn:aws:sts::123456789012:assumed-role/dba/alice via cli: gate drift on orders']);
  });

  it('no pending approval, no bucket, no comment: exit 2 naming what is missing', async () => {
    const t = io();
    expect(await main(['approve', 'nope', '--comment', 'x'], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err[0]).toContain('no pending approval for run nope in s3://approvals/private/approvals/');
    const nb = io();
    nb.io.env = {};
    expect(await main(['approve', 'prod-1', '--comment', 'x'], nb.io)).toBe(EXIT.BAD_INPUT);
    expect(nb.err.join('\n')).toContain('needs --bucket or CUTLINE_EVIDENCE_BUCKET');
    const na = io();
    na.io.env = { CUTLINE_EVIDENCE_BUCKET: 'ev' };
    expect(await main(['approve', 'prod-1', '--comment', 'x'], na.io)).toBe(EXIT.BAD_INPUT);
    expect(na.err.join('\n')).toContain('needs --approvals-bucket or CUTLINE_APPROVALS_BUCKET');
    const nc = io();
    expect(await main(['approve', 'prod-1'], nc.io)).toBe(EXIT.BAD_INPUT);
    expect(sfnm.calls()).toHaveLength(0);
  });
});

describe('cutline rollback --function (AWS)', () => {
  /** The spec as the run recorded it (parsed: every default filled in), and its cutover record. */
  async function recorded(cutOver = true) {
    const { RunSpec } = await import('../../lambdas/core/spec');
    const spec = RunSpec.parse({ ...(await miniSpec({ runId: 'prod-1' })), source: { engine: 'postgres', dataApi: { resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:c', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s', database: 'd' } } });
    objects.set('runs/prod-1/spec.json', JSON.stringify(spec));
    if (cutOver) objects.set('runs/prod-1/10_cutover.json', JSON.stringify({ result: 'PASS' }));
  }

  it('guard rails as locally: a run that never cut over is refused, --dry-run only prints, off a terminal it needs --yes; nothing is invoked', async () => {
    await recorded(false);
    const never = io();
    expect(await main(['rollback', 'prod-1', '--function', 'Cutline-Rollback', '--yes'], never.io)).toBe(EXIT.BAD_INPUT);
    expect(never.err.join('\n')).toContain('never cut over');
    await recorded();
    const dry = io();
    expect(await main(['rollback', 'prod-1', '--function', 'Cutline-Rollback', '--dry-run'], dry.io)).toBe(EXIT.OK);
    expect(dry.out.join('\n')).toMatch(/would run \(nothing was changed\)[\s\S]*1\. runtime selector back to agent_id/);
    const unconfirmed = io();
    expect(await main(['rollback', 'prod-1', '--function', 'Cutline-Rollback'], unconfirmed.io)).toBe(EXIT.BAD_INPUT);
    expect(unconfirmed.err.join('\n')).toContain('expected --yes when not on a terminal');
    expect(lambdam.calls()).toHaveLength(0);
  });

  it('invokes the Rollback function with the recorded spec, as the caller, recorded apart', async () => {
    await recorded();
    lambdam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new Uint8Array(Buffer.from(JSON.stringify({ ok: true, actions: 3, manual: true }))) as never });
    const t = io();
    expect(await main(['rollback', 'prod-1', '--function', 'Cutline-Rollback', '--yes'], t.io)).toBe(EXIT.OK);
    const call = lambdam.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(call.FunctionName).toBe('Cutline-Rollback');
    expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString())).toMatchObject({ spec: { runId: 'prod-1' }, manual: { by: 'arn:aws:sts::123456789012:assumed-role/dba/alice' } });
    expect(t.out[0]).toContain('every action succeeded (3 action(s)');
  });
  it('a function error is exit 1 with its message', async () => {
    await recorded();
    lambdam.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new Uint8Array(Buffer.from(JSON.stringify({ errorType: 'PayloadParseError', errorMessage: 'Rollback payload is invalid' }))) as never });
    const t = io();
    expect(await main(['rollback', 'prod-1', '--function', 'Cutline-Rollback', '--yes'], t.io)).toBe(EXIT.NO_GO);
    expect(t.err[0]).toBe('rollback failed: PayloadParseError: Rollback payload is invalid');
  });
});
