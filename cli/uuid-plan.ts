/**
 * The integer -> UUID key recipe (seeds 000 and 001), planned from the
 * catalog: every table with a single integer primary key gets a uuid column
 * and a mapping (old_id -> new_id); a table with a composite key that holds an
 * integer gets a surrogate uuid per row (seed 001's CycleReport), its composite
 * kept unique; every foreign key pointing at such a table (single or composite)
 * gets a uuid column next to it. Mappings are one table per parent, or one
 * shared table (table_name, old_id) as seed 001 keeps it. Output: expand
 * migrations (columns, then indexes built CONCURRENTLY / online), backfill
 * tasks (parents fill the mapping, children join on it), verification
 * assertions, and per connected group of tables a primary-key swap (contract,
 * after the go) with its rollback, idempotent on both engines. Legacy integer
 * columns and mappings are kept.
 */
import type { SqlClient } from '../lambdas/ports';
import { keyKindOf } from '../lambdas/core/backfill';
import { readTableShape } from '../lambdas/core/compare/catalog';
import { foreignKeysOf } from '../lambdas/core/integrity';
import { quoteIdent } from '../lambdas/core/sql-builders';
import type { Dialect } from '../lambdas/core/sql-lexer';

export interface UuidTable {
  readonly table: string;
  /** The primary key's columns, in key order (one, or several for a composite key). */
  readonly pk: string[];
  readonly pkTypes: string[];
  /** First primary-key column when the backfill can chunk by it (integer, text or uuid). */
  readonly chunkKey?: string;
  readonly isParent: boolean;
  /** PostgreSQL: the primary-key constraint's name. */
  readonly pkName?: string;
}
export interface UuidFk {
  readonly name: string;
  readonly table: string;
  /** The child's columns, positionally matching the parent's (one, or several for a composite foreign key). */
  readonly columns: string[];
  readonly parent: string;
  readonly parentColumns: string[];
}
export interface UuidGraph {
  readonly dialect: Dialect;
  readonly tables: UuidTable[];
  /** Foreign keys that get a uuid column (a chunkable child of a parent). */
  readonly fks: UuidFk[];
  /** Every foreign key on a parent's primary key (also from partitions): the swap must move them all. */
  readonly dependentFks: UuidFk[];
  readonly skipped: { table: string; reason: string }[];
}

const INT = /^(smallint|integer|bigint|int|mediumint|tinyint|int2|int4|int8)$/i;

export const uuidColumn = (col: string) => (col.endsWith('_id') ? `${col.slice(0, -3)}_uuid` : `${col}_uuid`);
export const mapTable = (table: string) => `cutline_uuid_map_${table}`;
/** The one mapping table of `mapping: "shared"` (seed 001's uuid_migration_mapping). */
export const SHARED_MAP = 'cutline_uuid_map';

/** A parent's new uuid column: <key>_uuid for a single key, <table>_uuid (a surrogate) for a composite one. */
export const parentUuid = (t: Pick<UuidTable, 'table' | 'pk'>) => (t.pk.length === 1 ? uuidColumn(t.pk[0]!) : `${t.table}_uuid`);
/** A child's uuid column for a foreign key: <column>_uuid, or the parent's surrogate name for a composite key. */
export const childUuid = (f: Pick<UuidFk, 'columns' | 'parent'>) => (f.columns.length === 1 ? uuidColumn(f.columns[0]!) : `${f.parent}_uuid`);

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

