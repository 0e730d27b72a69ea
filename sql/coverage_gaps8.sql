--
-- Coverage report, review rev32b: leaks lint() did not report.  (1) A
-- materialized view of a superuser that runs a query given as text
-- (query_to_xml(), tablefunc's crosstab(), a user function with EXECUTE
-- given a table name as text).  (2) A SECURITY DEFINER function of a
-- superuser whose dynamic SQL the report did not see: a DO block inside a
-- LANGUAGE sql body, tablefunc's crosstab().  (3) A column whose type is a
-- tenant table's row type (a snapshot table), also after mark_global().  (4)
-- contrib tcn's trigger, which notifies every changed row's key.  (5) An
-- application role in pg_monitor, which reads every role's statements.
-- Each leak shown as the application role (not superuser, not BYPASSRLS,
-- not the owner) where one session can show it, then the finding.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg8_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg8_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg8';
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg8 AUTHORIZATION covg8_owner;
GRANT USAGE ON SCHEMA covg8 TO covg8_app;
CREATE SCHEMA covg8_ops;
GRANT USAGE ON SCHEMA covg8_ops TO covg8_app;
CREATE EXTENSION tablefunc SCHEMA covg8_ops;
CREATE EXTENSION tcn SCHEMA covg8_ops;
SET ROLE covg8_owner;
CREATE TABLE covg8.deals (id int PRIMARY KEY, tenant_id text NOT NULL, item text, secret text);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg8.deals');
GRANT SELECT, INSERT ON covg8.deals TO covg8_app;
INSERT INTO covg8.deals VALUES (1, 'acme', 'gadget', 'acme-secret'), (2, 'globex', 'merger', 'acquire initech');

-- (1) materialized views of a superuser running a query given as text
CREATE MATERIALIZED VIEW covg8_ops.mv_xml AS
    SELECT query_to_xml('SELECT tenant_id, secret FROM covg8.deals ORDER BY id', true, false, '') AS x;
CREATE MATERIALIZED VIEW covg8_ops.mv_pivot AS
    SELECT * FROM covg8_ops.crosstab('SELECT tenant_id, item, secret FROM covg8.deals ORDER BY 1, 2')
        AS t(row_name text, c1 text);
CREATE FUNCTION covg8_ops.rows_of(t text) RETURNS SETOF text LANGUAGE plpgsql
    AS $$ BEGIN RETURN QUERY EXECUTE format('SELECT x::text FROM %s x', t); END $$;
