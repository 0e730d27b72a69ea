--
-- Coverage report, review rev49g of session 49's coverage change (516ef9b).
-- 1. tenant_sequence_privilege: the fix of a role holding UPDATE WITH GRANT
-- OPTION revokes with CASCADE, which also took UPDATE from the roles it had
-- granted it to; without USAGE their INSERTs lost their ids (permission
-- denied for sequence).  The fix now gives them USAGE first.
-- 2. trigger_writes_unprotected_table / table_without_tenant_column: a
-- BYPASSRLS role reads every tenant's rows anyway: not a reader (an error
-- was a false positive), unless a role that is not BYPASSRLS is a member of
-- it; the owner of the table written is a reader when it is a login role
-- (an application that owns its log table read every tenant's rows there,
-- and the finding stayed a warning).
-- 3. table_without_tenant_column: the table of tenants itself, with a
-- foreign key to itself (a parent tenant), was an error whose fix protected
-- it by its parent column.
-- Isolation is checked as covg17_app: not superuser, not BYPASSRLS, not
-- the owner of the tenant table.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg17_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg17_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg17_dep LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg17_byp NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg17_bypgrp NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT covg17_bypgrp TO covg17_app;
CREATE SCHEMA covg17 AUTHORIZATION covg17_owner;
GRANT USAGE ON SCHEMA covg17 TO covg17_app, covg17_dep;
SET tenant_rls.managed_schemas = 'covg17';
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE (level text, object text, message text, detail text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.detail, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ~ 'covg17' ORDER BY l.object
$$;

-- ==== 1. the CASCADE of a grant option keeps the INSERTs of the roles it reached
SET ROLE covg17_owner;
CREATE TABLE covg17.orgs (id uuid PRIMARY KEY, parent uuid REFERENCES covg17.orgs);
CREATE TABLE covg17.items (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES covg17.orgs, v text);
GRANT SELECT, INSERT ON covg17.items TO covg17_app, covg17_dep;
GRANT UPDATE ON SEQUENCE covg17.items_id_seq TO covg17_app WITH GRANT OPTION;
SET ROLE covg17_app;
GRANT UPDATE ON SEQUENCE covg17.items_id_seq TO covg17_dep;
RESET ROLE;
-- (items is protected by auto-protection: a managed schema)
INSERT INTO covg17.orgs VALUES ('11111111-1111-1111-1111-111111111111'), ('22222222-2222-2222-2222-222222222222');
SELECT object, fix FROM pg_temp.mine('tenant_sequence_privilege');
SELECT fix FROM pg_temp.mine('tenant_sequence_privilege') WHERE fix IS NOT NULL \gexec
SELECT count(*) AS left_after_fix FROM pg_temp.mine('tenant_sequence_privilege');
-- both still insert (nextval() through USAGE); neither may setval()
SET ROLE covg17_dep;
BEGIN;
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS set;
INSERT INTO covg17.items (v) VALUES ('dep row');
COMMIT;
SELECT setval('covg17.items_id_seq', 1);
SET ROLE covg17_app;
BEGIN;
SELECT tenant_rls.set_tenant('22222222-2222-2222-2222-222222222222') IS NOT NULL AS set;
INSERT INTO covg17.items (v) VALUES ('app row');
COMMIT;
SELECT setval('covg17.items_id_seq', 1);
RESET ROLE;

-- ==== 2. who reads the table a trigger writes
SET ROLE covg17_owner;
CREATE TABLE covg17.log_byp (v text);        -- read by a BYPASSRLS role only
GRANT SELECT ON covg17.log_byp TO covg17_byp;
CREATE TABLE covg17.log_grp (v text);        -- read by a BYPASSRLS role covg17_app is a member of
GRANT SELECT ON covg17.log_grp TO covg17_bypgrp;
CREATE TABLE covg17.log_own (v text);        -- owned by the application's login role
CREATE FUNCTION covg17.w_byp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg17 AS
$$ BEGIN INSERT INTO covg17.log_byp VALUES (NEW.v); RETURN NEW; END $$;
CREATE FUNCTION covg17.w_grp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg17 AS
$$ BEGIN INSERT INTO covg17.log_grp VALUES (NEW.v); RETURN NEW; END $$;
CREATE FUNCTION covg17.w_own() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg17 AS
$$ BEGIN INSERT INTO covg17.log_own VALUES (NEW.v); RETURN NEW; END $$;
CREATE TRIGGER t_byp AFTER INSERT ON covg17.items FOR EACH ROW EXECUTE FUNCTION covg17.w_byp();
CREATE TRIGGER t_grp AFTER INSERT ON covg17.items FOR EACH ROW EXECUTE FUNCTION covg17.w_grp();
CREATE TRIGGER t_own AFTER INSERT ON covg17.items FOR EACH ROW EXECUTE FUNCTION covg17.w_own();
RESET ROLE;
ALTER TABLE covg17.log_own OWNER TO covg17_app;
GRANT INSERT ON covg17.log_own TO covg17_owner;
-- t_byp a warning; t_grp and t_own errors, naming their readers
SELECT level, object, detail ~ 'covg17_bypgrp' AS names_group, detail ~ 'covg17_app \(its owner\)' AS names_owner
  FROM pg_temp.mine('trigger_writes_unprotected_table');
-- the leak behind t_own: a tenant reads another tenant's row in log_own
SET ROLE covg17_app;
BEGIN;
SELECT tenant_rls.set_tenant('22222222-2222-2222-2222-222222222222') IS NOT NULL AS set;
INSERT INTO covg17.items (v) VALUES ('secret of tenant 2');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS set;
SELECT v AS tenant_1_reads FROM covg17.log_own WHERE v ~ 'tenant 2';
COMMIT;
RESET ROLE;

-- ==== 3. the table of tenants, with a parent tenant, readable by all;
-- and a per-tenant table read by a BYPASSRLS service role only
SET ROLE covg17_owner;
GRANT SELECT ON covg17.orgs TO PUBLIC;
CREATE TABLE covg17.org_config (org uuid PRIMARY KEY REFERENCES covg17.orgs, smtp text);
GRANT SELECT ON covg17.org_config TO covg17_byp;
RESET ROLE;
SELECT level, object, detail ~ 'tenant_column =>' AS offers_protect_by_column FROM pg_temp.mine('table_without_tenant_column')
 WHERE object IN ('covg17.orgs', 'covg17.org_config');

-- ==== 4. policy_reads_other_setting: the guard of the policy's own
-- command.  With the UPDATE guard gone (the drift guard in warning mode let
-- it go) and the SELECT guard in place, a permissive UPDATE policy that
-- trusts a setting lets a tenant overwrite every tenant's rows with an
-- UPDATE without WHERE (only UPDATE policies apply to it): an error
SET ROLE covg17_owner;
CREATE POLICY adm_upd ON covg17.items FOR UPDATE USING (current_setting('app.is_admin', true) = 'on');
RESET ROLE;
GRANT UPDATE ON covg17.items TO covg17_app;
SELECT level, object FROM pg_temp.mine('policy_reads_other_setting');
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
DROP POLICY tenant_rls_guard_update ON covg17.items;
RESET tenant_rls.drift_action;
SET client_min_messages = warning;
SELECT level, object FROM pg_temp.mine('policy_reads_other_setting');
SET ROLE covg17_app;
BEGIN;
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS set;
SET LOCAL app.is_admin = 'on';
UPDATE covg17.items SET v = 'overwritten by tenant 1';
COMMIT;
RESET ROLE;
SELECT tenant_id, v FROM covg17.items WHERE v ~ 'overwritten' ORDER BY 1;

-- clean up
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
RESET tenant_rls.managed_schemas;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg17.items');
DROP SCHEMA covg17 CASCADE;
DROP OWNED BY covg17_app;
DROP OWNED BY covg17_dep;
DROP OWNED BY covg17_owner;
DROP ROLE covg17_app, covg17_dep, covg17_byp, covg17_bypgrp, covg17_owner;
