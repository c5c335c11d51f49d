/** The run spec: v1 validation with errors naming field, value and what was expected; launch-gate parameters (seed 004); a run owns its runId. */
import { describe, expect, it } from 'vitest';
import { expandEnv, SpecFileError } from '../../cli/spec-file';
import { checkParameters, parseServerVersion } from '../../lambdas/core/preflight';
import { parseSpec, platformProblems, RunSpec } from '../../lambdas/core/spec';
import { base } from '../support/spec-base';


describe('run spec v1', () => {
  it('applies defaults', () => {
    const r = parseSpec(base);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.spec.approval).toEqual({ timeoutSeconds: 86400, channels: [{ type: 'local' }], required: 1 });
      expect(r.spec.gates.fast).toEqual({});
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

  it('a parameter action needs a value SSM accepts: not empty, at most 4,096 characters (what passes locally passes in AWS)', () => {
    const flip = (value: string) => parseSpec({ ...base, cutover: { actions: [{ type: 'parameter', name: '/app/selector', value }] } });
    for (const [value, message] of [
      ['', 'got ""; expected a value of 1 to 4,096 characters (SSM refuses an empty parameter)'],
      // The value got is shortened in the message.
      ['x'.repeat(4097), `got "${'x'.repeat(76)}...; expected a value of 1 to 4,096 characters (the SSM standard tier's limit)`],
    ]) {
      const r = flip(value!);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problems).toEqual([{ path: '$.cutover.actions[0].value', message }]);
    }
    expect(flip('v2').ok).toBe(true);
  });

  it('restore: only in the rollback, only with a backup before Schema, and in AWS only with a selector (a snapshot restores to a new cluster)', () => {
    const restore = { type: 'restore' };
    const r = parseSpec({ ...base, cutover: { actions: [restore] }, rollback: { actions: [restore] } });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
        '$.cutover.actions[0].type: got "restore" in the cutover; expected it only in rollback.actions (it undoes the run)',
        '$.rollback.actions[0].type: got "restore" without spec.backup; expected a backup before Schema to restore (backup: { "database": "target" })',
      ]);
    const ok = parseSpec({ ...base, backup: {}, rollback: { actions: [restore] } });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(platformProblems(ok.spec, 'aws').map((p) => p.path)).toContain('$.rollback.actions[0].selector');
  });

  it('phases: unique names, no restore in a phase, monitors that fit one poll, a poll interval within the soak', () => {
    const phase = (over: Record<string, unknown> = {}) => ({ name: 'canary', actions: [{ type: 'parameter', name: '/app/traffic', value: 'canary' }], ...over });
    const slow = Array.from({ length: 7 }, (_, i) => ({ name: `m${i}`, sql: { sql: 'SELECT 1 WHERE false' } }));
    const r = parseSpec({
      ...base,
      phases: [
        phase({ rollback: [{ type: 'restore' }] }),
        phase({ soak: { seconds: 30, pollSeconds: 60, monitors: [{ name: 'm', sql: { sql: 'SELECT 1; SELECT 2' } }, { name: 'm', http: { url: 'http://127.0.0.1:9/' } }] } }),
        phase({ name: 'full', soak: { seconds: 600, monitors: slow } }),
      ],
    });
    expect(!r.ok && r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      '$.phases[0].rollback[0].type: got "restore" in a phase; expected it only in rollback.actions (it undoes the whole run)',
      '$.phases[1].name: got "canary" twice; expected each phase name once (evidence names phases by name)',
      '$.phases[1].soak.monitors[0].sql.sql: got "SELECT 1; SELECT 2"; expected exactly one statement',
      '$.phases[1].soak.monitors[1].name: got "m" twice in phase "canary"; expected each monitor name once',
      '$.phases[1].soak.pollSeconds: got 60; expected at most the soak\'s 30 seconds',
      '$.phases[2].soak.monitors: got monitors that may take 315 s a poll together; expected at most 270 s (one poll runs in a 300 s function): fewer monitors or shorter http timeoutMs',
    ]);
  });

  it('phase checks: a phase names checks at "phase", and a check at "phase" is named by a phase', () => {
    const r = parseSpec({
      ...base,
      checks: [
        { name: 'orphan', at: 'phase', sql: { sql: 'SELECT 1 WHERE false' } },
        { name: 'early', at: 'preflight', sql: { sql: 'SELECT 1 WHERE false' } },
      ],
      phases: [{ name: 'canary', entryChecks: ['early'], exitChecks: ['missing'], actions: [{ type: 'parameter', name: '/app/traffic', value: 'canary' }] }],
    });
    expect(!r.ok && r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      '$.phases[0].entryChecks[0]: got "early", a check at "preflight"; expected the name of a check with "at": "phase"',
      '$.phases[0].exitChecks[0]: got "missing", which is not in checks; expected the name of a check with "at": "phase"',
      '$.checks[0].at: got "phase" for check "orphan", which no phase names; expected it in a phase\'s entryChecks or exitChecks',
    ]);
  });

  it('a phase\'s contract versions: only with a contract folder, each version in one phase', () => {
    const phase = (name: string) => ({ name, actions: [{ type: 'parameter', name: '/app/traffic', value: name }], contract: ['4'] });
    const none = parseSpec({ ...base, phases: [phase('leaf')] });
    expect(!none.ok && none.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(['$.phases[0].contract[0]: got version 4; expected migrations.contractLocation, where the contract files are']);
    const twice = parseSpec({ ...base, migrations: { location: 'm', contractLocation: 'c' }, phases: [phase('leaf'), phase('core')] });
    expect(!twice.ok && twice.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(['$.phases[1].contract[0]: got version 4, which an earlier phase applies; expected each contract version in one phase']);
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
