-- Policies (DESIGN P1-P6): protect(), unprotect(), mark_global(), the
-- controlled exceptions (admin role, global rows, cross-tenant grants) and the
-- helpers the generated policies call.  C in src/policy.c; doc/policy.md.

-- ---------------------------------------------------------------------------
-- Cross-tenant grants (DESIGN P4): owner tenant lets grantee tenant read or
-- write its rows of one protected table, optionally until a time.  Keyed by
-- the registry row (names, not OIDs), so renames and drops recorded in the
-- registry carry over (ON UPDATE / ON DELETE CASCADE).  Grants on a
-- partitioned or inheritance parent apply to the children protect() protected
-- with it.  Tenant values are stored canonical (as set_tenant() returns them).
-- ---------------------------------------------------------------------------
CREATE TABLE tenant_rls.tenant_grant (
    schema_name    name        NOT NULL,
    table_name     name        NOT NULL,
    owner_tenant   text        NOT NULL,
    grantee_tenant text        NOT NULL,
    privilege      text        NOT NULL CHECK (privilege IN ('read', 'write')),
    valid_until    timestamptz,            -- NULL: until revoked
    granted_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by     name        NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (schema_name, table_name, owner_tenant, grantee_tenant, privilege),
    FOREIGN KEY (schema_name, table_name)
        REFERENCES tenant_rls.protected_table (schema_name, table_name)
        ON UPDATE CASCADE ON DELETE CASCADE,
    CHECK (owner_tenant OPERATOR(pg_catalog.<>) grantee_tenant)
);
COMMENT ON TABLE tenant_rls.tenant_grant IS
    'cross-tenant grants: grantee_tenant may read (or write) owner_tenant''s rows of a protected table; maintained by grant_access() and revoke_access()';
-- each backend reads the grants of a table to the tenant it serves (src/policy.c)
CREATE INDEX tenant_grant_grantee ON tenant_rls.tenant_grant (schema_name, table_name, grantee_tenant);
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.tenant_grant', '');
REVOKE ALL ON tenant_rls.tenant_grant FROM PUBLIC;

