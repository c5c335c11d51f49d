/**
 * Smoke checks (seed 003): 200 for a known id, 404 for a missing one, from
 * here or with curl on the jumpbox, and the idempotency gate: the canonical
 * payload hash (volatile fields ignored) is the same before and after a
 * replay. A failing check rolls back.
 */
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { canonicalPayloadHash } from '../../lambdas/core/smoke';
import { miniSpec, readJson, tempDir } from '../support/local-run';

let server: http.Server;
let base = '';
let replays = 0;
let idempotent = true;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && req.url === '/replay') {
      replays++;
      return json(202, { accepted: true });
    }
    if (req.url === '/admin/tx/tx-1')
      // event_time and data_lag_sec change on every read; the rest only changes if the replay was applied twice
      return json(200, { data_lag_sec: Math.random(), tx_id: 'tx-1', amount: idempotent ? '100.00' : (100 * (replays + 1)).toFixed(2), event_time: new Date().toISOString(), entries: [{ wallet: 'a', seq: 1 }] });
    return json(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise((r) => (server ? server.close(r) : r(undefined))));

async function runWith(runId: string, checks: unknown[]) {
  const spec = await miniSpec({ runId });
  spec.smoke.checks = checks;
  return runLocal({ spec, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
}

describe('smoke checks', () => {
  it('200 for a known id and 404 for a missing one, from here and from the jumpbox; an idempotent replay passes', async () => {
    idempotent = true;
    const r = await runWith('smoke-ok', [
      { name: 'known tx', url: `${base}/admin/tx/tx-1`, expectStatus: 200 },
      { name: 'missing tx', url: `${base}/admin/tx/nope`, expectStatus: 404, via: 'jumpbox' },
      { name: 'duplicate replay', url: `${base}/admin/tx/tx-1`, expectStatus: 200, replay: { url: `${base}/replay` }, ignoreFields: ['event_time', 'data_lag_sec'] },
      { name: 'duplicate replay on the jumpbox', url: `${base}/admin/tx/tx-1`, expectStatus: 200, via: 'jumpbox', replay: { script: `curl -s -X POST ${base}/replay` }, ignoreFields: ['event_time', 'data_lag_sec'] },
    ]);
    expect([r.outcome, r.classification]).toEqual(['GO', 'GO']);
    const checks = (await readJson(path.join(r.evidenceDir, '11_smoke.json'))).details.checks;
    expect(checks.map((c: { ok: boolean }) => c.ok)).toEqual([true, true, true, true]);
    expect(checks[1].detail).toContain('from the jumpbox');
    // seed 003's BODY_SHA256 / BODY_LEN, from here and from the jumpbox alike
    expect(checks.map((c: { BODY_SHA256: string }) => c.BODY_SHA256)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(checks[1].BODY_LEN).toBe(Buffer.byteLength(JSON.stringify({ error: 'not found' })));
    expect(checks[2].detail).toMatch(/^idempotent: canonical hash [0-9a-f]{64} before and after the replay \(ignoring event_time, data_lag_sec\); body \d+ bytes, sha256 [0-9a-f]{64}$/);
  });

  it('a replay applied twice changes the canonical hash: IDEMPOTENCY_FAILED, rolled back', async () => {
    idempotent = false;
    const r = await runWith('smoke-dup', [{ name: 'duplicate replay', url: `${base}/admin/tx/tx-1`, expectStatus: 200, replay: { url: `${base}/replay` }, ignoreFields: ['event_time', 'data_lag_sec'] }]);
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'ROLLED_BACK']);
    expect((await readJson(path.join(r.evidenceDir, '11_smoke.json'))).details.checks[0].detail).toContain('not idempotent');
    expect((await readJson(path.join(r.evidenceDir, '90_classify.json'))).details.cause_classification).toBe('IDEMPOTENCY_FAILED');
  });

  it('without ignoring the volatile fields the same payload would never match (why ignoreFields exists)', () => {
    const a = JSON.stringify({ b: 1, a: { y: 2, x: 1 }, event_time: '1' });
    const b = JSON.stringify({ a: { x: 1, y: 2 }, event_time: '2', b: 1 });
    expect(canonicalPayloadHash(a, ['event_time'])).toBe(canonicalPayloadHash(b, ['event_time']));
    expect(canonicalPayloadHash(a, [])).not.toBe(canonicalPayloadHash(b, []));
    expect(() => canonicalPayloadHash('<html>', [])).toThrow('the response is not JSON');
  });
});
