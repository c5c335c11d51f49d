/**
 * One SqlClient contract, every adapter: PGlite, real PostgreSQL, real
 * MariaDB, and the Data API adapter through the real RDSDataClient against a
 * loopback Data-API-compatible endpoint (over PGlite and over PostgreSQL).
 */
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataApiSql } from '../../lambdas/adapters/aws/data-api';
import { mysqlClient } from '../../lambdas/adapters/local/sql-mysql';
import { pgliteClient, postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import { selectPages } from '../../lambdas/core/paging';
import type { SqlClient } from '../../lambdas/ports';
import { pgBackend, pgliteBackend, startDataApiServer } from '../../lambdas/adapters/local/data-api-server';
import { MYSQL_URL, PG_URL } from '../support/env';

interface Target {
  name: string;
  enabled: boolean;
  open(): Promise<{ client: SqlClient; close(): Promise<void> }>;
  dataApi?: boolean;
}

function dataApiClient(endpoint: string): SqlClient {
  const rds = new RDSDataClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  return new DataApiSql(
    rds,
    { resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:contract', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:contract', database: 'test' },
    'postgres',
  );
}

const targets: Target[] = [
  {
    name: 'pglite',
    enabled: true,
    async open() {
      const db = await PGlite.create();
      return { client: pgliteClient(db), close: () => db.close() };
    },
  },
  {
    name: 'postgres',
    enabled: !!PG_URL,
    async open() {
      const client = postgresClient(PG_URL!);
      return { client, close: () => client.close() };
    },
  },
  {
    name: 'mariadb',
    enabled: !!MYSQL_URL,
    async open() {
      const client = mysqlClient(MYSQL_URL!);
      return { client, close: () => client.close() };
    },
  },
  {
    name: 'data-api over pglite',
    enabled: true,
    dataApi: true,
    async open() {
      const db = await PGlite.create();
      const server = await startDataApiServer(pgliteBackend(db));
      return { client: dataApiClient(server.endpoint), close: async () => { await server.close(); await db.close(); } };
    },
  },
  {
    name: 'data-api over postgres',
    enabled: !!PG_URL,
    dataApi: true,
    async open() {
      const pool = new pg.Pool({ connectionString: PG_URL!, options: '-c TimeZone=UTC' });
      const server = await startDataApiServer(pgBackend(pool));
      return { client: dataApiClient(server.endpoint), close: async () => { await server.close(); await pool.end(); } };
    },
  },
];

for (const t of targets) {
  describe.runIf(t.enabled)(`SqlClient contract: ${t.name}`, () => {
    let client: SqlClient;
    let close: () => Promise<void>;
    const table = `contract_${t.name.replace(/\W+/g, '_')}_${process.pid}`;
    const isPg = () => client.dialect === 'postgres';

    beforeAll(async () => {
      ({ client, close } = await t.open());
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.query(
        isPg()
          ? `CREATE TABLE ${table} (id bigint PRIMARY KEY, u uuid, ts timestamp(6), amount numeric(20,4), doc jsonb, body text, raw bytea, flag boolean)`
          : `CREATE TABLE ${table} (id bigint PRIMARY KEY, u char(36), ts datetime(6), amount decimal(20,4), doc json, body longtext, raw blob, flag boolean)`,
      );
    });
    afterAll(async () => {
      await client?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await close?.();
    });

    it('binds typed values (uuid, timestamp, decimal, json) and reads them back exactly', async () => {
      const u = '0190f5a8-3a6b-7cc1-8f00-123456789abc';
      const r = await client.query(
        `INSERT INTO ${table} (id, u, ts, amount, doc, body, raw, flag) VALUES (:id, :u, :ts, :amount, :doc, :body, :raw, :flag)`,
        {
          id: 1,
          u: { type: 'uuid', value: u },
          ts: { type: 'timestamp', value: '2026-11-21 01:02:03.123456' },
          amount: { type: 'decimal', value: '12345678901234.5678' },
          doc: { type: 'json', value: '{"b":1,"a":[1,2]}' },
          body: "it's; not -- two statements",
          raw: new Uint8Array([0, 1, 254, 255]),
          flag: true,
        },
      );
      expect(r.rowsAffected).toBe(1);
      const { rows } = await client.query(`SELECT id, u, ts, amount, body, raw, flag FROM ${table} WHERE id = :id`, { id: 1 });
      const row = rows[0]!;
      expect(row.id).toBe('1');
      expect(row.u).toBe(u);
      expect(String(row.ts)).toMatch(/^2026-11-21[ T]01:02:03\.123456/);
      expect(row.amount).toBe('12345678901234.5678');
      expect(row.body).toBe("it's; not -- two statements");
      expect(Buffer.from(row.raw as Uint8Array).toString('hex')).toBe('0001feff');
      expect(row.flag === true || row.flag === 1).toBe(true);
    });

    it('refuses a plain string compared with a uuid column, as the Data API does (typeHint needed)', async () => {
      if (!isPg()) return expect(client.dialect).toBe('mysql');
      await expect(client.query(`SELECT id FROM ${table} WHERE u = :u`, { u: '0190f5a8-3a6b-7cc1-8f00-123456789abc' })).rejects.toThrow(
        /uuid = character varying|operator does not exist/,
      );
      const ok = await client.query(`SELECT id FROM ${table} WHERE u = :u`, { u: { type: 'uuid', value: '0190f5a8-3a6b-7cc1-8f00-123456789abc' } });
      expect(ok.rows).toHaveLength(1);
    });

    it('keeps big integers exact, never rounds', async () => {
      const big = '9007199254740993';
      // The Data API adapter asks for integers as strings (resultSetOptions.longReturnType): exact there too.
      const { rows } = await client.query(`SELECT CAST(${big} AS ${isPg() ? 'bigint' : 'signed'}) AS n, CAST(7 AS ${isPg() ? 'integer' : 'signed'}) AS small`);
      expect(rows[0]!.n).toBe(big);
      if (isPg()) expect(rows[0]!.small).toBe(7);
      const param = await client.query(`INSERT INTO ${table} (id, body) VALUES (:id, 'big')`, { id: 2n ** 62n });
      expect(param.rowsAffected).toBe(1);
      const back = await client.query(isPg() ? `SELECT id::text AS id FROM ${table} WHERE body = 'big'` : `SELECT CAST(id AS CHAR) AS id FROM ${table} WHERE body = 'big'`);
      expect(back.rows[0]!.id).toBe((2n ** 62n).toString());
      await client.query(`DELETE FROM ${table} WHERE body = 'big'`);
    });

    it("refuses multi-statement strings (Multistatements aren't supported)", async () => {
      await expect(client.query(`UPDATE ${table} SET flag = false; DROP TABLE ${table}`)).rejects.toThrow(/Multistatements aren't supported/);
      const { rows } = await client.query(`SELECT count(*) AS n FROM ${table}`);
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    });

    it('names a missing parameter', async () => {
      await expect(client.query(`SELECT id FROM ${table} WHERE id = :nope`, {})).rejects.toThrow(/:nope/);
    });

    it('commits a transaction, and rolls it back when the function throws', async () => {
      await client.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id, body) VALUES (10, 'committed')`);
      });
      await expect(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id, body) VALUES (11, 'rolled back')`);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const { rows } = await client.query(`SELECT id FROM ${table} WHERE id IN (10, 11) ORDER BY id`);
      expect(rows.map((r) => String(r.id))).toEqual(['10']);
    });

    it('reads a 3 MiB table in pages under 1 MiB', async () => {
      const pad = 'x'.repeat(1000);
      await client.query(
        isPg()
          ? `INSERT INTO ${table} (id, body) SELECT g, repeat(:pad, 1) || g::text FROM generate_series(1000, 3999) g`
          : `INSERT INTO ${table} (id, body) SELECT seq, CONCAT(:pad, seq) FROM seq_1000_to_3999`,
        { pad },
      );
      if (t.dataApi) await expect(client.query(`SELECT id, body FROM ${table}`)).rejects.toThrow(/response size limit/);
      let n = 0;
      let pages = 0;
      let last = -1n;
      for await (const page of selectPages(client, { table, key: 'id', columns: ['id', 'body'] })) {
        pages++;
        for (const r of page) {
          const id = BigInt(String(r.id));
          expect(id > last).toBe(true);
          last = id;
          n++;
        }
        expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(1024 * 1024);
      }
      const { rows } = await client.query(`SELECT count(*) AS n FROM ${table}`);
      expect(n).toBe(Number(rows[0]!.n));
      expect(pages).toBeGreaterThan(3);
    });
  });
}
