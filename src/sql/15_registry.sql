-- The registry: what tenant_rls manages.  Extension config tables, so pg_dump
-- dumps their rows (DESIGN O2).  Tables are named by schema and name, not by
-- regclass/oid: OIDs change across dump/restore and pg_upgrade refuses reg*
-- columns in user tables.  The event triggers keep names current on
-- ALTER TABLE ... RENAME / SET SCHEMA and delete rows on DROP.

CREATE TABLE tenant_rls.protected_table (
    schema_name    name        NOT NULL,
    table_name     name        NOT NULL,
    -- 'protected': tenant isolation policies installed by protect()
    -- 'global':     intentionally shared, no tenant column (mark_global())
    status         text        NOT NULL CHECK (status IN ('protected', 'global')),
    tenant_column  name,                   -- NULL for status 'global'
    tenant_type    text        CHECK (tenant_type IN ('uuid', 'bigint', 'integer', 'text')),
    -- what protect() changed, so unprotect() reverses exactly that and
    -- coverage() can tell an edited managed object from an intact one:
    --   {"policies": {"<policyname>": {"cmd": "r|a|w|d|*", "permissive": bool,
    --                                  "roles": [...], "qual": "...", "with_check": "..."}},
    --    "enabled_rls": bool, "forced_rls": bool, "set_default": bool,
    --    "set_not_null": bool, "audit": bool, ...}
    managed        jsonb       NOT NULL DEFAULT '{}',
    -- controlled exceptions (DESIGN P4)
    global_rows    boolean     NOT NULL DEFAULT false,  -- rows with NULL tenant readable by all
    parent_schema  name,                   -- set when protected because its parent is
    parent_table   name,
    protected_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    protected_by   name        NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (schema_name, table_name),
    CHECK ((status = 'protected') = (tenant_column IS NOT NULL))
);
COMMENT ON TABLE tenant_rls.protected_table IS
    'registry of tables tenant_rls protects (or knows to be global); maintained by protect(), unprotect(), mark_global() and the event triggers';
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.protected_table', '');
REVOKE ALL ON tenant_rls.protected_table FROM PUBLIC;
