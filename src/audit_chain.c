/*
 * audit_chain.c -- the pending batches of a transaction and the per-tenant
 * hash chain.
 *
 * The trigger (audit.c) appends each encoded change to a batch of the current
 * transaction (audit_append_entry): one per tenant, table, layout,
 * current_user, application user and savepoint level, in the order the
 * changes were made.  Every batch belongs to the chain of its tenant (batches
 * without a tenant form one more chain, keyed '' internally):
 *
 *     hash(n) = SHA-256(hash(n-1) || canonical bytes of batch n)
 *
 * with seq numbers 1, 2, 3, ... per tenant.  The last (seq, hash) of every
 * tenant is kept in tenant_rls.audit_chain.
 *
 * The batches are chained and written just before the transaction commits
 * or prepares (flush_pending): one row of tenant_rls.audit_batch and one
 * index entry per batch, however many rows it changed.  The writer takes a
 * transaction-level lock per tenant, keyed by a hash of the tenant, in sorted
 * order, reads each head, appends the batches and writes the heads; the
 * locks end with the commit.  So the chain order is the commit order, two
 * transactions of one tenant never fork the chain, writers of different
 * tenants never wait on each other, and no writer waits for a chain lock
 * while it holds row locks (no deadlock).  (Exception: a commit of more
 * tenants than max_locks_per_transaction takes the whole chain table
 * instead, when it is free, and the other writers wait for that commit; see
 * lock_chains_for().)  The head is read with SnapshotSelf
 * (latest committed version plus our own changes), so this holds under
 * REPEATABLE READ and SERIALIZABLE too.  Savepoints: pending batches and
 * in-memory heads remember their subtransaction level and are rolled back
 * with it.
 *
 * audit_write_batch() builds each batch's row and its hash; audit_log.c adds
 * its context columns and audit_key and inserts it into the month's
 * partition.  With deferred delivery the batches go into the WAL instead,
 * and the delivery worker chains and writes them (audit_message.c).
 * audit_verify() (audit_verify.c) recomputes every chain; audit_purge()
 * (audit_purge.c) drops old partitions and records, per tenant, the last
 * purged (seq, hash) as the anchor from which verification resumes.
 * audit_chain.h has what those files share with this one.
 */
#include "tenant_rls.h"

#include <openssl/evp.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "common/hashfn.h"
#include "commands/tablespace.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"

#include "audit.h"
#include "audit_chain.h"
#include "audit_delivery.h"
#include "context.h"
#include "guc.h"


/* locktag_field4 of our advisory-type locks (user advisory locks use 1 and 2) */
#define AUDIT_LOCK_FIELD4	0x7472
#define DELIVERY_LOCK_WAIT_MS	10000	/* the delivery worker's wait for a chain */

/* audit_deliver() runs: lock_tenant_chain() waits a bounded time */
static bool delivering = false;
static bool preparing = false;	/* flush_pending() at PREPARE TRANSACTION */

/* ---------------------------------------------------------------------
 * Hashing: canonical bytes of an entry
 * ---------------------------------------------------------------------
 */
/*
 * The type of each column of audit_batch, as the tuples are built; the
 * canonical bytes hashed for a column follow from its type.
 */
static const Oid batch_type[AB_NATTS] = {
	[AB_LOGGED_AT] = TIMESTAMPTZOID,
	[AB_TENANT] = TEXTOID,
	[AB_SEQ] = INT8OID,
	[AB_TABLE_OID] = OIDOID,
	[AB_SCHEMA_NAME] = TEXTOID,
	[AB_TABLE_NAME] = TEXTOID,
	[AB_TXID] = INT8OID,
	[AB_DB_USER] = TEXTOID,
	[AB_DB_SESSION_USER] = TEXTOID,
	[AB_APP_USER] = TEXTOID,
	[AB_APPLICATION_NAME] = TEXTOID,
	[AB_CLIENT_ADDR] = INETOID,
	[AB_CONTEXT_TENANT] = TEXTOID,
	[AB_ENTRIES] = INT4OID,
	[AB_PAYLOAD] = BYTEAOID,
	[AB_ROW_KEY] = INT8OID,
	[AB_ROW_KEYS] = INT8ARRAYOID,
	[AB_PREV_HASH] = BYTEAOID,
	[AB_HASH] = BYTEAOID,
	[AB_AUDIT_KEY] = INT8OID,
};

/*
 * Refuse a log whose columns are not the ones this library writes and reads
 * (altered by hand, or created by another version of the install script):
 * its tuples would be misread.
 */
void
audit_check_batch_desc(TupleDesc desc, const char *relname)
{
	bool		ok = desc->natts == AB_NATTS;

	for (int i = 0; ok && i < AB_NATTS; i++)
		ok = !TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->atttypid == batch_type[i];
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the audit log's columns are not those the tenant_rls library writes"),
				 errdetail("Table tenant_rls.%s does not have the %d columns, of fixed types in a fixed order, that the loaded library reads and writes.",
						   relname, AB_NATTS),
				 errhint("Do not alter the audit log by hand; if the extension's SQL and library differ in version, run ALTER EXTENSION tenant_rls UPDATE.")));
}

/*
 * SHA-256 through one EVP context kept for the life of the backend: OpenSSL 3's
 * one-shot SHA256() looks the algorithm up on every call.
 */
static void
sha256(const void *data, size_t len, uint8 *out)
{
	static EVP_MD_CTX *ctx = NULL;
	static EVP_MD *md = NULL;
	unsigned int outlen;

	if (ctx == NULL)
	{
		/* an explicit fetch: an implicit one would be repeated by every init */
		if (md == NULL)
			md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
		ctx = EVP_MD_CTX_new();
		if (ctx == NULL || md == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create an OpenSSL SHA-256 context")));
	}
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
		EVP_DigestUpdate(ctx, data, len) != 1 ||
		EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != AUDIT_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL SHA-256 failed")));
}

/* a field: 0x00 for NULL, or 0x01, 4-byte big-endian length, bytes */
static void
put_field(StringInfo buf, bool isnull, const char *data, uint32 len)
{
	uint32		be;

	if (isnull)
	{
		appendStringInfoChar(buf, '\0');
		return;
	}
	appendStringInfoChar(buf, '\1');
	be = pg_hton32(len);
	appendBinaryStringInfo(buf, (const char *) &be, sizeof(be));
	appendBinaryStringInfo(buf, data, len);
}

static void
put_int64(StringInfo buf, int64 v)
{
	uint64		be = pg_hton64((uint64) v);

	put_field(buf, false, (const char *) &be, sizeof(be));
}

/* SHA-256(prev || canonical bytes of values[0 .. AB_PREV_HASH - 1]) */
void
audit_batch_hash(const uint8 *prev, const Datum *values, const bool *nulls, uint8 *out)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) prev, AUDIT_HASH_LEN);
	appendStringInfoString(&buf, "tenant_rls audit batch v1");
	appendStringInfoChar(&buf, '\0');

	for (int i = 0; i < AB_PREV_HASH; i++)
	{
		if (nulls[i])
		{
			put_field(&buf, true, NULL, 0);
			continue;
		}
		switch (batch_type[i])
		{
			case TIMESTAMPTZOID:
				put_int64(&buf, DatumGetTimestampTz(values[i]));
				break;
			case INT8OID:
				put_int64(&buf, DatumGetInt64(values[i]));
				break;
			case INT4OID:
				put_int64(&buf, (int64) DatumGetInt32(values[i]));
				break;
			case OIDOID:
				put_int64(&buf, (int64) DatumGetObjectId(values[i]));
				break;
			case TEXTOID:
			case BYTEAOID:
				{
					struct varlena *t = PG_DETOAST_DATUM_PACKED(values[i]);

					put_field(&buf, false, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
					break;
				}
			case INT8ARRAYOID:
				{
					ArrayType  *arr = DatumGetArrayTypeP(values[i]);
					Datum	   *elems;
					bool	   *enulls;
					int			n;
					StringInfoData ab;

					deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
									  &elems, &enulls, &n);
					initStringInfo(&ab);

					/*
					 * The shape too (dimensions and lower bounds), and a
					 * byte per element that tells NULL from 0: an array
					 * edited into '[5:6]={2,3}', '{{2,3}}' or '{NULL,7}'
					 * must not hash like '{2,3}' or '{0,7}' (review rev31a).
					 */
					put_int64(&ab, ARR_NDIM(arr));
					for (int d = 0; d < ARR_NDIM(arr); d++)
					{
						put_int64(&ab, ARR_DIMS(arr)[d]);
						put_int64(&ab, ARR_LBOUND(arr)[d]);
					}
					for (int k = 0; k < n; k++)
					{
						uint64		be = pg_hton64((uint64) (enulls[k] ? 0 : DatumGetInt64(elems[k])));

						appendStringInfoChar(&ab, enulls[k] ? 0 : 1);
						appendBinaryStringInfo(&ab, (const char *) &be, sizeof(be));
					}
					put_field(&buf, false, ab.data, ab.len);
					pfree(ab.data);
					break;
				}
			case INETOID:
				{
					char	   *s = DatumGetCString(DirectFunctionCall1(inet_out, values[i]));

					put_field(&buf, false, s, strlen(s));
					pfree(s);
					break;
				}
			default:
				elog(ERROR, "audit_batch column %d has no canonical form", i + 1);
		}
	}
	sha256(buf.data, buf.len, out);
	pfree(buf.data);
}

static bytea *
make_bytea(const uint8 *data, int len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/* copy a 32-byte hash out of a bytea Datum; false if it is not 32 bytes */
bool
audit_get_hash(Datum d, uint8 *out)
{
	bytea	   *b = DatumGetByteaPP(d);

	if (VARSIZE_ANY_EXHDR(b) != AUDIT_HASH_LEN)
		return false;
	memcpy(out, VARDATA_ANY(b), AUDIT_HASH_LEN);
	return true;
}

/* The rows of tenant_rls.audit_anchor in tenant order ("C"), copied out. */
AnchorRow *
audit_read_anchors(bool read_only, int *n)
{
	AnchorRow  *rows;

	if (SPI_execute("SELECT tenant, seq, hash FROM tenant_rls.audit_anchor ORDER BY tenant COLLATE \"C\"",
					read_only, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read tenant_rls.audit_anchor");
	*n = (int) SPI_processed;
	rows = palloc0(sizeof(AnchorRow) * (*n + 1));
	for (int i = 0; i < *n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		v;

		rows[i].tenant = SPI_getvalue(tup, desc, 1);
		v = SPI_getbinval(tup, desc, 2, &isnull);
		rows[i].seq = isnull ? 0 : DatumGetInt64(v);
		v = SPI_getbinval(tup, desc, 3, &isnull);
		rows[i].hash = isnull ? NULL : DatumGetByteaPCopy(v);
	}
	SPI_freetuptable(SPI_tuptable);
	return rows;
}

/*
 * The digest of some anchors (tenant, seq, hash), in tenant order: 64 hex
 * digits and a NUL into hex; false if there are none.
 */
bool
audit_digest_anchors(const AnchorRow *rows, int n, char *hex)
{
	StringInfoData buf;
	uint8		digest[AUDIT_HASH_LEN];

	if (n == 0)
		return false;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "tenant_rls audit anchors v1");
	appendStringInfoChar(&buf, '\0');
	for (int i = 0; i < n; i++)
	{
		put_field(&buf, rows[i].tenant == NULL, rows[i].tenant,
				  rows[i].tenant == NULL ? 0 : strlen(rows[i].tenant));
		put_int64(&buf, rows[i].seq);
		put_field(&buf, rows[i].hash == NULL, rows[i].hash == NULL ? NULL : VARDATA_ANY(rows[i].hash),
				  rows[i].hash == NULL ? 0 : VARSIZE_ANY_EXHDR(rows[i].hash));
	}
	sha256(buf.data, buf.len, digest);
	pfree(buf.data);
	hex_encode((const char *) digest, AUDIT_HASH_LEN, hex);
	hex[2 * AUDIT_HASH_LEN] = '\0';
	return true;
}

/*
 * The digest of the purge anchors: SHA-256 over every row of
 * tenant_rls.audit_anchor (tenant, seq, hash), in tenant order.
 * audit_purge() records it in its PURGE entry ("anchors", hex), which is
 * chained without tenant; audit_verify() recomputes it and looks for it in
 * the last PURGE entry, so an anchor added, raised or removed by hand (after
 * deleting the oldest batches of a chain, an anchor set to the last deleted
 * one made the rest verify) is caught.  Writes 64 hex digits and a NUL to
 * hex; false if there are no anchors.  Runs under SPI.
 */
bool
audit_anchors_digest(bool read_only, char *hex)
{
	int			n;
	AnchorRow  *rows = audit_read_anchors(read_only, &n);

	return audit_digest_anchors(rows, n, hex);
}

/* ---------------------------------------------------------------------
 * Chain heads
 * ---------------------------------------------------------------------
 */
#define CHAIN_ATT_TENANT 1
#define CHAIN_ATT_SEQ 2
#define CHAIN_ATT_HASH 3
#define CHAIN_ATT_LOGGED_AT 4
#define CHAIN_NATTS 4

/* the head's logged_at: that of the chain's last batch (NULL: none recorded) */
static TimestampTz
head_logged_at(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, CHAIN_ATT_LOGGED_AT, desc, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

/* the lock of a tenant's chain (key "": the entries without tenant) */
uint64
audit_chain_lock_tag(const char *key, LOCKTAG *tag)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key, strlen(key),
										UINT64CONST(0x74656e616e74));

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, AUDIT_LOCK_FIELD4);
	return h;
}

/* what a commit was waiting for when lock_timeout (or a cancel) ended it */
static void
chain_lock_context(void *arg)
{
	uint64		h = *(uint64 *) arg;

	errcontext("waiting for the audit chain of a tenant this transaction changed (pg_locks: advisory, classid %u, objid %u, objsubid %u)",
			   (uint32) (h >> 32), (uint32) h, (unsigned int) AUDIT_LOCK_FIELD4);
}

