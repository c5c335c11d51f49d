import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // Local runs sign their manifests: tests use a key of their own, never the developer's ~/.config/cutline key.
    env: { CUTLINE_SIGNING_KEY: path.join(os.tmpdir(), `cutline-vitest-${process.getuid?.() ?? 0}`, 'signing-key.pem') },
  },
});
