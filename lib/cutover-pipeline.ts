/**
 * CutoverPipeline: the evidence bucket, one Lambda per Task state, and the
 * state machine built from statemachines/cutover.asl.json with
 * definitionSubstitutions. IAM is scoped to the configured clusters, secrets,
 * jumpbox instances and parameter paths.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { normalizeIdentity } from '../lambdas/core/approval';
import { functionSubstitution, STAGE_FUNCTION_MEMORY_MB, TASK_KEYS, type TaskKey, taskName } from '../lambdas/core/states';
import { STAGES } from '../lambdas/handlers/stages';
import type { DirectoryApprover } from '../lambdas/ports';
import { ApprovalsBucket } from './approvals-bucket';
import { EvidenceBucket } from './evidence-bucket';
import { WorkBucket } from './work-bucket';
import { CONSTRUCT_IDS } from './ids';
import { acknowledge, acknowledgeWildcards } from './nag';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ASL_PATH = path.join(ROOT, 'statemachines/cutover.asl.json');

export interface DatabaseAccess {
  /** Aurora cluster ARN (Data API enabled). */
  readonly clusterArn: string;
  /** The Secrets Manager secret the Data API uses for this cluster. */
  readonly secretArn: string;
}

export interface CutoverPipelineProps {
  /** Clusters the pipeline may query. Required: at least one. */
  readonly databases: readonly DatabaseAccess[];
  /** Jumpbox instances for SSM Run Command. Default: none (no ssm:SendCommand is granted). */
  readonly jumpboxInstanceIds?: readonly string[];
  /** Parameter paths readable by the launch gate, e.g. "/app/prod/". Default: none. */
  readonly parameterPaths?: readonly string[];
  /** Parameters cutover / rollback may overwrite; each under one of parameterPaths. Default: none. */
  readonly writableParameters?: readonly string[];
  /** Object Lock default retention for evidence. Default: none. */
  readonly objectLock?: { readonly mode: 'GOVERNANCE' | 'COMPLIANCE'; readonly days: number };
  /** Keep evidence when the stack is deleted. Default: true. */
  readonly retainEvidence?: boolean;
  /** Approval e-mail recipients (an encrypted SNS topic is created): shared links and notices, never a personal link. Default: none. */
  readonly approvalEmails?: readonly string[];
  /** Approvers a spec may name: each e-mail subscription is filtered on the approver's identity; Slack user ids map button presses to them. Default: none. */
  readonly approvers?: readonly DirectoryApprover[];
  /** Principals (ARNs) allowed to run `cutline approve`: exempt from the approvals bucket's deny. Default: none. */
  readonly approvalCliPrincipals?: readonly string[];
  /** Reserved concurrency of the public approval function. Default: 5. */
  readonly approvalApiConcurrency?: number;
  /** SSM SecureString holding the Slack webhook URL. Default: no Slack. */
  readonly slackWebhookParameter?: string;
  /** SSM SecureString with the approval-link HMAC key. Default: /cutline/approval/hmac-key. */
  readonly approvalHmacKeyParameter?: string;
  /** Base URL of the approval page (a custom domain in front of the approval API). Default: the approval function's URL. */
  readonly approvalBaseUrl?: string;
  /** SSM SecureString with the Slack app's signing secret: enables Slack buttons (interactivity). Default: none. */
  readonly slackSigningSecretParameter?: string;
  /** Log retention for functions and the state machine. Default: one year. */
  readonly logRetention?: logs.RetentionDays;
  /** Memory per function in MB. Default: 512. */
  readonly memorySize?: number;
  /** Days until an object of the work bucket (Map results, full command output) expires. Default: 30. */
  readonly workExpireDays?: number;
  /** Reserved concurrency of each chunk function (gate and backfill chunks fan out up to 1,000 at once). Default: 100. */
  readonly chunkConcurrency?: number;
}


