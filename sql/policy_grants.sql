--
-- Cross-tenant grants under load from a tenant (review reviso17 F3): what a
-- tenant session may do with grant_access() / revoke_access() must not cost
-- the other tenants.  Run as tr_grt_app: not superuser, not BYPASSRLS, not
-- the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_grt_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_grt_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA grt AUTHORIZATION tr_grt_owner;
GRANT USAGE ON SCHEMA grt TO tr_grt_app;
CREATE FUNCTION grt.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hint text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || coalesce(E'\nDETAIL: ' || nullif(det, ''), '') || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END $$;
GRANT EXECUTE ON FUNCTION grt.err(text) TO PUBLIC;

SET ROLE tr_grt_owner;
CREATE TABLE grt.docs (id integer PRIMARY KEY, tenant_id text, body text);
CREATE INDEX ON grt.docs (tenant_id);
INSERT INTO grt.docs SELECT i, 't' || (i % 4), 'doc ' || i FROM generate_series(1, 400) i;
SELECT count(*) FROM tenant_rls.protect('grt.docs');
GRANT SELECT, INSERT, UPDATE, DELETE ON grt.docs TO tr_grt_app;
CREATE TABLE grt.other (id integer PRIMARY KEY, tenant_id text);
CREATE INDEX ON grt.other (tenant_id);
INSERT INTO grt.other SELECT i, 't' || (i % 4) FROM generate_series(1, 400) i;
SELECT count(*) FROM tenant_rls.protect('grt.other');
GRANT SELECT, INSERT, UPDATE, DELETE ON grt.other TO tr_grt_app;
CREATE TABLE grt.parted (id integer, tenant_id text, region text) PARTITION BY LIST (region);
CREATE TABLE grt.parted_eu PARTITION OF grt.parted FOR VALUES IN ('eu');
CREATE TABLE grt.parted_us PARTITION OF grt.parted FOR VALUES IN ('us');
CREATE INDEX ON grt.parted (tenant_id);
INSERT INTO grt.parted SELECT i, 't' || (i % 4), CASE WHEN i % 3 = 0 THEN 'eu' ELSE 'us' END
  FROM generate_series(1, 400) i;
SELECT count(*) FROM tenant_rls.protect('grt.parted');
GRANT SELECT ON grt.parted, grt.parted_eu TO tr_grt_app;
ANALYZE grt.docs, grt.other, grt.parted;
RESET ROLE;

-- ------------------------------------------------------------------------
-- 1. A change that changes nothing writes nothing: no statement on
--    tenant_rls.tenant_grant, so its trigger (which invalidates caches in
--    every backend) does not fire.  A watcher trigger shows each statement.
-- ------------------------------------------------------------------------
CREATE FUNCTION grt.watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'tenant_grant: %', TG_OP;
  RETURN NULL;
END $$;
CREATE TRIGGER grt_watch AFTER INSERT OR UPDATE OR DELETE ON tenant_rls.tenant_grant
    FOR EACH STATEMENT EXECUTE FUNCTION grt.watch();

SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
-- revokes of nothing: no DELETE
SELECT tenant_rls.revoke_access('grt.docs', 't1', 'nobody');
SELECT tenant_rls.revoke_access('grt.docs', 't1', 'nobody', 'read');
-- a new grant writes; the same grant again does not
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read', NULL);
-- a different valid_until is a change, and the same one again is not
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read', '2999-01-01 00:00+00');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read', '2999-01-01 00:00+00');
-- another privilege is another grant
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'write');
-- a revoke that removes something still writes
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2', 'write');
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2', 'write');
COMMIT;
RESET ROLE;
SELECT table_name, owner_tenant, grantee_tenant, privilege, valid_until FROM tenant_rls.tenant_grant
 ORDER BY 1, 2, 3, 4;
DROP TRIGGER grt_watch ON tenant_rls.tenant_grant;
DROP FUNCTION grt.watch();
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2');

