--
-- Audit security review (defects 1 and 2; 3 is test/specs/audit_config_snapshot.spec,
-- 4 is test/t/042_audit_partition.pl):
--  1. the audit trigger refuses to run on a table that enable_audit() did not
--     register, so nobody can attach it to a table of their own and forge
--     entries in (or hold the chain lock of) another tenant's chain;
--     audit_guard() and grants_changed() refuse to run outside the
--     extension's tables.
--  2. the log shows a table's entries only to roles that may SELECT the table.
-- Attacks run as tr_asec_atk / tr_asec_nopriv: not superuser, not BYPASSRLS,
-- not the owner of the audited table.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_asec_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_asec_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_asec_atk LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_asec_nopriv LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_asec_colpriv LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.auto_protect = off;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE 'tr_asec_%' ORDER BY 1;

CREATE SCHEMA asec AUTHORIZATION tr_asec_owner;
CREATE SCHEMA asec_atk AUTHORIZATION tr_asec_atk;
GRANT USAGE ON SCHEMA asec TO tr_asec_app, tr_asec_atk, tr_asec_nopriv, tr_asec_colpriv;
SET ROLE tr_asec_owner;
CREATE TABLE asec.ledger (id integer PRIMARY KEY, tenant_id text NOT NULL, item text, salary integer);
GRANT SELECT, INSERT, UPDATE, DELETE ON asec.ledger TO tr_asec_app;
GRANT SELECT (id, tenant_id, item) ON asec.ledger TO tr_asec_colpriv;
RESET ROLE;
SELECT tenant_rls.enable_audit('asec.ledger');
SET ROLE tr_asec_app;
INSERT INTO asec.ledger VALUES (1, 'asec-a', 'a-secret', 250000), (2, 'asec-b', 'b-row', 1);
RESET ROLE;
SELECT tenant, seq FROM tenant_rls.audit_chain WHERE tenant LIKE 'asec-%' ORDER BY 1;

-- 1. forgery: the attacker attaches the audit trigger to a table of its own
SET ROLE tr_asec_atk;
CREATE TABLE asec_atk.t (id integer PRIMARY KEY, tenant_id text, msg text);
CREATE TRIGGER x AFTER INSERT OR UPDATE OR DELETE ON asec_atk.t
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
CREATE TRIGGER y BEFORE TRUNCATE ON asec_atk.t
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_trigger();
\set VERBOSITY default
INSERT INTO asec_atk.t VALUES (1, 'asec-a', 'forged: transferred 1M');
ALTER TABLE asec_atk.t DISABLE TRIGGER x;
INSERT INTO asec_atk.t VALUES (2, 'asec-a', 'row');
ALTER TABLE asec_atk.t ENABLE TRIGGER x;
DO $$ BEGIN
    DELETE FROM asec_atk.t;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'refused with SQLSTATE %', SQLSTATE;