export class CutoverPipeline extends Construct {
  readonly evidenceBucket: EvidenceBucket;
  /** Not evidence and never under Object Lock: Distributed Map results and full jumpbox command output; expiring. */
  readonly workBucket: s3.Bucket;
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Readonly<Record<TaskKey, nodejs.NodejsFunction>>;
  readonly approvalTopic?: sns.Topic;
  /** Pending approvals (task tokens): their own bucket and KMS key, denied to every other principal. */
  readonly approvalsBucket: s3.Bucket;
  /** Signs manifest roots (ECDSA P-256): auditors verify with its public key (`aws kms get-public-key`). */
  readonly signingKey: kms.Key;
  readonly approvalApi: nodejs.NodejsFunction;
  readonly approvalUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: CutoverPipelineProps) {
    super(scope, id);
    validateProps(props);
    const stack = Stack.of(this);
    const paramArn = (name: string) =>
      stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, ''), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const hmacParam = props.approvalHmacKeyParameter ?? '/cutline/approval/hmac-key';

    this.evidenceBucket = new EvidenceBucket(this, CONSTRUCT_IDS.evidence, { objectLock: props.objectLock, retain: props.retainEvidence });
    const bucket = this.evidenceBucket.bucket;
    this.workBucket = new WorkBucket(this, CONSTRUCT_IDS.work, { accessLogs: this.evidenceBucket.accessLogs, expireDays: props.workExpireDays, retain: props.retainEvidence }).bucket;
    const work = this.workBucket;

    const approvals = new ApprovalsBucket(this, CONSTRUCT_IDS.approvals, { accessLogs: this.evidenceBucket.accessLogs, retain: props.retainEvidence });
    approvals.allowPrincipalArns(props.approvalCliPrincipals ?? []);
    this.approvalsBucket = approvals.bucket;
    const approvers = (props.approvers ?? []).map((a) => ({ ...a, id: normalizeIdentity(a.id) }));
    const mailed = approvers.filter((a) => a.email);
    if (props.approvalEmails?.length || mailed.length) {
      const key = new kms.Key(this, CONSTRUCT_IDS.approvalTopicKey, { enableKeyRotation: true, description: 'cutline approval topic' });
      this.approvalTopic = new sns.Topic(this, CONSTRUCT_IDS.approvalTopic, { masterKey: key, enforceSSL: true, displayName: 'cutline go/no-go' });
      // One person, one link: a message carrying a personal link has the attribute approver=<id>, which only that approver's subscription accepts.
      for (const e of props.approvalEmails ?? [])
        this.approvalTopic.addSubscription(new subs.EmailSubscription(e, { filterPolicy: { audience: sns.SubscriptionFilter.stringFilter({ allowlist: ['all'] }) } }));
      for (const a of mailed)
        this.approvalTopic.addSubscription(new subs.EmailSubscription(a.email!, { filterPolicy: { approver: sns.SubscriptionFilter.stringFilter({ allowlist: [a.id] }) } }));
    }
    const directory = JSON.stringify(approvers);
    this.signingKey = new kms.Key(this, CONSTRUCT_IDS.signingKey, {
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      description: 'cutline: signs evidence manifest roots',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(this.signingKey, 'AwsSolutions-KMS5', 'An asymmetric signing key cannot be rotated by KMS; a rotated key would also orphan every signature auditors verify with its public key.');

    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const stateMachineName = `${Stack.of(this).stackName}-cutover`;
    const smArn = Stack.of(this).formatArn({ service: 'states', resource: 'stateMachine', resourceName: stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    // The approval API: signed links from e-mail / Slack and Slack interactivity, behind a Function URL.
    this.approvalApi = new nodejs.NodejsFunction(this, 'ApprovalApiFunction', {
      entry: path.join(ROOT, 'lambdas/handlers/approval-api.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroup: new logs.LogGroup(this, 'ApprovalApiLogs', { retention }),
      // A public URL: a flood of requests may use only this much of the account's concurrency.
      reservedConcurrentExecutions: props.approvalApiConcurrency ?? 5,
      environment: {
        EVIDENCE_BUCKET: bucket.bucketName,
        APPROVALS_BUCKET: approvals.bucket.bucketName,
        APPROVAL_SECRET_PARAMETER: hmacParam,
        CUTLINE_APPROVERS: directory,
        ...(props.slackSigningSecretParameter ? { SLACK_SIGNING_SECRET_PARAMETER: props.slackSigningSecretParameter } : {}),
      },
      bundling: { minify: true, sourceMap: true, target: 'node22', externalModules: ['@aws-sdk/*'] },
    });
    // No IAM auth: approvers have no AWS identity. Every decision needs an HMAC-signed, expiring, single-use link or a signed Slack request.
    this.approvalUrl = this.approvalApi.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.approvalApi.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [bucket.arnForObjects('runs/*')] }));
    approvals.allow(this.approvalApi.role!);
    this.approvalApi.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'], resources: [smArn] }));
    if (props.slackSigningSecretParameter)
      // A Slack vote is answered at once and decided by an asynchronous invocation of this function (Slack's 3 s).
      // A policy of its own: in the role's default policy the function's ARN would make the function depend on itself.
      new iam.Policy(this, 'ApprovalApiSelfInvoke', {
        roles: [this.approvalApi.role!],
        statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.approvalApi.functionArn] })],
      });
    this.approvalApi.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:GetParameters'], resources: [paramArn(hmacParam), ...(props.slackSigningSecretParameter ? [paramArn(props.slackSigningSecretParameter)] : [])] }),
    );
    acknowledgeWildcards(this.approvalApi, [approvals.bucket.arnForObjects('private/approvals/*')], 'Pending approvals, votes and decisions in the approvals bucket, which denies every other principal.');
    acknowledgeWildcards(this.approvalApi, [bucket.arnForObjects('runs/*')], 'Go/no-go decision and vote records in run evidence.');
    acknowledge(this.approvalApi, 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'Writing votes into the KMS-encrypted approvals bucket needs GenerateDataKey* on that one key (CDK grantEncryptDecrypt).');
    acknowledge(this.approvalApi, 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]', 'CDK grantEncryptDecrypt on the approvals key (that one key only).');
    acknowledge(this.approvalApi, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.');
    acknowledge(this.approvalApi, 'AwsSolutions-L1', 'nodejs22.x is the supported target runtime of cutline; a newer runtime is adopted after testing.');
    const approvalBase = props.approvalBaseUrl ?? this.approvalUrl.url;

    const fns = {} as Record<TaskKey, nodejs.NodejsFunction>;
    for (const key of TASK_KEYS) {
      const { timeoutSeconds, caps } = STAGES[key];
      const name = taskName(key);
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention });
      const fn = new nodejs.NodejsFunction(this, `${name}Function`, {
        entry: path.join(ROOT, 'lambdas/handlers/task.ts'),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? STAGE_FUNCTION_MEMORY_MB,
        timeout: Duration.seconds(timeoutSeconds),
        // A Distributed Map fans out to these: capped, so a big run cannot take the account's whole Lambda concurrency.
        ...(caps.includes('fanOut') ? { reservedConcurrentExecutions: props.chunkConcurrency ?? 100 } : {}),
        logGroup,
        environment: {
          CUTLINE_STAGE: key,
          EVIDENCE_BUCKET: bucket.bucketName,
          WORK_BUCKET: work.bucketName,
          APPROVAL_SECRET_PARAMETER: hmacParam,
          ...(caps.includes('approvals') ? { APPROVAL_BASE_URL: approvalBase, APPROVALS_BUCKET: approvals.bucket.bucketName } : {}),
          ...(caps.includes('approvers') ? { CUTLINE_APPROVERS: directory } : {}),
          ...(caps.includes('sign') ? { SIGNING_KEY_ARN: this.signingKey.keyArn } : {}),
          NODE_OPTIONS: '--enable-source-maps',
        },
        bundling: {
          minify: true,
          sourceMap: true,
          target: 'node22',
          externalModules: ['@aws-sdk/*'],
          // Local adapters (PGlite, pg, mysql2) are never imported by a handler.
        },
      });
      this.grant(fn, key, props, paramArn, hmacParam);
      if (caps.includes('sign')) fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [this.signingKey.keyArn] }));
      if (caps.includes('approvals')) {
        approvals.allow(fn.role!);
        acknowledge(fn, 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'Writing pending approvals into the KMS-encrypted approvals bucket (and publishing to the encrypted topic) needs GenerateDataKey* on those keys only.');
        acknowledgeWildcards(fn, [approvals.bucket.arnForObjects('private/approvals/*')], 'Pending approvals in the approvals bucket, which denies every other principal.');
        acknowledge(fn, 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]', 'CDK grantEncryptDecrypt on the approvals key (that one key only).');
      }
      fns[key] = fn;
    }
    this.functions = fns;

    const smLogs = new logs.LogGroup(this, CONSTRUCT_IDS.stateMachineLogs, { retention });
    // A fixed name lets roles name its ARN (Distributed Map children, the approval API) without a cycle.
    this.stateMachine = new sfn.StateMachine(this, CONSTRUCT_IDS.stateMachine, {
      stateMachineName,
      // Inline (not an S3 asset): the template shows the exact definition an auditor reviews.
      definitionBody: sfn.DefinitionBody.fromString(readFileSync(ASL_PATH, 'utf8')),
      definitionSubstitutions: {
        ...Object.fromEntries(TASK_KEYS.map((k) => [functionSubstitution(k), fns[k].functionArn])),
        EvidenceBucketName: bucket.bucketName,
        WorkBucketName: work.bucketName,
      },
      // Execution data holds task tokens and spec values: never logged.
      logs: { destination: smLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    for (const fn of Object.values(fns)) fn.grantInvoke(this.stateMachine);
    // Distributed Maps (many gate or backfill chunks): read the items file, write results, run child executions.
    const execArns = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}/*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [smArn] }));
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [execArns] }));
    // ItemReader reads the plan (evidence); ResultWriter writes to the work bucket with multipart uploads (and aborts them when a run stops).
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('runs/*')] }));
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: [work.arnForObjects('runs/*')] }),
    );
    acknowledgeWildcards(this.stateMachine, [execArns], 'Distributed Map child executions of this state machine have generated names.');
    acknowledgeWildcards(this.stateMachine, [bucket.arnForObjects('runs/*')], 'The Distributed Maps read gate and backfill items from the run evidence prefix.');
    acknowledgeWildcards(this.stateMachine, [work.arnForObjects('runs/*')], 'The Distributed Maps write their results under the run prefix of the work bucket.');
    acknowledgeWildcards(
      this.stateMachine,
      Object.values(fns).map((f) => `${f.functionArn}:*`),
      'lambda:InvokeFunction on "<function arn>:*" covers versions and aliases of our own task functions (CDK grantInvoke).',
    );
    acknowledgeWildcards(this.stateMachine, ['*'], 'X-Ray tracing and CloudWatch Logs delivery actions support no resource-level permissions.');
  }

  private grant(fn: nodejs.NodejsFunction, key: TaskKey, props: CutoverPipelineProps, paramArn: (n: string) => string, hmacParam: string) {
    const { caps } = STAGES[key];
    const bucket = this.evidenceBucket.bucket;
    // Evidence is written and read, never deleted, by the functions.
    const objects = (prefix: string, actions: string[]) => {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [bucket.arnForObjects(`${prefix}*`)] }));
      acknowledgeWildcards(fn, [bucket.arnForObjects(`${prefix}*`)], `Objects under our own evidence bucket prefix ${prefix}; keys are per run and per step.`);
    };
    const listing = (prefixes: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } } }));
    // PutObject also covers a multipart upload's create, parts and completion (Gates' chunks.jsonl); abort drops a half-written one.
    objects('runs/', ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload']);
    const prefixes = ['runs/'];
    if (caps.includes('migrations')) {
      objects('migrations/', ['s3:GetObject']);
      prefixes.push('migrations/');
    }
    listing(prefixes);
    if (caps.includes('db')) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['rds-data:ExecuteStatement', 'rds-data:BatchExecuteStatement', 'rds-data:BeginTransaction', 'rds-data:CommitTransaction', 'rds-data:RollbackTransaction'],
          resources: props.databases.map((d) => d.clusterArn),
        }),
      );
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: props.databases.map((d) => d.secretArn) }));
    }
    if (caps.includes('backup') && props.databases.length) {
      // The backup before Schema: a snapshot of a configured cluster, named cutline-* (core/backup.ts backupId).
      const snapshots = [...new Set(props.databases.map((d) => d.clusterArn.replace(/:cluster:[A-Za-z0-9-]+$/, ':cluster-snapshot:cutline-*')))];
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:CreateDBClusterSnapshot'], resources: [...props.databases.map((d) => d.clusterArn), ...snapshots] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:AddTagsToResource', 'rds:DescribeDBClusterSnapshots'], resources: snapshots }));
      acknowledgeWildcards(fn, snapshots, 'Snapshots named cutline-<run>-pre-schema of the configured clusters; the name is per run.');
    }
    if (caps.includes('restore') && props.databases.length) {
      // The rollback's restore: the run's snapshot (cutline-*) to a new cluster named cutline-*, its writer, its Data API
      // (core/actions.ts restoreAction, adapters/aws/rds.ts). Nothing else is created, modified or deleted.
      const scope = (d: { clusterArn: string }, kind: string) => d.clusterArn.replace(/:cluster:[A-Za-z0-9-]+$/, `:${kind}`);
      const each = (kind: string) => [...new Set(props.databases.map((d) => scope(d, kind)))];
      const [snapshots, clusters, instances] = [each('cluster-snapshot:cutline-*'), each('cluster:cutline-*'), each('db:cutline-*')];
      const settings = [...each('subgrp:*'), ...each('cluster-pg:*'), ...each('pg:*'), ...each('og:*')];
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBClusters'], resources: [...props.databases.map((d) => d.clusterArn), ...clusters] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBInstances'], resources: each('db:*') }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:RestoreDBClusterFromSnapshot'], resources: [...clusters, ...snapshots, ...settings] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:CreateDBInstance'], resources: [...instances, ...clusters, ...settings] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:AddTagsToResource', 'rds:EnableHttpEndpoint'], resources: [...clusters, ...instances] }));
      // An encrypted snapshot: RDS uses its key on the function's behalf (and only RDS: kms:ViaService).
      const regions = [...new Set(props.databases.map((d) => d.clusterArn.split(':')[3]!))];
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['kms:CreateGrant', 'kms:DescribeKey'], resources: ['*'], conditions: { StringEquals: { 'kms:ViaService': regions.map((r) => `rds.${r}.amazonaws.com`) } } }),
      );
      acknowledgeWildcards(
        fn,
        [...snapshots, ...clusters, ...instances, ...settings, ...each('db:*'), '*'],
        'The rollback restores the run snapshot (cutline-*) to a new cluster and writer named cutline-*, with the old cluster network and parameter groups (named at run time); describes instances to copy the writer class; KMS only via RDS.',
      );
    }
    if (caps.includes('alarms')) {
      // A soak's alarm monitors: read the state of alarms (named in the spec at run time), nothing else.
      const alarms = Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: [alarms] }));
      acknowledgeWildcards(fn, [alarms], 'A soak reads the state of the CloudWatch alarms its spec names (at run time); DescribeAlarms only reads.');
    }
    const readable = [
      ...(caps.includes('paramsRead') ? (props.parameterPaths ?? []).map((p) => `${paramArn(p.endsWith('/') ? p : `${p}/`)}*`) : []),
      ...(caps.includes('approvals') ? [paramArn(hmacParam), ...(props.slackWebhookParameter ? [paramArn(props.slackWebhookParameter)] : [])] : []),
      ...(caps.includes('paramsWrite') ? (props.writableParameters ?? []).map(paramArn) : []),
    ];
    if (readable.length) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameters', 'ssm:GetParameter'], resources: readable }));
      acknowledgeWildcards(fn, readable.filter((r) => r.endsWith('*')), 'Launch-gate parameters under the configured parameter paths (deploy config parameterPaths).');
    }
    if (caps.includes('paramsWrite') && props.writableParameters?.length)
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:PutParameter'], resources: props.writableParameters.map(paramArn) }));
    if (caps.includes('commands') && props.jumpboxInstanceIds?.length) {
      const stack = Stack.of(this);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:SendCommand'],
          resources: [
            ...props.jumpboxInstanceIds.map((i) => stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: i })),
            stack.formatArn({ service: 'ssm', account: '', resource: 'document', resourceName: 'AWS-RunShellScript' }),
          ],
        }),
      );
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation', 'ssm:DescribeInstanceInformation', 'ssm:CancelCommand'], resources: ['*'] }));
      acknowledgeWildcards(fn, ['*'], 'ssm:GetCommandInvocation, ssm:DescribeInstanceInformation and ssm:CancelCommand support no resource-level permissions.');
      // SSM writes the full output with the instance's role (README: the jumpbox instance role); the poller reads it.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.workBucket.arnForObjects('command-output/*')] }));
      acknowledgeWildcards(fn, [this.workBucket.arnForObjects('command-output/*')], 'Full jumpbox command output, under the command-output/ prefix of the work bucket; keys are per command.');
    }
    // (GoNoGo's acknowledgement of kms:GenerateDataKey* covers this grant and the approvals key's.)
    if (caps.includes('notify') && this.approvalTopic) this.approvalTopic.grantPublish(fn);
    acknowledge(
      fn,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.",
    );
    acknowledge(fn, 'AwsSolutions-L1', 'nodejs22.x is the supported target runtime of cutline; a newer runtime is adopted after testing.');
  }
}

/** Bad combinations fail in the constructor, naming the prop, the value and what was expected. */
function validateProps(p: CutoverPipelineProps): void {
  if (!p.databases.length) throw new Error('CutoverPipeline: databases is empty; expected at least one { clusterArn, secretArn }');
  for (const [i, d] of p.databases.entries()) {
    if (!/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z0-9-]+$/.test(d.clusterArn))
      throw new Error(`CutoverPipeline: databases[${i}].clusterArn is ${JSON.stringify(d.clusterArn)}; expected arn:aws:rds:<region>:<account>:cluster:<name>`);
    if (!/^arn:aws[a-z-]*:secretsmanager:/.test(d.secretArn))
      throw new Error(`CutoverPipeline: databases[${i}].secretArn is ${JSON.stringify(d.secretArn)}; expected a Secrets Manager secret ARN`);
  }
  for (const p2 of p.parameterPaths ?? [])
    if (!p2.startsWith('/')) throw new Error(`CutoverPipeline: parameterPaths has ${JSON.stringify(p2)}; expected a path starting with "/"`);
  for (const w of p.writableParameters ?? []) {
    if (!(p.parameterPaths ?? []).some((base) => w.startsWith(base.endsWith('/') ? base : `${base}/`)))
      throw new Error(`CutoverPipeline: writableParameters has ${JSON.stringify(w)}, which is under none of parameterPaths ${JSON.stringify(p.parameterPaths ?? [])}; expected every writable parameter to be readable too`);
  }
  for (const i of p.jumpboxInstanceIds ?? [])
    if (!/^i-[0-9a-f]{8,17}$/.test(i)) throw new Error(`CutoverPipeline: jumpboxInstanceIds has ${JSON.stringify(i)}; expected an EC2 instance id like i-0abc12345678def01`);
  if (p.objectLock && p.retainEvidence === false && p.objectLock.mode === 'COMPLIANCE')
    throw new Error('CutoverPipeline: retainEvidence is false with COMPLIANCE Object Lock; expected retainEvidence true (locked objects cannot be deleted with the stack)');
  if (p.memorySize !== undefined && (p.memorySize < 128 || p.memorySize > 10240))
    throw new Error(`CutoverPipeline: memorySize is ${p.memorySize}; expected 128-10240 MB`);
}
