--
-- Typed tables (CREATE TABLE t OF composite_type): ALTER TYPE ... CASCADE
-- changes the columns of every table of the type in one statement, which
-- the server reports as a change of the composite type, not of the tables.
-- The drift guard must look at those tables: ALTER TYPE c RENAME ATTRIBUTE
-- tenant_id TO x CASCADE renamed the tenant column of a protected typed
-- table, and the registry then named a column that did not exist (and, once
-- a new tenant_id attribute was added, a column no policy checks, so DROP
-- DEFAULT / DROP NOT NULL of the real one went through).  Run as ett_owner:
-- not superuser, not BYPASSRLS.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE ett_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO ett_owner;
CREATE SCHEMA ett_types AUTHORIZATION ett_owner;

SET ROLE ett_owner;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user;
CREATE TYPE ett_types.ett_row AS (id int, tenant_id text, body text);
CREATE TABLE public.ett_docs OF ett_types.ett_row;
CREATE TABLE public.ett_docs2 OF ett_types.ett_row;
RESET ROLE;
SELECT table_name, status, tenant_column FROM tenant_rls.protected_table WHERE table_name LIKE 'ett\_%' ORDER BY 1;

SET ROLE ett_owner;
-- refused: renames the tenant column of both tables
ALTER TYPE ett_types.ett_row RENAME ATTRIBUTE tenant_id TO owner_tenant CASCADE;
SELECT attrelid::regclass, attname FROM pg_attribute
 WHERE attrelid IN ('public.ett_docs'::regclass, 'public.ett_docs2'::regclass) AND attnum = 2 ORDER BY 1;
-- refused as before (the column and the policies that use it), whichever
-- table the server reports first
DO $$ BEGIN
    ALTER TYPE ett_types.ett_row DROP ATTRIBUTE tenant_id CASCADE;
EXCEPTION WHEN insufficient_privilege THEN RAISE WARNING 'drop refused: %', left(SQLERRM, 35);
END $$;
DO $$ BEGIN
    ALTER TYPE ett_types.ett_row ALTER ATTRIBUTE tenant_id TYPE varchar CASCADE;
EXCEPTION WHEN feature_not_supported THEN RAISE WARNING 'type change refused: %', left(SQLERRM, 42);
END $$;
-- still allowed: other attributes
ALTER TYPE ett_types.ett_row RENAME ATTRIBUTE body TO note CASCADE;
ALTER TYPE ett_types.ett_row ADD ATTRIBUTE extra int CASCADE;
RESET ROLE;

-- under drift_action = warning the rename goes through with a WARNING per table
SET tenant_rls.drift_action = warning;
ALTER TYPE ett_types.ett_row RENAME ATTRIBUTE tenant_id TO owner_tenant CASCADE;
ALTER TYPE ett_types.ett_row RENAME ATTRIBUTE owner_tenant TO tenant_id CASCADE;
RESET tenant_rls.drift_action;

-- a typed table of a managed schema whose column is renamed to the tenant
-- column is protected, like ALTER TABLE ... RENAME COLUMN does
SET ROLE ett_owner;
CREATE TYPE ett_types.ett_row2 AS (id int, org text);
CREATE TABLE public.ett_notes OF ett_types.ett_row2;
ALTER TYPE ett_types.ett_row2 RENAME ATTRIBUTE org TO tenant_id CASCADE;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.ett_notes'::regclass;
RESET ROLE;
SELECT table_name, status, tenant_column FROM tenant_rls.protected_table WHERE table_name LIKE 'ett\_%' ORDER BY 1;

-- and one that gets the tenant column by ALTER TYPE ... ADD ATTRIBUTE ...
-- CASCADE, like ALTER TABLE ... ADD COLUMN
SET ROLE ett_owner;
CREATE TYPE ett_types.ett_row3 AS (id int, body text);
CREATE TABLE public.ett_memos OF ett_types.ett_row3;
ALTER TYPE ett_types.ett_row3 ADD ATTRIBUTE tenant_id text CASCADE;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.ett_memos'::regclass;
RESET ROLE;
SELECT table_name, status, tenant_column FROM tenant_rls.protected_table WHERE table_name = 'ett_memos';

--
-- clean up
--
DROP TABLE public.ett_docs, public.ett_docs2, public.ett_notes, public.ett_memos;
DROP SCHEMA ett_types CASCADE;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'ett\_%';
REVOKE CREATE ON SCHEMA public FROM ett_owner;
DROP ROLE ett_owner;
