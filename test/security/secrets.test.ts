/**
 * Secrets never leak (issue 10): a database password in a spec URL — given
 * on the command line or filled from ${env:…} — appears in no evidence file,
 * no execution history event, nothing under the work folder and no console
 * line of a whole run. (The local server trusts 127.0.0.1, so any password
 * connects: the test is about where the password goes, not auth.)
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-run';
import { dropDatabase, freshDatabase } from '../support/databases';
import { PG_URL } from '../support/env';
import { miniSpec, tempDir } from '../support/local-run';

async function everyFile(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if ((await stat(p)).isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

describe.runIf(!!PG_URL)('a password in a database URL', () => {
  const name = `cutline_secret_${process.pid}`;
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase(PG_URL!, name);
  });
  afterAll(() => dropDatabase(PG_URL!, name));

  it('from --source-url or ${env:…}: not in evidence, history, work folder or console; the run still connects', async () => {
    const PASSWORD = 'S3cret-Passw0rd-4f9c';
    const withPassword = (() => {
      const u = new URL(url);
      u.password = PASSWORD;
      return u.toString();
    })();
    const dir = await tempDir('cutline-secret-');
    const spec = await miniSpec({ runId: 'secret-cli' });
    const file = path.join(dir, 'spec.json');
    await writeFile(file, JSON.stringify(spec));
    const cli = await runCli(['run', file, '--local', '--auto-approve', '--seed', '--source-url', withPassword, '--evidence-dir', path.join(dir, 'ev'), '--work-dir', path.join(dir, 'work')]);
    expect(cli.code, cli.lines.join('\n')).toBe(0);

    // The same through the spec and the environment.
    const envSpec = { ...(await miniSpec({ runId: 'secret-env' })), source: { engine: 'postgres', url: withPassword.replace(PASSWORD, '${env:CUTLINE_TEST_DB_PASSWORD}') } };
    const envFile = path.join(dir, 'env-spec.json');
    await writeFile(envFile, JSON.stringify(envSpec));
    await dropDatabase(PG_URL!, name);
    await freshDatabase(PG_URL!, name);
    const viaEnv = await runCli(['run', envFile, '--local', '--auto-approve', '--seed', '--evidence-dir', path.join(dir, 'ev'), '--work-dir', path.join(dir, 'work')], undefined, {
      ...process.env,
      CUTLINE_TEST_DB_PASSWORD: PASSWORD,
    });
    expect(viaEnv.code, viaEnv.lines.join('\n')).toBe(0);

    const leaks: string[] = [];
    for (const f of await everyFile(dir)) if (f !== file && f !== envFile && (await readFile(f, 'utf8')).includes(PASSWORD)) leaks.push(path.relative(dir, f));
    for (const l of [...cli.lines, ...viaEnv.lines]) if (l.includes(PASSWORD)) leaks.push(`console: ${l}`);
    expect(leaks).toEqual([]);
    // What the run recorded says where it connected, with the password masked.
    expect(await readFile(path.join(dir, 'ev/secret-cli/spec.json'), 'utf8')).toContain(':***@127.0.0.1');
  }, 180_000);
});

describe('SecureString parameters are secret whatever the spec says', () => {
  it('a failing launch-gate value marked secret: false, and a flipped SecureString, never appear in evidence or on the console', async () => {
    const { runLocal } = await import('../../cli/runner/run');
    const { readJson } = await import('../support/local-run');
    const dir = await tempDir('cutline-securestring-');
    const SECRET = 'not-hex-but-SECRET-value-77';
    const PREVIOUS = 'selector-secret-previous-991';
    const spec = await miniSpec({ runId: 'securestring' });
    const params = await readJson(spec.local.parameters);
    const file = path.join(dir, 'params.json');
    // The spec says NODE_ENV is not secret; the store says it is a SecureString (and it is wrong, so Preflight reports it).
    await writeFile(file, JSON.stringify({ ...params, '/cloudbackup/prod/NODE_ENV': { type: 'SecureString', value: SECRET } }));
    spec.local.parameters = file;
    const lines: string[] = [];
    const blocked = await runLocal({ spec, evidenceDir: path.join(dir, 'ev'), workDir: path.join(dir, 'work'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
    expect([blocked.outcome, blocked.classification]).toEqual(['NO_GO', 'ENVIRONMENT_BLOCKED']);
    expect(lines.join('\n')).toContain('/cloudbackup/prod/NODE_ENV: got a different value; expected equal to the expected value');

    // A SecureString runtime selector flipped by the cutover: its previous value is recorded as a hash, and it stays a SecureString.
    const flip = await miniSpec({ runId: 'securestring-flip' });
    const flipFile = path.join(dir, 'flip-params.json');
    await writeFile(flipFile, JSON.stringify({ ...params, '/cloudbackup/prod/agent-identity': { type: 'SecureString', value: PREVIOUS } }));
    flip.local.parameters = flipFile;
    // (the demo's launch gate also checks the selector's value; this run's previous value is a made-up secret)
    flip.preflight.parameters = flip.preflight.parameters.filter((r: { name?: string }) => r.name !== '/cloudbackup/prod/agent-identity');
    const go = await runLocal({ spec: flip, evidenceDir: path.join(dir, 'ev'), workDir: path.join(dir, 'work'), approval: { kind: 'auto', decision: 'approve', approver: 'a', comment: '' }, out: (l) => lines.push(l) });
    expect([go.outcome, go.reason]).toEqual(['GO', expect.any(String)]);
    const cutover = await readJson(path.join(dir, 'ev/securestring-flip/10_cutover.json'));
    expect(cutover.details.actions[0].previous).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await readJson(path.join(dir, 'work/securestring-flip/parameters.json'))).toMatchObject({ '/cloudbackup/prod/agent-identity': { type: 'SecureString', value: 'agent_uuid' } });

    const leaks: string[] = [];
    for (const f of await everyFile(path.join(dir, 'ev'))) {
      const text = await readFile(f, 'utf8');
      if (text.includes(SECRET) || text.includes(PREVIOUS)) leaks.push(path.relative(dir, f));
    }
    for (const l of lines) if (l.includes(SECRET) || l.includes(PREVIOUS)) leaks.push(`console: ${l}`);
    expect(leaks).toEqual([]);
  }, 120_000);
});