static void
lock_tenant_chain(const char *key)
{
	LOCKTAG		tag;
	uint64		h = audit_chain_lock_tag(key, &tag);
	TimestampTz deadline;

	if (!delivering)
	{
		ErrorContextCallback cb;

		/* (free: no wait, no context) */
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
			return;
		cb.callback = chain_lock_context;
		cb.arg = &h;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		error_context_stack = cb.previous;
		return;
	}

	/*
	 * The delivery worker writes the commits of every tenant, in commit
	 * order: a transaction that holds one tenant's chain (a prepared one, or
	 * a session that wrote that tenant's entries immediately and has not
	 * ended) must not hold up every tenant's delivery without a word.  It
	 * waits a bounded time, then fails: the next worker tries again, and
	 * after three failures in a row the writers write immediately.
	 */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DELIVERY_LOCK_WAIT_MS);
	while (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("audit delivery could not lock the audit chain of a tenant within %d seconds",
							DELIVERY_LOCK_WAIT_MS / 1000),
					 errdetail("A transaction of that tenant holds it: in pg_locks, locktype advisory, classid %u, objid %u, objsubid %u (a prepared transaction has no pid: see pg_prepared_xacts).",
							   (uint32) (h >> 32), (uint32) h, (unsigned int) AUDIT_LOCK_FIELD4),
					 errhint("End that transaction (COMMIT PREPARED or ROLLBACK PREPARED, or pg_terminate_backend()): the next worker delivers what waits. After three failures in a row the database's writers write immediately until tenant_rls.audit_delivery_start() is run again.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * A transaction that chains more tenants than a transaction's share of the
 * lock table (max_locks_per_transaction) takes the chain table in SHARE ROW
 * EXCLUSIVE instead of one lock per tenant: thousands of tenant locks fill
 * the server's lock table ("out of shared memory"; an import of 20,000
 * tenants' rows failed, and every other session's locks with it).  Every
 * writer holds ROW EXCLUSIVE on the chain table before it takes a tenant's
 * lock (audit_chain_state()), so while such a transaction holds the table
 * nobody else holds any chain, and the other writers wait for its commit.
 */
static int
chain_lock_limit(void)
{
	return Max(max_locks_per_xact, 16);
}

bool
audit_all_chains_locked(Oid chains)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, chains);
	return LockHeldByMe(&tag, ShareRowExclusiveLock);
}

/*
 * Lock the chain table in mode and return its oid; the delivery worker waits
 * a bounded time.  (Taking a lock processes invalidations, which may reset
 * audit_chain_oid: use the oid returned.)
 */
static Oid
lock_chain_table(LOCKMODE mode)
{
	TimestampTz deadline;
	Oid			chains;

	audit_lookup_oids();
	chains = audit_chain_oid;
	if (!delivering)
	{
		LockRelationOid(chains, mode);
		return chains;
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DELIVERY_LOCK_WAIT_MS);
	while (!ConditionalLockRelationOid(chains, mode))
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("audit delivery could not lock tenant_rls.audit_chain within %d seconds",
							DELIVERY_LOCK_WAIT_MS / 1000),
					 errdetail("A transaction that writes the audit entries of more than %d tenants holds it (see pg_locks; a prepared transaction has no pid: see pg_prepared_xacts).",
							   chain_lock_limit()),
					 errhint("End that transaction: the next worker delivers what waits. After three failures in a row the database's writers write immediately until tenant_rls.audit_delivery_start() is run again.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return chains;
}

static bool
read_head(Relation rel, const char *key, int64 *seq, uint8 *hash, TimestampTz *logged_at,
		  ItemPointer tid)
{
	ScanKeyData skey;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;
	Oid			pkidx = RelationGetPrimaryKeyIndex(rel);

	if (!OidIsValid(pkidx))
		elog(ERROR, "tenant_rls.audit_chain has no primary key");
	ScanKeyInit(&skey, CHAIN_ATT_TENANT, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(key));
	scan = systable_beginscan(rel, pkidx, true, SnapshotSelf, 1, &skey);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d;

		d = heap_getattr(tup, CHAIN_ATT_SEQ, RelationGetDescr(rel), &isnull);
		*seq = isnull ? 0 : DatumGetInt64(d);
		d = heap_getattr(tup, CHAIN_ATT_HASH, RelationGetDescr(rel), &isnull);
		if (isnull || !audit_get_hash(d, hash))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("audit chain head of tenant \"%s\" is corrupted", key),
					 errhint("Run tenant_rls.audit_verify() and restore the audit tables from a backup.")));
		*logged_at = head_logged_at(tup, RelationGetDescr(rel));
		*tid = tup->t_self;
		found = true;
	}
	systable_endscan(scan);
	return found;
}

static ItemPointerData
write_head(Relation rel, const char *key, int64 seq, const uint8 *hash, TimestampTz logged_at,
		   ItemPointer oldtid)
{
	ItemPointerData newtid;

	Datum		values[CHAIN_NATTS];
	bool		nulls[CHAIN_NATTS] = {false, false, false, false};
	HeapTuple	tup;

	if (RelationGetDescr(rel)->natts != CHAIN_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the audit log's columns are not those the tenant_rls library writes"),
				 errdetail("Table tenant_rls.audit_chain does not have the %d columns that the loaded library reads and writes.",
						   CHAIN_NATTS),
				 errhint("Do not alter the audit log by hand; if the extension's SQL and library differ in version, run ALTER EXTENSION tenant_rls UPDATE.")));
	values[CHAIN_ATT_TENANT - 1] = CStringGetTextDatum(key);
	values[CHAIN_ATT_SEQ - 1] = Int64GetDatum(seq);
	values[CHAIN_ATT_HASH - 1] = PointerGetDatum(make_bytea(hash, AUDIT_HASH_LEN));
	values[CHAIN_ATT_LOGGED_AT - 1] = TimestampTzGetDatum(logged_at);
	nulls[CHAIN_ATT_LOGGED_AT - 1] = TIMESTAMP_IS_NOBEGIN(logged_at);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	if (oldtid != NULL)
	{
		simple_heap_update(rel, oldtid, tup);
		if (!HeapTupleIsHeapOnly(tup))
			audit_insert_index_entries(rel, tup);
	}
	else
	{
		simple_heap_insert(rel, tup);
		audit_insert_index_entries(rel, tup);
	}
	newtid = tup->t_self;
	heap_freetuple(tup);
	return newtid;
}

/*
 * Where each tenant's head row is, across transactions: only a hint.  The
 * tuple found there is used only if it is visible (no one has updated it
 * since: a head has one live version, and the tenant's lock is held) and
 * belongs to the same tenant; else the primary key index is searched.
 *
 * When the library is preloaded the hints live in shared memory, so a head
 * last written by another backend is found without the index; else each
 * backend remembers the heads it wrote itself.
 */
typedef struct HeadHintKey
{
	Oid			dbid;
	uint64		tenant_hash;	/* of the tenant: a collision only misses */
} HeadHintKey;

typedef struct HeadHint
{
	HeadHintKey key;
	ItemPointerData tid;
} HeadHint;

#define SHARED_HEAD_HINTS 8192
#define LOCAL_HEAD_HINTS 10000

static HTAB *shared_hints = NULL;	/* in shared memory, if preloaded */
static LWLock *shared_hints_lock = NULL;
static HTAB *local_hints = NULL;	/* else in TopMemoryContext */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
head_hints_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(SHARED_HEAD_HINTS, sizeof(HeadHint)));
	RequestNamedLWLockTranche("tenant_rls audit head hints", 1);
}

