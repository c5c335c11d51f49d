/**
 * Fidelity: Step Functions fails an execution whose state input or output passes 262,144 bytes
 * (States.DataLimitExceeded; no Catch takes it). Locally states grew without bound: a spec of 200 KiB (bundled
 * migrations) ran to GO, though in AWS the first state that carries it next to the results fails. Now the runner
 * enforces the limit, and a spec file may take at most half of it.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { readHistory, tempDir } from '../support/local-run';

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
  it('a state past 262,144 bytes fails the execution with States.DataLimitExceeded, naming the state', async () => {
    const dir = await tempDir();
    const evidenceDir = path.join(dir, 'evidence');
    const lines: string[] = [];
    const r = await runLocal({ spec: bigSpec('too-big-state'), evidenceDir, workDir: path.join(dir, 'work'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
    expect(r.status).toBe('FAILED');
    expect(lines.join('\n')).toMatch(/execution failed: States\.DataLimitExceeded: the (input|output|result) of state '\w+' has a size of \d+ bytes, exceeding the maximum of 262144 bytes/);
    const history = await readHistory(path.join(evidenceDir, 'too-big-state', 'execution-history.jsonl'));
    expect(history.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.DataLimitExceeded' } });
  }, 120_000);

  it('a spec file over 128 KiB is refused before anything runs (exit 2), naming the limit', async () => {
    const f = path.join(await tempDir(), 'spec.json');
    await writeFile(f, JSON.stringify(bigSpec('too-big-file')));
    const err: string[] = [];
    expect(await main(['validate', f], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(EXIT.BAD_INPUT);
    expect(err.join('\n')).toMatch(/is 2\d{5} bytes; expected at most 131072 \(half of Step Functions' 256 KiB state limit/);
  });
});
