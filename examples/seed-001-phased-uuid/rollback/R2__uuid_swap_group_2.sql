-- Rollback of the swap of group 2: the integer key is the primary key again (uuid columns stay). Safe to run twice.
ALTER TABLE "llm_audit_logs" DROP CONSTRAINT IF EXISTS "llm_audit_logs_pkey";
ALTER TABLE "llm_audit_logs" DROP CONSTRAINT IF EXISTS "llm_audit_logs_id_legacy_key";
ALTER TABLE "llm_audit_logs" ADD CONSTRAINT "llm_audit_logs_pkey" PRIMARY KEY ("id");
ALTER TABLE "llm_audit_logs" ALTER COLUMN "id_uuid" DROP NOT NULL;
