--
-- The audit tables and functions keep the privileges the install script
-- gives them, whatever default privileges (ALTER DEFAULT PRIVILEGES) say:
-- the role that runs CREATE EXTENSION or audit_maintain() may have default
-- privileges that grant every new table or function to some role.  A
-- monthly partition readable by such a role shows every tenant's entries
-- without row-level security (partitions have none), INSERT forges batches,
-- TRIGGER lets it attach a trigger that audit_purge() (SECURITY DEFINER)
-- runs; EXECUTE on audit_purge() or disable_audit() removes entries or
-- switches auditing off.
-- The attacker tr_aacl_app is not superuser, not BYPASSRLS, owns nothing.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_aacl_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tr_aacl_app';
SELECT pg_catalog.current_database() AS origdb \gset

-- 1. a partition created by audit_maintain() (or audit_create_partition())
--    under default privileges of the role that runs it
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO tr_aacl_app;
SELECT tenant_rls.audit_create_partition('2099-01-15 00:00+00') AS created;
-- only the owner holds privileges on it
SELECT a.grantee::regrole AS grantee, a.privilege_type
  FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
 WHERE c.oid = 'tenant_rls.audit_batch_p209901'::regclass AND a.grantee <> c.relowner
 ORDER BY 1, 2;
SET ROLE tr_aacl_app;
SELECT count(*) FROM tenant_rls.audit_batch_p209901;
INSERT INTO tenant_rls.audit_batch_p209901 SELECT * FROM tenant_rls.audit_batch WHERE false;
CREATE TRIGGER t BEFORE DELETE ON tenant_rls.audit_batch_p209901
    FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger();
RESET ROLE;
ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM tr_aacl_app;
DROP TABLE tenant_rls.audit_batch_p209901;

-- 2. CREATE EXTENSION under default privileges (a database of its own)
CREATE DATABASE tr_aacl_db;
\c tr_aacl_db
SET client_min_messages = warning;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO tr_aacl_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON FUNCTIONS TO tr_aacl_app;
-- (and a common hardening: functions not executable by PUBLIC by default)
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE EXTENSION tenant_rls;
RESET client_min_messages;
-- the audit relations: no privilege for tr_aacl_app; PUBLIC reads the log
SELECT c.relname, a.grantee::regrole AS grantee, a.privilege_type
  FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
 WHERE c.relnamespace = 'tenant_rls'::regnamespace AND c.relname LIKE 'audit%'
   AND a.grantee <> c.relowner
 ORDER BY 1, 2, 3;
-- the audit functions: none granted to tr_aacl_app
SELECT p.oid::regprocedure AS function
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.pronamespace = 'tenant_rls'::regnamespace
   AND a.grantee = 'tr_aacl_app'::regrole
   AND (p.proname LIKE 'audit%' OR p.proname LIKE '%_audit' OR p.proname LIKE '%updated_at%')
 ORDER BY 1;
-- the audit functions everybody must be able to run still are: the
-- trigger functions (PostgreSQL checks EXECUTE against the user who fires a
-- trigger: every audited write would fail) and the readers of the log
SELECT p.oid::regprocedure AS function, a.privilege_type
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.pronamespace = 'tenant_rls'::regnamespace AND a.grantee = 0
   AND (p.proname LIKE 'audit%' OR p.proname LIKE '%_audit' OR p.proname LIKE '%updated_at%')
 ORDER BY p.oid::regprocedure::text;
-- the partitions it created
SELECT count(*) AS partitions_granted
  FROM pg_catalog.pg_inherits i, pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
 WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass AND c.oid = i.inhrelid
   AND a.grantee = 'tr_aacl_app'::regrole;
SET ROLE tr_aacl_app;
SELECT count(*) FROM tenant_rls.audit_batch_default;
SELECT tenant_rls.audit_purge(pg_catalog.now() - interval '1 day');
SELECT tenant_rls.disable_audit('pg_catalog.pg_class');
SELECT * FROM tenant_rls.audit_verify();
INSERT INTO tenant_rls.audit_config (schema_name, table_name) VALUES ('x', 'y');
RESET ROLE;
\c :origdb
DROP DATABASE tr_aacl_db;

-- 3. the audit administration delegated to a table owner that is not a
--    superuser (review rev48c): without the privileges on audit_config and
--    updated_at_attach() it is refused with tenant_rls's own error before
--    anything changes; with them (doc/audit.md) it works
CREATE SCHEMA aacl AUTHORIZATION tr_aacl_app;
GRANT EXECUTE ON FUNCTION tenant_rls.enable_audit(regclass, text[], text[]), tenant_rls.disable_audit(regclass),
      tenant_rls.audit_maintain(integer), tenant_rls.audit_drop_trigger(regclass, name),
      tenant_rls.audit_sync_truncate_triggers(regclass), tenant_rls.enable_updated_at(regclass, name),
      tenant_rls.disable_updated_at(regclass) TO tr_aacl_app;
SET ROLE tr_aacl_app;
CREATE TABLE aacl.t (id int PRIMARY KEY, tenant_id text NOT NULL, secret text, upd timestamptz);
\set VERBOSITY default
SELECT tenant_rls.enable_audit('aacl.t', exclude => '{secret}');
SELECT tenant_rls.disable_audit('aacl.t');
SELECT tenant_rls.enable_updated_at('aacl.t', 'upd');
\set VERBOSITY terse
RESET ROLE;
SELECT count(*) AS triggers FROM pg_catalog.pg_trigger WHERE tgrelid = 'aacl.t'::regclass;
SELECT count(*) AS config_rows FROM tenant_rls.audit_config WHERE schema_name = 'aacl';
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_rls.audit_config TO tr_aacl_app;
GRANT EXECUTE ON FUNCTION tenant_rls.updated_at_attach(regclass, name) TO tr_aacl_app;
SET ROLE tr_aacl_app;
SELECT tenant_rls.enable_audit('aacl.t', exclude => '{secret}');
SELECT tenant_rls.enable_updated_at('aacl.t', 'upd');
SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'aacl.t'::regclass ORDER BY 1;
SELECT tenant_rls.disable_audit('aacl.t');
SELECT tenant_rls.disable_updated_at('aacl.t');
RESET ROLE;
SELECT count(*) AS triggers FROM pg_catalog.pg_trigger WHERE tgrelid = 'aacl.t'::regclass;
SELECT count(*) AS config_rows FROM tenant_rls.audit_config WHERE schema_name = 'aacl';
DROP SCHEMA aacl CASCADE;
REVOKE SELECT, INSERT, UPDATE, DELETE ON tenant_rls.audit_config FROM tr_aacl_app;
REVOKE EXECUTE ON FUNCTION tenant_rls.enable_audit(regclass, text[], text[]), tenant_rls.disable_audit(regclass),
      tenant_rls.audit_maintain(integer), tenant_rls.audit_drop_trigger(regclass, name),
      tenant_rls.audit_sync_truncate_triggers(regclass), tenant_rls.enable_updated_at(regclass, name),
      tenant_rls.disable_updated_at(regclass), tenant_rls.updated_at_attach(regclass, name) FROM tr_aacl_app;
DROP ROLE tr_aacl_app;
