--
-- Health views (DESIGN O4): table_health, tenant_audit_volume,
-- tenant_row_volume / tenant_row_counts(); and the audit_config oid fix-up
-- for rows restored by pg_dump (DESIGN O2).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;

CREATE TABLE public.h_orders (id int PRIMARY KEY, tenant_id text NOT NULL, item text);
CREATE INDEX ON public.h_orders (tenant_id, id);
CREATE TABLE public.h_events (tenant_id text NOT NULL, id int, at date) PARTITION BY RANGE (at);
CREATE TABLE public.h_events_1 PARTITION OF public.h_events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE public.h_events_2 PARTITION OF public.h_events FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
CREATE TABLE public.h_cfg (k text PRIMARY KEY);
SELECT tenant_rls.mark_global('public.h_cfg');
GRANT SELECT, INSERT ON public.h_orders, public.h_events TO tr_app;

BEGIN;
SELECT tenant_rls.set_tenant('health-1') IS NOT NULL AS set;
INSERT INTO public.h_orders (id, item) VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO public.h_events (id, at) VALUES (1, '2024-02-01'), (2, '2024-08-01');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('health-2') IS NOT NULL AS set;
INSERT INTO public.h_orders (id, item) VALUES (4, 'd');
COMMIT;
ANALYZE public.h_orders, public.h_events, public.h_events_1, public.h_events_2, public.h_cfg;

-- names that need quoting, a tenant column protect() was told about
CREATE SCHEMA "H sch";
SET tenant_rls.managed_schemas = 'public, "H sch"';
CREATE TABLE "H sch"."t""x" (id int, "Tenant Id" text);
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('"H sch"."t""x"', tenant_column => 'Tenant Id');
INSERT INTO "H sch"."t""x" VALUES (1, 'health-1'), (2, 'health-3');

-- exact rows per tenant and table (leaf tables only: the partitioned
-- parent's rows are its partitions')
SELECT * FROM tenant_rls.tenant_row_counts()
 WHERE table_name LIKE 'public.h\_%' OR table_name LIKE '"H sch"%' ORDER BY 1, 2;
SELECT * FROM tenant_rls.tenant_row_volume WHERE tenant LIKE 'health-%' ORDER BY 1;
-- the counts read each heap under the statement's snapshot: this
-- transaction's own rows count, the rows it deleted do not
BEGIN;
DELETE FROM "H sch"."t""x" WHERE id = 2;
INSERT INTO "H sch"."t""x" VALUES (3, 'health-1'), (4, 'health-10'), (5, 'health-10');
SELECT * FROM tenant_rls.tenant_row_counts() WHERE table_name LIKE '"H sch"%';
ROLLBACK;

-- audit volume: batches (one per transaction, table and tenant), changes,
-- the chain position
SELECT tenant, batches, entries, payload_bytes > 0 AS has_bytes,
       first_logged_at <= last_logged_at AS span_ok, chain_seq
  FROM tenant_rls.tenant_audit_volume WHERE tenant LIKE 'health-%' ORDER BY 1;
SELECT count(*) = 1 AS one_row_per_tenant FROM tenant_rls.tenant_audit_volume WHERE tenant = 'health-1';

-- policy and index health
SELECT table_name, kind, status, healthy, rls_enabled, rls_forced, policies_ok, tenant_index, audit,
       errors, estimated_rows, total_bytes > 0 AS has_size
  FROM tenant_rls.table_health WHERE table_name LIKE 'public.h\_%' ORDER BY 1;

-- a managed policy dropped (drift guard set to warn): not healthy any more
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
DROP POLICY tenant_rls_guard_select ON public.h_orders;
RESET client_min_messages;
RESET tenant_rls.drift_action;
SELECT table_name, healthy, policies_ok, errors > 0 AS has_errors
  FROM tenant_rls.table_health WHERE table_name = 'public.h_orders';

-- superuser only: every tenant's volumes
SET ROLE tr_app;
SELECT * FROM tenant_rls.table_health;
SELECT * FROM tenant_rls.tenant_audit_volume;
SELECT * FROM tenant_rls.tenant_row_volume;
SELECT * FROM tenant_rls.tenant_row_counts();
SELECT * FROM tenant_rls._table_health();
RESET ROLE;

