-- Automation (DESIGN E1-E3): event triggers written in C, event_trigger.c.
--
-- ddl_command_end: protects new tenant tables (auto-protection), refuses DDL
--   that weakens a protected table (drift guard), follows renames in the registry.
-- sql_drop: deletes the registry and audit_config rows of dropped tables,
--   refuses dropping a managed policy or the tenant column of a protected table.
-- ddl_command_start (ALTER TABLE only): before ATTACH PARTITION, takes away
--   the partition's own tenant_rls_audit / tenant_rls_updated_at trigger that
--   the clone of its new parent's would collide with; refuses DETACH
--   PARTITION of a partition that foreign keys reference when row-level
--   security hides rows from the current user.
--
-- The ddl_command_end and sql_drop functions run as the extension owner
-- (SECURITY DEFINER: they write the registry and call protect() for whoever
-- ran the DDL) with a locked search_path; all SQL they run is
-- schema-qualified.  Event triggers created here are members of the
-- extension: DROP EXTENSION drops them, pg_dump does not dump them
-- separately.  They do nothing while an extension script runs.

CREATE FUNCTION tenant_rls.on_ddl_command_end() RETURNS event_trigger
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_ddl_command_end';
COMMENT ON FUNCTION tenant_rls.on_ddl_command_end() IS
    'event trigger: auto-protection of new tenant tables, drift guard, registry renames';

CREATE FUNCTION tenant_rls.on_sql_drop() RETURNS event_trigger
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_sql_drop';
COMMENT ON FUNCTION tenant_rls.on_sql_drop() IS
    'event trigger: registry cleanup on DROP, drift guard for dropped managed policies and tenant columns';

-- Neither SECURITY DEFINER nor SET search_path, unlike the two above: at
-- ddl_command_start the statement's table names are not resolved yet, and
-- the C function resolves them as the statement will, with the caller's
-- search_path, then locks search_path itself (pg_catalog, pg_temp) for
-- everything it runs; and it must know the caller, to act only on tables the
-- caller owns (PostgreSQL checks that after this trigger).  The fixed SQL it
-- runs on the extension's tables and functions runs with the extension's
-- rights (from C, as protect() does for enable_audit()).
CREATE FUNCTION tenant_rls.on_ddl_command_start() RETURNS event_trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'tenant_rls_ddl_command_start';
COMMENT ON FUNCTION tenant_rls.on_ddl_command_start() IS
    'event trigger: counts the REFRESH MATERIALIZED VIEW statements running (DDL below one is refused: PostgreSQL hides it from event triggers); lets ATTACH PARTITION of a table audited on its own below an audited table replace its audit trigger by the parent''s';

REVOKE ALL ON FUNCTION tenant_rls.on_ddl_command_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.on_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.on_ddl_command_start() FROM PUBLIC;

-- No WHEN TAG filter: PostgreSQL accepts statements of other tags on tables
-- (ALTER INDEX ... RENAME renames a table, ALTER VIEW ... RENAME COLUMN and
-- ALTER TYPE ... RENAME ATTRIBUTE rename its columns); the C function looks
-- at what each command did, not at its tag, and returns at once for the rest.
CREATE EVENT TRIGGER tenant_rls_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION tenant_rls.on_ddl_command_end();

CREATE EVENT TRIGGER tenant_rls_sql_drop ON sql_drop
    EXECUTE FUNCTION tenant_rls.on_sql_drop();

-- ATTACH PARTITION is always spelt ALTER TABLE (ALTER INDEX ... ATTACH
-- PARTITION attaches indexes): the tag filter spares every other statement.
CREATE EVENT TRIGGER tenant_rls_ddl_command_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'REFRESH MATERIALIZED VIEW')
    EXECUTE FUNCTION tenant_rls.on_ddl_command_start();
