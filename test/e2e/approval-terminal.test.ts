/**
 * The terminal go/no-go through a real pseudo-terminal (util-linux `script`
 * gives the CLI a tty): only the exact words approve / reject decide, approve
 * needs the runId typed back, and nothing defaults to a decision (issue 10).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli-run';
import { miniSpec, readJson, tempDir } from '../support/local-run';

/** The CLI on a pty; `expect(re)` waits for output matching re (event driven), `send` types a line. */
function onPty(args: string[]) {
  const cmd = [path.join(ROOT, 'node_modules/.bin/tsx'), path.join(ROOT, 'bin/cutline.ts'), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  let waiting: { re: RegExp; from: number; resolve: (s: string) => void } | undefined;
  let seen = 0;
  const check = () => {
    if (!waiting) return;
    const rest = text.slice(waiting.from);
    const m = waiting.re.exec(rest);
    if (m) {
      seen = waiting.from + m.index + m[0].length;
      const w = waiting;
      waiting = undefined;
      w.resolve(rest);
    }
  };
  child.stdout.on('data', (d) => {
    text += String(d);
    check();
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    expect: (re: RegExp) =>
      new Promise<string>((resolve) => {
        waiting = { re, from: seen, resolve };
        check();
      }),
    send: (line: string) => child.stdin.write(`${line}\r`),
    closed,
    output: () => text,
  };
}

describe('terminal go/no-go on a pseudo-terminal', () => {
  it('"abort", "go", "yes" and Enter decide nothing; approve needs the runId typed back; then the run cuts over', async () => {
    const dir = await tempDir('cutline-pty-');
    const spec = await miniSpec({ runId: 'pty-approve' });
    const file = path.join(dir, 'spec.json');
    await writeFile(file, JSON.stringify(spec));
    const t = onPty(['run', file, '--local', '--evidence-dir', path.join(dir, 'ev'), '--work-dir', path.join(dir, 'work'), '--approver', 'pty-operator@test']);
    await t.expect(/Type approve or reject: /);
    for (const word of ['abort', 'go', 'yes', '']) {
      t.send(word);
      await t.expect(new RegExp(`got "${word}"; expected the word approve or reject[\\s\\S]*Type approve or reject: `));
    }
    t.send('approve');
    await t.expect(/Type the runId \(pty-approve\) to approve/);
    t.send('pty-approv');
    await t.expect(/got "pty-approv"; expected pty-approve: not approved[\s\S]*Type approve or reject: /);
    t.send('approve');
    await t.expect(/Type the runId \(pty-approve\) to approve/);
    t.send('pty-approve');
    await t.expect(/Comment: /);
    t.send('counts match');
    await t.expect(/GO: every gate passed/);
    expect(await t.closed).toBe(0);
    const rec = await readJson(path.join(dir, 'ev/pty-approve/09_approval.json'));
    expect(rec.details).toMatchObject({ decision: 'approve', approver: 'pty-operator@test', comment: 'counts match', via: 'terminal' });
  }, 120_000);

  it('reject decides at once: NO_GO / APPROVAL_REJECTED, nothing cut over', async () => {
    const dir = await tempDir('cutline-pty-');
    const spec = await miniSpec({ runId: 'pty-reject' });
    const file = path.join(dir, 'spec.json');
    await writeFile(file, JSON.stringify(spec));
    const t = onPty(['run', file, '--local', '--evidence-dir', path.join(dir, 'ev'), '--work-dir', path.join(dir, 'work')]);
    await t.expect(/Type approve or reject: /);
    t.send('REJECT');
    await t.expect(/Comment: /);
    t.send('not tonight');
    await t.expect(/NO_GO \/ APPROVAL_REJECTED/);
    expect(await t.closed).toBe(1);
    expect(await readJson(path.join(dir, 'work/pty-reject/parameters.json'))).not.toMatchObject({ '/cloudbackup/prod/agent-identity': 'agent_uuid' });
  }, 120_000);
});
