--
-- Drift guard for hierarchies (event_trigger.c, check_ancestors()): a query
-- on a partitioned table or an inheritance parent applies only that table's
-- policies, also to the rows of its partitions and children, so a protected
-- table below an unprotected one is read and written by every tenant through
-- it.  No DDL may put a protected table below an unprotected one (at any
-- level), and unprotect() may not leave one below the table it unprotects.
-- Tables are created by eta_owner (not superuser); reads are checked as
-- eta_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE eta_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE eta_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO eta_owner;
-- eta_rep is not a managed schema (tenant_rls.managed_schemas = public)
CREATE SCHEMA eta_rep AUTHORIZATION eta_owner;
GRANT USAGE ON SCHEMA eta_rep TO eta_app;

-- registry status of the tables of this test
CREATE FUNCTION pg_temp.eta_state() RETURNS TABLE (tbl text, parent text, rls boolean, force boolean, status text)
    LANGUAGE sql AS $$
    SELECT n.nspname || '.' || c.relname,
           (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
              FROM pg_inherits i WHERE i.inhrelid = c.oid),
           c.relrowsecurity, c.relforcerowsecurity, r.status
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'eta\_%' AND c.relkind IN ('r', 'p', 'f') AND n.nspname NOT LIKE 'pg_temp%'
     ORDER BY 1 $$;

--
-- The reported leak: a partition auto-protected in a managed schema, below
-- a partitioned table of an unmanaged schema that is not protected
--
SET ROLE eta_owner;
CREATE TABLE eta_rep.eta_events (id int, tenant_id text NOT NULL, body text) PARTITION BY LIST (tenant_id);
GRANT SELECT ON eta_rep.eta_events TO eta_app;
CREATE TABLE public.eta_events_ab PARTITION OF eta_rep.eta_events FOR VALUES IN ('a', 'b');
-- the whole statement is rolled back: no table, no registry row
SELECT to_regclass('public.eta_events_ab') AS created;
RESET ROLE;
SELECT count(*) AS registry_rows FROM tenant_rls.protected_table WHERE table_name = 'eta_events_ab';

-- under drift_action = warning it goes through with a WARNING; this is the
-- state the guard refuses: the tenant role reads and changes every tenant's
-- rows through the parent, while the partition queried directly is isolated
SET tenant_rls.drift_action = warning;
SET ROLE eta_owner;
CREATE TABLE public.eta_events_ab PARTITION OF eta_rep.eta_events FOR VALUES IN ('a', 'b');
GRANT SELECT, UPDATE ON eta_rep.eta_events, public.eta_events_ab TO eta_app;
RESET ROLE;
RESET tenant_rls.drift_action;
INSERT INTO eta_rep.eta_events VALUES (1, 'a', 'a-only'), (2, 'b', 'b-secret');
SELECT * FROM pg_temp.eta_state();
SET ROLE eta_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT * FROM eta_rep.eta_events ORDER BY id;
SELECT * FROM public.eta_events_ab ORDER BY id;
UPDATE eta_rep.eta_events SET body = 'overwritten by a' WHERE tenant_id = 'b' RETURNING *;
ROLLBACK;
RESET ROLE;
-- lint() reports it, with the fix
SELECT level, object, fix FROM tenant_rls.lint()
 WHERE code = 'ancestor_unprotected' AND object LIKE '%eta\_%' ORDER BY object;
-- unrelated DDL on the hierarchy is not refused for it: only the table
-- that gets a new parent is checked (here an unprotected one)
SET ROLE eta_owner;
CREATE TABLE eta_rep.eta_events_c (id int, tenant_id text NOT NULL, body text);
ALTER TABLE eta_rep.eta_events ATTACH PARTITION eta_rep.eta_events_c FOR VALUES IN ('c');
-- the hint's way out: protect the parent (eta_events_ab, protected on its
-- own, is left as it is; eta_events_c is protected with the parent)
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('eta_rep.eta_events');
RESET ROLE;
SELECT * FROM pg_temp.eta_state();
SET ROLE eta_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT * FROM eta_rep.eta_events ORDER BY id;
UPDATE eta_rep.eta_events SET body = 'overwritten by a' WHERE tenant_id = 'b' RETURNING *;
ROLLBACK;
RESET ROLE;
SELECT count(*) AS findings FROM tenant_rls.lint()
 WHERE code = 'ancestor_unprotected' AND object LIKE '%eta\_%';
-- with the parent protected first, new partitions are fine anywhere
SET ROLE eta_owner;
CREATE TABLE public.eta_events_d PARTITION OF eta_rep.eta_events FOR VALUES IN ('d');
RESET ROLE;

--
-- ALTER TABLE ... INHERIT: below a parent without the tenant column (which
-- cannot be protected), below one with it, below one whose tenant column is
-- another (the hint names it)
--
SET ROLE eta_owner;
CREATE TABLE public.eta_orders (id int, tenant_id text NOT NULL);
CREATE TABLE eta_rep.eta_ip (id int);
ALTER TABLE public.eta_orders INHERIT eta_rep.eta_ip;
CREATE TABLE eta_rep.eta_tp (id int, tenant_id text);
ALTER TABLE public.eta_orders INHERIT eta_rep.eta_tp;
CREATE TABLE public.eta_org (id int, org_id bigint NOT NULL);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.eta_org', 'org_id');
CREATE TABLE eta_rep.eta_orgp (org_id bigint);
ALTER TABLE public.eta_org INHERIT eta_rep.eta_orgp;
-- CREATE TABLE ... INHERITS, the same
CREATE TABLE public.eta_kid (tenant_id text NOT NULL) INHERITS (eta_rep.eta_ip);
SELECT to_regclass('public.eta_kid') AS created;
-- a table that is not protected may join them (nothing to expose)
CREATE TABLE public.eta_nocol (note text) INHERITS (eta_rep.eta_ip);
RESET ROLE;
SELECT * FROM pg_temp.eta_state() WHERE tbl IN ('public.eta_orders', 'public.eta_org', 'public.eta_nocol');

