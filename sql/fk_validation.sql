--
-- Foreign keys validated by the owner of a protected table (review rev50a).
-- PostgreSQL checks the existing rows of ADD FOREIGN KEY, VALIDATE
-- CONSTRAINT and ATTACH PARTITION with one query run as the current user
-- (RI_Initial_Check), taking a table's owner to be exempt from its policies.
-- A protected table forces them on its owner: the owner (neither superuser
-- nor BYPASSRLS) validated only the rows it sees -- none without a tenant --
-- and got a valid constraint over rows that violate it; on the referenced
-- side, a valid row whose key it does not see was rejected.  Now PostgreSQL
-- takes its other method there (src/fk_validation.c): every row, each
-- checked as an INSERT's would be, with PostgreSQL's own error.
-- fkv_owner owns the tables (FORCE binds it); fkv_app is the application's
-- tenant role (not the owner); neither is superuser or BYPASSRLS.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE fkv_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE fkv_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
CREATE SCHEMA fkv AUTHORIZATION fkv_owner;
GRANT USAGE ON SCHEMA fkv TO fkv_app;
SET tenant_rls.managed_schemas = 'fkv';
RESET client_min_messages;
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname IN ('fkv_owner', 'fkv_app') ORDER BY 1;

SET ROLE fkv_owner;
CREATE TABLE fkv.tenants (id text PRIMARY KEY);		-- no tenant column: not protected
INSERT INTO fkv.tenants VALUES ('a');
CREATE TABLE fkv.customers (tenant_id text NOT NULL, id int, PRIMARY KEY (tenant_id, id));
CREATE TABLE fkv.invoices (id int PRIMARY KEY, tenant_id text NOT NULL, customer_id int);
CREATE TABLE fkv.pairs (a int, b int, PRIMARY KEY (a, b));	-- not protected
INSERT INTO fkv.pairs VALUES (1, 1);
CREATE TABLE fkv.lines (id int PRIMARY KEY, tenant_id text NOT NULL, pa int, pb int);
GRANT SELECT, INSERT, DELETE ON fkv.customers, fkv.invoices, fkv.lines TO fkv_app;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'fkv'::regnamespace AND relkind = 'r' ORDER BY 1;
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO fkv.customers (id) VALUES (1);
INSERT INTO fkv.invoices (id, customer_id) VALUES (1, 1);
COMMIT;
-- tenant b is not in fkv.tenants, and its invoice 3 names no customer of b
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO fkv.customers (id) VALUES (1);
INSERT INTO fkv.invoices (id, customer_id) VALUES (2, 1), (3, 7);
COMMIT;

