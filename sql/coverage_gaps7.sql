--
-- Coverage report, review rev30c: ways to run a reading function with a
-- definer's or owner's rights that lint() did not follow.  (1) An operator
-- or a cast whose function reads a tenant table, used by a SECURITY DEFINER
-- function or a materialized view.  (2) A view that calls such a function,
-- read by a SECURITY DEFINER function or a materialized view.  (3) The
-- extension's own functions that read every tenant's rows (audit_history(),
-- tenant_row_counts()) wrapped in a SECURITY DEFINER function or a
-- materialized view.  (4) A trigger that copies rows through a view into an
-- unprotected table.  Each leak shown as the application role (not
-- superuser, not BYPASSRLS, not the owner), then the finding.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg7_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg7_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg7';
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg7 AUTHORIZATION covg7_owner;
GRANT USAGE ON SCHEMA covg7 TO covg7_app;
CREATE SCHEMA covg7_side AUTHORIZATION covg7_owner;
GRANT USAGE ON SCHEMA covg7_side TO covg7_app;
GRANT USAGE ON SCHEMA tenant_rls TO covg7_app;
SET ROLE covg7_owner;
CREATE TABLE covg7.invoices (id int PRIMARY KEY, tenant_id text NOT NULL, email text);
RESET ROLE;
SET tenant_rls.audit = on;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg7.invoices');
SET tenant_rls.audit = off;
GRANT SELECT, INSERT ON covg7.invoices TO covg7_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL;
INSERT INTO covg7.invoices VALUES (1, 'acme', 'ceo@acme');
COMMIT;

