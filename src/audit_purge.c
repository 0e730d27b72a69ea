/*
 * audit_purge.c -- audit_purge(before): retention, by whole partitions.
 *
 * Nobody, the owner included, can UPDATE, DELETE or TRUNCATE the audit log
 * (the guard trigger in audit.c); audit_purge() is the one way out.  It drops
 * the partitions whose range ends at or before its argument, deletes the
 * older batches of the default partition, records per tenant the last purged
 * (seq, hash) in tenant_rls.audit_anchor, from which audit_verify() resumes,
 * and leaves a row in tenant_rls.audit_purge_log and a PURGE entry, with a
 * digest of the anchors, in the log itself.  It takes its locks when they are
 * free and queues for them at most 200 ms at a time (purge_lock_log()), so
 * that audited readers and writers never wait behind it for long.
 */
#include "tenant_rls.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit_chain.h"
#include "audit_delivery.h"
#include "context.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_purge);

bool		audit_purge_sanctioned = false;

/* ---------------------------------------------------------------------
 * audit_purge(before timestamptz)
 * ---------------------------------------------------------------------
 */
/*
 * The digests of the anchors the audit_purge() calls of this transaction
 * recorded in their PURGE entries (written at commit, so not in the log
 * yet), the last first, each with the (sub)transaction level that made it:
 * a later purge checks the anchors against the last one (review rev39c: it
 * checked nothing, and anchors forged between the two were recorded as
 * genuine).  Those of an aborted subtransaction go with it, as its PURGE
 * entry does (a purge rolled back to a savepoint, then anchors forged to its
 * digest, passed).  In TopTransactionContext; NIL at transaction end.
 */
typedef struct XactAnchors
{
	int			level;
	bool		have;			/* false: there were no anchors */
	char		hex[2 * AUDIT_HASH_LEN + 1];
} XactAnchors;
static List *xact_anchors = NIL;

/* at transaction end (chain_xact_callback()) */
void
audit_purge_xact_end(void)
{
	xact_anchors = NIL;			/* (its memory went with TopTransactionContext) */
}

/*
 * At the end of the subtransaction of nesting level "level"
 * (chain_subxact_callback()): the digests it recorded are dropped with their
 * PURGE entries (aborted), or now belong to its parent.
 */
void
audit_purge_subxact_end(bool aborted, int level)
{
	while (xact_anchors != NIL && ((XactAnchors *) linitial(xact_anchors))->level >= level)
	{
		if (aborted)
			xact_anchors = list_delete_first(xact_anchors);
		else
		{
			ListCell   *lc;

			foreach(lc, xact_anchors)
			{
				XactAnchors *xa = lfirst(lc);

				if (xa->level >= level)
					xa->level = level - 1;
			}
			break;
		}
	}
}

/*
 * Are these anchors those the last purge recorded: this transaction's last
 * one (its PURGE entry is not in the log yet), or the log's last PURGE entry?
 */
static bool
anchors_as_recorded(const AnchorRow *rows, int n)
{
	char		hex[2 * AUDIT_HASH_LEN + 1];
	bool		have = audit_digest_anchors(rows, n, hex);

	if (xact_anchors != NIL)
	{
		XactAnchors *xa = linitial(xact_anchors);

		return have == xa->have && (!have || strcmp(hex, xa->hex) == 0);
	}
	return audit_digest_is_recorded(have, hex, false);
}

/*
 * The anchors after a purge: before's, each raised to the purge's new anchor
 * of its chain where that is later (as the INSERT ... ON CONFLICT of
 * record_purge_anchors() does).  Both in tenant order ("C": strcmp).
 */
static AnchorRow *
merge_anchors(const AnchorRow *before, int nbefore, const AnchorRow *added, int nadded, int *n)
{
	AnchorRow  *out = palloc0(sizeof(AnchorRow) * (nbefore + nadded + 1));
	int			i = 0,
				j = 0;

	*n = 0;
	while (i < nbefore || j < nadded)
	{
		int			c = (i >= nbefore) ? 1 : (j >= nadded) ? -1 : strcmp(before[i].tenant, added[j].tenant);

		if (c < 0)
			out[(*n)++] = before[i++];
		else if (c > 0)
			out[(*n)++] = added[j++];
		else
		{
			out[(*n)++] = (added[j].seq > before[i].seq) ? added[j] : before[i];
			i++;
			j++;
		}
	}
	return out;
}

