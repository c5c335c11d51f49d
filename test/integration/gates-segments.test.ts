/**
 * A big table that has to be walked (a text key) is planned in segments walked at once on real PostgreSQL: boundaries
 * from a repeatable TABLESAMPLE, each segment walked to its boundary, and the pages streamed into one plan that tiles
 * the key (GatePlan checks it) and holds every row once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { postgresClient } from '../../lambdas/adapters/local/sql-postgres';
import { PLAN_SEGMENTS, RANGE_ABOVE_ROWS } from '../../lambdas/core/compare/chunks';
import { planGates } from '../../lambdas/core/compare/stage';
import { RunSpec } from '../../lambdas/core/spec';
import type { Deps, SqlClient } from '../../lambdas/ports';
import { dropDatabase, freshDatabase, pgQuery } from '../support/databases';
import { PG_URL } from '../support/env';
import { tempDir } from '../support/local-run';
import { base } from '../support/spec-base';

const DB = `cutline_segments_${process.pid}`;
const ROWS = RANGE_ABOVE_ROWS + 100_000;

describe.skipIf(!PG_URL)('GatePlan in segments (real PostgreSQL)', () => {
  let url: string;
  let client: SqlClient;
  beforeAll(async () => {
    url = await freshDatabase(PG_URL!, DB);
    await pgQuery(url, `CREATE TABLE tk (k text PRIMARY KEY, v int); INSERT INTO tk SELECT md5(g::text), g FROM generate_series(1, ${ROWS}) g; ANALYZE tk;`);
    client = postgresClient(url);
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await dropDatabase(PG_URL!, DB).catch(() => undefined);
  });

  it(`walks a ${ROWS.toLocaleString('en-US')}-row text-keyed table in ${PLAN_SEGMENTS} segments at once; the plan tiles the key and holds every row once`, async () => {
    const evidence = new FsEvidenceStore(await tempDir());
    const spec = RunSpec.parse({
      ...base,
      runId: 'segments',
      source: { engine: 'postgres', url },
      target: { engine: 'postgres', url },
      gates: { methods: ['fast'], tables: [{ table: 'tk' }], initialChunkRows: 20_000, maxChunkRows: 20_000 },
    });
    let inFlight = 0;
    let most = 0;
    const counting: SqlClient = {
      ...client,
      query: async (sql, params) => {
        if (!sql.includes('LIMIT 1 OFFSET')) return client.query(sql, params);
        most = Math.max(most, ++inFlight);
        try {
          return await client.query(sql, params);
        } finally {
          inFlight--;
        }
      },
    };
    const deps = { sql: () => counting, evidence, clock: systemClock, progress: () => {}, logger: { info() {}, warn() {}, error() {} } } as never as Deps;
    const { file, count } = await planGates(spec, deps);
    const t = file.tables[0]!;
    expect(t.error).toBeUndefined();
    expect(t.segmentPages).toHaveLength(PLAN_SEGMENTS);
    // The segments' walks ran at once (one walk step each in flight).
    expect(most).toBeGreaterThan(1);
    const items = Buffer.from((await evidence.get('segments/07_gates/items.jsonl'))!)
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number; lo: string[] | null; hi: string[] | null });
    expect(items).toHaveLength(count);
    expect(items.map((i) => i.index)).toEqual(items.map((_, i) => i));
    // Every row in exactly one chunk: the counts of all chunks add up to the table's rows.
    let rows = 0;
    for (const i of items) {
      const where = [i.lo ? `k COLLATE "C" > '${i.lo[0]}'` : 'true', i.hi ? `k COLLATE "C" <= '${i.hi[0]}'` : 'true'].join(' AND ');
      rows += Number((await client.query(`SELECT count(*)::int AS n FROM tk WHERE ${where}`)).rows[0]!.n);
    }
    expect(rows).toBe(ROWS);
  }, 300_000);

  it('a GatePlan whose time runs out keeps every segment where it stopped; the next invocation plans exactly what one would', async () => {
    // chunkSeconds 60: every step is maxChunkRows, so two plans of the same rows are the same chunks.
    const spec = (runId: string) =>
      RunSpec.parse({
        ...base,
        runId,
        source: { engine: 'postgres', url },
        target: { engine: 'postgres', url },
        gates: { methods: ['fast'], tables: [{ table: 'tk' }], initialChunkRows: 20_000, maxChunkRows: 20_000, chunkSeconds: 60 },
      });
    const deps = async () => ({ sql: () => client, evidence: new FsEvidenceStore(await tempDir()), clock: systemClock, progress: () => {}, logger: { info() {}, warn() {}, error() {} } }) as never as Deps;
    const items = async (d: Deps, runId: string) => Buffer.from((await d.evidence.get(`${runId}/07_gates/items.jsonl`))!).toString();
    const once = await deps();
    await planGates(spec('once'), once);
    const twice = await deps();
    let looks = 0;
    // Ample time for 40 looks at the clock, then 10 s left: every segment saves and the invocation ends.
    await expect(planGates(spec('once'), twice, () => (++looks > 40 ? 10_000 : 900_000))).rejects.toMatchObject({ name: 'WorkStillRunning' });
    expect(await twice.evidence.get('once/07_gates/items.jsonl')).toBeUndefined();
    expect((await twice.evidence.keys('once/07_gates/plan/')).filter((k) => /tk\.walk-\d\d\.json$/.test(k)).length).toBeGreaterThan(1);
    const next = await planGates(spec('once'), twice, () => 900_000);
    expect(next.file.tables[0]!.error).toBeUndefined();
    expect(await items(twice, 'once')).toBe(await items(once, 'once'));
  }, 300_000);
});
