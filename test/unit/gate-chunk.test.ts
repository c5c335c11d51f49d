/** Chunk checks without a database: re-checks, live writes (UNSTABLE), and SQL shape per dialect. */
import { describe, expect, it } from 'vitest';
import { checksumSql } from '../../lambdas/core/compare/checksum';
import { checkChunk } from '../../lambdas/core/compare/gate';
import type { TablePlan } from '../../lambdas/core/compare/table-plan';
import type { Clock, SqlClient, SqlResult } from '../../lambdas/ports';

const plan = (source: 'postgres' | 'mysql', target: 'postgres' | 'mysql'): TablePlan => ({
  table: 'orders',
  targetTable: 'orders',
  key: [{ name: 'id', kind: 'int', binary: false }],
  columns: [
    { name: 'id', source: { column: 'id', kind: 'int' }, target: { column: 'id', kind: 'int' } },
    { name: 'note', source: { column: 'note', kind: 'text' }, target: { column: 'note', kind: 'text' } },
  ],
  dialects: { source, target },
});

function fake(dialect: 'postgres' | 'mysql', answers: { n: string; s1: string; s2: string }[]): SqlClient & { calls: number } {
  const c = {
    dialect,
    label: 'fake',
    calls: 0,
    async query(): Promise<SqlResult> {
      const a = answers[Math.min(c.calls, answers.length - 1)]!;
      c.calls++;
      return { rows: [a], columns: [], rowsAffected: 0 };
    },
    transaction: async () => {
      throw new Error('no');
    },
    close: async () => {},
  };
  return c;
}
const clock: Clock = { now: () => new Date(), sleep: async () => {} };
const chunk = { table: 'orders', index: 0, lo: null, hi: ['100'] };

describe('checkChunk', () => {
  it('a count mismatch that holds still after every re-read is a DIFF; equal counts match at once', async () => {
    const s = fake('postgres', [{ n: '100', s1: '1', s2: '2' }]);
    const t = fake('postgres', [{ n: '99', s1: '1', s2: '2' }]);
    const r = await checkChunk({ source: s, target: t }, plan('postgres', 'postgres'), chunk, 'fast', clock, { recheck: 2, recheckDelayMs: 0, drill: { buckets: 64, leafRows: 1000, maxDiffs: 10, maxLevels: 3 } });
    expect([r.status, r.rechecks, r.source.n, r.target.n]).toEqual(['DIFF', 2, '100', '99']);
    const same = await checkChunk({ source: s, target: fake('postgres', [{ n: '100', s1: '7', s2: '7' }]) }, plan('postgres', 'postgres'), chunk, 'fast', clock);
    expect([same.status, same.rechecks]).toEqual(['MATCH', 0]);
  });

  it('reads that change between re-checks (live writes) make the chunk UNSTABLE, not a difference', async () => {
    const s = fake('postgres', [
      { n: '100', s1: '1', s2: '2' },
      { n: '101', s1: '5', s2: '6' },
    ]);
    const t = fake('postgres', [{ n: '100', s1: '9', s2: '9' }]);
    const r = await checkChunk({ source: s, target: t }, plan('postgres', 'postgres'), chunk, 'exact', clock, { recheck: 3, recheckDelayMs: 0, drill: { buckets: 64, leafRows: 1000, maxDiffs: 10, maxLevels: 3 } });
    expect([r.status, r.rechecks]).toEqual(['UNSTABLE', 1]);
  });

  it('a failing query is an ERROR with its message (the table becomes INCONCLUSIVE)', async () => {
    const s = fake('postgres', []);
    s.query = async () => {
      throw new Error('connection reset');
    };
    const r = await checkChunk({ source: s, target: fake('postgres', [{ n: '1', s1: '1', s2: '1' }]) }, plan('postgres', 'postgres'), chunk, 'exact', clock);
    expect([r.status, r.error]).toEqual(['ERROR', 'connection reset']);
  });
});

describe('chunk checksum SQL', () => {
  it('PostgreSQL fences md5 with OFFSET 0 and sums 60-bit slices exactly', () => {
    const q = checksumSql(plan('postgres', 'postgres'), 'source', { lo: ['10'], hi: ['20'] });
    expect(q.sql).toContain('OFFSET 0) q');
    expect(q.sql).toContain("('x' || substr(h, 1, 15))::bit(60)::bigint");
    expect(q.sql).toContain('"id" > :lo0 AND "id" <= :hi0');
    expect(q.params).toEqual({ lo0: 10n, hi0: 20n });
  });
  it('MySQL sums CONV(...) as UNSIGNED (exact DECIMAL, not DOUBLE)', () => {
    const q = checksumSql(plan('mysql', 'mysql'), 'target', { lo: null, hi: null });
    expect(q.sql).toContain('SUM(CAST(CONV(SUBSTRING(h, 1, 15), 16, 10) AS UNSIGNED))');
    expect(q.sql).toContain('WHERE 1 = 1');
  });
});
