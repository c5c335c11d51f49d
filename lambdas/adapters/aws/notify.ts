/** Approval channels: SNS e-mail and a Slack webhook (URL read from an SSM SecureString). */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { normalizeIdentity } from '../../core/approval';
import type { ApprovalChannel, ApprovalRequest, HttpClient, ParameterStore } from '../../ports';

/**
 * The e-mail text. `to` picks the links: one approver's own link (`{ approver, url }`), or, for a run with named
 * approvers, a notice without any link ('notice'); by default the shared link of a run without named approvers.
 */
/** Each list of an approval e-mail at most this many characters (two of them, 4 bytes a character at worst, stay below SNS's 256 KiB). */
const EMAIL_LIST_CHARS = 24_000;

export function approvalText(r: ApprovalRequest, to?: { approver: string; url: string } | 'notice'): string {
  const links =
    to === 'notice'
      ? [`Each approver (${(r.personalUrls ?? []).map((p) => p.approver).join(', ')}) received a personal link; this notice carries none.`]
      : to
        ? [`Decide here (your personal link: it names you, ${to.approver}, and counts only as your vote; do not forward it; it expires ${r.expiresAt}):`, `  ${to.url}`]
        : [`Decide here (the page asks you to confirm; the link expires ${r.expiresAt}):`, r.approveUrl ?? '(no link configured)'];
  return [
    `cutline go/no-go for run ${r.runId} (owner ${r.owner}, target ${r.target})`,
    '',
    'Gate results:',
    // SNS takes at most 256 KiB a message: long lists are cut at a line (the page shows them whole), never the link.
    fitLines(r.summary, EMAIL_LIST_CHARS),
    '',
    'GO will:',
    fitLines(r.goActions.map((a, i) => `  ${i + 1}. ${a}`).join('\n'), EMAIL_LIST_CHARS),
    '',
    ...links,
    ...(r.reportUrl ? ['', `Evidence report: ${r.reportUrl}`] : []),
  ].join('\n');
}

export class SnsEmailChannel implements ApprovalChannel {
  readonly kind = 'email';
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}
  /**
   * One person, one link: with named approvers every approver gets a message of their own, carrying only their link
   * and the message attribute `approver` their subscription's filter policy matches; everyone else subscribed
   * (filter `audience: all`) gets a notice without links. Without named approvers, one message with the shared link.
   */
  async deliver(r: ApprovalRequest): Promise<void> {
    const publish = (message: string, attribute: { approver: string } | { audience: 'all' }) =>
      this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: `cutline go/no-go: ${r.runId}`.slice(0, 100),
          Message: message,
          MessageAttributes: Object.fromEntries(Object.entries(attribute).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
        }),
      );
    if (!r.personalUrls?.length) {
      await publish(approvalText(r), { audience: 'all' });
      return;
    }
    for (const p of r.personalUrls) await publish(approvalText(r, p), { approver: normalizeIdentity(p.approver) });
    await publish(approvalText(r, 'notice'), { audience: 'all' });
  }
}

export class SlackWebhookChannel implements ApprovalChannel {
  readonly kind = 'slack';
  constructor(
    private readonly params: ParameterStore,
    private readonly webhookParameter: string,
    private readonly http: HttpClient,
  ) {}
  async deliver(r: ApprovalRequest): Promise<void> {
    const url = (await this.params.getMany([this.webhookParameter])).get(this.webhookParameter);
    if (!url) throw new Error(`Slack webhook parameter ${this.webhookParameter} is missing; expected a SecureString holding the webhook URL`);
    // Block Kit limits (Slack answers 400 invalid_blocks beyond them): a section's text at most 3,000 characters, a
    // header 150, a confirm text 300. Long texts are cut at a line, and say how much more the page shows.
    const head = `*Owner* ${r.owner} · *Target* ${r.target}\n`;
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: cut(`Go / no-go: ${r.runId}`, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: `${head}\`\`\`${fitLines(r.summary, 3000 - head.length - 6)}\`\`\`` } },
      { type: 'section', text: { type: 'mrkdwn', text: `*GO will:*\n${fitLines(r.goActions.map((a, i) => `${i + 1}. ${a}`).join('\n'), 3000 - 12)}` } },
      {
        type: 'actions',
        elements: [
          // Decided in Slack: the signed request names the Slack user, who becomes the approver.
          { type: 'button', action_id: 'cutline_approve', text: { type: 'plain_text', text: 'Approve (GO)' }, value: r.approvalId, style: 'primary', confirm: { title: { type: 'plain_text', text: 'Approve the cutover?' }, text: { type: 'plain_text', text: cut(r.goActions.join('; '), 300) || 'GO' }, confirm: { type: 'plain_text', text: 'Approve' }, deny: { type: 'plain_text', text: 'Cancel' } } },
          { type: 'button', action_id: 'cutline_reject', text: { type: 'plain_text', text: 'Reject (NO-GO)' }, value: r.approvalId, style: 'danger' },
          ...(r.approveUrl ? [{ type: 'button', action_id: 'cutline_open', text: { type: 'plain_text', text: 'Review on the page' }, url: r.approveUrl }] : []),
        ],
      },
    ];
    const res = await this.http.request(url, {
      method: 'POST',
      timeoutMs: 10_000,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `cutline go/no-go for ${r.runId}`, blocks }),
    });
    if (res.status >= 300) throw new Error(`Slack webhook answered HTTP ${res.status}: ${res.body.slice(0, 200)}; expected 200`);
  }
}

/** At most `max` characters, cut with an ellipsis. */
function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Whole lines up to `max` characters, then a line saying how many more the page shows. */
export function fitLines(text: string, max: number): string {
  if (text.length <= max) return text;
  const lines = text.split('\n');
  const kept: string[] = [];
  let used = 0;
  for (const l of lines) {
    const note = `… ${lines.length - kept.length} more lines: open the page for all of them`;
    if (used + l.length + 1 + note.length + 1 > max) return [...kept, note].join('\n');
    kept.push(cut(l, max - note.length - 2));
    used += kept.at(-1)!.length + 1;
  }
  return kept.join('\n');
}
