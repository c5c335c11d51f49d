/**
 * Security: evidence an auditor can trust, attacked. One real local GO run, then each attack on a copy of its folder:
 * every case passed `cutline evidence verify` (or broke it) before issue 10 and is caught (or verifies) now.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/commands';
import { EXIT } from '../../cli/io';
import { FileSigner } from '../../lambdas/adapters/local/signer-file';
import { buildAddendum, buildManifest, canonicalJson, sha256Hex } from '../../lambdas/core/evidence';
import { signRoot } from '../../lambdas/core/signature';
import { miniSpec, readJson, tempDir } from '../support/local-run';

const RUN = 'sec-evidence';
let dir: string;
let evidence: string;
let work: string;

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} as NodeJS.ProcessEnv } };
}
const verify = async (folder: string, ...args: string[]) => {
  const t = cli();
  const code = await main(['evidence', 'verify', RUN, '--evidence-dir', folder, ...args], t.io);
  return { code, out: t.out, err: t.err };
};
async function copyRun(): Promise<string> {
  const to = await tempDir('cutline-attack-');
  await cp(path.join(evidence, RUN), path.join(to, RUN), { recursive: true });
  return to;
}
/** The attacker's move: forge summary.md, rebuild the whole chain over it. */
async function forgeAndRebuild(folder: string) {
  const summary = path.join(folder, RUN, 'summary.md');
  await writeFile(summary, (await readFile(summary, 'utf8')).replace('GO', 'GO (forged)'));
  const m = await readJson(path.join(folder, RUN, 'manifest.json'));
  const files = await Promise.all(
    m.files.map(async (f: { file: string }) => {
      const b = await readFile(path.join(folder, RUN, f.file));
      return { file: f.file, sha256: sha256Hex(b), size: b.length };
    }),
  );
  return { original: m, rebuilt: buildManifest(RUN, files) };
}

beforeAll(async () => {
  dir = await tempDir('cutline-sec-');
  evidence = path.join(dir, 'evidence');
  work = path.join(dir, 'work');
  const spec = await miniSpec({ runId: RUN });
  spec.evidence = { profile: 'seed003' };
  await writeFile(path.join(dir, 'spec.json'), JSON.stringify(spec));
  expect(await main(['run', path.join(dir, 'spec.json'), '--local', '--auto-approve', '--evidence-dir', evidence, '--work-dir', work], cli().io)).toBe(EXIT.OK);
}, 120_000);

describe('a rebuilt manifest', () => {
  it('attack: rebuild the chain over a forged file and put the new root into execution-history.jsonl. Now the root carries no valid signature', async () => {
    const folder = await copyRun();
    const { original, rebuilt } = await forgeAndRebuild(folder);
    await writeFile(path.join(folder, RUN, 'manifest.json'), canonicalJson(rebuilt));
    const history = path.join(folder, RUN, 'execution-history.jsonl');
    await writeFile(history, (await readFile(history, 'utf8')).replaceAll(original.root, rebuilt.root));
    const r = await verify(folder);
    expect(r.code).toBe(EXIT.NO_GO);
    expect(r.err).toEqual(['SIGNATURE: the manifest is not signed: rebuilt over forged files, it would go unnoticed; pass --no-anchor to accept that']);
  });

  it('attack: the same, with execution-history.jsonl deleted and the original signature copied over. Now the signature does not match the root', async () => {
    const folder = await copyRun();
    const { original, rebuilt } = await forgeAndRebuild(folder);
    await writeFile(path.join(folder, RUN, 'manifest.json'), canonicalJson({ ...rebuilt, signature: original.signature }));
    await rm(path.join(folder, RUN, 'execution-history.jsonl'));
    const r = await verify(folder);
    expect(r.code).toBe(EXIT.NO_GO);
    expect(r.err).toEqual(['SIGNATURE: the signature of the manifest does not match its root: it was rebuilt or its signature copied from another']);
  });

  it('attack: the same, signed with a key of the attacker\'s own. Now it is named as signed by another key', async () => {
    const folder = await copyRun();
    const { rebuilt } = await forgeAndRebuild(folder);
    const mine = new FileSigner(path.join(await tempDir('cutline-attacker-'), 'key.pem'));
    await writeFile(path.join(folder, RUN, 'manifest.json'), canonicalJson({ ...rebuilt, signature: await signRoot(mine, RUN, 'manifest', rebuilt.root) }));
    const r = await verify(folder);
    expect(r.code).toBe(EXIT.NO_GO);
    expect(r.err).toContainEqual(expect.stringMatching(/^SIGNATURE: the manifest was signed by key file:.*attacker.*key\.pem .*, not by the key you verify with/));
  });

  it('attack: a forged addendum that "supersedes" the approval record. Now an unsigned addendum is refused', async () => {
    const folder = await copyRun();
    const m = await readJson(path.join(folder, RUN, 'manifest.json'));
    const forged = '{"result":"PASS","owner":"ceo@example.com"}\n';
    await writeFile(path.join(folder, RUN, '09_approval.json'), forged);
    const a = buildAddendum(RUN, 1, m.root, [{ file: '09_approval.json', sha256: sha256Hex(forged), size: forged.length }], 'late note', new Date());
    await mkdir(path.join(folder, RUN, 'manifest-addenda'), { recursive: true });
    await writeFile(path.join(folder, RUN, 'manifest-addenda', '001.json'), canonicalJson(a));
    const r = await verify(folder);
    expect(r.code).toBe(EXIT.NO_GO);
    expect(r.err).toEqual(['SIGNATURE: addendum 1 is not signed: rebuilt over forged files, it would go unnoticed; pass --no-anchor to accept that']);
  });

  it('attack: verify the copy in a bucket where no key is at hand, and nothing is checked. Now that is a failure unless --no-anchor, which says what it drops', async () => {
    const r = await verify(evidence, '--public-key', path.join(dir, 'no-such-key.pem'));
    expect([r.code, r.err[0]]).toEqual([EXIT.BAD_INPUT, expect.stringContaining('--public-key')]);
    const folder = await copyRun();
    const { rebuilt } = await forgeAndRebuild(folder);
    await writeFile(path.join(folder, RUN, 'manifest.json'), canonicalJson(rebuilt));
    await rm(path.join(folder, RUN, 'execution-history.jsonl'));
    const accepted = await verify(folder, '--no-anchor');
    expect(accepted.code).toBe(EXIT.OK);
    expect(accepted.out[1]).toBe('  --no-anchor: the root was not checked against a signature, so a manifest rebuilt over forged files would also pass');
  });

  it('a signing key inside the evidence folder is refused before anything is written', async () => {
    const t = cli();
    const spec = await miniSpec({ runId: 'sec-key-inside' });
    await writeFile(path.join(dir, 'inside.json'), JSON.stringify(spec));
    const prev = process.env.CUTLINE_SIGNING_KEY;
    process.env.CUTLINE_SIGNING_KEY = path.join(evidence, 'key.pem');
    try {
      expect(await main(['run', path.join(dir, 'inside.json'), '--local', '--auto-approve', '--evidence-dir', evidence, '--work-dir', work], t.io)).not.toBe(EXIT.OK);
    } finally {
      process.env.CUTLINE_SIGNING_KEY = prev;
    }
    expect(t.err.join('\n')).toContain('is inside the evidence folder');
    await expect(readFile(path.join(evidence, 'sec-key-inside', 'spec.json'))).rejects.toThrow();
  });
});

