/** The UUID recipe planner without a database: ordering with cycles, groups, generated SQL that passes lint. */
import { describe, expect, it } from 'vitest';
import { lintMigrations } from '../../lambdas/core/lint';
import { loadMigrations } from '../../lambdas/core/migrations';
import { groups, order, planUuid, type UuidGraph, uuidColumn } from '../../cli/uuid-plan';

const t = (table: string, pk = `${table}_id`, parent = true) => ({ table, pk: [pk], pkTypes: ['int4'], chunkKey: pk, isParent: parent });
const fk = (table: string, column: string, parent: string) => ({ name: `${table}_${column}_fkey`, table, columns: [column], parent, parentColumns: [`${parent}_id`] });
const graph: UuidGraph = {
  dialect: 'postgres',
  tables: [t('store'), t('staff'), t('address'), t('rental'), t('log', 'log_id')],
  fks: [fk('store', 'manager_staff_id', 'staff'), fk('staff', 'store_id', 'store'), fk('store', 'address_id', 'address'), fk('rental', 'staff_id', 'staff')],
  dependentFks: [],
  skipped: [],
};
graph.dependentFks.push(...graph.fks);

describe('uuid plan', () => {
  it('names uuid columns after the key', () => {
    expect([uuidColumn('actor_id'), uuidColumn('manager_staff_id'), uuidColumn('code')]).toEqual(['actor_uuid', 'manager_staff_uuid', 'code_uuid']);
  });
  it('orders parents first; a cycle (store <-> staff) stays together', () => {
    const o = order(graph);
    expect(o.indexOf('address')).toBeLessThan(o.indexOf('store'));
    expect(Math.abs(o.indexOf('store') - o.indexOf('staff'))).toBe(1);
  });
  it('connected tables swap together; an unconnected table is its own group', () => {
    expect(groups(graph)).toEqual([['address', 'rental', 'staff', 'store'], ['log']]);
  });
  it('the expand and contract files pass lint; the swap holds every moved constraint', () => {
    const p = planUuid(graph, { firstVersion: 1, uuidv7: true });
    expect(p.files.map((f) => f.name)).toEqual(['V1__uuid_expand.sql', 'V2__uuid_indexes.sql', 'V3__uuid_foreign_keys.sql']);
    expect(lintMigrations(loadMigrations(p.files, 'postgres'), 'postgres').filter((f) => f.blocking)).toEqual([]);
    expect(lintMigrations(loadMigrations(p.contractFiles, 'postgres'), 'postgres', { contract: true }).filter((f) => f.blocking)).toEqual([]);
    expect(p.backfill[0]!.sql).toContain('uuidv7()');
    expect(p.backfill[0]!.sql).toMatch(/^WITH m AS \(INSERT INTO "cutline_uuid_map_address" .* ON CONFLICT \(old_id\) DO NOTHING RETURNING old_id, new_id\) UPDATE/);
    const swap = p.contractFiles[0]!.body;
    for (const f of graph.fks) expect(swap).toContain(`DROP CONSTRAINT "${f.name}"`);
    expect(swap).toContain('PRIMARY KEY USING INDEX "staff_staff_uuid_pkey_idx"');
  });
  it('MySQL: BINARY(16), online indexes, two idempotent statements per parent chunk, a stepwise swap file', () => {
    const p = planUuid({ ...graph, dialect: 'mysql' }, { firstVersion: 7, uuidv7: false });
    expect(p.files[0]!.name).toBe('V7__uuid_expand.sql');
    expect(p.files[0]!.body).toContain('BINARY(16)');
    expect(p.files[1]!.body).toContain('ALGORITHM=INPLACE, LOCK=NONE');
    expect(p.backfill.filter((b) => ['uuid-map-store', 'uuid-store'].includes(b.name)).map((b) => b.sql.split(' ')[0])).toEqual(['INSERT', 'UPDATE']);
    expect(p.contractFiles.map((f) => f.name)).toEqual(['V9__uuid_swap_group_1.sql', 'V10__uuid_swap_group_2.sql']);
    expect(p.contractFiles[0]!.body).toContain('DROP PRIMARY KEY, ADD PRIMARY KEY (`staff_uuid`)');
    expect(lintMigrations(loadMigrations(p.files, 'mysql'), 'mysql').filter((f) => f.blocking)).toEqual([]);
    expect(lintMigrations(loadMigrations(p.contractFiles, 'mysql'), 'mysql', { contract: true }).filter((f) => f.blocking)).toEqual([]);
  });
});

