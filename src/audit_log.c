/*
 * audit_log.c -- a batch's row in the audit log: who, when and from where
 * (the context columns), its audit_key, the log's partitions and indexes,
 * and the writer that inserts the rows straight into the month's partition.
 *
 * Batches are written straight into the heap of the month's partition (and
 * its index), not through SQL: no plan, no executor start-up, and no name
 * lookup that a temporary table could shadow.  The partition is found by its
 * name audit_batch_pYYYYMM in the schema tenant_rls and cached.  A missing
 * one is never created here: that would take an exclusive lock on the log
 * until the writer commits, and every audited writer of every tenant would
 * wait (DESIGN A3).  The batch goes to the default partition instead -- a
 * missing partition never fails or blocks a user's write;
 * tenant_rls.audit_maintain(), which the maintenance worker of
 * audit_maintain.c runs, creates the partitions ahead of time.
 * audit_chain.c decides what goes in: the chained batches, at commit.
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit_chain.h"
#include "context.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_key);
PG_FUNCTION_INFO_V1(tenant_rls_audit_tenant_key);

/* ---------------------------------------------------------------------
 * Cached relation OIDs, forgotten on any invalidation of one of them
 * ---------------------------------------------------------------------
 */
Oid			audit_nsp = InvalidOid;
Oid			audit_log_oid = InvalidOid;
Oid			audit_default_oid = InvalidOid;
Oid			audit_chain_oid = InvalidOid;

/* the partition of the last write and its range [part_lo, part_hi) */
static Oid	part_oid = InvalidOid;
static TimestampTz part_lo;
static TimestampTz part_hi;

/*
 * Next month's partition was missing when partition_for() last looked: it
 * looks again (and asks for the maintenance worker again) once a minute of
 * writes has passed, not only when the month changes.
 */
static bool next_part_missing = false;
static TimestampTz next_part_checked = 0;
#define NEXT_PART_RECHECK_USECS	(60 * USECS_PER_SEC)

static void
reset_partition_cache(void)
{
	part_oid = InvalidOid;
}

static void forget_index_info(Oid relid);

/*
 * The oids above are looked up again by the next audit_lookup_oids() after
 * an invalidation of one of them (or of all relations), but they are not
 * cleared here: callers read them across catalog look-ups, which process
 * invalidations, and a reset of the caches (sinval queue overflow,
 * debug_discard_caches) in the middle of audit_lookup_oids() left audit_nsp
 * InvalidOid between two of its own look-ups: "table
 * tenant_rls.audit_batch_default of the audit log is missing" on an audited
 * INSERT, or a lock taken on oid 0 instead of the log (audit_maintain,
 * audit_purge).
 */
static uint64 audit_oids_generation = 0;
static bool audit_oids_valid = false;

void
audit_log_relcache_callback(Datum arg, Oid relid)
{
	forget_index_info(relid);
	if (relid == InvalidOid || relid == audit_log_oid || relid == audit_default_oid ||
		relid == audit_chain_oid || relid == part_oid)
	{
		audit_oids_valid = false;
		audit_oids_generation++;
		reset_partition_cache();
	}
}

static Oid
audit_relid(const char *name, Oid nsp)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table tenant_rls.%s of the audit log is missing", name),
				 errhint("Reinstall the tenant_rls extension, or remove the audit triggers with tenant_rls.disable_audit().")));
	return relid;
}

void
audit_lookup_oids(void)
{
	uint64		generation = audit_oids_generation;
	Oid			nsp,
				log,
				deflt,
				chain;

	if (audit_oids_valid)
		return;
	/* into locals first: each look-up may process invalidations */
	nsp = get_namespace_oid(TENANT_RLS_SCHEMA, true);
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("the tenant_rls extension is not installed in this database"),
				 errhint("Run CREATE EXTENSION tenant_rls, or drop the audit triggers that call it.")));
	log = audit_relid("audit_batch", nsp);
	deflt = audit_relid("audit_batch_default", nsp);
	chain = audit_relid("audit_chain", nsp);
	audit_nsp = nsp;
	audit_log_oid = log;
	audit_default_oid = deflt;
	audit_chain_oid = chain;
	/* an invalidation during the look-ups: used now, looked up again next time */
	audit_oids_valid = (generation == audit_oids_generation);
}


