/** Migration and data files from the local disk. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ScriptSource } from '../../ports';
import { decodeUtf8Strict } from '../../core/text';

export class DirScriptSource implements ScriptSource {
  async list(location: string): Promise<{ name: string; body: string }[]> {
    let names: string[];
    try {
      names = await readdir(location);
    } catch (e) {
      throw new Error(`migrations location ${JSON.stringify(location)} cannot be read (${(e as NodeJS.ErrnoException).code}); expected a folder of V<n>__<name>.sql files`);
    }
    const files = names.filter((n) => n.endsWith('.sql')).sort();
    return Promise.all(files.map(async (name) => ({ name, body: decodeUtf8Strict(await readFile(path.join(location, name)), path.join(location, name)) })));
  }

  async read(location: string): Promise<string> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(location);
    } catch (e) {
      throw new Error(`file ${JSON.stringify(location)} cannot be read (${(e as NodeJS.ErrnoException).code}); expected a readable local file`);
    }
    return decodeUtf8Strict(bytes, location);
  }
}
