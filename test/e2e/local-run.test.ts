/**
 * End to end through the local runner: the same ASL file, every Task state
 * overridden by the handler code the Lambda runs, on PGlite (and real
 * PostgreSQL when CUTLINE_TEST_PG_URL is set). Checks the database and the
 * evidence after each run.
 */
import { readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultApprover, runLocal, type LocalRunResult } from '../../cli/runner/run';
import { runDemo } from '../../examples/agent-uuid/demo';
import type { SqlClient } from '../../lambdas/ports';
import { PG_URL } from '../support/env';
import { dropDatabase, freshDatabase } from '../support/databases';
import { exists, filesUnder, miniSpec, readJson, tempDir, verifyManifest } from '../support/local-run';

let evidenceDir: string;
let workDir: string;
const approve = { kind: 'auto' as const, decision: 'approve' as const, approver: 'e2e@test', comment: 'ok' };
const reject = { kind: 'auto' as const, decision: 'reject' as const, approver: 'e2e@test', comment: 'not tonight' };
const quiet = () => {};

beforeAll(async () => {
  evidenceDir = await tempDir();
  workDir = await tempDir('cutline-work-');
});

async function run(spec: Record<string, any>, extra: Partial<Parameters<typeof runLocal>[0]> = {}): Promise<LocalRunResult> {
  return runLocal({ spec, evidenceDir, workDir, approval: approve, out: quiet, keepOpen: true, ...extra });
}
const db = (r: LocalRunResult): SqlClient => Object.values(r.clients)[0]!;
const ev = (r: LocalRunResult, f: string) => readJson(path.join(r.evidenceDir, f));
const params = async (r: LocalRunResult) => readJson(path.join(workDir, r.runId, 'parameters.json'));
const closeAll = (r: LocalRunResult) => Promise.all(Object.values(r.clients).map((c) => c.close()));

