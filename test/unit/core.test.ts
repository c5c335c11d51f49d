/** Pure core: the SQL lexer, spec validation, launch-gate rules, gate math, decisions, migrations, planning, links, manifest. */
import { describe, expect, it } from 'vitest';
import { expandEnv, SpecFileError } from '../../cli/spec-file';
import { signApproval, verifyApprovalLink } from '../../lambdas/core/approval';
import { planRanges } from '../../lambdas/core/backfill';
import { classify, decide } from '../../lambdas/core/decision';
import { GateFailed, VerifyFailed } from '../../lambdas/core/errors';
import { buildManifest } from '../../lambdas/core/evidence';
import { loadMigrations, statementHash, validateAgainstHistory } from '../../lambdas/core/migrations';
import { checkParameters, parseServerVersion } from '../../lambdas/core/preflight';
import type { Deps } from '../../lambdas/ports';
import { parseSpec, platformProblems, RunSpec } from '../../lambdas/core/spec';
import { assertSingleStatement, namedParams, splitStatements } from '../../lambdas/core/sql-lexer';
import type { VerifyOutcome } from '../../lambdas/core/verify';
import { fastGate } from '../../lambdas/core/compare/verdict';

describe('sql lexer', () => {
  it('splits PostgreSQL scripts on ; outside strings, dollar quotes, identifiers and comments', () => {
    const script = `-- leading comment; not a split
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
INSERT INTO "we;ird" VALUES ('a;b', E'it\\'s; fine');
/* block; /* nested; */ still comment */ UPDATE t SET x = 1;
`;
    const s = splitStatements(script, 'postgres');
    expect(s.map((x) => x.sql)).toEqual([
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
      `INSERT INTO "we;ird" VALUES ('a;b', E'it\\'s; fine')`,
      'UPDATE t SET x = 1',
    ]);
    expect(s.map((x) => x.line)).toEqual([2, 3, 4]);
  });

  it('splits MySQL scripts with backticks, backslash escapes and # comments', () => {
    const s = splitStatements("INSERT INTO `a;b` VALUES ('x\\';y'); # c;\nSELECT 1", 'mysql');
    expect(s.map((x) => x.sql)).toEqual(["INSERT INTO `a;b` VALUES ('x\\';y')", 'SELECT 1']);
  });

  it('refuses a second statement but allows one trailing semicolon', () => {
    expect(() => assertSingleStatement('SELECT 1;', 'postgres')).not.toThrow();
    expect(() => assertSingleStatement("SELECT ';' -- ; \n", 'postgres')).not.toThrow();
    expect(() => assertSingleStatement('SELECT 1; SELECT 2', 'postgres')).toThrow(/Multistatements aren't supported/);
  });

  it('finds :params but not casts, strings or comments', () => {
    expect(namedParams("SELECT :a::int, ':b', x::text -- :c\n WHERE y = :d", 'postgres')).toEqual(['a', 'd']);
  });

  it('names an unterminated string with its line', () => {
    expect(() => splitStatements("SELECT 1;\nSELECT 'oops", 'postgres')).toThrow(/unterminated string starting at line 2/);
  });
});

const base = {
  version: 1,
  runId: 'r1',
  owner: 'ops@example.com',
  tCutover: '2026-11-21T02:00:00Z',
  source: { engine: 'postgres', url: 'pglite://memory' },
};

describe('run spec v1', () => {
  it('applies defaults', () => {
    const r = parseSpec(base);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.spec.approval).toEqual({ timeoutSeconds: 86400, channels: [{ type: 'local' }], required: 1 });
      expect(r.spec.gates.fast).toEqual({ toleranceRows: 0, tolerancePercent: 0 });
    }
  });

  it('lists every problem with its JSON path, the value got and what was expected', () => {
    const r = parseSpec({ ...base, source: { engine: 'postgres', url: 'mysql://x' }, backfill: { tasks: [{ name: 'a', table: 't', key: 'id', sql: 'UPDATE t SET x = 1 WHERE id >= :lo' }] } });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems).toEqual([
        { path: '$.source.url', message: 'got "mysql://x"; a mysql:// URL speaks mysql, but engine is "postgres"' },
        { path: '$.backfill.tasks[0].sql', message: 'got "UPDATE t SET x = 1 WHERE id >= :lo"; expected the key-range placeholder :hi in the backfill SQL' },
      ]);
  });

  it('refuses command actions without a jumpbox and source-vs-target counts without a target', () => {
    const r = parseSpec({ ...base, cutover: { actions: [{ type: 'command', script: 'true' }] }, verify: { tables: ['t'] } });
    expect(!r.ok && r.problems.map((p) => p.path)).toEqual(['$.jumpbox', '$.verify.rowCounts']);
  });

  it('knows what only works locally or in AWS', () => {
    const spec = RunSpec.parse(base);
    expect(platformProblems(spec, 'aws').map((p) => p.path)).toEqual(['$.source.url', '$.approval.channels']);
    expect(platformProblems(spec, 'local')).toEqual([]);
  });

  it('the demo spec is valid', async () => {
    const { readSpecFile } = await import('../../cli/spec-file');
    const raw = await readSpecFile(new URL('../../examples/agent-uuid/spec.json', import.meta.url).pathname, { DEMO_APP_URL: 'http://127.0.0.1:1' });
    expect(parseSpec(raw).ok).toBe(true);
  });

  it('${env:NAME} must be set', () => {
    expect(() => expandEnv({ a: ['${env:NOPE_X}'] }, {})).toThrow(SpecFileError);
    expect(() => expandEnv({ a: ['${env:NOPE_X}'] }, {})).toThrow('$.a[0]: uses ${env:NOPE_X}, but NOPE_X is not set');
    expect(expandEnv({ u: '${env:H}/x' }, { H: 'http://h' })).toEqual({ u: 'http://h/x' });
  });
});

