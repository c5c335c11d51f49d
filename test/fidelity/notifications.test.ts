/**
 * Fidelity: approval channels under the services' own limits. Slack refuses a Block Kit message over its limits
 * (400 invalid_blocks), which used to fail the go/no-go of any run with a long gate summary; one channel failing
 * used to fail GoNoGo although another had delivered the link.
 */
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseDeployConfig } from '../../lib/config';
import { CutlineStack } from '../../lib/stack';
import { SlackWebhookChannel, SnsEmailChannel } from '../../lambdas/adapters/aws/notify';
import { SsmParameterStore } from '../../lambdas/adapters/aws/ssm';
import { MemoryApprovalStore } from '../../lambdas/adapters/local/approval/store';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { readEvidenceJson } from '../../lambdas/core/evidence';

import { requestApprovalStage } from '../../lambdas/core/cutover-stages';

import { specAsRun } from '../../lambdas/core/pipeline';

import type { ApprovalChannel, ApprovalRequest, Deps } from '../../lambdas/ports';
import { miniSpec, tempDir } from '../support/local-run';
import { slackStandIn } from '../support/slack-standin';
import { type Received, snsEmailStandIn } from '../support/sns-standin';

const long: ApprovalRequest = {
  runId: 'r-long',
  approvalId: 'a'.repeat(32),
  owner: 'ops@example.com',
  target: 'postgres',
  // 200 tables: about 12,000 characters of gate results
  summary: Array.from({ length: 200 }, (_, i) => `public.table_${String(i).padStart(3, '0')}: expected 1000000, got 1000000 (PASS)`).join('\n'),
  goActions: Array.from({ length: 80 }, (_, i) => `set parameter /app/prod/selector_${i} = "v5" (was "v4")`),
  approveUrl: 'https://approve.example.com/approve?id=aaa&exp=x&sig=y',
  expiresAt: '2026-12-01T00:00:00.000Z',
};

describe('Slack Block Kit limits', () => {
  it('a go/no-go with 200 tables and 80 actions is a message Slack accepts: long texts cut within the limits, the rest behind the link', async () => {
    const ssmm = mockClient(SSMClient);
    ssmm.on(GetParametersCommand).resolves({ Parameters: [{ Name: '/cutline/slack', Value: 'https://hooks.slack.example/T/B/x' }] });
    const slack = slackStandIn();
    await new SlackWebhookChannel(new SsmParameterStore(new SSMClient({ region: 'eu-west-1' })), '/cutline/slack', slack).deliver(long);
    const sections = slack.accepted[0]!.blocks.filter((b) => b.type === 'section').map((b) => b.text!.text!);
    expect(sections[0]).toContain('public.table_000');
    expect(sections[0]).toMatch(/… \d+ more lines: open the page for all of them/);
    expect(sections[1]).toMatch(/… \d+ more lines: open the page for all of them/);
    ssmm.restore();
  });
});

describe('SNS e-mail: what each recipient receives', () => {
  it('each named approver gets only their own link, a group address a notice without one, every message within SNS limits (a 4,000-table summary is cut)', async () => {
    // The subscriptions (and their filter policies) exactly as the stack deploys them.
    const config = parseDeployConfig({
      databases: [{ name: 'main', clusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:main', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:main-AbCdEf' }],
      approval: { emails: ['db-approvers@example.com'], approvers: [{ id: 'alice@example.com', email: 'alice@example.com' }, { id: 'Bob@Example.com', email: 'bob@example.com' }] },
    });
    const t = Template.fromStack(new CutlineStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Cutline', config, { env: { account: '123456789012', region: 'eu-west-1' } }));
    const subscriptions = Object.values(t.findResources('AWS::SNS::Subscription')).map((s) => ({ endpoint: s.Properties.Endpoint as string, filterPolicy: s.Properties.FilterPolicy as Record<string, string[]> }));
    const sns = snsEmailStandIn(subscriptions);
    try {
      const link = (who: string) => `https://approve.example.com/approve?id=${'a'.repeat(32)}&who=${encodeURIComponent(who)}&sig=s`;
      const request: ApprovalRequest = {
        ...long,
        summary: Array.from({ length: 4000 }, (_, i) => `public.table_${String(i).padStart(4, '0')}: expected 1000000000, got 1000000000 (PASS) fast and exact`).join('\n'),
        personalUrls: [{ approver: 'alice@example.com', url: link('alice') }, { approver: 'Bob@Example.com', url: link('bob') }],
      };
      await new SnsEmailChannel(sns.client, 'arn:aws:sns:eu-west-1:123456789012:approvals').deliver(request);
      const links = (m: Received) => m.message.match(/https:\/\/approve\.example\.com\/approve\?\S+/g) ?? [];
      expect(sns.inbox('alice@example.com').map(links)).toEqual([[link('alice')]]);
      expect(sns.inbox('bob@example.com').map(links)).toEqual([[link('bob')]]);
      expect(sns.inbox('db-approvers@example.com').map(links)).toEqual([[]]);
      const alice = sns.inbox('alice@example.com')[0]!;
      expect(alice.message).toContain('public.table_0000');
      expect(alice.message).toMatch(/… \d+ more lines: open the page for all of them/);
      expect(alice.message).toContain(`/approve?id=${'a'.repeat(32)}`);
    } finally {
      sns.restore();
    }
  });
});

describe('channels deliver independently', () => {
  async function stage(channels: ApprovalChannel[]) {
    const r = specAsRun(await miniSpec({ runId: 'two-channels' }), 'local');
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const dir = await tempDir();
    const evidence = new FsEvidenceStore(dir);
    const deps = {
      approvalStore: new MemoryApprovalStore(),
      evidence,
      approvals: () => channels,
      approvalSecret: async () => 'k'.repeat(64),
      clock: { now: () => new Date('2026-11-30T12:00:00Z'), sleep: async () => {} },
      logger: { info: () => {}, warn: () => {}, error: () => {} },
    } as unknown as Deps;
    const run = () => requestApprovalStage({ taskToken: 'TOKEN', state: { spec: r.spec, results: {}, execution: { name: 'two-channels' } } as never }, deps, 'https://approve.example.com/');
    return { run, evidence };
  }
  const ok = (kind: string, seen: string[]): ApprovalChannel => ({ kind, deliver: async () => void seen.push(kind) });
  const broken = (kind: string): ApprovalChannel => ({
    kind,
    deliver: async () => {
      throw new Error(`${kind} answered HTTP 500`);
    },
  });

  it('Slack failing while e-mail delivered: GoNoGo waits on the link that went out and records the failure', async () => {
    const seen: string[] = [];
    const { run, evidence } = await stage([broken('slack'), ok('email', seen)]);
    const out = await run();
    expect(out.channels).toEqual(['email']);
    expect(seen).toEqual(['email']);
    const request = await readEvidenceJson<{ channels: string[]; failedChannels: { kind: string; error: string }[] }>(evidence, 'two-channels/09_approval_request.json');
    expect(request?.failedChannels).toEqual([{ kind: 'slack', error: 'slack answered HTTP 500' }]);
  });

  it('every channel failing fails GoNoGo, naming each', async () => {
    const { run } = await stage([broken('slack'), broken('email')]);
    await expect(run()).rejects.toThrow(/no approval channel delivered the go\/no-go: slack: slack answered HTTP 500; email: email answered HTTP 500/);
  });
});
