--
-- Attacks on protect()ed tables (DESIGN P1, P3, P5), as tr_app: not superuser,
-- not BYPASSRLS, not the owner.  Another tenant's rows must be invisible and
-- unwritable through every path; partitions and inheritance children too.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
-- protect() itself is under test here, not the event triggers (sql/event_trigger.sql)
SET tenant_rls.auto_protect = off;
CREATE SCHEMA att AUTHORIZATION tr_owner;
GRANT USAGE ON SCHEMA att TO tr_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tr_app';

-- tenants 1..3 (bigint), rows scattered over the heap
SET ROLE tr_owner;
CREATE TABLE att.orders (
    id        bigint PRIMARY KEY,
    tenant_id bigint NOT NULL,
    amount    integer NOT NULL
);
CREATE INDEX ON att.orders (tenant_id);
INSERT INTO att.orders SELECT i, 1 + i % 3, i FROM generate_series(1, 300) i;
SELECT count(*) FROM tenant_rls.protect('att.orders');
GRANT SELECT, INSERT, UPDATE, DELETE ON att.orders TO tr_app;
CREATE TABLE att.small (tenant_id bigint, v text);
INSERT INTO att.small VALUES (1, 'one-a'), (2, 'two-a'), (1, 'one-b'), (2, 'two-b');
SELECT count(*) FROM tenant_rls.protect('att.small');
GRANT SELECT, INSERT ON att.small TO tr_app;
-- a view owned by the table owner: FORCE applies the policies to the owner too
CREATE VIEW att.orders_view AS SELECT * FROM att.orders;
GRANT SELECT ON att.orders_view TO tr_app;
RESET ROLE;

SET ROLE tr_app;
-- no tenant: nothing visible, nothing writable
SELECT count(*) FROM att.orders;
INSERT INTO att.orders (id, amount) VALUES (1000, 1);
INSERT INTO att.orders (id, tenant_id, amount) VALUES (1000, 1, 1);

BEGIN;
SELECT tenant_rls.set_tenant(1);
-- SELECT: own rows only, also through the view and with an explicit filter
SELECT count(*), min(tenant_id), max(tenant_id) FROM att.orders;
SELECT count(*) FROM att.orders WHERE tenant_id = 2;
SELECT count(*) FROM att.orders_view;
SELECT * FROM att.orders WHERE id = 2;         -- tenant 3's row
-- UPDATE / DELETE of another tenant's rows: zero rows
UPDATE att.orders SET amount = -1 WHERE tenant_id = 2;
DELETE FROM att.orders WHERE tenant_id = 2;
-- RETURNING returns own rows only
UPDATE att.orders SET amount = amount WHERE id BETWEEN 1 AND 6 RETURNING id, tenant_id;
DELETE FROM att.orders WHERE id IN (1, 2) RETURNING id, tenant_id;
SAVEPOINT s;
-- INSERT for another tenant, or moving an own row to another tenant: refused
INSERT INTO att.orders (id, tenant_id, amount) VALUES (1001, 2, 1);
ROLLBACK TO s;
UPDATE att.orders SET tenant_id = 2 WHERE id = 3;
ROLLBACK TO s;
-- INSERT without the tenant column: the default fills in the current tenant
INSERT INTO att.orders (id, amount) VALUES (1002, 5) RETURNING id, tenant_id;
-- INSERT ... ON CONFLICT on another tenant's row: neither updated nor revealed
INSERT INTO att.orders (id, tenant_id, amount) VALUES (5, 1, 0)
    ON CONFLICT (id) DO UPDATE SET amount = -1 RETURNING *;
ROLLBACK TO s;
INSERT INTO att.orders (id, tenant_id, amount) VALUES (5, 1, 0)
    ON CONFLICT (id) DO NOTHING RETURNING *;
INSERT INTO att.orders (id, tenant_id, amount) VALUES (3, 1, 0)
    ON CONFLICT (id) DO UPDATE SET amount = 33 RETURNING *;
