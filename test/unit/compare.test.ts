/**
 * The chunked gate's parts on the embedded database, with a fake clock: planChunks (contiguous chunks covering every
 * row, sized from timed samples), drillDown (each differing key named once, as missing, extra or changed with its
 * columns), and aggregateGates (a checkpoint counts only for the chunk the plan names).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimDatabase } from '../../bench/sim-db';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { pgliteClient } from '../../lambdas/adapters/local/sql-postgres';
import { MIN_RANGE_DENSITY, planChunks, RANGE_SAMPLES } from '../../lambdas/core/compare/chunks';
import { drillDown } from '../../lambdas/core/compare/drilldown';
import { aggregateGates, checkGateBatch, planGates } from '../../lambdas/core/compare/stage';
import { buildTablePlan, type TablePlan } from '../../lambdas/core/compare/table-plan';
import { RunSpec } from '../../lambdas/core/spec';
import type { Clock, Deps, SqlClient } from '../../lambdas/ports';
import { tempDir } from '../support/local-run';
import { base } from '../support/spec-base';

/** Every now() is 100 ms after the previous one: each timed sample takes 100 ms. */
function steppingClock(): Clock {
  let t = Date.parse('2026-12-01T00:00:00Z');
  return {
    now: () => {
      t += 100;
      return new Date(t);
    },
    sleep: async () => {},
  };
}

