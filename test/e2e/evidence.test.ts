/**
 * Evidence an auditor can trust: a local run with the seed 003 profile, then
 * `cutline evidence ls|get|verify|open` on its folder and on the same files in
 * (mocked) S3. Tampering (a changed, a missing, an added file, an edited
 * manifest) is caught and named.
 */
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { runLocal } from '../../cli/runner/run';
import { defaultSigningKeyPath, publicKeyPathOf } from '../../lambdas/adapters/local/signer-file';
import { exists, filesUnder, miniSpec, readJson, tempDir } from '../support/local-run';
import { type FakeBucket, fakeS3 } from '../support/fake-s3';
import { waitFor } from '../support/wait';

const RUN = 'evidence-seed003';
let evidenceDir: string;

function cli(extra: Record<string, unknown> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} as NodeJS.ProcessEnv, ...extra } };
}

beforeAll(async () => {
  const dir = await tempDir('cutline-evidence-');
  evidenceDir = path.join(dir, 'evidence');
  const spec = await miniSpec({ runId: RUN });
  spec.evidence = { profile: 'seed003' };
  const f = path.join(dir, 'spec.json');
  await writeFile(f, JSON.stringify(spec));
  const t = cli();
  expect(await main(['run', f, '--local', '--auto-approve', '--evidence-dir', evidenceDir], t.io)).toBe(EXIT.OK);
}, 120_000);

/** A copy of the run's folder to tamper with. */
async function copyRun(): Promise<string> {
  const dir = await tempDir('cutline-tamper-');
  await cp(path.join(evidenceDir, RUN), path.join(dir, RUN), { recursive: true });
  return dir;
}

describe('seed 003 evidence profile', () => {
  it('writes the contract file names, each with command, exit_code, UTC timestamp, owner and result', async () => {
    const files = await filesUnder(path.join(evidenceDir, RUN));
    // The exact names are pinned in test/unit/evidence-profile.test.ts; here: all ten are written by a real run.
    const seed = files.filter((f) => f.endsWith('.log') || f === '99_summary.md');
    expect(seed).toHaveLength(10);
    expect([seed[0], seed.at(-1)]).toEqual(['01_precheck.log', '99_summary.md']);
    for (const f of seed.slice(0, -1)) {
      const body = await readFile(path.join(evidenceDir, RUN, f), 'utf8');
      for (const field of ['command: ', 'exit_code: ', 'UTC timestamp: ', 'owner: platform-oncall@example.com', 'result: ']) expect(body, `${f} has ${field}`).toContain(field);
    }
    const precheck = await readFile(path.join(evidenceDir, RUN, '01_precheck.log'), 'utf8');
    expect(precheck.match(/^result: (\w+)/gm)).toEqual(['result: PASS', 'result: PASS']);
    const backfill = await readFile(path.join(evidenceDir, RUN, '03_backfill.log'), 'utf8');
    expect(backfill).toContain('"task": "uuid-s3-cloudbackup-agents"');
    const decision = await readFile(path.join(evidenceDir, RUN, '08_cutover_decision.log'), 'utf8');
    expect(decision).toMatch(/command: go\/no-go decision \(seed 003 matrix\)\nexit_code: 0\n.*\nowner: .*\nresult: GO/);
    expect(await readFile(path.join(evidenceDir, RUN, '09_rollback_or_no_rollback.log'), 'utf8')).toContain('result: NO_ROLLBACK');
    expect(await readFile(path.join(evidenceDir, RUN, '99_summary.md'), 'utf8')).toBe(await readFile(path.join(evidenceDir, RUN, 'summary.md'), 'utf8'));
    // smoke checks need an app: the mini spec has none, so the smoke files say so rather than pretend.
    expect(await readFile(path.join(evidenceDir, RUN, '05_smoke_200.log'), 'utf8')).toContain('result: SKIPPED');
    const manifest = await readJson(path.join(evidenceDir, RUN, 'manifest.json'));
    expect(manifest.files.map((f: { file: string }) => f.file)).toEqual(expect.arrayContaining(seed));
  });
});

