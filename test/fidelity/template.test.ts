/**
 * Fidelity: what the deployed template must allow for the state machine to run as AWS runs it. The Distributed
 * Map's ResultWriter writes its results with multipart uploads (it needs AbortMultipartUpload and
 * ListMultipartUploadParts besides PutObject); a spec names the approval topic by ARN (the stack must say it);
 * a fan-out of up to 1,000 concurrent children must not take the account's whole Lambda concurrency.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../lib/config';
import { CutlineStack } from '../../lib/stack';

const context = JSON.parse(readFileSync(new URL('../../cdk.context.json', import.meta.url), 'utf8'));
let t: Template;
beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  t = Template.fromStack(new CutlineStack(app, 'Cutline', parseDeployConfig(context.cutline), { env: { account: '123456789012', region: 'eu-west-1' } }));
});

const statements = (rolePrefix: string) =>
  Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);

describe('the deployed template', () => {
  it('lets the Distributed Map ResultWriter finish (and abort) its multipart uploads in the run prefix', () => {
    const actions = statements('PipelineStateMachineRole').flatMap((s) => [s.Action].flat());
    for (const a of ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']) expect(actions).toContain(a);
  });

  it('outputs the approval topic ARN a spec names in approval.channels[].topicArn', () => {
    expect(t.findOutputs('ApprovalTopicArn').ApprovalTopicArn?.Value).toEqual({ Ref: expect.stringMatching(/^PipelineApprovalTopic/) });
  });

  it('caps the chunk functions a Distributed Map fans out to with reserved concurrency', () => {
    const fns = t.findResources('AWS::Lambda::Function');
    for (const name of ['PipelineGateChunkFunction', 'PipelineBackfillChunkFunction']) {
      const [, fn] = Object.entries(fns).find(([id]) => id.startsWith(name))!;
      expect(fn.Properties.ReservedConcurrentExecutions, name).toBe(100);
    }
  });
});
