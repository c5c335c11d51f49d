-- seed 003 step 5.2: the schema `alembic upgrade head` brings (tx-lookup's read model).
CREATE TABLE ledger_entries (
  tx_id         text PRIMARY KEY,
  wallet_id     text NOT NULL,
  entry_type    text NOT NULL CHECK (entry_type IN ('PAYMENT', 'RECEIVE')),
  amount        numeric(12,2) NOT NULL,
  amount_signed numeric(12,2) NOT NULL,
  related_id    text NOT NULL,
  related_type  text NOT NULL,
  event_time    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  version       integer NOT NULL
);
CREATE INDEX ledger_entries_related ON ledger_entries (related_id);
CREATE TABLE payment_orders (
  order_id      text PRIMARY KEY,
  user_id       text NOT NULL,
  merchant_name text NOT NULL,
  amount        numeric(12,2) NOT NULL,
  status        text NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  version       integer NOT NULL
);
