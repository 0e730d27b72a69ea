--
-- Coverage report, review rev45c: SECURITY DEFINER functions lint() did not
-- report.  F1 (security_definer_sets_tenant): a generic set_config(k, v)
-- helper (the setting's name is an argument: app.current_tenant_id too), a
-- quoted call tenant_rls."set_tenant"(t), and set_tenant() reached through
-- a SECURITY INVOKER helper the definer calls.  F2
-- (security_definer_reads_server_data): pg_file_settings (the raw
-- tenant_rls.signing_key of postgresql.auto.conf),
-- pg_stat_get_backend_activity() (other sessions' statements), a reader of
-- pg_stat_activity reached through an invoker helper, COPY from a server
-- file, to a file or a program in the body; and (catalog_privilege) EXECUTE
-- on pg_show_all_file_settings() granted to an application role.  All owned
-- by a superuser, executable by the application role (not superuser, not
-- BYPASSRLS, not the owner).  Strict mode is not in force here (the library
-- is not preloaded): the findings are about the owners, whom strict mode
-- lets set any tenant.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg12_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg12_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg12';
SET tenant_rls.auto_protect = off;
SET tenant_rls.audit = off;
-- a tenant table the application role uses (it makes covg12_app an
-- application role)
CREATE SCHEMA covg12 AUTHORIZATION covg12_owner;
GRANT USAGE ON SCHEMA covg12 TO covg12_app;
SET ROLE covg12_owner;
CREATE TABLE covg12.deals (id bigint PRIMARY KEY, tenant_id text NOT NULL, secret text);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg12.deals');
GRANT SELECT, INSERT ON covg12.deals TO covg12_app;
INSERT INTO covg12.deals VALUES (1, 'acme', 'acme-secret'), (2, 'globex', 'acquire initech');
CREATE SCHEMA covg12_ops;
GRANT USAGE ON SCHEMA covg12_ops TO covg12_app;
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE(level text, object text, message text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message FROM tenant_rls.lint() l
     WHERE l.code = c AND (l.object LIKE 'covg12%' OR l.object LIKE '% TO covg12_app')
     ORDER BY 2
$$;

-- ==== F1: security_definer_sets_tenant
-- a generic set_config() helper: the caller names the setting
CREATE FUNCTION covg12_ops.set_setting(k text, v text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT set_config(k, v, true) $$;
-- set_tenant() called by a quoted name
CREATE FUNCTION covg12_ops.switch_company(t text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ BEGIN RETURN tenant_rls."set_tenant"(t); END $$;
-- set_tenant() in a SECURITY INVOKER helper the definer calls
CREATE FUNCTION covg12_ops.helper_switch(t text) RETURNS text LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls.set_tenant(t) $$;
CREATE FUNCTION covg12_ops.switch2(t text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT covg12_ops.helper_switch(t) $$;
-- a BEGIN ATOMIC body: set_config() with a setting given as an argument
CREATE FUNCTION covg12_ops.set_atomic(k text, v text) RETURNS text LANGUAGE sql SECURITY DEFINER
    BEGIN ATOMIC SELECT set_config(k, v, true); END;
-- not reported: set_config() of another setting named by a literal (also
-- BEGIN ATOMIC, deparsed as 'search_path'::text); set_tenant_signed()
-- called by a quoted name; a helper that sets nothing
CREATE FUNCTION covg12_ops.set_path(v text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT set_config('search_path', v, true) $$;
CREATE FUNCTION covg12_ops.set_path_atomic(v text) RETURNS text LANGUAGE sql SECURITY DEFINER
    BEGIN ATOMIC SELECT set_config('search_path', v, true); END;
CREATE FUNCTION covg12_ops.signed(token text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls."set_tenant_signed"(token) $$;
CREATE FUNCTION covg12_ops.helper_plain(t text) RETURNS text LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS $$ SELECT upper(t) $$;
CREATE FUNCTION covg12_ops.plain(t text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT covg12_ops.helper_plain(t) $$;

-- each sets another tenant for the application role
SET ROLE covg12_app;
BEGIN;
SELECT covg12_ops.set_setting('app.current_tenant_id', 'globex') AS set_setting,
       tenant_rls.current_tenant() AS tenant;
ROLLBACK;
BEGIN;
SELECT covg12_ops.switch_company('globex') IS NOT NULL AS switch_company, tenant_rls.current_tenant() AS tenant;
ROLLBACK;
BEGIN;
SELECT covg12_ops.switch2('globex') IS NOT NULL AS switch2, tenant_rls.current_tenant() AS tenant;
ROLLBACK;
RESET ROLE;

-- the findings (before rev45c: none)
SELECT * FROM pg_temp.mine('security_definer_sets_tenant');
-- the fix, run: the findings are gone
DO $$
DECLARE f text;
BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l
              WHERE l.code = 'security_definer_sets_tenant' AND l.object LIKE 'covg12%' LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT count(*) AS left_over FROM pg_temp.mine('security_definer_sets_tenant');
SELECT p.oid::regprocedure AS function, p.prosecdef FROM pg_proc p
 WHERE p.pronamespace = 'covg12_ops'::regnamespace ORDER BY p.oid::regprocedure::text;

-- ==== F2: security_definer_reads_server_data
-- the configuration files' settings (tenant_rls.signing_key, raw)
CREATE FUNCTION covg12_ops.key_b() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT name || '=' || setting FROM pg_file_settings $$;
CREATE FUNCTION covg12_ops.key_c() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT name FROM pg_show_all_file_settings() $$;
-- other sessions' statements, by backend
CREATE FUNCTION covg12_ops.queries() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_stat_get_backend_activity(pg_stat_get_backend_idset()) $$;
-- expression statistics' sample values
CREATE FUNCTION covg12_ops.expr_stats() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT most_common_vals::text FROM pg_stats_ext_exprs $$;
-- pg_stat_activity through a SECURITY INVOKER helper
CREATE FUNCTION covg12_ops._sess() RETURNS SETOF text LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS $$ SELECT query FROM pg_stat_activity $$;
CREATE FUNCTION covg12_ops.sessions() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT covg12_ops._sess() $$;
-- COPY from a server file, to a file, from a program
CREATE FUNCTION covg12_ops.conf_lines() RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS conf_tmp (l text);
    TRUNCATE conf_tmp;
    COPY conf_tmp FROM '/some/path/postgresql.auto.conf';
    RETURN QUERY SELECT l FROM conf_tmp;
END $$;
CREATE FUNCTION covg12_ops.dump_deals() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    COPY (SELECT * FROM covg12.deals) TO '/tmp/covg12_deals.csv' WITH (FORMAT csv);
END $$;
CREATE FUNCTION covg12_ops.uptime() RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS up_tmp (l text);
    COPY up_tmp FROM PROGRAM 'uptime';
    RETURN QUERY SELECT l FROM up_tmp;
END $$;
-- not reported: the owner reads no server data (pg_file_settings shows it
-- nothing); COPY from and to the client
ALTER FUNCTION covg12_ops.key_c() OWNER TO covg12_owner;
CREATE FUNCTION covg12_ops.load_deals() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS copy_tmp (l text);
    COPY copy_tmp FROM STDIN;
END $$;
-- EXECUTE on pg_show_all_file_settings() (catalog_privilege; SELECT on
-- pg_file_settings was reported already)
GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO covg12_app;

-- the application role reads the configuration files, which it may not
-- read itself
SET ROLE covg12_app;
SELECT count(*) FROM pg_file_settings;
SELECT count(*) > 0 AS reads_configuration FROM covg12_ops.key_b();
SELECT count(*) > 0 AS reads_configuration FROM pg_show_all_file_settings();
RESET ROLE;

-- the findings (before rev45c: none)
SELECT * FROM pg_temp.mine('security_definer_reads_server_data');
SELECT level, object, message FROM pg_temp.mine('catalog_privilege');
SELECT l.object, l.fix FROM tenant_rls.lint() l
 WHERE l.code IN ('security_definer_reads_server_data', 'catalog_privilege')
   AND (l.object LIKE 'covg12%' OR l.object LIKE '% TO covg12_app')
 ORDER BY 1;
-- the fixes, run: the findings are gone, and the application role reads
-- the configuration no more
DO $$
DECLARE f text;
BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l
              WHERE l.code IN ('security_definer_reads_server_data', 'catalog_privilege')
                AND (l.object LIKE 'covg12%' OR l.object LIKE '% TO covg12_app') LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT count(*) AS left_over FROM tenant_rls.lint() l
 WHERE l.code IN ('security_definer_reads_server_data', 'catalog_privilege')
   AND (l.object LIKE 'covg12%' OR l.object LIKE '% TO covg12_app');
SET ROLE covg12_app;
SELECT count(*) FROM covg12_ops.key_b();
SELECT count(*) FROM pg_show_all_file_settings();
RESET ROLE;

-- ==== clean up
SET client_min_messages = error;
DROP SCHEMA covg12_ops CASCADE;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg12.deals');
DROP SCHEMA covg12 CASCADE;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.auto_protect;
RESET tenant_rls.audit;
DROP OWNED BY covg12_app, covg12_owner;
DROP ROLE covg12_app, covg12_owner;
RESET client_min_messages;
