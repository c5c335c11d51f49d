/**
 * Scale on the faithful runner, real PostgreSQL: a backfill and a method gate of many chunks each end GO with every
 * execution's history under Step Functions' 25,000 events, every state under 256 KiB and the runner under 500 MB.
 * Before, the runner refused more than 1,000 backfill chunks, and died at 2,001 gate chunks (5 GB) and at 10,001.
 *
 * CI runs a sample (CUTLINE_SCALE_ROWS, default 3,000 rows: 300 backfill and 300 gate chunks of 10 rows, forced onto
 * the Distributed Map path); `npm run test:scale` runs the acceptance size: 30,000 rows, 3,000 + 3,000 chunks.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childHistories, HISTORY_FILE, readHistoryFile } from '../../cli/local-history';
import { runLocal } from '../../cli/runner/run';
import { STATE_PAYLOAD_LIMIT } from '../../cli/engine/engine';
import { HISTORY_EVENT_LIMIT } from '../../cli/engine/history';
import { dropDatabase, freshDatabase, pgQuery } from '../support/databases';
import { tempDir } from '../support/local-run';

const PG = process.env.CUTLINE_TEST_PG_URL;
const ROWS = Number(process.env.CUTLINE_SCALE_ROWS ?? 3000);
const CHUNK_ROWS = 10;

describe.skipIf(!PG)(`a run of ${ROWS / CHUNK_ROWS} backfill and ${ROWS / CHUNK_ROWS} gate chunks (real PostgreSQL)`, () => {
  it('ends GO within every Step Functions limit, each backfill chunk and each batch of gate chunks a child execution with its own history', async () => {
    const [src, dst] = [await freshDatabase(PG!, 'cutline_scale_src'), await freshDatabase(PG!, 'cutline_scale_dst')];
    try {
      await pgQuery(src, `CREATE TABLE items (id bigint PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, ${ROWS}) g`);
      await pgQuery(dst, `CREATE TABLE items (id bigint PRIMARY KEY, v text); INSERT INTO items SELECT g, NULL FROM generate_series(1, ${ROWS}) g`);
      const chunks = ROWS / CHUNK_ROWS;
      // The sample is too small for the default thresholds (1,000 chunks): it takes the Distributed Map path anyway.
      const distributedAbove = chunks >= 1000 ? undefined : 100;
      const spec = {
        version: 1,
        runId: 'scale-run',
        owner: 'dba@example.com',
        tCutover: '2026-12-01T02:00:00Z',
        source: { engine: 'postgres', url: src },
        target: { engine: 'postgres', url: dst },
        backfill: {
          tasks: [{ name: 'fill', table: 'items', key: 'id', batchSize: CHUNK_ROWS, sql: `UPDATE items SET v = 'v' || id WHERE id BETWEEN :lo AND :hi` }],
          maxConcurrency: 8,
          ...(distributedAbove ? { distributedAbove } : {}),
        },
        verify: { tables: ['items'] },
        gates: { methods: ['fast', 'exact'], tables: [{ table: 'items' }], initialChunkRows: CHUNK_ROWS, maxChunkRows: CHUNK_ROWS, maxConcurrency: 8, recheck: 1, ...(distributedAbove ? { distributedAbove } : {}) },
      };
      const evidenceDir = await tempDir();
      const lines: string[] = [];
      const t0 = Date.now();
      const r = await runLocal({ spec, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
      const seconds = (Date.now() - t0) / 1000;
      expect([r.outcome, r.reason], lines.filter((l) => /failed|NO_GO/.test(l)).join('\n')).toEqual(['GO', 'every gate passed, approved, cut over, smoke checks passed']);

      const parent = (await readHistoryFile(path.join(r.evidenceDir, HISTORY_FILE)))!;
      expect(parent.length).toBe(r.historyEvents);
      expect(parent.length).toBeLessThan(HISTORY_EVENT_LIMIT);
      const children = await childHistories(r.evidenceDir);
      const planned = (r.output as { results: { backfillPlan: { count: number }; gatePlan: { count: number; batchSize: number } } }).results;
      expect(planned.backfillPlan.count).toBeGreaterThanOrEqual(chunks);
      expect(planned.gatePlan.count).toBeGreaterThanOrEqual(chunks);
      // A child execution per backfill chunk, and per batch of gate chunks (ItemBatcher).
      expect(planned.gatePlan.batchSize).toBeGreaterThan(1);
      expect(children).toHaveLength(planned.backfillPlan.count + Math.ceil(planned.gatePlan.count / planned.gatePlan.batchSize));
      let largestChild = 0;
      let largestState = 0;
      for (const file of [path.join(r.evidenceDir, HISTORY_FILE), ...children]) {
        const events = (await readHistoryFile(file))!;
        largestChild = Math.max(largestChild, file.endsWith(HISTORY_FILE) ? 0 : events.length);
        expect(events.at(-1)?.type, file).toBe('ExecutionSucceeded');
        for (const e of events) {
          const d = (e.stateEnteredEventDetails ?? e.stateExitedEventDetails) as { input?: string; output?: string } | undefined;
          if (d) largestState = Math.max(largestState, Buffer.byteLength(d.input ?? d.output ?? ''));
        }
      }
      expect(largestState).toBeLessThan(STATE_PAYLOAD_LIMIT);
      const peakRss = process.resourceUsage().maxRSS * 1024;
      expect(peakRss).toBeLessThan(500 * 1024 * 1024);
      // The numbers the closing note and the README quote.
      console.log(
        `scale: ${planned.backfillPlan.count} backfill + ${planned.gatePlan.count} gate chunks, GO in ${seconds.toFixed(0)} s; parent history ${parent.length} events, largest child ${largestChild}; largest state ${largestState} B; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
      );
    } finally {
      await dropDatabase(PG!, 'cutline_scale_src').catch(() => undefined);
      await dropDatabase(PG!, 'cutline_scale_dst').catch(() => undefined);
    }
  }, 1_800_000);
});
