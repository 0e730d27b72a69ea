-- Schema-wide setup: privileges of the extension's schema, library version.
-- The extension's schema is created by CREATE EXTENSION (control: schema = tenant_rls).

-- Tenant roles call the accessors and set_tenant(); nothing else in the schema
-- is usable without an explicit grant.
REVOKE ALL ON SCHEMA tenant_rls FROM PUBLIC;
GRANT USAGE ON SCHEMA tenant_rls TO PUBLIC;

CREATE FUNCTION tenant_rls.version() RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_version';
COMMENT ON FUNCTION tenant_rls.version() IS 'version of the loaded tenant_rls library';