// Seed 001: CycleReport has a composite primary key (cycle_id, report_id): a surrogate uuid per row, the composite kept
// unique, and a child with a composite foreign key gets one uuid column pointing at the surrogate.
const composite: UuidGraph = {
  dialect: 'postgres',
  tables: [
    t('cycles', 'cycle_id'),
    t('reports', 'report_id'),
    { table: 'cycle_reports', pk: ['cycle_id', 'report_id'], pkTypes: ['int4', 'int4'], chunkKey: 'cycle_id', isParent: true, pkName: 'cycle_reports_pkey' },
    { table: 'cycle_report_attrs', pk: ['attr_id'], pkTypes: ['int8'], chunkKey: 'attr_id', isParent: true },
  ],
  fks: [
    fk('cycle_reports', 'cycle_id', 'cycles'),
    fk('cycle_reports', 'report_id', 'reports'),
    { name: 'attrs_cycle_report_fkey', table: 'cycle_report_attrs', columns: ['cycle_id', 'report_id'], parent: 'cycle_reports', parentColumns: ['cycle_id', 'report_id'] },
  ],
  dependentFks: [],
  skipped: [],
};
composite.dependentFks.push(...composite.fks);

describe('uuid plan: composite keys and one shared mapping table', () => {
  it('a composite key gets a surrogate <table>_uuid, its mapping is keyed by the composite columns, and the swap keeps the composite unique', () => {
    const p = planUuid(composite, { firstVersion: 1, uuidv7: false });
    const expand = p.files[0]!.body;
    expect(expand).toContain('CREATE TABLE "cutline_uuid_map_cycle_reports" ("cycle_id" int4 NOT NULL, "report_id" int4 NOT NULL, new_id uuid NOT NULL UNIQUE, PRIMARY KEY ("cycle_id", "report_id"));');
    expect(expand).toContain('ALTER TABLE "cycle_reports" ADD COLUMN "cycle_reports_uuid" uuid;');
    expect(expand).toContain('ALTER TABLE "cycle_report_attrs" ADD COLUMN "cycle_reports_uuid" uuid;');
    const fill = p.backfill.find((b) => b.name === 'uuid-cycle-reports')!;
    expect(fill.key).toBe('cycle_id');
    expect(fill.sql).toContain('ON CONFLICT ("cycle_id", "report_id") DO NOTHING RETURNING "cycle_id", "report_id", new_id');
    expect(fill.sql).toContain('FROM m WHERE m."cycle_id" = t."cycle_id" AND m."report_id" = t."report_id"');
    const child = p.backfill.find((b) => b.table === 'cycle_report_attrs' && b.name.includes('cycle-reports'))!;
    expect(child.sql).toContain('p."cycle_id" = c."cycle_id" AND p."report_id" = c."report_id"');
    expect(p.files[2]!.body).toContain('FOREIGN KEY ("cycle_reports_uuid") REFERENCES "cycle_reports" ("cycle_reports_uuid") NOT VALID');
    const swap = p.contractFiles[0]!.body;
    expect(swap).toContain('ADD CONSTRAINT "cycle_reports_cycle_id_report_id_legacy_key" UNIQUE USING INDEX');
    expect(swap).toContain('CREATE UNIQUE INDEX IF NOT EXISTS "cycle_reports_cycle_id_report_id_legacy_idx" ON "cycle_reports" ("cycle_id", "report_id");');
    expect(swap).toContain('ADD CONSTRAINT "attrs_cycle_report_fkey" FOREIGN KEY ("cycle_id", "report_id") REFERENCES "cycle_reports" ("cycle_id", "report_id") NOT VALID;');
    expect(p.rollbackFiles[0]!.body).toContain('ADD CONSTRAINT "cycle_reports_pkey" PRIMARY KEY ("cycle_id", "report_id");');
    const names = p.assertions.map((a) => a.name);
    expect(names).toContain("cycle_report_attrs.cycle_reports_uuid equals its cycle_reports's");
    expect(p.assertions.find((a) => a.name === 'cycle_report_attrs.cycle_reports_uuid set wherever cycle_id, report_id is')!.sql).toContain('c."cycle_id" IS NOT NULL AND c."report_id" IS NOT NULL');
    expect(lintMigrations(loadMigrations(p.files, 'postgres'), 'postgres').filter((f) => f.blocking)).toEqual([]);
    expect(lintMigrations(loadMigrations(p.contractFiles, 'postgres'), 'postgres', { contract: true }).filter((f) => f.blocking)).toEqual([]);
  });
  it('mapping "shared": one cutline_uuid_map (table_name, old_id) for every single-key table, as seed 001 keeps it; composite keys keep their own', () => {
    const p = planUuid(composite, { firstVersion: 1, uuidv7: false, mapping: 'shared' });
    const expand = p.files[0]!.body;
    expect(expand.match(/CREATE TABLE "cutline_uuid_map" /g)).toHaveLength(1);
    expect(expand).toContain('CREATE TABLE "cutline_uuid_map" (table_name varchar(64) NOT NULL, old_id bigint NOT NULL, new_id uuid NOT NULL UNIQUE, PRIMARY KEY (table_name, old_id));');
    expect(expand).not.toContain('cutline_uuid_map_cycles');
    expect(expand).toContain('cutline_uuid_map_cycle_reports');
    const fill = p.backfill.find((b) => b.name === 'uuid-cycles')!;
    expect(fill.sql).toContain(`INSERT INTO "cutline_uuid_map" (table_name, old_id, new_id) SELECT 'cycles', "cycle_id", gen_random_uuid() FROM "cycles"`);
    expect(fill.sql).toContain('ON CONFLICT (table_name, old_id) DO NOTHING');
    expect(p.assertions.find((a) => a.name === 'cycles: mapping complete')!.sql).toContain(`m.table_name = 'cycles' AND m.old_id = t."cycle_id"`);
    const my = planUuid({ ...composite, dialect: 'mysql' }, { firstVersion: 1, uuidv7: false, mapping: 'shared' });
    expect(my.backfill.find((b) => b.name === 'uuid-map-cycles')!.sql).toContain("INSERT IGNORE INTO `cutline_uuid_map` (table_name, old_id, new_id) SELECT 'cycles', `cycle_id`,");
    expect(my.backfill.find((b) => b.name === 'uuid-cycles')!.sql).toContain("JOIN `cutline_uuid_map` m ON m.table_name = 'cycles' AND m.old_id = t.`cycle_id`");
  });
  it('MySQL rollback files are guarded statement by statement (no DROP FOREIGN KEY IF EXISTS on MySQL 8), so they run twice', () => {
    const p = planUuid({ ...graph, dialect: 'mysql' }, { firstVersion: 1, uuidv7: false });
    const back = p.rollbackFiles[0]!.body;
    expect(back).not.toMatch(/^ALTER TABLE/m);
    expect(back).toContain("SET @cutline_sql = IF((SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'rental' AND CONSTRAINT_NAME = 'rental_staff_id_fkey_uuid' AND CONSTRAINT_TYPE = 'FOREIGN KEY') > 0, 'ALTER TABLE `rental` DROP FOREIGN KEY `rental_staff_id_fkey_uuid`', 'DO 0');");
    expect(back).toContain('PREPARE cutline_stmt FROM @cutline_sql;');
  });
});
