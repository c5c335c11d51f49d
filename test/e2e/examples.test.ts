/**
 * The seed runbooks as runnable examples (`npm run example -- <name>`): each ends GO on the embedded default, and the
 * failure path its README names ends with the runbook's classification and no promotion.
 */

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalRunResult } from '../../cli/runner/run';
import { runDemo } from '../../examples/agent-uuid/demo';
import { EXAMPLES, parseExampleArgs } from '../../examples/run';
import { SLOW_MS } from '../../examples/seed-001-phased-uuid/app';
import { runSeed001 } from '../../examples/seed-001-phased-uuid/run';
import { runSeed002 } from '../../examples/seed-002-canary/run';
import { runSeed003 } from '../../examples/seed-003-reload-cutover/run';
import { runSeed004 } from '../../examples/seed-004-db-cloud-cutover/run';
import type { ExampleOptions } from '../../examples/support';
import { readJson, tempDir } from '../support/local-run';

const readText = (file: string) => readFile(file, 'utf8');

/** An example's run in temporary folders, with the value its runtime selector ended on. */
async function example<F>(run: (o: ExampleOptions & { fault?: F }) => Promise<LocalRunResult>, selectorName: string, runId: string, fault?: F) {
  const workDir = await tempDir('cutline-work-');
  const r = await run({ runId, evidenceDir: await tempDir(), workDir, out: () => {}, ...(fault ? { fault } : {}) });
  const selector = (await readJson(path.join(workDir, runId, 'parameters.json')))[selectorName];
  return { ...r, selector };
}
const seed003 = (runId: string, fault?: 'sync' | 'duplicate') => example(runSeed003, '/txlookup/dev/read-path', runId, fault);
const seed004 = (runId: string, fault?: 'state-store') => example(runSeed004, '/credity/prod/read-database', runId, fault);

describe('seed 000: agent UUID big-bang cutover', () => {
  it('routes that break under uuid identity (--fault uuid-routes): the post-cutover validation fails and the run rolls back (ROLLED_BACK, cause SMOKE_FAILED), the selector back on agent_id, the database restored from the backup made before Schema', async () => {
    const workDir = await tempDir('cutline-work-');
    const r = await runDemo({ runId: 'ex-seed-000-routes', evidenceDir: await tempDir(), workDir, out: () => {}, fault: 'uuid-routes', seedScale: 0.01 });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.cause_classification).toBe('SMOKE_FAILED');
    expect((await readJson(path.join(workDir, 'ex-seed-000-routes', 'parameters.json')))['/cloudbackup/prod/agent-identity']).toBe('agent_id');
    const backup = await readJson(path.join(r.evidenceDir, '03_schema_backup.json'));
    expect(backup).toMatchObject({ state: 'available', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // The runbook's rollback: the database restored from that backup, in place.
    const rb = await readJson(path.join(r.evidenceDir, '12_rollback.json'));
    expect(rb.details.actions.map((a: { type: string; ok: boolean; detail: string }) => [a.type, a.ok, a.detail])).toEqual([
      ['parameter', true, expect.any(String)],
      ['restore', true, `restored in place from ${backup.location} (sha256 ${backup.sha256}): the embedded database replaced by its data directory`],
    ]);
    const schema = await readJson(path.join(r.evidenceDir, '03_schema.json'));
    expect(schema.details.stepChecks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['schema contract: agent_uuid on every agent table', true],
      ['schema contract: agent_uuid indexed on every agent table', true],
    ]);
  }, 180_000);
});

