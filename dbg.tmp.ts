import { systemClock } from './lambdas/adapters/local/runtime';
import { postgresClient } from './lambdas/adapters/local/sql-postgres';
import { DEFAULT_PLAN, planChunks } from './lambdas/core/compare/chunks';
import { checkChunk, DEFAULT_CHECK } from './lambdas/core/compare/gate';
import { buildTablePlan } from './lambdas/core/compare/table-plan';
import { mapLimit } from './lambdas/core/concurrency';
const mk = () => postgresClient('postgres://postgres@127.0.0.1:5432/test', { max: 8 });
const c = { source: mk(), target: mk() };
for (let k = 0; k < 2; k++) {
  let t0 = Date.now();
  const plan = await buildTablePlan(c, { table: 'bm.accounts', targetTable: 'bm.accounts2' });
  const p = await planChunks(c.source, plan, systemClock, { ...DEFAULT_PLAN, initialRows: 20_000, maxRows: 1_000_000, targetSeconds: 0.5, sampleWith: 'exact', concurrency: 4 });
  const planMs = Date.now() - t0;
  t0 = Date.now();
  const res = await mapLimit(p.chunks, 2, async (ch) => { const a = Date.now(); const r = await checkChunk(c, plan, ch, 'exact', systemClock, DEFAULT_CHECK); return [r.status, Date.now() - a]; });
  console.log('plan', planMs, 'ms', p.chunks.length, 'chunks', JSON.stringify(p.samples), p.slowdown, 'check', Date.now() - t0, 'ms', JSON.stringify(res));
}
{ const t0 = Date.now(); await c.source.query("SELECT count(*) FROM (SELECT md5(x::text) FROM bm.accounts x OFFSET 0) q"); console.log('plain one side', Date.now() - t0); }
await c.source.close(); await c.target.close();