static void
head_hints_shmem_startup(void)
{
	HASHCTL		ctl;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ctl.keysize = sizeof(HeadHintKey);
	ctl.entrysize = sizeof(HeadHint);
	shared_hints = ShmemInitHash("tenant_rls audit head hints",
								 SHARED_HEAD_HINTS, SHARED_HEAD_HINTS, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	shared_hints_lock = &(GetNamedLWLockTranche("tenant_rls audit head hints"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* _PG_init, when preloaded: ask for the shared hints */
void
audit_chain_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = head_hints_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = head_hints_shmem_startup;
}

static void
head_hint_key(HeadHintKey *hk, const char *key)
{
	memset(hk, 0, sizeof(*hk));
	hk->dbid = MyDatabaseId;
	hk->tenant_hash = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
}

static void
remember_head(const char *key, ItemPointer tid)
{
	HeadHintKey hk;
	HeadHint   *hh;

	head_hint_key(&hk, key);
	if (shared_hints != NULL)
	{
		LWLockAcquire(shared_hints_lock, LW_EXCLUSIVE);
		hh = hash_search(shared_hints, &hk, HASH_ENTER_NULL, NULL);
		if (hh == NULL)
		{
			/* full: forget any one hint */
			HASH_SEQ_STATUS status;
			HeadHint   *victim;

			hash_seq_init(&status, shared_hints);
			victim = hash_seq_search(&status);
			if (victim != NULL)
			{
				hash_seq_term(&status);
				(void) hash_search(shared_hints, &victim->key, HASH_REMOVE, NULL);
			}
			hh = hash_search(shared_hints, &hk, HASH_ENTER_NULL, NULL);
		}
		if (hh != NULL)
			hh->tid = *tid;
		LWLockRelease(shared_hints_lock);
		return;
	}
	if (local_hints == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(HeadHintKey);
		ctl.entrysize = sizeof(HeadHint);
		ctl.hcxt = TopMemoryContext;
		local_hints = hash_create("tenant_rls audit head hints", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (hash_get_num_entries(local_hints) >= LOCAL_HEAD_HINTS)
	{
		hash_destroy(local_hints);
		local_hints = NULL;
		remember_head(key, tid);
		return;
	}
	hh = hash_search(local_hints, &hk, HASH_ENTER, NULL);
	hh->tid = *tid;
}

/* the hinted position of a tenant's head; false if none */
static bool
head_hint(const char *key, ItemPointer tid)
{
	HeadHintKey hk;
	HeadHint   *hh;
	bool		found = false;

	head_hint_key(&hk, key);
	if (shared_hints != NULL)
	{
		LWLockAcquire(shared_hints_lock, LW_SHARED);
		hh = hash_search(shared_hints, &hk, HASH_FIND, NULL);
		if (hh != NULL)
		{
			*tid = hh->tid;
			found = true;
		}
		LWLockRelease(shared_hints_lock);
	}
	else if (local_hints != NULL)
	{
		hh = hash_search(local_hints, &hk, HASH_FIND, NULL);
		if (hh != NULL)
		{
			*tid = hh->tid;
			found = true;
		}
	}
	return found;
}

/* read_head() through the hint; false if the hint does not hold */
static bool
read_head_hinted(Relation rel, const char *key, int64 *seq, uint8 *hash, TimestampTz *logged_at,
				 ItemPointer tid)
{
	HeapTupleData tuple;
	Buffer		buf;
	BlockNumber nblocks;
	bool		ok = false;

	if (!head_hint(key, &tuple.t_self))
		return false;

	/*
	 * VACUUM may have truncated the table since.  The size this backend last
	 * saw is enough to know the block is there: a truncation resets it (an
	 * smgr invalidation, processed when the table was locked).
	 */
	nblocks = RelationGetSmgr(rel)->smgr_cached_nblocks[MAIN_FORKNUM];
	if (nblocks == InvalidBlockNumber || ItemPointerGetBlockNumber(&tuple.t_self) >= nblocks)
		nblocks = RelationGetNumberOfBlocks(rel);
	if (ItemPointerGetBlockNumber(&tuple.t_self) >= nblocks ||
		!heap_fetch(rel, SnapshotSelf, &tuple, &buf, false))
		return false;
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d = heap_getattr(&tuple, CHAIN_ATT_TENANT, desc, &isnull);

		if (!isnull && strcmp(TextDatumGetCString(d), key) == 0)
		{
			d = heap_getattr(&tuple, CHAIN_ATT_SEQ, desc, &isnull);
			if (!isnull)
			{
				*seq = DatumGetInt64(d);
				d = heap_getattr(&tuple, CHAIN_ATT_HASH, desc, &isnull);
				ok = !isnull && audit_get_hash(d, hash);
				*logged_at = head_logged_at(&tuple, desc);
				*tid = tuple.t_self;
			}
		}
	}
	ReleaseBuffer(buf);
	return ok;
}

/*
 * The chain state of the current transaction, per tenant.
 *
 * A transaction reads a tenant's head once (after taking the tenant's lock),
 * keeps the running (seq, hash) in memory and writes the head row once, just
 * before it commits or prepares.  A savepoint rolled back takes its entries
 * with it, so every state remembers the values to go back to per
 * subtransaction level (a small stack).
 */
typedef struct SavedHead
{
	int			level;
	int64		seq;
	uint8		hash[AUDIT_HASH_LEN];
	TimestampTz logged_at;
} SavedHead;

struct ChainState
{
	char		key[TENANT_MAX_LEN + 1];	/* hash key: tenant, '' for none */
	bool		existed;		/* head row found: update it, else insert */
	ItemPointerData tid;		/* the head row, if existed */
	int64		first_seq;		/* the head as read */
	int64		seq;			/* current */
	uint8		hash[AUDIT_HASH_LEN];
	TimestampTz logged_at;		/* of the last batch (DT_NOBEGIN: none known) */
	int			level;			/* nesting level that set seq/hash */
	List	   *saved;			/* SavedHead *, innermost first */
};

static HTAB *chain_states = NULL;	/* in TopMemoryContext, emptied at the
									 * end of every transaction */

static bool
chain_states_used(void)
{
	return chain_states != NULL && hash_get_num_entries(chain_states) > 0;
}

/* forget every state (their lists go with TopTransactionContext) */
static void
chain_states_clear(void)
{
	HASH_SEQ_STATUS status;
	ChainState *cs;

	if (!chain_states_used())
		return;
	if (hash_get_num_entries(chain_states) > 64)
	{
		/* a transaction of many tenants: give its memory back */
		hash_destroy(chain_states);
		chain_states = NULL;
		return;
	}
	hash_seq_init(&status, chain_states);
	while ((cs = hash_seq_search(&status)) != NULL)
		(void) hash_search(chain_states, cs->key, HASH_REMOVE, NULL);
}
static bool chain_callbacks_registered = false;

/*
 * Batches of the current transaction not written yet.  The trigger appends
 * each change to a batch (one per tenant, table, layout, current_user,
 * application user and savepoint level); they are chained and written just
 * before the transaction commits (or prepares), tenants in sorted order: the
 * tenant's lock is then held only from that moment to the end of the commit.
 * A transaction never waits for a chain lock while it still holds row locks
 * another writer may need, and two committing transactions take their
 * tenants' locks in the same order, so the chain adds no deadlock.  A
 * transaction that queues more than PENDING_FLUSH_BYTES writes the batches of
 * the queue to a temporary file (spill_pending()): each run of batches of one
 * level becomes one entry of the queue, in its place, read back and written
 * at commit like the others.  No chain is locked before the commit, so a long
 * import makes no other writer of its tenants wait and cannot deadlock with
 * them (it used to write them into the log at once, keeping those tenants'
 * locks to its end).  With deferred delivery the batches of the current level
 * go into the WAL instead (audit_defer_fits()).
 */
/* a run of spilled batches, read back whole at commit, stops growing here */
#define SPILL_RUN_MAX (64 * 1024 * 1024)

static List *pending = NIL;		/* PendingBatch *, in TopTransactionContext */
static uint64 entries_made = 0;	/* the transaction's entries so far */
static Size pending_bytes = 0;

/*
 * What the last flush or spill left queued: the next early flush comes when
 * PENDING_FLUSH_BYTES more are queued.  With deferred delivery an early
 * flush inside a savepoint sends only that savepoint's batches (a message
 * belongs to the subtransaction that writes it); the outer levels' stay
 * queued, and without this floor every later change in a savepoint became a
 * message of its own, kept by the worker per subtransaction (review rev32a:
 * a loop of PL/pgSQL exception blocks after 32 MB made one per row and held
 * up delivery for every tenant).
 */
static Size pending_floor = 0;

/*
 * The transaction's spill file: a temporary file (fd.c) owned by the top
 * transaction's resource owner (one of a subtransaction would close it when
 * the subtransaction ends), closed once written at commit, by the resource
 * owner at abort.  Read and written at explicit offsets, without a buffer of
 * its own: a write that fails (temp_file_limit, a full disk) leaves nothing
 * behind that a later read or write would trip on, and what it wrote lies
 * past spill_end, which only a complete write moves.
 */
static File spill_file = -1;
static off_t spill_end = 0;

/*
 * A tenant's entries of one transaction, in the order they are written out:
 * the latest (command, made) so far, and whether a later entry goes before
 * it (ordinal >= 0: the tenant's place in a list of those out of order;
 * audit_note_order()).
 */
typedef struct TenantOrder
{
	char		key[TENANT_MAX_LEN + 1];
	CommandId	cid;
	uint64		made;
	int			ordinal;		/* -1: in order so far */
} TenantOrder;

/*
 * Per tenant that has spilled entries, its TenantOrder, and the keys of those
 * out of order, by ordinal.  queue_in_command_order() orders only what is in
 * memory: a statement's rows are queued when it ends, after the changes its
 * triggers made, which may have been spilled already (a 12,000-row INSERT of
 * 3 kB rows whose BEFORE trigger closes the previous row: 1,061 rows recorded
 * changed before written, reviews rev41e, rev42a).  Such a tenant's entries
 * are merged in command order at commit (write_in_command_order()).  In
 * TopTransactionContext; NULL and NIL at transaction end.
 */
static HTAB *spilled_order = NULL;
static List *spill_disordered = NIL;
/*
 * The lowest (sub)transaction level that wrote a deferred message still alive
 * (not rolled back with its savepoint), 0: none.  While there is one, the
 * transaction keeps deferring (audit_defer_fits()).
 */
static int	deferred_level = 0;
#define xact_deferred (deferred_level > 0)

/* audit_purge() ran in this transaction: everything is written immediately */
static bool xact_purged = false;

/* for audit_purge(): has this transaction deferred entries? */
bool
audit_chain_deferring(void)
{
	return xact_deferred;
}

/* audit_purge() runs: the rest of this transaction writes immediately */
void
audit_chain_purging(void)
{
	xact_purged = true;
}

/*
 * The end of this backend's last commit record that deferred batches, and
 * the tenants of it and of its earlier ones since the last catch-up (NIL and
 * last_deferred_all: too many to list): a later commit of it that writes
 * batches of one of those tenants itself first waits until the worker has
 * written those (audit_delivery_order_wait()), once.  xact_deferred_keys:
 * the tenants this transaction deferred so far.
 */
#define DEFERRED_KEYS_MAX	64
static XLogRecPtr last_deferred_commit = InvalidXLogRecPtr;
static List *last_deferred_keys = NIL;	/* in TopMemoryContext */
static bool last_deferred_all = false;
static List *xact_deferred_keys = NIL;	/* in TopTransactionContext */
static bool xact_deferred_all = false;

static bool
key_listed(List *list, const char *key)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp((const char *) lfirst(lc), key) == 0)
			return true;
	return false;
}

/*
 * Keep the tenants of a commit that deferred (its record ends at end), with
 * those of this backend's earlier deferred commits not caught up yet:
 * waiting for the last one waits for them all, but a later commit of a
 * tenant only an earlier one had must wait too (review rev42b: a commit
 * written at once overtook the deferred commit before the last one in that
 * tenant's chain).
 */
static void
remember_deferred(List *keys, bool all, XLogRecPtr end)
{
	ListCell   *lc;

	if (XLogRecPtrIsInvalid(last_deferred_commit))
	{
		list_free_deep(last_deferred_keys);
		last_deferred_keys = NIL;
		last_deferred_all = false;
	}
	last_deferred_all = last_deferred_all || all;
	if (!last_deferred_all)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		foreach(lc, keys)
			if (!key_listed(last_deferred_keys, (const char *) lfirst(lc)))
				last_deferred_keys = lappend(last_deferred_keys, pstrdup((char *) lfirst(lc)));
		MemoryContextSwitchTo(old);
		if (list_length(last_deferred_keys) > DEFERRED_KEYS_MAX)
			last_deferred_all = true;
	}
	if (last_deferred_all)
	{
		list_free_deep(last_deferred_keys);
		last_deferred_keys = NIL;
	}
	if (end > last_deferred_commit)
		last_deferred_commit = end;
}

/*
 * Prepared transactions of this backend that deferred batches, by GID, with
 * their tenants (at most PREPARED_DEFERRED_MAX, the oldest dropped): their
 * batches are delivered when COMMIT PREPARED comes, and a COMMIT PREPARED in
 * this backend makes them its deferred commit like any other (review rev42c:
 * a commit the session then wrote at once came first in the tenant's chain).
 * A COMMIT PREPARED in another session is ordered as between two sessions.
 * In TopMemoryContext.
 */
#define PREPARED_DEFERRED_MAX 16
typedef struct PreparedDeferred
{
	char		gid[GIDSIZE];
	bool		all;
	List	   *keys;
} PreparedDeferred;
static List *prepared_deferred = NIL;
static char preparing_gid[GIDSIZE];	/* PREPARE TRANSACTION's, until it ends */

static void
free_prepared_deferred(PreparedDeferred *pd)
{
	list_free_deep(pd->keys);
	pfree(pd);
}

/* PREPARE TRANSACTION 'gid' runs: the transaction prepares when it ends */
void
audit_chain_preparing(const char *gid)
{
	strlcpy(preparing_gid, gid, GIDSIZE);
}

/* at XACT_EVENT_PREPARE of a transaction that deferred */
static void
remember_prepared(void)
{
	MemoryContext old;
	PreparedDeferred *pd;
	ListCell   *lc;

	if (preparing_gid[0] == '\0')
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	pd = palloc0(sizeof(PreparedDeferred));
	strlcpy(pd->gid, preparing_gid, GIDSIZE);
	pd->all = xact_deferred_all;
	foreach(lc, xact_deferred_keys)
		pd->keys = lappend(pd->keys, pstrdup((char *) lfirst(lc)));
	prepared_deferred = lappend(prepared_deferred, pd);
	if (list_length(prepared_deferred) > PREPARED_DEFERRED_MAX)
	{
		free_prepared_deferred(linitial(prepared_deferred));
		prepared_deferred = list_delete_first(prepared_deferred);
	}
	MemoryContextSwitchTo(old);
}

/*
 * COMMIT PREPARED 'gid' (committed: true) or ROLLBACK PREPARED 'gid' ran in
 * this backend; XactLastRecEnd is the end of its record.
 */
void
audit_chain_finished_prepared(const char *gid, bool committed)
{
	ListCell   *lc;

	foreach(lc, prepared_deferred)
	{
		PreparedDeferred *pd = lfirst(lc);

		if (strcmp(pd->gid, gid) != 0)
			continue;
		if (committed)
			remember_deferred(pd->keys, pd->all, XactLastRecEnd);
		prepared_deferred = foreach_delete_current(prepared_deferred, lc);
		free_prepared_deferred(pd);
		break;
	}
}

/*
 * A commit that writes batches of tenants keys itself: if this backend's
 * last deferred commit has one of them, the end of its commit record, for
 * which the worker must write it first (so that the two do not swap places
 * in that tenant's chain; audit_delivery_order_wait()); else invalid.  Once:
 * a worker that does not catch up in time leaves the order to chance.
 */
static XLogRecPtr
own_deferred_commit(List *keys)
{
	bool		overlap = last_deferred_all;
	ListCell   *lc;
	XLogRecPtr	end = last_deferred_commit;

	if (XLogRecPtrIsInvalid(end))
		return InvalidXLogRecPtr;
	foreach(lc, keys)
		overlap = overlap || key_listed(last_deferred_keys, (const char *) lfirst(lc));
	if (!overlap)
		return InvalidXLogRecPtr;
	last_deferred_commit = InvalidXLogRecPtr;
	list_free_deep(last_deferred_keys);
	last_deferred_keys = NIL;
	last_deferred_all = false;
	return end;
}

static void
chain_write_heads(void)
{
	HASH_SEQ_STATUS status;
	ChainState *cs;
	Relation	rel = NULL;

	hash_seq_init(&status, chain_states);
	while ((cs = hash_seq_search(&status)) != NULL)
	{
		if (cs->seq == cs->first_seq)
			continue;
		if (rel == NULL)
		{
			audit_lookup_oids();
			rel = table_open(audit_chain_oid, RowExclusiveLock);
		}
		{
			ItemPointerData tid = write_head(rel, cs->key, cs->seq, cs->hash, cs->logged_at,
											 cs->existed ? &cs->tid : NULL);

			remember_head(cs->key, &tid);
		}
	}
	if (rel != NULL)
		table_close(rel, NoLock);
}

static void flush_pending(int level, bool early);
static void queue_in_command_order(void);
static inline uint32 entry_len(const PendingBatch *pb, int i);
static inline int entry_nkeys(const PendingBatch *pb, int i);
static PendingBatch *batch_like(const PendingBatch *src, MemoryContext cxt);
static inline uint32 batch_layout_len(const PendingBatch *pb);

/* the most recent batches looked at for a match */
#define BATCH_SEARCH_DEPTH 8
static void free_batch(PendingBatch *pb);

static void
chain_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			{
				/*
				 * The log and the chain heads are written after the last
				 * statement, when no snapshot is active (COMMIT is a utility
				 * statement; an implicit commit comes after the statement's
				 * snapshot was popped); heap_insert() into a relation with
				 * a TOAST table needs one (an assertion since 15.14: every
				 * audited commit failed it on an assert-enabled server).
				 * AfterTriggerFireDeferred() does the same at this point.
				 */
				bool		snapshot_pushed = false;

				if ((pending != NIL || chain_states_used()) && !ActiveSnapshotSet())
				{
					PushActiveSnapshot(GetTransactionSnapshot());
					snapshot_pushed = true;
				}
				/* (a prepared transaction never takes the whole chain table) */
				preparing = (event == XACT_EVENT_PRE_PREPARE);
				if (pending != NIL)
					flush_pending(GetCurrentTransactionNestLevel(), false);
				preparing = false;
				/* from now until its end, others' commits of its tenants wait for it */
				if (event == XACT_EVENT_PRE_COMMIT && xact_deferred)
					audit_delivery_order_mark(xact_deferred_keys, xact_deferred_all);
				if (spill_file >= 0)
				{
					FileClose(spill_file);
					spill_file = -1;
				}
				if (chain_states_used())
					chain_write_heads();
				if (snapshot_pushed)
					PopActiveSnapshot();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* (RecordTransactionCommit() has set XactLastCommitEnd) */
			audit_delivery_order_end(event == XACT_EVENT_COMMIT, XactLastCommitEnd);
			if (event == XACT_EVENT_COMMIT && xact_deferred)
				remember_deferred(xact_deferred_keys, xact_deferred_all, XactLastCommitEnd);
			if (event == XACT_EVENT_PREPARE && xact_deferred)
				remember_prepared();
			preparing_gid[0] = '\0';
			xact_deferred_keys = NIL;
			xact_deferred_all = false;
			/* their memory goes with TopTransactionContext */
			chain_states_clear();
			preparing = false;
			pending = NIL;
			entries_made = 0;
			pending_bytes = 0;
			pending_floor = 0;
			deferred_level = 0;
			xact_purged = false;
			audit_purge_xact_end();
			/* (at abort its resource owner closes it) */
			spill_file = -1;
			spilled_order = NULL;
			spill_disordered = NIL;
			break;
		default:
			break;
	}
}

/* two strings either of which may be NULL (none) */
static bool
opt_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* two queued batches of one context (batch_matches()) */
static bool
batches_match(const PendingBatch *a, const PendingBatch *b)
{
	return !a->spilled && !b->spilled && a->level == b->level && a->layout_id == b->layout_id &&
		a->table_oid == b->table_oid && a->db_user == b->db_user &&
		a->has_tenant == b->has_tenant && strcmp(a->key, b->key) == 0 &&
		opt_str_eq(a->app_user, b->app_user) && opt_str_eq(a->context_tenant, b->context_tenant);
}

/*
 * The entries and keys of "from" appended to "into" (same layout); false,
 * and nothing changed, when memory is short or "into" would pass
 * PENDING_FLUSH_BYTES.  It cannot fail: it runs in the commit of a
 * subtransaction, where an error would leave the queue half relabelled
 * (review rev41d).
 */
