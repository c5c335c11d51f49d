/**
 * Fidelity: Cutover and Rollback used to follow a jumpbox command to its end inside one Lambda invocation, so a
 * command could never outlast the function (900 s; a spec asking for more was refused) and a hung SSM invocation
 * was only given up, never cancelled. Now each Task call takes one look (GetCommandInvocation) and returns; the
 * state machine waits in a Wait state and calls it again, and past the command's timeout the look cancels it
 * (CancelCommand).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelCommandCommand, GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { SsmCommandRunner } from '../../lambdas/adapters/aws/ssm';
import { LocalShellRunner } from '../../lambdas/adapters/local/command-shell';
import { stepCommand } from '../../lambdas/core/actions';
import { commandLooks } from '../../lambdas/core/command-loop';
import { parseSpec } from '../../lambdas/core/spec';
import { miniSpec, readHistory, readJson, tempDir } from '../support/local-run';

const entered = (history: any[], name: string) => history.filter((e) => e.stateEnteredEventDetails?.name === name).length;

describe('jumpbox commands at cutover and rollback run in the state machine Wait loop', () => {
  it('a cutover command longer than the Cutover function ends GO: one look per call, a Wait state between looks', async () => {
    const evidenceDir = await tempDir();
    const spec = await miniSpec({ runId: 'cmd-loop' });
    // The command takes 5 s; each Cutover call may take at most 3 s (the deployed function: 900 s, commands: hours).
    spec.cutover.actions.push({ type: 'command', script: 'sleep 5; echo reloaded', timeoutSeconds: 60, description: 'slow reload' });
    const r = await runLocal({ spec, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, functionTimeouts: { cutover: 3 }, out: () => {} });
    expect([r.outcome, r.reason]).toEqual(['GO', expect.any(String)]);
    const history = await readHistory(path.join(evidenceDir, 'cmd-loop', 'execution-history.jsonl'));
    expect(entered(history, 'CutoverCommandWait')).toBeGreaterThanOrEqual(1);
    expect(entered(history, 'Cutover')).toBe(entered(history, 'CutoverCommandWait') + 1);
    const action = await readJson(path.join(evidenceDir, 'cmd-loop', '10_cutover', 'actions', '003.json'));
    expect(action).toMatchObject({ ok: true, effect: 'ran', intents: 1, exitCode: 0 });
    expect(action.detail).toContain('reloaded');
    // One record of the stage, written when it ended (not one per look), listing every action.
    const record = await readJson(path.join(evidenceDir, 'cmd-loop', '10_cutover.json'));
    expect([record.result, record.details.actions.length]).toEqual(['PASS', 3]);
  }, 180_000);

  it('rollback waits for its command the same way, and an action that failed before the wait is not run again', async () => {
    const evidenceDir = await tempDir();
    const work = await mkdtemp(path.join(os.tmpdir(), 'cutline-rb-'));
    const tally = path.join(work, 'tally');
    const spec = await miniSpec({ runId: 'rb-loop' });
    spec.cutover.actions = [{ type: 'command', script: 'exit 3', timeoutSeconds: 30, description: 'a reload that fails' }];
    spec.rollback.actions = [
      { type: 'command', script: `echo failed >> ${tally}; exit 1`, timeoutSeconds: 30, description: 'a rollback step that fails' },
      { type: 'command', script: `sleep 4; echo slow >> ${tally}`, timeoutSeconds: 60, description: 'a slow rollback step' },
    ];
    const r = await runLocal({ spec, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, functionTimeouts: { rollback: 2 }, out: () => {} });
    expect(r.outcome).toBe('NO_GO');
    const history = await readHistory(path.join(evidenceDir, 'rb-loop', 'execution-history.jsonl'));
    expect(entered(history, 'RollbackCommandWait')).toBeGreaterThanOrEqual(1);
    expect(history.some((e) => e.type === 'TaskFailed' && e.taskFailedEventDetails.error === 'Sandbox.Timedout')).toBe(false);
    expect(await readFile(tally, 'utf8')).toBe('failed\nslow\n');
    const record = await readJson(path.join(evidenceDir, 'rb-loop', '12_rollback.json'));
    expect(record.result).toBe('FAIL');
    expect(record.details.actions.map((a: any) => a.ok)).toEqual([false, true]);
  }, 180_000);

  it('a command still running past its timeout and the grace is cancelled (CancelCommand) and ends TimedOut', async () => {
    const ssm = mockClient(SSMClient);
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'c-1' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', ResponseCode: -1 });
    ssm.on(CancelCommandCommand).resolves({});
    let now = Date.parse('2026-12-01T00:00:00Z');
    const deps = { commands: new SsmCommandRunner(new SSMClient({ region: 'eu-west-1' })), clock: { now: () => new Date(now), sleep: async () => {} } };
    const first = await stepCommand(deps, 'i-0123456789abcdef0', 'reload', 60);
    expect(first).toMatchObject({ running: true, commandId: 'c-1', pollSeconds: 5 });
    if (!('running' in first)) throw new Error('expected a running command');
    now += 80_000;
    expect(await stepCommand(deps, 'i-0123456789abcdef0', 'reload', 60, { sent: first })).toMatchObject({ running: true, pollSeconds: 5 });
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(0);
    now += 20_000;
    const last = await stepCommand(deps, 'i-0123456789abcdef0', 'reload', 60, { sent: first });
    expect(last).toMatchObject({ status: 'TimedOut', commandId: 'c-1' });
    expect((last as { stderr: string }).stderr).toContain('still InProgress 100 s after it was sent (timeoutSeconds 60); cancelled (CancelCommand)');
    expect(ssm.commandCalls(CancelCommandCommand).map((c) => c.args[0].input)).toEqual([{ CommandId: 'c-1', InstanceIds: ['i-0123456789abcdef0'] }]);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('the local jumpbox cancels as SSM does: the process group is killed and the invocation reads Cancelled', async () => {
    const runner = new LocalShellRunner('/bin/bash', await mkdtemp(path.join(os.tmpdir(), 'cutline-cancel-')));
    const id = await runner.send('local', 'sleep 60', { timeoutSeconds: 120 });
    await runner.cancel('local', id);
    let r = await runner.get('local', id);
    for (let i = 0; i < 200 && r.status === 'InProgress'; i++) {
      await new Promise((res) => setTimeout(res, 25));
      r = await runner.get('local', id);
    }
    expect(r.status).toBe('Cancelled');
  });

  it('a spec may ask for commands of hours, bounded by the history events their looks take', async () => {
    const spec = await miniSpec({ runId: 'budget-loop' });
    spec.cutover.actions = [{ type: 'command', script: 'long-job', timeoutSeconds: 3600 }];
    expect(parseSpec(spec).ok).toBe(true);
    expect(commandLooks(3600)).toBe(113);
    spec.cutover.actions = [{ type: 'command', script: 'long-job', timeoutSeconds: 43_200 }];
    const r = parseSpec(spec);
    expect(r.ok ? [] : r.problems).toEqual([
      {
        path: '$.cutover.actions',
        message:
          "got jumpbox commands and restores (cutover, rollback and phases: timeoutSeconds 43200) that the state machine may look at 773 times, 6957 history events; expected at most 5000 (a fifth of an execution's 25,000): lower their timeoutSeconds, or run a longer job as a bulkCopy command",
      },
    ]);
  });
});