-- the owner sees no row without a tenant: it validated none, and the
-- constraint was valid over tenant b's rows
SET ROLE fkv_owner;
SELECT count(*) AS owner_sees FROM fkv.invoices;
ALTER TABLE fkv.invoices ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
-- nor with tenant a set (b's rows are hidden)
BEGIN;
SELECT tenant_rls.set_tenant('a');
ALTER TABLE fkv.invoices ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
ROLLBACK;
SELECT conname FROM pg_constraint WHERE conrelid = 'fkv.invoices'::regclass AND contype = 'f';
-- a superuser: as before (the key is shown: it sees the row)
RESET ROLE;
ALTER TABLE fkv.invoices ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
-- with tenant b in fkv.tenants, the owner's foreign key is valid
SET ROLE fkv_owner;
INSERT INTO fkv.tenants VALUES ('b');
ALTER TABLE fkv.invoices ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'fkv.invoices'::regclass AND contype = 'f';

-- a composite foreign key into a protected table: invoice 3 of b names
-- customer (b, 7), which does not exist
ALTER TABLE fkv.invoices ADD CONSTRAINT invoices_customer_fk
  FOREIGN KEY (tenant_id, customer_id) REFERENCES fkv.customers (tenant_id, id);
-- NOT VALID checks nothing, as in PostgreSQL; VALIDATE CONSTRAINT checks
-- every row
ALTER TABLE fkv.invoices ADD CONSTRAINT invoices_customer_fk
  FOREIGN KEY (tenant_id, customer_id) REFERENCES fkv.customers (tenant_id, id) NOT VALID;
ALTER TABLE fkv.invoices VALIDATE CONSTRAINT invoices_customer_fk;
SELECT convalidated FROM pg_constraint WHERE conname = 'invoices_customer_fk';
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
DELETE FROM fkv.invoices WHERE id = 3;
COMMIT;
-- the referenced rows the owner does not see count too: valid now (they
-- were rejected: the owner saw no customer)
SET ROLE fkv_owner;
ALTER TABLE fkv.invoices VALIDATE CONSTRAINT invoices_customer_fk;
SELECT convalidated FROM pg_constraint WHERE conname = 'invoices_customer_fk';

-- a table without a tenant column (not protected) referencing a protected
-- one: its rows are valid, and the owner, who sees no customer, had them
-- rejected
CREATE TABLE fkv.notes (id int PRIMARY KEY, customer_tenant text, customer_id int);
INSERT INTO fkv.notes VALUES (1, 'a', 1), (2, 'b', 1), (3, NULL, 7);
ALTER TABLE fkv.notes ADD CONSTRAINT notes_customer_fk
  FOREIGN KEY (customer_tenant, customer_id) REFERENCES fkv.customers (tenant_id, id);
-- an invalid row is refused, with its key: the owner sees it
BEGIN;
ALTER TABLE fkv.notes DROP CONSTRAINT notes_customer_fk;
INSERT INTO fkv.notes VALUES (4, 'b', 9);
ALTER TABLE fkv.notes ADD CONSTRAINT notes_customer_fk
  FOREIGN KEY (customer_tenant, customer_id) REFERENCES fkv.customers (tenant_id, id);
ROLLBACK;

-- in a new session too (ALTER TABLE loads the library)
\c
SET tenant_rls.audit = off;
SET tenant_rls.managed_schemas = 'fkv';
SET ROLE fkv_owner;
ALTER TABLE fkv.invoices ADD CONSTRAINT invoices_customer_fk2
  FOREIGN KEY (tenant_id, customer_id) REFERENCES fkv.customers (tenant_id, id);
ALTER TABLE fkv.invoices DROP CONSTRAINT invoices_customer_fk2;

-- NULLs: a row whose key is NULL in part passes MATCH SIMPLE and fails MATCH
-- FULL; a row whose key is all NULL passes both
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO fkv.lines (id, pa, pb) VALUES (1, NULL, NULL), (2, 1, NULL), (3, 1, 1);
COMMIT;
SET ROLE fkv_owner;
ALTER TABLE fkv.lines ADD CONSTRAINT lines_full FOREIGN KEY (pa, pb) REFERENCES fkv.pairs MATCH FULL;
BEGIN;
ALTER TABLE fkv.lines ADD CONSTRAINT lines_simple FOREIGN KEY (pa, pb) REFERENCES fkv.pairs;
ROLLBACK;
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
DELETE FROM fkv.lines WHERE id = 2;
INSERT INTO fkv.lines (id, pa, pb) VALUES (4, 2, 2);
COMMIT;
SET ROLE fkv_owner;
ALTER TABLE fkv.lines ADD CONSTRAINT lines_full FOREIGN KEY (pa, pb) REFERENCES fkv.pairs MATCH FULL;
ALTER TABLE fkv.lines ADD CONSTRAINT lines_simple FOREIGN KEY (pa, pb) REFERENCES fkv.pairs;
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
DELETE FROM fkv.lines WHERE id = 4;
COMMIT;
SET ROLE fkv_owner;
ALTER TABLE fkv.lines ADD CONSTRAINT lines_full FOREIGN KEY (pa, pb) REFERENCES fkv.pairs MATCH FULL;
ALTER TABLE fkv.lines ADD CONSTRAINT lines_simple FOREIGN KEY (pa, pb) REFERENCES fkv.pairs;
SELECT conname, confmatchtype, convalidated FROM pg_constraint
 WHERE conrelid = 'fkv.lines'::regclass AND contype = 'f' ORDER BY 1;

-- the checks of each INSERT afterwards were right all along: they look the
-- key up as the referenced table's owner with FORCE set aside
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO fkv.invoices (id, customer_id) VALUES (4, 99);
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('c');
INSERT INTO fkv.invoices (id) VALUES (5);
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO fkv.invoices (id, customer_id) VALUES (4, 1);
INSERT INTO fkv.lines (id, pa, pb) VALUES (5, 1, NULL);
ROLLBACK;

-- partitions: the foreign key of a partitioned table is checked on each
-- partition, and cloned onto one attached
SET ROLE fkv_owner;
CREATE TABLE fkv.events (id int, tenant_id text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE fkv.events_1 PARTITION OF fkv.events FOR VALUES FROM (0) TO (100);
CREATE TABLE fkv.events_2 (id int, tenant_id text NOT NULL);
GRANT INSERT ON fkv.events, fkv.events_2 TO fkv_app;
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('c');
INSERT INTO fkv.events VALUES (1, 'c');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('d');
INSERT INTO fkv.events_2 VALUES (101, 'd');
COMMIT;
SET ROLE fkv_owner;
ALTER TABLE fkv.events ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
INSERT INTO fkv.tenants VALUES ('c');
ALTER TABLE fkv.events ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
-- tenant d of events_2 is not in fkv.tenants
ALTER TABLE fkv.events ATTACH PARTITION fkv.events_2 FOR VALUES FROM (100) TO (200);
INSERT INTO fkv.tenants VALUES ('d');
ALTER TABLE fkv.events ATTACH PARTITION fkv.events_2 FOR VALUES FROM (100) TO (200);
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'fkv.events'::regclass;

-- DETACH PARTITION of a partition that foreign keys reference: PostgreSQL
-- checks that no row references it with a query that row-level security
-- filters, and the owner detached codes_2 while tenant b's row still named
-- key 11.  Refused now when row-level security hides rows from the role,
-- before anything changes (codes_3, which no row references, too: the owner
-- cannot tell)
CREATE TABLE fkv.codes (k int PRIMARY KEY) PARTITION BY RANGE (k);
CREATE TABLE fkv.codes_1 PARTITION OF fkv.codes FOR VALUES FROM (0) TO (10);
CREATE TABLE fkv.codes_2 PARTITION OF fkv.codes FOR VALUES FROM (10) TO (20);
CREATE TABLE fkv.codes_3 PARTITION OF fkv.codes FOR VALUES FROM (20) TO (30);
INSERT INTO fkv.codes VALUES (1), (11);
CREATE TABLE fkv.uses (id int, tenant_id text NOT NULL, k int CONSTRAINT uses_code_fk REFERENCES fkv.codes);
GRANT INSERT ON fkv.uses TO fkv_app;
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO fkv.uses VALUES (1, 'b', 11);
COMMIT;
SET ROLE fkv_owner;
ALTER TABLE fkv.codes DETACH PARTITION fkv.codes_2;
ALTER TABLE fkv.codes DETACH PARTITION fkv.codes_3;
-- a partition no foreign key references: detached
ALTER TABLE fkv.events DETACH PARTITION fkv.events_2;
-- DETACH ... CONCURRENTLY: refused the same way (review rev50g)
ALTER TABLE fkv.codes DETACH PARTITION fkv.codes_2 CONCURRENTLY;
-- a table that is no partition of fkv.codes: PostgreSQL's error
ALTER TABLE fkv.codes DETACH PARTITION fkv.uses;
-- two levels: a partition of a partition of the referenced table, and a
-- referencing table that is itself partitioned; as a member of the owner
-- role too (review rev50g)
CREATE TABLE fkv.kinds (k int PRIMARY KEY) PARTITION BY RANGE (k);
CREATE TABLE fkv.kinds_1 PARTITION OF fkv.kinds FOR VALUES FROM (0) TO (100) PARTITION BY RANGE (k);
CREATE TABLE fkv.kinds_11 PARTITION OF fkv.kinds_1 FOR VALUES FROM (0) TO (10);
CREATE TABLE fkv.kinds_12 PARTITION OF fkv.kinds_1 FOR VALUES FROM (10) TO (20);
INSERT INTO fkv.kinds VALUES (1), (11);
CREATE TABLE fkv.puses (id int, tenant_id text NOT NULL, k int) PARTITION BY RANGE (id);
CREATE TABLE fkv.puses_1 PARTITION OF fkv.puses FOR VALUES FROM (0) TO (100);
ALTER TABLE fkv.puses ADD CONSTRAINT puses_kind_fk FOREIGN KEY (k) REFERENCES fkv.kinds;
GRANT INSERT ON fkv.puses TO fkv_app;
SET ROLE fkv_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO fkv.puses VALUES (1, 'b', 1);
COMMIT;
SET ROLE fkv_owner;
ALTER TABLE fkv.kinds_1 DETACH PARTITION fkv.kinds_11;
-- kinds_12: no row references it, but the owner cannot tell
ALTER TABLE fkv.kinds_1 DETACH PARTITION fkv.kinds_12;
RESET ROLE;
GRANT fkv_owner TO fkv_app;
SET ROLE fkv_app;
ALTER TABLE fkv.kinds DETACH PARTITION fkv.kinds_1;
RESET ROLE;
REVOKE fkv_owner FROM fkv_app;
-- a BYPASSRLS member of the owner role (not superuser): PostgreSQL's check,
-- which sees tenant b's row
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE fkv_bypass BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
GRANT fkv_owner TO fkv_bypass;
SET ROLE fkv_bypass;
ALTER TABLE fkv.kinds_1 DETACH PARTITION fkv.kinds_11;
ALTER TABLE fkv.kinds_1 DETACH PARTITION fkv.kinds_12;
RESET ROLE;
DROP ROLE fkv_bypass;
SELECT inhrelid::regclass AS partition FROM pg_inherits
 WHERE inhparent IN ('fkv.kinds'::regclass, 'fkv.kinds_1'::regclass) ORDER BY inhrelid::regclass::text;
-- a superuser: PostgreSQL's check, as before
RESET ROLE;
ALTER TABLE fkv.codes DETACH PARTITION fkv.codes_2;
ALTER TABLE fkv.codes DETACH PARTITION fkv.codes_3;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'fkv.codes'::regclass;
SET ROLE fkv_owner;

-- row_security = off (set by pg_dump's scripts): PostgreSQL's query failed
-- ("query would be affected by row-level security policy"); every row is
-- checked now
BEGIN;
SET LOCAL row_security = off;
ALTER TABLE fkv.invoices ADD FOREIGN KEY (tenant_id) REFERENCES fkv.tenants;
ROLLBACK;
RESET ROLE;

-- clean up
SET client_min_messages = warning;
DROP SCHEMA fkv CASCADE;
DELETE FROM tenant_rls.protected_table WHERE schema_name = 'fkv';
DROP ROLE fkv_app;
DROP ROLE fkv_owner;
RESET client_min_messages;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.audit;
