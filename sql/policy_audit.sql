--
-- protect() attaches the audit trigger when tenant_rls.audit is on and
-- tenant_rls.enable_audit() exists; unprotect() detaches it (DESIGN P1, A1).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
RESET client_min_messages;
-- protect() itself is under test here, not the event triggers (sql/event_trigger.sql)
SET tenant_rls.auto_protect = off;
SET tenant_rls.audit = on;
CREATE SCHEMA pau;
CREATE TABLE pau.t (id int PRIMARY KEY, tenant_id text, v text);
CREATE TABLE pau.p (id int, tenant_id text) PARTITION BY RANGE (id);
CREATE TABLE pau.p1 PARTITION OF pau.p FOR VALUES FROM (0) TO (10);
CREATE TABLE pau.p2 PARTITION OF pau.p FOR VALUES FROM (10) TO (20);

-- the audit statement is one of the statements, last, and recorded
SELECT ddl FROM tenant_rls.protect('pau.t', dry_run => true) ddl WHERE ddl NOT LIKE 'CREATE POLICY%';
SELECT ddl FROM tenant_rls.protect('pau.t') ddl WHERE ddl NOT LIKE 'CREATE POLICY%';
SELECT managed->'audit' AS audit FROM tenant_rls.protected_table WHERE schema_name = 'pau';
SELECT count(*) > 0 AS has_audit_trigger FROM pg_trigger WHERE tgrelid = 'pau.t'::regclass AND NOT tgisinternal;
-- a partitioned table: once, on the parent (its row triggers reach the partitions)
SELECT ddl FROM tenant_rls.protect('pau.p') ddl WHERE ddl LIKE 'SELECT%';
SELECT table_name, managed->'audit' AS audit FROM tenant_rls.protected_table WHERE schema_name = 'pau' ORDER BY 1;

-- unprotect() detaches it again
SELECT ddl FROM tenant_rls.unprotect('pau.t') ddl WHERE ddl LIKE 'SELECT%';
SELECT count(*) AS audit_triggers FROM pg_trigger WHERE tgrelid = 'pau.t'::regclass AND NOT tgisinternal;
SELECT ddl FROM tenant_rls.unprotect('pau.p') ddl WHERE ddl LIKE 'SELECT%';

-- with tenant_rls.audit off: no audit statement
SET tenant_rls.audit = off;
SELECT count(*) FILTER (WHERE ddl LIKE '%enable_audit%') AS audit_statements FROM tenant_rls.protect('pau.t') ddl;
SELECT managed->'audit' AS audit FROM tenant_rls.protected_table WHERE table_name = 't' AND schema_name = 'pau';
SELECT count(*) FILTER (WHERE ddl LIKE '%disable_audit%') AS audit_statements FROM tenant_rls.unprotect('pau.t') ddl;


