/**
 * `cutline run --local --data-api`: every PostgreSQL database of the run is reached the way the Lambdas reach Aurora,
 * through the production adapter (DataApiSql and the real RDSDataClient) against a loopback Data API endpoint with
 * the service's limits: one statement per call, 45 seconds per call (StatementTimeoutException; the statement is
 * stopped unless continueAfterTimeout), 1 MiB per response and 64 KB per row, every call on whichever pooled
 * connection is free with nothing of an earlier call's session left, transactions by id rolled back after 3 minutes
 * idle.
 */
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { DataApiSql } from '../lambdas/adapters/aws/data-api';
import { type DataApiServerOptions, pgBackend, pgliteBackend, startDataApiServer } from '../lambdas/adapters/local/data-api-server';
import { redactUrl } from '../lambdas/adapters/local/sql-common';
import type { SqlClient } from '../lambdas/ports';

class LoopbackDataApiSql extends DataApiSql {
  constructor(
    client: RDSDataClient,
    database: string,
    private readonly shutdown: () => Promise<void>,
  ) {
    super(client, { resourceArn: 'arn:aws:rds:local:000000000000:cluster:loopback', secretArn: 'arn:aws:secretsmanager:local:000000000000:secret:loopback', database }, 'postgres');
  }
  override async close(): Promise<void> {
    await this.shutdown();
  }
}

/** A Data API client for a local PostgreSQL URL (or the embedded database behind a pglite:// URL). */
export async function loopbackDataApi(url: string, embedded: PGlite | undefined, opts: DataApiServerOptions = {}): Promise<SqlClient> {
  if (!embedded && !/^postgres(ql)?:/.test(url)) throw new Error(`--data-api: ${redactUrl(url)} is not PostgreSQL; the loopback Data API serves PostgreSQL (and the embedded database) only`);
  const pool = embedded ? undefined : new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000, options: '-c TimeZone=UTC' });
  pool?.on('error', () => undefined);
  const server = await startDataApiServer(embedded ? pgliteBackend(embedded) : pgBackend(pool!), opts);
  // As the Lambdas build it (adapters/aws/deps.ts), pointed at the loopback endpoint.
  const rds = new RDSDataClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3 });
  const database = embedded ? 'postgres' : decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
  return new LoopbackDataApiSql(rds, database, async () => {
    rds.destroy();
    await server.close();
    await pool?.end();
  });
}
