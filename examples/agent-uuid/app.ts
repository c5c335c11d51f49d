/**
 * The demo's application: a tiny agents API reading the same database the
 * cutover migrates, and the runtime selector parameter the cutover flips.
 *   GET /agents/:id -> 200 {agent_id, agent_uuid, identity} | 404
 * With identity=agent_uuid, an agent without a uuid is a 503 (the smoke
 * check catches a cutover that ran before its backfill).
 */
import http from 'node:http';
import type { ParameterStore, SqlClient } from '../../lambdas/ports';

export async function startAgentsApp(opts: {
  db: () => SqlClient | undefined;
  parameters: ParameterStore;
  selector: string;
  /** `uuid-routes`: the routes break once agents are identified by uuid (the post-cutover validation that rolls back). */
  fault?: 'uuid-routes';
}): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    try {
      const m = /^\/agents\/(\d+)$/.exec(req.url ?? '');
      if (!m) return json(404, { error: 'not found' });
      const db = opts.db();
      if (!db) return json(503, { error: 'database not ready' });
      const identity = (await opts.parameters.getMany([opts.selector])).get(opts.selector) ?? 'agent_id';
      const hasUuid = (await db.query("SELECT 1 AS x FROM information_schema.columns WHERE table_name = 's3_cloudbackup_agents' AND column_name = 'agent_uuid'")).rows.length > 0;
      const { rows } = await db.query(
        `SELECT agent_id, hostname${hasUuid ? ', agent_uuid' : ''} FROM s3_cloudbackup_agents WHERE agent_id = :id`,
        { id: Number(m[1]) },
      );
      const agent = rows[0];
      if (!agent) return json(404, { error: `agent ${m[1]} not found` });
      if (identity === 'agent_uuid' && !agent.agent_uuid) return json(503, { error: 'identity is agent_uuid but this agent has none' });
      if (identity === 'agent_uuid' && opts.fault === 'uuid-routes') return json(500, { error: 'route handler still reads X-Agent-ID' });
      return json(200, { ...agent, identity });
    } catch (e) {
      return json(500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