describe('cutline evidence (folder)', () => {
  it('ls lists every file with its SHA-256; get prints one; a missing file is exit 2 naming it', async () => {
    const t = cli();
    expect(await main(['evidence', 'ls', RUN, '--evidence-dir', evidenceDir, '--json'], t.io)).toBe(EXIT.OK);
    const ls = JSON.parse(t.out.join('\n')) as { file: string; sha256: string }[];
    const manifest = await readJson(path.join(evidenceDir, RUN, 'manifest.json'));
    const gates = manifest.files.find((f: { file: string }) => f.file === '07_gates.json');
    expect(ls.find((f) => f.file === '07_gates.json')?.sha256).toBe(gates.sha256);
    const g = cli();
    expect(await main(['evidence', 'get', RUN, 'summary.md', '--evidence-dir', evidenceDir], g.io)).toBe(EXIT.OK);
    expect(g.out.join('\n')).toContain(`# cutline run ${RUN}: GO`);
    const miss = cli();
    expect(await main(['evidence', 'get', RUN, 'nope.json', '--evidence-dir', evidenceDir], miss.io)).toBe(EXIT.BAD_INPUT);
    expect(miss.err.join('\n')).toContain(`no file nope.json in the evidence of run ${RUN}`);
    const open = cli();
    expect(await main(['evidence', 'open', RUN, '--evidence-dir', evidenceDir], open.io)).toBe(EXIT.OK);
    expect(open.out[0]).toBe(`file://${path.join(evidenceDir, RUN, 'report.html')}`);
  });

  it('verify: exit 0 on the untouched folder', async () => {
    const t = cli();
    expect(await main(['evidence', 'verify', RUN, '--evidence-dir', evidenceDir, '--json'], t.io)).toBe(EXIT.OK);
    expect(JSON.parse(t.out.join('\n'))).toMatchObject({ runId: RUN, ok: true, problems: [] });
  });

  it('verify: a changed, a missing and an added file are each named (exit 1)', async () => {
    const dir = await copyRun();
    const gates = path.join(dir, RUN, '07_gates.json');
    await writeFile(gates, (await readFile(gates, 'utf8')).replace('"PASS"', '"FAIL"'));
    await rm(path.join(dir, RUN, '03_backfill.log'));
    await writeFile(path.join(dir, RUN, '06_verify_extra.json'), '{}');
    const t = cli();
    expect(await main(['evidence', 'verify', RUN, '--evidence-dir', dir], t.io)).toBe(EXIT.NO_GO);
    expect(t.err).toEqual([
      expect.stringMatching(/^MISSING: 03_backfill\.log is listed in the manifest but gone$/),
      expect.stringMatching(/^CHANGED: 07_gates\.json changed: sha256 [0-9a-f]{12}… now, [0-9a-f]{12}… in the manifest$/),
      'ADDED: 06_verify_extra.json is not in the manifest (added after the run)',
    ]);
  });

  it('verify: a manifest edited to hide a change breaks the hash chain', async () => {
    const dir = await copyRun();
    const summary = path.join(dir, RUN, 'summary.md');
    const forged = (await readFile(summary, 'utf8')).replace('GO', 'GO (edited)');
    await writeFile(summary, forged);
    const mf = path.join(dir, RUN, 'manifest.json');
    const m = await readJson(mf);
    const { sha256Hex } = await import('../../lambdas/core/evidence');
    m.files.find((f: { file: string }) => f.file === 'summary.md').sha256 = sha256Hex(forged);
    await writeFile(mf, JSON.stringify(m));
    const t = cli();
    expect(await main(['evidence', 'verify', RUN, '--evidence-dir', dir, '--json'], t.io)).toBe(EXIT.NO_GO);
    const out = JSON.parse(t.out.join('\n'));
    expect(out.problems.map((p: { file: string; problem: string }) => `${p.problem} ${p.file}`)).toEqual(['chain summary.md', 'chain manifest.json']);
  });

  it('verify: a whole new manifest built over a forged file keeps its chain, but carries no signature and not the root the execution history recorded', async () => {
    const dir = await copyRun();
    const summary = path.join(dir, RUN, 'summary.md');
    await writeFile(summary, (await readFile(summary, 'utf8')).replace('GO', 'GO (edited)'));
    const { buildManifest, canonicalJson, sha256Hex } = await import('../../lambdas/core/evidence');
    const m = await readJson(path.join(dir, RUN, 'manifest.json'));
    const files = await Promise.all(m.files.map(async (f: { file: string }) => {
      const b = await readFile(path.join(dir, RUN, f.file));
      return { file: f.file, sha256: sha256Hex(b), size: b.length };
    }));
    await writeFile(path.join(dir, RUN, 'manifest.json'), canonicalJson(buildManifest(RUN, files)));
    const t = cli();
    expect(await main(['evidence', 'verify', RUN, '--evidence-dir', dir], t.io)).toBe(EXIT.NO_GO);
    expect(t.err).toEqual([
      'SIGNATURE: the manifest is not signed: rebuilt over forged files, it would go unnoticed; pass --no-anchor to accept that',
      expect.stringMatching(/^ANCHOR: the manifest root [0-9a-f]{12}… differs from [0-9a-f]{12}…, the root the run recorded in its execution history: the manifest was replaced$/),
    ]);
  });

  it('verify: without execution-history.jsonl the signed root still anchors the manifest; a symlink in the run folder is tampering', async () => {
    const dir = await copyRun();
    await rm(path.join(dir, RUN, 'execution-history.jsonl'));
    const t = cli();
    expect(await main(['evidence', 'verify', RUN, '--evidence-dir', dir], t.io)).toBe(EXIT.OK);
    expect(t.out[0]).toMatch(/files match the manifest \(chain root [0-9a-f]{16}…, signed by file:.*signing-key\.pem, checked with .*signing-key\.pub\.pem\)$/);
    const { symlink } = await import('node:fs/promises');
    await symlink('/etc/hostname', path.join(dir, RUN, '06_verify_more.json'));
    const l = cli();
    expect(await main(['evidence', 'verify', RUN, '--evidence-dir', dir, '--no-anchor'], l.io)).toBe(EXIT.NO_GO);
    expect(l.err).toEqual(['ADDED: 06_verify_more.json is not a regular file (a link or device): tampering']);
  });

  it('a run without evidence is exit 2 naming the run and where it looked', async () => {
    const t = cli();
    expect(await main(['evidence', 'verify', 'no-such-run', '--evidence-dir', evidenceDir], t.io)).toBe(EXIT.BAD_INPUT);
    expect(t.err[0]).toContain(`no manifest.json for run no-such-run in ${evidenceDir}`);
  });
});