let db: PGlite;
let c: SqlClient;
let plan: TablePlan;
beforeAll(async () => {
  db = await PGlite.create();
  c = pgliteClient(db);
  for (const t of ['src', 'dst']) {
    await c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v text NOT NULL, n int)`);
    await c.query(`INSERT INTO ${t} SELECT g, 'v' || g, g % 7 FROM generate_series(1, 5000) g`);
  }
  // One row missing on the target, one extra, one changed in v only.
  await c.query('DELETE FROM dst WHERE id = 10');
  await c.query("INSERT INTO dst VALUES (6000, 'new', 1)");
  await c.query("UPDATE dst SET v = 'changed' WHERE id = 4000");
  plan = await buildTablePlan({ source: c, target: c }, { table: 'src', targetTable: 'dst' });
});
afterAll(() => db?.close());

/** The client whose checksums move a fake clock on by `ms(rows, i)` for the i-th checksum (the rest take no time). */
function timedChecksums(ms: (rows: number, i: number) => number) {
  let t = Date.parse('2026-12-01T00:00:00Z');
  let i = 0;
  const clock: Clock = { now: () => new Date(t), sleep: async () => {} };
  const client: SqlClient = {
    ...c,
    query: async (sql, params) => {
      const r = await c.query(sql, params);
      if (/md5/.test(sql)) t += ms(Number(r.rows[0]!.n), i++);
      return r;
    },
  };
  return { client, clock, hashed: () => i };
}

describe('planChunks', () => {
  it('walks the key in contiguous chunks that hold every row once, the step resized from the timed sample', async () => {
    const out = await planChunks(c, plan, steppingClock(), { targetSeconds: 0.5, initialRows: 500, minRows: 100, maxRows: 2000, sampleEvery: 2, alpha: 1 });
    expect(out.chunks[0]!.lo).toBeNull();
    expect(out.chunks.at(-1)!.hi).toBeNull();
    for (let i = 1; i < out.chunks.length; i++) expect(out.chunks[i]!.lo).toEqual(out.chunks[i - 1]!.hi);
    expect(out.chunks.map((ch) => ch.index)).toEqual(out.chunks.map((_, i) => i));
    // 500 rows in 100 ms = 5,000 rows/s; 0.5 s a chunk is 2,500 rows, capped at maxRows.
    expect(out.samples[0]).toEqual({ rows: 500, ms: 100, rowsPerSecond: 5000 });
    expect(out.chunks[1]!.estRows).toBe(2000);
    let rows = 0;
    for (const ch of out.chunks) {
      const lo = ch.lo ? `id > ${ch.lo[0]}` : 'true';
      const hi = ch.hi ? `id <= ${ch.hi[0]}` : 'true';
      rows += Number((await c.query(`SELECT count(*)::int AS n FROM src WHERE ${lo} AND ${hi}`)).rows[0]!.n);
    }
    expect(rows).toBe(5000);
  });

  it('converges in the first chunks: a first sample 50x too fast (a small, cached chunk) does not size the chunks that follow', async () => {
    // The checksum takes 2 ms a row (500 rows/s), except the first, on a warm small chunk: 10 ms for all of it.
    const { client: slow, clock } = timedChecksums((n, i) => (i === 0 ? 10 : n * 2));
    const out = await planChunks(slow, plan, clock, { targetSeconds: 0.5, initialRows: 50, minRows: 10, maxRows: 5000, sampleEvery: 16, alpha: 0.5 });
    // 0.5 s at 500 rows/s is 250 rows: from the third chunk on, none is planned past twice that.
    expect(out.chunks.slice(2, 12).map((ch) => ch.estRows)).toEqual(Array(10).fill(250));
    expect(out.samples.slice(0, 4).map((s) => s.rowsPerSecond)).toEqual([5000, 500, 500, 500]);
  });

  it('sized under the gate load, measured once: the first sample also runs 4 at once (here 4x slower), every later one runs alone and is scaled by that', async () => {
    // Each checksum takes 2 ms a row of the clock; 4 at once take 4 times as long together (one server, busy).
    const { client: busy, clock, hashed } = timedChecksums((n) => n * 2);
    const out = await planChunks(busy, plan, clock, { targetSeconds: 0.5, initialRows: 250, minRows: 10, maxRows: 5000, sampleEvery: 16, alpha: 0.5, concurrency: 4 });
    // 500 rows/s alone, 125 under the load.
    expect(out.samples.map((s) => s.rowsPerSecond).slice(0, 3)).toEqual([125, 125, 125]);
    expect(out.slowdown).toBe(4);
    // One run alone and 4 at once for the first sample, then one run a sample: not 4 per sample.
    expect(hashed()).toBe(out.samples.length + 4);
  });

  it('stopped and gone on from where it stopped, it plans the same chunks as in one go', async () => {
    const opts = { targetSeconds: 0.5, initialRows: 300, minRows: 100, maxRows: 700, sampleEvery: 2, alpha: 1 };
    const whole = await planChunks(c, plan, steppingClock(), opts);
    let calls = 0;
    const part = await planChunks(c, plan, steppingClock(), opts, { stop: () => ++calls > 4 });
    expect([part.complete, part.chunks.length]).toEqual([false, 4]);
    const rest = await planChunks(c, plan, steppingClock(), opts, { from: part });
    expect(rest.complete).toBe(true);
    expect([...part.chunks, ...rest.chunks]).toEqual(whole.chunks);
  });
});

describe('planChunks by key ranges (a big table, one dense integer key)', () => {
  /** The client, counting its statements. */
  const counting = () => {
    const seen: string[] = [];
    const client: SqlClient = { ...c, query: (sql, params) => {
        seen.push(sql);
        return c.query(sql, params);
      },
    };
    return { client, seen };
  };
  const rowsIn = async (table: string, ch: { lo: readonly string[] | null; hi: readonly string[] | null }) =>
    Number((await c.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${ch.lo ? `id > ${ch.lo[0]}` : 'true'} AND ${ch.hi ? `id <= ${ch.hi[0]}` : 'true'}`)).rows[0]!.n);
  const opts = { targetSeconds: 0.5, initialRows: 500, minRows: 100, maxRows: 1000, sampleEvery: 2, alpha: 1, rangeAboveRows: 1000 };

  it('plans in a fixed number of statements whatever the rows, every row in one chunk, none over twice its target', async () => {
    // 40,000 keys from 101, a quarter deleted in a block (density 0.75, uneven): what the walk would read row by row.
    await c.query('CREATE TABLE big (id bigint PRIMARY KEY, v text)');
    await c.query("INSERT INTO big SELECT g, 'v' || g FROM generate_series(101, 40100) g");
    await c.query('DELETE FROM big WHERE id BETWEEN 20001 AND 30000');
    await c.query('ANALYZE big');
    const bigPlan = await buildTablePlan({ source: c, target: c }, { table: 'big' });
    const { client, seen } = counting();
    const out = await planChunks(client, bigPlan, steppingClock(), opts);
    // The estimate, min and max, and RANGE_SAMPLES timed samples: no statement per chunk.
    expect(seen.length).toBe(2 + RANGE_SAMPLES);
    expect(out.complete).toBe(true);
    expect(out.chunks.length).toBeGreaterThan(30);
    expect(out.chunks[0]!.lo).toBeNull();
    expect(out.chunks.at(-1)!.hi).toBeNull();
    for (let i = 1; i < out.chunks.length; i++) expect(out.chunks[i]!.lo).toEqual(out.chunks[i - 1]!.hi);
    let total = 0;
    for (const ch of out.chunks) {
      const n = await rowsIn('big', ch);
      expect(n).toBeLessThanOrEqual(ch.estRows / MIN_RANGE_DENSITY);
      total += n;
    }
    expect(total).toBe(30_000);
  });

  it('walks a sparse key (ranges could hold many times their target) and a table the catalog calls small', async () => {
    await c.query('CREATE TABLE sparse (id bigint PRIMARY KEY, v text)');
    await c.query("INSERT INTO sparse SELECT g * 10, 'v' || g FROM generate_series(1, 5000) g");
    await c.query('ANALYZE sparse');
    const sparsePlan = await buildTablePlan({ source: c, target: c }, { table: 'sparse' });
    for (const rangeAboveRows of [1000, 10_000]) {
      const { client, seen } = counting();
      const out = await planChunks(client, sparsePlan, steppingClock(), { ...opts, rangeAboveRows });
      expect(seen.filter((q) => q.includes('LIMIT 1 OFFSET')).length).toBe(out.chunks.length);
      let total = 0;
      for (const ch of out.chunks) total += await rowsIn('sparse', ch);
      expect(total).toBe(5000);
    }
  });
});

