/*
 * audit_verify.c -- audit_verify(): every tenant's hash chain recomputed
 * from the log.
 *
 * Each chain is read in seq order from tenant_rls.audit_batch, from the
 * anchor audit_purge() recorded (tenant_rls.audit_anchor) or from seq 1; the
 * hash of every batch is computed again (audit_batch_hash() in
 * audit_chain.c) and compared with the one stored and with the previous one
 * it names, and the last with the head in tenant_rls.audit_chain.  The first
 * batch that does not match is named, with the reason (doc/audit.md lists
 * them).  The anchors themselves are checked against the digest the last
 * purge recorded in the log.
 */
#include "tenant_rls.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_inherits.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "audit_chain.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_verify);
PG_FUNCTION_INFO_V1(tenant_rls_audit_anchors_recorded);

/* ---------------------------------------------------------------------
 * audit_verify(tenant text DEFAULT NULL)
 * ---------------------------------------------------------------------
 */
/* the first occurrence of needle in hay[0 .. len), or NULL */
static const char *
memmem_bytes(const char *hay, size_t len, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return hay;
	for (size_t i = 0; i + nlen <= len; i++)
	{
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	}
	return NULL;
}

/*
 * (seq, hash) of key in table (audit_chain or audit_anchor); false if none.
 * logged_at (audit_chain only; NULL: not wanted) gets the head's logged_at,
 * DT_NOBEGIN when it has none.
 */
static bool
read_seq_hash(const char *table, const char *key, int64 *seq, uint8 *hash, TimestampTz *logged_at)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(key)};
	char	   *sql = psprintf("SELECT seq, hash%s FROM tenant_rls.%s WHERE tenant OPERATOR(pg_catalog.=) $1",
							   logged_at ? ", logged_at" : "", table);
	bool		isnull;

	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tenant_rls.%s", table);
	if (SPI_processed == 0)
		return false;
	*seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!audit_get_hash(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull), hash))
		memset(hash, 0xff, AUDIT_HASH_LEN);
	if (logged_at)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);

		*logged_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	}
	return true;
}

/*
 * misplaced: the lowest seq of the batches that name this tenant but are
 * stored outside its range of audit keys (0: none).  The chain is read
 * through that range, so such a batch -- moved from another chain, or slipped
 * in with a key of its own -- is reported here.
 */
#define FUTURE_TOLERANCE_US	(INT64CONST(3600) * USECS_PER_SEC)

/*
 * Why batches written between from and to (the dates of the batches around
 * them; from DT_NOBEGIN: unknown, to's month only) may be missing: a month
 * in that span whose partition of the log is gone.  Returns the text to
 * append to the reason ("; the log has no partition for 2026-10, ...") or
 * "".  A month without a partition whose batches went to the default
 * partition is named too: rows deleted from there read the same.
 */
#define MISSING_PARTITIONS_NAMED 3

static char *
missing_partitions_note(TimestampTz from, TimestampTz to)
{
	struct pg_tm tm;
	struct pg_tm last;
	fsec_t		fsec;
	StringInfoData buf;
	int			named = 0;
	int			more = 0;

	audit_lookup_oids();
	if (!OidIsValid(audit_log_oid) || TIMESTAMP_NOT_FINITE(to) ||
		timestamp2tm(to, NULL, &last, &fsec, NULL, NULL) != 0)
		return "";
	if (TIMESTAMP_NOT_FINITE(from) || from > to ||
		timestamp2tm(from, NULL, &tm, &fsec, NULL, NULL) != 0)
		tm = last;

	initStringInfo(&buf);
	for (;;)
	{
		char		name[NAMEDATALEN];
		Oid			oid;

		audit_partition_name(&tm, name);
		oid = get_relname_relid(name, audit_nsp);
		if (!OidIsValid(audit_log_partition(name, audit_nsp, audit_log_oid)))
		{
			if (named++ >= MISSING_PARTITIONS_NAMED)
				more++;
			else
				appendStringInfo(&buf, "%s%04d-%02d (%s.%s %s)",
								 named == 1 ? "; the log has no partition for " : ", ",
								 tm.tm_year, tm.tm_mon, TENANT_RLS_SCHEMA, name,
								 OidIsValid(oid) ? "is a table outside the log: it was detached"
								 : "does not exist: it was dropped");
		}
		if (tm.tm_year > last.tm_year ||
			(tm.tm_year == last.tm_year && tm.tm_mon >= last.tm_mon))
			break;
		audit_next_month(&tm);
	}
	if (more > 0)
		appendStringInfo(&buf, " and %d more month%s", more, more == 1 ? "" : "s");
	return buf.data;
}

