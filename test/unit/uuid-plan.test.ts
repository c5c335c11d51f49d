/** The UUID recipe planner without a database: ordering with cycles, groups, generated SQL that passes lint. */
import { describe, expect, it } from 'vitest';
import { lintMigrations } from '../../lambdas/core/lint';
import { loadMigrations } from '../../lambdas/core/migrations';
import { groups, order, planUuid, type UuidGraph, uuidColumn } from '../../cli/uuid-plan';

const t = (table: string, pk = `${table}_id`, parent = true) => ({ table, pk, pkType: 'int4', chunkKey: pk, isParent: parent });
const fk = (table: string, column: string, parent: string) => ({ name: `${table}_${column}_fkey`, table, column, parent, parentColumn: `${parent}_id` });
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