describe('seed 001: integer → UUID keys, a table group a phase', () => {
  const FLAGS = ['/compliance/prod/FF_UUID_AUDIT', '/compliance/prod/FF_UUID_USERS'];
  const run = async (runId: string, fault?: 'users-slow') => {
    const workDir = await tempDir('cutline-work-');
    const r = await runSeed001({ runId, evidenceDir: await tempDir(), workDir, out: () => {}, ...(fault ? { fault } : {}) });
    const params = await readJson(path.join(workDir, runId, 'parameters.json'));
    return { ...r, flags: FLAGS.map((f) => params[f]) };
  };
  const phase = (dir: string, i: number, name: string) => readJson(path.join(dir, `13_phases/0${i + 1}_${name}.json`));
  const scripts = (x: { contract: { applied: { script: string }[] } }) => x.contract.applied.map((a) => a.script);

  it('GO: the leaf tables swapped first, then the core group, then the clean-up; each signed off, soaked and within 20% of the preflight baseline', async () => {
    const r = await run('ex-seed-001-go');
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(r.flags).toEqual(['true', 'true']);
    const [leaf, core, cleanup] = await Promise.all(['leaf-tables', 'core-users', 'cleanup'].map((p, i) => phase(r.evidenceDir, i, p)));
    expect([leaf, core, cleanup].map((x) => [x.phase, x.result, x.signedOff?.result, x.signedOff?.approvers.length])).toEqual([
      ['leaf-tables', 'PASS', 'PASS', 1],
      ['core-users', 'PASS', 'PASS', 1],
      ['cleanup', 'PASS', 'PASS', 1],
    ]);
    // Each phase applied its groups' key swaps (the planner's contract files); Cutover none of them.
    expect(scripts(leaf)).toEqual(['V4__uuid_swap_group_1.sql', 'V5__uuid_swap_group_2.sql']);
    expect(scripts(core)).toEqual(['V6__uuid_swap_group_3.sql', 'V7__uuid_validate_group_3.sql']);
    expect((await readJson(path.join(r.evidenceDir, '10_cutover.json'))).details.contract.files).toEqual([]);
    expect(core.entryChecks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([['no duplicate emails', true]]);
    expect(core.exitChecks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['core tables keyed by uuid', true],
      ['every foreign key validated', true],
      ['no orphaned user roles', true],
      ['user lookups within 20% of before the run', true],
    ]);
    // The performance exit criterion compares with the timing taken at preflight, before anything changed.
    expect(core.exitChecks[3].performance).toMatchObject({ metric: 'p95', maxSlowdownPercent: 20, before: { at: 'preflight', runs: 20 }, after: { at: 'phase', runs: 20 } });
    expect(core.soak).toMatchObject({ monitors: ['users-latency-vs-before', 'no-orphaned-user-roles'], polls: 5 });
    expect(await readJson(path.join(r.evidenceDir, '13_phases/02_core-users/baseline.json'))).toMatchObject({ 'users-latency-vs-before': { samples: 9 } });
    expect(cleanup.actions.map((a: { description: string; ok: boolean }) => [a.description, a.ok])).toEqual([
      ['hash index for uuid equality lookups (runbook 7.2)', true],
      ['audit entries by time (runbook 7.2)', true],
    ]);
  }, 240_000);

  it(`user lookups ${SLOW_MS} ms slower once keyed by uuid (--fault users-slow): the performance monitor trips in the core phase, ROLLED_BACK, both phases undone in reverse, the clean-up never applied`, async () => {
    const r = await run('ex-seed-001-slow', 'users-slow');
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.cause_classification).toBe('MONITOR_TRIPPED');
    expect(r.flags).toEqual(['false', 'false']);
    const tripped = await readJson(path.join(r.evidenceDir, '13_phases/02_core-users/tripped.json'));
    expect(tripped).toMatchObject({ phase: 'core-users', monitor: 'users-latency-vs-before', failAfter: 3 });
    expect(tripped.windows).toHaveLength(3);
    for (const w of tripped.windows) expect(w.latencyMs).toBeGreaterThanOrEqual(SLOW_MS);
    // Undone in reverse: the core phase (flag, then its swap and history), then the leaf phase, then the run's check.
    const rb = (await readJson(path.join(r.evidenceDir, '12_rollback.json'))).details.actions as { description: string; ok: boolean }[];
    expect(rb.every((a) => a.ok)).toBe(true);
    const steps = rb.map((a) => a.description.replace(/^(R\d__uuid_swap_group_\d\.sql): .*/, '$1'));
    expect([...new Set(steps)]).toEqual([
      'feature flag FF_UUID_USERS back off: the application reads integer keys',
      'R3__uuid_swap_group_3.sql',
      'history: the swap is undone',
      'feature flag FF_UUID_AUDIT back off: the application reads integer keys',
      'R2__uuid_swap_group_2.sql',
      'R1__uuid_swap_group_1.sql',
      'validate: the application reads users by their integer key again (runbook rollback step 5)',
    ]);
    await expect(readdir(path.join(r.evidenceDir, '13_phases', '03_cleanup'))).rejects.toThrow();
  }, 240_000);
});

