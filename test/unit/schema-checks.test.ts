/**
 * Schema's checks get an invocation with the time they may take: after long migrations Schema hands over
 * (MigrationStillRunning, the state's own Retry) and the next invocation, with the migrations done, runs the checks.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { silentLogger, systemClock } from '../../lambdas/adapters/local/runtime';
import { DirScriptSource } from '../../lambdas/adapters/local/scripts-dir';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { schemaStage } from '../../lambdas/core/pipeline';
import { parseSpec } from '../../lambdas/core/spec';
import { readJson, tempDir } from '../support/local-run';

describe('Schema and its checks', () => {
  it('too little time left after the migrations: handed over, and the next invocation runs the checks without applying anything again', async () => {
    const dir = await tempDir('cutline-mig-');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'V1__t.sql'), 'CREATE TABLE t (id int PRIMARY KEY);\n');
    const r = parseSpec({
      version: 1,
      runId: 'schema-handover',
      owner: 'o',
      tCutover: '2026-11-21T02:00:00Z',
      source: { engine: 'postgres', url: 'pglite://memory' },
      migrations: { location: dir },
      checks: [{ name: 't exists', at: 'schema', sql: { sql: "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'", expect: { min: 1, max: 1 } } }],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const db = await PGlite.create();
    const client = pgliteClient(db);
    const evidenceDir = await tempDir();
    const deps = { sql: () => client, scripts: new DirScriptSource(), evidence: new FsEvidenceStore(evidenceDir), clock: systemClock, logger: silentLogger } as never;
    const state = { spec: r.spec, results: {}, execution: { id: 'arn:x', name: 'schema-handover' } } as never;
    await expect(schemaStage(state, deps, { remainingMs: () => 60_000 })).rejects.toMatchObject({ name: 'MigrationStillRunning', message: 'the schema checks may take 45 s; 60 s are left: the next invocation runs them' });
    expect((await client.query("SELECT count(*)::int AS n FROM cutline_schema_history WHERE success")).rows[0]!.n).toBe(1);
    const out = await schemaStage(state, deps, { remainingMs: () => 800_000 });
    expect(out).toMatchObject({ applied: 0, skipped: 1 });
    const rec = await readJson(path.join(evidenceDir, 'schema-handover', '03_schema.json'));
    expect(rec.result).toBe('PASS');
    expect(rec.details.stepChecks).toMatchObject([{ name: 't exists', ok: true }]);
    await db.close();
  });
});
