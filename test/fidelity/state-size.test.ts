/**
 * Fidelity: Step Functions fails an execution whose state input or output passes 262,144 bytes
 * (States.DataLimitExceeded; no Catch takes it). Locally states grew without bound: a spec of 200 KiB (bundled
 * migrations) ran to GO, though in AWS the first state that carries it next to the results fails. Now the runner
 * enforces the limit, and a spec file may take at most half of it.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, main } from '../../cli/commands';
import { awsPayloadBytes, runLocal, STATE_PAYLOAD_LIMIT } from '../../cli/local-runner';
import { readJson, tempDir } from '../support/local-run';

const bigSpec = (runId: string) => ({
  version: 1,
  runId,
  owner: 'ops@example.com',
  tCutover: '2026-12-01T02:00:00Z',
  source: { engine: 'postgres', url: 'pglite://memory' },
  // 200 KiB of migration text travelling in the spec (a comment: the SQL itself is one small table).
  migrations: { location: 'bundled', files: [{ name: 'V1__items.sql', body: `-- ${'x'.repeat(200 * 1024)}\nCREATE TABLE items (id bigint PRIMARY KEY);\n` }] },
  verify: { rowCounts: 'before-vs-after', tables: [] },
});

describe('the 256 KiB state limit', () => {
  it("counts what AWS holds: the inline stand-in for a Distributed Map's items and results is not state in AWS", () => {
    const items = Array.from({ length: 5000 }, (_, i) => ({ t: 'orders', i, lo: String(i * 1000), hi: String(i * 1000 + 999) }));
    const state = { spec: { runId: 'x' }, results: { gatePlan: { distributed: true, count: 5000, itemsObjectKey: 'k', chunks: items }, gateChunk: items } };
    expect(awsPayloadBytes(state)).toBeLessThan(1000);
    expect(awsPayloadBytes({ ...state, results: { gatePlan: { distributed: false, chunks: items } } })).toBeGreaterThan(STATE_PAYLOAD_LIMIT);
  });

  it('a state past 262,144 bytes fails the execution with States.DataLimitExceeded, naming the state', async () => {
    const dir = await tempDir();
    const evidenceDir = path.join(dir, 'evidence');
    const lines: string[] = [];
    const r = await runLocal({ spec: bigSpec('too-big-state'), evidenceDir, workDir: path.join(dir, 'work'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
    expect(r.status).toBe('FAILED');
    expect(lines.join('\n')).toMatch(/execution failed: States\.DataLimitExceeded: the (input|output) of state \w+ is \d+ bytes; Step Functions allows 262144/);
    const history = await readJson(path.join(evidenceDir, 'too-big-state', 'execution-history.json'));
    expect(history.at(-1)).toMatchObject({ type: 'ExecutionFailed', Error: 'States.DataLimitExceeded' });
  }, 120_000);

  it('a spec file over 128 KiB is refused before anything runs (exit 2), naming the limit', async () => {
    const f = path.join(await tempDir(), 'spec.json');
    await writeFile(f, JSON.stringify(bigSpec('too-big-file')));
    const err: string[] = [];
    expect(await main(['validate', f], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(EXIT.BAD_INPUT);
    expect(err.join('\n')).toMatch(/is 2\d{5} bytes; expected at most 131072 \(half of Step Functions' 256 KiB state limit/);
  });
});
