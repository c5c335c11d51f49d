/** The local runner against a real MariaDB: MySQL-dialect migrations, backfill and verify, history statement by statement. */
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { MYSQL_URL, PG_URL } from '../support/env';
import { dropDatabase, freshDatabase, pgQuery } from '../support/databases';
import { readJson, tempDir } from '../support/local-run';

const FIX = path.resolve(import.meta.dirname, 'fixtures/mysql');

describe.runIf(!!MYSQL_URL)('on a real MariaDB', () => {
  const dbName = `cutline_e2e_${process.pid}`;
  let admin: mysql.Connection;
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase(MYSQL_URL!, dbName);
    admin = await mysql.createConnection(MYSQL_URL!);
  });
  afterAll(async () => {
    await admin.end();
    await dropDatabase(MYSQL_URL!, dbName);
  });

  function spec(runId: string, extra: Record<string, unknown> = {}) {
    return {
      version: 1,
      runId,
      owner: 'dba@example.com',
      tCutover: '2026-11-21T02:00:00Z',
      source: { engine: 'mysql', url },
      preflight: { minVersion: { mysql: '8.0' } },
      migrations: { location: path.join(FIX, 'migrations') },
      backfill: {
        tasks: [
          { name: 'agents', table: 's3_cloudbackup_agents', key: 'agent_id', batchSize: 7, sql: 'UPDATE s3_cloudbackup_agents SET agent_uuid = UNHEX(REPLACE(UUID(), \'-\', \'\')) WHERE agent_id BETWEEN :lo AND :hi AND agent_uuid IS NULL' },
          { name: 'runs', table: 's3_cloudbackup_runs', key: 'run_id', batchSize: 150, sql: 'UPDATE s3_cloudbackup_runs r JOIN s3_cloudbackup_agents a ON a.agent_id = r.agent_id SET r.agent_uuid = a.agent_uuid WHERE r.run_id BETWEEN :lo AND :hi AND NOT (r.agent_uuid <=> a.agent_uuid)' },
        ],
      },
      verify: {
        rowCounts: 'before-vs-after',
        tables: ['s3_cloudbackup_agents', 's3_cloudbackup_runs'],
        assertions: [
          { name: 'every agent has a uuid', sql: 'SELECT agent_id FROM s3_cloudbackup_agents WHERE agent_uuid IS NULL LIMIT 10' },
          { name: 'runs match their agent', sql: 'SELECT r.run_id FROM s3_cloudbackup_runs r JOIN s3_cloudbackup_agents a USING (agent_id) WHERE NOT (r.agent_uuid <=> a.agent_uuid) LIMIT 10' },
        ],
      },
      cutover: { actions: [{ type: 'sql', sql: 'ALTER TABLE s3_cloudbackup_agents MODIFY agent_uuid BINARY(16) NOT NULL' }] },
      local: { seed: [path.join(FIX, 'seed.sql')] },
      ...extra,
    };
  }

  it('runs to GO; history records each statement; the database is checked after', async () => {
    const evidenceDir = await tempDir();
    const r = await runLocal({ spec: spec('e2e-mariadb'), evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'dba', comment: '' }, seed: true, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    const [hist] = await admin.query(`SELECT script, success, statements_applied, statements_total FROM ${dbName}.cutline_schema_history`);
    expect(hist).toEqual([{ script: 'V1__add_agent_uuid.sql', success: 1, statements_applied: 3, statements_total: 3 }]);
    const [bad] = await admin.query(`SELECT COUNT(*) AS n FROM ${dbName}.s3_cloudbackup_runs r JOIN ${dbName}.s3_cloudbackup_agents a USING (agent_id) WHERE NOT (r.agent_uuid <=> a.agent_uuid) OR r.agent_uuid IS NULL`);
    expect((bad as { n: number }[])[0]!.n).toBe(0);
    const pre = await readJson(path.join(r.evidenceDir, '02_preflight.json'));
    expect(pre.details.checks[0].detail).toMatch(/^mariadb 10\./);
    const plan = await readJson(path.join(r.evidenceDir, '04_backfill_plan.json'));
    expect(plan.details.tasks).toEqual([
      { name: 'agents', rows: '20', chunks: 3 },
      { name: 'runs', rows: '400', chunks: 3 },
    ]);
  });

  it('a MySQL file failing half-way keeps what applied (DDL commits) and says so; the rerun resumes at the failed statement', async () => {
    const evidenceDir = await tempDir();
    const dir = await tempDir('cutline-mig-');
    const fs = await import('node:fs/promises');
    await admin.query(`CREATE TABLE ${dbName}.halfway (id INT PRIMARY KEY)`);
    const body = 'ALTER TABLE halfway ADD COLUMN a INT;\nALTER TABLE halfway ADD COLUMN b INT;\nALTER TABLE halfway_missing ADD COLUMN c INT;\nALTER TABLE halfway ADD COLUMN d INT;\n';
    await fs.writeFile(path.join(dir, 'V1__halfway.sql'), body);
    const s = spec('e2e-mariadb-halfway', { migrations: { location: dir, historyTable: 'halfway_history' }, backfill: { tasks: [] }, verify: { tables: [], assertions: [] }, cutover: { actions: [] }, local: { seed: [] } });
    const r = await runLocal({ spec: s, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'dba', comment: '' }, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'MIGRATION_FAILED']);
    const rec = await readJson(path.join(r.evidenceDir, '03_schema.json'));
    expect(rec.details).toMatchObject({ script: 'V1__halfway.sql', statement: 3, statementsApplied: 2, statementsTotal: 4, rolledBack: false });
    const [h1] = await admin.query(`SELECT success, statements_applied FROM ${dbName}.halfway_history`);
    expect(h1).toEqual([{ success: 0, statements_applied: 2 }]);
    // fix the environment, not the file (it is partly applied), and run again
    await admin.query(`CREATE TABLE ${dbName}.halfway_missing (id INT PRIMARY KEY)`);
    const r2 = await runLocal({ spec: { ...s, runId: 'e2e-mariadb-halfway-2' }, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'dba', comment: '' }, out: () => {} });
    expect(r2.outcome).toBe('GO');
    const rec2 = await readJson(path.join(r2.evidenceDir, '03_schema.json'));
    expect(rec2.details.applied).toEqual([{ script: 'V1__halfway.sql', statements: 4, resumedAt: 3 }]);
    const [cols] = await admin.query(`SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${dbName}' AND TABLE_NAME = 'halfway' ORDER BY ORDINAL_POSITION`);
    expect((cols as { c: string }[]).map((x) => x.c)).toEqual(['id', 'a', 'b', 'd']);
  });

  it.runIf(!!PG_URL)('copies PostgreSQL → MariaDB: a boolean into tinyint(1), a text-keyed state store in keyset ranges; the rerun keeps what exists', async () => {
    const pgDb = `cutline_e2e_pgsrc_${process.pid}`;
    const pgUrl = await freshDatabase(PG_URL!, pgDb);
    try {
      await pgQuery(
        pgUrl,
        `CREATE TABLE flags (id int PRIMARY KEY, active boolean NOT NULL, note text);
         INSERT INTO flags SELECT g, g % 3 = 0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 250) g;
         CREATE TABLE state_store (state_key varchar(120) PRIMARY KEY, state_value text NOT NULL);
         INSERT INTO state_store SELECT 'agent/' || md5(g::text), 'v' || g FROM generate_series(1, 130) g;`,
      );
      await admin.query(`CREATE TABLE ${dbName}.flags (id INT PRIMARY KEY, active TINYINT(1) NOT NULL, note TEXT)`);
      await admin.query(`CREATE TABLE ${dbName}.state_store (state_key VARCHAR(120) PRIMARY KEY, state_value TEXT NOT NULL)`);
      const s = {
        version: 1,
        owner: 'dba@example.com',
        tCutover: '2026-11-21T02:00:00Z',
        source: { engine: 'postgres', url: pgUrl },
        target: { engine: 'mysql', url },
        backfill: {
          tasks: [
            { name: 'flags', table: 'flags', key: 'id', batchSize: 100, copyFrom: { database: 'source', table: 'flags' } },
            { name: 'state', table: 'state_store', key: 'state_key', batchSize: 50, copyFrom: { database: 'source', table: 'state_store' } },
          ],
        },
      };
      const go = async (runId: string) =>
        runLocal({ spec: { ...s, runId }, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'dba', comment: '' }, out: () => {} });
      const r = await go('e2e-pg-to-mariadb');
      expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
      const [flags] = await admin.query(`SELECT count(*) AS n, sum(active) AS on_, sum(note IS NULL) AS nulls FROM ${dbName}.flags`);
      expect((flags as Record<string, unknown>[])[0]).toEqual({ n: 250, on_: '83', nulls: '50' });
      const [state] = await admin.query(`SELECT count(*) AS n, md5(group_concat(concat(state_key, '=', state_value) ORDER BY state_key SEPARATOR ',')) AS h FROM ${dbName}.state_store`);
      const want = (await pgQuery(pgUrl, `SELECT count(*)::int AS n, md5(string_agg(state_key || '=' || state_value, ',' ORDER BY state_key COLLATE "C")) AS h FROM state_store`)).rows[0];
      expect((state as Record<string, unknown>[])[0]).toEqual(want);
      expect((await readJson(path.join(r.evidenceDir, '04_backfill_plan.json'))).details.tasks).toEqual([
        { name: 'flags', rows: '250', chunks: 3 },
        { name: 'state', rows: '130', chunks: 3 },
      ]);
      const again = await go('e2e-pg-to-mariadb-again');
      expect(again.outcome).toBe('GO');
      expect(await readJson(path.join(again.evidenceDir, '05_backfill/state/000002.json'))).toMatchObject({ rows: 0, read: 30, keptExisting: 30 });
    } finally {
      await dropDatabase(PG_URL!, pgDb);
    }
  });
});