describe('seed 002: v4 → v5 canary in four phases', () => {
  const run = async (runId: string, fault?: 'canary-latency') => {
    const workDir = await tempDir('cutline-work-');
    const r = await runSeed002({ runId, evidenceDir: await tempDir(), workDir, out: () => {}, ...(fault ? { fault } : {}) });
    return { ...r, params: await readJson(path.join(workDir, runId, 'parameters.json')) };
  };
  const PHASES = ['shadow', 'canary', 'default', 'full'];

  it('GO through shadow, canary, default and full: four sign-offs, every soak held, parity and exit criteria passed, v5 the default', async () => {
    const r = await run('ex-seed-002-go');
    expect([r.outcome, r.classification], r.reason).toEqual(['GO', 'GO']);
    expect(r.params).toMatchObject({ '/agtmux/runtime/default_daemon': 'v5', '/agtmux/runtime/v5_enabled': 'true', '/agtmux/runtime/v5_shadow': 'true', '/agtmux/runtime/v5_canary_sessions': 'session-alpha,session-beta' });
    const records = await Promise.all(PHASES.map((p, i) => readJson(path.join(r.evidenceDir, `13_phases/0${i + 1}_${p}.json`))));
    expect(records.map((x) => [x.phase, x.result, x.signedOff?.result])).toEqual(PHASES.map((p) => [p, 'PASS', 'PASS']));
    for (const x of records) expect(x.signedOff.approvers).toHaveLength(1);
    expect(records[0].exitChecks.map((c: { name: string; ok: boolean; parity?: { requests: number } }) => [c.ok, c.parity?.requests ?? null])).toEqual([
      [true, 2],
      [true, null],
    ]);
    expect(records[3].exitChecks[0]).toMatchObject({ name: 'full exit: zero active v4 sessions', ok: true });
    expect(records[1].soak).toMatchObject({ polls: 4, monitors: ['sources-active', 'v5-latency-p95', 'v5-latency-vs-before', 'supervisor-hold-down', 'alert-escalate', 'cursor-full-resync'] });
    // The latency baseline measured before the canary's actions: 9 requests, the windows compared with it.
    expect(await readJson(path.join(r.evidenceDir, '13_phases/02_canary/baseline.json'))).toMatchObject({ 'v5-latency-vs-before': { samples: 9 } });
    const last = await readJson(path.join(r.evidenceDir, '13_phases/02_canary/polls/000004.json'));
    expect(last.windows.find((w: { monitor: string }) => w.monitor === 'v5-latency-vs-before')).toMatchObject({ ok: true, detail: expect.stringMatching(/^HTTP 200 in p95 \d+ ms over 3 requests$/) });
  }, 240_000);

  it('v5 slow under the canary (--fault canary-latency): the p95 monitor trips after 3 windows, ROLLED_BACK / MONITOR_TRIPPED, every selector back, nothing after the canary applied', async () => {
    const r = await run('ex-seed-002-latency', 'canary-latency');
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.cause_classification).toBe('MONITOR_TRIPPED');
    expect(r.params).toEqual({ '/agtmux/runtime/default_daemon': 'v4', '/agtmux/runtime/v5_enabled': 'false', '/agtmux/runtime/v5_shadow': 'false', '/agtmux/runtime/v5_canary_sessions': 'none' });
    const tripped = await readJson(path.join(r.evidenceDir, '13_phases/02_canary/tripped.json'));
    expect(tripped).toMatchObject({ phase: 'canary', monitor: 'v5-latency-p95', failAfter: 3 });
    expect(tripped.windows).toHaveLength(3);
    for (const w of tripped.windows) expect(w.latencyMs).toBeGreaterThan(1200);
    // The same slowness against the baseline measured before the canary changed anything.
    const poll = await readJson(path.join(r.evidenceDir, '13_phases/02_canary/polls/000003.json'));
    expect(poll.windows.find((w: { monitor: string }) => w.monitor === 'v5-latency-vs-before').detail).toMatch(/^HTTP 200; p95 \d+ ms over 3 requests against \d+ ms before the phase \(\+[\d.]+%, \+[\d.]+ ms\); expected at most \+300% \(or \+500 ms\)$/);
    const rb = await readJson(path.join(r.evidenceDir, '12_rollback.json'));
    expect(rb.details.actions.map((a: { description: string; ok: boolean }) => [a.description, a.ok])).toEqual([
      ['phase canary: /agtmux/runtime/v5_canary_sessions back to "none"', true],
      ['phase canary: /agtmux/runtime/v5_enabled back to "false"', true],
      ['phase shadow: /agtmux/runtime/v5_shadow back to "false"', true],
      ['verify the v4 daemon is serving (list_panes)', true],
    ]);
    for (const later of ['03_default', '04_full']) await expect(readdir(path.join(r.evidenceDir, '13_phases', later))).rejects.toThrow();
  }, 240_000);
});

