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
    r.approveUrl ?? '(no link configured)',
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
      ...(r.approveUrl
        ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Review and decide' }, url: r.approveUrl, style: 'primary' }] }]
        : []),
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
