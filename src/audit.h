/*
 * audit.h -- the audit log: batches, their payload, how they are written.
 *
 * audit.c          the capture trigger (encodes each change), the guard
 *                  trigger, updated_at, the history key of a primary key
 * audit_payload.c  the payload format: encoding of values, the decoder
 *                  tenant_rls.audit_entries() behind the audit_log view
 * audit_chain.c    the pending batches of a transaction, the per-tenant hash
 *                  chain (audit_chain.h: its internals that the next five
 *                  files use)
 * audit_log.c      a batch's row: context columns, audit_key, the log's
 *                  partitions and indexes, the writer
 * audit_message.c  deferred delivery's WAL message, and audit_deliver(),
 *                  which chains and writes the delivered batches
 * audit_verify.c   audit_verify(): every chain recomputed from the log
 * audit_purge.c    audit_purge(): retention by whole partitions, anchors
 * audit_maintain.c the background worker creating the log's partitions ahead,
 *                  and the move of a month's batches out of the default one
 * audit_context.c  the tenant context of the statement whose entries are made
 *
 * One row of tenant_rls.audit_batch holds the changes one transaction made to
 * one table for one tenant (a "batch"), encoded in its payload; the view
 * tenant_rls.audit_log shows one row per change.
 */
#ifndef TENANT_RLS_AUDIT_H
#define TENANT_RLS_AUDIT_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/relcache.h"
#include "datatype/timestamp.h"

/*
 * The columns of tenant_rls.audit_batch, in table order (src/sql/40_audit.sql).
 * Every column before AB_PREV_HASH is covered by the batch's hash; audit_key
 * follows from tenant, table_oid and row_key (audit_log_key()).
 */
typedef enum AuditBatchAttr
{
	AB_LOGGED_AT = 0,
	AB_TENANT,
	AB_SEQ,
	AB_TABLE_OID,
	AB_SCHEMA_NAME,
	AB_TABLE_NAME,
	AB_TXID,
	AB_DB_USER,
	AB_DB_SESSION_USER,
	AB_APP_USER,
	AB_APPLICATION_NAME,
	AB_CLIENT_ADDR,
	AB_CONTEXT_TENANT,
	AB_ENTRIES,
	AB_PAYLOAD,
	AB_ROW_KEY,
	AB_ROW_KEYS,
	AB_PREV_HASH,
	AB_HASH,
	AB_AUDIT_KEY,
	AB_NATTS
} AuditBatchAttr;

#define AUDIT_HASH_LEN 32

/* ---------------------------------------------------------------------
 * Payload (audit_payload.c has the format)
 * ---------------------------------------------------------------------
 */

/* entry operations */
#define AUDIT_OP_INSERT		'I'
#define AUDIT_OP_UPDATE		'U'
#define AUDIT_OP_DELETE		'D'
#define AUDIT_OP_TRUNCATE	'T'
#define AUDIT_OP_PURGE		'P'

/* entry flags */
#define AUDIT_EF_ROW_COUNT	0x01
#define AUDIT_EF_DOC		0x02	/* a JSON document: the new_row of PURGE */
#define AUDIT_EF_KEY		0x04
#define AUDIT_EF_OLD		0x08
#define AUDIT_EF_NEW		0x10

/* layout column flags */
#define AUDIT_CF_PK			0x01
#define AUDIT_CF_AUDITED	0x02

/* how a column's values are encoded */
#define AUDIT_KIND_BINARY	'B'		/* the datum's bytes (a fixed set of types) */
#define AUDIT_KIND_JSON		'J'		/* the text of to_json(value) (jsonb: its text) */

typedef struct AuditColType
{
	Oid			typoid;			/* base type */
	int32		typmod;
	int16		typlen;
	bool		typbyval;
	char		kind;			/* AUDIT_KIND_* */
	FmgrInfo   *to_json;		/* AUDIT_KIND_JSON, unless the type is jsonb */
} AuditColType;

extern void audit_coltype_init(AuditColType *ct, Oid typoid, int32 typmod, MemoryContext cxt);

/*
 * Appending to a payload, inline: the trigger appends a few bytes at a time,
 * several times per column and row.  (enlargeStringInfo() keeps room for a
 * terminating zero, hence >=.)
 */
static inline void
audit_put_bytes(StringInfo buf, const void *p, int n)
{
	if (buf->len + n >= buf->maxlen)
		enlargeStringInfo(buf, n);
	memcpy(buf->data + buf->len, p, n);
	buf->len += n;
}

