-- A cloud-backup schema keyed by integer agent_id (seed 000's runtime), with
-- realistic volumes: 2,000 agents, 8,000 jobs, 120,000 runs, 240,000 run
-- commands, 60,000 restore points, 4,000 agent destinations.
-- Deterministic: the same rows on every run (setseed). Scaled by the session
-- setting cutline.seed_scale (default 1; the tests use 0.01).
SELECT setseed(0.42);
CREATE TEMP TABLE seed_n AS
SELECT (2000 * s)::int AS agents, (8000 * s)::int AS jobs, (120000 * s)::int AS runs,
       (240000 * s)::int AS commands, (60000 * s)::int AS restore_points, (4000 * s)::int AS destinations,
       greatest(1, (150 * s)::int) AS clients
FROM (SELECT coalesce(nullif(current_setting('cutline.seed_scale', true), ''), '1')::numeric AS s) scale;

CREATE TABLE s3_cloudbackup_agents (
  agent_id        integer PRIMARY KEY,
  client_id       integer NOT NULL,
  hostname        text NOT NULL,
  os              text NOT NULL CHECK (os IN ('windows', 'linux', 'macos')),
  agent_version   text NOT NULL,
  enrolled_at     timestamptz NOT NULL,
  last_seen_at    timestamptz,
  status          text NOT NULL DEFAULT 'active'
);

CREATE TABLE s3_cloudbackup_jobs (
  job_id          integer PRIMARY KEY,
  agent_id        integer NOT NULL REFERENCES s3_cloudbackup_agents (agent_id),
  name            text NOT NULL,
  source_path     text NOT NULL,
  schedule_cron   text NOT NULL,
  retention_days  integer NOT NULL,
  encryption      text NOT NULL DEFAULT 'aes-256-gcm',
  compression     text NOT NULL DEFAULT 'zstd',
  created_at      timestamptz NOT NULL
);

CREATE TABLE s3_cloudbackup_runs (
  run_id          bigint PRIMARY KEY,
  job_id          integer NOT NULL REFERENCES s3_cloudbackup_jobs (job_id),
  agent_id        integer NOT NULL REFERENCES s3_cloudbackup_agents (agent_id),
  status          text NOT NULL,
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz,
  bytes_scanned   bigint NOT NULL,
  bytes_uploaded  bigint NOT NULL,
  files_changed   integer NOT NULL,
  log_ref         text
);
CREATE INDEX s3_cloudbackup_runs_agent_id_idx ON s3_cloudbackup_runs (agent_id);

CREATE TABLE s3_cloudbackup_run_commands (
  command_id      bigint PRIMARY KEY,
  run_id          bigint NOT NULL REFERENCES s3_cloudbackup_runs (run_id),
  agent_id        integer NOT NULL REFERENCES s3_cloudbackup_agents (agent_id),
  command         text NOT NULL,
  issued_at       timestamptz NOT NULL,
  acked_at        timestamptz
);

CREATE TABLE s3_cloudbackup_restore_points (
  restore_point_id bigint PRIMARY KEY,
  run_id           bigint NOT NULL REFERENCES s3_cloudbackup_runs (run_id),
  agent_id         integer NOT NULL REFERENCES s3_cloudbackup_agents (agent_id),
  manifest_key     text NOT NULL,
  size_bytes       bigint NOT NULL,
  created_at       timestamptz NOT NULL
);

CREATE TABLE s3_cloudbackup_agent_destinations (
  destination_id  integer PRIMARY KEY,
  agent_id        integer NOT NULL REFERENCES s3_cloudbackup_agents (agent_id),
  bucket          text NOT NULL,
  prefix          text NOT NULL,
  region          text NOT NULL
);

INSERT INTO s3_cloudbackup_agents
SELECT g, 1000 + g % (SELECT clients FROM seed_n), format('host-%s.backup.example', g), (ARRAY['windows', 'linux', 'macos'])[1 + g % 3],
       format('2.%s.%s', g % 9, g % 17), timestamptz '2025-01-01' + g * interval '37 minutes',
       timestamptz '2026-11-01' + (g % 500) * interval '1 minute', CASE WHEN g % 50 = 0 THEN 'disabled' ELSE 'active' END
FROM generate_series(1, (SELECT agents FROM seed_n)) g;

INSERT INTO s3_cloudbackup_jobs
SELECT g, 1 + (g - 1) % (SELECT agents FROM seed_n), format('job-%s', g), format('/data/vol%s', g % 7), format('%s 2 * * *', g % 60),
       (ARRAY[7, 30, 90, 365])[1 + g % 4], 'aes-256-gcm', (ARRAY['zstd', 'lz4', 'none'])[1 + g % 3],
       timestamptz '2025-02-01' + g * interval '11 minutes'
FROM generate_series(1, (SELECT jobs FROM seed_n)) g;

INSERT INTO s3_cloudbackup_runs
SELECT g, 1 + (g - 1) % (SELECT jobs FROM seed_n), 1 + ((g - 1) % (SELECT jobs FROM seed_n)) % (SELECT agents FROM seed_n),
       (ARRAY['success', 'success', 'success', 'warning', 'failed'])[1 + g % 5],
       timestamptz '2026-01-01' + g * interval '3 minutes', timestamptz '2026-01-01' + g * interval '3 minutes' + (g % 900) * interval '1 second',
       (random() * 1e11)::bigint, (random() * 1e9)::bigint, (random() * 5000)::int, format('logs/%s/%s.log.zst', 1 + ((g - 1) % (SELECT jobs FROM seed_n)) % (SELECT agents FROM seed_n), g)
FROM generate_series(1, (SELECT runs FROM seed_n)) g;

INSERT INTO s3_cloudbackup_run_commands
SELECT g, 1 + (g - 1) / 2, 1 + ((((g - 1) / 2)) % (SELECT jobs FROM seed_n)) % (SELECT agents FROM seed_n), (ARRAY['start', 'snapshot', 'upload', 'verify'])[1 + g % 4],
       timestamptz '2026-01-01' + g * interval '90 seconds', timestamptz '2026-01-01' + g * interval '90 seconds' + interval '2 seconds'
FROM generate_series(1, (SELECT commands FROM seed_n)) g;

INSERT INTO s3_cloudbackup_restore_points
SELECT g, g * 2, 1 + ((g * 2 - 1) % (SELECT jobs FROM seed_n)) % (SELECT agents FROM seed_n), format('manifests/%s/%s.json', 1 + ((g * 2 - 1) % (SELECT jobs FROM seed_n)) % (SELECT agents FROM seed_n), g * 2),
       (random() * 1e10)::bigint, timestamptz '2026-01-01' + g * 2 * interval '3 minutes'
FROM generate_series(1, (SELECT restore_points FROM seed_n)) g;

INSERT INTO s3_cloudbackup_agent_destinations
SELECT g, 1 + (g - 1) % (SELECT agents FROM seed_n), 'e3-backups-prod', format('tenants/%s/agents/%s/', 1000 + (1 + (g - 1) % (SELECT agents FROM seed_n)) % (SELECT clients FROM seed_n), 1 + (g - 1) % (SELECT agents FROM seed_n)),
       (ARRAY['us-east-1', 'eu-west-1'])[1 + g % 2]
FROM generate_series(1, (SELECT destinations FROM seed_n)) g;
