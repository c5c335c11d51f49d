/** Local adapters: evidence folder, local shell, parameters file. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalShellRunner } from '../../lambdas/adapters/local/command-shell';
import { sha256Hex } from '../../lambdas/core/evidence';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { FileParameterStore } from '../../lambdas/adapters/local/parameters-file';
import { jsonSchema } from '../../cli/commands/plan';
import { tempDir } from '../support/local-run';
import { waitFor } from '../support/wait';

describe('filesystem evidence', () => {
  it('content-addressed puts, single-use putIfAbsent, recursive list, no escaping the folder', async () => {
    const dir = await tempDir();
    const store = new FsEvidenceStore(dir);
    const r = await store.put('run/01_x.json', 'hello');
    expect(r.sha256).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(await store.putIfAbsent('run/09_decision.json', 'a')).toBe(true);
    expect(await store.putIfAbsent('run/09_decision.json', 'b')).toBe(false);
    expect(await readFile(path.join(dir, 'run/09_decision.json'), 'utf8')).toBe('a');
    await store.put('run/05_backfill/t/000001.json', '{}');
    expect((await store.list('run/')).map((o) => o.key)).toEqual(['run/01_x.json', 'run/05_backfill/t/000001.json', 'run/09_decision.json']);
    expect(await store.get('run/missing.json')).toBeUndefined();
    await expect(store.put('../outside.json', 'x')).rejects.toThrow(/escapes the evidence folder/);
  });
});

describe('filesystem evidence writer', () => {
  it('writes piece by piece into a temp file; the key exists, complete, only after close; abort leaves nothing', async () => {
    const dir = await tempDir();
    const store = new FsEvidenceStore(dir);
    const w = store.writer('run/07_gates/chunks.jsonl');
    await w.write('{"i":0}\n');
    await w.write('{"i":1}\n');
    expect(await store.get('run/07_gates/chunks.jsonl')).toBeUndefined();
    expect(await w.close()).toEqual({ key: 'run/07_gates/chunks.jsonl', sha256: sha256Hex('{"i":0}\n{"i":1}\n'), size: 16 });
    expect(await readFile(path.join(dir, 'run/07_gates/chunks.jsonl'), 'utf8')).toBe('{"i":0}\n{"i":1}\n');
    const dropped = store.writer('run/07_gates/dropped.jsonl');
    await dropped.write('half');
    await dropped.abort();
    expect(await store.keys('run/')).toEqual(['run/07_gates/chunks.jsonl']);
  });
});

describe('local shell (the jumpbox of a local run)', () => {
  it('reports exit code and output, and kills a command that passes its timeout', async () => {
    const sh = new LocalShellRunner();
    const done = (id: string) =>
      waitFor(async () => {
        const r = await sh.get('local', id);
        return r.status === 'InProgress' ? undefined : r;
      }, `local command ${id} to end`, { everyMs: 20, looks: 1500 });
    expect(await done(await sh.send('local', 'echo out; echo err >&2; exit 3', { timeoutSeconds: 5 }))).toMatchObject({ status: 'Failed', exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    const hung = await done(await sh.send('local', 'sleep 30', { timeoutSeconds: 1 }));
    expect(hung).toMatchObject({ status: 'TimedOut', exitCode: null });
    expect(await sh.ping('local')).toMatchObject({ online: true });
  });
});

describe('parameters file', () => {
  it('reads, writes, and names a broken file with what was expected', async () => {
    const f = path.join(await tempDir(), 'p.json');
    const store = new FileParameterStore(f);
    expect((await store.getMany(['/a'])).size).toBe(0);
    await store.put('/a', '1');
    expect(await store.getMany(['/a', '/b'])).toEqual(new Map([['/a', '1']]));
    // As strict as SSM's PutParameter: no empty value, none over the standard tier's 4,096 characters; nothing written.
    await expect(store.put('/a', '')).rejects.toThrow('parameter /a: got an empty value; expected 1 to 4,096 characters (SSM PutParameter refuses it)');
    await expect(store.put('/a', 'x'.repeat(4097))).rejects.toThrow('parameter /a: got a value of 4,097 characters; expected 1 to 4,096 characters (SSM PutParameter refuses it)');
    expect(await store.getMany(['/a'])).toEqual(new Map([['/a', '1']]));
    await writeFile(f, '{"/a": 1}');
    await expect(store.getMany(['/a'])).rejects.toThrow('"/a" is 1; expected a string value');
    await writeFile(f, 'nope');
    await expect(store.getMany(['/a'])).rejects.toThrow(/is not valid JSON.*expected \{"<name>": "<value>", \.\.\.\}/);
  });
});

describe('JSON Schema for editors', () => {
  it('schema/run-spec.v1.json is generated from the zod schema (regenerate: cutline schema -o ...)', async () => {
    const shipped = JSON.parse(await readFile(new URL('../../schema/run-spec.v1.json', import.meta.url), 'utf8'));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(jsonSchema())));
    expect(shipped.required).toEqual(expect.arrayContaining(['version', 'runId', 'owner', 'tCutover', 'source']));
  });
});

describe('evidence folder: only regular files', () => {
  it('get() refuses a symlink planted in a run folder (never reads through it); list() leaves it out', async () => {
    const { symlink } = await import('node:fs/promises');
    const dir = await tempDir();
    const store = new FsEvidenceStore(dir);
    await store.put('run/01_x.json', '{}');
    await symlink('/etc/hostname', path.join(dir, 'run/02_planted.json'));
    await expect(store.get('run/02_planted.json')).rejects.toThrow('evidence run/02_planted.json is not a regular file');
    expect((await store.list('run/')).map((o) => o.key)).toEqual(['run/01_x.json']);
    expect(await store.get('run/03_missing.json')).toBeUndefined();
  });
});

describe('data and migration files are strict UTF-8', () => {
  it('a bad byte is an error naming the file and its line, never a U+FFFD in the data', async () => {
    const { DirScriptSource } = await import('../../lambdas/adapters/local/scripts-dir');
    const dir = await tempDir();
    const file = path.join(dir, 'rows.csv');
    await writeFile(file, Buffer.concat([Buffer.from('id,name\n1,Zoë\n2,'), Buffer.from([0xff, 0xfe]), Buffer.from('x\n')]));
    await expect(new DirScriptSource().read(file)).rejects.toThrow(`${file}: line 3 is not valid UTF-8`);
    await writeFile(path.join(dir, 'V1__a.sql'), Buffer.from([0x53, 0x45, 0x4c, 0xc3]));
    await expect(new DirScriptSource().list(dir)).rejects.toThrow(/V1__a\.sql: line 1 is not valid UTF-8/);
    await writeFile(file, 'id,name\n1,Zoë\n');
    expect(await new DirScriptSource().read(file)).toBe('id,name\n1,Zoë\n');
  });
});
