/**
 * Seed 002 on the embedded default: the agtmux stand-ins start on 127.0.0.1 and the v4 → v5 migration runs as four
 * phases (shadow, canary, default, full), each signed off, soaked under its monitors and closed by its exit criteria.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExampleOptions, runExampleSpec } from '../support';
import { type Seed002Fault, startAgtmux } from './app';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function runSeed002(opts: ExampleOptions & { fault?: Seed002Fault } = {}) {
  const app = await startAgtmux({ fault: opts.fault ?? 'none' });
  try {
    return await runExampleSpec(here, 'seed-002', opts, { AGTMUX_URL: app.url });
  } finally {
    await app.close();
  }
}
