-- Rollback of the swap of group 1: the integer key is the primary key again (uuid columns stay). Safe to run twice.
ALTER TABLE "s3_cloudbackup_agent_destinations" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_agent_destinations_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_jobs" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_jobs_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_restore_points" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_restore_points_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_run_commands" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_run_commands_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_runs" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_runs_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_agents" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_agents_pkey";
ALTER TABLE "s3_cloudbackup_agents" DROP CONSTRAINT IF EXISTS "s3_cloudbackup_agents_agent_id_legacy_key";
ALTER TABLE "s3_cloudbackup_agents" ADD CONSTRAINT "s3_cloudbackup_agents_pkey" PRIMARY KEY ("agent_id");
ALTER TABLE "s3_cloudbackup_agents" ALTER COLUMN "agent_uuid" DROP NOT NULL;
ALTER TABLE "s3_cloudbackup_agent_destinations" ADD CONSTRAINT "s3_cloudbackup_agent_destinations_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id");
ALTER TABLE "s3_cloudbackup_jobs" ADD CONSTRAINT "s3_cloudbackup_jobs_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id");
ALTER TABLE "s3_cloudbackup_restore_points" ADD CONSTRAINT "s3_cloudbackup_restore_points_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id");
ALTER TABLE "s3_cloudbackup_run_commands" ADD CONSTRAINT "s3_cloudbackup_run_commands_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id");
ALTER TABLE "s3_cloudbackup_runs" ADD CONSTRAINT "s3_cloudbackup_runs_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "s3_cloudbackup_agents" ("agent_id");
