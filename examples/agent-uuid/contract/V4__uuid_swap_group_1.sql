-- cutline plan uuid: primary-key swap of group 1 (s3_cloudbackup_agent_destinations, s3_cloudbackup_agents, s3_cloudbackup_jobs, s3_cloudbackup_restore_points, s3_cloudbackup_run_commands, s3_cloudbackup_runs), one transaction with lock_timeout and retries.
-- Legacy integer keys stay (as UNIQUE) with their foreign keys, until a later contract step drops them.
ALTER TABLE "s3_cloudbackup_agent_destinations" VALIDATE CONSTRAINT "s3_cloudbackup_agent_destinations_agent_id_fkey_uuid";
ALTER TABLE "s3_cloudbackup_jobs" VALIDATE CONSTRAINT "s3_cloudbackup_jobs_agent_id_fkey_uuid";
ALTER TABLE "s3_cloudbackup_restore_points" VALIDATE CONSTRAINT "s3_cloudbackup_restore_points_agent_id_fkey_uuid";
ALTER TABLE "s3_cloudbackup_run_commands" VALIDATE CONSTRAINT "s3_cloudbackup_run_commands_agent_id_fkey_uuid";
ALTER TABLE "s3_cloudbackup_runs" VALIDATE CONSTRAINT "s3_cloudbackup_runs_agent_id_fkey_uuid";
ALTER TABLE "s3_cloudbackup_agent_destinations" DROP CONSTRAINT "s3_cloudbackup_agent_destinations_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_jobs" DROP CONSTRAINT "s3_cloudbackup_jobs_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_restore_points" DROP CONSTRAINT "s3_cloudbackup_restore_points_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_run_commands" DROP CONSTRAINT "s3_cloudbackup_run_commands_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_runs" DROP CONSTRAINT "s3_cloudbackup_runs_agent_id_fkey";
-- cutline:allow CL003 verify proved every agent_uuid set and unique before the go
ALTER TABLE "s3_cloudbackup_agents" ALTER COLUMN "agent_uuid" SET NOT NULL;
ALTER TABLE "s3_cloudbackup_agents" DROP CONSTRAINT "s3_cloudbackup_agents_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "s3_cloudbackup_agents_agent_uuid_pkey_idx" ON "s3_cloudbackup_agents" ("agent_uuid");
ALTER TABLE "s3_cloudbackup_agents" ADD CONSTRAINT "s3_cloudbackup_agents_pkey" PRIMARY KEY USING INDEX "s3_cloudbackup_agents_agent_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "s3_cloudbackup_agents_agent_id_legacy_idx" ON "s3_cloudbackup_agents" ("agent_id");
ALTER TABLE "s3_cloudbackup_agents" ADD CONSTRAINT "s3_cloudbackup_agents_agent_id_legacy_key" UNIQUE USING INDEX "s3_cloudbackup_agents_agent_id_legacy_idx";
ALTER TABLE "s3_cloudbackup_agent_destinations" ADD CONSTRAINT "s3_cloudbackup_agent_destinations_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id") NOT VALID;
ALTER TABLE "s3_cloudbackup_jobs" ADD CONSTRAINT "s3_cloudbackup_jobs_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id") NOT VALID;
ALTER TABLE "s3_cloudbackup_restore_points" ADD CONSTRAINT "s3_cloudbackup_restore_points_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id") NOT VALID;
ALTER TABLE "s3_cloudbackup_run_commands" ADD CONSTRAINT "s3_cloudbackup_run_commands_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id") NOT VALID;
ALTER TABLE "s3_cloudbackup_runs" ADD CONSTRAINT "s3_cloudbackup_runs_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id") NOT VALID;
