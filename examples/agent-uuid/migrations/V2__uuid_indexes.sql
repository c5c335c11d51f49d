-- cutline plan uuid: indexes built CONCURRENTLY (writes continue).
CREATE UNIQUE INDEX CONCURRENTLY "s3_cloudbackup_agents_agent_uuid_key" ON "s3_cloudbackup_agents" ("agent_uuid");
CREATE UNIQUE INDEX CONCURRENTLY "s3_cloudbackup_agents_agent_uuid_pkey_idx" ON "s3_cloudbackup_agents" ("agent_uuid");
CREATE UNIQUE INDEX CONCURRENTLY "s3_cloudbackup_agents_agent_id_legacy_idx" ON "s3_cloudbackup_agents" ("agent_id");
CREATE INDEX CONCURRENTLY "s3_cloudbackup_agent_destinations_agent_uuid_idx" ON "s3_cloudbackup_agent_destinations" ("agent_uuid");
CREATE INDEX CONCURRENTLY "s3_cloudbackup_jobs_agent_uuid_idx" ON "s3_cloudbackup_jobs" ("agent_uuid");
CREATE INDEX CONCURRENTLY "s3_cloudbackup_restore_points_agent_uuid_idx" ON "s3_cloudbackup_restore_points" ("agent_uuid");
CREATE INDEX CONCURRENTLY "s3_cloudbackup_run_commands_agent_uuid_idx" ON "s3_cloudbackup_run_commands" ("agent_uuid");
CREATE INDEX CONCURRENTLY "s3_cloudbackup_runs_agent_uuid_idx" ON "s3_cloudbackup_runs" ("agent_uuid");