/*
 * The batch that becomes each chain's purge anchor (the last one a purge
 * removes) must be as its writer hashed it.  The anchor is where
 * audit_verify() starts the chain afterwards, and the purge picks batches by
 * logged_at: a superuser who moved a tenant's recent batches into the purged
 * range (logged_at edited, which changes no stored hash) would otherwise have
 * them removed by a genuine purge, and the chain would verify from the
 * anchor on (review rev39b).  The hash covers logged_at, and logged_at never
 * goes back along a chain, so a genuine anchor older than "before" means
 * every batch before it was older too; an anchor whose hash was recomputed
 * no longer links to the batch after it (audit_verify() reports that), or,
 * when it was the last one, differs from a head exported before
 * (audit_verify_head()).  srcfull selects (chain key t, seq, tableoid r,
 * ctid c) of what goes ($1: before): the last batch of each chain is found
 * by its chain key and seq (a hash aggregate, no sort of what goes), then
 * read whole by its ctid, checked, and recorded as the chain's anchor: the
 * batches checked are the batches recorded.
 */
static AnchorRow *
record_purge_anchors(const char *srcfull, Oid *argtypes, Datum *args, int *nadded)
{
	char	   *sql = psprintf("WITH s AS MATERIALIZED (%s),"
							   " a AS (SELECT t, pg_catalog.max(seq) AS m FROM s GROUP BY t),"
							   " w AS MATERIALIZED (SELECT s.r, s.c FROM s JOIN a ON s.t OPERATOR(pg_catalog.=) a.t"
							   " AND s.seq OPERATOR(pg_catalog.=) a.m)"
							   " SELECT " AUDIT_BATCH_COLUMNS " FROM tenant_rls.audit_batch b"
							   " WHERE b.ctid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT w.c FROM w))"
							   " AND (b.tableoid, b.ctid) IN (SELECT w.r, w.c FROM w)"
							   " ORDER BY COALESCE(b.tenant, ''), b.seq", srcfull);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "audit purge anchors",
												 ALLOCSET_DEFAULT_SIZES);
	SPITupleTable *tuptable;
	uint64		n;
	int			nanchors = 0;
	Datum	   *keys;
	Datum	   *seqs;
	Datum	   *hashes;
	AnchorRow  *rows;
	char	   *last_key = NULL;
	Oid			types[3] = {TEXTARRAYOID, INT8ARRAYOID, BYTEAARRAYOID};
	Datum		arrays[3];

	/* a new snapshot, taken after the purge's locks: what the DELETE sees */
	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the batches to purge");
	tuptable = SPI_tuptable;
	n = SPI_processed;
	audit_check_batch_desc(tuptable->tupdesc, "audit_batch");
	rows = palloc0(sizeof(AnchorRow) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		Datum		values[AB_NATTS];
		bool		nulls[AB_NATTS];
		uint8		stored_prev[AUDIT_HASH_LEN];
		uint8		stored_hash[AUDIT_HASH_LEN];
		uint8		computed[AUDIT_HASH_LEN];
		bool		ok = false;
		char	   *key;
		const char *chain;
		MemoryContext old;

		heap_deform_tuple(tuptable->vals[i], tuptable->tupdesc, values, nulls);
		key = nulls[AB_TENANT] ? pstrdup("") : TextDatumGetCString(values[AB_TENANT]);
		chain = nulls[AB_TENANT] ? "the chain without tenant" : psprintf("tenant %s", quote_literal_cstr(key));
		old = MemoryContextSwitchTo(rowcxt);	/* the detoasted payload */
		if (!nulls[AB_PREV_HASH] && audit_get_hash(values[AB_PREV_HASH], stored_prev) &&
			!nulls[AB_HASH] && audit_get_hash(values[AB_HASH], stored_hash))
		{
			audit_batch_hash(stored_prev, values, nulls, computed);
			ok = memcmp(stored_hash, computed, AUDIT_HASH_LEN) == 0;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("batch %lld of %s, the last one of its chain the purge would remove, was modified",
							(long long) DatumGetInt64(values[AB_SEQ]), chain),
					 errdetail("Its hash does not match its contents. A purge starts each chain anew after the last batch it removes: it would record a modified batch as genuine, and batches moved into the purged range by an edit of their logged_at would no longer be missed."),
					 errhint("Run SELECT * FROM tenant_rls.audit_verify(); to see what was changed, and put the batches back from a backup before purging.")));
		/*
		 * A copy of the last batch (audit_verify() reports it) counts once;
		 * two different batches with its seq, each consistent, leave the
		 * chain's start in doubt.
		 */
		if (last_key != NULL && strcmp(last_key, key) == 0)
		{
			bytea	   *h = DatumGetByteaPP(values[AB_HASH]);

			if (VARSIZE_ANY_EXHDR(h) != VARSIZE_ANY_EXHDR(rows[nanchors - 1].hash) ||
				memcmp(VARDATA_ANY(h), VARDATA_ANY(rows[nanchors - 1].hash), VARSIZE_ANY_EXHDR(h)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("batch %lld of %s, the last one of its chain the purge would remove, is in the log twice with different contents",
								(long long) DatumGetInt64(values[AB_SEQ]), chain),
						 errdetail("A purge starts each chain anew after the last batch it removes, and cannot tell which of the two is genuine."),
						 errhint("Run SELECT * FROM tenant_rls.audit_verify(); to see what was changed, and put the batches back from a backup before purging.")));
			continue;
		}
		last_key = key;
		rows[nanchors].tenant = key;
		rows[nanchors].seq = DatumGetInt64(values[AB_SEQ]);
		rows[nanchors].hash = DatumGetByteaPCopy(values[AB_HASH]);
		nanchors++;
	}
	SPI_freetuptable(tuptable);
	MemoryContextDelete(rowcxt);

	keys = palloc(sizeof(Datum) * (nanchors + 1));
	seqs = palloc(sizeof(Datum) * (nanchors + 1));
	hashes = palloc(sizeof(Datum) * (nanchors + 1));
	for (int i = 0; i < nanchors; i++)
	{
		keys[i] = CStringGetTextDatum(rows[i].tenant);
		seqs[i] = Int64GetDatum(rows[i].seq);
		hashes[i] = PointerGetDatum(rows[i].hash);
	}
	arrays[0] = PointerGetDatum(construct_array(keys, nanchors, TEXTOID, -1, false, TYPALIGN_INT));
	arrays[1] = PointerGetDatum(construct_array(seqs, nanchors, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	arrays[2] = PointerGetDatum(construct_array(hashes, nanchors, BYTEAOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("INSERT INTO tenant_rls.audit_anchor AS a (tenant, seq, hash, purged_at)"
							  " SELECT u.t, u.s, u.h, pg_catalog.now() FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) u(t, s, h)"
							  " ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
							  " purged_at = excluded.purged_at WHERE a.seq OPERATOR(pg_catalog.<) excluded.seq",
							  3, types, arrays, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the audit anchors");
	*nadded = nanchors;
	return rows;
}

/*
 * Into SPI_tuptable: the partitions to drop whole, those whose range ends at
 * or before "before" ($1): by their bounds, not their names (a partition
 * renamed to an older month's name would have been dropped with its recent
 * batches, and the anchors moved past them: verification passed).  A
 * partition whose upper bound is MAXVALUE, or the default one, never goes
 * whole.  The bound is printed and read back as text: under ISO and UTC
 * (with DateStyle Postgres and TimeZone Europe/Dublin it printed "IST", read
 * back as Israel time, and a partition whose range ended after "before" was
 * dropped).  The pattern has no backslash: with standard_conforming_strings
 * off, 'TO \\(' lost it, matched nothing, and the purge dropped no partition
 * while it recorded one that did (review rev47a).
 */
static void
list_purge_partitions(Oid *argtypes, Datum *args)
{
	int			guc_level = NewGUCNestLevel();

	(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute_with_args("SELECT n.nspname::text, c.relname::text, c.oid FROM pg_catalog.pg_inherits i"
							  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid"
							  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
							  " WHERE i.inhparent OPERATOR(pg_catalog.=) 'tenant_rls.audit_batch'::pg_catalog.regclass"
							  " AND pg_catalog.substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO [(]''([^'']*)''[)]')"
							  "     ::pg_catalog.timestamptz OPERATOR(pg_catalog.<=) $1"
							  " ORDER BY 2, 1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the partitions of the audit log");
	AtEOXact_GUC(true, guc_level);
}

/*
 * Queue for a lock on the log (or, tag not NULL, that lock) for at most
 * timeout_ms (a subtransaction with its own lock_timeout); false if that ran
 * out.
 */
static bool
queue_for_lock(Oid relid, LOCKMODE mode, const LOCKTAG *tag, int timeout_ms)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool got = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		int			level = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", psprintf("%d", timeout_ms), PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		if (tag != NULL)
			(void) LockAcquire(tag, mode, false, false);
		else
			LockRelationOid(relid, mode);
		AtEOXact_GUC(true, level);
		ReleaseCurrentSubTransaction();	/* the lock goes to the transaction */
		got = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		/* lock_timeout, or a deadlock detected meanwhile: try again later */
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE &&
			edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return got;
}

/*
 * The chain of the entries without tenant, which audit_purge()'s PURGE entry
 * goes into at commit, without waiting, or (queue) queued for at most 200 ms:
 * the chain table in ROW EXCLUSIVE first, as every writer takes it
 * (chain_lock_limit()).  False: taken by another transaction (none of the
 * two is kept).  Tried only, the lock was never free at the instant of a
 * try under a steady stream of writers without tenant (review rev34d).
 */
static bool
purge_try_chain(Oid *chains_out, bool queue)
{
	LOCKTAG		tag;
	Oid			chains;

	audit_lookup_oids();
	chains = *chains_out = audit_chain_oid;
	if (!ConditionalLockRelationOid(chains, RowExclusiveLock))
		return false;
	if (audit_all_chains_locked(chains))
		return true;
	(void) audit_chain_lock_tag("", &tag);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL ||
		(queue && queue_for_lock(InvalidOid, ExclusiveLock, &tag, 200)))
		return true;
	UnlockRelationOid(chains, RowExclusiveLock);
	return false;
}

/*
 * ACCESS EXCLUSIVE on each of the partitions (oids) without waiting, or
 * (queue) queued for at most 200 ms once, for the first one that is taken;
 * false: one is taken (none kept).
 */
static bool
purge_try_partitions(List *oids, bool queue)
{
	ListCell   *lc;

	foreach(lc, oids)
	{
		Oid			relid = lfirst_oid(lc);

		if (ConditionalLockRelationOid(relid, AccessExclusiveLock))
			continue;
		if (queue && queue_for_lock(relid, AccessExclusiveLock, NULL, 200))
		{
			queue = false;
			continue;
		}
		for (ListCell *l2 = list_head(oids); l2 != lc; l2 = lnext(oids, l2))
			UnlockRelationOid(lfirst_oid(l2), AccessExclusiveLock);
		return false;
	}
	return true;
}

/* the oids of the partitions list_purge_partitions() just listed */
static List *
purge_partition_oids(void)
{
	List	   *oids = NIL;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		oids = lappend_oid(oids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc, 3, &isnull)));
	}
	return oids;
}

