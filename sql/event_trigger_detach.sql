--
-- DETACH PARTITION / NO INHERIT and the registry's parent link
-- (event_trigger.c, registry_forget_parent()).  protect() records every
-- table of a hierarchy with the table it was called on (parent_schema /
-- parent_table, the root), also the partitions of partitions.  A DETACH
-- must clear that link for exactly the tables that left the root's tree:
--   - it cleared it for every sub-partition (not a direct partition of the
--     root) on any DETACH from the root, so after detaching an unrelated
--     partition, unprotect() of such a sub-partition alone went through
--     (leaving it unprotected below protected tables) and unprotect() of
--     the root was refused;
--   - it kept it for a sub-partition detached from its own (intermediate)
--     parent, so the root's cross-tenant grants still covered the detached
--     table: the grantee kept reading it.
-- Tables are created by etd_owner (not superuser); reads run as etd_app:
-- not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE etd_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE etd_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO etd_owner;

CREATE FUNCTION pg_temp.etd_state() RETURNS TABLE (tbl name, parent name, rls boolean, status text)
    LANGUAGE sql AS $$
    SELECT c.relname, r.parent_table, c.relrowsecurity, r.status
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'etd\_%' AND c.relkind IN ('r', 'p') AND n.nspname = 'public'
     ORDER BY 1 $$;

-- etd_root (tenant) -> etd_mid (range of k) -> etd_leaf; etd_other
SET ROLE etd_owner;
CREATE TABLE public.etd_root (id int, tenant_id text NOT NULL, k int, body text) PARTITION BY LIST (tenant_id);
CREATE TABLE public.etd_mid PARTITION OF public.etd_root FOR VALUES IN ('a', 'b') PARTITION BY RANGE (k);
CREATE TABLE public.etd_leaf PARTITION OF public.etd_mid FOR VALUES FROM (0) TO (10);
CREATE TABLE public.etd_other PARTITION OF public.etd_root FOR VALUES IN ('x');
GRANT SELECT ON public.etd_root, public.etd_mid, public.etd_leaf TO etd_app;
RESET ROLE;
SELECT * FROM pg_temp.etd_state();

