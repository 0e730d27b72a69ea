/*
 * audit_chain.h -- the internal interface of the files that write the audit
 * log (audit_chain.c: the chain; audit_log.c: the rows; audit_message.c:
 * deferred delivery), read it back or reshape it (audit_verify.c,
 * audit_purge.c, audit_maintain.c).  Not for the rest of the extension
 * (audit.h is).
 */
#ifndef TENANT_RLS_AUDIT_CHAIN_H
#define TENANT_RLS_AUDIT_CHAIN_H

#include "postgres.h"

#include "access/genam.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "pgtime.h"
#include "storage/lock.h"
#include "utils/hsearch.h"
#include "utils/inet.h"
#include "utils/rel.h"
#include "utils/tuplesort.h"

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

/* ---------------------------------------------------------------------
 * Batches and their writer, shared with audit_message.c (deferred delivery)
 * ---------------------------------------------------------------------
 */
/*
 * The context of a batch delivered from the WAL (audit_message.c): what
 * audit_fill_batch_context() took in the writer's backend when it committed.
 */
typedef struct BatchContext
{
	TimestampTz logged_at;
	int64		txid;
	text	   *session_user;
	text	   *application_name;	/* NULL: none */
	inet	   *client_addr;	/* NULL: none */
} BatchContext;

/*
 * The log writer of one flush: the partition, its indexes and their IndexInfo
 * stay open from one entry to the next (locks are kept to the end of the
 * transaction anyway); a new month opens the next partition.
 */
typedef struct LogWriter
{
	MemoryContext cxt;
	Relation	rel;			/* NULL: nothing open */
	Oid			oid;
	int			nidx;
	Relation   *idx;
	IndexInfo **ii;
} LogWriter;

/*
 * A batch: the entries of one tenant, table, layout, current_user,
 * application user, tenant context and savepoint level, queued by this
 * transaction (audit_chain.c) or parsed from a deferred message
 * (audit_message.c).
 */
typedef struct PendingBatch
{
	int			level;			/* subtransaction nesting level */
	char	   *key;			/* tenant, '' for none */
	bool		has_tenant;
	Oid			table_oid;
	NameData	schema_name;
	NameData	table_name;
	uint64		layout_id;
	Oid			db_user;
	char	   *db_user_name;	/* taken when queued: the role may be gone at commit */
	char	   *app_user;		/* NULL: none */
	char	   *context_tenant; /* the session's tenant context; NULL: none */
	StringInfoData payload;		/* layout, then the entries */
	int32		nentries;
	int64	   *keys;			/* history keys of the entries */
	int			nkeys;
	int			maxkeys;
	/*
	 * Per entry: the command that made it, when it was made in the
	 * transaction (entries_made), its offset in payload, its first key in
	 * keys (an entry's keys are those up to the next entry's first; in that
	 * order until audit_write_batch() sorts them)
	 */
	CommandId  *cids;
	uint64	   *made;
	uint32	   *offs;
	uint32	   *kofs;
	int			maxentries;
	bool		unsorted;		/* commands out of order: audit_batch_settle() */
	/*
	 * Or a run of spilled batches (spill_pending()): run_count batches of
	 * this level, serialised at [spill_offset, spill_offset + spill_len) of
	 * the spill file, run_keys their distinct tenants (for the locks at
	 * commit); the fields above are unused then (key "").
	 */
	bool		spilled;
	int			run_count;
	off_t		spill_offset;
	Size		spill_len;
	List	   *run_keys;
} PendingBatch;

/*
 * Tracking a transaction's entries per tenant in the order they are written
 * (the queue's batches in turn, or a delivered transaction's messages): the
 * latest (command, made) so far, and whether an entry that comes later goes
 * before it (TenantOrder; ordinal >= 0: the tenant's place in *disordered).
 * A batch's entries are in order (audit_batch_settle()): its span is its
 * first and last.  A batch that tells no commands (a message of an older
 * format) is not tracked.
 */