describe('cutline evidence --bucket (S3, mocked)', () => {
  const s3m = mockClient(S3Client);
  let objects: FakeBucket;

  beforeAll(async () => {
    s3m.reset();
    objects = fakeS3(s3m, { bucket: 'ev' });
    for (const f of await filesUnder(path.join(evidenceDir, RUN))) objects.set(`runs/${RUN}/${f}`, await readFile(path.join(evidenceDir, RUN, f)));
  });

  const aws = () => ({ aws: { s3: new S3Client({ region: 'eu-west-1' }) } as never });

  it('verify reads runs/<runId>/ and matches the manifest; a changed object is named; no key to check the signature with is a failure unless --no-anchor', async () => {
    const unanchored = cli(aws());
    expect(await main(['evidence', 'verify', RUN, '--bucket', 'ev'], unanchored.io)).toBe(EXIT.NO_GO);
    expect(unanchored.err).toEqual([expect.stringMatching(/^SIGNATURE: the manifest is signed by file:.*, but there is no public key to check it with \(pass --public-key FILE or --signing-key-arn ARN\); pass --no-anchor/)]);
    const t = cli(aws());
    expect(await main(['evidence', 'verify', RUN, '--bucket', 'ev', '--public-key', publicKeyPathOf(defaultSigningKeyPath())], t.io)).toBe(EXIT.OK);
    expect(t.out[0]).toMatch(new RegExp(`^${RUN}: \\d+ files match the manifest`));
    objects.set(`runs/${RUN}/09_approval.json`, Buffer.from('{"forged":true}'));
    const bad = cli(aws());
    expect(await main(['evidence', 'verify', RUN, '--bucket', 'ev', '--no-anchor'], bad.io)).toBe(EXIT.NO_GO);
    expect(bad.err).toEqual([expect.stringMatching(/^CHANGED: 09_approval\.json changed/)]);
  });

  it('with --state-machine-arn the root is checked against the AWS execution history', async () => {
    const sfnm = mockClient(SFNClient);
    const root = (await readJson(path.join(evidenceDir, RUN, 'manifest.json'))).root as string;
    const history = (r: string) => ({
      events: [{ id: 1, type: 'TaskStateExited' as const, timestamp: new Date(), stateExitedEventDetails: { name: 'Summary', output: JSON.stringify({ results: { summary: { manifestRoot: r } } }) } }],
    });
    objects.set(`runs/${RUN}/09_approval.json`, await readFile(path.join(evidenceDir, RUN, '09_approval.json')));
    // The run's one execution (no resume of it exists).
    sfnm.on(DescribeExecutionCommand).rejects(Object.assign(new Error('no such execution'), { name: 'ExecutionDoesNotExist' }));
    sfnm.on(DescribeExecutionCommand, { executionArn: `arn:aws:states:eu-west-1:123456789012:execution:cutline:${RUN}` }).resolves({ status: 'SUCCEEDED' });
    sfnm.on(GetExecutionHistoryCommand).resolvesOnce(history(root)).resolves(history('f'.repeat(64)));
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cutline';
    const io = () => cli({ ...aws(), sfn: new SFNClient({ region: 'eu-west-1' }) });
    const ok = io();
    expect(await main(['evidence', 'verify', RUN, '--bucket', 'ev', '--state-machine-arn', arn, '--public-key', publicKeyPathOf(defaultSigningKeyPath()), '--json'], ok.io)).toBe(EXIT.OK);
    expect(JSON.parse(ok.out.join('\n'))).toMatchObject({ ok: true, anchoredInHistory: true });
    expect(sfnm.commandCalls(GetExecutionHistoryCommand)[0]!.args[0].input.executionArn).toBe(`arn:aws:states:eu-west-1:123456789012:execution:cutline:${RUN}`);
    const bad = io();
    expect(await main(['evidence', 'verify', RUN, '--bucket', 'ev', '--state-machine-arn', arn, '--public-key', publicKeyPathOf(defaultSigningKeyPath())], bad.io)).toBe(EXIT.NO_GO);
    expect(bad.err).toEqual([expect.stringMatching(/^ANCHOR: the manifest root/)]);
    sfnm.restore();
  });

  it('open prints the S3 console address of the run', async () => {
    const t = cli(aws());
    expect(await main(['evidence', 'open', RUN, '--bucket', 'ev'], t.io)).toBe(EXIT.OK);
    expect(t.out[0]).toBe(`https://s3.console.aws.amazon.com/s3/buckets/ev?prefix=runs%2F${RUN}%2F`);
  });
});

