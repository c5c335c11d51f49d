/**
 * What is compared for one table: the key (primary key, or a named unique
 * key), and every column paired source -> target with its canonical form.
 * Problems (no key, unsupported key type, a column on one side only, a type
 * pair with no canonical form) are errors naming table and column.
 */
import type { SqlClient } from '../../ports';
import type { Dialect } from '../sql-lexer';
import { CanonicalError, type ColumnPlan, type Kind, kindOf, nativeRow, planColumn } from './canonical';
import { readTableShape, type TableShape } from './catalog';

export interface KeyPart {
  readonly name: string;
  readonly kind: Kind;
  /** Compare text keys bytewise on both sides (PostgreSQL vs MySQL collations differ). */
  readonly binary: boolean;
}

export interface TablePlan {
  readonly table: string;
  readonly targetTable: string;
  readonly key: KeyPart[];
  readonly columns: ColumnPlan[];
  readonly dialects: { readonly source: Dialect; readonly target: Dialect };
  /** PostgreSQL, every column of both tables compared in table order as the server prints it: hash the whole row. */
  readonly wholeRow?: boolean;
}

/** The alias a hashing query gives its table, so the whole row can be named (a column of that name rules it out). */
export const ROW_ALIAS = 'cutline_row';

export interface TableOptions {
  readonly table: string;
  /** Target table name when it differs. */
  readonly targetTable?: string;
  /** Key columns for a table without a primary key (must be unique and not null). */
  readonly key?: readonly string[];
  /** Columns left out of the comparison (on either side), e.g. a generated tsvector. */
  readonly exclude?: readonly string[];
  /** source column -> target column, where the names differ. */
  readonly columnMap?: Readonly<Record<string, string>>;
}

const KEY_KINDS: readonly Kind[] = ['int', 'text', 'uuid', 'date', 'timestamp'];

export function planTable(
  opts: TableOptions,
  source: { shape: TableShape; dialect: Dialect },
  target: { shape: TableShape; dialect: Dialect },
): TablePlan {
  const t = opts.table;
  const excluded = new Set((opts.exclude ?? []).map((c) => c.toLowerCase()));
  const keyNames = opts.key?.length ? [...opts.key] : source.shape.primaryKey;
  if (keyNames.length === 0)
    throw new CanonicalError(`${t} has no primary key on the source; expected a primary key, or "key": [<unique not-null columns>] in the gate table options`);
  const findTarget = (name: string) => {
    const want = (opts.columnMap?.[name] ?? name).toLowerCase();
    return target.shape.columns.find((c) => c.name.toLowerCase() === want);
  };
  const key = keyNames.map((k): KeyPart => {
    const sc = source.shape.columns.find((c) => c.name.toLowerCase() === k.toLowerCase());
    if (!sc) throw new CanonicalError(`${t}: key column ${k} does not exist on the source`);
    const tc = findTarget(sc.name);
    if (!tc) throw new CanonicalError(`${t}: key column ${k} is missing on the target ${opts.targetTable ?? t}`);
    const kind = kindOf(sc, source.dialect, t);
    if (!KEY_KINDS.includes(kind))
      throw new CanonicalError(`${t}.${k}: a ${sc.fullType} key cannot be chunked; expected an integer, text, uuid, date or timestamp key (or name another unique key)`);
    return { name: sc.name, kind, binary: kind === 'text' && source.dialect !== target.dialect };
  });
  const columns: ColumnPlan[] = [];
  for (const sc of source.shape.columns) {
    if (excluded.has(sc.name.toLowerCase())) continue;
    const tc = findTarget(sc.name);
    if (!tc)
      throw new CanonicalError(
        `${t}.${sc.name} exists on the source but not on the target ${opts.targetTable ?? t}; expected the same column, a "columnMap" entry, or "exclude"`,
      );
    columns.push(planColumn(t, { column: sc, dialect: source.dialect }, { column: tc, dialect: target.dialect }));
  }
  const mapped = new Set(columns.map((c) => c.target.column.toLowerCase()));
  for (const tc of target.shape.columns) {
    if (!mapped.has(tc.name.toLowerCase()) && !excluded.has(tc.name.toLowerCase()))
      throw new CanonicalError(`${opts.targetTable ?? t}.${tc.name} exists on the target but not on the source; expected it in "exclude" if it is new`);
  }
  const inOrder = (shape: TableShape, names: string[]) => shape.columns.length === names.length && shape.columns.every((c, i) => c.name === names[i] && c.name !== ROW_ALIAS);
  const wholeRow =
    nativeRow(source.dialect, columns) && inOrder(source.shape, columns.map((c) => c.source.column)) && inOrder(target.shape, columns.map((c) => c.target.column));
  // Key columns under their target names too.
  return { table: t, targetTable: opts.targetTable ?? t, key, columns, dialects: { source: source.dialect, target: target.dialect }, ...(wholeRow ? { wholeRow } : {}) };
}

/** The plan of one table, from both catalogs. */
export async function buildTablePlan(clients: { source: SqlClient; target: SqlClient }, opts: TableOptions): Promise<TablePlan> {
  const [s, t] = await Promise.all([readTableShape(clients.source, opts.table), readTableShape(clients.target, opts.targetTable ?? opts.table)]);
  return planTable(opts, { shape: s, dialect: clients.source.dialect }, { shape: t, dialect: clients.target.dialect });
}
