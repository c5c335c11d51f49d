/** Slack request signing (v0): HMAC-SHA256 over "v0:<timestamp>:<raw body>", within 5 minutes, compared in constant time. */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SLACK_WINDOW_SECONDS = 300;

export function slackSignature(secret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

export function verifySlackRequest(
  h: { timestamp?: string | null; signature?: string | null },
  rawBody: string,
  secret: string,
  now: Date,
): { ok: true } | { ok: false; reason: string } {
  if (!h.timestamp || !/^\d+$/.test(h.timestamp)) return { ok: false, reason: `X-Slack-Request-Timestamp is ${JSON.stringify(h.timestamp ?? null)}; expected seconds since the epoch` };
  const age = Math.abs(now.getTime() / 1000 - Number(h.timestamp));
  if (age > SLACK_WINDOW_SECONDS) return { ok: false, reason: `the request is ${Math.round(age)} s old; expected within ${SLACK_WINDOW_SECONDS} s (a replay?)` };
  const expected = Buffer.from(slackSignature(secret, h.timestamp, rawBody));
  const got = Buffer.from(h.signature ?? '');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return { ok: false, reason: 'X-Slack-Signature does not match the body; expected a request signed by Slack' };
  return { ok: true };
}
