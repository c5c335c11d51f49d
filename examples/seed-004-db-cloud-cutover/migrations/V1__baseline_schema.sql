-- seed 004 step 3: baseline schema on the target (Supabase), before the backfill copies the rows.
CREATE TABLE users (
  id          bigint PRIMARY KEY,
  email       text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL
);
CREATE TABLE credentials (
  id          bigint PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users (id),
  kind        text NOT NULL,
  revoked     boolean NOT NULL DEFAULT false,
  issued_at   timestamptz NOT NULL,
  payload     jsonb NOT NULL
);
CREATE TABLE credverse_state_store (
  key         varchar(200) PRIMARY KEY,
  value       text NOT NULL,
  updated_at  timestamptz NOT NULL
);