describe('the demo (seed 000 agent UUID cutover, 120,000 runs)', () => {
  let r: LocalRunResult;
  beforeAll(async () => {
    r = await runDemo({ evidenceDir, workDir, runId: 'e2e-demo', out: quiet, keepOpen: true });
  }, 600_000);
  // A setup that failed or timed out leaves no run to close: its own error is the one reported.
  afterAll(() => (r ? closeAll(r) : undefined));

  it('ends GO', () => {
    expect([r.status, r.outcome, r.classification]).toEqual(['SUCCEEDED', 'GO', 'GO']);
  });

  it('left every child agent_uuid equal to its parent, and agents.agent_uuid NOT NULL after cutover', async () => {
    const c = db(r);
    const runs = await c.query('SELECT count(*)::text AS n, count(agent_uuid)::text AS filled FROM s3_cloudbackup_runs');
    expect(runs.rows[0]).toEqual({ n: '120000', filled: '120000' });
    for (const t of ['jobs', 'runs', 'run_commands', 'restore_points', 'agent_destinations']) {
      const bad = await c.query(
        `SELECT count(*)::text AS n FROM s3_cloudbackup_${t} c JOIN s3_cloudbackup_agents a USING (agent_id) WHERE c.agent_uuid IS DISTINCT FROM a.agent_uuid`,
      );
      expect(bad.rows[0]!.n, t).toBe('0');
    }
    const notNull = await c.query(
      "SELECT is_nullable FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'agent_uuid'",
    );
    expect(notNull.rows[0]!.is_nullable).toBe('NO');
    const history = await c.query('SELECT script, success, statements_applied = statements_total AS complete FROM cutline_schema_history ORDER BY version');
    expect(history.rows).toEqual(
      ['V1__uuid_expand.sql', 'V2__uuid_indexes.sql', 'V3__uuid_foreign_keys.sql', 'V4__uuid_swap_group_1.sql', 'V5__uuid_validate_group_1.sql'].map((script) => ({ script, success: true, complete: true })),
    );
    // the planner's swap ran after the go: agent_uuid is the primary key, agent_id stays unique
    const pk = await c.query("SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = 's3_cloudbackup_agents'::regclass AND i.indisprimary");
    expect(pk.rows[0]!.col).toBe('agent_uuid');
    const fks = await c.query("SELECT count(*)::text AS n, count(*) FILTER (WHERE convalidated)::text AS valid FROM pg_constraint WHERE contype = 'f' AND confrelid = 's3_cloudbackup_agents'::regclass");
    expect(fks.rows[0]).toEqual({ n: '10', valid: '10' });
  });

  it('flipped the runtime selector parameter', async () => {
    expect((await params(r))['/cloudbackup/prod/agent-identity']).toBe('agent_uuid');
  });

  it('left evidence a person can read and an auditor can verify', async () => {
    const files = await filesUnder(r.evidenceDir);
    for (const f of ['01_validate.json', '02_preflight.json', '03_schema.json', '04_backfill_plan.json', '06_verify.json', '07_gates.json', '08_decide.json', '09_approval.json', '10_cutover.json', '11_smoke.json', '99_summary.json', 'summary.md', 'manifest.json', 'execution-history.jsonl'])
      expect(files).toContain(f);
    const plan = await ev(r, '04_backfill_plan.json');
    expect(files.filter((f) => f.startsWith('05_backfill/'))).toHaveLength(plan.details.tasks.reduce((n: number, t: { chunks: number }) => n + t.chunks, 0));
    const rec = await ev(r, '02_preflight.json');
    expect(Object.keys(rec).sort()).toEqual(['command', 'details', 'duration_ms', 'exit_code', 'owner', 'result', 'step', 'timestamp_utc']);
    expect(JSON.stringify(rec)).not.toContain('9f86d081884c7d659a2feaa0c55ad015'); // the secret key value never lands in evidence
    const md = await readFile(path.join(r.evidenceDir, 'summary.md'), 'utf8');
    expect(md).toContain('# cutline run e2e-demo: GO');
    expect(md).toMatch(/\| s3_cloudbackup_runs \| 120000 \| 120000 \| 0 \| PASS \|/);
    expect((await ev(r, '09_approval.json')).details.approver).toBe(defaultApprover());
    expect(await verifyManifest(r.evidenceDir)).toEqual({ ok: true, problems: [] });
  });

  it('a changed evidence file breaks the manifest', async () => {
    const f = path.join(r.evidenceDir, '07_gates.json');
    const orig = await readFile(f, 'utf8');
    await writeFile(f, orig.replace('"PASS"', '"FAIL"'));
    expect((await verifyManifest(r.evidenceDir)).problems).toContain('changed 07_gates.json');
    await writeFile(f, orig);
  });
});