/* ---------------------------------------------------------------------
 * The context of an entry: who, when, from where
 * ---------------------------------------------------------------------
 */
/* inet_client_addr(), computed once per backend (NULL on a Unix socket) */
static Datum
client_addr(bool *isnull)
{
	static bool done = false;
	static bool addr_null = true;
	static Datum addr = (Datum) 0;

	if (!done)
	{
		LOCAL_FCINFO(fcinfo, 0);
		Datum		d;

		InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
		d = inet_client_addr(fcinfo);
		addr_null = fcinfo->isnull;
		if (!addr_null)
		{
			inet	   *src = DatumGetInetPP(d);
			inet	   *copy = MemoryContextAlloc(TopMemoryContext, VARSIZE_ANY(src));

			memcpy(copy, src, VARSIZE_ANY(src));
			addr = InetPGetDatum(copy);
		}
		done = true;
	}
	*isnull = addr_null;
	return addr;
}

Datum
audit_name_datum(const char *s)
{
	Name		n = palloc0(NAMEDATALEN);

	strlcpy(NameStr(*n), s, NAMEDATALEN);
	return NameGetDatum(n);
}

/* role name as text, remembered for the last role seen in each of two slots */
static Oid	last_role_id[2] = {InvalidOid, InvalidOid};
static text *last_role_name[2];

static void
role_name_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	last_role_id[0] = last_role_id[1] = InvalidOid;
}

Datum
audit_user_name_datum(Oid roleid, int slot)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(AUTHOID, role_name_callback, (Datum) 0);
		registered = true;
	}
	if (roleid != last_role_id[slot])
	{
		char	   *name = GetUserNameFromId(roleid, false);
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		text	   *t = cstring_to_text(name);

		MemoryContextSwitchTo(old);
		if (last_role_name[slot] != NULL)
			pfree(last_role_name[slot]);
		last_role_name[slot] = t;
		last_role_id[slot] = roleid;
	}
	return PointerGetDatum(last_role_name[slot]);
}

/*
 * the setting named by tenant_rls.actor_setting; NULL if unset or empty, or
 * if only superusers may read it (defined after the setting's check hook
 * ran, guc.c: its value would be in every tenant's entries)
 */
const char *
audit_app_user(void)
{
	const char *s;

	if (tenant_rls_actor_setting == NULL || tenant_rls_actor_setting[0] == '\0' ||
		(GetConfigOptionFlags(tenant_rls_actor_setting, true) & GUC_SUPERUSER_ONLY) != 0)
		return NULL;
	s = GetConfigOption(tenant_rls_actor_setting, true, false);
	return (s == NULL || s[0] == '\0') ? NULL : s;
}

/*
 * The context columns a batch gets when it is written: logged_at, txid,
 * db_session_user, application_name, client_addr.  (db_user, app_user and
 * context_tenant are taken with its first entry: a batch changes when they
 * do.)
 */