describe('launch-gate parameters (seed 004)', () => {
  const rules = RunSpec.parse({
    ...base,
    preflight: {
      parameters: [
        { name: '/p/NODE_ENV', equals: 'production', secret: false },
        { name: '/p/KEY', regex: '^[0-9a-f]{64}$' },
        { anyOf: ['/p/SEPOLIA_RPC_URL', '/p/CHAIN_RPC_URL', '/p/RPC_URL'], regex: '^https://' },
        { name: '/p/JWT', minLength: 32 },
      ],
    },
  }).preflight.parameters;

  it('passes good values and says why', () => {
    const v = new Map([
      ['/p/NODE_ENV', 'production'],
      ['/p/KEY', 'a'.repeat(64)],
      ['/p/RPC_URL', 'https://rpc'],
      ['/p/JWT', 'x'.repeat(40)],
    ]);
    expect(checkParameters(rules, v).every((c) => c.ok)).toBe(true);
  });

  it('fails each bad value without echoing a secret', () => {
    const v = new Map([
      ['/p/NODE_ENV', 'development'],
      ['/p/KEY', 'SECRET-not-hex'],
      ['/p/CHAIN_RPC_URL', 'http://insecure'],
    ]);
    const c = checkParameters(rules, v);
    expect(c.map((x) => x.ok)).toEqual([false, false, false, false]);
    expect(c[0]!.detail).toBe('/p/NODE_ENV: got a different value "development"; expected = "production"');
    expect(c[1]!.detail).toBe('/p/KEY: got a value not matching /^[0-9a-f]{64}$/');
    expect(c[2]!.name).toBe('parameter one of /p/SEPOLIA_RPC_URL | /p/CHAIN_RPC_URL | /p/RPC_URL');
    expect(c[3]!.detail).toBe('missing; expected at least 32 chars');
    expect(JSON.stringify(c)).not.toContain('SECRET-not-hex');
  });

  it('reads engine and version strings', () => {
    expect(parseServerVersion('PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64')).toEqual({ family: 'postgres', version: '15.20' });
    expect(parseServerVersion('10.11.19-MariaDB-0+deb12u1')).toEqual({ family: 'mariadb', version: '10.11.19' });
    expect(parseServerVersion('8.0.36')).toEqual({ family: 'mysql', version: '8.0.36' });
  });
});

