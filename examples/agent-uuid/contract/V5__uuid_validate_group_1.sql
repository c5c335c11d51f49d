-- cutline plan uuid: validate the legacy foreign keys re-attached by the swap of group 1.
ALTER TABLE "s3_cloudbackup_agent_destinations" VALIDATE CONSTRAINT "s3_cloudbackup_agent_destinations_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_jobs" VALIDATE CONSTRAINT "s3_cloudbackup_jobs_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_restore_points" VALIDATE CONSTRAINT "s3_cloudbackup_restore_points_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_run_commands" VALIDATE CONSTRAINT "s3_cloudbackup_run_commands_agent_id_fkey";
ALTER TABLE "s3_cloudbackup_runs" VALIDATE CONSTRAINT "s3_cloudbackup_runs_agent_id_fkey";