describe('NO_GO paths', () => {
  it('verify fails (a child table never backfilled) -> NO_GO / VERIFY_FAILED, no approval asked, nothing cut over', async () => {
    const spec = await miniSpec({ runId: 'e2e-verify-fails' });
    spec.backfill.tasks = spec.backfill.tasks.filter((t: { name: string }) => t.name !== 'uuid-s3-cloudbackup-runs-agent-id');
    const r = await run(spec);
    try {
      expect([r.status, r.outcome, r.classification]).toEqual(['FAILED', 'NO_GO', 'VERIFY_FAILED']);
      const verify = await ev(r, '06_verify.json');
      const runs = verify.details.assertions.find((a: { name: string }) => a.name === 's3_cloudbackup_runs.agent_uuid set wherever agent_id is');
      expect(runs.violations).toBeGreaterThan(0);
      expect(await exists(path.join(r.evidenceDir, '09_approval_request.json'))).toBe(false);
      expect(await exists(path.join(r.evidenceDir, '10_cutover.json'))).toBe(false);
      const cls = await ev(r, '90_classify.json');
      expect(cls.details).toMatchObject({ classification: 'VERIFY_FAILED', stage: 'Decide', owner: 'platform-oncall@example.com' });
      expect(cls.details.retry_at_utc).toMatch(/Z$/);
      expect(cls.details.unblock_criteria).toContain('06_verify.json');
      expect(await readFile(path.join(r.evidenceDir, 'summary.md'), 'utf8')).toContain('NO_GO / VERIFY_FAILED');
    } finally {
      await closeAll(r);
    }
  });

  it('a rejected approval -> NO_GO / APPROVAL_REJECTED, and no cutover action ran', async () => {
    const r = await run(await miniSpec({ runId: 'e2e-rejected' }), { approval: reject });
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'APPROVAL_REJECTED']);
      expect((await ev(r, '09_approval.json')).details).toMatchObject({ decision: 'reject', approver: 'e2e@test', comment: 'not tonight' });
      expect(await exists(path.join(r.evidenceDir, '10_cutover.json'))).toBe(false);
      expect((await params(r))['/cloudbackup/prod/agent-identity']).toBe('agent_id');
      const col = await db(r).query("SELECT is_nullable FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'agent_uuid'");
      expect(col.rows[0]!.is_nullable).toBe('YES');
      expect((await ev(r, '90_classify.json')).details.reason).toContain('rejected by e2e@test');
    } finally {
      await closeAll(r);
    }
  });

  it('a failed smoke check rolls back: NO_GO / ROLLED_BACK with the parameter and the column restored', async () => {
    const spec = await miniSpec({ runId: 'e2e-smoke-fails' });
    spec.smoke.checks = [{ name: 'nothing listens here', url: 'http://127.0.0.1:9/agents/1', expectStatus: 200, timeoutMs: 1000 }];
    const r = await run(spec);
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
      expect((await ev(r, '10_cutover.json')).result).toBe('PASS');
      expect((await ev(r, '11_smoke.json')).result).toBe('FAIL');
      expect((await ev(r, '12_rollback.json')).details.ok).toBe(true);
      expect((await ev(r, '90_classify.json')).details.cause_classification).toBe('SMOKE_FAILED');
      expect((await params(r))['/cloudbackup/prod/agent-identity']).toBe('agent_id');
      const col = await db(r).query("SELECT is_nullable FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'agent_uuid'");
      expect(col.rows[0]!.is_nullable).toBe('YES');
    } finally {
      await closeAll(r);
    }
  });
});

describe('approval timeout', () => {
  it('nobody answers before approval.timeoutSeconds -> NO_GO / APPROVAL_TIMEOUT, and the link is dead after', async () => {
    const spec = await miniSpec({ runId: 'e2e-approval-timeout' });
    spec.approval.timeoutSeconds = 2;
    let link = '';
    const r = await run(spec, {
      approval: { kind: 'page-only' },
      out: (l) => {
        link = /open (http\S+)/.exec(l)?.[1] ?? link;
      },
    });
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'APPROVAL_TIMEOUT']);
      // Nobody opened the link either: the default heartbeat (one second below the timeout, as Step Functions requires) ends it first.
      expect((await ev(r, '90_classify.json')).details).toMatchObject({ stage: 'GoNoGo', error: 'States.HeartbeatTimeout' });
      expect(await exists(path.join(r.evidenceDir, '10_cutover.json'))).toBe(false);
      expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/approve\?/);
    } finally {
      await closeAll(r);
    }
  });
});

