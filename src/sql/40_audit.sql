-- Audit (DESIGN A1-A5): audit.c (trigger, guard, updated_at), audit_payload.c
-- (audit_entries), audit_chain.c (hash chain), audit_log.c (the log's rows,
-- audit_key), audit_verify.c, audit_purge.c, audit_maintain.c (partitions),
-- audit_delivery.c (deferred delivery).  User documentation: doc/audit.md.
--
-- The log is append-only: nobody gets UPDATE, DELETE or TRUNCATE on it, and a
-- guard trigger (ENABLE ALWAYS) refuses them even for the owner and
-- superusers unless tenant_rls.audit_purge() is running.  Entries are written
-- by the C trigger directly into the partition of the current month, not
-- through SQL, so no table of the same name in another schema (or pg_temp)
-- can capture them.

-- Per-table configuration written by enable_audit().  Tables are named by
-- schema and name (the identity across dump/restore, like the registry);
-- table_oid is a hint that survives renames within one cluster.
CREATE TABLE tenant_rls.audit_config (
    schema_name  name        NOT NULL,
    table_name   name        NOT NULL,
    table_oid    oid,
    columns      text[],               -- NULL: every column
    exclude      text[],               -- never recorded
    enabled_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    enabled_by   name        NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (schema_name, table_name)
);
COMMENT ON TABLE tenant_rls.audit_config IS
    'tables audited by tenant_rls.enable_audit() and their column include/exclude lists';
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.audit_config', '');
REVOKE ALL ON tenant_rls.audit_config FROM PUBLIC;

-- The log.  One row per batch: the changes one transaction made to one table
-- for one tenant (as one current_user, application user and tenant context), encoded in
-- payload by the trigger (format: src/audit_payload.c) -- no jsonb is built
-- and no index entry is made per changed row.  The view tenant_rls.audit_log
-- below shows one row per change.  Column order matters: the C code (audit.h,
-- AuditBatchAttr) builds tuples in this order and hashes the columns
-- logged_at .. row_keys (audit_key follows from tenant, table_oid and row_key;
-- audit_verify() checks it).
CREATE TABLE tenant_rls.audit_batch (
    logged_at        timestamptz NOT NULL,  -- clock_timestamp() of the write (at commit); partition key
    tenant           text COLLATE "C",      -- NULL: no tenant column and no tenant context
    seq              bigint      NOT NULL,  -- position in the tenant's chain, from 1
    table_oid        oid         NOT NULL,
    schema_name      text        NOT NULL,  -- names at the time of the write
    table_name       text        NOT NULL,
    txid             bigint      NOT NULL,  -- top-level transaction id (as txid_current())
    db_user          text        NOT NULL,  -- current_user
    db_session_user  text        NOT NULL,  -- session_user
    app_user         text,                  -- setting named by tenant_rls.actor_setting
    application_name text,
    client_addr      inet,
    context_tenant   text COLLATE "C",      -- the writing session's app.current_tenant_id; NULL: none
    entries          integer     NOT NULL,  -- changes in the payload
    payload          bytea       NOT NULL,  -- the changes
    row_key          bigint,                -- history key when every change is about one row
    row_keys         bigint[],              -- the distinct history keys otherwise
    prev_hash        bytea       NOT NULL,  -- hash of the previous batch of the tenant
    hash             bytea       NOT NULL,  -- SHA-256(prev_hash || canonical batch)
    audit_key        bigint      NOT NULL   -- index key: tenant region, row (tenant_rls.audit_key())
) PARTITION BY RANGE (logged_at);
COMMENT ON TABLE tenant_rls.audit_batch IS
    'tamper-evident change log written by the tenant_rls audit trigger, one row per batch of changes; read it through tenant_rls.audit_log';
-- Monthly partitions audit_batch_pYYYYMM are created by audit_maintain()
-- (called by enable_audit() and audit_purge(), and by the audit maintenance
-- worker that a writer starts when next month's partition is missing:
-- src/audit_maintain.c).
-- The trigger never creates one (that would lock the log, and every audited
-- writer of every tenant would wait until its commit): when the month's
-- partition is missing, batches land in the default partition, so a missing
-- partition never fails or blocks a user's write.
-- The indexes are created per partition, not on the parent: pg_dump restores
-- the partitions (they are not extension members) with their own indexes, and
-- a parent index would make ATTACH PARTITION create them a second time.
-- One index per partition (every index costs each committing writer): a
-- btree on the single bigint audit_key (*_key_idx).  Its high 32 bits are a
-- hash of the tenant, its low 32 bits the batch's row_key (or a hash of the
-- table for a batch of several rows): a tenant's batches are one range of the
-- index (the RLS of readers, audit_verify()), one row's batches two probes
-- per tenant (audit_history()).  One fixed-width column costs a writer about
-- half of what a (tenant, table_oid, row_key) index did.  Readers recheck
-- tenant, table_oid and row_key: keys are hashes.
-- The large columns, payload and row_keys, are compressed with lz4 (partitions
-- copy the setting): a 1,000-row batch's payload shrinks about 8 times, its
-- keys about 2 times, and lz4 costs the writer less than writing the larger
-- TOAST values would.  pglz would cost more than it saves (12 million
-- instructions for the keys of a 1,000-row batch, as much as forming, hashing
-- and writing the batch): a server built without lz4 stores them uncompressed.
DO $$
BEGIN
    ALTER TABLE tenant_rls.audit_batch
        ALTER COLUMN payload SET COMPRESSION lz4,
        ALTER COLUMN row_keys SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE tenant_rls.audit_batch
        ALTER COLUMN payload SET STORAGE EXTERNAL,
        ALTER COLUMN row_keys SET STORAGE EXTERNAL;
