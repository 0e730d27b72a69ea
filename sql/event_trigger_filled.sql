--
-- CREATE TABLE AS and SELECT INTO write their rows before the event trigger
-- protects the new table, so no policy checked them (review rev24c): tenant
-- a's session planted a row in a new table that tenant b then read as its
-- own.  So did a table filled before it got the tenant column (ADD COLUMN
-- ... DEFAULT, RENAME COLUMN) or a protected parent (ATTACH PARTITION,
-- INHERIT) (review rev24e).  Now, when the table's owner is bound by its
-- policies, every row with a tenant must be of the current tenant;
-- otherwise the statement fails and nothing is left.
-- The application role etf_app is not superuser, not BYPASSRLS; it owns the
-- tables it creates (FORCE ROW LEVEL SECURITY binds it).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE etf_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
CREATE SCHEMA etf;
GRANT USAGE, CREATE ON SCHEMA etf TO etf_app;
CREATE SCHEMA etf_o;   -- not managed: its new tables are not protected
GRANT USAGE, CREATE ON SCHEMA etf_o TO etf_app;
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
-- a tenant column added with another tenant as its default, or renamed into
-- place: refused
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf.added (id int);
INSERT INTO etf.added VALUES (1);
ALTER TABLE etf.added ADD COLUMN tenant_id text DEFAULT 'b';
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf.renamed (id int, tid text);
INSERT INTO etf.renamed VALUES (1, 'b');
ALTER TABLE etf.renamed RENAME COLUMN tid TO tenant_id;
ROLLBACK;
-- added without a default: the rows have no tenant and no tenant sees them
-- (the column is left nullable): allowed
CREATE TABLE etf.backfill (id int);
INSERT INTO etf.backfill VALUES (1), (2);
ALTER TABLE etf.backfill ADD COLUMN tenant_id text;
-- a filled table attached below, or inheriting from, a protected table
CREATE TABLE etf.parted (id int, tenant_id text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE etf.inh (id int, tenant_id text NOT NULL);
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf_o.filler (id int, tenant_id text NOT NULL);
INSERT INTO etf_o.filler VALUES (1, 'b');
ALTER TABLE etf.parted ATTACH PARTITION etf_o.filler FOR VALUES FROM (0) TO (10);
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf_o.child (id int, tenant_id text NOT NULL);
INSERT INTO etf_o.child VALUES (1, 'b');
ALTER TABLE etf_o.child INHERIT etf.inh;
ROLLBACK;
-- the same with the current tenant's rows: attached and protected
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE etf_o.filler (id int, tenant_id text NOT NULL);
INSERT INTO etf_o.filler VALUES (1, 'a');
ALTER TABLE etf.parted ATTACH PARTITION etf_o.filler FOR VALUES FROM (0) TO (10);
COMMIT;
RESET ROLE;
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, r.status
  FROM pg_class c LEFT JOIN tenant_rls.protected_table r ON r.schema_name = c.relnamespace::regnamespace::name AND r.table_name = c.relname
 WHERE c.relnamespace IN ('etf'::regnamespace, 'etf_o'::regnamespace) AND c.relkind = 'r' ORDER BY 1;
-- a superuser's migration copies every tenant's rows
CREATE TABLE etf.migrated AS SELECT i AS id, (ARRAY['a', 'b'])[i] AS tenant_id FROM generate_series(1, 2) i;
SELECT count(*) AS migrated FROM etf.migrated;
SELECT status FROM tenant_rls.protected_table WHERE schema_name = 'etf' AND table_name = 'migrated';

-- clean up
SET client_min_messages = warning;
DROP SCHEMA etf CASCADE;
DROP SCHEMA etf_o CASCADE;
DELETE FROM tenant_rls.protected_table WHERE schema_name IN ('etf', 'etf_o');
DROP ROLE etf_app;
RESET client_min_messages;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.audit;
