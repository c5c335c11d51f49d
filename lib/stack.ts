/** The cutline stack: one CutoverPipeline from the deploy config, with its outputs. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DeployConfig } from './config';
import { CutoverPipeline } from './cutover-pipeline';
import { CONSTRUCT_IDS } from './ids';

export class CutlineStack extends Stack {
  readonly pipeline: CutoverPipeline;
  constructor(scope: Construct, id: string, config: DeployConfig, props: StackProps = {}) {
    super(scope, id, { ...props, description: 'cutline: gated database cutovers (state machine, task functions, evidence bucket)' });
    this.pipeline = new CutoverPipeline(this, CONSTRUCT_IDS.pipeline, {
      databases: config.databases,
      jumpboxInstanceIds: config.jumpboxInstanceIds,
      parameterPaths: config.parameterPaths,
      writableParameters: config.writableParameters,
      objectLock: config.evidence.objectLock,
      retainEvidence: config.evidence.retain,
      workExpireDays: config.work.expireDays,
      approvalEmails: config.approval.emails,
      approvers: config.approval.approvers,
      approvalCliPrincipals: config.approval.cliPrincipals,
      approvalApiConcurrency: config.approval.apiConcurrency,
      slackWebhookParameter: config.approval.slackWebhookParameter,
      approvalHmacKeyParameter: config.approval.hmacKeyParameter,
      approvalBaseUrl: config.approval.baseUrl,
      slackSigningSecretParameter: config.approval.slackSigningSecretParameter,
      logRetention: config.logRetentionDays,
      chunkConcurrency: config.chunkConcurrency,
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn, description: 'cutline start spec.json --state-machine-arn <this>' });
    new CfnOutput(this, 'ApprovalUrl', { value: this.pipeline.approvalUrl.url, description: 'approval API (Slack interactivity: <this>slack)' });
    if (this.pipeline.approvalTopic)
      new CfnOutput(this, 'ApprovalTopicArn', { value: this.pipeline.approvalTopic.topicArn, description: 'spec approval.channels: [{ "type": "email", "topicArn": <this> }]' });
    new CfnOutput(this, 'RollbackFunctionName', { value: this.pipeline.functions.rollback.functionName, description: 'cutline rollback <runId> --function <this>' });
    new CfnOutput(this, 'ApprovalsBucketName', { value: this.pipeline.approvalsBucket.bucketName, description: 'cutline approve <runId> --approvals-bucket <this> (pending approvals; only the approval roles may read it)' });
    new CfnOutput(this, 'SigningKeyArn', { value: this.pipeline.signingKey.keyArn, description: 'cutline evidence verify <runId> --signing-key-arn <this> (or its public key: aws kms get-public-key)' });
    new CfnOutput(this, 'WorkBucketName', {
      value: this.pipeline.workBucket.bucketName,
      description: 'Map results and full jumpbox command output (s3://<this>/command-output/; the jumpbox instance role may put there), expired after work.expireDays',
    });
    new CfnOutput(this, 'EvidenceBucketName', { value: this.pipeline.evidenceBucket.bucket.bucketName, description: 'evidence: s3://<this>/runs/<runId>/' });
  }
}