describe('cutline status / watch (local folder)', () => {
  it('status of a finished run: SUCCEEDED, every backfill chunk done, the stages with durations', async () => {
    const t = cli();
    expect(await main(['status', RUN, '--evidence-dir', evidenceDir, '--json'], t.io)).toBe(EXIT.OK);
    const p = JSON.parse(t.out.join('\n'));
    expect(p).toMatchObject({ runId: RUN, status: 'SUCCEEDED', stage: 'Done' });
    expect(p.backfill.done).toBe(p.backfill.total);
    expect(p.backfill.total).toBe((await filesUnder(path.join(evidenceDir, RUN, '05_backfill'))).length);
    expect(p.stages.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['ValidateSpec', 'Schema', 'Verify', 'GoNoGo', 'Cutover', 'Summary']));
    const none = cli();
    expect(await main(['status', 'never-ran', '--evidence-dir', evidenceDir], none.io)).toBe(EXIT.BAD_INPUT);
    expect(none.err[0]).toContain('no local run never-ran');
  });

  it('watch follows a running local run: waiting at GoNoGo, then to its end once approved', async () => {
    const dir = await tempDir('cutline-watch-');
    let resolveLink!: (u: string) => void;
    const link = new Promise<string>((r) => {
      resolveLink = r;
    });
    const run = runLocal({
      spec: await miniSpec({ runId: 'watch-me' }),
      evidenceDir: dir,
      workDir: await tempDir('cutline-work-'),
      approval: { kind: 'page-only' },
      out: (l) => {
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/approve\?\S+)/.exec(l);
        if (m) resolveLink(m[1]!);
      },
    });
    const url = await link;
    await waitFor(() => exists(path.join(dir, 'watch-me', 'execution-history.jsonl')), 'the execution history of watch-me');
    const lines: { status: string; stage: string }[] = [];
    let approved = false;
    const io = {
      out: (l: string) => {
        const p = JSON.parse(l);
        lines.push(p);
        if (p.stage === 'GoNoGo' && !approved) {
          approved = true;
          const q = new URL(url).searchParams;
          const form = new URLSearchParams({ id: q.get('id')!, exp: q.get('exp')!, sig: q.get('sig')!, approver: 'alice@example.com', comment: 'go', decision: 'approve' });
          void fetch(new URL('/approve', url), { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        }
      },
      err: () => {},
      env: {} as NodeJS.ProcessEnv,
    };
    expect(await main(["watch", "watch-me", "--evidence-dir", dir, "--interval", "0.1", "--json"], io), JSON.stringify(lines.at(-1))).toBe(EXIT.OK);
    expect((await run).outcome).toBe('GO');
    expect(lines.some((l) => l.status === 'RUNNING' && l.stage === 'GoNoGo')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ status: 'SUCCEEDED', stage: 'Done' });
  }, 120_000);
});
