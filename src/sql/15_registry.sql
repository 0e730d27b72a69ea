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
    -- coverage() can tell an edited managed object from an intact one
    -- (written by src/policy.c; every key is always present):
    --   {"policies": {"<policyname>": {"cmd": "r|a|w|d|*", "permissive": bool,
    --                                  "roles": ["public", ...], "qual": "..." | null,
    --                                  "with_check": "..." | null}, ...},
    --    "enabled_rls": bool,   -- protect() ran ENABLE ROW LEVEL SECURITY
    --    "forced_rls": bool,    -- protect() ran FORCE ROW LEVEL SECURITY
    --    "set_default": bool,   -- protect() set the tenant column's DEFAULT ...
    --    "default_expr": "..." | null,  -- ... to this (pg_get_expr of pg_attrdef)
    --    "set_not_null": bool,  -- protect() set the tenant column NOT NULL
    --    "audit": bool}         -- protect() ran tenant_rls.enable_audit(table)
    -- Policy names all start with "tenant_rls_"; "policies" lists every policy
    -- protect() (or allow_global_rows()) created on this table, with cmd and
    -- permissive as in pg_policy (polcmd, polpermissive), roles as
    -- polroles::regrole[] ("public" for 0), qual / with_check as
    -- pg_get_expr(polqual / polwithcheck, polrelid) printed right after
    -- creation with search_path = pg_catalog, pg_temp.  Compare under that
    -- same search_path: a different text then means the policy was edited; a
    -- missing pg_policy row means it was dropped.
    managed        jsonb       NOT NULL DEFAULT '{}',
    -- controlled exceptions (DESIGN P4)
    global_rows    boolean     NOT NULL DEFAULT false,  -- rows with NULL tenant readable by all
    -- set when protected (or marked global) because its parent is: the table
    -- protect() / mark_global() was called on (the root of the hierarchy,
    -- not necessarily the immediate parent); unprotect() of that table
    -- reverses this row too.  NULL: protected on its own.
    parent_schema  name,
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
