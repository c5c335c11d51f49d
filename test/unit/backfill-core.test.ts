/** Backfill planning: key ranges, and which phases travel in the 256 KiB state. */
import { describe, expect, it } from 'vitest';
import { planRanges } from '../../lambdas/core/backfill';

describe('backfill planning', () => {
  it('covers [lo, hi] exactly with ranges of batchSize keys', () => {
    expect(planRanges('t', 1n, 25n, 10).map((c) => [c.lo, c.hi])).toEqual([
      ['1', '10'],
      ['11', '20'],
      ['21', '25'],
    ]);
  });
  it('is exact beyond 2^53', () => {
    const c = planRanges('t', 9007199254740990n, 9007199254740999n, 4);
    expect(c.map((x) => x.hi)).toEqual(['9007199254740993', '9007199254740997', '9007199254740999']);
  });
});

describe('backfill phases in the state', () => {
  it('inline phases share one 64 KiB budget: six phases of 800 chunks (~56 KB each) put one in the state, not 330 KB', async () => {
    const { inlinePhases, INLINE_ITEMS_BYTES } = await import('../../lambdas/core/pipeline');
    const lo = 1_000_000_000_000n;
    const phase = (t: string, n: number) => planRanges(t, lo, lo + BigInt(n) * 1_000_000_000n - 1n, 1_000_000_000);
    const phases = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => phase(t, 800));
    const bytes = phases.map((p) => Buffer.byteLength(JSON.stringify(p)));
    // Each phase alone would travel inline (the old rule); all six together would not fit a 256 KiB state.
    expect(bytes.every((b) => b < INLINE_ITEMS_BYTES)).toBe(true);
    expect(bytes.reduce((a, b) => a + b, 0)).toBeGreaterThan(262_144);
    const inline = inlinePhases([...phases, phase('g', 10)], 1000);
    expect(inline).toEqual([true, false, false, false, false, false, true]);
    expect([...phases, phase('g', 10)].filter((_, i) => inline[i]).reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p)), 0)).toBeLessThanOrEqual(INLINE_ITEMS_BYTES);
    // Past distributedAbove a phase is distributed however small.
    expect(inlinePhases([phase('a', 11)], 10)).toEqual([false]);
  });
});
