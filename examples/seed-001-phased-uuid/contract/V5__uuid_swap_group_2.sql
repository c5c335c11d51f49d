-- cutline plan uuid: primary-key swap of group 2 (llm_audit_logs), one transaction with lock_timeout and retries.
-- Legacy integer keys stay (as UNIQUE) with their foreign keys, until a later contract step drops them.
-- cutline:allow CL003 verify proved every id_uuid set and unique before the go
ALTER TABLE "llm_audit_logs" ALTER COLUMN "id_uuid" SET NOT NULL;
ALTER TABLE "llm_audit_logs" DROP CONSTRAINT "llm_audit_logs_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "llm_audit_logs_id_uuid_pkey_idx" ON "llm_audit_logs" ("id_uuid");
ALTER TABLE "llm_audit_logs" ADD CONSTRAINT "llm_audit_logs_pkey" PRIMARY KEY USING INDEX "llm_audit_logs_id_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "llm_audit_logs_id_legacy_idx" ON "llm_audit_logs" ("id");
ALTER TABLE "llm_audit_logs" ADD CONSTRAINT "llm_audit_logs_id_legacy_key" UNIQUE USING INDEX "llm_audit_logs_id_legacy_idx";
