/** Run the real CLI in its own process group, and kill it (SIGKILL) at a chosen point: fault and resume tests. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Small deterministic PRNG (mulberry32), seeded, so a failing schedule can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Kill {
  /** Kill once this many output lines matching `when` were printed by this process. */
  readonly afterLines: number;
  /** Then wait this long before the kill (0 = at once). */
  readonly delayMs: number;
  /** Which lines count; default: backfill chunks this process did itself (not skipped ones). */
  readonly when?: (line: string) => boolean;
}

export interface CliRun {
  readonly code: number | null;
  readonly killed: boolean;
  readonly lines: string[];
}

const chunkDone = (l: string) => /^\s+backfill: \d+\/\d+ chunks/.test(l) && !l.includes('skipped');

/** `cutline <args>`; with `kill`, SIGKILL to the whole process group at that point. */
export function runCli(args: string[], kill?: Kill, env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'bin/cutline.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    const lines: string[] = [];
    let seen = 0;
    let killed = false;
    let buf = '';
    const when = kill?.when ?? chunkDone;
    child.stdout.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (kill && !killed && when(l) && ++seen === kill.afterLines) {
          killed = true;
          // The whole process group: tsx runs the CLI in a child process.
          setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch (e) {
              // The run ended before the kill landed (ESRCH): nothing left to kill.
              if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
            }
          }, kill.delayMs);
        }
      }
    });
    child.stderr.on('data', (d) => {
      for (const l of String(d).split('\n')) if (l.trim() && !l.includes('nodedir')) lines.push(`stderr: ${l}`);
    });
    child.on('close', (code) => resolve({ code, killed, lines }));
  });
}