-- ------------------------------------------------------------------------
-- 2. A grant change replans the cached plans of the tables it covers (the
--    table, and the partitions protected with it), in every session, and
--    leaves the others alone.  Plans made with sequential scans only, then
--    the setting changed: a plan made again uses the index (the settings
--    alone do not invalidate a cached plan).
-- ------------------------------------------------------------------------
SET ROLE tr_grt_app;
SET plan_cache_mode = force_generic_plan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
PREPARE docs_q AS SELECT tenant_id, count(*) FROM grt.docs GROUP BY 1 ORDER BY 1;
PREPARE other_q AS SELECT count(*) FROM grt.other;
PREPARE part_q AS SELECT tenant_id, count(*) FROM grt.parted_eu GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) EXECUTE docs_q;
EXPLAIN (COSTS OFF) EXECUTE other_q;
EXPLAIN (COSTS OFF) EXECUTE part_q;
EXECUTE docs_q;
EXECUTE part_q;
COMMIT;
SET enable_seqscan = off;
RESET enable_indexscan;
RESET enable_bitmapscan;
-- t1 lets t2 read its rows of docs and of parted (so of parted_eu)
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read');
SELECT tenant_rls.grant_access('grt.parted', 't1', 't2', 'read');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
-- planned again: the grants term is there, t1's rows are seen
EXPLAIN (COSTS OFF) EXECUTE docs_q;
EXECUTE docs_q;
EXPLAIN (COSTS OFF) EXECUTE part_q;
EXECUTE part_q;
-- not planned again: other is not covered by the grants
EXPLAIN (COSTS OFF) EXECUTE other_q;
COMMIT;
-- a revoke plans docs again (its grants are gone), not other
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
EXPLAIN (COSTS OFF) EXECUTE docs_q;
EXECUTE docs_q;
EXPLAIN (COSTS OFF) EXECUTE other_q;
COMMIT;
RESET ROLE;
-- TRUNCATE (the owner's) has no transition table: it still invalidates
-- every plan (rolled back: the grants of the other suites stay)
GRANT TRUNCATE ON tenant_rls.tenant_grant TO tr_grt_app;
SET ROLE tr_grt_app;
BEGIN;
TRUNCATE tenant_rls.tenant_grant;
EXPLAIN (COSTS OFF) EXECUTE other_q;
ROLLBACK;
RESET ROLE;
REVOKE TRUNCATE ON tenant_rls.tenant_grant FROM tr_grt_app;
DEALLOCATE ALL;
RESET plan_cache_mode;
RESET enable_seqscan;
-- the triggers on tenant_rls.tenant_grant
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'tenant_rls.tenant_grant'::regclass AND NOT tgisinternal ORDER BY 1;

-- ------------------------------------------------------------------------
-- 3. Many grants: the per-row check of the grants term finds the current
--    tenant's grants without scanning all of them.  50,000 grants of t1's
--    rows of grt.big (to tenants that do not exist) and one to t2; t2
--    counts big with a sequential scan, so the grants term is evaluated for
--    each of the 15,000 rows of the other tenants.  Scanning every grant
--    for each row took about 7 s; the statement_timeout makes that a
--    failure.
-- ------------------------------------------------------------------------
SET ROLE tr_grt_owner;
-- no index on the tenant column: a sequential scan
CREATE TABLE grt.big (id integer, tenant_id text);
INSERT INTO grt.big SELECT i, 't' || (i % 4) FROM generate_series(1, 20000) i;
SELECT count(*) FROM tenant_rls.protect('grt.big');
GRANT SELECT ON grt.big TO tr_grt_app;
ANALYZE grt.big;
RESET ROLE;
INSERT INTO tenant_rls.tenant_grant (schema_name, table_name, owner_tenant, grantee_tenant, privilege)
SELECT 'grt', 'big', 't1', 'g' || i, 'read' FROM generate_series(1, 50000) i;
-- by the table owner: a tenant session of t1 may hold no more than
-- tenant_rls.max_grants_per_table grants on the table (section 5)
SET ROLE tr_grt_owner;
SELECT tenant_rls.grant_access('grt.big', 't1', 't2', 'read');
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SET LOCAL statement_timeout = '2s';
SELECT tenant_id, count(*) FROM grt.big GROUP BY 1 ORDER BY 1;
-- the grants to t2, and to nobody else
SELECT tenant_rls.granted_tenants('grt.big', 'read');
SELECT tenant_rls.granted_tenants('grt.big', 'write');
SELECT tenant_rls.set_tenant('g25000');
SELECT tenant_rls.granted_tenants('grt.big', 'read');
SELECT tenant_rls.set_tenant('g');
SELECT tenant_rls.granted_tenants('grt.big', 'read');
COMMIT;
RESET ROLE;

-- ------------------------------------------------------------------------
-- 4. granted_tenants*() computes its array once per statement, not once per
--    row: 5,000 tenants let t2 read their rows of grt.many, whose 50,000
--    rows are all o00001's (the first element of the array: the filter's
--    ANY stops there).  Building the 5,000-element array for each row took
--    over 20 s; the statement_timeout makes that a failure.  The array
--    follows the tenant context, the grants and the privilege within a
--    statement too.
-- ------------------------------------------------------------------------
SET ROLE tr_grt_owner;
CREATE TABLE grt.many (id integer, tenant_id text);
INSERT INTO grt.many SELECT i, 'o00001' FROM generate_series(1, 50000) i;
INSERT INTO grt.many VALUES (0, 't2'), (-1, 't3');
SELECT count(*) FROM tenant_rls.protect('grt.many');
GRANT SELECT ON grt.many TO tr_grt_app;
ANALYZE grt.many;
RESET ROLE;
INSERT INTO tenant_rls.tenant_grant (schema_name, table_name, owner_tenant, grantee_tenant, privilege)
SELECT 'grt', 'many', 'o' || lpad(i::text, 5, '0'), 't2', 'read' FROM generate_series(1, 5000) i;
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SET LOCAL statement_timeout = '2s';
SELECT tenant_id, count(*) FROM grt.many GROUP BY 1 ORDER BY 1;
SELECT cardinality(tenant_rls.granted_tenants('grt.many', 'read')) AS read_grants,
       cardinality(tenant_rls.granted_tenants('grt.many', 'write')) AS write_grants;
