--
-- protect() / unprotect() / mark_global() (DESIGN P1, P2, P5, P6):
-- generated DDL, registry, idempotency, dry run, every error path.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_other NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
-- protect() itself is under test here, not the event triggers (sql/event_trigger.sql)
SET tenant_rls.auto_protect = off;
CREATE SCHEMA pol;
GRANT USAGE ON SCHEMA pol TO PUBLIC;
GRANT CREATE ON SCHEMA pol TO tr_owner;

-- a snapshot of what protect() leaves on a table
CREATE FUNCTION pol.state(tbl regclass) RETURNS TABLE (item text, value text)
LANGUAGE sql AS $$
  SELECT 'rls', c.relrowsecurity || '/' || c.relforcerowsecurity FROM pg_class c WHERE c.oid = tbl
  UNION ALL
  SELECT 'column ' || a.attname, format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'policy ' || p.polname, CASE WHEN p.polpermissive THEN 'permissive ' ELSE 'restrictive ' END || p.polcmd::text
    FROM pg_policy p WHERE p.polrelid = tbl
  ORDER BY 1
$$;

-- an error as SQLSTATE, message, detail and hint (stable across versions of this file)
CREATE FUNCTION pol.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hint text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || regexp_replace(msg, 'pg_temp_\d+', 'pg_temp_N')
         || coalesce(E'\nDETAIL: ' || nullif(det, ''), '') || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END $$;

CREATE TABLE pol.orders (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid,
    amount    integer NOT NULL DEFAULT 0
);
CREATE INDEX ON pol.orders (tenant_id);
ALTER TABLE pol.orders OWNER TO tr_owner;
SELECT * FROM pol.state('pol.orders');

-- dry run: the DDL, in order, and nothing changes
SELECT * FROM tenant_rls.protect('pol.orders', dry_run => true);
SELECT * FROM pol.state('pol.orders');
SELECT count(*) FROM tenant_rls.protected_table;

-- protect: as the owner (not a superuser), column from the setting
SET ROLE tr_owner;
SELECT * FROM tenant_rls.protect('pol.orders');
RESET ROLE;
SELECT * FROM pol.state('pol.orders');
SELECT schema_name, table_name, status, tenant_column, tenant_type, global_rows,
       parent_schema, parent_table, protected_by
  FROM tenant_rls.protected_table;
-- the managed jsonb: every policy, as pg_get_expr prints it back, and the flags
-- (written: the transaction of the registry row, and a command id)
SELECT key, CASE key WHEN 'written'
                THEN jsonb_build_object('xid_is_row_xmin', (value->>'xid')::xid = xmin,
                                        'cid_is_number', jsonb_typeof(value->'cid') = 'number')
                ELSE value END AS value
  FROM tenant_rls.protected_table, jsonb_each(managed - 'policies')
 WHERE table_name = 'orders' ORDER BY key;
SELECT key, value->>'cmd' AS cmd, value->>'permissive' AS permissive, value->'roles' AS roles,
       value->>'qual' AS qual, value->>'with_check' AS with_check
  FROM tenant_rls.protected_table, jsonb_each(managed->'policies')
 WHERE table_name = 'orders' ORDER BY key;
-- the recorded text is what pg_get_expr prints now (nothing edited)
SET search_path = pg_catalog, pg_temp;
SELECT count(*) AS policies, count(*) FILTER (WHERE m.value->>'qual' IS NOT DISTINCT FROM pg_get_expr(p.polqual, p.polrelid)
                                  AND m.value->>'with_check' IS NOT DISTINCT FROM pg_get_expr(p.polwithcheck, p.polrelid)) AS same
  FROM tenant_rls.protected_table t, jsonb_each(t.managed->'policies') m, pg_policy p
 WHERE t.table_name = 'orders' AND p.polrelid = 'pol.orders'::regclass AND p.polname = m.key;
RESET search_path;

