/**
 * Security: IAM and resource policies read from the synthesized template (cdk-nag live). Each case is a path an
 * attacker inside the account, or a compromised function, had before issue 10 and has no longer.
 */
import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../lib/config';
import { CutlineStack } from '../../lib/stack';

const context = JSON.parse(readFileSync(new URL('../../cdk.context.json', import.meta.url), 'utf8'));
const DBA = 'arn:aws:iam::123456789012:role/dba-approvers';
const config = parseDeployConfig({
  ...context.cutline,
  approval: {
    ...context.cutline.approval,
    approvers: [
      { id: 'Alice@Example.com', email: 'alice@example.com', slackUserId: 'UALICE' },
      { id: 'bob@example.com', email: 'bob@example.com' },
    ],
    cliPrincipals: [DBA],
  },
});

let t: Template;
let fns: Record<string, { Properties: { Role: { 'Fn::GetAtt': string[] }; Environment?: { Variables?: Record<string, unknown> }; ReservedConcurrentExecutions?: number } }>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

/** Statements of the inline policies attached to one role (by the role's logical id). */
function statementsOfRole(roleId: string): Statement[] {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const roleOf = (match: (name: string) => boolean) => {
  const [, fn] = Object.entries(fns).find(([name]) => match(name))!;
  return fn.Properties.Role['Fn::GetAtt'][0]!;
};
const logicalId = (prefix: string, type: string) => Object.keys(t.findResources(type)).find((k) => k.startsWith(prefix))!;

beforeAll(() => {
  // No bundling: the template's IAM does not depend on the bundles (test/infra synthesizes with bundling).
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new CutlineStack(app, 'Cutline', config, { env: { account: '123456789012', region: 'eu-west-1' } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  t = Template.fromStack(stack);
  app.synth(); // cdk-nag: every finding is fixed or acknowledged with a reason
  fns = t.findResources('AWS::Lambda::Function') as typeof fns;
});

describe('task tokens', () => {
  it('attack: anyone who can read the evidence bucket reads a task token and calls SendTaskSuccess. Now tokens live in their own KMS-encrypted bucket that denies every other principal', () => {
    const bucketId = logicalId('PipelineApprovalsBucket', 'AWS::S3::Bucket');
    const bucket = t.findResources('AWS::S3::Bucket')[bucketId]!;
    const sse = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault;
    expect(sse.SSEAlgorithm).toBe('aws:kms');
    expect(sse.KMSMasterKeyID['Fn::GetAtt'][0]).toMatch(/^PipelineApprovalsApprovalsKey/);
    const policy = Object.values(t.findResources('AWS::S3::BucketPolicy')).find((p) => p.Properties.Bucket.Ref === bucketId)!;
    const deny = (policy.Properties.PolicyDocument.Statement as (Statement & { Principal: unknown; Sid?: string })[]).find((s) => s.Sid === 'OnlyTheApprovalRolesTouchPendingApprovals')!;
    expect([deny.Effect, deny.Principal]).toEqual(['Deny', { AWS: '*' }]);
    expect(deny.Action).toEqual(expect.arrayContaining(['s3:GetObject*', 's3:PutObject*']));
    const allowed = deny.Condition!.ArnNotLike!['aws:PrincipalArn'] as unknown[];
    const goNoGoRole = roleOf((n) => n.startsWith('PipelineGoNoGoFunction'));
    const apiRole = roleOf((n) => n.startsWith('PipelineApprovalApiFunction'));
    expect(allowed).toEqual([{ 'Fn::GetAtt': [apiRole, 'Arn'] }, { 'Fn::GetAtt': [goNoGoRole, 'Arn'] }, DBA].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
  });

  it('attack: a compromised task function (or the state machine) reads pending approvals. Now only GoNoGo and the approval API have any grant on them', () => {
    const bucketId = logicalId('PipelineApprovalsBucket', 'AWS::S3::Bucket');
    const readers = Object.entries(fns)
      .filter(([, f]) => statementsOfRole(f.Properties.Role['Fn::GetAtt'][0]!).some((s) => JSON.stringify(s.Resource).includes(bucketId)))
      .map(([name]) => name.replace(/^Pipeline|Function[0-9A-F]+$/g, ''));
    expect(readers.sort()).toEqual(['ApprovalApi', 'GoNoGo']);
    const sm = Object.values(t.findResources('AWS::IAM::Role')).length && statementsOfRole(logicalId('PipelineStateMachineRole', 'AWS::IAM::Role'));
    expect(JSON.stringify(sm)).not.toContain(bucketId);
    // and no role is granted the evidence bucket's old private prefix any more
    const evidence = logicalId('PipelineEvidenceBucket', 'AWS::S3::Bucket');
    const grants = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(grants.filter((g) => JSON.stringify(g.Resource).includes(evidence) && JSON.stringify(g).includes('private/')).length).toBe(0);
  });
});

describe('secrets and writes', () => {
  it('attack: GoNoGo (which handles the approval links) reads every launch-gate secret. Now it reads only the HMAC key and the Slack webhook', () => {
    const reads = statementsOfRole(roleOf((n) => n.startsWith('PipelineGoNoGoFunction'))).filter((s) => [s.Action].flat().includes('ssm:GetParameters'));
    const text = JSON.stringify(reads);
    expect(text).not.toContain('parameter/cloudbackup/prod/*');
    expect(text).toContain('parameter/cutline/approval/hmac-key');
  });

  it('attack: Cutover / Rollback overwrite any parameter under the launch-gate path. Now they (and Phase) write only the parameters the deploy config lists', () => {
    for (const fn of ['PipelineCutoverFunction', 'PipelinePhaseFunction', 'PipelineRollbackFunction']) {
      const writes = statementsOfRole(roleOf((n) => n.startsWith(fn))).filter((s) => [s.Action].flat().includes('ssm:PutParameter'));
      expect(writes.flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r))).toEqual([expect.stringMatching(/parameter\/cloudbackup\/prod\/agent-identity"\]\]\}$/)]);
    }
    const others = Object.entries(fns).filter(([n]) => !/^Pipeline(Cutover|Phase|Rollback)Function/.test(n));
    for (const [, f] of others) expect(statementsOfRole(f.Properties.Role['Fn::GetAtt'][0]!).flatMap((s) => [s.Action].flat())).not.toContain('ssm:PutParameter');
  });
});

describe('the evidence signing key', () => {
  it('attack: whoever can write the evidence rebuilds the manifest and its anchor. Now roots are signed by an asymmetric KMS key only Summary and Rollback may use', () => {
    const keyId = logicalId('PipelineSigningKey', 'AWS::KMS::Key');
    expect(t.findResources('AWS::KMS::Key')[keyId]!.Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const signers = Object.entries(fns)
      .filter(([, f]) => statementsOfRole(f.Properties.Role['Fn::GetAtt'][0]!).some((s) => [s.Action].flat().includes('kms:Sign')))
      .map(([name]) => name.replace(/^Pipeline|Function[0-9A-F]+$/g, ''));
    expect(signers.sort()).toEqual(['Rollback', 'Summary']);
    for (const fn of ['PipelineSummaryFunction', 'PipelineRollbackFunction']) {
      const sign = statementsOfRole(roleOf((n) => n.startsWith(fn))).filter((s) => [s.Action].flat().includes('kms:Sign'));
      expect(sign.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [keyId, 'Arn'] }]);
    }
    expect(Object.keys(t.findOutputs('SigningKeyArn'))).toEqual(['SigningKeyArn']);
  });
});

describe('the public approval function', () => {
  it('attack: a flood of requests on the unauthenticated Function URL uses the account\'s whole concurrency. Now it has reserved concurrency', () => {
    const api = Object.entries(fns).find(([n]) => n.startsWith('PipelineApprovalApiFunction'))![1];
    expect(api.Properties.ReservedConcurrentExecutions).toBe(5);
  });

  it('attack: every subscriber of the approval topic receives every personal link. Now each approver\'s subscription accepts only messages for them; group addresses only link-free notices and shared links', () => {
    const subs = Object.values(t.findResources('AWS::SNS::Subscription')).map((s) => [s.Properties.Endpoint, s.Properties.FilterPolicy]);
    expect(subs).toEqual([
      ['db-approvers@example.com', { audience: ['all'] }],
      ['alice@example.com', { approver: ['alice@example.com'] }],
      ['bob@example.com', { approver: ['bob@example.com'] }],
    ]);
    const api = Object.entries(fns).find(([n]) => n.startsWith('PipelineApprovalApiFunction'))![1];
    expect(JSON.parse(api.Properties.Environment!.Variables!.CUTLINE_APPROVERS as string)).toEqual([
      { id: 'alice@example.com', email: 'alice@example.com', slackUserId: 'UALICE' },
      { id: 'bob@example.com', email: 'bob@example.com' },
    ]);
  });
});