describe('fast gate tolerance (seed 004: ROWCOUNT_TOLERANCE>0 was never applied)', () => {
  const counts = [
    { table: 'a', expected: '1000', actual: '1005' },
    { table: 'b', expected: '2000', actual: '2000' },
  ];
  it('exact equality by default', () => {
    const g = fastGate(counts, { toleranceRows: 0, tolerancePercent: 0 });
    expect(g.verdict).toBe('FAIL');
    expect(g.tables.map((t) => t.verdict)).toEqual(['FAIL', 'PASS']);
    expect(g.tables[0]!.reason).toBe('diff 5 rows (0.5%); expected within 0 rows and 0%');
  });
  it('passes at the threshold and fails one row over it', () => {
    expect(fastGate(counts, { toleranceRows: 5, tolerancePercent: 1 }).verdict).toBe('PASS');
    expect(fastGate(counts, { toleranceRows: 4, tolerancePercent: 1 }).verdict).toBe('FAIL');
    expect(fastGate(counts, { toleranceRows: 5, tolerancePercent: 0.4 }).verdict).toBe('FAIL');
  });
  it('a missing count is INCONCLUSIVE, never PASS', () => {
    const g = fastGate([{ table: 'a', expected: null, actual: '1', error: 'boom' }], { toleranceRows: 100, tolerancePercent: 100 });
    expect(g.verdict).toBe('INCONCLUSIVE');
  });
  it('keeps counts beyond 2^53 exact', () => {
    const g = fastGate([{ table: 'big', expected: '9007199254740993', actual: '9007199254740992' }], { toleranceRows: 0, tolerancePercent: 0 });
    expect(g.tables[0]!.diff).toBe('-1');
  });
});

describe('decision matrix', () => {
  const verify = (over: Partial<VerifyOutcome> = {}): VerifyOutcome => ({ mode: 'before-vs-after', tables: [{ table: 'a', expected: '1', actual: '1' }], assertions: [], ...over });
  it('proceeds only when verify and every gate passed', () => {
    expect(decide(verify(), fastGate(verify().tables, { toleranceRows: 0, tolerancePercent: 0 })).verdict).toBe('PROCEED');
  });
  it('an assertion with rows -> VerifyFailed; counts over tolerance -> GateFailed; INCONCLUSIVE -> GateFailed', () => {
    const v = verify({ assertions: [{ name: 'no orphans', ok: false, violations: 3, sample: [] }] });
    expect(() => decide(v, fastGate(v.tables, { toleranceRows: 0, tolerancePercent: 0 }))).toThrow(VerifyFailed);
    const v2 = verify({ tables: [{ table: 'a', expected: '1', actual: '2' }] });
    expect(() => decide(v2, fastGate(v2.tables, { toleranceRows: 0, tolerancePercent: 0 }))).toThrow(GateFailed);
  });
  it('classifies by error name, or by the stage it stopped in; rollbacks say what caused them', () => {
    const now = new Date('2026-11-21T00:00:00Z');
    const c = classify({ error: { Error: 'States.Timeout' }, results: { validateSpec: 1, preflight: 1, schema: 1, commandPoll: 1, backfillPlan: 1, backfillChunk: 1, verify: 1, gatePlan: 1, gateChunk: 1, gates: 1, decide: 1 }, owner: 'o', now });
    expect([c.classification, c.stage, c.retry_at_utc]).toEqual(['APPROVAL_TIMEOUT', 'GoNoGo', '2026-11-22T00:00:00.000Z']);
    expect(classify({ error: { Error: 'Lambda.Unknown' }, results: { validateSpec: 1 }, owner: 'o', now }).classification).toBe('ENVIRONMENT_BLOCKED');
    const rb = classify({ error: { Error: 'SmokeFailed', Cause: '{"errorMessage":"404"}' }, results: {}, owner: 'o', now, rollback: { ok: true } });
    expect([rb.classification, rb.cause_classification, rb.reason]).toEqual(['ROLLED_BACK', 'SMOKE_FAILED', '404']);
  });
});

