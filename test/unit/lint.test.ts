/** Migration lint: each blocking rule fires on the risky form, not on the safe one; allow-list comments and the contract phase. */
import { describe, expect, it } from 'vitest';
import { expectedLock, lintMigrations } from '../../lambdas/core/lint';
import { loadMigrations } from '../../lambdas/core/migrations';

const lint = (sql: string, dialect: 'postgres' | 'mysql' = 'postgres', contract = false) =>
  lintMigrations(loadMigrations([{ name: 'V1__x.sql', body: sql }], dialect), dialect, { contract }).map((f) => `${f.code}${f.blocking ? '' : '(allowed)'}`);

describe('lint rules (PostgreSQL)', () => {
  const cases: [string, string[]][] = [
    ['CREATE INDEX i ON orders (a);', ['CL001']],
    ['CREATE INDEX CONCURRENTLY i ON orders (a);', []],
    ['ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES customers (id);', ['CL002']],
    ['ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;', []],
    ['ALTER TABLE orders ALTER COLUMN c SET NOT NULL;', ['CL003']],
    ['ALTER TABLE orders ADD COLUMN u uuid DEFAULT gen_random_uuid();', ['CL004']],
    ['ALTER TABLE orders ADD COLUMN u uuid;', []],
    ["ALTER TABLE orders ADD COLUMN s text DEFAULT 'x';", []],
    ['ALTER TABLE orders ALTER COLUMN total TYPE numeric(14,2);', ['CL005']],
    ['DROP TABLE legacy;', ['CL006']],
    ['ALTER TABLE orders DROP COLUMN legacy_id;', ['CL006']],
    ['TRUNCATE audit;', ['CL006']],
    ['ALTER TABLE orders RENAME COLUMN a TO b;', ['CL007']],
    ['ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0);', ['CL008']],
    ['ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0) NOT VALID;', []],
    ['ALTER TABLE orders ADD CONSTRAINT u UNIQUE (code);', ['CL009']],
    ['ALTER TABLE orders ADD CONSTRAINT u UNIQUE USING INDEX orders_code_idx;', []],
    ['VACUUM FULL orders;', ['CL010']],
  ];
  for (const [sql, codes] of cases) it(sql, () => expect(lint(sql)).toEqual(codes));

  it('a table created in the same migration set may be indexed and constrained at once', () => {
    expect(lint('CREATE TABLE fresh (id int, c int); CREATE INDEX fresh_c ON fresh (c); ALTER TABLE fresh ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES fresh (id);')).toEqual([]);
  });

  it('an allow-list comment right before the statement allows it, with its reason', () => {
    const f = lintMigrations(loadMigrations([{ name: 'V1__x.sql', body: '-- cutline:allow CL001 tiny lookup table, 40 rows\nCREATE INDEX i ON countries (code);\nCREATE INDEX j ON orders (a);' }], 'postgres'), 'postgres');
    expect(f.map((x) => [x.code, x.line, x.blocking, x.allowReason])).toEqual([
      ['CL001', 2, false, 'tiny lookup table, 40 rows'],
      ['CL001', 3, true, undefined],
    ]);
  });

  it('destructive statements are allowed in contract files only', () => {
    expect(lint('ALTER TABLE orders DROP COLUMN legacy_id;', 'postgres', true)).toEqual(['CL006(allowed)']);
    expect(lint('CREATE INDEX i ON orders (a);', 'postgres', true)).toEqual(['CL001']);
  });
});

describe('lint rules (MySQL)', () => {
  it('ALTER without an online algorithm, type changes, drops', () => {
    expect(lint('ALTER TABLE orders ADD INDEX i (a);', 'mysql')).toEqual(['CL011']);
    expect(lint('ALTER TABLE orders ADD INDEX i (a), ALGORITHM=INPLACE, LOCK=NONE;', 'mysql')).toEqual([]);
    expect(lint('ALTER TABLE orders MODIFY COLUMN total DECIMAL(14,2);', 'mysql')).toEqual(['CL005']);
    expect(lint('ALTER TABLE orders DROP COLUMN legacy;', 'mysql')).toEqual(['CL006']);
    expect(lint('CREATE INDEX i ON orders (a);', 'mysql')).toEqual([]);
  });
});

describe('expected locks for the dry run', () => {
  it('names the lock each statement takes', () => {
    expect(expectedLock('CREATE INDEX CONCURRENTLY i ON t (a)', 'postgres')).toBe('SHARE UPDATE EXCLUSIVE (writes continue)');
    expect(expectedLock('CREATE INDEX i ON t (a)', 'postgres')).toBe('SHARE (writes wait)');
    expect(expectedLock('ALTER TABLE t ADD COLUMN c int', 'postgres')).toBe('ACCESS EXCLUSIVE');
    expect(expectedLock('ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT', 'mysql')).toBe('metadata lock (instant)');
  });
});
