/** The demo runs the planner's output: the committed files must be exactly what `npm run demo:plan` writes. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planDemo } from '../../examples/agent-uuid/plan';
import { filesUnder, tempDir } from '../support/local-run';

const DEMO = path.resolve(import.meta.dirname, '../../examples/agent-uuid');

describe('examples/agent-uuid uses cutline plan uuid', () => {
  it('migrations, contract, rollback and the spec sections equal a fresh plan (regenerate: npm run demo:plan)', async () => {
    const out = await tempDir('cutline-demo-plan-');
    const { spec } = await planDemo(out);
    for (const dir of ['migrations', 'contract', 'rollback']) {
      const fresh = await filesUnder(path.join(out, dir));
      expect(await filesUnder(path.join(DEMO, dir))).toEqual(fresh);
      for (const f of fresh) expect(await readFile(path.join(DEMO, dir, f), 'utf8'), f).toBe(await readFile(path.join(out, dir, f), 'utf8'));
    }
    const committed = JSON.parse(await readFile(path.join(DEMO, 'spec.json'), 'utf8'));
    for (const k of ['migrations', 'backfill', 'verify', 'cutover', 'rollback']) expect(committed[k], k).toEqual(spec[k]);
  }, 60_000);
});
