/**
 * The exact gate finds every differing row and nothing else: Sakila copied
 * PostgreSQL->PostgreSQL, PostgreSQL->MariaDB and MariaDB->MariaDB, first
 * identical, then with seven injected differences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import { compareTable } from '../support/compare-table';
import type { SqlClient } from '../../lambdas/ports';
import { MYSQL_URL, PG_URL } from '../support/env';
import { dropDatabase, pgUrlFor } from '../support/databases';
import { clonePg, cloneMaria, injectDifferences, loadSakilaPg, portSakilaToMaria, SAKILA_EXCLUDE, SAKILA_TABLES } from '../support/sakila';

const tag = process.pid;

async function dropPg(names: string[]) {
  for (const n of names) await dropDatabase(PG_URL!, n);
}
async function dropMaria(names: string[]) {
  for (const n of names) await dropDatabase(MYSQL_URL!, n);
}

async function compareAll(source: SqlClient, target: SqlClient) {
  const out = [];
  for (const table of SAKILA_TABLES)
    out.push(await compareTable({ source, target }, { table, exclude: SAKILA_EXCLUDE[table] }, ['fast', 'exact'], systemClock, { plan: { initialRows: 3000, maxRows: 3000, sampleEvery: 4 }, check: { recheckDelayMs: 20 } }));
  return out;
}

function reported(results: Awaited<ReturnType<typeof compareAll>>) {
  return results
    .flatMap((r) => r.diffs.map((d) => ({ table: d.table, key: d.key, kind: d.kind, ...(d.columns ? { columns: d.columns } : {}) })))
    .sort((a, b) => (a.table + a.key < b.table + b.key ? -1 : 1));
}

const pairs: { name: string; enabled: boolean; setup: () => Promise<{ source: SqlClient; target: SqlClient; cleanup: () => Promise<void> }> }[] = [
  {
    name: 'PostgreSQL -> PostgreSQL',
    enabled: !!PG_URL,
    async setup() {
      await loadSakilaPg(PG_URL!, `sakila_src_${tag}`);
      await clonePg(PG_URL!, `sakila_src_${tag}`, `sakila_dst_${tag}`);
      const source = postgresClient(pgUrlFor(PG_URL!, `sakila_src_${tag}`));
      const target = postgresClient(pgUrlFor(PG_URL!, `sakila_dst_${tag}`));
      return { source, target, cleanup: async () => { await source.close(); await target.close(); await dropPg([`sakila_src_${tag}`, `sakila_dst_${tag}`]); } };
    },
  },
  {
    name: 'PostgreSQL -> MariaDB',
    enabled: !!PG_URL && !!MYSQL_URL,
    async setup() {
      await loadSakilaPg(PG_URL!, `sakila_src2_${tag}`);
      const source = postgresClient(pgUrlFor(PG_URL!, `sakila_src2_${tag}`));
      const admin = mysqlClient(MYSQL_URL!);
      await portSakilaToMaria(source, MYSQL_URL!, `sakila_m_${tag}`, admin);
      await admin.close();
      const target = mysqlClient(pgUrlFor(MYSQL_URL!, `sakila_m_${tag}`));
      return { source, target, cleanup: async () => { await source.close(); await target.close(); await dropPg([`sakila_src2_${tag}`]); await dropMaria([`sakila_m_${tag}`]); } };
    },
  },
  {
    name: 'MariaDB -> MariaDB',
    enabled: !!PG_URL && !!MYSQL_URL,
    async setup() {
      await loadSakilaPg(PG_URL!, `sakila_src3_${tag}`);
      const pgSrc = postgresClient(pgUrlFor(PG_URL!, `sakila_src3_${tag}`));
      const admin = mysqlClient(MYSQL_URL!);
      await portSakilaToMaria(pgSrc, MYSQL_URL!, `sakila_ms_${tag}`, admin);
      await admin.close();
      await pgSrc.close();
      await cloneMaria(MYSQL_URL!, `sakila_ms_${tag}`, `sakila_md_${tag}`);
      const source = mysqlClient(pgUrlFor(MYSQL_URL!, `sakila_ms_${tag}`));
      const target = mysqlClient(pgUrlFor(MYSQL_URL!, `sakila_md_${tag}`));
      return { source, target, cleanup: async () => { await source.close(); await target.close(); await dropPg([`sakila_src3_${tag}`]); await dropMaria([`sakila_ms_${tag}`, `sakila_md_${tag}`]); } };
    },
  },
];

for (const p of pairs) {
  describe.runIf(p.enabled)(`Sakila ${p.name}`, () => {
    let source: SqlClient;
    let target: SqlClient;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ source, target, cleanup } = await p.setup());
    }, 180_000);
    afterAll(() => cleanup?.());

    it('identical data: every table matches, no difference reported', async () => {
      const r = await compareAll(source, target);
      expect(r.map((t) => [t.table, t.status])).toEqual(SAKILA_TABLES.map((t) => [t, 'MATCH']));
      expect(r.find((t) => t.table === 'rental')!.chunks).toBeGreaterThan(5);
    }, 120_000);

    it('seven injected differences: each reported at its key, nothing else', async () => {
      const expected = await injectDifferences(target);
      const r = await compareAll(source, target);
      expect(reported(r)).toEqual(expected);
      const fast = r.flatMap((t) => t.checks.filter((c) => c.method === 'fast' && c.status === 'DIFF').map(() => t.table));
      expect([...new Set(fast)].sort()).toEqual(['category', 'film_actor']);
    }, 120_000);
  });
}
