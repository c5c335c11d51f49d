-- cutline plan uuid: primary-key swap of group 3 (lobs, roles, user_roles, users), one transaction with lock_timeout and retries.
-- Legacy integer keys stay (as UNIQUE) with their foreign keys, until a later contract step drops them.
ALTER TABLE "user_roles" VALIDATE CONSTRAINT "user_roles_role_id_fkey_uuid";
ALTER TABLE "user_roles" VALIDATE CONSTRAINT "user_roles_user_id_fkey_uuid";
ALTER TABLE "users" VALIDATE CONSTRAINT "users_lob_id_fkey_uuid";
ALTER TABLE "user_roles" DROP CONSTRAINT "user_roles_role_id_fkey";
ALTER TABLE "user_roles" DROP CONSTRAINT "user_roles_user_id_fkey";
ALTER TABLE "users" DROP CONSTRAINT "users_lob_id_fkey";
-- cutline:allow CL003 verify proved every lob_uuid set and unique before the go
ALTER TABLE "lobs" ALTER COLUMN "lob_uuid" SET NOT NULL;
ALTER TABLE "lobs" DROP CONSTRAINT "lobs_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "lobs_lob_uuid_pkey_idx" ON "lobs" ("lob_uuid");
ALTER TABLE "lobs" ADD CONSTRAINT "lobs_pkey" PRIMARY KEY USING INDEX "lobs_lob_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "lobs_lob_id_legacy_idx" ON "lobs" ("lob_id");
ALTER TABLE "lobs" ADD CONSTRAINT "lobs_lob_id_legacy_key" UNIQUE USING INDEX "lobs_lob_id_legacy_idx";
-- cutline:allow CL003 verify proved every role_uuid set and unique before the go
ALTER TABLE "roles" ALTER COLUMN "role_uuid" SET NOT NULL;
ALTER TABLE "roles" DROP CONSTRAINT "roles_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "roles_role_uuid_pkey_idx" ON "roles" ("role_uuid");
ALTER TABLE "roles" ADD CONSTRAINT "roles_pkey" PRIMARY KEY USING INDEX "roles_role_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "roles_role_id_legacy_idx" ON "roles" ("role_id");
ALTER TABLE "roles" ADD CONSTRAINT "roles_role_id_legacy_key" UNIQUE USING INDEX "roles_role_id_legacy_idx";
-- cutline:allow CL003 verify proved every user_uuid set and unique before the go
ALTER TABLE "users" ALTER COLUMN "user_uuid" SET NOT NULL;
ALTER TABLE "users" DROP CONSTRAINT "users_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "users_user_uuid_pkey_idx" ON "users" ("user_uuid");
ALTER TABLE "users" ADD CONSTRAINT "users_pkey" PRIMARY KEY USING INDEX "users_user_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "users_user_id_legacy_idx" ON "users" ("user_id");
ALTER TABLE "users" ADD CONSTRAINT "users_user_id_legacy_key" UNIQUE USING INDEX "users_user_id_legacy_idx";
-- cutline:allow CL003 verify proved every user_role_uuid set and unique before the go
ALTER TABLE "user_roles" ALTER COLUMN "user_role_uuid" SET NOT NULL;
ALTER TABLE "user_roles" DROP CONSTRAINT "user_roles_pkey";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "user_roles_user_role_uuid_pkey_idx" ON "user_roles" ("user_role_uuid");
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_pkey" PRIMARY KEY USING INDEX "user_roles_user_role_uuid_pkey_idx";
-- cutline:allow CL001 a no-op unless a rollback dropped the index the expand files built CONCURRENTLY
CREATE UNIQUE INDEX IF NOT EXISTS "user_roles_user_role_id_legacy_idx" ON "user_roles" ("user_role_id");
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_role_id_legacy_key" UNIQUE USING INDEX "user_roles_user_role_id_legacy_idx";
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles" ("role_id") NOT VALID;
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users" ("user_id") NOT VALID;
ALTER TABLE "users" ADD CONSTRAINT "users_lob_id_fkey" FOREIGN KEY ("lob_id") REFERENCES "lobs" ("lob_id") NOT VALID;