/* the locks purge_lock_log() took */
typedef struct PurgeLocks
{
	Oid			chains;			/* ROW EXCLUSIVE, and the chain without tenant */
	Oid			log;			/* ACCESS EXCLUSIVE; InvalidOid: not taken */
	Oid			def;			/* the default partition, in defmode */
	LOCKMODE	defmode;
	List	   *parts;			/* ACCESS EXCLUSIVE */
} PurgeLocks;

static void
purge_release_chain(Oid chains)
{
	LOCKTAG		tag;

	(void) audit_chain_lock_tag("", &tag);
	if (!audit_all_chains_locked(chains))
		LockRelease(&tag, ExclusiveLock, false);
	UnlockRelationOid(chains, RowExclusiveLock);
}

static void
purge_release(const PurgeLocks *held)
{
	ListCell   *lc;
	ResourceOwner save_owner = CurrentResourceOwner;

	CurrentResourceOwner = CurTransactionResourceOwner;	/* (purge_lock_log()) */
	foreach(lc, held->parts)
		UnlockRelationOid(lfirst_oid(lc), AccessExclusiveLock);
	UnlockRelationOid(held->def, held->defmode);
	if (OidIsValid(held->log))
		UnlockRelationOid(held->log, AccessExclusiveLock);
	purge_release_chain(held->chains);
	CurrentResourceOwner = save_owner;
}

