/*
 * audit_chain.h -- what the log's writer (audit_chain.c) shares with the
 * files that read the log back or reshape it: audit_verify.c,
 * audit_purge.c and audit_maintain.c.  Not for the rest of the extension
 * (audit.h is).
 */
#ifndef TENANT_RLS_AUDIT_CHAIN_H
#define TENANT_RLS_AUDIT_CHAIN_H

#include "postgres.h"

#include "pgtime.h"
#include "access/tupdesc.h"
#include "storage/lock.h"

#include "audit.h"

/*
 * The OIDs of schema tenant_rls, of the log (audit_batch), its default
 * partition and the chain heads (audit_chain), set by audit_lookup_oids()
 * (which fails if the extension or one of them is missing) and forgotten on
 * any invalidation of one of them.
 */
extern Oid	audit_nsp;
extern Oid	audit_log_oid;
extern Oid	audit_default_oid;
extern Oid	audit_chain_oid;
extern void audit_lookup_oids(void);

/* the columns of audit_batch in table order, for SELECT lists */
#define AUDIT_BATCH_COLUMNS \
	"logged_at, tenant, seq, table_oid, schema_name, table_name, txid, db_user, " \
	"db_session_user, app_user, application_name, client_addr, context_tenant, entries, payload, " \
	"row_key, row_keys, prev_hash, hash, audit_key"

/* refuses a log whose columns are not those this library writes */
extern void audit_check_batch_desc(TupleDesc desc, const char *relname);
/* hash of a batch (its audit_batch columns) chained after prev */
extern void audit_batch_hash(const uint8 *prev, const Datum *values, const bool *nulls, uint8 *out);
/* copies a 32-byte hash out of a bytea; false if it is not 32 bytes */
extern bool audit_get_hash(Datum d, uint8 *out);
extern int64 audit_tenant_key(const char *tenant, size_t len);
extern int64 audit_log_key(const char *tenant, size_t len, Oid table_oid, bool has_row_key, int64 row_key);

/* monthly partitions audit_batch_pYYYYMM */
extern void audit_partition_name(const struct pg_tm *tm, char *name);
extern void audit_next_month(struct pg_tm *tm);
extern Oid	audit_log_partition(const char *name, Oid nsp, Oid parent);

/* the chain locks (one per tenant, or the whole chain table) */
extern uint64 audit_chain_lock_tag(const char *key, LOCKTAG *tag);
extern bool audit_all_chains_locked(Oid chains);

/* audit_purge()'s anchors (tenant_rls.audit_anchor) and their digest */
typedef struct AnchorRow
{
	char	   *tenant;
	int64		seq;
	bytea	   *hash;
} AnchorRow;
extern AnchorRow *audit_read_anchors(bool read_only, int *n);
extern bool audit_digest_anchors(const AnchorRow *rows, int n, char *hex);
extern bool audit_anchors_digest(bool read_only, char *hex);
/* audit_verify.c: is this digest the one the last PURGE entry recorded? */
extern bool audit_digest_is_recorded(bool have, const char *hex, bool read_only);

/* the transaction's state, for audit_purge() */
extern bool audit_chain_deferring(void);
extern void audit_chain_purging(void);
/* audit_purge.c: its digests of this transaction, at (sub)transaction end */
extern void audit_purge_xact_end(void);
extern void audit_purge_subxact_end(bool aborted, int level);

#endif							/* TENANT_RLS_AUDIT_CHAIN_H */