void
audit_fill_batch_context(Datum *values, bool *nulls, const BatchContext *ctx)
{
	if (ctx != NULL)
	{
		/* a batch delivered from the WAL: the context its writer recorded */
		values[AB_LOGGED_AT] = TimestampTzGetDatum(ctx->logged_at);
		nulls[AB_LOGGED_AT] = false;
		values[AB_TXID] = Int64GetDatum(ctx->txid);
		nulls[AB_TXID] = false;
		values[AB_DB_SESSION_USER] = PointerGetDatum(ctx->session_user);
		nulls[AB_DB_SESSION_USER] = false;
		nulls[AB_APPLICATION_NAME] = (ctx->application_name == NULL);
		if (ctx->application_name)
			values[AB_APPLICATION_NAME] = PointerGetDatum(ctx->application_name);
		nulls[AB_CLIENT_ADDR] = (ctx->client_addr == NULL);
		if (ctx->client_addr)
			values[AB_CLIENT_ADDR] = PointerGetDatum(ctx->client_addr);
		return;
	}
	values[AB_LOGGED_AT] = TimestampTzGetDatum(GetCurrentTimestamp());
	nulls[AB_LOGGED_AT] = false;
	values[AB_TXID] = Int64GetDatum((int64) U64FromFullTransactionId(GetTopFullTransactionId()));
	nulls[AB_TXID] = false;
	values[AB_DB_SESSION_USER] = audit_user_name_datum(GetSessionUserId(), 1);
	nulls[AB_DB_SESSION_USER] = false;
	nulls[AB_APPLICATION_NAME] = (application_name == NULL || application_name[0] == '\0');
	if (!nulls[AB_APPLICATION_NAME])
		values[AB_APPLICATION_NAME] = CStringGetTextDatum(application_name);
	values[AB_CLIENT_ADDR] = client_addr(&nulls[AB_CLIENT_ADDR]);
}

/* ---------------------------------------------------------------------
 * The index key of a batch
 * ---------------------------------------------------------------------
 *
 * Each partition of the log has one index, a btree on the single bigint
 * audit_key:
 *
 *     high 32 bits: FNV-1a of the tenant ('' for none): the tenant's region
 *     low 32 bits:  the batch's row_key (its low 32 bits), or, for a batch of
 *                   several rows or of a table without a primary key, a
 *                   hash of the table's OID
 *
 * One fixed-width column costs a committing writer about half of what the
 * (tenant, table_oid, row_key) btree did: no text comparison, no attribute
 * offsets to recompute, one comparison per key.  The tenant's batches are
 * the range [audit_tenant_key(t), audit_tenant_key(t) + 2^32 - 1] (the RLS
 * of readers, audit_verify()); one row's batches are two probes per tenant
 * region (audit_history()).  Keys are hashes: every reader rechecks tenant,
 * table_oid and row_key.  FNV-1a over bytes gives the same keys on every
 * platform.
 */
static uint32
fnv1a32(uint32 h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= 16777619;
	}
	return h;
}

#define FNV32_BASIS 2166136261u

/* the first key of a tenant's region (tenant NULL: the batches without one) */
int64
audit_tenant_key(const char *tenant, size_t len)
{
	uint32		h = tenant ? fnv1a32(FNV32_BASIS, tenant, len) : FNV32_BASIS;

	return (int64) ((uint64) h << 32);
}

int64
audit_log_key(const char *tenant, size_t len, Oid table_oid, bool has_row_key, int64 row_key)
{
	uint32		low;

	if (has_row_key)
		low = (uint32) row_key;
	else
	{
		uint32		be = pg_hton32(table_oid);

		low = fnv1a32(fnv1a32(FNV32_BASIS, "table", 5), &be, sizeof(be));
	}
	return (int64) ((uint64) audit_tenant_key(tenant, len) | low);
}

/*
 * tenant_rls.audit_key(tenant text, tbl regclass, row_key bigint): the
 * audit_key of a batch of tenant (NULL: none) about table tbl and history key
 * row_key (NULL: several rows, or a table without a primary key).
 */
Datum
tenant_rls_audit_key(PG_FUNCTION_ARGS)
{
	text	   *t = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_INT64(audit_log_key(t ? VARDATA_ANY(t) : NULL, t ? VARSIZE_ANY_EXHDR(t) : 0,
								  PG_GETARG_OID(1), !PG_ARGISNULL(2),
								  PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2)));
}

/*
 * tenant_rls.audit_tenant_key(tenant text): the first audit_key of the
 * tenant's region (NULL: the batches without a tenant); the region ends
 * 2^32 - 1 later.
 */
