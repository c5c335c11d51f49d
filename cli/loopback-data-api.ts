/**
 * `cutline run --local --data-api`: every PostgreSQL database of the run is reached the way the Lambdas reach Aurora,
 * through the production adapter (DataApiSql and the real RDSDataClient) against a loopback Data API endpoint with
 * the service's limits: one statement per call, 45 seconds per call (StatementTimeoutException; the statement is
 * stopped unless continueAfterTimeout), 1 MiB per response and 64 KB per row, every call on whichever pooled
 * connection is free with nothing of an earlier call's session left, transactions by id rolled back after 3 minutes
 * idle.
 */
import { engineOfUrl } from '../lambdas/core/spec';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { PGlite } from '@electric-sql/pglite';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { DataApiSql } from '../lambdas/adapters/aws/data-api';
import { type DataApiServerOptions, mysqlBackend, pgBackend, pgliteBackend, startDataApiServer } from '../lambdas/adapters/local/data-api-server';
import type { Dialect } from '../lambdas/core/sql-lexer';
import { redactUrl } from '../lambdas/adapters/local/sql-common';
import type { SqlClient } from '../lambdas/ports';

class LoopbackDataApiSql extends DataApiSql {
  constructor(
    client: RDSDataClient,
    database: string,
    dialect: Dialect,
    private readonly shutdown: () => Promise<void>,
  ) {
    super(client, { resourceArn: 'arn:aws:rds:local:000000000000:cluster:loopback', secretArn: 'arn:aws:secretsmanager:local:000000000000:secret:loopback', database }, dialect);
  }
  override async close(): Promise<void> {
    await this.shutdown();
  }
}

/** The engine of a database server's URL (postgres://, mysql://, ...); undefined for pglite:// (in process) and unknown schemes. */
export const serverEngineOfUrl = (url: string) => (url.startsWith('pglite:') ? undefined : engineOfUrl(url));

/** A Data API client for a local PostgreSQL or MySQL / MariaDB URL (or the embedded database behind a pglite:// URL). */
export async function loopbackDataApi(url: string, embedded: PGlite | undefined, opts: DataApiServerOptions = {}): Promise<SqlClient> {
  const isMysql = serverEngineOfUrl(url) === 'mysql';
  if (!embedded && !serverEngineOfUrl(url)) throw new Error(`--data-api: ${redactUrl(url)} is not PostgreSQL or MySQL; expected postgres://, mysql:// or pglite://`);
  const pgPool = embedded || isMysql ? undefined : new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000, options: '-c TimeZone=UTC' });
  pgPool?.on('error', () => undefined);
  // As Aurora MySQL answers: BIGINT and DECIMAL exact (strings), dates as the server writes them, sessions in UTC.
  const myPool = isMysql
    ? mysql.createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: 8, connectTimeout: 5000, multipleStatements: false, supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false, dateStrings: true, timezone: 'Z' })
    : undefined;
  myPool?.on('connection', (c) => void c.query("SET time_zone = '+00:00'"));
  const server = await startDataApiServer(embedded ? pgliteBackend(embedded) : myPool ? mysqlBackend(myPool) : pgBackend(pgPool!), opts);
  // As the Lambdas build it (adapters/aws/deps.ts), pointed at the loopback endpoint.
  const rds = new RDSDataClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3 });
  const database = embedded ? 'postgres' : decodeURIComponent(new URL(url).pathname.slice(1)) || (isMysql ? 'mysql' : 'postgres');
  return new LoopbackDataApiSql(rds, database, isMysql ? 'mysql' : 'postgres', async () => {
    rds.destroy();
    await server.close();
    await pgPool?.end();
    await myPool?.end();
  });
}
