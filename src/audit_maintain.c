/*
 * audit_maintain.c -- the audit log's partitions are created ahead
 * automatically, by a background worker.
 *
 * The log (tenant_rls.audit_batch) has one partition per UTC month.  The
 * writer never creates one: CREATE TABLE ... PARTITION OF takes ACCESS
 * EXCLUSIVE on the log (and its default partition) until the creating
 * transaction ends, and every audited writer and reader would wait for that
 * user's transaction.  Instead, when a writer opens the month's partition
 * (partition_for() in audit_log.c: at its first write, when the month
 * changes, after an invalidation of the log, and once a minute while it stays
 * missing) and no table of next month's partition's name exists, it asks for
 * a background worker, "tenant_rls audit maintenance", which connects to the
 * database as the bootstrap superuser and runs tenant_rls.audit_maintain() in
 * a short transaction of its own, once it holds the log's locks
 * (maintain_once(): taken when free, or queued for at most 200 ms, so readers
 * never wait behind it longer).  So the next one to three months' partitions exist
 * without a scheduler; a scheduled audit_maintain() (doc/audit.md) still
 * works, and lint() reports a missing partition (audit_partition_missing)
 * whatever the reason.
 *
 * The request is a dynamic background worker: it needs no preloading.  A
 * backend asks at most once a minute, and not while a worker of its database
 * runs (with the library preloaded, a small table in shared memory says so;
 * without, the backends' status).  tenant_rls.audit_maintain_worker = off
 * asks for none.
 */
#include "tenant_rls.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "audit_chain.h"
#include "audit_delivery.h"
#include "policy.h"

PGDLLEXPORT void tenant_rls_audit_maintain_main(Datum arg);

PG_FUNCTION_INFO_V1(tenant_rls_audit_maintain_request);
PG_FUNCTION_INFO_V1(tenant_rls_audit_adopt_default_batches);

bool		audit_maintain_worker = true;

/* a backend asks again at most this often (ms) */
#define REQUEST_INTERVAL_MS		60000
/* a worker that has not ended after this long no longer holds back others */
#define WORKER_STALE_MS			300000

#define MAINTAIN_SLOTS	64

#define MAINTAIN_WORKER_TYPE	"tenant_rls audit maintenance"

typedef struct MaintainSlot
{
	Oid			dboid;			/* InvalidOid: free */
	TimestampTz started;		/* when the worker was asked for */
} MaintainSlot;

typedef struct MaintainShared
{
	slock_t		mutex;
	MaintainSlot slots[MAINTAIN_SLOTS];
} MaintainShared;

static MaintainShared *maintain_shared = NULL;	/* preloaded only */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static TimestampTz last_request = 0;
static bool am_maintain_worker = false;

static void
maintain_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(MaintainShared));
}

