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

SET client_min_messages = warning;
DROP SCHEMA pau CASCADE;
