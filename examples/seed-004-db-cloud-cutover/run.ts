/**
 * Seed 004 on the embedded default: two in-memory PostgreSQL databases (source and target), the four services'
 * health endpoints on 127.0.0.1, and the run: baseline schema on the target, the copy (a text-keyed state store among
 * the tables), row counts and the state store gate, fast then exact, the launch gate, the read flip and smoke.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExampleOptions, runExampleSpec } from '../support';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `state-store`: a required key is missing on the source (so the copy cannot bring it): VERIFY_FAILED, no flip. */
export type Seed004Fault = 'none' | 'state-store';

async function startHealth(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const ok = /^\/(gateway|issuer|wallet|recruiter)\/health$/.test(req.url ?? '');
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { status: 'ok' } : { error: 'not found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

export async function runSeed004(opts: ExampleOptions & { fault?: Seed004Fault } = {}) {
  const app = await startHealth();
  try {
    return await runExampleSpec(here, 'seed-004', opts, { CREDITY_URL: app.url }, async (url, client) => {
      if (url === 'pglite://memory/source' && opts.fault === 'state-store') await client.query("DELETE FROM credverse_state_store WHERE key = 'relayer:nonce'");
    });
  } finally {
    await app.close();
  }
}
