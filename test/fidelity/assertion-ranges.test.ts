/**
 * Fidelity: a custom assertion is one statement, and a Data API call ends at 45 seconds. An assertion over a big
 * table failed with StatementTimeoutException (retried six times, then an error the reader could not act on). Now an
 * assertion may name a table and key to run over, using :lo and :hi: Verify runs it per key range (each range one
 * call), adds the violations up and keeps the first rows as the sample; one that still times out says which limit it
 * met and what to do.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackDataApi } from '../../cli/loopback-data-api';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { parseSpec, RunSpec } from '../../lambdas/core/spec';
import { runVerify } from '../../lambdas/core/verify';
import type { Deps, SqlClient } from '../../lambdas/ports';
import { dropDatabase, freshDatabase } from '../support/databases';
import { PG_URL } from '../support/env';

describe.runIf(!!PG_URL)('an assertion over a table too big for one Data API call', () => {
  const name = `cutline_assert_ranges_${process.pid}`;
  let url: string;
  let sql: SqlClient;
  beforeAll(async () => {
    url = await freshDatabase(PG_URL!, name);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    // 200 rows whose check takes 5 ms each: about a second in one statement, 100 ms per range of 20 keys.
    await c.query(`CREATE FUNCTION slow_bad(i int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN i % 50 = 0; END $$;
      CREATE TABLE big (id int PRIMARY KEY); INSERT INTO big SELECT generate_series(1, 200)`);
    await c.end();
    sql = await loopbackDataApi(url, undefined, { statementTimeoutMs: 600 });
  });
  afterAll(async () => {
    await sql?.close();
    await dropDatabase(PG_URL!, name);
  });

  const verify = (assertion: Record<string, unknown>) => {
    const spec = RunSpec.parse({ version: 1, runId: 'ranges', owner: 'o', tCutover: '2026-12-01T00:00:00Z', source: { engine: 'postgres', url }, verify: { rowCounts: 'before-vs-after', assertions: [assertion] } });
    return runVerify(spec, {}, { sql: () => sql, clock: systemClock } as unknown as Deps);
  };

  it('runs per key range with :lo and :hi: every violation counted, the first ones sampled', async () => {
    const out = await verify({ name: 'no bad rows', sql: 'SELECT id FROM big WHERE id BETWEEN :lo AND :hi AND slow_bad(id)', ranges: { table: 'big', span: 20 } });
    expect(out.assertions[0]).toMatchObject({ name: 'no bad rows', ok: false, violations: 4, ranges: 10 });
    expect(out.assertions[0]!.sample).toEqual([{ id: 50 }, { id: 100 }, { id: 150 }, { id: 200 }]);
  }, 60_000);

  it('one statement past the call limit names the limit and the way out', async () => {
    const out = await verify({ name: 'whole table', sql: 'SELECT id FROM big WHERE slow_bad(id)' });
    expect(out.assertions[0]).toMatchObject({ name: 'whole table', ok: false });
    expect(out.assertions[0]!.error).toMatch(/ran past the Data API's limit of a call.*expected an assertion that ends within one call, or "ranges" \(a table and key\) with :lo and :hi/);
  }, 60_000);

  it('a spec with ranges but without :lo / :hi is refused, naming the field', () => {
    const r = parseSpec({ version: 1, runId: 'ranges', owner: 'o', tCutover: '2026-12-01T00:00:00Z', source: { engine: 'postgres', url: 'pglite://memory' }, verify: { assertions: [{ name: 'a', sql: 'SELECT 1 WHERE false', ranges: { table: 'big' } }] } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n')).toMatch(/\$\.verify\.assertions\[0\]\.sql: .*expected the key-range placeholder :lo/);
  });
});
