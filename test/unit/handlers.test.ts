/**
 * Lambda handlers as deployed (`handler` export, AWS ports built once per
 * container), with every AWS call mocked: parse -> core -> evidence in S3.
 */
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DescribeInstanceInformationCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunSpec } from '../../lambdas/core/spec';

const rds = mockClient(RDSDataClient);
const s3 = mockClient(S3Client);
const ssm = mockClient(SSMClient);
const sns = mockClient(SNSClient);

const spec = RunSpec.parse({
  version: 1,
  runId: 'aws-run-1',
  owner: 'ops@example.com',
  tCutover: '2026-11-21T02:00:00Z',
  source: {
    engine: 'postgres',
    dataApi: { resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:prod', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-AbC', database: 'app' },
  },
  preflight: { parameters: [{ name: '/app/NODE_ENV', equals: 'production', secret: false }] },
  jumpbox: { instanceId: 'i-0abc12345678def01' },
  approval: { timeoutSeconds: 3600, channels: [{ type: 'email', topicArn: 'arn:aws:sns:eu-west-1:123456789012:approvals' }] },
});
const state = { spec, results: {}, execution: { name: 'aws-run-1', id: 'arn:aws:states:eu-west-1:123456789012:execution:cutline:aws-run-1' } };

beforeAll(() => {
  process.env.EVIDENCE_BUCKET = 'ev-bucket';
  process.env.WORK_BUCKET = 'work-bucket';
  process.env.APPROVALS_BUCKET = 'approvals-bucket';
  process.env.APPROVAL_SECRET_PARAMETER = '/cutline/approval/hmac-key';
  process.env.APPROVAL_BASE_URL = 'https://approve.example.com';
  process.env.AWS_REGION = 'eu-west-1';
});
beforeEach(() => {
  rds.reset();
  s3.reset();
  ssm.reset();
  sns.reset();
  s3.on(PutObjectCommand).resolves({});
  // A new run: no evidence yet (S3 answers NoSuchKey, as for the baseline Preflight looks for first).
  s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
});

function putBodies(): Record<string, any> {
  return Object.fromEntries(
    s3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Key, JSON.parse(Buffer.from(c.args[0].input.Body as Uint8Array).toString('utf8'))]),
  );
}

describe('Preflight handler', () => {
  it('blocks the run, listing each failing check in the S3 evidence', async () => {
    rds.on(ExecuteStatementCommand).resolves({ records: [[{ stringValue: 'PostgreSQL 16.4 on aarch64-unknown-linux-gnu' }]], columnMetadata: [{ name: 'v', typeName: 'text' }] });
    ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: '/app/NODE_ENV', Value: 'staging' }] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-0abc12345678def01', PingStatus: 'Online' }] });
    const handler = (await import('../../lambdas/handlers/task')).awsHandler('preflight');
    await expect(handler(state)).rejects.toMatchObject({ name: 'EnvironmentBlocked', message: expect.stringContaining('/app/NODE_ENV') });
    const call = rds.commandCalls(ExecuteStatementCommand)[0]!.args[0].input;
    expect(call).toMatchObject({ resourceArn: spec.source.dataApi!.resourceArn, secretArn: spec.source.dataApi!.secretArn, database: 'app', sql: 'SELECT version() AS v' });
    const rec = putBodies()['runs/aws-run-1/02_preflight.json'];
    expect(rec.result).toBe('FAIL');
    expect(rec.details.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['source database reachable (postgres)', true],
      ['parameter /app/NODE_ENV', false],
      ['jumpbox i-0abc12345678def01 online', true],
    ]);
  });

  it('refuses an invalid payload with one parse error naming the field', async () => {
    const handler = (await import('../../lambdas/handlers/task')).awsHandler('preflight');
    await expect(handler({ spec: { ...spec, runId: 'no spaces allowed' }, results: {}, execution: state.execution })).rejects.toMatchObject({
      name: 'PayloadParseError',
      message: expect.stringContaining('$.spec.runId: got "no spaces allowed"'),
    });
  });
});

describe('ValidateSpec handler (AWS)', () => {
  it('refuses local-only choices in an AWS run', async () => {
    const handler = (await import('../../lambdas/handlers/task')).awsHandler('validateSpec');
    const raw = { ...spec, approval: { timeoutSeconds: 60, channels: [{ type: 'local' }] } };
    await expect(handler({ spec: raw, results: {}, execution: state.execution })).rejects.toMatchObject({ name: 'SpecInvalid', message: expect.stringContaining('$.approval.channels') });
    expect(putBodies()['runs/aws-run-1/01_validate.json'].result).toBe('FAIL');
  });
});

describe('GoNoGo handler', () => {
  it('keeps the task token in the private prefix and e-mails a signed link without it', async () => {
    ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: '/cutline/approval/hmac-key', Value: 'k'.repeat(64) }] });
    sns.on(PublishCommand).resolves({});
    const handler = (await import('../../lambdas/handlers/task')).awsHandler('goNoGo');
    const token = `AQCEAAAAKgAAAA${'x'.repeat(200)}`;
    const out = (await handler({ taskToken: token, state })) as { approvalId: string; channels: string[] };
    expect(out.channels).toEqual(['email']);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const pending = puts.find((p) => p.Key === `private/approvals/${out.approvalId}/pending.json`)!;
    expect(JSON.parse(String(pending.Body)).taskToken).toBe(token);
    expect(pending.IfNoneMatch).toBe('*');
    const msg = sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!;
    expect(msg).toMatch(new RegExp(`https://approve\\.example\\.com/approve\\?id=${out.approvalId}&exp=[^&]+&sig=[A-Za-z0-9_-]{43}`));
    expect(msg).not.toContain(token);
    for (const p of puts.filter((p) => p.Key!.startsWith('runs/'))) expect(String(Buffer.from(p.Body as Uint8Array))).not.toContain(token);
  });
});

describe('a dropped connection in any stage', () => {
  it('is rethrown as DatabaseConnectionLost, which every Task state retries; a named stage error stays as it is', async () => {
    const { runDefined } = await import('../../lambdas/handlers/define');
    const { StageState } = await import('../../lambdas/core/payloads');
    const { TRANSIENT_ERRORS, EnvironmentBlocked } = await import('../../lambdas/core/errors');
    const ctx = { deps: {} as never, platform: 'local' as const };
    const stage = (fail: () => never) => ({ input: StageState, run: async () => fail(), timeoutSeconds: 900, caps: [] });
    const dropped = stage(() => {
      throw new Error('terminating connection due to administrator command');
    });
    await expect(runDefined('Verify', dropped, ctx, state)).rejects.toMatchObject({ name: 'DatabaseConnectionLost', message: 'terminating connection due to administrator command' });
    expect(TRANSIENT_ERRORS).toContain('DatabaseConnectionLost');
    const named = stage(() => {
      throw new EnvironmentBlocked('source database reachable: unreachable: ECONNREFUSED');
    });
    await expect(runDefined('Preflight', named, ctx, state)).rejects.toMatchObject({ name: 'EnvironmentBlocked' });
    const bug = stage(() => {
      throw new TypeError('x is undefined');
    });
    await expect(runDefined('Gates', bug, ctx, state)).rejects.toMatchObject({ name: 'TypeError' });
  });
});
