--
-- Controlled exceptions (DESIGN P4): admin role override, global reference
-- rows, cross-tenant grants.  Each is explicit, visible in the registry, and
-- admitted by the restrictive guard -- and nothing else is.  The common path
-- stays an index scan on the tenant column, also with generic plans.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_support NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
-- protect() itself is under test here, not the event triggers (sql/event_trigger.sql)
SET tenant_rls.auto_protect = off;
CREATE SCHEMA exc AUTHORIZATION tr_owner;
GRANT USAGE ON SCHEMA exc TO tr_app;

CREATE FUNCTION exc.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hint text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || coalesce(E'\nDETAIL: ' || nullif(det, ''), '') || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END $$;
GRANT EXECUTE ON FUNCTION exc.err(text) TO PUBLIC;

-- the helpers: markings (STABLE: never folded into a cached plan as constants)
SELECT p.proname, p.provolatile, p.proparallel, p.proleakproof, p.proconfig,
       p.prosupport::regproc AS support
  FROM pg_proc p
 WHERE p.pronamespace = 'tenant_rls'::regnamespace
   AND p.proname IN ('is_admin', 'exception_allows', 'exception_allows_uuid', 'exception_allows_bigint',
                     'exception_allows_int', 'granted_tenants',
                     'granted_tenants_uuid', 'granted_tenants_bigint', 'granted_tenants_int')
 ORDER BY 1;

SET ROLE tr_owner;
CREATE TABLE exc.docs (
    id        integer PRIMARY KEY,
    tenant_id text,
    body      text
);
CREATE INDEX ON exc.docs (tenant_id);
INSERT INTO exc.docs SELECT i, 't' || (i % 10), 'doc ' || i FROM generate_series(1, 2000) i;
ANALYZE exc.docs;
SELECT count(*) FROM tenant_rls.protect('exc.docs');
GRANT SELECT, INSERT, UPDATE, DELETE ON exc.docs TO tr_app;
RESET ROLE;

-- ---------------------------------------------------------------- admin role
SET ROLE tr_app;
SET plan_cache_mode = force_generic_plan;
PREPARE agg AS SELECT count(*), count(DISTINCT tenant_id) AS tenants FROM exc.docs;
-- only a superuser may name the admin role
SET tenant_rls.admin_role = 'tr_app';
RESET ROLE;
-- empty: nobody; a role that does not exist: nobody, and no error
SET tenant_rls.admin_role = '';
SET ROLE tr_app;
BEGIN; SELECT tenant_rls.set_tenant('t1'); EXECUTE agg; SELECT tenant_rls.is_admin(); COMMIT;
RESET ROLE;
SET tenant_rls.admin_role = 'no_such_role';
SET ROLE tr_app;
BEGIN; SELECT tenant_rls.set_tenant('t1'); EXECUTE agg; SELECT tenant_rls.is_admin(); COMMIT;
RESET ROLE;
-- a role the session is not a member of: nobody
SET tenant_rls.admin_role = 'tr_support';
SET ROLE tr_app;
BEGIN; SELECT tenant_rls.set_tenant('t1'); EXECUTE agg; SELECT tenant_rls.is_admin(); COMMIT;
-- the common plan carries no trace of the exceptions: an index condition only
BEGIN;
SELECT tenant_rls.set_tenant('t1');
EXPLAIN (COSTS OFF) EXECUTE agg;
COMMIT;
RESET ROLE;
-- members see and write every tenant's rows; the cached plan is replaced
GRANT tr_support TO tr_app;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.is_admin();
EXECUTE agg;
UPDATE exc.docs SET body = body WHERE tenant_id = 't2';
INSERT INTO exc.docs VALUES (9001, 't5', 'by support') RETURNING tenant_id;
ROLLBACK;
-- even with no tenant set
EXECUTE agg;
RESET ROLE;
-- membership revoked: the same session's cached plan stops admitting it
REVOKE tr_support FROM tr_app;
SET ROLE tr_app;
BEGIN; SELECT tenant_rls.set_tenant('t1'); EXECUTE agg; SELECT tenant_rls.is_admin(); COMMIT;
DEALLOCATE agg;
RESET plan_cache_mode;
RESET ROLE;
RESET tenant_rls.admin_role;