CREATE MATERIALIZED VIEW covg8_ops.mv_exec AS SELECT * FROM covg8_ops.rows_of('covg8.deals') r(x);
-- not reported: no query given as text
CREATE MATERIALIZED VIEW covg8_ops.mv_plain AS SELECT 1 AS one;
GRANT SELECT ON covg8_ops.mv_xml, covg8_ops.mv_pivot, covg8_ops.mv_exec, covg8_ops.mv_plain TO covg8_app;
-- (2) SECURITY DEFINER functions of a superuser
CREATE FUNCTION covg8_ops.table_report(t text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog AS $f$
    SELECT set_config('covg8.report_table', t, true);
    DO $d$ DECLARE r text; BEGIN
        EXECUTE 'SELECT string_agg(tenant_id || '':'' || secret, '','' ORDER BY id) FROM '
                || current_setting('covg8.report_table') INTO r;
        PERFORM set_config('covg8.report', r, true);
    END $d$;
    SELECT current_setting('covg8.report');
$f$;
CREATE FUNCTION covg8_ops.pivot(q text) RETURNS TABLE (row_name text, c1 text) LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, covg8_ops
    AS $f$ SELECT * FROM covg8_ops.crosstab(q) AS ct(row_name text, c1 text) $f$;
-- not reported: a SECURITY DEFINER function naming no tenant table, with
-- ON CONFLICT DO NOTHING (not a DO block)
CREATE TABLE covg8_ops.hits (k text PRIMARY KEY);
CREATE FUNCTION covg8_ops.hit(k text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog
    AS $f$ INSERT INTO covg8_ops.hits VALUES (k) ON CONFLICT DO NOTHING $f$;
GRANT EXECUTE ON FUNCTION covg8_ops.table_report(text), covg8_ops.pivot(text), covg8_ops.hit(text) TO covg8_app;
-- (3) a snapshot of whole rows, outside and inside the managed schema
CREATE SCHEMA covg8_archive AUTHORIZATION covg8_owner;
GRANT USAGE ON SCHEMA covg8_archive TO covg8_app;
SET ROLE covg8_owner;
CREATE TABLE covg8_archive.snapshots (taken_at date, d covg8.deals);
CREATE TABLE covg8.snapshots2 (taken_at date, d covg8.deals[]);
CREATE DOMAIN covg8.deal_d AS covg8.deals;
CREATE TYPE covg8.wrap AS (note text, d covg8.deal_d);
CREATE TABLE covg8_archive.snapshots3 (w covg8.wrap);
-- a range over the row type, and a multirange of that range (review rev39)
CREATE TYPE covg8.deal_range AS RANGE (subtype = covg8.deals);
CREATE TABLE covg8_archive.snapshots4 (r covg8.deal_range);
CREATE TABLE covg8_archive.snapshots5 (m covg8.deal_multirange);
-- not reported: a protected table with its own tenant column
CREATE TABLE covg8.history (id int PRIMARY KEY, tenant_id text NOT NULL, d covg8.deals);
GRANT SELECT ON covg8_archive.snapshots, covg8.snapshots2, covg8_archive.snapshots3,
    covg8_archive.snapshots4, covg8_archive.snapshots5 TO covg8_app;
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg8.history');
INSERT INTO covg8_archive.snapshots SELECT '2026-11-01', d FROM covg8.deals d;
INSERT INTO covg8.snapshots2 SELECT '2026-11-01', array_agg(d ORDER BY d.id) FROM covg8.deals d;
INSERT INTO covg8_archive.snapshots3 SELECT ROW('nightly', d)::covg8.wrap FROM covg8.deals d;
INSERT INTO covg8_archive.snapshots4 SELECT covg8.deal_range(d, d, '[]') FROM covg8.deals d;
INSERT INTO covg8_archive.snapshots5 SELECT covg8.deal_multirange(covg8.deal_range(d, d, '[]')) FROM covg8.deals d;
-- (4) contrib tcn on a tenant table: NOTIFY of each changed row's key
CREATE TRIGGER deals_tcn AFTER INSERT OR UPDATE OR DELETE ON covg8.deals
    FOR EACH ROW EXECUTE FUNCTION covg8_ops.triggered_change_notification('cache_inval');
-- (5) the application role in pg_monitor
GRANT pg_monitor TO covg8_app;

-- the leaks, as the application role of tenant acme
SET ROLE covg8_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL;
SELECT tenant_id, secret FROM covg8.deals ORDER BY id;
SELECT x AS mv_xml FROM covg8_ops.mv_xml;
SELECT row_name, c1 AS mv_pivot FROM covg8_ops.mv_pivot ORDER BY 1;
SELECT x AS mv_exec FROM covg8_ops.mv_exec ORDER BY 1;
SELECT covg8_ops.table_report('covg8.deals') AS via_do_block;
SELECT row_name, c1 AS via_crosstab FROM covg8_ops.pivot('SELECT tenant_id, item, secret FROM covg8.deals ORDER BY 1, 2');
SELECT (d).tenant_id, (d).secret FROM covg8_archive.snapshots ORDER BY 1;
SELECT e.tenant_id, e.secret FROM covg8.snapshots2, unnest(d) e ORDER BY 1;
SELECT ((w).d).tenant_id, ((w).d).secret FROM covg8_archive.snapshots3 ORDER BY 1;
SELECT (lower(r)).tenant_id, (lower(r)).secret FROM covg8_archive.snapshots4 ORDER BY 1;
SELECT (lower(m)).tenant_id, (lower(m)).secret FROM covg8_archive.snapshots5 ORDER BY 1;
SELECT pg_has_role('pg_read_all_stats', 'MEMBER') AS reads_all_statements;
COMMIT;
RESET ROLE;

-- the findings
SELECT code, level, object, message FROM tenant_rls.lint()
 WHERE code IN ('materialized_view_over_tenant_table', 'security_definer_reads_tenant_table',
                'tenant_row_type_column', 'trigger_notifies', 'role_reads_all_stats')
   AND (object LIKE 'covg8%' OR object LIKE '% ON covg8.%' OR object = 'covg8_app')
 ORDER BY code, object;
-- marking the snapshot table global leaves the finding
SELECT tenant_rls.mark_global('covg8.snapshots2');
SELECT code, object FROM tenant_rls.lint()
 WHERE object = 'covg8.snapshots2' ORDER BY code;
SELECT tenant_rls.unmark_global('covg8.snapshots2');
-- the fix of role_reads_all_stats revokes pg_monitor; the finding is gone
DO $$ BEGIN
    EXECUTE (SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'role_reads_all_stats' AND l.object = 'covg8_app');
END $$;
SELECT pg_has_role('covg8_app', 'pg_read_all_stats', 'MEMBER') AS reads_all_statements;
SELECT count(*) AS stats_findings_left FROM tenant_rls.lint()
 WHERE code = 'role_reads_all_stats' AND object = 'covg8_app';
-- through a group role the application role is in: no fix SQL (revoking
-- the group would take its table privileges too)
CREATE ROLE covg8_group NOLOGIN;
GRANT pg_read_all_stats TO covg8_group;
GRANT covg8_group TO covg8_app;
SELECT code, message, fix FROM tenant_rls.lint()
 WHERE code = 'role_reads_all_stats' AND object = 'covg8_app';
-- a monitoring role that reads no tenant table is not reported
CREATE ROLE covg8_monitor LOGIN;
GRANT pg_monitor TO covg8_monitor;
SELECT count(*) AS monitor_findings FROM tenant_rls.lint() WHERE object = 'covg8_monitor';

-- ==== clean up
SET client_min_messages = error;
DROP ROLE covg8_monitor;
REVOKE covg8_group FROM covg8_app;
DROP ROLE covg8_group;
DROP SCHEMA covg8_ops CASCADE;
DROP SCHEMA covg8_archive CASCADE;
DROP SCHEMA covg8 CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg8';
END $$;
DROP ROLE covg8_app, covg8_owner;
RESET client_min_messages;