/*
 * How audit_purge() locks the chain its PURGE entry goes into (that of the
 * entries without tenant), the log (ACCESS EXCLUSIVE), its default
 * partition (SHARE ROW EXCLUSIVE; ACCESS EXCLUSIVE when it drops partitions,
 * as DROP TABLE of a partition takes it there: queued for it while holding
 * the log, it waited for any reader of the default partition, review
 * rev41c) and then the partitions it drops (parts: their oids; ACCESS
 * EXCLUSIVE, which a session reading one directly holds up: a COPY of it
 * for an archive, review rev41b): tries without waiting every 20 ms, and
 * about once a second queues for a lock of the log for at most 200 ms.
 * Under a steady stream of short reads the log is never free at the instant
 * of a try, but a queued request is granted once the reads ahead of it end;
 * queued behind a transaction that stays open, it makes the other readers
 * wait 200 ms at most, not until that transaction ends.  It never waits for
 * one lock while holding another, except for those 200 ms: holding the
 * default partition's lock while waiting for the log's stalled every
 * audited write that goes there (rev24f), and the reverse every reader; and
 * the chain, taken at commit while holding the log, waited for a prepared
 * transaction that wrote an entry without tenant, with every tenant's reads
 * of the log queued behind the purge (review rev33a).  lock_timeout, if
 * set, bounds the whole wait (55P03); a cancel or statement_timeout ends it.
 */