Datum
tenant_rls_audit_tenant_key(PG_FUNCTION_ARGS)
{
	text	   *t = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);

	PG_RETURN_INT64(audit_tenant_key(t ? VARDATA_ANY(t) : NULL, t ? VARSIZE_ANY_EXHDR(t) : 0));
}

/* ---------------------------------------------------------------------
 * Direct heap writes
 * ---------------------------------------------------------------------
 */

/*
 * The IndexInfo of the log's indexes, kept across transactions: building it
 * on every commit was a measurable part of a one-row write.  An entry is
 * forgotten on any invalidation of its index or its table; the writer looks
 * one up only after it has locked the table and the index, when pending
 * invalidations have been processed.  The memory of forgotten entries is
 * given back when the writer opens a partition, with none in use.
 */
#define INDEX_INFO_SLOTS 8

static MemoryContext index_info_cxt = NULL;
static Oid	index_info_index[INDEX_INFO_SLOTS];
static Oid	index_info_table[INDEX_INFO_SLOTS];
static IndexInfo *index_info[INDEX_INFO_SLOTS];
static int	index_info_forgotten = 0;

static void
forget_index_info(Oid relid)
{
	for (int i = 0; i < INDEX_INFO_SLOTS; i++)
	{
		if (OidIsValid(index_info_index[i]) &&
			(relid == InvalidOid || relid == index_info_index[i] || relid == index_info_table[i]))
		{
			index_info_index[i] = InvalidOid;
			index_info_forgotten++;
		}
	}
}

/* when no cached IndexInfo is in use: give back the memory of forgotten ones */
static void
trim_index_info(void)
{
	if (index_info_cxt == NULL || index_info_forgotten < INDEX_INFO_SLOTS)
		return;
	MemoryContextReset(index_info_cxt);
	memset(index_info_index, 0, sizeof(index_info_index));
	index_info_forgotten = 0;
}

/*
 * Open an index of an audit table for inserting.  The audit tables only have
 * plain column indexes; an expression or partial index (added by hand) is
 * refused rather than left incomplete.  cache: keep the IndexInfo of a btree
 * across transactions (the log's partitions).
 */
static Relation
open_plain_index(Oid indexoid, IndexInfo **ii, bool cache)
{
	Relation	idx = index_open(indexoid, RowExclusiveLock);
	int			slot = -1;

	/*
	 * Only btree: other access methods keep state in ii_AmCache (GIN, BRIN)
	 * that must not outlive the statement.
	 */
	if (cache && idx->rd_rel->relam == BTREE_AM_OID)
	{
		for (int i = 0; i < INDEX_INFO_SLOTS; i++)
		{
			if (OidIsValid(indexoid) && index_info_index[i] == indexoid)
			{
				*ii = index_info[i];
				return idx;
			}
			if (slot < 0 && !OidIsValid(index_info_index[i]))
				slot = i;
		}
		if (index_info_cxt == NULL)
			index_info_cxt = AllocSetContextCreate(CacheMemoryContext, "tenant_rls audit IndexInfo",
												   ALLOCSET_SMALL_SIZES);
	}
	if (RelationGetIndexExpressions(idx) != NIL || RelationGetIndexPredicate(idx) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index \"%s\" on an audit table is an expression or partial index",
						RelationGetRelationName(idx)),
				 errdetail("The audit log writer maintains plain column indexes only."),
				 errhint("Drop the index, or replace it by an index on plain columns.")));
	if (slot < 0)
		*ii = BuildIndexInfo(idx);
	else
	{
		MemoryContext old = MemoryContextSwitchTo(index_info_cxt);

		*ii = BuildIndexInfo(idx);
		MemoryContextSwitchTo(old);
		index_info[slot] = *ii;
		index_info_table[slot] = idx->rd_index->indrelid;
		index_info_index[slot] = indexoid;
	}
	return idx;
}

