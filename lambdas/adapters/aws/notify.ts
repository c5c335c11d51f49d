/** Approval channels: SNS e-mail and a Slack webhook (URL read from an SSM SecureString). */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ApprovalChannel, ApprovalRequest, HttpClient, ParameterStore } from '../../ports';

export function approvalText(r: ApprovalRequest): string {
  return [
    `cutline go/no-go for run ${r.runId} (owner ${r.owner}, target ${r.target})`,
    '',
    'Gate results:',
    r.summary,
    '',
    'GO will:',
    ...r.goActions.map((a, i) => `  ${i + 1}. ${a}`),
    '',
    `Decide here (the page asks you to confirm; the link expires ${r.expiresAt}):`,
    ...(r.personalUrls?.length ? r.personalUrls.map((p) => `  ${p.approver}: ${p.url}`) : [r.approveUrl ?? '(no link configured)']),
    ...(r.reportUrl ? ['', `Evidence report: ${r.reportUrl}`] : []),
  ].join('\n');
}

export class SnsEmailChannel implements ApprovalChannel {
  readonly kind = 'email';
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}
  async deliver(r: ApprovalRequest): Promise<void> {
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: `cutline go/no-go: ${r.runId}`.slice(0, 100), Message: approvalText(r) }));
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
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: `Go / no-go: ${r.runId}` } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Owner* ${r.owner} · *Target* ${r.target}\n\`\`\`${r.summary}\`\`\`` } },
      { type: 'section', text: { type: 'mrkdwn', text: `*GO will:*\n${r.goActions.map((a, i) => `${i + 1}. ${a}`).join('\n')}` } },
      {
        type: 'actions',
        elements: [
          // Decided in Slack: the signed request names the Slack user, who becomes the approver.
          { type: 'button', action_id: 'cutline_approve', text: { type: 'plain_text', text: 'Approve (GO)' }, value: r.approvalId, style: 'primary', confirm: { title: { type: 'plain_text', text: 'Approve the cutover?' }, text: { type: 'plain_text', text: r.goActions.join('; ').slice(0, 290) || 'GO' }, confirm: { type: 'plain_text', text: 'Approve' }, deny: { type: 'plain_text', text: 'Cancel' } } },
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