describe('a rollback by hand after GO', () => {
  it('used to break verify and leave status, the report and the seed 003 log saying "no rollback". Now it joins the evidence as a signed addendum and every view shows it', async () => {
    const before = await readFile(path.join(evidence, RUN, 'report.html'), 'utf8');
    const rb = cli();
    // The run's database was in memory: its SQL steps fail (exit 1) and are recorded so; the selector goes back.
    expect(await main(['rollback', RUN, '--yes', '--evidence-dir', evidence, '--work-dir', work], rb.io)).toBe(EXIT.NO_GO);
    const v = await verify(evidence);
    expect(v.err).toEqual([]);
    expect(v.code).toBe(EXIT.OK);
    expect(v.out.join('\n')).toMatch(/addendum 1 \(.*rollback by hand by .*\): 09_rollback_or_no_rollback\.log, 12_rollback_manual_[^,]+\.json, report\.html, summary\.md, superseded\//);
    const addendum = await readJson(path.join(evidence, RUN, 'manifest-addenda', '001.json'));
    expect(addendum.signature.algorithm).toBe('ECDSA_SHA_256');
    const status = cli();
    expect(await main(['status', RUN, '--evidence-dir', evidence], status.io)).toBe(EXIT.OK);
    expect(status.out.join('\n')).toMatch(/rolled back by hand by .* at \d{4}-\d\d-\d\dT.*: FAIL/);
    expect(await readFile(path.join(evidence, RUN, 'report.html'), 'utf8')).toContain('<h2>Rolled back by hand</h2>');
    expect(await readFile(path.join(evidence, RUN, 'summary.md'), 'utf8')).toContain('## Rolled back by hand');
    expect(await readFile(path.join(evidence, RUN, '09_rollback_or_no_rollback.log'), 'utf8')).toMatch(/result: NO_ROLLBACK[\s\S]*command: cutline rollback \(by hand\)/);
    // the report as it was at Summary is kept, with the hash the manifest holds
    const stem = (addendum.files as { file: string }[]).find((f) => f.file.startsWith('12_rollback_manual_'))!.file.replace(/\.json$/, '');
    expect(await readFile(path.join(evidence, RUN, 'superseded', stem, 'report.html'), 'utf8')).toBe(before);
  });

  it('a rollback by hand killed between rewriting the summaries and sealing them: the next one seals what it left, and verify passes', async () => {
    const folder = await copyRun();
    const run = path.join(folder, RUN);
    // What a kill leaves there: the record and the superseded copies written, report.html rewritten, no addendum 2.
    const stem = '12_rollback_manual_2026-11-30T23-00-00-000Z';
    await mkdir(path.join(run, 'superseded', stem), { recursive: true });
    await writeFile(path.join(run, 'superseded', stem, 'report.html'), await readFile(path.join(run, 'report.html')));
    await writeFile(path.join(run, `${stem}.json`), '{"step":"rollback","owner":"killed","result":"PASS","timestamp_utc":"2026-11-30T23:00:00.000Z"}\n');
    await writeFile(path.join(run, 'report.html'), `${await readFile(path.join(run, 'report.html'), 'utf8')}<!-- rewritten -->`);
    expect((await verify(folder)).code).toBe(EXIT.NO_GO);
    const again = cli();
    await main(['rollback', RUN, '--yes', '--evidence-dir', folder, '--work-dir', work], again.io);
    const v = await verify(folder);
    expect(v.err).toEqual([]);
    expect(v.code).toBe(EXIT.OK);
    expect(v.out.join('\n')).toContain(`superseded/${stem}/report.html`);
  });
});
