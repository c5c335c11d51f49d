/**
 * The integer -> UUID key recipe (seeds 000 and 001), planned from the
 * catalog: every table with a single integer primary key gets a uuid column
 * and a mapping table (old_id -> new_id); every foreign key pointing at such
 * a table gets a uuid column next to it. Output: expand migrations (columns,
 * then indexes built CONCURRENTLY / online), backfill tasks (parents fill the
 * mapping, children join on it), verification assertions, and for PostgreSQL
 * a primary-key swap per connected group of tables (contract, after the go)
 * with its rollback. Legacy integer columns and mappings are kept.
 */
import type { SqlClient } from '../lambdas/ports';
import { keyKindOf } from '../lambdas/core/backfill';
import { readTableShape } from '../lambdas/core/compare/catalog';
import { foreignKeysOf } from '../lambdas/core/integrity';
import { quoteIdent } from '../lambdas/core/sql-builders';
import type { Dialect } from '../lambdas/core/sql-lexer';

export interface UuidTable {
  readonly table: string;
  readonly pk: string;
  readonly pkType: string;
  /** First primary-key column when it is an integer (the backfill chunks by it). */
  readonly chunkKey?: string;
  readonly isParent: boolean;
  /** PostgreSQL: the primary-key constraint's name. */
  readonly pkName?: string;
}
export interface UuidFk {
  readonly name: string;
  readonly table: string;
  readonly column: string;
  readonly parent: string;
  readonly parentColumn: string;
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
    const first = shape.primaryKey[0];
    const firstCol = shape.columns.find((c) => c.name === first);
    const intFirst = firstCol && INT.test(firstCol.dataType) ? first : undefined;
    // A child is backfilled in ranges of its key's first column: integer ranges, or keyset ranges of a text or uuid key.
    const chunkKey = intFirst ?? (firstCol && keyKindOf(firstCol.dataType) ? first : undefined);
    const parent = shape.primaryKey.length === 1 && !!intFirst && (!only || only.includes(t)) && !partitions.has(t);
    const pkName =
      client.dialect === 'postgres' ? (await client.query(`SELECT conname AS n FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'p'`, { t })).rows[0]?.n : undefined;
    tables.push({ table: t, pk: first ?? '', pkType: firstCol?.fullType ?? '', ...(chunkKey ? { chunkKey } : {}), isParent: parent, ...(pkName ? { pkName: String(pkName) } : {}) });
    if (!intFirst && !partitions.has(t)) skipped.push({ table: t, reason: shape.primaryKey.length ? `primary key ${shape.primaryKey.join(', ')} is not an integer` : 'no primary key' });
    for (const fk of await foreignKeysOf(client, t))
      if (fk.columns.length === 1) fks.push({ name: fk.name, table: t, column: fk.columns[0]!, parent: fk.parent, parentColumn: fk.parentColumns[0]! });
  }
  const parents = new Set(tables.filter((x) => x.isParent).map((x) => x.table));
  const dependentFks = fks.filter((f) => parents.has(f.parent) && tables.find((x) => x.table === f.parent)!.pk === f.parentColumn);
  for (const f of dependentFks) {
    const child = tables.find((x) => x.table === f.table)!;
    if (partitions.has(f.table)) skipped.push({ table: f.table, reason: `partition of another table: gets its uuid columns from the parent table` });
    else if (!child.chunkKey) skipped.push({ table: f.table, reason: `child of ${f.parent} without an integer, text or uuid key to chunk by` });
  }
  const planned = dependentFks.filter((f) => !partitions.has(f.table) && tables.find((x) => x.table === f.table)!.chunkKey);
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