describe('migrations', () => {
  const files = [
    { name: 'V1__a.sql', body: 'CREATE TABLE a (id int);' },
    { name: 'V2__b.sql', body: 'ALTER TABLE a ADD COLUMN b int; CREATE INDEX ON a (b);' },
  ];
  it('orders files by version and splits statements', () => {
    const m = loadMigrations([files[1]!, files[0]!, { name: 'README.md', body: '' }], 'postgres');
    expect(m.map((x) => [x.script, x.statements.length])).toEqual([
      ['V1__a.sql', 1],
      ['V2__b.sql', 2],
    ]);
    expect(m[1]!.chain).not.toBe(m[0]!.chain);
  });
  it('refuses bad names and duplicate versions, naming the file', () => {
    expect(() => loadMigrations([{ name: 'add_col.sql', body: 'x' }], 'postgres')).toThrow(/"add_col.sql" does not match V<version>__<description>.sql/);
    expect(() => loadMigrations([files[0]!, { name: 'V1__again.sql', body: 'SELECT 1' }], 'postgres')).toThrow(/two migration files have version 1/);
  });
  it('an edited, removed or inserted file is a hard failure naming it', () => {
    const m = loadMigrations(files, 'postgres');
    const h = (v: string, script: string, sha: string) => ({ version: v, script, sha256: sha, success: true, statements_applied: 1, statements_total: 1 });
    expect(validateAgainstHistory(m, [h('1', 'V1__a.sql', 'deadbeef')]).problems[0]).toMatchObject({ script: 'V1__a.sql', problem: 'edited' });
    expect(validateAgainstHistory(m, [h('1', 'V1__a.sql', m[0]!.sha256), h('3', 'V3__c.sql', 'x')]).problems).toEqual([
      { script: 'V3__c.sql', problem: 'removed', detail: 'V3__c.sql (version 3) was applied but is no longer in the migrations folder' },
      expect.objectContaining({ script: 'V2__b.sql', problem: 'inserted' }),
    ]);
    const ok = validateAgainstHistory(m, [h('1', 'V1__a.sql', m[0]!.sha256)]);
    expect([ok.problems, ok.pending.map((x) => x.script)]).toEqual([[], ['V2__b.sql']]);
  });
});

describe('statement log (per-statement hashes)', () => {
  const m = loadMigrations([{ name: 'V1__x.sql', body: 'ALTER TABLE a ADD COLUMN b int; ALTER TABLE a ADD COLUMN c int; ALTER TABLE a ADD COLUMN d int;' }], 'mysql');
  const row = (hashes: string[]) => ({ version: '1', script: 'V1__x.sql', sha256: m[0]!.sha256, success: false, statements_applied: 2, statements_total: 3, statement_hashes: hashes });
  it('a half-applied file resumes after the statements its log names', () => {
    const ok = validateAgainstHistory(m, [row(m[0]!.statements.slice(0, 2).map((x) => statementHash(x.sql)))]);
    expect([ok.problems, ok.partial.get('1')]).toEqual([[], 2]);
  });
  it('a log that does not match the file is a hard failure, not a resume', () => {
    const bad = validateAgainstHistory(m, [row(['x', 'y'])]);
    expect(bad.problems[0]).toMatchObject({ script: 'V1__x.sql', problem: 'edited' });
    expect(bad.partial.size).toBe(0);
  });
});

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

