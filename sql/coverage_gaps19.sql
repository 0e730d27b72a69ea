--
-- Coverage report, review rev51a: the leftovers of session 50's reviews.
-- 1. dependency_owned_by_other_role left out a sequence owned by a role with
-- the table owner's privileges (a member of the owner: it may alter the
-- table, its defaults, checks and triggers anyway), but not a function,
-- domain, type or operator such a role owns: those are left out too now.
-- A role whose privileges the owner has is still reported (its other members
-- may change the object), and so is a use by a table of another owner.
-- 2. _nextval_names() (tenant_sequence_privilege,
-- dependency_owned_by_other_role) did not follow nextval(to_regclass('s')),
-- nested casts (nextval(('s'::text)::varchar(30))), nor a literal cast to
-- name or char and then to regclass (a conversion through the types' text
-- forms, without the regclass(text) cast the defaults were picked by).  It
-- never raises an error.
-- 3. The DEFAULT nextval('s'::text) of a column's domain (in text: no
-- dependency) was not followed; a domain over a domain carries its base
-- domain's default (CREATE DOMAIN copies it), one added to the base domain
-- later is not used.
-- Tables belong to covg19_owner (not superuser); the leaks are shown as
-- covg19_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg19_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg19_owner2 NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg19_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- members of the owner: one that inherits its privileges, one that may only
-- SET ROLE to it
DO $$ BEGIN CREATE ROLE covg19_maint LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg19_ni LOGIN NOINHERIT; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- a group the owner is a member of, and a role unrelated to the owner
DO $$ BEGIN CREATE ROLE covg19_grp NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg19_dev NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT covg19_owner TO covg19_maint, covg19_ni;
GRANT covg19_grp TO covg19_owner;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'covg19_app';
CREATE SCHEMA covg19 AUTHORIZATION covg19_owner;
CREATE SCHEMA covg19_code;
CREATE SCHEMA covg19_appsch AUTHORIZATION covg19_app;
GRANT USAGE ON SCHEMA covg19 TO covg19_app;
GRANT USAGE, CREATE ON SCHEMA covg19 TO covg19_owner2;
GRANT USAGE, CREATE ON SCHEMA covg19_code TO covg19_owner, covg19_owner2, covg19_maint, covg19_ni, covg19_grp, covg19_dev;
GRANT USAGE ON SCHEMA covg19_appsch TO covg19_owner;
SET tenant_rls.managed_schemas = 'covg19';
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE (level text, object text, message text, detail text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.detail, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ~ 'covg19' ORDER BY l.object, l.message
$$;

-- ==== 1. dependency_owned_by_other_role: not the code of a role that may
-- change the table anyway
SET ROLE covg19_maint;
CREATE FUNCTION covg19_code.chk_m(v text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT length(v) < 100';
CREATE DOMAIN covg19_code.dom_m AS text CHECK (covg19_code.chk_m(VALUE));
CREATE TYPE covg19_code.mood_m AS ENUM ('ok', 'sad');
CREATE SEQUENCE covg19_code.seq_m;
GRANT USAGE ON SEQUENCE covg19_code.seq_m TO covg19_owner2;
SET ROLE covg19_ni;
CREATE FUNCTION covg19_code.chk_n(v int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT v >= 0';
SET ROLE covg19_grp;
CREATE FUNCTION covg19_code.chk_g(v int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT v >= 0';
SET ROLE covg19_dev;
CREATE FUNCTION covg19_code.chk_d(v int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT v >= 0';
SET ROLE covg19_owner2;
CREATE FUNCTION covg19_code.chk_o2(v int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT v >= 0';
SET ROLE covg19_owner;
-- the owner's own domain, whose CHECK calls covg19_maint's function
CREATE DOMAIN covg19_code.dom_o AS text CHECK (covg19_code.chk_m(VALUE));
CREATE TABLE covg19.items (id int PRIMARY KEY, tenant_id text NOT NULL,
                           code covg19_code.dom_m, mood covg19_code.mood_m, note covg19_code.dom_o,
                           n int CHECK (covg19_code.chk_n(n)), g int CHECK (covg19_code.chk_g(g)),
                           d int CHECK (covg19_code.chk_d(d)), o2 int CHECK (covg19_code.chk_o2(o2)),
                           s bigint DEFAULT nextval('covg19_code.seq_m'));
CREATE INDEX ON covg19.items (tenant_id);
-- a table of another owner that uses covg19_maint's domain and sequence,
-- and its owner's function
SET ROLE covg19_owner2;
CREATE TABLE covg19.items2 (id int PRIMARY KEY, tenant_id text NOT NULL, code covg19_code.dom_m,
                            o2 int CHECK (covg19_code.chk_o2(o2)), s bigint DEFAULT nextval('covg19_code.seq_m'));
CREATE INDEX ON covg19.items2 (tenant_id);
RESET ROLE;
-- chk_g (covg19_grp, whose privileges the owner has: its other members may
-- change it), chk_d (covg19_dev) and chk_o2 (covg19_owner2) on items; dom_m,
-- chk_m (through dom_m) and seq_m on items2 only; on items not covg19_maint's
-- dom_m, chk_m (also through the owner's dom_o), mood_m and seq_m, nor chk_n
-- (covg19_ni may SET ROLE to the owner)
SELECT level, object, message FROM pg_temp.mine('dependency_owned_by_other_role');
-- no fix for dom_m, seq_m, chk_o2: tables of several owners use them, those
-- left out included (given to covg19_owner2, dom_m and seq_m would be
-- reported on items, and chk_o2, given to covg19_owner, on items2)
SELECT object, fix IS NULL AS no_fix, detail ~ 'Tables of several owners' AS several
  FROM pg_temp.mine('dependency_owned_by_other_role');
-- what covg19_maint does to the table without its domain: the owner's
-- privileges (a trigger of its own on every tenant's rows)
SET ROLE covg19_maint;
CREATE FUNCTION covg19_code.peek() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER peek BEFORE INSERT ON covg19.items FOR EACH ROW EXECUTE FUNCTION covg19_code.peek();
DROP TRIGGER peek ON covg19.items;
DROP FUNCTION covg19_code.peek();
RESET ROLE;
-- once covg19_maint is no longer a member of the owner, its objects are
-- reported for items too (and dom_m has tables of several owners)
REVOKE covg19_owner FROM covg19_maint;
SELECT level, object, message FROM pg_temp.mine('dependency_owned_by_other_role') WHERE object ~ '_m\M';
SELECT object, fix IS NULL AS no_fix, detail ~ 'Tables of several owners' AS several
  FROM pg_temp.mine('dependency_owned_by_other_role') WHERE object = 'covg19_code.dom_m';
GRANT covg19_owner TO covg19_maint;

-- ==== 2. a column default's nextval() through to_regclass(), nested casts,
-- a cast to name or char
SET ROLE covg19_app;
CREATE SEQUENCE covg19_appsch.a1;
RESET ROLE;
GRANT USAGE ON SEQUENCE covg19_appsch.a1 TO covg19_owner;
SET ROLE covg19_owner;
CREATE SEQUENCE covg19.s1;
GRANT USAGE, UPDATE ON SEQUENCE covg19.s1 TO covg19_app;
CREATE TABLE covg19.t_reg (id bigint PRIMARY KEY DEFAULT nextval(to_regclass('covg19.s1')), tenant_id text NOT NULL, n int);
CREATE TABLE covg19.t_nest (id bigint PRIMARY KEY DEFAULT nextval(('covg19.s1'::text)::varchar(30)), tenant_id text NOT NULL);
-- cut to 'covg19.s1' by the varchar(9)
CREATE TABLE covg19.t_cut (id bigint PRIMARY KEY DEFAULT nextval(('covg19.s1_and_more'::text)::varchar(9)), tenant_id text NOT NULL);
CREATE TABLE covg19.t_name (id bigint PRIMARY KEY DEFAULT nextval(('covg19.s1'::name)::regclass), tenant_id text NOT NULL);
CREATE TABLE covg19.t_char (id bigint PRIMARY KEY DEFAULT nextval(('covg19.s1'::char(12))::regclass), tenant_id text NOT NULL);
-- cut to 'covg19.s' (no such sequence): nothing
CREATE TABLE covg19.t_none (id bigint PRIMARY KEY DEFAULT nextval(to_regclass(('covg19.s1'::text)::varchar(8))), tenant_id text NOT NULL);
CREATE TABLE covg19.t_app (id bigint PRIMARY KEY DEFAULT nextval(to_regclass('covg19_appsch.a1')), tenant_id text NOT NULL);
CREATE INDEX ON covg19.t_reg (tenant_id);
CREATE INDEX ON covg19.t_nest (tenant_id);
CREATE INDEX ON covg19.t_cut (tenant_id);
CREATE INDEX ON covg19.t_name (tenant_id);
CREATE INDEX ON covg19.t_char (tenant_id);
CREATE INDEX ON covg19.t_none (tenant_id);
CREATE INDEX ON covg19.t_app (tenant_id);
GRANT SELECT, INSERT ON covg19.t_reg TO covg19_app;
RESET ROLE;
SELECT c.relname, pg_get_expr(d.adbin, d.adrelid) AS "default"
  FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
 WHERE c.relnamespace = 'covg19'::regnamespace AND c.relname ~ '^t_' ORDER BY 1, d.adnum;
SELECT object, message FROM pg_temp.mine('tenant_sequence_privilege');
SELECT object, message FROM pg_temp.mine('dependency_owned_by_other_role') WHERE object ~ 'covg19_appsch';
-- the leak: tenant a sets covg19.s1 back, tenant b's INSERT fails
SET ROLE covg19_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg19.t_reg (n) VALUES (1), (2);
SELECT setval('covg19.s1', 1) AS set_back;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SAVEPOINT s;
INSERT INTO covg19.t_reg (n) VALUES (3);
ROLLBACK TO s;
COMMIT;
RESET ROLE;
-- nothing raises an error, whatever the default's text
SELECT v.e, n.* FROM (VALUES ('nextval(to_regclass(''a.b''::text)::regclass)'),
                             ('nextval(((''a.b''::text)::character varying(99999999))::regclass)'),
                             ('nextval(((''a.b''::text)::character varying(123456789))::regclass)'),
                             ('nextval((((''a.b''::text)::regclass)'),
                             ('nextval(to_regclass((''''::text)::character(3)))'),
                             ('nextval(to_regclass((''  "A""b" . c  ''::character(20))::text))'),
                             ('nextval(((''' || repeat('é', 40) || '''::text)::name)::regclass)'),
                             ('nextval(((''x.' || repeat('é', 40) || '''::text)::name)::regclass)'),
                             ('nextval(((''x''::text)::character(0))::regclass)')) v(e)
  LEFT JOIN LATERAL tenant_rls._nextval_names(v.e) n ON true ORDER BY 1;

-- ==== 3. the DEFAULT nextval() of a column's domain in text, and through
-- a domain over a domain
SET ROLE covg19_app;
CREATE SEQUENCE covg19_appsch.a2;
RESET ROLE;
GRANT USAGE ON SEQUENCE covg19_appsch.a2 TO covg19_owner;
SET ROLE covg19_owner;
CREATE SEQUENCE covg19.s2;
CREATE SEQUENCE covg19.s3;
GRANT USAGE, UPDATE ON SEQUENCE covg19.s2, covg19.s3 TO covg19_app;
CREATE DOMAIN covg19.dt1 AS bigint DEFAULT nextval('covg19.s2'::text);
CREATE DOMAIN covg19.dt2 AS covg19.dt1;
CREATE DOMAIN covg19.dt3 AS covg19.dt2 NOT NULL;
CREATE DOMAIN covg19.da1 AS bigint DEFAULT nextval(to_regclass('covg19_appsch.a2'));
CREATE DOMAIN covg19.da2 AS covg19.da1;
CREATE DOMAIN covg19.dr1 AS bigint DEFAULT nextval('covg19.s3');
CREATE DOMAIN covg19.dr2 AS covg19.dr1;
-- a default given to the base domain after: not the other domain's
CREATE DOMAIN covg19.de1 AS bigint;
CREATE DOMAIN covg19.de2 AS covg19.de1;
ALTER DOMAIN covg19.de1 SET DEFAULT nextval('covg19.s2'::text);
CREATE TABLE covg19.t_d1 (id covg19.dt1 PRIMARY KEY, tenant_id text NOT NULL);
CREATE TABLE covg19.t_d3 (id covg19.dt3 PRIMARY KEY, tenant_id text NOT NULL, n int);
CREATE TABLE covg19.t_da2 (id covg19.da2 PRIMARY KEY, tenant_id text NOT NULL);
CREATE TABLE covg19.t_dr2 (id covg19.dr2 PRIMARY KEY, tenant_id text NOT NULL);
CREATE TABLE covg19.t_de2 (id covg19.de2, tenant_id text NOT NULL, n int);
CREATE INDEX ON covg19.t_d1 (tenant_id);
CREATE INDEX ON covg19.t_d3 (tenant_id);
CREATE INDEX ON covg19.t_da2 (tenant_id);
CREATE INDEX ON covg19.t_dr2 (tenant_id);
CREATE INDEX ON covg19.t_de2 (tenant_id);
GRANT SELECT, INSERT ON covg19.t_d3, covg19.t_de2 TO covg19_app;
RESET ROLE;
SELECT format_type(oid, NULL) AS domain, pg_get_expr(typdefaultbin, 0) AS "default"
  FROM pg_type WHERE typnamespace = 'covg19'::regnamespace AND typtype = 'd' ORDER BY 1;
-- s2: t_d1 and t_d3 (not t_de2); s3: t_dr2; a2 (covg19_app's) through
-- domain covg19.da2
SELECT object, message FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ 'covg19\.s[23]';
SELECT object, message FROM pg_temp.mine('dependency_owned_by_other_role') WHERE object ~ 'a2';
-- the INSERTs take their ids from s2 (t_d3), none (t_de2)
SET ROLE covg19_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg19.t_d3 (n) VALUES (1);
INSERT INTO covg19.t_de2 (n) VALUES (1);
SELECT t.id = currval('covg19.s2') AS from_s2 FROM covg19.t_d3 t;
SELECT id IS NULL AS no_id FROM covg19.t_de2;
ROLLBACK;
RESET ROLE;

-- clean up
SET client_min_messages = warning;
RESET tenant_rls.managed_schemas;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT p.schema_name, p.table_name, p.status FROM tenant_rls.protected_table p
              WHERE p.schema_name = 'covg19' AND p.parent_table IS NULL LOOP
        IF r.status = 'protected' THEN
            PERFORM tenant_rls.unprotect(format('%I.%I', r.schema_name, r.table_name)::regclass);
        ELSE
            PERFORM tenant_rls.unmark_global(format('%I.%I', r.schema_name, r.table_name)::regclass);
        END IF;
    END LOOP;
END
$$;
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
DROP SCHEMA covg19 CASCADE;
DROP SCHEMA covg19_code CASCADE;
DROP SCHEMA covg19_appsch CASCADE;
DROP OWNED BY covg19_app, covg19_maint, covg19_ni, covg19_grp, covg19_dev, covg19_owner2;
DROP OWNED BY covg19_owner;
DROP ROLE covg19_app, covg19_maint, covg19_ni, covg19_grp, covg19_dev, covg19_owner2, covg19_owner;
RESET tenant_rls.drift_action;
RESET client_min_messages;
