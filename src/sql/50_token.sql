-- Signed tenant context and strict mode (DESIGN C3): token.c, strict.c.
-- See doc/context_security.md.

CREATE FUNCTION tenant_rls.sign_tenant(tenant text, valid_for interval DEFAULT '5 minutes')
    RETURNS text
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_sign_tenant';
COMMENT ON FUNCTION tenant_rls.sign_tenant(text, interval) IS
    'makes a token for a tenant, valid in the current database for valid_for from now, signed (HMAC-SHA256) with tenant_rls.signing_key';
-- Whoever can sign can be any tenant: superusers only, unless granted explicitly
-- (GRANT EXECUTE ON FUNCTION tenant_rls.sign_tenant(text, interval) TO token_issuer;).
REVOKE EXECUTE ON FUNCTION tenant_rls.sign_tenant(text, interval) FROM PUBLIC;

CREATE FUNCTION tenant_rls.set_tenant_signed(token text) RETURNS text
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_set_tenant_signed';
COMMENT ON FUNCTION tenant_rls.set_tenant_signed(text) IS
    'verifies a token from sign_tenant() and sets its tenant for the current transaction; returns the tenant';

CREATE FUNCTION tenant_rls.strict_status(
    OUT in_force boolean, OUT strict_setting boolean, OUT preloaded boolean,
    OUT key_configured boolean, OUT reason text)
    RETURNS record
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_strict_status';
COMMENT ON FUNCTION tenant_rls.strict_status() IS
    'whether strict mode is in force in this session, and if not, why not';

-- Strict mode asked for but not possible: say so now, not when it matters.
DO $$
DECLARE
    s record;
BEGIN
    SELECT * INTO s FROM tenant_rls.strict_status();
    IF s.strict_setting AND NOT s.in_force THEN
        RAISE WARNING 'tenant_rls.strict is on but strict mode is not in force'
            USING DETAIL = s.reason,
                  HINT = 'Add tenant_rls to shared_preload_libraries and restart the server.';
    END IF;
END
$$;
