/**
 * Fidelity: an execution's history holds at most 25,000 events, as Step Functions writes them (a Lambda task is
 * five: TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited); a Distributed Map's iterations
 * are child executions with histories of their own. Locally nothing counted, so a run of a few thousand inline chunks
 * passed here and would fail in AWS. The local history is now written event by event, so the count is the history.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { miniSpec, readHistory, tempDir } from '../support/local-run';

describe('the 25,000-event history quota', () => {
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
    const history = await readHistory(path.join(evidenceDir, 'history-quota', 'execution-history.jsonl'));
    expect(history.at(-1)).toMatchObject({ id: 60, type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.Runtime' } });
    expect(history).toHaveLength(60);
    expect(await readFile(path.join(evidenceDir, 'history-quota', 'manifest.json')).catch(() => undefined)).toBeUndefined();
  }, 120_000);

  it('a whole mini cutover stays far below the quota, and says how many events it took', async () => {
    const r = await runLocal({ spec: await miniSpec({ runId: 'history-count' }), evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect(r.outcome).toBe('GO');
    expect(r.historyEvents).toBeGreaterThan(100);
    expect(r.historyEvents).toBeLessThan(25_000);
  }, 120_000);
});
