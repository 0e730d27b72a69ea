-- Operations (DESIGN O2, O4): what a dump / restore needs fixed up, and the
-- health views.

-- pg_dump dumps tenant_rls.audit_config with the table_oid of the OLD
-- database.  In the restored database that number names no table -- or,
-- later, an unrelated new table, which the audit trigger and disable_audit()
-- then took for the restored table (matched by oid before name): the new
-- table was audited with the restored table's column lists (its own exclude
-- list ignored: excluded columns were logged), and disable_audit() of the
-- new table deleted the restored table's row (whose writes then failed with
-- "is not audited by tenant_rls").  Rows arriving in the table through
-- anything but enable_audit() (which always passes the right oid) get the oid
-- of the table their schema and name designate now, or NULL when there is
-- none (a NULL oid matches by name only).  Also on an UPDATE that sets
-- table_oid (enable_audit() and the rename follower set it to the oid of the
-- table of that name anyway), so that after a data-only restore with
-- --disable-triggers `UPDATE tenant_rls.audit_config SET table_oid = NULL`
-- repairs every row.
CREATE FUNCTION tenant_rls.audit_config_fix_oid() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    NEW.table_oid := (SELECT c.oid FROM pg_catalog.pg_class c
                        JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                       WHERE n.nspname OPERATOR(pg_catalog.=) NEW.schema_name
                         AND c.relname OPERATOR(pg_catalog.=) NEW.table_name);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_config_fix_oid() FROM PUBLIC;
-- and from any role default privileges (ALTER DEFAULT PRIVILEGES ... ON
-- FUNCTIONS) of the role running CREATE EXTENSION gave it to, as 40_audit.sql
-- does for the other audit functions (created after that fragment's sweep)
DO $$
DECLARE
    g oid;
BEGIN
    FOR g IN SELECT DISTINCT a.grantee
               FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid OPERATOR(pg_catalog.=) 'tenant_rls.audit_config_fix_oid()'::pg_catalog.regprocedure
                AND a.grantee OPERATOR(pg_catalog.<>) p.proowner AND a.grantee OPERATOR(pg_catalog.<>) 0
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION tenant_rls.audit_config_fix_oid() FROM %I CASCADE',
                                  pg_catalog.pg_get_userbyid(g));
    END LOOP;
END
$$;
COMMENT ON FUNCTION tenant_rls.audit_config_fix_oid() IS
    'trigger: a row inserted into audit_config (e.g. restored by pg_dump), or whose table_oid is set, gets the oid of the table it names in this database';
CREATE TRIGGER audit_config_fix_oid BEFORE INSERT OR UPDATE OF table_oid ON tenant_rls.audit_config
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_config_fix_oid();
-- also under session_replication_role = replica (some restore tools set it)
ALTER TABLE tenant_rls.audit_config ENABLE ALWAYS TRIGGER audit_config_fix_oid;

-- Health (DESIGN O4).  Superuser views (they read every tenant's rows and the
-- whole log); GRANT SELECT on them to a monitoring role only if that role may
-- know every tenant's volumes.

-- Policy and index health of every table in a managed schema or registered,
-- with size and estimated rows: coverage() joined with the statistics.
-- Computed with the owner's rights and joined by relid (_tables() gives the
-- relid of each name coverage() reports): resolving the names with
-- to_regclass() as the caller failed for a monitoring role as soon as a
-- table was in a schema it may not use (a protected partition in another
-- schema).  In the order of coverage().
CREATE FUNCTION tenant_rls._table_health(
        OUT table_name text, OUT kind text, OUT status text, OUT healthy boolean,
        OUT rls_enabled boolean, OUT rls_forced boolean, OUT policies_ok boolean,
        OUT tenant_index boolean, OUT audit boolean, OUT errors integer, OUT warnings integer,
        OUT estimated_rows bigint, OUT total_bytes bigint, OUT dead_rows bigint,
        OUT last_analyzed timestamptz)
    RETURNS SETOF record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT c.table_name, c.kind, c.status,
       (c.status OPERATOR(pg_catalog.=) 'global'
        OR (c.status OPERATOR(pg_catalog.=) 'protected' AND c.rls_enabled AND c.rls_forced
            AND c.policies_ok AND c.tenant_index))
         AND c.errors OPERATOR(pg_catalog.=) 0,
       c.rls_enabled, c.rls_forced, c.policies_ok, c.tenant_index, c.audit,
       c.errors, c.warnings,
       CASE WHEN k.reltuples OPERATOR(pg_catalog.>=) 0 THEN k.reltuples::bigint END,
       pg_catalog.pg_total_relation_size(k.oid),
       s.n_dead_tup,
       GREATEST(s.last_analyze, s.last_autoanalyze)
  FROM tenant_rls.coverage() WITH ORDINALITY c
  LEFT JOIN tenant_rls._tables() t ON t.qname OPERATOR(pg_catalog.=) c.table_name
  LEFT JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) t.relid
  LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid OPERATOR(pg_catalog.=) t.relid
 ORDER BY c.ordinality