describe('bad input ends classified, with a summary and nothing half-applied', () => {
  it('malformed spec -> refused before anything runs, each problem with its path; no evidence, the runId stays unused', async () => {
    const bad = { version: 1, runId: 'e2e-bad-spec', owner: 'ops', tCutover: 'tomorrow', source: { engine: 'oracle', url: 'pglite://memory' } };
    const err = await run(bad).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('SpecFileError');
    expect(err?.message).toMatch(/\$\.tCutover: .*\n.*\$\.source\.engine: /);
    expect(await exists(path.join(evidenceDir, 'e2e-bad-spec'))).toBe(false);
  });

  it('an impossible date (2026-13-45T25:61:00Z) is refused naming tCutover', async () => {
    const spec = await miniSpec({ runId: 'e2e-bad-date' });
    spec.tCutover = '2026-13-45T25:61:00Z';
    const err = await run(spec).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/\$\.tCutover: /);
    expect(await exists(path.join(evidenceDir, 'e2e-bad-date'))).toBe(false);
  });

  it('a missing parameters or seed file is refused naming the field, before anything runs', async () => {
    const spec = await miniSpec({ runId: 'e2e-missing-files' });
    spec.local.parameters = path.join(workDir, 'no-such-params.json');
    spec.local.seed = [...spec.local.seed, path.join(workDir, 'no-such-seed.sql')];
    const err = await run(spec).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('SpecFileError');
    expect(err?.message).toContain('local.parameters: ');
    expect(err?.message).toMatch(/local\.seed\[\d\]: .*no-such-seed\.sql does not exist/);
    expect(await exists(path.join(evidenceDir, 'e2e-missing-files'))).toBe(false);
  });

  it('unreachable database -> NO_GO / ENVIRONMENT_BLOCKED naming it', async () => {
    const spec = await miniSpec({ runId: 'e2e-unreachable' });
    const r = await run(spec, { sourceUrl: 'postgres://nobody@127.0.0.1:1/none' });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
    const checks = (await ev(r, '02_preflight.json')).details.checks;
    expect(checks.find((c: { name: string }) => c.name.startsWith('source database')).detail).toMatch(/unreachable: .*ECONNREFUSED/);
    await closeAll(r);
  });

  it('missing and malformed parameters -> NO_GO / ENVIRONMENT_BLOCKED, each listed, no secret echoed', async () => {
    const spec = await miniSpec({ runId: 'e2e-params' });
    const file = path.join(workDir, 'bad-params.json');
    const good = await readJson(spec.local.parameters);
    delete good['/cloudbackup/prod/NODE_ENV'];
    good['/cloudbackup/prod/ISSUER_KEY_ENCRYPTION'] = 'not-hex-SECRET';
    await writeFile(file, JSON.stringify(good));
    spec.local.parameters = file;
    const r = await run(spec);
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
      const rec = await ev(r, '02_preflight.json');
      const failing = rec.details.checks.filter((c: { ok: boolean }) => !c.ok);
      expect(failing.map((c: { name: string }) => c.name)).toEqual(['parameter /cloudbackup/prod/NODE_ENV', 'parameter /cloudbackup/prod/ISSUER_KEY_ENCRYPTION']);
      expect(failing[0].detail).toBe('missing; expected = "production"');
      expect(JSON.stringify(rec)).not.toContain('not-hex-SECRET');
      expect(await exists(path.join(r.evidenceDir, '03_schema.json'))).toBe(false);
    } finally {
      await closeAll(r);
    }
  });

  it('a SQL file failing half-way -> NO_GO / MIGRATION_FAILED naming file and statement; the file is rolled back and history says so', async () => {
    const spec = await miniSpec({ runId: 'e2e-bad-migration' });
    const dir = path.join(workDir, 'bad-migrations');
    await mkdir(dir, { recursive: true });
    await copyFile(path.join(spec.migrations.location, 'V1__uuid_expand.sql'), path.join(dir, 'V1__uuid_expand.sql'));
    delete spec.migrations.contractLocation;
    await writeFile(
      path.join(dir, 'V2__broken.sql'),
      'ALTER TABLE s3_cloudbackup_runs ADD COLUMN note2 text;\nALTER TABLE s3_cloudbackup_runs ADD COLUMN note text;\nALTER TABLE s3_cloudbackup_nope ADD COLUMN x int;\n',
    );
    spec.migrations.location = dir;
    const r = await run(spec);
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'MIGRATION_FAILED']);
      const rec = await ev(r, '03_schema.json');
      expect(rec.details).toMatchObject({ script: 'V2__broken.sql', statement: 3, line: 3, statementsApplied: 0, statementsTotal: 3, rolledBack: true });
      expect(rec.details.message).toContain('s3_cloudbackup_nope');
      const c = db(r);
      const note = await c.query("SELECT 1 AS x FROM information_schema.columns WHERE table_name = 's3_cloudbackup_runs' AND column_name = 'note'");
      expect(note.rows).toEqual([]); // statement 2 was rolled back with the file
      const hist = await c.query('SELECT script, success, statements_applied, error FROM cutline_schema_history ORDER BY version');
      expect(hist.rows.map((h) => [h.script, h.success, h.statements_applied])).toEqual([
        ['V1__uuid_expand.sql', true, 7],
        ['V2__broken.sql', false, 0],
      ]);
    } finally {
      await closeAll(r);
    }
  });
});

