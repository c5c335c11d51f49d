-- Expand: an immutable agent_uuid on agents and on every child of agents.
-- No volatile default (that would rewrite the table under an exclusive lock):
-- the backfill fills it in key-range chunks.
ALTER TABLE s3_cloudbackup_agents ADD COLUMN agent_uuid uuid;
ALTER TABLE s3_cloudbackup_jobs ADD COLUMN agent_uuid uuid;
ALTER TABLE s3_cloudbackup_runs ADD COLUMN agent_uuid uuid;
ALTER TABLE s3_cloudbackup_run_commands ADD COLUMN agent_uuid uuid;
ALTER TABLE s3_cloudbackup_restore_points ADD COLUMN agent_uuid uuid;
ALTER TABLE s3_cloudbackup_agent_destinations ADD COLUMN agent_uuid uuid;
