--
-- Coverage report: deferred audit delivery configured but not running
-- (audit_delivery_inactive) and its replication slot without a worker
-- (audit_delivery_stalled).  The regression clusters do not preload the
-- library, so deferred delivery cannot run here: both are reported with the
-- advice to preload it (fix NULL); the preloaded cases are in doc/coverage.md.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covd_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covd_other NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- the findings of this test, the database name and its oid masked
CREATE FUNCTION pg_temp.mine() RETURNS TABLE(code text, level text, object text, message text,
                                            detail text, fix text)
    LANGUAGE sql AS $$
    SELECT l.code, l.level, m.object, m.message, m.detail, l.fix
      FROM tenant_rls.lint() l
     CROSS JOIN LATERAL (SELECT replace(replace(l.object, current_database(), '<db>'), d.oid::text, '<oid>'),
                                replace(replace(l.message, current_database(), '<db>'), d.oid::text, '<oid>'),
                                regexp_replace(replace(l.detail, current_database(), '<db>'),
                                               '\([^()]* so far\)', '(<size> so far)')
                           FROM pg_database d WHERE d.datname = current_database()) m(object, message, detail)
     WHERE l.code IN ('audit_delivery_inactive', 'audit_delivery_stalled')
     ORDER BY 1, 3
$$;

-- without preloading, the status says so and nothing is reported
SELECT delivery, worker_running, worker_pid, slot_name IS NULL AS no_slot FROM tenant_rls.audit_delivery_status();
SELECT * FROM pg_temp.mine();

-- ==== audit_delivery_inactive: deferred is a role's, a role's in this
-- database and this database's default; not preloaded, so the fix is NULL
-- and the detail says to preload
ALTER ROLE covd_app SET tenant_rls.audit_delivery = deferred;
DO $$ BEGIN
    EXECUTE format('ALTER ROLE covd_other IN DATABASE %I SET tenant_rls.audit_delivery = ''deferred''', current_database());
    EXECUTE format('ALTER DATABASE %I SET tenant_rls.audit_delivery = DEFERRED', current_database());
END $$;
\x on
SELECT * FROM pg_temp.mine();
\x off
-- lint_json() and the SARIF rules carry the new codes
SELECT f->>'code' AS code, f->>'level' AS level, f->>'object_kind' AS kind
  FROM jsonb_array_elements(tenant_rls.lint_json()->'findings') f
 WHERE f->>'code' LIKE 'audit_delivery%' ORDER BY 1, f->>'object';
SELECT r->>'id' AS id, r #>> '{defaultConfiguration,level}' AS level
  FROM jsonb_array_elements(tenant_rls.lint_sarif() #> '{runs,0,tool,driver,rules}') r
 WHERE r->>'id' LIKE 'audit_delivery%' ORDER BY 1;
-- immediate, or a role's default in another database, is not reported
ALTER ROLE covd_app SET tenant_rls.audit_delivery = immediate;
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I RESET tenant_rls.audit_delivery', current_database());
    EXECUTE format('ALTER ROLE covd_other IN DATABASE %I RESET tenant_rls.audit_delivery', current_database());
END $$;
ALTER ROLE covd_other IN DATABASE template1 SET tenant_rls.audit_delivery = deferred;
SELECT code, object FROM pg_temp.mine();
ALTER ROLE covd_other IN DATABASE template1 RESET tenant_rls.audit_delivery;
ALTER ROLE covd_app RESET tenant_rls.audit_delivery;
-- ALTER SYSTEM (postgresql.auto.conf; read from the file, before a reload)
ALTER SYSTEM SET tenant_rls.audit_delivery = deferred;
SELECT l.level, l.object LIKE 'configuration file %postgresql.auto.conf' AS object_ok,
       l.message LIKE 'ALTER SYSTEM sets tenant_rls.audit_delivery = deferred (%postgresql.auto.conf, line %), but deferred delivery is not running in database %' AS message_ok,
       l.detail LIKE '%or, if immediate delivery is what you want, ALTER SYSTEM RESET tenant_rls.audit_delivery (then SELECT pg_reload_conf()).' AS detail_ok,
       l.fix
  FROM tenant_rls.lint() l WHERE l.code = 'audit_delivery_inactive';
ALTER SYSTEM RESET tenant_rls.audit_delivery;
SELECT * FROM pg_temp.mine();

-- ==== audit_delivery_stalled: this database's slot exists, no worker
-- reads it (here: the library is not preloaded; the slot as a leftover of
-- a server that preloaded it)
SELECT 1 FROM pg_create_physical_replication_slot(
    'tenant_rls_audit_' || (SELECT oid FROM pg_database WHERE datname = current_database()), true);
SELECT delivery, worker_running, replace(slot_name, (SELECT oid::text FROM pg_database WHERE datname = current_database()), '<oid>') AS slot_name
  FROM tenant_rls.audit_delivery_status();
\x on
SELECT * FROM pg_temp.mine();
\x off
-- audit_delivery_stop() refuses without the library: the slot may hold changes
\set VERBOSITY terse
SELECT tenant_rls.audit_delivery_stop();
\set VERBOSITY default
-- a slot of another database is not this database's
SELECT pg_drop_replication_slot('tenant_rls_audit_' || (SELECT oid FROM pg_database WHERE datname = current_database()));
SELECT 1 FROM pg_create_physical_replication_slot(
    'tenant_rls_audit_' || (SELECT oid FROM pg_database WHERE datname = 'template1'));
SELECT * FROM pg_temp.mine();
SELECT pg_drop_replication_slot('tenant_rls_audit_' || (SELECT oid FROM pg_database WHERE datname = 'template1'));
-- nothing left; without a slot audit_delivery_stop() has nothing to do
SELECT tenant_rls.audit_delivery_stop();
SELECT * FROM pg_temp.mine();
SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tenant_rls_audit_%';

-- ==== clean up
DROP ROLE covd_app, covd_other;
SELECT count(*) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE c LIKE 'tenant_rls.audit_delivery%';
