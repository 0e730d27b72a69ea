--
-- Coverage report and replication: publications (a subscriber receives
-- every tenant's rows), subscriptions (the apply worker runs with
-- session_replication_role = replica: audit triggers that are not ENABLE
-- ALWAYS do not fire; an owner bound by row-level security stops the
-- apply worker), role_replication's fix ends the role's walsenders, and
-- unlogged tenant tables.  For each: the finding, its fix run, the finding
-- gone.  (A walsender of a role without REPLICATION needs a live
-- replication connection: test/t/071_coverage_replication.pl.)
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covr_repl LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covr_subowner SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covr';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covr AUTHORIZATION covr_owner;

\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE(level text, object text, message text, fix text, accepted boolean)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.fix, l.accepted FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ILIKE '%covr%'
     ORDER BY 2, 1
$$;

SET ROLE covr_owner;
CREATE TABLE covr.repl_orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text);
CREATE INDEX ON covr.repl_orders (tenant_id);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covr.repl_orders');
SELECT tenant_rls.enable_audit('covr.repl_orders');
INSERT INTO covr.repl_orders VALUES (1, 'acme', 'acme order'), (2, 'globex', 'globex secret');
SELECT code, level, object FROM tenant_rls.lint() WHERE object ILIKE '%covr%' ORDER BY 1, 3;

-- ==== tenant_table_unlogged: emptied by a crash, not on standbys
ALTER TABLE covr.repl_orders SET UNLOGGED;
SELECT level, object, message, fix FROM pg_temp.mine('tenant_table_unlogged');
SELECT c.table_name, c.status, c.warnings FROM tenant_rls.coverage() c WHERE c.table_name = 'covr.repl_orders';
SELECT pg_temp.apply_fix('tenant_table_unlogged', 'covr.repl_orders');
SELECT relpersistence FROM pg_class WHERE oid = 'covr.repl_orders'::regclass;
SELECT level, object FROM pg_temp.mine('tenant_table_unlogged');

