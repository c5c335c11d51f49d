/** The gate math and the decision matrix: the fast tolerance (seed 004), GO only when everything passed, every NO_GO classified. */
import { describe, expect, it } from 'vitest';
import { classify, decide } from '../../lambdas/core/decision';
import { GateFailed, VerifyFailed } from '../../lambdas/core/errors';
import type { VerifyOutcome } from '../../lambdas/core/verify';
import { fastGate } from '../../lambdas/core/compare/verdict';

describe('fast gate tolerance (seed 004: ROWCOUNT_TOLERANCE>0 was never applied)', () => {
  const counts = [
    { table: 'a', expected: '1000', actual: '1005' },
    { table: 'b', expected: '2000', actual: '2000' },
  ];
  it('exact equality by default', () => {
    const g = fastGate(counts, { toleranceRows: 0, tolerancePercent: 0 });
    expect(g.verdict).toBe('FAIL');
    expect(g.tables.map((t) => t.verdict)).toEqual(['FAIL', 'PASS']);
    expect(g.tables[0]!.reason).toBe('diff 5 rows (0.5%); expected within 0 rows and 0%');
  });
  it('passes at the threshold and fails one row over it', () => {
    expect(fastGate(counts, { toleranceRows: 5, tolerancePercent: 1 }).verdict).toBe('PASS');
    expect(fastGate(counts, { toleranceRows: 4, tolerancePercent: 1 }).verdict).toBe('FAIL');
    expect(fastGate(counts, { toleranceRows: 5, tolerancePercent: 0.4 }).verdict).toBe('FAIL');
  });
  it('a missing count is INCONCLUSIVE, never PASS', () => {
    const g = fastGate([{ table: 'a', expected: null, actual: '1', error: 'boom' }], { toleranceRows: 100, tolerancePercent: 100 });
    expect(g.verdict).toBe('INCONCLUSIVE');
  });
  it('keeps counts beyond 2^53 exact', () => {
    const g = fastGate([{ table: 'big', expected: '9007199254740993', actual: '9007199254740992' }], { toleranceRows: 0, tolerancePercent: 0 });
    expect(g.tables[0]!.diff).toBe('-1');
  });
});

describe('decision matrix', () => {
  const verify = (over: Partial<VerifyOutcome> = {}): VerifyOutcome => ({ mode: 'before-vs-after', tables: [{ table: 'a', expected: '1', actual: '1' }], assertions: [], ...over });
  it('proceeds only when verify and every gate passed', () => {
    expect(decide(verify(), fastGate(verify().tables, { toleranceRows: 0, tolerancePercent: 0 })).verdict).toBe('PROCEED');
  });
  it('an assertion with rows -> VerifyFailed; counts over tolerance -> GateFailed; INCONCLUSIVE -> GateFailed', () => {
    const v = verify({ assertions: [{ name: 'no orphans', ok: false, violations: 3, sample: [] }] });
    expect(() => decide(v, fastGate(v.tables, { toleranceRows: 0, tolerancePercent: 0 }))).toThrow(VerifyFailed);
    const v2 = verify({ tables: [{ table: 'a', expected: '1', actual: '2' }] });
    expect(() => decide(v2, fastGate(v2.tables, { toleranceRows: 0, tolerancePercent: 0 }))).toThrow(GateFailed);
  });
  it('classifies by error name, or by the stage it stopped in; rollbacks say what caused them', () => {
    const now = new Date('2026-11-21T00:00:00Z');
    const c = classify({ error: { Error: 'States.Timeout' }, results: { validateSpec: 1, preflight: 1, schema: 1, commandPoll: 1, backfillPlan: 1, backfillChunk: 1, verify: 1, gatePlan: 1, gateChunk: 1, gates: 1, decide: 1 }, owner: 'o', now });
    expect([c.classification, c.stage, c.retry_at_utc]).toEqual(['APPROVAL_TIMEOUT', 'GoNoGo', '2026-11-22T00:00:00.000Z']);
    expect(classify({ error: { Error: 'Lambda.Unknown' }, results: { validateSpec: 1 }, owner: 'o', now }).classification).toBe('ENVIRONMENT_BLOCKED');
    const rb = classify({ error: { Error: 'SmokeFailed', Cause: '{"errorMessage":"404"}' }, results: {}, owner: 'o', now, rollback: { ok: true } });
    expect([rb.classification, rb.cause_classification, rb.reason]).toEqual(['ROLLED_BACK', 'SMOKE_FAILED', '404']);
  });
});
