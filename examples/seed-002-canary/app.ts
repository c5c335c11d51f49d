/**
 * Seed 002's services on 127.0.0.1: the agtmux v4 and v5 daemons side by side (the v5 projection built in shadow),
 * the supervisor and the restore dry-run the runbook checks, and the session registry the full cutover drains.
 *   GET  /v4/list_panes, /v5/list_panes, /v4/list_sessions, /v5/list_sessions   the two daemons' projections
 *   GET  /version/v5                         200 {version} (the v5 binary deployed alongside v4)
 *   GET  /supervisor/startup-order           200 when Sources → Gateway → Daemon → UI
 *   GET  /supervisor/hold-down               200 {holdDown: 0} | 503 while the supervisor holds a stage down
 *   GET  /health/sources                     200 all sources Active | 503 naming a Stale / Revoked one
 *   GET  /restore/dry-run                    200 {verdict: "Ok", age_ms}
 *   POST /sessions/restart                   moves every session to the default daemon
 *   GET  /sessions/v4                        {v4: n} sessions still on v4
 *   POST /canary/enable                      v5 serves the canary sessions (the daemons reload the runtime selector)
 * Fault for the failure path: `canary-latency` (once v5 serves the canary, it answers slowly: the p95 monitors trip).
 */
import http from 'node:http';

export type Seed002Fault = 'none' | 'canary-latency';

const PANES = [
  { pane_id: '%1', session: 'session-alpha', evidence_mode: 'deterministic', pane_presence: 'managed', title: 'build' },
  { pane_id: '%2', session: 'session-beta', evidence_mode: 'heuristic', pane_presence: 'managed', title: 'logs' },
  { pane_id: '%3', session: 'session-gamma', evidence_mode: 'deterministic', pane_presence: 'unmanaged', title: 'shell' },
];

export async function startAgtmux(opts: { fault?: Seed002Fault } = {}): Promise<{ url: string; close: () => Promise<void> }> {
  // Where each session runs; a restart moves it to the default daemon (v5 once the full cutover drains v4).
  const sessions = new Map(PANES.map((p) => [p.session, 'v4']));
  let canary = false;
  const projection = (daemon: 'v4' | 'v5', what: 'panes' | 'sessions') => {
    // Both daemons build the same projection; v5 stamps its own version and time (volatile: the parity check ignores them).
    const meta = { daemon, projection_version: daemon === 'v4' ? 41 : 7, generated_at: new Date().toISOString() };
    if (what === 'panes') return { ...meta, panes: PANES };
    return { ...meta, sessions: [...new Set(PANES.map((p) => p.session))].map((name) => ({ name, panes: PANES.filter((p) => p.session === name).length })) };
  };
  const server = http.createServer(async (req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    const url = new URL(req.url ?? '/', 'http://x');
    const daemon = /^\/(v4|v5)\/list_(panes|sessions)$/.exec(url.pathname);
    if (req.method === 'GET' && daemon) {
      if (daemon[1] === 'v5' && canary && opts.fault === 'canary-latency') await new Promise((r) => setTimeout(r, 2500));
      return json(200, projection(daemon[1] as 'v4' | 'v5', daemon[2] as 'panes' | 'sessions'));
    }
    if (req.method === 'GET' && url.pathname === '/version/v5') return json(200, { binary: 'agtmux-daemon-v5', version: '5.0.0' });
    if (req.method === 'GET' && url.pathname === '/supervisor/startup-order') return json(200, { order: ['sources', 'gateway', 'daemon', 'ui'], allReady: true });
    if (req.method === 'GET' && url.pathname === '/supervisor/hold-down') return json(200, { holdDown: 0, restarts10m: 0 });
    if (req.method === 'GET' && url.pathname === '/health/sources') return json(200, { sources: [{ name: 'tmux', state: 'Active' }, { name: 'claude-hooks', state: 'Active' }] });
    if (req.method === 'GET' && url.pathname === '/restore/dry-run') return json(200, { verdict: 'Ok', age_ms: 1200 });
    if (req.method === 'POST' && url.pathname === '/canary/enable') {
      canary = true;
      return json(200, { canary: ['session-alpha', 'session-beta'] });
    }
    if (req.method === 'POST' && url.pathname === '/sessions/restart') {
      for (const s of sessions.keys()) sessions.set(s, url.searchParams.get('to') ?? 'v5');
      return json(200, { restarted: sessions.size });
    }
    if (req.method === 'GET' && url.pathname === '/sessions/v4') return json(200, { v4: [...sessions.values()].filter((d) => d === 'v4').length });
    return json(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
