/*
 * audit_message.c -- deferred delivery: the batches of a commit through the
 * WAL.
 *
 * With tenant_rls.audit_delivery = deferred, a committing transaction does
 * not lock, chain or write anything: its batches and their context are
 * serialised into one signed, transactional WAL message
 * (audit_defer_batches()), and the database's delivery worker reads the
 * message back once the commit record follows it and writes the batches
 * exactly as the transaction would have (audit_deliver()), in commit order.
 * audit_delivery.c has the settings, the worker and the SQL functions.  The
 * format is private to one server (native byte order), versioned by its
 * first byte:
 *
 *   u8 version, i64 logged_at, i64 txid, str session_user,
 *   ostr application_name, ostr client_addr (inet varlena), u32 nbatches,
 *   then per batch: u8 has_tenant, str tenant, u32 table_oid, str schema,
 *   str table, str db_user, ostr app_user, ostr context_tenant, i32 entries,
 *   str payload, u32 nkeys, i64 keys[nkeys], then per entry (version 3):
 *   u32 command[entries], u64 made[entries], u32 offset[entries] (in the
 *   payload), u32 first_key[entries] (in keys)
 *
 * str = u32 length and bytes; ostr = u8 present, then a str if present.
 * The worker merges a transaction's entries of a tenant in command order
 * where its messages are not (audit_deliver()); those of version 2 (written
 * before a restart into this version) are written as they come.
 */
#include "tenant_rls.h"

#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit_chain.h"
#include "audit_delivery.h"

#define DEFER_VERSION 3

static void
defer_put_str(StringInfo buf, const char *s, uint32 len)
{
	audit_put_u32(buf, len);
	audit_put_bytes(buf, s, len);
}

static void
defer_put_ostr(StringInfo buf, const char *s, uint32 len)
{
	audit_put_u8(buf, s != NULL);
	if (s != NULL)
		defer_put_str(buf, s, len);
}

/*
 * Which batches go into the WAL (with deferred delivery on).  Once a
 * transaction has deferred anything, everything it flushes later goes there
 * too (its entries stay in order), also if the session's setting changed or
 * audit_delivery_stop() began meanwhile (it waits for the transaction).
 *
 * At commit, a transaction whose batches are many or large writes them
 * itself, holding its tenants' locks only for its commit: the one worker of
 * the database writes every tenant's commits in commit order, and a commit
 * of thousands of tenants or megabytes would hold up all the others (and
 * could fail there where the writer would have failed).
 *
 * Before the commit (a queue of more than PENDING_FLUSH_BYTES), and once a
 * transaction has deferred anything, its batches go into the WAL whatever
 * their number or size: written here they would keep their tenants' chains
 * locked until the transaction ends, and the worker, which needs those
 * chains for the other commits of the same tenants, would wait behind a
 * long import, holding up every tenant's delivery, and after three timeouts
 * switch the whole database to immediate.  (The worker keeps large messages
 * in the WAL, not in memory, until their commit.)  They go as messages of
 * at most DEFER_MAX_MESSAGE, which the WAL reader reads back; only a batch
 * that alone passes it (a single huge change) is written here.
 */
#define DEFER_MAX_BATCHES	16
#define DEFER_MAX_BYTES		(4 * 1024 * 1024)
#define DEFER_MAX_MESSAGE	(64 * 1024 * 1024)

/* what a batch takes in a message, about */
static Size
defer_batch_bytes(PendingBatch *pb)
{
	return audit_batch_bytes(pb) + (pb->app_user ? strlen(pb->app_user) : 0) +
		(pb->context_tenant ? strlen(pb->context_tenant) : 0) + 2 * NAMEDATALEN +
		strlen(pb->db_user_name) + 64;
}

