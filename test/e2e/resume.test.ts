/**
 * GO is never wrong under a kill and a resume (issue 9): the real CLI is
 * SIGKILLed during the backfill and resumed with the same runId, on real
 * PostgreSQL. A run may end GO only if every planned chunk has a checkpoint
 * for the plan it ran under and every baseline predates the first attempt.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-run';
import { dropDatabase, freshDatabase, pgQuery as sql, terminateBackends } from '../support/databases';
import { PG_URL } from '../support/env';
import { filesUnder, readHistory, readJson, tempDir } from '../support/local-run';

const ROWS = 40_000;

/** One table, one backfill that marks rows; each chunk takes >= 50 ms so a kill lands mid-backfill. No assertion would notice a skipped range: only the checkpoints can. */
function spec(runId: string, url: string, batchSize: number, sleep = 0.05) {
  return {
    version: 1,
    runId,
    owner: 'ops@example.com',
    tCutover: '2026-11-21T02:00:00Z',
    source: { engine: 'postgres', url },
    backfill: {
      maxConcurrency: 2,
      tasks: [{ name: 'fill', table: 'items', key: 'id', batchSize, sql: `UPDATE items SET filled = true WHERE id BETWEEN :lo AND :hi AND (SELECT 1 FROM pg_sleep(${sleep})) = 1` }],
    },
    verify: { rowCounts: 'before-vs-after', tables: ['items'] },
  };
}

