--
-- Coverage report, review rev34f: leaks lint() did not report.  (1)
-- Privileges on built-in objects that read around row-level security:
-- pg_read_binary_file() (every table's data files, the signing key) and
-- SELECT on pg_statistic (sample values of every column), also by column.
-- (2) A SECURITY
-- DEFINER function that signs a token itself (sign_tenant()) and sets any
-- tenant with it.  (3) A privileged SECURITY DEFINER function whose
-- search_path does not end with pg_temp: a caller's temporary table named
-- like the one it writes, with a trigger of the caller's, runs as the
-- owner.  (4) SECURITY DEFINER functions over pg_stat_activity and server
-- files.  (5) Built-in functions marked LEAKPROOF: with them the planner
-- runs a division before the policy, and its error reveals another
-- tenant's row.  Each leak shown as the application role (not superuser,
-- not BYPASSRLS, not the owner), then the finding, then its fix.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg9_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg9_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg9_plain NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg9';
SET tenant_rls.auto_protect = off;
SET tenant_rls.signing_key = 'regress-key-covg9-0123456789abcdef0123';
CREATE SCHEMA covg9 AUTHORIZATION covg9_owner;
GRANT USAGE ON SCHEMA covg9 TO covg9_app;
CREATE SCHEMA covg9_ops;
GRANT USAGE ON SCHEMA covg9_ops TO covg9_app;
SET ROLE covg9_owner;
CREATE TABLE covg9.deals (id bigint PRIMARY KEY, tenant_id text NOT NULL, item text, secret text);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg9.deals');
GRANT SELECT, INSERT ON covg9.deals TO covg9_app;
INSERT INTO covg9.deals VALUES (1, 'acme', 'gadget', 'acme-secret'), (2, 'globex', 'merger', 'acquire initech');
ANALYZE covg9.deals;
CHECKPOINT;

