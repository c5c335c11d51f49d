/**
 * Keys above 2^53 (issue 9): range bounds travel as exact decimal strings and
 * bind as bigint, never through a JS number. Backfill (in place), copy within
 * a database, copy across databases and the exact gate, on real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { dropDatabase, freshDatabase, pgQuery as sql } from '../support/databases';
import { PG_URL } from '../support/env';
import { tempDir } from '../support/local-run';

const BASE = 2n ** 62n;
const ROWS = 20_000;

describe.runIf(!!PG_URL)('keys above 2^53 (real PostgreSQL)', () => {
  const names = [`cutline_big_a_${process.pid}`, `cutline_big_b_${process.pid}`];
  let a: string;
  let b: string;
  beforeAll(async () => {
    a = await freshDatabase(PG_URL!, names[0]!);
    b = await freshDatabase(PG_URL!, names[1]!);
    // Keys 2^62 + 3g: neighbours differ by 3, far below a double's spacing (1024) at that size.
    const ddl = `CREATE TABLE big (id bigint PRIMARY KEY, v text NOT NULL, marked boolean NOT NULL DEFAULT false);
      CREATE TABLE big_copy (LIKE big INCLUDING ALL);`;
    await sql(a, `${ddl} INSERT INTO big (id, v) SELECT ${BASE} + 3 * g, 'v' || g FROM generate_series(1, ${ROWS}) g`);
    await sql(b, ddl);
  });
  afterAll(async () => {
    for (const n of names) await dropDatabase(PG_URL!, n);
  });

  it('in-place backfill, copy in one database and copy to another touch every row; the exact gate matches', async () => {
    const spec = {
      version: 1,
      runId: 'bigint-keys',
      owner: 'ops@example.com',
      tCutover: '2026-11-21T02:00:00Z',
      source: { engine: 'postgres', url: a },
      target: { engine: 'postgres', url: b },
      backfill: {
        tasks: [
          { name: 'mark', database: 'source', table: 'big', key: 'id', batchSize: 1500, sql: 'UPDATE big SET marked = true WHERE id BETWEEN :lo AND :hi' },
          { name: 'copy-same', database: 'source', table: 'big_copy', key: 'id', batchSize: 1500, copyFrom: { database: 'source', table: 'big' } },
          { name: 'copy-cross', database: 'target', table: 'big', key: 'id', batchSize: 1500, copyFrom: { database: 'source', table: 'big' } },
        ],
      },
      gates: { methods: ['fast', 'exact'], tables: [{ table: 'big' }] },
    };
    const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect([r.outcome, r.reason]).toEqual(['GO', 'every gate passed, approved, cut over, smoke checks passed']);
    expect((await sql(a, 'SELECT count(*) AS n FROM big WHERE NOT marked')).rows[0].n).toBe('0');
    const digest = `SELECT count(*) AS n, md5(string_agg(id::text || v, ',' ORDER BY id)) AS h FROM`;
    const want = (await sql(a, `${digest} big`)).rows[0];
    expect(want.n).toBe(String(ROWS));
    expect((await sql(a, `${digest} big_copy`)).rows[0]).toEqual(want);
    // The copy to the target ran before `marked` was set or after: compare the key and value only.
    expect((await sql(b, `${digest} big`)).rows[0]).toEqual(want);
  }, 120_000);
});