describe('approval links', () => {
  const id = 'a'.repeat(32);
  const exp = '2026-11-22T00:00:00.000Z';
  const sig = signApproval(id, exp, 'k'.repeat(32));
  const now = new Date('2026-11-21T00:00:00Z');
  it('accepts a valid link and refuses tampered, forged and expired ones', () => {
    expect(verifyApprovalLink({ approvalId: id, expiresAt: exp, sig }, 'k'.repeat(32), now)).toEqual({ ok: true });
    expect(verifyApprovalLink({ approvalId: id, expiresAt: '2027-01-01T00:00:00.000Z', sig }, 'k'.repeat(32), now)).toMatchObject({ ok: false, status: 403 });
    expect(verifyApprovalLink({ approvalId: id, expiresAt: exp, sig }, 'other-key'.repeat(4), now)).toMatchObject({ ok: false, status: 403 });
    expect(verifyApprovalLink({ approvalId: id, expiresAt: exp, sig }, 'k'.repeat(32), new Date('2026-11-23T00:00:00Z'))).toMatchObject({ ok: false, status: 410 });
    expect(verifyApprovalLink({ approvalId: 'x', expiresAt: exp, sig }, 'k'.repeat(32), now)).toMatchObject({ ok: false, status: 400 });
  });
});

describe('manifest', () => {
  it('chains every file: changing one changes every later link and the root', () => {
    const a = buildManifest('r', [
      { file: 'a.json', sha256: '1', size: 1 },
      { file: 'b.json', sha256: '2', size: 1 },
    ]);
    const b = buildManifest('r', [
      { file: 'a.json', sha256: 'X', size: 1 },
      { file: 'b.json', sha256: '2', size: 1 },
    ]);
    expect(a.files[1]!.chain).not.toBe(b.files[1]!.chain);
    expect(a.root).not.toBe(b.root);
  });
});

describe('MySQL routine bodies without DELIMITER', () => {
  it('keeps a procedure, a trigger and a function whole', () => {
    const script = `CREATE TABLE t (id INT, n INT);
CREATE PROCEDURE bump(IN x INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  IF x > 0 THEN
    UPDATE t SET n = n + x;
  ELSEIF x < 0 THEN
    UPDATE t SET n = IF(n > 0, n - 1, 0);
  END IF;
  WHILE i < 3 DO
    SET i = i + 1;
  END WHILE;
  SELECT CASE WHEN i = 3 THEN 'ok' ELSE 'no' END;
END;
CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.n = COALESCE(NEW.n, 0); END;
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
DROP TABLE IF EXISTS u;`;
    const s = splitStatements(script, 'mysql');
    expect(s.map((x) => x.sql.split(/\s+/).slice(0, 3).join(' '))).toEqual(['CREATE TABLE t', 'CREATE PROCEDURE bump(IN', 'CREATE TRIGGER t_bi', 'CREATE FUNCTION twice(x', 'DROP TABLE IF']);
    expect(s[1]!.sql.endsWith('END')).toBe(true);
    expect(s[1]!.sql).toContain('END WHILE;');
  });
});