-- ---------------------------------------------------------------- global rows
SET ROLE tr_owner;
SELECT * FROM tenant_rls.allow_global_rows('exc.docs');
SELECT * FROM tenant_rls.allow_global_rows('exc.docs');
-- the owner is a tenant like the others (FORCE): it cannot add a global row
INSERT INTO exc.docs VALUES (0, NULL, 'shared reference row');
RESET ROLE;
-- a superuser (no row security) maintains the reference rows
INSERT INTO exc.docs VALUES (0, NULL, 'shared reference row');
SELECT global_rows, managed->'policies'->'tenant_rls_guard_select'->>'qual' LIKE '%IS NULL%' AS recorded,
       managed->'policies'->'tenant_rls_guard_select'->>'qual' AS guard
  FROM tenant_rls.protected_table WHERE table_name = 'docs';
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('t3');
-- readable by every tenant ...
SELECT count(*), count(*) FILTER (WHERE tenant_id IS NULL) AS global FROM exc.docs;
SELECT body FROM exc.docs WHERE id = 0;
-- ... writable by none
UPDATE exc.docs SET body = 'changed' WHERE id = 0;
DELETE FROM exc.docs WHERE id = 0;
SAVEPOINT s;
INSERT INTO exc.docs VALUES (9002, NULL, 'new global');
ROLLBACK TO s;
UPDATE exc.docs SET tenant_id = NULL WHERE id = 3;
ROLLBACK TO s;
-- a tenant cannot take a global row over
INSERT INTO exc.docs VALUES (0, 't3', 'mine now') ON CONFLICT (id) DO UPDATE SET tenant_id = 't3';
ROLLBACK TO s;
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM exc.docs;
COMMIT;
-- without a tenant: global rows only
SELECT id, body FROM exc.docs;
RESET ROLE;
SELECT body FROM exc.docs WHERE id = 0;
-- errors
SELECT exc.err($$SELECT tenant_rls.allow_global_rows('exc.err_no_table')$$);
CREATE TABLE exc.unprotected (tenant_id text);
SELECT exc.err($$SELECT tenant_rls.allow_global_rows('exc.unprotected')$$);
SET ROLE tr_app;
SELECT exc.err($$SELECT tenant_rls.allow_global_rows('exc.docs', false)$$);
RESET ROLE;
-- switched off again: gone, and recorded
SET ROLE tr_owner;
SELECT * FROM tenant_rls.allow_global_rows('exc.docs', false);
RESET ROLE;
SELECT global_rows, managed->'policies'->'tenant_rls_guard_select'->>'qual' LIKE '%IS NULL%' AS recorded FROM tenant_rls.protected_table WHERE table_name = 'docs';
SET ROLE tr_app;
BEGIN; SELECT tenant_rls.set_tenant('t3'); SELECT count(*) FILTER (WHERE tenant_id IS NULL) AS global FROM exc.docs; COMMIT;
RESET ROLE;
DELETE FROM exc.docs WHERE id = 0;

-- a NOT NULL that protect() set is dropped when global rows are allowed
CREATE TABLE exc.refdata (tenant_id bigint, v text);
SELECT ddl FROM tenant_rls.protect('exc.refdata') ddl WHERE ddl LIKE 'ALTER TABLE%NULL%';
SELECT * FROM tenant_rls.allow_global_rows('exc.refdata');
SELECT managed->'set_not_null' FROM tenant_rls.protected_table WHERE table_name = 'refdata';
SELECT ddl FROM tenant_rls.unprotect('exc.refdata') ddl WHERE ddl LIKE '%NULL%';
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'exc.refdata'::regclass AND attname = 'tenant_id';