-- (1) an operator and a cast whose function reads the table (a superuser's)
CREATE FUNCTION covg7.peek(int) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT string_agg(tenant_id || ':' || email, ',') FROM covg7.invoices $$;
CREATE OPERATOR covg7.### (FUNCTION = covg7.peek, RIGHTARG = int);
CREATE FUNCTION covg7.report_op() RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = covg7, pg_catalog AS $$ SELECT ### 1 $$;
CREATE FUNCTION covg7.report_op_atomic() RETURNS text LANGUAGE sql SECURITY DEFINER
    BEGIN ATOMIC SELECT OPERATOR(covg7.###) 1; END;
CREATE MATERIALIZED VIEW covg7.mv_op AS SELECT OPERATOR(covg7.###) 1 AS x;
CREATE TYPE covg7.probe AS (x text);
CREATE FUNCTION covg7.to_probe(int) RETURNS covg7.probe LANGUAGE sql STABLE
    AS $$ SELECT ROW((SELECT string_agg(tenant_id || ':' || email, ',') FROM covg7.invoices))::covg7.probe $$;
CREATE CAST (int AS covg7.probe) WITH FUNCTION covg7.to_probe(int);
CREATE FUNCTION covg7.report_cast() RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT (1::covg7.probe).x $$;
-- (2) a view calling the reading function
CREATE VIEW covg7.v_peek WITH (security_invoker = true) AS SELECT covg7.peek(1) AS x;
CREATE MATERIALIZED VIEW covg7.mv_view AS SELECT * FROM covg7.v_peek;
CREATE FUNCTION covg7.report_view() RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT x FROM covg7.v_peek $$;
-- (3) the extension's functions that read every tenant's rows
CREATE FUNCTION covg7.row_history(t regclass, k jsonb) RETURNS TABLE (tenant text, new_row jsonb)
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT h.tenant, h.new_row FROM tenant_rls.audit_history(t, k) h $$;
CREATE FUNCTION covg7.counts() RETURNS TABLE (table_name text, tenant text, row_count bigint)
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT * FROM tenant_rls.tenant_row_counts() $$;
CREATE MATERIALIZED VIEW covg7.mv_counts AS SELECT * FROM tenant_rls.tenant_row_counts();
GRANT EXECUTE ON FUNCTION covg7.report_op(), covg7.report_op_atomic(), covg7.report_cast(),
    covg7.report_view(), covg7.row_history(regclass, jsonb), covg7.counts() TO covg7_app;
GRANT SELECT ON covg7.mv_op, covg7.mv_view, covg7.mv_counts, covg7.v_peek TO covg7_app;
-- (4) a trigger writing through a view into an unprotected table
SET ROLE covg7_owner;
CREATE TABLE covg7_side.feed (payload jsonb);
CREATE VIEW covg7.feed_v WITH (security_invoker = true) AS SELECT * FROM covg7_side.feed;
CREATE FUNCTION covg7.copy_tr() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN INSERT INTO covg7.feed_v VALUES (to_jsonb(NEW)); RETURN NEW; END $$;
CREATE TRIGGER copy_tr AFTER INSERT ON covg7.invoices FOR EACH ROW EXECUTE FUNCTION covg7.copy_tr();
GRANT SELECT ON covg7.feed_v, covg7_side.feed TO covg7_app;
GRANT INSERT ON covg7.feed_v, covg7_side.feed TO covg7_app;
RESET ROLE;

-- the leaks, as the application role of another tenant
SET ROLE covg7_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL;
INSERT INTO covg7.invoices VALUES (2, 'acme', 'cfo@acme');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('globex') IS NOT NULL;
SELECT count(*) AS own_rows FROM covg7.invoices;
SELECT covg7.report_op() AS via_operator, covg7.report_op_atomic() AS via_operator_atomic,
       covg7.report_cast() AS via_cast, covg7.report_view() AS via_view;
SELECT x AS mv_op FROM covg7.mv_op;
SELECT x AS mv_view FROM covg7.mv_view;
SELECT tenant, new_row->>'email' AS email FROM covg7.row_history('covg7.invoices', '{"id": 1}');
SELECT table_name, tenant, row_count FROM covg7.counts();
SELECT table_name, tenant, row_count FROM covg7.mv_counts;
SELECT payload->>'email' AS copied FROM covg7.feed_v ORDER BY 1;
COMMIT;
RESET ROLE;

-- the findings
SELECT code, level, object FROM tenant_rls.lint()
 WHERE code IN ('security_definer_reads_tenant_table', 'materialized_view_over_tenant_table',
                'trigger_writes_unprotected_table')
   AND (object LIKE 'covg7.%' OR object LIKE '% ON covg7.%')
 ORDER BY code, object;
SELECT message FROM tenant_rls.lint()
 WHERE code = 'trigger_writes_unprotected_table' AND object LIKE '% ON covg7.%';

-- (5) review rev30c, low: a table protect() refuses (a tenant column of a
-- type it does not support, or of a nondeterministic collation) gets no fix
-- SQL (it would only fail), and the detail says why; a table it accepts
-- keeps its fix
SET ROLE covg7_owner;
CREATE TABLE covg7.badtype (id int PRIMARY KEY, tenant_id jsonb);
CREATE COLLATION covg7.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE covg7.badcoll (id int PRIMARY KEY, tenant_id text COLLATE covg7.ci);
CREATE TABLE covg7.fine (id int PRIMARY KEY, tenant_id text);
CREATE TABLE covg7_side.outside (id int PRIMARY KEY, tenant_id numeric);
GRANT SELECT ON covg7_side.outside TO covg7_app;
-- (review rev31b, rev31c) an identity tenant column, a policy of its own
-- with a reserved name, a temporary child; and a partition of a protected
-- table with a reserved policy name (child_unprotected)
CREATE TABLE covg7.badident (id int PRIMARY KEY, tenant_id bigint GENERATED BY DEFAULT AS IDENTITY);
CREATE TABLE covg7.badpol (id int PRIMARY KEY, tenant_id text);
CREATE POLICY tenant_rls_custom ON covg7.badpol USING (true);
CREATE TABLE covg7.badchild (id int, tenant_id text);
CREATE TEMP TABLE badchild_tmp () INHERITS (covg7.badchild);
CREATE TABLE covg7.parted (id int, tenant_id text NOT NULL) PARTITION BY LIST (id);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg7.parted');
SET tenant_rls.drift_action = warning;
SET ROLE covg7_owner;
CREATE TABLE covg7.parted_1 (id int, tenant_id text NOT NULL);
CREATE POLICY tenant_rls_custom ON covg7.parted_1 USING (true);
ALTER TABLE covg7.parted ATTACH PARTITION covg7.parted_1 FOR VALUES IN (1);
RESET ROLE;
RESET tenant_rls.drift_action;
SELECT code, object, fix IS NULL AS no_fix, detail FROM tenant_rls.lint()
 WHERE code IN ('table_unprotected', 'table_outside_managed_schemas', 'child_unprotected')
   AND object IN ('covg7.badtype', 'covg7.badcoll', 'covg7.fine', 'covg7_side.outside', 'covg7.badident',
                  'covg7.badpol', 'covg7.badchild', 'covg7.parted_1')
 ORDER BY object;
-- what the fix would have been fails: protect() refuses each
SET client_min_messages = notice;
DO $$ DECLARE t text; BEGIN
    FOREACH t IN ARRAY ARRAY['covg7.badtype', 'covg7.badcoll', 'covg7.badident', 'covg7.badpol', 'covg7.badchild', 'covg7.parted_1'] LOOP
        BEGIN
            PERFORM tenant_rls.protect(t::regclass);
            RAISE NOTICE 'protect(%): no error', t;
        EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'protect(%): % (%)', t, SQLERRM, SQLSTATE;
        END;
    END LOOP;
END $$;
SET client_min_messages = error;
DROP TABLE badchild_tmp;
-- and the fix of the one it accepts works
DO $$ BEGIN
    EXECUTE (SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'table_unprotected' AND l.object = 'covg7.fine');
END $$;
SELECT status FROM tenant_rls.protected_table WHERE schema_name = 'covg7' AND table_name = 'fine';
DROP TABLE covg7.badtype, covg7.badcoll, covg7.fine, covg7_side.outside, covg7.badident, covg7.badpol,
           covg7.badchild;
SET tenant_rls.drift_action = warning;
DROP TABLE covg7.parted;
RESET tenant_rls.drift_action;
DROP COLLATION covg7.ci;

-- (6) review rev30c, low: default privileges that give TRUNCATE, TRIGGER or
-- REFERENCES on the tables a role creates in a managed schema.  Each new
-- tenant table starts with the grant; the application role empties it for
-- every tenant.
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_owner IN SCHEMA covg7 GRANT TRUNCATE, SELECT ON TABLES TO covg7_app;
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_owner GRANT REFERENCES ON TABLES TO covg7_app;
-- not reported: a schema that is not managed, a role that may not create
-- tables in a managed schema
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_owner IN SCHEMA covg7_side GRANT TRIGGER ON TABLES TO covg7_app;
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_app GRANT TRUNCATE ON TABLES TO PUBLIC;
SET ROLE covg7_owner;
CREATE TABLE covg7.ledger (id int PRIMARY KEY, tenant_id text NOT NULL, amount int);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg7.ledger');
INSERT INTO covg7.ledger VALUES (1, 'acme', 10), (2, 'globex', 20);
SET ROLE covg7_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL;
SELECT tenant_id, amount FROM covg7.ledger;
TRUNCATE covg7.ledger;
COMMIT;
RESET ROLE;
SELECT count(*) AS ledger_rows_left FROM covg7.ledger;
SELECT code, level, object, message, fix FROM tenant_rls.lint()
 WHERE code = 'tenant_table_privilege' AND (object LIKE 'DEFAULT PRIVILEGES%' OR object LIKE 'covg7.%')
 ORDER BY object;
-- the fixes: no new table gets the privileges any more
DO $$ DECLARE f text; BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l
              WHERE l.code = 'tenant_table_privilege' AND l.object LIKE 'DEFAULT PRIVILEGES%covg7%' LOOP
        EXECUTE f;
    END LOOP;
END $$;
SET ROLE covg7_owner;
CREATE TABLE covg7.ledger2 (id int PRIMARY KEY, tenant_id text NOT NULL);
RESET ROLE;
SELECT has_table_privilege('covg7_app', 'covg7.ledger2', 'TRUNCATE') AS truncate_new,
       has_table_privilege('covg7_app', 'covg7.ledger2', 'REFERENCES') AS references_new,
       has_table_privilege('covg7_app', 'covg7.ledger2', 'SELECT') AS select_new;
SELECT count(*) AS default_findings_left FROM tenant_rls.lint()
 WHERE code = 'tenant_table_privilege' AND object LIKE 'DEFAULT PRIVILEGES%covg7%';
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_owner IN SCHEMA covg7 REVOKE ALL ON TABLES FROM covg7_app;
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_owner IN SCHEMA covg7_side REVOKE ALL ON TABLES FROM covg7_app;
ALTER DEFAULT PRIVILEGES FOR ROLE covg7_app REVOKE ALL ON TABLES FROM PUBLIC;

-- ==== clean up
SET client_min_messages = error;
DROP SCHEMA covg7 CASCADE;
DROP SCHEMA covg7_side CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg7';
END $$;
REVOKE USAGE ON SCHEMA tenant_rls FROM covg7_app;
DROP ROLE covg7_app, covg7_owner;
RESET client_min_messages;
