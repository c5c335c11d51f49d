/**
 * `npm run bench -- <name>`: benchmarks against the real local servers,
 * reported as ratios to a baseline measured in the same process. Results go
 * to bench/results/<name>.json and a table; the last lines are
 * `ratio <name> <value>` for scripts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchBackfill } from './backfill';
import { benchGates } from './gates';
import { benchScale } from './scale';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

const BENCHES: Record<string, (args: string[]) => Promise<{ figures: Figure[]; ratios: Figure[] }>> = { gates: benchGates, backfill: benchBackfill, scale: benchScale };

const name = process.argv[2] ?? '';
const bench = BENCHES[name];
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]; got ${JSON.stringify(name)}\n`);
  process.exit(2);
}
const started = new Date().toISOString();
const { figures, ratios } = await bench(process.argv.slice(3));
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
await mkdir(dir, { recursive: true });
await writeFile(path.join(dir, `${name}.json`), `${JSON.stringify({ bench: name, started, node: process.version, figures, ratios }, null, 2)}\n`);
const rows = [...figures, ...ratios];
const w = Math.max(...rows.map((f) => f.name.length));
process.stdout.write(`\n${'figure'.padEnd(w)}  ${'value'.padStart(12)}  unit\n${'-'.repeat(w + 24)}\n`);
for (const f of rows) process.stdout.write(`${f.name.padEnd(w)}  ${String(f.value).padStart(12)}  ${f.unit}${f.note ? `  (${f.note})` : ''}\n`);
process.stdout.write('\n');
for (const r of ratios) process.stdout.write(`ratio ${r.name} ${r.value}\n`);
