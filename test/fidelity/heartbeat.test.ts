/**
 * Fidelity: Step Functions' rule for a task's heartbeat. HeartbeatSeconds must be smaller than TimeoutSeconds
 * (a Path value that is not fails the state at run time with States.Runtime, which no Catch takes); when no
 * heartbeat arrives in time the task fails with States.HeartbeatTimeout. The local runner used to drop
 * HeartbeatSecondsPath, so a spec as run with heartbeat = timeout (the old default) passed locally and would have
 * failed every go/no-go in AWS.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { LocalTaskTokens } from '../../lambdas/adapters/local/approval/tokens';
import { specAsRun } from '../../lambdas/core/pipeline';
import { miniSpec, readJson, tempDir } from '../support/local-run';

describe('heartbeat below the timeout', () => {
  it('the spec as run always carries a heartbeat strictly below the timeout (the default was equal to it)', async () => {
    const r = specAsRun({ ...(await miniSpec({ runId: 'hb-default' })), approval: { timeoutSeconds: 3600 } }, 'local');
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.spec.approval.heartbeatSeconds).toBeLessThan(r.spec.approval.timeoutSeconds);
  });

  it('a spec with heartbeatSeconds equal to timeoutSeconds is invalid: cutline validate exits 2 naming the field', async () => {
    const spec = await miniSpec({ runId: 'hb-equal' });
    spec.approval = { timeoutSeconds: 600, heartbeatSeconds: 600 };
    const f = path.join(await tempDir(), 'spec.json');
    await writeFile(f, JSON.stringify(spec));
    const err: string[] = [];
    expect(await main(['validate', f], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(EXIT.BAD_INPUT);
    expect(err.join('\n')).toContain('$.approval.heartbeatSeconds: got 600; expected less than approval.timeoutSeconds (600)');
  });

  it('a task token without a heartbeat in time fails with States.HeartbeatTimeout; a heartbeat keeps it alive; a late one is TaskTimedOut', async () => {
    vi.useFakeTimers();
    try {
      const tokens = new LocalTaskTokens();
      const a = tokens.mint({ heartbeatMs: 1000 });
      await vi.advanceTimersByTimeAsync(900);
      await tokens.heartbeat(a.token);
      await vi.advanceTimersByTimeAsync(900);
      await tokens.succeed(a.token, { ok: true });
      await expect(a.wait).resolves.toEqual({ ok: true });
      const b = tokens.mint({ heartbeatMs: 1000 });
      await vi.advanceTimersByTimeAsync(1001);
      await expect(b.wait).rejects.toMatchObject({ name: 'States.HeartbeatTimeout' });
      await expect(tokens.heartbeat(b.token)).rejects.toMatchObject({ name: 'TaskTimedOut' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a local run whose go/no-go nobody opens within heartbeatSeconds ends NO_GO / APPROVAL_TIMEOUT', async () => {
    const evidenceDir = await tempDir();
    const spec = await miniSpec({ runId: 'hb-nobody' });
    spec.approval = { ...spec.approval, timeoutSeconds: 600, heartbeatSeconds: 1 };
    const r = await runLocal({ spec, evidenceDir, workDir: await tempDir('cutline-work-'), approval: { kind: 'page-only' }, out: () => {} });
    expect([r.outcome, r.classification]).toEqual(['NO_GO', 'APPROVAL_TIMEOUT']);
    const classify = await readJson(path.join(evidenceDir, 'hb-nobody', '98_classify.json')).catch(() => undefined);
    if (classify) expect(JSON.stringify(classify)).toContain('States.HeartbeatTimeout');
  }, 120_000);
});
