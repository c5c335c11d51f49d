/** Seed 003 evidence profile: each contract file from the run's own records; nothing that did not run is made up. Summary's manifest. */
import { describe, expect, it } from 'vitest';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { type Manifest, readEvidenceJson, type StepRecord, verifyManifest } from '../../lambdas/core/evidence';
import { seed003Files, seed004Files, unifiedDiff } from '../../lambdas/core/evidence-profile';

import { summaryStage } from '../../lambdas/core/end-stages';

import { tempDir } from '../support/local-run';

const rec = (step: string, result: StepRecord['result'], details: Record<string, unknown> = {}): StepRecord => ({
  step,
  command: `${step} command`,
  exit_code: result === 'FAIL' ? 1 : 0,
  timestamp_utc: '2026-11-21T02:00:00.000Z',
  owner: 'ops@example.com',
  result,
  details,
});

const base = { runId: 'r1', owner: 'ops@example.com', nowUtc: '2026-11-21T02:10:00.000Z', chunks: [], summaryMd: '# r1\n' };
const file = (files: { name: string; body: string }[], name: string) => files.find((f) => f.name === name)!.body;

describe('seed003Files', () => {
  it('splits smoke checks into 200, 404 and idempotency files by what each check is', () => {
    const smoke = rec('11_smoke', 'PASS', {
      checks: [
        { name: 'known agent', url: 'http://app/agents/1', expectStatus: 200, status: 200, ok: true, ms: 3, detail: 'HTTP 200', replay: false },
        { name: 'unknown agent', url: 'http://app/agents/9', expectStatus: 404, status: 404, ok: true, ms: 2, detail: 'HTTP 404', replay: false },
        { name: 'sync twice', url: 'http://app/agents/1', expectStatus: 200, status: 200, ok: false, ms: 9, detail: 'not idempotent', replay: true },
      ],
    });
    const steps = new Map([['11_smoke', smoke]]);
    const files = seed003Files({ ...base, outcome: 'NO_GO', classification: 'SMOKE_FAILED', steps });
    expect(files.map((f) => f.name)).toEqual([
      '01_precheck.log',
      '02_alembic_upgrade.log',
      '03_backfill.log',
      '04_sync_happy.log',
      '05_smoke_200.log',
      '06_smoke_404.log',
      '07_idempotency_duplicate.log',
      '08_cutover_decision.log',
      '09_rollback_or_no_rollback.log',
      '99_summary.md',
    ]);
    expect(file(files, '05_smoke_200.log')).toContain('command: request http://app/agents/1 (expect 200): known agent\nexit_code: 0');
    expect(file(files, '05_smoke_200.log')).not.toContain('sync twice');
    expect(file(files, '06_smoke_404.log')).toContain('unknown agent');
    expect(file(files, '07_idempotency_duplicate.log')).toMatch(/command: replay and compare http:\/\/app\/agents\/1 \(expect 200\): sync twice\nexit_code: 1\nUTC timestamp: 2026-11-21T02:00:00.000Z\nowner: ops@example.com\nresult: FAIL/);
    expect(file(files, '08_cutover_decision.log')).toMatch(/result: NO_GO\ndetails:\n\{\n {2}"classification": "SMOKE_FAILED"/);
    expect(file(files, '09_rollback_or_no_rollback.log')).toContain('result: NO_PROMOTION');
    expect(file(files, '99_summary.md')).toBe('# r1\n');
  });

  it('a stage that never ran says NOT_RUN; a run that failed at schema is not dressed up', () => {
    const steps = new Map([
      ['01_validate', rec('01_validate', 'PASS')],
      ['02_preflight', rec('02_preflight', 'PASS')],
      ['03_schema', rec('03_schema', 'FAIL', { file: 'V2__x.sql' })],
    ]);
    const files = seed003Files({ ...base, outcome: 'NO_GO', classification: 'MIGRATION_FAILED', steps });
    expect(file(files, '02_alembic_upgrade.log')).toMatch(/exit_code: 1\n.*\n.*\nresult: FAIL/);
    for (const name of ['03_backfill.log', '04_sync_happy.log', '05_smoke_200.log', '07_idempotency_duplicate.log'])
      expect(file(files, name), name).toMatch(/exit_code: not run\nUTC timestamp: 2026-11-21T02:10:00.000Z\nowner: ops@example.com\nresult: NOT_RUN/);
  });

  it('runbook checks land in their files: the sync check in 04, promotion smoke and http checks in 05/06, idempotency in 07; verify and gates never pose as the sync', () => {
    const check = (name: string, at: string, classification: string, ok: boolean, extra: Record<string, unknown>) => ({ name, at, classification, ok, ms: 5, detail: ok ? 'ok' : 'failed', ...extra });
    const decide = rec('08_decide', 'FAIL', {
      checks: [{ name: 'known tx', url: 'http://api/admin/tx/1', expectStatus: 200, status: 200, ok: true, ms: 3, detail: 'HTTP 200', replay: false }],
      stepChecks: [
        check('consumer sync', 'promotion', 'SYNC_FAILED', false, { kind: 'command', command: { exitCode: 2, stdout: 'consumed 0 messages\n' } }),
        check('missing tx', 'promotion', 'SMOKE_FAILED', true, { kind: 'http', http: { method: 'GET', url: 'http://api/admin/tx/none', expectStatus: 404, status: 404 } }),
        check('duplicate', 'promotion', 'IDEMPOTENCY_FAILED', true, { kind: 'http', http: { method: 'GET', url: 'http://api/admin/tx/1', expectStatus: 200, status: 200 } }),
      ],
    });
    const steps = new Map([
      ['06_verify', rec('06_verify', 'PASS')],
      ['07_gates', rec('07_gates', 'PASS')],
      ['08_decide', decide],
    ]);
    const files = seed003Files({ ...base, outcome: 'NO_GO', classification: 'SYNC_FAILED', steps });
    const sync = file(files, '04_sync_happy.log');
    expect(sync).toMatch(/command: command check at promotion: consumer sync\nexit_code: 2\nUTC timestamp: 2026-11-21T02:00:00.000Z\nowner: ops@example.com\nresult: FAIL/);
    expect(sync).not.toContain('06_verify');
    expect(file(files, '05_smoke_200.log')).toContain('command: request http://api/admin/tx/1 (expect 200): known tx\nexit_code: 0');
    expect(file(files, '05_smoke_200.log')).not.toContain('duplicate');
    expect(file(files, '06_smoke_404.log')).toContain('command: http check at promotion: missing tx (GET http://api/admin/tx/none, expect 404)\nexit_code: 0');
    expect(file(files, '07_idempotency_duplicate.log')).toContain('command: http check at promotion: duplicate');
    expect(file(files, '09_rollback_or_no_rollback.log')).toContain('before cutover promotion');
  });

  it('a run that stopped in the backfill says FAIL in 03_backfill.log, even with some chunks done', () => {
    const files = seed003Files({ ...base, chunks: [{ task: 'a', rows: 10, ms: 5 }], outcome: 'NO_GO', classification: 'BACKFILL_FAILED', steps: new Map([['04_backfill_plan', rec('04_backfill_plan', 'PASS')]]) });
    expect(file(files, '03_backfill.log')).toMatch(/command: backfill chunks\nexit_code: 1\n.*\n.*\nresult: FAIL/);
  });

  it('backfill totals per task with rows/s', () => {
    const chunks = [
      { task: 'a', rows: 1000, ms: 500 },
      { task: 'a', rows: 1000, ms: 500 },
      { task: 'b', rows: 10, ms: 0 },
    ];
    const files = seed003Files({ ...base, chunks, outcome: 'GO', classification: 'GO', steps: new Map([['04_backfill_plan', rec('04_backfill_plan', 'PASS')]]) });
    const body = file(files, '03_backfill.log');
    expect(body).toContain('command: 04_backfill_plan command');
    expect(body).toContain('"task": "a",\n    "chunks": 2,\n    "rows": 2000,\n    "rowsPerSecond": 2000');
    expect(body).toContain('"rowsPerSecond": null');
    expect(file(files, '09_rollback_or_no_rollback.log')).toContain('result: NO_ROLLBACK');
  });
});

describe('Summary', () => {
  it('lists the run once and reads each file at most once, yet its manifest covers every file it wrote (seed 003 files, report.html)', async () => {
    const store = new FsEvidenceStore(await tempDir('cutline-summary-'));
    let lists = 0;
    const list = store.list.bind(store);
    const keys = store.keys.bind(store);
    store.keys = (prefix: string) => {
      if (prefix === 'r1/') lists++;
      return keys(prefix);
    };
    store.list = (prefix: string) => {
      lists++;
      return list(prefix);
    };
    const reads = new Map<string, number>();
    const get = store.get.bind(store);
    store.get = (key: string) => {
      reads.set(key, (reads.get(key) ?? 0) + 1);
      return get(key);
    };
    await store.put('r1/02_preflight.json', JSON.stringify(rec('02_preflight', 'PASS')));
    await store.put('r1/manifest.json', '{"stale":true}');
    const spec = { runId: 'r1', owner: 'ops@example.com', evidence: { profile: 'seed003' } };
    const deps = { evidence: store, clock: { now: () => new Date('2026-11-21T02:10:00Z') } } as never;
    const out = await summaryStage({ spec, results: {}, execution: { id: 'arn:x', name: 'r1' } } as never, deps);
    expect(lists).toBe(1);
    expect([...reads].filter(([, n]) => n > 1)).toEqual([]);
    const manifest = (await readEvidenceJson<Manifest>(store, 'r1/manifest.json'))!;
    expect(manifest.root).toBe(out.manifestRoot);
    expect(manifest.files.map((f) => f.file)).toEqual(expect.arrayContaining(['01_precheck.log', '99_summary.md', '99_summary.json', 'report.html', 'summary.md', '02_preflight.json']));
    const now = new Map((await list('r1/')).map((f) => [f.key.slice(3), f.sha256]));
    expect(verifyManifest(manifest, now)).toEqual([]);
  });
});

describe('seed004Files', () => {
  it('row counts and each method per side, their diffs only where the sides differ, the state store gate; nothing for a stage that did not run', () => {
    const verify = rec('06_verify', 'FAIL', {
      mode: 'source-vs-target',
      tables: [
        { table: 'users', expected: '3', actual: '3' },
        { table: 'credentials', expected: '9', actual: '8' },
      ],
      assertions: [{ name: 'integrity: required keys in state', ok: false, violations: 1, sample: [{ missing_key: 'relayer:nonce' }] }],
    });
    const gates = rec('07_gates', 'FAIL', {
      methodReports: [
        { table: 'users', fast: { source: '3', target: '3' }, exact: { source: '3', target: '3', matching: 1, differing: 0, unstable: 0, errors: 0 } },
        { table: 'credentials', fast: { source: '9', target: '8' }, exact: { source: '9', target: '8', matching: 0, differing: 1, unstable: 0, errors: 0 } },
      ],
    });
    const files = seed004Files({ steps: new Map([['06_verify', verify], ['07_gates', gates]]), nowUtc: base.nowUtc, stateStore: { table: 'state', keyColumn: 'k', requiredKeys: ['schema:version', 'relayer:nonce'] } });
    const f = (name: string) => files.find((x) => x.name === `verify/${name}`)?.body;
    expect(f('src-rowcounts-20261121T020000Z.txt')).toBe('users\t3\ncredentials\t9\n');
    expect(f('rowcount-diff-20261121T020000Z.patch')).toBe(
      '--- src-rowcounts-20261121T020000Z.txt\n+++ tgt-rowcounts-20261121T020000Z.txt\n@@ -1,2 +1,2 @@\n users\t3\n-credentials\t9\n+credentials\t8\n',
    );
    expect(f('tgt-method-exact-20261121T020000Z.txt')).toBe('users\t3 rows\ncredentials\t8 rows, 1 chunk(s) differ\n');
    expect(f('tgt-state-store-20261121T020000Z.txt')).toBe('schema:version\tpresent\nrelayer:nonce\tMISSING\n');
    expect(f('state-store-gate-20261121T020000Z.txt')).toContain('missing: relayer:nonce\nresult: FAIL\n');
    expect(seed004Files({ steps: new Map(), nowUtc: base.nowUtc })).toEqual([]);
    expect(unifiedDiff('a', 'x\t1\n', 'b', 'x\t1\n')).toBe('');
  });
});
