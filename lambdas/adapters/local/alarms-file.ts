/**
 * Alarms standing in for CloudWatch on a local run: a JSON file ({ "<alarm name>": "OK" | "ALARM" |
 * "INSUFFICIENT_DATA" }) read at every poll, so whoever watches the run (an example, a test, an operator) can raise
 * one. An alarm the file does not name is not there, as DescribeAlarms returns nothing for it.
 */
import { readFile } from 'node:fs/promises';
import type { AlarmSource } from '../../ports';

const STATES = new Set(['OK', 'ALARM', 'INSUFFICIENT_DATA']);

export class FileAlarms implements AlarmSource {
  constructor(private readonly file: string) {}

  async states(names: readonly string[]): Promise<Map<string, string>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return new Map();
    }
    let all: Record<string, unknown>;
    try {
      all = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`alarms file ${this.file} is not JSON (${(e as Error).message}); expected { "<alarm name>": "OK" | "ALARM" | "INSUFFICIENT_DATA" }`);
    }
    const out = new Map<string, string>();
    for (const n of names) {
      const v = all[n];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !STATES.has(v)) throw new Error(`alarms file ${this.file}: ${JSON.stringify(n)} is ${JSON.stringify(v)}; expected "OK", "ALARM" or "INSUFFICIENT_DATA"`);
      out.set(n, v);
    }
    return out;
  }
}
