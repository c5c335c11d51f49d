/**
 * The estimate's model (docs/scale.md) on fixed numbers: chunk size from the sample, inline vs Distributed, batches,
 * requests and the dollars they cost at the prices file's prices; and `cutline estimate` on the embedded database.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { PGlite } from '@electric-sql/pglite';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { RANGE_SAMPLES } from '../../lambdas/core/compare/chunks';
import { estimateGates, type GateSample, gateBatchSize, measureGates, renderEstimate } from '../../lambdas/core/estimate';
import { PRICES } from '../../lambdas/core/prices';
import { RunSpec } from '../../lambdas/core/spec';
import { base } from '../support/spec-base';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../support/local-run';

const spec = (gates: Record<string, unknown> = {}) =>
  RunSpec.parse({ ...base, target: { engine: 'postgres', url: 'pglite://memory' }, gates: { methods: ['fast', 'exact'], tables: [{ table: 't' }], ...gates } });
const sample: GateSample = { rowsPerSecond: 200_000, callMs: 10, walkMs: 20, rows: 5000, concurrency: 4 };

describe('estimateGates', () => {
  it('sizes chunks at the planner’s fixed point and counts each table’s open end', () => {
    const e = estimateGates(spec(), [{ table: 't', rows: 1_000_000, from: 'catalog' }], sample, 'aws');
    // 200,000 rows/s x (0.5 s - 10 ms) = 98,000 rows a chunk: 11 chunks and the open end.
    expect(e.chunkRows).toBe(98_000);
    expect(e.chunks).toBe(12);
    expect(e.distributed).toBe(false);
    // A query: 10 ms + 98,000 / 200,000 s = 0.5 s; two methods a chunk; 4 at once.
    expect(e.seconds.check).toBeCloseTo((12 * 2 * 0.5) / 4, 6);
  });

  it('above distributedAbove: child executions of batches, each transition, request and GB-s priced from the prices file', () => {
    const e = estimateGates(spec({ maxConcurrency: 16 }), [{ table: 't', rows: 1e9, from: 'catalog' }], sample, 'aws');
    expect(e.distributed).toBe(true);
    expect(e.batchSize).toBe(gateBatchSize(spec({ maxConcurrency: 16 }), 108));
    expect(e.batchSize).toBe(120); // 120 s / (0.5 s x 2 methods)
    expect(e.childExecutions).toBe(Math.ceil(e.chunks / 120));
    expect(e.lanes).toBe(16);
    const usd = e.stateTransitions * PRICES.stateTransition.usd + e.lambdaInvocations * PRICES.lambdaRequest.usd + e.s3.puts * PRICES.s3Put.usd + e.s3.gets * PRICES.s3Get.usd;
    expect(e.usd.orchestration).toBeGreaterThan(usd);
    expect(e.usd.orchestration - usd).toBeCloseTo(e.usd.lambda - e.lambdaInvocations * PRICES.lambdaRequest.usd, 2);
    // 10^9 rows for well under a dollar of orchestration.
    expect(e.usd.orchestration).toBeLessThan(1);
    expect(e.dataApiCalls).toBeGreaterThan(4 * e.chunks);
  });

  it('the Distributed Map runs distributedConcurrency children (16 by default), the inline Map maxConcurrency (4); a maxConcurrency set alone caps both', () => {
    const big = [{ table: 't', rows: 1e9, from: 'catalog' as const }];
    const small = [{ table: 't', rows: 1e6, from: 'catalog' as const }];
    expect(estimateGates(spec(), big, sample, 'aws').lanes).toBe(16);
    expect(estimateGates(spec(), small, sample, 'aws').lanes).toBe(4);
    expect(estimateGates(spec({ distributedConcurrency: 64 }), big, sample, 'aws').lanes).toBe(64);
    expect(estimateGates(spec({ maxConcurrency: 2 }), big, sample, 'aws').lanes).toBe(2);
    expect(estimateGates(spec({ maxConcurrency: 2, distributedConcurrency: 32 }), big, sample, 'aws').lanes).toBe(32);
    // 16 lanes check 10^9 rows four times as fast as the inline default would.
    const four = estimateGates(spec({ distributedConcurrency: 4 }), big, sample, 'aws');
    expect(four.seconds.check / estimateGates(spec(), big, sample, 'aws').seconds.check).toBeCloseTo(4, 1);
  });

  it('a table planned by key ranges takes RANGE_SAMPLES timed samples to plan, where a walked one takes a key step per chunk', () => {
    const walked = estimateGates(spec({ maxConcurrency: 16 }), [{ table: 't', rows: 1e9, from: 'catalog' }], sample, 'aws');
    const ranged = estimateGates(spec({ maxConcurrency: 16 }), [{ table: 't', rows: 1e9, from: 'catalog', ranged: true }], sample, 'aws');
    expect(ranged.chunks).toBe(walked.chunks);
    // 10,205 chunks x 20 ms a step + a 0.5 s sample every 16 chunks: over 8 minutes; by ranges: 4 samples, 2 s.
    expect(walked.seconds.plan).toBeGreaterThan(8 * 60);
    expect(ranged.seconds.plan).toBeCloseTo(RANGE_SAMPLES * 0.5, 6);
    expect(walked.dataApiCalls - ranged.dataApiCalls).toBeGreaterThan(walked.chunks);
    // Walked in 16 segments at once (a big table on PostgreSQL): a sixteenth of the time.
    const segmented = estimateGates(spec({ maxConcurrency: 16 }), [{ table: 't', rows: 1e9, from: 'catalog', segments: 16 }], sample, 'aws');
    expect(segmented.seconds.plan).toBeCloseTo(walked.seconds.plan / 16, 6);
  });

  it('locally a Distributed Map runs at most 8 children at once (the runner’s child concurrency)', () => {
    const e = estimateGates(spec({ maxConcurrency: 64, distributedAbove: 5 }), [{ table: 't', rows: 10_000_000, from: 'counted' }], sample, 'local');
    expect([e.distributed, e.lanes]).toEqual([true, 8]);
  });

  it('prints a dollar figure, a wall time and where the prices come from', () => {
    const lines = renderEstimate(estimateGates(spec(), [{ table: 't', rows: 1_000_000, from: 'catalog' }], sample, 'aws'));
    expect(lines.join('\n')).toMatch(/cost: \$\d+\.\d+ orchestration .* prices us-east-1 read \d{4}-\d\d-\d\d/);
    expect(lines.join('\n')).toMatch(/time: \d+(\.\d)? (s|min|h) \(plan/);
  });
});

describe('measureGates', () => {
  it('counts a table without statistics only up to the cap (a count of 10^9 rows would outlast the Data API’s 45 s) and says so', async () => {
    const db = await PGlite.create();
    try {
      const c = pgliteClient(db);
      await c.query("CREATE TABLE t (id int PRIMARY KEY, v text)");
      await c.query("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3000) g");
      const { tables } = await measureGates(spec({ initialChunkRows: 100, maxConcurrency: 1 }), { source: c, target: c }, systemClock, 1000);
      expect(tables).toEqual([{ table: 't', rows: 1000, from: 'at least' }]);
      expect(renderEstimate(estimateGates(spec(), tables, sample, 'aws'))[0]).toContain('t at least 1,000 (counted up to there: no statistics; ANALYZE it)');
    } finally {
      await db.close();
    }
  });
});

describe('cutline estimate', () => {
  it('measures the embedded database and prints chunks, requests, dollars and time; a spec without gate tables is a usage error', async () => {
    const dir = await tempDir();
    const seed = path.join(dir, 'seed.sql');
    await writeFile(seed, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3000) g;");
    const f = path.join(dir, 'spec.json');
    await writeFile(f, JSON.stringify({ ...base, source: { engine: 'postgres', url: 'pglite://memory' }, target: { engine: 'postgres', url: 'pglite://memory' }, local: { seed: [seed] }, gates: { methods: ['exact'], tables: [{ table: 't' }], initialChunkRows: 500, maxChunkRows: 500 } }));
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['estimate', f], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} })).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/3,000 rows in 1 table\(s\) \(t 3,000 counted\)/);
    expect(text).toMatch(/chunks: 7 of ~500 rows, inline Map/);
    expect(text).toMatch(/cost: \$/);
    await writeFile(f, JSON.stringify({ ...base, source: { engine: 'postgres', url: 'pglite://memory' }, target: { engine: 'postgres', url: 'pglite://memory' } }));
    expect(await main(['estimate', f], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(2);
    expect(err.join('\n')).toMatch(/gates\.tables is empty/);
  }, 60_000);
});
