-- cutline plan uuid: expand. Uuid columns without defaults (no table rewrite), and the mapping tables.
CREATE TABLE "cutline_uuid_map" (table_name varchar(64) NOT NULL, old_id bigint NOT NULL, new_id uuid NOT NULL UNIQUE, PRIMARY KEY (table_name, old_id));
ALTER TABLE "audit_logs" ADD COLUMN "audit_uuid" uuid;
ALTER TABLE "llm_audit_logs" ADD COLUMN "id_uuid" uuid;
ALTER TABLE "lobs" ADD COLUMN "lob_uuid" uuid;
ALTER TABLE "roles" ADD COLUMN "role_uuid" uuid;
ALTER TABLE "users" ADD COLUMN "user_uuid" uuid;
ALTER TABLE "user_roles" ADD COLUMN "user_role_uuid" uuid;
ALTER TABLE "user_roles" ADD COLUMN "role_uuid" uuid;
ALTER TABLE "user_roles" ADD COLUMN "user_uuid" uuid;
ALTER TABLE "users" ADD COLUMN "lob_uuid" uuid;