-- a monitoring role granted what doc/operations.md says reads table_health
-- also when a protected partition is in a schema it may not use (the view
-- once resolved each name with to_regclass() as the caller: permission
-- denied for schema h_other)
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE tr_h_monitor NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
CREATE SCHEMA h_other;
CREATE TABLE public.h_mon (tenant_id text NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE h_other.h_mon_2026 PARTITION OF public.h_mon FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
GRANT SELECT ON tenant_rls.table_health, tenant_rls.tenant_audit_volume,
                tenant_rls.tenant_row_volume TO tr_h_monitor;
GRANT EXECUTE ON FUNCTION tenant_rls.coverage(), tenant_rls._table_health(),
                          tenant_rls.tenant_row_counts() TO tr_h_monitor;
SET ROLE tr_h_monitor;
SELECT has_schema_privilege('h_other', 'USAGE') AS uses_h_other;
SELECT table_name, kind, status, healthy, rls_enabled, rls_forced, policies_ok, tenant_index,
       total_bytes IS NOT NULL AS has_size
  FROM tenant_rls.table_health WHERE table_name LIKE '%h\_mon%' ORDER BY 1;
SELECT count(*) > 0 AS sees_tables FROM tenant_rls.table_health;
RESET ROLE;
-- the same rows as resolving every name with to_regclass() (as superuser)
WITH by_name AS (
    SELECT c.table_name, c.kind, c.status,
           (c.status = 'global'
            OR (c.status = 'protected' AND c.rls_enabled AND c.rls_forced AND c.policies_ok AND c.tenant_index))
             AND c.errors = 0,
           c.rls_enabled, c.rls_forced, c.policies_ok, c.tenant_index, c.audit, c.errors, c.warnings,
           CASE WHEN k.reltuples >= 0 THEN k.reltuples::bigint END,
           pg_total_relation_size(k.oid), s.n_dead_tup, GREATEST(s.last_analyze, s.last_autoanalyze)
      FROM tenant_rls.coverage() c
      LEFT JOIN pg_class k ON k.oid = to_regclass(c.table_name)
      LEFT JOIN pg_stat_all_tables s ON s.relid = k.oid)
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM tenant_rls.table_health EXCEPT ALL SELECT * FROM by_name)
    UNION ALL
    (SELECT * FROM by_name EXCEPT ALL SELECT * FROM tenant_rls.table_health)) d;
-- in the order of coverage()
SELECT array_agg(table_name) = (SELECT array_agg(table_name) FROM tenant_rls.coverage()) AS same_order
  FROM tenant_rls.table_health;
SET client_min_messages = warning;
DROP TABLE public.h_mon;
DROP SCHEMA h_other;
DROP OWNED BY tr_h_monitor;
DROP ROLE tr_h_monitor;
RESET client_min_messages;

-- audit_config rows that arrive with another database's oid (pg_dump) get
-- the oid of the table they name here, or NULL; an UPDATE of table_oid too
INSERT INTO tenant_rls.audit_config (schema_name, table_name, table_oid)
VALUES ('public', 'h_cfg', 1259), ('public', 'h_no_such_table', 'public.h_orders'::regclass);
SELECT table_name, table_oid = 'public.h_cfg'::regclass AS own_oid, table_oid IS NULL AS no_oid
  FROM tenant_rls.audit_config WHERE table_name IN ('h_cfg', 'h_no_such_table') ORDER BY 1;
UPDATE tenant_rls.audit_config SET table_oid = 1259 WHERE table_name = 'h_cfg';
SELECT table_oid = 'public.h_cfg'::regclass AS own_oid FROM tenant_rls.audit_config WHERE table_name = 'h_cfg';
-- enable_audit() keeps its own oid
SELECT tenant_rls.enable_audit('public.h_orders', exclude => '{item}');
SELECT table_oid = 'public.h_orders'::regclass AS own_oid, exclude
  FROM tenant_rls.audit_config WHERE table_name = 'h_orders';
DELETE FROM tenant_rls.audit_config WHERE table_name IN ('h_cfg', 'h_no_such_table');

SET client_min_messages = warning;
DROP SCHEMA "H sch" CASCADE;
RESET tenant_rls.managed_schemas;
SELECT tenant_rls.unmark_global('public.h_cfg');
DROP TABLE public.h_orders, public.h_events, public.h_cfg;
RESET client_min_messages;
