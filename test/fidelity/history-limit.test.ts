/**
 * Fidelity: an execution's history holds at most 25,000 events, counted as Step Functions writes them (a Lambda task
 * is five: TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited); a Distributed Map's
 * iterations are child executions with histories of their own. Locally nothing counted, so a run of a few thousand
 * inline chunks passed here and would fail in AWS.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AwsHistoryCount } from '../../cli/history-limit';
import { runLocal, substitutedDefinition } from '../../cli/local-runner';
import { STATES } from '../../lambdas/core/states';
import { miniSpec, readJson, tempDir } from '../support/local-run';

describe('the 25,000-event history quota', () => {
  it('counts each engine event as the events AWS writes for it', async () => {
    const c = new AwsHistoryCount((await substitutedDefinition()) as never);
    const task = { name: STATES.preflight };
    expect([c.eventsFor({ type: 'StateEntered', state: task }), c.eventsFor({ type: 'StateExited', state: task })]).toEqual([3, 2]);
    expect(c.eventsFor({ type: 'StateEntered', state: { name: STATES.goNoGo } })).toBe(4);
    expect(c.eventsFor({ type: 'StateRetried', state: task })).toBe(2);
    // Inline Map iterations count in the parent; a Distributed Map's children have their own histories.
    expect(c.eventsFor({ type: 'MapIterationStarted', parentState: { name: STATES.gateChunksInline } })).toBe(1);
    expect(c.eventsFor({ type: 'MapIterationStarted', parentState: { name: STATES.gateChunksDistributed } })).toBe(0);
    expect(c.eventsFor({ type: 'StateEntered', state: { name: STATES.gateChunkDistributed } })).toBe(0);
    expect(c.eventsFor({ type: 'StateEntered', state: { name: STATES.gateChunksDistributed } })).toBe(3);
  });

  it('a run past the quota fails the execution there (a lower quota stands in for 25,000 in this test)', async () => {
    const evidenceDir = await tempDir();
    const lines: string[] = [];
    const r = await runLocal({
      spec: await miniSpec({ runId: 'history-quota' }),
      evidenceDir,
      workDir: await tempDir('cutline-work-'),
      approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' },
      historyEventLimit: 60,
      out: (l) => lines.push(l),
    });
    expect(r.status).toBe('FAILED');
    expect(lines.join('\n')).toContain('execution failed: States.Runtime: the execution history reached 60 events');
    const history = await readJson(path.join(evidenceDir, 'history-quota', 'execution-history.json'));
    expect(history.at(-1)).toMatchObject({ type: 'ExecutionFailed', Error: 'States.Runtime' });
    expect(await readFile(path.join(evidenceDir, 'history-quota', 'manifest.json')).catch(() => undefined)).toBeUndefined();
  }, 120_000);

  it('a whole mini cutover stays far below the quota, and says how many events it took', async () => {
    const r = await runLocal({ spec: await miniSpec({ runId: 'history-count' }), evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect(r.outcome).toBe('GO');
    expect(r.historyEvents).toBeGreaterThan(100);
    expect(r.historyEvents).toBeLessThan(25_000);
  }, 120_000);
});
