/**
 * One local runner per run: a lock file <evidence>/.runners/<runId>.json with
 * the runner's host, pid and a heartbeat. A second runner of the same runId is
 * refused while the first lives; a lock left by a killed runner (its pid is
 * gone, or its heartbeat is stale) is taken over. `cutline status` reads the
 * same file to tell a dead local run from a running one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface RunnerInfo {
  readonly runId: string;
  readonly host: string;
  readonly pid: number;
  /** The process's start time (Linux /proc), so a reused pid is not taken for the runner. */
  readonly pid_start?: string;
  readonly started_utc: string;
  readonly heartbeat_utc: string;
}

/** A heartbeat older than this means the runner is gone (on another host, where its pid cannot be checked). */
export const HEARTBEAT_STALE_MS = 30_000;
const HEARTBEAT_EVERY_MS = 5_000;

export const runnerLockFile = (evidenceRoot: string, runId: string) => path.join(path.resolve(evidenceRoot), '.runners', `${runId}.json`);

/** Linux: the process's state and start time (clock ticks since boot) from /proc; undefined elsewhere or when it is gone. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after its last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, start: f[19]! };
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = procStat(pid);
  if (!st) return !existsSync('/proc/self/stat'); // no /proc: trust kill(0)
  // A killed runner nobody has reaped yet is a zombie: dead. A reused pid has another start time: dead too.
  if (st.state === 'Z' || st.state === 'X') return false;
  return start === undefined || st.start === start;
}

/** Is the runner that wrote this lock still alive? */
export function runnerAlive(info: RunnerInfo, now: Date = new Date()): boolean {
  if (info.host === os.hostname()) return pidAlive(info.pid, info.pid_start);
  return now.getTime() - Date.parse(info.heartbeat_utc) < HEARTBEAT_STALE_MS;
}

export async function readRunnerLock(evidenceRoot: string, runId: string): Promise<RunnerInfo | undefined> {
  try {
    return JSON.parse(await readFile(runnerLockFile(evidenceRoot, runId), 'utf8')) as RunnerInfo;
  } catch {
    return undefined;
  }
}

export class RunnerBusyError extends Error {
  override readonly name = 'RunnerBusyError';
}

export interface RunnerLock {
  readonly tookOver?: RunnerInfo;
  release(): Promise<void>;
}

/** Take the run's lock, or throw RunnerBusyError naming the live runner. */
export async function takeRunnerLock(evidenceRoot: string, runId: string): Promise<RunnerLock> {
  const file = runnerLockFile(evidenceRoot, runId);
  await mkdir(path.dirname(file), { recursive: true });
  const started = new Date().toISOString();
  const pidStart = procStat(process.pid)?.start;
  const body = (heartbeat: string) =>
    `${JSON.stringify({ runId, host: os.hostname(), pid: process.pid, ...(pidStart ? { pid_start: pidStart } : {}), started_utc: started, heartbeat_utc: heartbeat } satisfies RunnerInfo)}\n`;
  let tookOver: RunnerInfo | undefined;
  for (let i = 0; ; i++) {
    try {
      await writeFile(file, body(started), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i >= 5) throw e;
    }
    const holder = await readRunnerLock(evidenceRoot, runId);
    if (holder && runnerAlive(holder))
      throw new RunnerBusyError(
        `run ${runId} is already running (pid ${holder.pid} on ${holder.host}, started ${holder.started_utc}, last heartbeat ${holder.heartbeat_utc}); expected one runner per run: wait for it, or stop it and resume`,
      );
    // Stale: move it aside (atomic: of two runners taking over, one rename wins, the other retries).
    tookOver = holder;
    const aside = `${file}.${randomBytes(4).toString('hex')}.stale`;
    if (await rename(file, aside).then(() => true, () => false)) await unlink(aside).catch(() => undefined);
  }
  const timer = setInterval(() => {
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFile(tmp, body(new Date().toISOString()))
      .then(() => rename(tmp, file))
      .catch(() => undefined);
  }, HEARTBEAT_EVERY_MS);
  timer.unref();
  return {
    ...(tookOver ? { tookOver } : {}),
    release: async () => {
      clearInterval(timer);
      await unlink(file).catch(() => undefined);
    },
  };
}
