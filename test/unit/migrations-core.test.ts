/** Migrations without a database: loading, history validation, per-statement hashes. */
import { describe, expect, it } from 'vitest';
import { loadMigrations, statementHash, validateAgainstHistory } from '../../lambdas/core/migrations';

describe('migrations', () => {
  const files = [
    { name: 'V1__a.sql', body: 'CREATE TABLE a (id int);' },
    { name: 'V2__b.sql', body: 'ALTER TABLE a ADD COLUMN b int; CREATE INDEX ON a (b);' },
  ];
  it('orders files by version and splits statements', () => {
    const m = loadMigrations([files[1]!, files[0]!, { name: 'README.md', body: '' }], 'postgres');
    expect(m.map((x) => [x.script, x.statements.length])).toEqual([
      ['V1__a.sql', 1],
      ['V2__b.sql', 2],
    ]);
    expect(m[1]!.chain).not.toBe(m[0]!.chain);
  });
  it('refuses bad names and duplicate versions, naming the file', () => {
    expect(() => loadMigrations([{ name: 'add_col.sql', body: 'x' }], 'postgres')).toThrow(/"add_col.sql" does not match V<version>__<description>.sql/);
    expect(() => loadMigrations([files[0]!, { name: 'V1__again.sql', body: 'SELECT 1' }], 'postgres')).toThrow(/two migration files have version 1/);
  });
  it('an edited, removed or inserted file is a hard failure naming it', () => {
    const m = loadMigrations(files, 'postgres');
    const h = (v: string, script: string, sha: string) => ({ version: v, script, sha256: sha, success: true, statements_applied: 1, statements_total: 1 });
    expect(validateAgainstHistory(m, [h('1', 'V1__a.sql', 'deadbeef')]).problems[0]).toMatchObject({ script: 'V1__a.sql', problem: 'edited' });
    expect(validateAgainstHistory(m, [h('1', 'V1__a.sql', m[0]!.sha256), h('3', 'V3__c.sql', 'x')]).problems).toEqual([
      { script: 'V3__c.sql', problem: 'removed', detail: 'V3__c.sql (version 3) was applied but is no longer in the migrations folder' },
      expect.objectContaining({ script: 'V2__b.sql', problem: 'inserted' }),
    ]);
    const ok = validateAgainstHistory(m, [h('1', 'V1__a.sql', m[0]!.sha256)]);
    expect([ok.problems, ok.pending.map((x) => x.script)]).toEqual([[], ['V2__b.sql']]);
  });
});

describe('statement log (per-statement hashes)', () => {
  const m = loadMigrations([{ name: 'V1__x.sql', body: 'ALTER TABLE a ADD COLUMN b int; ALTER TABLE a ADD COLUMN c int; ALTER TABLE a ADD COLUMN d int;' }], 'mysql');
  const row = (hashes: string[]) => ({ version: '1', script: 'V1__x.sql', sha256: m[0]!.sha256, success: false, statements_applied: 2, statements_total: 3, statement_hashes: hashes });
  it('a half-applied file resumes after the statements its log names', () => {
    const ok = validateAgainstHistory(m, [row(m[0]!.statements.slice(0, 2).map((x) => statementHash(x.sql)))]);
    expect([ok.problems, ok.partial.get('1')]).toEqual([[], 2]);
  });
  it('a log that does not match the file is a hard failure, not a resume', () => {
    const bad = validateAgainstHistory(m, [row(['x', 'y'])]);
    expect(bad.problems[0]).toMatchObject({ script: 'V1__x.sql', problem: 'edited' });
    expect(bad.partial.size).toBe(0);
  });
});
