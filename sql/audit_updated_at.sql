--
-- updated_at (DESIGN A5) under DDL on the maintained column.  The trigger
-- names its column; no DDL may leave a table whose UPDATEs all fail:
--   RENAME COLUMN (every spelling, on a parent, through a composite type):
--     the ddl_command_end event trigger gives the trigger the new name,
--     keeping its enabled state;
--   DROP COLUMN, ALTER COLUMN ... TYPE: refused by PostgreSQL (the trigger
--     depends on the column through its WHEN clause), DROP COLUMN ... CASCADE
--     drops the trigger.
-- A rename the event trigger did not see fails the UPDATE with a hint.  The
-- DDL and the UPDATEs run as the tables' owner (not superuser).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_ua_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA ua AUTHORIZATION tr_ua_owner;

-- the updated_at triggers of schema ua: table, clone, enabled, definition
CREATE VIEW public.ua_triggers AS
SELECT c.relname, t.tgparentid <> 0 AS clone, t.tgenabled AS enabled,
       regexp_replace(pg_get_triggerdef(t.oid), '^.* FOR EACH ROW ', '') AS def
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'ua'::regnamespace AND t.tgfoid = 'tenant_rls.updated_at_trigger()'::regprocedure
 ORDER BY c.relname;
GRANT SELECT ON public.ua_triggers TO tr_ua_owner;

--
-- a plain table
--
SET ROLE tr_ua_owner;
CREATE TABLE ua.items (id integer PRIMARY KEY, v text, updated_at timestamptz DEFAULT '2000-01-01');
INSERT INTO ua.items VALUES (1, 'a');
RESET ROLE;
SELECT tenant_rls.enable_updated_at('ua.items');
COMMENT ON TRIGGER tenant_rls_updated_at ON ua.items IS 'kept across renames';
SELECT * FROM public.ua_triggers;
SET ROLE tr_ua_owner;

-- RENAME COLUMN: the trigger follows, and sets the renamed column
ALTER TABLE ua.items RENAME COLUMN updated_at TO changed_at;
SELECT * FROM public.ua_triggers;
BEGIN;
UPDATE ua.items SET v = 'b' WHERE id = 1;
SELECT changed_at = now() AS touched FROM ua.items;
COMMIT;

-- the other spellings PostgreSQL accepts on a table
ALTER VIEW ua.items RENAME COLUMN changed_at TO modified_at;
ALTER TYPE ua.items RENAME ATTRIBUTE modified_at TO touched_at;
SELECT * FROM public.ua_triggers;
BEGIN;
UPDATE ua.items SET v = 'c' WHERE id = 1;
SELECT touched_at = now() AS touched FROM ua.items;
COMMIT;

-- renaming another column changes nothing
ALTER TABLE ua.items RENAME COLUMN v TO w;
SELECT * FROM public.ua_triggers;

-- a disabled trigger stays disabled, its comment stays
ALTER TABLE ua.items DISABLE TRIGGER tenant_rls_updated_at;
ALTER TABLE ua.items RENAME COLUMN touched_at TO updated_at;
SELECT * FROM public.ua_triggers;
SELECT obj_description(t.oid, 'pg_trigger') FROM pg_trigger t
 WHERE t.tgrelid = 'ua.items'::regclass AND t.tgname = 'tenant_rls_updated_at';
UPDATE ua.items SET updated_at = '2001-01-01', w = 'd' WHERE id = 1;
SELECT w, updated_at = '2001-01-01' AS untouched FROM ua.items;
ALTER TABLE ua.items ENABLE TRIGGER tenant_rls_updated_at;

