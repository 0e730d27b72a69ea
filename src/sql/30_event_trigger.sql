-- Automation (DESIGN E1-E3): event triggers written in C, event_trigger.c.
--
-- ddl_command_end: protects new tenant tables (auto-protection), refuses DDL
--   that weakens a protected table (drift guard), follows renames in the registry.
-- sql_drop: deletes the registry and audit_config rows of dropped tables,
--   refuses dropping a managed policy or the tenant column of a protected table.
--
-- The functions run as the extension owner (SECURITY DEFINER: they write the
-- registry and call protect() for whoever ran the DDL) with a locked
-- search_path; all SQL they run is schema-qualified.  Event triggers created
-- here are members of the extension: DROP EXTENSION drops them, pg_dump does
-- not dump them separately.  They do nothing while an extension script runs.

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

REVOKE ALL ON FUNCTION tenant_rls.on_ddl_command_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.on_sql_drop() FROM PUBLIC;

-- No WHEN TAG filter: PostgreSQL accepts statements of other tags on tables
-- (ALTER INDEX ... RENAME renames a table, ALTER VIEW ... RENAME COLUMN and
-- ALTER TYPE ... RENAME ATTRIBUTE rename its columns); the C function looks
-- at what each command did, not at its tag, and returns at once for the rest.
CREATE EVENT TRIGGER tenant_rls_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION tenant_rls.on_ddl_command_end();

CREATE EVENT TRIGGER tenant_rls_sql_drop ON sql_drop
    EXECUTE FUNCTION tenant_rls.on_sql_drop();
