/**
 * Fidelity: a failing assertion's sample travels in the Verify result, inside the state: twenty wide rows (100 KB of
 * text each) made a 2 MB result, which Step Functions ends with States.DataLimitExceeded (no Catch takes it, so no
 * VERIFY_FAILED classification and a run that fails without saying why). The sample is now bounded in bytes.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/runner/run';
import { miniSpec, readHistory, tempDir } from '../support/local-run';

describe('a failing assertion with wide rows', () => {
  it('ends NO_GO / VERIFY_FAILED naming the assertion, its sample cut to a few KiB', async () => {
    const spec = await miniSpec({ runId: 'wide-violations' });
    spec.verify.assertions = [...(spec.verify.assertions ?? []), { name: 'no wide rows', sql: "SELECT g AS id, repeat('x', 100000) AS payload FROM generate_series(1, 20) g" }];
    const r = await runLocal({ spec, evidenceDir: await tempDir(), workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect([r.status, r.outcome, r.classification]).toEqual(['FAILED', 'NO_GO', 'VERIFY_FAILED']);
    expect(r.reason).toContain('no wide rows');
    const history = await readHistory(path.join(r.evidenceDir, 'execution-history.jsonl'));
    const entered = history.findIndex((e) => e.stateEnteredEventDetails?.name === 'Verify');
    const result = history.slice(entered).find((e) => e.type === 'TaskSucceeded').taskSucceededEventDetails.output;
    expect(result.length).toBeLessThan(64 * 1024);
    expect(JSON.parse(result).assertions).toContainEqual(expect.objectContaining({ name: 'no wide rows', ok: false, violations: 20 }));
  }, 120_000);
});
