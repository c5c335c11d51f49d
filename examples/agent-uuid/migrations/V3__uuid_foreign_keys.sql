-- cutline plan uuid: the uuid foreign keys, NOT VALID (no scan, no long lock).
ALTER TABLE "s3_cloudbackup_agents" ADD CONSTRAINT "s3_cloudbackup_agents_agent_uuid_key" UNIQUE USING INDEX "s3_cloudbackup_agents_agent_uuid_key";
ALTER TABLE "s3_cloudbackup_agent_destinations" ADD CONSTRAINT "s3_cloudbackup_agent_destinations_agent_id_fkey_uuid" FOREIGN KEY ("agent_uuid") REFERENCES "s3_cloudbackup_agents" ("agent_uuid") NOT VALID;
ALTER TABLE "s3_cloudbackup_jobs" ADD CONSTRAINT "s3_cloudbackup_jobs_agent_id_fkey_uuid" FOREIGN KEY ("agent_uuid") REFERENCES "s3_cloudbackup_agents" ("agent_uuid") NOT VALID;
ALTER TABLE "s3_cloudbackup_restore_points" ADD CONSTRAINT "s3_cloudbackup_restore_points_agent_id_fkey_uuid" FOREIGN KEY ("agent_uuid") REFERENCES "s3_cloudbackup_agents" ("agent_uuid") NOT VALID;
ALTER TABLE "s3_cloudbackup_run_commands" ADD CONSTRAINT "s3_cloudbackup_run_commands_agent_id_fkey_uuid" FOREIGN KEY ("agent_uuid") REFERENCES "s3_cloudbackup_agents" ("agent_uuid") NOT VALID;
ALTER TABLE "s3_cloudbackup_runs" ADD CONSTRAINT "s3_cloudbackup_runs_agent_id_fkey_uuid" FOREIGN KEY ("agent_uuid") REFERENCES "s3_cloudbackup_agents" ("agent_uuid") NOT VALID;
