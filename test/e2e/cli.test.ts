/** The cutline CLI: exit codes, messages, `run --local` and `start` against mocked Step Functions. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { DEMO_SPEC, exists, miniSpec, tempDir } from '../support/local-run';

function io(env: NodeJS.ProcessEnv = {}, sfn?: SFNClient) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env, sfn } };
}

let dir: string;
beforeAll(async () => {
  dir = await tempDir('cutline-cli-');
});

describe('cutline validate', () => {
  it('exit 0 for the demo spec', async () => {
    const t = io();
    expect(await main(['validate', DEMO_SPEC], t.io)).toBe(EXIT.OK);
    expect(t.out[0]).toContain('valid run spec v1');
  });
  it('exit 2 listing every problem with its path', async () => {
    const f = path.join(dir, 'bad.json');
    await writeFile(f, JSON.stringify({ version: 1, runId: 'x y', owner: 'o', tCutover: '2026-11-21T00:00:00Z', source: { engine: 'db2', url: 'x' } }));
    const t = io();
    expect(await main(['validate', f], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.slice(1)).toEqual([
      '  $.runId: got "x y"; expected 1-80 letters, digits, "-" or "_" (it names the execution)',
      '  $.source.engine: got "db2"; Invalid option: expected one of "postgres"|"mysql"',
    ]);
  });
  it('exit 2 for a file that is not JSON, naming it', async () => {
    const f = path.join(dir, 'broken.json');
    await writeFile(f, '{ "version": 1, ');
    const t = io();
    expect(await main(['validate', f], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err[0]).toMatch(/spec .*broken\.json is not valid JSON/);
  });
  it('--platform aws flags local-only choices', async () => {
    const t = io();
    expect(await main(['validate', DEMO_SPEC, '--platform', 'aws', '--json'], t.io)).toBe(EXIT.BAD_INPUT);
    expect(JSON.parse(t.out.join('\n')).problems.map((p: { path: string }) => p.path)).toContain('$.source.url');
  });
});

describe('cutline run', () => {
  it('bad arguments are exit 2 with the value and what was expected', async () => {
    const t = io();
    expect(await main(['run', DEMO_SPEC, '--local', '--source-url', 'oracle://db'], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toContain('got "oracle://db"; expected pglite://memory, postgres://... or mysql://...');
    expect(await main(['run', DEMO_SPEC], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toContain('needs --local');
  });

  it('validate: required > 1 without a named approvers list is exit 2 (one person could cast every vote)', async () => {
    const f = path.join(dir, 'mofn.json');
    const spec = await miniSpec({ runId: 'cli-mofn' });
    spec.approval = { ...spec.approval, required: 2 };
    await writeFile(f, JSON.stringify(spec));
    const t = io();
    expect(await main(['validate', f], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toMatch(/\$\.approval\.required: .*2 approvals required without approval\.approvers; expected a named approvers list/);
    spec.approval.approvers = ['alice@example.com', 'bob@example.com'];
    await writeFile(f, JSON.stringify(spec));
    expect(await main(['validate', f], io().io)).toBe(EXIT.OK);
  });

  it('an invalid spec, a JSON null, a 10 MB spec: exit 2 with what was expected; no evidence written, no runId used up', async () => {
    const evidence = path.join(dir, 'evidence-bad');
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...(await miniSpec({ runId: 'cli-bad' })), owner: 42 }));
    const t = io();
    expect(await main(['run', bad, '--local', '--auto-approve', '--evidence-dir', evidence], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toMatch(/\$\.owner: got 42; expected/);
    const nul = path.join(dir, 'null.json');
    await writeFile(nul, 'null');
    const n = io();
    expect(await main(['run', nul, '--local', '--auto-approve', '--evidence-dir', evidence], n.io)).toBe(EXIT.BAD_INPUT);
    expect(n.err.join('\n')).toMatch(/run spec is invalid/);
    const big = path.join(dir, 'big.json');
    await writeFile(big, JSON.stringify({ ...(await miniSpec({ runId: 'cli-big' })), padding: 'x'.repeat(10 * 1024 * 1024) }));
    const b = io();
    expect(await main(['run', big, '--local', '--auto-approve', '--evidence-dir', evidence], b.io)).toBe(EXIT.BAD_INPUT);
    expect(b.err.join('\n')).toMatch(/is 104\d{5} bytes; expected at most 131072/);
    expect(await exists(evidence)).toBe(false);
  });

  it('--auto-approve by someone not on approval.approvers, or one vote where the spec needs two: exit 2 before anything runs, naming the approver and the list', async () => {
    const evidence = path.join(dir, 'evidence-approver');
    const f = path.join(dir, 'approvers.json');
    const spec = await miniSpec({ runId: 'cli-approver' });
    spec.approval = { ...spec.approval, approvers: ['alice@example.com', 'bob@example.com'] };
    await writeFile(f, JSON.stringify(spec));
    const t = io();
    expect(await main(['run', f, '--local', '--auto-approve', '--approver', 'mallory@example.com', '--evidence-dir', evidence], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toContain('--approver: got "mallory@example.com"; expected one of approval.approvers (alice@example.com, bob@example.com)');
    spec.approval = { ...spec.approval, required: 2 };
    await writeFile(f, JSON.stringify(spec));
    const two = io();
    expect(await main(['run', f, '--local', '--auto-approve', '--approver', 'alice@example.com', '--evidence-dir', evidence], two.io)).toBe(EXIT.BAD_INPUT);
    expect(two.err.join('\n')).toContain('--auto-approve: casts one vote, as alice@example.com; approval.required is 2, so the run could only time out; expected approval.required: 1, or the approvers answering from their own links');
    expect(await exists(evidence)).toBe(false);
    spec.approval = { ...spec.approval, required: 1 };
    await writeFile(f, JSON.stringify(spec));
    const ok = io();
    expect(await main(['run', f, '--local', '--auto-approve', '--approver', 'Alice@Example.com', '--json', '--evidence-dir', evidence], ok.io)).toBe(EXIT.OK);
    expect(JSON.parse(ok.out.join('\n'))).toMatchObject({ runId: 'cli-approver', outcome: 'GO' });
  }, 60_000);

  it('--auto-reject ends NO_GO (exit 1) with the classification in --json', async () => {
    const f = path.join(dir, 'mini.json');
    await writeFile(f, JSON.stringify(await miniSpec({ runId: 'cli-reject' })));
    const t = io();
    const code = await main(['run', f, '--local', '--auto-reject', '--json', '--evidence-dir', path.join(dir, 'evidence')], t.io);
    expect(code).toBe(EXIT.NO_GO);
    expect(JSON.parse(t.out.join('\n'))).toMatchObject({ runId: 'cli-reject', outcome: 'NO_GO', classification: 'APPROVAL_REJECTED' });
    const again = io();
    expect(await main(['run', f, '--local', '--auto-approve', '--evidence-dir', path.join(dir, 'evidence')], again.io)).toBe(EXIT.BAD_INPUT);
    expect(again.err.join('\n')).toContain('run cli-reject already finished');
  }, 60_000);
});

describe('cutline plan (dry run)', () => {
  it('lists pending SQL with locks, counts the rows each chunk would touch, and changes nothing', async () => {
    const spec = await miniSpec({ runId: 'cli-plan' });
    spec.backfill.tasks.unshift({
      name: 'reactivate',
      table: 's3_cloudbackup_agents',
      key: 'agent_id',
      batchSize: 10,
      sql: "UPDATE s3_cloudbackup_agents SET status = 'active' WHERE agent_id BETWEEN :lo AND :hi AND status <> 'active'",
    });
    spec.local.seed = [spec.local.seed[1]]; // full demo scale: agents 50, 100, ... 2000 are disabled
    spec.backfill.tasks = spec.backfill.tasks.slice(0, 2);
    spec.backfill.tasks[0].batchSize = 500;
    spec.tCutover = '2026-11-21T02:00:00Z';
    spec.backfill.tasks.push(
      { name: 'copy-agents', database: 'source', table: 'agents_copy', key: 'agent_id', batchSize: 1500, copyFrom: { database: 'source', table: 's3_cloudbackup_agents' } },
      { name: 'ledger', table: 'ledger', key: 'tx_id', load: { files: [path.join(import.meta.dirname, 'fixtures/ledger/ledger-1.jsonl')], format: 'jsonl', timeColumn: 'event_time', range: 'backfill' } },
    );
    const f = path.join(dir, 'plan.json');
    await writeFile(f, JSON.stringify(spec));
    const t = io();
    expect(await main(['plan', f, '--json'], t.io)).toBe(EXIT.OK);
    const d = JSON.parse(t.out.join('\n'));
    // A copy reads its source range (existing keys are kept, so at most that many rows); a load counts the file's rows inside the range contract.
    expect(d.backfill.filter((c: { task: string }) => c.task === 'copy-agents')).toEqual([
      { task: 'copy-agents', index: 0, lo: '1', hi: '1500', rows: 1500, upperBound: true, note: 'copies from s3_cloudbackup_agents (existing keys are kept)' },
      { task: 'copy-agents', index: 1, lo: '1501', hi: '2000', rows: 500, upperBound: true, note: 'copies from s3_cloudbackup_agents (existing keys are kept)' },
    ]);
    expect(d.backfill.find((c: { task: string }) => c.task === 'ledger')).toMatchObject({ rows: 3, upperBound: true, note: expect.stringMatching(/^loads .*ledger-1\.jsonl: 5 row\(s\), 2 outside \[2026-11-20T02:00:00\.000Z, 2026-11-21T01:59:59\.000Z\]/) });
    const text = io();
    expect(await main(['plan', f], text.io)).toBe(EXIT.OK);
    const total = d.backfill.reduce((n: number, c: { rows: number }) => n + c.rows, 0);
    expect(text.out.join('\n')).toContain(`Backfill: ${d.backfill.length} chunk(s) would touch at most ${total} row(s)`);
    expect(text.out.join('\n')).not.toContain('? row(s)');
    expect(d.schema.pending.map((p: { script: string }) => p.script)).toEqual(['V1__uuid_expand.sql', 'V2__uuid_indexes.sql', 'V3__uuid_foreign_keys.sql', 'V4__uuid_swap_group_1.sql', 'V5__uuid_validate_group_1.sql']);
    expect(d.schema.pending[1].statements[0].lock).toBe('SHARE UPDATE EXCLUSIVE (writes continue)');
    const re = d.backfill.filter((c: { task: string }) => c.task === 'reactivate');
    expect(re.map((c: { rows: number; upperBound?: boolean }) => [c.rows, !!c.upperBound])).toEqual([
      [10, false],
      [10, false],
      [10, false],
      [10, false],
    ]);
    const agents = d.backfill.filter((c: { task: string }) => c.task === 'uuid-s3-cloudbackup-agents');
    expect(agents[0]).toMatchObject({ rows: 200, upperBound: true }); // the mapping table does not exist before Schema: the key range is the bound
    expect(d.cutover).toEqual(['runtime selector: agents are identified by agent_uuid', 'reload web workers on the jumpbox']);
  }, 60_000);
});

describe('cutline lint', () => {
  it('exit 2 and the safe alternative for a blocking statement; exit 0 for the demo migrations', async () => {
    const d = path.join(dir, 'lint-me');
    await import('node:fs/promises').then((fs) => fs.mkdir(d, { recursive: true }));
    await writeFile(path.join(d, 'V1__idx.sql'), 'CREATE INDEX i ON orders (a);\n');
    const t = io();
    expect(await main(['lint', d], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toContain('V1__idx.sql:1 CL001 index built without CONCURRENTLY');
    expect(t.err.join('\n')).toContain('instead: CREATE INDEX CONCURRENTLY');
    const ok = io();
    expect(await main(['lint', path.resolve(DEMO_SPEC, '../migrations')], ok.io)).toBe(EXIT.OK);
  });
});

describe('cutline start', () => {
  const sfnm = mockClient(SFNClient);
  const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cutline';
  const awsSpec = {
    version: 1,
    runId: 'prod-2026-11-21',
    owner: 'ops@example.com',
    tCutover: '2026-11-21T02:00:00Z',
    source: { engine: 'postgres', dataApi: { resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:prod', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbC', database: 'app' } },
    approval: { channels: [{ type: 'email', topicArn: 'arn:aws:sns:eu-west-1:123456789012:approvals' }] },
  };

  it('names the execution by runId; starting twice reports the existing execution', async () => {
    const f = path.join(dir, 'aws.json');
    await writeFile(f, JSON.stringify(awsSpec));
    sfnm.reset();
    sfnm.on(StartExecutionCommand).resolvesOnce({ executionArn: `${arn}:x` }).rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    sfnm.on(DescribeExecutionCommand).resolves({ input: JSON.stringify(awsSpec) });
    const t = io({}, new SFNClient({ region: 'eu-west-1' }));
    expect(await main(['start', f, '--state-machine-arn', arn], t.io)).toBe(EXIT.OK);
    expect(sfnm.commandCalls(StartExecutionCommand)[0]!.args[0].input).toMatchObject({ stateMachineArn: arn, name: 'prod-2026-11-21' });
    expect(await main(['start', f, '--state-machine-arn', arn], t.io)).toBe(EXIT.OK);
    expect(t.out.at(-1)).toBe('already started prod-2026-11-21: arn:aws:states:eu-west-1:123456789012:execution:cutline:prod-2026-11-21');
  });

  it('validates first: a local spec starts nothing', async () => {
    sfnm.reset();
    const t = io({ DEMO_APP_URL: 'http://x' }, new SFNClient({ region: 'eu-west-1' }));
    expect(await main(['start', DEMO_SPEC, '--state-machine-arn', arn], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err.join('\n')).toContain('$.source.url');
    expect(sfnm.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('cutline rollback by hand', () => {
  it('guard rails (dry run, a run that never cut over, type or --yes), then the rollback joins the evidence and verify passes listing it', async () => {
    const evidence = path.join(dir, 'ev-rollback');
    const work = path.join(dir, 'work-rollback');
    const f = path.join(dir, 'rb.json');
    await writeFile(f, JSON.stringify(await miniSpec({ runId: 'cli-rollback' })));
    expect(await main(['run', f, '--local', '--auto-approve', '--evidence-dir', evidence, '--work-dir', work], io().io)).toBe(EXIT.OK);
    const selector = async () => JSON.parse(await readFile(path.join(work, 'cli-rollback/parameters.json'), 'utf8'))['/cloudbackup/prod/agent-identity'];
    expect(await selector()).toBe('agent_uuid');
    const dry = io();
    expect(await main(['rollback', 'cli-rollback', '--dry-run', '--evidence-dir', evidence, '--work-dir', work], dry.io)).toBe(EXIT.OK);
    expect(dry.out.join('\n')).toMatch(/would run \(nothing was changed\)[\s\S]*1\. runtime selector back to agent_id/);
    expect(await selector()).toBe('agent_uuid');
    const unconfirmed = io();
    expect(await main(['rollback', 'cli-rollback', '--evidence-dir', evidence, '--work-dir', work], unconfirmed.io)).toBe(EXIT.BAD_INPUT);
    expect(unconfirmed.err.join('\n')).toContain('expected --yes when not on a terminal');
    const hostile = io();
    expect(await main(['rollback', '../../etc', '--yes', '--evidence-dir', evidence, '--work-dir', work], hostile.io)).toBe(EXIT.BAD_INPUT);
    expect(hostile.err.join('\n')).toContain('expected 1-80 of A-Z a-z 0-9 _ -');

    const done = io();
    // The run used an in-memory database (gone now): its SQL rollback steps fail and say so (exit 1); the selector goes back.
    expect(await main(['rollback', 'cli-rollback', '--yes', '--evidence-dir', evidence, '--work-dir', work], done.io)).toBe(EXIT.NO_GO);
    expect(done.out.join('\n')).toContain('ok   1. runtime selector back to agent_id');
    expect(await selector()).toBe('agent_id');
    const verified = io();
    expect(await main(['evidence', 'verify', 'cli-rollback', '--evidence-dir', evidence], verified.io)).toBe(EXIT.OK);
    expect(verified.out.join('\n')).toMatch(/addendum 1 \(.*rollback by hand by .*\): 12_rollback_manual_.*\.json/);

    // A run that never cut over is refused without --force.
    const g = path.join(dir, 'rb-rejected.json');
    await writeFile(g, JSON.stringify(await miniSpec({ runId: 'cli-rollback-rejected' })));
    expect(await main(['run', g, '--local', '--auto-reject', '--evidence-dir', evidence, '--work-dir', work], io().io)).toBe(EXIT.NO_GO);
    const never = io();
    expect(await main(['rollback', 'cli-rollback-rejected', '--yes', '--evidence-dir', evidence, '--work-dir', work], never.io)).toBe(EXIT.BAD_INPUT);
    expect(never.err.join('\n')).toContain('never cut over');
  }, 120_000);
});

describe('cutline plan --evidence-dir', () => {
  it("keeps the dry run in the run's evidence; the run's manifest lists it; after the run ends a dry run is refused", async () => {
    const spec = await miniSpec({ runId: 'cli-plan-kept' });
    const f = path.join(dir, 'plan-kept.json');
    await writeFile(f, JSON.stringify(spec));
    const evidence = path.join(dir, 'evidence-plan-kept');
    const t = io();
    expect(await main(['plan', f, '--evidence-dir', evidence], t.io)).toBe(EXIT.OK);
    const kept = t.out.find((l) => l.startsWith("kept in the run's evidence: "))!.slice("kept in the run's evidence: ".length);
    const rec = JSON.parse(await readFile(kept, 'utf8'));
    expect(rec).toMatchObject({ step: '00_dry_run', result: 'PASS', owner: spec.owner, details: { schema: { applied: 0 } } });
    expect(await main(['run', f, '--local', '--auto-approve', '--evidence-dir', evidence, '--work-dir', path.join(dir, 'work-plan-kept')], io().io)).toBe(EXIT.OK);
    const manifest = JSON.parse(await readFile(path.join(evidence, 'cli-plan-kept', 'manifest.json'), 'utf8'));
    expect(manifest.files.map((x: { file: string }) => x.file)).toContain(path.relative(path.join(evidence, 'cli-plan-kept'), kept));
    const late = io();
    expect(await main(['plan', f, '--evidence-dir', evidence], late.io)).toBe(EXIT.BAD_INPUT);
    expect(late.err.join('\n')).toContain('run cli-plan-kept already ended GO (its manifest is sealed); expected a dry run before the run, or a new runId');
  }, 120_000);
});

describe('cutline plan uuid', () => {
  it('--start-version numbers a later phase after the files an earlier one applied; a bad number is exit 2 naming the value', async () => {
    const dbDir = await tempDir('cutline-pglite-');
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(dbDir);
    await db.exec(`CREATE TABLE teams (id int PRIMARY KEY, name text); CREATE TABLE members (id int PRIMARY KEY, team_id int REFERENCES teams (id));
      CREATE TABLE badges (code varchar(40) PRIMARY KEY, team_id int NOT NULL REFERENCES teams (id));
      INSERT INTO teams SELECT g, 'team ' || g FROM generate_series(1, 30) g;
      INSERT INTO members SELECT g, 1 + g % 30 FROM generate_series(1, 200) g;
      INSERT INTO badges SELECT 'badge-' || md5(g::text), 1 + g % 30 FROM generate_series(1, 150) g;`);
    await db.close();
    const out = path.join(dir, 'uuid-phase-2');
    const t = io();
    expect(await main(['plan', 'uuid', '--source-url', `pglite://${dbDir}`, '--out', out, '--start-version', '6', '--batch-size', '100000'], t.io)).toBe(EXIT.OK);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(path.join(out, 'migrations'))).sort()).toEqual(['V6__uuid_expand.sql', 'V7__uuid_indexes.sql', 'V8__uuid_foreign_keys.sql']);
    expect((await readdir(path.join(out, 'contract'))).sort()).toEqual(['V10__uuid_validate_group_1.sql', 'V9__uuid_swap_group_1.sql']);
    // A text-keyed child is planned too (backfilled by keyset ranges of its text key), and the plan runs to GO.
    const fragment = JSON.parse(await readFile(path.join(out, 'spec.fragment.json'), 'utf8'));
    expect(fragment.backfill.tasks.find((x: { table: string }) => x.table === 'badges')).toMatchObject({ key: 'code' });
    fragment.migrations.location = path.join(out, fragment.migrations.location);
    fragment.migrations.contractLocation = path.join(out, fragment.migrations.contractLocation);
    for (const task of fragment.backfill.tasks) task.batchSize = 40;
    const specFile = path.join(dir, 'uuid-phase-2.json');
    await writeFile(specFile, JSON.stringify({ version: 1, runId: 'cli-uuid-text-child', owner: 'dba@example.com', tCutover: '2026-11-21T02:00:00Z', source: { engine: 'postgres', url: `pglite://${dbDir}` }, ...fragment }));
    const run = io();
    expect(await main(['run', specFile, '--local', '--auto-approve', '--json', '--evidence-dir', path.join(dir, 'evidence-uuid'), '--work-dir', path.join(dir, 'work-uuid')], run.io), run.err.join('\n')).toBe(EXIT.OK);
    const after = await PGlite.create(dbDir);
    const wrong = await after.query<{ n: number }>('SELECT count(*)::int AS n FROM badges b JOIN teams t ON t.id = b.team_id WHERE b.team_uuid IS DISTINCT FROM t.id_uuid OR b.team_uuid IS NULL');
    expect(wrong.rows[0]!.n).toBe(0);
    await after.close();
    const bad = io();
    expect(await main(['plan', 'uuid', '--source-url', `pglite://${dbDir}`, '--out', out, '--start-version', '0'], bad.io)).toBe(EXIT.BAD_INPUT);
    expect(bad.err.join('\n')).toContain('--start-version <n>\' argument \'0\' is invalid. got "0"; expected a migration version, a whole number from 1 to 1000000');
    const big = io();
    expect(await main(['plan', 'uuid', '--source-url', `pglite://${dbDir}`, '--out', out, '--batch-size', '2.5'], big.io)).toBe(EXIT.BAD_INPUT);
    expect(big.err.join('\n')).toContain('got "2.5"; expected rows per chunk, a whole number from 1 to 10000000');
  }, 60_000);
});
