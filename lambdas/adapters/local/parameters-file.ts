/** ParameterStore in a JSON file ({ "/name": "value" }): launch-gate values and the runtime selector of a local run. */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ParameterStore } from '../../ports';

export class FileParameterStore implements ParameterStore {
  constructor(readonly file: string) {}

  private async read(): Promise<Record<string, string>> {
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
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string') throw new Error(`parameters file ${this.file}: "${k}" is ${JSON.stringify(v)}; expected a string value`);
    }
    return data as Record<string, string>;
  }

  async getMany(names: readonly string[]): Promise<Map<string, string>> {
    const all = await this.read();
    return new Map(names.filter((n) => n in all).map((n) => [n, all[n]!]));
  }

  async put(name: string, value: string): Promise<void> {
    const all = await this.read();
    all[name] = value;
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
    await rename(tmp, this.file);
  }
}
