/**
 * An SNS topic with e-mail subscriptions, at least as strict as SNS: Publish is refused (InvalidParameter, as SNS
 * answers) for a message over 262,144 bytes (message and attributes together), a Subject over 100 characters, with a
 * line break or outside printable ASCII, or a message attribute that is not a String. Each subscription's filter
 * policy (exact-string allowlists on message attributes, as CDK's stringFilter writes them; a message without the
 * attribute does not match) decides what lands in its inbox, so a test reads what each recipient receives.
 */
import { PublishCommand, type PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';

export interface EmailSubscription {
  readonly endpoint: string;
  readonly filterPolicy?: Record<string, string[]>;
}

export interface Received {
  readonly subject: string;
  readonly message: string;
}

export const SNS_MESSAGE_BYTES = 262_144;

export function snsPublishProblems(input: PublishCommandInput): string[] {
  const out: string[] = [];
  const attributes = Object.entries(input.MessageAttributes ?? {});
  const bytes = Buffer.byteLength(input.Message ?? '') + attributes.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? ''), 0);
  if (bytes > SNS_MESSAGE_BYTES) out.push(`message and attributes are ${bytes} bytes; at most ${SNS_MESSAGE_BYTES}`);
  const subject = input.Subject ?? '';
  if (subject.length > 100) out.push(`Subject is ${subject.length} characters; at most 100`);
  if (/[^\x20-\x7e]/.test(subject)) out.push('Subject must be printable ASCII without line breaks');
  for (const [k, v] of attributes) if (v.DataType !== 'String') out.push(`attribute ${k} has DataType ${v.DataType}; this topic's filters read String`);
  return out;
}

const matches = (policy: Record<string, string[]> | undefined, attributes: PublishCommandInput['MessageAttributes']) =>
  !policy || Object.entries(policy).every(([k, allowed]) => attributes?.[k]?.StringValue !== undefined && allowed.includes(attributes[k].StringValue!));

export function snsEmailStandIn(subscriptions: readonly EmailSubscription[]) {
  const client = new SNSClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  const inboxes = new Map<string, Received[]>(subscriptions.map((s) => [s.endpoint, []]));
  let n = 0;
  mock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
    const problems = snsPublishProblems(input);
    if (problems.length) throw Object.assign(new Error(`Invalid parameter: ${problems.join('; ')}`), { name: 'InvalidParameterException' });
    for (const s of subscriptions) if (matches(s.filterPolicy, input.MessageAttributes)) inboxes.get(s.endpoint)!.push({ subject: input.Subject ?? '', message: input.Message ?? '' });
    return { MessageId: `m-${++n}` };
  });
  return { client, inbox: (endpoint: string) => inboxes.get(endpoint) ?? [], restore: () => mock.restore() };
}
