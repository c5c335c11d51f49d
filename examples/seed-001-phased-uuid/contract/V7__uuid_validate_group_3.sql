-- cutline plan uuid: validate the legacy foreign keys re-attached by the swap of group 3.
ALTER TABLE "user_roles" VALIDATE CONSTRAINT "user_roles_role_id_fkey";
ALTER TABLE "user_roles" VALIDATE CONSTRAINT "user_roles_user_id_fkey";
ALTER TABLE "users" VALIDATE CONSTRAINT "users_lob_id_fkey";