bool
audit_defer_fits(List *batches, bool early)
{
	Size		bytes = 0;
	Size		one;
	ListCell   *lc;

	foreach(lc, batches)
	{
		PendingBatch *pb = lfirst(lc);

		/* (a run of spilled batches is written at commit, never deferred) */
		if (pb->spilled)
			return false;
		one = defer_batch_bytes(pb);
		if (one > DEFER_MAX_MESSAGE)
			return false;
		bytes += one;
	}
	/* (split into messages of at most DEFER_MAX_MESSAGE: audit_defer_batches()) */
	if (audit_chain_deferring())
		return true;
	if (bytes > DEFER_MAX_MESSAGE)
		return false;

	/*
	 * Early, the slot keeps the WAL from this message until the transaction
	 * ends: with max_slot_wal_keep_size set, a long import could outgrow it,
	 * the slot would be invalidated and the import's entries lost.  Then it
	 * writes them itself, as immediate delivery does.
	 */
	if (early)
		return max_slot_wal_keep_size_mb < 0;
	return list_length(batches) <= DEFER_MAX_BATCHES && bytes <= DEFER_MAX_BYTES;
}

/*
 * The batches as signed WAL messages, each of at most DEFER_MAX_MESSAGE
 * (about: a batch that alone passes it is not deferred, audit_defer_fits()), in
 * their order; false: delivery was switched off (or, after the first, the
 * slot was lost, and with it what was sent).  A transaction's messages are
 * merged in command order per tenant by the worker (audit_deliver()).
 */
