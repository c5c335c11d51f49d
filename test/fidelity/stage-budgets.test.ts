/**
 * Fidelity: Cutover, Rollback and Smoke run their jumpbox commands and requests inside one Lambda invocation, which
 * ends at its function's timeout (900 s). A spec could ask for a one-hour cutover command: locally it ran, in AWS the
 * function would have been killed mid-command. Now such a spec is invalid, naming the field and the budget.
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../lambdas/core/spec';
import { miniSpec } from '../support/local-run';

describe('what one stage may ask of its function', () => {
  it('cutover commands that may outlast the Cutover function are refused; the same within budget pass', async () => {
    const spec = await miniSpec({ runId: 'budget' });
    spec.cutover.actions = [{ type: 'command', script: 'long-job', timeoutSeconds: 3600 }];
    const r = parseSpec(spec);
    expect(r.ok ? [] : r.problems).toEqual([
      {
        path: '$.cutover.actions',
        message: 'got jumpbox commands that may take 3630 s together (their timeoutSeconds + 30 s each); expected at most 840 s, what the Cutover function\'s 900 s leave (run a longer job as a bulkCopy command, which the state machine polls)',
      },
    ]);
    spec.cutover.actions = [{ type: 'command', script: 'reload', timeoutSeconds: 300 }, { type: 'command', script: 'reload2', timeoutSeconds: 300 }];
    expect(parseSpec(spec).ok).toBe(true);
  });

  it('smoke checks whose timeouts add up past the Smoke function are refused', async () => {
    const spec = await miniSpec({ runId: 'budget-smoke' });
    spec.jumpbox = { instanceId: 'local' };
    spec.smoke.checks = Array.from({ length: 20 }, (_, i) => ({ name: `c${i}`, url: 'http://app/x', expectStatus: 200, via: 'jumpbox', timeoutMs: 60_000 }));
    const r = parseSpec(spec);
    expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['$.smoke.checks']);
  });
});
