/**
 * Seed 004's bulk copy on the jumpbox (here the local shell): the ASL's
 * SendCommand -> Wait -> GetCommandInvocation -> Choice loop; exit code and
 * output in evidence; failures and hangs end BACKFILL_FAILED.
 */
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { PG_URL } from '../support/env';
import { readJson, tempDir } from '../support/local-run';
import { dropDatabase, freshDatabase, pgUrlFor } from '../support/databases';

function spec(runId: string, commands: unknown[], source = { engine: 'postgres', url: 'pglite://memory' }) {
  return { version: 1, runId, owner: 'dba@example.com', tCutover: '2026-11-21T02:00:00Z', source, jumpbox: { instanceId: 'local' }, bulkCopy: { commands } };
}
const run = async (s: unknown) => runLocal({ spec: s, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });

describe('bulk copy on the jumpbox', () => {
  it('a command that exits non-zero: NO_GO / BACKFILL_FAILED, exit code and stderr in evidence', async () => {
    const r = await run(spec('bulk-fails', [{ name: 'dump', script: 'echo copying; echo "pg_dump: error: connection refused" >&2; exit 3', pollSeconds: 1 }]));
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'BACKFILL_FAILED']);
    const rec = await readJson(path.join(r.evidenceDir, '05_bulk_copy/dump.json'));
    expect(rec).toMatchObject({ exit_code: 3, result: 'FAIL', details: { status: 'Failed', stdout: 'copying\n', stderr: 'pg_dump: error: connection refused\n' } });
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.reason).toContain('exit code 3');
  });

  it('a command that hangs past its timeout is stopped: NO_GO / BACKFILL_FAILED', async () => {
    const r = await run(spec('bulk-hangs', [{ name: 'restore', script: 'sleep 30', timeoutSeconds: 1, pollSeconds: 1 }]));
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'BACKFILL_FAILED']);
    expect((await readJson(path.join(r.evidenceDir, '05_bulk_copy/restore.json'))).details.status).toBe('TimedOut');
  });
});

describe.runIf(!!PG_URL)('pg_dump | psql through the jumpbox', () => {
  const src = `cutline_bulk_src_${process.pid}`;
  const dst = `cutline_bulk_dst_${process.pid}`;
  beforeAll(async () => {
    for (const d of [src, dst]) await freshDatabase(PG_URL!, d);
    const c = new pg.Client({ connectionString: pgUrlFor(PG_URL!, src) });
    await c.connect();
    await c.query(`CREATE TABLE accounts AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 20000) g; ALTER TABLE accounts ADD PRIMARY KEY (id)`);
    await c.end();
  });
  afterAll(async () => {
    for (const d of [src, dst]) await dropDatabase(PG_URL!, d);
  });

  it('copies the table, records exit 0 and the output, and the run goes on', async () => {
    const script = `set -euo pipefail; pg_dump --no-owner --no-privileges -t accounts '${pgUrlFor(PG_URL!, src)}' | psql -q -o /dev/null -v ON_ERROR_STOP=1 '${pgUrlFor(PG_URL!, dst)}'; psql -Atc 'SELECT count(*) FROM accounts' '${pgUrlFor(PG_URL!, dst)}'`;
    const r = await run(spec('bulk-pgdump', [{ name: 'pg-dump-restore', script, pollSeconds: 1 }], { engine: 'postgres', url: pgUrlFor(PG_URL!, dst) }));
    expect(r.outcome).toBe('GO');
    const rec = await readJson(path.join(r.evidenceDir, '05_bulk_copy/pg-dump-restore.json'));
    expect(rec).toMatchObject({ exit_code: 0, result: 'PASS', details: { status: 'Success', stdout: '20000\n' } });
    expect((await readJson(path.join(r.evidenceDir, '05_bulk_copy/pg-dump-restore_sent.json'))).commandId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
