/** The gate verdict (compare/verdict.ts): tolerance, a method-gated table's verdict, combination, the NO_GO label. */
import { describe, expect, it } from 'vitest';
import { combine, failingGates, fastGate, tableVerdict, within, worstStatus } from '../../lambdas/core/compare/verdict';

const exactOnly = { toleranceRows: 0, tolerancePercent: 0 };
const matched = { chunks: 4, missing: 0, fastUnsettled: false, diffs: 0, diffsTruncated: false };

describe('the gate verdict', () => {
  it('tolerance: rows and percent of the expected count must both hold; an expected 0 allows no difference', () => {
    expect(within(100n, 100n, exactOnly)).toEqual({ diff: 0n, pct: 0, ok: true });
    expect(within(1000n, 995n, { toleranceRows: 5, tolerancePercent: 0.5 })).toEqual({ diff: -5n, pct: 0.5, ok: true });
    expect(within(1000n, 994n, { toleranceRows: 10, tolerancePercent: 0.5 }).ok).toBe(false);
    expect(within(1000n, 994n, { toleranceRows: 5, tolerancePercent: 1 }).ok).toBe(false);
    expect(within(0n, 1n, { toleranceRows: 10, tolerancePercent: 99 })).toEqual({ diff: 1n, pct: 100, ok: false });
  });

  it('tolerance as the user writes it: rows alone allow that many rows whatever the percent, percent alone that share, neither is exact equality', () => {
    expect(within(10n, 9n, { toleranceRows: 1 })).toEqual({ diff: -1n, pct: 10, ok: true });
    expect(within(10n, 8n, { toleranceRows: 1 }).ok).toBe(false);
    expect(within(1000n, 990n, { tolerancePercent: 1 })).toEqual({ diff: -10n, pct: 1, ok: true });
    expect(within(1000n, 989n, { tolerancePercent: 1 }).ok).toBe(false);
    expect(within(5n, 5n, {}).ok).toBe(true);
    expect(within(5n, 6n, {}).ok).toBe(false);
    const g = fastGate([{ table: 'state', expected: '3', actual: '2' }], { toleranceRows: 1 });
    expect(g.verdict).toBe('PASS');
    expect(g.tables[0]?.reason).toBe('diff -1 within tolerance (1 row)');
    expect(fastGate([{ table: 'state', expected: '3', actual: '1' }], { toleranceRows: 1 }).tables[0]?.reason).toBe('diff -2 rows (66.6666%); expected within 1 row');
  });

  it('verdicts combine worst first, and a chunk is as bad as its worst check', () => {
    expect(combine([])).toBe('PASS');
    expect(combine(['PASS', undefined, 'INCONCLUSIVE'])).toBe('INCONCLUSIVE');
    expect(combine(['INCONCLUSIVE', 'FAIL', 'PASS'])).toBe('FAIL');
    expect(worstStatus(['MATCH', 'DIFF', 'UNSTABLE'])).toBe('UNSTABLE');
    expect(worstStatus([])).toBe('MATCH');
  });

  it('a method-gated table: every chunk matching passes; chunks without a result leave it inconclusive, with the first error', () => {
    expect(tableVerdict(matched, exactOnly)).toEqual({ verdict: 'PASS', reason: 'every chunk matches' });
    expect(tableVerdict({ ...matched, missing: 1, missingCause: 'chunk 3: connection reset' }, exactOnly)).toEqual({
      verdict: 'INCONCLUSIVE',
      reason: '1 of 4 chunks have no result (chunk 3: connection reset)',
    });
  });

  it('fast totals over the tolerance fail the table, within it pass with the diff named; differing exact chunks fail it whatever else', () => {
    const fast = { source: '1000', target: '990', diff: '-10' };
    expect(tableVerdict({ ...matched, fast }, { toleranceRows: 5, tolerancePercent: 5 })).toEqual({
      verdict: 'FAIL',
      reason: 'fast: 1000 rows on the source, 990 on the target (diff -10, 1%); expected within 5 rows and 5%',
    });
    expect(tableVerdict({ ...matched, fast }, { toleranceRows: 10, tolerancePercent: 1 })).toEqual({ verdict: 'PASS', reason: 'fast: diff -10 within tolerance' });
    const exact = { differing: 2, unstable: 1, errors: 0 };
    expect(tableVerdict({ ...matched, exact, diffs: 7, diffsTruncated: true }, exactOnly)).toEqual({
      verdict: 'FAIL',
      reason: 'exact: 2 chunk(s) differ; 7+ differing key(s); exact: 1 chunk(s) changed while being read (live writes), 0 chunk(s) failed',
    });
  });

  it('unsettled fast chunks make an otherwise passing table inconclusive, never a failing one passing', () => {
    expect(tableVerdict({ ...matched, fastUnsettled: true }, exactOnly)).toEqual({ verdict: 'INCONCLUSIVE', reason: 'fast: some chunks were unstable or failed' });
    expect(tableVerdict({ ...matched, fastUnsettled: true, exact: { differing: 1, unstable: 0, errors: 0 } }, exactOnly).verdict).toBe('FAIL');
  });

  it('a NO_GO names the gates it comes from: the row counts, the method gates, or both', () => {
    const counts = fastGate([{ table: 'a', expected: '10', actual: '10' }], exactOnly);
    const bad = fastGate([{ table: 'a', expected: '10', actual: '9' }], exactOnly);
    const method = { table: 'a', verdict: 'FAIL' as const, reason: 'exact: 1 chunk(s) differ', chunks: 1, diffs: 1, rowsPerSecond: null };
    expect(failingGates({ ...counts, verdict: 'FAIL', methodTables: [method] })).toBe('method gates');
    expect(failingGates(bad)).toBe('row-count gate');
    expect(failingGates({ ...bad, methodTables: [method] })).toBe('row-count gate and method gates');
  });
});