-- idempotent: a second protect() changes nothing and says so
SELECT * FROM tenant_rls.protect('pol.orders');
SELECT * FROM tenant_rls.protect('pol.orders', dry_run => true);
SELECT * FROM tenant_rls.protect('pol.orders', 'tenant_id');
-- a managed policy dropped behind its back: protect() says so and how to repair
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
DROP POLICY tenant_rls_guard_delete ON pol.orders;
RESET client_min_messages;
RESET tenant_rls.drift_action;
SELECT * FROM tenant_rls.protect('pol.orders');
SELECT count(*) FROM tenant_rls.unprotect('pol.orders');
SELECT count(*) FROM tenant_rls.protect('pol.orders');
-- ... but not with another column
SELECT pol.err($$SELECT tenant_rls.protect('pol.orders', 'amount')$$);

-- unprotect: exactly the reverse; a user policy and user default stay
CREATE POLICY user_policy ON pol.orders FOR SELECT USING (amount > 0);
SET ROLE tr_owner;
SELECT * FROM tenant_rls.unprotect('pol.orders');
RESET ROLE;
SELECT * FROM pol.state('pol.orders');
SELECT count(*) FROM tenant_rls.protected_table;
SELECT * FROM tenant_rls.unprotect('pol.orders');
DROP POLICY user_policy ON pol.orders;

-- what was already there is kept, and unprotect() leaves it
ALTER TABLE pol.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE pol.orders ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE pol.orders ALTER COLUMN tenant_id SET DEFAULT '00000000-0000-0000-0000-000000000000';
SELECT * FROM tenant_rls.protect('pol.orders');
SELECT managed - 'policies' - 'written' FROM tenant_rls.protected_table WHERE table_name = 'orders';
SELECT * FROM tenant_rls.unprotect('pol.orders');
SELECT * FROM pol.state('pol.orders');
ALTER TABLE pol.orders DISABLE ROW LEVEL SECURITY;
ALTER TABLE pol.orders ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE pol.orders ALTER COLUMN tenant_id DROP DEFAULT;

-- rows without a tenant: the column stays nullable (NOT NULL only where safe)
INSERT INTO pol.orders (tenant_id, amount) VALUES (NULL, 1), ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 2);
SELECT ddl FROM tenant_rls.protect('pol.orders') ddl WHERE ddl LIKE 'ALTER TABLE%' AND (ddl LIKE '%NULL%' OR ddl LIKE '%DEFAULT%');
SELECT managed->'set_not_null' FROM tenant_rls.protected_table WHERE table_name = 'orders';
-- a default changed after protect() is the user's: unprotect keeps it
ALTER TABLE pol.orders ALTER COLUMN tenant_id SET DEFAULT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
SELECT ddl FROM tenant_rls.unprotect('pol.orders') ddl WHERE ddl NOT LIKE 'DROP POLICY%';
SELECT * FROM pol.state('pol.orders') WHERE item LIKE 'column tenant_id';
ALTER TABLE pol.orders ALTER COLUMN tenant_id DROP DEFAULT;
TRUNCATE pol.orders;

-- other column types: bigint, integer, text, varchar, a domain over uuid
CREATE DOMAIN pol.tenant_uuid AS uuid;
CREATE TABLE pol.t_bigint (tenant_id bigint, v text);
CREATE TABLE pol.t_int (org integer, v text);
CREATE TABLE pol.t_text (tenant_id text, v text);
CREATE TABLE pol.t_varchar (tenant_id varchar(40), v text);
CREATE TABLE pol.t_domain (tenant_id pol.tenant_uuid, v text);
SELECT * FROM tenant_rls.protect('pol.t_bigint', dry_run => true) LIMIT 5;
SELECT * FROM tenant_rls.protect('pol.t_int', 'org', dry_run => true) LIMIT 5;
SELECT * FROM tenant_rls.protect('pol.t_text', dry_run => true) LIMIT 5;
SELECT * FROM tenant_rls.protect('pol.t_varchar', dry_run => true) LIMIT 5;
SELECT count(*) FROM tenant_rls.protect('pol.t_varchar');
SELECT count(*) FROM tenant_rls.protect('pol.t_domain');
SELECT table_name, tenant_column, tenant_type FROM tenant_rls.protected_table ORDER BY 1;
SELECT value->>'qual' FROM tenant_rls.protected_table, jsonb_each(managed->'policies')
 WHERE table_name = 'protected_table' OR key = 'tenant_rls_guard_select' ORDER BY table_name;