static void
verify_one(const char *key, int64 misplaced, bool anchors_ok, Tuplestorestate *store, TupleDesc outdesc)
{
	int64		expected = 1;
	int64		count = 0;
	int64		bad_seq = 0;
	char	   *reason = NULL;
	uint8		prev[AUDIT_HASH_LEN];
	int64		head_seq;
	uint8		head_hash[AUDIT_HASH_LEN];
	bool		has_head;
	bool		has_anchor;
	TimestampTz head_logged_at = DT_NOBEGIN;
	TimestampTz last_logged_at = DT_NOBEGIN;	/* of the last batch read (none: DT_NOBEGIN) */
	TimestampTz verify_now = GetCurrentTimestamp();
	Portal		portal;
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		args[3];
	Datum		out[5];
	bool		outnull[5] = {false, false, false, false, false};
	int64		region = audit_tenant_key(key, strlen(key));

	int64		aseq = 0;

	memset(prev, 0, sizeof(prev));
	has_anchor = read_seq_hash("audit_anchor", key, &aseq, prev, NULL);
	if (has_anchor)
		expected = aseq + 1;
	has_head = read_seq_hash("audit_chain", key, &head_seq, head_hash, &head_logged_at);

	/* the tenant's region of the key index, then the tenant itself */
	args[0] = CStringGetTextDatum(key);
	args[1] = Int64GetDatum(region);
	args[2] = Int64GetDatum(region + (int64) UINT64CONST(0xFFFFFFFF));
	/* (key '': the batches without tenant and those of the tenant '') */
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT " AUDIT_BATCH_COLUMNS " FROM tenant_rls.audit_batch"
									   " WHERE audit_key BETWEEN $2 AND $3"
									   " AND COALESCE(tenant, '') OPERATOR(pg_catalog.=) $1 ORDER BY seq, logged_at",
									   3, argtypes, args, NULL, true, 0);

	while (reason == NULL)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		audit_check_batch_desc(SPI_tuptable->tupdesc, "audit_batch");
		for (uint64 i = 0; i < SPI_processed && reason == NULL; i++)
		{
			Datum		values[AB_NATTS];
			bool		nulls[AB_NATTS];
			uint8		stored_prev[AUDIT_HASH_LEN];
			uint8		stored_hash[AUDIT_HASH_LEN];
			uint8		computed[AUDIT_HASH_LEN];
			int64		seq;

			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
			count += nulls[AB_ENTRIES] ? 0 : DatumGetInt32(values[AB_ENTRIES]);
			seq = DatumGetInt64(values[AB_SEQ]);
			if (seq < expected)
			{
				bad_seq = seq;
				reason = psprintf("batch %lld repeats or precedes batch %lld: a batch was inserted or reordered",
								  (long long) seq, (long long) (expected - 1));
				break;
			}
			if (seq > expected)
			{
				bad_seq = expected;
				reason = (seq == expected + 1)
					? psprintf("batch %lld is missing: it was deleted%s", (long long) expected,
							   missing_partitions_note(last_logged_at,
													   DatumGetTimestampTz(values[AB_LOGGED_AT])))
					: psprintf("batches %lld to %lld are missing: they were deleted%s",
							   (long long) expected, (long long) (seq - 1),
							   missing_partitions_note(last_logged_at,
													   DatumGetTimestampTz(values[AB_LOGGED_AT])));
				break;
			}
			if (nulls[AB_PREV_HASH] || !audit_get_hash(values[AB_PREV_HASH], stored_prev) ||
				memcmp(stored_prev, prev, AUDIT_HASH_LEN) != 0)
			{
				bad_seq = seq;
				reason = psprintf("batch %lld does not follow the batch before it (prev_hash differs): batches were reordered, replaced or inserted",
								  (long long) seq);
				break;
			}
			audit_batch_hash(prev, values, nulls, computed);
			if (nulls[AB_HASH] || !audit_get_hash(values[AB_HASH], stored_hash) ||
				memcmp(stored_hash, computed, AUDIT_HASH_LEN) != 0)
			{
				bad_seq = seq;
				reason = psprintf("batch %lld was modified: its hash does not match its contents",
								  (long long) seq);
				break;
			}
			if (nulls[AB_AUDIT_KEY] ||
				DatumGetInt64(values[AB_AUDIT_KEY]) !=
				audit_log_key(key, strlen(key), DatumGetObjectId(values[AB_TABLE_OID]), !nulls[AB_ROW_KEY],
							  nulls[AB_ROW_KEY] ? 0 : DatumGetInt64(values[AB_ROW_KEY])))
			{
				bad_seq = seq;
				reason = psprintf("batch %lld was modified: its audit_key does not match its tenant, table and row key",
								  (long long) seq);
				break;
			}
			/*
			 * Dated more than an hour ahead of the clock: no writer does that
			 * (a batch is dated at its writer's commit, at least the batch
			 * before it), but a chain head whose logged_at was moved into the
			 * future dates every later batch there, and the hash of each
			 * covers that date (review rev21c).  (An hour: a server clock set
			 * back by less does not raise a false alarm.)
			 */
			if (DatumGetTimestampTz(values[AB_LOGGED_AT]) > verify_now + FUTURE_TOLERANCE_US)
			{
				bad_seq = seq;
				reason = psprintf("batch %lld is dated in the future (%s): the chain head's logged_at was modified before it was written",
								  (long long) seq, timestamptz_to_str(DatumGetTimestampTz(values[AB_LOGGED_AT])));
				break;
			}
			/*
			 * Dated before the batch before it: no writer does that either
			 * (audit_write_batch() dates a batch at least at its chain head's
			 * logged_at), and audit_purge() relies on it: a genuine anchor
			 * older than its cut means every batch before it was older too.
			 * Batches backdated with their hashes recomputed (review rev39c).
			 */
			if (!TIMESTAMP_IS_NOBEGIN(last_logged_at) &&
				DatumGetTimestampTz(values[AB_LOGGED_AT]) < last_logged_at)
			{
				bad_seq = seq;
				reason = psprintf("batch %lld is dated before the batch before it (%s): batches were backdated",
								  (long long) seq, timestamptz_to_str(DatumGetTimestampTz(values[AB_LOGGED_AT])));
				break;
			}
			memcpy(prev, stored_hash, AUDIT_HASH_LEN);
			last_logged_at = DatumGetTimestampTz(values[AB_LOGGED_AT]);
			expected++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	if (reason == NULL)
	{
		/*
		 * A chain with batches or with an anchor has a head: heads are never
		 * purged, so an anchored chain whose head is gone had its later
		 * batches (if any) and its head deleted.
		 */
		if (!has_head && (count > 0 || has_anchor))
		{
			bad_seq = expected - 1;
			reason = pstrdup("the chain head of this tenant is missing from tenant_rls.audit_chain");
		}
		else if (has_head && head_seq > expected - 1)
		{
			bad_seq = expected;
			reason = (head_seq == expected)
				? psprintf("batch %lld (the last one) is missing: it was deleted%s", (long long) expected,
						   missing_partitions_note(last_logged_at, head_logged_at))
				: psprintf("batches %lld to %lld (the last ones) are missing: they were deleted%s",
						   (long long) expected, (long long) head_seq,
						   missing_partitions_note(last_logged_at, head_logged_at));
		}
		else if (has_head && head_seq < expected - 1)
		{
			/* batches past the head: the first of them is the odd one (review rev31a) */
			bad_seq = head_seq + 1;
			reason = psprintf("batch %lld follows the chain head (batch %lld): it was inserted, or the head was modified",
							  (long long) (head_seq + 1), (long long) head_seq);
		}
		else if (has_head && memcmp(head_hash, prev, AUDIT_HASH_LEN) != 0)
		{
			bad_seq = head_seq;
			reason = psprintf("the chain head (batch %lld) does not match the last batch: the head or the last batches were modified",
							  (long long) head_seq);
		}

		/*
		 * The head's logged_at is the last batch's: the next batch is never
		 * logged earlier, so a head moved into the future would date every
		 * later batch of the tenant there, unseen (review rev21c).  A head
		 * is always written with its batch's logged_at: one set to NULL
		 * was modified too (review rev31a).
		 */
		else if (has_head && !TIMESTAMP_IS_NOBEGIN(last_logged_at) && head_logged_at != last_logged_at)
		{
			bad_seq = head_seq;
			reason = psprintf("the chain head (batch %lld) was modified: its logged_at is not that of the last batch",
							  (long long) head_seq);
		}
	}

	/*
	 * (At the same seq as a batch found missing it is that batch, moved out
	 * of this tenant's range: review rev31a.)
	 */
	if (misplaced > 0 && (reason == NULL || misplaced <= bad_seq))
	{
		bad_seq = misplaced;
		reason = psprintf("batch %lld is stored outside this tenant's range of audit keys: it was moved from another chain or inserted",
						  (long long) misplaced);
	}

	/* where the chain starts is itself in doubt: that comes first */
	if (has_anchor && !anchors_ok)
	{
		/* what else was found stays in the reason (review rev36a) */
		char	   *also = reason;

		bad_seq = aseq;
		reason = psprintf("the purge anchor of this chain (batch %lld) is not among those the last purge recorded: anchors were added, changed or deleted, or the PURGE entry that recorded them is gone (audit_verify('') checks it), and batches up to it may have been deleted%s%s",
						  (long long) aseq, also ? "; also: " : "", also ? also : "");
	}

	if (key[0] == '\0')
		outnull[0] = true;
	else
		out[0] = CStringGetTextDatum(key);
	out[1] = BoolGetDatum(reason == NULL);
	out[2] = Int64GetDatum(count);
	if (reason == NULL)
	{
		outnull[3] = true;
		outnull[4] = true;
	}
	else
	{
		out[3] = Int64GetDatum(bad_seq);
		out[4] = CStringGetTextDatum(reason);
	}
	tuplestore_putvalues(store, outdesc, out, outnull);
}

