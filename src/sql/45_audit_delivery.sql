-- Deferred delivery of audit batches through the WAL (audit_delivery.c).
-- With tenant_rls.audit_delivery = deferred, a committing transaction writes
-- its batches into the WAL as one signed message; a background worker of the
-- database writes them into the log after the commit, in commit order.

-- The worker's progress: the end of the last commit record whose batches are
-- in the log, written in the same transaction as those batches.  Not dumped:
-- it is a position in this cluster's WAL.
-- restart_lsn and started are what a standby promoted after a failover
-- (or a restored base backup) has of the delivery of its primary, whose slot
-- it does not have: audit_delivery_start() reads on from restart_lsn if that
-- WAL is still here, and lint() reports audit_delivery_lost until then.
CREATE TABLE tenant_rls.audit_delivery_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    applied_lsn pg_lsn NOT NULL,
    restart_lsn pg_lsn,
    started boolean NOT NULL DEFAULT false,
    started_in oid,
    key_id bytea
);
INSERT INTO tenant_rls.audit_delivery_state (id, applied_lsn) VALUES (true, '0/0');
REVOKE ALL ON tenant_rls.audit_delivery_state FROM PUBLIC;
COMMENT ON TABLE tenant_rls.audit_delivery_state IS
    'deferred audit delivery: the WAL position up to which committed batches are in the log';
COMMENT ON COLUMN tenant_rls.audit_delivery_state.applied_lsn IS
    'every transaction that committed before this WAL position has its batches in the log';
COMMENT ON COLUMN tenant_rls.audit_delivery_state.restart_lsn IS
    'the WAL position from which the worker must read to find every batch not in the log yet';
COMMENT ON COLUMN tenant_rls.audit_delivery_state.started IS
    'audit_delivery_start() was called and audit_delivery_stop() was not since';
COMMENT ON COLUMN tenant_rls.audit_delivery_state.started_in IS
    'the database in which audit_delivery_start() was called (another one in a copy made with CREATE DATABASE ... TEMPLATE)';
COMMENT ON COLUMN tenant_rls.audit_delivery_state.key_id IS
    'the id of the delivery key (tenant_rls_audit.key) of the server where audit_delivery_start() was last called: a server with another key rejects the messages signed with it';

CREATE FUNCTION tenant_rls.audit_delivery_start() RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_delivery_start';
REVOKE ALL ON FUNCTION tenant_rls.audit_delivery_start() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_delivery_start() IS
    'creates the replication slot and starts the worker that delivers deferred audit batches of this database (needs shared_preload_libraries)';

CREATE FUNCTION tenant_rls.audit_delivery_stop(timeout interval DEFAULT '1 min') RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_delivery_stop';
REVOKE ALL ON FUNCTION tenant_rls.audit_delivery_stop(interval) FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_delivery_stop(interval) IS
    'stops deferring: waits until every deferred batch is in the log, then stops the worker and drops its replication slot';

CREATE FUNCTION tenant_rls.audit_delivery_wait(timeout interval DEFAULT '1 min') RETURNS boolean
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_delivery_wait';
COMMENT ON FUNCTION tenant_rls.audit_delivery_wait(interval) IS
    'waits until every audited change committed before the call is in the audit log; false on timeout';

CREATE FUNCTION tenant_rls.audit_delivery_status(
    OUT delivery text, OUT worker_running boolean, OUT worker_pid integer, OUT slot_name text,
    OUT delivered_lsn pg_lsn, OUT lag_bytes bigint, OUT pending_transactions bigint,
    OUT batches_delivered bigint, OUT messages_rejected bigint,
    OUT oldest_pending_xid xid, OUT oldest_pending_since timestamptz)
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_delivery_status';
REVOKE ALL ON FUNCTION tenant_rls.audit_delivery_status() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls.audit_delivery_status() IS
    'deferred audit delivery of this database: worker, slot, how far it has delivered, rejected messages';

-- the id of this server's delivery key (NULL: none usable), for lint()
CREATE FUNCTION tenant_rls._audit_delivery_key_id() RETURNS bytea
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'tenant_rls_audit_delivery_key_id';
REVOKE ALL ON FUNCTION tenant_rls._audit_delivery_key_id() FROM PUBLIC;
COMMENT ON FUNCTION tenant_rls._audit_delivery_key_id() IS
    'the id of this server''s deferred delivery key (tenant_rls_audit.key), which audit_delivery_start() records in audit_delivery_state; NULL without a usable key';
