/** `estimate`: what the method gates of a run will cost and take, before anything runs (docs/scale.md's model). */
import type { Command } from 'commander';
import { DataApiSql } from '../../lambdas/adapters/aws/data-api';
import { systemClock } from '../../lambdas/adapters/local/runtime';
import { estimateGates, type GateEstimate, measureGates, renderEstimate } from '../../lambdas/core/estimate';
import { dbRef, parseSpec, type RunSpec } from '../../lambdas/core/spec';
import type { SqlClient } from '../../lambdas/ports';
import { aws, EXIT, type Io, localUrl, placeholderEnv, type SetExit, UsageError } from '../io';
import { loopbackDataApi } from '../loopback-data-api';
import { applyUrlOverrides, openLocalDatabases } from '../runner/databases';
import { readSpecFile } from '../spec-file';

/**
 * Measure and estimate: through the Data API in AWS (the spec's dataApi references, the caller's credentials), locally
 * as the local runner reaches the databases (the Data API adapter against a loopback Data API). Changes nothing.
 */
export async function estimateRun(spec: RunSpec, raw: Record<string, unknown>, io: Io): Promise<GateEstimate | undefined> {
  if (!spec.target || !spec.gates.tables.length) return undefined;
  const source = dbRef(spec, 'source');
  const target = dbRef(spec, 'target');
  if (source.dataApi && target.dataApi) {
    const c = (ref: typeof source) => new DataApiSql(aws(io, 'rdsData'), ref.dataApi!, ref.engine);
    const { tables, sample } = await measureGates(spec, { source: c(source), target: c(target) }, systemClock);
    return estimateGates(spec, tables, sample, 'aws');
  }
  const { factory, opened } = await openLocalDatabases(raw, {}, () => {});
  const viaApi: SqlClient[] = [];
  try {
    const client = async (url: string) => {
      const c = await loopbackDataApi(url, factory.pglite(url), {});
      viaApi.push(c);
      return c;
    };
    const [s, t] = [await client(source.url!), source.url === target.url ? undefined : await client(target.url!)];
    const { tables, sample } = await measureGates(spec, { source: s, target: t ?? s }, systemClock);
    return estimateGates(spec, tables, sample, 'local');
  } finally {
    await Promise.all(viaApi.map((c) => c.close().catch(() => undefined)));
    await Promise.all(Object.values(opened).map((c) => c.close().catch(() => undefined)));
    await factory.closeAll();
  }
}

export function estimateCommands(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('estimate')
    .description('what the method gates will cost and take (chunks, state transitions, Lambda, Data API and S3 requests, dollars, wall time) from catalog row estimates and a short timed sample; changes nothing')
    .argument('<spec>', 'run spec JSON file')
    .option('--source-url <url>', 'source database (local runs)', localUrl)
    .option('--target-url <url>', 'target database (local runs)', localUrl)
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { sourceUrl?: string; targetUrl?: string; json?: boolean }) => {
      const raw = applyUrlOverrides(await readSpecFile(file, placeholderEnv(io.env)), o.sourceUrl, o.targetUrl);
      const r = parseSpec(raw);
      if (!r.ok) {
        io.err(`${file}: ${r.problems.length} problem(s); nothing was estimated:`);
        for (const p of r.problems) io.err(`  ${p.path}: ${p.message}`);
        return setExit(EXIT.BAD_INPUT);
      }
      if (!r.spec.target || !r.spec.gates.tables.length) throw new UsageError(`${file}: gates.tables is empty (or there is no target); nothing to estimate: the estimate covers the method gates`);
      const e = (await estimateRun(r.spec, raw, io))!;
      if (o.json) io.out(JSON.stringify(e, null, 2));
      else for (const l of renderEstimate(e)) io.out(l);
      setExit(EXIT.OK);
    });
}