COMMIT;
-- one statement, several tenants: each row sees its own tenant's grants
BEGIN;
SELECT t, tenant_rls.set_tenant(t) AS tenant,
       cardinality(tenant_rls.granted_tenants('grt.many', 'read')) AS grants
  FROM unnest(ARRAY['t2', 't3', 't2']) t;
-- one statement, a grant made half-way: the rows after it see it
CREATE FUNCTION pg_temp.grant_now(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tenant_rls.set_tenant('t1');
  PERFORM tenant_rls.grant_access('grt.many', 't1', t, 'read');
  PERFORM tenant_rls.set_tenant('t3');
  RETURN true;
END $$;
SELECT tenant_rls.set_tenant('t3');
SELECT i, CASE WHEN i = 2 THEN pg_temp.grant_now('t3') END AS granted,
       tenant_rls.granted_tenants('grt.many', 'read') AS grants
  FROM generate_series(1, 3) i;
ROLLBACK;
RESET ROLE;

-- ------------------------------------------------------------------------
-- 5. tenant_rls.max_grants_per_table bounds the grants one owner tenant may
--    hold on one table when a tenant session grants; the table owner,
--    superusers and members of tenant_rls.admin_role are not bounded.
-- ------------------------------------------------------------------------
SHOW tenant_rls.max_grants_per_table;
SELECT context, vartype, min_val, max_val FROM pg_settings WHERE name = 'tenant_rls.max_grants_per_table';
SET ROLE tr_grt_app;
SELECT grt.err($$SET tenant_rls.max_grants_per_table = 0$$);
RESET ROLE;
SET tenant_rls.max_grants_per_table = 3;
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.grant_access('grt.other', 't1', 'a', 'read');
SELECT tenant_rls.grant_access('grt.other', 't1', 'b', 'read');
SELECT tenant_rls.grant_access('grt.other', 't1', 'c', 'read');
-- a fourth: refused, nothing written
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.other', 't1', 'd', 'read')$$);
-- another privilege is another grant
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.other', 't1', 'a', 'write')$$);
-- the same grant again, or a new valid_until of one, adds none
SELECT tenant_rls.grant_access('grt.other', 't1', 'a', 'read');
SELECT tenant_rls.grant_access('grt.other', 't1', 'a', 'read', '2999-01-01 00:00+00');
-- other tables and other owner tenants have their own count
SELECT tenant_rls.grant_access('grt.docs', 't1', 'd', 'read');
SELECT tenant_rls.set_tenant('t2');
SELECT tenant_rls.grant_access('grt.other', 't2', 'd', 'read');
-- a revoke makes room
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.revoke_access('grt.other', 't1', 'b');
SELECT tenant_rls.grant_access('grt.other', 't1', 'd', 'read');
COMMIT;
RESET ROLE;
-- the table owner is not bounded
SET ROLE tr_grt_owner;
SELECT tenant_rls.grant_access('grt.other', 't1', 'e', 'read');
RESET ROLE;
-- nor a member of tenant_rls.admin_role (as the owner tenant)
CREATE ROLE tr_grt_admin NOLOGIN;
GRANT tr_grt_admin TO tr_grt_app;
SET tenant_rls.admin_role = 'tr_grt_admin';
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.grant_access('grt.other', 't1', 'f', 'read');
COMMIT;
RESET ROLE;
RESET tenant_rls.admin_role;
REVOKE tr_grt_admin FROM tr_grt_app;
DROP ROLE tr_grt_admin;
-- 0: no bound
SET tenant_rls.max_grants_per_table = 0;
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.grant_access('grt.other', 't1', 'g', 'read');
COMMIT;
RESET ROLE;
SELECT owner_tenant, count(*), string_agg(grantee_tenant || ':' || privilege, ', ' ORDER BY grantee_tenant) AS grants
  FROM tenant_rls.tenant_grant WHERE table_name = 'other' GROUP BY 1 ORDER BY 1;
RESET tenant_rls.max_grants_per_table;

-- ------------------------------------------------------------------------
-- 6. A grant change costs the other backends (here: this one, which sees
--    its own invalidations the same way) a new read of the grants of the
--    tables it covers, to the tenant they serve, not of all grants.  100
--    changes of a grant on docs, each followed by a look-up of t2's grants
--    on big (50,001 grants): reading all grants again after each change
--    took over 6 s; the statement_timeout makes that a failure.  Then 20
--    changes of a grant on big itself: t2's grants on it are read again.
-- ------------------------------------------------------------------------
SET tenant_rls.max_grants_per_table = 0;
SET ROLE tr_grt_app;
BEGIN;
SET LOCAL statement_timeout = '3s';
DO $$
BEGIN
  FOR i IN 1..120 LOOP
    PERFORM tenant_rls.set_tenant('t1');
    IF i <= 100 THEN
      PERFORM tenant_rls.grant_access('grt.docs', 't1', 't3', 'read', now() + i * interval '1 day');
    ELSE
      PERFORM tenant_rls.grant_access('grt.big', 't1', 't3', 'read', now() + i * interval '1 day');
    END IF;
    PERFORM tenant_rls.set_tenant('t2');
    IF tenant_rls.granted_tenants('grt.big', 'read') <> '{t1}' THEN
      RAISE EXCEPTION 'wrong grants: % at %', tenant_rls.granted_tenants('grt.big', 'read'), i;
    END IF;
  END LOOP;
END $$;
-- what changed is seen
SELECT tenant_rls.set_tenant('t3');
SELECT tenant_rls.granted_tenants('grt.big', 'read') AS big, tenant_rls.granted_tenants('grt.docs', 'read') AS docs;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.revoke_access('grt.big', 't1', 't3');
SELECT tenant_rls.set_tenant('t3');
SELECT tenant_rls.granted_tenants('grt.big', 'read') AS big, tenant_rls.granted_tenants('grt.docs', 'read') AS docs;
ROLLBACK;
RESET ROLE;
RESET tenant_rls.max_grants_per_table;

-- ------------------------------------------------------------------------
-- The grantees of a table are read once, sorted bytewise: a tenant that is
-- none of them gets no grant without a read of its own (review rev25c: each
-- such tenant read the grants, and a backend serving more than 64 tenants
-- read them again at almost every plan).  Grantees whose order differs
-- between collations ('Zed' < 'alpha' bytewise) are each found; a tenant
-- between them, before them or after them is none of them.
SET ROLE tr_grt_owner;
CREATE TABLE grt.sorted (id integer PRIMARY KEY, tenant_id text);
INSERT INTO grt.sorted SELECT i, (ARRAY['own', 'Zed', 'alpha', 'bravo', 'Yak', 'bz', 'zz'])[i % 7 + 1]
  FROM generate_series(1, 70) i;
SELECT count(*) FROM tenant_rls.protect('grt.sorted');
GRANT SELECT ON grt.sorted TO tr_grt_app;
SELECT tenant_rls.grant_access('grt.sorted', 'own', g, 'read') FROM unnest(ARRAY['Zed', 'alpha', 'bravo']) g;
RESET ROLE;
SET ROLE tr_grt_app;
BEGIN;
CREATE TEMP TABLE sorted_seen (tenant text, sees text);
-- (one statement per tenant, the plan cached across them as a pooled
-- session's would be)
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['Zed', 'alpha', 'bravo', 'Yak', 'bz', 'zz', 'own'] LOOP
    PERFORM tenant_rls.set_tenant(t);
    INSERT INTO sorted_seen SELECT t, string_agg(DISTINCT tenant_id, ',' ORDER BY tenant_id) FROM grt.sorted;
  END LOOP;
END $$;
SELECT * FROM sorted_seen ORDER BY tenant COLLATE "C";
ROLLBACK;
RESET ROLE;
SELECT count(*) FROM tenant_rls.unprotect('grt.sorted');

-- ------------------------------------------------------------------------
-- 7. A tenant is its value as set, not its canonical form (review rev40a):
--    with tenant_rls.tenant_type = text, '0042' is another tenant than 42,
--    which the typed accessors refuse to read for it; grant_access() and
--    revoke_access() admitted it as owner tenant 42 of a bigint table (it
--    granted 42's rows to tenant 7, who then changed them), and
--    granted_tenants_bigint() gave it the grants made to 42.  Likewise an
--    upper-case uuid for a uuid table.
-- ------------------------------------------------------------------------
SET ROLE tr_grt_owner;
CREATE TABLE grt.nums (id integer PRIMARY KEY, tenant_id bigint NOT NULL, secret text);
INSERT INTO grt.nums VALUES (1, 42, 'tenant 42 secret'), (2, 7, 'tenant 7 row'), (3, 5, 'tenant 5 row');
SELECT count(*) FROM tenant_rls.protect('grt.nums');
GRANT SELECT, INSERT, UPDATE, DELETE ON grt.nums TO tr_grt_app;
CREATE TABLE grt.uids (id integer PRIMARY KEY, tenant_id uuid NOT NULL, secret text);
INSERT INTO grt.uids VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0ee secret'),
                            (2, 'b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'b1ee row');
SELECT count(*) FROM tenant_rls.protect('grt.uids');
GRANT SELECT, UPDATE ON grt.uids TO tr_grt_app;
-- tenant 42 grants tenant 5 its rows, tenant 7 grants 42 its rows
SELECT tenant_rls.grant_access('grt.nums', '42', '5', 'read');
SELECT tenant_rls.grant_access('grt.nums', '7', '42', 'read');
RESET ROLE;
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('0042');
-- the accessor refuses it
SELECT grt.err($$SELECT count(*) FROM grt.nums$$);
-- and so do grant_access() and revoke_access(), which wrote nothing
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.nums', '42', '7', 'write')$$);
SELECT grt.err($$SELECT tenant_rls.revoke_access('grt.nums', '42', '5')$$);
-- it holds none of 42's grants, and learns none
SELECT tenant_rls.granted_tenants_bigint('grt.nums', 'read') AS granted_to_0042;
SELECT tenant_rls.set_tenant('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11');
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.uids', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'write')$$);
-- tenant 7 sees its own row only, tenant 5 also 42's (granted), tenant 42 its own
SELECT tenant_rls.set_tenant('7');
SELECT id, secret FROM grt.nums ORDER BY id;
SELECT tenant_rls.set_tenant('5');
SELECT id, secret FROM grt.nums ORDER BY id;
SELECT tenant_rls.granted_tenants_bigint('grt.nums', 'read') AS granted_to_5;
-- the canonical spelling is the owner tenant, and the grantee
SELECT tenant_rls.set_tenant('42');
SELECT tenant_rls.granted_tenants_bigint('grt.nums', 'read') AS granted_to_42;
SELECT id, secret FROM grt.nums ORDER BY id;
SELECT tenant_rls.revoke_access('grt.nums', '42', '5') AS revoked;
COMMIT;
RESET ROLE;
SELECT owner_tenant, grantee_tenant, privilege FROM tenant_rls.tenant_grant
 WHERE table_name IN ('nums', 'uids') ORDER BY 1, 2;

-- ------------------------------------------------------------------------
-- A revoke in replica mode (session_replication_role = replica: what the
-- apply worker of a logical replication subscriber runs in) fired none of
-- the grant triggers, and a backend that had the grant cached kept reading
-- the owner's rows (review rev45e).
SELECT tenant_rls.grant_access('grt.docs', 't1', 't2', 'read');
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SELECT count(*) AS t2_reads_t1 FROM grt.docs WHERE tenant_id = 't1';
COMMIT;
RESET ROLE;
SET session_replication_role = replica;
SELECT tenant_rls.revoke_access('grt.docs', 't1', 't2') AS revoked_in_replica_mode;
RESET session_replication_role;
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SELECT count(*) AS t2_reads_t1 FROM grt.docs WHERE tenant_id = 't1';
SELECT tenant_rls.granted_tenants('grt.docs', 'read') AS granted_to_t2;
COMMIT;
RESET ROLE;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'tenant_rls.tenant_grant'::regclass AND NOT tgisinternal ORDER BY 1;

-- ------------------------------------------------------------------------
-- A partition protected with its parent takes no grant of its own (review
-- rev48c: the grant applied where the partition was queried by its name,
-- not through the parent), neither from its tenant nor from the owner; the
-- grant on the parent covers it
-- ------------------------------------------------------------------------
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.parted_eu', 't1', 't2', 'read')$$);
COMMIT;
SET ROLE tr_grt_owner;
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.parted_eu', 't1', 't2', 'read')$$);
RESET ROLE;
SELECT count(*) AS partition_grants FROM tenant_rls.tenant_grant WHERE table_name = 'parted_eu';

-- ------------------------------------------------------------------------
-- A tenant session grants (and revokes) only on a table its role may use as
-- the grant does (review rev49b: a role without any privilege on the table
-- granted its tenant's rows to another tenant, whose sessions of a role that
-- may read the table then read and changed them): SELECT for 'read' and for
-- a revoke, SELECT, INSERT, UPDATE and DELETE for 'write'.  The table owner
-- needs no privilege.
-- ------------------------------------------------------------------------
SET ROLE tr_grt_owner;
CREATE TABLE grt.hr (id integer PRIMARY KEY, tenant_id text, salary integer);
SELECT count(*) FROM tenant_rls.protect('grt.hr');
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.hr', 't1', 't2', 'read')$$);
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.hr', 't1', 't2', 'write')$$);
SELECT grt.err($$SELECT tenant_rls.revoke_access('grt.hr', 't1', 't2')$$);
COMMIT;
SET ROLE tr_grt_owner;
GRANT SELECT, UPDATE ON grt.hr TO tr_grt_app;
SET ROLE tr_grt_app;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT tenant_rls.grant_access('grt.hr', 't1', 't2', 'read');
SELECT grt.err($$SELECT tenant_rls.grant_access('grt.hr', 't1', 't2', 'write')$$);
SELECT tenant_rls.revoke_access('grt.hr', 't1', 't2') AS revoked;
COMMIT;
SET ROLE tr_grt_owner;
REVOKE ALL ON grt.hr FROM tr_grt_app;
SELECT tenant_rls.grant_access('grt.hr', 't1', 't2', 'write');
-- the granted_tenants function of another tenant type, called by hand, fails
-- to convert the owner tenants and says which one to call (review rev49b)
BEGIN;
SELECT tenant_rls.set_tenant('t2');
SELECT tenant_rls.granted_tenants('grt.hr', 'write');
SELECT tenant_rls.granted_tenants_int('grt.hr', 'write');
ROLLBACK;
SELECT tenant_rls.revoke_access('grt.hr', 't1', 't2') AS revoked;
SELECT count(*) FROM tenant_rls.unprotect('grt.hr');
RESET ROLE;

-- ------------------------------------------------------------------------
SET client_min_messages = warning;
SELECT count(*) FROM tenant_rls.unprotect('grt.nums');
SELECT count(*) FROM tenant_rls.unprotect('grt.uids');
SELECT count(*) FROM tenant_rls.unprotect('grt.many');
SELECT count(*) FROM tenant_rls.unprotect('grt.big');
SELECT count(*) FROM tenant_rls.unprotect('grt.docs');
SELECT count(*) FROM tenant_rls.unprotect('grt.other');
SELECT count(*) FROM tenant_rls.unprotect('grt.parted');
DROP SCHEMA grt CASCADE;
DROP ROLE tr_grt_app;
DROP ROLE tr_grt_owner;
