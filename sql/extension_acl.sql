--
-- CREATE EXTENSION under default privileges of the installing role: every
-- object of the extension ends with the privileges of a plain install
-- (src/sql/99_privileges.sql).  Without that, ALTER DEFAULT PRIVILEGES GRANT
-- ALL ON TABLES TO app let app INSERT into tenant_rls.tenant_grant (a grant
-- from another tenant to its own) and read that tenant's rows; ON FUNCTIONS
-- made admin functions executable; REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC
-- took from tenant roles the functions the policies call.
-- In databases of its own (the extension is installed twice): a plain install
-- is recorded, then dropped, then installed again under default privileges.
-- The attacker tr_eacl_app is not superuser, not BYPASSRLS, owns nothing.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_eacl_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_eacl_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE 'tr_eacl_%' ORDER BY 1;
SELECT pg_catalog.current_database() AS origdb \gset

CREATE DATABASE tr_eacl_db;
\c tr_eacl_db
SET client_min_messages = warning;
-- The privileges of every object in schema tenant_rls, one row per
-- privilege (a NULL ACL is the built-in default: acldefault()); the owner
-- and the grantor owner are written OWNER.  (The schema by name: the view
-- outlives DROP EXTENSION.)
CREATE VIEW public.ext_acl AS
WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = 'tenant_rls'),
o AS (
    SELECT 'schema' AS kind, n.nspname::text AS obj, n.nspowner AS owner,
           coalesce(n.nspacl, acldefault('n', n.nspowner)) AS acl
      FROM pg_namespace n WHERE n.nspname = 'tenant_rls'
    UNION ALL
    SELECT 'relation ' || c.relkind::text, c.relname::text, c.relowner,
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))
      FROM pg_class c
     WHERE c.relnamespace = (SELECT oid FROM s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM s)
    UNION ALL
    SELECT 'type ' || t.typtype::text, t.oid::regtype::text, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
      FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM s)
)
SELECT o.kind, o.obj,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = o.owner THEN 'OWNER'
            ELSE a.grantee::regrole::text END AS grantee,
       CASE WHEN a.grantor = o.owner THEN 'OWNER' ELSE a.grantor::regrole::text END AS grantor,
       a.privilege_type, a.is_grantable
  FROM o LEFT JOIN LATERAL aclexplode(o.acl) a ON true;

-- 1. a plain install, recorded
CREATE EXTENSION tenant_rls;
CREATE TABLE public.plain_acl AS SELECT * FROM public.ext_acl;
RESET client_min_messages;
-- what it holds: the owner has everything, PUBLIC exactly the list below,
-- nobody else anything
SELECT grantee, kind, count(*) FROM public.plain_acl GROUP BY 1, 2 ORDER BY 1, 2;
SELECT kind, obj, privilege_type FROM public.plain_acl
 WHERE grantee = 'PUBLIC' AND kind NOT LIKE 'type%' ORDER BY 1, 2, 3;
DROP EXTENSION tenant_rls;