END
$$;
CREATE TABLE tenant_rls.audit_batch_default PARTITION OF tenant_rls.audit_batch DEFAULT;
-- No statistics on the log's columns (here and on every partition, which
-- audit_create_partition() sets): the planner estimates a condition with a
-- leakproof operator (text =, inet =, bigint <, ...) from a column's most
-- common values and histogram even under row-level security, so a tenant
-- comparing EXPLAIN's estimates of "app_user = 'x'" (or tenant, table_name,
-- client_addr, ...) for guessed values would learn what other tenants'
-- batches hold.  Readers find batches through the audit_key index with
-- bounds known only at run time: they need no statistics.
DO $$
BEGIN
    EXECUTE (SELECT 'ALTER TABLE tenant_rls.audit_batch '
                    OPERATOR(pg_catalog.||) pg_catalog.string_agg(pg_catalog.format('ALTER COLUMN %I SET STATISTICS 0', a.attname),
                                                                  ', ' ORDER BY a.attnum)
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid OPERATOR(pg_catalog.=) 'tenant_rls.audit_batch'::pg_catalog.regclass
                AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
END
$$;
CREATE INDEX audit_batch_default_key_idx ON tenant_rls.audit_batch_default (audit_key);
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.audit_batch_default', '');

-- Chain heads: the last seq, hash and logged_at of every tenant ('' = no
-- tenant).  The trigger reads and updates the head row under a per-tenant
-- transaction lock, so the chain order is the commit order.  A deleted tail
-- shows as a mismatch between the head and the last entry.  logged_at keeps
-- the log's logged_at from going back along a chain (a deferred commit
-- delivered after a later one gets its predecessor's): audit_purge() cuts by
-- logged_at, and must remove a prefix of every chain.
CREATE TABLE tenant_rls.audit_chain (
    tenant     text COLLATE "C" PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       bytea  NOT NULL,
    logged_at  timestamptz
) WITH (fillfactor = 20);  -- room for HOT updates of the heads (one new version per commit)
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.audit_chain', '');

-- Where verification starts after audit_purge(): the last purged entry of each tenant.
CREATE TABLE tenant_rls.audit_anchor (
    tenant     text COLLATE "C" PRIMARY KEY,
    seq        bigint      NOT NULL,
    hash       bytea       NOT NULL,
    purged_at  timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.audit_anchor', '');

-- One row per audit_purge() call.
CREATE TABLE tenant_rls.audit_purge_log (
    purged_at   timestamptz NOT NULL,
    before      timestamptz NOT NULL,
    purged_by   name        NOT NULL,
    partitions  text[]      NOT NULL,
    entries     bigint      NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.audit_purge_log', '');

-- Privileges: tenants read their own entries of the log, nothing else, and
-- only the entries of tables they may SELECT (table-level privilege: the row
-- images hold every audited column, so SELECT on some columns is not enough).
-- A role without it would otherwise read through the log what the table's
-- privileges deny it.
REVOKE ALL ON tenant_rls.audit_batch, tenant_rls.audit_batch_default, tenant_rls.audit_chain,
              tenant_rls.audit_anchor, tenant_rls.audit_purge_log FROM PUBLIC;
GRANT SELECT ON tenant_rls.audit_batch TO PUBLIC;
ALTER TABLE tenant_rls.audit_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_rls.audit_batch FORCE ROW LEVEL SECURITY;
-- The index keys (C, audit_log.c): the range test makes readers use the
-- index; the tenant test decides.
CREATE FUNCTION tenant_rls.audit_tenant_key(tenant text) RETURNS bigint
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_tenant_key';
COMMENT ON FUNCTION tenant_rls.audit_tenant_key(text) IS
    'the first audit_batch.audit_key of the tenant (NULL: batches without a tenant); its keys end 4294967295 later';
CREATE FUNCTION tenant_rls.audit_key(tenant text, tbl regclass, row_key bigint) RETURNS bigint
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_key';
COMMENT ON FUNCTION tenant_rls.audit_key(text, regclass, bigint) IS
    'the audit_batch.audit_key of a batch of tenant about tbl and row_key (NULL: several rows, or no primary key)';

CREATE POLICY audit_batch_tenant_read ON tenant_rls.audit_batch FOR SELECT
    USING (audit_key OPERATOR(pg_catalog.>=) tenant_rls.audit_tenant_key(tenant_rls.current_tenant())
           AND audit_key OPERATOR(pg_catalog.<=) (tenant_rls.audit_tenant_key(tenant_rls.current_tenant())
                                                  OPERATOR(pg_catalog.+) 4294967295)
           AND tenant OPERATOR(pg_catalog.=) tenant_rls.current_tenant()
           AND pg_catalog.has_table_privilege(table_oid, 'SELECT'));

-- The guard: UPDATE, DELETE and TRUNCATE are refused for everybody, superusers
-- included, unless tenant_rls.audit_purge() (C) has sanctioned them.
CREATE FUNCTION tenant_rls.audit_guard() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_guard';
COMMENT ON FUNCTION tenant_rls.audit_guard() IS 'refuses UPDATE, DELETE and TRUNCATE of the audit tables';

CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON tenant_rls.audit_batch
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_batch ENABLE ALWAYS TRIGGER audit_guard;
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON tenant_rls.audit_batch
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_batch ENABLE ALWAYS TRIGGER audit_guard_truncate;
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON tenant_rls.audit_batch_default
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_batch_default ENABLE ALWAYS TRIGGER audit_guard_truncate;

-- The decoder of a payload: one row per change.  Anybody may call it (the
-- view below runs it as the reader); it trusts nothing in the bytes it gets.
CREATE FUNCTION tenant_rls.audit_entries(payload bytea)
    RETURNS TABLE (entry integer, operation text, stmt_at timestamptz,
                   row_pk jsonb, old_row jsonb, new_row jsonb, row_count bigint)
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_entries';
COMMENT ON FUNCTION tenant_rls.audit_entries(bytea) IS
    'the changes encoded in an audit_batch payload, one row each';

-- The audit log, one row per change.  security_invoker: the reader sees the
-- batches RLS lets them see (their own tenant's, of tables they may SELECT).
CREATE VIEW tenant_rls.audit_log WITH (security_invoker = true) AS
SELECT b.logged_at, b.tenant, b.seq, e.entry, b.table_oid, b.schema_name, b.table_name,
       e.operation, e.row_pk, e.old_row, e.new_row, b.txid, e.stmt_at, b.db_user,
       b.db_session_user, b.app_user, b.application_name, b.client_addr, b.context_tenant, e.row_count,
       b.prev_hash, b.hash
  FROM tenant_rls.audit_batch b
 CROSS JOIN LATERAL tenant_rls.audit_entries(b.payload) e;
COMMENT ON VIEW tenant_rls.audit_log IS
    'the tenant_rls audit log, one row per change (seq: the batch in the tenant''s chain, entry: the change in the batch)';
REVOKE ALL ON tenant_rls.audit_log FROM PUBLIC;
GRANT SELECT ON tenant_rls.audit_log TO PUBLIC;
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON tenant_rls.audit_chain
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_chain ENABLE ALWAYS TRIGGER audit_guard;
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON tenant_rls.audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_chain ENABLE ALWAYS TRIGGER audit_guard_truncate;
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON tenant_rls.audit_anchor
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_anchor ENABLE ALWAYS TRIGGER audit_guard;
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON tenant_rls.audit_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_anchor ENABLE ALWAYS TRIGGER audit_guard_truncate;
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON tenant_rls.audit_purge_log
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_purge_log ENABLE ALWAYS TRIGGER audit_guard;
CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON tenant_rls.audit_purge_log
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_guard();
ALTER TABLE tenant_rls.audit_purge_log ENABLE ALWAYS TRIGGER audit_guard_truncate;

-- Moves the batches of a month from the default partition into the table
-- tenant_rls.audit_batch_pYYYYMM that is about to become that month's
-- partition (audit_maintain.c); for audit_create_partition() only.
CREATE FUNCTION tenant_rls._audit_adopt_default_batches(part regclass) RETURNS bigint
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_adopt_default_batches';
REVOKE ALL ON FUNCTION tenant_rls._audit_adopt_default_batches(regclass) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._audit_adopt_default_batches(regclass) IS
    'moves the batches of a month from audit_batch_default into the table that becomes its partition (called by audit_create_partition())';

-- Creates the monthly partition holding ts (UTC months) if it is missing;
-- returns true when it created one.  Used by audit_maintain().
CREATE FUNCTION tenant_rls.audit_create_partition(ts timestamptz) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    lo   timestamp;
    hi   timestamp;
    part text;
    bounds text;
    moved bigint;
    grantee oid;
    log_owner name;
BEGIN
    IF ts IS NULL OR NOT pg_catalog.isfinite(ts) THEN
        RAISE EXCEPTION 'the time of an audit partition must be a finite timestamp, not %', coalesce(ts::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a time in the month whose partition to create, e.g. now().';
    END IF;
    -- a partition is named by its month (YYYYMM, which has no era): years
    -- 1 to 9999 only (review rev33b: 4713 BC made the partition of 4713 AD,
    -- and a time near the end of the timestamp range failed on its bound)
    IF ts OPERATOR(pg_catalog.<) '0001-01-01 00:00:00+00'::timestamptz
       OR ts OPERATOR(pg_catalog.>=) '10000-01-01 00:00:00+00'::timestamptz THEN
        RAISE EXCEPTION 'the time of an audit partition must be in the years 1 to 9999, not %', ts
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a time in the month whose partition to create, e.g. now().';
    END IF;
    -- months are UTC months, whatever the session's TimeZone
    lo := pg_catalog.date_trunc('month', ts AT TIME ZONE 'UTC');
    hi := lo OPERATOR(pg_catalog.+) interval '1 month';
    part := 'audit_batch_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYYMM');
    IF pg_catalog.to_regclass(pg_catalog.format('tenant_rls.%I', part)) IS NOT NULL THEN
        -- a partition detached from the log (to archive it) keeps its name:
        -- not replaced, and that month's batches go to the default partition
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                        WHERE i.inhrelid OPERATOR(pg_catalog.=) pg_catalog.format('tenant_rls.%I', part)::pg_catalog.regclass
                          AND i.inhparent OPERATOR(pg_catalog.=) 'tenant_rls.audit_batch'::pg_catalog.regclass) THEN
            RAISE WARNING 'audit_batch partition of % not created: table tenant_rls.% exists and is not a partition of the audit log',
                          pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM'), part
                USING HINT = 'Rename or move that table (a detached partition, archived?); then run tenant_rls.audit_maintain() again.';
        END IF;
        RETURN false;
    END IF;
    -- the audit maintenance worker (or another audit_maintain()) may be
    -- creating it: wait for it, then look again
    LOCK TABLE ONLY tenant_rls.audit_batch IN SHARE UPDATE EXCLUSIVE MODE;
    IF pg_catalog.to_regclass(pg_catalog.format('tenant_rls.%I', part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    bounds := pg_catalog.format('FOR VALUES FROM (%L) TO (%L)',
                                pg_catalog.to_char(lo, 'YYYY-MM-DD HH24:MI:SS') OPERATOR(pg_catalog.||) '+00',
                                pg_catalog.to_char(hi, 'YYYY-MM-DD HH24:MI:SS') OPERATOR(pg_catalog.||) '+00');
    IF EXISTS (SELECT FROM ONLY tenant_rls.audit_batch_default
                WHERE logged_at OPERATOR(pg_catalog.>=) (lo AT TIME ZONE 'UTC')
                  AND logged_at OPERATOR(pg_catalog.<) (hi AT TIME ZONE 'UTC')) THEN
        -- Batches of that month are in the default partition (the partition
        -- was missing, or the server's clock was ahead), and PostgreSQL
        -- refuses a partition whose rows are there: the table is created
        -- outside the log, the batches move into it, then it is attached.
        -- The log and its default partition stay locked until commit.
        LOCK TABLE ONLY tenant_rls.audit_batch IN ACCESS EXCLUSIVE MODE;
        LOCK TABLE ONLY tenant_rls.audit_batch_default IN ACCESS EXCLUSIVE MODE;
        EXECUTE pg_catalog.format('CREATE TABLE tenant_rls.%I (LIKE tenant_rls.audit_batch INCLUDING ALL EXCLUDING COMMENTS EXCLUDING INDEXES EXCLUDING STATISTICS)', part);
        moved := tenant_rls._audit_adopt_default_batches(pg_catalog.format('tenant_rls.%I', part)::pg_catalog.regclass);
        EXECUTE pg_catalog.format('ALTER TABLE tenant_rls.audit_batch ATTACH PARTITION tenant_rls.%I ', part)
                OPERATOR(pg_catalog.||) bounds;
        RAISE NOTICE '% batch(es) of % moved from tenant_rls.audit_batch_default into its new partition tenant_rls.%',
                     moved, pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM'), part;
    ELSE
        EXECUTE pg_catalog.format('CREATE TABLE tenant_rls.%I PARTITION OF tenant_rls.audit_batch ', part)
                OPERATOR(pg_catalog.||) bounds;
    END IF;
    -- (a detached partition renamed away keeps its index's name: PostgreSQL
    -- then names this one)
    IF pg_catalog.to_regclass(pg_catalog.format('tenant_rls.%I', part OPERATOR(pg_catalog.||) '_key_idx')) IS NULL THEN
        EXECUTE pg_catalog.format('CREATE INDEX %I ON tenant_rls.%I (audit_key)',
                                  part OPERATOR(pg_catalog.||) '_key_idx', part);
    ELSE
        EXECUTE pg_catalog.format('CREATE INDEX ON tenant_rls.%I (audit_key)', part);
    END IF;
    -- no statistics on its columns (see audit_batch above): a partition does
    -- not take the statistics targets of its parent
    EXECUTE (SELECT pg_catalog.format('ALTER TABLE tenant_rls.%I ', part)
                    OPERATOR(pg_catalog.||) pg_catalog.string_agg(pg_catalog.format('ALTER COLUMN %I SET STATISTICS 0', a.attname),
                                                                  ', ' ORDER BY a.attnum)
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.format('tenant_rls.%I', part)::pg_catalog.regclass
                AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
    -- the log's owner (the extension's) owns it, not whoever runs this: the
    -- owner reads every tenant's entries and may drop the partition, and a
    -- REASSIGN OWNED or DROP OWNED of that role would take it along (review
    -- rev40f)
    SELECT pg_catalog.pg_get_userbyid(b.relowner) INTO log_owner
      FROM pg_catalog.pg_class c, pg_catalog.pg_class b
     WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.format('tenant_rls.%I', part)::pg_catalog.regclass
       AND b.oid OPERATOR(pg_catalog.=) 'tenant_rls.audit_batch'::pg_catalog.regclass
       AND c.relowner OPERATOR(pg_catalog.<>) b.relowner;
    IF log_owner IS NOT NULL THEN
        EXECUTE pg_catalog.format('ALTER TABLE tenant_rls.%I OWNER TO %I', part, log_owner);
    END IF;
    EXECUTE pg_catalog.format('REVOKE ALL ON tenant_rls.%I FROM PUBLIC', part);
    -- and from every other role: default privileges of the role running this
    -- (ALTER DEFAULT PRIVILEGES ... ON TABLES) would give some role SELECT
    -- (every tenant's entries: a partition has no row-level security),
    -- INSERT (forged batches) or TRIGGER (a trigger that audit_purge() runs)
    FOR grantee IN
        SELECT DISTINCT a.grantee
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.format('tenant_rls.%I', part)::pg_catalog.regclass
           AND a.grantee OPERATOR(pg_catalog.<>) c.relowner AND a.grantee OPERATOR(pg_catalog.<>) 0
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON tenant_rls.%I FROM %I CASCADE',
                                  part, pg_catalog.pg_get_userbyid(grantee));
    END LOOP;
    EXECUTE pg_catalog.format('CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON tenant_rls.%I '
                              'FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_guard()', part);
    EXECUTE pg_catalog.format('ALTER TABLE tenant_rls.%I ENABLE ALWAYS TRIGGER audit_guard_truncate', part);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_create_partition(timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_create_partition(timestamptz) IS
    'creates the monthly audit_batch partition holding ts, if missing';

-- What a data-only restore with pg_restore --disable-triggers leaves behind,
-- repaired by audit_maintain() (which operators run regularly):
--   * pg_restore's closing ALTER TABLE ... ENABLE TRIGGER ALL turns the
--     extension's ENABLE ALWAYS triggers (the log's guards, the oid fix-up
--     of audit_config, the grants' triggers for replica mode) into plain ENABLE, which session_replication_role =
--     replica skips: they are put back to ENABLE ALWAYS (a WARNING says so;
--     a DISABLEd one is a deliberate act and is left alone);
--   * restored audit_config rows keep the old database's oids (the fix-up
--     trigger was disabled): a row whose names designate a table gets that
--     table's oid, a row whose oid names no relation gets NULL.  (The audit
--     trigger already ignores such oids: read_config() in audit.c.)
-- Nothing is changed when there is nothing to repair.
CREATE FUNCTION tenant_rls.audit_repair() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT g.tgrelid::pg_catalog.regclass AS tbl, g.tgname
               FROM pg_catalog.pg_trigger g
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) g.tgrelid
              WHERE c.relnamespace OPERATOR(pg_catalog.=) 'tenant_rls'::pg_catalog.regnamespace
                AND g.tgname OPERATOR(pg_catalog.=) ANY ('{audit_guard,audit_guard_truncate,audit_config_fix_oid,tenant_grant_replicated,tenant_grant_replicated_truncate}'::name[])
                AND NOT g.tgisinternal
                AND g.tgenabled OPERATOR(pg_catalog.=) ANY ('{O,R}'::"char"[])  -- DISABLEd: deliberate, left alone
              ORDER BY 1, 2
    LOOP
        RAISE WARNING 'trigger % on % was not ENABLE ALWAYS, it is again', t.tgname, t.tbl
            USING DETAIL = 'ALTER TABLE ... ENABLE TRIGGER ALL (as pg_restore --disable-triggers runs) or DISABLE TRIGGER switched it; it must fire also under session_replication_role = replica.';
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.tbl, t.tgname);
    END LOOP;
    UPDATE tenant_rls.audit_config c
       SET table_oid = x.named
      FROM (SELECT c2.schema_name, c2.table_name,
                   (SELECT k.oid FROM pg_catalog.pg_class k
                      JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) k.relnamespace
                     WHERE ns.nspname OPERATOR(pg_catalog.=) c2.schema_name
                       AND k.relname OPERATOR(pg_catalog.=) c2.table_name) AS named
              FROM tenant_rls.audit_config c2) x
     WHERE c.schema_name OPERATOR(pg_catalog.=) x.schema_name
       AND c.table_name OPERATOR(pg_catalog.=) x.table_name
       AND CASE WHEN x.named IS NOT NULL THEN c.table_oid IS DISTINCT FROM x.named
                ELSE c.table_oid IS NOT NULL
                     AND NOT EXISTS (SELECT FROM pg_catalog.pg_class d WHERE d.oid OPERATOR(pg_catalog.=) c.table_oid) END;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_repair() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_repair() IS
    'puts the audit log guards back to ENABLE ALWAYS and repairs stale audit_config oids (called by audit_maintain())';

-- Starts the audit maintenance worker (audit_maintain.c) when next month's
-- partition is missing (as a writer does); true then.  enable_audit() calls it in a
-- session of a role that is not a superuser.
CREATE FUNCTION tenant_rls._audit_maintain_request() RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_maintain_request';
COMMENT ON FUNCTION tenant_rls._audit_maintain_request() IS
    'starts the worker that creates the audit log''s partitions when next month''s is missing (called by enable_audit())';

-- Creates the partitions of the current month and of the next months_ahead
-- months.  The audit maintenance worker, enable_audit() and audit_purge()
-- run it; a scheduler may too.  Returns the number of partitions created.
CREATE FUNCTION tenant_rls.audit_maintain(months_ahead integer DEFAULT 3) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n integer := 0; r record;
    -- this month, in UTC (the partitions' months), read once: months added
    -- to a time in the session's TimeZone skipped one (2027-01-31 03:00 UTC
    -- is January 30 in New York: + 1 month was March 2 UTC), and a clock read
    -- on each turn could skip one at the turn of a month
    this_month timestamp := pg_catalog.date_trunc('month', pg_catalog.clock_timestamp() AT TIME ZONE 'UTC');
    m timestamptz;
BEGIN
    IF months_ahead IS NULL THEN
        RAISE EXCEPTION 'months_ahead must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass how many months of partitions to create ahead, e.g. 3.';
    END IF;
    IF months_ahead OPERATOR(pg_catalog.<) 0 OR months_ahead OPERATOR(pg_catalog.>) 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass how many months of partitions to create ahead, e.g. 3.';
    END IF;
    -- (review rev49a: on a standby it failed deep inside, with a write's
    -- read-only error)
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot run audit_maintain() on a standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  HINT = 'Run it on the primary: the partitions it creates reach the standbys by replication.';
    END IF;
    FOR i IN 0 .. months_ahead LOOP
        m := (this_month OPERATOR(pg_catalog.+) pg_catalog.make_interval(months => i)) AT TIME ZONE 'UTC';
        BEGIN
            IF tenant_rls.audit_create_partition(m) THEN
                n := n OPERATOR(pg_catalog.+) 1;
            END IF;
        EXCEPTION WHEN invalid_object_definition THEN
            -- "would overlap partition": one renamed while attached covers it
            RAISE WARNING 'audit_batch partition of % not created: %',
                          pg_catalog.to_char(m AT TIME ZONE 'UTC', 'YYYY-MM'), SQLERRM
                USING HINT = 'A partition of tenant_rls.audit_batch covering that month has another name: rename it back to audit_batch_pYYYYMM (the writers find partitions by that name; meanwhile that month''s batches go to tenant_rls.audit_batch_default).';
        WHEN check_violation THEN
            -- a batch of that month reached the default partition after
            -- audit_create_partition() looked there
            RAISE WARNING 'audit_batch partition of % not created: a batch of that month was written into the default partition meanwhile',
                          pg_catalog.to_char(m AT TIME ZONE 'UTC', 'YYYY-MM')
                USING HINT = 'Run tenant_rls.audit_maintain() again: it moves the batches of that month from tenant_rls.audit_batch_default into the new partition.';
        END;
    END LOOP;
    -- Partitions that did not come from audit_create_partition(): pg_restore
    -- re-creates them (they are not members of the extension) as the
    -- restoring role, whose default privileges (ALTER DEFAULT PRIVILEGES
    -- ... ON TABLES) then apply, and pg_dump has no privileges to restore
    -- for them (owner only is the default).  Every privilege held by another
    -- role or PUBLIC on a partition is taken away, as at creation; only the
    -- owner (or a superuser) can: anybody else gets a warning.
    FOR r IN
        SELECT DISTINCT c.oid::pg_catalog.regclass AS part, a.grantee
          FROM pg_catalog.pg_inherits i, pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE i.inhparent OPERATOR(pg_catalog.=) 'tenant_rls.audit_batch'::pg_catalog.regclass
           AND c.oid OPERATOR(pg_catalog.=) i.inhrelid
           AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
    LOOP
        BEGIN
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s CASCADE', r.part,
                                      CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                           ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'privileges of % on audit partition % not revoked: %',
                          CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                               ELSE pg_catalog.pg_get_userbyid(r.grantee)::text END, r.part, SQLERRM
                USING HINT = 'Run tenant_rls.audit_maintain() as the owner of the extension.';
        END;
    END LOOP;
    -- Partitions owned by another role than the log (created or restored by
    -- another superuser: review rev40f) are given to the log's owner
    FOR r IN
        SELECT c.oid::pg_catalog.regclass AS part, pg_catalog.pg_get_userbyid(b.relowner) AS owner
          FROM pg_catalog.pg_inherits i, pg_catalog.pg_class c, pg_catalog.pg_class b
         WHERE i.inhparent OPERATOR(pg_catalog.=) 'tenant_rls.audit_batch'::pg_catalog.regclass
           AND b.oid OPERATOR(pg_catalog.=) i.inhparent
           AND c.oid OPERATOR(pg_catalog.=) i.inhrelid
           AND c.relowner OPERATOR(pg_catalog.<>) b.relowner
    LOOP
        BEGIN
            EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', r.part, r.owner);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'audit partition % not given to %: %', r.part, r.owner, SQLERRM
                USING HINT = 'Run tenant_rls.audit_maintain() as a superuser.';
        END;
    END LOOP;
    -- (owner-only, like the partition privileges above: a role granted
    -- audit_maintain() to run it on a schedule gets a warning, not an error
    -- that would roll back the partitions it created)
    BEGIN
        PERFORM tenant_rls.audit_repair();
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'audit log guards and configuration oids not checked: %', SQLERRM
            USING HINT = 'Run tenant_rls.audit_maintain() as the owner of the extension.';
    END;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_maintain(integer) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_maintain(integer) IS
    'creates the audit_batch partitions of this month and the next months_ahead months';

-- Drops a trigger of the table if it exists (quietly: no NOTICE).
-- The table whose trigger the trigger trg of tbl is a clone of, following
-- the clones up (a partition gets the row triggers of its partitioned table,
-- and only that table's can be changed or dropped); NULL when it is tbl's own
-- or tbl has none.
CREATE FUNCTION tenant_rls._trigger_origin(tbl regclass, trg name) RETURNS regclass
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE up(relid, parentid, depth) AS (
        SELECT t.tgrelid, t.tgparentid, 0
          FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND t.tgname OPERATOR(pg_catalog.=) trg
        UNION ALL
        SELECT p.tgrelid, p.tgparentid, up.depth OPERATOR(pg_catalog.+) 1
          FROM up JOIN pg_catalog.pg_trigger p ON p.oid OPERATOR(pg_catalog.=) up.parentid
    )
    SELECT up.relid::pg_catalog.regclass FROM up
     WHERE up.depth OPERATOR(pg_catalog.>) 0 AND up.parentid OPERATOR(pg_catalog.=) 0
$$;
REVOKE ALL ON FUNCTION tenant_rls._trigger_origin(regclass, name) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._trigger_origin(regclass, name) IS
    'internal: the table whose trigger of that name the table''s is a clone of (NULL: its own or none)';

-- The column lists that apply to the audit of tbl: those of its own
-- audit_config row, or else of its nearest ancestor (inheritance parent,
-- partitioned table) that has one; NULL, NULL when none has.  protect()
-- audits with them, so that protecting a table already audited, or an
-- inheritance child of an audited table, does not record the columns a DBA
-- excluded (review rev36b); so does a partition detached from an audited
-- table (event_trigger.c).
CREATE FUNCTION tenant_rls._audit_lists(tbl regclass, OUT columns text[], OUT exclude text[])
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE up(relid, depth) AS (
        SELECT tbl::pg_catalog.oid, 0
        UNION
        SELECT i.inhparent, up.depth OPERATOR(pg_catalog.+) 1
          FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid OPERATOR(pg_catalog.=) up.relid
    )
    SELECT c.columns, c.exclude
      FROM up
      JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) up.relid
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
      JOIN tenant_rls.audit_config c ON c.schema_name OPERATOR(pg_catalog.=) n.nspname
                                    AND c.table_name OPERATOR(pg_catalog.=) k.relname
     ORDER BY up.depth LIMIT 1
$$;
REVOKE ALL ON FUNCTION tenant_rls._audit_lists(regclass) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._audit_lists(regclass) IS
    'internal: the columns/exclude lists of the table''s audit configuration, or of its nearest audited ancestor''s';

-- The names of the columns that an audited table among ancestors does not
-- record: the names in its exclude list, whether it still has such a column
-- or not (a column the parent dropped that a child kept stays unrecorded, as
-- for a table's own exclude), and its columns left out of its columns list.
-- An inheritance child audited on its own records none of them (audit.c,
-- read_config(): review rev51b), and keeps them out when ALTER TABLE ... NO
-- INHERIT unlinks it (event_trigger.c, keep_former_parent_restriction():
-- review rev51e).  An ancestor's audit_config row is found as a table's own
-- is: by its names, else by its oid when its names designate no table
-- (renamed while the event triggers did not follow).
CREATE FUNCTION tenant_rls._audit_unrecorded(ancestors oid[]) RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT DISTINCT x.name
      FROM (SELECT c.exclude, c.columns, u.relid
              FROM pg_catalog.unnest(ancestors) u(relid)
              JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) u.relid
              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
              JOIN tenant_rls.audit_config c
                ON (c.schema_name OPERATOR(pg_catalog.=) n.nspname
                    AND c.table_name OPERATOR(pg_catalog.=) k.relname)
                OR (c.table_oid OPERATOR(pg_catalog.=) u.relid
                    AND NOT EXISTS (SELECT FROM pg_catalog.pg_class k2
                                      JOIN pg_catalog.pg_namespace n2 ON n2.oid OPERATOR(pg_catalog.=) k2.relnamespace
                                     WHERE n2.nspname OPERATOR(pg_catalog.=) c.schema_name
                                       AND k2.relname OPERATOR(pg_catalog.=) c.table_name))) l,
           LATERAL (SELECT e.name FROM pg_catalog.unnest(l.exclude) e(name)
                    UNION ALL
                    SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
                     WHERE l.columns IS NOT NULL AND a.attrelid OPERATOR(pg_catalog.=) l.relid
                       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                       AND NOT a.attname::pg_catalog.text OPERATOR(pg_catalog.=) ANY (l.columns)) x
     WHERE x.name IS NOT NULL
$$;
COMMENT ON FUNCTION tenant_rls._audit_unrecorded(oid[]) IS
    'internal: the columns that an audited table among the given ancestors does not record';

-- The tables above tbl (above) stop binding it: ALTER TABLE tbl NO INHERIT
-- parent (event_trigger.c, keep_former_parent_restriction(), with the parent
-- and its ancestors), or disable_audit(parent) (with the parent, for each of
-- its inheritance children).  tbl and each table below it audited on its own
-- (not the partitions: they take their root's lists) keep the restriction:
-- the columns of it that a table of above does not record, and that its own
-- lists record, join its exclude, as a partition detached keeps the lists
-- that applied to it through its parent.  Unlinked, each recorded them from
-- then on: the secret the parent excludes, and in the old_row of its next
-- change the value written while it was excluded (review rev51e).  Returns
-- the tables changed and the names added; the caller tells (NOTICE).
CREATE FUNCTION tenant_rls._audit_keep_unrecorded(tbl regclass, above oid[])
    RETURNS TABLE (relid oid, names text[])
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
    cfg record;
    added text[];
BEGIN
    FOR r IN WITH RECURSIVE below(relid, depth) AS (
                 SELECT tbl::pg_catalog.oid, 0
                 UNION
                 SELECT i.inhrelid, below.depth OPERATOR(pg_catalog.+) 1
                   FROM below JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) below.relid)
             SELECT b.relid FROM below b
               JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) b.relid
              WHERE NOT k.relispartition
              GROUP BY b.relid
              ORDER BY pg_catalog.min(b.depth), b.relid
    LOOP
        -- its own row: by its names, else by its oid when its names designate
        -- no table (as audit.c finds it)
        SELECT c.schema_name, c.table_name, c.exclude INTO cfg
          FROM pg_catalog.pg_class k
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
          JOIN tenant_rls.audit_config c
            ON (c.schema_name OPERATOR(pg_catalog.=) n.nspname AND c.table_name OPERATOR(pg_catalog.=) k.relname)
            OR (c.table_oid OPERATOR(pg_catalog.=) k.oid
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_class k2
                                  JOIN pg_catalog.pg_namespace n2 ON n2.oid OPERATOR(pg_catalog.=) k2.relnamespace
                                 WHERE n2.nspname OPERATOR(pg_catalog.=) c.schema_name
                                   AND k2.relname OPERATOR(pg_catalog.=) c.table_name))
         WHERE k.oid OPERATOR(pg_catalog.=) r.relid
         ORDER BY (c.schema_name OPERATOR(pg_catalog.=) n.nspname AND c.table_name OPERATOR(pg_catalog.=) k.relname) DESC
         LIMIT 1;
        CONTINUE WHEN NOT FOUND;
        SELECT pg_catalog.array_agg(DISTINCT u.name) INTO added
          FROM tenant_rls._audit_unrecorded(above) u(name)
          JOIN pg_catalog.pg_attribute a
            ON a.attrelid OPERATOR(pg_catalog.=) r.relid AND a.attname::pg_catalog.text OPERATOR(pg_catalog.=) u.name
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
         WHERE NOT COALESCE(u.name OPERATOR(pg_catalog.=) ANY (cfg.exclude), false);
        CONTINUE WHEN added IS NULL;
        IF NOT pg_catalog.has_table_privilege('tenant_rls.audit_config', 'UPDATE') THEN
            RAISE EXCEPTION 'permission denied to keep the audit restrictions of table %', r.relid::pg_catalog.regclass
                USING ERRCODE = 'insufficient_privilege',
                DETAIL = pg_catalog.format('Its columns %s, which the audit of %s did not record, must join its exclude list in tenant_rls.audit_config, which this role may not update.',
                                           pg_catalog.array_to_string(added, ', '), above[1]::pg_catalog.regclass),
                HINT = 'Run it as a superuser, or grant UPDATE on tenant_rls.audit_config to this role.';
        END IF;
        UPDATE tenant_rls.audit_config c SET exclude = pg_catalog.array_cat(c.exclude, added)
         WHERE c.schema_name OPERATOR(pg_catalog.=) cfg.schema_name AND c.table_name OPERATOR(pg_catalog.=) cfg.table_name;
        relid := r.relid;
        names := added;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION tenant_rls._audit_keep_unrecorded(regclass, oid[]) IS
    'internal: adds to the exclude lists of a table and the tables below it what audited tables they no longer inherit from did not record';

