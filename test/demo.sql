-- tenant_rls demonstration.  Run by `make demo` on a throwaway cluster that
-- preloads the library and has a signing key in postgresql.conf.
\pset footer off
-- errors are shown with their DETAIL and HINT (what to do); those the demo
-- provokes on purpose are preceded by ON_ERROR_STOP off
\set VERBOSITY default
CREATE DATABASE shop;
-- tenants of this deployment are uuids: set_tenant() validates against that
ALTER DATABASE shop SET tenant_rls.tenant_type = 'uuid';
\c shop
CREATE EXTENSION tenant_rls;

-- The application owns its tables (app_owner) and connects as app_user:
-- not a superuser, not BYPASSRLS, not the owner.
CREATE ROLE app_owner;
CREATE ROLE app_user LOGIN;
GRANT CREATE ON SCHEMA public TO app_owner;

\echo
\echo '=== 1. The migration creates a tenant table: it is protected and audited automatically'
SET ROLE app_owner;
CREATE TABLE public.orders (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    item      text NOT NULL
);
CREATE INDEX orders_tenant_idx ON public.orders (tenant_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO app_user;
RESET ROLE;
SELECT schema_name, table_name, status, tenant_column, tenant_type FROM tenant_rls.protected_table;
SELECT policyname, permissive, cmd FROM pg_policies WHERE tablename = 'orders' ORDER BY policyname;

\echo
\echo '=== 2. Each tenant sets its context for one transaction and sees only its rows'
SET ROLE app_user;
BEGIN;
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-111111111111');
INSERT INTO public.orders (item) VALUES ('acme: anvil'), ('acme: rocket skates');  -- tenant_id from the context
SELECT id, tenant_id, item FROM public.orders ORDER BY id;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('22222222-2222-2222-2222-222222222222');
INSERT INTO public.orders (item) VALUES ('globex: doomsday device');
SELECT id, tenant_id, item FROM public.orders ORDER BY id;
\echo '--- globex can neither change acme''s rows nor write a row for acme'
UPDATE public.orders SET item = 'stolen' WHERE item LIKE 'acme%';
SAVEPOINT s;
\set ON_ERROR_STOP off
INSERT INTO public.orders (tenant_id, item) VALUES ('11111111-1111-1111-1111-111111111111', 'forged');
\set ON_ERROR_STOP on
ROLLBACK TO s;
COMMIT;
\echo '--- the transaction ended, so no tenant: zero rows (fail closed), never an error'
SELECT tenant_rls.current_tenant() AS tenant, count(*) AS visible_rows FROM public.orders;
\echo '--- malformed tenant values are refused with a clear error'
\set ON_ERROR_STOP off
SELECT tenant_rls.set_tenant('1 OR true');
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '=== 3. The drift guard: nobody quietly weakens a protected table'
SET ROLE app_owner;
\set ON_ERROR_STOP off
ALTER TABLE public.orders DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.orders NO FORCE ROW LEVEL SECURITY;
DROP POLICY tenant_rls_guard_select ON public.orders;
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '=== 4. Every change is in a tamper-evident audit log; a tenant reads only its own entries'
SET ROLE app_user;
BEGIN;
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-111111111111');
SELECT seq, operation, table_name, new_row ->> 'item' AS item, db_user FROM tenant_rls.audit_log ORDER BY seq, entry;
COMMIT;
RESET ROLE;
SELECT tenant, ok, entries FROM tenant_rls.audit_verify() ORDER BY tenant;
\echo '--- nobody may edit the log, not even a superuser (this session is one)'
\set ON_ERROR_STOP off
UPDATE tenant_rls.audit_batch SET db_user = 'mallory';
\set ON_ERROR_STOP on
\echo '--- a superuser can switch the guard off and rewrite who made acme''s change; the hash chain'
\echo '--- names the batch (more in doc/audit.md, "What tampering by a superuser looks like")'
BEGIN;
ALTER TABLE tenant_rls.audit_batch DISABLE TRIGGER audit_guard;
UPDATE tenant_rls.audit_batch SET db_user = 'mallory'
 WHERE tenant = '11111111-1111-1111-1111-111111111111' AND seq = 1;
ALTER TABLE tenant_rls.audit_batch ENABLE ALWAYS TRIGGER audit_guard;
COMMIT;
SELECT tenant, ok, first_bad_seq, reason FROM tenant_rls.audit_verify() ORDER BY tenant;

\echo
\echo '=== 5. Strict mode: the tenant can only come from a token signed by the application server'
ALTER DATABASE shop SET tenant_rls.strict = on;
\c shop
SELECT tenant_rls.sign_tenant('11111111-1111-1111-1111-111111111111', interval '5 minutes') AS token \gset
SET ROLE app_user;
SELECT in_force FROM tenant_rls.strict_status();
\set ON_ERROR_STOP off
SET app.current_tenant_id = '22222222-2222-2222-2222-222222222222';
SELECT tenant_rls.set_tenant('22222222-2222-2222-2222-222222222222');
\echo '--- a token with one character of its signature changed'
SELECT overlay(:'token' PLACING CASE WHEN substr(:'token', length(:'token') - 10, 1) = 'A' THEN 'B' ELSE 'A' END
               FROM length(:'token') - 10 FOR 1) AS forged \gset
SELECT tenant_rls.set_tenant_signed(:'forged');
\set ON_ERROR_STOP on
\echo '--- the real token, in a transaction: acme''s rows'
-- psql sends :'token' as a literal in the statement text (psql 15 has no
-- \bind).  Applications should send it as a bind parameter: a literal is shown
-- by pg_stat_activity to every session of the same role (tenant_rls masks the
-- arguments of set_tenant_signed() there, see doc/context_security.md).
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'token');
SELECT id, item FROM public.orders ORDER BY id;
\echo '--- nor can the session switch to another tenant inside the transaction'
SAVEPOINT s;
\set ON_ERROR_STOP off
SELECT set_config('app.current_tenant_id', '22222222-2222-2222-2222-222222222222', true);
\set ON_ERROR_STOP on
ROLLBACK TO s;   -- the error aborted the transaction; back to the savepoint
SELECT tenant_rls.current_tenant();
COMMIT;
RESET ROLE;
ALTER DATABASE shop RESET tenant_rls.strict;

