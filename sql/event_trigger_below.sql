--
-- Drift guard for hierarchies, the other direction (event_trigger.c,
-- check_below_protected()): a query on a partition or inheritance child
-- applies that table's own policies, and a query on its protected parent
-- returns the child's rows to the tenant they name.  So a table that gets a
-- protected parent must end up protected by the same tenant column: a table
-- marked global, a temporary table or a table protected by another column
-- below a protected table is refused (a WARNING under drift_action =
-- warning), and mark_global() of a table below a protected one too.
-- Tables are created by etb_owner (not superuser); the attacks run as
-- etb_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE etb_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE etb_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO etb_owner;
-- etb_ref is not a managed schema (tenant_rls.managed_schemas = public)
CREATE SCHEMA etb_ref AUTHORIZATION etb_owner;
GRANT USAGE ON SCHEMA etb_ref TO etb_app;

CREATE FUNCTION pg_temp.etb_state() RETURNS TABLE (tbl text, parent text, rls boolean, force boolean, status text, tenant_column name)
    LANGUAGE sql AS $$
    SELECT n.nspname || '.' || c.relname,
           (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
              FROM pg_inherits i WHERE i.inhrelid = c.oid),
           c.relrowsecurity, c.relforcerowsecurity, r.status, r.tenant_column
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'etb\_%' AND c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg_temp%'
     ORDER BY 1 $$;

SET ROLE etb_owner;
CREATE TABLE public.etb_orders (id int, tenant_id text NOT NULL, body text) PARTITION BY LIST (tenant_id);
CREATE TABLE public.etb_orders_a PARTITION OF public.etb_orders FOR VALUES IN ('a');
GRANT SELECT, INSERT, UPDATE ON public.etb_orders TO etb_app;
RESET ROLE;

--
-- 1. A table marked global attached as a partition of a protected table:
-- it has no policies, so the tenant role read and wrote every tenant's rows
-- in it directly (and planted rows that the parent returns to another
-- tenant).  Refused; the whole statement is rolled back.
--
SET ROLE etb_owner;
CREATE TABLE etb_ref.etb_orders_b (id int, tenant_id text NOT NULL, body text);
SELECT tenant_rls.mark_global('etb_ref.etb_orders_b');
GRANT SELECT, INSERT ON etb_ref.etb_orders_b TO etb_app;
ALTER TABLE public.etb_orders ATTACH PARTITION etb_ref.etb_orders_b FOR VALUES IN ('b');
RESET ROLE;
SELECT * FROM pg_temp.etb_state();
SET ROLE etb_owner;
-- the same by INHERIT, and by CREATE TABLE ... INHERITS of a global parent's child
CREATE TABLE public.etb_items (id int, tenant_id text NOT NULL);
CREATE TABLE etb_ref.etb_items_g (id int, tenant_id text NOT NULL);
SELECT tenant_rls.mark_global('etb_ref.etb_items_g');
ALTER TABLE etb_ref.etb_items_g INHERIT public.etb_items;
SELECT count(*) AS linked FROM pg_inherits WHERE inhrelid = 'etb_ref.etb_items_g'::regclass;
-- the hint: unmark it, then the ATTACH protects it like any partition
SELECT tenant_rls.unmark_global('etb_ref.etb_orders_b');
ALTER TABLE public.etb_orders ATTACH PARTITION etb_ref.etb_orders_b FOR VALUES IN ('b');
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl LIKE '%etb_orders%';

-- under drift_action = warning it goes through, and this is what the guard
-- refuses: tenant a reads and writes tenant b's rows in the global partition
SET ROLE etb_owner;
ALTER TABLE public.etb_orders DETACH PARTITION etb_ref.etb_orders_b;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('etb_ref.etb_orders_b');
SELECT tenant_rls.mark_global('etb_ref.etb_orders_b');
RESET ROLE;
SET tenant_rls.drift_action = warning;
SET ROLE etb_owner;
ALTER TABLE public.etb_orders ATTACH PARTITION etb_ref.etb_orders_b FOR VALUES IN ('b');
RESET ROLE;
RESET tenant_rls.drift_action;
SET ROLE etb_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user;
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO public.etb_orders (id, body) VALUES (1, 'b-secret');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT * FROM etb_ref.etb_orders_b;
INSERT INTO etb_ref.etb_orders_b VALUES (2, 'b', 'planted by a');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT * FROM public.etb_orders ORDER BY id;
COMMIT;
RESET ROLE;
SET ROLE etb_owner;
ALTER TABLE public.etb_orders DETACH PARTITION etb_ref.etb_orders_b;
-- mark_global() of a table below a protected one: refused
CREATE TABLE etb_ref.etb_orders_c (id int, tenant_id text NOT NULL, body text);
RESET ROLE;
SET tenant_rls.auto_protect = off;
ALTER TABLE public.etb_orders ATTACH PARTITION etb_ref.etb_orders_c FOR VALUES IN ('c');
RESET tenant_rls.auto_protect;
SET ROLE etb_owner;
SELECT tenant_rls.mark_global('etb_ref.etb_orders_c');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.etb_orders');
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl LIKE '%etb_orders%';