-- (1) privileges on built-ins
GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO covg9_app;
GRANT SELECT ON pg_catalog.pg_statistic_ext_data TO covg9_app;
-- pg_statistic by column privileges (were not looked at: no finding, and
-- the samples stayed readable)
GRANT SELECT (starelid, staattnum, stavalues1) ON pg_catalog.pg_statistic TO covg9_app;
-- (2) a SECURITY DEFINER function that signs its own token
CREATE FUNCTION covg9_ops.switch_company(t text) RETURNS boolean LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $f$ SELECT tenant_rls.set_tenant_signed(tenant_rls.sign_tenant(t, interval '1 minute')) IS NOT NULL $f$;
-- (3) a superuser's SECURITY DEFINER function with search_path = covg9_ops
CREATE TABLE covg9_ops.api_hits (k text PRIMARY KEY, n int NOT NULL);
CREATE FUNCTION covg9_ops.hit(key text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = covg9_ops AS $f$
BEGIN
    INSERT INTO api_hits VALUES (key, 1) ON CONFLICT (k) DO UPDATE SET n = api_hits.n + 1;
END $f$;
-- not reported: pg_temp last; an owner that is not privileged
CREATE FUNCTION covg9_ops.hit_locked(key text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = covg9_ops, pg_temp
    AS $f$ INSERT INTO covg9_ops.api_hits VALUES (key, 1) ON CONFLICT (k) DO NOTHING $f$;
CREATE FUNCTION covg9_ops.plain_hit() RETURNS integer LANGUAGE sql SECURITY DEFINER
    AS $f$ SELECT 1 $f$;
ALTER FUNCTION covg9_ops.plain_hit() OWNER TO covg9_plain;
-- (4) SECURITY DEFINER readers of other sessions and of server files
CREATE FUNCTION covg9_ops.sessions() RETURNS SETOF pg_stat_activity LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $f$ SELECT * FROM pg_catalog.pg_stat_activity $f$;
CREATE FUNCTION covg9_ops.server_file(path text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $f$ SELECT pg_catalog.pg_read_file(path) $f$;
-- (5) built-in arithmetic marked LEAKPROOF, and a cross-tenant grant on the
-- table (its policy then has a term the planner orders after cheaper ones)
ALTER FUNCTION pg_catalog.int8mi(bigint, bigint) LEAKPROOF;
ALTER FUNCTION pg_catalog.int8div(bigint, bigint) LEAKPROOF;
SELECT tenant_rls.grant_access('covg9.deals', 'globex', 'initech', 'read');

-- the leaks, as the application role of tenant acme
SET ROLE covg9_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL AS set;
SELECT tenant_id, secret FROM covg9.deals ORDER BY id;
-- (1) the table's data file, and the statistics' sample values
SELECT position('acquire initech' IN encode(pg_read_binary_file(pg_relation_filepath('covg9.deals')), 'escape')) > 0
       AS other_tenant_in_data_file;
SELECT stavalues1::text AS secret_samples FROM pg_statistic
 WHERE starelid = 'covg9.deals'::regclass AND staattnum = 4;
-- (3) a temporary table named like the one hit() writes, with a trigger
CREATE TEMP TABLE loot (tenant_id text, secret text, who name);
CREATE TEMP TABLE api_hits (k text PRIMARY KEY, n int);
CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO pg_temp.loot SELECT tenant_id, secret, current_user FROM covg9.deals;
    RETURN NEW;
END $f$;
CREATE TRIGGER grab BEFORE INSERT ON pg_temp.api_hits FOR EACH ROW EXECUTE FUNCTION pg_temp.grab();
SELECT covg9_ops.hit('x');
SELECT tenant_id, secret, who FROM pg_temp.loot ORDER BY 1;
-- (4) the configuration, through a SECURITY DEFINER reader
SELECT covg9_ops.server_file('postgresql.conf') LIKE '%listen_addresses%' AS reads_configuration;
-- (5) the division's error names nothing, but tells acme that row 2 exists
SELECT count(*) FROM covg9.deals WHERE 1::bigint / (id - 2::bigint) = 1;
ROLLBACK;
-- (2) another tenant, without a token of one's own
BEGIN;
SELECT covg9_ops.switch_company('globex') AS switched;
SELECT tenant_id, secret FROM covg9.deals ORDER BY id;
ROLLBACK;
RESET ROLE;

-- the findings
SELECT code, level, object, message FROM tenant_rls.lint()
 WHERE code IN ('catalog_privilege', 'security_definer_sets_tenant', 'security_definer_search_path',
                'security_definer_reads_server_data', 'leakproof_function')
   AND (object LIKE 'covg9%' OR object LIKE '% TO covg9_app' OR object LIKE 'pg_catalog.int8%')
 ORDER BY code, object;
SELECT code, fix FROM tenant_rls.lint()
 WHERE code IN ('catalog_privilege', 'security_definer_search_path', 'leakproof_function')
   AND (object LIKE 'covg9%' OR object LIKE '% TO covg9_app' OR object LIKE 'pg_catalog.int8%')
 ORDER BY code, object;
-- their fixes (all but SECURITY INVOKER, which would break the readers);
-- the findings are gone and the leaks closed
DO $$
DECLARE f text;
BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l
              WHERE l.code IN ('catalog_privilege', 'security_definer_search_path', 'leakproof_function')
                AND (l.object LIKE 'covg9%' OR l.object LIKE '% TO covg9_app' OR l.object LIKE 'pg_catalog.int8%')
    LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT code, object FROM tenant_rls.lint()
 WHERE code IN ('catalog_privilege', 'security_definer_search_path', 'leakproof_function')
   AND (object LIKE 'covg9%' OR object LIKE '% TO covg9_app' OR object LIKE 'pg_catalog.int8%');
SET ROLE covg9_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL AS set;
SELECT stavalues1::text AS secret_samples FROM pg_statistic
 WHERE starelid = 'covg9.deals'::regclass AND staattnum = 4;
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL AS set;
SELECT count(*) FROM covg9.deals WHERE 1::bigint / (id - 2::bigint) = 1;
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL AS set;
CREATE TEMP TABLE loot (tenant_id text, secret text, who name);
CREATE TEMP TABLE api_hits (k text PRIMARY KEY, n int);
CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO pg_temp.loot SELECT tenant_id, secret, current_user FROM covg9.deals;
    RETURN NEW;
END $f$;
CREATE TRIGGER grab BEFORE INSERT ON pg_temp.api_hits FOR EACH ROW EXECUTE FUNCTION pg_temp.grab();
SELECT covg9_ops.hit('y');
SELECT count(*) AS loot FROM pg_temp.loot;
ROLLBACK;
RESET ROLE;
SELECT proconfig FROM pg_proc WHERE oid = 'covg9_ops.hit(text)'::regprocedure;

-- ==== clean up
SET client_min_messages = error;
ALTER FUNCTION pg_catalog.int8mi(bigint, bigint) NOT LEAKPROOF;
ALTER FUNCTION pg_catalog.int8div(bigint, bigint) NOT LEAKPROOF;
REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM covg9_app;
REVOKE SELECT ON pg_catalog.pg_statistic_ext_data FROM covg9_app;
REVOKE SELECT (starelid, staattnum, stavalues1) ON pg_catalog.pg_statistic FROM covg9_app;
RESET tenant_rls.signing_key;
DROP SCHEMA covg9_ops CASCADE;
DROP SCHEMA covg9 CASCADE;
DELETE FROM tenant_rls.tenant_grant WHERE table_name = 'deals';
RESET tenant_rls.managed_schemas;
RESET tenant_rls.auto_protect;
DROP ROLE covg9_app, covg9_owner, covg9_plain;
RESET client_min_messages;