describe('more bad input', () => {
  it('a file edited after it was applied, a syntax error, a backfill key of a type that cannot be split: each NO_GO with the file / table named', async () => {
    const fs = await import('node:fs/promises');
    const dir = path.join(workDir, 'edit-me');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'V1__add.sql'), 'ALTER TABLE s3_cloudbackup_agents ADD COLUMN note text;\n');
    const spec = await miniSpec({ runId: 'e2e-edited-1' });
    spec.migrations = { location: dir };
    spec.backfill.tasks = [];
    spec.verify = { rowCounts: 'before-vs-after', tables: [] };
    spec.checks = []; // the demo's schema contract checks are about its own migrations
    const first = await run(spec, { clients: undefined });
    const c = db(first);
    expect(first.outcome).toBe('GO');
    // edited after it was applied -> MIGRATION_FAILED naming the file, on the same database
    await fs.writeFile(path.join(dir, 'V1__add.sql'), 'ALTER TABLE s3_cloudbackup_agents ADD COLUMN note varchar(10);\n');
    const edited = await run({ ...spec, runId: 'e2e-edited-2' }, { clients: { 'pglite://memory': c } });
    expect([edited.outcome, edited.classification]).toEqual(['NO_GO', 'MIGRATION_FAILED']);
    expect((await ev(edited, '03_schema.json')).details.message).toContain('V1__add.sql changed after it was applied');
    // a syntax error names file, statement and line; nothing of the file stays
    await fs.writeFile(path.join(dir, 'V1__add.sql'), 'ALTER TABLE s3_cloudbackup_agents ADD COLUMN note text;\n');
    await fs.writeFile(path.join(dir, 'V2__typo.sql'), 'ALTER TABLE s3_cloudbackup_agents ADD COLUMN other text;\nALTER TABLE s3_cloudbackup_agents ADD COLUMNN broken int;\n');
    const typo = await run({ ...spec, runId: 'e2e-typo' }, { clients: { 'pglite://memory': c } });
    expect([typo.outcome, typo.classification]).toEqual(['NO_GO', 'MIGRATION_FAILED']);
    expect((await ev(typo, '03_schema.json')).details).toMatchObject({ script: 'V2__typo.sql', statement: 2, line: 2, rolledBack: true });
    expect((await c.query("SELECT 1 AS x FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'other'")).rows).toEqual([]);
    // a backfill keyed by a timestamp (integer, text and uuid keys are split; a time is not)
    await fs.rm(path.join(dir, 'V2__typo.sql'));
    const textKey = await run(
      { ...spec, runId: 'e2e-time-key', backfill: { tasks: [{ name: 'by-time', table: 's3_cloudbackup_agents', key: 'enrolled_at', sql: 'UPDATE s3_cloudbackup_agents SET note = hostname WHERE enrolled_at BETWEEN :lo AND :hi' }] } },
      { clients: { 'pglite://memory': c } },
    );
    // found by Preflight, before the migrations could change anything
    expect([textKey.outcome, textKey.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
    expect((await ev(textKey, '90_classify.json')).details.reason).toContain(
      'backfill task by-time: key s3_cloudbackup_agents.enrolled_at: got type timestamp with time zone; expected an integer, text or uuid key',
    );
    expect(await exists(path.join(textKey.evidenceDir, '03_schema.json'))).toBe(false);
    await c.close();
  });

  it('broken backfill SQL is found by Preflight (EXPLAIN, which runs nothing) before the migrations change anything', async () => {
    const spec = await miniSpec({ runId: 'e2e-broken-backfill-sql' });
    spec.backfill.tasks[0].sql = 'UPDATE s3_cloudbackup_agents SETT agent_uuid = NULL WHERE agent_id BETWEEN :lo AND :hi';
    const r = await run(spec);
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
      expect((await ev(r, '90_classify.json')).details.reason).toMatch(/backfill task uuid-s3-cloudbackup-agents: SQL: (ERROR: )?syntax error at or near "agent_uuid"; expected one statement/);
      expect(await exists(path.join(r.evidenceDir, '03_schema.json'))).toBe(false);
      // The migrations did not run: the uuid column they add is not there.
      expect((await db(r).query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'agent_uuid'")).rows[0]!.n).toBe(0);
    } finally {
      await closeAll(r);
    }
  });

  it('backfill SQL with two statements, or without :lo / :hi, is refused before anything runs, naming the task', async () => {
    const spec = await miniSpec({ runId: 'e2e-bad-backfill-sql' });
    spec.backfill.tasks[0].sql = 'UPDATE s3_cloudbackup_agents SET agent_uuid = NULL WHERE agent_id BETWEEN :lo AND :hi; DELETE FROM s3_cloudbackup_jobs';
    spec.backfill.tasks[1].sql = spec.backfill.tasks[1].sql.replace(':hi', '100');
    const err = await run(spec).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/\$\.backfill\.tasks\[0\]\.sql: got 2 statements; expected exactly one/);
    expect(err?.message).toMatch(/\$\.backfill\.tasks\[1\]\.sql: got .*; expected the key-range placeholder :hi/);
    expect(await exists(path.join(evidenceDir, 'e2e-bad-backfill-sql'))).toBe(false);
  });
});

