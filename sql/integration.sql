--
-- The whole product on one table, the way a team uses it: CREATE TABLE in a
-- managed schema is protected and audited automatically; tenants set their
-- context and see, write and audit only their own rows; the coverage report
-- is clean for it, and flags a table that slipped through, with the SQL that
-- fixes it.  DML runs as tr_int_app: not superuser, not BYPASSRLS, not owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_int_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_int_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
CREATE SCHEMA int_shop AUTHORIZATION tr_int_owner;
GRANT USAGE ON SCHEMA int_shop TO tr_int_app;
SET tenant_rls.managed_schemas = 'int_shop';
SET tenant_rls.audit = on;
SET tenant_rls.auto_protect = on;

-- the application's migration, run by the table owner
SET ROLE tr_int_owner;
CREATE TABLE int_shop.orders (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text NOT NULL,
    item      text NOT NULL,
    qty       integer NOT NULL DEFAULT 1
);
CREATE INDEX orders_tenant_idx ON int_shop.orders (tenant_id, id);
GRANT SELECT, INSERT, UPDATE, DELETE ON int_shop.orders TO tr_int_app;
RESET ROLE;

-- protected and audited in the same transaction as CREATE TABLE
SELECT status, tenant_column, tenant_type FROM tenant_rls.protected_table
 WHERE schema_name = 'int_shop' AND table_name = 'orders';
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'int_shop.orders'::regclass;
SELECT count(*) > 0 AS has_isolation, bool_or(permissive = 'RESTRICTIVE') AS has_guard FROM pg_policies
 WHERE schemaname = 'int_shop' AND tablename = 'orders' AND policyname LIKE 'tenant_rls\_%';
SELECT count(*) > 0 AS audited FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
 WHERE t.tgrelid = 'int_shop.orders'::regclass AND p.proname = 'audit_trigger';

SET ROLE tr_int_app;
BEGIN;
SELECT tenant_rls.set_tenant('int-acme');
INSERT INTO int_shop.orders (item) VALUES ('anvil'), ('rocket skates');  -- tenant from the context
UPDATE int_shop.orders SET qty = 2 WHERE item = 'anvil';
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('int-globex');
INSERT INTO int_shop.orders (item) VALUES ('doomsday device');
SELECT tenant_id, item, qty FROM int_shop.orders ORDER BY id;
UPDATE int_shop.orders SET qty = 99 WHERE item = 'anvil';     -- acme's row: not visible
DELETE FROM int_shop.orders WHERE item = 'rocket skates';     -- acme's row: not visible
SAVEPOINT s;
INSERT INTO int_shop.orders (tenant_id, item) VALUES ('int-acme', 'forged');
ROLLBACK TO s;
COMMIT;
-- globex reads only its own audit entries (they are written at commit)
BEGIN;
SELECT tenant_rls.set_tenant('int-globex');
SELECT tenant, operation, table_name, new_row ->> 'item' AS item
  FROM tenant_rls.audit_log ORDER BY tenant, seq, entry;
COMMIT;
-- no context: nothing
SELECT count(*) FROM int_shop.orders;
SELECT count(*) FROM tenant_rls.audit_log;
RESET ROLE;

-- every change was recorded, per tenant, and the chains verify
SELECT tenant, seq, operation, new_row ->> 'item' AS item, new_row ->> 'qty' AS new_qty, db_user
  FROM tenant_rls.audit_log WHERE schema_name = 'int_shop' AND table_name = 'orders' ORDER BY tenant, seq, entry;
SELECT tenant, ok, entries, first_bad_seq FROM tenant_rls.audit_verify() WHERE tenant IN ('int-acme', 'int-globex');

-- the coverage report: the protected table has no error-level finding
SELECT status, rls_enabled, rls_forced, policies_ok, audit, tenant_index, errors
  FROM tenant_rls.coverage() WHERE table_name = 'int_shop.orders';

-- a table that slipped through (auto-protection switched off for a moment)
SET tenant_rls.auto_protect = off;
SET ROLE tr_int_owner;
CREATE TABLE int_shop.invoices (id bigint PRIMARY KEY, tenant_id text NOT NULL, total numeric);
CREATE INDEX ON int_shop.invoices (tenant_id);
RESET ROLE;
RESET tenant_rls.auto_protect;
SELECT code, level, fix FROM tenant_rls.lint()
 WHERE object = 'int_shop.invoices' AND level = 'error' ORDER BY code;
-- the reported SQL fixes it (its output, the DDL protect() ran, is tested in policy.sql)
\o /dev/null
SELECT DISTINCT fix FROM tenant_rls.lint()
 WHERE object = 'int_shop.invoices' AND code = 'table_unprotected' \gexec
\o
SELECT code, level FROM tenant_rls.lint()
 WHERE object = 'int_shop.invoices' AND level = 'error' ORDER BY code;
SELECT status, errors FROM tenant_rls.coverage() WHERE table_name = 'int_shop.invoices';

-- unprotect() is the sanctioned way back; dropping the tables empties the registry
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('int_shop.invoices');
SELECT count(*) AS policies_left FROM pg_policies WHERE schemaname = 'int_shop' AND tablename = 'invoices';
-- an audit limited by column lists outlives unprotect() (NOTICE): protecting
-- the table again -- by another column, the documented way -- recorded every
-- column, the one left out included
SELECT tenant_rls.enable_audit('int_shop.orders', exclude => ARRAY['item']);
SET client_min_messages = notice;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('int_shop.orders');
RESET client_min_messages;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'int_shop.orders'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('int_shop.orders');
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'int_shop';
SET ROLE tr_int_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
INSERT INTO int_shop.orders (tenant_id, item) VALUES ('acme', 'secret item');
COMMIT;
RESET ROLE;
SELECT operation, new_row ? 'item' AS item_recorded FROM tenant_rls.audit_log
 WHERE schema_name = 'int_shop' AND table_name = 'orders' ORDER BY logged_at DESC, seq DESC, entry DESC LIMIT 1;
DROP TABLE int_shop.orders, int_shop.invoices;
SELECT count(*) FROM tenant_rls.protected_table WHERE schema_name = 'int_shop';
DROP SCHEMA int_shop;
RESET tenant_rls.managed_schemas;