describe('planGates past 125,000 chunks', () => {
  it('plans a 3,000,000-row table in 10-row chunks by key ranges: 300,000 chunks (the last open-ended), every one in items.jsonl once', async () => {
    // The simulated database of the scale bench, with no latency: what is measured is the plan, not the database.
    const db = new SimDatabase(3_000_000, { callMs: 0, rowsPerSecond: 1e12, walkMsPer1000: 0 });
    const evidence = new FsEvidenceStore(await tempDir());
    const spec = RunSpec.parse({
      ...base,
      runId: 'plan-big',
      source: { engine: 'postgres', url: 'postgres://sim/src' },
      target: { engine: 'postgres', url: 'postgres://sim/dst' },
      gates: { methods: ['fast', 'exact'], tables: [{ table: 'items' }], initialChunkRows: 10, maxChunkRows: 10 },
    });
    const deps = { sql: () => db.client('sim'), evidence, clock: steppingClock(), progress: () => {}, logger: { info() {}, warn() {}, error() {} } } as never as Deps;
    const { items, file, count } = await planGates(spec, deps);
    expect(file.tables.map((t) => t.error)).toEqual([undefined]);
    // Too many to travel in the state: counted, written to items.jsonl (streamed from 150 pages of 2,000), not returned.
    expect([count, items]).toEqual([300_000, undefined]);
    expect(file.tables[0]!.pages).toBe(150);
    const kept = Buffer.from((await evidence.get('plan-big/07_gates/items.jsonl'))!)
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number; lo: string[] | null; hi: string[] | null });
    expect(kept.map((i) => i.index)).toEqual(Array.from({ length: 300_000 }, (_, i) => i));
    expect([kept[0]!.lo, kept.at(-1)!.hi]).toEqual([null, null]);
    for (let i = 1; i < kept.length; i++) if (kept[i]!.lo![0] !== kept[i - 1]!.hi![0]) throw new Error(`chunk ${i} does not start where ${i - 1} ends`);
  });
});