--
-- ALTER TABLE ... ATTACH PARTITION of a protected table (the whole statement
-- is rolled back, also inside a savepoint)
--
SET ROLE eta_owner;
CREATE TABLE eta_rep.eta_p (id int, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE public.eta_orders2 (id int, tenant_id text NOT NULL);
ALTER TABLE eta_rep.eta_p ATTACH PARTITION public.eta_orders2 FOR VALUES IN ('x');
BEGIN;
SAVEPOINT s;
ALTER TABLE eta_rep.eta_p ATTACH PARTITION public.eta_orders2 FOR VALUES IN ('x');
ROLLBACK TO SAVEPOINT s;
COMMIT;
-- a partitioned table with a protected partition below it (made under
-- drift_action = warning): that partition is named
CREATE TABLE eta_rep.eta_sub (id int, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
RESET ROLE;
SET tenant_rls.drift_action = warning;
SET ROLE eta_owner;
ALTER TABLE eta_rep.eta_sub ATTACH PARTITION public.eta_orders2 FOR VALUES IN ('x');
RESET ROLE;
RESET tenant_rls.drift_action;
SET ROLE eta_owner;
ALTER TABLE eta_rep.eta_p ATTACH PARTITION eta_rep.eta_sub FOR VALUES IN ('x');
RESET ROLE;
SELECT * FROM pg_temp.eta_state() WHERE tbl IN ('public.eta_orders2', 'eta_rep.eta_sub');

--
-- any level: below a protected parent whose own parent is not protected
--
SET ROLE eta_owner;
CREATE TABLE eta_rep.eta_top (id int, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE eta_rep.eta_mid PARTITION OF eta_rep.eta_top FOR VALUES IN ('m', 'n') PARTITION BY LIST (tenant_id);
-- (protect() of the middle table itself is not refused: protecting a table
-- never makes its rows easier to read; lint() reports it)
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('eta_rep.eta_mid');
CREATE TABLE public.eta_leaf PARTITION OF eta_rep.eta_mid FOR VALUES IN ('m');
RESET ROLE;
SELECT level, object, fix FROM tenant_rls.lint()
 WHERE code = 'ancestor_unprotected' AND object LIKE '%eta\_%' ORDER BY object;
DROP TABLE eta_rep.eta_top;

--
-- nothing legitimate is refused
--
SET ROLE eta_owner;
-- a partitioned table of a managed schema is protected when it is created,
-- before its partitions, also in one transaction
BEGIN;
CREATE TABLE public.eta_tx (id int, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE public.eta_tx_a PARTITION OF public.eta_tx FOR VALUES IN ('a');
CREATE TABLE public.eta_tx_b (id int, tenant_id text NOT NULL);
ALTER TABLE public.eta_tx ATTACH PARTITION public.eta_tx_b FOR VALUES IN ('b');
CREATE TABLE public.eta_tx_c (extra int) INHERITS (public.eta_orders);
COMMIT;
-- unprotected tables below unprotected ones: nothing to expose
CREATE TABLE eta_rep.eta_loose (id int, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE eta_rep.eta_loose_a PARTITION OF eta_rep.eta_loose FOR VALUES IN ('a');
RESET ROLE;
-- auto_protect = off: the new partition is not protected, so not refused
SET tenant_rls.auto_protect = off;
CREATE TABLE public.eta_off PARTITION OF eta_rep.eta_loose FOR VALUES IN ('o');
RESET tenant_rls.auto_protect;
SELECT * FROM pg_temp.eta_state() WHERE tbl LIKE '%eta\_tx%' OR tbl LIKE '%eta\_loose%' OR tbl = 'public.eta_off';
-- leaving the hierarchy is always allowed
SET ROLE eta_owner;
ALTER TABLE eta_rep.eta_events DETACH PARTITION public.eta_events_ab;
RESET ROLE;

--
-- unprotect() of a parent while a table protected on its own stays below it
--
SET ROLE eta_owner;
ALTER TABLE eta_rep.eta_events ATTACH PARTITION public.eta_events_ab FOR VALUES IN ('a', 'b');
RESET ROLE;
SELECT table_name, parent_table FROM tenant_rls.protected_table
 WHERE table_name IN ('eta_events', 'eta_events_ab', 'eta_events_c', 'eta_events_d') ORDER BY 1;
-- attached, it is protected with the parent (it stayed on its own: review
-- rev37b L2).  That table alone cannot be unprotected: without policies,
-- queried directly, it shows every tenant's rows (it went through);
-- unprotect() of the parent takes it along (it was refused while that table
-- stayed protected below it, so neither could go)
SET ROLE eta_owner;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.eta_events_ab');
SET client_min_messages = notice;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('eta_rep.eta_events');
SET client_min_messages = warning;
RESET ROLE;
SELECT * FROM pg_temp.eta_state() WHERE tbl LIKE 'eta_rep.eta_events%' OR tbl LIKE 'public.eta_events%';

--
-- clean up
--
DROP SCHEMA eta_rep CASCADE;
DROP TABLE public.eta_orders, public.eta_org, public.eta_tx CASCADE;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'eta\_%';
SELECT * FROM pg_temp.eta_state();
REVOKE CREATE ON SCHEMA public FROM eta_owner;
DROP ROLE eta_app, eta_owner;
