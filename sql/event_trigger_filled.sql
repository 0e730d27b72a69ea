--
-- CREATE TABLE AS and SELECT INTO write their rows before the event trigger
-- protects the new table, so no policy checked them (review rev24c): tenant
-- a's session planted a row in a new table that tenant b then read as its
-- own.  Now a session the table's policies bind may have written only rows
-- of its current tenant; otherwise the statement fails and nothing is left.
-- The application role etf_app is not superuser, not BYPASSRLS; it owns the
-- tables it creates (FORCE ROW LEVEL SECURITY binds it).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE etf_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
CREATE SCHEMA etf;
GRANT USAGE, CREATE ON SCHEMA etf TO etf_app;
SET tenant_rls.managed_schemas = 'etf';
RESET client_min_messages;

SET ROLE etf_app;
-- tenant a plants a row of tenant b: refused
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf.planted AS SELECT 1 AS id, 'b'::text AS tenant_id, 'from a' AS v;
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT 2 AS id, 'b'::text AS tenant_id INTO etf.planted2;
ROLLBACK;
-- no tenant set: any row is another tenant's
CREATE TABLE etf.planted3 AS SELECT 3 AS id, 'a'::text AS tenant_id;
SELECT to_regclass('etf.planted'), to_regclass('etf.planted2'), to_regclass('etf.planted3');
-- its own tenant's rows, or none: created and protected
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf.own AS SELECT 1 AS id, 'a'::text AS tenant_id, 'a''s' AS v;
CREATE TABLE etf.empty AS SELECT 1 AS id, 'b'::text AS tenant_id WITH NO DATA;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT count(*) AS seen_by_b FROM etf.own;
COMMIT;
RESET ROLE;
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, r.status
  FROM pg_class c LEFT JOIN tenant_rls.protected_table r ON r.schema_name = 'etf' AND r.table_name = c.relname
 WHERE c.relnamespace = 'etf'::regnamespace AND c.relkind = 'r' ORDER BY 1;
-- a superuser's migration copies every tenant's rows
CREATE TABLE etf.migrated AS SELECT i AS id, (ARRAY['a', 'b'])[i] AS tenant_id FROM generate_series(1, 2) i;
SELECT count(*) AS migrated FROM etf.migrated;
SELECT status FROM tenant_rls.protected_table WHERE schema_name = 'etf' AND table_name = 'migrated';

-- clean up
SET client_min_messages = warning;
DROP SCHEMA etf CASCADE;
DELETE FROM tenant_rls.protected_table WHERE schema_name = 'etf';
DROP ROLE etf_app;
RESET client_min_messages;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.audit;
