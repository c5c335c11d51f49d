-- Seed 004's source database (credverse): its rows. The schema is the baseline migration's
-- (migrations/V1__baseline_schema.sql, seeded first): the source and the target have the same tables.
INSERT INTO users SELECT g, 'user' || g || '@example.com', timestamptz '2026-01-01 00:00:00+00' + g * interval '7 minutes' FROM generate_series(1, 3000) g;
INSERT INTO credentials
  SELECT g, 1 + (g * 7919) % 3000, (ARRAY['degree', 'employment', 'license'])[1 + g % 3], g % 17 = 0,
         timestamptz '2026-02-01 00:00:00+00' + g * interval '3 minutes', jsonb_build_object('n', g, 'hash', md5(g::text))
  FROM generate_series(1, 9000) g;
INSERT INTO credverse_state_store VALUES
  ('issuer:signing-key-id', 'kid-2026-02', timestamptz '2026-02-20 10:00:00+00'),
  ('registry:contract-address', '0x5FbDB2315678afecb367f032d93F642f64180aa3', timestamptz '2026-02-20 10:00:00+00'),
  ('relayer:nonce', '4711', timestamptz '2026-02-21 09:00:00+00'),
  ('schema:version', '2026.02.21', timestamptz '2026-02-21 09:00:00+00');
INSERT INTO credverse_state_store SELECT 'session:' || md5(g::text), 'state-' || g, timestamptz '2026-02-21 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 500) g;