-- the tenant context of the writing session (review rev36a M1): a tenant
-- granted 'write' on another tenant's rows changes them under the owner
-- tenant's chain, and the owner's log says which tenant's session did it
-- (context_tenant, hashed with the batch).  As tr_pau_app: not superuser,
-- not BYPASSRLS, not the table owner.
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE tr_pau_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_pau_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = on;
CREATE TABLE pau.docs (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
ALTER TABLE pau.docs OWNER TO tr_pau_owner;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('pau.docs');
GRANT USAGE ON SCHEMA pau TO tr_pau_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON pau.docs TO tr_pau_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tr_pau_app';
SET ROLE tr_pau_app;
BEGIN;
SELECT tenant_rls.set_tenant('pau-t1') IS NOT NULL AS set;
INSERT INTO pau.docs (id, v) VALUES (1, 'by t1');
SELECT tenant_rls.grant_access('pau.docs', 'pau-t1', 'pau-t2', 'write');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
UPDATE pau.docs SET v = 'by t2' WHERE id = 1;
INSERT INTO pau.docs (id, tenant_id, v) VALUES (2, 'pau-t1', 'by t2');
INSERT INTO pau.docs (id, v) VALUES (3, 'own row of t2');
COMMIT;
-- the owner tenant reads its log: t2's changes are in t1's chain, marked t2
BEGIN;
SELECT tenant_rls.set_tenant('pau-t1') IS NOT NULL AS set;
SELECT tenant, seq, entry, operation, row_pk, context_tenant
  FROM tenant_rls.audit_log WHERE schema_name = 'pau' AND table_name = 'docs' ORDER BY seq, entry;
COMMIT;
-- the grantee's session reads its own chain only
BEGIN;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
SELECT tenant, seq, entry, operation, row_pk, context_tenant
  FROM tenant_rls.audit_log WHERE schema_name = 'pau' AND table_name = 'docs' ORDER BY seq, entry;
COMMIT;
-- two tenant contexts in one transaction: one batch each, in order
BEGIN;
SELECT tenant_rls.set_tenant('pau-t1') IS NOT NULL AS set;
UPDATE pau.docs SET v = 'again by t1' WHERE id = 1;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
UPDATE pau.docs SET v = 'again by t2' WHERE id = 1;
COMMIT;
-- the context a statement ran with, not the one at its end: AFTER triggers
-- fire when the statement ends, and a statement that clears its context
-- (RETURNING, a data-modifying WITH query, COPY's WHERE) left its entries
-- without one (review rev37a H1)
BEGIN;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
UPDATE pau.docs SET v = 'cleared in RETURNING' WHERE id = 1 RETURNING tenant_rls.clear_tenant()::text AS cleared;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
WITH u AS (UPDATE pau.docs SET v = 'cleared in WITH' WHERE id = 2 RETURNING 1)
SELECT tenant_rls.clear_tenant()::text AS cleared FROM u;
SELECT tenant_rls.current_tenant() AS now_none;
COMMIT;
RESET ROLE;
-- (a table without tenant column records the context's tenant: the one the
-- statement ran with too)
CREATE TABLE pau.glob (id int PRIMARY KEY, v text);
SELECT tenant_rls.enable_audit('pau.glob');
GRANT INSERT ON pau.glob TO tr_pau_app;
SET ROLE tr_pau_app;
BEGIN;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
INSERT INTO pau.glob VALUES (1, 'cleared in RETURNING') RETURNING tenant_rls.clear_tenant()::text AS cleared;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
COPY pau.glob FROM STDIN WHERE tenant_rls.clear_tenant()::text = '';
2	cleared in COPY
\.
SELECT tenant_rls.current_tenant() AS now_none;
COMMIT;
-- a statement that started without a context and set one while it ran
-- records that one
CREATE FUNCTION pg_temp.set_and_clear() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_rls.set_tenant('pau-t2');
    PERFORM tenant_rls.clear_tenant();
    RETURN 'cleared in a function';
END $$;
BEGIN;
INSERT INTO pau.glob VALUES (3, pg_temp.set_and_clear());
COMMIT;
-- ... but not one set in a subtransaction that rolled back, which the
-- setting does not keep either (review rev38a M1, M2: the change went to
-- that tenant's chain): the statement keeps pau-t2 (row 4), or none (row 5);
-- one set in a subtransaction that committed, inside one that rolled back,
-- goes with the outer one (row 6); one that committed stays (row 7)
CREATE FUNCTION pg_temp.try_switch(t text, fail boolean = true) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        BEGIN
            PERFORM tenant_rls.set_tenant(t);
        EXCEPTION WHEN raise_exception THEN NULL;
        END;
        IF fail THEN
            RAISE EXCEPTION 'undone';
        END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    RETURN CASE WHEN fail THEN 'rolled back' ELSE 'kept' END || ', context '
           || coalesce(nullif(current_setting('app.current_tenant_id', true), ''), 'none');
END $$;
BEGIN;
SELECT tenant_rls.set_tenant('pau-t2') IS NOT NULL AS set;
INSERT INTO pau.glob VALUES (4, pg_temp.try_switch('pau-t1'));
COMMIT;
BEGIN;
INSERT INTO pau.glob VALUES (5, pg_temp.try_switch('pau-t1'));
COMMIT;
BEGIN;
INSERT INTO pau.glob VALUES (6, pg_temp.try_switch('pau-t1'));
COMMIT;
BEGIN;
INSERT INTO pau.glob VALUES (7, pg_temp.try_switch('pau-t2', false));
COMMIT;
RESET ROLE;
SELECT tenant, table_name, row_pk, new_row->>'v' AS v, context_tenant FROM tenant_rls.audit_log
 WHERE new_row->>'v' LIKE 'cleared in %' OR new_row->>'v' ~ '^(rolled back|kept), ' ORDER BY table_name, row_pk::text;
-- a superuser's write without a tenant context records none
UPDATE pau.docs SET v = 'by a superuser' WHERE id = 2;
SELECT tenant, seq, entries, context_tenant FROM tenant_rls.audit_batch
 WHERE table_name = 'docs' ORDER BY tenant, seq;
-- the column is hashed: the chains verify as written
SELECT tenant, ok, entries, reason FROM tenant_rls.audit_verify() WHERE tenant LIKE 'pau-%' ORDER BY tenant;
SELECT tenant_rls.revoke_access('pau.docs', 'pau-t1', 'pau-t2');

SET client_min_messages = warning;
DROP SCHEMA pau CASCADE;
DROP OWNED BY tr_pau_app;
DROP ROLE tr_pau_app;
DROP ROLE tr_pau_owner;