\echo
\echo '=== 6. The coverage report finds a table that slipped through, with the SQL that fixes it'
SET tenant_rls.auto_protect = off;   -- as if the table predated the extension
CREATE TABLE public.invoices (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, total numeric);
CREATE INDEX ON public.invoices (tenant_id);
RESET tenant_rls.auto_protect;
SELECT level, code, object, fix FROM tenant_rls.lint()
 WHERE level = 'error' AND NOT accepted ORDER BY object, code;
\echo '--- a CI gate would stop here'
\set ON_ERROR_STOP off
SELECT tenant_rls.assert_coverage('error');
\set ON_ERROR_STOP on
\echo '--- apply the reported fix'
\pset tuples_only on
SELECT DISTINCT fix FROM tenant_rls.lint() WHERE object = 'public.invoices' AND level = 'error' AND fix IS NOT NULL \gexec
\pset tuples_only off
SELECT table_name, status, rls_enabled, rls_forced, policies_ok, audit, tenant_index, errors, warnings
  FROM tenant_rls.coverage() ORDER BY table_name;
\echo '--- the warning left on public.invoices:'
SELECT level, code, object, message FROM tenant_rls.lint() WHERE object LIKE 'public.invoices%' AND level = 'warning';
\echo '--- an INSERT that fails on this key would tell a tenant that another tenant has that id: make id an'
\echo '--- identity column (as in orders) or the key (tenant_id, id), or accept the finding.'
\echo '--- The CI gate fails on errors only:'
SELECT tenant_rls.assert_coverage('error');

\c postgres
DROP DATABASE shop;
