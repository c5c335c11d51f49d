/**
 * ParameterStore in a JSON file: launch-gate values and the runtime selector
 * of a local run. `{ "/name": "value" }`, or `{ "/name": { "type":
 * "SecureString", "value": "…" } }` for a value that is secret (as in SSM).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { PARAM_VALUE_MAX } from '../../core/spec-parts';
import type { ParameterStore } from '../../ports';

export class FileParameterStore implements ParameterStore {
  constructor(readonly file: string) {}

  private async read(): Promise<Record<string, string>> {
    return Object.fromEntries(Object.entries(await this.readTyped()).map(([k, v]) => [k, v.value]));
  }

  private async readTyped(): Promise<Record<string, { value: string; secure: boolean }>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`parameters file ${this.file} is not valid JSON: ${(e as Error).message}; expected {"<name>": "<value>", ...}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error(`parameters file ${this.file}: expected a JSON object of name -> string value`);
    const out: Record<string, { value: string; secure: boolean }> = {};
    for (const [k, v] of Object.entries(data)) {
      if (typeof v === 'string') out[k] = { value: v, secure: false };
      else if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'SecureString' && typeof (v as { value?: unknown }).value === 'string')
        out[k] = { value: (v as { value: string }).value, secure: true };
      else throw new Error(`parameters file ${this.file}: "${k}" is ${typeof v === 'object' ? 'an object' : JSON.stringify(v)}; expected a string value or {"type": "SecureString", "value": "..."}`);
    }
    return out;
  }

  async secureNames(names: readonly string[]): Promise<Set<string>> {
    const all = await this.readTyped();
    return new Set(names.filter((n) => all[n]?.secure));
  }

  async getMany(names: readonly string[]): Promise<Map<string, string>> {
    const all = await this.read();
    return new Map(names.filter((n) => n in all).map((n) => [n, all[n]!]));
  }

  async put(name: string, value: string): Promise<void> {
    // As strict as SSM's PutParameter (standard tier): a run that writes what AWS refuses fails here too.
    if (value.length === 0 || value.length > PARAM_VALUE_MAX)
      throw new Error(
        `parameter ${name}: got ${value.length ? `a value of ${value.length.toLocaleString('en-US')} characters` : 'an empty value'}; expected 1 to 4,096 characters (SSM PutParameter refuses it)`,
      );
    const typed = await this.readTyped();
    const all: Record<string, unknown> = Object.fromEntries(Object.entries(typed).map(([k, v]) => [k, v.secure ? { type: 'SecureString', value: v.value } : v.value]));
    all[name] = typed[name]?.secure ? { type: 'SecureString', value } : value;
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
    await rename(tmp, this.file);
  }
}
