-- Policy hardening (security review): the write default and who may attach
-- the grants trigger.  C in src/policy_require.c and src/policy.c; doc/policy.md.

-- The tenant column default protect() sets (DESIGN C2): the current tenant,
-- or the error "no tenant context" (SQLSTATE 42501) when none is set, so an
-- INSERT without a tenant fails clearly instead of with a row-level security
-- or NOT NULL violation.  Defaults only: reads use the accessors (NULL, zero
-- rows).
CREATE FUNCTION tenant_rls.require_tenant() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_require_tenant';
COMMENT ON FUNCTION tenant_rls.require_tenant() IS
    'the current tenant as text; error "no tenant context" when none is set (the tenant column default protect() sets)';

CREATE FUNCTION tenant_rls.require_tenant_uuid() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_require_tenant_uuid';
COMMENT ON FUNCTION tenant_rls.require_tenant_uuid() IS
    'the current tenant as uuid; error "no tenant context" when none is set (the tenant column default protect() sets)';

CREATE FUNCTION tenant_rls.require_tenant_bigint() RETURNS bigint
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_require_tenant_bigint';
COMMENT ON FUNCTION tenant_rls.require_tenant_bigint() IS
    'the current tenant as bigint; error "no tenant context" when none is set (the tenant column default protect() sets)';

CREATE FUNCTION tenant_rls.require_tenant_int() RETURNS integer
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_require_tenant_int';
COMMENT ON FUNCTION tenant_rls.require_tenant_int() IS
    'the current tenant as integer; error "no tenant context" when none is set (the tenant column default protect() sets)';

-- grants_changed() belongs on tenant_rls.tenant_grant only (it refuses any
-- other table itself): nobody else needs to attach it.  Trigger functions are
-- not checked for EXECUTE when they fire, so the grants trigger still runs.
REVOKE ALL ON FUNCTION tenant_rls.grants_changed() FROM PUBLIC;