-- 2. the same under default privileges of the installing role (a new
-- session: nothing cached from the first install)
\c tr_eacl_db
SET client_min_messages = warning;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO tr_eacl_app WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO tr_eacl_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON FUNCTIONS TO tr_eacl_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TYPES TO tr_eacl_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO tr_eacl_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO PUBLIC;
-- (common hardenings: nothing executable or usable by PUBLIC by default)
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE USAGE ON TYPES FROM PUBLIC;
-- (and the owner's own privileges taken away by default)
ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM CURRENT_USER;
CREATE EXTENSION tenant_rls;
RESET client_min_messages;
-- the default privileges are in force: a table and a function created now
CREATE TABLE public.probe (x int);
CREATE FUNCTION public.probe_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT has_table_privilege('tr_eacl_app', 'public.probe', 'INSERT') AS app_inserts_probe,
       (SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = 'public.probe'::regclass AND a.grantee = c.relowner) AS owner_privileges_on_probe,
       has_function_privilege('tr_eacl_app', 'public.probe_fn()', 'EXECUTE') AS app_executes_probe_fn,
       (SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = 'public.probe'::regclass AND a.grantee = 0) AS public_privileges_on_probe,
       (SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = 'public.probe_fn()'::regprocedure AND a.grantee = 0) AS public_execute_on_probe_fn;
DROP TABLE public.probe;
DROP FUNCTION public.probe_fn();
-- (a) every privilege of every object of the extension is as in the plain
-- install: no row in either direction
SELECT 'extra' AS diff, * FROM (SELECT * FROM public.ext_acl EXCEPT SELECT * FROM public.plain_acl) x
UNION ALL
SELECT 'missing', * FROM (SELECT * FROM public.plain_acl EXCEPT SELECT * FROM public.ext_acl) y
ORDER BY 1, 2, 3, 4, 6;
SELECT count(*) > 200 AS compared_many_privileges FROM public.ext_acl;
-- nothing held by tr_eacl_app anywhere in the schema
SELECT count(*) AS app_privileges FROM public.ext_acl WHERE grantee = 'tr_eacl_app';

-- a tenant table of a role that is not superuser, protected and audited
-- automatically (managed schema app, auto_protect and audit on)
CREATE SCHEMA app AUTHORIZATION tr_eacl_owner;
SET tenant_rls.managed_schemas = 'app';
GRANT USAGE ON SCHEMA app TO tr_eacl_app;
SET ROLE tr_eacl_owner;
CREATE TABLE app.docs (id int PRIMARY KEY, tenant_id text NOT NULL, body text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.docs TO tr_eacl_app;
RESET ROLE;
SELECT schema_name, table_name, status, (managed->>'audit')::boolean AS audited
  FROM tenant_rls.protected_table;

-- (c) the application role sets its tenant, writes audited rows, reads its own
SET ROLE tr_eacl_app;
BEGIN;
SELECT tenant_rls.set_tenant('globex');
INSERT INTO app.docs (id, body) VALUES (1, 'GLOBEX SECRET');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
INSERT INTO app.docs (id, body) VALUES (2, 'acme doc'), (3, 'acme draft');
UPDATE app.docs SET body = 'acme doc v2' WHERE id = 2;
DELETE FROM app.docs WHERE id = 3;
SELECT tenant_rls.current_tenant();
SELECT id, tenant_id, body FROM app.docs ORDER BY id;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
-- its own audit entries, none of globex's
SELECT tenant, table_name, operation, new_row->>'body' AS body
  FROM tenant_rls.audit_log ORDER BY seq, entry;
COMMIT;
-- (b) the attack: a grant from globex to acme written directly, committed
BEGIN;
SELECT tenant_rls.set_tenant('acme');
INSERT INTO tenant_rls.tenant_grant (schema_name, table_name, owner_tenant, grantee_tenant, privilege)
VALUES ('app', 'docs', 'globex', 'acme', 'read');
COMMIT;
-- or through the function (globex's grant: not acme's to give)
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_rls.grant_access('app.docs', 'globex', 'acme', 'read');
COMMIT;
-- still isolated
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SAVEPOINT s;
SELECT id, tenant_id, body FROM app.docs ORDER BY id;
SELECT count(*) FROM app.docs WHERE body = 'GLOBEX SECRET';
-- the other extension tables and the admin functions are out of reach
UPDATE tenant_rls.protected_table SET status = 'global';
ROLLBACK TO s;
INSERT INTO tenant_rls.accepted_finding SELECT * FROM tenant_rls.accepted_finding;
ROLLBACK TO s;
SELECT count(*) FROM tenant_rls.audit_batch_default;
ROLLBACK TO s;
SELECT tenant_rls.audit_purge(now());
ROLLBACK TO s;
SELECT tenant_rls.disable_audit('app.docs');
ROLLBACK TO s;
SELECT tenant_rls.sign_tenant('globex');
ROLLBACK TO s;
SELECT count(*) FROM tenant_rls.lint();
ROLLBACK TO s;
-- no overload can be added to the schema (it would capture calls)
CREATE FUNCTION tenant_rls.current_tenant(x int DEFAULT 0) RETURNS text LANGUAGE sql AS $$SELECT 'globex'$$;
ROLLBACK;
RESET ROLE;

-- 3. a partition of the log re-created by pg_restore under default
-- privileges (not a member of the extension: restored as a plain CREATE
-- TABLE ... PARTITION OF, with no privileges in the dump);
-- audit_maintain() takes them away
CREATE TABLE tenant_rls.audit_batch_p209903 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2099-03-01 00:00:00+00') TO ('2099-04-01 00:00:00+00');
SELECT a.grantee::regrole AS grantee, count(*) AS privileges
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.oid = 'tenant_rls.audit_batch_p209903'::regclass AND a.grantee <> c.relowner
 GROUP BY 1 ORDER BY 1;
SELECT tenant_rls.audit_maintain(0) >= 0 AS maintained;
SELECT a.grantee::regrole AS grantee, count(*) AS privileges
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.oid = 'tenant_rls.audit_batch_p209903'::regclass AND a.grantee <> c.relowner
 GROUP BY 1 ORDER BY 1;
SET ROLE tr_eacl_app;
SELECT count(*) FROM tenant_rls.audit_batch_p209903;
RESET ROLE;

-- ==== every function of the extension written in SQL or PL/pgSQL runs
-- with search_path locked to pg_catalog, pg_temp, and so does every SECURITY
-- DEFINER one (review rev24d: removing the SET clause of lint() or
-- audit_purge() went unnoticed; without it on lint(), a role granted it ran
-- its own starts_with() as the owner and made itself superuser).  The C
-- functions without it (the policy accessors and granted_tenants*() are
-- called per row in a filter) lock it for the SQL they run
-- (spi_exec_privileged() in policy.c).
SELECT p.oid::regprocedure AS without_locked_search_path, l.lanname, p.prosecdef
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'tenant_rls'
 WHERE (p.prosecdef OR l.lanname <> 'c')
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY 1;
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer, count(*) FILTER (WHERE l.lanname <> 'c') AS sql_or_plpgsql
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'tenant_rls';

\c :origdb
DROP DATABASE tr_eacl_db;
DROP ROLE tr_eacl_app;
DROP ROLE tr_eacl_owner;
