-- Built CONCURRENTLY: writes continue while each index builds (cutline runs this
-- file outside a transaction, statement by statement, and resumes it if cut off).
-- Unique while NULLs are allowed: a duplicate uuid fails the backfill at once.
CREATE UNIQUE INDEX CONCURRENTLY s3_cloudbackup_agents_agent_uuid_key ON s3_cloudbackup_agents (agent_uuid);
-- Lookups by the new identity on the busiest children (seed 000's gate: "indexed").
CREATE INDEX CONCURRENTLY s3_cloudbackup_jobs_agent_uuid_idx ON s3_cloudbackup_jobs (agent_uuid);
CREATE INDEX CONCURRENTLY s3_cloudbackup_runs_agent_uuid_idx ON s3_cloudbackup_runs (agent_uuid);
CREATE INDEX CONCURRENTLY s3_cloudbackup_run_commands_agent_uuid_idx ON s3_cloudbackup_run_commands (agent_uuid);
CREATE INDEX CONCURRENTLY s3_cloudbackup_restore_points_agent_uuid_idx ON s3_cloudbackup_restore_points (agent_uuid);
CREATE INDEX CONCURRENTLY s3_cloudbackup_agent_destinations_agent_uuid_idx ON s3_cloudbackup_agent_destinations (agent_uuid);