bool
audit_defer_batches(List *batches)
{
	bool		sent = true;
	bool		continuing = audit_chain_deferring();
	StringInfoData buf;
	int			head_len;
	int			count_at;
	uint32		count = 0;
	Size		bytes = 0;
	ListCell   *lc;
	Datum		values[AB_NATTS];
	bool		nulls[AB_NATTS];
	text	   *t;

	memset(nulls, true, sizeof(nulls));
	audit_fill_batch_context(values, nulls, NULL);
	initStringInfo(&buf);
	audit_put_u8(&buf, DEFER_VERSION);
	audit_put_i64(&buf, DatumGetTimestampTz(values[AB_LOGGED_AT]));
	audit_put_i64(&buf, DatumGetInt64(values[AB_TXID]));
	t = DatumGetTextPP(values[AB_DB_SESSION_USER]);
	defer_put_str(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	defer_put_ostr(&buf, nulls[AB_APPLICATION_NAME] ? NULL : application_name,
				   nulls[AB_APPLICATION_NAME] ? 0 : strlen(application_name));
	defer_put_ostr(&buf, nulls[AB_CLIENT_ADDR] ? NULL : DatumGetPointer(values[AB_CLIENT_ADDR]),
				   nulls[AB_CLIENT_ADDR] ? 0 : VARSIZE_ANY(DatumGetPointer(values[AB_CLIENT_ADDR])));
	count_at = buf.len;
	audit_put_u32(&buf, 0);		/* (the count, set when sent) */
	head_len = buf.len;
	foreach(lc, batches)
	{
		PendingBatch *pb = lfirst(lc);
		Size		one = defer_batch_bytes(pb);

		if (count > 0 && bytes + one > DEFER_MAX_MESSAGE)
		{
			memcpy(buf.data + count_at, &count, sizeof(count));
			if (!(sent = audit_delivery_emit(buf.data, buf.len, continuing)))
				break;
			continuing = true;
			buf.len = head_len;
			count = 0;
			bytes = 0;
		}
		audit_batch_settle(pb);
		audit_put_u8(&buf, pb->has_tenant);
		defer_put_str(&buf, pb->key, strlen(pb->key));
		audit_put_u32(&buf, pb->table_oid);
		defer_put_str(&buf, NameStr(pb->schema_name), strlen(NameStr(pb->schema_name)));
		defer_put_str(&buf, NameStr(pb->table_name), strlen(NameStr(pb->table_name)));
		defer_put_str(&buf, pb->db_user_name, strlen(pb->db_user_name));
		defer_put_ostr(&buf, pb->app_user, pb->app_user ? strlen(pb->app_user) : 0);
		defer_put_ostr(&buf, pb->context_tenant, pb->context_tenant ? strlen(pb->context_tenant) : 0);
		audit_put_u32(&buf, (uint32) pb->nentries);
		defer_put_str(&buf, pb->payload.data, pb->payload.len);
		audit_put_u32(&buf, pb->nkeys);
		audit_put_bytes(&buf, pb->keys, sizeof(int64) * pb->nkeys);
		audit_put_bytes(&buf, pb->cids, sizeof(CommandId) * pb->nentries);
		audit_put_bytes(&buf, pb->made, sizeof(uint64) * pb->nentries);
		audit_put_bytes(&buf, pb->offs, sizeof(uint32) * pb->nentries);
		audit_put_bytes(&buf, pb->kofs, sizeof(uint32) * pb->nentries);
		count++;
		bytes += one;
	}
	if (sent && count > 0)
	{
		memcpy(buf.data + count_at, &count, sizeof(count));
		sent = audit_delivery_emit(buf.data, buf.len, continuing);
	}
	pfree(buf.data);
	return sent;
}

/* reading a message back: every read is bounds-checked */
typedef struct DeferReader
{
	const char *p;
	const char *end;
	bool		ok;
} DeferReader;

static const char *
defer_get(DeferReader *r, Size n)
{
	const char *p = r->p;

	if (!r->ok || (Size) (r->end - r->p) < n)
	{
		r->ok = false;
		return NULL;
	}
	r->p += n;
	return p;
}

/* n bytes into out (zeros once the message is exhausted) */
static void
defer_get_into(DeferReader *r, void *out, Size n)
{
	const char *p = defer_get(r, n);

	if (p)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

static uint32
defer_get_u32(DeferReader *r)
{
	uint32		v;

	defer_get_into(r, &v, sizeof(v));
	return v;
}

static int64
defer_get_i64(DeferReader *r)
{
	int64		v;

	defer_get_into(r, &v, sizeof(v));
	return v;
}

static uint8
defer_get_u8(DeferReader *r)
{
	uint8		v;

	defer_get_into(r, &v, sizeof(v));
	return v;
}

/* a str: palloc'd, NUL-terminated copy; *len its length */
static char *
defer_get_str(DeferReader *r, uint32 maxlen, uint32 *len)
{
	uint32		n = defer_get_u32(r);
	const char *p;
	char	   *s;

	if (n > maxlen)
		r->ok = false;
	p = defer_get(r, n);
	if (p == NULL)
		return NULL;
	s = palloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

static char *
defer_get_ostr(DeferReader *r, uint32 maxlen, uint32 *len)
{
	return defer_get_u8(r) ? defer_get_str(r, maxlen, len) : NULL;
}

/* a name: at most NAMEDATALEN - 1 bytes, no NUL */
static bool
defer_get_name(DeferReader *r, NameData *name)
{
	uint32		n;
	char	   *s = defer_get_str(r, NAMEDATALEN - 1, &n);

	if (s == NULL || strlen(s) != n)
		return false;
	namestrcpy(name, s);
	return true;
}

/* skip a str */
static void
defer_skip_str(DeferReader *r, uint32 maxlen)
{
	uint32		n = defer_get_u32(r);

	if (n > maxlen)
		r->ok = false;
	(void) defer_get(r, n);
}

/*
 * A batch's entries (version 3): their commands, when they were made, where
 * each starts in the payload and in the keys (checked against both, unless
 * keys_only: the payload was skipped).
 */
static bool
defer_parse_entries(DeferReader *r, PendingBatch *pb, bool keys_only)
{
	int			n = pb->nentries;

	if ((Size) n > (Size) (r->end - r->p) / (sizeof(CommandId) + sizeof(uint64) + 2 * sizeof(uint32)))
		return false;
	pb->maxentries = n;
	pb->cids = palloc(sizeof(CommandId) * n);
	pb->made = palloc(sizeof(uint64) * n);
	pb->offs = palloc(sizeof(uint32) * n);
	pb->kofs = palloc(sizeof(uint32) * n);
	defer_get_into(r, pb->cids, sizeof(CommandId) * n);
	defer_get_into(r, pb->made, sizeof(uint64) * n);
	defer_get_into(r, pb->offs, sizeof(uint32) * n);
	defer_get_into(r, pb->kofs, sizeof(uint32) * n);
	if (!r->ok)
		return false;
	for (int i = 0; i < n; i++)
	{
		uint32		next_off = i + 1 < n ? pb->offs[i + 1] : (uint32) pb->payload.len;
		uint32		next_key = i + 1 < n ? pb->kofs[i + 1] : (uint32) pb->nkeys;

		if (pb->kofs[i] > next_key || (i == 0 && pb->kofs[0] != 0) ||
			(!keys_only && pb->offs[i] > next_off) ||
			(i > 0 && entry_before(pb->cids[i], pb->made[i], pb->cids[i - 1], pb->made[i - 1])))
			return false;
	}
	return true;
}

/*
 * Parse one message into its context and batches (in the current memory
 * context); false if it is malformed.  The payloads point into data (which
 * must outlive the batches).  keys_only: only the tenants of the batches
 * (their payloads and history keys are checked, not copied).
 */
static bool
defer_parse(const char *data, Size len, BatchContext *ctx, PendingBatch **batches, int *nbatches,
			bool keys_only)
{
	DeferReader r = {data, data + len, true};
	char	   *s;
	uint32		n;
	uint32		count;
	uint8		version = defer_get_u8(&r);

	if (version != DEFER_VERSION && version != 2)
		return false;
	ctx->logged_at = defer_get_i64(&r);
	ctx->txid = defer_get_i64(&r);
	s = defer_get_str(&r, NAMEDATALEN, &n);
	if (s == NULL)
		return false;
	ctx->session_user = cstring_to_text_with_len(s, n);
	ctx->application_name = NULL;
	if ((s = defer_get_ostr(&r, MaxAllocSize - 1, &n)) != NULL)
		ctx->application_name = cstring_to_text_with_len(s, n);
	ctx->client_addr = NULL;
	if ((s = defer_get_ostr(&r, sizeof(inet), &n)) != NULL)
	{
		if (n < VARHDRSZ_SHORT || VARSIZE_ANY(s) != n)
			return false;
		ctx->client_addr = (inet *) s;
	}
	count = defer_get_u32(&r);
	if (!r.ok || count == 0 || count > len)
		return false;
	*batches = palloc0(sizeof(PendingBatch) * count);
	for (uint32 i = 0; i < count && r.ok; i++)
	{
		PendingBatch *pb = &(*batches)[i];
		uint32		nkeys;
		const char *keys;

		pb->level = 1;
		pb->has_tenant = defer_get_u8(&r) != 0;
		pb->key = defer_get_str(&r, TENANT_MAX_LEN, &n);
		if (pb->key == NULL || strlen(pb->key) != n)
			return false;
		pb->table_oid = defer_get_u32(&r);
		if (!defer_get_name(&r, &pb->schema_name) || !defer_get_name(&r, &pb->table_name))
			return false;
		pb->db_user_name = defer_get_str(&r, NAMEDATALEN, NULL);
		pb->app_user = defer_get_ostr(&r, MaxAllocSize - 1, NULL);
		/* (not TENANT_MAX_LEN: outside strict mode a plain SET may store a longer context) */
		pb->context_tenant = defer_get_ostr(&r, MaxAllocSize - 1, &n);
		if (pb->context_tenant != NULL && strlen(pb->context_tenant) != n)
			return false;
		pb->nentries = (int32) defer_get_u32(&r);
		if (keys_only)
		{
			defer_skip_str(&r, MaxAllocSize - 1);
			s = NULL;
			n = 0;
		}
		else
		{
			/* borrowed, not copied: the message outlives the batch's use */
			n = defer_get_u32(&r);
			if (n > MaxAllocSize - 1 || (s = (char *) defer_get(&r, n)) == NULL)
				return false;
		}
		if (pb->db_user_name == NULL || pb->nentries <= 0)
			return false;
		pb->payload.data = s;
		pb->payload.len = pb->payload.maxlen = n;
		nkeys = defer_get_u32(&r);
		if (nkeys > len / sizeof(int64))
			return false;
		keys = defer_get(&r, sizeof(int64) * nkeys);
		if (keys == NULL)
			return false;
		pb->nkeys = pb->maxkeys = nkeys;
		if (nkeys > 0 && !keys_only)
		{
			pb->keys = palloc(sizeof(int64) * nkeys);
			memcpy(pb->keys, keys, sizeof(int64) * nkeys);
		}
		if (version >= 3 && !defer_parse_entries(&r, pb, keys_only))
			return false;
	}
	if (!r.ok || r.p != r.end)
		return false;
	*nbatches = count;
	return true;
}

/* a message as audit_deliver() parsed it */
typedef struct ParsedMessage
{
	BatchContext ctx;
	PendingBatch *batches;
	int			nbatches;
} ParsedMessage;

/* parse a signed message, or fail: skipping it would lose its entries */
static void
deliver_parse(const char *data, Size len, ParsedMessage *pm, bool keys_only)
{
	if (!defer_parse(data, len, &pm->ctx, &pm->batches, &pm->nbatches, keys_only))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not decode a signed audit message in the WAL"),
				 errhint("Deferred delivery of this database stops here; see tenant_rls.audit_delivery_status().")));
}

/*
 * The messages of one delivered transaction (consecutive, one txid), and its
 * tenants whose entries the messages do not give in command order
 * (audit_note_order()): a transaction that flushed early (past 32 MB, a
 * statement's rows queued when it ends, after its triggers' changes were
 * sent; or inside a savepoint, before the outer level's earlier entries).
 */
typedef struct DeliveredXact
{
	int64		txid;
	int			first;
	int			end;
	HTAB	   *order;
	List	   *disordered;
} DeliveredXact;

/* message i, parsed in the first pass or (transient) again, in the current context */
static ParsedMessage *
deliver_message(int i, ParsedMessage **parsed, ParsedMessage *pm, AuditMessageFetch fetch, void *arg)
{
	Size		len;
	bool		transient;
	const char *data;

	if (parsed[i] != NULL)
		return parsed[i];
	data = fetch(i, &len, &transient, arg);
	deliver_parse(data, len, pm, false);
	return pm;
}

/*
 * The delivery worker: chain and write the batches of the committed
 * messages 0..n-1, in that order (commit order), in the current transaction.
 * fetch(i) returns message i, and whether it is transient: a large message,
 * read back from the WAL, is gone at the next call, so no two of those are
 * needed at once.  A first pass parses the messages (a transient one only
 * for its tenants, and its entries' commands) and locks their tenants in
 * sorted order, like a committing writer does; a second writes the batches
 * (a transient message is fetched and parsed again), those of a
 * transaction's tenants whose entries are out of command order across its
 * messages through a merge (EntryMerge), at the transaction's end.  The heads are written when the worker's transaction
 * commits.  Returns the number of batches written.
 */
int
audit_deliver(int n, AuditMessageFetch fetch, void *arg)
{
	List	   *keys = NIL;
	List	   *xacts = NIL;
	DeliveredXact *dx = NULL;
	LogWriter	writer;
	int			written = 0;
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;
	MemoryContext old = CurrentMemoryContext;
	MemoryContext parsed_cxt = AllocSetContextCreate(old, "tenant_rls audit messages",
													 ALLOCSET_DEFAULT_SIZES);
	MemoryContext tmp = AllocSetContextCreate(old, "tenant_rls audit message",
											  ALLOCSET_DEFAULT_SIZES);
	ParsedMessage **parsed = MemoryContextAllocZero(parsed_cxt, sizeof(ParsedMessage *) * n);
	EntrySpan **spans = MemoryContextAlloc(parsed_cxt, sizeof(EntrySpan *) * n);
	int		   *nspans = MemoryContextAllocZero(parsed_cxt, sizeof(int) * n);

	for (int i = 0; i < n; i++)
	{
		Size		len;
		bool		transient;
		const char *data = fetch(i, &len, &transient, arg);
		ParsedMessage pm;
		ParsedMessage *p = &pm;

		if (!transient)
		{
			MemoryContextSwitchTo(parsed_cxt);
			p = parsed[i] = palloc(sizeof(ParsedMessage));
			deliver_parse(data, len, p, false);
		}
		else
		{
			MemoryContextSwitchTo(tmp);
			deliver_parse(data, len, p, true);
			MemoryContextSwitchTo(parsed_cxt);
		}
		if (dx == NULL || p->ctx.txid != dx->txid)
		{
			dx = palloc0(sizeof(DeliveredXact));
			dx->txid = p->ctx.txid;
			dx->first = i;
			xacts = lappend(xacts, dx);
		}
		dx->end = i + 1;
		spans[i] = palloc(sizeof(EntrySpan) * p->nbatches);
		for (int b = 0; b < p->nbatches; b++)
		{
			keys = lappend(keys, transient ? pstrdup(p->batches[b].key) : p->batches[b].key);
			if (audit_batch_span(&p->batches[b], &spans[i][nspans[i]]))
				spans[i][nspans[i]++].key = llast(keys);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
	}

	/*
	 * A message is in command order per tenant (the queue was, when it was
	 * sent): only a transaction of several can be out of order.
	 */
	foreach(lc, xacts)
	{
		dx = lfirst(lc);
		for (int i = dx->first; dx->end - dx->first > 1 && i < dx->end; i++)
			for (int b = 0; b < nspans[i]; b++)
				audit_note_order(&dx->order, &dx->disordered, parsed_cxt, &spans[i][b]);
	}
	list_sort(keys, audit_key_cmp);
	audit_lock_chains_delivering(keys);

	writer.cxt = AllocSetContextCreate(old, "tenant_rls audit writer", ALLOCSET_SMALL_SIZES);
	writer.rel = NULL;
	foreach(lc, xacts)
	{
		EntryMerge	m;

		/*
		 * The batches of tenants in order are written as they come, those of
		 * the others go into the merge, written after the transaction's last
		 * message (chains are per tenant: the order across tenants is free)
		 */
		dx = lfirst(lc);
		if (dx->disordered != NIL)
			audit_merge_begin(&m, old);
		for (int i = dx->first; i < dx->end; i++)
		{
			ParsedMessage pm;
			ParsedMessage *p;

			MemoryContextSwitchTo(tmp);
			p = deliver_message(i, parsed, &pm, fetch, arg);
			for (int b = 0; b < p->nbatches; b++)
			{
				PendingBatch *pb = &p->batches[b];
				int			ordinal = pb->cids ? audit_order_ordinal(dx->order, dx->disordered, pb->key) : -1;

				if (ordinal >= 0)
					audit_merge_put(&m, pb, ordinal, &p->ctx, i);
				else
				{
					audit_write_batch(&writer, audit_chain_state(pb->key), pb, level, &p->ctx);
					written++;
				}
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(tmp);
		}
		if (dx->disordered != NIL)
			written += audit_merge_write(&m, &writer, level);
	}
	audit_log_writer_close(&writer);
	MemoryContextDelete(writer.cxt);
	MemoryContextDelete(tmp);
	MemoryContextDelete(parsed_cxt);
	return written;
}
