/**
 * The approval API behind a Lambda Function URL (not a Task state): approval
 * links from e-mail and Slack, and Slack interactivity. Thin: the event
 * becomes a request for core/approval-http, its answer the response.
 */
import { z } from 'zod';

import { awsDeps, lambdaClient, slackSigningSecret } from '../adapters/aws/deps';

import { selfInvoker } from '../adapters/aws/self-invoke';
import { type ApprovalHttpDeps, decideSlack, handleApprovalHttp, SlackDecision } from '../core/approval-http';
import { parsePayload } from '../core/payloads';
import type { Deps } from '../ports';

const FunctionUrlEvent = z.object({
  rawPath: z.string(),
  rawQueryString: z.string().default(''),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  headers: z.record(z.string(), z.string()).default({}),
  requestContext: z.object({ http: z.object({ method: z.string(), sourceIp: z.string().optional(), userAgent: z.string().optional() }) }),
});

/** A Slack vote this function handed to itself (an asynchronous invocation; a Function URL request never has this shape). */
const SlackJob = z.strictObject({ cutlineSlackDecision: SlackDecision });

export async function approvalApi(event: unknown, deps: ApprovalHttpDeps) {
  const job = SlackJob.safeParse(event);
  if (job.success) {
    const out = await decideSlack(job.data.cutlineSlackDecision, deps);
    return { statusCode: out.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: out.text }) };
  }
  const e = parsePayload(FunctionUrlEvent, 'ApprovalApi', event);
  const body = e.body ? (e.isBase64Encoded ? Buffer.from(e.body, 'base64').toString('utf8') : e.body) : '';
  const out = await handleApprovalHttp(
    {
      method: e.requestContext.http.method,
      path: e.rawPath,
      query: new URLSearchParams(e.rawQueryString),
      body,
      headers: Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v])),
      ...(e.requestContext.http.sourceIp ? { sourceIp: e.requestContext.http.sourceIp } : {}),
      ...(e.requestContext.http.userAgent ? { userAgent: e.requestContext.http.userAgent } : {}),
    },
    deps,
  );
  return { statusCode: out.status, headers: out.headers, body: out.body };
}

const deferSlack = selfInvoker<SlackDecision>(lambdaClient, (job) => ({ cutlineSlackDecision: job }));

/** Only what the approval API uses (spreading the task functions' ports would build adapters it has no bucket for). */
export function approvalApiDeps(d: Deps): ApprovalHttpDeps {
  return { approvalStore: d.approvalStore, tokens: d.tokens, evidence: d.evidence, clock: d.clock, http: d.http, logger: d.logger, directory: d.directory, secret: d.approvalSecret };
}

export const handler = (event: unknown) =>
  approvalApi(event, { ...approvalApiDeps(awsDeps()), ...(process.env.SLACK_SIGNING_SECRET_PARAMETER ? { slackSigningSecret, deferSlack } : {}) });
