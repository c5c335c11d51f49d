-- cutline plan uuid: the uuid foreign keys, NOT VALID (no scan, no long lock).
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_audit_uuid_key" UNIQUE USING INDEX "audit_logs_audit_uuid_key";
ALTER TABLE "llm_audit_logs" ADD CONSTRAINT "llm_audit_logs_id_uuid_key" UNIQUE USING INDEX "llm_audit_logs_id_uuid_key";
ALTER TABLE "lobs" ADD CONSTRAINT "lobs_lob_uuid_key" UNIQUE USING INDEX "lobs_lob_uuid_key";
ALTER TABLE "roles" ADD CONSTRAINT "roles_role_uuid_key" UNIQUE USING INDEX "roles_role_uuid_key";
ALTER TABLE "users" ADD CONSTRAINT "users_user_uuid_key" UNIQUE USING INDEX "users_user_uuid_key";
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_role_uuid_key" UNIQUE USING INDEX "user_roles_user_role_uuid_key";
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_role_id_fkey_uuid" FOREIGN KEY ("role_uuid") REFERENCES "roles" ("role_uuid") NOT VALID;
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_id_fkey_uuid" FOREIGN KEY ("user_uuid") REFERENCES "users" ("user_uuid") NOT VALID;
ALTER TABLE "users" ADD CONSTRAINT "users_lob_id_fkey_uuid" FOREIGN KEY ("lob_uuid") REFERENCES "lobs" ("lob_uuid") NOT VALID;