static bool
batch_merge_try(PendingBatch *into, PendingBatch *from)
{
	uint32		start = from->offs[0];
	Size		add = from->payload.len - start;
	int			n = into->nentries + from->nentries;
	int			k = into->nkeys + from->nkeys;
	char	   *buf = NULL;
	CommandId  *cids = NULL;
	uint64	   *made = NULL;
	uint32	   *offs = NULL;
	uint32	   *kofs = NULL;
	int64	   *keys = NULL;
	uint32		base = into->payload.len;
	uint32		kbase = into->nkeys;

	if ((Size) into->payload.len + add >= PENDING_FLUSH_BYTES)
		return false;
	if ((Size) into->payload.maxlen <= (Size) into->payload.len + add)
		buf = MemoryContextAllocExtended(TopTransactionContext, into->payload.len + add + 1,
										 MCXT_ALLOC_NO_OOM);
	if (into->maxentries < n)
	{
		cids = MemoryContextAllocExtended(TopTransactionContext, sizeof(CommandId) * n, MCXT_ALLOC_NO_OOM);
		made = MemoryContextAllocExtended(TopTransactionContext, sizeof(uint64) * n, MCXT_ALLOC_NO_OOM);
		offs = MemoryContextAllocExtended(TopTransactionContext, sizeof(uint32) * n, MCXT_ALLOC_NO_OOM);
		kofs = MemoryContextAllocExtended(TopTransactionContext, sizeof(uint32) * n, MCXT_ALLOC_NO_OOM);
	}
	if (into->maxkeys < k)
		keys = MemoryContextAllocExtended(TopTransactionContext, sizeof(int64) * k, MCXT_ALLOC_NO_OOM);
	if (((Size) into->payload.maxlen <= (Size) into->payload.len + add && buf == NULL) ||
		(into->maxentries < n && (cids == NULL || made == NULL || offs == NULL || kofs == NULL)) ||
		(into->maxkeys < k && keys == NULL))
	{
		if (buf)
			pfree(buf);
		if (cids)
			pfree(cids);
		if (made)
			pfree(made);
		if (offs)
			pfree(offs);
		if (kofs)
			pfree(kofs);
		if (keys)
			pfree(keys);
		return false;
	}

	/* (from here on nothing allocates) */
	if (buf)
	{
		memcpy(buf, into->payload.data, into->payload.len);
		pfree(into->payload.data);
		into->payload.data = buf;
		into->payload.maxlen = into->payload.len + add + 1;
	}
	memcpy(into->payload.data + into->payload.len, from->payload.data + start, add);
	into->payload.len += add;
	into->payload.data[into->payload.len] = '\0';
	if (cids)
	{
		if (into->nentries > 0)
		{
			memcpy(cids, into->cids, sizeof(CommandId) * into->nentries);
			memcpy(made, into->made, sizeof(uint64) * into->nentries);
			memcpy(offs, into->offs, sizeof(uint32) * into->nentries);
			memcpy(kofs, into->kofs, sizeof(uint32) * into->nentries);
		}
		if (into->cids)
			pfree(into->cids);
		if (into->made)
			pfree(into->made);
		if (into->offs)
			pfree(into->offs);
		if (into->kofs)
			pfree(into->kofs);
		into->cids = cids;
		into->made = made;
		into->offs = offs;
		into->kofs = kofs;
		into->maxentries = n;
	}
	for (int i = 0; i < from->nentries; i++)
	{
		int			j = into->nentries;

		if (j > 0 && entry_before(from->cids[i], from->made[i], into->cids[j - 1], into->made[j - 1]))
			into->unsorted = true;
		into->cids[j] = from->cids[i];
		into->made[j] = from->made[i];
		into->offs[j] = base + (from->offs[i] - start);
		into->kofs[j] = kbase + from->kofs[i];
		into->nentries++;
	}
	if (from->unsorted)
		into->unsorted = true;
	if (keys)
	{
		if (into->nkeys > 0)
			memcpy(keys, into->keys, sizeof(int64) * into->nkeys);
		if (into->keys)
			pfree(into->keys);
		into->keys = keys;
		into->maxkeys = k;
	}
	if (from->nkeys > 0)
		memcpy(into->keys + into->nkeys, from->keys, sizeof(int64) * from->nkeys);
	into->nkeys = k;
	return true;
}

static void
chain_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS status;
	ChainState *cs;
	int			level;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	level = GetCurrentTransactionNestLevel();

	/* deferred messages: dropped with their savepoint, or now the parent's */
	if (deferred_level >= level)
		deferred_level = (event == SUBXACT_EVENT_ABORT_SUB) ? 0 : level - 1;

	/* the purges' digests: dropped with their PURGE entries, or the parent's */
	audit_purge_subxact_end(event == SUBXACT_EVENT_ABORT_SUB, level);

	/*
	 * Pending entries: those of an aborted subtransaction are dropped, those
	 * of a committed one now belong to its parent.  (Entries of inner levels
	 * are always at the end of the list.)
	 */
	if (pending != NIL)
	{
		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			while (pending != NIL && ((PendingBatch *) llast(pending))->level >= level)
			{
				pending_bytes -= audit_batch_bytes((PendingBatch *) llast(pending));
				free_batch((PendingBatch *) llast(pending));
				pending = list_delete_last(pending);
			}
			pending_floor = Min(pending_floor, pending_bytes);
		}
		else
		{
			/*
			 * Each also joins the parent's batch of its context among the
			 * few before it, as a new entry would (audit_append_entry()): a
			 * trigger whose writes each ran in a savepoint of their own (a
			 * PL/pgSQL block with EXCEPTION) left one batch per row (review
			 * rev41c).  queue_in_command_order() puts them in order anyway;
			 * this keeps the queue small.
			 */
			int			first = list_length(pending);

			for (int i = 0; i < list_length(pending); i++)
			{
				PendingBatch *pb = list_nth(pending, i);

				if (pb->level >= level)
				{
					pb->level = level - 1;
					first = Min(first, i);
				}
			}
			for (int i = Max(first, 1); i < list_length(pending); i++)
			{
				PendingBatch *pb = list_nth(pending, i);

				for (int j = i - 1; j >= 0 && j >= i - BATCH_SEARCH_DEPTH; j--)
				{
					PendingBatch *cand = list_nth(pending, j);
					Size		before;

					if (batches_match(cand, pb) && pb->nentries > 0 && cand->nentries > 0)
					{
						before = audit_batch_bytes(cand) + audit_batch_bytes(pb);
						if (batch_merge_try(cand, pb))
						{
							pending_bytes -= before;
							pending_bytes += audit_batch_bytes(cand);
							free_batch(pb);
							pending = list_delete_nth_cell(pending, i);
							i--;
						}
						break;
					}
					if (cand->spilled)
						break;
				}
			}
		}
	}

	if (!chain_states_used())
		return;

	hash_seq_init(&status, chain_states);
	while ((cs = hash_seq_search(&status)) != NULL)
	{
		if (cs->level < level)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			/* the parent owns the values now; its own saved copy is obsolete */
			cs->level = level - 1;
			if (cs->saved != NIL && ((SavedHead *) linitial(cs->saved))->level == level - 1)
				cs->saved = list_delete_first(cs->saved);
		}
		else if (cs->saved == NIL)
		{
			/* first touched in the aborted subtransaction, whose lock is gone */
			(void) hash_search(chain_states, cs->key, HASH_REMOVE, NULL);
		}
		else
		{
			SavedHead  *sh = linitial(cs->saved);

			cs->seq = sh->seq;
			memcpy(cs->hash, sh->hash, AUDIT_HASH_LEN);
			cs->logged_at = sh->logged_at;
			cs->level = sh->level;
			cs->saved = list_delete_first(cs->saved);
		}
	}
}

/*
 * Every path that touches a tenant's chain: the tenant must fit the chain's
 * key, and the transaction callbacks that write and release chains must be
 * in place.
 */
static void
chain_prepare(const char *key)
{
	if (strlen(key) > TENANT_MAX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("tenant value is too long for the audit log"),
				 errdetail("Tenant values of audited rows may be at most %d bytes.", TENANT_MAX_LEN),
				 errhint("Shorten the tenant values stored in the table's tenant column.")));
	if (!chain_callbacks_registered)
	{
		RegisterXactCallback(chain_xact_callback, NULL);
		RegisterSubXactCallback(chain_subxact_callback, NULL);
		chain_callbacks_registered = true;
	}
}

/*
 * Before chaining keys (sorted) at commit: more new tenants than
 * chain_lock_limit() take the whole chain table, if it can be had without
 * queueing for it, within a second.  Never when this transaction holds
 * chains already (it would upgrade its ROW EXCLUSIVE while writers of those
 * tenants wait for it, holding theirs: a deadlock), never in an early flush
 * (mid-statement, the table would be held with row locks still to come),
 * never at PREPARE TRANSACTION (it would be held until COMMIT PREPARED, and
 * every commit of the database would wait: any role that may prepare could
 * stop them all), and never in the lock queue (a prepared writer keeps ROW
 * EXCLUSIVE: every commit of the database would queue behind us).
 * Otherwise a lock per tenant, as for smaller transactions.
 */
#define ALL_CHAINS_TRY_MS	1000

static void
lock_chains_for(List *keys, bool early)
{
	ListCell   *lc;
	const char *prev = NULL;
	int			n = 0;
	TimestampTz deadline;
	Oid			chains;

	if (early || preparing || (chain_states != NULL && hash_get_num_entries(chain_states) > 0))
		return;
	foreach(lc, keys)
	{
		const char *key = lfirst(lc);

		if (prev != NULL && strcmp(prev, key) == 0)
			continue;
		prev = key;
		n++;
	}
	if (n <= chain_lock_limit())
		return;
	audit_lookup_oids();
	chains = audit_chain_oid;		/* a lock processes invalidations: our own copy */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ALL_CHAINS_TRY_MS);
	while (!ConditionalLockRelationOid(chains, ShareRowExclusiveLock))
	{
		if (GetCurrentTimestamp() >= deadline)
			return;				/* a lock per tenant, then */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* the delivery worker locks the chains of "keys", in that order */
void
audit_lock_chains_delivering(List *keys)
{
	ListCell   *lc;

	delivering = true;
	PG_TRY();
	{
		lock_chains_for(keys, false);
		foreach(lc, keys)
			(void) audit_chain_state((const char *) lfirst(lc));
	}
	PG_FINALLY();
	{
		delivering = false;
	}
	PG_END_TRY();
}

ChainState *
audit_chain_state(const char *key)
{
	ChainState *cs;
	bool		found;

	chain_prepare(key);
	if (chain_states == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = TENANT_MAX_LEN + 1;
		ctl.entrysize = sizeof(ChainState);
		ctl.hcxt = TopMemoryContext;
		chain_states = hash_create("tenant_rls audit chains", 16, &ctl,
								   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	cs = hash_search(chain_states, key, HASH_ENTER, &found);
	if (!found)
	{
		Relation	rel;
		Oid			chains;

		/* valid before anything can fail: a savepoint rollback removes it */
		cs->existed = false;
		cs->seq = cs->first_seq = 0;
		memset(cs->hash, 0, AUDIT_HASH_LEN);
		cs->logged_at = DT_NOBEGIN;
		cs->level = GetCurrentTransactionNestLevel();
		cs->saved = NIL;

		/*
		 * Held until the transaction ends: the chain order is the commit
		 * order.  The chain table first (see chain_lock_limit()), then the
		 * tenant's chain, unless this transaction holds every chain.
		 */
		chains = lock_chain_table(RowExclusiveLock);
		if (!audit_all_chains_locked(chains))
			lock_tenant_chain(key);
		rel = table_open(chains, NoLock);
		cs->existed = read_head_hinted(rel, key, &cs->seq, cs->hash, &cs->logged_at, &cs->tid) ||
			read_head(rel, key, &cs->seq, cs->hash, &cs->logged_at, &cs->tid);
		table_close(rel, NoLock);
		if (!cs->existed)
		{
			cs->seq = 0;
			memset(cs->hash, 0, AUDIT_HASH_LEN);
			cs->logged_at = DT_NOBEGIN;
		}
		cs->first_seq = cs->seq;
	}
	return cs;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* row_key and row_keys of a batch: one key, or the sorted distinct keys */
static void
batch_keys(PendingBatch *pb, Datum *values, bool *nulls)
{
	int			n = 0;
	Datum	   *elems;

	if (pb->nkeys == 0)
		return;
	qsort(pb->keys, pb->nkeys, sizeof(int64), int64_cmp);
	for (int i = 0; i < pb->nkeys; i++)
	{
		if (i == 0 || pb->keys[i] != pb->keys[n - 1])
			pb->keys[n++] = pb->keys[i];
	}
	if (n == 1)
	{
		values[AB_ROW_KEY] = Int64GetDatum(pb->keys[0]);
		nulls[AB_ROW_KEY] = false;
		return;
	}
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(pb->keys[i]);
	values[AB_ROW_KEYS] = PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL,
														   TYPALIGN_DOUBLE));
	nulls[AB_ROW_KEYS] = false;
}

/* chain and write one queued batch */
void
audit_write_batch(LogWriter *w, ChainState *cs, PendingBatch *pb, int level, const BatchContext *ctx)
{
	uint8		hash[AUDIT_HASH_LEN];
	Datum		values[AB_NATTS];
	bool		nulls[AB_NATTS];

	memset(nulls, true, sizeof(nulls));
	audit_fill_batch_context(values, nulls, ctx);
	audit_batch_settle(pb);

	/*
	 * logged_at never goes back along a chain: a delivered batch carries the
	 * time of its writer's commit (or PREPARE), and a transaction that
	 * committed (or prepared) earlier may be chained after a later one.
	 * audit_purge() cuts by logged_at: each chain's purged batches must be a
	 * prefix of it, or the anchor would pass a batch that stays.
	 */
	if (DatumGetTimestampTz(values[AB_LOGGED_AT]) < cs->logged_at)
		values[AB_LOGGED_AT] = TimestampTzGetDatum(cs->logged_at);
	if (pb->has_tenant)
	{
		values[AB_TENANT] = CStringGetTextDatum(pb->key);
		nulls[AB_TENANT] = false;
	}
	values[AB_SEQ] = Int64GetDatum(cs->seq + 1);
	nulls[AB_SEQ] = false;
	values[AB_TABLE_OID] = ObjectIdGetDatum(pb->table_oid);
	nulls[AB_TABLE_OID] = false;
	values[AB_SCHEMA_NAME] = CStringGetTextDatum(NameStr(pb->schema_name));
	nulls[AB_SCHEMA_NAME] = false;
	values[AB_TABLE_NAME] = CStringGetTextDatum(NameStr(pb->table_name));
	nulls[AB_TABLE_NAME] = false;
	values[AB_DB_USER] = CStringGetTextDatum(pb->db_user_name);
	nulls[AB_DB_USER] = false;
	if (pb->app_user)
	{
		values[AB_APP_USER] = CStringGetTextDatum(pb->app_user);
		nulls[AB_APP_USER] = false;
	}
	if (pb->context_tenant)
	{
		values[AB_CONTEXT_TENANT] = CStringGetTextDatum(pb->context_tenant);
		nulls[AB_CONTEXT_TENANT] = false;
	}
	values[AB_ENTRIES] = Int32GetDatum(pb->nentries);
	nulls[AB_ENTRIES] = false;
	values[AB_PAYLOAD] = PointerGetDatum(make_bytea((const uint8 *) pb->payload.data, pb->payload.len));
	nulls[AB_PAYLOAD] = false;
	batch_keys(pb, values, nulls);

	audit_batch_hash(cs->hash, values, nulls, hash);
	values[AB_PREV_HASH] = PointerGetDatum(make_bytea(cs->hash, AUDIT_HASH_LEN));
	nulls[AB_PREV_HASH] = false;
	values[AB_HASH] = PointerGetDatum(make_bytea(hash, AUDIT_HASH_LEN));
	nulls[AB_HASH] = false;
	values[AB_AUDIT_KEY] = Int64GetDatum(audit_log_key(pb->has_tenant ? pb->key : NULL, strlen(pb->key),
													   pb->table_oid, !nulls[AB_ROW_KEY],
													   nulls[AB_ROW_KEY] ? 0 : DatumGetInt64(values[AB_ROW_KEY])));
	nulls[AB_AUDIT_KEY] = false;

	audit_log_writer_write(w, values, nulls);

	/* advance the in-memory head, remembering the old one per savepoint */
	if (cs->level < level)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		SavedHead  *sh = palloc(sizeof(SavedHead));

		sh->level = cs->level;
		sh->seq = cs->seq;
		memcpy(sh->hash, cs->hash, AUDIT_HASH_LEN);
		sh->logged_at = cs->logged_at;
		cs->saved = lcons(sh, cs->saved);
		cs->level = level;
		MemoryContextSwitchTo(old);
	}
	cs->seq++;
	memcpy(cs->hash, hash, AUDIT_HASH_LEN);
	cs->logged_at = DatumGetTimestampTz(values[AB_LOGGED_AT]);
}

int
audit_key_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/* what a queued batch holds in memory, as counted against PENDING_FLUSH_BYTES */
Size
audit_batch_bytes(PendingBatch *pb)
{
	if (pb->spilled)
		return sizeof(PendingBatch) + 64 * list_length(pb->run_keys);
	return sizeof(PendingBatch) + pb->payload.len + sizeof(int64) * pb->nkeys +
		(sizeof(CommandId) + sizeof(uint64) + 2 * sizeof(uint32)) * pb->nentries;
}

static void
spill_write(const char *data, size_t len, off_t offset)
{
	while (len > 0)
	{
		int			chunk = (int) Min(len, (size_t) (64 * 1024 * 1024));
		int			n = FileWrite(spill_file, (char *) data, chunk, offset, WAIT_EVENT_BUFFILE_WRITE);

		if (n != chunk)
		{
			/* a short write sets no errno: most likely no space left */
			if (n >= 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write the audit spill file: %m"),
					 errhint("A transaction that queues more than 32 MB of audit entries keeps them in a temporary file until its commit: check the free space of temp_tablespaces.")));
		}
		data += chunk;
		offset += chunk;
		len -= chunk;
	}
}

