-- Schema-wide setup: privileges of the extension's schema, library version.
-- The extension's schema is created by CREATE EXTENSION (control: schema = tenant_rls).

-- The extension's schema: CREATE EXTENSION uses a schema named tenant_rls
-- that exists already, whoever made it.  Every name the C code and the
-- policies use is tenant_rls.<name>: a schema owned by a role that is not a
-- superuser would let that role rename it and put tables of its own in
-- place of the registry, and objects already in it would come before ours.
-- So the schema must be owned by a superuser and hold nothing yet, and no
-- other role keeps CREATE on it.
DO $schema_check$
DECLARE
    owner_name name;
    owner_super boolean;
    grantee text;
    objects bigint;
BEGIN
    SELECT r.rolname, r.rolsuper INTO owner_name, owner_super
      FROM pg_catalog.pg_namespace s
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.nspowner
     WHERE s.nspname OPERATOR(pg_catalog.=) 'tenant_rls';
    IF NOT owner_super THEN
        RAISE EXCEPTION 'schema tenant_rls is owned by role %, which is not a superuser', owner_name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The extension keeps its registry, policies'' helpers and audit log in schema tenant_rls; its owner could replace them.',
                  HINT = 'Drop or rename the existing schema tenant_rls (or ALTER SCHEMA tenant_rls OWNER TO a superuser after checking what it holds), then run CREATE EXTENSION tenant_rls again.';
    END IF;
    SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) s.oid)
         -- (not the row type of a relation counted above, nor an array type
         -- PostgreSQL made for a type: one table is one object, review rev33c)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) s.oid
               AND t.typrelid OPERATOR(pg_catalog.=) 0
               AND NOT (t.typcategory OPERATOR(pg_catalog.=) 'A' AND t.typelem OPERATOR(pg_catalog.<>) 0
                        AND EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.oid OPERATOR(pg_catalog.=) t.typelem
                                      AND e.typarray OPERATOR(pg_catalog.=) t.oid)))
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_collation o WHERE o.collnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_conversion o WHERE o.connamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_opfamily o WHERE o.opfnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_ts_config o WHERE o.cfgnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_ts_dict o WHERE o.dictnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_ts_parser o WHERE o.prsnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_ts_template o WHERE o.tmplnamespace OPERATOR(pg_catalog.=) s.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_statistic_ext o WHERE o.stxnamespace OPERATOR(pg_catalog.=) s.oid)
      INTO objects
      FROM pg_catalog.pg_namespace s WHERE s.nspname OPERATOR(pg_catalog.=) 'tenant_rls';
    IF objects OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'schema tenant_rls already holds % object(s)', objects
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'CREATE EXTENSION tenant_rls installs into schema tenant_rls; objects already there could stand in for the extension''s own.',
                  HINT = 'Move those objects out of schema tenant_rls, or drop or rename it, then run CREATE EXTENSION tenant_rls again.';
    END IF;
    -- CREATE granted on it (default privileges of the role that made it, as
    -- pg_restore's CREATE SCHEMA gets them): taken back here, before any
    -- of our objects is there; the schema's own privileges, as they were at
    -- the dump, come back with the rest of a restore
    FOR grantee IN
        SELECT DISTINCT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                             ELSE pg_catalog.quote_ident(r.rolname) END
          FROM pg_catalog.pg_namespace s,
               LATERAL pg_catalog.aclexplode(s.nspacl) a
          LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
         WHERE s.nspname OPERATOR(pg_catalog.=) 'tenant_rls'
           AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
           AND a.grantee OPERATOR(pg_catalog.<>) s.nspowner
           AND NOT coalesce(r.rolsuper, false)
    LOOP
        RAISE WARNING 'revoking CREATE on schema tenant_rls from %', grantee
            USING DETAIL = 'Objects a role that is not a superuser creates in the extension''s schema could stand in for the extension''s own.',
                  HINT = 'Grant no privilege on schema tenant_rls; put your own objects in a schema of their own.';
        EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA tenant_rls FROM %s', grantee);
    END LOOP;
END
$schema_check$;

-- Tenant roles call the accessors and set_tenant(); nothing else in the schema
-- is usable without an explicit grant.
REVOKE ALL ON SCHEMA tenant_rls FROM PUBLIC;
GRANT USAGE ON SCHEMA tenant_rls TO PUBLIC;

CREATE FUNCTION tenant_rls.version() RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_version';
COMMENT ON FUNCTION tenant_rls.version() IS 'version of the loaded tenant_rls library';