END $$;
SELECT tenant_rls.set_tenant('asec-a', false) IS NOT NULL AS set;
TRUNCATE asec_atk.t;
SELECT tenant_rls.clear_tenant();
SELECT count(*) AS rows_left FROM asec_atk.t;
-- audit_guard() is only for the extension's tables
CREATE TABLE asec_atk.g (id integer);
INSERT INTO asec_atk.g VALUES (1);
CREATE TRIGGER g BEFORE UPDATE OR DELETE ON asec_atk.g
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_guard();
DELETE FROM asec_atk.g;
-- nor grants_changed() (every write would flush every session's caches and plans)
CREATE TRIGGER gc AFTER INSERT ON asec_atk.g
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.grants_changed();
INSERT INTO asec_atk.g VALUES (2);
\set VERBOSITY terse
RESET ROLE;
-- nothing was written or chained for the victim tenant
SELECT tenant, seq FROM tenant_rls.audit_chain WHERE tenant LIKE 'asec-%' ORDER BY 1;
SELECT count(*) AS forged FROM tenant_rls.audit_log WHERE schema_name = 'asec_atk';
SELECT tenant, ok, entries FROM tenant_rls.audit_verify('asec-a');

-- a partition of an audited partitioned table is registered through its root
SET ROLE tr_asec_owner;
CREATE TABLE asec.parted (tenant_id text NOT NULL, id integer NOT NULL, PRIMARY KEY (tenant_id, id))
    PARTITION BY LIST (tenant_id);
CREATE TABLE asec.parted_a PARTITION OF asec.parted FOR VALUES IN ('asec-a');
GRANT INSERT ON asec.parted TO tr_asec_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('asec.parted');
CREATE TABLE asec.parted_b PARTITION OF asec.parted FOR VALUES IN ('asec-b');
SET ROLE tr_asec_app;
INSERT INTO asec.parted VALUES ('asec-a', 1), ('asec-b', 2);
RESET ROLE;
SELECT tenant, table_name, new_row FROM tenant_rls.audit_log WHERE schema_name = 'asec' AND table_name = 'parted' ORDER BY tenant;
-- after disable_audit() a trigger re-attached by hand is refused again
SELECT tenant_rls.disable_audit('asec.parted');
CREATE TRIGGER again AFTER INSERT ON asec.parted FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
SET ROLE tr_asec_app;
INSERT INTO asec.parted VALUES ('asec-a', 3);
RESET ROLE;
DROP TRIGGER again ON asec.parted;

-- 2. the log does not bypass table privileges
-- a role with SELECT on the table reads its tenant's entries
SET ROLE tr_asec_app;
BEGIN;
SELECT tenant_rls.set_tenant('asec-a') IS NOT NULL AS set;
SELECT table_name, operation, new_row FROM tenant_rls.audit_log WHERE schema_name = 'asec' ORDER BY seq, entry;
SELECT table_name, new_row FROM tenant_rls.audit_history('asec.ledger', '{"id": 1}');
COMMIT;
RESET ROLE;
-- a role with no privilege on the table reads nothing, neither from the log nor the history
SET ROLE tr_asec_nopriv;
SELECT * FROM asec.ledger;
BEGIN;
SELECT tenant_rls.set_tenant('asec-a') IS NOT NULL AS set;
SELECT table_name, operation, new_row FROM tenant_rls.audit_log WHERE schema_name = 'asec';
SELECT table_name, new_row FROM tenant_rls.audit_history('asec.ledger', '{"id": 1}');
COMMIT;
RESET ROLE;
-- SELECT on some columns only is not enough: the images hold every column
SET ROLE tr_asec_colpriv;
SELECT id, tenant_id, item FROM asec.ledger ORDER BY id;
BEGIN;
SELECT tenant_rls.set_tenant('asec-a') IS NOT NULL AS set;
SELECT new_row->>'salary' AS leaked_salary FROM tenant_rls.audit_log WHERE schema_name = 'asec' AND table_name = 'ledger';
COMMIT;
RESET ROLE;
-- once granted SELECT on the table, the same role reads the entries
GRANT SELECT ON asec.ledger TO tr_asec_nopriv;
SET ROLE tr_asec_nopriv;
BEGIN;
SELECT tenant_rls.set_tenant('asec-a') IS NOT NULL AS set;
SELECT table_name, operation, new_row FROM tenant_rls.audit_log WHERE schema_name = 'asec' ORDER BY seq, entry;
COMMIT;
RESET ROLE;
-- the policy
SELECT policyname, cmd, qual FROM pg_policies WHERE schemaname = 'tenant_rls' AND tablename = 'audit_batch';

-- a log whose columns were changed by hand is refused, not misread: the
-- batch is written at commit, which fails, and the audited change with it
BEGIN;
ALTER TABLE tenant_rls.audit_batch ADD COLUMN comment text;
INSERT INTO asec.ledger VALUES (90, 'asec-a', 'after an altered log', 1);
COMMIT;
SELECT count(*) AS not_written FROM asec.ledger WHERE id = 90;
SELECT count(*) AS log_columns FROM pg_attribute
 WHERE attrelid = 'tenant_rls.audit_batch'::regclass AND attnum > 0 AND NOT attisdropped;
-- so is an index the writer could not keep complete (expression or partial)
BEGIN;
CREATE INDEX audit_chain_expr_idx ON tenant_rls.audit_chain ((lower(tenant)));
INSERT INTO asec.ledger VALUES (91, 'asec-new', 'new tenant, new head', 1);
COMMIT;
SELECT count(*) AS not_written FROM asec.ledger WHERE id = 91;
-- the writer keeps the IndexInfo of the log's indexes across transactions:
-- an index added to the month's partition in the same session is
-- maintained from the next commit on, a dropped one is forgotten, and an
-- expression index is refused there too
SELECT format('tenant_rls.audit_batch_p%s', to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')) AS part \gset
INSERT INTO asec.ledger VALUES (92, 'asec-idx', 'before the index', 1);
CREATE INDEX audit_extra_seq_idx ON :part (seq, tenant);
INSERT INTO asec.ledger VALUES (93, 'asec-idx', 'after the index', 1);
CREATE FUNCTION pg_temp.uses_extra_index(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line LIKE '%Scan using audit_extra_seq_idx%' THEN RETURN true; END IF;
    END LOOP;
    RETURN false;
END $$;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- (seq 2 was written after the index was built: found through it only if
-- the writer inserted its entry)
SELECT pg_temp.uses_extra_index(format('SELECT seq FROM %s WHERE seq = 2 AND tenant = %L', :'part', 'asec-idx')) AS through_new_index,
       (SELECT count(*) FROM :part WHERE seq = 2 AND tenant = 'asec-idx') AS found;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX tenant_rls.audit_extra_seq_idx;
INSERT INTO asec.ledger VALUES (94, 'asec-idx', 'index dropped', 1);
BEGIN;
CREATE INDEX audit_extra_expr_idx ON :part ((lower(tenant)));
INSERT INTO asec.ledger VALUES (95, 'asec-idx', 'expression index', 1);
COMMIT;
SELECT count(*) AS not_written FROM asec.ledger WHERE id = 95;
SELECT ok, entries FROM tenant_rls.audit_verify('asec-idx');

-- 5. forged payloads: audit_entries() is anyone's, and numeric's functions
-- trust their input, so numeric images are checked (payload: one numeric
-- column x, one INSERT whose image is the numeric's bytes): a long-format 7
-- decodes; 2 bytes with a long-format header, and a digit of 10000, are
-- refused, not read; 2 bytes with a short-format header are a valid 0
SET ROLE tr_asec_nopriv;
SELECT new_row FROM tenant_rls.audit_entries('\x54524c3101000242a4060000ffffffff017849100000000000000000010000000106000000000000000700');
SELECT new_row FROM tenant_rls.audit_entries('\x54524c3101000242a4060000ffffffff0178491000000000000000000100000001020000000000');
SELECT new_row FROM tenant_rls.audit_entries('\x54524c3101000242a4060000ffffffff017849100000000000000000010000000106000000000000001027');
SELECT new_row FROM tenant_rls.audit_entries('\x54524c3101000242a4060000ffffffff0178491000000000000000000100000001020000000080');
RESET ROLE;

-- 6. a cast to json that writes to an audited table: the trigger refuses to
-- run inside its own conversion (it would overwrite the change it is
-- encoding), and the statement fails as a whole
CREATE TYPE asec.mood AS ENUM ('calm', 'angry');
CREATE FUNCTION asec.mood_json(m asec.mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asec.ledger VALUES (97, 'asec-cast', 'written by a cast', 1);
    RETURN pg_catalog.to_json(m::text);
END $$;
CREATE CAST (asec.mood AS json) WITH FUNCTION asec.mood_json(asec.mood);
CREATE TABLE asec.moods (id integer PRIMARY KEY, tenant_id text NOT NULL, m asec.mood);
GRANT SELECT, INSERT ON asec.moods TO tr_asec_app;
SELECT tenant_rls.enable_audit('asec.moods');
SET ROLE tr_asec_app;
INSERT INTO asec.moods VALUES (1, 'asec-cast', 'angry');
RESET ROLE;
SELECT (SELECT count(*) FROM asec.moods) AS moods, (SELECT count(*) FROM asec.ledger WHERE id = 97) AS ledger,
       (SELECT count(*) FROM tenant_rls.audit_batch WHERE tenant = 'asec-cast') AS batches;
SELECT tenant_rls.disable_audit('asec.moods');
-- ... nor may such a cast call audit_row_key(): it reset the buffer of the
-- entry being built (the change went unrecorded, the cast's JSON and the
-- later columns' bytes were read as entries of its choosing, and the chain
-- verified), and it could free the relation's cache the trigger was reading
CREATE TYPE asec.mood2 AS ENUM ('calm', 'angry');
CREATE FUNCTION asec.mood2_json(m asec.mood2) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_rls.audit_row_key('asec.moods2', '{"id": 1}');
    RETURN pg_catalog.to_json(m::text);
END $$;
CREATE CAST (asec.mood2 AS json) WITH FUNCTION asec.mood2_json(asec.mood2);
CREATE TABLE asec.moods2 (id integer PRIMARY KEY, tenant_id text NOT NULL, m asec.mood2, b bytea);
GRANT SELECT, INSERT ON asec.moods2 TO tr_asec_app;
SELECT tenant_rls.enable_audit('asec.moods2');
SET ROLE tr_asec_app;
INSERT INTO asec.moods2 VALUES (1, 'asec-cast2', 'angry', '\x0102');
RESET ROLE;
SELECT (SELECT count(*) FROM asec.moods2) AS moods2,
       (SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'asec-cast2') AS entries,
       (SELECT count(*) FROM tenant_rls.audit_batch WHERE tenant = 'asec-cast2') AS batches;
-- (outside a conversion it works as before)
SELECT tenant_rls.audit_row_key('asec.moods2', '{"id": 1}') = 1 AS row_key;
SELECT tenant_rls.disable_audit('asec.moods2');

-- 7. the role of a change is recorded when the change is queued: a role
-- dropped before COMMIT neither fails the commit nor loses its name
BEGIN;
CREATE ROLE tr_asec_gone;
GRANT USAGE ON SCHEMA asec TO tr_asec_gone;
GRANT INSERT ON asec.ledger TO tr_asec_gone;
SET LOCAL ROLE tr_asec_gone;
INSERT INTO asec.ledger VALUES (98, 'asec-gone', 'by a role dropped before commit', 1);
RESET ROLE;
REVOKE INSERT ON asec.ledger FROM tr_asec_gone;
REVOKE USAGE ON SCHEMA asec FROM tr_asec_gone;
DROP ROLE tr_asec_gone;
COMMIT;
SELECT db_user, operation FROM tenant_rls.audit_log WHERE tenant = 'asec-gone';

-- 8. no tenant and the tenant '' share the chain of key '': verification
-- reads both (batches without tenant, then one of tenant '', then without)
CREATE TABLE asec.notenant (id integer PRIMARY KEY, v text);
SELECT tenant_rls.enable_audit('asec.notenant');
INSERT INTO asec.notenant VALUES (1, 'before');
INSERT INTO asec.ledger VALUES (99, '', 'empty tenant', 1);
INSERT INTO asec.notenant VALUES (2, 'after');
SELECT tenant, ok, first_bad_seq, reason FROM tenant_rls.audit_verify('');
SELECT tenant_rls.disable_audit('asec.notenant');

-- 9. the audit configuration follows its table: renamed or moved, the row
-- takes the new name (the identity pg_dump restores); dropped, the row goes,
-- so the attacker's table of the same name, created later, is not registered
-- and a trigger attached by hand is refused
CREATE TABLE asec.dropped (id integer PRIMARY KEY, tenant_id text);
CREATE TABLE asec.renamed (id integer PRIMARY KEY, tenant_id text);
SELECT tenant_rls.enable_audit('asec.dropped');
SELECT tenant_rls.enable_audit('asec.renamed');
ALTER TABLE asec.renamed RENAME TO renamed_now;
CREATE TABLE asec.renamed (id integer PRIMARY KEY, tenant_id text);
SELECT schema_name, table_name, table_oid = 'asec.renamed_now'::regclass AS oid_of_renamed
  FROM tenant_rls.audit_config WHERE schema_name LIKE 'asec%' AND table_name <> 'ledger' ORDER BY 2;
CREATE SCHEMA asec_move;
ALTER TABLE asec.renamed_now SET SCHEMA asec_move;
ALTER SCHEMA asec_move RENAME TO asec_moved;
SELECT schema_name, table_name, table_oid = 'asec_moved.renamed_now'::regclass AS oid_of_renamed
  FROM tenant_rls.audit_config WHERE schema_name LIKE 'asec%' AND table_name <> 'ledger' ORDER BY 2;
DROP TABLE asec.dropped, asec.renamed;
SELECT schema_name, table_name FROM tenant_rls.audit_config WHERE schema_name LIKE 'asec%' ORDER BY 2;
GRANT CREATE ON SCHEMA asec TO tr_asec_atk;
SET ROLE tr_asec_atk;
CREATE TABLE asec.dropped (id integer PRIMARY KEY, tenant_id text);
CREATE TRIGGER x AFTER INSERT ON asec.dropped
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
INSERT INTO asec.dropped VALUES (1, 'asec-a');
RESET ROLE;
REVOKE CREATE ON SCHEMA asec FROM tr_asec_atk;
-- the moved table is still audited, under its new names
INSERT INTO asec_moved.renamed_now VALUES (1, 'asec-a');
SELECT schema_name, table_name, operation FROM tenant_rls.audit_log
 WHERE schema_name LIKE 'asec%' AND table_name IN ('dropped', 'renamed_now');
SET client_min_messages = warning;
DROP SCHEMA asec CASCADE;
DROP SCHEMA asec_moved CASCADE;
RESET client_min_messages;
SELECT count(*) AS configs_left FROM tenant_rls.audit_config WHERE schema_name LIKE 'asec%';

-- 10. the column lists follow RENAME COLUMN: an excluded column renamed stays
-- excluded (its secret is not recorded under the new name), an audited one
-- renamed stays audited; on a partitioned table the rename reaches the
-- partitions, whose entries use the parent's lists
CREATE SCHEMA asec_col;
CREATE TABLE asec_col.acct (id integer PRIMARY KEY, tenant_id text, secret text, status text, note text);
SELECT tenant_rls.enable_audit('asec_col.acct', columns => ARRAY['status', 'secret'], exclude => ARRAY['secret']);
CREATE TABLE asec_col.parted (id integer, tenant_id text, secret text, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE asec_col.parted_1 PARTITION OF asec_col.parted FOR VALUES FROM (0) TO (100);
SELECT tenant_rls.enable_audit('asec_col.parted', exclude => ARRAY['secret']);
INSERT INTO asec_col.acct VALUES (1, 'asec-a', 's3cret-1', 'new', 'n');
ALTER TABLE asec_col.acct RENAME COLUMN secret TO pw_secret;
ALTER TABLE asec_col.acct RENAME COLUMN status TO state;
ALTER TABLE asec_col.parted RENAME COLUMN secret TO pw;
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'asec_col' ORDER BY 1;
UPDATE asec_col.acct SET pw_secret = 's3cret-2', state = 'paid' WHERE id = 1;
INSERT INTO asec_col.acct VALUES (2, 'asec-a', 's3cret-3', 'new', 'n');
INSERT INTO asec_col.parted VALUES (1, 'asec-a', 'p4ss');
SELECT table_name, operation, old_row, new_row FROM tenant_rls.audit_log
 WHERE schema_name = 'asec_col' ORDER BY seq, entry;
SELECT tenant, ok, first_bad_seq, reason FROM tenant_rls.audit_verify('asec-a');
SET client_min_messages = warning;
DROP SCHEMA asec_col CASCADE;
RESET client_min_messages;

-- 5. the log applies the tenant's isolation and table-level SELECT, not the
-- table's own row policies inside a tenant (doc/audit.md, "Who can read and
-- change the log"): a user whom a per-author policy hides a note from reads
-- it in the log.  lint() reports every audited table with policies of its
-- own (audit_log_ignores_policies), naming them.
CREATE SCHEMA asec_pol AUTHORIZATION tr_asec_owner;
GRANT USAGE ON SCHEMA asec_pol TO tr_asec_app, tr_asec_atk;
SET ROLE tr_asec_owner;
CREATE TABLE asec_pol.notes (id integer PRIMARY KEY, tenant_id text NOT NULL,
                         author name NOT NULL DEFAULT current_user, body text);
GRANT SELECT, INSERT ON asec_pol.notes TO tr_asec_app, tr_asec_atk;
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('asec_pol.notes');
SELECT tenant_rls.enable_audit('asec_pol.notes');
SELECT code, level, object, message FROM tenant_rls.lint()
 WHERE code = 'audit_log_ignores_policies' AND object = 'asec_pol.notes';
SET ROLE tr_asec_owner;
CREATE POLICY own_notes ON asec_pol.notes AS RESTRICTIVE FOR SELECT USING (author = current_user);
CREATE POLICY "Team Notes" ON asec_pol.notes AS RESTRICTIVE FOR UPDATE USING (true);
RESET ROLE;
SELECT code, level, object, message, fix FROM tenant_rls.lint()
 WHERE code = 'audit_log_ignores_policies' AND object = 'asec_pol.notes';
SET ROLE tr_asec_app;
BEGIN;
SELECT tenant_rls.set_tenant('asec-a') IS NOT NULL AS set;
INSERT INTO asec_pol.notes (id, tenant_id, body) VALUES (1, 'asec-a', 'app private: salary 123k');
COMMIT;
RESET ROLE;
SET ROLE tr_asec_atk;
BEGIN;
SELECT tenant_rls.set_tenant('asec-a') IS NOT NULL AS set;
SELECT count(*) AS notes_seen FROM asec_pol.notes;
SELECT db_user, new_row->>'body' AS body FROM tenant_rls.audit_log WHERE schema_name = 'asec_pol' AND table_name = 'notes';
COMMIT;
RESET ROLE;
SELECT tenant_rls.disable_audit('asec_pol.notes');
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_log_ignores_policies' AND object = 'asec_pol.notes';
SET client_min_messages = warning;
DROP SCHEMA asec_pol CASCADE;
RESET client_min_messages;

-- 5. the owner of an audited table redefines its audit trigger (review
-- rev19b F1): CREATE OR REPLACE with a WHEN that never holds (nothing
-- recorded), UPDATE OF one column (other UPDATEs unrecorded), or a second
-- trigger (every change twice).  lint() reports each (audit_trigger_altered;
-- and the attacker's triggers of section 1), audit_trigger()
-- refuses to run from any trigger but the one enable_audit() makes, and
-- lint()'s fix restores it with the table's columns and exclude
CREATE SCHEMA asec_redef AUTHORIZATION tr_asec_owner;
GRANT USAGE ON SCHEMA asec_redef TO tr_asec_app;
SET ROLE tr_asec_owner;
CREATE TABLE asec_redef.t (id integer PRIMARY KEY, tenant_id text NOT NULL, v text, n integer);
GRANT SELECT, INSERT, UPDATE, DELETE ON asec_redef.t TO tr_asec_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('asec_redef.t', exclude => '{n}');
\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix
CREATE FUNCTION pg_temp.redef_entries() RETURNS bigint LANGUAGE sql
    AS $$ SELECT count(*) FROM tenant_rls.audit_log WHERE schema_name = 'asec_redef' $$;
CREATE FUNCTION pg_temp.redef_write(tag text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO asec_redef.t VALUES (%s, %L, %L, 1)', 100 + length(tag), 'asec-a', tag);
    UPDATE asec_redef.t SET v = v || '!' WHERE v = tag;
    DELETE FROM asec_redef.t WHERE v = tag || '!';
END $$;
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
SELECT pg_temp.redef_write('a');
SELECT pg_temp.redef_entries() AS entries;
-- (a) WHEN (false): never fires
SET ROLE tr_asec_owner;
CREATE OR REPLACE TRIGGER tenant_rls_audit AFTER INSERT OR UPDATE OR DELETE ON asec_redef.t
    FOR EACH ROW WHEN (false) EXECUTE FUNCTION tenant_rls.audit_trigger();
RESET ROLE;
SELECT pg_temp.redef_write('bb');
SELECT pg_temp.redef_entries() AS entries_unchanged;
SELECT code, level, object, message, fix FROM tenant_rls.lint() WHERE code IN ('audit_trigger_altered', 'audit_missing') AND object LIKE 'asec_redef.%';
SELECT object, message, fix FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_atk.%';
SELECT pg_temp.apply_fix('audit_trigger_altered', 'asec_redef.t');
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
SELECT columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'asec_redef';
SELECT pg_temp.redef_write('ccc');
SELECT pg_temp.redef_entries() AS entries;
-- (b) UPDATE OF n: the UPDATEs that fire it are refused, the others go unrecorded
SET ROLE tr_asec_owner;
CREATE OR REPLACE TRIGGER tenant_rls_audit AFTER INSERT OR UPDATE OF n OR DELETE ON asec_redef.t
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
RESET ROLE;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT pg_temp.redef_write('dddd');
\set SHOW_CONTEXT errors
\set VERBOSITY terse
SELECT code, object, message, fix FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
SELECT pg_temp.apply_fix('audit_trigger_altered', 'asec_redef.t');
-- (c) a second trigger: refused, and reported with its DROP
SET ROLE tr_asec_owner;
CREATE TRIGGER zz_dup AFTER INSERT ON asec_redef.t FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
RESET ROLE;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT pg_temp.redef_write('eeeee');
\set SHOW_CONTEXT errors
\set VERBOSITY terse
SELECT code, object, message, fix FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
SELECT pg_temp.apply_fix('audit_trigger_altered', 'asec_redef.t');
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
-- (d) a deferred constraint trigger of the same name and events (review
-- rev21c): it would fire at commit and record the actor and role of then
SET ROLE tr_asec_owner;
DROP TRIGGER tenant_rls_audit ON asec_redef.t;
CREATE CONSTRAINT TRIGGER tenant_rls_audit AFTER INSERT OR UPDATE OR DELETE ON asec_redef.t
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
RESET ROLE;
\set VERBOSITY default
SELECT pg_temp.redef_write('ggggggg');
\set VERBOSITY terse
SELECT code, object, message, fix FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
SELECT pg_temp.apply_fix('audit_trigger_altered', 'asec_redef.t');
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_trigger_altered' AND object LIKE 'asec_redef.%';
SELECT tgconstraint = 0 AS plain_trigger FROM pg_trigger WHERE tgrelid = 'asec_redef.t'::regclass AND tgname = 'tenant_rls_audit';
SELECT pg_temp.redef_write('ffffff');
SELECT v, operation FROM tenant_rls.audit_log l, LATERAL (SELECT coalesce(l.new_row, l.old_row)->>'v' AS v) x
 WHERE schema_name = 'asec_redef' ORDER BY seq, entry;
SELECT tenant_rls.disable_audit('asec_redef.t');
-- 6. an AFTER ROW trigger that sorts before tenant_rls_audit and changes
-- rows (review rev21c): its changes were recorded before the INSERT that
-- fired it, and chained so, and lint() told to rename it
-- (audit_trigger_order).  The log now follows the commands that made the
-- changes, whatever the triggers' order (within a batch since review
-- rev41a, across a tenant's batches since rev41d), and the finding is gone:
-- the row's DELETE comes after its INSERT, the total the trigger updates in
-- another audited table after the row that changed it.  A trigger that only
-- reads, one sorting after, and one deferred change nothing of that
CREATE SCHEMA asec_ord AUTHORIZATION tr_asec_owner;
SET ROLE tr_asec_owner;
CREATE TABLE asec_ord.t (id integer PRIMARY KEY, tenant_id text NOT NULL, v text);
CREATE TABLE asec_ord.tot (tenant_id text PRIMARY KEY, n integer NOT NULL);
CREATE FUNCTION asec_ord.count_row() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN UPDATE asec_ord.tot SET n = n + 1 WHERE tenant_id = NEW.tenant_id; RETURN NULL; END $$;
CREATE FUNCTION asec_ord.purge() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN DELETE FROM asec_ord.t WHERE id = NEW.id; RETURN NULL; END $$;
CREATE FUNCTION asec_ord.look() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN IF TG_OP = 'UPDATE' THEN RETURN NULL; END IF; -- no DELETE here
              PERFORM 1 FROM asec_ord.t WHERE id = NEW.id; RETURN NULL; END $$;
-- (review rev21d: the write in a helper was missed, the read-only one reported)
CREATE FUNCTION asec_ord.drop_row(i integer) RETURNS void LANGUAGE sql
    AS $$ DELETE FROM asec_ord.t WHERE id = i + 1000 $$;
CREATE FUNCTION asec_ord.via_helper() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM asec_ord.drop_row(NEW.id); RETURN NULL; END $$;
CREATE TRIGGER a_count AFTER INSERT ON asec_ord.t FOR EACH ROW EXECUTE FUNCTION asec_ord.count_row();
CREATE TRIGGER a_purge AFTER INSERT ON asec_ord.t FOR EACH ROW EXECUTE FUNCTION asec_ord.purge();
CREATE TRIGGER a_look AFTER INSERT OR UPDATE ON asec_ord.t FOR EACH ROW EXECUTE FUNCTION asec_ord.look();
CREATE TRIGGER a_helper AFTER INSERT ON asec_ord.t FOR EACH ROW EXECUTE FUNCTION asec_ord.via_helper();
CREATE TRIGGER z_purge AFTER UPDATE ON asec_ord.t FOR EACH ROW EXECUTE FUNCTION asec_ord.purge();
CREATE CONSTRAINT TRIGGER a_deferred AFTER UPDATE ON asec_ord.t DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION asec_ord.purge();
INSERT INTO asec_ord.tot VALUES ('asec-a', 0);
RESET ROLE;
SELECT tenant_rls.enable_audit('asec_ord.t'), tenant_rls.enable_audit('asec_ord.tot');
INSERT INTO asec_ord.t VALUES (1, 'asec-a', 'x'), (2, 'asec-a', 'y');
SELECT seq, entry, operation FROM tenant_rls.audit_history('asec_ord.t', '{"id": 1}') ORDER BY seq, entry;
SELECT table_name, operation, coalesce(row_pk, new_row) AS row, new_row->'n' AS n
  FROM tenant_rls.audit_log WHERE schema_name = 'asec_ord' ORDER BY seq, entry;
-- 6b. a row trigger that changes a row an earlier row of the same
-- multi-row statement wrote (review rev41a): the trigger's statement ends,
-- and its change is recorded, before the rows of the statement that fired
-- it are.  A BEFORE trigger that closes the current version of a group, and
-- an AFTER trigger sorting after tenant_rls_audit that closes the later
-- rows: each row's history was recorded changed before it was written; the
-- entries of a batch now go in the order of the commands that made them
CREATE TABLE asec_ord.ver (id integer PRIMARY KEY, tenant_id text NOT NULL, grp integer, is_current boolean);
CREATE FUNCTION asec_ord.ver_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asec_ord.ver SET is_current = false WHERE grp = NEW.grp AND is_current;
    NEW.is_current := true;
    RETURN NEW;
END $$;
CREATE TRIGGER ver_close BEFORE INSERT ON asec_ord.ver FOR EACH ROW EXECUTE FUNCTION asec_ord.ver_close();
CREATE TABLE asec_ord.lnk (id integer PRIMARY KEY, tenant_id text NOT NULL, grp integer, is_current boolean DEFAULT true);
CREATE FUNCTION asec_ord.lnk_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asec_ord.lnk SET is_current = false WHERE grp = NEW.grp AND id > NEW.id AND is_current;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_close AFTER INSERT ON asec_ord.lnk FOR EACH ROW EXECUTE FUNCTION asec_ord.lnk_close();
SELECT tenant_rls.enable_audit('asec_ord.ver'), tenant_rls.enable_audit('asec_ord.lnk');
BEGIN;
SELECT tenant_rls.set_tenant('asec-a');
INSERT INTO asec_ord.ver (id, tenant_id, grp) VALUES (1, 'asec-a', 7), (2, 'asec-a', 7), (3, 'asec-a', 7);
INSERT INTO asec_ord.lnk (id, tenant_id, grp) VALUES (1, 'asec-a', 7), (2, 'asec-a', 7);
UPDATE asec_ord.ver SET grp = 8 WHERE id = 1;
COMMIT;
SELECT id, is_current FROM asec_ord.ver ORDER BY id;
SELECT entry, operation, coalesce(row_pk, new_row->'id') AS row, new_row->'is_current' AS is_current
  FROM tenant_rls.audit_log WHERE schema_name = 'asec_ord' AND table_name = 'ver' ORDER BY seq, entry;
SELECT h.id, string_agg(h.operation, ', ' ORDER BY h.seq, h.entry) AS history
  FROM generate_series(1, 3) AS i(id),
       LATERAL (SELECT i.id, x.operation, x.seq, x.entry
                  FROM tenant_rls.audit_history('asec_ord.ver', jsonb_build_object('id', i.id)) x) h
 GROUP BY h.id ORDER BY h.id;
SELECT entry, operation, row_pk->'id' AS id FROM tenant_rls.audit_log WHERE schema_name = 'asec_ord' AND table_name = 'lnk' ORDER BY seq, entry;
-- ... also when the trigger's writes each run in a savepoint of their own (a
-- PL/pgSQL block with EXCEPTION; review rev41c: each left a batch of its
-- own, and the rows of the INSERT came in a later batch); a savepoint
-- rolled back drops its change
CREATE TABLE asec_ord.sav (id integer PRIMARY KEY, tenant_id text NOT NULL, grp integer, is_current boolean);
CREATE FUNCTION asec_ord.sav_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE asec_ord.sav SET is_current = false WHERE grp = NEW.grp AND is_current;
        IF NEW.id = 3 THEN RAISE EXCEPTION 'keep id 2 current'; END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    NEW.is_current := true;
    RETURN NEW;
END $$;
CREATE TRIGGER sav_close BEFORE INSERT ON asec_ord.sav FOR EACH ROW EXECUTE FUNCTION asec_ord.sav_close();
SELECT tenant_rls.enable_audit('asec_ord.sav');
BEGIN;
SELECT tenant_rls.set_tenant('asec-a');
INSERT INTO asec_ord.sav (id, tenant_id, grp) VALUES (1, 'asec-a', 7), (2, 'asec-a', 7), (3, 'asec-a', 7), (4, 'asec-a', 7);
COMMIT;
SELECT id, is_current FROM asec_ord.sav ORDER BY id;
SELECT h.id, string_agg(h.operation || coalesce(' ' || (h.new_row->>'is_current'), ''), ', ' ORDER BY h.seq, h.entry) AS history
  FROM generate_series(1, 4) AS i(id),
       LATERAL (SELECT i.id, x.operation, x.new_row, x.seq, x.entry
                  FROM tenant_rls.audit_history('asec_ord.sav', jsonb_build_object('id', i.id)) x) h
 GROUP BY h.id ORDER BY h.id;
SELECT count(DISTINCT seq) AS batches FROM tenant_rls.audit_log WHERE schema_name = 'asec_ord' AND table_name = 'sav';
-- 6c. ... and across batches (reviews rev41d, rev41e): the trigger also
-- writes another audited table of the tenant (jv: its batch stood between),
-- or closes the version as another role (sd: a SECURITY DEFINER function,
-- another batch), or writes rows of 9 other tenants for each row (fan: the
-- tenant's batch fell out of the 8 latest).  Each row was recorded changed
-- before it was recorded written; a tenant's entries now go in the order of
-- their commands across the transaction's batches, regrouped into batches
CREATE TABLE asec_ord.jv (id integer PRIMARY KEY, tenant_id text NOT NULL, grp integer, is_current boolean);
CREATE TABLE asec_ord.jnl (id serial PRIMARY KEY, tenant_id text NOT NULL, note text);
CREATE FUNCTION asec_ord.jv_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asec_ord.jv SET is_current = false WHERE grp = NEW.grp AND is_current;
    INSERT INTO asec_ord.jnl (tenant_id, note) VALUES (NEW.tenant_id, 'closed group ' || NEW.grp || ' for ' || NEW.id);
    NEW.is_current := true;
    RETURN NEW;
END $$;
CREATE TRIGGER jv_close BEFORE INSERT ON asec_ord.jv FOR EACH ROW EXECUTE FUNCTION asec_ord.jv_close();
CREATE TABLE asec_ord.sd (id integer PRIMARY KEY, tenant_id text NOT NULL, grp integer, is_current boolean);
CREATE FUNCTION asec_ord.sd_close_as_owner(g integer) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ UPDATE asec_ord.sd SET is_current = false WHERE grp = g AND is_current $$;
ALTER FUNCTION asec_ord.sd_close_as_owner(integer) OWNER TO tr_asec_owner;
GRANT SELECT, UPDATE ON asec_ord.sd TO tr_asec_owner;
CREATE FUNCTION asec_ord.sd_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM asec_ord.sd_close_as_owner(NEW.grp);
    NEW.is_current := true;
    RETURN NEW;
END $$;
CREATE TRIGGER sd_close BEFORE INSERT ON asec_ord.sd FOR EACH ROW EXECUTE FUNCTION asec_ord.sd_close();
CREATE TABLE asec_ord.mt (id integer PRIMARY KEY, tenant_id text NOT NULL, grp integer, is_current boolean);
CREATE TABLE asec_ord.fan (id serial PRIMARY KEY, tenant_id text NOT NULL, src integer);
CREATE FUNCTION asec_ord.mt_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asec_ord.mt SET is_current = false WHERE grp = NEW.grp AND is_current;
    INSERT INTO asec_ord.fan (tenant_id, src) SELECT 'asec-f' || i, NEW.id FROM generate_series(1, 9) i;
    NEW.is_current := true;
    RETURN NEW;
END $$;
CREATE TRIGGER mt_close BEFORE INSERT ON asec_ord.mt FOR EACH ROW EXECUTE FUNCTION asec_ord.mt_close();
SELECT tenant_rls.enable_audit('asec_ord.jv'), tenant_rls.enable_audit('asec_ord.jnl'),
       tenant_rls.enable_audit('asec_ord.sd'), tenant_rls.enable_audit('asec_ord.mt'),
       tenant_rls.enable_audit('asec_ord.fan');
BEGIN;
SELECT tenant_rls.set_tenant('asec-a');
INSERT INTO asec_ord.jv (id, tenant_id, grp) VALUES (1, 'asec-a', 7), (2, 'asec-a', 7), (3, 'asec-a', 7);
INSERT INTO asec_ord.sd (id, tenant_id, grp) VALUES (1, 'asec-a', 7), (2, 'asec-a', 7), (3, 'asec-a', 7);
INSERT INTO asec_ord.mt (id, tenant_id, grp) VALUES (1, 'asec-a', 7), (2, 'asec-a', 7), (3, 'asec-a', 7);
COMMIT;
SELECT t.name, h.id, string_agg(h.operation || coalesce(' ' || (h.new_row->>'is_current'), ''), ', ' ORDER BY h.seq, h.entry) AS history
  FROM unnest(ARRAY['jv', 'sd', 'mt']) AS t(name), generate_series(1, 3) AS i(id),
       LATERAL (SELECT i.id, x.operation, x.new_row, x.seq, x.entry
                  FROM tenant_rls.audit_history(('asec_ord.' || t.name)::regclass, jsonb_build_object('id', i.id)) x) h
 GROUP BY t.name, h.id ORDER BY t.name, h.id;
-- the tenant's log in command order: the statement's rows, then what the
-- triggers changed, in as few batches as that order allows
SELECT table_name, db_user, seq, entry, operation, coalesce(row_pk, new_row->'id') AS row
  FROM tenant_rls.audit_log WHERE schema_name = 'asec_ord' AND table_name IN ('jv', 'jnl', 'sd', 'mt')
   AND seq > (SELECT max(seq) FROM tenant_rls.audit_log WHERE tenant = 'asec-a' AND schema_name = 'asec_ord' AND table_name = 'sav')
 ORDER BY seq, entry;
SELECT tenant, count(*) AS batches, sum(entries) AS entries FROM tenant_rls.audit_batch
 WHERE tenant LIKE 'asec-f%' GROUP BY tenant ORDER BY tenant;
SELECT tenant, ok FROM tenant_rls.audit_verify() WHERE tenant = 'asec-a' OR tenant LIKE 'asec-f%' ORDER BY tenant;
-- a change whose command its row does not tell (a row of COPY FREEZE: its
-- version is frozen) took that of the last entry of the batch it joined,
-- which may come before later batches of the tenant, and row 1 written
-- again after its DELETE was recorded before its UPDATE and DELETE (review
-- rev42b)
CREATE TABLE asec_ord.fz (id integer PRIMARY KEY, tenant_id text NOT NULL, v integer);
-- (nor the current one: a trigger of row 2 moved it on, and row 1 was
-- recorded changed by it before it was recorded written, review rev42c; it
-- is the statement's)
CREATE FUNCTION asec_ord.fz_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 2 THEN UPDATE asec_ord.fz SET v = v + 10 WHERE id = 1; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fz_touch BEFORE INSERT ON asec_ord.fz FOR EACH ROW EXECUTE FUNCTION asec_ord.fz_touch();
SELECT tenant_rls.enable_audit('asec_ord.fz');
BEGIN;
SELECT tenant_rls.set_tenant('asec-a');
TRUNCATE asec_ord.fz;
COPY asec_ord.fz FROM stdin (FREEZE);
1	asec-a	0
2	asec-a	0
\.
SET LOCAL app.current_user_id = 'u1';
UPDATE asec_ord.fz SET v = 1 WHERE id = 1;
DELETE FROM asec_ord.fz WHERE id = 1;
RESET app.current_user_id;
COPY asec_ord.fz FROM stdin (FREEZE);
1	asec-a	2
\.
COMMIT;
SELECT string_agg(operation || coalesce(' ' || (new_row->>'v'), ''), ', ' ORDER BY seq, entry) AS history
  FROM tenant_rls.audit_history('asec_ord.fz', '{"id": 1}');
SELECT tenant, ok FROM tenant_rls.audit_verify('asec-a');
SELECT tenant_rls.disable_audit('asec_ord.t'), tenant_rls.disable_audit('asec_ord.tot');
SELECT tenant_rls.disable_audit('asec_ord.ver'), tenant_rls.disable_audit('asec_ord.lnk'), tenant_rls.disable_audit('asec_ord.sav');
SELECT tenant_rls.disable_audit(t::regclass) FROM unnest(ARRAY['asec_ord.jv', 'asec_ord.jnl', 'asec_ord.sd', 'asec_ord.mt', 'asec_ord.fan', 'asec_ord.fz']) t;
SET client_min_messages = warning;
DROP SCHEMA asec_ord CASCADE;
RESET client_min_messages;
-- a temporary table cannot be audited (its registry row would outlive it)
CREATE TEMP TABLE asec_tmp (id integer PRIMARY KEY, tenant_id text);
SELECT tenant_rls.enable_audit('asec_tmp');
SELECT tenant_rls.enable_audit(0::regclass);
SET client_min_messages = warning;
DROP SCHEMA asec_redef CASCADE;
RESET client_min_messages;

-- tenant_rls.actor_setting never names a setting only superusers may read:
-- the audit log would show its value to every tenant (review rev22c)
SET tenant_rls.actor_setting = 'tenant_rls.signing_key';
SET tenant_rls.actor_setting = 'TENANT_RLS.signing_key_previous';
SET tenant_rls.actor_setting = 'primary_conninfo';
SET tenant_rls.actor_setting = 'app.acting_user';
SHOW tenant_rls.actor_setting;
RESET tenant_rls.actor_setting;

-- the registry's tenant column renamed while the event triggers that keep
-- the registry did not run (replica mode; review rev41a): the audit trigger
-- found no tenant column and recorded the session's tenant context, so an
-- owner changing tenant asec-a's row with the context asec-b put it in
-- asec-b's chain, readable by asec-b.  Now: recorded without a tenant, with
-- a warning, until protect() registers the new name
CREATE SCHEMA asec_ren;
CREATE TABLE asec_ren.t (id integer PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('asec_ren.t');
SET session_replication_role = replica;
ALTER TABLE asec_ren.t RENAME COLUMN tenant_id TO org_id;
RESET session_replication_role;
SELECT tenant_column FROM tenant_rls.protected_table WHERE schema_name = 'asec_ren';
BEGIN;
SELECT tenant_rls.set_tenant('asec-b');
\set VERBOSITY default
INSERT INTO asec_ren.t VALUES (1, 'asec-a', 'changed by an owner in the context of asec-b');
\set VERBOSITY terse
COMMIT;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('asec_ren.t');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('asec_ren.t', tenant_column => 'org_id');
SELECT tenant_column FROM tenant_rls.protected_table WHERE schema_name = 'asec_ren';
BEGIN;
SELECT tenant_rls.set_tenant('asec-b');
UPDATE asec_ren.t SET v = 'again' WHERE id = 1;
COMMIT;
SELECT tenant, context_tenant, operation, coalesce(new_row->>'v', '') AS v FROM tenant_rls.audit_log
 WHERE schema_name = 'asec_ren' ORDER BY logged_at, seq, entry;
SELECT tenant_rls.disable_audit('asec_ren.t');
-- ... and the table renamed so: the registry has no row by its new name,
-- and tenant_rls.tenant_column names a column it does not have, so the
-- session's tenant context was recorded as well (review rev42b)
CREATE TABLE asec_ren.u (id integer PRIMARY KEY, org text NOT NULL, v text);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('asec_ren.u', tenant_column => 'org');
SET session_replication_role = replica;
ALTER TABLE asec_ren.u RENAME TO u2;
RESET session_replication_role;
BEGIN;
SELECT tenant_rls.set_tenant('asec-b');
\set VERBOSITY default
INSERT INTO asec_ren.u2 VALUES (1, 'asec-a', 'changed by an owner in the context of asec-b');
\set VERBOSITY terse
COMMIT;
SELECT tenant, context_tenant, operation FROM tenant_rls.audit_log WHERE schema_name = 'asec_ren' AND table_name = 'u2';
SELECT tenant_rls.disable_audit('asec_ren.u2');
-- (lint()'s fix for the old name's row, registry_stale)
DELETE FROM tenant_rls.protected_table WHERE schema_name = 'asec_ren' AND table_name = 'u';
SET client_min_messages = warning;
DROP SCHEMA asec_ren CASCADE;
RESET client_min_messages;

-- clean up (the log keeps its entries: it is append-only)
SET client_min_messages = warning;
DROP SCHEMA asec_atk CASCADE;
DROP ROLE tr_asec_owner, tr_asec_app, tr_asec_atk, tr_asec_nopriv, tr_asec_colpriv;