typedef struct EntrySpan
{
	const char *key;
	CommandId	first_cid;
	uint64		first_made;
	CommandId	last_cid;
	uint64		last_made;
} EntrySpan;

/*
 * Merging a transaction's entries of some tenants in command order, then as
 * made (what queue_in_command_order() does in memory), where some were
 * written out early: spilled (write_in_command_order()), or, with deferred
 * delivery, sent in earlier messages (audit_deliver()).  Each entry goes into
 * a tuplesort as a bytea that sorts by the tenant's ordinal, the command and
 * when it was made (big-endian, compared as bytes), then carries its context
 * (an index into contexts), its keys and its bytes; the sort keeps
 * PENDING_FLUSH_BYTES in memory, the rest in temporary files.  The entries
 * come out grouped into batches again, a new one where the context changes
 * or past PENDING_FLUSH_BYTES.
 */
typedef struct EntryMerge
{
	Tuplesortstate *ts;
	MemoryContext cxt;
	List	   *contexts;		/* PendingBatch * of no entries: each context met */
	List	   *batch_ctxs;		/* theirs: BatchContext * (NULL: this transaction's) */
	List	   *batch_ctx_ids;	/* and its id (the message's number) */
	HTAB	   *by_hash;		/* context_hash() -> MergeContexts */
	StringInfoData buf;
} EntryMerge;

/* the running head of a tenant's chain in this transaction (audit_chain.c) */
typedef struct ChainState ChainState;

/*
 * A transaction's queue of this size moves to the spill file (or, deferred,
 * into the WAL); a batch takes no more entries past it.
 */
#define PENDING_FLUSH_BYTES (32 * 1024 * 1024)

/* audit_log.c: a batch's row */
extern const char *audit_app_user(void);
extern Datum audit_user_name_datum(Oid roleid, int slot);
extern void audit_fill_batch_context(Datum *values, bool *nulls, const BatchContext *ctx);
extern void audit_insert_index_entries(Relation rel, HeapTuple tup);
extern void audit_log_writer_write(LogWriter *w, Datum *values, bool *nulls);
extern void audit_log_writer_close(LogWriter *w);

/* audit_chain.c */
extern ChainState *audit_chain_state(const char *key);
extern void audit_lock_chains_delivering(List *keys);
extern void audit_write_batch(LogWriter *w, ChainState *cs, PendingBatch *pb, int level,
							  const BatchContext *ctx);
extern int	audit_key_cmp(const ListCell *a, const ListCell *b);

/* building a batch */
extern void audit_batch_reserve(PendingBatch *pb, int more);
extern void audit_batch_add_keys(PendingBatch *pb, int nkeys, const int64 *keys);
extern void audit_batch_add_entry(PendingBatch *pb, const char *entry, int len, CommandId cid,
								  uint64 made, int nkeys, const int64 *keys);
extern void audit_batch_settle(PendingBatch *pb);
extern Size audit_batch_bytes(PendingBatch *pb);

/*
 * Entries in command order: tracking, and the merge.  (cid, made) before
 * (cid2, made2): the order of a tenant's entries.
 */
static inline bool
entry_before(CommandId cid, uint64 made, CommandId cid2, uint64 made2)
{
	return cid < cid2 || (cid == cid2 && made < made2);
}

extern bool audit_batch_span(const PendingBatch *pb, EntrySpan *sp);
extern void audit_note_order(HTAB **order, List **disordered, MemoryContext cxt, const EntrySpan *sp);
extern int	audit_order_ordinal(HTAB *order, List *disordered, const char *key);
extern void audit_merge_begin(EntryMerge *m, MemoryContext parent);
extern void audit_merge_put(EntryMerge *m, const PendingBatch *pb, uint32 ordinal,
							const BatchContext *bc, int bc_id);
extern int	audit_merge_write(EntryMerge *m, LogWriter *w, int level);

/* audit_message.c: the batches of this commit into the WAL */
extern bool audit_defer_fits(List *batches, bool early);
extern bool audit_defer_batches(List *batches);

#endif							/* TENANT_RLS_AUDIT_CHAIN_H */
