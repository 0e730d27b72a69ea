--
-- Coverage report, review rev45c.
-- 1. Objects in pg_catalog, information_schema and tenant_rls were skipped
-- by schema name: a superuser's SECURITY DEFINER function in pg_catalog
-- returning every tenant's rows, a view, a materialized view and a copy of
-- a tenant table in information_schema, and a copy in tenant_rls, each
-- granted to the application role, were not reported.  Built-in objects are
-- told apart by OID now, the extension's by membership.
-- 2. A superuser's view over pg_statistic (every tenant's most common
-- values) or pg_largeobject, granted to the application role, was not
-- reported (view_reads_catalog).
-- Shown as the application role (not superuser, not BYPASSRLS, not the
-- owner), then the findings.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg13_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg13_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
CREATE SCHEMA covg13 AUTHORIZATION covg13_owner;
GRANT USAGE ON SCHEMA covg13 TO covg13_app;
SET ROLE covg13_owner;
CREATE TABLE covg13.orders (id int PRIMARY KEY, tenant_id text NOT NULL, item text);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg13.orders');
INSERT INTO covg13.orders SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
       'item-' || (g % 5) || '-of-' || CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END
  FROM generate_series(1, 400) g;
ANALYZE covg13.orders;
GRANT SELECT ON covg13.orders TO covg13_app;

CREATE FUNCTION pg_temp.mine() RETURNS TABLE(level text, code text, object text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.code, l.object, l.fix FROM tenant_rls.lint() l
     WHERE l.object ~ '(covg13|pg_catalog\.covg13|information_schema\.covg13|tenant_rls\.covg13)'
       AND l.code <> 'unique_not_leading_tenant'
     ORDER BY 2, 3
$$;
SELECT * FROM pg_temp.mine();

-- 1. a superuser's objects in pg_catalog, information_schema and tenant_rls
CREATE FUNCTION pg_catalog.covg13_all_orders() RETURNS SETOF covg13.orders
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM covg13.orders $$;
CREATE VIEW information_schema.covg13_feed AS SELECT * FROM covg13.orders;
CREATE MATERIALIZED VIEW information_schema.covg13_mv AS SELECT * FROM covg13.orders;
CREATE TABLE information_schema.covg13_copy (id int, tenant_id text, item text);
INSERT INTO information_schema.covg13_copy SELECT * FROM covg13.orders;
CREATE TABLE tenant_rls.covg13_export (id int, tenant_id text, item text);
INSERT INTO tenant_rls.covg13_export SELECT * FROM covg13.orders;
GRANT SELECT ON information_schema.covg13_feed, information_schema.covg13_mv,
                information_schema.covg13_copy, tenant_rls.covg13_export TO covg13_app;
SET ROLE covg13_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT count(*) AS own_rows FROM covg13.orders;
SELECT count(*) AS through_function FROM pg_catalog.covg13_all_orders();
SELECT count(*) AS through_view FROM information_schema.covg13_feed;
SELECT count(*) AS through_matview FROM information_schema.covg13_mv;
SELECT count(*) AS in_copy FROM information_schema.covg13_copy;
SELECT count(*) AS in_export FROM tenant_rls.covg13_export;
COMMIT;
RESET ROLE;
SELECT * FROM pg_temp.mine();
DROP FUNCTION pg_catalog.covg13_all_orders();
DROP VIEW information_schema.covg13_feed;
DROP MATERIALIZED VIEW information_schema.covg13_mv;
DROP TABLE information_schema.covg13_copy, tenant_rls.covg13_export;

-- 2. views over pg_statistic and pg_largeobject
CREATE VIEW covg13.col_stats AS
    SELECT starelid::regclass AS tbl, staattnum, stavalues1::text AS vals FROM pg_catalog.pg_statistic;
CREATE VIEW covg13.col_stats2 AS SELECT * FROM covg13.col_stats;   -- through another view
CREATE MATERIALIZED VIEW covg13.col_stats_mv AS SELECT * FROM covg13.col_stats;
SELECT lo_from_bytea(0, 'tenant b secret document') IS NOT NULL AS lo_made;
CREATE VIEW covg13.docs AS SELECT loid, convert_from(data, 'UTF8') AS data FROM pg_catalog.pg_largeobject;
GRANT SELECT ON covg13.col_stats2, covg13.col_stats_mv, covg13.docs TO covg13_app;
-- not reported: security_invoker, granted to nobody, pg_stats (filters by the reader)
CREATE VIEW covg13.col_stats_invoker WITH (security_invoker = true) AS SELECT starelid, staattnum FROM pg_catalog.pg_statistic;
GRANT SELECT ON covg13.col_stats_invoker TO covg13_app;
CREATE VIEW covg13.stats_view AS SELECT tablename, attname, most_common_vals::text FROM pg_catalog.pg_stats;
GRANT SELECT ON covg13.stats_view TO covg13_app;
SET ROLE covg13_app;
SELECT vals FROM covg13.col_stats2 WHERE tbl = 'covg13.orders'::regclass AND staattnum = 3;
SELECT count(*) > 0 AS stored_in_matview FROM covg13.col_stats_mv WHERE tbl = 'covg13.orders'::regclass;
SELECT data FROM covg13.docs;
SELECT count(*) AS through_pg_stats FROM covg13.stats_view WHERE tablename = 'orders';
SELECT count(*) FROM covg13.col_stats_invoker;
RESET ROLE;
SELECT * FROM pg_temp.mine();
-- the fix closes the view
ALTER VIEW covg13.col_stats2 SET (security_invoker = true);
SET ROLE covg13_app;
SELECT count(*) FROM covg13.col_stats2;
RESET ROLE;
SELECT * FROM pg_temp.mine() WHERE object = 'covg13.col_stats2';

-- clean up
SET client_min_messages = warning;
SELECT lo_unlink(x.loid) FROM (SELECT DISTINCT loid FROM pg_largeobject
                                WHERE convert_from(data, 'UTF8') = 'tenant b secret document') x;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg13.orders');
DROP SCHEMA covg13 CASCADE;
DROP ROLE covg13_app;
DROP ROLE covg13_owner;