-- MERGE: another tenant's rows do not match; the insert branch is checked
MERGE INTO att.orders o
USING (VALUES (4::bigint), (5::bigint)) v(id) ON o.id = v.id
WHEN MATCHED THEN UPDATE SET amount = -2
WHEN NOT MATCHED THEN DO NOTHING;
SELECT id, tenant_id, amount FROM att.orders WHERE id IN (3, 4, 5) ORDER BY id;
MERGE INTO att.orders o
USING (VALUES (5::bigint)) v(id) ON o.id = v.id
WHEN MATCHED THEN UPDATE SET amount = -2
WHEN NOT MATCHED THEN INSERT (id, tenant_id, amount) VALUES (v.id, 2, 0);
ROLLBACK TO s;
-- COPY TO: own rows only; COPY FROM is refused under row security
COPY (SELECT tenant_id, count(*) FROM att.orders GROUP BY 1) TO STDOUT;
COPY att.small TO STDOUT;
COPY att.small FROM STDIN;
3	forged
\.
ROLLBACK;
RESET ROLE;
-- (as superuser, no row security) the other tenants' rows are untouched
SELECT id, tenant_id, amount FROM att.orders WHERE id IN (2, 4, 5) ORDER BY id;
SELECT count(*) FROM att.small;
SET ROLE tr_app;

-- the owner is subject to the policies as well (FORCE)
SET ROLE tr_owner;
BEGIN;
SELECT tenant_rls.set_tenant(2);
SELECT count(*), min(tenant_id), max(tenant_id) FROM att.orders;
COMMIT;

-- a permissive policy added later cannot widen the isolation (restrictive guard)
CREATE POLICY open_read ON att.orders FOR SELECT USING (true);
CREATE POLICY open_write ON att.orders FOR UPDATE USING (true) WITH CHECK (true);
CREATE POLICY open_insert ON att.orders FOR INSERT WITH CHECK (true);
CREATE POLICY open_delete ON att.orders FOR DELETE USING (true);
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant(1);
SELECT count(*), min(tenant_id), max(tenant_id) FROM att.orders;
UPDATE att.orders SET amount = -1 WHERE tenant_id <> 1;
DELETE FROM att.orders WHERE tenant_id <> 1;
SAVEPOINT s;
INSERT INTO att.orders (id, tenant_id, amount) VALUES (2001, 3, 1);
ROLLBACK TO s;
UPDATE att.orders SET tenant_id = 3 WHERE id = 3;
ROLLBACK;
-- and without any tenant, still nothing
SELECT count(*) FROM att.orders;
RESET ROLE;
DROP POLICY open_read ON att.orders;
DROP POLICY open_write ON att.orders;
DROP POLICY open_insert ON att.orders;
DROP POLICY open_delete ON att.orders;

-- the plan: the tenant index, also with generic plans
SET ROLE tr_app;
SET plan_cache_mode = force_generic_plan;
PREPARE per_tenant AS SELECT count(*), sum(amount) FROM att.orders;
PREPARE by_id(bigint) AS SELECT amount FROM att.orders WHERE id = $1;
BEGIN;
SELECT tenant_rls.set_tenant(2);
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) EXECUTE per_tenant;
EXPLAIN (COSTS OFF) EXECUTE by_id(5);
EXECUTE per_tenant;
EXECUTE by_id(5);
EXECUTE by_id(4);
SELECT tenant_rls.set_tenant(3);
EXECUTE per_tenant;
EXECUTE by_id(5);
COMMIT;
DEALLOCATE per_tenant;
DEALLOCATE by_id;
RESET plan_cache_mode;
RESET ROLE;