-- names that need quoting (and would break spliced SQL) are quoted everywhere
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Order Items; DROP TABLE x" ("Tenant'Id" uuid, v text);
SELECT ddl FROM tenant_rls.protect('"Odd Schema"."Order Items; DROP TABLE x"', 'Tenant''Id') ddl
 WHERE ddl NOT LIKE '%isolation%' AND ddl NOT LIKE '%guard_insert%' AND ddl NOT LIKE '%guard_update%'
   AND ddl NOT LIKE '%guard_delete%';
SELECT schema_name, table_name, tenant_column FROM tenant_rls.protected_table WHERE schema_name = 'Odd Schema';
SELECT tenant_rls.grant_access('"Odd Schema"."Order Items; DROP TABLE x"', md5('1'), md5('2'), 'read');
SELECT count(*) FROM tenant_rls.tenant_grant WHERE schema_name = 'Odd Schema';
SELECT count(*) FROM tenant_rls.unprotect('"Odd Schema"."Order Items; DROP TABLE x"');
SELECT count(*) FROM tenant_rls.tenant_grant WHERE schema_name = 'Odd Schema';
SELECT * FROM pol.state('"Odd Schema"."Order Items; DROP TABLE x"');
DROP SCHEMA "Odd Schema" CASCADE;

-- the tenant column name comes from tenant_rls.tenant_column when not given
SET tenant_rls.tenant_column = 'org';
SELECT count(*) FROM tenant_rls.protect('pol.t_int');
RESET tenant_rls.tenant_column;
SELECT table_name, tenant_column FROM tenant_rls.protected_table WHERE table_name = 't_int';

