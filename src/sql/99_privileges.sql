-- Privileges of every object of the extension, set last, whatever the
-- default privileges of the role running CREATE EXTENSION.
--
-- ALTER DEFAULT PRIVILEGES of that role apply to everything this script
-- creates: the schema (ON SCHEMAS), tables and views (ON TABLES), sequences,
-- functions and procedures (ON FUNCTIONS), types (ON TYPES).  Left alone,
-- GRANT ALL ON TABLES TO app lets app INSERT into tenant_rls.tenant_grant (a
-- cross-tenant grant to itself: another tenant's rows), rewrite the registry
-- or the accepted findings and the audit tables; ON FUNCTIONS makes the
-- administrative functions (audit_purge(), sign_tenant(), ...) executable;
-- CREATE on the schema lets it add overloads of the extension's functions
-- that capture schema-qualified calls.  And REVOKE EXECUTE ON FUNCTIONS FROM
-- PUBLIC (a common hardening) would take from tenant roles the functions
-- they and the generated policies, column defaults and triggers call: every
-- read of a protected table would fail.
--
-- So, for every object in schema tenant_rls (all of them the extension's
-- when this script runs):
--   1. every privilege held by a role other than the owner and PUBLIC is
--      revoked (with CASCADE: grants that role made with a grant option);
--      the owner holds every privilege (a default REVOKE ... FROM the owner
--      itself is undone);
--   2. PUBLIC loses everything, then gets exactly the privileges listed
--      below, explicitly, and nothing else.
-- The result is the same under any default privileges (sql/extension_acl.sql
-- compares it with a plain install).
--
-- A NEW FUNCTION that roles other than the owner must call (tenant sessions,
-- generated policies, column defaults, triggers, views) must be added to the
-- GRANT EXECUTE ... TO PUBLIC list below: without it, it is executable by
-- its owner only.  Privileges granted later by a DBA (e.g. EXECUTE on lint()
-- to an auditor, or on sign_tenant() to a token issuer) are kept by pg_dump
-- and are not touched by anything here.
--
-- Objects created later at run time: the monthly audit_batch partitions
-- (audit_create_partition() revokes every privilege but the owner's from each
-- one it creates; audit_maintain() also re-checks the existing ones, which
-- covers partitions re-created by pg_restore).  Nothing else the extension
-- runs creates a table, view, sequence, function, type or schema: protect()
-- creates policies, triggers and column defaults, which have no privileges.

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        WITH obj AS (
            SELECT 'SCHEMA tenant_rls' AS obj, n.nspowner AS owner, n.nspacl AS acl
              FROM pg_catalog.pg_namespace n
             WHERE n.oid OPERATOR(pg_catalog.=) 'tenant_rls'::pg_catalog.regnamespace
            UNION ALL
            SELECT pg_catalog.format(CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE tenant_rls.%I'
                                          ELSE 'TABLE tenant_rls.%I' END, c.relname),
                   c.relowner, c.relacl
              FROM pg_catalog.pg_class c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) 'tenant_rls'::pg_catalog.regnamespace
               AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'v', 'm', 'S', 'f']::"char"[])
            UNION ALL
            SELECT pg_catalog.format('ROUTINE tenant_rls.%I(%s)', p.proname,
                                     pg_catalog.pg_get_function_identity_arguments(p.oid)),
                   p.proowner, p.proacl
              FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'tenant_rls'::pg_catalog.regnamespace
            UNION ALL
            -- types with privileges of their own: not array types (they take
            -- their element type's), not row types of tables (their table's)
            SELECT pg_catalog.format('TYPE tenant_rls.%I', t.typname), t.typowner, t.typacl
              FROM pg_catalog.pg_type t
              LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.typrelid
             WHERE t.typnamespace OPERATOR(pg_catalog.=) 'tenant_rls'::pg_catalog.regnamespace
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.typarray OPERATOR(pg_catalog.=) t.oid)
               AND (c.oid IS NULL OR c.relkind OPERATOR(pg_catalog.=) 'c')
        )
        SELECT o.obj, o.owner,
               ARRAY(SELECT DISTINCT a.grantee
                       FROM pg_catalog.aclexplode(o.acl) a
                      WHERE a.grantee OPERATOR(pg_catalog.<>) o.owner
                        AND a.grantee OPERATOR(pg_catalog.<>) 0) AS others
          FROM obj o
    LOOP
        FOR i IN 1 .. coalesce(pg_catalog.array_length(r.others, 1), 0) LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %I CASCADE', r.obj,
                                      pg_catalog.pg_get_userbyid(r.others[i]));
        END LOOP;
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', r.obj);
        EXECUTE pg_catalog.format('GRANT ALL ON %s TO %I', r.obj, pg_catalog.pg_get_userbyid(r.owner));
        -- types are usable by everybody, as everywhere (a composite type
        -- of a function's result names no data)
        IF r.obj OPERATOR(pg_catalog.~) '^TYPE ' THEN
            EXECUTE pg_catalog.format('GRANT USAGE ON %s TO PUBLIC', r.obj);
        END IF;
    END LOOP;
END
$$;

-- What PUBLIC may do.  Tenant roles reach the schema's functions.
GRANT USAGE ON SCHEMA tenant_rls TO PUBLIC;

-- The audit log: tenants read their own entries (row-level security on
-- audit_batch; the view is security_invoker).  Nothing else is readable.
GRANT SELECT ON tenant_rls.audit_batch, tenant_rls.audit_log TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    -- the tenant context (doc/context_security.md, 10_context.sql)
    tenant_rls.set_tenant(text, boolean), tenant_rls.set_tenant(uuid, boolean),
    tenant_rls.set_tenant(bigint, boolean), tenant_rls.clear_tenant(),
    tenant_rls.current_tenant(), tenant_rls.current_tenant_uuid(),
    tenant_rls.current_tenant_bigint(), tenant_rls.current_tenant_int(),
    tenant_rls._planned_tenant_is(text),
    tenant_rls.set_tenant_signed(text), tenant_rls.strict_status(), tenant_rls.version(),
    -- called by the generated policies and column defaults, as the user
    -- running the query (20_policy.sql, 21_policy_security.sql)
    tenant_rls.is_admin(), tenant_rls.exception_support(internal),
    tenant_rls.exception_allows(regclass, text, text), tenant_rls.exception_allows_uuid(regclass, uuid, text),
    tenant_rls.exception_allows_bigint(regclass, bigint, text), tenant_rls.exception_allows_int(regclass, integer, text),
    tenant_rls.granted_tenants(regclass, text), tenant_rls.granted_tenants_uuid(regclass, text),
    tenant_rls.granted_tenants_bigint(regclass, text), tenant_rls.granted_tenants_int(regclass, text),
    tenant_rls.require_tenant(), tenant_rls.require_tenant_uuid(),
    tenant_rls.require_tenant_bigint(), tenant_rls.require_tenant_int(),
    -- administrative functions that check the caller themselves (table owner
    -- or superuser; grant_access() / revoke_access() also the owner tenant):
    -- doc/policy.md
    tenant_rls.protect(regclass, name, boolean), tenant_rls.unprotect(regclass),
    tenant_rls.set_tenant_not_null(regclass, name),
    tenant_rls.mark_global(regclass), tenant_rls.unmark_global(regclass),
    tenant_rls.allow_global_rows(regclass, boolean),
    tenant_rls.grant_access(regclass, text, text, text, timestamptz),
    tenant_rls.revoke_access(regclass, text, text, text),
    -- the audit functions everybody runs (doc/audit.md): the trigger
    -- functions (revoking EXECUTE on them would make every audited write
    -- fail), the readers of the log and the keys its row-level security
    -- policy calls
    tenant_rls.audit_trigger(), tenant_rls.audit_guard(), tenant_rls.updated_at_trigger(),
    tenant_rls.audit_entries(bytea), tenant_rls.audit_history(regclass, jsonb),
    tenant_rls.audit_row_key(regclass, jsonb), tenant_rls.audit_key(text, regclass, bigint),
    tenant_rls.audit_tenant_key(text),
    -- waiting for deferred delivery (45_audit_delivery.sql): a tenant waits
    -- for its own entries; it only sleeps in the caller's session
    tenant_rls.audit_delivery_wait(interval),
    -- the table check of enable_audit() / enable_updated_at() (it reads
    -- pg_class and raises): a role granted one of them needs no more for it
    tenant_rls._audited_table_check(regclass, text),
    -- which table a partition's audit / updated_at trigger is cloned from
    -- (enable_audit(), disable_audit(), disable_updated_at(); reads pg_trigger)
    tenant_rls._trigger_origin(regclass, name),
    -- what disable_audit() of an inheritance parent keeps in its children's
    -- exclude lists (they read, and change, audit_config with the caller's
    -- rights: a role not granted it is refused there)
    tenant_rls._audit_unrecorded(oid[]), tenant_rls._audit_keep_unrecorded(regclass, oid[]),
    -- coverage: the catalogue of finding codes (doc/coverage.md); the
    -- reports are granted by the DBA, and their helpers (_level_rank(), ...)
    -- run inside them as the owner (SECURITY DEFINER)
    tenant_rls.finding_codes()
    TO PUBLIC;
