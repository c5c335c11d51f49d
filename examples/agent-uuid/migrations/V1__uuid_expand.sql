-- cutline plan uuid: expand. Uuid columns without defaults (no table rewrite), and the mapping tables.
CREATE TABLE "cutline_uuid_map_s3_cloudbackup_agents" (old_id int4 PRIMARY KEY, new_id uuid NOT NULL UNIQUE);
ALTER TABLE "s3_cloudbackup_agents" ADD COLUMN "agent_uuid" uuid;
ALTER TABLE "s3_cloudbackup_agent_destinations" ADD COLUMN "agent_uuid" uuid;
ALTER TABLE "s3_cloudbackup_jobs" ADD COLUMN "agent_uuid" uuid;
ALTER TABLE "s3_cloudbackup_restore_points" ADD COLUMN "agent_uuid" uuid;
ALTER TABLE "s3_cloudbackup_run_commands" ADD COLUMN "agent_uuid" uuid;
ALTER TABLE "s3_cloudbackup_runs" ADD COLUMN "agent_uuid" uuid;