export async function readUuidGraph(client: SqlClient, only?: readonly string[]): Promise<UuidGraph> {
  const { rows } =
    client.dialect === 'postgres'
      ? await client.query(
          // Inheritance children (old-style partitions) get their parent's new columns: they are not planned themselves.
          `SELECT c.relname AS t, EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS partition
           FROM pg_class c WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r' AND c.relname NOT LIKE 'cutline_%' ORDER BY 1`,
        )
      : await client.query(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME NOT LIKE 'cutline_%' ORDER BY 1`);
  const partitions = new Set(rows.filter((r) => r.partition === true).map((r) => String(r.t)));
  const names = rows.map((r) => String(r.t));
  const tables: UuidTable[] = [];
  const skipped: UuidGraph['skipped'] = [];
  const fks: UuidFk[] = [];
  for (const t of names) {
    const shape = await readTableShape(client, t);
    const cols = shape.primaryKey.map((k) => shape.columns.find((c) => c.name === k)!);
    const first = cols[0];
    // A table is backfilled in ranges of its key's first column: integer ranges, or keyset ranges of a text or uuid key.
    const chunkKey = first && (INT.test(first.dataType) || keyKindOf(first.dataType)) ? first.name : undefined;
    const integer = cols.length === 1 ? INT.test(first!.dataType) : cols.some((c) => INT.test(c.dataType)) && !!chunkKey;
    const parent = integer && (!only || only.includes(t)) && !partitions.has(t);
    const pkName =
      client.dialect === 'postgres' ? (await client.query(`SELECT conname AS n FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'p'`, { t })).rows[0]?.n : undefined;
    tables.push({ table: t, pk: [...shape.primaryKey], pkTypes: cols.map((c) => c.fullType), ...(chunkKey ? { chunkKey } : {}), isParent: parent, ...(pkName ? { pkName: String(pkName) } : {}) });
    if (!integer && !partitions.has(t)) skipped.push({ table: t, reason: shape.primaryKey.length ? `primary key ${shape.primaryKey.join(', ')} holds no integer to replace` : 'no primary key' });
    for (const fk of await foreignKeysOf(client, t)) fks.push({ name: fk.name, table: t, columns: fk.columns, parent: fk.parent, parentColumns: fk.parentColumns });
  }
  const byName = new Map(tables.map((x) => [x.table, x]));
  const dependentFks = fks.filter((f) => byName.get(f.parent)?.isParent && sameSet(byName.get(f.parent)!.pk, f.parentColumns));
  for (const f of dependentFks) {
    if (partitions.has(f.table)) skipped.push({ table: f.table, reason: `partition of another table: gets its uuid columns from the parent table` });
    else if (!byName.get(f.table)!.chunkKey) skipped.push({ table: f.table, reason: `child of ${f.parent} without an integer, text or uuid key to chunk by` });
  }
  const planned = dependentFks.filter((f) => !partitions.has(f.table) && byName.get(f.table)!.chunkKey);
  return { dialect: client.dialect, tables, fks: planned, dependentFks, skipped: [...new Map(skipped.map((x) => [`${x.table}:${x.reason}`, x])).values()] };
}
/** Connected groups (parents and their children): a swap changes a whole group in one transaction. */
export function groups(g: UuidGraph): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) {
      const p = parent.get(x)!;
      parent.set(x, parent.get(p)!);
      x = p;
    }
    return x;
  };
  const involved = new Set([...g.tables.filter((t) => t.isParent).map((t) => t.table), ...g.fks.map((f) => f.table)]);
  for (const t of involved) parent.set(t, t);
  for (const f of g.fks) parent.set(find(f.table), find(f.parent));
  const out = new Map<string, string[]>();
  for (const t of involved) out.set(find(t), [...(out.get(find(t)) ?? []), t]);
  return [...out.values()].map((v) => v.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** Parents before children; a cycle (store <-> staff) keeps its tables together, in name order. */
export function order(g: UuidGraph): string[] {
  const parents = g.tables.filter((t) => t.isParent).map((t) => t.table);
  const deps = new Map(parents.map((p) => [p, new Set(g.fks.filter((f) => f.table === p && f.parent !== p).map((f) => f.parent))]));
  const out: string[] = [];
  const left = new Set(parents);
  while (left.size) {
    const ready = [...left].filter((p) => [...deps.get(p)!].every((d) => !left.has(d))).sort();
    const next = ready.length ? ready : [[...left].sort()[0]!]; // a cycle: take one, the rest follow
    for (const p of next) {
      out.push(p);
      left.delete(p);
    }
  }
  return out;
}

export interface UuidPlan {
  readonly files: { name: string; body: string }[];
  readonly contractFiles: { name: string; body: string }[];
  readonly rollbackFiles: { name: string; body: string }[];
  readonly backfill: { name: string; table: string; key: string; batchSize: number; sql: string }[];
  readonly assertions: { name: string; sql: string }[];
  readonly integrity: { foreignKeys: string[]; newKeys: { table: string; column: string }[] };
  readonly verifyTables: string[];
  readonly groups: string[][];
  readonly skipped: UuidGraph['skipped'];
}

export interface UuidPlanOptions {
  readonly firstVersion: number;
  readonly uuidv7: boolean;
  readonly batchSize?: number;
  /** One mapping table per parent (default), or one shared table (table_name, old_id) for every single-key parent. */
  readonly mapping?: 'per-table' | 'shared';
}

/** Where a parent's mapping lives: its table, the key columns there, and the table_name value in a shared one. */
interface MapOf {
  readonly name: string;
  readonly cols: string[];
  readonly tag?: string;
}

export function planUuid(g: UuidGraph, opts: UuidPlanOptions): UuidPlan {
  const d = g.dialect;
  const pg = d === 'postgres';
  const q = (s: string) => quoteIdent(s, d);
  const list = (cols: readonly string[], alias = '') => cols.map((c) => `${alias}${q(c)}`).join(', ');
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const uuidType = pg ? 'uuid' : 'BINARY(16)';
  const newId = pg ? (opts.uuidv7 ? 'uuidv7()' : 'gen_random_uuid()') : "UNHEX(REPLACE(UUID(), '-', ''))";
  const same = pg ? 'IS NOT DISTINCT FROM' : '<=>';
  const parents = order(g).map((p) => g.tables.find((t) => t.table === p)!);
  const batch = opts.batchSize ?? 5000;
  const shared = opts.mapping === 'shared';
  const mapOf = (p: UuidTable): MapOf =>
    p.pk.length > 1 ? { name: mapTable(p.table), cols: p.pk } : shared ? { name: SHARED_MAP, cols: ['old_id'], tag: p.table } : { name: mapTable(p.table), cols: ['old_id'] };
  /** The mapping row m of the parent row t: the table's tag in a shared mapping, then each key column. */
  const mapMatch = (p: UuidTable, m: MapOf, withTag = true) =>
    [...(m.tag && withTag ? [`m.table_name = ${lit(m.tag)}`] : []), ...m.cols.map((c, i) => `m.${c === 'old_id' ? 'old_id' : q(c)} = t.${q(p.pk[i]!)}`)].join(' AND ');
  const mapCols = (m: MapOf) => m.cols.map((c) => (c === 'old_id' ? 'old_id' : q(c)));
  const fkMatch = (f: UuidFk) => f.columns.map((c, i) => `p.${q(f.parentColumns[i]!)} = c.${q(c)}`).join(' AND ');
  const uuidOf = (table: string) => parentUuid(g.tables.find((t) => t.table === table)!);
  // A child's uuid column per foreign key; two keys that would share a name (or the table's own surrogate) take the constraint's.
  const childCol = new Map<UuidFk, string>();
  for (const f of g.fks) {
    const taken = [...childCol.entries()].filter(([o]) => o.table === f.table).map(([, c]) => c);
    const own = parents.find((p) => p.table === f.table);
    const c = childUuid(f);
    childCol.set(f, taken.includes(c) || (own && parentUuid(own) === c) ? `${f.name}_uuid` : c);
  }
  const cu = (f: UuidFk) => childCol.get(f)!;
  const legacy = (p: UuidTable) => `${p.table}_${p.pk.join('_')}_legacy`;
  let v = opts.firstVersion;

  const expand: string[] = ['-- cutline plan uuid: expand. Uuid columns without defaults (no table rewrite), and the mapping tables.'];
  if (shared && parents.some((p) => p.pk.length === 1))
    expand.push(`CREATE TABLE ${q(SHARED_MAP)} (table_name varchar(64) NOT NULL, old_id bigint NOT NULL, new_id ${uuidType} NOT NULL UNIQUE, PRIMARY KEY (table_name, old_id));`);
  for (const p of parents) {
    if (p.pk.length > 1)
      expand.push(`CREATE TABLE ${q(mapTable(p.table))} (${p.pk.map((k, i) => `${q(k)} ${p.pkTypes[i]} NOT NULL`).join(', ')}, new_id ${uuidType} NOT NULL UNIQUE, PRIMARY KEY (${list(p.pk)}));`);
    else if (!shared) expand.push(`CREATE TABLE ${q(mapTable(p.table))} (old_id ${p.pkTypes[0]} PRIMARY KEY, new_id ${uuidType} NOT NULL UNIQUE);`);
    expand.push(`ALTER TABLE ${q(p.table)} ADD COLUMN ${q(parentUuid(p))} ${uuidType};`);
  }
  for (const f of g.fks) expand.push(`ALTER TABLE ${q(f.table)} ADD COLUMN ${q(cu(f))} ${uuidType};`);
  const files = [{ name: `V${v++}__uuid_expand.sql`, body: `${expand.join('\n')}\n` }];

  const idx: string[] = [`-- cutline plan uuid: indexes ${pg ? 'built CONCURRENTLY (writes continue)' : 'built online (ALGORITHM=INPLACE, LOCK=NONE)'}.`];
  const ix = (name: string, table: string, cols: readonly string[], unique: boolean) =>
    pg
      ? `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${q(name)} ON ${q(table)} (${list(cols)});`
      : `ALTER TABLE ${q(table)} ADD ${unique ? 'UNIQUE ' : ''}INDEX ${q(name)} (${list(cols)}), ALGORITHM=INPLACE, LOCK=NONE;`;
  for (const p of parents) {
    idx.push(ix(`${p.table}_${parentUuid(p)}_key`, p.table, [parentUuid(p)], true));
    if (pg) {
      // Built now, while writes continue, so the swap after the go only attaches them.
      idx.push(ix(`${p.table}_${parentUuid(p)}_pkey_idx`, p.table, [parentUuid(p)], true));
      idx.push(ix(`${legacy(p)}_idx`, p.table, p.pk, true));
    }
  }
  for (const f of g.fks) idx.push(ix(`${f.table}_${cu(f)}_idx`, f.table, [cu(f)], false));
  files.push({ name: `V${v++}__uuid_indexes.sql`, body: `${idx.join('\n')}\n` });

  if (pg && g.fks.length) {
    // The new foreign keys: NOT VALID now (instant), validated by the swap after the backfill.
    const cons = ['-- cutline plan uuid: the uuid foreign keys, NOT VALID (no scan, no long lock).'];
    for (const p of parents) cons.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(`${p.table}_${parentUuid(p)}_key`)} UNIQUE USING INDEX ${q(`${p.table}_${parentUuid(p)}_key`)};`);
    for (const f of g.fks) cons.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(`${f.name}_uuid`)} FOREIGN KEY (${q(cu(f))}) REFERENCES ${q(f.parent)} (${q(uuidOf(f.parent))}) NOT VALID;`);
    files.push({ name: `V${v++}__uuid_foreign_keys.sql`, body: `${cons.join('\n')}\n` });
  }

  const backfill: UuidPlan['backfill'] = [];
  const taskName = (s: string) => s.slice(0, 64).replace(/_/g, '-');
  for (const p of parents) {
    const u = q(parentUuid(p));
    const m = mapOf(p);
    const k = q(p.chunkKey!);
    const into = `${q(m.name)} (${[...(m.tag ? ['table_name'] : []), ...mapCols(m), 'new_id'].join(', ')}) SELECT ${[...(m.tag ? [lit(m.tag)] : []), list(p.pk), newId].join(', ')} FROM ${q(p.table)} WHERE ${k} BETWEEN :lo AND :hi`;
    if (pg)
      backfill.push({
        name: taskName(`uuid-${p.table}`),
        table: p.table,
        key: p.chunkKey!,
        batchSize: batch,
        // One statement fills the mapping and the column: idempotent (existing mappings are kept).
        sql: `WITH m AS (INSERT INTO ${into} ON CONFLICT (${[...(m.tag ? ['table_name'] : []), ...mapCols(m)].join(', ')}) DO NOTHING RETURNING ${mapCols(m).join(', ')}, new_id) UPDATE ${q(p.table)} t SET ${u} = m.new_id FROM m WHERE ${mapMatch(p, m, false)}`,
      });
    else {
      backfill.push({ name: taskName(`uuid-map-${p.table}`), table: p.table, key: p.chunkKey!, batchSize: batch, sql: `INSERT IGNORE INTO ${into}` });
      backfill.push({
        name: taskName(`uuid-${p.table}`),
        table: p.table,
        key: p.chunkKey!,
        batchSize: batch,
        sql: `UPDATE ${q(p.table)} t JOIN ${q(m.name)} m ON ${mapMatch(p, m)} SET t.${u} = m.new_id WHERE t.${k} BETWEEN :lo AND :hi AND t.${u} IS NULL`,
      });
    }
  }
  for (const f of g.fks) {
    const child = g.tables.find((t) => t.table === f.table)!;
    const c = q(cu(f));
    const pu = q(uuidOf(f.parent));
    const ck = q(child.chunkKey!);
    backfill.push({
      name: taskName(`uuid-${f.table}-${f.columns.length === 1 ? f.columns[0] : f.parent}`),
      table: f.table,
      key: child.chunkKey!,
      batchSize: batch,
      sql: pg
        ? `UPDATE ${q(f.table)} c SET ${c} = p.${pu} FROM ${q(f.parent)} p WHERE ${fkMatch(f)} AND c.${ck} BETWEEN :lo AND :hi AND c.${c} IS DISTINCT FROM p.${pu}`
        : `UPDATE ${q(f.table)} c JOIN ${q(f.parent)} p ON ${fkMatch(f)} SET c.${c} = p.${pu} WHERE c.${ck} BETWEEN :lo AND :hi AND NOT (c.${c} <=> p.${pu})`,
    });
  }

  const assertions: UuidPlan['assertions'] = [];
  for (const p of parents) {
    const m = mapOf(p);
    assertions.push({ name: `${p.table}: mapping complete`, sql: `SELECT ${list(p.pk, 't.')} FROM ${q(p.table)} t LEFT JOIN ${q(m.name)} m ON ${mapMatch(p, m)} WHERE m.new_id IS NULL LIMIT 20` });
    assertions.push({ name: `${p.table}: uuid equals the mapping`, sql: `SELECT ${list(p.pk, 't.')} FROM ${q(p.table)} t JOIN ${q(m.name)} m ON ${mapMatch(p, m)} WHERE NOT (t.${q(parentUuid(p))} ${same} m.new_id) LIMIT 20` });
  }
  for (const f of g.fks)
    assertions.push({
      name: `${f.table}.${cu(f)} equals its ${f.parent}'s`,
      sql: `SELECT ${list(f.columns, 'c.')} FROM ${q(f.table)} c JOIN ${q(f.parent)} p ON ${fkMatch(f)} WHERE NOT (c.${q(cu(f))} ${same} p.${q(uuidOf(f.parent))}) LIMIT 20`,
    });
  for (const f of g.fks)
    assertions.push({
      name: `${f.table}.${cu(f)} set wherever ${f.columns.join(', ')} is`,
      sql: `SELECT ${list(f.columns, 'c.')} FROM ${q(f.table)} c WHERE ${f.columns.map((x) => `c.${q(x)} IS NOT NULL`).join(' AND ')} AND c.${q(cu(f))} IS NULL LIMIT 20`,
    });

  const contractFiles: UuidPlan['contractFiles'] = [];
  const rollbackFiles: UuidPlan['rollbackFiles'] = [];
  const grps = groups(g);
  const addFk = (f: UuidFk) => `ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(f.name)} FOREIGN KEY (${list(f.columns)}) REFERENCES ${q(f.parent)} (${list(f.parentColumns)})`;
  for (const [gi, grp] of grps.entries()) {
    const gp = parents.filter((p) => grp.includes(p.table));
    const gf = g.fks.filter((f) => grp.includes(f.table));
    // Every constraint on the old keys of this group, also from partitions that are not planned.
    const moved = g.dependentFks.filter((f) => gp.some((p) => p.table === f.parent));
    if (!gp.length) continue;
    const { swap, back } = pg ? swapPostgres(gi, grp) : swapMysql(gi, grp);
    contractFiles.push({ name: `V${v++}__uuid_swap_group_${gi + 1}.sql`, body: `${swap.join('\n')}\n` });
    if (pg && moved.length) {
      // Validating takes no long lock (SHARE UPDATE EXCLUSIVE): its own file, after the swap committed.
      const validate = [`-- cutline plan uuid: validate the legacy foreign keys re-attached by the swap of group ${gi + 1}.`];
      for (const f of moved) validate.push(`ALTER TABLE ${q(f.table)} VALIDATE CONSTRAINT ${q(f.name)};`);
      contractFiles.push({ name: `V${v++}__uuid_validate_group_${gi + 1}.sql`, body: `${validate.join('\n')}\n` });
    }
    rollbackFiles.push({ name: `R${gi + 1}__uuid_swap_group_${gi + 1}.sql`, body: `${back.join('\n')}\n` });

    function swapPostgres(i: number, names: string[]) {
      const swap = [
        `-- cutline plan uuid: primary-key swap of group ${i + 1} (${names.join(', ')}), one transaction with lock_timeout and retries.`,
        '-- Legacy integer keys stay (as UNIQUE) with their foreign keys, until a later contract step drops them.',
      ];
      for (const f of gf) swap.push(`ALTER TABLE ${q(f.table)} VALIDATE CONSTRAINT ${q(`${f.name}_uuid`)};`);
      for (const f of moved) swap.push(`ALTER TABLE ${q(f.table)} DROP CONSTRAINT ${q(f.name)};`);
      for (const p of gp) {
        const pkName = p.pkName ?? `${p.table}_pkey`;
        const u = parentUuid(p);
        swap.push(`-- cutline:allow CL003 verify proved every ${u} set and unique before the go`);
        swap.push(`ALTER TABLE ${q(p.table)} ALTER COLUMN ${q(u)} SET NOT NULL;`);
        swap.push(`ALTER TABLE ${q(p.table)} DROP CONSTRAINT ${q(pkName)};`);
        // The swap turns these indexes (built CONCURRENTLY by the expand files) into constraints; after a rollback
        // dropped them, the swap builds them again so it can run again (else a no-op).
        swap.push(`-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY`);
        swap.push(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(`${p.table}_${u}_pkey_idx`)} ON ${q(p.table)} (${q(u)});`);
        swap.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(pkName)} PRIMARY KEY USING INDEX ${q(`${p.table}_${u}_pkey_idx`)};`);
        swap.push(`-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY`);
        swap.push(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(`${legacy(p)}_idx`)} ON ${q(p.table)} (${list(p.pk)});`);
        swap.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(`${legacy(p)}_key`)} UNIQUE USING INDEX ${q(`${legacy(p)}_idx`)};`);
      }
      for (const f of moved) swap.push(`${addFk(f)} NOT VALID;`);
      // Idempotent: every constraint it adds is dropped first if there, so it runs again after a partial or a full run.
      const back = [`-- Rollback of the swap of group ${i + 1}: the integer key is the primary key again (uuid columns stay). Safe to run twice.`];
      for (const f of moved) back.push(`ALTER TABLE ${q(f.table)} DROP CONSTRAINT IF EXISTS ${q(f.name)};`);
      for (const p of gp) {
        const pkName = p.pkName ?? `${p.table}_pkey`;
        back.push(`ALTER TABLE ${q(p.table)} DROP CONSTRAINT IF EXISTS ${q(pkName)};`);
        back.push(`ALTER TABLE ${q(p.table)} DROP CONSTRAINT IF EXISTS ${q(`${legacy(p)}_key`)};`);
        back.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(pkName)} PRIMARY KEY (${list(p.pk)});`);
        back.push(`ALTER TABLE ${q(p.table)} ALTER COLUMN ${q(parentUuid(p))} DROP NOT NULL;`);
      }
      for (const f of moved) back.push(`${addFk(f)};`);
      return { swap, back };
    }

    // MySQL commits each DDL: the swap is a contract file applied statement by statement (the history is the
    // statement log a cut-off run resumes from), under the write freeze the spec's cutover actions put in place.
    function swapMysql(i: number, names: string[]) {
      const allow = (code: string, why: string) => `-- cutline:allow ${code} ${why}`;
      const swap = [`-- cutline plan uuid: primary-key swap of group ${i + 1} (${names.join(', ')}), statement by statement under the write freeze.`];
      for (const f of moved) swap.push(`ALTER TABLE ${q(f.table)} DROP FOREIGN KEY ${q(f.name)};`);
      for (const p of gp) {
        swap.push(allow('CL005, CL011', 'the type stays BINARY(16): only NOT NULL and the keys change, under the write freeze, after verify proved every value set'));
        swap.push(`ALTER TABLE ${q(p.table)} MODIFY ${q(parentUuid(p))} BINARY(16) NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (${q(parentUuid(p))}), ADD UNIQUE KEY ${q(`${legacy(p)}_key`)} (${list(p.pk)});`);
      }
      for (const f of moved) {
        swap.push(allow('CL011', 'contract phase under the write freeze'));
        swap.push(`${addFk(f)};`);
      }
      for (const f of gf) {
        swap.push(allow('CL011', 'contract phase under the write freeze'));
        swap.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(`${f.name}_uuid`)} FOREIGN KEY (${q(cu(f))}) REFERENCES ${q(f.parent)} (${q(uuidOf(f.parent))});`);
      }
      // MySQL 8 has no DROP FOREIGN KEY IF EXISTS: each statement runs only when the catalog says it still has work
      // to do (a prepared statement, one session: `mysql db < R1__….sql`), so the file runs twice in a row.
      const guarded = (cond: string, stmt: string) => [
        `SET @cutline_sql = IF(${cond}, ${lit(stmt)}, 'DO 0');`,
        'PREPARE cutline_stmt FROM @cutline_sql;',
        'EXECUTE cutline_stmt;',
        'DEALLOCATE PREPARE cutline_stmt;',
      ];
      const fkCount = (table: string, name: string) =>
        `(SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ${lit(table)} AND CONSTRAINT_NAME = ${lit(name)} AND CONSTRAINT_TYPE = 'FOREIGN KEY')`;
      const back = [`-- Rollback of the swap of group ${i + 1}: the integer key is the primary key again (uuid columns stay). Safe to run twice, in one session.`];
      for (const f of gf) back.push(...guarded(`${fkCount(f.table, `${f.name}_uuid`)} > 0`, `ALTER TABLE ${q(f.table)} DROP FOREIGN KEY ${q(`${f.name}_uuid`)}`));
      for (const f of moved) back.push(...guarded(`${fkCount(f.table, f.name)} > 0`, `ALTER TABLE ${q(f.table)} DROP FOREIGN KEY ${q(f.name)}`));
      for (const p of gp)
        back.push(
          ...guarded(
            `(SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${lit(p.table)} AND INDEX_NAME = ${lit(`${legacy(p)}_key`)}) > 0`,
            `ALTER TABLE ${q(p.table)} DROP PRIMARY KEY, ADD PRIMARY KEY (${list(p.pk)}), DROP INDEX ${q(`${legacy(p)}_key`)}, MODIFY ${q(parentUuid(p))} BINARY(16) NULL`,
          ),
        );
      for (const f of moved) back.push(...guarded(`${fkCount(f.table, f.name)} = 0`, addFk(f)));
      return { swap, back };
    }
  }
  return {
    files,
    contractFiles,
    rollbackFiles,
    backfill,
    assertions,
    integrity: { foreignKeys: [...new Set(g.fks.map((f) => f.table))].sort(), newKeys: parents.map((p) => ({ table: p.table, column: parentUuid(p) })) },
    verifyTables: [...new Set([...parents.map((p) => p.table), ...g.fks.map((f) => f.table)])].sort(),
    groups: grps,
    skipped: g.skipped,
  };
}
