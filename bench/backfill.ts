/**
 * Backfill benchmark on the local PostgreSQL, ratios measured in this process:
 *   chunked in-place UUID backfill of a 1,000,000-row table (through
 *     SqlClient, 2 chunks at a time) / one set-based UPDATE of the same table;
 *     the longest chunk (= the longest any chunk holds its row locks)
 *   cross-database copy through cutline's copy task / pg_dump | pg_restore
 *     (and pgcopydb when installed) on the same data
 *   the jumpbox path (the same pg_dump | pg_restore through CommandRunner)
 *     / running it by hand
 */
import { execFileSync, execSync } from 'node:child_process';
import { runCommand } from '../lambdas/core/actions';
import { planRanges } from '../lambdas/core/backfill';
import { copyChunk } from '../lambdas/core/backfill-load';
import { RunSpec } from '../lambdas/core/spec';
import { LocalShellRunner } from '../lambdas/adapters/local/command-shell';
import { systemClock } from '../lambdas/adapters/local/runtime';
import { postgresClient } from '../lambdas/adapters/local/sql-postgres';
import { mapLimit } from '../lambdas/core/concurrency';
import type { Deps, SqlClient } from '../lambdas/ports';
import type { Figure } from './run';

const PG_URL = process.env.CUTLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const log = (m: string) => process.stderr.write(`${m}\n`);
const url = (db: string) => {
  const u = new URL(PG_URL);
  u.pathname = `/${db}`;
  return u.toString();
};
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
const has = (cmd: string) => {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function resetTable(c: SqlClient) {
  await c.query('DROP TABLE IF EXISTS bench_backfill');
  await c.query('CREATE TABLE bench_backfill (id bigint PRIMARY KEY, payload text NOT NULL, u uuid)');
  await c.query(`INSERT INTO bench_backfill SELECT g, repeat('x', 80) || g FROM generate_series(1, ${ROWS}) g`);
  await c.query('VACUUM ANALYZE bench_backfill');
}

export async function benchBackfill(): Promise<{ figures: Figure[]; ratios: Figure[] }> {
  const figures: Figure[] = [];
  const ratios: Figure[] = [];
  const admin = postgresClient(PG_URL);
  for (const db of ['bench_bf_src', 'bench_bf_dst']) {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${db}`);
  }
  await admin.close();
  const src = postgresClient(url('bench_bf_src'), { max: 4 });

  // In place: one set-based UPDATE vs chunks of 50,000 keys, 2 at a time.
  log(`loading ${ROWS} rows ...`);
  await resetTable(src);
  const setBased = await timed(() => src.query("UPDATE bench_backfill SET u = md5('r' || id::text)::uuid"));
  await resetTable(src);
  const chunks = planRanges('uuid', 1n, BigInt(ROWS), 50_000);
  let longest = 0;
  const chunked = await timed(() =>
    mapLimit(chunks, 2, async (c) => {
      const s = await timed(() => src.query("UPDATE bench_backfill SET u = md5('r' || id::text)::uuid WHERE id BETWEEN :lo AND :hi AND u IS NULL", { lo: Number(c.lo), hi: Number(c.hi) }));
      longest = Math.max(longest, s);
    }),
  );
  figures.push({ name: 'pg.uuid_backfill.set_based_s', value: +setBased.toFixed(3), unit: 's' });
  figures.push({ name: 'pg.uuid_backfill.chunked_s', value: +chunked.toFixed(3), unit: 's', note: `${chunks.length} chunks of 50,000, 2 at a time` });
  figures.push({ name: 'pg.uuid_backfill.longest_chunk_s', value: +longest.toFixed(3), unit: 's', note: 'goal < 1 s of lock hold per chunk' });
  ratios.push({ name: 'pg.uuid_backfill.chunked_vs_set_based', value: +(chunked / setBased).toFixed(2), unit: 'x', note: 'goal <= 1.5' });

  // Cross-database copy: cutline's copy task vs pg_dump | pg_restore (and pgcopydb).
  const dst = postgresClient(url('bench_bf_dst'), { max: 4 });
  const prepareDst = async () => {
    await dst.query('DROP TABLE IF EXISTS bench_backfill');
    await dst.query('CREATE TABLE bench_backfill (id bigint PRIMARY KEY, payload text NOT NULL, u uuid)');
  };
  await prepareDst();
  const spec = RunSpec.parse({
    version: 1,
    runId: 'bench',
    owner: 'bench',
    tCutover: '2026-11-21T02:00:00Z',
    source: { engine: 'postgres', url: url('bench_bf_src') },
    target: { engine: 'postgres', url: url('bench_bf_dst') },
    backfill: { tasks: [{ name: 'copy', table: 'bench_backfill', key: 'id', batchSize: 100_000, copyFrom: { database: 'source', table: 'bench_backfill' } }] },
  });
  const deps = { sql: (ref: { url?: string }) => (ref.url === url('bench_bf_src') ? src : dst), clock: systemClock } as unknown as Deps;
  const copyChunks = planRanges('copy', 1n, BigInt(ROWS), 100_000);
  const ours = await timed(() => mapLimit(copyChunks, 2, (c) => copyChunk(spec, spec.backfill.tasks[0]!, c, deps)));
  const copied = String((await dst.query('SELECT count(*) AS n FROM bench_backfill')).rows[0]!.n);
  if (copied !== String(ROWS)) throw new Error(`copy task copied ${copied} rows; expected ${ROWS}`);
  figures.push({ name: 'pg.copy.cutline_rows_per_s', value: Math.round(ROWS / ours), unit: 'rows/s', note: 'copy task, another database, pages under 1 MiB' });

  await prepareDst();
  const dumpCmd = `pg_dump --data-only -Fc -t bench_backfill '${url('bench_bf_src')}' | pg_restore --data-only -d '${url('bench_bf_dst')}'`;
  const byHand = await timed(async () => execSync(`bash -o pipefail -c "${dumpCmd.replace(/"/g, '\\"')}"`, { stdio: 'ignore' }));
  figures.push({ name: 'pg.copy.pg_dump_restore_rows_per_s', value: Math.round(ROWS / byHand), unit: 'rows/s' });
  ratios.push({ name: 'pg.copy.cutline_vs_pg_dump_restore', value: +(byHand / ours).toFixed(2), unit: 'x', note: 'rows/s of cutline / rows/s of pg_dump|pg_restore' });

  await prepareDst();
  const runner = new LocalShellRunner();
  const viaJumpbox = await timed(async () => {
    const r = await runCommand({ commands: runner, clock: systemClock } as unknown as Deps, 'local', `set -o pipefail; ${dumpCmd}`, 3600);
    if (r.exitCode !== 0) throw new Error(`jumpbox copy failed: ${r.stderr}`);
  });
  ratios.push({ name: 'pg.copy.jumpbox_vs_by_hand', value: +(viaJumpbox / byHand).toFixed(2), unit: 'x', note: 'goal <= 1.1' });

  if (has('pgcopydb')) {
    await prepareDst();
    const pc = await timed(async () =>
      execFileSync('pgcopydb', ['copy', 'table-data', '--source', url('bench_bf_src'), '--target', url('bench_bf_dst'), '--table-jobs', '2', '--dir', `/tmp/pgcopydb-bench-${process.pid}`], { stdio: 'ignore' }),
    ).catch((e) => {
      log(`pgcopydb failed: ${(e as Error).message.split('\n')[0]}`);
      return Number.NaN;
    });
    if (!Number.isNaN(pc)) {
      figures.push({ name: 'pg.copy.pgcopydb_rows_per_s', value: Math.round(ROWS / pc), unit: 'rows/s' });
      ratios.push({ name: 'pg.copy.cutline_vs_pgcopydb', value: +(pc / ours).toFixed(2), unit: 'x', note: 'rows/s of cutline / rows/s of pgcopydb' });
    }
  } else log('pgcopydb is not installed (Debian package pgcopydb): skipped');

  await Promise.all([src.close(), dst.close()]);
  const cleanup = postgresClient(PG_URL);
  for (const db of ['bench_bf_src', 'bench_bf_dst']) await cleanup.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await cleanup.close();
  return { figures, ratios };
}