static void
spill_read(char *data, size_t len, off_t offset)
{
	while (len > 0)
	{
		int			chunk = (int) Min(len, (size_t) (64 * 1024 * 1024));

		if (FileRead(spill_file, data, chunk, offset, WAIT_EVENT_BUFFILE_READ) != chunk)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the audit spill file: %m")));
		data += chunk;
		offset += chunk;
		len -= chunk;
	}
}

/* a batch, serialised into a run (read back by write_run()) */
static void
spill_put_batch(StringInfo buf, PendingBatch *pb)
{
	uint32		klen = strlen(pb->key);
	uint32		ulen = strlen(pb->db_user_name);
	uint32		alen = pb->app_user ? strlen(pb->app_user) : 0;
	uint32		clen = pb->context_tenant ? strlen(pb->context_tenant) : 0;

	audit_batch_settle(pb);
	audit_put_u8(buf, pb->has_tenant);
	audit_put_u8(buf, pb->app_user != NULL);
	audit_put_u8(buf, pb->context_tenant != NULL);
	audit_put_u32(buf, klen);
	audit_put_u32(buf, ulen);
	audit_put_u32(buf, alen);
	audit_put_u32(buf, clen);
	audit_put_u32(buf, pb->table_oid);
	audit_put_u32(buf, pb->db_user);
	audit_put_i64(buf, (int64) pb->layout_id);
	audit_put_u32(buf, (uint32) pb->nentries);
	audit_put_u32(buf, (uint32) pb->payload.len);
	audit_put_u32(buf, (uint32) pb->nkeys);
	audit_put_bytes(buf, NameStr(pb->schema_name), NAMEDATALEN);
	audit_put_bytes(buf, NameStr(pb->table_name), NAMEDATALEN);
	audit_put_bytes(buf, pb->key, klen);
	audit_put_bytes(buf, pb->db_user_name, ulen);
	audit_put_bytes(buf, pb->app_user ? pb->app_user : "", alen);
	audit_put_bytes(buf, pb->context_tenant ? pb->context_tenant : "", clen);
	audit_put_bytes(buf, pb->payload.data, pb->payload.len);
	audit_put_bytes(buf, pb->keys, sizeof(int64) * pb->nkeys);
	if (pb->nentries > 0)
	{
		audit_put_bytes(buf, pb->cids, sizeof(CommandId) * pb->nentries);
		audit_put_bytes(buf, pb->made, sizeof(uint64) * pb->nentries);
		audit_put_bytes(buf, pb->offs, sizeof(uint32) * pb->nentries);
		audit_put_bytes(buf, pb->kofs, sizeof(uint32) * pb->nentries);
	}
}

/* the first and last entries of a batch in order; false: it tells no commands */
bool
audit_batch_span(const PendingBatch *pb, EntrySpan *sp)
{
	if (pb->nentries <= 0 || pb->cids == NULL)
		return false;
	sp->key = pb->key;
	sp->first_cid = pb->cids[0];
	sp->first_made = pb->made[0];
	sp->last_cid = pb->cids[pb->nentries - 1];
	sp->last_made = pb->made[pb->nentries - 1];
	return true;
}