static void
maintain_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	maintain_shared = ShmemInitStruct("tenant_rls audit maintenance", sizeof(MaintainShared), &found);
	if (!found)
	{
		memset(maintain_shared, 0, sizeof(MaintainShared));
		SpinLockInit(&maintain_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
audit_maintain_init(void)
{
	DefineCustomBoolVariable("tenant_rls.audit_maintain_worker",
							 gettext_noop("Starts a background worker that creates the audit log's partitions ahead when a writer finds the next month's partition missing."),
							 gettext_noop("The worker runs tenant_rls.audit_maintain() in a transaction of its own."),
							 &audit_maintain_worker,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = maintain_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = maintain_shmem_startup;
	}
}

/*
 * With the library preloaded: claim this database's slot, unless a worker
 * asked for less than 5 minutes ago has not ended yet.  Without: always true
 * (worker_running() looks at the backends instead).
 */
static bool
claim_slot(Oid dboid, TimestampTz now)
{
	MaintainSlot *free_slot = NULL;
	MaintainSlot *oldest = NULL;
	bool		claim = true;

	if (maintain_shared == NULL)
		return true;
	SpinLockAcquire(&maintain_shared->mutex);
	for (int i = 0; i < MAINTAIN_SLOTS; i++)
	{
		MaintainSlot *s = &maintain_shared->slots[i];

		if (s->dboid == dboid)
		{
			if (!TimestampDifferenceExceeds(s->started, now, WORKER_STALE_MS))
				claim = false;
			free_slot = s;
			break;
		}
		if (s->dboid == InvalidOid && free_slot == NULL)
			free_slot = s;
		if (oldest == NULL || s->started < oldest->started)
			oldest = s;
	}
	if (claim)
	{
		if (free_slot == NULL)
			free_slot = oldest;
		free_slot->dboid = dboid;
		free_slot->started = now;
	}
	SpinLockRelease(&maintain_shared->mutex);
	return claim;
}

static void
release_slot(Oid dboid)
{
	if (maintain_shared == NULL)
		return;
	SpinLockAcquire(&maintain_shared->mutex);
	for (int i = 0; i < MAINTAIN_SLOTS; i++)
	{
		if (maintain_shared->slots[i].dboid == dboid)
			maintain_shared->slots[i].dboid = InvalidOid;
	}
	SpinLockRelease(&maintain_shared->mutex);
}

/*
 * Without the library preloaded: is a maintenance worker of this database
 * running already?  (A worker asked for an instant ago may not be seen yet;
 * two then serialise on the log's locks, and the second finds nothing to do.)
 */
static bool
worker_running(Oid dboid)
{
	int			n = pgstat_fetch_stat_numbackends();

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *l = pgstat_fetch_stat_local_beentry(i);
		const char *type;

		if (l == NULL || l->backendStatus.st_backendType != B_BG_WORKER ||
			l->backendStatus.st_databaseid != dboid)
			continue;
		type = GetBackgroundWorkerTypeByPid(l->backendStatus.st_procpid);
		if (type != NULL && strcmp(type, MAINTAIN_WORKER_TYPE) == 0)
			return true;
	}
	return false;
}

/*
 * Called by the log writer when the partition of the month after the one it
 * writes to is missing.  Never fails: the write goes on whatever happens here
 * (a missing partition sends batches to the default partition).
 */
void
audit_request_maintenance(void)
{
	BackgroundWorker w;
	TimestampTz now;

	if (!audit_maintain_worker || am_maintain_worker || RecoveryInProgress())
		return;
	now = GetCurrentTimestamp();
	if (last_request != 0 && !TimestampDifferenceExceeds(last_request, now, REQUEST_INTERVAL_MS))
		return;
	last_request = now;
	if (!claim_slot(MyDatabaseId, now))
		return;
	if (maintain_shared == NULL && worker_running(MyDatabaseId))
		return;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "tenant_rls", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "tenant_rls_audit_maintain_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "tenant_rls audit maintenance for database %u", MyDatabaseId);
	strlcpy(w.bgw_type, MAINTAIN_WORKER_TYPE, BGW_MAXLEN);
	w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	if (!RegisterDynamicBackgroundWorker(&w, NULL))
	{
		release_slot(MyDatabaseId);
		ereport(LOG,
				(errmsg("tenant_rls: could not start a worker to create the audit log's partitions ahead"),
				 errdetail("No background worker slot is free (max_worker_processes)."),
				 errhint("Until the partitions exist, audit batches of a month without its partition go to tenant_rls.audit_batch_default; run SELECT tenant_rls.audit_maintain() as the owner of the extension.")));
	}
}

/*
 * tenant_rls._audit_maintain_request() -> boolean: asks for the worker when
 * next month's partition is missing, as a writer does (enable_audit() in a
 * session of a role that is not a superuser, which must not create it
 * itself); true when that is the case.
 */
Datum
tenant_rls_audit_maintain_request(PG_FUNCTION_ARGS)
{
	if (!audit_next_partition_missing(GetCurrentTimestamp()))
		PG_RETURN_BOOL(false);
	audit_request_maintenance();
	PG_RETURN_BOOL(true);
}

/*
 * One worker per database: a session lock on the extension's object with
 * objsubid 1, which no SQL statement takes (ALTER / DROP EXTENSION lock
 * objsubid 0).  Held from here to the worker's exit; a second worker (asked
 * for before the first was seen running) exits at once.
 */
static LOCKTAG database_tag;
static bool database_claimed = false;

static bool
claim_database(void)
{
	Oid			extoid;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	extoid = get_extension_oid("tenant_rls", true);
	CommitTransactionCommand();
	if (!OidIsValid(extoid))
		return false;
	SET_LOCKTAG_OBJECT(database_tag, MyDatabaseId, ExtensionRelationId, extoid, 1);
	database_claimed = (LockAcquire(&database_tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL);
	return database_claimed;
}

/* did this worker run audit_maintain() to its end? */
static bool maintain_done = false;

static void
maintain_exit(int code, Datum arg)
{
	/* (an abort -- after an ERROR or FATAL -- released it already) */
	if (database_claimed && LockHeldByMe(&database_tag, ExclusiveLock))
		LockRelease(&database_tag, ExclusiveLock, true);
	database_claimed = false;

	/*
	 * A worker that gave up or failed leaves its database's slot claimed:
	 * with the library preloaded, no other worker starts there before 5
	 * minutes have passed (WORKER_STALE_MS), rather than at the next write.
	 */
	if (maintain_done)
		release_slot(DatumGetObjectId(arg));
}

static void
maintain_error_context(void *arg)
{
	errcontext("tenant_rls audit maintenance worker, creating the audit log's partitions ahead");
}

/*
 * How the worker locks the log: tries without waiting every 250 ms, and
 * every fourth time queues for each lock for at most 200 ms (lock_timeout):
 * under a steady stream of short reads the lock is never free at the instant
 * of a try, but a queued request is granted once the reads ahead of it end.
 * It does not queue again behind a transaction it queued behind in vain (one
 * that read the log and stays open), and queues twice at most: readers would
 * wait 200 ms behind it every second for nothing (new read transactions,
 * each longer than 200 ms, would defeat the first rule alone).  10 seconds
 * in all.
 */
#define LOCK_ATTEMPTS		40
#define LOCK_RETRY_MS		250
#define LOCK_QUEUE_EVERY	4
#define LOCK_QUEUE_MAX		2	/* queued tries per worker */

/*
 * audit_maintain() holds the log's locks for at most this long: every reader
 * of the log waits meanwhile.  Creating the partitions takes milliseconds,
 * but CREATE TABLE ... PARTITION OF scans the default partition, which holds
 * gigabytes only when partitions went missing for long: then the DBA runs
 * audit_maintain() (which has no such limit) at a quiet time.
 */
#define MAINTAIN_TIMEOUT_MS	10000

/* the holders of the log's locks when a queued try last timed out */
static VirtualTransactionId *stuck = NULL;
static int	nstuck = 0;

/*
 * The transactions holding a lock on relid that conflicts with ACCESS
 * EXCLUSIVE; with remember, added to stuck; else, is one of them in stuck?
 */
static bool
lock_holders(Oid relid, bool remember)
{
	LOCKTAG		tag;
	VirtualTransactionId *v;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	v = GetLockConflicts(&tag, AccessExclusiveLock, NULL);
	for (; VirtualTransactionIdIsValid(*v); v++)
	{
		if (remember)
		{
			if (stuck == NULL)
				stuck = MemoryContextAlloc(TopMemoryContext,
										   sizeof(VirtualTransactionId) * (MaxBackends + max_prepared_xacts + 1) * 2);
			if (nstuck < (MaxBackends + max_prepared_xacts + 1) * 2)
				stuck[nstuck++] = *v;
			continue;
		}
		for (int i = 0; i < nstuck; i++)
		{
			if (VirtualTransactionIdEquals(*v, stuck[i]))
				return true;
		}
	}
	return false;
}

/* take rel's ACCESS EXCLUSIVE lock now or not at all, or queue for it */
static bool
lock_log_rel(Oid relid, bool queue)
{
	if (!queue)
		return ConditionalLockRelationOid(relid, AccessExclusiveLock);
	LockRelationOid(relid, AccessExclusiveLock);	/* lock_timeout: error */
	return true;
}

/*
 * One transaction: lock the log and its default partition, run
 * audit_maintain().  False when another transaction held either (nothing
 * done); created is set to what audit_maintain() returned.
 *
 * CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE on both.  Waiting for
 * it in the lock queue for long would make every reader of the log, and
 * every writer to the default partition, queue behind this worker until the
 * transaction that holds the lock ends (one that read the log and stays
 * open); so a queued attempt waits at most lock_timeout, 200 ms.
 */
static bool
maintain_once(Oid dboid, bool may_queue, int *created, char **dbname)
{
	volatile bool queue;
	volatile bool locked = false;
	volatile bool timed_out = false;
	Oid			nsp;
	Oid			log_rel = InvalidOid;
	Oid			default_rel = InvalidOid;
	MemoryContext cxt;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "SELECT tenant_rls.audit_maintain()");
	cxt = CurrentMemoryContext;

	if (*dbname == NULL)
		*dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(dboid));
	nsp = get_namespace_oid("tenant_rls", true);
	if (!OidIsValid(get_extension_oid("tenant_rls", true)) || !OidIsValid(nsp))
		goto done;				/* nothing to maintain here */
	log_rel = get_relname_relid("audit_batch", nsp);
	default_rel = get_relname_relid("audit_batch_default", nsp);
	if (!OidIsValid(log_rel) || !OidIsValid(default_rel))
		goto done;

	/* not behind the same long transaction again */
	queue = may_queue && !lock_holders(log_rel, false) && !lock_holders(default_rel, false);
	if (queue)
	{
		nstuck = 0;
		(void) lock_holders(log_rel, true);
		(void) lock_holders(default_rel, true);
	}

	PG_TRY();
	{
		if (lock_log_rel(log_rel, queue))
		{
			if (lock_log_rel(default_rel, queue))
				locked = true;
			else
				UnlockRelationOid(log_rel, AccessExclusiveLock);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FreeErrorData(edata);
		FlushErrorState();
		timed_out = true;
	}
	PG_END_TRY();
	if (timed_out)
	{
		/* releases what was taken, SPI and the snapshot */
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		/* ... and, as every abort does, the session lock of claim_database() */
		if (database_claimed &&
			LockAcquire(&database_tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		{
			database_claimed = false;
			proc_exit(0);		/* another worker of this database took over */
		}
		return false;
	}
	if (!locked)
	{
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}

	/* (statement_timeout is not armed for SPI in a background worker) */
	enable_timeout_after(STATEMENT_TIMEOUT, MAINTAIN_TIMEOUT_MS);
	spi_exec_privileged("SELECT tenant_rls.audit_maintain()", 0, NULL, NULL, NULL, false);
	disable_timeout(STATEMENT_TIMEOUT, false);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			*created = DatumGetInt32(d);
	}

done:
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return true;
}

/*
 * The worker: runs tenant_rls.audit_maintain() once, then exits.
 */
void
tenant_rls_audit_maintain_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	ErrorContextCallback errcb;
	int			created = 0;
	char	   *dbname = NULL;
	int			attempt;
	int			queued = 0;

	am_maintain_worker = true;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	before_shmem_exit(maintain_exit, arg);
	/* like the delivery worker: a database closed to connections is audited too */
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);

	/* what the transaction runs with, whatever the configuration says */
	audit_worker_settings();
	/* see LOCK_QUEUE_EVERY (and any other lock audit_maintain() waits for) */
	SetConfigOption("lock_timeout", "200ms", PGC_SUSET, PGC_S_OVERRIDE);

	errcb.callback = maintain_error_context;
	errcb.arg = NULL;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	if (!claim_database())
		proc_exit(0);			/* another worker of this database runs */

	for (attempt = 1; attempt <= LOCK_ATTEMPTS; attempt++)
	{
		bool		queue = (attempt % LOCK_QUEUE_EVERY == 0 && queued < LOCK_QUEUE_MAX);

		CHECK_FOR_INTERRUPTS();
		if (queue)
			queued++;
		if (maintain_once(dboid, queue, &created, &dbname))
		{
			maintain_done = true;
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LOCK_RETRY_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	error_context_stack = errcb.previous;

	if (attempt > LOCK_ATTEMPTS)
		ereport(LOG,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("tenant_rls: could not create the audit log's partitions ahead in database \"%s\": the log was in use for %d seconds",
						dbname, LOCK_ATTEMPTS * LOCK_RETRY_MS / 1000),
				 errdetail("Creating a partition needs tenant_rls.audit_batch and tenant_rls.audit_batch_default alone for a moment; a transaction that read the audit log (or wrote to the default partition) was still open."),
				 errhint("End long transactions that read tenant_rls.audit_log; a writer asks for the worker again, or run SELECT tenant_rls.audit_maintain().")));
	else if (created > 0)
		ereport(LOG,
				(errmsg("tenant_rls: created %d partition(s) of the audit log ahead in database \"%s\"",
						created, dbname)));
	proc_exit(0);
}

/*
 * Moves the batches of one month out of the default partition into the
 * table that becomes that month's partition (audit_create_partition()
 * creates it with LIKE, calls this, then attaches it).  Batches land in the
 * default partition while their month's partition is missing -- for the
 * month itself, or ahead of it when the server's clock was ahead -- and
 * PostgreSQL refuses to create a partition whose rows are in the default
 * one: without the move that month stayed in the default partition, which
 * every later partition's creation then scans under its lock.  The batches
 * are copied as they are (the chain covers their content, not where they
 * are); the guard lets the DELETE through as it does for audit_purge().
 * The month is that of the table's name, never an argument.
 */
Datum
tenant_rls_audit_adopt_default_batches(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *name;
	int			year,
				month;
	char		tail;
	struct pg_tm tm = {0};
	Timestamp	lo,
				hi;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2];
	char	   *q;
	volatile uint64 moved = 0;
	bool		was_sanctioned = audit_purge_sanctioned;

	audit_lookup_oids();
	if (!pg_class_ownercheck(audit_log_oid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of tenant_rls.audit_batch can move batches between its partitions"),
				 errhint("Run tenant_rls.audit_maintain() as the owner of the extension.")));
	name = get_rel_name(relid);
	if (name == NULL || get_rel_namespace(relid) != audit_nsp ||
		get_rel_relkind(relid) != RELKIND_RELATION || get_rel_relispartition(relid) ||
		sscanf(name, "audit_batch_p%4d%2d%c", &year, &month, &tail) != 2 ||
		month < 1 || month > 12 || strlen(name) != strlen("audit_batch_pYYYYMM"))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation %u is not a table tenant_rls.audit_batch_pYYYYMM outside the log", relid),
				 errhint("This function is called by tenant_rls.audit_maintain(); call that instead.")));
	tm.tm_year = year;
	tm.tm_mon = month;
	tm.tm_mday = 1;
	if (tm2timestamp(&tm, 0, NULL, &lo) != 0)
		elog(ERROR, "timestamp out of range");
	audit_next_month(&tm);
	if (tm2timestamp(&tm, 0, NULL, &hi) != 0)
		elog(ERROR, "timestamp out of range");

	/* the log first, then its default partition: as every DDL on them */
	LockRelationOid(audit_log_oid, AccessExclusiveLock);
	LockRelationOid(audit_default_oid, AccessExclusiveLock);

	args[0] = TimestampTzGetDatum(lo);
	args[1] = TimestampTzGetDatum(hi);
	q = quote_qualified_identifier(TENANT_RLS_SCHEMA, name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	audit_purge_sanctioned = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(psprintf("INSERT INTO %s SELECT * FROM ONLY tenant_rls.audit_batch_default"
										   " WHERE logged_at OPERATOR(pg_catalog.>=) $1 AND logged_at OPERATOR(pg_catalog.<) $2", q),
								  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not copy the batches of %s", name);
		moved = SPI_processed;
		if (SPI_execute_with_args("DELETE FROM ONLY tenant_rls.audit_batch_default"
								  " WHERE logged_at OPERATOR(pg_catalog.>=) $1 AND logged_at OPERATOR(pg_catalog.<) $2",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not remove the batches of %s from the default partition", name);
		if (SPI_processed != moved)
			elog(ERROR, "copied " UINT64_FORMAT " batches of %s but removed " UINT64_FORMAT,
				 moved, name, (uint64) SPI_processed);
	}
	PG_FINALLY();
	{
		audit_purge_sanctioned = was_sanctioned;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64((int64) moved);
}