-- ------------------------------------------------------ cross-tenant grants
SET ROLE tr_app;
BEGIN;
-- only the owner tenant (or the table owner) may grant access to its rows
SELECT tenant_rls.set_tenant('t2');
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't1', 't2', 'read')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't2', 't2', 'read')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', 'admin')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', NULL)$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't2', NULL, 'read')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't2', 't1 ', 'read')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', 'read', now() - interval '1 day')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access('exc.unprotected', 't2', 't1', 'read')$$);
SELECT exc.err($$SELECT tenant_rls.revoke_access('exc.docs', 't1', 't2')$$);
SELECT exc.err($$SELECT tenant_rls.revoke_access('exc.docs', 't2', 't1', 'own')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access(0, 't2', 't1', 'read')$$);
SELECT exc.err($$SELECT tenant_rls.grant_access(NULL, 't2', 't1', 'read')$$);
-- tenant t2 lets t1 read its documents
SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', 'read');
COMMIT;
RESET ROLE;
SELECT table_name, owner_tenant, grantee_tenant, privilege, valid_until, granted_by FROM tenant_rls.tenant_grant;
SET ROLE tr_app;
SET plan_cache_mode = force_generic_plan;
PREPARE agg AS SELECT tenant_id, count(*) FROM exc.docs GROUP BY 1 ORDER BY 1;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
EXECUTE agg;
-- read, not write
UPDATE exc.docs SET body = 'x' WHERE tenant_id = 't2';
DELETE FROM exc.docs WHERE tenant_id = 't2';
SAVEPOINT s;
INSERT INTO exc.docs VALUES (9003, 't2', 'forged');
ROLLBACK TO s;
-- still an index condition on the tenant column
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) EXECUTE agg;
-- other tenants are not affected by the grant
SELECT tenant_rls.set_tenant('t3');
EXECUTE agg;
COMMIT;
-- a write grant, by the table owner: t1 may now change t2's rows too
RESET ROLE;
SET ROLE tr_owner;
SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', 'write', now() + interval '1 day');
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
UPDATE exc.docs SET body = body WHERE tenant_id = 't2';
INSERT INTO exc.docs VALUES (9004, 't2', 'on behalf of t2') RETURNING tenant_id;
DELETE FROM exc.docs WHERE id = 9004;
-- but not to a third tenant
SAVEPOINT s;
UPDATE exc.docs SET tenant_id = 't3' WHERE id = 2;
ROLLBACK;
-- the grant's direction matters: t2 sees nothing of t1
BEGIN;
SELECT tenant_rls.set_tenant('t2');
EXECUTE agg;
COMMIT;
-- revoke: by the owner tenant; one privilege, then all
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SELECT tenant_rls.revoke_access('exc.docs', 't2', 't1', 'write');
SELECT tenant_rls.revoke_access('exc.docs', 't2', 't1', 'write');
SELECT tenant_rls.revoke_access('exc.docs', 't2', 't1');
-- nothing left (no privilege named): one space in the notice
SELECT tenant_rls.revoke_access('exc.docs', 't2', 't1');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
EXECUTE agg;
COMMIT;
-- a grant that expires
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', 'read', clock_timestamp() + interval '2 seconds');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT count(*) FROM exc.docs;
COMMIT;
SELECT pg_sleep(2.5);
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT count(*) FROM exc.docs;
COMMIT;
-- ... also in a transaction that a procedure starts (CALL ... COMMIT): the
-- statements of a procedure share the CALL's start, and a batch procedure
-- kept the grant until it ended (review rev37b L1)
RESET ROLE;
CREATE PROCEDURE exc.expiry_loop() LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
  PERFORM tenant_rls.set_tenant('t2');
  PERFORM tenant_rls.grant_access('exc.docs', 't2', 't1', 'read', clock_timestamp() + interval '1 second');
  COMMIT;
  PERFORM tenant_rls.set_tenant('t1');
  SELECT count(*) INTO n FROM exc.docs;
  RAISE NOTICE 'in force: % rows', n;
  COMMIT;
  PERFORM pg_sleep(1.5);
  COMMIT;
  PERFORM tenant_rls.set_tenant('t1');
  SELECT count(*) INTO n FROM exc.docs;
  RAISE NOTICE 'expired, same CALL: % rows', n;
  COMMIT;
END $$;
GRANT EXECUTE ON PROCEDURE exc.expiry_loop() TO tr_app;
SET ROLE tr_app;
CALL exc.expiry_loop();
DEALLOCATE agg;
RESET plan_cache_mode;
RESET ROLE;

-- grants on a partitioned table reach a partition queried directly
SET ROLE tr_owner;
CREATE TABLE exc.parted (id int, tenant_id uuid, v text) PARTITION BY RANGE (id);
CREATE TABLE exc.parted_1 PARTITION OF exc.parted FOR VALUES FROM (0) TO (100);
CREATE TABLE exc.parted_2 PARTITION OF exc.parted FOR VALUES FROM (100) TO (200);
INSERT INTO exc.parted SELECT i, md5((i % 3)::text)::uuid, 'p' || i FROM generate_series(0, 199) i;
SELECT count(*) FROM tenant_rls.protect('exc.parted');
GRANT SELECT ON exc.parted, exc.parted_1, exc.parted_2 TO tr_app;
SELECT tenant_rls.grant_access('exc.parted', md5('1'), md5('2'), 'read');
-- the switch is set on the table protect() was called on, for all partitions
SELECT exc.err($$SELECT tenant_rls.allow_global_rows('exc.parted_1')$$);
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant(md5('2')::uuid);
SELECT count(*) FROM exc.parted;
SELECT count(*) FROM exc.parted_1;
SELECT count(*) FROM exc.parted_2 WHERE tenant_id = md5('0')::uuid;
COMMIT;
RESET ROLE;