describe('seed 003: reload and cutover rehearsal', () => {
  it('GO: alembic head, the JSONL backfill inside [T_cutover-24h, T_cutover-1s], the sync, 200/404 and the idempotency replay, then promotion; the seed-003 files say so', async () => {
    const r = await seed003('ex-seed-003-go');
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    expect(r.selector).toBe('v2');
    const load = await readJson(path.join(r.evidenceDir, '05_backfill/ledger/000000.json'));
    expect(load).toMatchObject({ read: 4, rows: 2, outsideRange: 2 });
    const files = ['01_precheck.log', '02_alembic_upgrade.log', '03_backfill.log', '04_sync_happy.log', '05_smoke_200.log', '06_smoke_404.log', '07_idempotency_duplicate.log', '08_cutover_decision.log', '09_rollback_or_no_rollback.log'];
    for (const f of files) expect(await readText(path.join(r.evidenceDir, f)), f).toMatch(/result: (PASS|GO|NO_ROLLBACK)\n/);
    for (const f of files) expect(await readText(path.join(r.evidenceDir, f)), f).not.toMatch(/result: (FAIL|NOT_RUN|SKIPPED)/);
    expect(await readText(path.join(r.evidenceDir, '04_sync_happy.log'))).toContain('"stdout": "{\\"published\\":2,\\"queued\\":2}\\n{\\"consumed\\":2,\\"left\\":0}\\n"');
    expect(await readText(path.join(r.evidenceDir, '05_smoke_200.log'))).toMatch(/"BODY_SHA256": "[0-9a-f]{64}"/);
    const manifest = await readJson(path.join(r.evidenceDir, 'manifest.json'));
    expect(manifest.files.map((f: { file: string }) => f.file)).toEqual(expect.arrayContaining([...files, '99_summary.md']));
  }, 120_000);

  it('the consumer is down (--fault sync): NO_GO / SYNC_FAILED at the promotion gate, never promoted', async () => {
    const r = await seed003('ex-seed-003-sync', 'sync');
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'SYNC_FAILED']);
    expect(r.selector).toBe('v1');
    expect(await readText(path.join(r.evidenceDir, '04_sync_happy.log'))).toMatch(/exit_code: 22\n.*\n.*\nresult: FAIL/);
    expect(await readText(path.join(r.evidenceDir, '09_rollback_or_no_rollback.log'))).toContain('result: NO_PROMOTION');
  }, 120_000);

  it('a replay applied twice (--fault duplicate): NO_GO / IDEMPOTENCY_FAILED, never promoted', async () => {
    const r = await seed003('ex-seed-003-dup', 'duplicate');
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'IDEMPOTENCY_FAILED']);
    expect(r.selector).toBe('v1');
    expect(await readText(path.join(r.evidenceDir, '07_idempotency_duplicate.log'))).toMatch(/exit_code: 1\n.*\n.*\nresult: FAIL/);
  }, 120_000);
});