-- errors: clear, and nothing changed
CREATE TABLE pol.no_tenant (id int);
CREATE TABLE pol.bad_type (tenant_id numeric);
CREATE VIEW pol.v AS SELECT * FROM pol.orders;
CREATE MATERIALIZED VIEW pol.mv AS SELECT 1 AS tenant_id;
CREATE SEQUENCE pol.seq;
CREATE FOREIGN DATA WRAPPER pol_dummy;
CREATE SERVER pol_server FOREIGN DATA WRAPPER pol_dummy;
CREATE FOREIGN TABLE pol.ft (tenant_id uuid) SERVER pol_server;
CREATE TEMP TABLE tmp_t (tenant_id uuid);
CREATE TABLE pol.not_mine (tenant_id uuid);
ALTER TABLE pol.not_mine OWNER TO tr_other;
SELECT pol.err($$SELECT tenant_rls.protect('pol.no_tenant')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.orders', 'no_such_column')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.orders', 'ctid')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.bad_type')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.v')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.mv')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.seq')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.ft')$$);
SELECT pol.err($$SELECT tenant_rls.protect('tmp_t')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pg_catalog.pg_class', 'relname')$$);
SELECT pol.err($$SELECT tenant_rls.protect('information_schema.sql_features', 'feature_id')$$);
SELECT pol.err($$SELECT tenant_rls.protect('tenant_rls.protected_table', 'schema_name')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.no_such_table')$$);
SELECT pol.err($$SELECT tenant_rls.protect(NULL)$$);
SELECT pol.err($$SELECT tenant_rls.protect(0)$$);
-- an empty tenant column is refused (review rev35c: it protected by a
-- hard-coded tenant_id, whatever tenant_rls.tenant_column said)
SELECT pol.err($$SELECT tenant_rls.protect('pol.not_mine', '')$$);
-- a NULL option is refused, not read as a default (dry_run => NULL used to run
-- the DDL, enabled => NULL to turn global rows on); pol.state() below shows
-- nothing changed
SELECT pol.err($$SELECT tenant_rls.protect('pol.not_mine', NULL, NULL)$$);
SELECT pol.err($$SELECT tenant_rls.allow_global_rows(NULL)$$);
SELECT pol.err($$SELECT tenant_rls.mark_global(NULL)$$);
SELECT pol.err($$SELECT tenant_rls.unmark_global(NULL)$$);
SELECT pol.err($$SELECT tenant_rls.allow_global_rows('pol.orders', NULL)$$);
SELECT pol.err($$SELECT tenant_rls.unprotect('pol.v')$$);
SELECT pol.err($$SELECT tenant_rls.mark_global('pol.v')$$);
SET ROLE tr_owner;
SELECT pol.err($$SELECT tenant_rls.protect('pol.not_mine')$$);
SELECT pol.err($$SELECT tenant_rls.unprotect('pol.not_mine')$$);
SELECT pol.err($$SELECT tenant_rls.mark_global('pol.not_mine')$$);
SELECT pol.err($$SELECT tenant_rls.unmark_global('pol.not_mine')$$);
RESET ROLE;
-- a policy with a reserved name is refused, not overwritten
CREATE POLICY tenant_rls_mine ON pol.not_mine USING (true);
SELECT pol.err($$SELECT tenant_rls.protect('pol.not_mine')$$);
SELECT * FROM pol.state('pol.not_mine');
DROP POLICY tenant_rls_mine ON pol.not_mine;
SELECT * FROM pol.state('pol.orders');
SELECT table_name FROM tenant_rls.protected_table ORDER BY 1;

-- one transaction: an error in a later statement leaves nothing behind
CREATE TABLE pol.half (tenant_id uuid);
CREATE FUNCTION pol.fail_on_policy() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE POLICY') THEN
    RAISE EXCEPTION 'policies are not allowed here';
  END IF;
END $$;
CREATE EVENT TRIGGER fail_on_policy ON ddl_command_end EXECUTE FUNCTION pol.fail_on_policy();
SELECT pol.err($$SELECT tenant_rls.protect('pol.half')$$);
DROP EVENT TRIGGER fail_on_policy;
SELECT * FROM pol.state('pol.half');
SELECT count(*) FROM tenant_rls.protected_table WHERE table_name = 'half';

-- mark_global / unmark_global
CREATE TABLE pol.countries (code text PRIMARY KEY, name text);
SELECT tenant_rls.mark_global('pol.countries');
SELECT tenant_rls.mark_global('pol.countries');
SELECT table_name, status, tenant_column, tenant_type FROM tenant_rls.protected_table WHERE table_name = 'countries';
SELECT pol.err($$SELECT tenant_rls.protect('pol.countries', 'code')$$);
SELECT pol.err($$SELECT tenant_rls.mark_global('pol.t_varchar')$$);
SELECT * FROM tenant_rls.unprotect('pol.countries');
SELECT tenant_rls.unmark_global('pol.countries');
SELECT tenant_rls.unmark_global('pol.countries');
SELECT count(*) FROM tenant_rls.protected_table WHERE table_name = 'countries';
-- a partitioned table is marked with its partitions
CREATE TABLE pol.rates (region text, rate numeric) PARTITION BY LIST (region);
CREATE TABLE pol.rates_eu PARTITION OF pol.rates FOR VALUES IN ('eu');
SELECT tenant_rls.mark_global('pol.rates');
SELECT table_name, status, parent_table FROM tenant_rls.protected_table WHERE table_name LIKE 'rates%' ORDER BY 1;
SELECT pol.err($$SELECT tenant_rls.protect('pol.rates_eu', 'region')$$);
SELECT pol.err($$SELECT tenant_rls.protect('pol.rates', 'region')$$);
SELECT pol.err($$SELECT tenant_rls.unmark_global('pol.rates_eu')$$);
SELECT tenant_rls.unmark_global('pol.rates');
SELECT count(*) FROM tenant_rls.protected_table WHERE table_name LIKE 'rates%';

-- clean up
SELECT count(*) FROM tenant_rls.unprotect('pol.t_varchar');
SELECT count(*) FROM tenant_rls.unprotect('pol.t_domain');
SELECT count(*) FROM tenant_rls.unprotect('pol.t_int');
SELECT count(*) FROM tenant_rls.protected_table;
SET client_min_messages = warning;
DROP SCHEMA pol CASCADE;
DROP SERVER pol_server;
DROP FOREIGN DATA WRAPPER pol_dummy;
DROP TABLE tmp_t;
