/**
 * `npm run bench -- scale [chunks...]`: the real engine and handlers (the local runner, the deployed definition) over a
 * simulated database (bench/sim-db.ts) whose latency model is measured first on the real PostgreSQL. Gates-only runs of
 * 10,000 and 100,000 chunks (or the counts given). Figures: each run's wall time, plan and check seconds, chunks/s and
 * peak RSS; ratios: orchestration time per chunk vs database time per chunk, peak RSS at the largest vs the smallest
 * run (flat memory: about 1), and the modelled dollars and hours per 10^9 rows on AWS (docs/scale.md).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runLocal } from '../cli/runner/run';
import { postgresClient } from '../lambdas/adapters/local/sql-postgres';
import { systemClock } from '../lambdas/adapters/local/runtime';
import { AWS_DATA_API_CALL_MS, estimateGates, measureGates } from '../lambdas/core/estimate';
import { RunSpec } from '../lambdas/core/spec';
import type { SqlClient } from '../lambdas/ports';
import type { Figure } from './run';
import { type LatencyModel, SimDatabase } from './sim-db';

const PG_URL = process.env.CUTLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CHUNK_ROWS = 10;
const CONCURRENCY = 8;
/** The modelled AWS run: 16 chunks at once, one per vCPU of a 16-vCPU Aurora writer on each side (docs/scale.md). */
const MODEL_CONCURRENCY = 16;
/** node --expose-gc (the bench script sets it): collect before reading the live heap. */
const gc = (globalThis as { gc?: () => void }).gc;
const log = (m: string) => process.stderr.write(`${m}\n`);

/**
 * The latency model, measured on the real server with cutline estimate's own sample (measureGates: the real checksum
 * SQL on an 8-column table of 200,000 rows, a one-row check for the per-call cost, a 100,000-row key walk step).
 */
async function measure(c: SqlClient): Promise<LatencyModel> {
  await c.query('DROP TABLE IF EXISTS bench_scale_items');
  await c.query('CREATE TABLE bench_scale_items (id bigint PRIMARY KEY, a int, b int, c text, d timestamptz, e numeric(12,2), f boolean, g text)');
  await c.query(
    "INSERT INTO bench_scale_items SELECT i, i % 1000, i % 7, 'name ' || i, '2026-01-01'::timestamptz + i * interval '1 second', i * 1.25, i % 2 = 0, md5(i::text) FROM generate_series(1, 200000) i",
  );
  await c.query('ANALYZE bench_scale_items');
  const g = RunSpec.parse({ ...spec('measure', PG_URL), gates: { methods: ['exact'], tables: [{ table: 'bench_scale_items' }], initialChunkRows: 100_000, maxConcurrency: 1 } });
  const { sample } = await measureGates(g, { source: c, target: c }, systemClock);
  await c.query('DROP TABLE bench_scale_items');
  return { callMs: sample.callMs, rowsPerSecond: sample.rowsPerSecond, walkMsPer1000: Math.max(0, sample.walkMs - sample.callMs) / 100 };
}

function spec(runId: string, url: string) {
  const side = (db: string) => ({ engine: 'postgres', url: url.startsWith('postgres://sim') ? `${url}/${db}` : url });
  return {
    version: 1,
    runId,
    owner: 'bench@example.com',
    tCutover: '2026-12-01T02:00:00Z',
    source: side('src'),
    target: side('dst'),
    gates: { methods: ['fast', 'exact'], tables: [{ table: 'items' }], initialChunkRows: CHUNK_ROWS, maxChunkRows: CHUNK_ROWS, maxConcurrency: CONCURRENCY, distributedConcurrency: CONCURRENCY, recheck: 1 },
  };
}