/*
 * Is this digest of the anchors (have false: there are none) the one the
 * last purge recorded?  verify_anchors() below: are the anchors, as they
 * are, those the last purge recorded?  The last PURGE entry is the last batch of the chain without tenant about
 * tenant_rls.audit_log (its own integrity is that chain's, checked by
 * audit_verify() and audit_verify('')); its document holds
 * "anchors": "<hex>" (or null: there were none).  The payload is searched,
 * not decoded, so a damaged one cannot make verification fail; one without
 * the field does not match.  read_only: with the caller's snapshot (false:
 * a new one, which audit_purge() needs after taking its locks: with the
 * snapshot of its statement, anchors forged by a data-modifying WITH of that
 * statement were not seen, and then recorded as genuine (review rev39c)).
 */
bool
audit_digest_is_recorded(bool have, const char *hex, bool read_only)
{
	int64		region = audit_tenant_key("", 0);
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(region), Int64GetDatum(region + (int64) UINT64CONST(0xFFFFFFFF))};
	bytea	   *payload;
	bool		isnull;
	Datum		d;
	const char *field = "\"anchors\": ";
	char	   *want;
	bool		ok;

	if (SPI_execute_with_args("SELECT payload FROM tenant_rls.audit_batch"
							  " WHERE audit_key BETWEEN $1 AND $2 AND tenant IS NULL"
							  " AND schema_name OPERATOR(pg_catalog.=) 'tenant_rls'"
							  " AND table_name OPERATOR(pg_catalog.=) 'audit_log'"
							  " ORDER BY seq DESC LIMIT 1",
							  2, argtypes, args, NULL, read_only, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the audit log");
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return !have;			/* anchors without any purge recorded */
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	payload = isnull ? NULL : DatumGetByteaPP(d);
	want = have ? psprintf("%s\"%s\"", field, hex) : psprintf("%snull", field);
	ok = false;
	if (payload != NULL)
	{
		/* the last purge's document: two purges of a transaction share a batch */
		const char *p = VARDATA_ANY(payload);
		size_t		len = VARSIZE_ANY_EXHDR(payload);
		const char *last = NULL;
		const char *f;

		while ((f = memmem_bytes(p, len, field, strlen(field))) != NULL)
		{
			last = f;
			len -= (f + 1) - p;
			p = f + 1;
		}
		ok = last != NULL &&
			(size_t) ((VARDATA_ANY(payload) + VARSIZE_ANY_EXHDR(payload)) - last) >= strlen(want) &&
			memcmp(last, want, strlen(want)) == 0;
	}
	SPI_freetuptable(SPI_tuptable);
	return ok;
}

static bool
verify_anchors(bool read_only)
{
	char		hex[2 * AUDIT_HASH_LEN + 1];
	bool		have = audit_anchors_digest(read_only, hex);

	return audit_digest_is_recorded(have, hex, read_only);
}

/* _audit_anchors_recorded(): verify_anchors(), for audit_verify_head() */
Datum
tenant_rls_audit_anchors_recorded(PG_FUNCTION_ARGS)
{
	bool		ok;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ok = verify_anchors(true);
	SPI_finish();
	PG_RETURN_BOOL(ok);
}

/*
 * The snapshot audit_verify() reads with.  audit_purge() drops whole
 * partitions, which no snapshot hides: the statement's snapshot, taken before
 * a purge committed, showed the anchors from before it and the batches from
 * after it, and a chain was reported deleted (review rev48e).  So the log and
 * its partitions are locked first (waiting for a purge under way), and the
 * reads use a snapshot taken after: a new one in READ COMMITTED; in REPEATABLE
 * READ or SERIALIZABLE the transaction's, refused if a purge committed after
 * it (the anchors it leaves differ then).
 */
static void
verify_settle(void)
{
	Oid			log;

	audit_lookup_oids();
	log = audit_log_oid;		/* (the lock's invalidations reset it) */
	if (OidIsValid(log))
	{
		LockRelationOid(log, AccessShareLock);
		(void) find_all_inheritors(log, AccessShareLock, NULL);
	}
	if (IsolationUsesXactSnapshot())
	{
		char		mine[65];
		char		latest[65];
		bool		have_mine;
		bool		have_latest;

		PushActiveSnapshot(GetTransactionSnapshot());
		have_mine = audit_anchors_digest(true, mine);
		PopActiveSnapshot();
		PushActiveSnapshot(GetLatestSnapshot());
		have_latest = audit_anchors_digest(true, latest);
		PopActiveSnapshot();
		if (have_mine != have_latest || (have_mine && strcmp(mine, latest) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not verify the audit log: tenant_rls.audit_purge() committed after this transaction's snapshot"),
					 errdetail("The purge dropped partitions this transaction's snapshot still expects: their batches would be reported deleted."),
					 errhint("Verify again in a new transaction.")));
	}
}

static void
verify_snapshot_push(void)
{
	verify_settle();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * _audit_log_settled(): the same wait and check for audit_verify_head()
 * (VOLATILE: its later statements take their snapshots after the wait).
 */
PG_FUNCTION_INFO_V1(tenant_rls_audit_log_settled);
Datum
tenant_rls_audit_log_settled(PG_FUNCTION_ARGS)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	verify_settle();
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
tenant_rls_audit_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	verify_snapshot_push();

	/*
	 * The tenants and, per tenant, the first batch stored outside its range of
	 * keys: one scan of the log for every tenant, or of one tenant's batches.
	 */
#define MISPLACED \
	"CASE WHEN audit_key OPERATOR(pg_catalog.<) tenant_rls.audit_tenant_key(COALESCE(tenant, ''))" \
	" OR audit_key OPERATOR(pg_catalog.>) (tenant_rls.audit_tenant_key(COALESCE(tenant, '')) OPERATOR(pg_catalog.+) 4294967295)" \
	" THEN seq END"
	if (!PG_ARGISNULL(0))
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1] = {PG_GETARG_DATUM(0)};

		if (SPI_execute_with_args("SELECT $1, pg_catalog.min(" MISPLACED ")"
								  " FROM tenant_rls.audit_batch"
								  " WHERE COALESCE(tenant, '') OPERATOR(pg_catalog.=) $1",
								  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the audit log");
	}
	else if (SPI_execute("SELECT t, pg_catalog.min(m) FROM ("
						 " SELECT tenant AS t, NULL::pg_catalog.int8 AS m FROM tenant_rls.audit_chain"
						 " UNION ALL SELECT COALESCE(tenant, ''), " MISPLACED " FROM tenant_rls.audit_batch"
						 " UNION ALL SELECT tenant, NULL FROM tenant_rls.audit_anchor) s"
						 " GROUP BY t ORDER BY t COLLATE \"C\"", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the tenants of the audit log");
#undef MISPLACED
	{
		/* copied out: verify_one() runs queries of its own */
		uint64		n = SPI_processed;
		bool		anchors_ok = true;
		char	  **keys = palloc(sizeof(char *) * (n + 1));
		int64	   *misplaced = palloc(sizeof(int64) * (n + 1));

		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			Datum		m = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

			keys[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			misplaced[i] = isnull ? 0 : DatumGetInt64(m);
		}
		SPI_freetuptable(SPI_tuptable);
		anchors_ok = verify_anchors(true);
		for (uint64 i = 0; i < n; i++)
			verify_one(keys[i], misplaced[i], anchors_ok, rsinfo->setResult, rsinfo->setDesc);
	}

	PopActiveSnapshot();
	SPI_finish();
	return (Datum) 0;
}