--
-- 1. Detaching an unrelated partition leaves the sub-partition part of the root
--
SET ROLE etd_owner;
ALTER TABLE public.etd_root DETACH PARTITION public.etd_other;
RESET ROLE;
SELECT * FROM pg_temp.etd_state();
SET ROLE etd_owner;
-- refused: etd_leaf is protected as part of etd_root
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_leaf');
-- the root can be unprotected, with its tree (in a transaction rolled back)
BEGIN;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_root');
RESET ROLE;
SELECT tbl, rls, status FROM pg_temp.etd_state() WHERE tbl <> 'etd_other';
ROLLBACK;
SET ROLE etd_owner;
ALTER TABLE public.etd_root ATTACH PARTITION public.etd_other FOR VALUES IN ('x');
RESET ROLE;
-- etd_other, attached again, is protected with the root again (it stayed
-- protected on its own: review rev37b L2).  unprotect() of it alone is
-- refused (it once went through, and left a partition without policies
-- below the root, which etd_app, granted SELECT on it, read directly with
-- every tenant's rows)
SELECT * FROM pg_temp.etd_state() WHERE tbl IN ('etd_root', 'etd_other');
INSERT INTO public.etd_root VALUES (9, 'x', 1, 'x-secret');
GRANT SELECT ON public.etd_other TO etd_app;
SET ROLE etd_owner;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_other');
RESET ROLE;
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM public.etd_other;
COMMIT;
RESET ROLE;
-- unprotect() of the root takes it along (a NOTICE says so): refused before,
-- because a protected table was left below the root, so neither could go
SET ROLE etd_owner;
BEGIN;
SET LOCAL client_min_messages = notice;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_root');
RESET ROLE;
SELECT tbl, rls, status FROM pg_temp.etd_state() WHERE tbl IN ('etd_root', 'etd_other');
ROLLBACK;
RESET ROLE;
DELETE FROM public.etd_root WHERE id = 9;

--
-- 2. A sub-partition detached from its own parent leaves the root's tree:
-- the root's grants no longer reach it
--
INSERT INTO public.etd_root VALUES (1, 'a', 5, 'a-secret');
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT tenant_rls.grant_access('public.etd_root', 'a', 'b', 'read');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id, body FROM public.etd_leaf;
COMMIT;
RESET ROLE;
SET ROLE etd_owner;
ALTER TABLE public.etd_mid DETACH PARTITION public.etd_leaf;
RESET ROLE;
SELECT * FROM pg_temp.etd_state();
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id, body FROM public.etd_leaf;
SELECT id, tenant_id, body FROM public.etd_root;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM public.etd_leaf;
COMMIT;
RESET ROLE;
-- attached again, it is protected with the root again (it stayed on its
-- own, and the root's grants did not cover it when queried directly:
-- review rev37b L2), as is a table attached with partitions of its own
SET ROLE etd_owner;
ALTER TABLE public.etd_mid ATTACH PARTITION public.etd_leaf FOR VALUES FROM (0) TO (10);
CREATE TABLE public.etd_sub (id int, tenant_id text NOT NULL, k int, body text) PARTITION BY RANGE (k);
CREATE TABLE public.etd_sub_1 PARTITION OF public.etd_sub FOR VALUES FROM (10) TO (20);
ALTER TABLE public.etd_mid ATTACH PARTITION public.etd_sub FOR VALUES FROM (10) TO (20);
GRANT SELECT ON public.etd_sub_1 TO etd_app;
RESET ROLE;
INSERT INTO public.etd_root VALUES (2, 'a', 15, 'a-sub-secret');
SELECT * FROM pg_temp.etd_state() WHERE tbl IN ('etd_leaf', 'etd_sub', 'etd_sub_1');
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id, body FROM public.etd_leaf;
SELECT id, tenant_id, body FROM public.etd_sub_1;
COMMIT;
RESET ROLE;
SET ROLE etd_owner;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_sub');
RESET ROLE;
DELETE FROM public.etd_root WHERE id = 2;
SET ROLE etd_owner;
ALTER TABLE public.etd_mid DETACH PARTITION public.etd_sub;
ALTER TABLE public.etd_mid DETACH PARTITION public.etd_leaf;
RESET ROLE;
-- detached again, etd_sub keeps its partition with it, as before the
-- ATTACH (review rev38c: it was left on its own)
SELECT * FROM pg_temp.etd_state() WHERE tbl IN ('etd_leaf', 'etd_sub', 'etd_sub_1');
DROP TABLE public.etd_sub;

--
-- 3. The same for NO INHERIT, with inheritance three levels deep
--
SET ROLE etd_owner;
CREATE TABLE public.etd_i1 (id int, tenant_id text NOT NULL);
CREATE TABLE public.etd_i2 () INHERITS (public.etd_i1);
CREATE TABLE public.etd_i3 () INHERITS (public.etd_i2);
CREATE TABLE public.etd_i4 () INHERITS (public.etd_i1);
ALTER TABLE public.etd_i4 NO INHERIT public.etd_i1;
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl LIKE 'etd\_i%';
SET ROLE etd_owner;
ALTER TABLE public.etd_i3 NO INHERIT public.etd_i2;
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl LIKE 'etd\_i%';

--
-- 4. An inheritance child below two protected tables (review rev36b):
-- unprotect() of either parent took it along and left it without policies
-- below the other, and every tenant read its rows directly.  etd_nc is
-- protected on its own, then attached below both (INHERIT: it stays
-- protected on its own); etd_mc is protected as etd_mx's child, then
-- attached below etd_mr as well.
--
SET ROLE etd_owner;
CREATE TABLE public.etd_nx (id int, tenant_id text NOT NULL, body text);
CREATE TABLE public.etd_nr (id int, tenant_id text NOT NULL, body text);
CREATE TABLE public.etd_nc (id int, tenant_id text NOT NULL, body text);
ALTER TABLE public.etd_nc INHERIT public.etd_nx;
ALTER TABLE public.etd_nc INHERIT public.etd_nr;
CREATE TABLE public.etd_mx (id int, tenant_id text NOT NULL, body text);
CREATE TABLE public.etd_mr (id int, tenant_id text NOT NULL, body text);
CREATE TABLE public.etd_mc () INHERITS (public.etd_mx);
ALTER TABLE public.etd_mc INHERIT public.etd_mr;
GRANT SELECT ON public.etd_nx, public.etd_nr, public.etd_nc, public.etd_mc TO etd_app;
RESET ROLE;
INSERT INTO public.etd_nc VALUES (1, 'a', 'a-row'), (2, 'b', 'b-secret');
INSERT INTO public.etd_mc VALUES (1, 'a', 'a-row'), (2, 'b', 'b-secret');
SET ROLE etd_owner;
SELECT tenant_rls.unprotect('public.etd_nc');
SELECT tenant_rls.unprotect('public.etd_nx');
SELECT tenant_rls.unprotect('public.etd_nr');
SELECT tenant_rls.unprotect('public.etd_mx');
SELECT tenant_rls.unprotect('public.etd_mr');
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl ~ '^etd_[nm]';
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM public.etd_nc;
SELECT id, tenant_id, body FROM public.etd_mc;
COMMIT;
RESET ROLE;
-- out of one of the hierarchies, the other parent's unprotect() goes through
SET ROLE etd_owner;
ALTER TABLE public.etd_nc NO INHERIT public.etd_nr;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_nx');
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl ~ '^etd_n';

--
-- 5. Tables protected on their own, nested (INHERIT: they stay protected
-- on their own): the refusal names the topmost protected table, whose
-- unprotect() goes through (it named the parent, refused in turn)
--
SET ROLE etd_owner;
CREATE TABLE public.etd_c1 (id int, tenant_id text NOT NULL);
CREATE TABLE public.etd_c2 (id int, tenant_id text NOT NULL);
CREATE TABLE public.etd_c3 (id int, tenant_id text NOT NULL);
ALTER TABLE public.etd_c2 INHERIT public.etd_c1;
ALTER TABLE public.etd_c3 INHERIT public.etd_c2;
SELECT tenant_rls.unprotect('public.etd_c3');
SET client_min_messages = notice;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_c1');
SET client_min_messages = warning;
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl ~ '^etd_c';

--
-- 6. A partition left "detach pending" by a DETACH PARTITION ... CONCURRENTLY
-- that did not finish (cancelled, timed out: simulated here by setting the
-- flag the first transaction of the DETACH sets).  protect() protected the
-- tree around it, and tenants read and wrote other tenants' rows in it
-- directly (review rev36c); now refused until FINALIZE.  The audit trigger
-- it still has through an audited parent keeps working (every write to it
-- failed: "not audited").
--
SET tenant_rls.auto_protect = off;
SET ROLE etd_owner;
CREATE TABLE public.etd_q (id int, tenant_id text NOT NULL, v int) PARTITION BY LIST (tenant_id);
CREATE TABLE public.etd_q_a PARTITION OF public.etd_q FOR VALUES IN ('a');
CREATE TABLE public.etd_q_b PARTITION OF public.etd_q FOR VALUES IN ('b');
GRANT SELECT, UPDATE ON public.etd_q, public.etd_q_a, public.etd_q_b TO etd_app;
RESET ROLE;
INSERT INTO public.etd_q VALUES (1, 'a', 0), (2, 'b', 0);
UPDATE pg_catalog.pg_inherits SET inhdetachpending = true WHERE inhrelid = 'public.etd_q_b'::regclass;
SET ROLE etd_owner;
SELECT tenant_rls.protect('public.etd_q');
ALTER TABLE public.etd_q DETACH PARTITION public.etd_q_b FINALIZE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.etd_q');
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl ~ '^etd_q';
-- an audited partition, its parent's detach pending
SET tenant_rls.audit = on;
SET ROLE etd_owner;
CREATE TABLE public.etd_q_c PARTITION OF public.etd_q FOR VALUES IN ('c');
GRANT SELECT, UPDATE ON public.etd_q_c TO etd_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('public.etd_q');
INSERT INTO public.etd_q VALUES (3, 'c', 0);
UPDATE pg_catalog.pg_inherits SET inhdetachpending = true WHERE inhrelid = 'public.etd_q_c'::regclass;
-- (a new session: the audit trigger's cache of the partition is gone, as
-- the DETACH's own relcache invalidation makes it go)
\c -
SET client_min_messages = warning;
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('c');
UPDATE public.etd_q_c SET v = v + 1 RETURNING id, tenant_id, v;
COMMIT;
RESET ROLE;
SELECT table_name, operation FROM tenant_rls.audit_log WHERE tenant = 'c' ORDER BY seq, entry;
SET ROLE etd_owner;
ALTER TABLE public.etd_q DETACH PARTITION public.etd_q_c FINALIZE;
RESET ROLE;
SET tenant_rls.audit = off;

--
-- clean up
--
DROP TABLE public.etd_root, public.etd_leaf, public.etd_i1, public.etd_i3, public.etd_i4 CASCADE;
DROP TABLE public.etd_nx, public.etd_nr, public.etd_mx, public.etd_mr, public.etd_c1 CASCADE;
DROP TABLE public.etd_q, public.etd_q_b, public.etd_q_c;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'etd\_%';
SELECT count(*) AS grants_left FROM tenant_rls.tenant_grant WHERE table_name LIKE 'etd\_%';
REVOKE CREATE ON SCHEMA public FROM etd_owner;
DROP ROLE etd_app, etd_owner;
