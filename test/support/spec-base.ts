/** The smallest valid run spec (v1) the unit tests extend: one embedded PostgreSQL source. */
export const base = {
  version: 1,
  runId: 'r1',
  owner: 'ops@example.com',
  tCutover: '2026-11-21T02:00:00Z',
  source: { engine: 'postgres', url: 'pglite://memory' },
};
