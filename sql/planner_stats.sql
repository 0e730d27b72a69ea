--
-- Planner statistics under row-level security (src/planner_stats.c): a
-- tenant's EXPLAIN must not depend on other tenants' values.  The attacker is
-- tr_st_app (not superuser, not BYPASSRLS, not the owner), tenant t1, which
-- has no 'initech-merger' rows and no amount above 999.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_st_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tr_st_app';
SELECT current_user AS super \gset
CREATE SCHEMA st;
GRANT USAGE ON SCHEMA st TO tr_st_app;
CREATE TABLE st.invoices (id int NOT NULL, tenant_id text NOT NULL, customer text, amount int,
                          PRIMARY KEY (tenant_id, id));
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('st.invoices');
CREATE INDEX invoices_lower_customer ON st.invoices (tenant_id, lower(customer));
GRANT SELECT ON st.invoices TO tr_st_app;
INSERT INTO st.invoices SELECT g, 't' || (g % 20), 'cust' || (g % 50), g % 1000 FROM generate_series(1, 20000) g;
INSERT INTO st.invoices SELECT 100000 + g, 'globex', 'initech-merger', 7777777 FROM generate_series(1, 300) g;
-- multi-column most common values and an expression's statistics
CREATE STATISTICS st.invoices_mcv (mcv) ON customer, amount FROM st.invoices;
CREATE STATISTICS st.invoices_upper ON (upper(customer)) FROM st.invoices;
ANALYZE st.invoices;
-- a partitioned table: the statistics of its partitions
CREATE TABLE st.parts (id int NOT NULL, tenant_id text NOT NULL, customer text) PARTITION BY HASH (id);
CREATE TABLE st.parts_1 PARTITION OF st.parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE st.parts_2 PARTITION OF st.parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('st.parts');
GRANT SELECT ON st.parts TO tr_st_app;
INSERT INTO st.parts SELECT id, tenant_id, customer FROM st.invoices;
ANALYZE st.parts;

-- the planner's row estimate of a query (the top node's)
CREATE FUNCTION st.estimate(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END $$;
GRANT EXECUTE ON FUNCTION st.estimate(text) TO PUBLIC;
-- pairs of queries that differ only in a value another tenant has
CREATE VIEW st.probes AS
SELECT * FROM (VALUES
  ('customer = X', $$SELECT * FROM st.invoices WHERE customer = 'initech-merger'$$,
                   $$SELECT * FROM st.invoices WHERE customer = 'initech-mergex'$$),
  ('amount > X (histogram bound)', $$SELECT * FROM st.invoices WHERE amount > 7777776$$,
                   $$SELECT * FROM st.invoices WHERE amount > 7777777$$),
  ('tenant_id = X (row count)', $$SELECT * FROM st.invoices WHERE tenant_id = 'globex'$$,
                   $$SELECT * FROM st.invoices WHERE tenant_id = 'globey'$$),
  ('index expression', $$SELECT * FROM st.invoices WHERE lower(customer) = 'initech-merger'$$,
                   $$SELECT * FROM st.invoices WHERE lower(customer) = 'initech-mergex'$$),
  ('extended statistics, mcv', $$SELECT * FROM st.invoices WHERE customer = 'initech-merger' AND amount = 7777777$$,
                   $$SELECT * FROM st.invoices WHERE customer = 'initech-mergex' AND amount = 7777777$$),
  ('extended statistics, expression', $$SELECT * FROM st.invoices WHERE upper(customer) = 'INITECH-MERGER'$$,
                   $$SELECT * FROM st.invoices WHERE upper(customer) = 'INITECH-MERGEX'$$),
  ('partitions', $$SELECT * FROM st.parts WHERE customer = 'initech-merger'$$,
                   $$SELECT * FROM st.parts WHERE customer = 'initech-mergex'$$)
) AS p(probe, present, absent);
GRANT SELECT ON st.probes TO tr_st_app;

-- the owner's session (no row-level security) keeps PostgreSQL's estimates
SELECT probe, st.estimate(present) > st.estimate(absent) AS estimates_differ FROM st.probes;

-- a tenant's fresh session (the library is not preloaded here): the same
-- estimate whether or not another tenant has the value
\c - tr_st_app
-- the first plans of the session, before any function of the library ran
-- (the tenant set with a plain SET, as without strict mode any session can)
BEGIN;
SET LOCAL app.current_tenant_id = 't1';
SELECT current_setting('tenant_rls.hide_statistics', true) IS NULL AS library_not_loaded_yet;
SELECT probe, st.estimate(present) = st.estimate(absent) AS same_estimate FROM st.probes;
COMMIT;
SHOW tenant_rls.hide_statistics;
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT count(*) AS my_rows, count(*) FILTER (WHERE customer = 'initech-merger') AS my_initech, max(amount) AS my_max
  FROM st.invoices;
SELECT probe, st.estimate(present) = st.estimate(absent) AS same_estimate FROM st.probes;
-- a prepared statement's custom plans too
PREPARE q(text) AS SELECT * FROM st.invoices WHERE customer = $1;
SELECT st.estimate($$EXECUTE q('initech-merger')$$) = st.estimate($$EXECUTE q('initech-mergex')$$) AS same_estimate;
DEALLOCATE q;
-- the tenant cannot turn it off
SET tenant_rls.hide_statistics = off;
ROLLBACK;

-- the test can fail: with the setting off for the role, the estimates leak
\c - :super
ALTER ROLE tr_st_app SET tenant_rls.hide_statistics = off;
\c - tr_st_app
BEGIN;
SELECT tenant_rls.set_tenant('t1');
SELECT probe, st.estimate(present) = st.estimate(absent) AS same_estimate FROM st.probes;
ROLLBACK;

-- a new ANALYZE reaches sessions that planned before it (the cache of
-- stripped statistics is dropped): note is NULL everywhere, then is set
\c - :super
ALTER ROLE tr_st_app RESET tenant_rls.hide_statistics;
ALTER TABLE st.invoices ADD COLUMN note text;
ANALYZE st.invoices;
SET ROLE tr_st_app;
SELECT tenant_rls.set_tenant('t1', false);
SELECT st.estimate($$SELECT * FROM st.invoices WHERE note = 'n1'$$) AS note_all_null;
RESET ROLE;
UPDATE st.invoices SET note = 'n' || (id % 2);
ANALYZE st.invoices;
SET ROLE tr_st_app;
SELECT st.estimate($$SELECT * FROM st.invoices WHERE note = 'n1'$$) > 100 AS note_set_seen;
SELECT probe, st.estimate(present) = st.estimate(absent) AS same_estimate FROM st.probes;
RESET ROLE;

\c - :super
SET client_min_messages = warning;
DROP SCHEMA st CASCADE;
DROP ROLE tr_st_app;
RESET client_min_messages;