describe('reads are retried after a dropped connection, writes are not', () => {
  it('isReadOnly: SELECT / WITH ... SELECT / SHOW yes; INSERT, data-modifying CTEs, SELECT INTO, FOR UPDATE, nextval no', async () => {
    const { isReadOnly } = await import('../../lambdas/core/retry');
    for (const sql of ['SELECT count(*) AS n FROM t', '  select 1', 'WITH a AS (SELECT 1) SELECT * FROM a', 'SHOW server_version', 'SELECT last_update, updated_at FROM t', 'SELECT CAST(x AS CHAR CHARACTER SET utf8mb4) FROM t'])
      expect(isReadOnly(sql), sql).toBe(true);
    for (const sql of ['INSERT INTO t VALUES (1)', 'WITH m AS (INSERT INTO x SELECT 1 RETURNING *) SELECT * FROM m', 'SELECT * INTO t2 FROM t', 'SELECT * FROM t FOR UPDATE', "SELECT nextval('s')", 'UPDATE t SET a = 1', 'CREATE TABLE t (a int)'])
      expect(isReadOnly(sql), sql).toBe(false);
  });

  it('withReadRetries runs a read again after "terminating connection", a write never', async () => {
    const { withReadRetries } = await import('../../lambdas/core/retry');
    const calls: string[] = [];
    let fail = 1;
    const inner = {
      dialect: 'postgres' as const,
      label: 'fake',
      query: async (sql: string) => {
        calls.push(sql);
        if (fail-- > 0) throw new Error('terminating connection due to administrator command');
        return { rows: [], columns: [], rowsAffected: 0 };
      },
      transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
      close: async () => {},
    };
    const c = withReadRetries(inner, { sleep: async () => {} });
    await c.query('SELECT 1');
    expect(calls).toEqual(['SELECT 1', 'SELECT 1']);
    fail = 1;
    await expect(c.query('UPDATE t SET a = 1')).rejects.toThrow(/terminating connection/);
    expect(calls).toHaveLength(3);
  });

  it('a read that ran past its call (StatementTimeoutException) is not run again in the same invocation: the state retries the stage', async () => {
    const { withReadRetries } = await import('../../lambdas/core/retry');
    let calls = 0;
    const inner = {
      dialect: 'postgres' as const,
      label: 'fake',
      query: async () => {
        calls++;
        throw Object.assign(new Error('The statement ran past 45 seconds'), { name: 'StatementTimeoutException' });
      },
      transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
      close: async () => {},
    };
    await expect(withReadRetries(inner, { sleep: async () => {} }).query('SELECT count(*) FROM big')).rejects.toMatchObject({ name: 'StatementTimeoutException' });
    expect(calls).toBe(1);
  });

  it('EXPLAIN runs nothing, whatever it plans: a read; EXPLAIN ANALYZE runs the statement: not one', async () => {
    const { isReadOnly } = await import('../../lambdas/core/retry');
    for (const sql of ['EXPLAIN INSERT INTO t SELECT * FROM s WHERE id BETWEEN 1 AND 2', 'explain UPDATE t SET a = 1', 'EXPLAIN (COSTS false) DELETE FROM t', 'EXPLAIN FORMAT=JSON UPDATE t SET a = 1'])
      expect(isReadOnly(sql), sql).toBe(true);
    for (const sql of ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'EXPLAIN (ANALYZE) UPDATE t SET a = 1', 'EXPLAIN (COSTS false, ANALYZE true) DELETE FROM t', 'EXPLAIN ANALYZE SELECT 1'])
      expect(isReadOnly(sql), sql).toBe(false);
  });

  it('preflight: a backend terminated under its checks is retried by the state machine, never a blocked environment', async () => {
    const { runPreflight } = await import('../../lambdas/core/preflight');
    const { withReadRetries } = await import('../../lambdas/core/retry');
    const spec = RunSpec.parse({ ...base, backfill: { tasks: [{ name: 'a', table: 't', key: 'id', sql: 'UPDATE t SET x = 1 WHERE id BETWEEN :lo AND :hi' }] } });
    const fail = new Set<string>();
    const client = {
      dialect: 'postgres' as const,
      label: 'fake',
      query: async (sql: string) => {
        for (const f of fail) if (sql.includes(f)) throw new Error('terminating connection due to administrator command');
        if (/version/i.test(sql)) return { rows: [{ v: 'PostgreSQL 16.4 on x86_64' }], columns: [], rowsAffected: 0 };
        if (/information_schema/i.test(sql)) return { rows: [{ type: 'bigint' }], columns: [], rowsAffected: 0 };
        return { rows: [], columns: [], rowsAffected: 0 };
      },
      transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
      close: async () => {},
    };
    const deps = { sql: () => withReadRetries(client, { sleep: async () => {} }), clock: { now: () => new Date(), sleep: async () => {} }, scripts: { read: async () => '' } } as unknown as Deps;
    expect((await runPreflight(spec, deps)).ok).toBe(true);
    // Terminated on every try: thrown (the handler names it DatabaseConnectionLost, which the state retries), not a failed check.
    for (const f of ['EXPLAIN', 'id']) {
      fail.clear();
      fail.add(f === 'id' ? 'column' : f);
      await expect(runPreflight(spec, deps), f).rejects.toThrow(/terminating connection/);
    }
  });
});

