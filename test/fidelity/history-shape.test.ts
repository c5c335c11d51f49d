/**
 * Fidelity: the local execution history has GetExecutionHistory's shape (event ids, previousEventId, the type's
 * `*EventDetails`, input and output as JSON strings) and is written append-only, one event per line. Before, the
 * runner kept the engine's own event objects in memory (every Map iteration event carried the Map's whole input) and
 * re-serialized the whole history every 500 ms: 2,001 gate chunks ran out of memory at 5 GB.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { detailsKey } from '../../cli/engine/history';
import { runLocal } from '../../cli/runner/run';
import { miniSpec, readHistory, tempDir } from '../support/local-run';

describe('the local execution history', () => {
  it("is GetExecutionHistory's shape, event by event, and status reads it as it reads AWS", async () => {
    const evidenceDir = await tempDir();
    const r = await runLocal({ spec: await miniSpec({ runId: 'history-shape' }), evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect(r.outcome).toBe('GO');
    const events = await readHistory(path.join(evidenceDir, 'history-shape', 'execution-history.jsonl'));
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.previousEventId < e.id && typeof e.timestamp === 'string')).toBe(true);
    // Each event's data sits under its type's details key, input and output as strings (AWS's form).
    for (const e of events) for (const k of Object.keys(e)) if (!['id', 'previousEventId', 'timestamp', 'type'].includes(k)) expect(k).toBe(detailsKey(e.type));
    const exited = events.filter((e) => e.type.endsWith('StateExited'));
    expect(exited.every((e) => typeof e.stateExitedEventDetails.output === 'string')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionSucceeded' });
    expect(r.historyEvents).toBe(events.length);
    const out: string[] = [];
    expect(await main(['status', 'history-shape', '--evidence-dir', evidenceDir, '--json'], { out: (l) => out.push(l), err: () => {}, env: {} })).toBe(EXIT.OK);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ status: 'SUCCEEDED', stage: 'Done' });
  }, 120_000);
});
