/**
 * Fidelity: SSM Run Command returns at most 24,000 characters of stdout (the local jumpbox cuts it the same way).
 * A smoke check through the jumpbox used to take the HTTP status from the last line of that stdout: a response
 * body longer than the cut lost its status line (status NaN) and its idempotency hash was taken over a cut body.
 */
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalShellRunner } from '../../lambdas/adapters/local/command-shell';
import { runSmoke } from '../../lambdas/core/smoke';
import { RunSpec } from '../../lambdas/core/spec';
import type { Deps } from '../../lambdas/ports';

let server: http.Server;
let base: string;
let counter = 0;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    // 30,000 characters of JSON: more than SSM returns of a command's stdout.
    if (req.url === '/big') return res.end(JSON.stringify({ items: Array.from({ length: 1500 }, (_, i) => `item-${String(i).padStart(12, '0')}`), at: Date.now() }));
    if (req.url === '/bump') {
      counter++;
      return res.end('{}');
    }
    res.end(JSON.stringify({ counter, filler: 'x'.repeat(30_000) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

function deps(): Deps {
  return { commands: new LocalShellRunner(), http: { request: async () => ({ status: 599, body: '' }) }, clock: { now: () => new Date(), sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)) } } as unknown as Deps;
}
const spec = (checks: object[]) =>
  RunSpec.parse({ version: 1, runId: 'ssm-out', owner: 'o', tCutover: '2026-12-01T00:00:00Z', source: { engine: 'postgres', url: 'pglite://memory' }, jumpbox: { instanceId: 'local' }, smoke: { checks } });

describe('a command whose output is longer than SSM returns', () => {
  it('returns the first 24,000 characters, and the full output\'s size and SHA-256 (the full output is in the work bucket)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cutline-ssm-'));
    const runner = new LocalShellRunner('/bin/bash', dir);
    const id = await runner.send('local', `head -c 30000 /dev/zero | tr '\\0' a; echo; echo done`, { timeoutSeconds: 30 });
    let r = await runner.get('local', id);
    // Bounded by a minute (a busy machine), looked at every 20 ms.
    for (const until = Date.now() + 60_000; r.status === 'InProgress' && Date.now() < until; r = await runner.get('local', id)) await new Promise((res) => setTimeout(res, 20));
    const full = `${'a'.repeat(30_000)}\ndone\n`;
    expect(r.status).toBe('Success');
    expect(r.stdout).toBe(full.slice(0, 24_000));
    expect(r.fullStdout).toMatchObject({ bytes: 30_006, sha256: createHash('sha256').update(full).digest('hex') });
    // A resumed runner (another process) reads the same from the command's folder.
    expect((await new LocalShellRunner('/bin/bash', dir).get('local', id)).fullStdout).toEqual(r.fullStdout);
  });
});

describe('a jumpbox smoke check whose response is longer than SSM returns', () => {
  it('takes the HTTP status from its own line, not from the end of a cut stdout, and records the body length and SHA-256', async () => {
    const [r] = await runSmoke(spec([{ name: 'big', url: `${base}/big`, expectStatus: 200, via: 'jumpbox' }]), deps());
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(r!.detail).toMatch(/HTTP 200 \(from the jumpbox\); body \d{5} bytes, sha256 [0-9a-f]{64}/);
  });

  it('an idempotency check over a body SSM cannot return whole says so instead of hashing a cut body', async () => {
    const checks = [{ name: 'replay', url: `${base}/state`, expectStatus: 200, via: 'jumpbox', replay: { url: `${base}/bump`, method: 'POST' }, ignoreFields: ['at'] }];
    await expect(runSmoke(spec(checks), deps())).rejects.toThrow(/replay.*the response is \d+ bytes, more than the 16000 the jumpbox returns through SSM; expected a smaller response, or no ignoreFields \(then the whole body's SHA-256 is compared\)/);
    const whole = [{ ...checks[0], ignoreFields: [] }];
    // Without ignoreFields the whole body's SHA-256 (computed on the jumpbox) is compared: the bump changes it.
    await expect(runSmoke(spec(whole), deps())).rejects.toThrow(/not idempotent: body sha256 [0-9a-f]{64} before, [0-9a-f]{64} after the replay/);
  });
});