$$;
REVOKE ALL ON FUNCTION tenant_rls._table_health() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._table_health() IS
    'internal: the rows of the view table_health, computed as the owner';

CREATE VIEW tenant_rls.table_health AS
SELECT h.table_name, h.kind, h.status, h.healthy,
       h.rls_enabled, h.rls_forced, h.policies_ok, h.tenant_index, h.audit,
       h.errors, h.warnings,
       h.estimated_rows, h.total_bytes, h.dead_rows, h.last_analyzed
  FROM tenant_rls._table_health() h;
REVOKE ALL ON tenant_rls.table_health FROM PUBLIC;
COMMENT ON VIEW tenant_rls.table_health IS
    'per table: coverage status, policy and tenant index health, size and estimated rows';

-- Audit volume per tenant: batches, changes, bytes and time span of the log,
-- and the position of the tenant's hash chain.
CREATE VIEW tenant_rls.tenant_audit_volume AS
SELECT CASE WHEN coalesce(b.chain_key, ch.tenant) OPERATOR(pg_catalog.<>) '' THEN coalesce(b.chain_key, ch.tenant) END AS tenant,
       coalesce(b.batches, 0) AS batches,
       coalesce(b.entries, 0) AS entries,
       coalesce(b.payload_bytes, 0) AS payload_bytes,
       b.first_logged_at, b.last_logged_at,
       ch.seq AS chain_seq
  FROM (SELECT coalesce(a.tenant, '') AS chain_key,  -- the chain of entries without tenant is ''
               pg_catalog.count(*) AS batches, pg_catalog.sum(a.entries)::bigint AS entries,
               pg_catalog.sum(pg_catalog.pg_column_size(a.payload))::bigint AS payload_bytes,
               pg_catalog.min(a.logged_at) AS first_logged_at, pg_catalog.max(a.logged_at) AS last_logged_at
          FROM tenant_rls.audit_batch a
         GROUP BY 1) b
  FULL JOIN tenant_rls.audit_chain ch ON ch.tenant OPERATOR(pg_catalog.=) b.chain_key;
REVOKE ALL ON tenant_rls.tenant_audit_volume FROM PUBLIC;
COMMENT ON VIEW tenant_rls.tenant_audit_volume IS
    'per tenant: audit log batches, changes, payload bytes, time span and chain position';

-- Rows per tenant: an exact count of every protected table (one scan of each;
-- leaf tables only, so a partitioned table's rows are counted once, in its
-- partitions, and an inheritance parent's own rows with ONLY).  Each count
-- reads the table's heap in C, no query planned: planning would run the
-- table's index expressions, code of the table's owner, with the rights of
-- this SECURITY DEFINER function (src/coverage.c).
CREATE FUNCTION tenant_rls._tenant_row_count(tbl regclass, col name)
    RETURNS TABLE (tenant text, row_count bigint)
    LANGUAGE c STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'tenant_rls_tenant_row_count';
REVOKE ALL ON FUNCTION tenant_rls._tenant_row_count(regclass, name) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._tenant_row_count(regclass, name) IS
    'internal: rows of tbl (ONLY) per value of col, read from its heap (no query planned)';

CREATE FUNCTION tenant_rls.tenant_row_counts()
    RETURNS TABLE (table_name text, tenant text, row_count bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT p.schema_name, p.table_name, p.tenant_column, c.oid
               FROM tenant_rls.protected_table p
               JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) p.schema_name
               JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid
                                         AND c.relname OPERATOR(pg_catalog.=) p.table_name
              WHERE p.status OPERATOR(pg_catalog.=) 'protected'
                AND c.relkind OPERATOR(pg_catalog.=) 'r'
              ORDER BY 1, 2
    LOOP
        RETURN QUERY SELECT pg_catalog.quote_ident(t.schema_name) OPERATOR(pg_catalog.||) '.'
                            OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.table_name),
                            x.tenant, x.row_count
                       FROM tenant_rls._tenant_row_count(t.oid, t.tenant_column) x;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.tenant_row_counts() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.tenant_row_counts() IS
    'exact rows per tenant of every protected table (scans each table: superuser, sparingly)';

CREATE VIEW tenant_rls.tenant_row_volume AS
SELECT r.tenant, pg_catalog.count(*) AS tables, pg_catalog.sum(r.row_count)::bigint AS row_count
  FROM tenant_rls.tenant_row_counts() r
 GROUP BY r.tenant;
REVOKE ALL ON tenant_rls.tenant_row_volume FROM PUBLIC;
COMMENT ON VIEW tenant_rls.tenant_row_volume IS
    'per tenant: protected tables holding its rows and their total (exact; scans every protected table)';