/** An M-of-N approval in memory: decide() votes, succeeded lists what Step Functions got. */
async function approvalHarness(approvalId: string, runId: string, approvers: string[]) {
  const { decideApproval } = await import('../../lambdas/core/approval');
  const { MemoryApprovalStore } = await import('../../lambdas/adapters/local/approval/store');
  const { FsEvidenceStore } = await import('../../lambdas/adapters/local/evidence-fs');
  const { tempDir } = await import('../support/local-run');
  const store = new MemoryApprovalStore();
  await store.save({ approvalId, runId, taskToken: 't', expiresAt: '2026-11-21T02:00:00Z', approvers, required: approvers.length });
  const evidence = new FsEvidenceStore(await tempDir());
  const succeeded: { approvers: string[] }[] = [];
  const deps = {
    approvalStore: store,
    evidence,
    // One fixed instant: every vote lands in the same millisecond.
    clock: { now: () => new Date('2026-11-21T01:00:00.000Z'), sleep: async () => {} },
    tokens: { succeed: async (_t: string, o: unknown) => void succeeded.push(o as { approvers: string[] }), fail: async () => {}, heartbeat: async () => {} },
  };
  const decide = (approver: string, via = 'test') => decideApproval({ approvalId, decision: 'approve', approver, comment: '', via, identifiedBy: 'personal link' }, deps);
  return { decide, evidence, succeeded };
}

describe('votes', () => {
  it('two approvals in the same millisecond are two vote files, one per approver', async () => {
    const { decide, evidence, succeeded } = await approvalHarness('a1', 'r1', ['alice@example.com', 'bob@example.com']);
    const a = await decide('alice@example.com');
    const b = await decide('bob@example.com');
    expect([a.ok && a.final, b.ok && b.final]).toEqual([false, true]);
    expect((await evidence.list('r1/09_approval_votes/')).map((o) => o.key)).toEqual(['r1/09_approval_votes/alice@example.com_approve.json', 'r1/09_approval_votes/bob@example.com_approve.json']);
    expect(succeeded).toHaveLength(1);
  });
});

describe('a run owns its runId', () => {
  it('an execution whose name is not the spec runId is refused and writes nothing into that run\'s evidence', async () => {
    const { validateSpecStage } = await import('../../lambdas/core/pipeline');
    const { classifyStage, summaryStage } = await import('../../lambdas/core/end-stages');
    const { FsEvidenceStore } = await import('../../lambdas/adapters/local/evidence-fs');
    const { tempDir, miniSpec } = await import('../support/local-run');
    const dir = await tempDir();
    const evidence = new FsEvidenceStore(dir);
    const victim = await miniSpec({ runId: 'prod-run' });
    const deps = { evidence, clock: { now: () => new Date('2026-11-21T01:00:00Z'), sleep: async () => {} }, sql: () => { throw new Error('no database'); }, logger: { info() {}, warn() {}, error() {} } } as never;
    const execution = { name: 'attacker-exec', id: 'arn:aws:states:eu-west-1:1:execution:cutline:attacker-exec' };
    await expect(validateSpecStage({ spec: victim, execution }, 'local', deps)).rejects.toMatchObject({ name: 'SpecInvalid', message: expect.stringContaining('differs from the execution name "attacker-exec"') });
    const error = { Error: 'SpecInvalid', Cause: 'x' };
    await classifyStage({ spec: victim, execution, results: {}, error }, deps, 'local');
    await summaryStage({ spec: victim, execution, results: {}, error }, deps);
    expect((await evidence.list('prod-run/')).length).toBe(0);
    expect((await evidence.list('attacker-exec/')).map((o) => o.key)).toContain('attacker-exec/01_validate.json');
  });
});

