/** The uuid examples run the planner's output: the committed files must be exactly what their plan scripts write. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planDemo } from '../../examples/agent-uuid/plan';
import { planSeed001 } from '../../examples/seed-001-phased-uuid/plan';
import { filesUnder, tempDir } from '../support/local-run';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');

/** The planner's files under `dir` against the committed ones, and the committed spec. */
async function sameFiles(dir: string, out: string) {
  for (const sub of ['migrations', 'contract', 'rollback']) {
    const fresh = await filesUnder(path.join(out, sub));
    expect(await filesUnder(path.join(dir, sub))).toEqual(fresh);
    for (const f of fresh) expect(await readFile(path.join(dir, sub, f), 'utf8'), f).toBe(await readFile(path.join(out, sub, f), 'utf8'));
  }
  return JSON.parse(await readFile(path.join(dir, 'spec.json'), 'utf8'));
}

describe('examples/agent-uuid uses cutline plan uuid', () => {
  it('migrations, contract, rollback and the spec sections equal a fresh plan (regenerate: npm run demo:plan)', async () => {
    const out = await tempDir('cutline-demo-plan-');
    const { spec } = await planDemo(out);
    const committed = await sameFiles(path.join(EXAMPLES, 'agent-uuid'), out);
    for (const k of ['migrations', 'backfill', 'verify', 'cutover', 'rollback']) expect(committed[k], k).toEqual(spec[k]);
  }, 60_000);
});

describe('examples/seed-001-phased-uuid uses cutline plan uuid', () => {
  it('the files, and each phase its groups key swaps with their rollback, equal a fresh plan (regenerate: npx tsx examples/seed-001-phased-uuid/plan.ts)', async () => {
    const out = await tempDir('cutline-seed-001-plan-');
    const { spec } = await planSeed001(out);
    const committed = await sameFiles(path.join(EXAMPLES, 'seed-001-phased-uuid'), out);
    for (const k of ['migrations', 'backfill', 'verify', 'phases']) expect(committed[k], k).toEqual(spec[k]);
    // Leaf tables (no foreign keys) first, each its own group; then the connected core group in one swap.
    expect(spec.phases.map((p) => [p.name, p.contract ?? []])).toEqual([
      ['leaf-tables', ['4', '5']],
      ['core-users', ['6', '7']],
      ['cleanup', []],
    ]);
  }, 60_000);
});