-- ==== publication_includes_tenant_table
-- FOR TABLE a tenant table: warning, fixed by dropping it from the publication
CREATE PUBLICATION covr_pub FOR TABLE covr.repl_orders;
SELECT level, object, message, fix FROM pg_temp.mine('publication_includes_tenant_table');
SELECT pg_temp.apply_fix('publication_includes_tenant_table', 'covr_pub ON covr.repl_orders');
SELECT count(*) AS members FROM pg_publication_tables WHERE pubname = 'covr_pub';
SELECT level, object FROM pg_temp.mine('publication_includes_tenant_table');
-- FOR TABLE a table of tenant_rls (the cross-tenant grants): error
ALTER PUBLICATION covr_pub ADD TABLE tenant_rls.tenant_grant;
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'publication_includes_tenant_table' AND object LIKE 'covr_pub %';
ALTER PUBLICATION covr_pub DROP TABLE tenant_rls.tenant_grant;
-- FOR TABLE a partitioned table not protected itself, with a partition
-- protected on its own: publishing it publishes that partition's rows, and
-- the table counts as a tenant table (it has the tenant column)
SET ROLE covr_owner;
CREATE TABLE covr.repl_parts (id int NOT NULL, tenant_id text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE covr.repl_parts_1 PARTITION OF covr.repl_parts FOR VALUES FROM (0) TO (100);
CREATE TABLE covr.repl_parts_2 PARTITION OF covr.repl_parts FOR VALUES FROM (100) TO (200);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covr.repl_parts_1');
ALTER PUBLICATION covr_pub ADD TABLE covr.repl_parts;
SELECT level, object, message, fix FROM pg_temp.mine('publication_includes_tenant_table');
SELECT pg_temp.apply_fix('publication_includes_tenant_table', 'covr_pub ON covr.repl_parts');
SELECT count(*) AS members FROM pg_publication_tables WHERE pubname = 'covr_pub';
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covr.repl_parts_1');
DROP TABLE covr.repl_parts;
-- FOR TABLES IN SCHEMA: one finding for the publication, no fix (dropping
-- it is left to the DBA); an intended replica is accepted
CREATE PUBLICATION covr_schema FOR TABLES IN SCHEMA covr;
SELECT level, object, message, fix, accepted FROM pg_temp.mine('publication_includes_tenant_table');
SELECT detail LIKE '%DROP PUBLICATION covr_schema;%not done for you%' AS explains
  FROM tenant_rls.lint() WHERE code = 'publication_includes_tenant_table' AND object = 'covr_schema';
SELECT tenant_rls.accept_finding('publication_includes_tenant_table', 'covr_schema', 'the reporting replica of all tenants');
SELECT level, object, accepted FROM pg_temp.mine('publication_includes_tenant_table');
SELECT tenant_rls.unaccept_finding('publication_includes_tenant_table', 'covr_schema');
DROP PUBLICATION covr_schema;
-- FOR ALL TABLES: it publishes the extension's tables too, an error
CREATE PUBLICATION covr_all FOR ALL TABLES;
SELECT level, object, fix IS NULL AS no_fix,
       message ~ '^Publication covr_all \(FOR ALL TABLES\) includes [0-9]+ tenant table\(s\) and [0-9]+ table\(s\) of tenant_rls\.$' AS message_ok,
       detail LIKE '%covr.repl_orders%' AS names_table
  FROM tenant_rls.lint() WHERE code = 'publication_includes_tenant_table' AND object = 'covr_all';
DROP PUBLICATION covr_all;
SELECT level, object FROM tenant_rls.lint() WHERE code = 'publication_includes_tenant_table' AND object LIKE 'covr%';

-- ==== subscriptions of this database: a subscription of a publication of
-- this same database (no slot, not enabled: pg_subscription_rel lists the
-- tables it would apply to)
CREATE PUBLICATION covr_subpub FOR TABLE covr.repl_orders;
DO $$ BEGIN
    EXECUTE format('CREATE SUBSCRIPTION covr_sub CONNECTION %L PUBLICATION covr_subpub'
                   ' WITH (create_slot = false, enabled = false, copy_data = false, slot_name = NONE)',
                   format('host=%s port=%s dbname=%s user=postgres',
                          split_part(current_setting('unix_socket_directories'), ',', 1),
                          current_setting('port'), current_database()));
END $$;
SELECT srrelid::regclass FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = 'covr_sub';
-- (the publication of the table is reported too; accepted here)
SELECT tenant_rls.accept_finding('publication_includes_tenant_table', 'covr_subpub ON covr.repl_orders', 'the test''s own');
-- subscription_audit_not_always: the audit triggers are plain ENABLE
SELECT level, object, message, fix FROM pg_temp.mine('subscription_audit_not_always');
SELECT pg_temp.apply_fix('subscription_audit_not_always', 'covr.repl_orders');
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'covr.repl_orders'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT level, object FROM pg_temp.mine('subscription_audit_not_always');
-- enable_audit() again keeps ENABLE ALWAYS; an ENABLE REPLICA trigger, which
-- ordinary sessions do not fire, is plain ENABLE again (review rev25d: it was
-- kept, and lint()'s fix of audit_missing, enable_audit(), did nothing) ...
SELECT tenant_rls.enable_audit('covr.repl_orders', exclude => ARRAY['note']);
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'covr.repl_orders'::regclass AND NOT tgisinternal ORDER BY 1;
ALTER TABLE covr.repl_orders ENABLE REPLICA TRIGGER tenant_rls_audit_truncate;
SELECT tenant_rls.enable_audit('covr.repl_orders');
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'covr.repl_orders'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT level, object, fix FROM pg_temp.mine('subscription_audit_not_always');
SELECT pg_temp.apply_fix('subscription_audit_not_always', 'covr.repl_orders');
-- ... and a disabled one is enabled (plain ENABLE) again
ALTER TABLE covr.repl_orders DISABLE TRIGGER tenant_rls_audit;
SELECT tenant_rls.enable_audit('covr.repl_orders');
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'covr.repl_orders'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT level, object, fix FROM pg_temp.mine('subscription_audit_not_always');
SELECT pg_temp.apply_fix('subscription_audit_not_always', 'covr.repl_orders');
SELECT level, object FROM pg_temp.mine('subscription_audit_not_always');

-- subscription_owner_subject_to_rls: its owner (a superuser when it took
-- the subscription) lost SUPERUSER
ALTER SUBSCRIPTION covr_sub OWNER TO covr_subowner;
SELECT level, object FROM pg_temp.mine('subscription_owner_subject_to_rls');
ALTER ROLE covr_subowner NOSUPERUSER;
SELECT level, object, message, fix FROM pg_temp.mine('subscription_owner_subject_to_rls');
ALTER ROLE covr_subowner BYPASSRLS;
SELECT level, object FROM pg_temp.mine('subscription_owner_subject_to_rls');
ALTER ROLE covr_subowner NOBYPASSRLS;
SELECT pg_temp.apply_fix('subscription_owner_subject_to_rls', 'covr_sub');
SELECT pg_get_userbyid(subowner) FROM pg_subscription WHERE subname = 'covr_sub';
SELECT level, object FROM pg_temp.mine('subscription_owner_subject_to_rls');
DROP SUBSCRIPTION covr_sub;
DROP PUBLICATION covr_subpub;
SELECT tenant_rls.unaccept_finding('publication_includes_tenant_table', 'covr_subpub ON covr.repl_orders');

-- ==== role_replication: the fix also ends the role's walsenders
SELECT level, object, fix FROM pg_temp.mine('role_replication');
SELECT pg_temp.apply_fix('role_replication', 'covr_repl');
SELECT rolreplication FROM pg_roles WHERE rolname = 'covr_repl';
SELECT level, object FROM pg_temp.mine('role_replication');
SELECT level, object FROM pg_temp.mine('walsender_without_replication');

-- ==== every new code is in finding_codes()
SELECT code, level FROM tenant_rls.finding_codes()
 WHERE code IN ('publication_includes_tenant_table', 'subscription_audit_not_always',
                'subscription_owner_subject_to_rls', 'walsender_without_replication', 'tenant_table_unlogged')
 ORDER BY 1;

-- ==== clean up
SELECT tenant_rls.disable_audit('covr.repl_orders');
DROP SCHEMA covr CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covr';
END $$;
DROP ROLE covr_repl, covr_subowner;
DROP ROLE covr_owner;
