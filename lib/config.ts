/**
 * Deploy config: the "cutline" key of cdk.context.json (or `-c cutline=...`),
 * validated by zod at synth; every problem names its path.
 */
import { z } from 'zod';
import { describeIssues } from '../lambdas/core/spec';

const CLUSTER_ARN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z0-9-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

export const DeployConfig = z.strictObject({
  /** CloudFormation stack name. */
  stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/).default('Cutline'),
  /** Account and region; omitted: the CLI's environment (synth stays environment-agnostic). */
  env: z.strictObject({ account: z.string().regex(/^\d{12}$/), region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/) }).optional(),
  /** Aurora clusters the pipeline may query through the Data API, each with the secret it uses. */
  databases: z
    .array(z.strictObject({ name: z.string().min(1), clusterArn: z.string().regex(CLUSTER_ARN, 'expected an Aurora cluster ARN'), secretArn: z.string().regex(SECRET_ARN, 'expected a Secrets Manager secret ARN') }))
    .min(1, 'expected at least one database'),
  /** SSM-managed jumpbox instances that may receive Run Command. */
  jumpboxInstanceIds: z.array(z.string().regex(/^i-[0-9a-f]{8,17}$/, 'expected an EC2 instance id like i-0abc12345678def01')).default([]),
  /** Parameter paths the launch gate may read, e.g. "/cloudbackup/prod/". */
  parameterPaths: z.array(z.string().regex(/^\/[A-Za-z0-9_.\-/]*$/, 'expected a parameter path starting with "/"')).default([]),
  /** Parameters cutover / rollback may write (runtime selectors); each must lie under parameterPaths. */
  writableParameters: z.array(z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, 'expected a parameter name starting with "/"')).default([]),
  evidence: z
    .strictObject({
      objectLock: z.strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number().int().min(1).max(36500) }).optional(),
      /** Keep the bucket when the stack is deleted (default true: evidence outlives the tool). */
      retain: z.boolean().default(true),
    })
    .default({ retain: true }),
  /** The work bucket (Map results, full jumpbox command output): not evidence, expired after expireDays. */
  work: z.strictObject({ expireDays: z.number().int().min(1).max(3650).default(30) }).default({ expireDays: 30 }),
  approval: z
    .strictObject({
      /** E-mail addresses subscribed to the approval topic: they get the shared link of runs without named approvers and a notice (no link) otherwise. */
      emails: z.array(z.email()).default([]),
      /**
       * The people who may be named in a spec's approval.approvers: their identity, the e-mail their personal link
       * goes to (a subscription filtered on their identity: nobody else receives it) and their Slack user id (a
       * Slack button press counts as their vote only from that user).
       */
      approvers: z
        .array(
          z.strictObject({
            id: z.string().trim().min(1),
            email: z.email().optional(),
            slackUserId: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user id like U0123ABCD').optional(),
          }),
        )
        .default([])
        .superRefine((list, ctx) => {
          const seen = new Map<string, number>();
          list.forEach((a, i) => {
            const k = a.id.toLowerCase();
            if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `got ${JSON.stringify(a.id)} again (also approvers[${seen.get(k)}]); expected each approver once` });
            seen.set(k, i);
            if (!a.email && !a.slackUserId) ctx.addIssue({ code: 'custom', path: [i], message: `approver ${JSON.stringify(a.id)} has neither email nor slackUserId; expected at least one way to reach them` });
          });
        }),
      /** IAM principals (role or user ARNs) allowed to decide with `cutline approve`: besides GoNoGo and the approval API, only they may read pending approvals. */
      cliPrincipals: z.array(z.string().regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:*-]+$/, 'expected an IAM role or user ARN')).default([]),
      /** Reserved concurrency of the public approval function (a flood of requests cannot starve the account). */
      apiConcurrency: z.number().int().min(1).max(100).default(5),
      /** SSM SecureString with the Slack incoming-webhook URL. */
      slackWebhookParameter: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/).optional(),
      /** SSM SecureString with the Slack app's signing secret (Approve / Reject buttons in Slack). */
      slackSigningSecretParameter: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/).optional(),
      /** SSM SecureString holding the HMAC key for approval links (>= 32 random chars). */
      hmacKeyParameter: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/).default('/cutline/approval/hmac-key'),
      /** Base URL of the approval page, when served from a custom domain. */
      baseUrl: z.url().optional(),
    })
    .prefault({}),
  /** Reserved concurrency of each chunk function (gate and backfill chunks); lower it in an account with a small Lambda concurrency quota. */
  chunkConcurrency: z.number().int().min(1).max(1000).default(100),
  logRetentionDays: z.union([z.literal(30), z.literal(90), z.literal(180), z.literal(365), z.literal(731), z.literal(1827), z.literal(3653)]).default(365),
});
export type DeployConfig = z.infer<typeof DeployConfig>;

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

export function parseDeployConfig(raw: unknown, source = 'cdk.context.json "cutline"'): DeployConfig {
  if (raw === undefined) throw new DeployConfigError(`${source} is missing; expected the deploy config object (see README "Deploy")`);
  const value = typeof raw === 'string' ? JSON.parse(raw) : raw;
  const r = DeployConfig.safeParse(value);
  if (!r.success)
    throw new DeployConfigError(
      `${source} is invalid:\n${describeIssues(r.error, value)
        .map((p) => `  ${p.path}: ${p.message}`)
        .join('\n')}`,
    );
  return r.data;
}
