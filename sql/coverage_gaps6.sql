--
-- Coverage report, review rev23d: code a tenant table runs that lint() did
-- not look at.  (1) Functions, domains, types and operators that a tenant
-- table uses but another role owns: that role rewrites them and reads every
-- tenant's rows (dependency_owned_by_other_role).  (2) Rules, trigger WHEN
-- clauses, CHECK constraints, defaults and policies that write to an
-- unprotected table or send notifications (trigger_writes_unprotected_table,
-- trigger_notifies).  Each leak shown as the application role (not
-- superuser, not BYPASSRLS, not the owner), then the finding, then its fix.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg6_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg6_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg6_dev NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg6';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg6 AUTHORIZATION covg6_owner;
GRANT USAGE ON SCHEMA covg6 TO covg6_app;
-- a schema of the application role's own (lint's schema_create_privilege
-- says so, but not which tables use what it creates there)
CREATE SCHEMA covg6_appsch AUTHORIZATION covg6_app;
GRANT USAGE ON SCHEMA covg6_appsch TO PUBLIC;
CREATE SCHEMA covg6_h;
GRANT USAGE ON SCHEMA covg6_h TO covg6_app;
CREATE FUNCTION covg6_h.mine(c text) RETURNS TABLE(level text, object text, message text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND (l.object ILIKE '%covg6%' OR l.message ILIKE '%covg6%')
     ORDER BY 2, 3
$$;
CREATE FUNCTION covg6_h.as_b(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    PERFORM tenant_rls.set_tenant('b');
    FOR r IN EXECUTE q LOOP RETURN NEXT r; END LOOP;
END
$$;

-- ==== 1. dependency_owned_by_other_role
-- the application role creates a domain, an enum and a harmless-looking
-- policy helper; the owner uses them in a tenant table
SET ROLE covg6_app;
CREATE DOMAIN covg6_appsch.code_t AS text;
CREATE TYPE covg6_appsch.status_t AS ENUM ('open', 'paid');
CREATE FUNCTION covg6_appsch.ok(text) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$ SELECT true $$;
RESET ROLE;
SET ROLE covg6_owner;
CREATE TABLE covg6.orders (id int NOT NULL, tenant_id text NOT NULL, note text,
                           code covg6_appsch.code_t, status covg6_appsch.status_t[],
                           PRIMARY KEY (tenant_id, id));
CREATE POLICY extra_r ON covg6.orders AS RESTRICTIVE FOR SELECT USING (covg6_appsch.ok(note));
-- the owner's own helper, which calls the application role's function
CREATE FUNCTION covg6.wrap(t text) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$ SELECT covg6_appsch.ok(t) $$;
CREATE TABLE covg6.items (id int NOT NULL, tenant_id text NOT NULL, note text,
                          CONSTRAINT note_ok CHECK (covg6.wrap(note)), PRIMARY KEY (tenant_id, id));
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg6.orders');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg6.items');
GRANT SELECT, INSERT, UPDATE, DELETE ON covg6.orders, covg6.items TO covg6_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL;
INSERT INTO covg6.orders VALUES (1, 'a', 'secret of a', 'code-of-a', '{paid}');
INSERT INTO covg6.items VALUES (1, 'a', 'item of a');
COMMIT;

-- the leak: as the application role, with no tenant, a CHECK on its
-- domain runs over every tenant's rows (a failing check is a yes/no oracle)
SET ROLE covg6_app;
ALTER DOMAIN covg6_appsch.code_t ADD CONSTRAINT peek CHECK (VALUE <> 'code-of-a');
ALTER DOMAIN covg6_appsch.code_t ADD CONSTRAINT peek CHECK (VALUE <> 'code-of-c');
ALTER DOMAIN covg6_appsch.code_t DROP CONSTRAINT peek;
-- ... and renaming an enum value changes every tenant's rows
ALTER TYPE covg6_appsch.status_t RENAME VALUE 'paid' TO 'open_x';
ALTER TYPE covg6_appsch.status_t RENAME VALUE 'open_x' TO 'paid';
RESET ROLE;

-- the findings: the domain, the enum (used as an array), the policy helper
-- (directly and through the owner's wrapper in a CHECK); error, since the
-- owner of all three is an application role
SELECT * FROM covg6_h.mine('dependency_owned_by_other_role');
-- a role that no application role is a member of: warning
ALTER FUNCTION covg6_appsch.ok(text) OWNER TO covg6_dev;
SELECT level, object FROM covg6_h.mine('dependency_owned_by_other_role') WHERE object LIKE '%ok(text)';
ALTER FUNCTION covg6_appsch.ok(text) OWNER TO covg6_app;

-- the fixes, as lint() gives them, then the application role can no
-- longer change them and the findings are gone
DO $$
DECLARE
    f text;
BEGIN
    FOR f IN SELECT DISTINCT m.fix FROM covg6_h.mine('dependency_owned_by_other_role') m LOOP
        EXECUTE f;
    END LOOP;
END
$$;
SET ROLE covg6_app;
ALTER DOMAIN covg6_appsch.code_t ADD CONSTRAINT peek CHECK (VALUE <> 'code-of-a');
CREATE OR REPLACE FUNCTION covg6_appsch.ok(text) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$ SELECT true $$;
RESET ROLE;
SELECT count(*) AS left_over FROM covg6_h.mine('dependency_owned_by_other_role');

-- a SECURITY DEFINER function of another role: no fix (owned by the
-- table's owner it would run with the owner's rights)
SET ROLE covg6_app;
CREATE FUNCTION covg6_appsch.sd_ok(text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog AS $$ SELECT true $$;
RESET ROLE;
SET ROLE covg6_owner;
CREATE POLICY extra_sd ON covg6.items AS RESTRICTIVE FOR SELECT USING (covg6_appsch.sd_ok(note));
RESET ROLE;
SELECT level, object, fix IS NULL AS no_fix FROM covg6_h.mine('dependency_owned_by_other_role');
DROP POLICY extra_sd ON covg6.items;

-- (review rev23e) a domain over the application role's domain, a statistics
-- object over its function, the row type of its table; a CHECK of a
-- partitioned table counts once, not again for each partition
SET ROLE covg6_app;
CREATE FUNCTION covg6_appsch.chk(text) RETURNS boolean LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog AS $$ SELECT true $$;
CREATE DOMAIN covg6_appsch.inner_t AS text CHECK (covg6_appsch.chk(VALUE));
CREATE FUNCTION covg6_appsch.statf(text) RETURNS text LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog AS $$ SELECT $1 $$;
CREATE TABLE covg6_appsch.rowt (a int);
RESET ROLE;
SET ROLE covg6_owner;
CREATE DOMAIN covg6.outer_t AS covg6_appsch.inner_t;
CREATE TABLE covg6.deep (id int NOT NULL, tenant_id text NOT NULL, v covg6.outer_t, r covg6_appsch.rowt,
                         PRIMARY KEY (tenant_id, id));
CREATE STATISTICS covg6.deep_st ON (covg6_appsch.statf(v)) FROM covg6.deep;
CREATE TABLE covg6.parted (id int NOT NULL, tenant_id text NOT NULL, note text CHECK (covg6_appsch.chk(note)),
                           PRIMARY KEY (tenant_id, id)) PARTITION BY LIST (tenant_id);
CREATE TABLE covg6.parted_a PARTITION OF covg6.parted FOR VALUES IN ('a');
CREATE TABLE covg6.parted_b PARTITION OF covg6.parted FOR VALUES IN ('b');
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg6.deep');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg6.parted');
SELECT level, object, message, fix FROM covg6_h.mine('dependency_owned_by_other_role');

-- ==== 2. code other than trigger functions that writes or notifies
CREATE SCHEMA covg6_rep AUTHORIZATION covg6_owner;
SET ROLE covg6_owner;
CREATE TABLE covg6_rep.feed (payload jsonb);
GRANT USAGE ON SCHEMA covg6_rep TO covg6_app;
GRANT SELECT ON covg6_rep.feed TO covg6_app;
RESET ROLE;
SET ROLE covg6_owner;
-- (a) a rule copies every new row into the feed
CREATE RULE copy_ins AS ON INSERT TO covg6.orders DO ALSO INSERT INTO covg6_rep.feed VALUES (to_jsonb(NEW));
-- (b) a rule, a trigger's WHEN clause, a CHECK constraint that notify
CREATE RULE notify_upd AS ON UPDATE TO covg6.orders DO ALSO SELECT pg_notify('feed', to_jsonb(NEW)::text);
CREATE FUNCTION covg6.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER tw AFTER INSERT ON covg6.orders FOR EACH ROW
    WHEN (pg_notify('feedw', to_jsonb(NEW)::text) IS NOT NULL) EXECUTE FUNCTION covg6.noop();
ALTER TABLE covg6.items ADD CONSTRAINT ck CHECK (pg_notify('feedc', note) IS NOT NULL) NOT VALID;
-- (c) a column default whose function writes to the feed, and a domain
-- whose CHECK calls a function that notifies
CREATE FUNCTION covg6.stamp(t text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO covg6_rep.feed VALUES (to_jsonb(t));
    RETURN t;
END $$;
ALTER TABLE covg6.items ADD COLUMN origin text DEFAULT covg6.stamp(current_user::text);
CREATE FUNCTION covg6.shout(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dom', t);
    RETURN true;
END $$;
CREATE DOMAIN covg6.loud_t AS text CHECK (covg6.shout(VALUE));
ALTER TABLE covg6.items ADD COLUMN loud covg6.loud_t;
RESET ROLE;

BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL;
INSERT INTO covg6.orders VALUES (2, 'a', 'second secret of a', NULL, NULL);
COMMIT;
-- the leak: tenant b reads tenant a's row from the feed
SET ROLE covg6_app;
SELECT covg6_h.as_b($$SELECT payload->>'note' FROM covg6_rep.feed WHERE payload ? 'tenant_id'$$);
RESET ROLE;

SELECT level, object, message FROM covg6_h.mine('trigger_writes_unprotected_table');
SELECT level, object, message FROM covg6_h.mine('trigger_notifies');

-- gone once the code is
SET ROLE covg6_owner;
DROP RULE copy_ins ON covg6.orders;
DROP RULE notify_upd ON covg6.orders;
DROP TRIGGER tw ON covg6.orders;
ALTER TABLE covg6.items DROP CONSTRAINT ck, DROP COLUMN origin, DROP COLUMN loud;
RESET ROLE;
SELECT count(*) AS left_over FROM covg6_h.mine('trigger_writes_unprotected_table');
SELECT count(*) AS left_over FROM covg6_h.mine('trigger_notifies');

-- ==== managed_schema_missing: an entry of tenant_rls.managed_schemas that
-- names no schema.  The mixed-case schema was meant; without double quotes
-- the name folds to lower case, the schema is not managed, and a new tenant
-- table in it is not protected: the application role reads every tenant.
CREATE SCHEMA "Covg6Sales" AUTHORIZATION covg6_owner;
GRANT USAGE ON SCHEMA "Covg6Sales" TO covg6_app;
SET tenant_rls.managed_schemas = 'covg6, Covg6Sales, covg6_nowhere';
SET tenant_rls.auto_protect = on;
SET ROLE covg6_owner;
CREATE TABLE "Covg6Sales".deals (id int PRIMARY KEY, tenant_id text NOT NULL, note text);
INSERT INTO "Covg6Sales".deals VALUES (1, 'a', 'a''s deal'), (2, 'b', 'b''s deal');
GRANT SELECT ON "Covg6Sales".deals TO covg6_app;
RESET ROLE;
SET ROLE covg6_app;
SELECT covg6_h.as_b($$SELECT string_agg(note, ', ' ORDER BY id) FROM "Covg6Sales".deals$$);
RESET ROLE;
SELECT code, level, object, message, detail, fix FROM tenant_rls.lint()
 WHERE code = 'managed_schema_missing' ORDER BY object;
-- quoted, the schema is managed (and lint() names the unprotected table)
SET tenant_rls.managed_schemas = 'covg6, "Covg6Sales"';
SELECT count(*) AS missing FROM tenant_rls.lint() WHERE code = 'managed_schema_missing';
SELECT code, object FROM tenant_rls.lint() WHERE object LIKE '%Covg6Sales%' ORDER BY 1, 2;
-- non-ASCII letters are not folded, as in search_path
CREATE SCHEMA "covg6_Ä";
SET tenant_rls.managed_schemas = 'covg6, covg6_Ä, "Covg6Sales"';
SELECT count(*) AS missing FROM tenant_rls.lint() WHERE code = 'managed_schema_missing';
DROP SCHEMA "covg6_Ä";
SET tenant_rls.auto_protect = off;
SET tenant_rls.managed_schemas = 'covg6';
DROP SCHEMA "Covg6Sales" CASCADE;

-- ==== clean up
SET client_min_messages = error;
DROP SCHEMA covg6 CASCADE;
DROP SCHEMA covg6_rep CASCADE;
DROP SCHEMA covg6_h CASCADE;
DROP SCHEMA covg6_appsch CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg6';
END $$;
DROP ROLE covg6_app, covg6_dev, covg6_owner;
RESET client_min_messages;
