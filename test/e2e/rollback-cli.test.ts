/** `cutline rollback <runId>`: after a GO, by hand: selector back, the uuid primary-key swap undone, recorded in the run's evidence. */
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { PG_URL } from '../support/env';
import { filesUnder, miniSpec, readJson, tempDir } from '../support/local-run';
import { dropDatabase, freshDatabase } from '../support/databases';

describe.runIf(!!PG_URL)('cutline rollback on a real PostgreSQL', () => {
  const db = `cutline_rollback_${process.pid}`;
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase(PG_URL!, db);
  });
  afterAll(async () => {
    await dropDatabase(PG_URL!, db);
  });

  it('undoes the swap and the selector flip of a finished run', async () => {
    const evidenceDir = await tempDir();
    const workDir = await tempDir('cutline-work-');
    const r = await runLocal({ spec: await miniSpec({ runId: 'rb-1' }), sourceUrl: url, seed: true, evidenceDir, workDir, approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: () => {} });
    expect(r.outcome).toBe('GO');
    const pkCol = async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const col = (await c.query("SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = 's3_cloudbackup_agents'::regclass AND i.indisprimary")).rows[0].col;
      await c.end();
      return col;
    };
    expect(await pkCol()).toBe('agent_uuid');
    const out: string[] = [];
    const code = await main(['rollback', 'rb-1', '--yes', '--evidence-dir', evidenceDir, '--work-dir', workDir], { out: (l) => out.push(l), err: (l) => out.push(l), env: {} });
    expect(code, out.join('\n')).toBe(EXIT.OK);
    expect(await pkCol()).toBe('agent_id');
    expect((await readJson(path.join(workDir, 'rb-1', 'parameters.json')))['/cloudbackup/prod/agent-identity']).toBe('agent_id');
    const manual = (await filesUnder(path.join(evidenceDir, 'rb-1'))).filter((f) => f.startsWith('12_rollback_manual_'));
    expect(manual).toHaveLength(1);
    expect((await readJson(path.join(evidenceDir, 'rb-1', manual[0]!))).result).toBe('PASS');
  }, 120_000);
});

describe('cutline rollback: bad input', () => {
  it('an unknown run is exit 2 naming where the spec was expected', async () => {
    const err: string[] = [];
    expect(await main(['rollback', 'no-such-run', '--evidence-dir', await tempDir()], { out: () => {}, err: (l) => err.push(l), env: {} })).toBe(EXIT.BAD_INPUT);
    expect(err[0]).toMatch(/no spec for run no-such-run at .*no-such-run\/spec\.json/);
  });
});
