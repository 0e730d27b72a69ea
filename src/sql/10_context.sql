-- Tenant context (DESIGN C1, C2): context.c

CREATE FUNCTION tenant_rls.set_tenant(value text, is_local boolean DEFAULT true) RETURNS text
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_set_tenant_text';
COMMENT ON FUNCTION tenant_rls.set_tenant(text, boolean) IS
    'validates, canonicalises and sets the tenant for the current transaction (is_local => false: the session); returns the canonical value';

CREATE FUNCTION tenant_rls.set_tenant(value uuid, is_local boolean DEFAULT true) RETURNS text
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_set_tenant_uuid';
COMMENT ON FUNCTION tenant_rls.set_tenant(uuid, boolean) IS
    'sets a uuid tenant for the current transaction (is_local => false: the session)';

CREATE FUNCTION tenant_rls.set_tenant(value bigint, is_local boolean DEFAULT true) RETURNS text
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_set_tenant_bigint';
COMMENT ON FUNCTION tenant_rls.set_tenant(bigint, boolean) IS
    'sets a numeric tenant for the current transaction (is_local => false: the session)';

CREATE FUNCTION tenant_rls.clear_tenant() RETURNS void
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_clear_tenant';
COMMENT ON FUNCTION tenant_rls.clear_tenant() IS 'clears the tenant context: no tenant, zero rows';

-- Accessors: no argument, so nothing can leak through them (LEAKPROOF);
-- the value is fixed within a statement (STABLE) and copied to parallel
-- workers with the other settings (PARALLEL SAFE).
CREATE FUNCTION tenant_rls.current_tenant() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'tenant_rls_current_tenant';
COMMENT ON FUNCTION tenant_rls.current_tenant() IS 'the current tenant as text, NULL when none is set';

CREATE FUNCTION tenant_rls.current_tenant_uuid() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'tenant_rls_current_tenant_uuid';
COMMENT ON FUNCTION tenant_rls.current_tenant_uuid() IS 'the current tenant as uuid, NULL when none is set';

CREATE FUNCTION tenant_rls.current_tenant_bigint() RETURNS bigint
    LANGUAGE c STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'tenant_rls_current_tenant_bigint';
COMMENT ON FUNCTION tenant_rls.current_tenant_bigint() IS 'the current tenant as bigint, NULL when none is set';

CREATE FUNCTION tenant_rls.current_tenant_int() RETURNS integer
    LANGUAGE c STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'tenant_rls_current_tenant_int';
COMMENT ON FUNCTION tenant_rls.current_tenant_int() IS 'the current tenant as integer, NULL when none is set';

-- Internal: the one-time check of a plan made with the tenant's value
-- (src/planner_prune.c): true when the tenant is still the one planned for,
-- else an error.  Called as the user running the query.
CREATE FUNCTION tenant_rls._planned_tenant_is(planned text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_planned_tenant_is';
COMMENT ON FUNCTION tenant_rls._planned_tenant_is(text) IS 'internal: a plan made for this tenant runs for it (else an error)';
