--
-- Review #4: every statement PostgreSQL accepts to rename, move or alter a
-- table reaches the event trigger, whatever its command tag (ALTER INDEX ...
-- RENAME works on a table; so do ALTER VIEW / MATERIALIZED VIEW / FOREIGN
-- TABLE ... RENAME COLUMN and ALTER TYPE ... RENAME ATTRIBUTE), and a stale
-- registry row never keeps a new table of the old name unprotected.
-- Tables belong to tr_owner (not superuser); isolation is checked as tr_app:
-- not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO tr_owner;
CREATE SCHEMA etr_other AUTHORIZATION tr_owner;

-- the ddl_command_end trigger has no tag filter
SELECT evtname, evttags FROM pg_event_trigger WHERE evtname LIKE 'tenant_rls%' ORDER BY 1;

CREATE FUNCTION pg_temp.etr_state() RETURNS TABLE (tbl text, rls boolean, force boolean,
        policies bigint, status text)
    LANGUAGE sql AS $$
    SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid), r.status
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'etr\_%' AND c.relkind IN ('r', 'p')
     ORDER BY 1 $$;
CREATE FUNCTION pg_temp.etr_registry() RETURNS TABLE (schema_name name, table_name name, status text)
    LANGUAGE sql AS $$
    SELECT schema_name, table_name, status FROM tenant_rls.protected_table
     WHERE table_name LIKE 'etr\_%' ORDER BY 1, 2 $$;

SET ROLE tr_owner;
CREATE TABLE public.etr_docs (id int, tenant_id text, body text);
CREATE TABLE public.etr_part (id int, tenant_id text) PARTITION BY LIST (tenant_id);
CREATE TABLE public.etr_part_a PARTITION OF public.etr_part FOR VALUES IN ('a');
RESET ROLE;
INSERT INTO public.etr_docs VALUES (1, 'a', 'a secret'), (2, 'b', 'b row');
SELECT tenant_rls.grant_access('public.etr_docs', 'a', 'b', 'read');
SELECT * FROM pg_temp.etr_registry();

--
-- ALTER INDEX ... RENAME on a table (plain and partitioned): the registry and
-- the grants follow the table
--
SET ROLE tr_owner;
ALTER INDEX public.etr_docs RENAME TO etr_docs_old;
ALTER INDEX public.etr_part RENAME TO etr_part_old;
RESET ROLE;
SELECT * FROM pg_temp.etr_registry();
SELECT schema_name, table_name, owner_tenant, grantee_tenant FROM tenant_rls.tenant_grant
 WHERE table_name LIKE 'etr\_%';
SELECT parent_table FROM tenant_rls.protected_table WHERE table_name = 'etr_part_a';

-- a new table under the old name is protected, and is not covered by the
-- old table's grant
SET ROLE tr_owner;
CREATE TABLE public.etr_docs (id int, tenant_id text, body text);
RESET ROLE;
SELECT * FROM pg_temp.etr_state();
INSERT INTO public.etr_docs VALUES (10, 'a', 'new a secret'), (11, 'b', 'new b row');
GRANT SELECT ON public.etr_docs, public.etr_docs_old TO tr_app;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, body FROM public.etr_docs ORDER BY id;      -- own row only
SELECT id, body FROM public.etr_docs_old ORDER BY id;  -- own row + a's (granted)
COMMIT;
RESET ROLE;
-- protect() on it has nothing left to do
SELECT count(*) FROM tenant_rls.protect('public.etr_docs');

-- the renamed table keeps its drift guard
SET ROLE tr_owner;
ALTER TABLE public.etr_docs_old DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.etr_part_old NO FORCE ROW LEVEL SECURITY;
RESET ROLE;

--
-- the tenant column renamed under other command tags: refused
--
SET ROLE tr_owner;
ALTER VIEW public.etr_docs RENAME COLUMN tenant_id TO t;
ALTER MATERIALIZED VIEW public.etr_docs RENAME COLUMN tenant_id TO t;
ALTER FOREIGN TABLE public.etr_docs RENAME COLUMN tenant_id TO t;
ALTER TYPE public.etr_docs RENAME ATTRIBUTE tenant_id TO t;
ALTER VIEW public.etr_docs_old RENAME COLUMN tenant_id TO t;
RESET ROLE;
SELECT attname FROM pg_attribute
 WHERE attrelid IN ('public.etr_docs'::regclass, 'public.etr_docs_old'::regclass)
   AND attname IN ('tenant_id', 't') ORDER BY attrelid::regclass::text;
-- other columns may still be renamed that way
SET ROLE tr_owner;
ALTER VIEW public.etr_docs RENAME COLUMN body TO content;
ALTER VIEW public.etr_docs RENAME COLUMN content TO body;

--
-- SET SCHEMA, and renames back: the registry follows
--
ALTER TABLE public.etr_docs_old SET SCHEMA etr_other;
ALTER INDEX etr_other.etr_docs_old RENAME TO etr_docs_moved;
RESET ROLE;
SELECT * FROM pg_temp.etr_registry();
SELECT schema_name, table_name FROM tenant_rls.tenant_grant WHERE table_name LIKE 'etr\_%';