-- partitioned table, with a sub-partitioned partition and a default partition
SET ROLE tr_owner;
CREATE TABLE att.events (
    id        bigint NOT NULL,
    tenant_id uuid,
    at        date NOT NULL,
    body      text
) PARTITION BY RANGE (at);
CREATE TABLE att.events_2025 PARTITION OF att.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE att.events_2026 PARTITION OF att.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    PARTITION BY HASH (tenant_id);
CREATE TABLE att.events_2026_a PARTITION OF att.events_2026 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE att.events_2026_b PARTITION OF att.events_2026 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE att.events_other PARTITION OF att.events DEFAULT;
INSERT INTO att.events
SELECT i, md5((i % 4)::text)::uuid, date '2025-06-01' + (i * 7 % 900), 'e' || i FROM generate_series(1, 400) i;
SELECT ddl FROM tenant_rls.protect('att.events') ddl WHERE ddl NOT LIKE 'CREATE POLICY%';
RESET ROLE;
SELECT table_name, parent_table, managed->'set_not_null' AS set_not_null,
       jsonb_array_length(jsonb_path_query_array(managed, '$.policies.keyvalue()')) AS policies
  FROM tenant_rls.protected_table WHERE schema_name = 'att' ORDER BY 1;
SET ROLE tr_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON att.events, att.events_2025, att.events_2026,
      att.events_2026_a, att.events_2026_b, att.events_other TO tr_app;
-- a partition on its own cannot be unprotected: it belongs to the parent
SELECT * FROM tenant_rls.unprotect('att.events_2026_a');
RESET ROLE;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant(md5('1')::uuid);
SELECT count(*), count(DISTINCT tenant_id) FROM att.events;
-- each partition queried directly: own rows only
SELECT count(*) FILTER (WHERE tenant_id <> md5('1')::uuid) AS foreign_rows, count(*) FROM att.events_2025;
SELECT count(*) FILTER (WHERE tenant_id <> md5('1')::uuid) AS foreign_rows, count(*) FROM att.events_2026;
SELECT count(*) FILTER (WHERE tenant_id <> md5('1')::uuid) AS foreign_rows, count(*) FROM att.events_2026_a;
SELECT count(*) FILTER (WHERE tenant_id <> md5('1')::uuid) AS foreign_rows, count(*) FROM att.events_2026_b;
SELECT count(*) FILTER (WHERE tenant_id <> md5('1')::uuid) AS foreign_rows, count(*) FROM att.events_other;
UPDATE att.events_2025 SET body = 'x' WHERE tenant_id <> md5('1')::uuid;
DELETE FROM att.events_2026_b WHERE tenant_id <> md5('1')::uuid;
SAVEPOINT s;
INSERT INTO att.events_2026_a (id, tenant_id, at) VALUES (9999, md5('2')::uuid, '2026-03-01');
ROLLBACK TO s;
INSERT INTO att.events (id, tenant_id, at) VALUES (9999, md5('2')::uuid, '2026-03-01');
ROLLBACK TO s;
-- default tenant through the parent and directly in a partition
INSERT INTO att.events (id, at) VALUES (9998, '2025-02-02') RETURNING tenant_id = md5('1')::uuid AS own;
INSERT INTO att.events_other (id, at) VALUES (9997, '2030-02-02') RETURNING tenant_id = md5('1')::uuid AS own;
ROLLBACK;
RESET ROLE;

-- a partition added later: protect() on the parent protects what is missing
SET ROLE tr_owner;
CREATE TABLE att.events_2035 PARTITION OF att.events FOR VALUES FROM ('2035-01-01') TO ('2036-01-01');
SELECT ddl FROM tenant_rls.protect('att.events') ddl WHERE ddl NOT LIKE 'CREATE POLICY%';
RESET ROLE;
SELECT table_name, parent_table FROM tenant_rls.protected_table WHERE table_name = 'events_2035';
SET ROLE tr_owner;
SELECT * FROM tenant_rls.protect('att.events');
-- a partition protected on its own is registered as part of its protected parent
CREATE TABLE att.events_2036 PARTITION OF att.events FOR VALUES FROM ('2036-01-01') TO ('2037-01-01');
SELECT count(*) FROM tenant_rls.protect('att.events_2036');
RESET ROLE;
SELECT table_name, parent_table, managed - 'policies' - 'written' AS managed FROM tenant_rls.protected_table WHERE table_name = 'events_2036';
SET ROLE tr_owner;