/*
 * Insert the index entries of a tuple just written to rel, like the catalog
 * code does.
 */
void
audit_insert_index_entries(Relation rel, HeapTuple tup)
{
	List	   *indexoids = RelationGetIndexList(rel);
	TupleTableSlot *slot;
	ListCell   *lc;

	if (indexoids == NIL)
		return;
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tup, slot, false);
	foreach(lc, indexoids)
	{
		IndexInfo  *ii;
		Relation	idx = open_plain_index(lfirst_oid(lc), &ii, false);
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (ii->ii_ReadyForInserts)
		{
			FormIndexDatum(ii, slot, NULL, values, isnull);
			index_insert(idx, values, isnull, &tup->t_self, rel,
						 idx->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						 false, ii);
		}
		index_close(idx, NoLock);	/* locks are kept to the end of the transaction */
	}
	ExecDropSingleTupleTableSlot(slot);
	list_free(indexoids);
}

/*
 * The partition that holds ts: the month's one, or the default partition.
 * The month's table is taken only while it is a partition of the log: one
 * detached from it (DETACH PARTITION, to archive it) keeps its name, and
 * batches written there would be outside the log -- unreadable through it,
 * unverified, gone with the archive.  (The answer is cached with part_oid;
 * a DETACH invalidates the partition's relcache entry, which resets it.)
 */
/* the name of the log's partition of tm's month, and the month after tm's */
void
audit_partition_name(const struct pg_tm *tm, char *name)
{
	snprintf(name, NAMEDATALEN, "audit_batch_p%04d%02d", tm->tm_year, tm->tm_mon);
}

void
audit_next_month(struct pg_tm *tm)
{
	if (++tm->tm_mon > 12)
	{
		tm->tm_mon = 1;
		tm->tm_year++;
	}
}

/* the partition of the log named name, or InvalidOid */
Oid
audit_log_partition(const char *name, Oid nsp, Oid parent)
{
	Oid			oid = get_relname_relid(name, nsp);

	if (OidIsValid(oid) &&
		(!get_rel_relispartition(oid) || get_partition_parent(oid, true) != parent))
		oid = InvalidOid;
	return oid;
}

static Oid
partition_for(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	Timestamp	lo,
				hi;
	char		name[NAMEDATALEN];
	Oid			oid;
	Oid			nsp,
				deflt,
				parent;

	if (OidIsValid(part_oid) && ts >= part_lo && ts < part_hi &&
		!(next_part_missing && ts - next_part_checked >= NEXT_PART_RECHECK_USECS))
		return part_oid;

	/* catalog lookups below may process invalidations: keep our own copies */
	audit_lookup_oids();
	nsp = audit_nsp;
	deflt = audit_default_oid;
	parent = audit_log_oid;

	/* ts is the server's clock, or that of a signed delivered message */
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	audit_partition_name(&tm, name);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (tm2timestamp(&tm, 0, NULL, &lo) != 0)
		elog(ERROR, "timestamp out of range");
	audit_next_month(&tm);
	if (tm2timestamp(&tm, 0, NULL, &hi) != 0)
		elog(ERROR, "timestamp out of range");

	oid = audit_log_partition(name, nsp, parent);
	if (!OidIsValid(oid))
		oid = deflt;

	/*
	 * Next month's partition missing: a background worker creates the
	 * partitions ahead (audit_maintain.c), never this transaction.  Not when
	 * only this month's is missing (its batches may be in the default
	 * partition already, and then no worker can create it), nor when a
	 * table of that name is not a partition of the log (a detached one: the
	 * DBA's, which audit_maintain() does not replace; lint() reports it).
	 */
	audit_partition_name(&tm, name);
	next_part_missing = !OidIsValid(get_relname_relid(name, nsp));
	next_part_checked = ts;
	if (next_part_missing)
		audit_request_maintenance();
	part_oid = oid;
	part_lo = lo;
	part_hi = hi;
	return oid;
}

