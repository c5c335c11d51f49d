/** Evidence in a folder: ./evidence/<runId>/... Writes are atomic (temp file + rename). */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, link, lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../../core/evidence';
import type { EvidenceObject, EvidenceStore, EvidenceWriter } from '../../ports';

/** Write and fsync, so a record that exists is complete. */
async function writeSynced(file: string, body: string | Uint8Array, flag: 'w' | 'wx'): Promise<void> {
  const fh = await open(file, flag);
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class FsEvidenceStore implements EvidenceStore {
  readonly location: string;
  constructor(private readonly root: string) {
    this.location = `${path.resolve(root)}/`;
  }

  private file(key: string): string {
    const p = path.resolve(this.root, key);
    if (!p.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`evidence key ${JSON.stringify(key)} escapes the evidence folder`);
    return p;
  }

  async put(key: string, body: string | Uint8Array, _contentType?: string): Promise<EvidenceObject> {
    const p = this.file(key);
    await mkdir(path.dirname(p), { recursive: true });
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    await writeSynced(tmp, body, 'w');
    await rename(tmp, p);
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    return { key, sha256: sha256Hex(buf), size: buf.length };
  }

  writer(key: string, _contentType?: string): EvidenceWriter {
    const p = this.file(key);
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    const hash = createHash('sha256');
    let size = 0;
    let opened: Promise<FileHandle> | undefined;
    const fh = () => {
      opened ??= mkdir(path.dirname(p), { recursive: true }).then(() => open(tmp, 'w'));
      return opened;
    };
    return {
      async write(text: string) {
        const b = Buffer.from(text);
        hash.update(b);
        size += b.length;
        await (await fh()).write(b);
      },
      async close() {
        const h = await fh();
        await h.sync();
        await h.close();
        await rename(tmp, p);
        return { key, sha256: hash.digest('hex'), size };
      },
      async abort() {
        if (!opened) return;
        await (await opened).close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
      },
    };
  }

  async putIfAbsent(key: string, body: string | Uint8Array, _contentType?: string): Promise<boolean> {
    const p = this.file(key);
    await mkdir(path.dirname(p), { recursive: true });
    // Complete before it exists: written to a temp file, then hard-linked into place (link fails if the key exists).
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    await writeSynced(tmp, body, 'w');
    try {
      await link(tmp, p);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  objectKey(key: string): string {
    return this.file(key);
  }

  browseUrl(prefix: string): string {
    return pathToFileURL(this.file(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix)).toString();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const p = this.file(key);
      // Only regular files are evidence: a symlink planted in the folder is never read through.
      if (!(await lstat(p)).isFile()) throw new Error(`evidence ${key} is not a regular file (a link or device); expected a file the run wrote`);
      return await readFile(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** A file's lines as they are read (the local Distributed Map's JSONL items); a regular file only, as get. */
  async *lines(key: string): AsyncIterable<string> {
    const p = this.file(key);
    if (!(await lstat(p)).isFile()) throw new Error(`evidence ${key} is not a regular file (a link or device); expected a file the run wrote`);
    yield* createInterface({ input: createReadStream(p, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  }

  async keys(prefix: string): Promise<string[]> {
    const dir = this.file(prefix.endsWith('/') ? `${prefix}x` : prefix);
    const base = prefix.endsWith('/') ? path.dirname(dir) : dir;
    const out: string[] = [];
    const walk = async (d: string) => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const ent of entries) {
        const full = path.join(d, ent.name);
        if (ent.isDirectory()) await walk(full);
        else if (ent.isFile() && !ent.name.endsWith('.tmp')) out.push(path.relative(path.resolve(this.root), full).split(path.sep).join('/'));
      }
    };
    await walk(base);
    return out.sort();
  }

  async list(prefix: string): Promise<EvidenceObject[]> {
    const out: EvidenceObject[] = [];
    for (const key of await this.keys(prefix)) {
      const body = await readFile(this.file(key)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (body) out.push({ key, sha256: sha256Hex(body), size: body.length });
    }
    return out;
  }
}