describe('bundled migrations', () => {
  it('files that travel inside the spec are applied like a folder', async () => {
    const spec = await miniSpec({ runId: 'e2e-bundled' });
    const fs = await import('node:fs/promises');
    const names = (await fs.readdir(spec.migrations.location)).sort();
    spec.migrations = {
      location: 'bundled',
      files: await Promise.all(names.map(async (name: string) => ({ name, body: await fs.readFile(path.join(spec.migrations.location, name), 'utf8') }))),
      contractLocation: spec.migrations.contractLocation,
    };
    const r = await run(spec);
    try {
      expect(r.outcome).toBe('GO');
      expect((await ev(r, '03_schema.json')).details.applied.map((a: { script: string }) => a.script)).toEqual(names);
    } finally {
      await closeAll(r);
    }
  });
});

describe('lint and the contract phase', () => {
  it('a lock-heavy migration is blocked before anything runs: NO_GO / MIGRATION_FAILED with the rule and the safe alternative', async () => {
    const spec = await miniSpec({ runId: 'e2e-lint-blocks' });
    const dir = path.join(workDir, 'lint-migrations');
    await mkdir(dir, { recursive: true });
    await copyFile(path.join(spec.migrations.location, 'V1__uuid_expand.sql'), path.join(dir, 'V1__uuid_expand.sql'));
    await writeFile(path.join(dir, 'V2__bad_index.sql'), 'CREATE INDEX runs_status_idx ON s3_cloudbackup_runs (status);\n');
    spec.migrations.location = dir;
    delete spec.migrations.contractLocation;
    const r = await run(spec);
    try {
      expect([r.outcome, r.classification]).toEqual(['NO_GO', 'MIGRATION_FAILED']);
      const rec = await ev(r, '03_schema.json');
      expect(rec.details.lint).toEqual([expect.objectContaining({ code: 'CL001', script: 'V2__bad_index.sql', line: 1, blocking: true, safe: expect.stringContaining('CONCURRENTLY') })]);
      const c = db(r);
      const col = await c.query("SELECT 1 AS x FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'agent_uuid'");
      expect(col.rows).toEqual([]); // V1 did not run either: lint comes first
    } finally {
      await closeAll(r);
    }
  });

  it('a destructive contract file runs after the go/no-go, in Cutover', async () => {
    const spec = await miniSpec({ runId: 'e2e-contract' });
    const dir = path.join(workDir, 'contract');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'V9__drop_legacy_note.sql'), 'ALTER TABLE s3_cloudbackup_runs DROP COLUMN log_ref;\n');
    spec.migrations.contractLocation = dir;
    const r = await run(spec);
    try {
      expect(r.outcome).toBe('GO');
      expect((await ev(r, '03_schema.json')).details.applied.map((a: { script: string }) => a.script)).toEqual(['V1__uuid_expand.sql', 'V2__uuid_indexes.sql', 'V3__uuid_foreign_keys.sql']);
      const cut = await ev(r, '10_cutover.json');
      expect(cut.details.contract.applied).toEqual([{ script: 'V9__drop_legacy_note.sql', statements: 1 }]);
      expect(cut.details.contract.lint[0]).toMatchObject({ code: 'CL006', allowed: true, allowReason: 'contract phase (after go/no-go)' });
      const col = await db(r).query("SELECT 1 AS x FROM information_schema.columns WHERE table_name = 's3_cloudbackup_runs' AND column_name = 'log_ref'");
      expect(col.rows).toEqual([]);
    } finally {
      await closeAll(r);
    }
  });
});