/*
 * Is there no table of the name of the log's partition of the month after
 * that of ts?  (What a writer asks the maintenance worker for: for
 * audit_maintain.c.)
 */
bool
audit_next_partition_missing(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		name[NAMEDATALEN];

	audit_lookup_oids();
	if (!OidIsValid(audit_log_oid))
		return false;
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return false;
	audit_next_month(&tm);
	audit_partition_name(&tm, name);
	return !OidIsValid(get_relname_relid(name, audit_nsp));
}

void
audit_log_writer_close(LogWriter *w)
{
	if (w->rel == NULL)
		return;
	for (int i = 0; i < w->nidx; i++)
		index_close(w->idx[i], NoLock);
	table_close(w->rel, NoLock);
	w->rel = NULL;
}

static void
log_writer_open(LogWriter *w, TimestampTz ts)
{
	Relation	rel = NULL;
	Oid			oid = InvalidOid;
	List	   *indexoids;
	ListCell   *lc;
	MemoryContext old;

	trim_index_info();
	for (int attempt = 0; attempt < 3 && rel == NULL; attempt++)
	{
		oid = partition_for(ts);
		rel = try_table_open(oid, RowExclusiveLock);
		if (rel == NULL)
		{
			reset_partition_cache();
			continue;
		}
		/* taking the lock processed invalidations: still the right one? */
		if (partition_for(ts) != oid)
		{
			table_close(rel, NoLock);
			rel = NULL;
		}
	}
	if (rel == NULL)
		elog(ERROR, "could not open a partition of tenant_rls.audit_batch");
	audit_check_batch_desc(RelationGetDescr(rel), RelationGetRelationName(rel));

	old = MemoryContextSwitchTo(w->cxt);
	w->rel = rel;
	w->oid = oid;
	indexoids = RelationGetIndexList(rel);
	w->nidx = 0;
	w->idx = palloc(sizeof(Relation) * (list_length(indexoids) + 1));
	w->ii = palloc(sizeof(IndexInfo *) * (list_length(indexoids) + 1));
	foreach(lc, indexoids)
	{
		IndexInfo  *ii;
		Relation	idx = open_plain_index(lfirst_oid(lc), &ii, true);

		if (!ii->ii_ReadyForInserts)
		{
			index_close(idx, NoLock);
			continue;
		}
		w->idx[w->nidx] = idx;
		w->ii[w->nidx] = ii;
		w->nidx++;
	}
	MemoryContextSwitchTo(old);
}

void
audit_log_writer_write(LogWriter *w, Datum *values, bool *nulls)
{
	TimestampTz ts = DatumGetTimestampTz(values[AB_LOGGED_AT]);
	HeapTuple	tup;

	if (w->rel == NULL || partition_for(ts) != w->oid)
	{
		audit_log_writer_close(w);
		log_writer_open(w, ts);
	}
	tup = heap_form_tuple(RelationGetDescr(w->rel), values, nulls);
	simple_heap_insert(w->rel, tup);
	/* plain column indexes (open_plain_index()): their values are the tuple's */
	for (int i = 0; i < w->nidx; i++)
	{
		IndexInfo  *ii = w->ii[i];
		Datum		ivalues[INDEX_MAX_KEYS];
		bool		inulls[INDEX_MAX_KEYS];

		for (int k = 0; k < ii->ii_NumIndexAttrs; k++)
		{
			AttrNumber	attno = ii->ii_IndexAttrNumbers[k];

			if (attno < 1 || attno > AB_NATTS)
				elog(ERROR, "index \"%s\" of the audit log has a column the writer does not know",
					 RelationGetRelationName(w->idx[i]));
			ivalues[k] = values[attno - 1];
			inulls[k] = nulls[attno - 1];
		}
		index_insert(w->idx[i], ivalues, inulls, &tup->t_self, w->rel,
					 w->idx[i]->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, ii);
	}
	heap_freetuple(tup);
}