--
-- a stale registry row (a rename the event trigger did not see): a new
-- table of that name is still protected, with a warning
--
ALTER EVENT TRIGGER tenant_rls_ddl_command_end DISABLE;
ALTER TABLE public.etr_docs RENAME TO etr_docs_unseen;
ALTER EVENT TRIGGER tenant_rls_ddl_command_end ENABLE;
SELECT * FROM pg_temp.etr_registry();
SET ROLE tr_owner;
CREATE TABLE public.etr_docs (id int, tenant_id text, body text);
RESET ROLE;
SELECT * FROM pg_temp.etr_state();
SELECT * FROM pg_temp.etr_registry();
-- as the hint says: protect() of the renamed table takes its policies over
-- and registers it
SELECT count(*) > 0 AS statements FROM tenant_rls.protect('public.etr_docs_unseen');
SELECT * FROM pg_temp.etr_state() WHERE tbl = 'public.etr_docs_unseen';

-- a 'global' row is not second-guessed (nothing on the table to check)
SET ROLE tr_owner;
CREATE TABLE public.etr_shared (id int);
RESET ROLE;
SELECT tenant_rls.mark_global('public.etr_shared');
SET ROLE tr_owner;
ALTER INDEX public.etr_shared RENAME TO etr_shared2;
RESET ROLE;
SELECT * FROM pg_temp.etr_registry() WHERE status = 'global';

-- ALTER EXTENSION ... SET SCHEMA moves the extension's member tables: the
-- registry follows them, so the drift guard still knows the table (review
-- rev35c: it kept the old name, and the owner then dropped FORCE, RLS and a
-- policy unrefused while lint() only warned)
CREATE SCHEMA etr_ext1;
CREATE SCHEMA etr_ext2;
GRANT USAGE ON SCHEMA etr_ext1, etr_ext2 TO tr_owner, tr_app;
GRANT CREATE ON SCHEMA etr_ext1 TO tr_owner;
CREATE EXTENSION hstore SCHEMA etr_ext1;
SET ROLE tr_owner;
CREATE TABLE etr_ext1.etr_member (id int, tenant_id text NOT NULL, body text);
CREATE INDEX ON etr_ext1.etr_member (tenant_id);
GRANT SELECT ON etr_ext1.etr_member TO tr_app;
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etr_ext1.etr_member');
INSERT INTO etr_ext1.etr_member VALUES (1, 'a', 'a row'), (2, 'b', 'b secret');
ALTER EXTENSION hstore ADD TABLE etr_ext1.etr_member;
ALTER EXTENSION hstore SET SCHEMA etr_ext2;
SELECT * FROM pg_temp.etr_registry() WHERE table_name = 'etr_member';
SET ROLE tr_owner;
ALTER TABLE etr_ext2.etr_member NO FORCE ROW LEVEL SECURITY;
DROP POLICY tenant_rls_guard_select ON etr_ext2.etr_member;
RESET ROLE;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM etr_ext2.etr_member;
COMMIT;
RESET ROLE;
SELECT code, level, object FROM tenant_rls.lint() WHERE object LIKE '%etr_member%' ORDER BY 1, 3;
ALTER EXTENSION hstore DROP TABLE etr_ext2.etr_member;
DROP EXTENSION hstore;
DROP TABLE etr_ext2.etr_member;
DROP SCHEMA etr_ext1, etr_ext2;

-- The same for the scripts of ALTER EXTENSION ... UPDATE: each of their
-- statements fires the event triggers on its own, as part of the extension
-- (review rev36b: the registry kept the old name; the owner then dropped
-- FORCE and RLS unrefused and tenant a read tenant b's rows).  The tests'
-- own extension tenant_rls_testext (test/ext) renames its member table
-- (1.1), moves it to schema etr_xto (1.2) and drops it (1.3).
CREATE SCHEMA etr_xfrom;
CREATE SCHEMA etr_xto;
GRANT USAGE ON SCHEMA etr_xfrom, etr_xto TO tr_owner, tr_app;
CREATE EXTENSION tenant_rls_testext SCHEMA etr_xfrom;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('etr_xfrom.etr_xmember');
ALTER TABLE etr_xfrom.etr_xmember OWNER TO tr_owner;
GRANT SELECT ON etr_xfrom.etr_xmember TO tr_app;
INSERT INTO etr_xfrom.etr_xmember VALUES (1, 'a', 'a row'), (2, 'b', 'b secret');
ALTER EXTENSION tenant_rls_testext UPDATE TO '1.1';
SELECT * FROM pg_temp.etr_registry() WHERE table_name LIKE 'etr\_xmember%';
SET ROLE tr_owner;
ALTER TABLE etr_xfrom.etr_xmember_r NO FORCE ROW LEVEL SECURITY;
ALTER TABLE etr_xfrom.etr_xmember_r DISABLE ROW LEVEL SECURITY;
RESET ROLE;
ALTER EXTENSION tenant_rls_testext UPDATE TO '1.2';
SELECT * FROM pg_temp.etr_registry() WHERE table_name LIKE 'etr\_xmember%';
SET ROLE tr_owner;
ALTER TABLE etr_xto.etr_xmember_r NO FORCE ROW LEVEL SECURITY;
RESET ROLE;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM etr_xto.etr_xmember_r;
COMMIT;
RESET ROLE;
SELECT code, level, object FROM tenant_rls.lint() WHERE object LIKE '%etr\_xmember%' ORDER BY 1, 3;
-- dropped by the script: no registry row is left for a later table of that name
ALTER EXTENSION tenant_rls_testext UPDATE TO '1.3';
SELECT * FROM pg_temp.etr_registry() WHERE table_name LIKE 'etr\_xmember%';
DROP EXTENSION tenant_rls_testext;
DROP SCHEMA etr_xfrom, etr_xto;

DROP TABLE public.etr_docs, public.etr_docs_unseen, etr_other.etr_docs_moved,
    public.etr_part_old, public.etr_shared2;
DROP SCHEMA etr_other;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'etr\_%';
REVOKE CREATE ON SCHEMA public FROM tr_owner;
