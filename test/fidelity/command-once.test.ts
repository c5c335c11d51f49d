/**
 * Exactly once, for a jumpbox command at cutover. A kill between SendCommand and recording the command id left an
 * intent without an id; the resume sent the command again (the fault suite saw the workers reloaded twice). Now
 * every command runs behind a claim on the host named by the intent's token: a second send of the same intent
 * waits for the first one's exit code and reports it, and never runs the script again.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalShellRunner } from '../../lambdas/adapters/local/command-shell';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { runCutover } from '../../lambdas/core/actions';
import { canonicalJson } from '../../lambdas/core/evidence';
import { RunSpec } from '../../lambdas/core/spec';
import type { Deps } from '../../lambdas/ports';

describe('a cutover command interrupted between send and recording its id', () => {
  it('is not run again on resume: the same intent token finds the claim and its exit code', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cutline-once-'));
    const counter = path.join(dir, 'ran');
    const runId = `once-${process.pid}-${Date.now()}`;
    const spec = RunSpec.parse({
      version: 1,
      runId,
      owner: 'o',
      tCutover: '2026-12-01T00:00:00Z',
      source: { engine: 'postgres', url: 'pglite://memory' },
      jumpbox: { instanceId: 'local' },
      cutover: { actions: [{ type: 'command', script: `echo x >> ${counter}`, timeoutSeconds: 30 }] },
    });
    const evidence = new FsEvidenceStore(path.join(dir, 'evidence'));
    const deps = { evidence, commands: new LocalShellRunner('/bin/bash', path.join(dir, 'commands')), clock: { now: () => new Date(), sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)) }, progress: () => {} } as unknown as Deps;
    // The first attempt: its intent, then the command, then it was killed (no command id, no outcome recorded).
    // As the state machine's Wait loop does: call again with where it paused until the command has ended.
    const cutover = async () => {
      let step = await runCutover(spec, deps);
      for (let looks = 0; step.waiting && looks < 1500; looks++) {
        await new Promise((r) => setTimeout(r, 20));
        step = await runCutover(spec, deps, step.waiting);
      }
      if (step.waiting) throw new Error('the command did not end within 30 s');
      return step.actions;
    };
    const first = await cutover();
    expect(await readFile(counter, 'utf8')).toBe('x\n');
    const intentKey = `${runId}/10_cutover/actions/001.intent.json`;
    const intent = JSON.parse(Buffer.from((await evidence.get(intentKey))!).toString('utf8'));
    expect(intent.token).toMatch(/^[0-9a-f-]{36}$/);
    const { commandId: _sent, ...killed } = intent;
    await writeFile(path.join(dir, 'evidence', intentKey), canonicalJson(killed));
    await rm(path.join(dir, 'evidence', `${runId}/10_cutover/actions/001.json`));
    // The resume: the same action, the same intent token.
    const again = await cutover();
    expect(await readFile(counter, 'utf8')).toBe('x\n');
    expect(again[0]).toMatchObject({ ok: true, effect: 'ran-again' });
    expect(again[0]!.detail).toContain('already ran under an earlier attempt; its exit code: 0');
    expect(first[0]!.ok).toBe(true);
  }, 60_000);
});