describe('seed 004: DB cloud cutover', () => {
  it('GO: baseline schema, the copy (a text-keyed state store too), counts and the state store gate, fast then exact, the launch gate, the read flip; the seed-004 artifacts in the manifest', async () => {
    const r = await seed004('ex-seed-004-go');
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    expect(r.selector).toBe('target');
    const names = (await readdir(path.join(r.evidenceDir, 'verify'))).map((f) => f.replace(/\d{8}T\d{6}Z/, '<ts>')).sort();
    expect(names).toEqual([
      'method-diff-exact-<ts>.patch',
      'method-diff-fast-<ts>.patch',
      'rowcount-diff-<ts>.patch',
      'src-method-exact-<ts>.txt',
      'src-method-fast-<ts>.txt',
      'src-rowcounts-<ts>.txt',
      'state-store-gate-<ts>.txt',
      'tgt-method-exact-<ts>.txt',
      'tgt-method-fast-<ts>.txt',
      'tgt-rowcounts-<ts>.txt',
      'tgt-state-store-<ts>.txt',
    ]);
    const file = async (stem: string) => {
      const f = (await readdir(path.join(r.evidenceDir, 'verify'))).find((x) => x.startsWith(stem))!;
      return readText(path.join(r.evidenceDir, 'verify', f));
    };
    expect(await file('src-rowcounts-')).toBe('users\t3000\ncredentials\t9000\ncredverse_state_store\t504\n');
    expect(await file('rowcount-diff-')).toBe('');
    expect(await file('state-store-gate-')).toContain('missing: none\nresult: PASS\n');
    expect(await readJson(path.join(r.evidenceDir, '03_schema_backup.json'))).toMatchObject({ database: 'source', state: 'available', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const manifest = (await readJson(path.join(r.evidenceDir, 'manifest.json'))).files.map((f: { file: string }) => f.file);
    expect(manifest.filter((f: string) => f.startsWith('verify/'))).toHaveLength(11);
    // the state store was copied by keyset ranges of its text key
    expect((await readJson(path.join(r.evidenceDir, '04_backfill_plan.json'))).details.tasks).toContainEqual({ name: 'state-store', rows: '504', chunks: 3 });
  }, 180_000);

  it('a required state-store key missing on the source (--fault state-store): NO_GO / VERIFY_FAILED naming it, reads never flipped', async () => {
    const r = await seed004('ex-seed-004-state', 'state-store');
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'VERIFY_FAILED']);
    expect(r.selector).toBe('source');
    const f = (await readdir(path.join(r.evidenceDir, 'verify'))).find((x) => x.startsWith('state-store-gate-'))!;
    expect(await readText(path.join(r.evidenceDir, 'verify', f))).toContain('missing: relayer:nonce\nresult: FAIL\n');
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.reason).toContain('relayer:nonce');
  }, 180_000);
});

describe('npm run example', () => {
  it('names the examples and the faults each accepts; anything else is refused with what was expected', () => {
    expect(Object.keys(EXAMPLES)).toEqual(['seed-000-agent-uuid', 'seed-001-phased-uuid', 'seed-002-canary', 'seed-003-reload-cutover', 'seed-004-db-cloud-cutover']);
    expect(parseExampleArgs(['seed-001-phased-uuid', '--fault', 'users-slow'])).toEqual({ name: 'seed-001-phased-uuid', fault: 'users-slow' });
    expect(parseExampleArgs(['seed-002-canary', '--fault', 'canary-latency'])).toEqual({ name: 'seed-002-canary', fault: 'canary-latency' });
    expect(parseExampleArgs(['seed-003-reload-cutover', '--fault', 'sync'])).toEqual({ name: 'seed-003-reload-cutover', fault: 'sync' });
    expect(parseExampleArgs(['seed-000-agent-uuid', '--fault', 'uuid-routes'])).toEqual({ name: 'seed-000-agent-uuid', fault: 'uuid-routes' });
    expect(() => parseExampleArgs(['seed-9'])).toThrow('example: got "seed-9"; expected one of seed-000-agent-uuid, seed-001-phased-uuid, seed-002-canary, seed-003-reload-cutover, seed-004-db-cloud-cutover');
    expect(() => parseExampleArgs(['seed-003-reload-cutover', '--fault', 'fire'])).toThrow('--fault got "fire"; expected one of sync, duplicate');
  });
});
