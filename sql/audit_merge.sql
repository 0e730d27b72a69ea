--
-- Audit capture under the statement forms the other suites hardly use
-- (review rev51b): MERGE (WHEN MATCHED UPDATE / DELETE / DO NOTHING, WHEN NOT
-- MATCHED INSERT, in one statement) on a plain, a partitioned (a row moved to
-- another partition by MERGE's UPDATE) and an inheritance table; INSERT ...
-- ON CONFLICT DO UPDATE / DO NOTHING; a data-modifying WITH over two tables
-- and two tenants; foreign key actions (ON DELETE CASCADE, ON UPDATE
-- CASCADE, ON DELETE SET NULL) from an audited table into another; the
-- user's BEFORE triggers (changing NEW, returning NULL); UPDATEs to
-- identical values, of TOASTed columns; enable_updated_at() under MERGE;
-- excluded columns.  And the fix: the columns an audited inheritance parent
-- does not record (exclude, or not in columns) were recorded for the rows of
-- its children audited on their own, also by a MERGE or UPDATE through the
-- parent (enable_audit() of the parent after the children existed); the
-- parent renamed while the event triggers did not follow; ALTER TABLE ...
-- NO INHERIT; two parents, a grandparent, one gained later (INHERIT); the
-- parent's excluded column dropped, the child's kept.
-- The tables belong to tr_am_owner; tr_am_app (not superuser, not
-- BYPASSRLS, not the owner) writes them as a tenant.  Deferred delivery of
-- the same statements: test/t/060_audit_delivery.pl.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_am_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_am_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tr_am_app';
CREATE SCHEMA am AUTHORIZATION tr_am_owner;
GRANT USAGE ON SCHEMA am TO tr_am_app;
SET tenant_rls.managed_schemas = 'am';

SET ROLE tr_am_owner;
CREATE TABLE am.am_plain (tenant_id text NOT NULL, id int PRIMARY KEY, v text, n int, secret text);
CREATE TABLE am.am_parted (tenant_id text NOT NULL, id int, r int, v text, PRIMARY KEY (id, r)) PARTITION BY RANGE (r);
CREATE TABLE am.am_parted_1 PARTITION OF am.am_parted FOR VALUES FROM (0) TO (10);
CREATE TABLE am.am_parted_2 PARTITION OF am.am_parted FOR VALUES FROM (10) TO (20);
CREATE TABLE am.am_inh (tenant_id text NOT NULL, id int PRIMARY KEY, v text, secret text);
CREATE TABLE am.am_inh_c (extra text) INHERITS (am.am_inh);
ALTER TABLE am.am_inh_c ADD PRIMARY KEY (id);
CREATE TABLE am.am_src (tenant_id text NOT NULL, id int, v text, r int);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA am TO tr_am_app;
RESET ROLE;
-- every table is protected and audited on its own (the partitions through
-- their parent)
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' ORDER BY 1;
SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'am.am_plain'::regclass;

SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
INSERT INTO am.am_plain VALUES ('am_a', 1, 'one', 1, 's1'), ('am_a', 2, 'two', 2, 's2'), ('am_a', 3, 'three', 3, 's3');
INSERT INTO am.am_parted VALUES ('am_a', 1, 1, 'p1'), ('am_a', 2, 2, 'p2'), ('am_a', 3, 3, 'p3');
INSERT INTO am.am_inh VALUES ('am_a', 1, 'i1', 'si1');
INSERT INTO am.am_inh_c VALUES ('am_a', 2, 'c2', 'sc2', 'x'), ('am_a', 3, 'c3', 'sc3', 'y');
INSERT INTO am.am_src VALUES ('am_a', 1, 'upd', 15), ('am_a', 2, 'del', 2), ('am_a', 3, 'same', 3), ('am_a', 4, 'new', 4);
COMMIT;

-- ==== 1. MERGE: UPDATE, DELETE, DO NOTHING and INSERT in one statement, on
-- a plain, a partitioned (row 1 moves from parted_1 to parted_2) and an
-- inheritance table (rows 2 and 3 are inh_c's), in one transaction
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'merger';
MERGE INTO am.am_plain t USING am.am_src s ON t.id = s.id
 WHEN MATCHED AND s.v = 'del' THEN DELETE
 WHEN MATCHED AND s.v = 'same' THEN DO NOTHING
 WHEN MATCHED THEN UPDATE SET v = s.v, n = t.n + 10
 WHEN NOT MATCHED THEN INSERT VALUES (s.tenant_id, s.id, s.v, 0, 'sec');
MERGE INTO am.am_parted t USING am.am_src s ON t.id = s.id
 WHEN MATCHED AND s.v = 'del' THEN DELETE
 WHEN MATCHED AND s.v = 'same' THEN DO NOTHING
 WHEN MATCHED THEN UPDATE SET v = s.v, r = s.r
 WHEN NOT MATCHED THEN INSERT VALUES (s.tenant_id, s.id, s.r, s.v);
MERGE INTO am.am_inh t USING am.am_src s ON t.id = s.id
 WHEN MATCHED AND s.v = 'del' THEN DELETE
 WHEN MATCHED AND s.v = 'same' THEN DO NOTHING
 WHEN MATCHED THEN UPDATE SET v = s.v
 WHEN NOT MATCHED THEN INSERT VALUES (s.tenant_id, s.id, s.v, 'si4');
COMMIT;
RESET ROLE;
-- the entries of the MERGEs, in chain order: each MERGE's changes in the
-- order made; the row moved between partitions is a DELETE and an INSERT;
-- the inheritance child's rows name inh_c; one transaction, one statement
-- time per MERGE, the writer's users and context
CREATE TEMP TABLE am_merge AS
SELECT seq, entry, table_name, operation, row_pk, old_row, new_row, txid, stmt_at, db_user, app_user, context_tenant
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND tenant = 'am_a' AND app_user = 'merger';
SELECT table_name, operation, row_pk, old_row, new_row
  FROM am_merge ORDER BY seq, entry;
SELECT count(DISTINCT txid) AS transactions, count(DISTINCT stmt_at) AS statements,
       string_agg(DISTINCT db_user || '/' || context_tenant, ',') AS writer
  FROM am_merge;
-- the statements' times follow the chain order
SELECT bool_and(stmt_at >= prev) AS in_statement_order
  FROM (SELECT stmt_at, lag(stmt_at) OVER (ORDER BY seq, entry) AS prev FROM am_merge) x;
-- all entries of one MERGE share its statement time
SELECT CASE WHEN table_name LIKE 'am\_inh%' THEN 'am_inh' ELSE table_name END AS merge_into,
       count(*) AS entries, count(DISTINCT stmt_at) AS statement_times
  FROM am_merge GROUP BY 1 ORDER BY min(seq);
-- histories: the moved row under its old key and its new one, the child's
-- rows under the child
SELECT operation, row_pk, old_row, new_row FROM tenant_rls.audit_history('am.am_parted', '{"id": 1, "r": 1}');
SELECT operation, row_pk, old_row, new_row FROM tenant_rls.audit_history('am.am_parted', '{"id": 1, "r": 15}');
SELECT operation, row_pk, old_row, new_row FROM tenant_rls.audit_history('am.am_plain', '{"id": 1}');
SELECT operation, row_pk FROM tenant_rls.audit_history('am.am_inh_c', '{"id": 2}');
SELECT operation, row_pk FROM tenant_rls.audit_history('am.am_inh', '{"id": 4}');
-- ... and as the tenant itself
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SELECT operation, row_pk, new_row FROM tenant_rls.audit_history('am.am_plain', '{"id": 4}');
COMMIT;
RESET ROLE;
-- ==== 8. the lists of an inheritance parent bind its child, also:
-- 8a. the parent renamed while the event triggers did not follow (replica
-- mode): its audit_config row keeps the old name, and is found by its oid,
-- as the table's own row would be (the child recorded the secret)
SET ROLE tr_am_owner;
CREATE TABLE am.am_rp (tenant_id text NOT NULL, id int PRIMARY KEY, v text, secret text);
CREATE TABLE am.am_rc (PRIMARY KEY (id)) INHERITS (am.am_rp);
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_rp, am.am_rc TO tr_am_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('am.am_rp', exclude => ARRAY['secret']);
SET session_replication_role = replica;
ALTER TABLE am.am_rp RENAME TO am_rp_renamed;
RESET session_replication_role;
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' AND table_name LIKE 'am\_r%' ORDER BY 1;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'renamed parent';
INSERT INTO am.am_rc VALUES ('am_a', 1, 'r1', 'top secret r1');
UPDATE am.am_rp_renamed SET v = 'r1!', secret = 'top secret r1b';
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'renamed parent'
 ORDER BY seq, entry;
SET session_replication_role = replica;
ALTER TABLE am.am_rp_renamed RENAME TO am_rp;
RESET session_replication_role;

-- 8b. ALTER TABLE child NO INHERIT parent: the child, and a grandchild
-- audited on its own below it, keep the restriction (the parent's secret
-- joins their exclude, as a partition detached keeps its parent's lists);
-- before, the secret was recorded from then on, and its value written
-- meanwhile appeared in the next change's old_row
SET ROLE tr_am_owner;
CREATE TABLE am.am_np (tenant_id text NOT NULL, id int PRIMARY KEY, v text, secret text, pin text);
CREATE TABLE am.am_nc (extra text, PRIMARY KEY (id)) INHERITS (am.am_np);
CREATE TABLE am.am_ngc (PRIMARY KEY (id)) INHERITS (am.am_nc);
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_np, am.am_nc, am.am_ngc TO tr_am_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('am.am_np', columns => ARRAY['tenant_id', 'id', 'v', 'secret'], exclude => ARRAY['secret']);
SELECT tenant_rls.enable_audit('am.am_ngc', exclude => ARRAY['extra']);
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'no inherit';
INSERT INTO am.am_nc VALUES ('am_a', 1, 'n1', 'top secret n1', '1234', 'x1');
INSERT INTO am.am_ngc VALUES ('am_a', 2, 'n2', 'top secret n2', '5678', 'x2');
COMMIT;
RESET ROLE;
ALTER TABLE am.am_nc NO INHERIT am.am_np;
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' AND table_name LIKE 'am\_n%' ORDER BY 1;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'no inherit';
UPDATE am.am_nc SET v = v || '!', secret = secret || ' b', pin = pin || '9';
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'no inherit'
 ORDER BY seq, entry;
-- a child that already excludes what its former parent does not record:
-- nothing changes, no NOTICE
ALTER TABLE am.am_ngc NO INHERIT am.am_nc;
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' AND table_name LIKE 'am\_n%' ORDER BY 1;

-- 8c. two parents (one's exclude, the other's columns), a grandparent
-- audited above a parent that is not, and a grandparent gained later
-- (ALTER TABLE parent INHERIT grandparent, in the session that has the
-- grandchild cached): every audited ancestor's lists bind; the child's own
-- column (e) follows its own lists
SET ROLE tr_am_owner;
CREATE TABLE am.am_gp (tenant_id text NOT NULL, id int, a text, b text);
CREATE TABLE am.am_mid () INHERITS (am.am_gp);
CREATE TABLE am.am_p2 (tenant_id text NOT NULL, id int, c text, d text);
CREATE TABLE am.am_kid (e text, PRIMARY KEY (id)) INHERITS (am.am_mid, am.am_p2);
CREATE TABLE am.am_lone (tenant_id text NOT NULL, id int, a text, b text);
CREATE TABLE am.am_lonekid (PRIMARY KEY (id)) INHERITS (am.am_lone);
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_gp, am.am_mid, am.am_p2, am.am_kid, am.am_lone, am.am_lonekid TO tr_am_app;
RESET ROLE;
SELECT tenant_rls.disable_audit('am.am_mid');
SELECT tenant_rls.disable_audit('am.am_lone');
SELECT tenant_rls.enable_audit('am.am_gp', exclude => ARRAY['a']);
SELECT tenant_rls.enable_audit('am.am_p2', columns => ARRAY['tenant_id', 'id', 'c']);
SELECT table_name, columns, exclude FROM tenant_rls.audit_config
 WHERE schema_name = 'am' AND table_name IN ('am_gp', 'am_mid', 'am_p2', 'am_kid', 'am_lone', 'am_lonekid') ORDER BY 1;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'ancestors';
INSERT INTO am.am_kid VALUES ('am_a', 1, 'A', 'B', 'C', 'D', 'E');
INSERT INTO am.am_lonekid VALUES ('am_a', 1, 'A', 'B');
COMMIT;
RESET ROLE;
ALTER TABLE am.am_lone INHERIT am.am_gp;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'ancestors';
UPDATE am.am_lonekid SET a = 'A2', b = 'B2';
UPDATE am.am_gp SET a = a || '3', b = b || '3';
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'ancestors'
 ORDER BY seq, entry;

-- 8d. the parent drops the column it excludes; the child's own copy (its
-- columns are its own after ALTER TABLE ... INHERIT) stays unrecorded: the
-- parent's exclude names it still, as a table's own exclude would (it was
-- recorded: the restriction went with the parent's column)
SET ROLE tr_am_owner;
CREATE TABLE am.am_dp (tenant_id text NOT NULL, id int PRIMARY KEY, v text, secret text);
CREATE TABLE am.am_dc (tenant_id text NOT NULL, id int PRIMARY KEY, v text, secret text);
ALTER TABLE am.am_dc INHERIT am.am_dp;
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_dp, am.am_dc TO tr_am_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('am.am_dp', exclude => ARRAY['secret']);
ALTER TABLE am.am_dp DROP COLUMN secret;
SELECT attrelid::regclass, attname FROM pg_attribute WHERE attrelid IN ('am.am_dp'::regclass, 'am.am_dc'::regclass) AND attname = 'secret';
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' AND table_name LIKE 'am\_d%' ORDER BY 1;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'dropped';
INSERT INTO am.am_dc VALUES ('am_a', 1, 'd1', 'top secret d1');
UPDATE am.am_dc SET v = 'd1!', secret = 'top secret d1b';
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'dropped'
 ORDER BY seq, entry;

SELECT tenant, ok, first_bad_seq, reason FROM tenant_rls.audit_verify('am_a');

-- ==== 2. INSERT ... ON CONFLICT: the conflicting row is an UPDATE of the
-- changed columns, the other an INSERT; DO NOTHING and a DO UPDATE to the
-- same values write nothing; on a partitioned table too
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'upserter';
INSERT INTO am.am_plain VALUES ('am_a', 1, 'conflict', 100, 'ignored'), ('am_a', 5, 'five', 5, 's5')
    ON CONFLICT (id) DO UPDATE SET v = excluded.v, n = am.am_plain.n + excluded.n;
INSERT INTO am.am_plain VALUES ('am_a', 1, 'ignored', 0, 'ignored'), ('am_a', 6, 'six', 6, 's6')
    ON CONFLICT DO NOTHING;
INSERT INTO am.am_plain VALUES ('am_a', 6, 'six', 6, 'other')
    ON CONFLICT (id) DO UPDATE SET v = excluded.v, n = excluded.n;
INSERT INTO am.am_plain VALUES ('am_a', 5, 'five', 5, 's5')
    ON CONFLICT (id) DO UPDATE SET v = 'not this one' WHERE false;
INSERT INTO am.am_parted VALUES ('am_a', 3, 3, 'p3 upserted'), ('am_a', 7, 7, 'p7')
    ON CONFLICT (id, r) DO UPDATE SET v = excluded.v;
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND tenant = 'am_a' AND app_user = 'upserter'
 ORDER BY seq, entry;
SELECT operation, row_pk, old_row, new_row FROM tenant_rls.audit_history('am.am_plain', '{"id": 1}');

-- ==== 3. a data-modifying WITH of an administrator (no tenant context) over
-- two tables and two tenants: each change in its row's tenant's chain
INSERT INTO am.am_plain VALUES ('am_b', 50, 'b50', 0, 'sb');
WITH d AS (DELETE FROM am.am_plain WHERE id = 50 RETURNING id),
     u AS (UPDATE am.am_plain SET v = 'by cte' WHERE id = 5 RETURNING id),
     i AS (INSERT INTO am.am_parted VALUES ('am_b', 8, 8, 'b8'), ('am_a', 9, 9, 'a9') RETURNING id)
SELECT (SELECT count(*) FROM d) AS deleted, (SELECT count(*) FROM u) AS updated, (SELECT count(*) FROM i) AS inserted;
SELECT tenant, table_name, operation, row_pk, old_row ->> 'v' AS old_v, new_row ->> 'v' AS new_v,
       db_user, context_tenant IS NULL AS no_context
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND db_user = current_user AND row_pk ->> 'id' IN ('5', '8', '9', '50')
 ORDER BY tenant, seq, entry;
SELECT count(DISTINCT txid) AS transactions, count(DISTINCT stmt_at) AS statements
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND db_user = current_user
   AND (operation <> 'INSERT' OR new_row ->> 'v' IN ('b8', 'a9'));

-- ==== 4. foreign key actions from an audited table into audited tables:
-- recorded, in the row's tenant's chain, after the change that caused them,
-- with the writer's users and context (PostgreSQL fires the cascaded rows'
-- triggers in the writer's statement)
SET ROLE tr_am_owner;
CREATE TABLE am.am_par (tenant_id text NOT NULL, id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE am.am_ch_del (tenant_id text NOT NULL, id int PRIMARY KEY,
                        par_id int REFERENCES am.am_par (id) ON DELETE CASCADE);
CREATE TABLE am.am_ch_code (tenant_id text NOT NULL, id int PRIMARY KEY,
                         par_code text REFERENCES am.am_par (code) ON UPDATE CASCADE ON DELETE SET NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_par, am.am_ch_del, am.am_ch_code TO tr_am_app;
RESET ROLE;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
INSERT INTO am.am_par VALUES ('am_a', 1, 'c1'), ('am_a', 2, 'c2'), ('am_a', 3, 'c3');
INSERT INTO am.am_ch_del VALUES ('am_a', 10, 1), ('am_a', 11, 1);
INSERT INTO am.am_ch_code VALUES ('am_a', 20, 'c2'), ('am_a', 21, 'c3');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'cascader';
UPDATE am.am_par SET code = 'c2x' WHERE id = 2;                                   -- ON UPDATE CASCADE
DELETE FROM am.am_par WHERE id = 1;                                               -- ON DELETE CASCADE
DELETE FROM am.am_par WHERE id = 2;                                               -- ON DELETE SET NULL
MERGE INTO am.am_par t USING (VALUES (3)) s(id) ON t.id = s.id WHEN MATCHED THEN DELETE;  -- the same, by MERGE
COMMIT;
RESET ROLE;
SELECT tenant, table_name, operation, row_pk, old_row, new_row, db_user, app_user, context_tenant
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'cascader'
 ORDER BY seq, entry;
SELECT operation, row_pk, old_row, new_row FROM tenant_rls.audit_history('am.am_ch_code', '{"id": 20}');

-- ==== 5. the user's BEFORE triggers: the row as stored is recorded (NEW
-- changed by the trigger), a row the trigger skips (NULL) is not, in a MERGE
-- too; an UPDATE to the same values, or to the same TOASTed value, writes
-- nothing; a TOASTed value an UPDATE leaves alone is not recorded as changed
SET ROLE tr_am_owner;
CREATE TABLE am.am_bt (tenant_id text NOT NULL, id int PRIMARY KEY, v text, big text, note text);
ALTER TABLE am.am_bt ALTER big SET STORAGE EXTERNAL;
CREATE FUNCTION am.bt_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.v = 'skip' THEN RETURN NULL; END IF;
    NEW.v := upper(NEW.v);
    RETURN NEW;
END $$;
CREATE TRIGGER a_before BEFORE INSERT OR UPDATE ON am.am_bt FOR EACH ROW EXECUTE FUNCTION am.bt_before();
CREATE FUNCTION am.bt_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.note = 'keep' THEN RETURN NULL; END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER a_before_delete BEFORE DELETE ON am.am_bt FOR EACH ROW EXECUTE FUNCTION am.bt_before_delete();
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_bt TO tr_am_app;
RESET ROLE;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'before';
INSERT INTO am.am_bt VALUES ('am_a', 1, 'x', repeat('B', 5000), 'n1'), ('am_a', 2, 'skip', NULL, NULL),
                         ('am_a', 3, 'y', NULL, 'keep');
UPDATE am.am_bt SET v = 'X' WHERE id = 1;                  -- upper() makes it the same: nothing
UPDATE am.am_bt SET big = repeat('B', 5000) WHERE id = 1;  -- the same TOASTed value: nothing
UPDATE am.am_bt SET v = 'v', note = note WHERE id = 1;     -- recorded as 'V'
UPDATE am.am_bt SET big = big || 'C' WHERE id = 1;         -- the TOASTed value changed
UPDATE am.am_bt SET v = 'w' WHERE id = 1;                  -- big left alone: not recorded
UPDATE am.am_bt SET v = 'skip' WHERE id = 1;               -- skipped: nothing
DELETE FROM am.am_bt WHERE id = 3;                         -- skipped: nothing
MERGE INTO am.am_bt t USING (VALUES (1, 'm'), (3, 'skip'), (4, 'new'), (5, 'skip')) s(id, v) ON t.id = s.id
 WHEN MATCHED THEN UPDATE SET v = s.v
 WHEN NOT MATCHED THEN INSERT (tenant_id, id, v) VALUES ('am_a', s.id, s.v);
COMMIT;
RESET ROLE;
SELECT operation, row_pk, old_row - 'big' AS old_row, new_row - 'big' AS new_row,
       length(old_row ->> 'big') AS old_big, length(new_row ->> 'big') AS new_big
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'before'
 ORDER BY seq, entry;
SELECT id, v FROM am.am_bt ORDER BY id;

-- ==== 6. excluded columns and enable_updated_at() under MERGE: an UPDATE
-- or MERGE that changes excluded columns only writes nothing; the updated_at
-- column the trigger sets is a change of its own (exclude it too, to leave
-- no trace of such UPDATEs)
SET ROLE tr_am_owner;
CREATE TABLE am.am_ex (tenant_id text NOT NULL, id int PRIMARY KEY, v text, secret text, updated_at timestamptz);
GRANT SELECT, INSERT, UPDATE, DELETE ON am.am_ex TO tr_am_app;
RESET ROLE;
SELECT tenant_rls.enable_audit('am.am_ex', exclude => ARRAY['secret']);
SELECT tenant_rls.enable_updated_at('am.am_ex');
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'excluder';
INSERT INTO am.am_ex VALUES ('am_a', 1, 'a', 's1'), ('am_a', 2, 'b', 's2');
COMMIT;
-- a later transaction: updated_at changes with every UPDATE
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'excluder';
MERGE INTO am.am_ex t USING (VALUES (1, 'a', 's1 changed'), (2, 'b2', 's2 changed'), (3, 'c', 's3')) s(id, v, secret) ON t.id = s.id
 WHEN MATCHED THEN UPDATE SET v = s.v, secret = s.secret
 WHEN NOT MATCHED THEN INSERT (tenant_id, id, v, secret) VALUES ('am_a', s.id, s.v, s.secret);
-- the same transaction (now() has not moved): only the secret changes, nothing
UPDATE am.am_ex SET secret = 'again' WHERE id = 1;
MERGE INTO am.am_ex t USING (VALUES (2, 'once more')) s(id, secret) ON t.id = s.id
 WHEN MATCHED THEN UPDATE SET secret = s.secret;
COMMIT;
RESET ROLE;
SELECT operation, row_pk, old_row - 'updated_at' AS old_row, new_row - 'updated_at' AS new_row,
       old_row ? 'updated_at' AS old_updated_at, new_row ? 'updated_at' AS new_updated_at
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'excluder'
 ORDER BY seq, entry;
-- with updated_at excluded as well, a change of the secret alone leaves no trace
SELECT tenant_rls.enable_audit('am.am_ex', exclude => ARRAY['secret', 'updated_at']);
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'excluder 2';
MERGE INTO am.am_ex t USING (VALUES (1, 'later')) s(id, secret) ON t.id = s.id
 WHEN MATCHED THEN UPDATE SET secret = s.secret;
COMMIT;
RESET ROLE;
SELECT count(*) AS entries FROM tenant_rls.audit_log WHERE schema_name = 'am' AND app_user = 'excluder 2';

-- ==== 7. the lists of an audited inheritance parent apply to its children
-- audited on their own: enable_audit() of the parent after the child was
-- audited, then MERGE and UPDATE through the parent, and on the child
SELECT tenant_rls.enable_audit('am.am_inh', exclude => ARRAY['secret']);
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' AND table_name LIKE 'am\_inh%' ORDER BY 1;
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'inheritor';
MERGE INTO am.am_inh t USING (VALUES (1, 'top secret 1'), (3, 'top secret 3')) s(id, secret) ON t.id = s.id
 WHEN MATCHED THEN UPDATE SET secret = s.secret, v = t.v || '!';
UPDATE am.am_inh SET secret = 'top secret 3b' WHERE id = 3;
UPDATE am.am_inh_c SET secret = 'top secret 3c', extra = 'z' WHERE id = 3;
INSERT INTO am.am_inh_c VALUES ('am_a', 5, 'c5', 'top secret 5', 'e5');
DELETE FROM am.am_inh WHERE id = 5;
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'inheritor'
 ORDER BY seq, entry;
-- columns on the parent: the child's inherited columns outside the list are
-- not recorded, its own columns are, by its own lists
SELECT tenant_rls.enable_audit('am.am_inh', columns => ARRAY['v']);
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'inheritor 2';
UPDATE am.am_inh SET secret = 'top secret 3d', v = 'c3!!' WHERE id = 3;
UPDATE am.am_inh_c SET extra = 'zz' WHERE id = 3;
UPDATE am.am_inh SET secret = 'top secret 3e' WHERE id = 3;
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'inheritor 2'
 ORDER BY seq, entry;
-- the parent no longer audited: the child keeps its restriction (the
-- parent's secret joins the child's exclude, NOTICE), as after NO INHERIT;
-- before, the child's own lists alone applied, the secret was recorded from
-- then on and its value written while excluded showed in old_row
SELECT tenant_rls.enable_audit('am.am_inh', exclude => ARRAY['secret']);
-- (a role granted what disable_audit() needs, but not UPDATE on
-- audit_config: refused, nothing changed)
GRANT SELECT, DELETE ON tenant_rls.audit_config TO tr_am_owner;
GRANT EXECUTE ON FUNCTION tenant_rls.disable_audit(regclass) TO tr_am_owner;
SET ROLE tr_am_owner;
SELECT tenant_rls.disable_audit('am.am_inh');
RESET ROLE;
REVOKE SELECT, DELETE ON tenant_rls.audit_config FROM tr_am_owner;
REVOKE EXECUTE ON FUNCTION tenant_rls.disable_audit(regclass) FROM tr_am_owner;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'am.am_inh'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT tenant_rls.disable_audit('am.am_inh');
SELECT table_name, columns, exclude FROM tenant_rls.audit_config WHERE schema_name = 'am' AND table_name LIKE 'am\_inh%' ORDER BY 1;
-- again: nothing more to keep, no NOTICE
SELECT tenant_rls.enable_audit('am.am_inh', exclude => ARRAY['secret']);
SELECT tenant_rls.disable_audit('am.am_inh');
SET ROLE tr_am_app;
BEGIN;
SELECT tenant_rls.set_tenant('am_a');
SET LOCAL app.current_user_id = 'inheritor 3';
UPDATE am.am_inh SET secret = 'not recorded' WHERE id = 3;
UPDATE am.am_inh SET secret = 'not recorded either', v = 'c3!!!' WHERE id = 3;
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row
  FROM tenant_rls.audit_log
 WHERE schema_name = 'am' AND app_user = 'inheritor 3'
 ORDER BY seq, entry;

SELECT tenant, ok, first_bad_seq, reason FROM tenant_rls.audit_verify('am_a');
SELECT tenant, ok, first_bad_seq, reason FROM tenant_rls.audit_verify('am_b');

-- clean up
SET client_min_messages = warning;
RESET tenant_rls.managed_schemas;
DROP SCHEMA am CASCADE;
DROP OWNED BY tr_am_app;
DROP ROLE tr_am_app;
DROP ROLE tr_am_owner;
