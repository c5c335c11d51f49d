/** Table shape from the catalog: columns with their types, and the primary key. */
import type { SqlClient } from '../../ports';
import { splitQualified } from '../sql-builders';

export interface Column {
  readonly name: string;
  /** information_schema data_type, lower case (e.g. "integer", "character varying", "datetime"). */
  readonly dataType: string;
  /** PostgreSQL udt_name / MySQL COLUMN_TYPE, lower case (e.g. "int4", "tinyint(1)", "enum('a','b')"). */
  readonly fullType: string;
  readonly scale: number | null;
  readonly isEnum: boolean;
  /** MySQL: the character set of a text column (its bytes, and so its byte length, depend on it). */
  readonly charset?: string;
}

export interface TableShape {
  readonly table: string;
  readonly columns: Column[];
  readonly primaryKey: string[];
}

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

export async function readTableShape(client: SqlClient, qualified: string): Promise<TableShape> {
  const { schema, table } = splitQualified(qualified);
  const cols =
    client.dialect === 'postgres'
      ? await client.query(
          `SELECT c.column_name AS name, lower(c.data_type) AS data_type, lower(c.udt_name) AS full_type, c.numeric_scale::int AS scale,
                  coalesce((SELECT t.typtype = 'e' FROM pg_type t WHERE t.typname = c.udt_name LIMIT 1), false) AS is_enum
           FROM information_schema.columns c
           WHERE c.table_schema = coalesce(:schema, current_schema()) AND c.table_name = :table
           ORDER BY c.ordinal_position`,
          { schema, table },
        )
      : await client.query(
          `SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS data_type, LOWER(COLUMN_TYPE) AS full_type, CAST(NUMERIC_SCALE AS SIGNED) AS scale,
                  DATA_TYPE = 'enum' AS is_enum, LOWER(CHARACTER_SET_NAME) AS charset
           FROM information_schema.COLUMNS
           WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table
           ORDER BY ORDINAL_POSITION`,
          { schema, table },
        );
  if (cols.rows.length === 0) throw new CatalogError(`table ${qualified} not found on ${client.label}`);
  const pk =
    client.dialect === 'postgres'
      ? await client.query(
          `SELECT a.attname AS name FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
           WHERE i.indrelid = to_regclass(:qualified) AND i.indisprimary
           ORDER BY array_position(i.indkey::int2[], a.attnum)`,
          { qualified: schema ? `"${schema}"."${table}"` : `"${table}"` },
        )
      : await client.query(
          `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
           WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table AND CONSTRAINT_NAME = 'PRIMARY'
           ORDER BY ORDINAL_POSITION`,
          { schema, table },
        );
  // MariaDB's JSON is LONGTEXT with a json_valid() CHECK: read those columns as json.
  const jsonCols = new Set<string>();
  if (client.dialect === 'mysql') {
    const checks = await client
      .query(
        `SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table`,
        { schema, table },
      )
      .catch(() => ({ rows: [] as { c?: unknown }[] }));
    for (const r of checks.rows) {
      const m = /^json_valid\(`?([^`)]+)`?\)$/i.exec(String(r.c ?? '').trim());
      if (m) jsonCols.add(m[1]!);
    }
  }
  return {
    table: qualified,
    columns: cols.rows.map((r) => ({
      name: String(r.name),
      dataType: jsonCols.has(String(r.name)) ? 'json' : String(r.data_type),
      fullType: String(r.full_type),
      scale: r.scale === null ? null : Number(r.scale),
      isEnum: r.is_enum === true || r.is_enum === 1 || r.is_enum === '1',
      ...(typeof r.charset === 'string' ? { charset: r.charset } : {}),
    })),
    primaryKey: pk.rows.map((r) => String(r.name)),
  };
}

/** The catalog's row estimate of a table (pg_class.reltuples, information_schema TABLE_ROWS): a labelled preview, never a gate; undefined when unreadable. */
export async function estimateRows(client: SqlClient, table: string): Promise<string | undefined> {
  try {
    const { rows } =
      client.dialect === 'postgres'
        ? await client.query(`SELECT greatest(reltuples, 0)::bigint::text AS n FROM pg_class WHERE oid = to_regclass(:t)`, { t: table })
        : await client.query(`SELECT CAST(TABLE_ROWS AS CHAR) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t`, { t: table });
    return rows[0] ? String(rows[0].n) : undefined;
  } catch {
    return undefined;
  }
}
