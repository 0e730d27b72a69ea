--
-- The fix SQL lint() hands to a superuser must never carry SQL of another
-- role's choosing (review rev24b).  Two ways it did, both through names a
-- role without privileges beyond CREATE chose:
-- (1) foreign_key_resets_tenant: the fix edited pg_get_constraintdef()'s
--     text with a regular expression, which matched first inside a quoted
--     column name; the column list it inserted ended the identifier, and
--     the rest of the name ran as SQL (ALTER ROLE ... SUPERUSER).
-- (2) a rename of a protected table rewrote the recorded policies with a
--     textual replace() of the 'schema.table'::regclass literal, which also
--     matched inside a tenant column named like one; the new name's quotes
--     ended the identifier, and managed_policy_modified's fix carried it.
-- Each fix is checked to be what it should be, and run as superuser; the
-- attacker role stays unprivileged.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE cfm LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.managed_schemas = 'covfi';
SET tenant_rls.audit = off;
CREATE SCHEMA covfi AUTHORIZATION cfm;
\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix
RESET client_min_messages;

-- ==== (1) foreign_key_resets_tenant with a column named like the clause
SET ROLE cfm;
CREATE TABLE covfi.p (t text NOT NULL, i text NOT NULL, PRIMARY KEY (t, i));
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covfi.p', 't');
CREATE TABLE covfi.c (id int PRIMARY KEY, t text NOT NULL,
   ")REFERENCES p(t,i)ON DELETE SET NULL;ALTER ROLE cfm SUPERUSER--" text,
   ")REFERENCES p(t,i)ON DELETE SET NULL (" text);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covfi.c', 't');
ALTER TABLE covfi.c ADD CONSTRAINT c_fk FOREIGN KEY
  (t, ")REFERENCES p(t,i)ON DELETE SET NULL;ALTER ROLE cfm SUPERUSER--")
  REFERENCES covfi.p (t, i) ON UPDATE CASCADE ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
RESET ROLE;
SELECT level, fix FROM tenant_rls.lint() WHERE code = 'foreign_key_resets_tenant' AND object = 'c_fk ON covfi.c';
SET search_path = covfi, public;   -- the DBA's, with the application's schema
SELECT pg_temp.apply_fix('foreign_key_resets_tenant', 'c_fk ON covfi.c') IS NOT NULL AS applied;
RESET search_path;
SELECT rolsuper FROM pg_roles WHERE rolname = 'cfm';
-- the constraint is the same but for the columns its ON DELETE sets, and its
-- ON UPDATE CASCADE, which became NO ACTION (review rev47c)
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'c_fk';
SELECT count(*) AS left_over FROM tenant_rls.lint() WHERE code = 'foreign_key_resets_tenant' AND object LIKE '%covfi%';
-- NOT VALID and a plain key keep their shape too
SET ROLE cfm;
CREATE TABLE covfi.d (id int PRIMARY KEY, t text NOT NULL, i text);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covfi.d', 't');
ALTER TABLE covfi.d ADD CONSTRAINT d_fk FOREIGN KEY (t, i) REFERENCES covfi.p ON DELETE SET DEFAULT NOT VALID;
RESET ROLE;
SELECT pg_temp.apply_fix('foreign_key_resets_tenant', 'd_fk ON covfi.d');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'd_fk';
-- MATCH FULL: no fix (a column list would mix null and non-null key
-- values, which MATCH FULL refuses on every delete)
SET ROLE cfm;
CREATE TABLE covfi.f (id int PRIMARY KEY, t text NOT NULL, i text,
    CONSTRAINT f_fk FOREIGN KEY (t, i) REFERENCES covfi.p MATCH FULL ON DELETE SET NULL);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covfi.f', 't');
RESET ROLE;
SELECT level, fix IS NULL AS no_fix FROM tenant_rls.lint() WHERE code = 'foreign_key_resets_tenant' AND object = 'f_fk ON covfi.f';

-- ==== (2) a rename of a table whose tenant column is named like its literal
SET ROLE cfm;
CREATE TABLE covfi.u (id int PRIMARY KEY, "a'covfi.u'::regclass" text NOT NULL, "a'covfi." boolean);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covfi.u', 'a''covfi.u''::regclass');
ALTER TABLE covfi.u RENAME TO " IS NULL)));ALTER ROLE cfm SUPERUSER;--";
RESET ROLE;
-- nothing was edited: the records follow the rename, no finding
SELECT code, object FROM tenant_rls.lint() WHERE object LIKE '%covfi%' AND code LIKE 'managed_policy%';
-- a policy edited by hand (drift guard set to warning): the fix puts back
-- exactly what pg_get_expr() printed, one statement, no SQL of the name's
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
ALTER POLICY tenant_rls_guard_select ON covfi." IS NULL)));ALTER ROLE cfm SUPERUSER;--" USING (true);
RESET client_min_messages;
RESET tenant_rls.drift_action;
SELECT code, fix FROM tenant_rls.lint() WHERE object LIKE '%covfi%' AND code LIKE 'managed_policy%';
SET client_min_messages = error;
SELECT pg_temp.apply_fix('managed_policy_modified', 'tenant_rls_guard_select ON covfi." IS NULL)));ALTER ROLE cfm SUPERUSER;--"') IS NOT NULL AS applied;
RESET client_min_messages;
SELECT rolsuper FROM pg_roles WHERE rolname = 'cfm';
SELECT count(*) AS left_over FROM tenant_rls.lint() WHERE object LIKE '%covfi%' AND code LIKE 'managed_policy%';
-- and a move to another schema follows as well
CREATE SCHEMA covfi2 AUTHORIZATION cfm;
ALTER TABLE covfi." IS NULL)));ALTER ROLE cfm SUPERUSER;--" SET SCHEMA covfi2;
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE object LIKE '%covfi2%' AND code LIKE 'managed_policy%';

-- ==== (3) a name with a backslash: the records follow a rename as
-- pg_get_expr() prints them (rev24e: recorded as E'...', reported as
-- modified for good)
SET ROLE cfm;
CREATE TABLE covfi."m\b" (id int PRIMARY KEY, tenant_id text NOT NULL);
ALTER TABLE covfi."m\b" RENAME TO "m\c";
RESET ROLE;
SELECT code, object FROM tenant_rls.lint() WHERE object LIKE '%m\\c%' AND code LIKE 'managed_policy%';
SELECT count(*) AS policies_recorded_as_printed
  FROM tenant_rls.protected_table r, jsonb_each(r.managed -> 'policies') k, pg_policy p
 WHERE r.schema_name = 'covfi' AND r.table_name = 'm\c'
   AND p.polrelid = 'covfi."m\c"'::regclass AND p.polname = k.key
   AND k.value ->> 'qual' IS NOT DISTINCT FROM pg_get_expr(p.polqual, p.polrelid)
   AND k.value ->> 'with_check' IS NOT DISTINCT FROM pg_get_expr(p.polwithcheck, p.polrelid);

-- ==== clean up
SET client_min_messages = error;
DROP SCHEMA covfi CASCADE;
DROP SCHEMA covfi2 CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name IN ('covfi', 'covfi2');
END $$;
DROP ROLE cfm;
RESET client_min_messages;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.audit;