--
-- 2. A temporary inheritance child of a protected table: PostgreSQL allows
-- it, protect() cannot protect it, and the rows its session writes into it
-- (any tenant) are returned through the parent to whoever uses that
-- session next (a pooled connection).  Refused.
--
SET ROLE etb_owner;
CREATE TEMP TABLE etb_tmp () INHERITS (public.etb_items);
SELECT to_regclass('pg_temp.etb_tmp') AS created;
CREATE TEMP TABLE etb_tmp (id int, tenant_id text NOT NULL);
ALTER TABLE pg_temp.etb_tmp INHERIT public.etb_items;
SELECT count(*) AS linked FROM pg_inherits WHERE inhrelid = 'pg_temp.etb_tmp'::regclass;
DROP TABLE pg_temp.etb_tmp;
RESET ROLE;
-- what the guard refuses, under drift_action = warning: a row planted for
-- tenant b is returned to tenant b
SET tenant_rls.drift_action = warning;
SET ROLE etb_owner;
CREATE TEMP TABLE etb_tmp () INHERITS (public.etb_items);
INSERT INTO pg_temp.etb_tmp VALUES (99, 'b');
GRANT SELECT ON public.etb_items TO etb_app;
RESET ROLE;
RESET tenant_rls.drift_action;
SET ROLE etb_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT * FROM public.etb_items;
COMMIT;
RESET ROLE;
DROP TABLE pg_temp.etb_tmp;
-- protect() of a table that got a temporary child while unprotected (review
-- rev19c F2: it wrote registry and audit rows for the temporary table, which
-- outlived it and named the next session's table of that name): refused,
-- nothing written
SET tenant_rls.auto_protect = off;
SET ROLE etb_owner;
CREATE TABLE public.etb_plain (id int, tenant_id text NOT NULL);
CREATE TEMP TABLE etb_tmp2 () INHERITS (public.etb_plain);
SELECT tenant_rls.protect('public.etb_plain');
RESET ROLE;
SELECT count(*) AS registry_rows FROM tenant_rls.protected_table WHERE table_name IN ('etb_plain', 'etb_tmp2');
SELECT count(*) AS audit_rows FROM tenant_rls.audit_config WHERE table_name IN ('etb_plain', 'etb_tmp2');
SELECT relrowsecurity FROM pg_class WHERE oid = 'public.etb_plain'::regclass;
SET ROLE etb_owner;
DROP TABLE pg_temp.etb_tmp2;
DROP TABLE public.etb_plain;
RESET ROLE;
RESET tenant_rls.auto_protect;

--
-- 3. A table protected by another column attached below a protected
-- table: a query on the partition checks org_id, one on the parent
-- tenant_id, so a row with tenant_id = 'a' and org_id = 'b', written by
-- tenant b, is returned to tenant a through the parent, and tenant b keeps
-- reading and changing it.  Refused.
--
SET ROLE etb_owner;
CREATE TABLE public.etb_docs (id int, tenant_id text NOT NULL, org_id text NOT NULL, body text) PARTITION BY LIST (tenant_id);
CREATE TABLE etb_ref.etb_docs_a (id int, tenant_id text NOT NULL, org_id text NOT NULL, body text);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_docs_a', 'org_id');
ALTER TABLE public.etb_docs ATTACH PARTITION etb_ref.etb_docs_a FOR VALUES IN ('a');
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl LIKE '%etb_docs%';
SET tenant_rls.drift_action = warning;
SET ROLE etb_owner;
ALTER TABLE public.etb_docs ATTACH PARTITION etb_ref.etb_docs_a FOR VALUES IN ('a');
GRANT SELECT, INSERT, UPDATE ON public.etb_docs, etb_ref.etb_docs_a TO etb_app;
RESET ROLE;
RESET tenant_rls.drift_action;
SET ROLE etb_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO etb_ref.etb_docs_a (id, tenant_id, body) VALUES (1, 'a', 'planted by b');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM public.etb_docs;
UPDATE public.etb_docs SET body = 'a-secret' WHERE id = 1;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id, body FROM etb_ref.etb_docs_a;
COMMIT;
RESET ROLE;
-- lint() reports what the guard let through (review rev20a: nothing did)
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'hierarchy_mismatch';

-- protected by the same column: fine, as before
SET ROLE etb_owner;
ALTER TABLE public.etb_docs DETACH PARTITION etb_ref.etb_docs_a;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('etb_ref.etb_docs_a');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_docs_a');
ALTER TABLE public.etb_docs ATTACH PARTITION etb_ref.etb_docs_a FOR VALUES IN ('a');
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl LIKE '%etb_docs%';

--
-- the tenant column reaching a child through its parent (ADD COLUMN and
-- RENAME COLUMN recurse; the server reports only the table named): a child in
-- a managed schema below a parent elsewhere is a tenant table now, and is
-- refused like CREATE TABLE ... INHERITS such a parent (before, it stayed
-- unprotected); with both in a managed schema, both are protected
--
SET ROLE etb_owner;
CREATE TABLE etb_ref.etb_par (id int, org text);
CREATE TABLE public.etb_kid (secret text) INHERITS (etb_ref.etb_par);
ALTER TABLE etb_ref.etb_par ADD COLUMN tenant_id text;
ALTER TABLE etb_ref.etb_par RENAME COLUMN org TO tenant_id;
CREATE TABLE public.etb_par2 (id int, org text) PARTITION BY LIST (id);
CREATE TABLE public.etb_kid2 PARTITION OF public.etb_par2 FOR VALUES IN (1);
CREATE TABLE public.etb_par3 (id int);
CREATE TABLE public.etb_kid3 (secret text) INHERITS (public.etb_par3);
ALTER TABLE public.etb_par2 RENAME COLUMN org TO tenant_id;
ALTER TABLE public.etb_par3 ADD COLUMN tenant_id text;
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl ~ 'etb_(par|kid)' ORDER BY tbl;

--
-- 4. Ways around 3 (review rev20a: all three were accepted, lint() silent,
-- and tenant b read and took over tenant a's row through the parent).
--
-- (a) multiple inheritance: the guard compared the child with its first
-- protected parent only
SET ROLE etb_owner;
CREATE TABLE public.etb_mi1 (id int, tenant_id text NOT NULL, org_id text NOT NULL);
CREATE TABLE public.etb_mi2 (id int, tenant_id text NOT NULL, org_id text NOT NULL);
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etb_mi2');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.etb_mi2', 'org_id');
CREATE TABLE public.etb_mic () INHERITS (public.etb_mi1, public.etb_mi2);
CREATE TABLE public.etb_mic (id int, tenant_id text NOT NULL, org_id text NOT NULL);
ALTER TABLE public.etb_mic INHERIT public.etb_mi1;
ALTER TABLE public.etb_mic INHERIT public.etb_mi2;
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl LIKE '%etb_mi%';
-- (b) protect() of a parent by another column than a child protected on
-- its own: the child was skipped
SET ROLE etb_owner;
CREATE TABLE etb_ref.etb_pt (id int, tenant_id text NOT NULL, org_id text NOT NULL) PARTITION BY LIST (id);
CREATE TABLE etb_ref.etb_pt1 PARTITION OF etb_ref.etb_pt FOR VALUES IN (1);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_pt1', 'tenant_id');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_pt', 'org_id');
-- by the child's column it works
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_pt', 'tenant_id');
-- (c) protect() of a child by another column than its protected parent
CREATE TABLE etb_ref.etb_rp (id int, tenant_id text NOT NULL, org_id text NOT NULL) PARTITION BY LIST (id);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_rp', 'org_id');
CREATE TABLE etb_ref.etb_rp1 PARTITION OF etb_ref.etb_rp FOR VALUES IN (1);
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl ~ 'etb_(pt|rp)' ORDER BY tbl;
SET tenant_rls.drift_action = warning;
SET ROLE etb_owner;
CREATE TABLE etb_ref.etb_rp2 (id int, tenant_id text NOT NULL, org_id text NOT NULL);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_rp2', 'tenant_id');
ALTER TABLE etb_ref.etb_rp ATTACH PARTITION etb_ref.etb_rp2 FOR VALUES IN (2);
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('etb_ref.etb_rp2');
RESET ROLE;
RESET tenant_rls.drift_action;
SET ROLE etb_owner;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_rp2', 'tenant_id');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etb_ref.etb_rp2', 'org_id');
RESET ROLE;
SELECT * FROM pg_temp.etb_state() WHERE tbl ~ 'etb_(pt|rp)' ORDER BY tbl;
-- lint() names the global table below a protected one too (let through
-- under drift_action = warning), and its fix takes it out
SET tenant_rls.drift_action = warning;
SET ROLE etb_owner;
CREATE TABLE etb_ref.etb_gl (id int, tenant_id text NOT NULL, org_id text NOT NULL);
SELECT tenant_rls.mark_global('etb_ref.etb_gl');
ALTER TABLE etb_ref.etb_gl INHERIT public.etb_mi1;
RESET ROLE;
RESET tenant_rls.drift_action;
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'hierarchy_mismatch' ORDER BY object;
SELECT fix FROM tenant_rls.lint() WHERE code = 'hierarchy_mismatch' AND object LIKE '%etb_gl' \gexec
SELECT level, object FROM tenant_rls.lint() WHERE code = 'hierarchy_mismatch' ORDER BY object;

--
-- clean up
--
DROP SCHEMA etb_ref CASCADE;
DROP TABLE public.etb_orders, public.etb_items, public.etb_docs, public.etb_par2, public.etb_par3,
    public.etb_mi1, public.etb_mi2, public.etb_mic CASCADE;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'etb\_%';
REVOKE CREATE ON SCHEMA public FROM etb_owner;
DROP ROLE etb_app, etb_owner;
