/**
 * A gates-only run of many chunks on real PostgreSQL, held against `cutline estimate`'s numbers for it.
 *
 * CI runs a sample (CUTLINE_SCALE_GATE_ROWS, default 20,000 rows in 10-row chunks: 2,000 chunks); `npm run test:scale`
 * runs the acceptance size: 1,000,000 rows in 50-row chunks, 20,000 chunks, GO with the runner under 1 GB, and the
 * estimate within 2x of the actual chunks and rows/s (a timing comparison: only at full size, never in the CI sample).
 */
import path from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { estimateRun } from '../../cli/commands/estimate';
import { runLocal } from '../../cli/runner/run';
import { RunSpec } from '../../lambdas/core/spec';
import { dropDatabase, freshDatabase, pgQuery } from '../support/databases';
import { tempDir } from '../support/local-run';

const PG = process.env.CUTLINE_TEST_PG_URL;
const ROWS = Number(process.env.CUTLINE_SCALE_GATE_ROWS ?? 20_000);
const CHUNK_ROWS = Number(process.env.CUTLINE_SCALE_GATE_CHUNK_ROWS ?? 10);
const FULL = ROWS >= 1_000_000;

describe.skipIf(!PG)(`a gates-only run of ${ROWS / CHUNK_ROWS} chunks (real PostgreSQL)`, () => {
  it('ends GO with the runner under 1 GB; cutline estimate foresaw its chunks (and at full size its rows/s) within 2x', async () => {
    const [src, dst] = [await freshDatabase(PG!, 'cutline_scale_gsrc'), await freshDatabase(PG!, 'cutline_scale_gdst')];
    try {
      for (const url of [src, dst])
        await pgQuery(
          url,
          `CREATE TABLE items (id bigint PRIMARY KEY, a int, b text, c timestamptz); INSERT INTO items SELECT g, g % 97, 'v' || g, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, ${ROWS}) g`,
        );
      const raw = {
        version: 1,
        runId: 'scale-gates',
        owner: 'dba@example.com',
        tCutover: '2026-12-01T02:00:00Z',
        source: { engine: 'postgres', url: src },
        target: { engine: 'postgres', url: dst },
        gates: { methods: ['fast', 'exact'], tables: [{ table: 'items' }], initialChunkRows: CHUNK_ROWS, maxChunkRows: CHUNK_ROWS, maxConcurrency: 8, recheck: 1 },
      };
      const estimate = (await estimateRun(RunSpec.parse(raw), raw, { out: () => {}, err: () => {}, env: {} }))!;
      const lines: string[] = [];
      const r = await runLocal({ spec: raw, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
      expect([r.outcome, r.reason], lines.filter((l) => /failed|NO_GO/.test(l)).join('\n')).toEqual(['GO', 'every gate passed, approved, cut over, smoke checks passed']);
      const peakRss = process.resourceUsage().maxRSS * 1024;
      expect(peakRss).toBeLessThan(1024 ** 3);
      const gates = JSON.parse(await readFile(path.join(r.evidenceDir, '07_gates.json'), 'utf8'));
      const { estimate: kept, actual } = gates.details.scale;
      // The estimate the run kept (GatePlan's, before planning) and the one `cutline estimate` printed: same model.
      expect(kept.chunks / actual.chunks).toBeGreaterThan(0.5);
      expect(kept.chunks / actual.chunks).toBeLessThan(2);
      expect(estimate.chunks / actual.chunks).toBeGreaterThan(0.5);
      expect(estimate.chunks / actual.chunks).toBeLessThan(2);
      expect(actual.rows).toBe(ROWS);
      const rate = actual.rowsPerSecond / estimate.rowsPerSecond;
      if (FULL) {
        expect(rate).toBeGreaterThan(0.5);
        expect(rate).toBeLessThan(2);
      }
      expect(await readFile(path.join(r.evidenceDir, 'report.html'), 'utf8')).toContain('Estimate vs actual');
      // Every check of every chunk, one line each, written as Gates read the batch files; and each batch file's digest.
      const checks = (await readFile(path.join(r.evidenceDir, '07_gates/chunks.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      expect(checks).toHaveLength(2 * actual.chunks);
      expect(new Set(checks.map((c) => `${c.index}/${c.method}`)).size).toBe(2 * actual.chunks);
      const digests = (await readFile(path.join(r.evidenceDir, '07_gates/chunks.digests.jsonl'), 'utf8')).trim().split('\n');
      const named = digests.map((l) => JSON.parse(l).key as string);
      expect(named.filter((k) => k.includes('/07_gates/chunks/items/')).map((k) => k.split('/').at(-1)).sort()).toEqual((await readdir(path.join(r.evidenceDir, '07_gates/chunks/items'))).sort());
      expect(named.filter((k) => !k.includes('/07_gates/chunks/'))).toEqual(["scale-gates/07_gates/chunks.jsonl"]);
      console.log(
        `scale gates: ${actual.chunks} chunks (estimate ${estimate.chunks}) of ${ROWS} rows, GO; plan ${actual.planSeconds.toFixed(1)} s (estimate ${estimate.seconds.plan.toFixed(1)}), check ${actual.checkSeconds.toFixed(1)} s (estimate ${estimate.seconds.check.toFixed(1)}); ${actual.rowsPerSecond} rows/s (estimate ${estimate.rowsPerSecond}, ratio ${rate.toFixed(2)}); peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
      );
    } finally {
      await dropDatabase(PG!, 'cutline_scale_gsrc').catch(() => undefined);
      await dropDatabase(PG!, 'cutline_scale_gdst').catch(() => undefined);
    }
  }, 1_800_000);
});