describe('the local approval page', () => {
  it('GET shows the form and decides nothing; POST approves once; a replay is refused', async () => {
    const lines: string[] = [];
    let resolveUrl!: (u: string) => void;
    const url = new Promise<string>((r) => {
      resolveUrl = r;
    });
    const runP = runLocal({
      spec: await miniSpec({ runId: 'e2e-page' }),
      evidenceDir,
      workDir,
      approval: { kind: 'page-only' },
      keepOpen: true,
      out: (l) => {
        lines.push(l);
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/approve\?\S+)/.exec(l);
        if (m) resolveUrl(m[1]!);
      },
    });
    const link = await url;
    const get = await fetch(link);
    expect(get.status).toBe(200);
    const html = await get.text();
    expect(html).toContain('<form method="post"');
    expect(html).toContain('runtime selector: agents are identified by agent_uuid');
    // Nothing decided by showing the page (the POST below would answer 409 if anything had).
    expect(await exists(path.join(evidenceDir, 'e2e-page', '09_approval.json'))).toBe(false);
    const q = new URL(link).searchParams;
    const form = new URLSearchParams({ id: q.get('id')!, exp: q.get('exp')!, sig: q.get('sig')!, approver: 'alice@example.com', comment: 'go', decision: 'approve' });
    const tampered = new URLSearchParams(form);
    tampered.set('sig', `${q.get('sig')!.slice(0, -2)}AA`);
    const forged = await fetch(new URL('/approve', link), { method: 'POST', body: tampered, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(forged.status).toBe(403);
    const post = await fetch(new URL('/approve', link), { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(post.status).toBe(200);
    const replay = await fetch(new URL('/approve', link), { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(replay.status).toBe(409);
    const r = await runP;
    try {
      expect(r.outcome).toBe('GO');
      expect((await ev(r, '09_approval.json')).details).toMatchObject({ approver: 'alice@example.com', via: 'approval page', sourceIp: '127.0.0.1' });
    } finally {
      await closeAll(r);
    }
  });
});

describe.runIf(!!PG_URL)('on a real PostgreSQL', () => {
  const dbName = `cutline_e2e_${process.pid}`;
  beforeAll(async () => {
    await freshDatabase(PG_URL!, dbName);
  });
  afterAll(async () => {
    await dropDatabase(PG_URL!, dbName);
  });

  it('runs the mini cutover to GO with --source-url and --seed', async () => {
    const u = new URL(PG_URL!);
    u.pathname = `/${dbName}`;
    const r = await run(await miniSpec({ runId: 'e2e-postgres' }), { sourceUrl: u.toString(), seed: true });
    try {
      expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
      const bad = await db(r).query('SELECT count(*)::text AS n FROM s3_cloudbackup_runs c JOIN s3_cloudbackup_agents a USING (agent_id) WHERE c.agent_uuid IS DISTINCT FROM a.agent_uuid');
      expect(bad.rows[0]!.n).toBe('0');
      expect((await ev(r, '02_preflight.json')).details.checks[0].detail).toMatch(/^postgres 15\./);
    } finally {
      await closeAll(r);
    }
  });
});
