-- cutline plan uuid: primary-key swap of group 1 (audit_logs), one transaction with lock_timeout and retries.
-- Legacy integer keys stay (as UNIQUE) with their foreign keys, until a later contract step drops them.
-- cutline:allow CL003 verify proved every audit_uuid set and unique before the go
ALTER TABLE "audit_logs" ALTER COLUMN "audit_uuid" SET NOT NULL;
ALTER TABLE "audit_logs" DROP CONSTRAINT "audit_logs_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "audit_logs_audit_uuid_pkey_idx" ON "audit_logs" ("audit_uuid");
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_pkey" PRIMARY KEY USING INDEX "audit_logs_audit_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "audit_logs_audit_id_legacy_idx" ON "audit_logs" ("audit_id");
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_audit_id_legacy_key" UNIQUE USING INDEX "audit_logs_audit_id_legacy_idx";
