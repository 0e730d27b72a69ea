--
-- Coverage report, second review: situations that stop auditing, switch
-- off the event triggers or open the extension's own objects, which lint()
-- did not report.  For each: build the situation, see the finding, run the
-- fix it gives, see it gone.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg2_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE "Covg2 App" LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg2_auditor NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = '"Covg2 Schema"';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA "Covg2 Schema";

\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix
-- the findings of this test (not those other tests left)
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE(level text, object text, message text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, replace(l.object, current_database(), '<db>'), replace(l.message, current_database(), '<db>'),
           replace(l.fix, current_database(), '<db>')
      FROM tenant_rls.lint() l
     WHERE l.code = c AND (l.object ILIKE '%covg2%' OR l.code IN ('event_trigger_disabled', 'replication_role_default'))
     ORDER BY 2, 1
$$;

CREATE TABLE "Covg2 Schema"."Orders ""1""" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL);
CREATE INDEX ON "Covg2 Schema"."Orders ""1""" (tenant_id);
SELECT tenant_rls.protect('"Covg2 Schema"."Orders ""1"""');
SELECT tenant_rls.enable_audit('"Covg2 Schema"."Orders ""1"""');
CREATE TABLE "Covg2 Schema".events (tenant_id text NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE "Covg2 Schema"."Events 2026" PARTITION OF "Covg2 Schema".events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON "Covg2 Schema".events (tenant_id, at);
SELECT tenant_rls.protect('"Covg2 Schema".events');
SELECT tenant_rls.enable_audit('"Covg2 Schema".events');
SELECT code, level, object FROM tenant_rls.lint() WHERE object ILIKE '%covg2%' ORDER BY 1, 3;

-- ==== audit_missing: the audit TRUNCATE trigger of an audited table
-- disabled, or set to ENABLE REPLICA (was missed: only the row trigger was
-- looked at)
ALTER TABLE "Covg2 Schema"."Orders ""1""" DISABLE TRIGGER tenant_rls_audit_truncate;
SELECT * FROM pg_temp.mine('audit_missing');
SELECT pg_temp.apply_fix('audit_missing', '"Covg2 Schema"."Orders ""1"""');
SELECT * FROM pg_temp.mine('audit_missing');
ALTER TABLE "Covg2 Schema"."Orders ""1""" ENABLE REPLICA TRIGGER tenant_rls_audit_truncate;
SELECT * FROM pg_temp.mine('audit_missing');
SELECT pg_temp.apply_fix('audit_missing', '"Covg2 Schema"."Orders ""1"""');
SELECT * FROM pg_temp.mine('audit_missing');
-- ENABLE ALWAYS fires too: not reported
ALTER TABLE "Covg2 Schema"."Orders ""1""" ENABLE ALWAYS TRIGGER tenant_rls_audit_truncate;
SELECT * FROM pg_temp.mine('audit_missing');
ALTER TABLE "Covg2 Schema"."Orders ""1""" ENABLE TRIGGER tenant_rls_audit_truncate;
-- ... of a partition (statement triggers are not cloned: it has its own),
-- dropped: the fix creates it again
DROP TRIGGER tenant_rls_audit_truncate ON "Covg2 Schema"."Events 2026";
SELECT * FROM pg_temp.mine('audit_missing');
SELECT pg_temp.apply_fix('audit_missing', '"Covg2 Schema"."Events 2026"');
SELECT * FROM pg_temp.mine('audit_missing');
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = '"Covg2 Schema"."Events 2026"'::regclass ORDER BY 1;
-- and it records a TRUNCATE of the partition again
SELECT tenant_rls.set_tenant('acme');
INSERT INTO "Covg2 Schema"."Events 2026" VALUES ('acme', '2026-05-01');
TRUNCATE "Covg2 Schema"."Events 2026";
SELECT operation, table_name FROM tenant_rls.audit_log WHERE schema_name = 'Covg2 Schema' ORDER BY 1;
SELECT tenant_rls.clear_tenant();
-- a table whose row trigger does not fire either: one finding (the row
-- trigger's), whose fix restores both
SET tenant_rls.audit = on;
ALTER TABLE "Covg2 Schema"."Orders ""1""" DISABLE TRIGGER USER;
SELECT * FROM pg_temp.mine('audit_missing');
SELECT pg_temp.apply_fix('audit_missing', '"Covg2 Schema"."Orders ""1"""');
SELECT * FROM pg_temp.mine('audit_missing');
SET tenant_rls.audit = off;

-- ==== replication_role_default: session_replication_role = replica as a
-- role's, a role's in a database, a database's or the server's default (was
-- missed): triggers and event triggers do not fire in such sessions
ALTER ROLE "Covg2 App" SET session_replication_role = replica;
DO $$ BEGIN
    EXECUTE format('ALTER ROLE covg2_owner IN DATABASE %I SET session_replication_role = ''replica''', current_database());
END $$;
SELECT * FROM pg_temp.mine('replication_role_default');
SELECT pg_temp.apply_fix('replication_role_default', 'role "Covg2 App"');
SELECT replace(pg_temp.apply_fix('replication_role_default',
                                 format('role covg2_owner in database %I', current_database())),
               current_database(), '<db>');
SELECT * FROM pg_temp.mine('replication_role_default');
SELECT count(*) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE c LIKE 'session_replication_role%';
-- the database's default
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET session_replication_role = replica', current_database());
END $$;
SELECT * FROM pg_temp.mine('replication_role_default');
SELECT replace(pg_temp.apply_fix('replication_role_default', format('database %I', current_database())),
               current_database(), '<db>');
SELECT * FROM pg_temp.mine('replication_role_default');
-- another value is not reported
ALTER ROLE "Covg2 App" SET session_replication_role = local;
SELECT * FROM pg_temp.mine('replication_role_default');
ALTER ROLE "Covg2 App" RESET session_replication_role;
-- ALTER SYSTEM (postgresql.auto.conf): the fix is a statement of its own
ALTER SYSTEM SET session_replication_role = replica;
SELECT l.level, l.object LIKE 'configuration file %postgresql.auto.conf' AS object_ok, l.fix
  FROM tenant_rls.lint() l WHERE l.code = 'replication_role_default';
SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'replication_role_default' \gexec
SELECT * FROM pg_temp.mine('replication_role_default');

-- ==== event_trigger_disabled: an event trigger of the extension disabled
-- or ENABLE REPLICA (was missed): auto-protection and the drift guard are off
ALTER EVENT TRIGGER tenant_rls_sql_drop DISABLE;
ALTER EVENT TRIGGER tenant_rls_ddl_command_end ENABLE REPLICA;
SELECT * FROM pg_temp.mine('event_trigger_disabled');
-- the drift guard is off: DISABLE ROW LEVEL SECURITY goes through
ALTER TABLE "Covg2 Schema"."Orders ""1""" DISABLE ROW LEVEL SECURITY;
SELECT pg_temp.apply_fix('event_trigger_disabled', 'tenant_rls_sql_drop');
SELECT pg_temp.apply_fix('event_trigger_disabled', 'tenant_rls_ddl_command_end');
SELECT * FROM pg_temp.mine('event_trigger_disabled');
SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname LIKE 'tenant_rls%' ORDER BY 1;
SELECT pg_temp.apply_fix('rls_disabled', '"Covg2 Schema"."Orders ""1"""');
-- the guard is back
ALTER TABLE "Covg2 Schema"."Orders ""1""" DISABLE ROW LEVEL SECURITY;

-- ==== extension_privilege: privileges on the extension's objects beyond a
-- plain install (was missed)
-- a cross-tenant read: INSERT on tenant_grant (with grant option)
GRANT INSERT ON tenant_rls.tenant_grant TO "Covg2 App" WITH GRANT OPTION;
-- the accepted findings, a column
GRANT UPDATE (reason) ON tenant_rls.accepted_finding TO covg2_auditor;
-- a partition of the audit log: every tenant's entries
GRANT SELECT ON tenant_rls.audit_batch_default TO PUBLIC;
-- CREATE on the schema: an overload captures calls
GRANT CREATE ON SCHEMA tenant_rls TO "Covg2 App";
-- a documented deliberate grant: info; to PUBLIC: warning
GRANT EXECUTE ON FUNCTION tenant_rls.lint() TO covg2_auditor;
GRANT EXECUTE ON FUNCTION tenant_rls.sign_tenant(text, interval) TO PUBLIC;
-- what PUBLIC has anyway gives nothing more: not reported
GRANT SELECT ON tenant_rls.audit_log TO covg2_auditor;
GRANT EXECUTE ON FUNCTION tenant_rls.current_tenant() TO covg2_auditor;
SELECT l.level, l.object, l.message, l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'extension_privilege' ORDER BY 2;
SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'extension_privilege' \gexec
SELECT l.level, l.object FROM tenant_rls.lint() l WHERE l.code = 'extension_privilege';
SELECT has_table_privilege('Covg2 App', 'tenant_rls.tenant_grant', 'INSERT') AS app_insert,
       has_schema_privilege('Covg2 App', 'tenant_rls', 'CREATE') AS app_create,
       has_column_privilege('covg2_auditor', 'tenant_rls.accepted_finding', 'reason', 'UPDATE') AS auditor_update,
       has_function_privilege('covg2_auditor', 'tenant_rls.lint()', 'EXECUTE') AS auditor_lint;
REVOKE SELECT ON tenant_rls.audit_log FROM covg2_auditor;
REVOKE EXECUTE ON FUNCTION tenant_rls.current_tenant() FROM covg2_auditor;
-- a partition of the audit log created under default privileges (as
-- pg_restore re-creates them): reported
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO "Covg2 App";
CREATE TABLE tenant_rls.audit_batch_p209901 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2099-01-01') TO ('2099-02-01');
ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM "Covg2 App";
SELECT l.level, l.object, l.fix FROM tenant_rls.lint() l WHERE l.code = 'extension_privilege';
SELECT pg_temp.apply_fix('extension_privilege', 'tenant_rls.audit_batch_p209901 TO "Covg2 App"');
SELECT l.level, l.object FROM tenant_rls.lint() l WHERE l.code = 'extension_privilege';
DROP TABLE tenant_rls.audit_batch_p209901;

-- ==== nothing of this test is left
SELECT code, level, object FROM tenant_rls.lint()
 WHERE object ILIKE '%covg2%' OR code IN ('event_trigger_disabled', 'replication_role_default', 'extension_privilege')
 ORDER BY 1, 3;

-- ==== clean up
SELECT tenant_rls.disable_audit('"Covg2 Schema"."Orders ""1"""');
SELECT tenant_rls.disable_audit('"Covg2 Schema".events');
DROP SCHEMA "Covg2 Schema" CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'Covg2 Schema';
END $$;
DROP ROLE "Covg2 App", covg2_auditor, covg2_owner;
RESET client_min_messages;
