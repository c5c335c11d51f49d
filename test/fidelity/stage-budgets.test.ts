/**
 * Fidelity: Smoke runs its requests (and jumpbox curls) inside one Lambda invocation, which ends at its function's
 * timeout (900 s): checks that may take longer together make the spec invalid, naming the field and the budget.
 * (Cutover and rollback commands run in the state machine's Wait loop: command-loop.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../lambdas/core/spec';
import { miniSpec } from '../support/local-run';

describe('what one stage may ask of its function', () => {
  it('smoke checks whose timeouts add up past the Smoke function are refused', async () => {
    const spec = await miniSpec({ runId: 'budget-smoke' });
    spec.jumpbox = { instanceId: 'local' };
    spec.smoke.checks = Array.from({ length: 20 }, (_, i) => ({ name: `c${i}`, url: 'http://app/x', expectStatus: 200, via: 'jumpbox', timeoutMs: 60_000 }));
    const r = parseSpec(spec);
    expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['$.smoke.checks']);
  });
});
