--
-- Cross-tenant grants under load from a tenant (review reviso17 F3): what a
-- tenant session may do with grant_access() / revoke_access() must not cost
-- the other tenants.  Run as tr_grt_app: not superuser, not BYPASSRLS, not
-- the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_grt_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_grt_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA grt AUTHORIZATION tr_grt_owner;
GRANT USAGE ON SCHEMA grt TO tr_grt_app;

SET ROLE tr_grt_owner;
CREATE TABLE grt.docs (id integer PRIMARY KEY, tenant_id text, body text);
CREATE INDEX ON grt.docs (tenant_id);
INSERT INTO grt.docs SELECT i, 't' || (i % 4), 'doc ' || i FROM generate_series(1, 400) i;
SELECT count(*) FROM tenant_rls.protect('grt.docs');
GRANT SELECT, INSERT, UPDATE, DELETE ON grt.docs TO tr_grt_app;
RESET ROLE;

-- ------------------------------------------------------------------------
-- 1. A change that changes nothing writes nothing: no statement on
--    tenant_rls.tenant_grant, so its trigger (which invalidates caches in
--    every backend) does not fire.  A watcher trigger shows each statement.
-- ------------------------------------------------------------------------
CREATE FUNCTION grt.watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'tenant_grant: %', TG_OP;
  RETURN NULL;
END $$;
CREATE TRIGGER grt_watch AFTER INSERT OR UPDATE OR DELETE ON tenant_rls.tenant_grant
    FOR EACH STATEMENT EXECUTE FUNCTION grt.watch();

SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
-- revokes of nothing: no DELETE
SELECT tenant_rls.revoke_access('grt.docs', 't1', 'nobody');
SELECT tenant_rls.revoke_access('grt.docs', 't1', 'nobody', 'read');
-- a new grant writes; the same grant again does not
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read', NULL);
-- a different valid_until is a change, and the same one again is not
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read', '2999-01-01 00:00+00');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read', '2999-01-01 00:00+00');
-- another privilege is another grant
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'write');
-- a revoke that removes something still writes
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2', 'write');
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2', 'write');
COMMIT;
RESET ROLE;
SELECT table_name, owner_tenant, grantee_tenant, privilege, valid_until FROM tenant_rls.tenant_grant
 ORDER BY 1, 2, 3, 4;
DROP TRIGGER grt_watch ON tenant_rls.tenant_grant;
DROP FUNCTION grt.watch();

-- ------------------------------------------------------------------------
SET client_min_messages = warning;
SELECT count(*) FROM tenant_rls.unprotect('grt.docs');
DROP SCHEMA grt CASCADE;
DROP ROLE tr_grt_app;
DROP ROLE tr_grt_owner;