void
audit_note_order(HTAB **order, List **disordered, MemoryContext cxt, const EntrySpan *sp)
{
	TenantOrder *so;
	bool		found;

	if (*order == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = TENANT_MAX_LEN + 1;
		ctl.entrysize = sizeof(TenantOrder);
		ctl.hcxt = cxt;
		*order = hash_create("tenant_rls audit order", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	so = hash_search(*order, sp->key, HASH_ENTER, &found);
	if (!found)
	{
		so->cid = sp->last_cid;
		so->made = sp->last_made;
		so->ordinal = -1;
		return;
	}
	if (so->ordinal < 0 && entry_before(sp->first_cid, sp->first_made, so->cid, so->made))
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		so->ordinal = list_length(*disordered);
		*disordered = lappend(*disordered, pstrdup(sp->key));
		MemoryContextSwitchTo(old);
	}
	if (entry_before(so->cid, so->made, sp->last_cid, sp->last_made))
	{
		so->cid = sp->last_cid;
		so->made = sp->last_made;
	}
}

/* the tenant's place among those out of order (audit_note_order()); -1: none */
int
audit_order_ordinal(HTAB *order, List *disordered, const char *key)
{
	TenantOrder *so;

	if (disordered == NIL)
		return -1;
	so = hash_search(order, key, HASH_FIND, NULL);
	return so ? so->ordinal : -1;
}

/*
 * A batch of the queue that is written after those before it (spilled, or
 * at commit the batches still in memory after spilled ones), in its place.
 */
static void
note_queue_order(PendingBatch *pb)
{
	EntrySpan	sp;

	audit_batch_settle(pb);
	if (audit_batch_span(pb, &sp))
		audit_note_order(&spilled_order, &spill_disordered, TopTransactionContext, &sp);
}

/* are the tenant's entries merged at commit? (>= 0) */
static int
spill_ordinal(const char *key)
{
	return audit_order_ordinal(spilled_order, spill_disordered, key);
}

/*
 * Moves every batch of the queue still in memory to the spill file, each run
 * of batches of one level as one entry of the queue, in its place; pending_bytes
 * then counts what is left in memory (the runs' few bytes).  Spilled batches
 * take no more entries (batch_matches()).  On an error (temp_file_limit, a
 * full disk) the queue is as it was.
 */
static void
spill_pending(void)
{
	/* (volatile: set in PG_TRY, read after it) */
	List	   *volatile runs = NIL;	/* new runs, in work */
	List	   *volatile spilled = NIL;
	MemoryContext old = CurrentMemoryContext;
	MemoryContext work;
	StringInfoData buf;
	volatile off_t end = spill_end;
	ListCell   *lc;

	if (spill_file < 0)
	{
		ResourceOwner owner = CurrentResourceOwner;

		/* (an error here aborts: the abort restores the owner) */
		PrepareTempTablespaces();
		CurrentResourceOwner = TopTransactionResourceOwner;
		spill_file = OpenTemporaryFile(false);
		CurrentResourceOwner = owner;
		spill_end = end = 0;
	}

	/*
	 * Everything is built in a context of its own, which an error deletes:
	 * a spill that fails (temp_file_limit) and a savepoint that catches it
	 * may repeat at every later entry, and must not leave the serialised
	 * queue behind each time.  The queue changes only once every write is
	 * done.
	 */
	work = AllocSetContextCreate(TopTransactionContext, "tenant_rls audit spill",
								 ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		int			i = 0;

		MemoryContextSwitchTo(work);
		initStringInfo(&buf);
		while (i < list_length(pending))
		{
			PendingBatch *first = list_nth(pending, i);
			PendingBatch *run;
			HTAB	   *seen;
			HASHCTL		ctl;

			if (first->spilled)
			{
				i++;
				continue;
			}
			run = palloc0(sizeof(PendingBatch));
			run->spilled = true;
			run->level = first->level;
			run->spill_offset = end;
			ctl.keysize = TENANT_MAX_LEN + 1;
			ctl.entrysize = TENANT_MAX_LEN + 1;
			ctl.hcxt = work;
			seen = hash_create("tenant_rls audit run tenants", 64, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
			/* a run is read back whole at commit: SPILL_RUN_MAX, about */
			for (; i < list_length(pending) && end + buf.len - run->spill_offset < SPILL_RUN_MAX; i++)
			{
				PendingBatch *pb = list_nth(pending, i);
				bool		found;

				if (pb->spilled || pb->level != run->level)
					break;
				spill_put_batch(&buf, pb);
				(void) hash_search(seen, pb->key, HASH_ENTER, &found);
				if (!found)
					run->run_keys = lappend(run->run_keys, pb->key);
				run->run_count++;
				spilled = lappend(spilled, pb);
				if (buf.len >= 1024 * 1024)
				{
					spill_write(buf.data, buf.len, end);
					end += buf.len;
					resetStringInfo(&buf);
				}
				CHECK_FOR_INTERRUPTS();
			}
			if (buf.len > 0)
			{
				spill_write(buf.data, buf.len, end);
				end += buf.len;
				resetStringInfo(&buf);
			}
			run->spill_len = end - run->spill_offset;
			runs = lappend(runs, run);
		}

		/*
		 * Noted once every write is done: a spill that fails (temp_file_limit)
		 * and is caught by a savepoint is tried again later, and its batches
		 * noted twice looked out of order, merged at commit for nothing, in
		 * more temporary files (and the commit failed on temp_file_limit).
		 * An error here (out of memory) leaves at worst such a merge.
		 */
		foreach(lc, spilled)
			note_queue_order((PendingBatch *) lfirst(lc));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/*
	 * Everything is in the file: the queue takes the runs (copied out of
	 * work, their tenants too: the batches that held them go) in place of
	 * their batches, which are in the same order.
	 */
	MemoryContextSwitchTo(TopTransactionContext);
	{
		List	   *result = NIL;
		ListCell   *rc = list_head(runs);
		int			left = 0;	/* batches of the current run still to pass */

		foreach(lc, pending)
		{
			PendingBatch *pb = lfirst(lc);

			if (pb->spilled)
			{
				result = lappend(result, pb);
				continue;
			}
			if (left == 0)
			{
				PendingBatch *w = lfirst(rc);
				PendingBatch *run = palloc(sizeof(PendingBatch));
				ListCell   *kc;

				memcpy(run, w, sizeof(PendingBatch));
				run->key = pstrdup("");
				run->run_keys = NIL;
				foreach(kc, w->run_keys)
					run->run_keys = lappend(run->run_keys, pstrdup((char *) lfirst(kc)));
				result = lappend(result, run);
				left = w->run_count;
				rc = lnext(runs, rc);
			}
			left--;
		}
		list_free(pending);
		pending = result;
	}
	spill_end = end;
	foreach(lc, spilled)
		free_batch((PendingBatch *) lfirst(lc));
	MemoryContextDelete(work);
	pending_bytes = 0;
	foreach(lc, pending)
		pending_bytes += audit_batch_bytes((PendingBatch *) lfirst(lc));
	pending_floor = pending_bytes;
	MemoryContextSwitchTo(old);
}

/* the next len bytes of a run read back (spill_put_batch()'s order) */
static const char *
spill_take(const char **p, const char *end, size_t len)
{
	const char *at = *p;

	if ((size_t) (end - at) < len)
		elog(ERROR, "audit spill file is truncated");
	*p += len;
	return at;
}

static char *
spill_take_str(const char **p, const char *end, uint32 len)
{
	return pnstrdup(spill_take(p, end, len), len);
}

#define SPILL_TAKE(dst, p, end) memcpy(&(dst), spill_take(&(p), (end), sizeof(dst)), sizeof(dst))

/*
 * The next batch of a run read back (spill_put_batch()'s order), in the
 * current memory context; its payload points into the run.  With "entries",
 * also where each entry starts, its command and when it was made.
 */
static void
spill_get_batch(const char **p, const char *end, PendingBatch *pb, int level, bool entries)
{
	uint8		has_app,
				has_context;
	uint32		klen, ulen, alen, clen, plen, nkeys;
	int			n;

	memset(pb, 0, sizeof(*pb));
	SPILL_TAKE(pb->has_tenant, *p, end);
	SPILL_TAKE(has_app, *p, end);
	SPILL_TAKE(has_context, *p, end);
	SPILL_TAKE(klen, *p, end);
	SPILL_TAKE(ulen, *p, end);
	SPILL_TAKE(alen, *p, end);
	SPILL_TAKE(clen, *p, end);
	SPILL_TAKE(pb->table_oid, *p, end);
	SPILL_TAKE(pb->db_user, *p, end);
	SPILL_TAKE(pb->layout_id, *p, end);
	SPILL_TAKE(pb->nentries, *p, end);
	SPILL_TAKE(plen, *p, end);
	SPILL_TAKE(nkeys, *p, end);
	SPILL_TAKE(pb->schema_name, *p, end);
	SPILL_TAKE(pb->table_name, *p, end);
	pb->key = spill_take_str(p, end, klen);
	pb->db_user_name = spill_take_str(p, end, ulen);
	pb->app_user = spill_take_str(p, end, alen);
	if (!has_app)
		pb->app_user = NULL;
	pb->context_tenant = spill_take_str(p, end, clen);
	if (!has_context)
		pb->context_tenant = NULL;
	/* (audit_write_batch() copies the payload; the keys it sorts, aligned) */
	pb->payload.data = (char *) spill_take(p, end, plen);
	pb->payload.len = pb->payload.maxlen = plen;
	pb->nkeys = pb->maxkeys = nkeys;
	if (nkeys > 0)
	{
		pb->keys = palloc(sizeof(int64) * nkeys);
		memcpy(pb->keys, spill_take(p, end, sizeof(int64) * nkeys), sizeof(int64) * nkeys);
	}
	pb->level = level;
	n = pb->nentries;
	if (n <= 0)
		return;
	if (!entries)
	{
		(void) spill_take(p, end, (sizeof(CommandId) + sizeof(uint64) + 2 * sizeof(uint32)) * n);
		return;
	}
	pb->maxentries = n;
	pb->cids = palloc(sizeof(CommandId) * n);
	memcpy(pb->cids, spill_take(p, end, sizeof(CommandId) * n), sizeof(CommandId) * n);
	pb->made = palloc(sizeof(uint64) * n);
	memcpy(pb->made, spill_take(p, end, sizeof(uint64) * n), sizeof(uint64) * n);
	pb->offs = palloc(sizeof(uint32) * n);
	memcpy(pb->offs, spill_take(p, end, sizeof(uint32) * n), sizeof(uint32) * n);
	pb->kofs = palloc(sizeof(uint32) * n);
	memcpy(pb->kofs, spill_take(p, end, sizeof(uint32) * n), sizeof(uint32) * n);
}

/*
 * Chain and write the batches of a run, one at a time; those of the tenants
 * merged at commit are left to write_in_command_order().
 */
static void
write_run(LogWriter *w, PendingBatch *run, int level, MemoryContext tmp)
{
	char	   *data = MemoryContextAllocHuge(tmp, run->spill_len);
	const char *p = data;
	const char *end = data + run->spill_len;
	MemoryContext per_batch = AllocSetContextCreate(tmp, "tenant_rls audit run", ALLOCSET_DEFAULT_SIZES);

	spill_read(data, run->spill_len, run->spill_offset);
	for (int n = 0; n < run->run_count; n++)
	{
		PendingBatch pb;
		MemoryContext old = MemoryContextSwitchTo(per_batch);

		spill_get_batch(&p, end, &pb, level, false);
		if (spill_ordinal(pb.key) < 0)
			audit_write_batch(w, audit_chain_state(pb.key), &pb, level, NULL);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_batch);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(per_batch);
	pfree(data);
}

typedef struct MergeContexts
{
	uint32		hash;
	List	   *indexes;		/* of the contexts with that hash */
} MergeContexts;

void
audit_merge_begin(EntryMerge *m, MemoryContext parent)
{
	MemoryContext old;

	memset(m, 0, sizeof(*m));
	m->cxt = AllocSetContextCreate(parent, "tenant_rls audit merge", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(m->cxt);
	m->ts = tuplesort_begin_datum(BYTEAOID, ByteaLessOperator, InvalidOid, false,
								  PENDING_FLUSH_BYTES / 1024, NULL, TUPLESORT_NONE);
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(MergeContexts);
		ctl.hcxt = m->cxt;
		m->by_hash = hash_create("tenant_rls audit merge contexts", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	initStringInfo(&m->buf);
	MemoryContextSwitchTo(old);
}

/* the layout of a batch: what precedes its first entry */
static inline uint32
batch_layout_len(const PendingBatch *pb)
{
	return pb->nentries > 0 ? pb->offs[0] : (uint32) pb->payload.len;
}

/*
 * Two batches of one context: batches_match(), and the same names and layout
 * (a batch read from a message has no layout_id or role OID).
 */
static bool
same_context(const PendingBatch *a, const PendingBatch *b)
{
	uint32		la = batch_layout_len(a);

	return batches_match(a, b) && strcmp(a->db_user_name, b->db_user_name) == 0 &&
		strcmp(NameStr(a->schema_name), NameStr(b->schema_name)) == 0 &&
		strcmp(NameStr(a->table_name), NameStr(b->table_name)) == 0 &&
		la == batch_layout_len(b) && memcmp(a->payload.data, b->payload.data, la) == 0;
}

static inline uint32
hash_opt_str(uint32 h, const char *s)
{
	return hash_combine(h, s ? hash_bytes((const unsigned char *) s, strlen(s)) : 0x9e3779b9);
}

/* a hash of what same_context() compares, and of the batch context's id */
static uint32
context_hash(const PendingBatch *pb, int bc_id)
{
	uint32		h = hash_bytes((const unsigned char *) pb->key, strlen(pb->key));

	h = hash_combine(h, hash_bytes_uint32(pb->table_oid));
	h = hash_combine(h, hash_bytes_uint32((uint32) pb->layout_id));
	h = hash_combine(h, hash_bytes_uint32(pb->db_user));
	h = hash_combine(h, hash_bytes_uint32((uint32) bc_id));
	h = hash_opt_str(h, pb->db_user_name);
	h = hash_opt_str(h, pb->app_user);
	h = hash_opt_str(h, pb->context_tenant);
	h = hash_opt_str(h, NameStr(pb->table_name));
	return hash_combine(h, hash_bytes((const unsigned char *) pb->payload.data, batch_layout_len(pb)));
}

/*
 * The index of pb's context (with the batch context bc, numbered bc_id):
 * one per distinct context, however the tenants' batches interleave.
 */
static uint32
merge_context(EntryMerge *m, const PendingBatch *pb, const BatchContext *bc, int bc_id)
{
	int			n = list_length(m->contexts);
	uint32		h = context_hash(pb, bc_id);
	MergeContexts *mc;
	bool		found;
	ListCell   *lc;
	MemoryContext old;
	PendingBatch *ctx;
	BatchContext *copy = NULL;

	mc = hash_search(m->by_hash, &h, HASH_ENTER, &found);
	if (!found)
		mc->indexes = NIL;
	foreach(lc, mc->indexes)
	{
		int			i = lfirst_int(lc);

		if (list_nth_int(m->batch_ctx_ids, i) == bc_id && same_context(list_nth(m->contexts, i), pb))
			return i;
	}
	ctx = batch_like(pb, m->cxt);
	old = MemoryContextSwitchTo(m->cxt);
	mc->indexes = lappend_int(mc->indexes, n);
	if (bc != NULL)
	{
		/* (a message read back from the WAL is gone at the next one) */
		copy = palloc(sizeof(BatchContext));
		copy->logged_at = bc->logged_at;
		copy->txid = bc->txid;
		copy->session_user = (text *) datumCopy(PointerGetDatum(bc->session_user), false, -1);
		copy->application_name = bc->application_name
			? (text *) datumCopy(PointerGetDatum(bc->application_name), false, -1) : NULL;
		copy->client_addr = bc->client_addr
			? (inet *) datumCopy(PointerGetDatum(bc->client_addr), false, -1) : NULL;
	}
	m->contexts = lappend(m->contexts, ctx);
	m->batch_ctxs = lappend(m->batch_ctxs, copy);
	m->batch_ctx_ids = lappend_int(m->batch_ctx_ids, bc_id);
	MemoryContextSwitchTo(old);
	return n;
}

/* the entries of a batch of the tenant numbered "ordinal", into the sort */
void
audit_merge_put(EntryMerge *m, const PendingBatch *pb, uint32 ordinal, const BatchContext *bc, int bc_id)
{
	uint32		context;
	MemoryContext old;

	if (pb->nentries <= 0)
		return;
	context = merge_context(m, pb, bc, bc_id);
	old = MemoryContextSwitchTo(m->cxt);
	for (int i = 0; i < pb->nentries; i++)
	{
		uint32		nkeys = entry_nkeys(pb, i);
		uint32		be32;
		uint64		be64;

		resetStringInfo(&m->buf);
		appendBinaryStringInfo(&m->buf, "\0\0\0\0", VARHDRSZ);
		be32 = pg_hton32(ordinal);
		appendBinaryStringInfo(&m->buf, (char *) &be32, sizeof(be32));
		be32 = pg_hton32(pb->cids[i]);
		appendBinaryStringInfo(&m->buf, (char *) &be32, sizeof(be32));
		be64 = pg_hton64(pb->made[i]);
		appendBinaryStringInfo(&m->buf, (char *) &be64, sizeof(be64));
		appendBinaryStringInfo(&m->buf, (char *) &context, sizeof(context));
		appendBinaryStringInfo(&m->buf, (char *) &nkeys, sizeof(nkeys));
		if (nkeys > 0)
			appendBinaryStringInfo(&m->buf, (char *) (pb->keys + pb->kofs[i]), sizeof(int64) * nkeys);
		appendBinaryStringInfo(&m->buf, pb->payload.data + pb->offs[i], entry_len(pb, i));
		SET_VARSIZE(m->buf.data, m->buf.len);
		tuplesort_putdatum(m->ts, PointerGetDatum(m->buf.data), false);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
}

/* the merged entries, chained and written; the merge is over.  Returns the number of batches. */
int
audit_merge_write(EntryMerge *m, LogWriter *w, int level)
{
	MemoryContext old = MemoryContextSwitchTo(m->cxt);
	MemoryContext per_batch = AllocSetContextCreate(m->cxt, "tenant_rls audit merge write",
													ALLOCSET_DEFAULT_SIZES);
	int			written = 0;
	PendingBatch *cur = NULL;
	int			cur_context = -1;
	int			cur_ordinal = -1;
	int64	   *keys = NULL;
	uint32		maxkeys = 0;
	Datum		d;
	bool		isnull;

	tuplesort_performsort(m->ts);
	while (tuplesort_getdatum(m->ts, true, &d, &isnull, NULL))
	{
		const char *t = VARDATA_ANY(DatumGetPointer(d));
		const char *tend = t + VARSIZE_ANY_EXHDR(DatumGetPointer(d));
		uint32		ordinal,
					cid,
					context,
					nkeys;
		uint64		made;

		if (tend - t < 24)
			elog(ERROR, "audit merge entry is truncated");
		memcpy(&ordinal, t, sizeof(uint32));
		ordinal = pg_ntoh32(ordinal);
		memcpy(&cid, t + 4, sizeof(uint32));
		cid = pg_ntoh32(cid);
		memcpy(&made, t + 8, sizeof(uint64));
		made = pg_ntoh64(made);
		memcpy(&context, t + 16, sizeof(uint32));
		memcpy(&nkeys, t + 20, sizeof(uint32));
		t += 24;
		if (context >= (uint32) list_length(m->contexts) || (size_t) (tend - t) < sizeof(int64) * nkeys)
			elog(ERROR, "audit merge entry is corrupt");
		if (nkeys > maxkeys)
		{
			maxkeys = Max(nkeys, 2 * maxkeys);
			keys = keys ? repalloc(keys, sizeof(int64) * maxkeys) : palloc(sizeof(int64) * maxkeys);
		}
		if (nkeys > 0)
			memcpy(keys, t, sizeof(int64) * nkeys);
		t += sizeof(int64) * nkeys;
		if (cur != NULL &&
			((int) ordinal != cur_ordinal || cur->payload.len >= PENDING_FLUSH_BYTES ||
			 ((int) context != cur_context &&
			  (list_nth_int(m->batch_ctx_ids, context) != list_nth_int(m->batch_ctx_ids, cur_context) ||
			   !same_context(cur, list_nth(m->contexts, context))))))
		{
			MemoryContextSwitchTo(per_batch);
			audit_write_batch(w, audit_chain_state(cur->key), cur, level, list_nth(m->batch_ctxs, cur_context));
			MemoryContextSwitchTo(m->cxt);
			MemoryContextReset(per_batch);
			free_batch(cur);
			cur = NULL;
			written++;
		}
		if (cur == NULL)
		{
			cur = batch_like(list_nth(m->contexts, context), TopTransactionContext);
			cur_ordinal = ordinal;
			cur_context = context;
		}
		audit_batch_add_entry(cur, t, tend - t, cid, made, nkeys, keys);
		pfree(DatumGetPointer(d));
		CHECK_FOR_INTERRUPTS();
	}
	if (cur != NULL)
	{
		MemoryContextSwitchTo(per_batch);
		audit_write_batch(w, audit_chain_state(cur->key), cur, level, list_nth(m->batch_ctxs, cur_context));
		MemoryContextSwitchTo(m->cxt);
		free_batch(cur);
		written++;
	}
	tuplesort_end(m->ts);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(m->cxt);
	return written;
}

/* does a run hold batches of a tenant merged at commit? */
static bool
run_has_merged(const PendingBatch *run)
{
	ListCell   *lc;

	foreach(lc, run->run_keys)
		if (spill_ordinal((const char *) lfirst(lc)) >= 0)
			return true;
	return false;
}

/*
 * At commit, the entries of the tenants whose spilled entries are out of
 * command order (spill_disordered, note_queue_order()), read back from the
 * runs and the queue ("now"), merged and written.  Other tenants' batches
 * are written as they are (write_run(), and flush_pending() for the queue).
 */
static void
write_in_command_order(LogWriter *w, List *now, int level, MemoryContext tmp)
{
	MemoryContext old = MemoryContextSwitchTo(tmp);
	MemoryContext per_batch = AllocSetContextCreate(tmp, "tenant_rls audit run", ALLOCSET_DEFAULT_SIZES);
	EntryMerge	m;
	ListCell   *lc;

	audit_merge_begin(&m, tmp);
	foreach(lc, now)
	{
		PendingBatch *pb = lfirst(lc);
		int			ordinal;

		if (!pb->spilled)
		{
			ordinal = spill_ordinal(pb->key);
			if (ordinal >= 0)
				audit_merge_put(&m, pb, ordinal, NULL, 0);
		}
		else if (run_has_merged(pb))
		{
			char	   *data = MemoryContextAllocHuge(tmp, pb->spill_len);
			const char *p = data;
			const char *end = data + pb->spill_len;

			spill_read(data, pb->spill_len, pb->spill_offset);
			for (int n = 0; n < pb->run_count; n++)
			{
				PendingBatch rb;

				MemoryContextSwitchTo(per_batch);
				spill_get_batch(&p, end, &rb, level, true);
				ordinal = spill_ordinal(rb.key);
				MemoryContextSwitchTo(tmp);
				if (ordinal >= 0)
					audit_merge_put(&m, &rb, ordinal, NULL, 0);
				MemoryContextReset(per_batch);
				CHECK_FOR_INTERRUPTS();
			}
			pfree(data);
		}
	}
	(void) audit_merge_write(&m, w, level);
	MemoryContextDelete(per_batch);
	MemoryContextSwitchTo(old);
}

static void
free_batch(PendingBatch *pb)
{
	if (pb->spilled)
		list_free_deep(pb->run_keys);
	if (pb->payload.data)
		pfree(pb->payload.data);
	if (pb->db_user_name)
		pfree(pb->db_user_name);
	if (pb->keys)
		pfree(pb->keys);
	if (pb->cids)
		pfree(pb->cids);
	if (pb->made)
		pfree(pb->made);
	if (pb->offs)
		pfree(pb->offs);
	if (pb->kofs)
		pfree(pb->kofs);
	if (pb->app_user)
		pfree(pb->app_user);
	if (pb->context_tenant)
		pfree(pb->context_tenant);
	pfree(pb->key);
	pfree(pb);
}

/*
 * Chain and write the queued batches of nesting level "level" (at commit:
 * all of them; early: before the commit, the queue is too large).  The
 * tenants are locked in sorted order first.  With deferred delivery they go
 * into the WAL instead (audit_defer_fits()).
 */
static void
flush_pending(int level, bool early)
{
	bool		defer;
	bool		has_runs = false;
	List	   *now = NIL;
	List	   *later = NIL;
	List	   *keys = NIL;
	ListCell   *lc;
	MemoryContext tmp;
	MemoryContext old = CurrentMemoryContext;
	LogWriter	writer;

	queue_in_command_order();
	foreach(lc, pending)
	{
		PendingBatch *pb = lfirst(lc);

		if (pb->level == level)
		{
			now = lappend(now, pb);
			if (pb->spilled)
				keys = list_concat(keys, pb->run_keys);
			else
				keys = lappend(keys, pb->key);
		}
		else
			later = lappend(later, pb);
	}

	/*
	 * A tenant's entries keep their order only if one transaction's go one
	 * way: once it has spilled, it writes everything at commit (it defers
	 * nothing); once it has deferred, it never spills (what does not fit a
	 * message is written at once, as before the spill file existed).
	 */
	foreach(lc, pending)
		has_runs |= ((PendingBatch *) lfirst(lc))->spilled;
	defer = !has_runs && !xact_purged && audit_defer_fits(now, early) &&
		(xact_deferred || audit_delivery_deferred());

	/*
	 * Early (the queue outgrew PENDING_FLUSH_BYTES), unless deferred: the
	 * whole queue to the spill file, still queued; written at commit, when
	 * the tenants are locked in order with the rest.
	 */
	if (early && !defer && !xact_deferred)
	{
		spill_pending();
		list_free(now);
		list_free(keys);
		list_free(later);
		return;
	}

	/*
	 * The batches written here leave the queue first: if writing one fails,
	 * the abort of the (sub)transaction must not free them a second time.
	 */
	MemoryContextSwitchTo(TopTransactionContext);
	list_free(pending);
	pending = list_copy(later);
	MemoryContextSwitchTo(old);
	pending_bytes = 0;
	foreach(lc, later)
		pending_bytes += audit_batch_bytes((PendingBatch *) lfirst(lc));
	pending_floor = pending_bytes;

	if (defer && audit_defer_batches(now))
	{
		/* in the WAL with the commit; the delivery worker chains them */
		if (deferred_level == 0 || level < deferred_level)
			deferred_level = level;
		if (!xact_deferred_all)
		{
			MemoryContext kold = MemoryContextSwitchTo(TopTransactionContext);

			foreach(lc, keys)
				if (!key_listed(xact_deferred_keys, (const char *) lfirst(lc)))
					xact_deferred_keys = lappend(xact_deferred_keys, pstrdup((char *) lfirst(lc)));
			if (list_length(xact_deferred_keys) > DEFERRED_KEYS_MAX)
			{
				xact_deferred_keys = NIL;
				xact_deferred_all = true;
			}
			MemoryContextSwitchTo(kold);
		}
		foreach(lc, now)
			free_batch((PendingBatch *) lfirst(lc));
		list_free(now);
		list_free(keys);
		list_free(later);
		return;
	}
	if (early && !xact_deferred)
	{
		/*
		 * Delivery was switched off meanwhile: queued again, in the spill
		 * file.  (They are the batches of the innermost level, the end of
		 * the queue.)
		 */
		MemoryContextSwitchTo(TopTransactionContext);
		pending = list_concat(pending, now);
		MemoryContextSwitchTo(old);
		spill_pending();
		list_free(now);
		list_free(keys);
		list_free(later);
		return;
	}

	/*
	 * At commit, in a database that defers: this commit's batches must not
	 * overtake earlier commits of their tenants that the worker has not
	 * written yet, this backend's (a large commit, written here, after a
	 * small deferred one: the UPDATE of a row chained before its INSERT) or
	 * another session's (an immediate one).  Not while this transaction
	 * holds chains (written early) or the log (audit_purge()): the worker
	 * may need them to get there.
	 */
	if (!early && !xact_purged && !chain_states_used())
		audit_delivery_order_wait(keys, own_deferred_commit(keys));
	list_sort(keys, audit_key_cmp);
	lock_chains_for(keys, early);
	foreach(lc, keys)
		(void) audit_chain_state((const char *) lfirst(lc));

	tmp = AllocSetContextCreate(old, "tenant_rls audit flush", ALLOCSET_DEFAULT_SIZES);
	writer.cxt = AllocSetContextCreate(old, "tenant_rls audit writer", ALLOCSET_SMALL_SIZES);
	writer.rel = NULL;

	/*
	 * The batches left in memory after spilled ones come after them: those
	 * of a tenant whose entries are then out of command order (a statement's
	 * rows queued when it ends, after its triggers' changes were spilled)
	 * are merged with its spilled ones, first.
	 */
	if (has_runs)
	{
		foreach(lc, now)
			if (!((PendingBatch *) lfirst(lc))->spilled)
				note_queue_order((PendingBatch *) lfirst(lc));
		if (spill_disordered != NIL)
		{
			write_in_command_order(&writer, now, level, tmp);
			MemoryContextReset(tmp);
		}
	}
	else
	{
		/*
		 * What was spilled went with a savepoint rolled back: nothing is
		 * merged, every batch is written here (review rev43a: those of a
		 * tenant out of order were skipped, and lost).  A later spill
		 * (this was an early flush) starts the tracking again (rev43c).
		 */
		spill_disordered = NIL;
		if (spilled_order != NULL)
			hash_destroy(spilled_order);
		spilled_order = NULL;
	}
	foreach(lc, now)
	{
		PendingBatch *pb = lfirst(lc);

		MemoryContextSwitchTo(tmp);
		if (pb->spilled)
			write_run(&writer, pb, level, tmp);
		else if (spill_ordinal(pb->key) < 0)
			audit_write_batch(&writer, audit_chain_state(pb->key), pb, level, NULL);
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
		free_batch(pb);
	}
	MemoryContextDelete(tmp);
	audit_log_writer_close(&writer);
	MemoryContextDelete(writer.cxt);

	list_free(now);
	list_free(keys);
	list_free(later);
}

/* does the batch take an entry of this context? */
static bool
batch_matches(PendingBatch *pb, const char *key, bool has_tenant, const AuditTarget *t,
			  int level, Oid user, const char *appuser, const char *context)
{
	return !pb->spilled && pb->level == level && pb->layout_id == t->layout_id &&
		pb->table_oid == t->table_oid && pb->db_user == user &&
		pb->has_tenant == has_tenant && strcmp(pb->key, key) == 0 &&
		opt_str_eq(pb->app_user, appuser) && opt_str_eq(pb->context_tenant, context);
}

/*
 * The entries of a batch go in the order of the commands that made the
 * changes (review rev41a).  Row triggers fire when their statement ends, but
 * the statements a trigger or a function runs for one row end, and have
 * their changes queued, before the rows of the statement that fired it: a
 * row written by a multi-row statement and changed by a trigger of a later
 * row of it (a BEFORE trigger that closes the previous version, an AFTER
 * trigger after tenant_rls_audit) was recorded changed before it was
 * recorded written.  A change's command (cmin of the new version, cmax of
 * the deleted one) is always later than that of the version it changes, so
 * entries ordered by command, in the order made within one, keep the
 * history of every row in order: within a batch here, across a tenant's
 * batches in queue_in_command_order().  Entries are appended as they come,
 * with their command, offset and keys; a batch that got one out of order is
 * sorted once, when the queue is written, spilled or deferred
 * (audit_batch_settle()).  A row whose version tells no command (a foreign
 * table's, one of COPY FREEZE) comes with its statement's (change_cid() in
 * audit.c).  An unknown command (InvalidCommandId: the PURGE entry) takes
 * the current one, which no change made before it passes (not that of the
 * batch's last entry: a change joins a batch also past later batches of
 * its tenant, and took an older command than the changes it followed,
 * review rev42b).
 */
void
audit_batch_reserve(PendingBatch *pb, int more)
{
	int			need = pb->nentries + more;

	if (pb->maxentries >= need)
		return;
	pb->maxentries = Max(need, pb->maxentries ? pb->maxentries * 2 : 8);
	pb->cids = pb->cids
		? repalloc(pb->cids, sizeof(CommandId) * pb->maxentries)
		: MemoryContextAlloc(TopTransactionContext, sizeof(CommandId) * pb->maxentries);
	pb->made = pb->made
		? repalloc(pb->made, sizeof(uint64) * pb->maxentries)
		: MemoryContextAlloc(TopTransactionContext, sizeof(uint64) * pb->maxentries);
	pb->offs = pb->offs
		? repalloc(pb->offs, sizeof(uint32) * pb->maxentries)
		: MemoryContextAlloc(TopTransactionContext, sizeof(uint32) * pb->maxentries);
	pb->kofs = pb->kofs
		? repalloc(pb->kofs, sizeof(uint32) * pb->maxentries)
		: MemoryContextAlloc(TopTransactionContext, sizeof(uint32) * pb->maxentries);
}

void
audit_batch_add_keys(PendingBatch *pb, int nkeys, const int64 *keys)
{
	if (pb->nkeys + nkeys > pb->maxkeys)
	{
		pb->maxkeys = Max(pb->nkeys + nkeys, pb->maxkeys ? pb->maxkeys * 2 : 8);
		pb->keys = pb->keys
			? repalloc(pb->keys, sizeof(int64) * pb->maxkeys)
			: MemoryContextAlloc(TopTransactionContext, sizeof(int64) * pb->maxkeys);
	}
	if (nkeys > 0)
		memcpy(pb->keys + pb->nkeys, keys, sizeof(int64) * nkeys);
	pb->nkeys += nkeys;
}

void
audit_batch_add_entry(PendingBatch *pb, const char *entry, int len, CommandId cid, uint64 made,
				int nkeys, const int64 *keys)
{
	int			n = pb->nentries;

	audit_batch_reserve(pb, 1);
	if (cid == InvalidCommandId)
		cid = GetCurrentCommandId(false);
	if (n > 0 && entry_before(cid, made, pb->cids[n - 1], pb->made[n - 1]))
		pb->unsorted = true;
	audit_batch_add_keys(pb, nkeys, keys);
	pb->cids[n] = cid;
	pb->made[n] = made;
	pb->offs[n] = pb->payload.len;
	pb->kofs[n] = pb->nkeys - nkeys;
	appendBinaryStringInfo(&pb->payload, entry, len);
	pb->nentries++;
}

/* entry i of a batch: its bytes, its keys */
static inline uint32
entry_len(const PendingBatch *pb, int i)
{
	return (i + 1 < pb->nentries ? pb->offs[i + 1] : (uint32) pb->payload.len) - pb->offs[i];
}

static inline int
entry_nkeys(const PendingBatch *pb, int i)
{
	return (i + 1 < pb->nentries ? (int) pb->kofs[i + 1] : pb->nkeys) - (int) pb->kofs[i];
}

typedef struct EntryRef
{
	CommandId	cid;
	uint64		made;
	int			idx;
} EntryRef;

static int
entry_ref_cmp(const void *a, const void *b)
{
	const EntryRef *x = a;
	const EntryRef *y = b;

	if (x->cid != y->cid)
		return x->cid < y->cid ? -1 : 1;
	return (x->made > y->made) - (x->made < y->made);
}

/* the entries of a batch in the order of their commands, then as made, in place */
void
audit_batch_settle(PendingBatch *pb)
{
	int			n = pb->nentries;
	EntryRef   *refs;
	uint32	   *offs;
	uint32	   *kofs;
	int64	   *keys;
	char	   *copy;
	uint32		start;
	uint32		at;
	int			kat = 0;

	if (!pb->unsorted)
		return;
	refs = palloc(sizeof(EntryRef) * n);
	for (int i = 0; i < n; i++)
	{
		refs[i].cid = pb->cids[i];
		refs[i].made = pb->made[i];
		refs[i].idx = i;
	}
	qsort(refs, n, sizeof(EntryRef), entry_ref_cmp);
	start = pb->offs[0];
	copy = palloc(pb->payload.len - start);
	memcpy(copy, pb->payload.data + start, pb->payload.len - start);
	offs = palloc(sizeof(uint32) * n);
	kofs = palloc(sizeof(uint32) * n);
	keys = palloc(sizeof(int64) * Max(pb->nkeys, 1));
	at = start;
	for (int i = 0; i < n; i++)
	{
		int			k = refs[i].idx;
		uint32		len = entry_len(pb, k);
		int			nk = entry_nkeys(pb, k);

		memcpy(pb->payload.data + at, copy + (pb->offs[k] - start), len);
		offs[i] = at;
		at += len;
		if (nk > 0)
			memcpy(keys + kat, pb->keys + pb->kofs[k], sizeof(int64) * nk);
		kofs[i] = kat;
		kat += nk;
	}
	Assert(at == (uint32) pb->payload.len);
	Assert(kat == pb->nkeys);
	for (int i = 0; i < n; i++)
	{
		pb->cids[i] = refs[i].cid;
		pb->made[i] = refs[i].made;
		pb->offs[i] = offs[i];
		pb->kofs[i] = kofs[i];
	}
	if (pb->nkeys > 0)
		memcpy(pb->keys, keys, sizeof(int64) * pb->nkeys);
	pfree(keys);
	pfree(kofs);
	pfree(offs);
	pfree(copy);
	pfree(refs);
	pb->unsorted = false;
}

/*
 * A tenant's entries across the batches of the queue, in the order of their
 * commands (review rev41d).  audit_batch_settle() orders the entries of one
 * batch; but a row's changes can lie in different batches of its tenant: a
 * trigger that also writes another audited table of the tenant, that writes
 * as another role (a SECURITY DEFINER function: a batch of its own), or that
 * writes rows of 8 or more other tenants for each row (the tenant's batch
 * falls out of the BATCH_SEARCH_DEPTH latest).  The trigger's changes are
 * queued before the rows of the statement that fired it, and each row was
 * recorded changed before it was recorded written.
 *
 * So before the queue is written, spilled or deferred, each run of batches
 * of one level still in memory (a segment) is put in order per tenant: the
 * tenant's entries are sorted by command, then by when they were made
 * (entries_made), and grouped again into batches, a new one where the
 * context (table, layout, role, application user, tenant context) changes.
 * The tenant's new batches take the place of its first one; other tenants'
 * are left as they are (chains are per tenant).  A tenant whose batches, in
 * queue order, are in that order already, and of which no two in a row share
 * a context (but for a full one, PENDING_FLUSH_BYTES, and the next), is left
 * alone: the usual transaction costs one pass over its
 * batches (a multi-row INSERT whose AFTER trigger, sorting after
 * tenant_rls_audit, writes a line into another table for each row queues
 * two batches, the rows' and the lines', in order).  Batches already
 * spilled (a run) are merged with later ones at commit where they are out of
 * order (note_queue_order(), write_in_command_order()); deferred ones, by the
 * delivery worker (audit_deliver()), where the transaction's messages are.
 *
 * The old batches are freed only when every new one is built: an error (out
 * of memory, a cancel) leaves the queue as it was.
 */
typedef struct TenantBatches
{
	char		key[TENANT_MAX_LEN + 1];
	PendingBatch *last;			/* the tenant's latest batch in the segment */
	List	   *batches;		/* the tenant's batches, in queue order */
	List	   *regrouped;		/* its new batches (NIL: left as they are) */
	bool		regroup;
} TenantBatches;

typedef struct EntryAt
{
	PendingBatch *pb;
	int			idx;
} EntryAt;

static int
entry_at_cmp(const void *a, const void *b)
{
	const EntryAt *x = a;
	const EntryAt *y = b;
	CommandId	cx = x->pb->cids[x->idx];
	CommandId	cy = y->pb->cids[y->idx];
	uint64		mx = x->pb->made[x->idx];
	uint64		my = y->pb->made[y->idx];

	if (cx != cy)
		return cx < cy ? -1 : 1;
	return (mx > my) - (mx < my);
}

/* an empty batch of the context of src, in cxt */
static PendingBatch *
batch_like(const PendingBatch *src, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PendingBatch *pb = palloc0(sizeof(PendingBatch));

	pb->level = src->level;
	pb->key = pstrdup(src->key);
	pb->has_tenant = src->has_tenant;
	pb->table_oid = src->table_oid;
	pb->schema_name = src->schema_name;
	pb->table_name = src->table_name;
	pb->layout_id = src->layout_id;
	pb->db_user = src->db_user;
	pb->db_user_name = pstrdup(src->db_user_name);
	pb->app_user = src->app_user ? pstrdup(src->app_user) : NULL;
	pb->context_tenant = src->context_tenant ? pstrdup(src->context_tenant) : NULL;
	initStringInfo(&pb->payload);
	/* (the layout: what precedes the first entry) */
	appendBinaryStringInfo(&pb->payload, src->payload.data, batch_layout_len(src));
	MemoryContextSwitchTo(old);
	return pb;
}

/*
 * A tenant's batches (tb->batches) as new ones in command order; each new
 * batch is also added to *built as soon as it exists.
 */
static void
regroup_tenant(TenantBatches *tb, List **built)
{
	int			n = 0;
	int			pos = 0;
	EntryAt    *all;
	ListCell   *lc;
	PendingBatch *cur = NULL;

	foreach(lc, tb->batches)
		n += ((PendingBatch *) lfirst(lc))->nentries;
	all = palloc(sizeof(EntryAt) * n);
	foreach(lc, tb->batches)
	{
		PendingBatch *pb = lfirst(lc);

		for (int i = 0; i < pb->nentries; i++, pos++)
		{
			all[pos].pb = pb;
			all[pos].idx = i;
		}
	}
	qsort(all, n, sizeof(EntryAt), entry_at_cmp);
	for (int i = 0; i < n; i++)
	{
		PendingBatch *src = all[i].pb;
		int			k = all[i].idx;

		/* (a batch stays within a message of deferred delivery) */
		if (cur == NULL || !batches_match(cur, src) || cur->payload.len >= PENDING_FLUSH_BYTES)
		{
			*built = lappend(*built, NULL);
			cur = batch_like(src, TopTransactionContext);
			llast(*built) = cur;
			tb->regrouped = lappend(tb->regrouped, cur);
		}
		audit_batch_add_entry(cur, src->payload.data + src->offs[k], entry_len(src, k), src->cids[k],
						src->made[k], entry_nkeys(src, k), src->keys + src->kofs[k]);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(all);
}

/*
 * The batches of one segment in command order per tenant, as a new list; the
 * batches it replaces are added to *replaced (freed by the caller once the
 * queue has the new ones), those it builds to *built (freed on an error).
 */
static List *
segment_in_command_order(List *segment, List **replaced, List **built)
{
	HASHCTL		ctl;
	HTAB	   *tenants;
	ListCell   *lc;
	bool		any = false;
	List	   *result = NIL;

	ctl.keysize = TENANT_MAX_LEN + 1;
	ctl.entrysize = sizeof(TenantBatches);
	ctl.hcxt = CurrentMemoryContext;
	tenants = hash_create("tenant_rls audit tenants in order", 16, &ctl,
						  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	foreach(lc, segment)
	{
		PendingBatch *pb = lfirst(lc);
		TenantBatches *tb;
		bool		found;

		if (pb->nentries == 0)
			continue;
		audit_batch_settle(pb);
		tb = hash_search(tenants, pb->key, HASH_ENTER, &found);
		if (!found)
		{
			tb->batches = NIL;
			tb->regrouped = NIL;
			tb->regroup = false;
		}
		else
		{
			int			l = tb->last->nentries - 1;

			/* (one full, PENDING_FLUSH_BYTES, is followed by another of its context) */
			if (entry_before(pb->cids[0], pb->made[0], tb->last->cids[l], tb->last->made[l]) ||
				(batches_match(tb->last, pb) && tb->last->payload.len < PENDING_FLUSH_BYTES))
				tb->regroup = any = true;
		}
		tb->last = pb;
		tb->batches = lappend(tb->batches, pb);
	}
	if (!any)
	{
		hash_destroy(tenants);
		return segment;
	}

	foreach(lc, segment)
	{
		PendingBatch *pb = lfirst(lc);
		TenantBatches *tb = pb->nentries == 0 ? NULL : hash_search(tenants, pb->key, HASH_FIND, NULL);

		if (tb == NULL || !tb->regroup)
			result = lappend(result, pb);
		else
		{
			if (pb == linitial(tb->batches))
			{
				regroup_tenant(tb, built);
				result = list_concat(result, tb->regrouped);
			}
			*replaced = lappend(*replaced, pb);
		}
	}
	hash_destroy(tenants);
	return result;
}

/*
 * The queue in command order per tenant (segment_in_command_order(), each
 * run of in-memory batches of one level); pending_bytes counted again if it
 * changed.
 */
static void
queue_in_command_order(void)
{
	/* (in work: set in PG_TRY, read after it) */
	struct
	{
		List	   *result;
		List	   *segment;
		List	   *replaced;
		List	   *built;
	}		   *st;
	MemoryContext work;
	MemoryContext old;
	ListCell   *lc;

	if (list_length(pending) < 2)
		return;
	work = AllocSetContextCreate(CurrentMemoryContext, "tenant_rls audit order", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	st = palloc0(sizeof(*st));

	/*
	 * An error (a cancel, out of memory) frees the batches built so far: an
	 * early flush runs in the middle of a statement, and a savepoint that
	 * catches the error may repeat it (review rev42a).
	 */
	PG_TRY();
	{
		for (int i = 0; i <= list_length(pending); i++)
		{
			PendingBatch *pb = i < list_length(pending) ? list_nth(pending, i) : NULL;

			if (st->segment != NIL &&
				(pb == NULL || pb->spilled || pb->level != ((PendingBatch *) linitial(st->segment))->level))
			{
				st->result = list_concat(st->result, list_length(st->segment) > 1
										 ? segment_in_command_order(st->segment, &st->replaced, &st->built)
										 : st->segment);
				st->segment = NIL;
			}
			if (pb == NULL)
				break;
			if (pb->spilled)
				st->result = lappend(st->result, pb);
			else
				st->segment = lappend(st->segment, pb);
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		foreach(lc, st->built)
			if (lfirst(lc) != NULL)
				free_batch((PendingBatch *) lfirst(lc));
		MemoryContextDelete(work);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (st->replaced != NIL)
	{
		/* every new batch is built: the queue takes them, the old ones go */
		MemoryContextSwitchTo(TopTransactionContext);
		list_free(pending);
		pending = list_copy(st->result);
		foreach(lc, st->replaced)
			free_batch((PendingBatch *) lfirst(lc));
		pending_bytes = 0;
		foreach(lc, pending)
			pending_bytes += audit_batch_bytes((PendingBatch *) lfirst(lc));
		pending_floor = Min(pending_floor, pending_bytes);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
}

void
audit_append_entry(const char *tenant, const char *context, const AuditTarget *t,
				   const char *entry, int len, int nkeys, const int64 *keys, CommandId cid)
{
	const char *key = tenant ? tenant : "";
	int			level = GetCurrentTransactionNestLevel();
	Oid			user = GetUserId();
	const char *appuser = audit_app_user();
	PendingBatch *pb = NULL;
	int			depth = 0;

	chain_prepare(key);

	/*
	 * The last batch of this context among the latest few, also past other
	 * batches of the tenant: each entry carries its command and when it was
	 * made, and queue_in_command_order() puts the tenant's entries in order
	 * across its batches before they are written.  Not past a run of spilled
	 * batches: a spilled batch takes no more entries, and a later one of
	 * its context is merged with it at commit only if out of order.
	 */
	for (int i = list_length(pending) - 1; i >= 0 && depth < BATCH_SEARCH_DEPTH; i--, depth++)
	{
		PendingBatch *cand = list_nth(pending, i);

		if (cand->spilled)
			break;
		if (batch_matches(cand, key, tenant != NULL, t, level, user, appuser, context))
		{
			/*
			 * (a full one takes no more: a batch fits one message of deferred
			 * delivery, audit_defer_fits(), whatever the savepoints' early
			 * flushes left queued at its level, review rev43c)
			 */
			if (cand->payload.len < PENDING_FLUSH_BYTES)
				pb = cand;
			break;
		}
	}

	if (pb == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		pb = palloc0(sizeof(PendingBatch));
		pb->level = level;
		pb->key = pstrdup(key);
		pb->has_tenant = (tenant != NULL);
		pb->table_oid = t->table_oid;
		pb->schema_name = *t->schema_name;
		pb->table_name = *t->table_name;
		pb->layout_id = t->layout_id;
		pb->db_user = user;
		pb->db_user_name = text_to_cstring(DatumGetTextPP(audit_user_name_datum(user, 0)));
		pb->app_user = appuser ? pstrdup(appuser) : NULL;
		pb->context_tenant = context ? pstrdup(context) : NULL;
		initStringInfo(&pb->payload);
		appendBinaryStringInfo(&pb->payload, t->layout, t->layout_len);
		pending = lappend(pending, pb);
		pending_bytes += sizeof(PendingBatch) + t->layout_len;
		MemoryContextSwitchTo(old);
	}

	audit_batch_add_entry(pb, entry, len, cid, ++entries_made, nkeys, keys);
	pending_bytes += len + sizeof(CommandId) + sizeof(uint64) + 2 * sizeof(uint32) + sizeof(int64) * nkeys;

	if (pending_bytes > pending_floor + PENDING_FLUSH_BYTES)
		flush_pending(level, true);
}