describe('summary.md is inert to what people type', () => {
  it('an approval comment with newlines, a table row and a <script> stays one line of text', async () => {
    const { renderSummary } = await import('../../lambdas/core/summary');
    const md = renderSummary({
      runId: 'r1',
      owner: 'ops',
      outcome: 'GO',
      classification: 'GO',
      reason: 'ok',
      classify: undefined,
      results: { goNoGo: { approver: 'alice', via: 'approval page', decidedAt: '2026-11-21T01:00:00Z', comment: 'fine\n\n| Cutover | **skipped** |\n<script>alert(1)</script>\n# GO' } },
      now: new Date('2026-11-21T01:00:00Z'),
    });
    const approval = md.slice(md.indexOf('## Approval'));
    expect(approval.split('\n').filter((l) => l.trim())).toHaveLength(3); // heading, the line, the footer
    expect(md).not.toContain('<script>');
    expect(md).not.toMatch(/^\| Cutover \| \*\*skipped/m);
    expect(md).not.toMatch(/^# GO/m);
    expect(approval).toContain('&lt;script&gt;');
  });
});

describe('manifest addenda', () => {
  it('records after Summary verify through an addendum; editing the record, the addendum or an earlier file is caught', async () => {
    const { buildManifest, buildAddendum, verifyEvidence, sha256Hex } = await import('../../lambdas/core/evidence');
    const files = new Map([
      ['01_validate.json', sha256Hex('a')],
      ['99_summary.json', sha256Hex('b')],
    ]);
    const manifest = buildManifest('r1', [...files].map(([file, sha256]) => ({ file, sha256, size: 1 })));
    const late = { file: '12_rollback_manual_x.json', sha256: sha256Hex('rollback'), size: 8 };
    const a = buildAddendum('r1', 1, manifest.root, [late], 'rollback by hand by ops', new Date('2026-11-22T00:00:00Z'));
    const now = new Map([...files, [late.file, late.sha256], ['manifest-addenda/001.json', sha256Hex('x')]]);
    expect(verifyEvidence(manifest, [a], now)).toEqual([]);
    // without the addendum the late record is an added file
    expect(verifyEvidence(manifest, [], now).map((p) => p.problem)).toContain('added');
    // the late record changed
    expect(verifyEvidence(manifest, [a], new Map([...now, [late.file, sha256Hex('other')]])).map((p) => p.problem)).toEqual(['changed']);
    // the addendum edited (its reason), or made to continue another root
    expect(verifyEvidence(manifest, [{ ...a, reason: 'nothing happened' }], now).map((p) => p.problem)).toEqual(['chain']);
    expect(verifyEvidence(manifest, [{ ...a, previous_root: sha256Hex('forged') }], now).map((p) => p.problem)).toContain('chain');
  });
});

describe('one identity, one vote', () => {
  it('"Alice@Example.com " and "alice@example.com" are one approver: the second vote is refused, the record names her once', async () => {
    const { decide, succeeded } = await approvalHarness('a2', 'r2', ['Alice@Example.com', 'bob@example.com']);
    expect(await decide('Alice@Example.com ', 'page')).toMatchObject({ ok: true, final: false });
    expect(await decide('alice@example.com', 'slack')).toMatchObject({ ok: false, status: 409 });
    expect(succeeded).toHaveLength(0);
    expect(await decide('BOB@example.com', 'page')).toMatchObject({ ok: true, final: true });
    expect(succeeded[0]!.approvers).toEqual(['alice@example.com', 'bob@example.com']);
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
