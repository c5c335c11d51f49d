/**
 * Fidelity: the local history keeps what Step Functions' history shows of a state (name, type, output on exit, the
 * error), not the engine's copy of every state's input on every event, nor the Map's whole input on every
 * iteration event: kept verbatim, the mini cutover wrote 5 MB of history and 2,000 gate chunks ran out of memory.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compactEvent } from '../../cli/history-limit';
import { runLocal } from '../../cli/local-runner';
import { miniSpec, tempDir } from '../support/local-run';

describe('the local execution history', () => {
  it("an iteration event keeps the Map's name, not its input; a state event keeps its output on exit, not its input", () => {
    const big = { items: 'x'.repeat(1_000_000) };
    const it1 = compactEvent({ type: 'MapIterationStarted', timestamp: 1, index: 7, parentState: { name: 'GateChunksInline', type: 'Map', input: big } });
    expect(it1).toEqual({ type: 'MapIterationStarted', timestamp: 1, index: 7, parentState: { name: 'GateChunksInline' } });
    const exit = compactEvent({ type: 'StateExited', timestamp: 2, state: { name: 'Gates', type: 'Task', input: big, output: { ok: true } } });
    expect(exit).toEqual({ type: 'StateExited', timestamp: 2, state: { name: 'Gates', type: 'Task', output: { ok: true } } });
  });

  it('a whole run writes no state input into its history, and status and verify still read it', async () => {
    const evidenceDir = await tempDir();
    const r = await runLocal({ spec: await miniSpec({ runId: 'history-shape' }), evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect(r.outcome).toBe('GO');
    const text = await readFile(path.join(evidenceDir, 'history-shape', 'execution-history.json'), 'utf8');
    const events = JSON.parse(text) as { type: string; state?: { input?: unknown }; parentState?: { input?: unknown } }[];
    expect(events.filter((e) => e.state?.input !== undefined || e.parentState?.input !== undefined)).toEqual([]);
    expect(text.length).toBeLessThan(1_500_000);
  }, 120_000);
});