-- A change to the grants invalidates, in every backend, the grant cache and
-- the cached plans of the tables the changed rows cover (a plan must never
-- outlive a grant).  The transition tables tell which tables those are, and
-- that a statement changed no row at all; TRUNCATE (owner only) has none and
-- invalidates everything.
CREATE FUNCTION tenant_rls.grants_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'tenant_rls_grants_changed';
CREATE TRIGGER tenant_grant_inserted
    AFTER INSERT ON tenant_rls.tenant_grant
    REFERENCING NEW TABLE AS new_grants
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
CREATE TRIGGER tenant_grant_updated
    AFTER UPDATE ON tenant_rls.tenant_grant
    REFERENCING OLD TABLE AS old_grants NEW TABLE AS new_grants
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
CREATE TRIGGER tenant_grant_deleted
    AFTER DELETE ON tenant_rls.tenant_grant
    REFERENCING OLD TABLE AS old_grants
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
CREATE TRIGGER tenant_grant_truncated
    AFTER TRUNCATE ON tenant_rls.tenant_grant
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
-- With session_replication_role = replica (the logical replication apply
-- worker of a subscriber, or a superuser's session) those do not fire, and
-- the apply worker fires no statement trigger for row changes at all: a
-- revoke left the grant in force in every backend that had it cached
-- (review rev45e).  These fire always (audit_repair() puts them back to
-- ENABLE ALWAYS after a restore with --disable-triggers) and act in that
-- mode only: each changed row invalidates every relcache (few grants
-- change that way).
CREATE TRIGGER tenant_grant_replicated
    AFTER INSERT OR UPDATE OR DELETE ON tenant_rls.tenant_grant
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.grants_changed();
CREATE TRIGGER tenant_grant_replicated_truncate
    AFTER TRUNCATE ON tenant_rls.tenant_grant
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
ALTER TABLE tenant_rls.tenant_grant
    ENABLE ALWAYS TRIGGER tenant_grant_replicated,
    ENABLE ALWAYS TRIGGER tenant_grant_replicated_truncate;

-- ---------------------------------------------------------------------------
-- protect / unprotect
-- ---------------------------------------------------------------------------
CREATE FUNCTION tenant_rls.protect(tbl regclass, tenant_column name DEFAULT NULL,
                                   dry_run boolean DEFAULT false)
    RETURNS SETOF text
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_protect';
COMMENT ON FUNCTION tenant_rls.protect(regclass, name, boolean) IS
    'isolates the tenants of a table (and its partitions / inheritance children) with row-level security; returns the DDL it runs, or with dry_run would run';

CREATE FUNCTION tenant_rls.unprotect(tbl regclass)
    RETURNS SETOF text
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_unprotect';
COMMENT ON FUNCTION tenant_rls.unprotect(regclass) IS
    'reverses exactly what protect() did on a table and the children it protected with it; returns the DDL it ran';

-- lint()'s fix of tenant_column_nullable: the ALTER TABLE, with the table
-- owner's code it makes PostgreSQL run run as that owner (policy.c)
CREATE FUNCTION tenant_rls.set_tenant_not_null(tbl regclass, tenant_column name)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_set_tenant_not_null';
COMMENT ON FUNCTION tenant_rls.set_tenant_not_null(regclass, name) IS
    'ALTER TABLE tbl ALTER COLUMN tenant_column SET NOT NULL, running the table owner''s code it folds as that owner (table owner or superuser)';

CREATE FUNCTION tenant_rls.mark_global(tbl regclass)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_mark_global';
COMMENT ON FUNCTION tenant_rls.mark_global(regclass) IS
    'records a table as intentionally shared by all tenants (status global in the registry)';

CREATE FUNCTION tenant_rls.unmark_global(tbl regclass)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_unmark_global';
COMMENT ON FUNCTION tenant_rls.unmark_global(regclass) IS
    'removes the global mark of a table';

-- ---------------------------------------------------------------------------
-- Controlled exceptions (DESIGN P4)
-- ---------------------------------------------------------------------------
CREATE FUNCTION tenant_rls.allow_global_rows(tbl regclass, enabled boolean DEFAULT true)
    RETURNS SETOF text
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_allow_global_rows';
COMMENT ON FUNCTION tenant_rls.allow_global_rows(regclass, boolean) IS
    'lets every tenant read the rows of a protected table whose tenant column is NULL (nobody may write them); returns the DDL it ran';

CREATE FUNCTION tenant_rls.grant_access(tbl regclass, owner_tenant text, grantee_tenant text,
                                        privilege text, valid_until timestamptz DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_grant_access';
COMMENT ON FUNCTION tenant_rls.grant_access(regclass, text, text, text, timestamptz) IS
    'lets grantee_tenant read (or read and write) owner_tenant''s rows of a protected table, until valid_until if given';

CREATE FUNCTION tenant_rls.revoke_access(tbl regclass, owner_tenant text, grantee_tenant text,
                                         privilege text DEFAULT NULL)
    RETURNS integer
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_revoke_access';
COMMENT ON FUNCTION tenant_rls.revoke_access(regclass, text, text, text) IS
    'removes grants of owner_tenant to grantee_tenant on a table (one privilege, or all when NULL); returns how many were removed';

-- ---------------------------------------------------------------------------
-- Helpers called by the generated policies.  A guard policy reads
--     tenant_id = current_tenant_bigint()
--       OR exception_allows_bigint('s.t'::regclass, tenant_id, 'read')
-- and the permissive isolation policy is always true
-- ('tenant_rls.protected_table'::regclass IS NOT NULL: naming the registry
-- makes DROP EXTENSION ... CASCADE drop it with the guard).  When
-- a query is planned, exception_support replaces the exception_allows*()
-- call by the exceptions the session can use (is_admin() for a member of the
-- admin role, tenant_id = ANY (granted_tenants*(...)) for a table with
-- grants), usually by false, so the common plan is a plain, indexable
-- "tenant_id = accessor()".  Planning can only remove an allowance; the
-- run-time checks decide.  Cached plans are invalidated when what the
-- planner read changes (grants: the grants trigger invalidates the
-- relcaches of the tables the changed grants cover; roles: plan cache reset on role membership changes; role
-- switch: PostgreSQL re-plans queries that use row security).
-- ---------------------------------------------------------------------------

CREATE FUNCTION tenant_rls.is_admin() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_is_admin';
COMMENT ON FUNCTION tenant_rls.is_admin() IS
    'true when the current user has the privileges of the role named by tenant_rls.admin_role (empty or unknown role: false)';

CREATE FUNCTION tenant_rls.exception_support(internal) RETURNS internal
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_exception_support';
COMMENT ON FUNCTION tenant_rls.exception_support(internal) IS
    'planner support: replaces exception_allows*() by the exceptions the session can use (admin, grants) when a query is planned';

CREATE FUNCTION tenant_rls.exception_allows(tbl regclass, tenant text, privilege text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    SUPPORT tenant_rls.exception_support
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_exception_allows';
COMMENT ON FUNCTION tenant_rls.exception_allows(regclass, text, text) IS
    'true when the admin override or a grant in force lets the session read (privilege read) or write (write) the rows of tenant in tbl';
CREATE FUNCTION tenant_rls.exception_allows_uuid(tbl regclass, tenant uuid, privilege text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    SUPPORT tenant_rls.exception_support
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_exception_allows';
COMMENT ON FUNCTION tenant_rls.exception_allows_uuid(regclass, uuid, text) IS
    'exception_allows() for uuid tenant columns';
CREATE FUNCTION tenant_rls.exception_allows_bigint(tbl regclass, tenant bigint, privilege text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    SUPPORT tenant_rls.exception_support
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_exception_allows';
COMMENT ON FUNCTION tenant_rls.exception_allows_bigint(regclass, bigint, text) IS
    'exception_allows() for bigint tenant columns';
CREATE FUNCTION tenant_rls.exception_allows_int(tbl regclass, tenant integer, privilege text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    SUPPORT tenant_rls.exception_support
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_exception_allows';
COMMENT ON FUNCTION tenant_rls.exception_allows_int(regclass, integer, text) IS
    'exception_allows() for integer tenant columns';

-- granted_tenants*() have no SET search_path clause: in a filter they are
-- called once per row, and the clause (a GUC save and restore per call) cost
-- more than the call.  The only SQL they run, the grants' read
-- (grant_read()), runs through spi_exec_privileged(), which locks
-- search_path itself; the rest is C that names nothing.
CREATE FUNCTION tenant_rls.granted_tenants(tbl regclass, privilege text) RETURNS text[]
    LANGUAGE c STABLE PARALLEL SAFE STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_granted_tenants';
COMMENT ON FUNCTION tenant_rls.granted_tenants(regclass, text) IS
    'owner tenants whose rows of tbl the current tenant may read (privilege read) or write (write), grants in force now';
CREATE FUNCTION tenant_rls.granted_tenants_uuid(tbl regclass, privilege text) RETURNS uuid[]
    LANGUAGE c STABLE PARALLEL SAFE STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_granted_tenants';
COMMENT ON FUNCTION tenant_rls.granted_tenants_uuid(regclass, text) IS
    'granted_tenants() for uuid tenant columns';
CREATE FUNCTION tenant_rls.granted_tenants_bigint(tbl regclass, privilege text) RETURNS bigint[]
    LANGUAGE c STABLE PARALLEL SAFE STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_granted_tenants';
COMMENT ON FUNCTION tenant_rls.granted_tenants_bigint(regclass, text) IS
    'granted_tenants() for bigint tenant columns';
CREATE FUNCTION tenant_rls.granted_tenants_int(tbl regclass, privilege text) RETURNS integer[]
    LANGUAGE c STABLE PARALLEL SAFE STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_granted_tenants';
COMMENT ON FUNCTION tenant_rls.granted_tenants_int(regclass, text) IS
    'granted_tenants() for integer tenant columns';

-- Administrative functions are callable by everybody (the default): each
-- checks ownership itself (table owner or superuser); grant_access() and
-- revoke_access() also admit the owner tenant itself.
