/**
 * CommandRunner on this machine's shell: the jumpbox of a local run. Like SSM
 * Run Command, a command outlives the process that sent it: with a state
 * folder, each command runs detached with its output, exit code and pid in
 * files (<stateDir>/<commandId>/), so a resumed runner can poll a command the
 * killed one sent instead of running it twice.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandResult, CommandRunner, FullOutput } from '../../ports';
import { processAlive } from './process';

/** SSM returns at most this much output inline; locally we keep the same limits. */
const STDOUT_LIMIT = 24_000;
const STDERR_LIMIT = 8_000;

/** SSM's cut of stdout, with the full output's size and SHA-256 when it was cut (the full output stays where it was written). */
function cutStdout(full: string, url?: string): { stdout: string; fullStdout?: FullOutput } {
  if (full.length <= STDOUT_LIMIT) return { stdout: full };
  return { stdout: full.slice(0, STDOUT_LIMIT), fullStdout: { ...(url ? { url } : {}), bytes: Buffer.byteLength(full), sha256: createHash('sha256').update(full).digest('hex') } };
}

const read = (f: string): string | undefined => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return undefined;
  }
};

export class LocalShellRunner implements CommandRunner {
  private readonly running = new Map<string, Promise<CommandResult>>();
  private readonly done = new Map<string, CommandResult>();
  private readonly pids = new Map<string, number>();
  private readonly cancelled = new Set<string>();

  constructor(
    private readonly shell = '/bin/bash',
    /** Where commands keep their output and exit code (survives this process); none: in memory only. */
    private readonly stateDir?: string,
  ) {}

  async ping(instanceId: string): Promise<{ online: boolean; detail: string }> {
    const id = await this.send(instanceId, 'echo cutline-ping', { timeoutSeconds: 10 });
    const r = await this.running.get(id)!;
    const online = r.status === 'Success' && r.stdout.trim() === 'cutline-ping';
    return { online, detail: online ? `local shell ${this.shell} runs commands` : `local shell ${this.shell}: ${r.status} ${r.stderr}` };
  }

  async send(_instanceId: string, script: string, opts: { timeoutSeconds: number }): Promise<string> {
    const id = randomUUID();
    const dir = this.stateDir ? path.join(this.stateDir, id) : undefined;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'script.sh'), script);
    }
    const p = new Promise<CommandResult>((resolve) => {
      // Detached (its own process group): like a command on the jumpbox, it goes on if the runner dies.
      const child = dir
        ? spawn(this.shell, ['-c', `"$0" script.sh > stdout 2> stderr; echo $? > exit.tmp && mv exit.tmp exit`, this.shell], { cwd: dir, stdio: 'ignore', detached: true })
        : spawn(this.shell, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      if (dir && child.pid) writeFileSync(path.join(dir, 'pid'), String(child.pid));
      if (child.pid) this.pids.set(id, child.pid);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout?.on('data', (d) => {
        stdout += d;
      });
      child.stderr?.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => {
        timedOut = true;
        if (dir) writeFileSync(path.join(dir, 'timed-out'), '');
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, opts.timeoutSeconds * 1000);
      const finish = (code: number | null, err?: Error) => {
        clearTimeout(timer);
        this.pids.delete(id);
        const fromFiles = dir ? this.fromFiles(id) : undefined;
        const r: CommandResult = fromFiles && fromFiles.status !== 'InProgress' && !err
          ? fromFiles
          : {
              commandId: id,
              status: this.cancelled.has(id) ? 'Cancelled' : timedOut ? 'TimedOut' : err ? 'Failed' : code === 0 ? 'Success' : 'Failed',
              exitCode: timedOut ? null : code,
              ...(fromFiles ? { stdout: fromFiles.stdout, ...(fromFiles.fullStdout ? { fullStdout: fromFiles.fullStdout } : {}) } : cutStdout(stdout)),
              stderr: (err ? `${err.message}\n${stderr}` : (fromFiles?.stderr ?? stderr)).slice(0, STDERR_LIMIT),
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

  /** A command's state from its folder (any process may ask). */
  private fromFiles(commandId: string): CommandResult | undefined {
    if (!this.stateDir || !/^[0-9a-f-]{36}$/.test(commandId)) return undefined;
    const dir = path.join(this.stateDir, commandId);
    const pid = read(path.join(dir, 'pid'));
    if (pid === undefined) return undefined;
    const exit = read(path.join(dir, 'exit'));
    // The output is read (and a cut one hashed) once the command has ended, not at every look while it runs.
    const ended = (status: CommandResult['status'], exitCode: number | null, note = ''): CommandResult => ({
      commandId,
      status,
      exitCode,
      ...cutStdout(read(path.join(dir, 'stdout')) ?? '', `file://${path.join(dir, 'stdout')}`),
      stderr: `${read(path.join(dir, 'stderr')) ?? ''}${note}`.slice(0, STDERR_LIMIT),
    });
    if (read(path.join(dir, 'cancelled')) !== undefined) return ended('Cancelled', null);
    if (read(path.join(dir, 'timed-out')) !== undefined) return ended('TimedOut', null);
    if (exit !== undefined) {
      const code = Number(exit.trim());
      return ended(code === 0 ? 'Success' : 'Failed', code);
    }
    if (processAlive(Number(pid))) return { commandId, status: 'InProgress', exitCode: null, stdout: '', stderr: '' };
    return ended('Failed', null, "the command's process ended without an exit code (killed)");
  }

  async get(_instanceId: string, commandId: string): Promise<CommandResult> {
    const r = this.done.get(commandId);
    if (r) return r;
    if (this.running.has(commandId)) return { commandId, status: 'InProgress', exitCode: null, stdout: '', stderr: '' };
    const f = this.fromFiles(commandId);
    if (f) return f;
    throw new Error(`no local command ${commandId}`);
  }

  /** Like CancelCommand: the command's process group is killed and its invocation reads Cancelled. */
  async cancel(_instanceId: string, commandId: string): Promise<void> {
    this.cancelled.add(commandId);
    const dir = this.stateDir && /^[0-9a-f-]{36}$/.test(commandId) ? path.join(this.stateDir, commandId) : undefined;
    if (dir) writeFileSync(path.join(dir, 'cancelled'), '');
    const pid = this.pids.get(commandId) ?? Number(dir ? read(path.join(dir, 'pid')) : undefined);
    if (!pid || !processAlive(pid)) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