static inline void
audit_put_u8(StringInfo buf, uint8 v)
{
	audit_put_bytes(buf, &v, sizeof(v));
}

static inline void
audit_put_u16(StringInfo buf, uint16 v)
{
	audit_put_bytes(buf, &v, sizeof(v));
}

static inline void
audit_put_u32(StringInfo buf, uint32 v)
{
	audit_put_bytes(buf, &v, sizeof(v));
}

static inline void
audit_put_i64(StringInfo buf, int64 v)
{
	audit_put_bytes(buf, &v, sizeof(v));
}

/*
 * True while audit_put_value() converts a value to jsonb: for a type with a
 * cast to json that is SQL of the user's, the conversion could write to an
 * audited table, and the audit trigger must then refuse to run (it encodes
 * one change at a time, in buffers of its own).
 */
extern bool audit_converting;

/* the header of a payload: magic and column count (then one layout column each) */
extern void audit_put_layout_header(StringInfo buf, int ncols);
extern void audit_put_layout_col(StringInfo buf, const char *name, const AuditColType *ct, uint8 flags);
/* a tag byte (null or not) and the encoded value */
extern void audit_put_value(StringInfo buf, const AuditColType *ct, Datum v, bool isnull);

/* ---------------------------------------------------------------------
 * Batches (audit_chain.c)
 * ---------------------------------------------------------------------
 */

/* what a batch is about: entries go to the same batch only if all match */
typedef struct AuditTarget
{
	Oid			table_oid;
	const NameData *schema_name;
	const NameData *table_name;
	uint64		layout_id;		/* identifies layout (a new one per cache rebuild) */
	const char *layout;			/* the payload header of the relation */
	int			layout_len;
} AuditTarget;

/*
 * Queue one encoded entry of the given tenant (NULL: none), made by a session
 * in the tenant context "context" (NULL: none).  keys[nkeys]:
 * the history keys of the row the entry is about (none: no primary key, two:
 * an UPDATE of the primary key, old and new).  cid: the command that made
 * the change (InvalidCommandId: unknown), which orders the entries of a
 * batch.  Chained and written when the transaction commits,
 * under the tenant's lock.
 */
extern void audit_append_entry(const char *tenant, const char *context, const AuditTarget *target,
							   const char *entry, int len, int nkeys, const int64 *keys,
							   CommandId cid);

/*
 * audit_context.c: the tenant context of the statement whose AFTER triggers
 * fire, as it ran (NULL: none; *trusted: strict mode trusts it).  The
 * entries of a statement that cleared its context record the one it ran
 * with.
 */
extern const char *audit_statement_context(bool *trusted);
extern uint64 audit_utility_statement_id(void);
extern void audit_context_assigned(const char *newval, bool trusted);	/* strict.c's assign hook */
extern void audit_context_init(void);	/* tenant_rls_audit_init() */

/* a palloc'd name Datum */
extern Datum audit_name_datum(const char *s);
extern Oid	audit_trigger_origin(Oid trigoid, Oid relid);	/* audit.c: the table a cloned trigger comes from */
extern void audit_record_created_rows(Oid relid);	/* audit.c: CREATE TABLE AS's rows (event_trigger.c) */
extern bool audit_recording_created_rows;	/* ... running: owner_code.c refuses utility statements */

/*
 * Set only while tenant_rls.audit_purge() (audit_purge.c) or the move of a
 * month's batches out of the default partition (audit_maintain.c) runs: the
 * guard trigger then lets their own statements through.
 */
extern bool audit_purge_sanctioned;

/* relcache callback of audit_log.c (forgets cached relation OIDs) */
extern void audit_log_relcache_callback(Datum arg, Oid relid);
extern void audit_chain_shmem_init(void);	/* _PG_init, when preloaded */

/* audit_maintain.c: the worker that creates the log's partitions ahead */
extern bool audit_maintain_worker;
extern void audit_maintain_init(void);	/* _PG_init */
extern void audit_request_maintenance(void);
extern bool audit_next_partition_missing(TimestampTz ts);	/* audit_log.c */
/* audit_chain.c: PREPARE TRANSACTION, COMMIT / ROLLBACK PREPARED (audit_delivery.c's hook) */
extern void audit_chain_preparing(const char *gid);
extern void audit_chain_finished_prepared(const char *gid, bool committed);

#endif							/* TENANT_RLS_AUDIT_H */