describe('drillDown', () => {
  it('names each differing key once: missing, extra, changed with its columns, through several bucket levels', async () => {
    const r = await drillDown({ source: c, target: c }, plan, { lo: null, hi: null }, { buckets: 4, leafRows: 100, maxDiffs: 10, maxLevels: 4 });
    expect(r.diffs).toEqual([
      { key: '10', kind: 'missing' },
      { key: '4000', kind: 'changed', columns: ['v'] },
      { key: '6000', kind: 'extra' },
    ]);
    expect(r.truncated).toBe(false);
    // 4 buckets a level over ~5,000 rows: it went below the first level before reading keys.
    expect(r.queries).toBeGreaterThan(4);
  });

  it('stops at maxDiffs and says the list is cut', async () => {
    const r = await drillDown({ source: c, target: c }, plan, { lo: null, hi: null }, { buckets: 4, leafRows: 100, maxDiffs: 2, maxLevels: 4 });
    expect([r.diffs.length, r.truncated]).toEqual([2, true]);
  });
});

describe('work across invocations (WorkStillRunning)', () => {
  async function setup(runId: string) {
    const dir = await tempDir();
    const evidence = new FsEvidenceStore(dir);
    const spec = RunSpec.parse({
      ...base,
      runId,
      target: { engine: 'postgres', url: 'pglite://memory' },
      gates: { methods: ['fast', 'exact'], tables: [{ table: 'src', targetTable: 'src' }], initialChunkRows: 250, maxChunkRows: 250 },
    });
    const deps = { sql: () => c, evidence, clock: steppingClock(), progress: () => {}, logger: { info() {}, warn() {}, error() {} } } as never as Deps;
    return { spec, deps, evidence, dir };
  }
  /** An invocation whose time runs out after `calls` looks at the clock (each look: ample time, then 10 s). */
  const runningOut = (calls: number) => {
    let n = 0;
    return () => (++n > calls ? 10_000 : 900_000);
  };

  it('GatePlan keeps its walk when its time is up; the next invocation goes on from there and plans what one invocation would', async () => {
    const once = await setup('plan-once');
    const whole = await planGates(once.spec, once.deps);
    const g = await setup('plan-twice');
    await expect(planGates(g.spec, g.deps, runningOut(8))).rejects.toMatchObject({ name: 'WorkStillRunning', message: expect.stringMatching(/^src: \d+ chunks planned so far \(kept\)/) });
    const walk = JSON.parse(Buffer.from((await g.evidence.get(`${g.spec.runId}/07_gates/plan/src.walk-00.json`))!).toString());
    // The walk's progress is small (where it stopped); the chunks are in pages beside it.
    expect(walk.next).toBeGreaterThan(0);
    expect(walk.pages).toBe(1);
    expect(await g.evidence.keys(`${g.spec.runId}/07_gates/plan/src.chunks/`)).toEqual([`${g.spec.runId}/07_gates/plan/src.chunks/00-000000.jsonl`]);
    expect(await g.evidence.get(`${g.spec.runId}/07_gates/plan.json`)).toBeUndefined();
    const next = await planGates(g.spec, g.deps, () => 900_000);
    expect(next.items).toEqual(whole.items);
    expect(next.items).toHaveLength(21); // 20 of 250 rows, and the open end after the last key
  });

  it('a plan whose pages do not tile the key (a chunk lost, or one out of place) is refused, never handed to the gates', async () => {
    const g = await setup('plan-broken');
    const whole = await planGates(g.spec, g.deps);
    expect(whole.count).toBe(21);
    const page = `${g.spec.runId}/07_gates/plan/src.chunks/00-000000.jsonl`;
    const lines = Buffer.from((await g.evidence.get(page))!).toString().trim().split('\n');
    const replan = async (body: string) => {
      await g.evidence.put(page, body);
      await rm(path.join(g.dir, `${g.spec.runId}/07_gates/plan.json`), { force: true });
      return planGates(g.spec, g.deps);
    };
    const renumbered = (ls: string[]) => ls.map((l, i) => JSON.stringify({ ...JSON.parse(l), index: i })).join('\n');
    // Chunk 7 dropped (its rows would be read by no gate), the rest renumbered so only the gap gives it away.
    await expect(replan(renumbered(lines.filter((_, i) => i !== 7)))).rejects.toThrow(/the gate plan of src is broken at chunk 7: it starts after \["2000"\], the chunk before ended at \["1750"\]/);
    await expect(replan(lines.slice(0, -1).join('\n'))).rejects.toThrow(/broken at chunk 20: the last chunk does not run to the end of the key/);
    await expect(replan([lines[1], lines[0], ...lines.slice(2)].join('\n'))).rejects.toThrow(/broken at chunk 0: found src#1/);
    expect((await replan(lines.join('\n'))).count).toBe(21);
  });

  it('a batch whose invocation runs out keeps the chunks it checked; the retry checks only the rest, and Gates counts each chunk once', async () => {
    const g = await setup('batch-twice');
    const { items } = await planGates(g.spec, g.deps);
    const queries: string[] = [];
    const counting = {
      ...c,
      query: (sql: string, p?: never) => {
        queries.push(sql);
        return c.query(sql, p);
      },
    } as SqlClient;
    const deps = { ...g.deps, sql: () => counting } as Deps;
    await expect(checkGateBatch(g.spec, items!, deps, runningOut(5))).rejects.toMatchObject({ name: 'WorkStillRunning', message: expect.stringMatching(/^5 of 21 chunks of the batch from src#0 checked \(kept\)/) });
    const firstPart = queries.length;
    const r = await checkGateBatch(g.spec, items!, deps, () => 900_000);
    expect(r).toMatchObject({ t: 'src', i: 0, n: 21, s: 'MATCH', skipped: 5, rows: 5000 });
    // 16 chunks checked the second time (the last one empty), as 5 were the first time.
    expect((queries.length - firstPart) / 16).toBeCloseTo(firstPart / 5, 5);
    expect(await g.evidence.keys(`${g.spec.runId}/07_gates/chunks/`)).toEqual([`${g.spec.runId}/07_gates/chunks/src/000000.jsonl`]);
    const [t] = await aggregateGates(g.spec, g.deps);
    expect(t).toMatchObject({ verdict: 'PASS', chunks: 21, exact: { matching: 21, source: '5000' } });
  });
});

describe('aggregateGates', () => {
  async function gated(methods: ('fast' | 'exact')[], targetTable = 'dst') {
    const evidence = new FsEvidenceStore(await tempDir());
    const spec = RunSpec.parse({
      ...base,
      target: { engine: 'postgres', url: 'pglite://memory' },
      gates: { methods, tables: [{ table: 'src', targetTable }], initialChunkRows: 1000, maxChunkRows: 1000 },
    });
    const deps = { sql: () => c, evidence, clock: steppingClock(), progress: () => {}, logger: { info() {}, warn() {}, error() {} } } as never as Deps;
    const { items } = await planGates(spec, deps);
    return { spec, deps, evidence, items: items! };
  }

  it('every planned chunk checked: the exact gate FAILs naming the keys; the fast gate alone sees the counts (equal here: one missing, one extra)', async () => {
    const g = await gated(['fast', 'exact']);
    for (const item of g.items) await checkGateBatch(g.spec, [item], g.deps);
    const [t] = await aggregateGates(g.spec, g.deps);
    expect(t).toMatchObject({ table: 'src', verdict: 'FAIL', chunks: g.items.length, fast: { source: '5000', target: '5000', diff: '0' } });
    expect(t!.diffs.map((d) => d.key)).toEqual(['10', '4000', '6000']);
  });

  it('a chunk without a checkpoint, or with one for another key range under its index, leaves the table INCONCLUSIVE, never PASS', async () => {
    // The table against itself: every checked chunk matches.
    const g = await gated(['fast', 'exact'], 'src');
    const [first, ...rest] = g.items;
    for (const item of rest) await checkGateBatch(g.spec, [item], g.deps);
    const missing = await aggregateGates(g.spec, g.deps);
    expect(missing[0]).toMatchObject({ verdict: 'INCONCLUSIVE' });
    expect(missing[0]!.reason).toMatch(/^1 of \d+ chunks have no result/);
    // A checkpoint written under another plan (same index, other range) does not count for this one.
    await g.evidence.put(`${g.spec.runId}/07_gates/chunks/src/000000.jsonl`, `${JSON.stringify({ ...first!, hi: ['1'], checks: [] })}\n`, 'application/x-ndjson');
    expect((await aggregateGates(g.spec, g.deps))[0]).toMatchObject({ verdict: 'INCONCLUSIVE' });
    // Its own checkpoint completes it.
    await checkGateBatch(g.spec, [first!], g.deps);
    expect((await aggregateGates(g.spec, g.deps))[0]).toMatchObject({ verdict: 'PASS', chunks: g.items.length });
  });

  it('reads the plan a page at a time beside the checkpoints, in plan order: overlapping batches, one across two tables, each chunk counted once', async () => {
    const evidence = new FsEvidenceStore(await tempDir());
    const spec = RunSpec.parse({
      ...base,
      runId: 'merge',
      target: { engine: 'postgres', url: 'pglite://memory' },
      gates: { methods: ['fast', 'exact'], tables: [{ table: 'src', targetTable: 'src' }, { table: 'dst', targetTable: 'dst' }], initialChunkRows: 500, maxChunkRows: 500 },
    });
    const deps = { sql: () => c, evidence, clock: steppingClock(), progress: () => {}, logger: { info() {}, warn() {}, error() {} } } as never as Deps;
    const { items } = await planGates(spec, deps);
    const all = items!;
    const split = all.findIndex((i) => i.table === 'dst');
    expect(split).toBeGreaterThan(8);
    // A batch from the start, one that overlaps it and runs into the second table, then one chunk at a time (the first
    // two again: a chunk with two checkpoints counts once).
    await checkGateBatch(spec, all.slice(0, 8), deps);
    await checkGateBatch(spec, all.slice(5, split + 3), deps);
    for (const item of [all[0]!, all[1]!, ...all.slice(split + 3)]) await checkGateBatch(spec, [item], deps);
    const read: { key: string; size: number }[] = [];
    const watched = { ...deps, evidence: Object.assign(Object.create(evidence), { get: async (k: string) => { const b = await evidence.get(k); read.push({ key: k, size: b?.length ?? 0 }); return b; } }) } as Deps;
    const lines: string[] = [];
    const reports = await aggregateGates(spec, watched, { lines: async (t) => void lines.push(t) });
    expect(reports.map((r) => [r.table, r.verdict, r.chunks, r.exact?.matching])).toEqual([
      ['src', 'PASS', split, split],
      ['dst', 'PASS', all.length - split, all.length - split],
    ]);
    // chunks.jsonl: every check of every chunk once, in plan order.
    const checks = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as { table: string; index: number; method: string });
    expect(checks.map((x) => `${x.table}#${x.index}:${x.method}`)).toEqual(all.flatMap((i) => [`${i.table}#${i.index}:fast`, `${i.table}#${i.index}:exact`]));
    // Memory that does not grow with the plan: items.jsonl (every chunk) is never read whole; the plan comes a page at a time.
    expect(read.map((r) => r.key)).not.toContain('merge/07_gates/items.jsonl');
    expect(read.filter((r) => r.key.includes('/plan/') && r.key.endsWith('.jsonl')).length).toBe(2);
  });
});
