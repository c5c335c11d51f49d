/** CommandRunner on this machine's shell: the jumpbox of a local run. */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { CommandResult, CommandRunner } from '../../ports';

/** SSM returns at most this much output inline; locally we keep the same limits. */
const STDOUT_LIMIT = 24_000;
const STDERR_LIMIT = 8_000;

export class LocalShellRunner implements CommandRunner {
  private readonly running = new Map<string, Promise<CommandResult>>();
  private readonly done = new Map<string, CommandResult>();

  constructor(private readonly shell = '/bin/bash') {}

  async ping(instanceId: string): Promise<{ online: boolean; detail: string }> {
    const id = await this.send(instanceId, 'echo cutline-ping', { timeoutSeconds: 10 });
    const r = await this.running.get(id)!;
    const online = r.status === 'Success' && r.stdout.trim() === 'cutline-ping';
    return { online, detail: online ? `local shell ${this.shell} runs commands` : `local shell ${this.shell}: ${r.status} ${r.stderr}` };
  }

  async send(_instanceId: string, script: string, opts: { timeoutSeconds: number }): Promise<string> {
    const id = randomUUID();
    const p = new Promise<CommandResult>((resolve) => {
      const child = spawn(this.shell, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, opts.timeoutSeconds * 1000);
      const finish = (code: number | null, err?: Error) => {
        clearTimeout(timer);
        const r: CommandResult = {
          commandId: id,
          status: timedOut ? 'TimedOut' : err ? 'Failed' : code === 0 ? 'Success' : 'Failed',
          exitCode: timedOut ? null : code,
          stdout: stdout.slice(0, STDOUT_LIMIT),
          stderr: (err ? `${err.message}\n${stderr}` : stderr).slice(0, STDERR_LIMIT),
        };
        this.done.set(id, r);
        resolve(r);
      };
      child.on('error', (e) => finish(null, e));
      child.on('close', (code) => finish(code));
    });
    this.running.set(id, p);
    return id;
  }

  async get(_instanceId: string, commandId: string): Promise<CommandResult> {
    const r = this.done.get(commandId);
    if (r) return r;
    if (!this.running.has(commandId)) throw new Error(`no local command ${commandId}`);
    return { commandId, status: 'InProgress', exitCode: null, stdout: '', stderr: '' };
  }
}
