/**
 * Runbook checks as a step kind (spec.checks): sql, http and command checks in the stage their `at` names, each
 * failure classified by the stage it guards (or the class it names: seed 003's SYNC_FAILED, IDEMPOTENCY_FAILED), the
 * promotion gate before the go/no-go (a failure never promotes), and the evidence each keeps (full hashes, output).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { percentile, slowdown } from '../../lambdas/core/checks';
import { jsonDifferences } from '../../lambdas/core/smoke';
import { parseSpec } from '../../lambdas/core/spec';
import { miniSpec, readJson, tempDir } from '../support/local-run';

let server: http.Server;
let base = '';
let synced = true;
let replays = 0;
let drift = false;
let timed = 0;
let slowAfter = Number.POSITIVE_INFINITY;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/health') return json(200, { ok: true, at: new Date().toISOString() });
    // seed 001: an endpoint that gets slow after its first `slowAfter` requests (the baseline's)
    if (req.url === '/timed') {
      timed++;
      if (timed > slowAfter) return void setTimeout(() => json(200, { n: timed }), 600);
      return json(200, { n: timed });
    }
    // seed 002's shadow phase: v4 and v5 answer the same queries; v5 may drift
    const shadow = /^\/(v4|v5)\/(list_panes|list_sessions)$/.exec(req.url ?? '');
    if (shadow) {
      const v5 = shadow[1] === 'v5';
      if (shadow[2] === 'list_panes') return json(200, { generated_at: Date.now(), panes: [{ id: '%1', session: 'main', active: true }, { id: '%2', session: 'work', active: false }] });
      return json(200, { generated_at: Date.now(), sessions: [{ name: 'main', windows: 2 }, { name: 'work', windows: v5 && drift ? 3 : 1 }] });
    }
    if (req.method === 'POST' && req.url === '/replay') {
      replays++;
      return json(202, { accepted: true });
    }
    if (req.url === '/admin/tx/tx-sync') return synced ? json(200, { tx_id: 'tx-sync', amount: (100 * (replays + 1)).toFixed(2), data_lag_sec: Math.random() }) : json(404, { error: 'not synced' });
    return json(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise((r) => (server ? server.close(r) : r(undefined))));

async function runWith(runId: string, edit: (spec: Record<string, any>) => void) {
  const spec = await miniSpec({ runId });
  edit(spec);
  const workDir = await tempDir('cutline-work-');
  const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
  return { ...r, selector: (await readJson(path.join(workDir, runId, 'parameters.json')))['/cloudbackup/prod/agent-identity'] };
}

describe('runbook checks', () => {
  it('sql, http and command checks at every stage pass: GO, each result in its stage record with full hashes and the output kept', async () => {
    synced = true;
    const r = await runWith('checks-ok', (s) => {
      s.checks = [
        { name: 'jumpbox reaches the cluster', at: 'preflight', command: { script: 'echo provisioningState=Succeeded' } },
        { name: 'history table has the expand files', at: 'schema', sql: { sql: 'SELECT count(*) AS n FROM cutline_schema_history WHERE success', expect: { min: 1 } } },
        { name: 'no agent without a uuid', at: 'verify', sql: { sql: 'SELECT agent_id FROM s3_cloudbackup_agents WHERE agent_uuid IS NULL LIMIT 5' } },
        { name: 'consumer synced tx-sync', at: 'promotion', classification: 'SYNC_FAILED', http: { url: `${base}/admin/tx/tx-sync`, ignoreFields: ['data_lag_sec'] } },
        { name: 'health after cutover', at: 'smoke', http: { url: `${base}/health`, ignoreFields: ['at'] } },
      ];
    });
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    expect(r.selector).toBe('agent_uuid');
    const pre = (await readJson(path.join(r.evidenceDir, '02_preflight.json'))).details.stepChecks;
    expect(pre).toMatchObject([{ name: 'jumpbox reaches the cluster', kind: 'command', ok: true, classification: 'ENVIRONMENT_BLOCKED', command: { exitCode: 0, stdout: 'provisioningState=Succeeded\n', STDOUT_LEN: 28 } }]);
    expect(pre[0].command.STDOUT_SHA256).toMatch(/^[0-9a-f]{64}$/);
    expect((await readJson(path.join(r.evidenceDir, '03_schema.json'))).details.stepChecks[0]).toMatchObject({ ok: true, classification: 'MIGRATION_FAILED', sql: { rows: 1 } });
    expect((await readJson(path.join(r.evidenceDir, '06_verify.json'))).details.stepChecks[0]).toMatchObject({ ok: true, detail: 'no rows, as expected' });
    const promo = (await readJson(path.join(r.evidenceDir, '08_decide.json'))).details.stepChecks[0];
    expect(promo).toMatchObject({ ok: true, classification: 'SYNC_FAILED', http: { status: 200, expectStatus: 200 } });
    expect(promo.http.BODY_SHA256).toMatch(/^[0-9a-f]{64}$/);
    expect(promo.http.BODY_LEN).toBeGreaterThan(20);
    expect(promo.http.canonicalSha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await readJson(path.join(r.evidenceDir, '11_smoke.json'))).details.stepChecks[0]).toMatchObject({ ok: true, at: 'smoke' });
    // the report lists every check with the stage it ran in and what it measured
    const report = await readFile(path.join(r.evidenceDir, 'report.html'), 'utf8');
    const section = report.slice(report.indexOf('<section id="checks">'), report.indexOf('<section id="approval">'));
    for (const name of ['jumpbox reaches the cluster', 'history table has the expand files', 'no agent without a uuid', 'consumer synced tx-sync', 'health after cutover']) expect(section).toContain(name);
    expect(section).toContain('SYNC_FAILED');
    expect(section).toContain(promo.http.BODY_SHA256);
  }, 120_000);

  it('a failing promotion check (the consumer did not sync): NO_GO / SYNC_FAILED before the go/no-go, the selector never flipped, nothing to roll back', async () => {
    synced = false;
    const r = await runWith('checks-sync', (s) => {
      s.checks = [{ name: 'consumer synced tx-sync', at: 'promotion', classification: 'SYNC_FAILED', http: { url: `${base}/admin/tx/tx-sync` } }];
    });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'SYNC_FAILED']);
    expect(r.selector).toBe('agent_id');
    const c = await readJson(path.join(r.evidenceDir, '90_classify.json'));
    expect(c.details).toMatchObject({ stage: 'Decide', owner: 'platform-oncall@example.com' });
    expect(c.details.reason).toContain('consumer synced tx-sync (SYNC_FAILED): got HTTP 404; expected 200');
    expect(c.details.unblock_criteria).toMatch(/nothing was promoted/);
    await expect(readJson(path.join(r.evidenceDir, '09_approval.json'))).rejects.toThrow();
    await expect(readJson(path.join(r.evidenceDir, '10_cutover.json'))).rejects.toThrow();
    await expect(readJson(path.join(r.evidenceDir, '12_rollback.json'))).rejects.toThrow();
  }, 120_000);

  it('smoke at promotion: a replay applied twice is IDEMPOTENCY_FAILED and never promotes', async () => {
    synced = true;
    const r = await runWith('checks-idem', (s) => {
      s.smoke = {
        at: 'promotion',
        checks: [{ name: 'duplicate replay', url: `${base}/admin/tx/tx-sync`, expectStatus: 200, replay: { url: `${base}/replay` }, ignoreFields: ['data_lag_sec'] }],
      };
    });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'IDEMPOTENCY_FAILED']);
    expect(r.selector).toBe('agent_id');
    const d = await readJson(path.join(r.evidenceDir, '08_decide.json'));
    expect(d.details.checks[0].detail).toMatch(/^not idempotent: canonical hash [0-9a-f]{64} before, [0-9a-f]{64} after the replay/);
  }, 120_000);

  it('each stage classifies its own: a preflight command is ENVIRONMENT_BLOCKED, a schema sql check MIGRATION_FAILED, a verify check VERIFY_FAILED; after cutover a check rolls back', async () => {
    const pre = await runWith('checks-pre', (s) => {
      s.checks = [{ name: 'deployments exist', at: 'preflight', command: { script: 'echo "deploy/txlookup-consumer not found" >&2; exit 3' } }];
    });
    expect([pre.outcome, pre.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
    const rec = await readJson(path.join(pre.evidenceDir, '02_preflight.json'));
    expect(rec.details.stepChecks[0]).toMatchObject({ ok: false, command: { exitCode: 3, stderr: 'deploy/txlookup-consumer not found\n' } });
    expect(rec.details.stepChecks[0].detail).toBe('ended Failed with exit 3; expected exit 0; stderr: deploy/txlookup-consumer not found\n');

    const schema = await runWith('checks-schema', (s) => {
      s.checks = [{ name: 'no dangling uuid map', at: 'schema', sql: { sql: 'SELECT count(*) FROM s3_cloudbackup_agents', expect: { max: 0 } } }];
    });
    expect([schema.outcome, schema.classification]).toEqual(['NO_GO', 'MIGRATION_FAILED']);

    const verify = await runWith('checks-verify', (s) => {
      s.checks = [{ name: 'legacy token scan', at: 'verify', sql: { sql: "SELECT agent_id FROM s3_cloudbackup_agents WHERE agent_id < 3 ORDER BY agent_id" } }];
    });
    expect([verify.outcome, verify.classification]).toEqual(['NO_GO', 'VERIFY_FAILED']);
    expect((await readJson(path.join(verify.evidenceDir, '06_verify.json'))).details.stepChecks[0]).toMatchObject({ ok: false, sql: { rows: 2, sample: [{ agent_id: 1 }, { agent_id: 2 }] } });

    const after = await runWith('checks-after', (s) => {
      s.checks = [{ name: 'post-cutover suite', at: 'smoke', command: { script: 'exit 1' } }];
    });
    expect([after.outcome, after.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect(after.selector).toBe('agent_id');
    expect((await readJson(path.join(after.evidenceDir, '90_classify.json'))).details.cause_classification).toBe('SMOKE_FAILED');
  }, 240_000);

  it('parity (seed 002 shadow): the same requests to v4 and v5, volatile fields ignored; a drifted field is named with its request', async () => {
    const parity = (runId: string) =>
      runWith(runId, (s) => {
        s.checks = [
          {
            name: 'v4 and v5 projections agree',
            at: 'promotion',
            parity: { baseline: `${base}/v4`, candidate: `${base}/v5`, requests: [{ path: '/list_panes' }, { path: '/list_sessions' }], ignoreFields: ['generated_at'] },
          },
        ];
      });
    drift = false;
    const same = await parity('checks-parity-ok');
    expect([same.outcome, same.classification]).toEqual(['GO', 'GO']);
    expect((await readJson(path.join(same.evidenceDir, '08_decide.json'))).details.stepChecks[0]).toMatchObject({ ok: true, kind: 'parity', parity: { requests: 2, differing: [] } });
    drift = true;
    const drifted = await parity('checks-parity-drift');
    expect([drifted.outcome, drifted.classification]).toEqual(['NO_GO', 'SMOKE_FAILED']);
    expect(drifted.selector).toBe('agent_id');
    const c = (await readJson(path.join(drifted.evidenceDir, '08_decide.json'))).details.stepChecks[0];
    expect(c.parity.differing).toEqual([{ request: 'GET /list_sessions', status: [200, 200], fields: ['$.sessions[1].windows'], baselineSha256: expect.stringMatching(/^[0-9a-f]{64}$/), candidateSha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(c.detail).toBe(`1 of 2 request(s) differ between ${base}/v4 and ${base}/v5: GET /list_sessions: fields $.sessions[1].windows`);
  }, 120_000);

  it('performance (seed 001): timed at preflight, again after cutover; 600 ms slower than the baseline rolls back, the numbers in evidence', async () => {
    const perf = (runId: string) =>
      runWith(runId, (s) => {
        s.checks = [{ name: 'list agents p95', at: 'smoke', performance: { request: { url: `${base}/timed` }, runs: 5, maxSlowdownPercent: 20, minSlowdownMs: 250 } }];
      });
    timed = 0;
    slowAfter = Number.POSITIVE_INFINITY;
    const same = await perf('checks-perf-ok');
    expect([same.outcome, same.classification]).toEqual(['GO', 'GO']);
    const baseline = await readJson(path.join(same.evidenceDir, 'performance/list-agents-p95.baseline.json'));
    expect(baseline).toMatchObject({ at: 'preflight', runs: 5 });
    expect(baseline.ms).toHaveLength(5);
    const ok = (await readJson(path.join(same.evidenceDir, '11_smoke.json'))).details.stepChecks[0];
    expect(ok).toMatchObject({ ok: true, kind: 'performance', performance: { metric: 'p95', before: { at: 'preflight' }, after: { at: 'smoke', runs: 5 } } });
    timed = 0;
    slowAfter = 5;
    const slow = await perf('checks-perf-slow');
    expect([slow.outcome, slow.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect(slow.selector).toBe('agent_id');
    const c = (await readJson(path.join(slow.evidenceDir, '11_smoke.json'))).details.stepChecks[0];
    expect(c.ok).toBe(false);
    expect(c.performance.after.p95).toBeGreaterThanOrEqual(600);
    expect(c.detail).toMatch(/^p95 [\d.]+ ms at preflight → [\d.]+ ms at smoke \(\+[\d.]+%, \+[\d.]+ ms over 5 runs\); expected at most \+20% \(or \+250 ms\)$/);
  }, 120_000);

  it('percentiles by nearest rank; a slowdown counts only past both the percent and the milliseconds', () => {
    expect([percentile([5, 1, 3, 2, 4], 50), percentile([5, 1, 3, 2, 4], 95)]).toEqual([3, 5]);
    const t = { metric: 'p95' as const, maxSlowdownPercent: 20, minSlowdownMs: 5 };
    expect(slowdown({ p50: 1, p95: 100 }, { p50: 1, p95: 119 }, t)).toEqual({ ok: true, ms: 19, pct: 19 });
    expect(slowdown({ p50: 1, p95: 100 }, { p50: 1, p95: 121 }, t)).toEqual({ ok: false, ms: 21, pct: 21 });
    expect(slowdown({ p50: 1, p95: 1 }, { p50: 1, p95: 4 }, t)).toEqual({ ok: true, ms: 3, pct: 300 });
  });

  it('JSON differences: changed, added and removed fields by path, arrays by index and length, types', () => {
    expect(jsonDifferences({ a: 1, b: { c: [1, 2] }, d: 'x' }, { a: 1, b: { c: [1, 3] }, e: 'x' })).toEqual(['$.b.c[1]', '$.d', '$.e']);
    expect(jsonDifferences([1, 2], [1])).toEqual(['$ (length 2 vs 1)']);
    expect(jsonDifferences({ a: null }, { a: 0 })).toEqual(['$.a']);
    expect(jsonDifferences({ a: { b: 1 } }, { a: { b: 1 } })).toEqual([]);
  });

  it('the spec: exactly one kind per check, unique names, a jumpbox for commands, bounds in order', () => {
    const base = { version: 1, runId: 'c', owner: 'o', tCutover: '2026-11-21T02:00:00Z', source: { engine: 'postgres', url: 'pglite://memory' } };
    const r = parseSpec({
      ...base,
      checks: [
        { name: 'a', at: 'verify', sql: { sql: 'SELECT 1' }, http: { url: 'http://x/' } },
        { name: 'a', at: 'preflight', command: { script: 'true' } },
        { name: 'b', at: 'later', sql: { sql: 'SELECT 1; SELECT 2' } },
        { name: 'c', at: 'verify', sql: { sql: 'SELECT 1', expect: { min: 2, max: 1 } } },
      ],
    });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^\$\.checks\[0\]: .*got 2 of "sql", "http", "command", "parity" and "performance" in check "a"; expected exactly one/),
          expect.stringMatching(/^\$\.checks\[2\]\.at: .*"later"/),
          expect.stringMatching(/^\$\.checks\[3\]\.sql\.expect: .*got min 2 > max 1/),
        ]),
      );
    const dup = parseSpec({ ...base, checks: [{ name: 'a', at: 'preflight', command: { script: 'true' } }, { name: 'a', at: 'verify', sql: { sql: 'SELECT 1; SELECT 2' } }] });
    expect(dup.ok).toBe(false);
    if (!dup.ok)
      expect(dup.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
        '$.jumpbox: got nothing; expected a jumpbox: bulk copy commands, cutover or rollback actions of type "command", command checks and requests via the jumpbox need one',
        '$.checks[1].name: got "a" twice; expected each check name once (evidence names checks by name)',
        '$.checks[1].sql.sql: got 2 statements; expected exactly one',
      ]);
  });
});
