/**
 * One local runner per run: a lock file <evidence>/.runners/<runId>.json with
 * the runner's host, pid and a heartbeat. A second runner of the same runId is
 * refused while the first lives; a lock left by a killed runner (its pid is
 * gone, or its heartbeat is stale) is taken over. `cutline status` reads the
 * same file to tell a dead local run from a running one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processAlive, procStat } from '../lambdas/adapters/local/process';

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

/** Is the runner that wrote this lock still alive? */
export function runnerAlive(info: RunnerInfo, now: Date = new Date()): boolean {
  if (info.host === os.hostname()) return processAlive(info.pid, info.pid_start);
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
