--
-- Security review of the policies: each attack runs as tr_sec_app (not
-- superuser, not BYPASSRLS, not the owner) or, where it is about what an
-- owner may do, as tr_sec_owner (owner, not superuser).  The revoked-grant
-- case across sessions is test/specs/policy_grants_revoke.spec.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_sec_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_sec_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.auto_protect = off;
SET tenant_rls.audit = off;
CREATE SCHEMA sec AUTHORIZATION tr_sec_owner;
GRANT USAGE ON SCHEMA sec TO tr_sec_app;
CREATE SCHEMA secapp AUTHORIZATION tr_sec_app;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname IN ('tr_sec_owner', 'tr_sec_app') ORDER BY 1;

CREATE FUNCTION sec.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hint text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || coalesce(E'\nDETAIL: ' || nullif(det, ''), '') || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END $$;
GRANT EXECUTE ON FUNCTION sec.err(text) TO PUBLIC;
CREATE FUNCTION sec.plan_has(sql text, node text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql LOOP
    IF l LIKE '%' || node || '%' THEN RETURN true; END IF;
  END LOOP;
  RETURN false;
END $$;
GRANT EXECUTE ON FUNCTION sec.plan_has(text, text) TO PUBLIC;

-- ------------------------------------------------------------------------
-- 2. an owner (not superuser) protects and unprotects its table with
--    tenant_rls.audit on, though it may not call enable_audit() itself
-- ------------------------------------------------------------------------
SET tenant_rls.audit = on;
SET ROLE tr_sec_owner;
CREATE TABLE sec.audited (id int PRIMARY KEY, tenant_id text, v text);
SELECT sec.err($$SELECT tenant_rls.enable_audit('sec.audited')$$);
SELECT ddl FROM tenant_rls.protect('sec.audited') ddl WHERE ddl LIKE '%enable_audit%';
SELECT count(*) AS audit_triggers FROM pg_trigger
 WHERE tgrelid = 'sec.audited'::regclass AND tgname LIKE 'tenant_rls_audit%';
-- the privileged path opens only after the ownership check
RESET ROLE;
SET ROLE tr_sec_app;
SELECT sec.err($$SELECT tenant_rls.unprotect('sec.audited')$$);
RESET ROLE;
SET ROLE tr_sec_owner;
SELECT ddl FROM tenant_rls.unprotect('sec.audited') ddl WHERE ddl LIKE '%disable_audit%';
SELECT count(*) AS audit_triggers FROM pg_trigger
 WHERE tgrelid = 'sec.audited'::regclass AND tgname LIKE 'tenant_rls_audit%';
DROP TABLE sec.audited;
RESET ROLE;
SELECT count(*) AS audit_config_left FROM tenant_rls.audit_config WHERE schema_name = 'sec';
SET tenant_rls.audit = off;

-- ------------------------------------------------------------------------
-- 3. a nondeterministic collation on the tenant column: 'ACME' = 'acme'
-- ------------------------------------------------------------------------
CREATE COLLATION sec.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT 'ACME' = 'acme' COLLATE sec.ci AS ci_equal;
SET ROLE tr_sec_owner;
CREATE TABLE sec.coll (id int PRIMARY KEY, tenant_id text COLLATE sec.ci, v text);
INSERT INTO sec.coll VALUES (1, 'acme', 'acme secret'), (2, 'ACME', 'other tenant');
GRANT SELECT ON sec.coll TO tr_sec_app;
SELECT sec.err($$SELECT tenant_rls.protect('sec.coll')$$);
-- also through a domain
CREATE DOMAIN sec.tenant_ci AS text COLLATE sec.ci;
CREATE TABLE sec.coll_dom (id int, tenant_id sec.tenant_ci);
SELECT sec.err($$SELECT tenant_rls.protect('sec.coll_dom')$$);
RESET ROLE;
SELECT count(*) AS registered FROM tenant_rls.protected_table WHERE schema_name = 'sec';
SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'sec'::regnamespace AND relkind = 'r' ORDER BY 1;
-- auto-protection refuses it too: CREATE TABLE in a managed schema fails
SET tenant_rls.auto_protect = on;
SET tenant_rls.managed_schemas = 'sec';
SET ROLE tr_sec_owner;
SELECT sec.err($$CREATE TABLE sec.coll_auto (id int, tenant_id text COLLATE sec.ci)$$);
SELECT to_regclass('sec.coll_auto') AS coll_auto;
-- an identity tenant column likewise (review rev31b: PostgreSQL's own 42601
-- from SET DEFAULT, without detail or hint)
SELECT sec.err($$CREATE TABLE sec.ident_auto (id int, tenant_id bigint GENERATED ALWAYS AS IDENTITY)$$);
SELECT to_regclass('sec.ident_auto') AS ident_auto;
-- a generated tenant column is kept, and said so (not "a default")
SET client_min_messages = notice;
CREATE TABLE sec.gen_auto (id int, src text, tenant_id text GENERATED ALWAYS AS (lower(src)) STORED);
RESET client_min_messages;
-- a deterministic collation is fine
CREATE TABLE sec.coll_c (id int, tenant_id text COLLATE "C");
RESET ROLE;
SELECT table_name, status FROM tenant_rls.protected_table WHERE schema_name = 'sec' ORDER BY 1;
RESET tenant_rls.managed_schemas;
SET tenant_rls.auto_protect = off;
SET ROLE tr_sec_owner;
SELECT count(*) FROM tenant_rls.unprotect('sec.coll_c');
SELECT count(*) FROM tenant_rls.unprotect('sec.gen_auto');
DROP TABLE sec.coll, sec.coll_dom, sec.coll_c, sec.gen_auto;
DROP DOMAIN sec.tenant_ci;
RESET ROLE;
DROP COLLATION sec.ci;

-- ------------------------------------------------------------------------
-- 7. a write without a tenant fails with "no tenant context"; reads return
--    zero rows; the default is exactly what unprotect() removes
-- ------------------------------------------------------------------------
SET ROLE tr_sec_owner;
CREATE TABLE sec.u (id int PRIMARY KEY, tenant_id uuid, v text);
CREATE TABLE sec.b (id int PRIMARY KEY, tenant_id bigint, v text);
CREATE TABLE sec.i (id int PRIMARY KEY, org integer, v text);
CREATE TABLE sec.t (id int PRIMARY KEY, tenant_id varchar(40), v text);
SELECT ddl FROM tenant_rls.protect('sec.u') ddl WHERE ddl LIKE '%DEFAULT%';
SELECT ddl FROM tenant_rls.protect('sec.b') ddl WHERE ddl LIKE '%DEFAULT%';
SELECT ddl FROM tenant_rls.protect('sec.i', 'org') ddl WHERE ddl LIKE '%DEFAULT%';
SELECT ddl FROM tenant_rls.protect('sec.t') ddl WHERE ddl LIKE '%DEFAULT%';
GRANT SELECT, INSERT, UPDATE ON sec.u, sec.b, sec.i, sec.t TO tr_sec_app;
RESET ROLE;
SELECT table_name, managed->'set_default' AS set_default, managed->>'default_expr' AS default_expr
  FROM tenant_rls.protected_table WHERE schema_name = 'sec' ORDER BY 1;
SELECT p.proname, p.provolatile, p.proparallel, p.prorettype::regtype
  FROM pg_proc p
 WHERE p.pronamespace = 'tenant_rls'::regnamespace AND p.proname LIKE 'require_tenant%' ORDER BY 1;
SET ROLE tr_sec_app;
-- no tenant: every insert that relies on the default fails clearly
SELECT sec.err($$INSERT INTO sec.u (id, v) VALUES (1, 'x')$$);
SELECT sec.err($$INSERT INTO sec.b (id, v) VALUES (1, 'x')$$);
SELECT sec.err($$INSERT INTO sec.i (id, v) VALUES (1, 'x')$$);
SELECT sec.err($$INSERT INTO sec.t (id, v) VALUES (1, 'x')$$);
SELECT sec.err($$INSERT INTO sec.t (id, tenant_id, v) VALUES (1, DEFAULT, 'x')$$);
-- naming a tenant without a context: still the row-level security violation
SELECT sec.err($$INSERT INTO sec.t (id, tenant_id, v) VALUES (1, 'A', 'x')$$);
-- reads: zero rows, no error
SELECT count(*) FROM sec.u;
SELECT count(*) FROM sec.t;
-- with a tenant the default is the current tenant, typed
BEGIN;
SELECT tenant_rls.set_tenant('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
INSERT INTO sec.u (id, v) VALUES (1, 'x') RETURNING tenant_id;
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('42');
INSERT INTO sec.b (id, v) VALUES (1, 'x') RETURNING tenant_id;
INSERT INTO sec.i (id, v) VALUES (1, 'x') RETURNING org;
INSERT INTO sec.t (id, v) VALUES (1, 'x') RETURNING tenant_id;
ROLLBACK;
RESET ROLE;
-- a partition created later copies the parent's default: it is protect()'s,
-- recorded as set, and unprotect() removes it from both
SET ROLE tr_sec_owner;
CREATE TABLE sec.p (id int, tenant_id text) PARTITION BY RANGE (id);
CREATE TABLE sec.p1 PARTITION OF sec.p FOR VALUES FROM (0) TO (100);
SELECT count(*) FROM tenant_rls.protect('sec.p');
CREATE TABLE sec.p2 PARTITION OF sec.p FOR VALUES FROM (100) TO (200);
SELECT ddl FROM tenant_rls.protect('sec.p') ddl WHERE ddl LIKE '%DEFAULT%';
RESET ROLE;
SELECT table_name, managed->'set_default' AS set_default, managed->>'default_expr' AS default_expr
  FROM tenant_rls.protected_table WHERE table_name LIKE 'p%' AND schema_name = 'sec' ORDER BY 1;
SET ROLE tr_sec_owner;
SELECT ddl FROM tenant_rls.unprotect('sec.p') ddl WHERE ddl LIKE '%DEFAULT%';
SELECT ddl FROM tenant_rls.unprotect('sec.u') ddl WHERE ddl LIKE '%DEFAULT%';
RESET ROLE;
SELECT c.relname, count(d.*) AS defaults
  FROM pg_class c LEFT JOIN pg_attrdef d ON d.adrelid = c.oid
 WHERE c.relnamespace = 'sec'::regnamespace AND c.relname IN ('p', 'p1', 'p2', 'u')
 GROUP BY 1 ORDER BY 1;
SET ROLE tr_sec_owner;
DROP TABLE sec.p, sec.u;
RESET ROLE;

-- ------------------------------------------------------------------------
-- 4. a context that is not in canonical form gets no rows and no grants of
--    a typed table: tenant_type is text, so set_tenant() stores an
--    upper-case uuid as given (below)
-- 6. granted_tenants*() answers for the current tenant only
-- ------------------------------------------------------------------------
SET ROLE tr_sec_owner;
CREATE TABLE sec.g (id int PRIMARY KEY, tenant_id uuid, v text);
INSERT INTO sec.g VALUES
  (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A row'),
  (2, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a22', 'B row'),
  (3, 'c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a33', 'C row');
SELECT count(*) FROM tenant_rls.protect('sec.g');
GRANT SELECT ON sec.g TO tr_sec_app;
-- A lets B read its rows
SELECT tenant_rls.grant_access('sec.g', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                               'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a22', 'read');
-- a braced uuid is refused; the hint names the table's tenant column, which
-- decides the type here (tenant_rls.tenant_type is text)
SELECT tenant_rls.grant_access('sec.g', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
                               'c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a33', 'read');
RESET ROLE;
SHOW tenant_rls.tenant_type;
SET ROLE tr_sec_app;
BEGIN;
SELECT tenant_rls.set_tenant('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a22');
SELECT id, v FROM sec.g ORDER BY id;
SELECT tenant_rls.granted_tenants_uuid('sec.g', 'read');
-- the policies' exception call: planned (constant table) and decided at run
-- time (table from a sub-query), read granted, write not, other tenants not
SELECT tenant_rls.exception_allows_uuid('sec.g', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'read') AS planned_read_a,
       tenant_rls.exception_allows_uuid((SELECT 'sec.g'::regclass), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'read') AS run_time_read_a,
       tenant_rls.exception_allows_uuid('sec.g', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'write') AS planned_write_a,
       tenant_rls.exception_allows_uuid((SELECT 'sec.g'::regclass), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'write') AS run_time_write_a,
       tenant_rls.exception_allows_uuid((SELECT 'sec.g'::regclass), 'c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a33', 'read') AS run_time_read_c,
       tenant_rls.exception_allows_uuid((SELECT 'sec.g'::regclass), NULL, 'read') AS run_time_null;
SELECT sec.err($$SELECT tenant_rls.exception_allows_uuid('sec.g', NULL, 'delete')$$);
COMMIT;
-- the same through a plain SET of the setting (strict mode off)
BEGIN;
SET LOCAL app.current_tenant_id = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a22';
SELECT id, v FROM sec.g ORDER BY id;
COMMIT;
-- with tenant_type = text the context is stored as given: a typed tenant
-- column reads only the canonical spelling (review rev21a: '0042' or an
-- upper-case uuid read the rows of tenant 42 / of that uuid, while being
-- another tenant in text tables, grants and the audit log)
BEGIN;
SELECT tenant_rls.set_tenant('B0EEBC999C0B4EF8BB6D6BB9BD380A22');
SELECT sec.err($$SELECT id, v FROM sec.g ORDER BY id$$);
SELECT tenant_rls.set_tenant('B0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A22');
SELECT sec.err($$SELECT id, v FROM sec.g ORDER BY id$$);
SELECT tenant_rls.set_tenant('0042');
SELECT sec.err($$INSERT INTO sec.b (id, v) VALUES (1, 'x')$$);
SELECT sec.err($$SELECT count(*) FROM sec.i$$);
SELECT tenant_rls.set_tenant('-0');
SELECT sec.err($$SELECT count(*) FROM sec.b$$);
SELECT tenant_rls.set_tenant('42');
SELECT count(*) FROM sec.b;
COMMIT;
-- in parallel workers too (they load the grants with a snapshot of their own)
BEGIN;
SELECT tenant_rls.set_tenant('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a22');
SET LOCAL force_parallel_mode = on;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
SELECT sec.plan_has('SELECT id, v FROM sec.g ORDER BY id', 'Gather') AS parallel;
SELECT id, v FROM sec.g ORDER BY id;
COMMIT;
-- C sees nothing of the grant, and no tenant sees nothing at all
BEGIN;
SELECT tenant_rls.set_tenant('c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a33');
SELECT id, v FROM sec.g ORDER BY id;
SELECT tenant_rls.granted_tenants_uuid('sec.g', 'read') AS for_c,
       tenant_rls.granted_tenants_uuid('sec.g', 'write') AS write_for_c,
       tenant_rls.granted_tenants('sec.g', 'read') AS text_for_c;
COMMIT;
SELECT tenant_rls.granted_tenants_uuid('sec.g', 'read') AS no_tenant;
-- exception_allows_uuid() answers for the current tenant only: C is granted nothing
BEGIN;
SELECT tenant_rls.set_tenant('c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a33');
SELECT tenant_rls.exception_allows_uuid('sec.g', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'read') AS c_reads_a;
COMMIT;
-- and the grant table itself is not
SELECT sec.err($$SELECT * FROM tenant_rls.tenant_grant$$);
RESET ROLE;
SET ROLE tr_sec_owner;
SELECT count(*) FROM tenant_rls.unprotect('sec.g');
DROP TABLE sec.g;
RESET ROLE;

-- ------------------------------------------------------------------------
-- 5. grants_changed() cannot be attached to another table (it would flush
--    every backend's caches with each statement)
-- ------------------------------------------------------------------------
SET ROLE tr_sec_app;
CREATE TABLE secapp.sec_flood (id int);
SELECT sec.err($$CREATE TRIGGER flood AFTER INSERT ON secapp.sec_flood
                 FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed()$$);
SELECT sec.err($$SELECT tenant_rls.grants_changed()$$);
RESET ROLE;
-- even with EXECUTE granted (by mistake) the function refuses other tables
GRANT EXECUTE ON FUNCTION tenant_rls.grants_changed() TO tr_sec_app;
SET ROLE tr_sec_app;
CREATE TRIGGER flood AFTER INSERT ON secapp.sec_flood
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
SELECT sec.err($$INSERT INTO secapp.sec_flood VALUES (1)$$);
SELECT count(*) FROM secapp.sec_flood;
DROP TABLE secapp.sec_flood;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION tenant_rls.grants_changed() FROM tr_sec_app;
SELECT has_function_privilege('public', 'tenant_rls.grants_changed()', 'EXECUTE') AS public_may_attach;

-- ------------------------------------------------------------------------
SET ROLE tr_sec_owner;
SELECT count(*) FROM tenant_rls.unprotect('sec.b');
SELECT count(*) FROM tenant_rls.unprotect('sec.i');
SELECT count(*) FROM tenant_rls.unprotect('sec.t');
RESET ROLE;
SELECT count(*) AS left_in_registry FROM tenant_rls.protected_table WHERE schema_name = 'sec';
SET client_min_messages = warning;
DROP SCHEMA sec CASCADE;
DROP SCHEMA secapp CASCADE;
DROP ROLE tr_sec_app;
DROP ROLE tr_sec_owner;
