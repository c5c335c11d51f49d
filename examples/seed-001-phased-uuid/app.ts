/**
 * Seed 001's application stand-in: a compliance-testing API reading the database the phases migrate, and the feature
 * flags the phases flip (the runbook's FF_UUID_AUDIT / FF_UUID_USERS, read from the run's parameters).
 *   GET /audit/recent  -> 200 the 20 latest audit log entries, keyed by audit_uuid once FF_UUID_AUDIT is on
 *   GET /users/:id     -> 200 the user (legacy id) with lob and roles, joined by the uuid keys once FF_UUID_USERS is on
 *   GET /health        -> 200
 * With a flag on and a row without its uuid, the answer is a 503 (a phase that ran before its backfill).
 */
import http from 'node:http';
import type { ParameterStore, SqlClient } from '../../lambdas/ports';

export const FLAGS = { audit: '/compliance/prod/FF_UUID_AUDIT', users: '/compliance/prod/FF_UUID_USERS' } as const;

/** `users-slow`: once users are read by uuid, every user lookup answers 600 ms late (a query regression on the new keys). */
export type Seed001Fault = 'none' | 'users-slow';
export const SLOW_MS = 600;

export async function startComplianceApp(opts: {
  db: () => SqlClient | undefined;
  parameters: ParameterStore;
  fault?: Seed001Fault;
}): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    try {
      if (req.url === '/health') return json(200, { status: 'ok' });
      const db = opts.db();
      if (!db) return json(503, { error: 'database not ready' });
      const flags = await opts.parameters.getMany([FLAGS.audit, FLAGS.users]);
      if (req.url === '/audit/recent') {
        const uuid = flags.get(FLAGS.audit) === 'true';
        const { rows } = await db.query(`SELECT ${uuid ? 'audit_uuid::text' : 'audit_id::text'} AS id, actor, action FROM audit_logs ORDER BY created_at DESC LIMIT 20`);
        if (rows.some((r) => r.id === null)) return json(503, { error: 'FF_UUID_AUDIT is on but an audit entry has no audit_uuid' });
        return json(200, { key: uuid ? 'audit_uuid' : 'audit_id', entries: rows });
      }
      const m = /^\/users\/(\d+)$/.exec(req.url ?? '');
      if (!m) return json(404, { error: 'not found' });
      const uuid = flags.get(FLAGS.users) === 'true';
      const [u, l, r] = uuid ? ['user_uuid', 'lob_uuid', 'role_uuid'] : ['user_id', 'lob_id', 'role_id'];
      const { rows } = await db.query(
        `SELECT u.${u}::text AS id, u.email, l.name AS lob, array_to_string(array_agg(r.name ORDER BY r.name), ',') AS roles
         FROM users u LEFT JOIN lobs l ON l.${l} = u.${l} LEFT JOIN user_roles ur ON ur.${u} = u.${u} LEFT JOIN roles r ON r.${r} = ur.${r}
         WHERE u.user_id = :id GROUP BY u.${u}, u.email, l.name`,
        { id: Number(m[1]) },
      );
      const user = rows[0];
      if (!user) return json(404, { error: `user ${m[1]} not found` });
      if (user.id === null) return json(503, { error: 'FF_UUID_USERS is on but this user has no user_uuid' });
      if (uuid && opts.fault === 'users-slow') await new Promise((r) => setTimeout(r, SLOW_MS));
      return json(200, { key: u, ...user });
    } catch (e) {
      return json(500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