-- the guards admit the exceptions and nothing more: with permissive policies
-- that allow everything, a tenant still cannot write global rows or rows it
-- may only read
SELECT count(*) FROM tenant_rls.allow_global_rows('exc.docs');
INSERT INTO exc.docs VALUES (0, NULL, 'shared reference row');
SELECT tenant_rls.grant_access('exc.docs', 't2', 't1', 'read');
CREATE POLICY open_update ON exc.docs FOR UPDATE USING (true) WITH CHECK (true);
CREATE POLICY open_delete ON exc.docs FOR DELETE USING (true);
CREATE POLICY open_insert ON exc.docs FOR INSERT WITH CHECK (true);
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT count(*), count(*) FILTER (WHERE tenant_id IS NULL) AS global, count(*) FILTER (WHERE tenant_id = 't2') AS granted
  FROM exc.docs;
UPDATE exc.docs SET body = 'x' WHERE tenant_id IS NULL OR tenant_id = 't2';
DELETE FROM exc.docs WHERE tenant_id IS NULL OR tenant_id = 't2';
UPDATE exc.docs SET tenant_id = 't1' WHERE id = 0;
SAVEPOINT s;
INSERT INTO exc.docs VALUES (9005, 't2', 'forged');
ROLLBACK TO s;
COMMIT;
RESET ROLE;
-- (as superuser) untouched
SELECT count(*) FILTER (WHERE body = 'x') AS changed, count(*) FILTER (WHERE tenant_id IS NULL) AS global,
       count(*) FILTER (WHERE tenant_id = 't2') AS t2_rows
  FROM exc.docs;
DROP POLICY open_update ON exc.docs;
DROP POLICY open_delete ON exc.docs;
DROP POLICY open_insert ON exc.docs;
SELECT tenant_rls.revoke_access('exc.docs', 't2', 't1');
DELETE FROM exc.docs WHERE id = 0;
SELECT count(*) FROM tenant_rls.allow_global_rows('exc.docs', false);

-- a partition added to a tree with global rows gets them too (and stays nullable)
SET ROLE tr_owner;
SELECT count(*) FROM tenant_rls.allow_global_rows('exc.parted');
CREATE TABLE exc.parted_3 PARTITION OF exc.parted FOR VALUES FROM (200) TO (300);
SELECT ddl FROM tenant_rls.protect('exc.parted') ddl WHERE ddl LIKE '%NULL%' AND ddl NOT LIKE '%POLICY%';
RESET ROLE;
SELECT table_name, global_rows, managed->'set_not_null' AS set_not_null,
       managed->'policies'->'tenant_rls_guard_select'->>'qual' LIKE '%IS NULL%' AS reads_global
  FROM tenant_rls.protected_table WHERE table_name LIKE 'parted%' ORDER BY 1;
-- ... and the parent's grants: md5('2') reads md5('1')'s rows of the new partition
INSERT INTO exc.parted_3 SELECT i, md5((i % 3)::text)::uuid, 'p' || i FROM generate_series(200, 229) i;
GRANT SELECT ON exc.parted_3 TO tr_app;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant(md5('2')::uuid);
SELECT count(*) FILTER (WHERE tenant_id = md5('1')::uuid) AS granted, count(*) FILTER (WHERE tenant_id = md5('0')::uuid) AS other
  FROM exc.parted_3;
COMMIT;
RESET ROLE;

-- unprotect removes the grants with the registry row
SELECT count(*) FROM tenant_rls.tenant_grant;
SELECT count(*) FROM tenant_rls.unprotect('exc.parted');
SELECT count(*) FROM tenant_rls.unprotect('exc.docs');
SELECT count(*) FROM tenant_rls.tenant_grant;
SELECT count(*) FROM tenant_rls.protected_table;
SET client_min_messages = warning;
DROP SCHEMA exc CASCADE;
DROP ROLE tr_support;
