/**
 * Integrity checks on the target: required keys in a state-store table
 * (seed 004's credverse_state_store), an orphan anti-join for every foreign
 * key of the named tables, and NULL / duplicate checks on new key columns.
 * Each check reads like an assertion: zero violations passes.
 */
import type { Deps, SqlClient } from '../ports';
import { errorMessage } from './errors';
import { quoteIdent, splitQualified } from './sql-builders';
import type { RunSpec } from './spec';
import { dbRef } from './spec';
import type { AssertionResult } from './verify';

export interface ForeignKey {
  readonly name: string;
  readonly columns: string[];
  readonly parent: string;
  readonly parentColumns: string[];
}

export async function foreignKeysOf(client: SqlClient, qualified: string): Promise<ForeignKey[]> {
  const { schema, table } = splitQualified(qualified);
  const { rows } =
    client.dialect === 'postgres'
      ? await client.query(
          `SELECT c.conname AS name, a.attname AS col, pa.attname AS pcol, pc.relname AS parent, k.ord AS ord
           FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_class pc ON pc.oid = c.confrelid
           CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, patt, ord)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att
           JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.patt
           WHERE c.contype = 'f' AND t.relname = :table AND n.nspname = coalesce(:schema, current_schema())
           ORDER BY c.conname, k.ord`,
          { schema, table },
        )
      : await client.query(
          `SELECT CONSTRAINT_NAME AS name, COLUMN_NAME AS col, REFERENCED_COLUMN_NAME AS pcol, REFERENCED_TABLE_NAME AS parent, ORDINAL_POSITION AS ord
           FROM information_schema.KEY_COLUMN_USAGE
           WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table AND REFERENCED_TABLE_NAME IS NOT NULL
           ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION`,
          { schema, table },
        );
  const byName = new Map<string, ForeignKey>();
  for (const r of rows) {
    const name = String(r.name);
    const fk = byName.get(name) ?? { name, columns: [], parent: String(r.parent), parentColumns: [] };
    fk.columns.push(String(r.col));
    fk.parentColumns.push(String(r.pcol));
    byName.set(name, fk);
  }
  return [...byName.values()];
}

/** Rows of `table` whose foreign key points at no parent row (NULL keys are not orphans). */
export function orphanSql(client: SqlClient, table: string, fk: ForeignKey): string {
  const q = (s: string) => quoteIdent(s, client.dialect);
  const notNull = fk.columns.map((c) => `c.${q(c)} IS NOT NULL`).join(' AND ');
  const join = fk.columns.map((c, i) => `p.${q(fk.parentColumns[i]!)} = c.${q(c)}`).join(' AND ');
  return `SELECT ${fk.columns.map((c) => `c.${q(c)}`).join(', ')} FROM ${q(table)} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${q(fk.parent)} p WHERE ${join}) LIMIT 20`;
}

async function check(name: string, run: () => Promise<Record<string, unknown>[]>): Promise<AssertionResult> {
  try {
    const rows = await run();
    return { name, ok: rows.length === 0, violations: rows.length, sample: rows.slice(0, 20) };
  } catch (e) {
    return { name, ok: false, violations: 0, sample: [], error: errorMessage(e) };
  }
}

export async function runIntegrity(spec: RunSpec, deps: Deps): Promise<AssertionResult[]> {
  const out: AssertionResult[] = [];
  const i = spec.verify.integrity;
  if (i.stateStore) {
    const ss = i.stateStore;
    const client = deps.sql(dbRef(spec, ss.database));
    out.push(
      await check(`integrity: required keys in ${ss.table}`, async () => {
        const params = Object.fromEntries(ss.requiredKeys.map((k, n) => [`k${n}`, k]));
        const { rows } = await client.query(
          `SELECT ${quoteIdent(ss.keyColumn, client.dialect)} AS k FROM ${quoteIdent(ss.table, client.dialect)} WHERE ${quoteIdent(ss.keyColumn, client.dialect)} IN (${ss.requiredKeys.map((_, n) => `:k${n}`).join(', ')})`,
          params,
        );
        const found = new Set(rows.map((r) => String(r.k)));
        return ss.requiredKeys.filter((k) => !found.has(k)).map((k) => ({ missing_key: k }));
      }),
    );
  }
  const target = deps.sql(dbRef(spec, 'target'));
  for (const table of i.foreignKeys) {
    let fks: ForeignKey[];
    try {
      fks = await foreignKeysOf(target, table);
    } catch (e) {
      out.push({ name: `integrity: foreign keys of ${table}`, ok: false, violations: 0, sample: [], error: errorMessage(e) });
      continue;
    }
    for (const fk of fks)
      out.push(
        await check(`integrity: no orphans ${table}(${fk.columns.join(', ')}) -> ${fk.parent}`, async () => (await target.query(orphanSql(target, table, fk))).rows),
      );
  }
  for (const nk of i.newKeys) {
    const client = deps.sql(dbRef(spec, nk.database));
    const t = quoteIdent(nk.table, client.dialect);
    const c = quoteIdent(nk.column, client.dialect);
    out.push(await check(`integrity: ${nk.table}.${nk.column} has no NULL`, async () => (await client.query(`SELECT 1 AS null_row FROM ${t} WHERE ${c} IS NULL LIMIT 20`)).rows));
    out.push(
      await check(`integrity: ${nk.table}.${nk.column} is unique`, async () => (await client.query(`SELECT ${c} AS duplicate, count(*) AS n FROM ${t} WHERE ${c} IS NOT NULL GROUP BY ${c} HAVING count(*) > 1 LIMIT 20`)).rows),
    );
  }
  return out;
}
