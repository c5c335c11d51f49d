/**
 * A simulated PostgreSQL for `npm run bench -- scale`: one table `items (id bigint PRIMARY KEY, v text)` of `rows` rows
 * (ids 1..rows), answering exactly the statements a gates-only run sends (catalog, run lease, key walk, counts,
 * checksums), each after the latency of a model measured on the real server: callMs + rows / rowsPerSecond.
 * Source and target hold the same rows, so every chunk matches. Nothing is stored per row: memory is the runner's.
 */
import type { Dialect } from '../lambdas/core/sql-lexer';
import type { SqlClient, SqlParams, SqlResult } from '../lambdas/ports';

export interface LatencyModel {
  /** A statement's fixed cost (round trip, parse, plan), ms. */
  readonly callMs: number;
  /** Rows per second a count or checksum reads. */
  readonly rowsPerSecond: number;
  /** One step of the planner's key walk, ms per 1,000 rows skipped. */
  readonly walkMsPer1000: number;
}

export class SimDatabase {
  /** Statements answered and the database time they were charged, ms. */
  statements = 0;
  dbMs = 0;
  private readonly leases = new Map<string, string>();
  constructor(
    readonly rows: number,
    readonly model: LatencyModel,
  ) {}

  client(label: string): SqlClient {
    const c: SqlClient = {
      dialect: 'postgres' as Dialect,
      label,
      query: (sql, params) => this.answer(sql, params ?? {}),
      transaction: (fn) => fn(c),
      close: async () => {},
    };
    return c;
  }

  private async answer(sql: string, p: SqlParams): Promise<SqlResult> {
    const q = sql.replace(/\s+/g, ' ').trim();
    const r = this.result(q, p);
    this.statements++;
    const ms = this.model.callMs + r.ms;
    this.dbMs += ms;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { rows: r.rows, rowsAffected: r.rowsAffected ?? 0 } as SqlResult;
  }

  private range(q: string, p: SqlParams): { lo: number; hi: number } {
    const lo = /"id" > :lo0/.test(q) ? Number(p.lo0) : 0;
    const hi = /"id" <= :hi0/.test(q) ? Number(p.hi0) : /BETWEEN :lo AND :hi/.test(q) ? Number(p.hi) : this.rows;
    return { lo: Math.max(0, lo), hi: Math.min(this.rows, hi) };
  }

  private result(q: string, p: SqlParams): { rows: Record<string, unknown>[]; rowsAffected?: number; ms: number } {
    const none = { rows: [], ms: 0 };
    if (/^SELECT version\(\)/.test(q)) return { rows: [{ v: 'PostgreSQL 16.0 (cutline simulation)' }], ms: 0 };
    if (/"cutline_run_lease"/.test(q)) {
      if (/^CREATE TABLE|^DELETE/.test(q)) {
        if (/AND owner = :owner/.test(q)) this.leases.delete(String(p.name));
        return none;
      }
      if (/^INSERT/.test(q)) {
        const held = this.leases.get(String(p.name));
        if (held && held !== p.owner) return { rows: [], rowsAffected: 0, ms: 0 };
        this.leases.set(String(p.name), String(p.owner));
        return { rows: [], rowsAffected: 1, ms: 0 };
      }
      const owner = this.leases.get(String(p.name));
      return { rows: owner ? [{ owner, until: '2099-01-01T00:00:00Z' }] : [], ms: 0 };
    }
    if (/information_schema\.columns/i.test(q))
      return {
        rows: [
          { name: 'id', data_type: 'bigint', full_type: 'int8', scale: 0, is_enum: false },
          { name: 'v', data_type: 'text', full_type: 'text', scale: null, is_enum: false },
        ],
        ms: 0,
      };
    if (/FROM pg_index/.test(q)) return { rows: [/AS k,/.test(q) ? { k: 'id', type: 'bigint' } : { name: 'id' }], ms: 0 };
    if (/reltuples/.test(q)) return { rows: [{ n: String(this.rows) }], ms: 0 };
    if (/^SET TRANSACTION/.test(q)) return none;
    const walk = /LIMIT 1 OFFSET (\d+)$/.exec(q);
    if (walk) {
      const offset = Number(walk[1]);
      const lo = /"id" > :lo0/.test(q) ? Number(p.lo0) : 0;
      const key = lo + offset + 1;
      return { rows: key <= this.rows ? [{ k0: String(key) }] : [], ms: (offset / 1000) * this.model.walkMsPer1000 };
    }
    if (/^SELECT \(?min\(/.test(q)) return { rows: [{ lo: '1', hi: String(this.rows) }], ms: (2 * 1000) / this.model.rowsPerSecond };
    if (/count\(\*\)/.test(q)) {
      const { lo, hi } = this.range(q, p);
      const n = Math.max(0, hi - lo);
      const read = (n * 1000) / this.model.rowsPerSecond;
      // A checksum: the same sums on both sides (the simulated copy is exact).
      if (/ AS s1/.test(q)) return { rows: [{ n: String(n), s1: String(BigInt(n) * 7n), s2: String((BigInt(lo + 1 + hi) * BigInt(n)) / 2n) }], ms: read };
      return { rows: [{ n: String(n) }], ms: read };
    }
    throw new Error(`the simulated database does not answer: ${q.slice(0, 160)}`);
  }
}
