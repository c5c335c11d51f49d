-- Rollback of the swap of group 1: the integer key is the primary key again (uuid columns stay). Safe to run twice.
ALTER TABLE "audit_logs" DROP CONSTRAINT IF EXISTS "audit_logs_pkey";
ALTER TABLE "audit_logs" DROP CONSTRAINT IF EXISTS "audit_logs_audit_id_legacy_key";
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_pkey" PRIMARY KEY ("audit_id");
ALTER TABLE "audit_logs" ALTER COLUMN "audit_uuid" DROP NOT NULL;
