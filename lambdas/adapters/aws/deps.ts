/**
 * The AWS composition root: AWS SDK clients built once per container, each on first use (a function builds only
 * the clients its ports call), and the ports bound to them. Configuration comes from the environment the CDK
 * construct sets.
 */
import { withReadRetries } from '../../core/retry';
import { KMSClient } from '@aws-sdk/client-kms';

import { LambdaClient } from '@aws-sdk/client-lambda';

import { RDSClient } from '@aws-sdk/client-rds';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { DatabaseRef } from '../../core/spec';
import { z } from 'zod';
import { normalizeIdentity } from '../../core/approval';
import type { ApprovalChannel, ApproverDirectory, Deps } from '../../ports';
import { fetchHttp, jsonLogger, systemClock } from '../local/runtime';
import { DataApiSql } from './data-api';
import { SlackWebhookChannel, SnsEmailChannel } from './notify';
import { S3ApprovalStore, S3EvidenceStore, S3ScriptSource } from './s3';
import { SfnTaskTokens } from './sfn';
import { KmsSigner } from './signer-kms';
import { RdsSnapshotBackups } from './rds';
import { CloudWatchAlarms } from './alarms';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SsmCommandRunner, SsmParameterStore } from './ssm';


/** One client of each service per container, built on first use. */
function once<T>(make: () => T): () => T {
  let c: T | undefined;
  return () => {
    c ??= make();
    return c;
  };
}
const rdsData = once(() => new RDSDataClient({ maxAttempts: 3 }));
const rds = once(() => new RDSClient({}));
const cloudwatch = once(() => new CloudWatchClient({}));
const s3 = once(() => new S3Client({}));
const ssm = once(() => new SSMClient({}));
const sns = once(() => new SNSClient({}));
const sfn = once(() => new SFNClient({}));
const kms = once(() => new KMSClient({}));
/** The approval API hands Slack votes to itself. */
export const lambdaClient = once(() => new LambdaClient({}));

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set; the CutoverPipeline construct sets it on the functions that need it`);
  return v;
}

/**
 * The deploy config's approvers (CUTLINE_APPROVERS, JSON set by the construct on ValidateSpec, GoNoGo and the
 * approval API): a malformed value is an error, never an empty directory.
 */
export function approverDirectory(raw = process.env.CUTLINE_APPROVERS): ApproverDirectory {
  if (raw === undefined || raw === '') return { approvers: [] };
  const r = z.array(z.strictObject({ id: z.string().min(1), email: z.string().optional(), slackUserId: z.string().optional() })).safeParse(JSON.parse(raw));
  if (!r.success) throw new Error(`environment variable CUTLINE_APPROVERS is ${raw.slice(0, 200)}; expected a JSON array of { id, email?, slackUserId? }`);
  return { approvers: r.data.map((a) => ({ ...a, id: normalizeIdentity(a.id) })) };
}

let cached: Deps | undefined;
let secret: string | undefined;

/** The ports of a Lambda invocation (built on first use, then reused). */
export function awsDeps(): Deps {
  if (cached) return cached;
  const bucket = env('EVIDENCE_BUCKET');
  const parameters = new SsmParameterStore(ssm());
  let approvals: S3ApprovalStore | undefined;
  let work: S3EvidenceStore | undefined;
  let commands: SsmCommandRunner | undefined;
  cached = {
    sql: (ref: DatabaseRef) => {
      if (!ref.dataApi) throw new Error(`database ${ref.url ?? '?'} has no dataApi reference; expected resourceArn, secretArn and database`);
      return withReadRetries(new DataApiSql(rdsData(), ref.dataApi, ref.engine), systemClock);
    },
    evidence: new S3EvidenceStore(s3(), bucket),
    get alarms() {
      return new CloudWatchAlarms(cloudwatch());
    },
    get backups() {
      return new RdsSnapshotBackups(rds());
    },
    // The task functions know the work bucket (the approval API does not need it).
    get work() {
      work ??= new S3EvidenceStore(s3(), env('WORK_BUCKET'));
      return work;
    },
    // The full output goes to the work bucket (written by the jumpbox's instance role), never into WORM evidence.
    get commands() {
      commands ??= new SsmCommandRunner(ssm(), { bucket: env('WORK_BUCKET'), prefix: 'command-output/' }, s3());
      return commands;
    },
    parameters,
    approvals: (channels) =>
      channels.map((c): ApprovalChannel => {
        if (c.type === 'email') return new SnsEmailChannel(sns(), c.topicArn);
        if (c.type === 'slack') return new SlackWebhookChannel(parameters, c.webhookParameter, fetchHttp);
        throw new Error('a "local" approval channel cannot be used in AWS; expected "email" or "slack"');
      }),
    // Only GoNoGo and the approval API are given the approvals bucket (and may read it).
    get approvalStore() {
      approvals ??= new S3ApprovalStore(s3(), env('APPROVALS_BUCKET'));
      return approvals;
    },
    directory: approverDirectory(),
    // Summary and Rollback sign manifest roots with the stack's KMS key.
    ...(process.env.SIGNING_KEY_ARN ? { signer: new KmsSigner(kms(), process.env.SIGNING_KEY_ARN) } : {}),
    tokens: new SfnTaskTokens(sfn()),
    approvalSecret: async () => {
      if (secret) return secret;
      const name = env('APPROVAL_SECRET_PARAMETER');
      const v = (await parameters.getMany([name])).get(name);
      if (!v || v.length < 32) throw new Error(`approval HMAC key parameter ${name} is missing or shorter than 32 chars; expected a SecureString of >= 32 random chars`);
      secret = v;
      return v;
    },
    scripts: new S3ScriptSource(s3()),
    http: fetchHttp,
    clock: systemClock,
    logger: jsonLogger,
  };
  return cached;
}

let signing: string | undefined;
/** Slack's signing secret (SSM SecureString named by SLACK_SIGNING_SECRET_PARAMETER), read once per container. */
export async function slackSigningSecret(): Promise<string> {
  if (signing) return signing;
  const name = env('SLACK_SIGNING_SECRET_PARAMETER');
  const v = (await awsDeps().parameters.getMany([name])).get(name);
  if (!v) throw new Error(`Slack signing secret parameter ${name} is missing; expected a SecureString with the app's signing secret`);
  signing = v;
  return v;
}

export function approvalBaseUrl(): string | undefined {
  return process.env.APPROVAL_BASE_URL || undefined;
}