-- DROP COLUMN and ALTER COLUMN ... TYPE of the column are refused
-- (PostgreSQL's own errors: the trigger depends on the column)
ALTER TABLE ua.items DROP COLUMN updated_at;
ALTER TABLE ua.items ALTER COLUMN updated_at TYPE text;
ALTER TABLE ua.items ALTER COLUMN updated_at TYPE timestamp;
-- and the table is still updated as before
BEGIN;
UPDATE ua.items SET w = 'e' WHERE id = 1;
SELECT w, updated_at = now() AS touched FROM ua.items;
COMMIT;

-- disable_updated_at after renames; then the column can go
RESET ROLE;
SELECT tenant_rls.disable_updated_at('ua.items');
SELECT * FROM public.ua_triggers;
SET ROLE tr_ua_owner;
ALTER TABLE ua.items DROP COLUMN updated_at;
UPDATE ua.items SET w = 'f' WHERE id = 1;
SELECT * FROM ua.items;

--
-- a partitioned table (two levels): the partitions carry clones of the
-- parent's trigger; a rename of the parent's column renames theirs
--
CREATE TABLE ua.events (region text NOT NULL, id integer NOT NULL, v text,
                        updated_at timestamptz DEFAULT '2000-01-01') PARTITION BY LIST (region);
CREATE TABLE ua.events_eu PARTITION OF ua.events FOR VALUES IN ('eu');
CREATE TABLE ua.events_us PARTITION OF ua.events FOR VALUES IN ('us');
CREATE TABLE ua.events_asia PARTITION OF ua.events FOR VALUES IN ('jp', 'kr') PARTITION BY LIST (region);
CREATE TABLE ua.events_jp PARTITION OF ua.events_asia FOR VALUES IN ('jp');
INSERT INTO ua.events VALUES ('eu', 1, 'a'), ('us', 2, 'a'), ('jp', 3, 'a');
RESET ROLE;
SELECT tenant_rls.enable_updated_at('ua.events');
SET ROLE tr_ua_owner;
-- one clone set to fire always, one disabled
ALTER TABLE ONLY ua.events_eu ENABLE ALWAYS TRIGGER tenant_rls_updated_at;
ALTER TABLE ONLY ua.events_us DISABLE TRIGGER tenant_rls_updated_at;
SELECT * FROM public.ua_triggers;

ALTER TABLE ua.events RENAME COLUMN updated_at TO changed_at;
SELECT * FROM public.ua_triggers;
BEGIN;
UPDATE ua.events_eu SET v = 'b';
UPDATE ua.events SET v = 'b' WHERE region IN ('us', 'jp');
SELECT region, v, changed_at = now() AS touched FROM ua.events ORDER BY id;
COMMIT;

-- a partition's column cannot be dropped or changed on its own (inherited),
-- the parent's only with CASCADE, which drops the trigger and its clones
ALTER TABLE ua.events DROP COLUMN changed_at;
ALTER TABLE ua.events ALTER COLUMN changed_at TYPE text;
ALTER TABLE ua.events DROP COLUMN changed_at CASCADE;
SELECT * FROM public.ua_triggers;
UPDATE ua.events SET v = 'c';
SELECT region, v FROM ua.events ORDER BY id;

-- a partition's own trigger for another column is not silently replaced by
-- the parent's (the error says what to run); one for the same column is
-- taken over
CREATE TABLE ua.up (id integer, changed_at timestamptz, checked_at timestamptz) PARTITION BY RANGE (id);
CREATE TABLE ua.up_1 PARTITION OF ua.up FOR VALUES FROM (0) TO (10);
RESET ROLE;
SELECT tenant_rls.enable_updated_at('ua.up_1', 'checked_at');
SELECT tenant_rls.enable_updated_at('ua.up', 'changed_at');
SELECT tgrelid::regclass, tgparentid <> 0 AS clone, encode(tgargs, 'escape') AS args
  FROM pg_trigger WHERE tgname = 'tenant_rls_updated_at' AND tgrelid IN ('ua.up'::regclass, 'ua.up_1'::regclass) ORDER BY 1;
SELECT tenant_rls.disable_updated_at('ua.up_1');
SELECT tenant_rls.enable_updated_at('ua.up_1', 'changed_at');
SELECT tenant_rls.enable_updated_at('ua.up', 'changed_at');
SELECT tgrelid::regclass, tgparentid <> 0 AS clone, encode(tgargs, 'escape') AS args
  FROM pg_trigger WHERE tgname = 'tenant_rls_updated_at' AND tgrelid IN ('ua.up'::regclass, 'ua.up_1'::regclass) ORDER BY 1;
-- a clone cannot be removed from one partition: the extension's 55000 naming
-- the table it comes from (two levels up too), not PostgreSQL's 2BP01; the
-- triggers stay
CREATE TABLE ua.up_2 PARTITION OF ua.up FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (id);
CREATE TABLE ua.up_2a PARTITION OF ua.up_2 FOR VALUES FROM (10) TO (15);
SELECT tenant_rls.disable_updated_at('ua.up_1');
SELECT tenant_rls.disable_updated_at('ua.up_2a');
SELECT tgrelid::regclass, tgparentid <> 0 AS clone FROM pg_trigger
 WHERE tgname = 'tenant_rls_updated_at' AND tgrelid::regclass::text LIKE 'ua.up%' ORDER BY 1;
-- detached, it keeps no clone (nothing to remove)
ALTER TABLE ua.up_2 DETACH PARTITION ua.up_2a;
SELECT tenant_rls.disable_updated_at('ua.up_2a');
SET ROLE tr_ua_owner;
DROP TABLE ua.up, ua.up_2a;

--
-- inheritance: triggers are not cloned to children; a child's own trigger
-- follows the rename of the parent's column too
--
CREATE TABLE ua.base (id integer, updated_at timestamptz DEFAULT '2000-01-01');
CREATE TABLE ua.base_child (extra text) INHERITS (ua.base);
INSERT INTO ua.base_child VALUES (1, '2000-01-01', 'x');
RESET ROLE;
SELECT tenant_rls.enable_updated_at('ua.base'), tenant_rls.enable_updated_at('ua.base_child');
SET ROLE tr_ua_owner;
ALTER TABLE ua.base RENAME COLUMN updated_at TO changed_at;
SELECT * FROM public.ua_triggers WHERE relname LIKE 'base%';
BEGIN;
UPDATE ua.base SET id = 2;
SELECT changed_at = now() AS touched FROM ua.base_child;
COMMIT;

--
-- typed tables: ALTER TYPE ... RENAME ATTRIBUTE ... CASCADE renames their
-- columns
--
CREATE TYPE ua.stamped AS (id integer, updated_at timestamptz);
CREATE TABLE ua.typed OF ua.stamped;
INSERT INTO ua.typed VALUES (1, '2000-01-01');
RESET ROLE;
SELECT tenant_rls.enable_updated_at('ua.typed');
-- (the audit configuration's column lists follow such a rename too)
SELECT tenant_rls.enable_audit('ua.typed', exclude => ARRAY['updated_at']);
SET ROLE tr_ua_owner;
ALTER TYPE ua.stamped RENAME ATTRIBUTE updated_at TO changed_at CASCADE;
RESET ROLE;
SELECT * FROM public.ua_triggers WHERE relname = 'typed';
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'ua';
SELECT tenant_rls.disable_audit('ua.typed');
SET ROLE tr_ua_owner;
BEGIN;
UPDATE ua.typed SET id = 2;
SELECT changed_at = now() AS touched FROM ua.typed;
COMMIT;
RESET ROLE;

--
-- a rename the event trigger does not see: the UPDATE fails, and says how
-- to repair (for a partition: on the table the trigger was cloned from)
--
CREATE TABLE ua.parted (id integer, updated_at timestamptz) PARTITION BY RANGE (id);
CREATE TABLE ua.parted_1 PARTITION OF ua.parted FOR VALUES FROM (0) TO (10);
INSERT INTO ua.parted VALUES (1, '2000-01-01');
SELECT tenant_rls.enable_updated_at('ua.parted');
ALTER EVENT TRIGGER tenant_rls_ddl_command_end DISABLE;
ALTER TABLE ua.parted RENAME COLUMN updated_at TO changed_at;
ALTER EVENT TRIGGER tenant_rls_ddl_command_end ENABLE;
UPDATE ua.parted SET id = 2;
SELECT tenant_rls.enable_updated_at('ua.parted', 'changed_at');
BEGIN;
UPDATE ua.parted SET id = 2;
SELECT changed_at = now() AS touched FROM ua.parted;
COMMIT;
-- a trigger naming a column of the wrong type (attached by hand: the
-- WHEN clause of enable_updated_at() is what makes PostgreSQL refuse the
-- type change)
SELECT tenant_rls.disable_updated_at('ua.parted');
CREATE TRIGGER tenant_rls_updated_at BEFORE UPDATE ON ua.parted
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.updated_at_trigger('id');
UPDATE ua.parted SET id = 3;
SELECT tenant_rls.disable_updated_at('ua.parted');
UPDATE ua.parted SET id = 3;

-- the column's precision: timestamptz(0) and timestamp(2) get the value
-- rounded as an INSERT rounds it (review rev24a: stored with microseconds,
-- a value that a dump and restore or a comparison with its text changed)
CREATE TABLE ua.prec0 (id integer PRIMARY KEY, v text, at0 timestamptz(0));
CREATE TABLE ua.prec2 (id integer PRIMARY KEY, v text, at2 timestamp(2));
INSERT INTO ua.prec0 VALUES (1, 'a', '2000-01-01');
INSERT INTO ua.prec2 VALUES (1, 'a', '2000-01-01');
SELECT tenant_rls.enable_updated_at('ua.prec0', 'at0');
SELECT tenant_rls.enable_updated_at('ua.prec2', 'at2');
BEGIN;
UPDATE ua.prec0 SET v = 'b';
UPDATE ua.prec2 SET v = 'b';
SELECT at0 = now()::timestamptz(0) AS rounded_0, at0::text = (at0::text)::timestamptz(0)::text AS same_as_text
  FROM ua.prec0;
SELECT at2 = localtimestamp::timestamp(2) AS rounded_2, at2::text = (at2::text)::timestamp(2)::text AS same_as_text
  FROM ua.prec2;
COMMIT;

-- (review rev48c) a domain over timestamptz is maintained, its constraint
-- checked on the value set; a generated column and a partition's cloned
-- trigger are refused with tenant_rls's own errors, and nothing changes
CREATE DOMAIN ua.recent AS timestamptz CHECK (VALUE > '2000-01-01');
CREATE DOMAIN ua.never AS timestamptz CHECK (VALUE < '2000-01-01');
CREATE TABLE ua.dom (id integer PRIMARY KEY, v text, at ua.recent, bad ua.never,
                     g timestamptz GENERATED ALWAYS AS (to_timestamp(id)) STORED);
INSERT INTO ua.dom (id, v, at) VALUES (1, 'a', '2001-01-01');
SELECT tenant_rls.enable_updated_at('ua.dom', 'at');
BEGIN;
UPDATE ua.dom SET v = 'b';
SELECT at = now() AS domain_column_set FROM ua.dom;
COMMIT;
SELECT tenant_rls.enable_updated_at('ua.dom', 'bad');
UPDATE ua.dom SET v = 'c';
SELECT tenant_rls.enable_updated_at('ua.dom', 'g');
SELECT relname, clone, enabled, def FROM public.ua_triggers WHERE relname = 'dom';
SELECT tenant_rls.disable_updated_at('ua.dom');
CREATE TABLE ua.dparted (id integer, tenant_id text NOT NULL, upd timestamptz, other timestamptz)
    PARTITION BY LIST (tenant_id);
CREATE TABLE ua.dparted_a PARTITION OF ua.dparted FOR VALUES IN ('a');
SELECT tenant_rls.enable_updated_at('ua.dparted', 'upd');
SELECT tenant_rls.enable_updated_at('ua.dparted_a', 'upd');
SELECT tenant_rls.enable_updated_at('ua.dparted_a', 'other');
SELECT relname, clone, enabled, def FROM public.ua_triggers WHERE relname ~ '^dparted';

-- clean up
DROP VIEW public.ua_triggers;
SET client_min_messages = warning;
DROP SCHEMA ua CASCADE;
RESET client_min_messages;
DROP ROLE tr_ua_owner;