-- unprotect the parent: everything protect() did on the tree goes
SELECT ddl FROM tenant_rls.unprotect('att.events') ddl WHERE ddl NOT LIKE 'DROP POLICY%';
RESET ROLE;
SELECT count(*) FROM tenant_rls.protected_table WHERE table_name LIKE 'events%';
SET ROLE tr_owner;
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, a.attnotnull, a.atthasdef,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
 WHERE c.relnamespace = 'att'::regnamespace AND c.relname LIKE 'events%' AND c.relkind IN ('r', 'p')
 ORDER BY 1;

-- a partition that had NOT NULL of its own keeps it after unprotect
ALTER TABLE att.events_2025 ALTER COLUMN tenant_id SET NOT NULL;
SELECT count(*) FROM tenant_rls.protect('att.events');
RESET ROLE;
SELECT table_name, managed->'set_not_null' AS set_not_null FROM tenant_rls.protected_table
 WHERE table_name IN ('events', 'events_2025', 'events_2026') ORDER BY 1;
SET ROLE tr_owner;
SELECT ddl FROM tenant_rls.unprotect('att.events') ddl WHERE ddl LIKE '%NULL%';
SELECT c.relname, a.attnotnull FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
 WHERE c.relnamespace = 'att'::regnamespace AND c.relname IN ('events', 'events_2025', 'events_2026') ORDER BY 1;
RESET ROLE;

-- a foreign table partition cannot be protected: refused, nothing changed
CREATE FOREIGN DATA WRAPPER att_dummy;
CREATE SERVER att_server FOREIGN DATA WRAPPER att_dummy;
CREATE FOREIGN TABLE att.events_remote PARTITION OF att.events
    FOR VALUES FROM ('2040-01-01') TO ('2041-01-01') SERVER att_server;
SELECT * FROM tenant_rls.protect('att.events');
SELECT count(*) FROM pg_policy WHERE polrelid = 'att.events'::regclass;
DROP FOREIGN TABLE att.events_remote;

-- inheritance: children are protected with the parent
SET ROLE tr_owner;
CREATE TABLE att.notes (tenant_id text, body text);
CREATE TABLE att.notes_archived (archived_at date) INHERITS (att.notes);
INSERT INTO att.notes VALUES ('acme', 'n1'), ('globex', 'n2');
INSERT INTO att.notes_archived VALUES ('acme', 'a1', '2020-01-01'), ('globex', 'a2', '2020-01-01');
SELECT count(*) FROM tenant_rls.protect('att.notes');
RESET ROLE;
SELECT table_name, parent_table FROM tenant_rls.protected_table WHERE table_name LIKE 'notes%' ORDER BY 1;
SET ROLE tr_owner;
GRANT SELECT, UPDATE, DELETE ON att.notes, att.notes_archived TO tr_app;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_id, body FROM att.notes ORDER BY body;
SELECT tenant_id, body FROM att.notes_archived ORDER BY body;
SELECT tenant_id, body FROM ONLY att.notes ORDER BY body;
UPDATE att.notes SET body = 'x' WHERE tenant_id = 'globex';
DELETE FROM att.notes_archived WHERE tenant_id = 'globex';
ROLLBACK;
RESET ROLE;
SELECT tenant_id, body FROM att.notes ORDER BY body;
SET ROLE tr_owner;
SELECT count(*) FROM tenant_rls.unprotect('att.notes');
RESET ROLE;

-- clean up
SET ROLE tr_owner;
SELECT count(*) FROM tenant_rls.unprotect('att.orders');
SELECT count(*) FROM tenant_rls.unprotect('att.small');
RESET ROLE;
SELECT count(*) FROM tenant_rls.protected_table;
SET client_min_messages = warning;
DROP SCHEMA att CASCADE;
DROP SERVER att_server;
DROP FOREIGN DATA WRAPPER att_dummy;
