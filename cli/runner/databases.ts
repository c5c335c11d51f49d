/**
 * The databases of a local run: the spec's URLs (with --source-url / --target-url), opened, seeded when
 * embedded, and reached through a loopback Data API as the Lambdas reach Aurora.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalSqlFactory } from '../../lambdas/adapters/local/sql-factory';
import { redactUrl } from '../../lambdas/adapters/local/sql-common';
import { splitStatements } from '../../lambdas/core/sql-lexer';
import { engineOfUrl } from '../../lambdas/core/spec';
import type { SqlClient } from '../../lambdas/ports';

/** The spec with --source-url / --target-url applied (engine follows the URL scheme). */
// biome-ignore lint/suspicious/noExplicitAny: the raw spec is untyped until the handlers parse it
export function applyUrlOverrides(spec: unknown, sourceUrl?: string, targetUrl?: string): Record<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const raw = structuredClone(spec) as Record<string, any>;
  if (raw && typeof raw === 'object') {
    if (sourceUrl) raw.source = { ...(raw.source ?? {}), url: sourceUrl, dataApi: undefined };
    if (targetUrl) raw.target = { ...(raw.target ?? raw.source ?? {}), url: targetUrl, dataApi: undefined };
    for (const side of ['source', 'target']) {
      const ref = raw[side];
      if (ref && typeof ref === 'object') {
        if (ref.dataApi === undefined) delete ref.dataApi;
        if (sourceUrl || targetUrl) {
          ref.engine = engineOfUrl(String(ref.url ?? '')) ?? ref.engine;
        }
      }
    }
  }
  return raw;
}

/**
 * Open every database URL the spec names (the Deps port is synchronous), and
 * seed a fresh embedded source (or any source with `seed`). An unreachable
 * database is only a warning here: Preflight reports it.
 */
export async function openLocalDatabases(
  // biome-ignore lint/suspicious/noExplicitAny: the raw spec is untyped until the handlers parse it
  raw: Record<string, any>,
  opts: { clients?: Record<string, SqlClient>; seed?: boolean; onOpen?: (url: string, client: SqlClient) => void | Promise<void> },
  out: (line: string) => void,
): Promise<{ factory: LocalSqlFactory; opened: Record<string, SqlClient> }> {
  const factory = new LocalSqlFactory();
  const opened: Record<string, SqlClient> = {};
  for (const [url, c] of Object.entries(opts.clients ?? {})) factory.register(url, c);
  const urls = [raw?.source?.url, raw?.target?.url].filter((u): u is string => typeof u === 'string');
  const seedFiles: string[] = Array.isArray(raw?.local?.seed) ? raw.local.seed : [];
  for (const url of new Set(urls)) {
    try {
      const fresh = !opts.clients?.[url];
      const client = await factory.open(url);
      const embedded = factory.pglite(url);
      if (fresh && url === raw.source?.url && seedFiles.length && (embedded || opts.seed)) {
        for (const f of seedFiles) {
          const sql = await readFile(f, 'utf8');
          if (embedded) await embedded.exec(sql);
          else {
            // One connection for the whole seed: session settings and temp tables carry over.
            const statements = splitStatements(sql, client.dialect);
            await client.transaction(async (tx) => {
              for (const s of statements) await tx.query(s.sql);
            });
          }
          out(`seeded ${client.label} from ${path.relative(process.cwd(), f)}`);
        }
      }
      opened[url] = client;
      await opts.onOpen?.(url, client);
    } catch (e) {
      out(`warning: cannot open ${redactUrl(url)}: ${(e as Error).message.split(url).join(redactUrl(url))}`);
    }
  }
  return { factory, opened };
}
