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