async function run(chunks: number, model: LatencyModel) {
  const db = new SimDatabase(chunks * CHUNK_ROWS, model);
  const url = 'postgres://sim';
  const s = spec(`scale-${chunks}`, url);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutline-scale-'));
  let peak = 0;
  let live = 0;
  // The state the run is in, and the most heap in use seen in each (where a peak comes from).
  let state = '';
  const heapByState = new Map<string, number>();
  // Every 200 ms the RSS; every second, after a full collection, the live heap (what a state holds, garbage aside).
  let ticks = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
    if (!gc || ++ticks % 5) return;
    gc();
    const m = process.memoryUsage();
    live = Math.max(live, m.heapUsed);
    heapByState.set(state, Math.max(heapByState.get(state) ?? 0, m.heapUsed + m.arrayBuffers));
  }, 200);
  const t0 = Date.now();
  try {
    const r = await runLocal({
      spec: s,
      clients: { [`${url}/src`]: db.client('sim src'), [`${url}/dst`]: db.client('sim dst') },
      dataApi: false,
      evidenceDir: path.join(dir, 'evidence'),
      workDir: path.join(dir, 'work'),
      approval: { kind: 'auto', decision: 'approve', approver: 'bench', comment: '' },
      out: (l) => {
        if (/GO|NO_GO|gates: \d+ chunks planned/.test(l)) log(`  ${l.trim()}`);
        // At each state the run enters: what it still holds after a full collection (its live heap).
        if (/^> /.test(l)) state = l.slice(2).trim().split(/\s/)[0] ?? '';
        if (gc && /^> /.test(l)) {
          gc();
          live = Math.max(live, process.memoryUsage().heapUsed);
        }
      },
    });
    const wall = (Date.now() - t0) / 1000;
    if (r.outcome !== 'GO') throw new Error(`scale run of ${chunks} chunks ended ${r.outcome}: ${r.reason}`);
    const gates = JSON.parse(await readFile(path.join(r.evidenceDir, '07_gates.json'), 'utf8')) as { details: { scale?: { actual: { planSeconds: number; checkSeconds: number; chunks: number } } } };
    const actual = gates.details.scale!.actual;
    const top = [...heapByState].sort((a, b) => b[1] - a[1]).slice(0, 3);
    log(`  most live heap by state: ${top.map(([k, v]) => `${k} ${Math.round(v / 2 ** 20)} MiB`).join(', ')}`);
    return { chunks: actual.chunks, wall, plan: actual.planSeconds, check: actual.checkSeconds, peak, live, db };
  } finally {
    clearInterval(sampler);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchScale(args: string[]): Promise<{ figures: Figure[]; ratios: Figure[] }> {
  const sizes = (args.length ? args.map(Number) : [10_000, 100_000]).sort((a, b) => a - b);
  const pg = postgresClient(PG_URL);
  const model = await measure(pg).finally(() => pg.close());
  log(`latency model (PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ':***@')}): ${model.callMs.toFixed(2)} ms a call, ${model.rowsPerSecond} rows/s, walk ${model.walkMsPer1000.toFixed(3)} ms per 1,000 rows`);
  const figures: Figure[] = [
    { name: 'model call', value: Number(model.callMs.toFixed(3)), unit: 'ms' },
    { name: 'model read', value: model.rowsPerSecond, unit: 'rows/s' },
  ];
  const runs = [];
  for (const n of sizes) {
    log(`gates-only run of ${n.toLocaleString('en-US')} chunks on the simulated database...`);
    const r = await run(n, model);
    runs.push(r);
    figures.push(
      { name: `${n} chunks: wall`, value: Math.round(r.wall), unit: 's' },
      { name: `${n} chunks: plan`, value: Math.round(r.plan), unit: 's' },
      { name: `${n} chunks: check`, value: Math.round(r.check), unit: 's', note: `${Math.round(r.chunks / r.check)} chunks/s` },
      { name: `${n} chunks: peak RSS`, value: Math.round(r.peak / 2 ** 20), unit: 'MiB', note: 'what V8 took, garbage included' },
      { name: `${n} chunks: peak live heap`, value: Math.round(r.live / 2 ** 20), unit: 'MiB', note: 'after a full collection, sampled each second and as each state starts' },
    );
  }
  const big = runs.at(-1)!;
  const small = runs[0]!;
  // Per chunk and lane: the check phase's wall time at CONCURRENCY lanes vs the database time the simulation charged.
  const lanes = CONCURRENCY;
  // Fast then exact, each reading both sides at once: two statements' time a chunk.
  const dbPerChunk = 2 * (model.callMs + (CHUNK_ROWS * 1000) / model.rowsPerSecond);
  const wallPerChunk = (big.check * 1000 * lanes) / big.chunks;
  const perBillion = estimateGates(
    RunSpec.parse({ ...spec('model', 'postgres://sim'), gates: { methods: ['fast', 'exact'], tables: [{ table: 'items' }], maxConcurrency: MODEL_CONCURRENCY } }),
    [{ table: 'items', rows: 1e9, from: 'catalog', ranged: true }],
    // The walk step is the chunk the model plans (about rowsPerSecond x chunkSeconds rows).
    { rowsPerSecond: model.rowsPerSecond, callMs: model.callMs + AWS_DATA_API_CALL_MS, walkMs: model.callMs + AWS_DATA_API_CALL_MS + (model.walkMsPer1000 * model.rowsPerSecond * 0.5) / 1000, rows: 5000, concurrency: MODEL_CONCURRENCY },
    'aws',
  );
  const ratios: Figure[] = [
    { name: 'orchestration per chunk / database per chunk', value: Number(((wallPerChunk - dbPerChunk) / dbPerChunk).toFixed(2)), unit: 'x', note: `${(wallPerChunk - dbPerChunk).toFixed(2)} ms vs ${dbPerChunk.toFixed(2)} ms a chunk per lane at ${big.chunks} chunks` },
    { name: `peak live heap ${big.chunks} / ${small.chunks} chunks`, value: Number((big.live / small.live).toFixed(2)), unit: 'x', note: `${Math.round(big.live / 2 ** 20)} vs ${Math.round(small.live / 2 ** 20)} MiB` },
    { name: `peak RSS ${big.chunks} / ${small.chunks} chunks`, value: Number((big.peak / small.peak).toFixed(2)), unit: 'x', note: `${Math.round(big.peak / 2 ** 20)} vs ${Math.round(small.peak / 2 ** 20)} MiB` },
    { name: 'modelled $ per 10^9 rows (orchestration)', value: Number(perBillion.usd.orchestration.toFixed(3)), unit: '$', note: `+ $${perBillion.usd.dataApi.toFixed(2)} Data API; ${perBillion.chunks} chunks, ${MODEL_CONCURRENCY} at once` },
    { name: 'modelled hours per 10^9 rows', value: Number((perBillion.seconds.total / 3600).toFixed(2)), unit: 'h', note: `plan ${(perBillion.seconds.plan / 60).toFixed(0)} min, check ${(perBillion.seconds.check / 60).toFixed(0)} min` },
  ];
  return { figures, ratios };
}
