/**
 * Fidelity: when an iteration of a Map fails for good (no Retry left), the Map fails and Step Functions starts
 * none of the iterations still waiting. The local engine used to start every queued iteration after the failure:
 * chunks kept writing checkpoints while Classify and Summary ran, and evidence verify then failed with files
 * added after the manifest. Nothing may run after the run's end either: the runner waits for work in flight.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { miniSpec, tempDir } from '../support/local-run';

describe('a failing Map iteration', () => {
  it('stops the Map: no queued chunk runs after the failing one, and the sealed evidence verifies', async () => {
    const evidenceDir = await tempDir();
    const spec = await miniSpec({ runId: 'map-fails' });
    // One chunk at a time; the first chunk divides by zero on the lowest key, every later one would succeed.
    spec.backfill.maxConcurrency = 1;
    const t0 = spec.backfill.tasks[0];
    t0.sql = t0.sql.replace('BETWEEN :lo AND :hi', 'BETWEEN :lo AND :hi AND 1 / ("agent_id" - (SELECT min("agent_id") FROM "s3_cloudbackup_agents")) IS NOT NULL');
    const r = await runLocal({ spec, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'BACKFILL_FAILED']);
    const done = await readdir(path.join(evidenceDir, 'map-fails', '05_backfill'), { recursive: true }).catch(() => [] as string[]);
    expect(done.filter((f) => String(f).endsWith('.json'))).toEqual([]);
    const err: string[] = [];
    expect(await main(['evidence', 'verify', 'map-fails', '--evidence-dir', evidenceDir], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(EXIT.OK);
    expect(err).toEqual([]);
  }, 120_000);
});