CREATE FUNCTION tenant_rls.audit_drop_trigger(tbl regclass, trg name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND t.tgname OPERATOR(pg_catalog.=) trg
                  AND NOT t.tgisinternal) THEN
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg, tbl);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_drop_trigger(regclass, name) FROM PUBLIC;

-- The capture trigger (AFTER INSERT/UPDATE/DELETE FOR EACH ROW, BEFORE
-- TRUNCATE FOR EACH STATEMENT).  EXECUTE stays with PUBLIC (it is checked
-- against whoever fires the trigger); the C code refuses to run (42501) on a
-- table that enable_audit() did not register in audit_config, so a trigger
-- attached by hand cannot write into anybody's chain.
CREATE FUNCTION tenant_rls.audit_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_trigger';
COMMENT ON FUNCTION tenant_rls.audit_trigger() IS 'the tenant_rls audit trigger; attach it with tenant_rls.enable_audit()';

-- Statement triggers are not cloned to partitions: a TRUNCATE of one partition
-- fires the triggers of that partition only.  Gives tbl and every partition
-- below it (all levels) that is audited -- registered in audit_config itself
-- or through an ancestor, as the C trigger decides -- the BEFORE TRUNCATE
-- trigger tenant_rls_audit_truncate, and takes it off those that are not
-- (a detached partition, the partitions of a table given to disable_audit()):
-- there the trigger would refuse every TRUNCATE.  Only triggers of
-- tenant_rls.audit_trigger() are dropped.  Called by enable_audit(),
-- disable_audit() and the ddl_command_end event trigger (CREATE TABLE ...
-- PARTITION OF, ATTACH PARTITION, DETACH PARTITION).  Foreign tables are left
-- out (they cannot have TRUNCATE triggers).
CREATE FUNCTION tenant_rls.audit_sync_truncate_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the table whose partitions to reconcile.';
    END IF;
    FOR r IN
        WITH members AS (
            SELECT tbl::oid AS relid
             UNION
            SELECT t.relid::oid FROM pg_catalog.pg_partition_tree(tbl) t
        )
        SELECT c.oid::regclass AS rel,
               pg_catalog.pg_has_role(c.relowner, 'USAGE') AS is_owner,
               -- the table or one of its ancestors is registered (by name, or by oid
               -- when the row's names designate no table, as read_config() in audit.c)
               EXISTS (SELECT FROM (SELECT m.relid AS oid
                                     UNION
                                    SELECT a.relid::oid FROM pg_catalog.pg_partition_ancestors(m.relid::regclass) a) x
                         JOIN pg_catalog.pg_class xc ON xc.oid OPERATOR(pg_catalog.=) x.oid
                         JOIN pg_catalog.pg_namespace xn ON xn.oid OPERATOR(pg_catalog.=) xc.relnamespace
                         JOIN tenant_rls.audit_config ac
                           ON (ac.schema_name OPERATOR(pg_catalog.=) xn.nspname AND ac.table_name OPERATOR(pg_catalog.=) xc.relname)
                           OR (ac.table_oid OPERATOR(pg_catalog.=) x.oid AND pg_catalog.to_regclass(pg_catalog.format('%I.%I', ac.schema_name, ac.table_name)) IS NULL)) AS audited,
               EXISTS (SELECT FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid
                          AND g.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit_truncate'
                          AND NOT g.tgisinternal) AS has_name,
               EXISTS (SELECT FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid
                          AND g.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit_truncate'
                          AND NOT g.tgisinternal
                          AND g.tgfoid OPERATOR(pg_catalog.=) 'tenant_rls.audit_trigger()'::pg_catalog.regprocedure) AS has_ours,
               EXISTS (SELECT FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid
                          AND g.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit_truncate'
                          AND NOT g.tgisinternal
                          AND g.tgfoid OPERATOR(pg_catalog.=) 'tenant_rls.audit_trigger()'::pg_catalog.regprocedure
                          AND g.tgtype OPERATOR(pg_catalog.=) 34) AS has_right,  -- BEFORE TRUNCATE FOR EACH STATEMENT
               -- a partition whose row trigger (a clone) is ENABLE ALWAYS: so is
               -- its TRUNCATE trigger (a table's own keep their states, as
               -- enable_audit() sets them) (review rev41a: a subscription's apply
               -- worker, session_replication_role = replica, truncated a
               -- partition unrecorded; PostgreSQL does not clone statement
               -- triggers, nor their state)
               c.relispartition AND
               EXISTS (SELECT FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid
                          AND g.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit'
                          AND g.tgenabled OPERATOR(pg_catalog.=) 'A') AS row_always,
               EXISTS (SELECT FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid
                          AND g.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit_truncate'
                          AND g.tgenabled OPERATOR(pg_catalog.=) 'A') AS truncate_always
          FROM members m
          JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.relid
         WHERE c.relkind IN ('r', 'p')
         ORDER BY c.oid
    LOOP
        IF r.audited AND NOT r.has_right THEN
            IF NOT pg_catalog.has_table_privilege(r.rel, 'TRIGGER') OR (r.has_name AND NOT r.is_owner) THEN
                RAISE EXCEPTION 'permission denied to create the TRUNCATE audit trigger on %', r.rel
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = pg_catalog.format('%s is audited (it is, or is a partition of, a table given to tenant_rls.enable_audit()): '
                                                     'without trigger tenant_rls_audit_truncate a TRUNCATE of it alone would not be recorded.', r.rel),
                          HINT = 'Run this as the owner of the table or a superuser, or give the table the owner of its partitioned table.';
            END IF;
            PERFORM tenant_rls.audit_drop_trigger(r.rel, 'tenant_rls_audit_truncate');
            EXECUTE pg_catalog.format('CREATE TRIGGER tenant_rls_audit_truncate BEFORE TRUNCATE ON %s '
                                      'FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_trigger()', r.rel);
            -- (ALTER TABLE ... ENABLE needs the owner: a role with TRIGGER
            -- only leaves it plain ENABLE, and lint() reports it for a
            -- subscription's table, subscription_audit_not_always)
            IF r.row_always AND r.is_owner THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER tenant_rls_audit_truncate', r.rel);
            END IF;
        ELSIF r.audited AND r.row_always AND NOT r.truncate_always AND r.is_owner THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER tenant_rls_audit_truncate', r.rel);
        ELSIF NOT r.audited AND r.has_ours THEN
            IF NOT r.is_owner THEN
                RAISE EXCEPTION 'permission denied to drop the TRUNCATE audit trigger of %', r.rel
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = pg_catalog.format('%s is no longer audited: while it carries trigger tenant_rls_audit_truncate, every TRUNCATE of it fails.', r.rel),
                          HINT = 'Run this as the owner of the table or a superuser.';
            END IF;
            PERFORM tenant_rls.audit_drop_trigger(r.rel, 'tenant_rls_audit_truncate');
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_sync_truncate_triggers(regclass) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_sync_truncate_triggers(regclass) IS
    'gives tbl and its partitions the TRUNCATE audit trigger where they are audited, and takes it off where they are not';

-- The table given to enable_audit() or enable_updated_at(): an existing
-- ordinary or partitioned table; returns its relpersistence.
CREATE FUNCTION tenant_rls._audited_table_check(tbl regclass, hint text) RETURNS "char"
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kind "char";
    persistence "char";
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the name of an existing table.';
    END IF;
    SELECT c.relkind, c.relpersistence INTO kind, persistence
      FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
    IF kind IS NULL THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table',
            HINT = 'Pass the name of an existing table.';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type', HINT = hint;
    END IF;
    RETURN persistence;
END
$$;
COMMENT ON FUNCTION tenant_rls._audited_table_check(regclass, text) IS
    'internal: the table of enable_audit() and enable_updated_at() exists and is an ordinary or partitioned table';

CREATE FUNCTION tenant_rls.enable_audit(tbl regclass, columns text[] DEFAULT NULL, exclude text[] DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    nsp    name;
    rel    name;
    persistence "char";
    col    text;
    parent regclass;
    part   regclass;
    row_state   "char";
    trunc_state "char";
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the table to audit, e.g. tenant_rls.enable_audit(''public.orders'').';
    END IF;
    -- (a role that is not a superuser, granted EXECUTE: say what else it
    -- needs before anything is done; review rev48c)
    IF NOT (pg_catalog.has_table_privilege('tenant_rls.audit_config', 'SELECT')
            AND pg_catalog.has_table_privilege('tenant_rls.audit_config', 'INSERT')
            AND pg_catalog.has_table_privilege('tenant_rls.audit_config', 'UPDATE')
            AND pg_catalog.has_table_privilege('tenant_rls.audit_config', 'DELETE')) THEN
        RAISE EXCEPTION 'permission denied to change the audit configuration'
            USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'enable_audit() records the audited columns in tenant_rls.audit_config, which this role may not change.',
            HINT = 'Run it as a superuser, or protect() the table with tenant_rls.audit on. Granting SELECT, INSERT, UPDATE and DELETE on tenant_rls.audit_config lets a role change what is audited of every table.';
    END IF;
    -- a partition audited through its parent: its row trigger is a clone of
    -- the parent's, which cannot be dropped on its own, and the parent's
    -- columns apply to it
    parent := tenant_rls._trigger_origin(tbl, 'tenant_rls_audit');
    IF parent IS NOT NULL THEN
        IF columns IS NOT NULL OR exclude IS NOT NULL THEN
            RAISE EXCEPTION 'table % is audited through its parent %', tbl, parent
                USING ERRCODE = 'object_not_in_prerequisite_state',
                DETAIL = 'A partition of an audited table records the columns its parent''s audit names.',
                HINT = 'Call tenant_rls.enable_audit() on the parent, or detach the partition first.';
        END IF;
        RAISE NOTICE 'table % is already audited through its parent %, nothing to do', tbl, parent;
        -- its TRUNCATE trigger (statement triggers are not cloned)
        PERFORM tenant_rls.audit_sync_truncate_triggers(parent);
        RETURN;
    END IF;
    persistence := tenant_rls._audited_table_check(tbl, 'Only ordinary and partitioned tables can be audited.');
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) tbl;
    -- (its registry row would outlive it, and name the next session's table)
    IF persistence OPERATOR(pg_catalog.=) 't' THEN
        RAISE EXCEPTION 'cannot audit "%": it is a temporary table', tbl USING ERRCODE = 'feature_not_supported',
            DETAIL = 'A temporary table is visible to its own session only, and its changes belong to no tenant''s history.',
            HINT = 'Audit permanent tables.';
    END IF;
    IF nsp OPERATOR(pg_catalog.=) 'tenant_rls' THEN
        RAISE EXCEPTION 'cannot audit the tables of tenant_rls itself' USING ERRCODE = 'feature_not_supported',
            HINT = 'Audit your application tables.';
    END IF;
    IF pg_catalog.array_position(columns, NULL) IS NOT NULL OR pg_catalog.array_position(exclude, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'column names must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Name columns of the table in columns and exclude.';
    END IF;
    FOREACH col IN ARRAY COALESCE(pg_catalog.array_cat(columns, exclude), '{}') LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
                          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl USING ERRCODE = 'undefined_column',
                HINT = 'Name columns of the table in columns and exclude.';
        END IF;
    END LOOP;

    -- Partitions below it that are audited on their own (attached before
    -- it was audited): CREATE TRIGGER below clones the row trigger into
    -- every partition and failed on these ("trigger ... already exists";
    -- review rev33a).  As ATTACH PARTITION does below an audited table
    -- (event_trigger.c), their own audit goes, and the clone records them
    -- with this table's columns.  (A clone, tgparentid <> 0, goes with the
    -- trigger it was cloned from; the levels nearest tbl come first.)
    FOR part IN
        SELECT t.tgrelid::pg_catalog.regclass
          FROM pg_catalog.pg_partition_tree(tbl) pt
          JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) pt.relid
         WHERE pt.level OPERATOR(pg_catalog.>) 0 AND NOT t.tgisinternal
           AND t.tgparentid OPERATOR(pg_catalog.=) 0
           AND t.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit'
           AND t.tgfoid OPERATOR(pg_catalog.=) 'tenant_rls.audit_trigger()'::pg_catalog.regprocedure
         ORDER BY pt.level
    LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                    WHERE t.tgrelid OPERATOR(pg_catalog.=) part AND t.tgparentid OPERATOR(pg_catalog.=) 0
                      AND t.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit') THEN
            RAISE NOTICE 'partition % was audited on its own; it is audited as a partition of % from now on', part, tbl
                USING DETAIL = 'Its own audit configuration was removed: the columns given here apply to it.';
            PERFORM tenant_rls.disable_audit(part);
            UPDATE tenant_rls.protected_table r
               SET managed = pg_catalog.jsonb_set(r.managed, '{audit}', 'false'::pg_catalog.jsonb)
              FROM pg_catalog.pg_class k
              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
             WHERE k.oid OPERATOR(pg_catalog.=) part
               AND r.schema_name OPERATOR(pg_catalog.=) n.nspname
               AND r.table_name OPERATOR(pg_catalog.=) k.relname
               AND r.managed OPERATOR(pg_catalog.->) 'audit' OPERATOR(pg_catalog.=) 'true'::pg_catalog.jsonb;
        END IF;
    END LOOP;

    INSERT INTO tenant_rls.audit_config AS c (schema_name, table_name, table_oid, columns, exclude)
    VALUES (nsp, rel, tbl, columns, exclude)
    ON CONFLICT (schema_name, table_name) DO UPDATE
        SET table_oid = excluded.table_oid, columns = excluded.columns, exclude = excluded.exclude,
            enabled_at = pg_catalog.now(), enabled_by = CURRENT_USER;

    -- Partitions ahead and the repair of the log's guard triggers
    -- (audit_maintain()) take locks on the log that last until this
    -- transaction ends: only in a superuser's own session (a DBA's
    -- enable_audit() or protect()), never in that of another role whose
    -- CREATE TABLE is protected automatically (it could keep its transaction
    -- open and block every tenant's audit reads, and every other CREATE
    -- TABLE, or after a restore every audited commit).  Elsewhere, the audit
    -- maintenance worker creates missing partitions in a transaction of its
    -- own (audit_maintain.c).  And only when this month's or the next one's
    -- partition is missing: creating the third month ahead, which the
    -- first superuser CREATE TABLE of every month did, held the log's lock
    -- until that migration committed (review rev41b); the worker creates
    -- the later months once next month's is missing.  (audit_maintain(0)
    -- then creates nothing, but still repairs.)  Not under SET ROLE to a
    -- role that is not a superuser either: the maintenance runs as that role.
    IF (SELECT pg_catalog.bool_and(r.rolsuper) FROM pg_catalog.pg_roles r
         WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER OR r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        PERFORM tenant_rls.audit_maintain(CASE WHEN EXISTS (
            SELECT FROM pg_catalog.generate_series(0, 1) i
             WHERE pg_catalog.to_regclass(pg_catalog.format('tenant_rls.%I', 'audit_batch_p' OPERATOR(pg_catalog.||)
                       pg_catalog.to_char(pg_catalog.date_trunc('month', pg_catalog.clock_timestamp() AT TIME ZONE 'UTC')
                                          OPERATOR(pg_catalog.+) pg_catalog.make_interval(months => i), 'YYYYMM'))) IS NULL)
            THEN 3 ELSE 0 END);
    ELSE
        BEGIN
            PERFORM tenant_rls._audit_maintain_request();
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;  -- a role granted enable_audit() only: the first write asks
        END;
    END IF;

    -- (re)create the triggers: this also invalidates the cached column lists.
    -- An ENABLE ALWAYS state is kept (a subscription's table: its apply
    -- worker runs with session_replication_role = replica,
    -- subscription_audit_not_always); a disabled or ENABLE REPLICA trigger,
    -- which ordinary sessions do not fire, is plain ENABLE again (lint()'s
    -- fix of audit_missing is this function: review rev25d).
    SELECT t.tgenabled INTO row_state FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND NOT t.tgisinternal
       AND t.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit';
    SELECT t.tgenabled INTO trunc_state FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND NOT t.tgisinternal
       AND t.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit_truncate';
    PERFORM tenant_rls.audit_drop_trigger(tbl, 'tenant_rls_audit');
    PERFORM tenant_rls.audit_drop_trigger(tbl, 'tenant_rls_audit_truncate');
    EXECUTE pg_catalog.format('CREATE TRIGGER tenant_rls_audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger()', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER tenant_rls_audit_truncate BEFORE TRUNCATE ON %s '
                              'FOR EACH STATEMENT EXECUTE FUNCTION tenant_rls.audit_trigger()', tbl);
    IF row_state OPERATOR(pg_catalog.=) 'A' THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER tenant_rls_audit', tbl);
    END IF;
    IF trunc_state OPERATOR(pg_catalog.=) 'A' THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER tenant_rls_audit_truncate', tbl);
    END IF;
    -- statement triggers are not cloned: every partition gets its own
    PERFORM tenant_rls.audit_sync_truncate_triggers(tbl);
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.enable_audit(regclass, text[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.enable_audit(regclass, text[], text[]) IS
    'records every change of the table in tenant_rls.audit_log (columns: only these; exclude: never these)';

CREATE FUNCTION tenant_rls.disable_audit(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    parent regclass;
    kept record;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the audited table.';
    END IF;
    IF NOT (pg_catalog.has_table_privilege('tenant_rls.audit_config', 'SELECT')
            AND pg_catalog.has_table_privilege('tenant_rls.audit_config', 'DELETE')) THEN
        RAISE EXCEPTION 'permission denied to change the audit configuration'
            USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'disable_audit() removes the table''s row of tenant_rls.audit_config, which this role may not change.',
            HINT = 'Run it as a superuser. Granting SELECT and DELETE on tenant_rls.audit_config lets a role stop the audit of every table.';
    END IF;
    -- a partition audited through its parent: its row trigger is a clone,
    -- which cannot be dropped on its own (PostgreSQL's 2BP01)
    parent := tenant_rls._trigger_origin(tbl, 'tenant_rls_audit');
    IF parent IS NOT NULL THEN
        RAISE EXCEPTION 'table % is audited through its parent %', tbl, parent
            USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'A partition of an audited table is audited as long as it is a partition of it.',
            HINT = 'Call tenant_rls.disable_audit() on the parent, or detach the partition first.';
    END IF;
    -- its inheritance children audited on their own, and the tables below
    -- them, do not record what it does not record: they keep that
    -- restriction (its lists bound them; without them, they recorded its
    -- excluded secret from then on, the value written meanwhile in the next
    -- change's old_row), as after ALTER TABLE ... NO INHERIT
    FOR kept IN SELECT k.relid, k.names
                  FROM pg_catalog.pg_inherits i
                  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid AND NOT c.relispartition
                 CROSS JOIN LATERAL tenant_rls._audit_keep_unrecorded(i.inhrelid::pg_catalog.regclass,
                                                                     ARRAY[tbl::pg_catalog.oid]) k
                 WHERE i.inhparent OPERATOR(pg_catalog.=) tbl
                 ORDER BY i.inhrelid
    LOOP
        RAISE NOTICE 'table % keeps the audit restrictions of %', kept.relid::pg_catalog.regclass, tbl
            USING DETAIL = pg_catalog.format('Columns %s, which the audit of %s did not record, were added to the exclude list of its audit configuration.',
                                             pg_catalog.array_to_string(kept.names, ', '), tbl),
                  HINT = pg_catalog.format('To record them, call tenant_rls.enable_audit() on %s with the lists it should have.',
                                           kept.relid::pg_catalog.regclass);
    END LOOP;
    PERFORM tenant_rls.audit_drop_trigger(tbl, 'tenant_rls_audit');
    PERFORM tenant_rls.audit_drop_trigger(tbl, 'tenant_rls_audit_truncate');
    -- the row naming it, or one with its oid whose names designate no table
    -- (a row naming another table is that table's, whatever its oid: a
    -- stale oid restored from another database)
    DELETE FROM tenant_rls.audit_config c
     WHERE (c.schema_name, c.table_name) OPERATOR(pg_catalog.=)
           (SELECT n.nspname, cl.relname FROM pg_catalog.pg_class cl
              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) cl.relnamespace
             WHERE cl.oid OPERATOR(pg_catalog.=) tbl)
        OR (c.table_oid OPERATOR(pg_catalog.=) tbl
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_class k
                              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
                             WHERE n.nspname OPERATOR(pg_catalog.=) c.schema_name
                               AND k.relname OPERATOR(pg_catalog.=) c.table_name));
    -- and from its partitions (unless still audited through another table)
    PERFORM tenant_rls.audit_sync_truncate_triggers(tbl);
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.disable_audit(regclass) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.disable_audit(regclass) IS 'stops auditing the table (the entries already logged stay)';

-- Verification and retention
CREATE FUNCTION tenant_rls.audit_verify(tenant text DEFAULT NULL)
    RETURNS TABLE (tenant text, ok boolean, entries bigint, first_bad_seq bigint, reason text)
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_verify';
REVOKE ALL ON FUNCTION tenant_rls.audit_verify(text) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_verify(text) IS
    'checks the hash chain of one tenant (NULL: every tenant) and names the first bad entry';

-- Are the purge anchors those the last purge recorded (its PURGE entry's
-- digest; audit_verify() checks the same)?  For audit_verify_head().
CREATE FUNCTION tenant_rls._audit_anchors_recorded() RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_anchors_recorded';
REVOKE ALL ON FUNCTION tenant_rls._audit_anchors_recorded() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._audit_anchors_recorded() IS
    'internal: whether tenant_rls.audit_anchor matches the digest the last audit_purge() recorded in its PURGE entry';

-- An exported chain head checked against the log (doc/audit.md, Limit under
-- Tamper evidence): audit_verify() proves a chain consistent, not that it is
-- the chain of yesterday; a superuser who rewrites its end and its head, or
-- deletes its newest batches and sets the head back, leaves one that
-- verifies.  A head exported to a place such a superuser cannot write must
-- still be there, with its hash: batch seq of the tenant, or, once purged,
-- the purge anchor when it is that batch.  A head purged is checked by its
-- logged_at, when exported: some purge recorded in the log (its PURGE entry,
-- in the chain without tenant) must have cut after it.  The hashes are
-- public values, compared as such.
-- audit_verify_head()'s wait for a purge under way, and its refusal of a
-- REPEATABLE READ snapshot from before a purge (as audit_verify(): a purge
-- drops partitions, which no snapshot hides; review rev48e)
CREATE FUNCTION tenant_rls._audit_log_settled() RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_log_settled';
REVOKE ALL ON FUNCTION tenant_rls._audit_log_settled() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._audit_log_settled() IS
    'internal: waits for a purge of the audit log under way (audit_verify_head())';

CREATE FUNCTION tenant_rls.audit_verify_head(tenant text, seq bigint, hash bytea,
                                             logged_at timestamptz DEFAULT NULL)
    RETURNS TABLE (ok boolean, reason text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t       text COLLATE "C" := audit_verify_head.tenant;
    n       bigint := audit_verify_head.seq;
    h       bytea := audit_verify_head.hash;
    lat     timestamptz := audit_verify_head.logged_at;
    k       bigint;
    copies  bigint;
    found_h bytea;
    last_cut timestamptz;
    head    tenant_rls.audit_chain%ROWTYPE;
    anchor  tenant_rls.audit_anchor%ROWTYPE;
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'tenant must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the tenant column of the exported head (the chain of batches without tenant is '''').';
    END IF;
    IF n IS NULL THEN
        RAISE EXCEPTION 'seq must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the seq column of the exported head.';
    END IF;
    IF h IS NULL THEN
        RAISE EXCEPTION 'hash must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the hash column of the exported head.';
    END IF;
    IF n OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'seq must be 1 or more, not %', n
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the seq column of the exported head: the batches of a chain are numbered from 1.';
    END IF;
    IF pg_catalog.length(h) OPERATOR(pg_catalog.<>) 32 THEN
        RAISE EXCEPTION 'hash must be 32 bytes long (a SHA-256 hash), not %', pg_catalog.length(h)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the hash column of the exported head (decode(''...'', ''hex'') for a hex export).';
    END IF;
    PERFORM tenant_rls._audit_log_settled();
    -- the batch, through the tenant's range of the audit_key index (a batch
    -- moved out of it is reported by audit_verify())
    k := tenant_rls.audit_tenant_key(t);
    SELECT pg_catalog.count(*), (pg_catalog.array_agg(b.hash))[1] INTO copies, found_h FROM tenant_rls.audit_batch b
     WHERE b.audit_key OPERATOR(pg_catalog.>=) k
       AND b.audit_key OPERATOR(pg_catalog.<=) (k OPERATOR(pg_catalog.+) 4294967295)
       AND COALESCE(b.tenant, '') OPERATOR(pg_catalog.=) t
       AND b.seq OPERATOR(pg_catalog.=) n;
    IF copies OPERATOR(pg_catalog.>) 1 THEN
        RETURN QUERY SELECT false, pg_catalog.format(
            'batch %s is in the log %s times: batches were inserted (audit_verify() names the first bad one)', n, copies);
        RETURN;
    ELSIF copies OPERATOR(pg_catalog.=) 1 THEN
        IF found_h OPERATOR(pg_catalog.=) h THEN
            RETURN QUERY SELECT true, pg_catalog.format('batch %s has the exported hash', n);
        ELSE
            RETURN QUERY SELECT false, pg_catalog.format(
                'batch %s does not have the exported hash: the chain was rewritten from batch %s or an earlier one', n, n);
        END IF;
        RETURN;
    END IF;
    SELECT * INTO anchor FROM tenant_rls.audit_anchor a WHERE a.tenant OPERATOR(pg_catalog.=) t;
    IF FOUND AND anchor.seq OPERATOR(pg_catalog.>=) n THEN
        IF NOT tenant_rls._audit_anchors_recorded() THEN
            RETURN QUERY SELECT false, pg_catalog.format(
                'batch %s was purged, but the purge anchors are not those the last purge recorded: anchors were added, changed or deleted (audit_verify() names the chains)', n);
            RETURN;
        END IF;
        -- a purge that removed it cut after its logged_at: the latest cut of
        -- the PURGE entries, in the chain without tenant
        IF lat IS NOT NULL THEN
            k := tenant_rls.audit_tenant_key('');
            SELECT pg_catalog.max((e.new_row OPERATOR(pg_catalog.->>) 'before')::timestamptz) INTO last_cut
              FROM tenant_rls.audit_batch b, tenant_rls.audit_entries(b.payload) e
             WHERE b.audit_key OPERATOR(pg_catalog.>=) k
               AND b.audit_key OPERATOR(pg_catalog.<=) (k OPERATOR(pg_catalog.+) 4294967295)
               AND b.tenant IS NULL
               AND b.schema_name OPERATOR(pg_catalog.=) 'tenant_rls'
               AND b.table_name OPERATOR(pg_catalog.=) 'audit_log'
               AND e.operation OPERATOR(pg_catalog.=) 'PURGE';
            IF last_cut IS NULL OR last_cut OPERATOR(pg_catalog.<=) lat THEN
                RETURN QUERY SELECT false, pg_catalog.format(
                    'batch %s was purged, but no purge recorded in the log removed batches logged as late as it (%s): batches were moved into the purged range before a purge',
                    n, lat);
                RETURN;
            END IF;
        END IF;
        IF anchor.seq OPERATOR(pg_catalog.>) n THEN
            RETURN QUERY SELECT NULL::boolean, pg_catalog.format(
                'batch %s was purged (the chain now starts after batch %s, purged at %s): check a head exported since',
                n, anchor.seq, anchor.purged_at);
        ELSIF anchor.hash OPERATOR(pg_catalog.=) h THEN
            RETURN QUERY SELECT true, pg_catalog.format('batch %s was purged; the purge anchor has the exported hash', n);
        ELSE
            RETURN QUERY SELECT false, pg_catalog.format(
                'the purge anchor (batch %s) does not have the exported hash: the anchor or the chain up to it was rewritten', n);
        END IF;
        RETURN;
    END IF;
    SELECT * INTO head FROM tenant_rls.audit_chain c WHERE c.tenant OPERATOR(pg_catalog.=) t;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, pg_catalog.format(
            'batch %s is not in the log and the tenant has no chain head: its batches and head were deleted', n);
    ELSIF head.seq OPERATOR(pg_catalog.<) n THEN
        RETURN QUERY SELECT false, pg_catalog.format(
            'batch %s is not in the log and the chain head (batch %s) is behind the exported head: the batches after batch %s were deleted and the head set back',
            n, head.seq, head.seq);
    ELSE
        RETURN QUERY SELECT false, pg_catalog.format(
            'batch %s is not in the log: it was deleted, or went with a partition of the log (audit_verify() says which)', n);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.audit_verify_head(text, bigint, bytea, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_verify_head(text, bigint, bytea, timestamptz) IS
    'checks a chain head exported earlier (tenant, seq, hash, logged_at of tenant_rls.audit_chain) against the log';

CREATE FUNCTION tenant_rls.audit_purge(before timestamptz) RETURNS bigint
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_purge';
REVOKE ALL ON FUNCTION tenant_rls.audit_purge(timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_purge(timestamptz) IS
    'drops the audit_batch partitions (and default-partition batches) older than before; records anchors and a PURGE entry';

-- The history key of a primary key value of a table, as the trigger computes
-- it (a hash of the key's values in their binary form).  PARALLEL UNSAFE:
-- it reads the table's audit configuration with the latest snapshot, which
-- PostgreSQL refuses in parallel mode, in the leader too (review rev41b).
CREATE FUNCTION tenant_rls.audit_row_key(tbl regclass, pk jsonb) RETURNS bigint
    LANGUAGE c STABLE STRICT PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_row_key';
COMMENT ON FUNCTION tenant_rls.audit_row_key(regclass, jsonb) IS
    'the audit_batch.row_key of a row of tbl with primary key pk (NULL: tbl has no primary key)';

-- Row history: for each tenant region of the key index that holds batches
-- the caller may read (found by a skip scan: one probe per region), the
-- batches of this row only and the batches of several rows of this table
-- (two probes of audit_key), rechecked against table_oid and row_key, then
-- the changes of the row in them.  For a table without a primary key, the
-- changes whose old or new image contains pk.
CREATE FUNCTION tenant_rls.audit_history(tbl regclass, pk jsonb)
    RETURNS SETOF tenant_rls.audit_log
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE k AS (
        SELECT tenant_rls.audit_row_key(tbl, pk) AS key,
               -- the low 32 bits of the key of this row, and of several rows of tbl
               tenant_rls.audit_key(NULL, tbl, tenant_rls.audit_row_key(tbl, pk))
                   OPERATOR(pg_catalog.&) 4294967295 AS row_low,
               tenant_rls.audit_key(NULL, tbl, NULL) OPERATOR(pg_catalog.&) 4294967295 AS many_low
    ),
    regions AS (
        -- (FROM k: the key is computed, and a pk that is no object refused,
        -- also when the log is empty)
        SELECT (SELECT b.audit_key OPERATOR(pg_catalog.>>) 32 FROM tenant_rls.audit_batch b
                 ORDER BY b.audit_key LIMIT 1) AS r
          FROM k
        UNION ALL
        SELECT (SELECT b.audit_key OPERATOR(pg_catalog.>>) 32 FROM tenant_rls.audit_batch b
                 WHERE b.audit_key OPERATOR(pg_catalog.>=) ((regions.r OPERATOR(pg_catalog.+) 1) OPERATOR(pg_catalog.<<) 32)
                 ORDER BY b.audit_key LIMIT 1)
          FROM regions
         WHERE regions.r IS NOT NULL AND regions.r OPERATOR(pg_catalog.<) 2147483647
    ),
    batches AS (
        SELECT b.* FROM regions, k, tenant_rls.audit_batch b
         WHERE regions.r IS NOT NULL
           AND b.audit_key OPERATOR(pg_catalog.=) ANY (ARRAY[(regions.r OPERATOR(pg_catalog.<<) 32) OPERATOR(pg_catalog.|) k.row_low,
                                                           (regions.r OPERATOR(pg_catalog.<<) 32) OPERATOR(pg_catalog.|) k.many_low])
           AND b.table_oid OPERATOR(pg_catalog.=) tbl
           AND (b.row_key OPERATOR(pg_catalog.=) k.key
                OR (b.row_key IS NULL AND (b.row_keys IS NULL OR k.key OPERATOR(pg_catalog.=) ANY (b.row_keys))))
    ),
    ents AS (
        SELECT b.logged_at, b.tenant, b.seq, e.entry, b.table_oid, b.schema_name, b.table_name,
               e.operation, e.row_pk, e.old_row, e.new_row, b.txid, e.stmt_at, b.db_user,
               b.db_session_user, b.app_user, b.application_name, b.client_addr, b.context_tenant, e.row_count,
               b.prev_hash, b.hash,
               -- the order of the history (below): the transaction's first batch
               pg_catalog.min(b.logged_at) OVER (PARTITION BY b.txid) AS tx_first,
               -- (not an entry of the row: false or NULL below)
               (NOT (e.row_pk OPERATOR(pg_catalog.=) pk
                    -- an UPDATE of the key: row_pk is the old key, the new one is row_pk
                    -- with the key columns of new_row
                    OR (e.operation OPERATOR(pg_catalog.=) 'UPDATE' AND e.row_pk IS NOT NULL
                        AND (SELECT pg_catalog.jsonb_object_agg(c.key, COALESCE(e.new_row OPERATOR(pg_catalog.->) c.key, c.value))
                               FROM pg_catalog.jsonb_each(e.row_pk) c) OPERATOR(pg_catalog.=) pk)
                    OR (e.row_pk IS NULL AND (e.old_row OPERATOR(pg_catalog.@>) pk OR e.new_row OPERATOR(pg_catalog.@>) pk))))
                   IS NOT FALSE AS other_entry
          FROM batches b
         CROSS JOIN LATERAL tenant_rls.audit_entries(b.payload) e
    )
    SELECT x.logged_at, x.tenant, x.seq, x.entry, x.table_oid, x.schema_name, x.table_name,
           x.operation, x.row_pk, x.old_row, x.new_row, x.txid, x.stmt_at, x.db_user,
           x.db_session_user, x.app_user, x.application_name, x.client_addr, x.context_tenant, x.row_count,
           x.prev_hash, x.hash
      FROM ents x
     WHERE NOT x.other_entry
        -- a TRUNCATE of the table after an entry of the row removed it too
        -- (review rev46c: the history went from one INSERT to the next of
        -- the same key)
        -- (the row's first entry found once: looked for per TRUNCATE, the
        -- history of a table truncated 8,000 times took 4.5 s, review rev46e)
        -- (by the order of the history: review rev47e, a TRUNCATE after the
        -- row's INSERT in one transaction was left out when its batch, of no
        -- tenant, was dated before the row's)
        OR (x.operation OPERATOR(pg_catalog.=) 'TRUNCATE'
            AND (SELECT (r.tx_first, r.txid, r.stmt_at, r.logged_at, COALESCE(r.tenant, ''), r.seq, r.entry) FROM ents r
                  WHERE NOT r.other_entry ORDER BY 1 LIMIT 1)
                OPERATOR(pg_catalog.<) (x.tx_first, x.txid, x.stmt_at, x.logged_at, COALESCE(x.tenant, ''), x.seq, x.entry))
     -- a transaction's changes are written as one batch per tenant, dated
     -- one after the other: a transaction's batches are ordered by its first
     -- one, and its changes by their statements' start, so that a row moved
     -- to another tenant and back is listed in the order of its changes, not
     -- batch by batch (review rev47b)
     ORDER BY x.tx_first, x.txid, x.stmt_at, x.logged_at, x.tenant, x.seq, x.entry
$$;
COMMENT ON FUNCTION tenant_rls.audit_history(regclass, jsonb) IS
    'the audit entries of one row, oldest first (pk: the primary key as jsonb, e.g. ''{"id": 42}'')';

-- updated_at maintenance (A5)
CREATE FUNCTION tenant_rls.updated_at_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'tenant_rls_updated_at_trigger';
COMMENT ON FUNCTION tenant_rls.updated_at_trigger() IS 'sets a timestamp column to now() on UPDATE; attach with enable_updated_at()';

-- The trigger enable_updated_at() attaches, defined here only: enable_updated_at()
-- and the ddl_command_end event trigger (RENAME COLUMN of the maintained
-- column, event_trigger.c) call this.  The argument names the column (the C
-- function looks it up by name: attribute numbers differ between a partitioned
-- table and its partitions, which get clones of the trigger with the same
-- argument).  The WHEN clause is always true and is there for its side effect:
-- PostgreSQL records that the trigger depends on the columns its WHEN clause
-- reads, so it refuses ALTER COLUMN ... TYPE of the column ("cannot alter type
-- of a column used in a trigger definition") and DROP COLUMN without CASCADE
-- (CASCADE drops the trigger and its clones), as for any object that depends
-- on a column, whether or not our event triggers run (refusing in the event
-- triggers instead would not hold while they do not run, and would be a rule
-- of ours rather than PostgreSQL's); the clause stores attribute numbers, so
-- it follows a rename by itself.  The planner folds
-- "x IS NULL OR true" to true when the statement starts (a 500,000-row UPDATE
-- took the same time with and without the clause, within noise).
-- CREATE OR REPLACE keeps the trigger's oid and comment; on a partitioned
-- table it replaces the clones too (and adopts a partition's own trigger of
-- that name).
CREATE FUNCTION tenant_rls.updated_at_attach(tbl regclass, "column" name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER tenant_rls_updated_at BEFORE UPDATE ON %s '
                              'FOR EACH ROW WHEN (NEW.%I IS NULL OR true) '
                              'EXECUTE FUNCTION tenant_rls.updated_at_trigger(%L)', tbl, "column", "column");
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.updated_at_attach(regclass, name) FROM PUBLIC;

CREATE FUNCTION tenant_rls.enable_updated_at(tbl regclass, "column" name DEFAULT 'updated_at') RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
DECLARE
    typ regtype;
    base regtype;
    generated "char";
    parent regclass;
    other record;
BEGIN
    IF tbl IS NULL OR "column" IS NULL THEN
        RAISE EXCEPTION 'table and column must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the table and the name of its timestamp column.';
    END IF;
    IF NOT pg_catalog.has_function_privilege('tenant_rls.updated_at_attach(pg_catalog.regclass, pg_catalog.name)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function tenant_rls.updated_at_attach(regclass, name)'
            USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'enable_updated_at() creates the trigger through it.',
            HINT = 'Run it as a superuser, or grant EXECUTE on tenant_rls.updated_at_attach(regclass, name) too.';
    END IF;
    PERFORM tenant_rls._audited_table_check(tbl, 'Only ordinary and partitioned tables get an updated_at trigger.');
    SELECT a.atttypid, a.attgenerated INTO typ, generated FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) "column"
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF typ IS NULL THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', "column", tbl USING ERRCODE = 'undefined_column',
            HINT = 'Add a timestamptz column first, or name an existing one.';
    END IF;
    -- (a domain over timestamptz or timestamp: the trigger checks the
    -- domain's constraints on the value it sets)
    base := typ;
    WHILE (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) base) OPERATOR(pg_catalog.=) 'd' LOOP
        SELECT t.typbasetype INTO base FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) base;
    END LOOP;
    IF base NOT IN ('timestamptz'::regtype, 'timestamp'::regtype) THEN
        RAISE EXCEPTION 'column "%" of table % has type %, not timestamptz or timestamp', "column", tbl, typ
            USING ERRCODE = 'datatype_mismatch', HINT = 'Use a timestamptz column.';
    END IF;
    IF generated OPERATOR(pg_catalog.<>) '' THEN
        RAISE EXCEPTION 'column "%" of table % is a generated column', "column", tbl
            USING ERRCODE = 'generated_always',
            DETAIL = 'A generated column is computed from its expression: no trigger can set it.',
            HINT = 'Name a column without GENERATED ALWAYS AS.';
    END IF;
    -- a partition's clone of its parent's trigger cannot be replaced on its
    -- own (PostgreSQL's 42710)
    parent := tenant_rls._trigger_origin(tbl, 'tenant_rls_updated_at');
    IF parent IS NOT NULL THEN
        RAISE EXCEPTION 'table % gets its updated_at trigger from its parent %', tbl, parent
            USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'A partition of a table with an updated_at trigger has that trigger, for the parent''s column, as long as it is a partition of it.',
            HINT = 'Call tenant_rls.enable_updated_at() on the parent, or detach the partition first.';
    END IF;
    -- a partition's own trigger for another column would silently become a
    -- clone setting this one: refused, as ATTACH PARTITION refuses it
    SELECT t.tgrelid::regclass::text AS part,
           pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 1) AS col
      INTO other
      FROM pg_catalog.pg_partition_tree(tbl) p
      JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) p.relid
     WHERE p.relid OPERATOR(pg_catalog.<>) tbl
       AND t.tgname OPERATOR(pg_catalog.=) 'tenant_rls_updated_at' AND t.tgparentid OPERATOR(pg_catalog.=) 0
       AND t.tgargs OPERATOR(pg_catalog.<>) (pg_catalog.convert_to("column"::text, pg_catalog.getdatabaseencoding())
                                            OPERATOR(pg_catalog.||) '\x00'::bytea)
     ORDER BY p.level, 1 LIMIT 1;
    IF other.part IS NOT NULL THEN
        RAISE EXCEPTION 'cannot maintain column "%" of table %: its partition % has its own updated_at trigger', "column", tbl, other.part
            USING ERRCODE = 'duplicate_object',
            DETAIL = pg_catalog.format('The trigger of %s sets column "%s", and a partition gets the trigger of its partitioned table.', other.part, other.col),
            HINT = pg_catalog.format('Run SELECT tenant_rls.disable_updated_at(%L); first.', other.part);
    END IF;
    PERFORM tenant_rls.updated_at_attach(tbl, "column");
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.enable_updated_at(regclass, name) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.enable_updated_at(regclass, name) IS
    'maintains a timestamp column (default updated_at) on every UPDATE of the table';

CREATE FUNCTION tenant_rls.disable_updated_at(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    parent regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the table whose updated_at trigger to remove.';
    END IF;
    -- a partition's clone of its parent's trigger cannot be dropped on its own
    -- (PostgreSQL's 2BP01)
    parent := tenant_rls._trigger_origin(tbl, 'tenant_rls_updated_at');
    IF parent IS NOT NULL THEN
        RAISE EXCEPTION 'table % gets its updated_at trigger from its parent %', tbl, parent
            USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'A partition of a table with an updated_at trigger has that trigger as long as it is a partition of it.',
            HINT = 'Call tenant_rls.disable_updated_at() on the parent, or detach the partition first.';
    END IF;
    PERFORM tenant_rls.audit_drop_trigger(tbl, 'tenant_rls_updated_at');
END
$$;
REVOKE ALL ON FUNCTION tenant_rls.disable_updated_at(regclass) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.disable_updated_at(regclass) IS 'removes the updated_at trigger of the table';

-- The audit tables and functions keep exactly the privileges granted above,
-- whatever the default privileges of the role running CREATE EXTENSION
-- (ALTER DEFAULT PRIVILEGES ... GRANT ... ON TABLES / ON FUNCTIONS TO r would
-- give r SELECT on the partitions, INSERT or TRIGGER on the log and the chain
-- tables, UPDATE of audit_config, EXECUTE on audit_purge() or disable_audit()):
-- src/sql/99_privileges.sql, last, revokes every privilege held by a role
-- other than the owner and PUBLIC from every object of the extension, and
-- grants EXECUTE TO PUBLIC explicitly on the audit functions everybody runs
-- (audit_trigger(), audit_guard(), updated_at_trigger(), the log readers):
-- ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC must not
-- make every audited write fail.  (audit_create_partition() does the same
-- for each partition it creates later.)
