/**
 * Seed 003's services on 127.0.0.1, reading and writing the database the run migrates:
 *   GET  /deployments               200 {deployments: [...]} (the precheck's `kubectl get deploy`)
 *   POST /publish?scenario=happy    queues the synthetic sync events (event_time at T_cutover + 1 min)
 *   POST /publish?scenario=duplicate the same events again (new event_time, as the seed's publisher does)
 *   POST /consume?max=N             applies at most N queued events with event_time >= T_cutover (the sync range)
 *   GET  /admin/tx/:id              200 the ledger entry (+ data_lag_sec) | 404
 * Faults for the failure paths: `sync` (the consumer is down: 503), `duplicate` (a replay is applied twice).
 */
import http from 'node:http';
import type { SqlClient } from '../../lambdas/ports';

export type Seed003Fault = 'none' | 'sync' | 'duplicate';

interface Event {
  readonly tx_id: string;
  readonly wallet_id: string;
  readonly entry_type: 'PAYMENT' | 'RECEIVE';
  readonly amount: string;
  readonly amount_signed: string;
  readonly related_id: string;
  readonly event_time: string;
}

export async function startTxLookup(opts: { db: () => SqlClient | undefined; tCutover: string; fault?: Seed003Fault }): Promise<{ url: string; close: () => Promise<void> }> {
  const queue: Event[] = [];
  const syncTime = new Date(Date.parse(opts.tCutover) + 60_000).toISOString();
  const events = (eventTime: string): Event[] => [
    { tx_id: 'tx-sync-pay-1', wallet_id: 'wallet-sync-payer', entry_type: 'PAYMENT', amount: '42.00', amount_signed: '-42.00', related_id: 'po-sync-1', event_time: eventTime },
    { tx_id: 'tx-sync-rec-1', wallet_id: 'wallet-sync-payee', entry_type: 'RECEIVE', amount: '42.00', amount_signed: '42.00', related_id: 'po-sync-1', event_time: eventTime },
  ];
  const server = http.createServer(async (req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === '/deployments') return json(200, { namespace: 'txlookup', deployments: ['tx-lookup-api', 'txlookup-consumer'], crashLooping: [] });
      if (req.method === 'POST' && url.pathname === '/publish') {
        const scenario = url.searchParams.get('scenario');
        if (scenario === 'happy') queue.push(...events(syncTime));
        else if (scenario === 'duplicate') queue.push(...events(new Date().toISOString()));
        else return json(400, { error: `scenario ${JSON.stringify(scenario)}; expected happy or duplicate` });
        return json(202, { published: 2, queued: queue.length });
      }
      const db = opts.db();
      if (!db) return json(503, { error: 'database not ready' });
      if (req.method === 'POST' && url.pathname === '/consume') {
        if (opts.fault === 'sync') return json(503, { error: 'txlookup-consumer: CrashLoopBackOff' });
        const max = Number(url.searchParams.get('max') ?? '3');
        let consumed = 0;
        while (consumed < max && queue.length) {
          const e = queue.shift()!;
          consumed++;
          // The sync range: events before T_cutover belong to the backfill.
          if (Date.parse(e.event_time) < Date.parse(opts.tCutover)) continue;
          const values = { ...e, related_type: 'PAYMENT_ORDER' };
          // Idempotent by tx_id; the `duplicate` fault applies a replay again (the bug the idempotency gate catches).
          const conflict = opts.fault === 'duplicate' ? 'DO UPDATE SET amount = ledger_entries.amount + excluded.amount, version = ledger_entries.version + 1' : 'DO NOTHING';
          await db.query(
            `INSERT INTO ledger_entries (tx_id, wallet_id, entry_type, amount, amount_signed, related_id, related_type, event_time, created_at, updated_at, version)
             VALUES (:tx_id, :wallet_id, :entry_type, CAST(:amount AS numeric), CAST(:amount_signed AS numeric), :related_id, :related_type, CAST(:event_time AS timestamptz), now(), now(), 1)
             ON CONFLICT (tx_id) ${conflict}`,
            values,
          );
        }
        return json(200, { consumed, left: queue.length });
      }
      const tx = /^\/admin\/tx\/([\w-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && tx) {
        const { rows } = await db.query(
          "SELECT tx_id, wallet_id, entry_type, amount::text AS amount, amount_signed::text AS amount_signed, related_id, version, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS event_time FROM ledger_entries WHERE tx_id = :id",
          { id: tx[1]! },
        );
        const row = rows[0];
        if (!row) return json(404, { error: `tx ${tx[1]} not found` });
        return json(200, { ...row, data_lag_sec: Math.max(0, (Date.now() - Date.parse(String(row.event_time))) / 1000) });
      }
      return json(404, { error: 'not found' });
    } catch (e) {
      return json(500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
