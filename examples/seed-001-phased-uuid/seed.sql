-- Seed 001 stand-in: a compliance-testing application's schema with integer keys (the runbook's audit logs,
-- LLM audit logs, lines of business, roles, users and their roles). Leaf tables have no foreign keys; the core
-- group (users with lobs, roles and user_roles) is connected by them, so its key swap is one transaction.
CREATE TABLE audit_logs (
  audit_id bigserial PRIMARY KEY,
  actor text NOT NULL,
  action text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE llm_audit_logs (
  id serial PRIMARY KEY,
  model text NOT NULL,
  prompt_tokens integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE lobs (
  lob_id serial PRIMARY KEY,
  name text NOT NULL UNIQUE
);
CREATE TABLE roles (
  role_id serial PRIMARY KEY,
  name text NOT NULL UNIQUE
);
CREATE TABLE users (
  user_id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  lob_id integer REFERENCES lobs (lob_id),
  created_at timestamptz NOT NULL
);
CREATE TABLE user_roles (
  user_role_id serial PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (user_id),
  role_id integer NOT NULL REFERENCES roles (role_id),
  UNIQUE (user_id, role_id)
);
CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);

INSERT INTO lobs (name) SELECT 'lob-' || g FROM generate_series(1, 6) g;
INSERT INTO roles (name) VALUES ('admin'), ('tester'), ('report-owner'), ('data-provider'), ('executive');
INSERT INTO users (email, lob_id, created_at)
SELECT 'user' || g || '@example.com', CASE WHEN g % 10 = 0 THEN NULL ELSE 1 + g % 6 END, timestamptz '2026-01-01 00:00:00+00' + g * interval '7 minutes'
FROM generate_series(1, 2000) g;
INSERT INTO user_roles (user_id, role_id) SELECT u, 1 + u % 5 FROM generate_series(1, 2000) u;
INSERT INTO user_roles (user_id, role_id) SELECT u, 1 + (u + 2) % 5 FROM generate_series(1, 2000, 2) u;
INSERT INTO audit_logs (actor, action, created_at)
SELECT 'user' || (1 + g % 2000) || '@example.com', (ARRAY['login', 'report.view', 'cycle.create', 'attribute.update'])[1 + g % 4], timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 20000) g;
INSERT INTO llm_audit_logs (model, prompt_tokens, created_at)
SELECT (ARRAY['claude', 'gpt', 'llama'])[1 + g % 3], 100 + g % 900, timestamptz '2026-01-01 00:00:00+00' + g * interval '3 minutes'
FROM generate_series(1, 5000) g;
