--
-- Coverage report, fifth review (rev22b): ways a tenant role read other
-- tenants' rows while lint() was silent.  For each: the leak shown as the
-- application role (not superuser, not BYPASSRLS, not the owner), then the
-- finding, then (where the report gives one) its fix and the leak gone.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg5_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg5_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg5';
SET tenant_rls.audit = on;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg5 AUTHORIZATION covg5_owner;
GRANT USAGE ON SCHEMA covg5 TO covg5_app;
CREATE SCHEMA covg5_h;
GRANT USAGE ON SCHEMA covg5_h TO covg5_app;
CREATE FUNCTION covg5_h.mine(c text) RETURNS TABLE(level text, object text, message text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ILIKE '%covg5%'
     ORDER BY 2, 1
$$;
-- what tenant b reads, as the application role
CREATE FUNCTION covg5_h.as_b(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    PERFORM tenant_rls.set_tenant('b');
    FOR r IN EXECUTE q LOOP RETURN NEXT r; END LOOP;
END
$$;

SET ROLE covg5_owner;
CREATE TABLE covg5.sales (id int NOT NULL, tenant_id text NOT NULL, item text, PRIMARY KEY (tenant_id, id));
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg5.sales');
GRANT SELECT, INSERT, UPDATE, DELETE ON covg5.sales TO covg5_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL;
INSERT INTO covg5.sales VALUES (1, 'a', 'secret of a');
COMMIT;

-- ==== 1. trigger_writes_unprotected_table: a trigger copies tenant rows
-- into a global table (and, through a helper, into a table outside the
-- managed schemas without the tenant column)
SET ROLE covg5_owner;
CREATE TABLE covg5.activity (id serial PRIMARY KEY, msg text);
RESET ROLE;
SELECT tenant_rls.mark_global('covg5.activity');
CREATE SCHEMA covg5_side AUTHORIZATION covg5_owner;
SET ROLE covg5_owner;
CREATE TABLE covg5_side."Feed" (msg text);
CREATE FUNCTION covg5.feed_helper(m text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO covg5_side."Feed" (msg) VALUES (m) $$;
CREATE FUNCTION covg5.log_order() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- a comment that says UPDATE covg5.sales_copy
    IF TG_OP = 'UPDATE' THEN RETURN NEW; END IF;
    INSERT INTO covg5.activity (msg) VALUES (row_to_json(NEW)::text);
    PERFORM covg5.feed_helper(NEW.item);
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_log_order AFTER INSERT OR UPDATE ON covg5.sales
    FOR EACH ROW EXECUTE FUNCTION covg5.log_order();
-- a trigger writing a protected table only: not reported
CREATE TABLE covg5.order_events (tenant_id text NOT NULL, id int, PRIMARY KEY (tenant_id, id));
CREATE FUNCTION covg5.event_order() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO covg5.order_events VALUES (NEW.tenant_id, NEW.id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_event_order AFTER INSERT ON covg5.sales
    FOR EACH ROW EXECUTE FUNCTION covg5.event_order();
-- a table of the same name elsewhere, without the tenant column: the
-- trigger names covg5.order_events, the protected one
CREATE TABLE covg5_side.order_events (id int);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg5.order_events');
GRANT SELECT, INSERT ON covg5.activity, covg5.order_events TO covg5_app;
GRANT USAGE ON SEQUENCE covg5.activity_id_seq TO covg5_app;
GRANT USAGE ON SCHEMA covg5_side TO covg5_app;
GRANT SELECT, INSERT ON covg5_side."Feed" TO covg5_app;
SET ROLE covg5_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL;
INSERT INTO covg5.sales VALUES (2, 'a', 'second secret of a');
COMMIT;
-- tenant b reads tenant a's row in the copy
BEGIN;
SELECT * FROM covg5_h.as_b('SELECT msg FROM covg5.activity');
COMMIT;
RESET ROLE;
SELECT level, object, message FROM covg5_h.mine('trigger_writes_unprotected_table');
-- the helper's write, the one that is left, is still found
SET ROLE covg5_owner;
CREATE OR REPLACE FUNCTION covg5.log_order() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM covg5.feed_helper(NEW.item);
    RETURN NEW;
END
$$;
RESET ROLE;
SELECT level, object, message FROM covg5_h.mine('trigger_writes_unprotected_table');
DROP TRIGGER zz_log_order ON covg5.sales;
SELECT count(*) AS after_drop FROM covg5_h.mine('trigger_writes_unprotected_table');

-- ==== 2. the audit log read with a superuser's rights: a SECURITY DEFINER
-- function, a materialized view and a view (not security_invoker) over it
CREATE FUNCTION covg5_h.changes_since(t timestamptz) RETURNS SETOF tenant_rls.audit_log
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM tenant_rls.audit_log WHERE logged_at > t $$;
CREATE MATERIALIZED VIEW covg5_h.change_mv AS SELECT tenant, table_name, new_row FROM tenant_rls.audit_log;
CREATE VIEW covg5_h.change_v AS SELECT tenant, table_name FROM tenant_rls.audit_batch;
GRANT SELECT ON covg5_h.change_mv, covg5_h.change_v TO covg5_app;
SET ROLE covg5_app;
BEGIN;
SELECT * FROM covg5_h.as_b($$SELECT DISTINCT tenant FROM covg5_h.changes_since('-infinity') WHERE tenant = 'a'$$);
SELECT * FROM covg5_h.as_b($$SELECT DISTINCT tenant FROM covg5_h.change_mv WHERE tenant = 'a'$$);
SELECT * FROM covg5_h.as_b($$SELECT DISTINCT tenant FROM covg5_h.change_v WHERE tenant = 'a'$$);
COMMIT;
RESET ROLE;
SELECT code, level, object FROM tenant_rls.lint()
 WHERE code IN ('security_definer_reads_tenant_table', 'materialized_view_over_tenant_table', 'view_not_security_invoker')
   AND object LIKE 'covg5_h.%' ORDER BY 1, 3;
SELECT fix FROM tenant_rls.lint() WHERE code = 'view_not_security_invoker' AND object = 'covg5_h.change_v' \gexec
SET ROLE covg5_app;
BEGIN;
SELECT * FROM covg5_h.as_b($$SELECT DISTINCT tenant FROM covg5_h.change_v WHERE tenant = 'a'$$);
COMMIT;
RESET ROLE;
DROP FUNCTION covg5_h.changes_since(timestamptz);
DROP MATERIALIZED VIEW covg5_h.change_mv;
DROP VIEW covg5_h.change_v;

-- ==== 3. security_definer_changes_isolation: a SECURITY DEFINER function of
-- the table owner grants the caller's tenant another tenant's rows
SET ROLE covg5_owner;
CREATE FUNCTION covg5.share_with(tbl regclass, partner text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM covg5.share_helper(tbl, partner); END $$;
CREATE FUNCTION covg5.share_helper(tbl regclass, partner text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM tenant_rls.grant_access(tbl, partner, tenant_rls.current_tenant(), 'write'); END $$;
RESET ROLE;
SELECT level, object, message FROM covg5_h.mine('security_definer_changes_isolation');
SET ROLE covg5_app;
BEGIN;
SELECT * FROM covg5_h.as_b($$SELECT covg5.share_with('covg5.sales', 'a')::text$$);
SELECT * FROM covg5_h.as_b($$SELECT item FROM covg5.sales ORDER BY id$$);
ROLLBACK;
RESET ROLE;
-- naming those functions in a comment or a string, or reading their
-- tables, changes nothing: not reported
SET ROLE covg5_owner;
CREATE FUNCTION covg5.list_protected() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- we never call grant_access() or unprotect() here
    RAISE NOTICE 'see tenant_rls.grant_access()';
    RETURN (SELECT count(*) FROM tenant_rls.protected_table);
END
$$;
RESET ROLE;
SELECT level, object FROM covg5_h.mine('security_definer_changes_isolation');
DROP FUNCTION covg5.list_protected();
-- EXECUTE revoked from PUBLIC: a warning (administrators may still call it)
REVOKE EXECUTE ON FUNCTION covg5.share_with(regclass, text) FROM PUBLIC;
SELECT level, object FROM covg5_h.mine('security_definer_changes_isolation');
-- the fix: SECURITY INVOKER; as the caller, grant_access() refuses
SELECT fix FROM tenant_rls.lint() WHERE code = 'security_definer_changes_isolation' AND object LIKE 'covg5.%' \gexec
GRANT EXECUTE ON FUNCTION covg5.share_with(regclass, text) TO covg5_app;
SET ROLE covg5_app;
BEGIN;
SELECT * FROM covg5_h.as_b($$SELECT covg5.share_with('covg5.sales', 'a')::text$$);
ROLLBACK;
RESET ROLE;
SELECT count(*) AS after_fix FROM covg5_h.mine('security_definer_changes_isolation');
-- a SECURITY DEFINER function of a role that owns no tenant table: its
-- grant_access() is held to the owner tenant, not reported
CREATE ROLE covg5_other NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA covg5_h TO covg5_other;
SET ROLE covg5_other;
CREATE FUNCTION covg5_h.share_mine(tbl regclass, partner text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT tenant_rls.grant_access(tbl, tenant_rls.current_tenant(), partner, 'read') $$;
RESET ROLE;
SELECT count(*) AS not_owner FROM tenant_rls.lint()
 WHERE code = 'security_definer_changes_isolation' AND object LIKE 'covg5_h.%';
DROP FUNCTION covg5_h.share_mine(regclass, text);
REVOKE ALL ON SCHEMA covg5_h FROM covg5_other;
DROP ROLE covg5_other;

-- ==== 4. tenant rows outside the managed schemas, reached without a grant
-- on the table: a view, a materialized view, a SECURITY DEFINER function,
-- a column grant
CREATE SCHEMA covg5_archive AUTHORIZATION covg5_owner;
SET ROLE covg5_owner;
CREATE TABLE covg5_archive.customers (id int, tenant_id text, ssn text);
INSERT INTO covg5_archive.customers VALUES (1, 'a', '123-45-6789');
RESET ROLE;
CREATE VIEW covg5_h.old_cust AS SELECT * FROM covg5_archive.customers;
ALTER VIEW covg5_h.old_cust OWNER TO covg5_owner;
CREATE MATERIALIZED VIEW covg5_h.cust_mv AS SELECT * FROM covg5_archive.customers;
ALTER MATERIALIZED VIEW covg5_h.cust_mv OWNER TO covg5_owner;
CREATE FUNCTION covg5_h.cust_ssn(i int) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT ssn FROM covg5_archive.customers WHERE id = i $$;
ALTER FUNCTION covg5_h.cust_ssn(int) OWNER TO covg5_owner;
GRANT SELECT ON covg5_h.old_cust, covg5_h.cust_mv TO covg5_app;
SET ROLE covg5_app;
BEGIN;
SELECT * FROM covg5_h.as_b($$SELECT ssn FROM covg5_h.old_cust$$);
SELECT * FROM covg5_h.as_b($$SELECT ssn FROM covg5_h.cust_mv$$);
SELECT * FROM covg5_h.as_b($$SELECT covg5_h.cust_ssn(1)$$);
COMMIT;
RESET ROLE;
SELECT code, level, object, message FROM tenant_rls.lint()
 WHERE (object LIKE 'covg5_h.%' OR object LIKE 'covg5_archive.%')
   AND code NOT IN ('security_definer_changes_isolation') ORDER BY 1, 3;
DROP VIEW covg5_h.old_cust;
DROP MATERIALIZED VIEW covg5_h.cust_mv;
DROP FUNCTION covg5_h.cust_ssn(int);
-- a column grant alone: reported, the grantee named
SELECT count(*) AS before_grant FROM covg5_h.mine('table_outside_managed_schemas');
GRANT USAGE ON SCHEMA covg5_archive TO covg5_app;
GRANT SELECT (id, ssn) ON covg5_archive.customers TO covg5_app;
SET ROLE covg5_app;
SELECT id, ssn FROM covg5_archive.customers;
RESET ROLE;
SELECT level, object, message FROM covg5_h.mine('table_outside_managed_schemas');

-- ==== 5. an accepted table_outside_managed_schemas lapses when the table is
-- granted to another role (who may read it is in the message)
SELECT tenant_rls.accept_finding('table_outside_managed_schemas', 'covg5_archive.customers', 'the app reads the ids only');
SELECT level, object, accepted FROM tenant_rls.lint()
 WHERE code = 'table_outside_managed_schemas' AND object = 'covg5_archive.customers';
GRANT SELECT ON covg5_archive.customers TO PUBLIC;
SELECT level, object, accepted FROM tenant_rls.lint()
 WHERE code = 'table_outside_managed_schemas' AND object = 'covg5_archive.customers';
SELECT tenant_rls.unaccept_finding('table_outside_managed_schemas', 'covg5_archive.customers');

-- ==== 6. ts_rewrite(tsquery, text) runs the query it is given
CREATE FUNCTION covg5_h.search_terms(q text, src text) RETURNS tsquery LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT ts_rewrite(q::tsquery, src) $$;
SET ROLE covg5_app;
BEGIN;
SELECT * FROM covg5_h.as_b($q$SELECT covg5_h.search_terms('x', $s$SELECT 'x'::tsquery, quote_literal(quote_literal(item || ' / ' || tenant_id))::tsquery FROM covg5.sales WHERE id = 1$s$)::text$q$);
COMMIT;
RESET ROLE;
SELECT level, object, message FROM tenant_rls.lint()
 WHERE code = 'security_definer_reads_tenant_table' AND object LIKE 'covg5_h.search_terms%';
DROP FUNCTION covg5_h.search_terms(text, text);

-- ==== 7. existence oracles: a unique column whose default only looks
-- random, an exclusion constraint comparing the tenant column with <>
CREATE EXTENSION IF NOT EXISTS btree_gist;
SET ROLE covg5_owner;
CREATE FUNCTION covg5.uuid_generate_v4() RETURNS text LANGUAGE sql AS $$ SELECT NULL::text $$;
CREATE TABLE covg5.people (id uuid DEFAULT gen_random_uuid() PRIMARY KEY, tenant_id text NOT NULL,
    email text DEFAULT covg5.uuid_generate_v4() UNIQUE, room int, during tstzrange,
    EXCLUDE USING gist (tenant_id WITH <>, room WITH =, during WITH &&));
CREATE TABLE covg5.rooms (tenant_id text NOT NULL, room int, during tstzrange,
    EXCLUDE USING gist (tenant_id WITH =, room WITH =, during WITH &&));
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg5.people');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg5.rooms');
SELECT code, level, object FROM tenant_rls.lint()
 WHERE code IN ('unique_not_leading_tenant', 'index_not_leading_tenant')
   AND object ~ '^covg5\.(people|rooms)' ORDER BY 1, 3;

-- ==== 8. the fix for an owner's policy named like tenant_rls's: the drift
-- guard refuses to drop it, so the fix runs with drift_action = warning
SET ROLE covg5_owner;
CREATE POLICY tenant_rls_support ON covg5.sales FOR SELECT USING (true);
DROP POLICY tenant_rls_support ON covg5.sales;
RESET ROLE;
SELECT level, object, fix FROM covg5_h.mine('extra_permissive_policy');
SELECT fix FROM tenant_rls.lint() WHERE code = 'extra_permissive_policy' AND object LIKE '%covg5%' \gexec
SELECT count(*) AS left_over FROM pg_policy WHERE polname = 'tenant_rls_support';
SHOW tenant_rls.drift_action;

-- ==== 9. (review rev22c) the signing key stored where every role reads it:
-- a new session that has not loaded the library stores it unchecked
\c
SET client_min_messages = error;
ALTER ROLE covg5_app SET tenant_rls.signing_key = 'covg5-secret-covg5-secret-covg5-secret-0123';
CREATE FUNCTION covg5_h.keyed() RETURNS int LANGUAGE sql
    SET tenant_rls.signing_key_previous = 'covg5-secret-covg5-secret-covg5-secret-4567' AS 'SELECT 1';
SELECT code, level, object, message, fix FROM tenant_rls.lint()
 WHERE code = 'signing_key_stored' ORDER BY 3;
-- the report never shows the value
SELECT count(*) AS shown FROM tenant_rls.lint() l WHERE l::text LIKE '%covg5-secret%';
SELECT fix FROM tenant_rls.lint() WHERE code = 'signing_key_stored' ORDER BY object \gexec
SELECT count(*) AS after_fix FROM tenant_rls.lint() WHERE code = 'signing_key_stored';
DROP FUNCTION covg5_h.keyed();

-- ==== 10. row_security = off as a stored default: with
-- check_function_bodies = off as well, a session looks like a restore and
-- auto-protection leaves its tables alone
SELECT format('ALTER DATABASE %I SET row_security = off', current_database()) \gexec
SELECT code, level, message FROM tenant_rls.lint()
 WHERE code = 'weakened_setting_default' AND object LIKE 'row_security%';
SELECT fix FROM tenant_rls.lint() WHERE code = 'weakened_setting_default' AND object LIKE 'row_security%' \gexec
SELECT count(*) AS after_fix FROM tenant_rls.lint()
 WHERE code = 'weakened_setting_default' AND object LIKE 'row_security%';

-- ==== clean up
SET client_min_messages = error;
DROP SCHEMA covg5 CASCADE;
DROP SCHEMA covg5_side CASCADE;
DROP SCHEMA covg5_archive CASCADE;
DROP SCHEMA covg5_h CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg5';
END $$;
DROP ROLE covg5_app, covg5_owner;
RESET client_min_messages;