export function planUuid(g: UuidGraph, opts: { firstVersion: number; uuidv7: boolean; batchSize?: number }): UuidPlan {
  const d = g.dialect;
  const pg = d === 'postgres';
  const q = (s: string) => quoteIdent(s, d);
  const uuidType = pg ? 'uuid' : 'BINARY(16)';
  const newId = pg ? (opts.uuidv7 ? 'uuidv7()' : 'gen_random_uuid()') : "UNHEX(REPLACE(UUID(), '-', ''))";
  const parents = order(g).map((p) => g.tables.find((t) => t.table === p)!);
  const batch = opts.batchSize ?? 5000;
  let v = opts.firstVersion;
  const expand: string[] = ['-- cutline plan uuid: expand. Uuid columns without defaults (no table rewrite), and the mapping tables.'];
  for (const p of parents) {
    expand.push(`CREATE TABLE ${q(mapTable(p.table))} (old_id ${p.pkType} PRIMARY KEY, new_id ${uuidType} NOT NULL UNIQUE);`);
    expand.push(`ALTER TABLE ${q(p.table)} ADD COLUMN ${q(uuidColumn(p.pk))} ${uuidType};`);
  }
  for (const f of g.fks) expand.push(`ALTER TABLE ${q(f.table)} ADD COLUMN ${q(uuidColumn(f.column))} ${uuidType};`);
  const files = [{ name: `V${v++}__uuid_expand.sql`, body: `${expand.join('\n')}\n` }];

  const idx: string[] = [`-- cutline plan uuid: indexes ${pg ? 'built CONCURRENTLY (writes continue)' : 'built online (ALGORITHM=INPLACE, LOCK=NONE)'}.`];
  const ix = (name: string, table: string, col: string, unique: boolean) =>
    pg
      ? `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${q(name)} ON ${q(table)} (${q(col)});`
      : `ALTER TABLE ${q(table)} ADD ${unique ? 'UNIQUE ' : ''}INDEX ${q(name)} (${q(col)}), ALGORITHM=INPLACE, LOCK=NONE;`;
  for (const p of parents) {
    idx.push(ix(`${p.table}_${uuidColumn(p.pk)}_key`, p.table, uuidColumn(p.pk), true));
    if (pg) {
      // Built now, while writes continue, so the swap after the go only attaches them.
      idx.push(ix(`${p.table}_${uuidColumn(p.pk)}_pkey_idx`, p.table, uuidColumn(p.pk), true));
      idx.push(ix(`${p.table}_${p.pk}_legacy_idx`, p.table, p.pk, true));
    }
  }
  for (const f of g.fks) idx.push(ix(`${f.table}_${uuidColumn(f.column)}_idx`, f.table, uuidColumn(f.column), false));
  files.push({ name: `V${v++}__uuid_indexes.sql`, body: `${idx.join('\n')}\n` });

  if (pg && g.fks.length) {
    // The new foreign keys: NOT VALID now (instant), validated by the swap after the backfill.
    const cons = ['-- cutline plan uuid: the uuid foreign keys, NOT VALID (no scan, no long lock).'];
    for (const p of parents) cons.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(`${p.table}_${uuidColumn(p.pk)}_key`)} UNIQUE USING INDEX ${q(`${p.table}_${uuidColumn(p.pk)}_key`)};`);
    for (const f of g.fks) cons.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(`${f.name}_uuid`)} FOREIGN KEY (${q(uuidColumn(f.column))}) REFERENCES ${q(f.parent)} (${q(uuidColumn(f.parentColumn))}) NOT VALID;`);
    files.push({ name: `V${v++}__uuid_foreign_keys.sql`, body: `${cons.join('\n')}\n` });
  }

  const backfill: UuidPlan['backfill'] = [];
  for (const p of parents) {
    const u = q(uuidColumn(p.pk));
    const m = q(mapTable(p.table));
    const k = q(p.pk);
    if (pg)
      backfill.push({
        name: `uuid-${p.table}`.slice(0, 64).replace(/_/g, '-'),
        table: p.table,
        key: p.pk,
        batchSize: batch,
        // One statement fills the mapping and the column: idempotent (existing mappings are kept).
        sql: `WITH m AS (INSERT INTO ${m} (old_id, new_id) SELECT ${k}, ${newId} FROM ${q(p.table)} WHERE ${k} BETWEEN :lo AND :hi ON CONFLICT (old_id) DO NOTHING RETURNING old_id, new_id) UPDATE ${q(p.table)} t SET ${u} = m.new_id FROM m WHERE t.${k} = m.old_id`,
      });
    else {
      backfill.push({ name: `uuid-map-${p.table}`.slice(0, 64).replace(/_/g, '-'), table: p.table, key: p.pk, batchSize: batch, sql: `INSERT IGNORE INTO ${m} (old_id, new_id) SELECT ${k}, ${newId} FROM ${q(p.table)} WHERE ${k} BETWEEN :lo AND :hi` });
      backfill.push({
        name: `uuid-${p.table}`.slice(0, 64).replace(/_/g, '-'),
        table: p.table,
        key: p.pk,
        batchSize: batch,
        sql: `UPDATE ${q(p.table)} t JOIN ${m} m ON m.old_id = t.${k} SET t.${u} = m.new_id WHERE t.${k} BETWEEN :lo AND :hi AND t.${u} IS NULL`,
      });
    }
  }
  for (const f of g.fks) {
    const child = g.tables.find((t) => t.table === f.table)!;
    const cu = q(uuidColumn(f.column));
    const pu = q(uuidColumn(f.parentColumn));
    const ck = q(child.chunkKey!);
    backfill.push({
      name: `uuid-${f.table}-${f.column}`.slice(0, 64).replace(/_/g, '-'),
      table: f.table,
      key: child.chunkKey!,
      batchSize: batch,
      sql: pg
        ? `UPDATE ${q(f.table)} c SET ${cu} = p.${pu} FROM ${q(f.parent)} p WHERE p.${q(f.parentColumn)} = c.${q(f.column)} AND c.${ck} BETWEEN :lo AND :hi AND c.${cu} IS DISTINCT FROM p.${pu}`
        : `UPDATE ${q(f.table)} c JOIN ${q(f.parent)} p ON p.${q(f.parentColumn)} = c.${q(f.column)} SET c.${cu} = p.${pu} WHERE c.${ck} BETWEEN :lo AND :hi AND NOT (c.${cu} <=> p.${pu})`,
    });
  }

  const assertions: UuidPlan['assertions'] = [];
  for (const p of parents) {
    assertions.push({ name: `${p.table}: mapping complete`, sql: `SELECT t.${q(p.pk)} FROM ${q(p.table)} t LEFT JOIN ${q(mapTable(p.table))} m ON m.old_id = t.${q(p.pk)} WHERE m.old_id IS NULL LIMIT 20` });
    assertions.push({ name: `${p.table}: uuid equals the mapping`, sql: `SELECT t.${q(p.pk)} FROM ${q(p.table)} t JOIN ${q(mapTable(p.table))} m ON m.old_id = t.${q(p.pk)} WHERE NOT (t.${q(uuidColumn(p.pk))} ${pg ? 'IS NOT DISTINCT FROM' : '<=>'} m.new_id) LIMIT 20` });
  }
  for (const f of g.fks)
    assertions.push({
      name: `${f.table}.${uuidColumn(f.column)} equals its ${f.parent}'s`,
      sql: `SELECT c.${q(f.column)} FROM ${q(f.table)} c JOIN ${q(f.parent)} p ON p.${q(f.parentColumn)} = c.${q(f.column)} WHERE NOT (c.${q(uuidColumn(f.column))} ${pg ? 'IS NOT DISTINCT FROM' : '<=>'} p.${q(uuidColumn(f.parentColumn))}) LIMIT 20`,
    });
  for (const f of g.fks)
    assertions.push({ name: `${f.table}.${uuidColumn(f.column)} set wherever ${f.column} is`, sql: `SELECT c.${q(f.column)} FROM ${q(f.table)} c WHERE c.${q(f.column)} IS NOT NULL AND c.${q(uuidColumn(f.column))} IS NULL LIMIT 20` });

  const contractFiles: UuidPlan['contractFiles'] = [];
  const rollbackFiles: UuidPlan['rollbackFiles'] = [];
  const grps = groups(g);
  if (pg) {
    for (const [gi, grp] of grps.entries()) {
      const gp = parents.filter((p) => grp.includes(p.table));
      const gf = g.fks.filter((f) => grp.includes(f.table));
      // Every constraint on the old keys of this group, also from partitions that are not planned.
      const moved = g.dependentFks.filter((f) => gp.some((p) => p.table === f.parent));
      if (!gp.length) continue;
      const swap = [
        `-- cutline plan uuid: primary-key swap of group ${gi + 1} (${grp.join(', ')}), one transaction with lock_timeout and retries.`,
        '-- Legacy integer keys stay (as UNIQUE) with their foreign keys, until a later contract step drops them.',
      ];
      for (const f of gf) swap.push(`ALTER TABLE ${q(f.table)} VALIDATE CONSTRAINT ${q(`${f.name}_uuid`)};`);
      for (const f of moved) swap.push(`ALTER TABLE ${q(f.table)} DROP CONSTRAINT ${q(f.name)};`);
      for (const p of gp) {
        const pkName = p.pkName ?? `${p.table}_pkey`;
        swap.push(`-- cutline:allow CL003 verify proved every ${uuidColumn(p.pk)} set and unique before the go`);
        swap.push(`ALTER TABLE ${q(p.table)} ALTER COLUMN ${q(uuidColumn(p.pk))} SET NOT NULL;`);
        swap.push(`ALTER TABLE ${q(p.table)} DROP CONSTRAINT ${q(pkName)};`);
        // The swap turns these indexes (built CONCURRENTLY by the expand files) into constraints; after a rollback
        // dropped them, the swap builds them again so it can run again (else a no-op).
        swap.push(`-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY`);
        swap.push(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(`${p.table}_${uuidColumn(p.pk)}_pkey_idx`)} ON ${q(p.table)} (${q(uuidColumn(p.pk))});`);
        swap.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(pkName)} PRIMARY KEY USING INDEX ${q(`${p.table}_${uuidColumn(p.pk)}_pkey_idx`)};`);
        swap.push(`-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY`);
        swap.push(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(`${p.table}_${p.pk}_legacy_idx`)} ON ${q(p.table)} (${q(p.pk)});`);
        swap.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(`${p.table}_${p.pk}_legacy_key`)} UNIQUE USING INDEX ${q(`${p.table}_${p.pk}_legacy_idx`)};`);
      }
      for (const f of moved)
        swap.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(f.name)} FOREIGN KEY (${q(f.column)}) REFERENCES ${q(f.parent)} (${q(f.parentColumn)}) NOT VALID;`);
      contractFiles.push({ name: `V${v++}__uuid_swap_group_${gi + 1}.sql`, body: `${swap.join('\n')}\n` });
      // Validating takes no long lock (SHARE UPDATE EXCLUSIVE): its own file, after the swap committed.
      const validate = [`-- cutline plan uuid: validate the legacy foreign keys re-attached by the swap of group ${gi + 1}.`];
      for (const f of moved) validate.push(`ALTER TABLE ${q(f.table)} VALIDATE CONSTRAINT ${q(f.name)};`);
      if (moved.length) contractFiles.push({ name: `V${v++}__uuid_validate_group_${gi + 1}.sql`, body: `${validate.join('\n')}\n` });
      // Idempotent: every constraint it adds is dropped first if there, so it runs again after a partial or a full run.
      const back = [`-- Rollback of the swap of group ${gi + 1}: the integer key is the primary key again (uuid columns stay). Safe to run twice.`];
      for (const f of moved) back.push(`ALTER TABLE ${q(f.table)} DROP CONSTRAINT IF EXISTS ${q(f.name)};`);
      for (const p of gp) {
        const pkName = p.pkName ?? `${p.table}_pkey`;
        back.push(`ALTER TABLE ${q(p.table)} DROP CONSTRAINT IF EXISTS ${q(pkName)};`);
        back.push(`ALTER TABLE ${q(p.table)} DROP CONSTRAINT IF EXISTS ${q(`${p.table}_${p.pk}_legacy_key`)};`);
        back.push(`ALTER TABLE ${q(p.table)} ADD CONSTRAINT ${q(pkName)} PRIMARY KEY (${q(p.pk)});`);
        back.push(`ALTER TABLE ${q(p.table)} ALTER COLUMN ${q(uuidColumn(p.pk))} DROP NOT NULL;`);
      }
      for (const f of moved) back.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(f.name)} FOREIGN KEY (${q(f.column)}) REFERENCES ${q(f.parent)} (${q(f.parentColumn)});`);
      rollbackFiles.push({ name: `R${gi + 1}__uuid_swap_group_${gi + 1}.sql`, body: `${back.join('\n')}\n` });
    }
  }
  if (!pg) {
    // MySQL commits each DDL: the swap is a contract file applied statement by statement (the history is the
    // statement log a cut-off run resumes from), under the write freeze the spec's cutover actions put in place.
    for (const [gi, grp] of grps.entries()) {
      const gp = parents.filter((p) => grp.includes(p.table));
      const gf = g.fks.filter((f) => grp.includes(f.table));
      if (!gp.length) continue;
      const moved = g.dependentFks.filter((f) => gp.some((p) => p.table === f.parent));
      const allow = (code: string, why: string) => `-- cutline:allow ${code} ${why}`;
      const swap = [`-- cutline plan uuid: primary-key swap of group ${gi + 1} (${grp.join(', ')}), statement by statement under the write freeze.`];
      for (const f of moved) swap.push(`ALTER TABLE ${q(f.table)} DROP FOREIGN KEY ${q(f.name)};`);
      for (const p of gp) {
        swap.push(allow('CL005, CL011', 'the type stays BINARY(16): only NOT NULL and the keys change, under the write freeze, after verify proved every value set'));
        swap.push(`ALTER TABLE ${q(p.table)} MODIFY ${q(uuidColumn(p.pk))} BINARY(16) NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (${q(uuidColumn(p.pk))}), ADD UNIQUE KEY ${q(`${p.table}_${p.pk}_legacy_key`)} (${q(p.pk)});`);
      }
      for (const f of moved) {
        swap.push(allow('CL011', 'contract phase under the write freeze'));
        swap.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(f.name)} FOREIGN KEY (${q(f.column)}) REFERENCES ${q(f.parent)} (${q(f.parentColumn)});`);
      }
      for (const f of gf) {
        swap.push(allow('CL011', 'contract phase under the write freeze'));
        swap.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(`${f.name}_uuid`)} FOREIGN KEY (${q(uuidColumn(f.column))}) REFERENCES ${q(f.parent)} (${q(uuidColumn(f.parentColumn))});`);
      }
      contractFiles.push({ name: `V${v++}__uuid_swap_group_${gi + 1}.sql`, body: `${swap.join('\n')}\n` });
      const back = [`-- Rollback of the swap of group ${gi + 1}: the integer key is the primary key again (uuid columns stay).`];
      for (const f of gf) back.push(`ALTER TABLE ${q(f.table)} DROP FOREIGN KEY ${q(`${f.name}_uuid`)};`);
      for (const f of moved) back.push(`ALTER TABLE ${q(f.table)} DROP FOREIGN KEY ${q(f.name)};`);
      for (const p of gp)
        back.push(`ALTER TABLE ${q(p.table)} DROP PRIMARY KEY, ADD PRIMARY KEY (${q(p.pk)}), DROP INDEX ${q(`${p.table}_${p.pk}_legacy_key`)}, MODIFY ${q(uuidColumn(p.pk))} BINARY(16) NULL;`);
      for (const f of moved) back.push(`ALTER TABLE ${q(f.table)} ADD CONSTRAINT ${q(f.name)} FOREIGN KEY (${q(f.column)}) REFERENCES ${q(f.parent)} (${q(f.parentColumn)});`);
      rollbackFiles.push({ name: `R${gi + 1}__uuid_swap_group_${gi + 1}.sql`, body: `${back.join('\n')}\n` });
    }
  }
  return {
    files,
    contractFiles,
    rollbackFiles,
    backfill,
    assertions,
    integrity: { foreignKeys: [...new Set(g.fks.map((f) => f.table))].sort(), newKeys: parents.map((p) => ({ table: p.table, column: uuidColumn(p.pk) })) },
    verifyTables: [...new Set([...parents.map((p) => p.table), ...g.fks.map((f) => f.table)])].sort(),
    groups: grps,
    skipped: g.skipped,
  };
}