describe.runIf(!!PG_URL)('kill and resume (real PostgreSQL, the real CLI)', () => {
  const names: string[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('cutline-resume-');
  });
  afterAll(async () => {
    for (const n of names) await dropDatabase(PG_URL!, n);
  });

  async function setup(name: string): Promise<string> {
    const db = `cutline_resume_${name}_${process.pid}`;
    names.push(db);
    const url = await freshDatabase(PG_URL!, db);
    await sql(url, `CREATE TABLE items (id bigint PRIMARY KEY, filled boolean NOT NULL DEFAULT false); INSERT INTO items (id) SELECT g FROM generate_series(1, ${ROWS}) g`);
    return url;
  }
  const write = async (name: string, s: unknown) => {
    const f = path.join(dir, `${name}.json`);
    await writeFile(f, JSON.stringify(s));
    return f;
  };
  const args = (file: string, evidence: string) => ['run', file, '--local', '--auto-approve', '--evidence-dir', evidence];

  /** Run `first`; once it prints its first backfill chunk, start `second` (a new process) alongside it. */
  async function alongside(first: string[], second: string[]) {
    let other: Promise<Awaited<ReturnType<typeof runCli>>> | undefined;
    const a = await runCli(first, {
      afterLines: 1,
      delayMs: 0,
      when: (l) => {
        if (/^\s+backfill: \d+\/\d+ chunks/.test(l) && !other) other = runCli(second);
        return false;
      },
    });
    return [a, await other!] as const;
  }

  it('a resume under another batch size is refused (exit 2, nothing run); the same spec resumes to GO with every row processed', async () => {
    const url = await setup('batch');
    const evidence = path.join(dir, 'ev-batch');
    const first = await write('batch-1', spec('resume-batch', url, 2000));
    const killed = await runCli(args(first, evidence), { afterLines: 3, delayMs: 0 });
    expect(killed.killed).toBe(true);
    const done = Number((await sql(url, 'SELECT count(*) FILTER (WHERE filled) AS n FROM items')).rows[0].n);
    expect(done).toBeLessThan(ROWS);
    // status tells the dead run from a running one (no live runner), and watch returns instead of waiting forever.
    const status = await runCli(['status', 'resume-batch', '--evidence-dir', evidence]);
    expect(status.code).toBe(1);
    expect(status.lines.join('\n')).toMatch(/resume-batch: INTERRUPTED[\s\S]*resume it with `cutline run <spec> --local`/);
    expect(status.lines.join('\n')).not.toMatch(/ETA \d/);
    expect((await runCli(['watch', 'resume-batch', '--evidence-dir', evidence, '--interval', '0.1'])).code).toBe(1);

    const changed = await runCli(args(await write('batch-2', spec('resume-batch', url, 8000)), evidence));
    expect(changed.code).toBe(2);
    expect(changed.lines.join('\n')).toMatch(/run resume-batch was started with another spec .*expected the same spec to resume it, or a new runId/);

    const resumed = await runCli(args(first, evidence));
    expect(resumed.lines.join('\n')).toMatch(/GO: every gate passed/);
    expect(resumed.code).toBe(0);
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
    const summary = await readFile(path.join(evidence, 'resume-batch/summary.md'), 'utf8');
    expect(summary).toContain('- attempts: 2 (interrupted 1 time(s) and resumed');
    const attempt2 = await readJson(path.join(evidence, 'resume-batch/00_attempts/002.json'));
    expect(attempt2.previous).toMatchObject({ attempt: 1, ended: 'interrupted' });
    // The killed attempt's execution history is kept beside the last one's.
    expect((await readHistory(path.join(evidence, 'resume-batch/execution-history/attempt-001.jsonl')))[0]).toMatchObject({ id: 1, type: 'ExecutionStarted' });
    const verified = await runCli(['evidence', 'verify', 'resume-batch', '--evidence-dir', evidence]);
    expect(verified.code).toBe(0);
  }, 120_000);

  it('a kill inside a Distributed Map backfill: the resume runs a new Map Run that skips every checkpointed chunk and ends GO with every row processed', async () => {
    const url = await setup('distributed');
    const evidence = path.join(dir, 'ev-distributed');
    // 20 chunks of 2,000 rows, above distributedAbove: the phase runs as child executions reading their items from evidence.
    const s = spec('resume-distributed', url, 2000);
    const first = await write('distributed', { ...s, backfill: { ...s.backfill, distributedAbove: 5 } });
    const killed = await runCli(args(first, evidence), { afterLines: 3, delayMs: 0 });
    expect(killed.killed).toBe(true);
    expect(Number((await sql(url, 'SELECT count(*) FILTER (WHERE filled) AS n FROM items')).rows[0].n)).toBeLessThan(ROWS);
    const resumed = await runCli(args(first, evidence));
    expect(resumed.lines.join('\n')).toMatch(/GO: every gate passed/);
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
    expect(resumed.lines.filter((l) => l.includes('(chunk already done: skipped)')).length).toBeGreaterThanOrEqual(3);
    // Both attempts ran the phase as a Map Run; Summary counts the second one's 20 chunks from ResultWriter's files.
    const runs = async (file: string) => (await readHistory(path.join(evidence, 'resume-distributed', file))).filter((e) => e.type === 'MapRunStarted').length;
    expect([await runs('execution-history/attempt-001.jsonl'), await runs('execution-history.jsonl')]).toEqual([1, 1]);
    expect(await readFile(path.join(evidence, 'resume-distributed/summary.md'), 'utf8')).toMatch(/^\| fill \| 20 \| ([3-9]|1\d) \| \d+ \|$/m);
    expect((await runCli(['evidence', 'verify', 'resume-distributed', '--evidence-dir', evidence])).code).toBe(0);
  }, 120_000);

  it('rows deleted between attempts: the plan and the "before" counts are the first attempt\'s, so the resume ends NO_GO (rows went missing), not GO', async () => {
    const url = await setup('deleted');
    const evidence = path.join(dir, 'ev-deleted');
    const file = await write('deleted', spec('resume-deleted', url, 2000));
    expect((await runCli(args(file, evidence), { afterLines: 3, delayMs: 0 })).killed).toBe(true);
    // The lowest keys go: a plan made again would start 8000 keys later and shift every chunk.
    await sql(url, 'DELETE FROM items WHERE id <= 8000');
    const resumed = await runCli(args(file, evidence));
    expect(resumed.code, resumed.lines.join('\n')).toBe(1);
    expect(resumed.lines.join('\n')).toMatch(/NO_GO \/ GATE_FAILED: .*items: diff -8000 rows .*expected 40000, got 32000/);
    const pre = await readJson(path.join(evidence, 'resume-deleted/02_preflight.json'));
    expect(pre.details.baselineCounts).toEqual({ items: String(ROWS) });
    expect(pre.details.baselineReused).toBe(true);
    const plan = await readJson(path.join(evidence, 'resume-deleted/04_backfill_plan/plan.json'));
    expect(plan.phases[0][0]).toMatchObject({ lo: '1', hi: '2000' });
    // Every row still there was processed: no range fell between two plans.
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
  }, 120_000);

  it('two runners of one runId: the second is refused while the first lives (exit 2), and the run still ends GO', async () => {
    const url = await setup('twins');
    const evidence = path.join(dir, 'ev-twins');
    // About 10 s of backfill: the twin starts (a new process) well before the first is done.
    const file = await write('twins', spec('resume-twins', url, 1000, 0.5));
    const [a, b] = await alongside(args(file, evidence), args(file, evidence));
    expect(a.code).toBe(0);
    expect(b.code).toBe(2);
    expect(b.lines.join('\n')).toMatch(/run resume-twins is already running \(pid \d+/);
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
  }, 120_000);

  it('two runs (different runIds) on one database: the second is refused in Preflight naming the holder and expiry; once the first ends, the database is free', async () => {
    const url = await setup('pair');
    const evidence = path.join(dir, 'ev-pair');
    const fileA = await write('pair-a', spec('pair-a', url, 1000, 0.5));
    const fileB = await write('pair-b', spec('pair-b', url, 1000, 0));
    const [a, b] = await alongside(args(fileA, evidence), args(fileB, evidence));
    expect(a.code).toBe(0);
    expect(b.code).toBe(1);
    expect(b.lines.join('\n')).toMatch(/NO_GO \/ ENVIRONMENT_BLOCKED: .*the run lease of .* is held by run:pair-a until \d{4}-\d\d-\d\dT/);
    // The refused run changed nothing: no plan, no baseline, no chunk of its own.
    expect(await readFile(path.join(evidence, 'pair-b/04_backfill_plan/plan.json'), 'utf8').catch(() => 'none')).toBe('none');
    // Summary released the first run's lease: a third run goes ahead.
    const c = await runCli(args(await write('pair-c', spec('pair-c', url, 20000, 0)), evidence));
    expect(c.code, c.lines.join('\n')).toBe(0);
  }, 120_000);

  it('a failing chunk names its error in evidence and offers --resume; after the fix, --resume goes on from the checkpoints to GO', async () => {
    const url = await setup('failing');
    await sql(url, 'CREATE TABLE blocker (id bigint PRIMARY KEY); INSERT INTO blocker VALUES (30001)');
    const evidence = path.join(dir, 'ev-failing');
    const s = spec('resume-failing', url, 2000, 0);
    // The chunk holding key 30001 divides by zero while the blocker row is there.
    s.backfill.tasks[0]!.sql = 'UPDATE items SET filled = true WHERE id BETWEEN :lo AND :hi AND (SELECT 1 / (1 - count(*))::int FROM blocker b WHERE b.id BETWEEN :lo AND :hi) = 1';
    const file = await write('failing', s);
    const failed = await runCli(args(file, evidence));
    expect(failed.code).toBe(1);
    const cls = await readJson(path.join(evidence, 'resume-failing/90_classify.json'));
    expect(cls.details.classification).toBe('BACKFILL_FAILED');
    expect(cls.details.reason).toMatch(/chunk 15 \[30001, 32000\] failed: (ERROR: )?division by zero/);
    expect(cls.details.unblock_criteria).toContain('`cutline run <spec> --local --resume`');
    // Without --resume a finished run is refused, with a pointer to it.
    const again = await runCli(args(file, evidence));
    expect(again.code).toBe(2);
    expect(again.lines.join('\n')).toMatch(/already finished NO_GO \/ BACKFILL_FAILED .*or --resume to go on with this one/);
    await sql(url, 'DELETE FROM blocker');
    const resumed = await runCli([...args(file, evidence), '--resume']);
    expect(resumed.code, resumed.lines.join('\n')).toBe(0);
    expect(resumed.lines.filter((l) => l.includes('(chunk already done: skipped)')).length).toBeGreaterThan(0);
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
    expect(await readFile(path.join(evidence, 'resume-failing/summary.md'), 'utf8')).toContain('- attempts: 2');
    // A GO run is never resumed.
    const done = await runCli([...args(file, evidence), '--resume']);
    expect(done.code).toBe(2);
    expect(done.lines.join('\n')).toMatch(/ended GO, which a resume cannot clear/);
  }, 120_000);

  it('backends terminated during the backfill are retried: GO, every row processed, the retries in the checkpoints', async () => {
    const url = await setup('terminated');
    const evidence = path.join(dir, 'ev-terminated');
    const file = await write('terminated', spec('resume-terminated', url, 1000, 0.1));
    // At most 6 terminations, one chunk's backend at a time, then 300 ms of peace.
    const killer = await terminateBackends([url], { max: 6, query: 'UPDATE items%', pollMs: 50, pauseMs: 300, rounds: 600 });
    const r = await runCli(args(file, evidence));
    const terminated = await killer.stop();
    expect(terminated).toBeGreaterThan(0);
    expect(r.code, r.lines.join('\n')).toBe(0);
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
    const retried = (await filesUnder(path.join(evidence, 'resume-terminated/05_backfill'))).filter((f) => f.endsWith('.json'));
    const attempts = await Promise.all(retried.map(async (f) => (await readJson(path.join(evidence, 'resume-terminated/05_backfill', f))).attempts ?? 1));
    expect(Math.max(...attempts)).toBeGreaterThan(1);
  }, 120_000);

  it('killed during the cutover: on resume every action happened exactly once (SQL and parameter not again, the command the killed attempt sent followed to its end), GO', async () => {
    const url = await setup('cutover');
    await sql(url, 'CREATE TABLE switched (at timestamptz NOT NULL DEFAULT now())');
    const evidence = path.join(dir, 'ev-cutover');
    const params = path.join(dir, 'cutover-params.json');
    await writeFile(params, JSON.stringify({ '/app/selector': 'old' }));
    const reloads = path.join(dir, 'reloads.txt');
    const s = {
      ...spec('resume-cutover', url, 20000, 0),
      jumpbox: { instanceId: 'local' },
      local: { parameters: params },
      cutover: {
        actions: [
          { type: 'sql', sql: 'INSERT INTO switched DEFAULT VALUES' },
          { type: 'parameter', name: '/app/selector', value: 'new' },
          { type: 'command', script: `sleep 2 && echo reloaded >> ${reloads}`, timeoutSeconds: 60 },
        ],
      },
      rollback: { actions: [{ type: 'parameter', name: '/app/selector', value: 'old' }] },
    };
    const file = await write('cutover', s);
    const workDir = path.join(dir, 'work-cutover');
    const killed = await runCli([...args(file, evidence), '--work-dir', workDir], { afterLines: 1, delayMs: 500, when: (l) => /Cutover: 2\/3/.test(l) });
    expect(killed.killed).toBe(true);
    expect((await sql(url, 'SELECT count(*) AS n FROM switched')).rows[0].n).toBe('1');
    const resumed = await runCli([...args(file, evidence), '--work-dir', workDir]);
    expect(resumed.code, resumed.lines.join('\n')).toBe(0);
    expect((await sql(url, 'SELECT count(*) AS n FROM switched')).rows[0].n).toBe('1');
    expect(await readFile(reloads, 'utf8')).toBe('reloaded\n');
    // The resume kept the flipped parameter (the work copy is made on the first attempt only).
    expect(await readJson(path.join(workDir, 'resume-cutover/parameters.json'))).toEqual({ '/app/selector': 'new' });
    const rec = await readJson(path.join(evidence, 'resume-cutover/10_cutover.json'));
    expect(rec.details.actions.map((a: { effect: string }) => a.effect)).toEqual(['done-before', 'done-before', 'followed']);
    expect(rec.details.actions[1].previous).toBe('old');
  }, 120_000);

  it('a backend terminated during Verify is retried: the run ends GO, not VERIFY_FAILED', async () => {
    const url = await setup('verifyretry');
    const evidence = path.join(dir, 'ev-verify-retry');
    const s = { ...spec('resume-verify-retry', url, 20000, 0), verify: { rowCounts: 'before-vs-after', tables: ['items'], assertions: [{ name: 'slow and empty', sql: 'SELECT x FROM (SELECT random() AS x, pg_sleep(1.5) AS s) q WHERE x < 0' }] } };
    const file = await write('verify-retry', s);
    // Terminates the slow assertion once.
    const killer = await terminateBackends([url], { max: 1, query: '%SELECT x FROM (SELECT random() AS x, pg_sleep%', pollMs: 50, rounds: 600 });
    const r = await runCli(args(file, evidence));
    const terminated = await killer.stop();
    expect(terminated).toBe(1);
    expect(r.code, r.lines.join('\n')).toBe(0);
    expect((await readJson(path.join(evidence, 'resume-verify-retry/06_verify.json'))).details.assertions[0]).toMatchObject({ name: 'slow and empty', ok: true });
  }, 120_000);

  it('started together: two runIds on one database, exactly one runs (the other is refused in Preflight); one runId twice, exactly one runner', async () => {
    const url = await setup('together');
    const evidence = path.join(dir, 'ev-together');
    const [a, b] = await Promise.all([
      runCli(args(await write('together-a', spec('together-a', url, 2000, 0.2)), evidence)),
      runCli(args(await write('together-b', spec('together-b', url, 2000, 0.2)), evidence)),
    ]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    const winner = a.code === 1 ? b : a;
    const refused = a.code === 1 ? a : b;
    expect(refused.lines.join('\n')).toMatch(/NO_GO \/ ENVIRONMENT_BLOCKED: .*the run lease of .* is held by .*together-/);
    expect(winner.lines.join("\n")).toMatch(/GO: every gate passed/);

    const twin = await write('together-twin', spec('together-twin', url, 2000, 0.2));
    const [c, d] = await Promise.all([runCli(args(twin, evidence)), runCli(args(twin, evidence))]);
    expect([c.code, d.code].sort()).toEqual([0, 2]);
    expect((c.code === 2 ? c : d).lines.join('\n')).toMatch(/run together-twin is already running/);
    expect((await sql(url, 'SELECT count(*) AS n FROM items WHERE NOT filled')).rows[0].n).toBe('0');
  }, 120_000);
});
