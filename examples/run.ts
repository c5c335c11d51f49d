/**
 * `npm run example -- <name> [--fault <kind>]`: one seed runbook as a runnable example on the embedded default
 * (the services it needs start on 127.0.0.1 and stop after). Prints the run as `cutline run` does; exit 0 on GO.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from './agent-uuid/demo';
import { runSeed001 } from './seed-001-phased-uuid/run';
import { runSeed002 } from './seed-002-canary/run';
import { runSeed003 } from './seed-003-reload-cutover/run';
import { runSeed004 } from './seed-004-db-cloud-cutover/run';
import type { ExampleOptions } from './support';

type Runner = (opts: ExampleOptions & { fault?: string }) => Promise<{ outcome: string; classification: string; evidenceDir: string }>;

/** Each example with the faults its README names as failure paths. */
export const EXAMPLES: Record<string, { run: Runner; faults: readonly string[] }> = {
  'seed-000-agent-uuid': { run: ({ fault, ...o }) => runDemo({ ...o, ...(fault === 'uuid-routes' ? { fault: 'uuid-routes' as const } : {}) }), faults: ['uuid-routes'] },
  'seed-001-phased-uuid': { run: (o) => runSeed001({ ...o, fault: o.fault as 'users-slow' | undefined }), faults: ['users-slow'] },
  'seed-002-canary': { run: (o) => runSeed002({ ...o, fault: o.fault as 'canary-latency' | undefined }), faults: ['canary-latency'] },
  'seed-003-reload-cutover': { run: (o) => runSeed003({ ...o, fault: o.fault as 'sync' | 'duplicate' | undefined }), faults: ['sync', 'duplicate'] },
  'seed-004-db-cloud-cutover': { run: (o) => runSeed004({ ...o, fault: o.fault as 'state-store' | undefined }), faults: ['state-store'] },
};

export function parseExampleArgs(argv: readonly string[]): { name: string; fault?: string } {
  const [name, ...rest] = argv;
  const names = Object.keys(EXAMPLES).join(', ');
  if (!name || !EXAMPLES[name]) throw new Error(`example: got ${JSON.stringify(name ?? null)}; expected one of ${names}`);
  if (rest.length === 0) return { name };
  if (rest[0] !== '--fault' || rest.length !== 2) throw new Error(`example ${name}: got arguments ${JSON.stringify(rest)}; expected nothing, or --fault <${EXAMPLES[name].faults.join('|')}>`);
  const fault = rest[1]!;
  if (!EXAMPLES[name].faults.includes(fault)) throw new Error(`example ${name}: --fault got ${JSON.stringify(fault)}; expected one of ${EXAMPLES[name].faults.join(', ')}`);
  return { name, fault };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let args: { name: string; fault?: string };
  try {
    args = parseExampleArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const r = await EXAMPLES[args.name]!.run({ ...(args.fault ? { fault: args.fault } : {}), out: (l) => console.log(l) });
  process.exitCode = r.outcome === 'GO' ? 0 : 1;
}