static void
purge_lock_log(bool with_log, List *parts, PurgeLocks *held, TimestampTz start)
{
	LOCKMODE	defmode = with_log ? AccessExclusiveLock : ShareRowExclusiveLock;
	ResourceOwner save_owner = CurrentResourceOwner;

	/*
	 * The locks belong to the transaction's resource owner, which those won
	 * by queue_for_lock() (in a subtransaction) go to: let go by a statement's
	 * owner, they stayed held, with a warning (review rev41d: the log stayed
	 * locked while the purge waited for its default partition).
	 */
	CurrentResourceOwner = CurTransactionResourceOwner;

	for (int tries = 1;; tries++)
	{
		bool		queue = tries % 50 == 0;
		const char *busy = "the audit chain of the entries without tenant";
		Oid			chains;

		if (purge_try_chain(&chains, queue))
		{
			Oid			log;
			Oid			def;

			/*
			 * (the oids read once: taking a lock accepts invalidations,
			 * which may reset the cached ones, review rev41c)
			 */
			audit_lookup_oids();
			log = audit_log_oid;
			def = audit_default_oid;
			busy = with_log ? "the audit log" : "its default partition";
			if (!with_log ||
				ConditionalLockRelationOid(log, AccessExclusiveLock) ||
				(queue && queue_for_lock(log, AccessExclusiveLock, NULL, 200)))
			{
				busy = "its default partition";
				if (ConditionalLockRelationOid(def, defmode) ||
					(queue && queue_for_lock(def, defmode, NULL, 200)))
				{
					busy = "a partition of the audit log that it drops";
					if (purge_try_partitions(parts, queue))
					{
						held->chains = chains;
						held->log = with_log ? log : InvalidOid;
						held->def = def;
						held->defmode = defmode;
						held->parts = parts;
						CurrentResourceOwner = save_owner;
						return;
					}
					UnlockRelationOid(def, defmode);
				}
				if (with_log)
					UnlockRelationOid(log, AccessExclusiveLock);
			}
			purge_release_chain(chains);
		}
		if (LockTimeout > 0 && TimestampDifferenceExceeds(start, GetCurrentTimestamp(), LockTimeout))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock the audit log to purge it within lock_timeout (%d ms)",
							LockTimeout),
					 errdetail("Open transactions use %s; audit_purge() waits for them without making other readers or writers wait long behind it (a prepared transaction: see pg_prepared_xacts).",
							   busy),
					 errhint("Retry later, or with a longer lock_timeout (0: until they end).")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 20, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

Datum
tenant_rls_audit_purge(PG_FUNCTION_ARGS)
{
	TimestampTz before;
	volatile int64 entries = 0;
	List	   *volatile parts = NIL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("before must not be null"),
				 errhint("Pass the time before which entries are removed, e.g. now() - interval '1 year'.")));
	before = PG_GETARG_TIMESTAMPTZ(0);
	if (before > GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot purge audit entries of the future"),
				 errhint("Pass a time in the past.")));


	/*
	 * What goes, the anchors and their digest must be read after the locks
	 * below are taken, each query with a snapshot of its own.  With the
	 * transaction's snapshot they were read as of before a purge that
	 * committed meanwhile: the PURGE entry recorded a stale digest of the
	 * anchors, and audit_verify() then failed every anchored chain.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("audit_purge() cannot run in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("It reads the log after locking it, which needs a new snapshot for each query."),
				 errhint("Run it in a READ COMMITTED transaction (BEGIN ISOLATION LEVEL READ COMMITTED).")));

	/*
	 * The PURGE entry is written at commit, and immediately
	 * (audit_chain_purging()): through the delivery worker it reached the log
	 * after the purge had committed, and until then audit_verify() reported
	 * every anchored chain tampered with.  Entries this transaction deferred
	 * before would be chained after it.
	 */
	if (audit_chain_deferring())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("audit_purge() cannot run in a transaction that has deferred audit entries"),
				 errdetail("Its PURGE entry is written at commit, before the entries the delivery worker writes after the commit."),
				 errhint("Run it in a transaction of its own.")));

	audit_delivery_drain();
	audit_lookup_oids();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	audit_chain_purging();
	audit_purge_sanctioned = true;
	PG_TRY();
	{
		Oid			argtypes[1] = {TIMESTAMPTZOID};
		Datum		args[1] = {TimestampTzGetDatum(before)};
		StringInfoData src;
		StringInfoData srcfull;
		StringInfoData sql;
		StringInfoData partarr;
		AnchorRow  *anchors_before;
		AnchorRow  *added;
		AnchorRow  *anchors_after;
		int			nbefore;
		int			nadded;
		int			nafter;
		ListCell   *lc;
		char	   *doc;

		list_purge_partitions(argtypes, args);

		/*
		 * Dropping a partition takes ACCESS EXCLUSIVE on the log itself.
		 * Queued for it behind one open transaction that read the log, we
		 * would make every tenant's reads of its own log, audit_history()
		 * and audit_verify() queue behind us (review rev24c); purge_lock_log()
		 * queues only briefly, and never waits for one lock while it holds
		 * the other.
		 */
		if (SPI_processed > 0)
		{
			/*
			 * Then the partitions are listed again: none can be attached or
			 * detached any more.  One attached meanwhile is taken without
			 * waiting, or everything is let go and taken again with it
			 * (review rev41c: it was locked while holding the log, without
			 * a time limit).
			 */
			TimestampTz start = GetCurrentTimestamp();

			for (;;)
			{
				List	   *oids = purge_partition_oids();
				List	   *attached;
				PurgeLocks	held;
				bool		got;

				purge_lock_log(true, oids, &held, start);
				list_purge_partitions(argtypes, args);
				attached = list_difference_oid(purge_partition_oids(), oids);
				if (attached == NIL)
					break;
				{
					ResourceOwner save_owner = CurrentResourceOwner;

					CurrentResourceOwner = CurTransactionResourceOwner;	/* (purge_lock_log()) */
					got = purge_try_partitions(attached, false);
					CurrentResourceOwner = save_owner;
				}
				if (got)
					break;
				purge_release(&held);
				list_purge_partitions(argtypes, args);
			}
		}
		else
		{
			PurgeLocks	held;

			/* the default partition's lock alone (review rev31a) */
			purge_lock_log(false, NIL, &held, GetCurrentTimestamp());
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *nsp = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			char	   *rel = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

			parts = lappend(parts, list_make2(nsp, rel));
		}

		/*
		 * Lock them (held already), then read what goes: no writer can add
		 * to them any more.  The default partition (locked above) keeps its
		 * writers out until the purge commits: a batch committed between
		 * the anchors and the DELETE would go without an anchor.
		 */
		initStringInfo(&src);
		appendStringInfoString(&src, "SELECT tenant, seq, hash, entries, logged_at, NULL::pg_catalog.text AS part"
							   " FROM tenant_rls.audit_batch_default WHERE logged_at OPERATOR(pg_catalog.<) $1");
		initStringInfo(&srcfull);
		appendStringInfoString(&srcfull, "SELECT COALESCE(tenant, '') AS t, seq, tableoid AS r, ctid AS c"
							   " FROM tenant_rls.audit_batch_default WHERE logged_at OPERATOR(pg_catalog.<) $1");
		foreach(lc, parts)
		{
			List	   *part = lfirst(lc);
			char	   *q = quote_qualified_identifier(linitial(part), lsecond(part));

			if (SPI_execute(psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", q), false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not lock %s", q);
			appendStringInfo(&src, " UNION ALL SELECT tenant, seq, hash, entries, logged_at, %s FROM %s",
							 quote_literal_cstr(psprintf("%s.%s", (char *) linitial(part), (char *) lsecond(part))), q);
			appendStringInfo(&srcfull, " UNION ALL SELECT COALESCE(tenant, ''), seq, tableoid, ctid FROM %s", q);
		}

		/*
		 * The writer finds a month's partition by its name: one renamed
		 * holds batches outside its bounds.  Nothing logged at or after
		 * "before" is ever dropped.
		 */
		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT COALESCE(pg_catalog.sum(entries), 0)::pg_catalog.int8,"
						 " pg_catalog.min(part) FILTER (WHERE logged_at OPERATOR(pg_catalog.>=) $1) FROM (%s) s",
						 src.data);
		if (SPI_execute_with_args(sql.data, 1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not count the entries to purge");
		{
			bool		isnull;
			char	   *bad;

			entries = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			bad = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			if (bad != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("audit log partition \"%s\" holds batches outside its range", bad),
						 errdetail("Its range ends at or before %s, but it holds batches logged at or after that time: it was renamed, and the batches of the month of its name were written into it.",
								   timestamptz_to_str(before)),
						 errhint("Rename the partitions of tenant_rls.audit_batch back to the names of the months their ranges cover (pg_get_expr(relpartbound, oid) of pg_class shows a range) and run tenant_rls.audit_verify(); this partition can be purged once before is past its newest batch.")));
		}

		/*
		 * The anchors must still be those the last purge recorded: the digest
		 * this purge records covers every anchor, so one added or changed by
		 * hand since then would be recorded as genuine, and the batches
		 * deleted below it would never be missed again (review rev36a).  A
		 * second purge in the same transaction finds the anchors the first
		 * one recorded, whose PURGE entry is written at commit
		 * (xact_anchors).  Nobody else writes them until this transaction
		 * ends (review rev39d: a session that changed them while the purge
		 * deleted had them recorded as genuine); what this purge records is
		 * computed here, not read back at the end (a trigger of the
		 * superuser's on a table the purge writes could have changed them).
		 */
		if (SPI_execute("LOCK TABLE tenant_rls.audit_anchor IN EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not lock tenant_rls.audit_anchor");
		anchors_before = audit_read_anchors(false, &nbefore);
		if (!anchors_as_recorded(anchors_before, nbefore))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the audit log's purge anchors are not those the last purge recorded"),
					 errdetail("tenant_rls.audit_anchor was changed since the last audit_purge() (or the PURGE entry that recorded it is gone): a purge now would record the changed anchors as genuine, and batches deleted up to a forged anchor would no longer be found."),
					 errhint("Run SELECT * FROM tenant_rls.audit_verify(); to see which chains are affected, and put back tenant_rls.audit_anchor (or the partition of the log that holds the last PURGE entry) from a backup before purging.")));

		/* the anchors: last purged (seq, hash) per tenant, checked */
		added = record_purge_anchors(srcfull.data, argtypes, args, &nadded);
		anchors_after = merge_anchors(anchors_before, nbefore, added, nadded, &nafter);

		initStringInfo(&partarr);
		appendStringInfoChar(&partarr, '{');
		foreach(lc, parts)
		{
			List	   *part = lfirst(lc);
			char	   *q = quote_qualified_identifier(linitial(part), lsecond(part));

			if (SPI_execute(psprintf("DROP TABLE %s", q), false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not drop %s", q);
			/* the names, quoted as elements of a text[] literal */
			if (partarr.len > 1)
				appendStringInfoChar(&partarr, ',');
			appendStringInfoChar(&partarr, '"');
			for (const char *c = lsecond(part); *c; c++)
			{
				if (*c == '"' || *c == '\\')
					appendStringInfoChar(&partarr, '\\');
				appendStringInfoChar(&partarr, *c);
			}
			appendStringInfoChar(&partarr, '"');
		}
		appendStringInfoChar(&partarr, '}');
		if (SPI_execute_with_args("DELETE FROM tenant_rls.audit_batch_default WHERE logged_at OPERATOR(pg_catalog.<) $1",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not purge the default partition");

		{
			Oid			types[4] = {TIMESTAMPTZOID, TEXTOID, INT8OID, TEXTOID};
			Datum		a[4] = {TimestampTzGetDatum(before), CStringGetTextDatum(partarr.data),
			Int64GetDatum(entries), (Datum) 0};
			bool		isnull;

			if (SPI_execute_with_args("INSERT INTO tenant_rls.audit_purge_log (purged_at, before, purged_by, partitions, entries)"
									  " VALUES (pg_catalog.now(), $1, SESSION_USER, $2::pg_catalog.text[], $3)",
									  3, types, a, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record the purge");

			/*
			 * and an entry in the log itself, in the chain of entries without
			 * tenant, with the digest of every anchor now (audit_verify()
			 * checks the anchors against it)
			 */
			{
				char		hex[2 * AUDIT_HASH_LEN + 1];
				char		nulls4[4] = {' ', ' ', ' ', ' '};

				char		now_hex[2 * AUDIT_HASH_LEN + 1];
				bool		have = audit_digest_anchors(anchors_after, nafter, hex);
				bool		now_have = audit_anchors_digest(false, now_hex);
				XactAnchors *xa;
				MemoryContext old;

				if (have != now_have || (have && strcmp(hex, now_hex) != 0))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("the audit log's purge anchors were changed while the purge ran"),
							 errdetail("tenant_rls.audit_anchor is not what this purge made it: something the purge ran (a trigger on a table it writes) changed it."),
							 errhint("Drop the triggers on the tables of schema tenant_rls that the extension did not create, then purge again.")));
				if (have)
					a[3] = CStringGetTextDatum(hex);
				else
					nulls4[3] = 'n';
				old = MemoryContextSwitchTo(TopTransactionContext);
				xa = palloc(sizeof(XactAnchors));
				xa->level = GetCurrentTransactionNestLevel();
				xa->have = have;
				strlcpy(xa->hex, have ? hex : "", sizeof(xa->hex));
				xact_anchors = lcons(xa, xact_anchors);
				MemoryContextSwitchTo(old);
				if (SPI_execute_with_args("SELECT pg_catalog.jsonb_build_object('before', $1, 'partitions', $2::pg_catalog.text[], 'entries', $3,"
										  " 'anchors', $4)::pg_catalog.text",
										  4, types, a, nulls4, false, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not describe the purge");
			}
			doc = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			(void) isnull;
		}
		{
			StringInfoData layout;
			StringInfoData entry;
			NameData	nsp;
			NameData	name;
			AuditTarget target;

			initStringInfo(&layout);
			audit_put_layout_header(&layout, 0);
			initStringInfo(&entry);
			audit_put_u8(&entry, AUDIT_OP_PURGE);
			audit_put_u8(&entry, AUDIT_EF_ROW_COUNT | AUDIT_EF_DOC);
			audit_put_i64(&entry, GetCurrentStatementStartTimestamp());
			audit_put_i64(&entry, entries);
			audit_put_u32(&entry, (uint32) strlen(doc));
			appendBinaryStringInfo(&entry, doc, strlen(doc));
			namestrcpy(&nsp, TENANT_RLS_SCHEMA);
			namestrcpy(&name, "audit_log");
			target.table_oid = audit_log_oid;
			target.schema_name = &nsp;
			target.table_name = &name;
			target.layout_id = 0;
			target.layout = layout.data;
			target.layout_len = layout.len;
			audit_append_entry(NULL, tenant_context_get_trusted(), &target, entry.data, entry.len, 0, NULL,
							   InvalidCommandId);
		}

		/*
		 * The partitions ahead, while we are here -- only if the locks that
		 * creating one takes (ACCESS EXCLUSIVE on the log and its default
		 * partition) are free now: queued for them behind a transaction that
		 * read the log and stays open, this purge made every tenant's reads
		 * of its log, and the commits that write to the default partition,
		 * wait until that transaction ended (review rev31a).  Else they are
		 * left to the maintenance worker or audit_maintain(), with a warning
		 * if one is missing.
		 */
		if (ConditionalLockRelationOid(audit_log_oid, AccessExclusiveLock) &&
			ConditionalLockRelationOid(audit_default_oid, AccessExclusiveLock))
		{
			if (SPI_execute("SELECT tenant_rls.audit_maintain()", false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not create the next audit_batch partitions");
		}
		else
		{
			if (SPI_execute("SELECT pg_catalog.count(*) FROM pg_catalog.generate_series(0, 3) i"
							" WHERE pg_catalog.to_regclass(pg_catalog.format('tenant_rls.audit_batch_p%s',"
							"   pg_catalog.to_char(pg_catalog.date_trunc('month', pg_catalog.clock_timestamp() AT TIME ZONE 'UTC')"
							"     OPERATOR(pg_catalog.+) pg_catalog.make_interval(months => i), 'YYYYMM'))) IS NULL",
							true, 0) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "could not look for the next audit_batch partitions");
			if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "0") != 0)
				ereport(WARNING,
						(errmsg("audit_batch partitions ahead not created: the audit log is in use"),
						 errdetail("audit_purge() creates the partitions of this and the next three months only when it can lock the log without waiting."),
						 errhint("The audit maintenance worker creates them; or run tenant_rls.audit_maintain() at a quiet time.")));
		}
	}
	PG_FINALLY();
	{
		audit_purge_sanctioned = false;
	}
	PG_END_TRY();

	SPI_finish();
	PG_RETURN_INT64(entries);
}
