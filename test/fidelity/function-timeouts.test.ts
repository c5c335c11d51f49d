/**
 * Fidelity: every handler runs locally under its Lambda function's timeout, from the same table (the stage registry) the CDK
 * construct deploys; past it the task fails with Sandbox.Timedout, as a timed-out function does. Locally a handler
 * used to run for as long as it liked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withFunctionTimeout } from '../../cli/runner/definition';
import { runLocal } from '../../cli/runner/run';
import { STAGES } from '../../lambdas/handlers/stages';
import { miniSpec, readHistory, tempDir } from '../support/local-run';

describe('function timeouts', () => {
  it('a handler past its timeout fails with Sandbox.Timedout; a shorter timeout than the deployed one cannot be made longer', async () => {
    const never = new Promise<never>(() => {});
    await expect(withFunctionTimeout('classify', () => never, 0.01)).rejects.toMatchObject({ name: 'Sandbox.Timedout', message: 'Task timed out after 0.01 seconds' });
    await expect(withFunctionTimeout('classify', () => Promise.resolve(7), 10_000)).resolves.toBe(7);
    expect(STAGES.classify.timeoutSeconds).toBe(120);
  });

  it('a run whose Preflight outlives its function ends NO_GO naming Sandbox.Timedout, and the deployed stack uses the same table', async () => {
    const evidenceDir = await tempDir();
    const r = await runLocal({
      spec: await miniSpec({ runId: 'fn-timeout' }),
      evidenceDir,
      workDir: await tempDir('cutline-work-'),
      approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' },
      functionTimeouts: { preflight: 0.001 },
      out: () => {},
    });
    expect([r.outcome, r.reason]).toEqual(['NO_GO', 'Task timed out after 0.00 seconds']);
    const history = await readHistory(path.join(evidenceDir, 'fn-timeout', 'execution-history.jsonl'));
    const failed = history.findIndex((e) => e.type === 'TaskFailed' && e.taskFailedEventDetails.error === 'Sandbox.Timedout');
    expect(history.slice(failed - 3, failed).map((e) => e.type)).toEqual(['TaskStateEntered', 'TaskScheduled', 'TaskStarted']);
    expect(history[failed - 3].stateEnteredEventDetails.name).toBe('Preflight');
    const construct = readFileSync(new URL('../../lib/cutover-pipeline.ts', import.meta.url), 'utf8');
    expect(construct).toContain('timeout: Duration.seconds(timeoutSeconds)');
  }, 120_000);
});
