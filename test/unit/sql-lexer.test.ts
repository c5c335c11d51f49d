/** The SQL lexer: statements split where PostgreSQL and MySQL split them (quotes, dollar bodies, nested comments, routines without DELIMITER), named parameters. */
import { describe, expect, it } from 'vitest';
import { assertSingleStatement, namedParams, splitStatements } from '../../lambdas/core/sql-lexer';

describe('sql lexer', () => {
  it('splits PostgreSQL scripts on ; outside strings, dollar quotes, identifiers and comments', () => {
    const script = `-- leading comment; not a split
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
INSERT INTO "we;ird" VALUES ('a;b', E'it\\'s; fine');
/* block; /* nested; */ still comment */ UPDATE t SET x = 1;
`;
    const s = splitStatements(script, 'postgres');
    expect(s.map((x) => x.sql)).toEqual([
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
      `INSERT INTO "we;ird" VALUES ('a;b', E'it\\'s; fine')`,
      'UPDATE t SET x = 1',
    ]);
    expect(s.map((x) => x.line)).toEqual([2, 3, 4]);
  });

  it('splits MySQL scripts with backticks, backslash escapes and # comments', () => {
    const s = splitStatements("INSERT INTO `a;b` VALUES ('x\\';y'); # c;\nSELECT 1", 'mysql');
    expect(s.map((x) => x.sql)).toEqual(["INSERT INTO `a;b` VALUES ('x\\';y')", 'SELECT 1']);
  });

  it('refuses a second statement but allows one trailing semicolon', () => {
    expect(() => assertSingleStatement('SELECT 1;', 'postgres')).not.toThrow();
    expect(() => assertSingleStatement("SELECT ';' -- ; \n", 'postgres')).not.toThrow();
    expect(() => assertSingleStatement('SELECT 1; SELECT 2', 'postgres')).toThrow(/Multistatements aren't supported/);
  });

  it('finds :params but not casts, strings or comments', () => {
    expect(namedParams("SELECT :a::int, ':b', x::text -- :c\n WHERE y = :d", 'postgres')).toEqual(['a', 'd']);
  });

  it('names an unterminated string with its line', () => {
    expect(() => splitStatements("SELECT 1;\nSELECT 'oops", 'postgres')).toThrow(/unterminated string starting at line 2/);
  });
});

describe('MySQL routine bodies without DELIMITER', () => {
  it('keeps a procedure, a trigger and a function whole', () => {
    const script = `CREATE TABLE t (id INT, n INT);
CREATE PROCEDURE bump(IN x INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  IF x > 0 THEN
    UPDATE t SET n = n + x;
  ELSEIF x < 0 THEN
    UPDATE t SET n = IF(n > 0, n - 1, 0);
  END IF;
  WHILE i < 3 DO
    SET i = i + 1;
  END WHILE;
  SELECT CASE WHEN i = 3 THEN 'ok' ELSE 'no' END;
END;
CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.n = COALESCE(NEW.n, 0); END;
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
DROP TABLE IF EXISTS u;`;
    const s = splitStatements(script, 'mysql');
    expect(s.map((x) => x.sql.split(/\s+/).slice(0, 3).join(' '))).toEqual(['CREATE TABLE t', 'CREATE PROCEDURE bump(IN', 'CREATE TRIGGER t_bi', 'CREATE FUNCTION twice(x', 'DROP TABLE IF']);
    expect(s[1]!.sql.endsWith('END')).toBe(true);
    expect(s[1]!.sql).toContain('END WHILE;');
  });
});
