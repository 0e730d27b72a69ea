/*
 * audit_delivery.c -- deferred delivery of audit batches through the WAL.
 *
 * tenant_rls.audit_delivery = immediate (the default): a committing
 * transaction chains and writes its own batches (audit_chain.c); they are in
 * the log when the commit returns.
 *
 * tenant_rls.audit_delivery = deferred: the committing transaction only
 * writes its batches into the WAL, as one transactional logical message
 * (LogLogicalMessage(), prefix "tenant_rls.audit") signed with a key of the
 * server; no lock, no chain head, no log row, no index entry.  A background
 * worker per database ("tenant_rls audit delivery") reads the WAL from a
 * physical replication slot of its own (tenant_rls_audit_<database oid>),
 * keeps each transaction's messages until its commit or abort record, and
 * writes the batches of every committed transaction in commit order, through
 * the same chain and writer as an immediate commit, many transactions per
 * worker transaction.  The slot keeps the WAL from the oldest message not yet
 * delivered, so a crash, a restart or a worker error loses nothing: the
 * worker starts again from the slot, and skips the transactions whose batches
 * it had already written (tenant_rls.audit_delivery_state.applied_lsn is
 * written in the same transaction as the batches).
 *
 * Why: a one-row write's audit then costs a WAL record instead of a log row,
 * an index entry and a chain head update in the writer's transaction (see
 * doc/audit.md, "Deferred delivery").  What it costs: entries appear in the
 * log shortly after the commit (tenant_rls.audit_delivery_wait() waits for
 * them), and it needs shared_preload_libraries, a replication slot and a
 * background worker per database.
 *
 * Forgery: anybody can write a logical message with any prefix
 * (pg_logical_emit_message()), so every message carries an HMAC-SHA256 of the
 * database oid, the (sub)transaction id of the record and the body, under a
 * 32-byte key kept in the data directory (tenant_rls_audit.key, created at the
 * first start; it goes with base backups).  The worker checks the MAC, the
 * database and the transaction id against the record before it keeps a
 * message, and counts the rejected ones.
 *
 * Who decides what:
 *   audit_delivery_deferred()   a committing writer: defer or write now
 *   launcher_main()             at start and every second: a worker for every
 *                               slot, dropping slots of dropped databases
 *   resume_main()               after a promotion (at each start): in each
 *                               database without a slot, one after the other,
 *                               resumes the former primary's delivery where
 *                               that loses nothing, or warns
 *   worker_main()               reading the WAL, keeping, delivering
 *   audit_delivery_start/stop() create / drain and drop the slot
 *   delivery_ProcessUtility()   DROP DATABASE and the other statements that
 *                               need a database nobody is connected to: its
 *                               worker steps aside
 */
#include "tenant_rls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "access/rmgr.h"
#include "access/heapam.h"
#include "access/subtrans.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/timeline.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xlogreader.h"
#include "access/xlogrecord.h"
#include "access/xlogutils.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_control.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/tablespace.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/bgwriter.h"
#include "postmaster/interrupt.h"
#include "replication/message.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "audit_delivery.h"
#include "policy.h"
#include "token_core.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_delivery_start);
PG_FUNCTION_INFO_V1(tenant_rls_audit_delivery_stop);
PG_FUNCTION_INFO_V1(tenant_rls_audit_delivery_wait);
PG_FUNCTION_INFO_V1(tenant_rls_audit_delivery_status);
PG_FUNCTION_INFO_V1(tenant_rls_audit_delivery_key_id);

PGDLLEXPORT void tenant_rls_delivery_launcher_main(Datum arg);
PGDLLEXPORT void tenant_rls_delivery_worker_main(Datum arg);
PGDLLEXPORT void tenant_rls_delivery_resume_main(Datum arg);

#define DELIVERY_PREFIX		"tenant_rls.audit"
#define DELIVERY_SLOT_PREFIX "tenant_rls_audit_"
#define DELIVERY_KEY_FILE	"tenant_rls_audit.key"
#define DELIVERY_KEY_LEN	32
#define DELIVERY_MAX_DBS	64
/* a message: MAC, database oid, transaction id, then the body */
#define MSG_MAC_LEN			32
#define MSG_HEADER_LEN		(MSG_MAC_LEN + 4 + 4)

/* the worker: commits per worker transaction, idle poll, pending check */
#define APPLY_MAX_COMMITS	64 		/* each tenant of them is one more lock held */
#define APPLY_MAX_BYTES		(16 * 1024 * 1024)
#define IDLE_WAIT_MS		10
#define CATCH_UP_WAIT_MS	10000	/* audit_delivery_order_wait() */
#define PRUNE_INTERVAL_MS	1000
#define WORKER_RESTART_MS	5000
#define STEP_ASIDE_MS		10000	/* no worker for that long after DROP DATABASE & co. */
#define MAX_TIMEOUT_US		(INT64CONST(36525) * USECS_PER_DAY)	/* 100 years */

typedef enum
{
	DELIVERY_IMMEDIATE,
	DELIVERY_DEFERRED
} DeliveryMode;

static const struct config_enum_entry delivery_options[] = {
	{"immediate", DELIVERY_IMMEDIATE, false},
	{"deferred", DELIVERY_DEFERRED, false},
	{NULL, 0, false}
};

static int	audit_delivery_mode = DELIVERY_IMMEDIATE;

/* ---------------------------------------------------------------------
 * Shared state (only when preloaded)
 * ---------------------------------------------------------------------
 */
typedef struct DeliveryDb
{
	Oid			dboid;			/* InvalidOid: a free entry */
	bool		enabled;		/* committing writers defer */
	bool		stopping;		/* audit_delivery_stop() is draining it */
	bool		release;		/* ... and asks the worker to let the slot go */
	bool		step_aside;		/* the worker exits now (DROP DATABASE & co.) */
	TimestampTz hold_until;		/* ... and no worker starts before that */
	pid_t		pid;			/* the worker, 0: none */
	Latch	   *latch;			/* the worker's */
	TimestampTz registered_at;	/* last time a worker was registered */
	XLogRecPtr	delivered_lsn;	/* every commit before it is in the log */
	XLogRecPtr	restart_lsn;	/* the slot's */
	int64		pending;		/* transactions read, not ended yet */
	TransactionId oldest_xid;	/* ... the one whose messages the slot keeps longest */
	TimestampTz oldest_since;	/* ... since the worker read its first message */
	int64		batches;		/* delivered by the current worker */
	int64		rejected;		/* messages refused (signature) */
	int			failures;		/* worker transactions failed in a row */
	bool		slot_lost;		/* the slot vanished or was invalidated */
	pid_t		starting;		/* a backend whose audit_delivery_start() commits */
	TimestampTz order_gave_up_at;	/* a commit's order wait last timed out */
} DeliveryDb;

/*
 * Commit order between sessions: a commit that writes its batches itself
 * (immediate) must not overtake another session's deferred commit of one of
 * its tenants that the worker has not written yet (doc/audit.md, Deferred
 * delivery: the UPDATE of a row written at once, chained before the
 * deferred INSERT it changed).  Tenants are hashed, with their database,
 * into ORDER_SLOTS slots; each counts the transactions that deferred
 * batches of its tenants and are committing (from their PRE_COMMIT to their
 * end: a commit becomes visible to others a moment before its callbacks
 * run), and keeps the end of the last commit record that did.  A collision
 * only makes a commit wait when it need not.  A slot chosen by the database
 * alone stands for all its tenants (a transaction that deferred more than
 * ORDER_MARK_MAX tenants).
 */
#define ORDER_SLOTS		4096
#define ORDER_MARK_MAX	64
typedef struct OrderSlot
{
	pg_atomic_uint32 committing;
	pg_atomic_uint64 last_commit;	/* XLogRecPtr */
} OrderSlot;

typedef struct DeliveryShared
{
	LWLock	   *lock;
	bool		key_ok;
	uint8		key[DELIVERY_KEY_LEN];
	DeliveryDb	dbs[DELIVERY_MAX_DBS];
	OrderSlot	order[ORDER_SLOTS];
} DeliveryShared;

static DeliveryShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void delivery_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc);

/* the key, prepared for HMAC in this process (token_core.c) */
static token_key mac_key;
static bool mac_key_ready = false;

static DeliveryDb *
find_db(Oid dboid, bool add)
{
	DeliveryDb *free_db = NULL;

	for (int i = 0; i < DELIVERY_MAX_DBS; i++)
	{
		if (shared->dbs[i].dboid == dboid)
			return &shared->dbs[i];
		if (free_db == NULL && shared->dbs[i].dboid == InvalidOid)
			free_db = &shared->dbs[i];
	}
	if (!add || free_db == NULL)
		return NULL;
	memset(free_db, 0, sizeof(DeliveryDb));
	free_db->dboid = dboid;
	return free_db;
}

static void
slot_name_for(Oid dboid, char *name)
{
	snprintf(name, NAMEDATALEN, DELIVERY_SLOT_PREFIX "%u", dboid);
}

/*
 * The signing key: read from the data directory, or created there at the
 * first start.  Runs in the postmaster (shmem startup); on any failure
 * deferred delivery stays unavailable and commits write immediately.
 */
static void
load_key(void)
{
	int			fd;
	ssize_t		n;

	fd = open(DELIVERY_KEY_FILE, O_RDONLY | PG_BINARY, 0);
	if (fd < 0 && errno == ENOENT)
	{
		uint8		key[DELIVERY_KEY_LEN];
		bool		written;

		if (!pg_strong_random(key, sizeof(key)))
		{
			ereport(LOG, (errmsg("tenant_rls: could not generate the audit delivery key")));
			return;
		}
		fd = open(DELIVERY_KEY_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, S_IRUSR | S_IWUSR);
		written = fd >= 0 && write(fd, key, sizeof(key)) == sizeof(key) && pg_fsync(fd) == 0;
		explicit_bzero(key, sizeof(key));
		if (fd >= 0 && close(fd) != 0)
			written = false;
		if (!written || durable_rename(DELIVERY_KEY_FILE ".tmp", DELIVERY_KEY_FILE, LOG) != 0)
		{
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("tenant_rls: could not write the audit delivery key file \"%s\": %m",
							DELIVERY_KEY_FILE)));
			return;
		}
		fd = open(DELIVERY_KEY_FILE, O_RDONLY | PG_BINARY, 0);
	}
	if (fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("tenant_rls: could not open the audit delivery key file \"%s\": %m",
						DELIVERY_KEY_FILE)));
		return;
	}
	{
		uint8		buf[DELIVERY_KEY_LEN + 1];

		/* exactly DELIVERY_KEY_LEN bytes: a longer file is not ours either */
		n = read(fd, buf, sizeof(buf));
		if (n == DELIVERY_KEY_LEN)
			memcpy(shared->key, buf, DELIVERY_KEY_LEN);
		explicit_bzero(buf, sizeof(buf));
	}
	close(fd);
	if (n != DELIVERY_KEY_LEN)
	{
		ereport(LOG,
				(errmsg("tenant_rls: the audit delivery key file \"%s\" is not %d bytes long",
						DELIVERY_KEY_FILE, DELIVERY_KEY_LEN)));
		return;
	}
	shared->key_ok = true;
}

static void
delivery_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(DeliveryShared)));
	RequestNamedLWLockTranche("tenant_rls audit delivery", 1);
}

static void
delivery_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("tenant_rls audit delivery", sizeof(DeliveryShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(DeliveryShared));
		shared->lock = &(GetNamedLWLockTranche("tenant_rls audit delivery"))->lock;
		for (int i = 0; i < ORDER_SLOTS; i++)
		{
			pg_atomic_init_u32(&shared->order[i].committing, 0);
			pg_atomic_init_u64(&shared->order[i].last_commit, 0);
		}
		load_key();
	}
	LWLockRelease(AddinShmemInitLock);
}

static bool
prepare_mac_key(void)
{
	if (!mac_key_ready)
	{
		if (shared == NULL || !shared->key_ok ||
			token_key_init(&mac_key, shared->key, DELIVERY_KEY_LEN) != TOKEN_OK)
			return false;
		mac_key_ready = true;
	}
	return true;
}

/*
 * The id of this server's delivery key (token_core.c's key id: a few bytes of
 * a hash of the key, which tokens carry in the clear), as a bytea; NULL when
 * there is no usable key.  audit_delivery_start() records it in
 * audit_delivery_state, which replicates: lint() compares it with the key of
 * the server it runs on, so that a standby with a key of its own (created at
 * its first start with the library, when tenant_rls came after the standby)
 * is reported before a failover to it rejects its primary's undelivered
 * messages as forged (review rev49a).
 */
static bytea *
delivery_key_id(void)
{
	bytea	   *id;

	if (!prepare_mac_key())
		return NULL;
	id = (bytea *) palloc(VARHDRSZ + TOKEN_KEYID_LEN);
	SET_VARSIZE(id, VARHDRSZ + TOKEN_KEYID_LEN);
	memcpy(VARDATA(id), mac_key.id, TOKEN_KEYID_LEN);
	return id;
}

Datum
tenant_rls_audit_delivery_key_id(PG_FUNCTION_ARGS)
{
	bytea	   *id = delivery_key_id();

	if (id == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(id);
}

/*
 * Record in audit_delivery_state that delivery was started in database
 * dboid, and the key its messages are signed with from now on (lint()
 * compares it); only_unrecorded: unless a start is recorded already.  In an
 * SPI connection.
 */
static void
state_record_start(Oid dboid, bool only_unrecorded)
{
	Oid			argtypes[2] = {OIDOID, BYTEAOID};
	bytea	   *key_id = delivery_key_id();
	Datum		args[2] = {ObjectIdGetDatum(dboid), PointerGetDatum(key_id)};
	char		nulls[2] = {' ', key_id == NULL ? 'n' : ' '};

	spi_exec_privileged(only_unrecorded
						? "UPDATE tenant_rls.audit_delivery_state SET started = true, started_in = $1, key_id = $2 WHERE NOT started"
						: "UPDATE tenant_rls.audit_delivery_state SET started = true, started_in = $1, key_id = $2",
						2, argtypes, args, nulls, false);
}

/* a background worker of this library running function, connected to a database */
static void
worker_entry(BackgroundWorker *w, const char *function, const char *type)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	strlcpy(w->bgw_library_name, "tenant_rls", BGW_MAXLEN);
	strlcpy(w->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(w->bgw_name, type, BGW_MAXLEN);
	strlcpy(w->bgw_type, type, BGW_MAXLEN);
}

static void
register_launcher(void)
{
	BackgroundWorker w;

	worker_entry(&w, "tenant_rls_delivery_launcher_main", "tenant_rls audit delivery launcher");
	w.bgw_restart_time = 5;
	RegisterBackgroundWorker(&w);
}

static bool
register_worker(Oid dboid)
{
	BackgroundWorker w;

	worker_entry(&w, "tenant_rls_delivery_worker_main", "tenant_rls audit delivery");
	w.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher restarts it */
	snprintf(w.bgw_name, BGW_MAXLEN, "tenant_rls audit delivery for database %u", dboid);
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	return RegisterDynamicBackgroundWorker(&w, NULL);
}

/*
 * How this start of the server began, read by the postmaster before
 * recovery (which changes all three), and inherited by every process it
 * starts: the timeline of the control file's last checkpoint, whether
 * standby.signal was there, and the START TIMELINE of a backup_label (0:
 * none).  The resume worker tells by them what left a database without
 * its slot (loss_event()).
 */
static TimeLineID start_tli = 0;
static bool start_standby = false;
static TimeLineID start_backup_tli = 0;

static void
note_start(void)
{
	int			fd;
	FILE	   *f;
	struct stat st;

	fd = open(XLOG_CONTROL_FILE, O_RDONLY | PG_BINARY, 0);
	if (fd >= 0)
	{
		ControlFileData cf;

		if (read(fd, &cf, sizeof(cf)) == sizeof(cf))
			start_tli = cf.checkPointCopy.ThisTimeLineID;
		close(fd);
	}
	start_standby = stat(STANDBY_SIGNAL_FILE, &st) == 0;
	f = fopen(BACKUP_LABEL_FILE, "r");
	if (f != NULL)
	{
		char		line[MAXPGPATH + 100];
		unsigned int tli;

		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "START TIMELINE: %u", &tli) == 1)
				start_backup_tli = tli;
		fclose(f);
	}
}

void
audit_delivery_init(void)
{
	DefineCustomEnumVariable("tenant_rls.audit_delivery",
							 gettext_noop("When audited changes reach the audit log: immediate (in the committing transaction) or deferred (from the WAL, by a background worker)."),
							 gettext_noop("deferred needs tenant_rls in shared_preload_libraries and tenant_rls.audit_delivery_start() in the database; otherwise changes are written immediately."),
							 &audit_delivery_mode,
							 DELIVERY_IMMEDIATE,
							 delivery_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = delivery_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = delivery_shmem_startup;
		prev_ProcessUtility = ProcessUtility_hook;
		ProcessUtility_hook = delivery_ProcessUtility;
		register_launcher();
		if (!IsUnderPostmaster)
			note_start();
	}
}

/* ---------------------------------------------------------------------
 * The committing writer
 * ---------------------------------------------------------------------
 */
bool
audit_delivery_deferred(void)
{
	DeliveryDb *db;

	if (audit_delivery_mode != DELIVERY_DEFERRED || shared == NULL || !shared->key_ok ||
		audit_purge_sanctioned || !XLogIsNeeded())
		return false;

	/*
	 * A hint, read without the lock: where delivery is not on, the batches
	 * are not serialised and signed for nothing.  audit_delivery_emit()
	 * decides, under the lock.
	 */
	db = find_db(MyDatabaseId, false);
	if (db == NULL || !db->enabled)
		return false;
	return prepare_mac_key();
}

/* is the slot there, with its WAL reserved?  (the caller holds shared->lock) */
static bool
slot_usable(Oid dboid)
{
	char		name[NAMEDATALEN];
	ReplicationSlot *s;
	XLogRecPtr	restart;

	slot_name_for(dboid, name);
	s = SearchNamedReplicationSlot(name, true);
	if (s == NULL)
		return false;
	SpinLockAcquire(&s->mutex);
	restart = s->data.restart_lsn;
	SpinLockRelease(&s->mutex);
	return !XLogRecPtrIsInvalid(restart);
}

static void
message_mac(const char *msg, Size len, uint8 *out)
{
	if (!prepare_mac_key() ||
		token_mac(&mac_key, msg + MSG_MAC_LEN, len - MSG_MAC_LEN, out) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign an audit message")));
}

bool
audit_delivery_emit(const char *body, int len, bool continuing)
{
	StringInfoData msg;
	uint32		dbid = MyDatabaseId;
	TransactionId xid = GetCurrentTransactionId();
	DeliveryDb *db;
	bool		on;

	initStringInfo(&msg);
	enlargeStringInfo(&msg, MSG_HEADER_LEN + len);
	memset(msg.data, 0, MSG_MAC_LEN);
	msg.len = MSG_MAC_LEN;
	appendBinaryStringInfo(&msg, (const char *) &dbid, sizeof(dbid));
	appendBinaryStringInfo(&msg, (const char *) &xid, sizeof(xid));
	appendBinaryStringInfo(&msg, body, len);
	message_mac(msg.data, msg.len, (uint8 *) msg.data);

	/*
	 * Checked and written under the shared lock: audit_delivery_stop() flips
	 * "enabled" under the exclusive lock, so every message it must wait for
	 * is in the WAL before it reads the insert position.
	 */
	LWLockAcquire(shared->lock, LW_SHARED);
	db = find_db(MyDatabaseId, false);
	/*
	 * A transaction that has deferred already goes on deferring while
	 * delivery is being stopped (audit_delivery_stop() waits for it) and
	 * after three failed deliveries switched new transactions to immediate
	 * (the worker goes on delivering): written here now, its later batches
	 * would be chained before its earlier ones.  Not once the slot is lost:
	 * its earlier messages went with it.
	 */
	on = db != NULL && slot_usable(MyDatabaseId) && !db->release &&
		((db->enabled && !db->stopping) || continuing);
	if (on)
		(void) LogLogicalMessage(DELIVERY_PREFIX, msg.data, msg.len, true);
	LWLockRelease(shared->lock);
	pfree(msg.data);
	return on;
}

/* ---------------------------------------------------------------------
 * The launcher: a worker for every slot of ours
 * ---------------------------------------------------------------------
 */
static bool
parse_slot_name(const char *name, Oid *dboid)
{
	const char *p;
	char	   *end;
	unsigned long v;

	if (strncmp(name, DELIVERY_SLOT_PREFIX, strlen(DELIVERY_SLOT_PREFIX)) != 0)
		return false;
	p = name + strlen(DELIVERY_SLOT_PREFIX);
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > PG_UINT32_MAX)
		return false;
	*dboid = (Oid) v;
	return true;
}

static void
launcher_scan(void)
{
	Oid			dbs[DELIVERY_MAX_DBS];
	bool		active[DELIVERY_MAX_DBS];
	int			n = 0;
	List	   *lost = NIL;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots && n < DELIVERY_MAX_DBS; i++)
	{
		ReplicationSlot *s = &ReplicationSlotCtl->replication_slots[i];
		Oid			dboid;

		/* (a temporary one: audit_delivery_start() has not committed) */
		if (!s->in_use || SlotIsLogical(s) || s->data.persistency != RS_PERSISTENT ||
			!parse_slot_name(NameStr(s->data.name), &dboid))
			continue;
		dbs[n] = dboid;
		active[n] = (s->active_pid != 0);
		n++;
	}
	LWLockRelease(ReplicationSlotControlLock);

	for (int i = 0; i < n; i++)
	{
		bool		exists;
		bool		start = false;
		DeliveryDb *db;
		TimestampTz now = GetCurrentTimestamp();

		StartTransactionCommand();
		exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbs[i]));
		CommitTransactionCommand();
		if (!exists)
		{
			char		name[NAMEDATALEN];

			if (active[i])
				continue;
			slot_name_for(dbs[i], name);
			ReplicationSlotDrop(name, true);
			ereport(LOG,
					(errmsg("tenant_rls: dropped replication slot \"%s\": its database no longer exists", name)));
			LWLockAcquire(shared->lock, LW_EXCLUSIVE);
			if ((db = find_db(dbs[i], false)) != NULL)
				db->dboid = InvalidOid;
			LWLockRelease(shared->lock);
			continue;
		}
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		db = find_db(dbs[i], false);
		if (db == NULL)
		{
			char		name[NAMEDATALEN];

			/*
			 * A slot of ours found after a start.  Still there? (stop drops
			 * the slot before it frees the entry: checked under our lock.)
			 */
			slot_name_for(dbs[i], name);
			if (SearchNamedReplicationSlot(name, true) != NULL &&
				(db = find_db(dbs[i], true)) != NULL)
				db->enabled = true;
		}
		if (db != NULL && !db->release && db->pid == 0 && db->starting == 0 && now >= db->hold_until &&
			TimestampDifferenceExceeds(db->registered_at, now, WORKER_RESTART_MS))
		{
			db->registered_at = now;
			start = true;
		}
		LWLockRelease(shared->lock);
		if (start && !register_worker(dbs[i]))
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("tenant_rls: could not start the audit delivery worker of database %u", dbs[i]),
					 errhint("Raise max_worker_processes.")));
	}

	/*
	 * A database whose slot was dropped or invalidated (max_slot_wal_keep_size)
	 * behind our back: its writers go back to writing immediately.
	 */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < DELIVERY_MAX_DBS; i++)
	{
		DeliveryDb *db = &shared->dbs[i];

		if (db->dboid != InvalidOid && db->enabled && !slot_usable(db->dboid))
		{
			db->enabled = false;
			db->slot_lost = true;
			lost = lappend_oid(lost, db->dboid);
		}
	}
	LWLockRelease(shared->lock);
	{
		ListCell   *lc;

		foreach(lc, lost)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tenant_rls: deferred audit delivery of database %u stopped: its replication slot was dropped or invalidated",
							lfirst_oid(lc)),
					 errdetail("Changes committed before that and not yet delivered may be missing from the audit log; later changes are written immediately."),
					 errhint("Run tenant_rls.audit_verify() in that database, and tenant_rls.audit_delivery_start() to defer again.")));
		list_free(lost);
	}
}

/*
 * After a promotion (doc/audit.md, Limits of deferred delivery: failover):
 * the replicated audit_delivery_state of a database may say that delivery
 * was started, but the slot stayed on the former primary, and its writers
 * write immediately.  At its start (after the promotion: it starts once
 * recovery has finished; or after any later start of the server), the
 * launcher has a short-lived worker look at each database in turn that has
 * no slot of ours (tenant_rls_delivery_resume_main(): one at a time, a few
 * milliseconds each where the extension is not installed; the next one
 * after RESUME_ALONE_MS all the same), which resumes
 * delivery where that is sound and says in the server log why not where it
 * is not.
 */
static List *resume_pending = NIL;	/* database oids still to look at */
static bool resume_listed = false;
static List *resume_running = NIL;	/* handles of those running */
static TimestampTz resume_started_at = 0;	/* the last one's start */
static TimestampTz resume_retry_at = 0;
static bool resume_warned = false;

/*
 * One at a time, but one that has not finished after RESUME_ALONE_MS does
 * not hold up the next database (review rev51f: a worker waits without a
 * timeout to connect to a database that CREATE DATABASE ... TEMPLATE is
 * copying, or ALTER DATABASE ... RENAME / SET TABLESPACE holds, and every
 * database after it waited, while the checkpoints removed their WAL); at
 * most RESUME_MAX_RUNNING of them.
 */
#define RESUME_ALONE_MS		5000
#define RESUME_MAX_RUNNING	4

/* every database the resume worker may connect to */
static void
resume_list(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		/*
		 * (audit_delivery_start() refuses a template; an invalid database,
		 * left by an interrupted DROP DATABASE, refuses connections.  One
		 * closed to connections is looked at: its delivery worker connects
		 * to it too.)
		 */
		if (d->datistemplate || database_is_invalid_form(d))
			continue;
		old = MemoryContextSwitchTo(TopMemoryContext);
		resume_pending = lappend_oid(resume_pending, d->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	resume_listed = true;
}

/*
 * the next database's resume worker, once the last one has exited or has
 * run for RESUME_ALONE_MS
 */
static void
resume_step(void)
{
	pid_t		pid;
	ListCell   *lc;

	if (!resume_listed)
		resume_list();
	foreach(lc, resume_running)
	{
		BackgroundWorkerHandle *h = lfirst(lc);

		if (GetBackgroundWorkerPid(h, &pid) == BGWH_STOPPED)
		{
			resume_running = foreach_delete_current(resume_running, lc);
			pfree(h);
		}
	}
	if (resume_running != NIL &&
		(list_length(resume_running) >= RESUME_MAX_RUNNING ||
		 !TimestampDifferenceExceeds(resume_started_at, GetCurrentTimestamp(), RESUME_ALONE_MS)))
		return;
	while (resume_pending != NIL && GetCurrentTimestamp() >= resume_retry_at)
	{
		Oid			dboid = linitial_oid(resume_pending);
		char		name[NAMEDATALEN];
		bool		exists;
		BackgroundWorker w;
		BackgroundWorkerHandle *handle = NULL;
		MemoryContext old;
		bool		registered;

		slot_name_for(dboid, name);
		StartTransactionCommand();
		exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboid));
		CommitTransactionCommand();
		if (!exists || SearchNamedReplicationSlot(name, true) != NULL)
		{
			/* dropped since, or its delivery has its slot (being started, or never lost) */
			resume_pending = list_delete_first(resume_pending);
			continue;
		}
		worker_entry(&w, "tenant_rls_delivery_resume_main", "tenant_rls audit delivery resume");
		w.bgw_restart_time = BGW_NEVER_RESTART;
		w.bgw_notify_pid = MyProcPid;
		snprintf(w.bgw_name, BGW_MAXLEN, "tenant_rls audit delivery resume for database %u", dboid);
		w.bgw_main_arg = ObjectIdGetDatum(dboid);
		old = MemoryContextSwitchTo(TopMemoryContext);
		registered = RegisterDynamicBackgroundWorker(&w, &handle);
		if (registered)
			resume_running = lappend(resume_running, handle);
		MemoryContextSwitchTo(old);
		if (!registered)
		{
			resume_retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), WORKER_RESTART_MS);
			if (!resume_warned)
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("tenant_rls: could not start a worker to resume deferred audit delivery in database %u", dboid),
						 errdetail("At each start of the server (after a promotion too), a worker looks at each database whose deferred delivery may have lost its replication slot; the launcher tries again every few seconds."),
						 errhint("Raise max_worker_processes.")));
			resume_warned = true;
			return;
		}
		resume_pending = list_delete_first(resume_pending);
		resume_started_at = GetCurrentTimestamp();
		return;
	}
}

void
tenant_rls_delivery_launcher_main(Datum arg)
{
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	if (shared == NULL)
		proc_exit(0);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!RecoveryInProgress())
		{
			launcher_scan();
			resume_step();
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * The worker
 * ---------------------------------------------------------------------
 */
typedef struct KeptMessage
{
	XLogRecPtr	lsn;
	Size		len;
	bool		in_wal;			/* large: read back from the WAL, data not kept */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* the body, after the header */
} KeptMessage;

/*
 * A message larger than this is not kept in memory until its commit: a
 * transaction may write gigabytes of them (32 MB each, see
 * audit_defer_fits() in audit_message.c), and the slot keeps the WAL from
 * its first one anyway.
 * (A 1,000-row INSERT of a few columns is a message of about 100 kB: it
 * stays in memory, read and checked once.)
 */
#define KEEP_IN_MEMORY_MAX	(1024 * 1024)

/*
 * ... and none once the messages kept in memory reach this in all (many
 * transactions' early flushes; audit_chain.c sends a transaction's next
 * early flush only when 32 MB more are queued, also from savepoints).
 */
#define KEEP_IN_MEMORY_TOTAL	(64 * 1024 * 1024)
static Size kept_in_memory = 0;

/* the messages of one (sub)transaction, until its commit or abort record */
typedef struct KeptXact
{
	TransactionId xid;
	XLogRecPtr	first_lsn;
	TimestampTz first_read;		/* when the worker read its first message */
	List	   *msgs;			/* KeptMessage * */
} KeptXact;

/* a committed transaction waiting to be written */
typedef struct ReadyCommit
{
	XLogRecPtr	end_lsn;		/* of its commit record */
	List	   *msgs;			/* KeptMessage *, in WAL order */
} ReadyCommit;

static DeliveryDb *my_db = NULL;
static HTAB *kept = NULL;
static MemoryContext kept_cxt = NULL;
static List *ready = NIL;		/* ReadyCommit *, in commit order */
static Size ready_bytes = 0;
static int	ready_count = 0;
static XLogRecPtr applied_lsn = InvalidXLogRecPtr;	/* from audit_delivery_state */
static XLogRecPtr recorded_restart = InvalidXLogRecPtr;	/* its restart_lsn, as last written */

static void
worker_exit(int code, Datum arg)
{
	if (MyReplicationSlot != NULL)
		ReplicationSlotRelease();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (my_db != NULL && my_db->pid == MyProcPid)
	{
		my_db->pid = 0;
		my_db->latch = NULL;
	}
	LWLockRelease(shared->lock);
}

/*
 * A message with our prefix that is not one a committing transaction wrote.
 * On PostgreSQL 15 any role may write logical messages
 * (pg_logical_emit_message() is executable by PUBLIC), so this is an alarm
 * any role can raise: say where it is in the WAL and which transaction wrote
 * it, so that pg_waldump / pg_stat_activity history can tell who.  The first
 * ten warnings are logged, then at most one a minute with the number left
 * out since: a flood must not flood the log, nor hide a later message.
 */
static void
reject(XLogReaderState *r, Size len, const char *why)
{
	static TimestampTz last_warned = 0;
	static int64 warned_at = 0;
	int64		n;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	n = ++my_db->rejected;
	LWLockRelease(shared->lock);
	if (n > 10 && !TimestampDifferenceExceeds(last_warned, now, 60 * 1000))
		return;
	ereport(WARNING,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("tenant_rls: ignored a forged or damaged audit message in the WAL: %s", why),
			 errdetail("The message is at WAL location %X/%X, written by transaction %u, %zu bytes; %lld message(s) ignored so far, %lld of them not logged since the previous warning.",
					   LSN_FORMAT_ARGS(r->ReadRecPtr), XLogRecGetXid(r), len,
					   (long long) n, (long long) (n - warned_at - 1)),
			 errhint("Audit messages are written only by committing transactions; another writes one with pg_logical_emit_message(), which any role may call unless EXECUTE on it is revoked from PUBLIC.")));
	last_warned = now;
	warned_at = n;
}

static void
keep_message(XLogReaderState *r)
{
	xl_logical_message *m = (xl_logical_message *) XLogRecGetData(r);
	TransactionId xid = XLogRecGetXid(r);
	const char *msg;
	uint8		mac[MSG_MAC_LEN];
	uint32		dbid;
	TransactionId mxid;
	KeptXact   *kx;
	KeptMessage *km;
	bool		found;

	if (XLogRecGetDataLen(r) < SizeOfLogicalMessage || m->dbId != MyDatabaseId ||
		m->prefix_size != sizeof(DELIVERY_PREFIX) ||
		XLogRecGetDataLen(r) < SizeOfLogicalMessage + m->prefix_size + m->message_size ||
		memcmp(m->message, DELIVERY_PREFIX, sizeof(DELIVERY_PREFIX)) != 0)
		return;
	msg = m->message + m->prefix_size;
	if (m->message_size < MSG_HEADER_LEN)
	{
		reject(r, m->message_size, "too short");
		return;
	}
	message_mac(msg, m->message_size, mac);
	if (CRYPTO_memcmp(mac, msg, MSG_MAC_LEN) != 0)
	{
		reject(r, m->message_size, "bad signature");
		return;
	}
	memcpy(&dbid, msg + MSG_MAC_LEN, sizeof(dbid));
	memcpy(&mxid, msg + MSG_MAC_LEN + 4, sizeof(mxid));
	if (!m->transactional || !TransactionIdIsNormal(xid) || dbid != MyDatabaseId || mxid != xid)
	{
		reject(r, m->message_size, "signed for another transaction or database");
		return;
	}

	kx = hash_search(kept, &xid, HASH_ENTER, &found);
	if (!found)
	{
		kx->first_lsn = r->ReadRecPtr;
		kx->first_read = GetCurrentTimestamp();
		kx->msgs = NIL;
	}
	{
		Size		len = m->message_size - MSG_HEADER_LEN;
		bool		in_wal = len > KEEP_IN_MEMORY_MAX || kept_in_memory + len > KEEP_IN_MEMORY_TOTAL;

		km = MemoryContextAlloc(kept_cxt, offsetof(KeptMessage, data) + (in_wal ? 0 : len));
		km->lsn = r->ReadRecPtr;
		km->len = len;
		km->in_wal = in_wal;
		if (!in_wal)
		{
			memcpy(km->data, msg + MSG_HEADER_LEN, len);
			kept_in_memory += len;
		}
	}
	{
		MemoryContext old = MemoryContextSwitchTo(kept_cxt);

		kx->msgs = lappend(kx->msgs, km);
		MemoryContextSwitchTo(old);
	}
}

/* free a list of KeptMessage * */
static void
free_messages(List *msgs)
{
	ListCell   *lc;

	foreach(lc, msgs)
	{
		KeptMessage *km = lfirst(lc);

		if (!km->in_wal)
			kept_in_memory -= km->len;
	}
	list_free_deep(msgs);
}

/* take (commit) or drop (abort) the messages of xid */
static List *
take_xact(TransactionId xid, List *into, bool commit)
{
	KeptXact   *kx = hash_search(kept, &xid, HASH_FIND, NULL);

	if (kx == NULL)
		return into;
	if (commit)
	{
		MemoryContext old = MemoryContextSwitchTo(kept_cxt);

		into = list_concat(into, kx->msgs);
		MemoryContextSwitchTo(old);
		list_free(kx->msgs);
	}
	else
		free_messages(kx->msgs);
	(void) hash_search(kept, &xid, HASH_REMOVE, NULL);
	return into;
}

static int
kept_lsn_cmp(const ListCell *a, const ListCell *b)
{
	XLogRecPtr	x = ((KeptMessage *) lfirst(a))->lsn;
	XLogRecPtr	y = ((KeptMessage *) lfirst(b))->lsn;

	return (x > y) - (x < y);
}

static void
end_xact(XLogReaderState *r)
{
	uint8		info = XLogRecGetInfo(r);
	uint8		op = info & XLOG_XACT_OPMASK;
	TransactionId top;
	TransactionId *subxacts;
	int			nsubxacts;
	bool		commit;
	List	   *msgs = NIL;

	if (op == XLOG_XACT_COMMIT || op == XLOG_XACT_COMMIT_PREPARED)
	{
		xl_xact_parsed_commit parsed;

		ParseCommitRecord(info, (xl_xact_commit *) XLogRecGetData(r), &parsed);
		top = (op == XLOG_XACT_COMMIT_PREPARED) ? parsed.twophase_xid : XLogRecGetXid(r);
		subxacts = parsed.subxacts;
		nsubxacts = parsed.nsubxacts;
		commit = true;
	}
	else if (op == XLOG_XACT_ABORT || op == XLOG_XACT_ABORT_PREPARED)
	{
		xl_xact_parsed_abort parsed;

		ParseAbortRecord(info, (xl_xact_abort *) XLogRecGetData(r), &parsed);
		top = (op == XLOG_XACT_ABORT_PREPARED) ? parsed.twophase_xid : XLogRecGetXid(r);
		subxacts = parsed.subxacts;
		nsubxacts = parsed.nsubxacts;
		commit = false;
	}
	else
		return;

	if (hash_get_num_entries(kept) == 0)
		return;
	msgs = take_xact(top, msgs, commit);
	for (int i = 0; i < nsubxacts; i++)
		msgs = take_xact(subxacts[i], msgs, commit);
	if (msgs == NIL)
		return;
	if (r->EndRecPtr <= applied_lsn)
	{
		/* written before a restart of the worker */
		free_messages(msgs);
		return;
	}
	{
		MemoryContext old = MemoryContextSwitchTo(kept_cxt);
		ReadyCommit *rc = palloc(sizeof(ReadyCommit));
		ListCell   *lc;

		list_sort(msgs, kept_lsn_cmp);
		rc->end_lsn = r->EndRecPtr;
		rc->msgs = msgs;
		ready = lappend(ready, rc);
		ready_count++;
		foreach(lc, msgs)
			ready_bytes += ((KeptMessage *) lfirst(lc))->len;
		MemoryContextSwitchTo(old);
	}
}

/*
 * Forget the messages of transactions that ended without a commit or abort
 * record: those a crash interrupted (they are not running and did not
 * commit).  A prepared transaction is still running.
 */
static void
prune_kept(void)
{
	HASH_SEQ_STATUS status;
	KeptXact   *kx;
	List	   *gone = NIL;
	ListCell   *lc;

	hash_seq_init(&status, kept);
	while ((kx = hash_seq_search(&status)) != NULL)
	{
		if (!TransactionIdIsInProgress(kx->xid) && !TransactionIdDidCommit(kx->xid))
			gone = lappend_oid(gone, (Oid) kx->xid);	/* (an xid fits an Oid list) */
	}
	foreach(lc, gone)
		(void) take_xact((TransactionId) lfirst_oid(lc), NIL, false);
	list_free(gone);
}

/* the transaction whose messages the slot keeps longest, NULL: none */
static KeptXact *
kept_oldest(void)
{
	HASH_SEQ_STATUS status;
	KeptXact   *kx;
	KeptXact   *oldest = NULL;

	hash_seq_init(&status, kept);
	while ((kx = hash_seq_search(&status)) != NULL)
	{
		if (oldest == NULL || kx->first_lsn < oldest->first_lsn)
			oldest = kx;
	}
	return oldest;
}

static XLogRecPtr
kept_min_lsn(XLogRecPtr upto)
{
	KeptXact   *oldest = kept_oldest();

	return (oldest != NULL && oldest->first_lsn < upto) ? oldest->first_lsn : upto;
}

/*
 * What this database's tenant_rls.audit_delivery_state says: whether
 * delivery was started (and not stopped), applied_lsn and restart_lsn
 * (InvalidXLogRecPtr when unknown), and the database that started it (not
 * this one in a copy made with CREATE DATABASE ... TEMPLATE).  The caller
 * is connected to SPI.
 */
static bool
read_state(XLogRecPtr *applied, XLogRecPtr *restart, Oid *started_in)
{
	bool		started = false;
	bool		isnull;

	*applied = *restart = InvalidXLogRecPtr;
	*started_in = InvalidOid;
	spi_exec_privileged("SELECT applied_lsn, restart_lsn, started, started_in FROM tenant_rls.audit_delivery_state",
						0, NULL, NULL, NULL, true);
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		Datum		v;

		v = SPI_getbinval(t, d, 1, &isnull);
		if (!isnull)
			*applied = DatumGetLSN(v);
		v = SPI_getbinval(t, d, 2, &isnull);
		if (!isnull)
			*restart = DatumGetLSN(v);
		v = SPI_getbinval(t, d, 3, &isnull);
		started = !isnull && DatumGetBool(v);
		v = SPI_getbinval(t, d, 4, &isnull);
		if (!isnull)
			*started_in = DatumGetObjectId(v);
	}
	return started;
}

/* applied_lsn of tenant_rls.audit_delivery_state; false: no extension here */
static bool
read_applied_lsn(XLogRecPtr *lsn)
{
	XLogRecPtr	restart;
	Oid			started_in;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!OidIsValid(get_extension_oid("tenant_rls", true)))
	{
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
		return false;
	}
	(void) read_state(lsn, &restart, &started_in);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	return true;
}

/*
 * The slot is there, so delivery was started: make sure the state says so
 * (lint() reports a later loss of the slot only then).  A server crash
 * while audit_delivery_start() committed leaves the slot persistent (it is
 * made so just before the commit) and the start unrecorded; the launcher
 * adopts it at the restart and writers defer into it, so the start stands.
 * Waits for an audit_delivery_start() that holds the row.
 */
static void
record_started(Oid dboid)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	state_record_start(dboid, true);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("tenant_rls: recorded the start of deferred audit delivery in database %u: its replication slot was there without a record of the start",
						dboid)));
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/* the memory the worker keeps between deliveries, at most */
#define IDLE_MEMORY_MAX		(16 * 1024 * 1024)

/* a WAL reader of the local WAL that does not wait for more */
static XLogReaderState *
wal_reader(ReadLocalXLogPageNoWaitPrivate *priv)
{
	XLogReaderState *r = XLogReaderAllocate(wal_segment_size, NULL,
											XL_ROUTINE(.page_read = &read_local_xlog_page_no_wait,
													   .segment_open = &wal_segment_open,
													   .segment_close = &wal_segment_close),
											priv);

	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed while allocating a WAL reading processor.")));
	return r;
}

/* the (empty) table of transactions with kept messages, in kept_cxt */
static void
kept_create(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(TransactionId);
	ctl.entrysize = sizeof(KeptXact);
	ctl.hcxt = kept_cxt;
	kept = hash_create("tenant_rls kept audit messages", 256, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* reads large messages back from the WAL (apply_ready() frees it) */
static XLogReaderState *rereader = NULL;

/*
 * A large message, read back from the WAL where keep_message() found it
 * (the slot keeps that WAL until it is delivered).  It is checked again: the
 * WAL files could have been changed since.
 */
static const char *
reread_message(KeptMessage *km, Size *len)
{
	char	   *errormsg = NULL;
	XLogRecord *rec;
	xl_logical_message *m;
	const char *msg;
	uint8		mac[MSG_MAC_LEN];
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	/* the reader and its buffers live until apply_ready() has committed */
	if (rereader == NULL)
		rereader = wal_reader(palloc0(sizeof(ReadLocalXLogPageNoWaitPrivate)));
	XLogBeginRead(rereader, km->lsn);
	rec = XLogReadRecord(rereader, &errormsg);
	MemoryContextSwitchTo(old);
	m = rec ? (xl_logical_message *) XLogRecGetData(rereader) : NULL;
	if (rec == NULL || rereader->ReadRecPtr != km->lsn ||
		XLogRecGetRmid(rereader) != RM_LOGICALMSG_ID ||
		XLogRecGetDataLen(rereader) < SizeOfLogicalMessage ||
		m->prefix_size != sizeof(DELIVERY_PREFIX) ||
		m->message_size != km->len + MSG_HEADER_LEN ||
		XLogRecGetDataLen(rereader) < SizeOfLogicalMessage + m->prefix_size + m->message_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not read the audit message at %X/%X back from the WAL%s%s",
						LSN_FORMAT_ARGS(km->lsn), errormsg ? ": " : "", errormsg ? errormsg : ""),
				 errhint("Deferred delivery of this database stops here; see tenant_rls.audit_delivery_status().")));
	msg = m->message + m->prefix_size;
	message_mac(msg, m->message_size, mac);
	if (CRYPTO_memcmp(mac, msg, MSG_MAC_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit message at %X/%X changed in the WAL after it was read",
						LSN_FORMAT_ARGS(km->lsn)),
				 errhint("Deferred delivery of this database stops here; see tenant_rls.audit_delivery_status().")));
	*len = km->len;
	return msg + MSG_HEADER_LEN;
}

/* audit_deliver()'s message i of the array of KeptMessage * */
static const char *
fetch_message(int i, Size *len, bool *transient, void *arg)
{
	KeptMessage *km = ((KeptMessage **) arg)[i];

	*transient = km->in_wal;
	if (km->in_wal)
		return reread_message(km, len);
	*len = km->len;
	return km->data;
}

/* write the ready commits, and their progress, in one transaction */
static void
apply_ready(void)
{
	int			n = 0;
	KeptMessage **msgs;
	ListCell   *lc;
	XLogRecPtr	last = InvalidXLogRecPtr;
	int			written;

	if (ready == NIL)
		return;
	/* counted as failed until it commits (an error ends the worker) */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	my_db->failures++;
	LWLockRelease(shared->lock);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "delivering audit batches");

	foreach(lc, ready)
		n += list_length(((ReadyCommit *) lfirst(lc))->msgs);
	msgs = palloc(sizeof(KeptMessage *) * n);
	n = 0;
	foreach(lc, ready)
	{
		ReadyCommit *rc = lfirst(lc);
		ListCell   *lm;

		foreach(lm, rc->msgs)
			msgs[n++] = lfirst(lm);
		last = rc->end_lsn;
	}
	written = audit_deliver(n, fetch_message, msgs);
	{
		static SPIPlanPtr plan = NULL;

		/*
		 * From kept_min_lsn(last) a reader finds every commit after "last"
		 * with all its messages: a transaction with a message before "last"
		 * that has not ended is kept.  (A standby promoted after a failover
		 * has no slot, but this row: audit_delivery_start() there.)
		 */
		Datum		args[2] = {LSNGetDatum(last), LSNGetDatum(kept_min_lsn(last))};

		recorded_restart = DatumGetLSN(args[1]);

		/* planned once per worker: it runs once per worker transaction */
		if (plan == NULL)
		{
			Oid			argtypes[2] = {PG_LSNOID, PG_LSNOID};

			plan = SPI_prepare("UPDATE tenant_rls.audit_delivery_state SET applied_lsn = $1, restart_lsn = $2",
							   2, argtypes);
			if (plan == NULL || SPI_keepplan(plan) != 0)
				elog(ERROR, "could not prepare the update of tenant_rls.audit_delivery_state");
		}
		if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
			elog(ERROR, "could not update tenant_rls.audit_delivery_state");
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	if (rereader != NULL)
	{
		/* its buffer is as large as the largest message it read */
		pfree(rereader->private_data);
		XLogReaderFree(rereader);
		rereader = NULL;
	}

	applied_lsn = last;
	foreach(lc, ready)
		free_messages(((ReadyCommit *) lfirst(lc))->msgs);
	list_free_deep(ready);
	ready = NIL;
	ready_bytes = 0;
	ready_count = 0;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	my_db->batches += written;
	my_db->failures = 0;
	LWLockRelease(shared->lock);
}

/*
 * Every record before "next" (a record boundary) is read and every committed
 * transaction among them is in the log, and so is every commit before
 * "delivered" (>= next): publish that, and let the slot go of the WAL before
 * the oldest message still kept.
 */
static void
advance(XLogRecPtr next, XLogRecPtr delivered)
{
	KeptXact   *oldest = kept_oldest();
	XLogRecPtr	restart = (oldest != NULL && oldest->first_lsn < next) ? oldest->first_lsn : next;
	bool		moved = false;

	SpinLockAcquire(&MyReplicationSlot->mutex);
	if (restart > MyReplicationSlot->data.restart_lsn)
	{
		MyReplicationSlot->data.restart_lsn = restart;
		moved = true;
	}
	SpinLockRelease(&MyReplicationSlot->mutex);
	if (moved)
	{
		ReplicationSlotMarkDirty();
		ReplicationSlotsComputeRequiredLSN();
	}
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (delivered > my_db->delivered_lsn)
		my_db->delivered_lsn = delivered;
	my_db->restart_lsn = MyReplicationSlot->data.restart_lsn;
	my_db->pending = hash_get_num_entries(kept);
	my_db->oldest_xid = oldest != NULL ? oldest->xid : InvalidTransactionId;
	my_db->oldest_since = oldest != NULL ? oldest->first_read : 0;
	LWLockRelease(shared->lock);
}

/*
 * Between deliveries the slot moves on with the WAL of everything else;
 * audit_delivery_state.restart_lsn follows it once it is a WAL segment
 * behind, so that a standby promoted after a failover (which keeps the WAL
 * of its promotion's segment and wal_keep_size before it) still has the WAL
 * from there.  Never more
 * often: its own write moves the slot by far less than a segment.
 */
static void
record_restart(void)
{
	XLogRecPtr	restart = MyReplicationSlot->data.restart_lsn;

	if (restart < recorded_restart + wal_segment_size)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		Oid			argtypes[1] = {PG_LSNOID};
		Datum		args[1] = {LSNGetDatum(restart)};

		if (SPI_execute_with_args("UPDATE tenant_rls.audit_delivery_state SET restart_lsn = $1",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update tenant_rls.audit_delivery_state");
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	recorded_restart = restart;
}

/* the extension is gone, and its log with it: so is the slot's purpose */
static void
extension_gone(const char *slot_name)
{
	ReplicationSlotRelease();
	ReplicationSlotDrop(slot_name, true);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	my_db->dboid = InvalidOid;
	my_db->pid = 0;
	my_db = NULL;
	LWLockRelease(shared->lock);
	ereport(LOG,
			(errmsg("tenant_rls: dropped replication slot \"%s\": the extension is not installed in its database",
					slot_name)));
	proc_exit(0);
}

static bool
extension_installed(void)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("tenant_rls", true));
	CommitTransactionCommand();
	return installed;
}

static bool
worker_claim(Oid dboid)
{
	bool		ok = false;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	my_db = find_db(dboid, false);
	if (my_db != NULL && my_db->pid == 0 && !my_db->release &&
		GetCurrentTimestamp() >= my_db->hold_until)
	{
		my_db->pid = MyProcPid;
		my_db->latch = MyLatch;
		my_db->batches = 0;
		my_db->step_aside = false;
		ok = true;
	}
	LWLockRelease(shared->lock);
	return ok;
}

/*
 * The settings a worker connected to a database runs with, whatever that
 * database's stored settings say: ALTER DATABASE ... SET by its owner, who
 * need not be a superuser, is applied to background workers too.  role made
 * the delivery worker run as a tenant role, which may not write its state
 * (review rev32a: delivery failed until the setting was removed); a
 * read-only default, a timeout or serializable isolation would make it
 * fail; search_path would let the owner's objects capture its names;
 * exit_on_error made the errors the resume worker catches (to warn, naming
 * the database) FATAL.
 * temp_file_limit (a superuser's, for sessions): the delivery worker merges
 * a large transaction's entries in command order in temporary files, and
 * failing there, it would stop delivering every commit (review rev43b); the
 * maintenance worker's moves of batches (audit_maintain.c) must not fail on
 * it either.
 */
void
audit_worker_settings(void)
{
	SetConfigOption("temp_file_limit", "-1", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("role", "none", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_tablespace", "", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("row_security", "on", PGC_SUSET, PGC_S_OVERRIDE);
	/* (an ERROR a worker catches must not become FATAL: review rev51f) */
	SetConfigOption("exit_on_error", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

void
tenant_rls_delivery_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	char		slot_name[NAMEDATALEN];
	ReadLocalXLogPageNoWaitPrivate *priv;
	XLogReaderState *reader;
	XLogRecPtr	next;
	bool		positioned = false;
	TimestampTz last_prune = 0;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	if (shared == NULL || !worker_claim(dboid))
		proc_exit(0);
	before_shmem_exit(worker_exit, (Datum) 0);

	/* what the worker's transactions run with, whatever the configuration says */
	audit_worker_settings();
	SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("tenant_rls.audit_delivery", "immediate", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	slot_name_for(dboid, slot_name);
	if (SearchNamedReplicationSlot(slot_name, true) == NULL)
		proc_exit(0);
	ReplicationSlotAcquire(slot_name, true);
	if (XLogRecPtrIsInvalid(MyReplicationSlot->data.restart_lsn))
	{
		/* invalidated: the launcher switches the writers back to immediate */
		ReplicationSlotRelease();
		proc_exit(0);
	}
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (my_db->failures >= 3 && my_db->enabled)
	{
		/* keep trying, but stop adding to what cannot be delivered */
		my_db->enabled = false;
		LWLockRelease(shared->lock);
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tenant_rls: deferred audit delivery of database %u failed %d times in a row; its writers now write immediately",
						dboid, my_db->failures),
				 errhint("The server log has the errors. Once fixed, run tenant_rls.audit_delivery_start() in that database.")));
	}
	else
		LWLockRelease(shared->lock);

	recorded_restart = MyReplicationSlot->data.restart_lsn;
	if (!read_applied_lsn(&applied_lsn))
		extension_gone(slot_name);
	record_started(dboid);

	kept_cxt = AllocSetContextCreate(TopMemoryContext, "tenant_rls audit delivery",
									 ALLOCSET_DEFAULT_SIZES);
	kept_create();

	priv = palloc0(sizeof(ReadLocalXLogPageNoWaitPrivate));
	reader = wal_reader(priv);
	next = MyReplicationSlot->data.restart_lsn;

	for (;;)
	{
		XLogRecPtr	flushed;
		bool		at_end = false;
		bool		release;
		bool		step_aside;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		LWLockAcquire(shared->lock, LW_SHARED);
		release = my_db->release;
		step_aside = my_db->step_aside;
		LWLockRelease(shared->lock);
		if (release)
			break;
		if (step_aside)
		{
			/*
			 * Like a crash: what is not written yet is read again from the
			 * slot by the next worker (worker_exit() lets the slot go).
			 */
			ereport(LOG,
					(errmsg("tenant_rls: the audit delivery worker of database %u steps aside for a statement that needs the database without connections",
							dboid)));
			proc_exit(0);
		}

		flushed = GetFlushRecPtr(NULL);
		if (!positioned)
		{
			XLogRecPtr	first;

			priv->end_of_wal = false;
			first = XLogFindNextRecord(reader, next);
			if (XLogRecPtrIsInvalid(first))
				at_end = true;
			else
			{
				XLogBeginRead(reader, first);
				next = first;
				positioned = true;
			}
		}
		while (positioned && !at_end)
		{
			char	   *errormsg = NULL;
			XLogRecord *rec = XLogReadRecord(reader, &errormsg);

			if (rec == NULL)
			{
				if (!priv->end_of_wal)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("could not read WAL at %X/%X: %s",
									LSN_FORMAT_ARGS(reader->EndRecPtr),
									errormsg ? errormsg : "unknown error")));
				at_end = true;
				/* read again from the end of the last record */
				priv->end_of_wal = false;
				if (next % XLOG_BLCKSZ == 0)
				{
					/*
					 * It ended at a page boundary, which is no record start
					 * for XLogBeginRead() (an assertion failed there, and
					 * the server restarted): XLogFindNextRecord() at the top
					 * of the loop skips the next page's header.
					 */
					positioned = false;
				}
				else
					XLogBeginRead(reader, next);
				break;
			}
			next = reader->EndRecPtr;
			if (XLogRecGetRmid(reader) == RM_LOGICALMSG_ID &&
				(XLogRecGetInfo(reader) & ~XLR_INFO_MASK) == XLOG_LOGICAL_MESSAGE)
				keep_message(reader);
			else if (XLogRecGetRmid(reader) == RM_XACT_ID)
				end_xact(reader);
			if (ready_count >= APPLY_MAX_COMMITS || ready_bytes >= APPLY_MAX_BYTES)
			{
				apply_ready();
				advance(next, next);
			}
			CHECK_FOR_INTERRUPTS();
			/* a hint, read without the lock: the loop's top decides */
			if (my_db->step_aside)
				break;
		}

		if (at_end)
		{
			TimestampTz now = GetCurrentTimestamp();

			apply_ready();
			if (hash_get_num_entries(kept) == 0 && ready == NIL &&
				MemoryContextMemAllocated(kept_cxt, true) > IDLE_MEMORY_MAX)
			{
				/* give back what many small messages took */
				MemoryContextReset(kept_cxt);
				kept_create();
			}
			if (reader->readRecordBufSize > IDLE_MEMORY_MAX)
			{
				/* its buffer is as large as the largest record it read */
				XLogReaderFree(reader);
				reader = wal_reader(priv);
				positioned = false;
			}
			if (TimestampDifferenceExceeds(last_prune, now, PRUNE_INTERVAL_MS))
			{
				/* once a second: DROP EXTENSION, crashed transactions */
				if (!extension_installed())
					extension_gone(slot_name);
				if (hash_get_num_entries(kept) > 0)
				{
					StartTransactionCommand();
					prune_kept();
					CommitTransactionCommand();
				}
				last_prune = now;
			}
			/*
			 * every record that ends at or before "flushed" has been read;
			 * also when the last one ended at a page boundary (not
			 * positioned: the next read starts with XLogFindNextRecord()),
			 * else audit_delivery_wait() waits there for some other WAL
			 * to be written
			 */
			advance(next, Max(next, flushed));
			record_restart();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 IDLE_WAIT_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}

	/* audit_delivery_stop(): everything is delivered; let the slot go */
	XLogReaderFree(reader);
	ReplicationSlotRelease();
	proc_exit(0);
}

/* ---------------------------------------------------------------------
 * Statements that need a database nobody is connected to
 * ---------------------------------------------------------------------
 */

/*
 * The database a statement needs without connections: DROP DATABASE,
 * ALTER DATABASE ... RENAME TO and ... SET TABLESPACE, CREATE DATABASE ...
 * TEMPLATE.  InvalidOid for every other statement, and for a database that
 * does not exist (the statement reports that itself).
 */
static Oid
database_needed_alone(Node *parsetree, bool top_level, bool *needs_createdb)
{
	const char *name = NULL;
	List	   *options = NIL;
	const char *option = NULL;
	const char *value = NULL;	/* of that option: the new tablespace, the template */
	bool		not_in_block = true;	/* PreventInTransactionBlock() */
	ListCell   *lc;
	Oid			dboid;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			name = ((DropdbStmt *) parsetree)->dbname;
			break;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				name = ((RenameStmt *) parsetree)->subname;
			*needs_createdb = true;
			not_in_block = false;
			break;
		case T_AlterDatabaseStmt:
			options = ((AlterDatabaseStmt *) parsetree)->options;
			option = "tablespace";
			break;
		case T_CreatedbStmt:
			options = ((CreatedbStmt *) parsetree)->options;
			option = "template";
			*needs_createdb = true;
			break;
		default:
			return InvalidOid;
	}
	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, option) == 0 && d->arg != NULL)
		{
			value = defGetString(d);
			if (IsA(parsetree, AlterDatabaseStmt))
				name = ((AlterDatabaseStmt *) parsetree)->dbname;
			else
				name = value;
		}
	}
	if (name == NULL)
		return InvalidOid;

	/*
	 * Statements that fail before they take the database's lock must not
	 * pause delivery: in a transaction block or a function (all but RENAME
	 * refuse it), and on the database we are connected to (all but CREATE
	 * DATABASE ... TEMPLATE refuse it; copying the database one is connected
	 * to works when nobody else is).
	 */
	if (not_in_block && (!top_level || IsTransactionBlock() || IsSubTransaction()))
		return InvalidOid;
	dboid = get_database_oid(name, true);
	if (dboid == MyDatabaseId && !IsA(parsetree, CreatedbStmt))
		return InvalidOid;

	/*
	 * SET TABLESPACE checks the new tablespace before it locks the database:
	 * it must exist, differ from the database's and allow CREATE.
	 */
	if (IsA(parsetree, AlterDatabaseStmt) && OidIsValid(dboid))
	{
		Oid			spcoid = get_tablespace_oid(value, true);
		HeapTuple	tup;
		Oid			current = InvalidOid;

		tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
		if (HeapTupleIsValid(tup))
		{
			current = ((Form_pg_database) GETSTRUCT(tup))->dattablespace;
			ReleaseSysCache(tup);
		}
		if (!OidIsValid(spcoid) || spcoid == current ||
			pg_tablespace_aclcheck(spcoid, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
			return InvalidOid;
	}
	return dboid;
}

/*
 * The worker of dboid, if it runs, steps aside: it exits (the next one reads
 * again from the slot) and none starts for STEP_ASIDE_MS, long enough for
 * the statement to take its lock on the database, which keeps new
 * connections out until it ends.  Only for the database's owner (with
 * CREATEDB where the statement needs it): anybody else's statement fails
 * its own permission check anyway, and must not be a way to pause delivery.
 */
static void
ask_step_aside(Oid dboid, bool needs_createdb)
{
	DeliveryDb *db;
	bool		running = false;
	TimestampTz deadline;

	if (!pg_database_ownercheck(dboid, GetUserId()))
		return;
	if (needs_createdb && !superuser())
	{
		HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
		bool		createdb = HeapTupleIsValid(tup) && ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;

		if (HeapTupleIsValid(tup))
			ReleaseSysCache(tup);
		if (!createdb)
			return;
	}
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = find_db(dboid, false);
	if (db != NULL)
	{
		db->hold_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STEP_ASIDE_MS);
		running = db->pid != 0;
		if (running)
		{
			db->step_aside = true;
			if (db->latch != NULL)
				SetLatch(db->latch);
		}
	}
	LWLockRelease(shared->lock);
	if (!running)
		return;

	/* at most one worker transaction (APPLY_MAX_COMMITS) away */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STEP_ASIDE_MS);
	while (GetCurrentTimestamp() < deadline)
	{
		LWLockAcquire(shared->lock, LW_SHARED);
		running = db->dboid == dboid && db->pid != 0;
		LWLockRelease(shared->lock);
		if (!running)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 IDLE_WAIT_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
delivery_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	TransactionStmt *ts = IsA(pstmt->utilityStmt, TransactionStmt)
		? (TransactionStmt *) pstmt->utilityStmt : NULL;

	if (shared != NULL)
	{
		bool		needs_createdb = false;
		Oid			dboid = database_needed_alone(pstmt->utilityStmt,
												  context == PROCESS_UTILITY_TOPLEVEL,
												  &needs_createdb);

		if (OidIsValid(dboid))
			ask_step_aside(dboid, needs_createdb);
	}
	/* (which prepared transactions deferred batches: audit_chain.c) */
	if (ts != NULL && ts->kind == TRANS_STMT_PREPARE)
		audit_chain_preparing(ts->gid);
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	if (ts != NULL && (ts->kind == TRANS_STMT_COMMIT_PREPARED || ts->kind == TRANS_STMT_ROLLBACK_PREPARED))
		audit_chain_finished_prepared(ts->gid, ts->kind == TRANS_STMT_COMMIT_PREPARED);
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */
static void
require_shared(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("deferred audit delivery needs tenant_rls in shared_preload_libraries"),
				 errhint("Add tenant_rls to shared_preload_libraries and restart the server.")));
	if (!shared->key_ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the signing key of deferred audit delivery is not available"),
				 errhint("The server log of the last start says why the file \"%s\" in the data directory could not be read or created.",
						 DELIVERY_KEY_FILE)));
}

/* sleep a little, interruptibly */
static void
nap(void)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 IDLE_WAIT_MS, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

static TimestampTz
deadline_after(FunctionCallInfo fcinfo)
{
	Interval   *timeout;
	int64		us;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout must not be null"),
				 errhint("Pass an interval such as interval '1 minute', or leave the argument out (1 minute).")));
	timeout = PG_GETARG_INTERVAL_P(0);
	/* '1 day -1 hour' is positive: the total counts; beyond 100 years: 100 years */
	if (pg_mul_s64_overflow((int64) timeout->day, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, timeout->time, &us))
		us = (timeout->day < 0) ? -1 : MAX_TIMEOUT_US;
	if (timeout->month != 0 || us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must be zero or a positive interval of days, hours, minutes or seconds"),
				 errhint("Pass an interval such as interval '1 minute'.")));
	return GetCurrentTimestamp() + Min(us, MAX_TIMEOUT_US);
}

/*
 * Wait until the worker has delivered every commit that ends at or before
 * target; false at the deadline.
 */
static bool
wait_delivered_to(DeliveryDb *db, XLogRecPtr target, TimestampTz deadline, bool need_idle)
{
	for (;;)
	{
		bool		done;

		LWLockAcquire(shared->lock, LW_SHARED);
		done = db->dboid == MyDatabaseId && db->delivered_lsn >= target &&
			(!need_idle || db->pending == 0);
		LWLockRelease(shared->lock);
		if (done)
			return true;
		if (GetCurrentTimestamp() >= deadline)
			return false;
		nap();
	}
}

/*
 * Flush the WAL up to target, an insert position (the worker reads only
 * what is flushed); returns the position flushed to.  The insert position
 * of an empty page points past the page header, which is not written yet
 * (right after pg_switch_wal(), say): flushing to it fails.  Every record
 * inserted so far ends at the page boundary.
 */
static XLogRecPtr
flush_wal_to(XLogRecPtr target)
{
	if (XLogSegmentOffset(target, wal_segment_size) == SizeOfXLogLongPHD)
		target -= SizeOfXLogLongPHD;
	else if (target % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		target -= SizeOfXLogShortPHD;
	XLogFlush(target);
	return target;
}

/*
 * Wait until the worker has delivered every commit written before now;
 * false at the deadline.
 */
static bool
wait_delivered(DeliveryDb *db, TimestampTz deadline, bool need_idle)
{
	XLogRecPtr	target = flush_wal_to(GetXLogInsertRecPtr());

	return wait_delivered_to(db, target, deadline, need_idle);
}

/*
 * The WAL segment segno is in pg_wal, in the file of the timeline that
 * history (this server's timeline history) says the segment's last byte is
 * on: the file the worker's reader opens (XLogReadDetermineTimeline()).
 * (Review rev51f: a file of any timeline up to this one counted, such as
 * the former timeline's copy of the segment the promotion switched in, or
 * a stray file of another timeline with that number; the reader then
 * failed on the file it needed.)
 */
static bool
segment_present(XLogSegNo segno, List *history)
{
	XLogRecPtr	last_byte;
	char		path[MAXPGPATH];
	char		fname[MAXFNAMELEN];
	struct stat st;

	XLogSegNoOffsetToRecPtr(segno + 1, 0, wal_segment_size, last_byte);
	last_byte--;
	XLogFileName(fname, tliOfPointInHistory(last_byte, history), segno, wal_segment_size);
	snprintf(path, sizeof(path), XLOGDIR "/%s", fname);
	return stat(path, &st) == 0;
}

/*
 * The slot just created (and acquired) reads from lsn instead of the last
 * checkpoint, if every WAL segment from there on is still here, each in the
 * file of its timeline: the slot holds them from the moment its position
 * is lowered, and the segments are checked after that.  A checkpoint that
 * read the slots' minimum position before it was lowered (the one a
 * promotion requests, say) may still remove segments from lsn on once the
 * check has found them (review rev51f): the check waits for such a
 * checkpoint to end, by requesting an immediate one and waiting for it (it
 * starts only after the one under way has removed its segments, and keeps
 * what the slot holds; skipped where nothing was written since the last
 * one).  False (the slot as it was) if a segment is missing.
 */
static bool
reserve_from(XLogRecPtr lsn)
{
	XLogRecPtr	reserved = MyReplicationSlot->data.restart_lsn;
	XLogRecPtr	now;
	XLogSegNo	first;
	XLogSegNo	last;
	List	   *history;
	bool		ok = true;

	if (XLogRecPtrIsInvalid(lsn) || lsn >= reserved)
		return !XLogRecPtrIsInvalid(lsn);
	XLByteToSeg(lsn, first, wal_segment_size);
	XLByteToSeg(reserved, last, wal_segment_size);
	if (XLogGetLastRemovedSegno() >= first)
		return false;			/* gone already: no checkpoint to wait for */
	SpinLockAcquire(&MyReplicationSlot->mutex);
	MyReplicationSlot->data.restart_lsn = lsn;
	SpinLockRelease(&MyReplicationSlot->mutex);
	ReplicationSlotsComputeRequiredLSN();
	RequestCheckpoint(CHECKPOINT_IMMEDIATE | CHECKPOINT_WAIT);

	/*
	 * (A checkpoint that read the minimum before lsn was set, and then found
	 * the slot below its horizon, invalidated it: the position says so.)
	 */
	SpinLockAcquire(&MyReplicationSlot->mutex);
	now = MyReplicationSlot->data.restart_lsn;
	SpinLockRelease(&MyReplicationSlot->mutex);
	if (now != lsn)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the replication slot of deferred audit delivery was invalidated while it reserved the WAL from %X/%X",
						LSN_FORMAT_ARGS(lsn)),
				 errhint("Call tenant_rls.audit_delivery_start() again.")));
	if (XLogGetLastRemovedSegno() >= first)
		ok = false;
	history = readTimeLineHistory(GetWALInsertionTimeLine());
	for (XLogSegNo seg = first; ok && seg <= last; seg++)
		ok = segment_present(seg, history);
	list_free_deep(history);
	if (!ok)
	{
		SpinLockAcquire(&MyReplicationSlot->mutex);
		MyReplicationSlot->data.restart_lsn = reserved;
		SpinLockRelease(&MyReplicationSlot->mutex);
		ReplicationSlotsComputeRequiredLSN();
	}
	return ok;
}

/* delivery is stopped (or its loss acknowledged): nothing to resume */
static void
forget_started(void)
{
	SPI_connect();
	spi_exec_privileged("UPDATE tenant_rls.audit_delivery_state SET started = false, restart_lsn = NULL"
						" WHERE started OR restart_lsn IS NOT NULL",
						0, NULL, NULL, NULL, false);
	SPI_finish();
}

/*
 * After a promotion: what the resume worker found in its database
 * (delivery_start(automatic = true)).
 */
typedef enum
{
	RESUME_NOTHING,				/* not started here, stopped, or the slot is there */
	RESUME_DONE,				/* a new slot reads from restart (at the commit) */
	RESUME_WAL_MISSING,			/* ... but the WAL from restart is gone */
	RESUME_COPY,				/* a copy of database started_in */
	RESUME_NOT_PROMOTED,		/* the slot was lost on this timeline, or no position */
	RESUME_OTHER_KEY			/* started with another key than this server's */
} ResumeOutcome;

typedef struct ResumeInfo
{
	ResumeOutcome outcome;
	XLogRecPtr	applied;		/* audit_delivery_state */
	XLogRecPtr	restart;
	Oid			started_in;
	XLogRecPtr	timeline_begin; /* where this server's timeline begins */
} ResumeInfo;

/*
 * Where this server's timeline begins: the end of the WAL of the server it
 * was promoted from (InvalidXLogRecPtr on timeline 1, or without the
 * timeline's history file).  A slot position before it was the former
 * primary's.
 */
static XLogRecPtr
timeline_begin(void)
{
	TimeLineID	tli = GetWALInsertionTimeLine();
	List	   *history;
	XLogRecPtr	begin;

	if (tli <= 1)
		return InvalidXLogRecPtr;
	history = readTimeLineHistory(tli);
	begin = ((TimeLineHistoryEntry *) linitial(history))->begin;
	list_free_deep(history);
	return begin;
}

/*
 * What left this server without the slot of a delivery whose recorded
 * position lies before the start of its timeline (review rev51f: every
 * case was worded as a promotion): *what ends the message ("... resumes
 * from the WAL at X %s"), *where says where delivery was started ("Delivery
 * was started there %s: ...").  The timeline began at this start of the
 * server (note_start()): a promotion (standby.signal) or the end of an
 * archive recovery; or this start is from a base backup taken on this
 * timeline (before delivery had moved past its beginning); or the server
 * has been started again since its timeline began.
 */
static void
loss_event(XLogRecPtr begin, const char **what, const char **where)
{
	TimeLineID	tli = GetWALInsertionTimeLine();

	if (start_tli != 0 && start_tli < tli && start_standby)
	{
		*what = "after a promotion";
		*where = "on the server this one was promoted from, whose replication slot is not here";
	}
	else if (start_tli != 0 && start_tli < tli)
	{
		*what = "at the end of a point-in-time recovery";
		*where = "before the end of the recovered WAL, and its replication slot is not in the base backup the recovery started from";
	}
	else if (start_backup_tli == tli)
	{
		*what = "at the start from a restored base backup";
		*where = psprintf("before timeline %u began at %X/%X, on the server the base backup was taken from, and its replication slot is not in the backup",
						  tli, LSN_FORMAT_ARGS(begin));
	}
	else
	{
		*what = "after an earlier promotion or point-in-time recovery";
		*where = psprintf("before this server's timeline %u began at %X/%X (a promotion or a point-in-time recovery before the server's last start), and its replication slot is not here",
						  tli, LSN_FORMAT_ARGS(begin));
	}
}

/*
 * The key id recorded with the start is this server's (or none is
 * recorded).  In an SPI connection.
 */
static bool
state_key_is_ours(void)
{
	bytea	   *ours = delivery_key_id();
	bool		isnull;
	Datum		v;
	bytea	   *theirs;

	spi_exec_privileged("SELECT key_id FROM tenant_rls.audit_delivery_state",
						0, NULL, NULL, NULL, true);
	if (SPI_processed != 1)
		return true;
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return true;
	theirs = DatumGetByteaPP(v);
	return ours != NULL && VARSIZE_ANY_EXHDR(theirs) == VARSIZE_ANY_EXHDR(ours) &&
		memcmp(VARDATA_ANY(theirs), VARDATA_ANY(ours), VARSIZE_ANY_EXHDR(ours)) == 0;
}

/*
 * delivery_start(automatic = true), under the state row's lock: may it
 * resume the former primary's delivery?  Only where the start is recorded
 * in this database (not a copy's), no slot is there, the recorded position
 * lies before this server's timeline (the slot was lost to a promotion, not
 * dropped or lost here, nor a base backup restored on the same timeline)
 * and the key is the one the messages are signed with; whether the WAL from
 * there is still here, the slot's reservation tells (reserve_from()).  In
 * an SPI connection.
 */
static bool
resume_possible(const char *name, ResumeInfo *resume)
{
	bool		started;

	memset(resume, 0, sizeof(*resume));
	resume->outcome = RESUME_NOTHING;
	if (SearchNamedReplicationSlot(name, true) != NULL)
		return false;			/* started meanwhile, by hand */
	started = read_state(&resume->applied, &resume->restart, &resume->started_in);
	if (!started)
		return false;			/* never started, or stopped */
	resume->timeline_begin = timeline_begin();
	if (OidIsValid(resume->started_in) && resume->started_in != MyDatabaseId)
		resume->outcome = RESUME_COPY;
	else if (XLogRecPtrIsInvalid(resume->restart) || resume->restart >= resume->timeline_begin)
		resume->outcome = RESUME_NOT_PROMOTED;
	else if (!state_key_is_ours())
		resume->outcome = RESUME_OTHER_KEY;
	else
		return true;
	return false;
}

/*
 * audit_delivery_start() in a transaction: its effects outside the
 * transaction wait for the commit, and a rollback undoes them (review
 * rev33b: a rolled-back start, or one that failed after creating the slot,
 * left a slot holding WAL, a running worker and no record of the start, so
 * that losing the slot later went unreported).  The slot is created
 * temporary (RS_TEMPORARY: PostgreSQL drops it when the session ends or an
 * error is cleaned up, and at restart) and made persistent just before the
 * commit; the writers defer, and the worker is registered, once the start
 * has committed.  The launcher adopts only persistent slots.
 */
typedef struct StartXact
{
	bool		pending;		/* this transaction called start() */
	bool		created;		/* ... and created the slot, temporary */
	bool		resumed;		/* ... reading from resume_from */
	XLogRecPtr	resume_from;
	bool		marked;			/* its entry says "starting" (PRE_COMMIT) */
	bool		entry_added;	/* ... an entry it added */
	SubTransactionId subid;		/* the subtransaction that called it */
} StartXact;

static StartXact start_xact;
static bool start_callbacks = false;

/*
 * PRE_COMMIT to COMMIT, the slot is persistent but the start has not
 * committed: the database's entry says so (starting), and the launcher
 * neither adopts the slot nor starts a worker on it, which would hold the
 * slot an abort must drop, and have writers defer into a slot about to go
 * (review rev34d: a commit waiting for a chain lock, then failing, left a
 * persistent slot, a worker and no record of the start).  Clear it; an
 * entry added for the start goes again unless something else uses it.
 */
static void
start_unmark(void)
{
	DeliveryDb *db;

	if (!start_xact.marked)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = find_db(MyDatabaseId, false);
	if (db != NULL && db->starting == MyProcPid)
	{
		db->starting = 0;
		if (start_xact.entry_added && db->pid == 0 && !db->enabled && !db->stopping)
			db->dboid = InvalidOid;
	}
	LWLockRelease(shared->lock);
	start_xact.marked = false;
}

/* drop the slot this transaction created (in an abort: never an error) */
static void
start_undo(void)
{
	char		name[NAMEDATALEN];
	MemoryContext cxt = CurrentMemoryContext;

	if (start_xact.created && MyReplicationSlot == NULL)
	{
		slot_name_for(MyDatabaseId, name);
		PG_TRY();
		{
			if (SearchNamedReplicationSlot(name, true) != NULL)
				ReplicationSlotDrop(name, true);
		}
		PG_CATCH();
		{
			ErrorData  *e;

			MemoryContextSwitchTo(cxt);
			e = CopyErrorData();
			FlushErrorState();
			ereport(WARNING,
					(errmsg("could not drop replication slot \"%s\" of a deferred audit delivery start that was rolled back: %s",
							name, e->message),
					 errhint("Drop it with pg_drop_replication_slot('%s').", name)));
			FreeErrorData(e);
		}
		PG_END_TRY();
	}

	/*
	 * (With a slot acquired at an error, PostgreSQL's own cleanup drops the
	 * temporary one after the abort.)  The mark goes last: until the slot is
	 * gone the launcher must not adopt it.
	 */
	start_unmark();
	memset(&start_xact, 0, sizeof(start_xact));
}

static void
start_xact_callback(XactEvent event, void *arg)
{
	if (!start_xact.pending && !start_xact.created)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that called tenant_rls.audit_delivery_start()"),
					 errhint("Call tenant_rls.audit_delivery_start() in a transaction of its own.")));
			break;
		case XACT_EVENT_PRE_COMMIT:
			if (start_xact.created)
			{
				char		name[NAMEDATALEN];

				if (MyReplicationSlot != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("cannot start deferred audit delivery while this session uses a replication slot"),
							 errhint("Call tenant_rls.audit_delivery_start() in an ordinary session that uses no replication slot.")));
				slot_name_for(MyDatabaseId, name);
				{
					DeliveryDb *db;

					LWLockAcquire(shared->lock, LW_EXCLUSIVE);
					db = find_db(MyDatabaseId, false);
					if (db == NULL && (db = find_db(MyDatabaseId, true)) != NULL)
						start_xact.entry_added = true;
					if (db != NULL)
					{
						db->starting = MyProcPid;
						start_xact.marked = true;
					}
					LWLockRelease(shared->lock);
				}
				if (SearchNamedReplicationSlot(name, true) != NULL)
				{
					ReplicationSlotAcquire(name, true);
					ReplicationSlotPersist();
				}
				else
				{
					/*
					 * An error caught by a savepoint after the start dropped
					 * the temporary slot (PostgreSQL's error cleanup drops a
					 * session's temporary slots): made again, persistent
					 * (review rev34d: the commit failed, "does not exist").
					 */
					ReplicationSlotCreate(name, false, RS_PERSISTENT, false);
					ReplicationSlotReserveWal();
					if (start_xact.resumed && !reserve_from(start_xact.resume_from))
						ereport(ERROR,
								(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
								 errmsg("deferred audit delivery cannot resume from the WAL at %X/%X any more",
										LSN_FORMAT_ARGS(start_xact.resume_from)),
								 errdetail("An error in this transaction dropped the replication slot that audit_delivery_start() had made, and the WAL since then is gone now."),
								 errhint("Call tenant_rls.audit_delivery_start() again, in a transaction of its own.")));
					ReplicationSlotMarkDirty();
					ReplicationSlotSave();
				}
				ReplicationSlotRelease();
			}
			break;
		case XACT_EVENT_COMMIT:
			{
				DeliveryDb *db;
				bool		start = false;
				bool		gone;
				char		name[NAMEDATALEN];

				slot_name_for(MyDatabaseId, name);
				LWLockAcquire(shared->lock, LW_EXCLUSIVE);
				/*
				 * audit_delivery_stop() dropped the slot meanwhile (it does
				 * not wait for a start): nothing to enable (review rev34d:
				 * an entry deferring into no slot, and stop() and
				 * audit_purge() failing until a restart)
				 */
				gone = SearchNamedReplicationSlot(name, true) == NULL;
				db = find_db(MyDatabaseId, !gone);
				if (db != NULL && db->starting == MyProcPid)
					db->starting = 0;
				if (db != NULL && gone)
				{
					if (start_xact.entry_added && db->pid == 0 && !db->enabled && !db->stopping)
						db->dboid = InvalidOid;
				}
				else if (db != NULL)
				{
					db->enabled = true;
					db->failures = 0;
					db->slot_lost = false;
					start = (db->pid == 0);
					if (start)
						db->registered_at = GetCurrentTimestamp();
				}
				LWLockRelease(shared->lock);
				memset(&start_xact, 0, sizeof(start_xact));
				if (gone)
				{
					ereport(WARNING,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("deferred audit delivery was stopped while audit_delivery_start() committed"),
							 errhint("Call tenant_rls.audit_delivery_start() again to defer.")));
					break;
				}
				/* (no entry free: the launcher adopts the slot once one is) */
				if (start && !register_worker(MyDatabaseId))
					ereport(WARNING,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("could not start the audit delivery worker now"),
							 errdetail("Committed changes wait in the WAL until the worker starts; the launcher tries again every few seconds."),
							 errhint("Raise max_worker_processes.")));
			}
			break;
		case XACT_EVENT_ABORT:
			start_undo();
			break;
		default:
			break;
	}
}

static void
start_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if ((!start_xact.pending && !start_xact.created) || start_xact.subid != mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		start_undo();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		start_xact.subid = parentSubid;
}

/*
 * What audit_delivery_start() does (the SQL function: automatic = false),
 * or, for the resume worker after a promotion (automatic = true), only the
 * part that resumes the delivery of the former primary: nothing unless the
 * start is recorded here (and not in another database: a copy), no slot
 * exists, the recorded slot position lies before the start of this
 * server's timeline (the slot was lost to a promotion: a failover, or the
 * end of a point-in-time recovery, not dropped here), the key is the one
 * delivery was started with, and every WAL segment from there on is in
 * pg_wal, in the file of its timeline (reserve_from()).  Anything else
 * is left to a person, who must see what was lost (audit_delivery_start()
 * warns, lint() reports audit_delivery_lost until then); *resume says
 * which case it was.  The caller commits: the
 * transaction callbacks below do the rest, as for the SQL function.
 */
static void
delivery_start(bool automatic, ResumeInfo *resume)
{
	char		name[NAMEDATALEN];
	DeliveryDb *db;
	bool		usable;
	bool		busy;
	bool		full;
	bool		is_template;
	HeapTuple	tup;

	require_shared();
	PreventCommandIfReadOnly("tenant_rls.audit_delivery_start()");
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	is_template = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
	ReleaseSysCache(tup);
	if (is_template)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("deferred audit delivery cannot run in a template database"),
				 errdetail("Its worker stays connected, and CREATE DATABASE cannot copy a database others are connected to."),
				 errhint("Start it in each database created from this template instead.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("deferred audit delivery cannot be started during recovery"),
				 errhint("Start it on the primary.")));
	CheckSlotPermissions();
	CheckSlotRequirements();
	if (MyReplicationSlot != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot start deferred audit delivery while this session uses a replication slot"),
				 errhint("Call tenant_rls.audit_delivery_start() in an ordinary session that uses no replication slot.")));

	/* checked first, taken only once the slot is there (a failed start leaves nothing) */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = find_db(MyDatabaseId, false);
	busy = db != NULL && db->stopping;
	full = db == NULL && find_db(InvalidOid, false) == NULL;
	LWLockRelease(shared->lock);
	if (busy)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("deferred audit delivery of this database is being stopped"),
				 errhint("Wait for tenant_rls.audit_delivery_stop() to finish, then start it again.")));
	if (full)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("deferred audit delivery runs in at most %d databases", DELIVERY_MAX_DBS),
				 errhint("Call tenant_rls.audit_delivery_stop() in a database that can do without it, then try again.")));

	if (!start_callbacks)
	{
		RegisterXactCallback(start_xact_callback, NULL);
		RegisterSubXactCallback(start_subxact_callback, NULL);
		start_callbacks = true;
	}
	if (start_xact.pending)
		return;					/* called before in this transaction */

	/* one start at a time: the state row, locked until the commit */
	SPI_connect();
	spi_exec_privileged("SELECT 1 FROM tenant_rls.audit_delivery_state FOR UPDATE",
						0, NULL, NULL, NULL, false);

	slot_name_for(MyDatabaseId, name);
	if (automatic)
	{
		/*
		 * The row as it is now that it is ours, not as the snapshot before
		 * the wait for its lock saw it (an audit_delivery_stop() by hand
		 * that committed meanwhile; popped by the caller)
		 */
		PushActiveSnapshot(GetLatestSnapshot());
		if (!resume_possible(name, resume))
		{
			SPI_finish();
			return;
		}
	}
	if (SearchNamedReplicationSlot(name, true) != NULL)
	{
		LWLockAcquire(shared->lock, LW_SHARED);
		usable = slot_usable(MyDatabaseId);
		LWLockRelease(shared->lock);
		if (!usable)
		{
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("replication slot \"%s\" was invalidated; creating it again", name),
					 errdetail("Changes committed while it was invalid and not delivered are missing from the audit log."),
					 errhint("Run tenant_rls.audit_verify(); set max_slot_wal_keep_size = -1 to keep this from happening.")));
			ReplicationSlotDrop(name, false);
		}
	}
	if (SearchNamedReplicationSlot(name, true) == NULL)
	{
		Oid			argtypes[1] = {PG_LSNOID};
		Datum		args[1];
		XLogRecPtr	applied;
		XLogRecPtr	restart;
		Oid			started_in;
		bool		started = read_state(&applied, &restart, &started_in);
		bool		copied = started && OidIsValid(started_in) && started_in != MyDatabaseId;
		bool		resumed = false;

		ReplicationSlotCreate(name, false, RS_TEMPORARY, false);
		start_xact.created = true;
		start_xact.subid = GetCurrentSubTransactionId();
		ReplicationSlotReserveWal();
		if (started && !copied)
			resumed = reserve_from(restart);
		start_xact.resumed = resumed;
		start_xact.resume_from = restart;
		ReplicationSlotMarkDirty();
		ReplicationSlotRelease();	/* (a temporary slot stays ours) */

		if (automatic)
		{
			/*
			 * The caller logs what happened; without the WAL it rolls back
			 * (the temporary slot goes with it) and warns.
			 */
			resume->outcome = resumed ? RESUME_DONE : RESUME_WAL_MISSING;
			resume->applied = applied;
			resume->restart = restart;
			if (!resumed)
			{
				SPI_finish();
				return;
			}
		}
		else if (resumed)
			ereport(NOTICE,
					(errmsg("deferred audit delivery resumes from the WAL at %X/%X",
							LSN_FORMAT_ARGS(restart)),
					 errdetail("Delivery was started in this database, but its replication slot is not here (a failover, a restored backup, or a dropped slot); changes committed after %X/%X that are not in the audit log yet are delivered now.",
							   LSN_FORMAT_ARGS(applied))));
		else
		{
			if (copied)
				ereport(WARNING,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("this database is a copy of database %u, in which deferred audit delivery was started",
								started_in),
						 errdetail("Changes committed there and not delivered when the copy was made (CREATE DATABASE ... TEMPLATE) are in the audit log of that database, not in this one's."),
						 errhint("Call tenant_rls.audit_delivery_wait() in a deferring database before copying it.")));
			else if (started)
				ereport(WARNING,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("deferred audit delivery was started in this database, but its replication slot and the WAL since %X/%X are gone",
								LSN_FORMAT_ARGS(restart)),
						 errdetail("Changes committed after %X/%X and not delivered before the slot was lost (a failover, a restored backup, a copy of the database, or a dropped slot) are missing from the audit log.",
								   LSN_FORMAT_ARGS(applied)),
						 errhint("Compare the audited tables with tenant_rls.audit_history() for changes of that time; audit_verify() cannot see entries that were never written.")));

			/*
			 * The new slot reads from the last checkpoint: commits before now
			 * are not ours to deliver (a stopped delivery delivered them; an
			 * extension created again must not get its predecessor's).  Every
			 * later one is found from here, also by a promoted standby whose
			 * primary loses this slot before it delivers anything.
			 */
			args[0] = LSNGetDatum(GetXLogInsertRecPtr());
			spi_exec_privileged("UPDATE tenant_rls.audit_delivery_state"
								" SET applied_lsn = GREATEST(applied_lsn, $1),"
								" restart_lsn = GREATEST(applied_lsn, $1)",
								1, argtypes, args, NULL, false);
		}
	}
	state_record_start(MyDatabaseId, false);
	SPI_finish();

	/* the writers defer, and the worker starts, at the commit */
	start_xact.pending = true;
	if (!start_xact.created)
		start_xact.subid = GetCurrentSubTransactionId();
}

Datum
tenant_rls_audit_delivery_start(PG_FUNCTION_ARGS)
{
	delivery_start(false, NULL);
	PG_RETURN_VOID();
}

/*
 * The resume worker of one database, after a promotion (resume_step()):
 * where the extension is installed and its state says delivery was started
 * and not stopped, and the slot is not here, it does what
 * audit_delivery_start() does, as the bootstrap superuser, in a transaction
 * of its own, with the same lock on the state row (a concurrent
 * audit_delivery_start() or audit_delivery_stop() by hand goes first or
 * second; the second finds the slot there, or the start no longer
 * recorded, and changes nothing), but only where that delivers the former
 * primary's undelivered changes (resume_possible(), reserve_from()): then
 * it says so at LOG.  Where it would not (the WAL is gone, another key, a
 * copy, a slot lost on this timeline), it changes nothing and warns,
 * naming the database: what is missing must be seen by a person, and
 * lint() reports audit_delivery_lost until audit_delivery_start() or
 * audit_delivery_stop() is run there.
 */
void
tenant_rls_delivery_resume_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	ResumeInfo	resume;
	char	   *dbname;
	char	   *volatile version = NULL;
	volatile bool started = false;
	volatile XLogRecPtr begin = InvalidXLogRecPtr;
	volatile XLogRecPtr restart_seen = InvalidXLogRecPtr;
	const char *what;
	const char *where;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	if (shared == NULL)
		proc_exit(0);
	audit_worker_settings();
	/* (a long transaction holding the state row: give up, and say so) */
	SetConfigOption("lock_timeout", "60s", PGC_SUSET, PGC_S_OVERRIDE);
	memset(&resume, 0, sizeof(resume));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	dbname = get_database_name(MyDatabaseId);
	dbname = MemoryContextStrdup(TopMemoryContext, dbname ? dbname : "?");
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("tenant_rls", true)))
		{
			XLogRecPtr	applied;
			XLogRecPtr	restart;
			Oid			started_in;

			SPI_connect();
			spi_exec_privileged("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'tenant_rls'",
								0, NULL, NULL, NULL, true);
			if (SPI_processed == 1)
				version = MemoryContextStrdup(TopMemoryContext,
											  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			/* (a first look, without the lock: most databases are done here) */
			if (version != NULL && strcmp(version, TENANT_RLS_VERSION) == 0)
				started = read_state(&applied, &restart, &started_in);
			SPI_finish();
			if (started)
			{
				begin = timeline_begin();
				restart_seen = restart;
			}
		}
		if (version != NULL && strcmp(version, TENANT_RLS_VERSION) != 0)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tenant_rls: did not look at deferred audit delivery in database \"%s\": the extension there is version %s, the library %s",
							dbname, version, TENANT_RLS_VERSION),
					 errhint("Update the extension there (ALTER EXTENSION tenant_rls UPDATE); if delivery was started there before a promotion, run SELECT tenant_rls.audit_delivery_start(); there.")));
		if (started)
			delivery_start(true, &resume);
		while (ActiveSnapshotSet())
			PopActiveSnapshot();	/* (ours, and delivery_start()'s) */
		if (resume.outcome == RESUME_DONE)
			CommitTransactionCommand();
		else
			AbortCurrentTransaction();	/* (a temporary slot made goes) */
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(TopMemoryContext);
		e = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		if (MyReplicationSlot != NULL)
			ReplicationSlotRelease();
		ReplicationSlotCleanup();
		/*
		 * (review rev51f: an error on the same timeline, such as a setting
		 * that allows no slot, was worded as after a promotion)
		 */
		if (!XLogRecPtrIsInvalid(restart_seen) && restart_seen < begin)
		{
			loss_event(begin, &what, &where);
			ereport(WARNING,
					(errcode(e->sqlerrcode),
					 errmsg("tenant_rls: could not resume deferred audit delivery in database \"%s\": %s",
							dbname, e->message),
					 errdetail("Delivery was started there %s; its writers write immediately meanwhile.", where),
					 errhint("Run SELECT tenant_rls.audit_delivery_start(); in that database.")));
		}
		else
			ereport(WARNING,
					(errcode(e->sqlerrcode),
					 errmsg("tenant_rls: could not resume deferred audit delivery in database \"%s\": %s",
							dbname, e->message),
					 errdetail("Delivery was started there, and its replication slot is not here (not lost to a promotion: a restored base backup, or a slot dropped or lost on this server); its writers write immediately meanwhile."),
					 errhint("Run SELECT tenant_rls.audit_delivery_start(); in that database.")));
		proc_exit(0);
	}
	PG_END_TRY();

	if (resume.outcome == RESUME_DONE || resume.outcome == RESUME_WAL_MISSING ||
		resume.outcome == RESUME_OTHER_KEY)
		loss_event(resume.timeline_begin, &what, &where);
	switch (resume.outcome)
	{
		case RESUME_NOTHING:
			break;
		case RESUME_DONE:
			ereport(LOG,
					(errmsg("tenant_rls: deferred audit delivery of database \"%s\" resumes from the WAL at %X/%X %s",
							dbname, LSN_FORMAT_ARGS(resume.restart), what),
					 errdetail("Delivery was started there %s: the changes committed after %X/%X that are not in the audit log yet are delivered now, and its deferring sessions defer again.",
							   where, LSN_FORMAT_ARGS(resume.applied))));
			break;
		case RESUME_WAL_MISSING:
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("tenant_rls: deferred audit delivery of database \"%s\" cannot resume %s: the WAL since %X/%X is gone",
							dbname, what, LSN_FORMAT_ARGS(resume.restart)),
					 errdetail("Delivery was started there %s: changes committed after %X/%X and not delivered before, if there were any, are missing from the audit log; the database's writers write immediately.",
							   where, LSN_FORMAT_ARGS(resume.applied)),
					 errhint("Run SELECT tenant_rls.audit_delivery_start(); in that database to defer again (or audit_delivery_stop() to stay immediate), and compare the audited tables with tenant_rls.audit_history() for changes of that time: audit_verify() cannot see entries that were never written. Set wal_keep_size on the standbys above the delivery lag (the checkpoint at the end of a promotion keeps no more of the WAL before it), and call tenant_rls.audit_delivery_wait() right before a base backup.")));
			break;
		case RESUME_OTHER_KEY:
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tenant_rls: deferred audit delivery of database \"%s\" did not resume %s: this server's delivery key is not the one delivery was started with",
							dbname, what),
					 errdetail("Delivery was started there %s: the changes committed after %X/%X and not delivered before would be rejected as forged; the database's writers write immediately.",
							   where, LSN_FORMAT_ARGS(resume.applied)),
					 errhint("Copy $PGDATA/%s of the server delivery was started on into this server's data directory (owner the server's user, mode 0600) and restart: delivery then resumes by itself while the WAL since %X/%X is here. SELECT tenant_rls.audit_delivery_start(); instead defers again without them.",
							 DELIVERY_KEY_FILE, LSN_FORMAT_ARGS(resume.restart))));
			break;
		case RESUME_COPY:
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tenant_rls: deferred audit delivery was started in database \"%s\", but its replication slot is not here",
							dbname),
					 errdetail("The database is a copy of database %u (CREATE DATABASE ... TEMPLATE), whose changes not delivered when the copy was made are in that database's audit log; its writers write immediately.",
							   resume.started_in),
					 errhint("Run SELECT tenant_rls.audit_delivery_start(); in that database to defer there, or tenant_rls.audit_delivery_stop() to stay immediate.")));
			break;
		case RESUME_NOT_PROMOTED:
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tenant_rls: deferred audit delivery was started in database \"%s\", but its replication slot is not here",
							dbname),
					 errdetail("A restored base backup, or a slot dropped or lost on this server (not a promotion): changes committed after %X/%X that were not delivered then may be missing from the audit log, and the database's writers write immediately.",
							   LSN_FORMAT_ARGS(resume.applied)),
					 errhint("Run SELECT tenant_rls.audit_delivery_start(); in that database: it delivers those changes if the WAL is still here and says so otherwise (tenant_rls.audit_delivery_stop() instead stays immediate).")));
			break;
	}
	proc_exit(0);
}

/* whether the writers deferred when stop() began */
static bool stop_was_enabled = false;

/*
 * The transaction a pending xid belongs to: a message flushed early inside a
 * savepoint carries the subtransaction's xid, which pg_prepared_xacts,
 * pg_locks' owner and the user do not know.  (pg_subtrans is kept for every
 * xid from TransactionXmin on, which a still pending one is.)
 */
static TransactionId
top_level_xid(TransactionId xid)
{
	if (TransactionIdIsNormal(xid) && TransactionIdIsValid(TransactionXmin) &&
		TransactionIdFollowsOrEquals(xid, TransactionXmin))
		return SubTransGetTopmostTransaction(xid);
	return xid;
}

/*
 * An error or FATAL (a terminated session) in stop(): back as it was
 * (deferring, or writing immediately after the worker failed).
 */
static void
stop_failed(int code, Datum arg)
{
	DeliveryDb *db = (DeliveryDb *) DatumGetPointer(arg);

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (db->dboid == MyDatabaseId)
	{
		db->stopping = false;
		db->release = false;
		db->enabled = stop_was_enabled;
	}
	LWLockRelease(shared->lock);
}

Datum
tenant_rls_audit_delivery_stop(PG_FUNCTION_ARGS)
{
	TimestampTz deadline = deadline_after(fcinfo);
	char		name[NAMEDATALEN];
	DeliveryDb *db;
	bool		slot_exists;
	bool		slot_temporary = false;
	ReplicationSlot *slot;

	CheckSlotPermissions();
	slot_name_for(MyDatabaseId, name);
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	slot_exists = slot != NULL;
	if (slot_exists)
	{
		SpinLockAcquire(&slot->mutex);
		slot_temporary = slot->data.persistency == RS_TEMPORARY;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	/*
	 * A temporary slot is a start() that has not committed (its commit makes
	 * the slot persistent): the writers do not defer yet, and no worker
	 * delivers anything to wait for (review rev48c: stop() waited out its
	 * timeout, then said committed changes were missing)
	 */
	if (slot_temporary)
	{
		if (start_xact.created)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot stop deferred audit delivery in the transaction that started it"),
					 errdetail("tenant_rls.audit_delivery_start() takes effect when its transaction commits."),
					 errhint("Roll the transaction back to cancel the start, or commit it and call tenant_rls.audit_delivery_stop() afterwards.")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("deferred audit delivery of this database is being started by another transaction"),
				 errdetail("The replication slot \"%s\" belongs to a tenant_rls.audit_delivery_start() that has not committed.", name),
				 errhint("Wait for that transaction to end, then call tenant_rls.audit_delivery_stop() again.")));
	}
	if (!slot_exists)
		forget_started();		/* (what lint() reported as audit_delivery_lost is acknowledged) */
	if (shared == NULL)
	{
		if (!slot_exists)
			PG_RETURN_VOID();
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot stop deferred audit delivery: tenant_rls is not in shared_preload_libraries"),
				 errdetail("The replication slot \"%s\" may hold committed changes not yet in the audit log.", name),
				 errhint("Add tenant_rls to shared_preload_libraries, restart, and call tenant_rls.audit_delivery_stop() again.")));
	}

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = find_db(MyDatabaseId, slot_exists);

	/*
	 * The slot is gone and no worker runs (a lost slot): nothing to wait
	 * for; the entry goes, so that nothing waits for it any more (review
	 * rev34d: stop() waited out its timeout, audit_purge() was refused)
	 */
	if (db != NULL && !slot_exists && db->pid == 0 && !db->stopping && db->starting == 0)
	{
		db->dboid = InvalidOid;
		LWLockRelease(shared->lock);
		PG_RETURN_VOID();
	}
	if (db == NULL || db->stopping)
	{
		bool		busy = db != NULL;

		LWLockRelease(shared->lock);
		if (busy)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("deferred audit delivery of this database is already being stopped"),
					 errhint("Wait for the other tenant_rls.audit_delivery_stop() to finish, then check tenant_rls.audit_delivery_status().")));
		PG_RETURN_VOID();
	}
	stop_was_enabled = db->enabled;
	db->enabled = false;
	db->stopping = true;
	LWLockRelease(shared->lock);

	PG_ENSURE_ERROR_CLEANUP(stop_failed, PointerGetDatum(db));
	{
		/*
		 * Every message written while delivery was on is in the WAL now
		 * (audit_delivery_emit() checks and writes under the shared lock):
		 * wait until the worker has read up to here and has no transaction
		 * left waiting for its commit record (a prepared transaction keeps
		 * it waiting).
		 */
		if (!wait_delivered(db, deadline, true))
		{
			TransactionId open_xid;

			LWLockAcquire(shared->lock, LW_SHARED);
			open_xid = db->pid != 0 ? db->oldest_xid : InvalidTransactionId;
			LWLockRelease(shared->lock);
			open_xid = top_level_xid(open_xid);
			if (TransactionIdIsValid(open_xid))
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("could not stop deferred audit delivery: transaction %u wrote deferred audit messages and has not ended",
								open_xid),
						 errdetail("The worker keeps its messages until it commits (then they are written) or rolls back: stopping before would lose its entries."),
						 errhint("End that transaction (a prepared one: COMMIT PREPARED or ROLLBACK PREPARED; tenant_rls.lint() names it as audit_delivery_held), then call tenant_rls.audit_delivery_stop() again.")));
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("could not stop deferred audit delivery: committed changes are not all in the audit log yet"),
					 errhint("Check that the worker runs (tenant_rls.audit_delivery_status()), or give a longer timeout.")));
		}

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		db->release = true;
		if (db->latch)
			SetLatch(db->latch);
		LWLockRelease(shared->lock);
		for (;;)
		{
			bool		gone;

			LWLockAcquire(shared->lock, LW_SHARED);
			gone = (db->pid == 0);
			LWLockRelease(shared->lock);
			if (gone)
				break;
			if (GetCurrentTimestamp() >= deadline)
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("could not stop deferred audit delivery: the worker did not exit"),
						 errhint("Call tenant_rls.audit_delivery_stop() again with a longer timeout.")));
			nap();
		}
		if (SearchNamedReplicationSlot(name, true) != NULL)
			ReplicationSlotDrop(name, false);
	}
	PG_END_ENSURE_ERROR_CLEANUP(stop_failed, PointerGetDatum(db));

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (db->dboid == MyDatabaseId)
		db->dboid = InvalidOid;
	LWLockRelease(shared->lock);
	forget_started();
	PG_RETURN_VOID();
}

/*
 * The entry of this database, for a waiter.  Right after a server start the
 * launcher has not adopted the slot yet (about a second): if the slot exists,
 * wait for the entry, else there is nothing to wait for (NULL, *timed_out
 * false).
 */
static DeliveryDb *
db_for_wait(TimestampTz deadline, bool *timed_out)
{
	char		name[NAMEDATALEN];

	*timed_out = false;
	slot_name_for(MyDatabaseId, name);
	for (;;)
	{
		DeliveryDb *db;

		bool		has_slot = SearchNamedReplicationSlot(name, true) != NULL;
		bool		lost = false;

		LWLockAcquire(shared->lock, LW_SHARED);
		db = find_db(MyDatabaseId, false);
		if (db != NULL && !has_slot && !db->enabled)
		{
			/* nothing will be delivered: false if something was lost */
			lost = db->slot_lost;
			db = NULL;
		}
		LWLockRelease(shared->lock);
		if (db != NULL)
			return db;
		if (!has_slot)
		{
			*timed_out = lost;
			return NULL;
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			*timed_out = true;
			return NULL;
		}
		nap();
	}
}

/* the order slot of a tenant ('' for none) of this database */
static OrderSlot *
order_slot(const char *key)
{
	uint32		h = hash_bytes((const unsigned char *) key, strlen(key));

	return &shared->order[hash_combine(h, MyDatabaseId) % ORDER_SLOTS];
}

/* this database's slot for every tenant (a transaction of too many to list) */
static OrderSlot *
order_slot_all(void)
{
	return &shared->order[hash_combine(0x616c6c00, MyDatabaseId) % ORDER_SLOTS];
}

/* the slots this backend's committing transaction counts itself in */
static OrderSlot *order_marked[ORDER_MARK_MAX];
static int	order_nmarked = 0;

/*
 * A commit the worker did not reach within CATCH_UP_WAIT_MS: later commits
 * of this backend do not wait for it again (a worker that far behind leaves
 * the order to chance).
 */
static XLogRecPtr order_gave_up = InvalidXLogRecPtr;

/*
 * At PRE_COMMIT of a transaction that deferred batches of keys (all: of
 * more tenants than listed): it counts as committing in their slots until
 * audit_delivery_order_end().  Not at PREPARE TRANSACTION: a prepared
 * transaction is ordered by the session that commits it (audit_chain.c).
 */
void
audit_delivery_order_mark(List *keys, bool all)
{
	ListCell   *lc;

	if (shared == NULL || order_nmarked > 0)
		return;
	if (all || list_length(keys) > ORDER_MARK_MAX)
		order_marked[order_nmarked++] = order_slot_all();
	else
		foreach(lc, keys)
		{
			OrderSlot  *os = order_slot((const char *) lfirst(lc));
			bool		dup = false;

			for (int i = 0; i < order_nmarked; i++)
				dup = dup || order_marked[i] == os;
			if (!dup)
				order_marked[order_nmarked++] = os;
		}
	for (int i = 0; i < order_nmarked; i++)
		pg_atomic_fetch_add_u32(&order_marked[i]->committing, 1);
}

/*
 * The marked transaction ended (committed: its commit record ends at end).
 * The end is recorded before the count goes down, so that a reader that
 * sees the count without it sees the end.  Cannot fail.
 */
void
audit_delivery_order_end(bool committed, XLogRecPtr end)
{
	for (int i = 0; i < order_nmarked; i++)
	{
		OrderSlot  *os = order_marked[i];

		if (committed)
		{
			uint64		old = pg_atomic_read_u64(&os->last_commit);

			while (old < end && !pg_atomic_compare_exchange_u64(&os->last_commit, &old, end))
				;
		}
		pg_atomic_fetch_sub_u32(&os->committing, 1);
	}
	order_nmarked = 0;
}

/*
 * Before a commit writes batches of keys itself: if a deferred commit of
 * one of those tenants may not be written yet -- in the order slots, or own
 * (this backend's, audit_chain.c) -- wait until the worker has written
 * every commit up to it, or up to now when one of the slots has a commit
 * still committing.  At most CATCH_UP_WAIT_MS in all, less than what is
 * left of statement_timeout, and only while this database defers and its
 * worker runs: a worker that is not there, or that does not get there in
 * time, leaves the order to chance (doc/audit.md, Deferred delivery), and
 * after a wait that timed out no commit of the database waits for the next
 * CATCH_UP_WAIT_MS.
 */
void
audit_delivery_order_wait(List *keys, XLogRecPtr own)
{
	XLogRecPtr	target = own;
	bool		committing;
	ListCell   *lc;
	DeliveryDb *db;
	TimestampTz deadline;

	if (shared == NULL)
		return;
	committing = pg_atomic_read_u32(&order_slot_all()->committing) > 0;
	foreach(lc, keys)
		committing = committing ||
			pg_atomic_read_u32(&order_slot((const char *) lfirst(lc))->committing) > 0;
	/* (a count read as zero: the end recorded before it went down is seen) */
	pg_read_barrier();
	target = Max(target, pg_atomic_read_u64(&order_slot_all()->last_commit));
	foreach(lc, keys)
		target = Max(target, pg_atomic_read_u64(&order_slot((const char *) lfirst(lc))->last_commit));
	if (committing)
		target = Max(target, GetXLogInsertRecPtr());
	if (XLogRecPtrIsInvalid(target) || target <= order_gave_up)
		return;

	deadline = GetCurrentTimestamp() + CATCH_UP_WAIT_MS * (TimestampTz) 1000;
	if (get_timeout_active(STATEMENT_TIMEOUT))
		deadline = Min(deadline, get_timeout_finish_time(STATEMENT_TIMEOUT) - 100 * (TimestampTz) 1000);
	for (bool first = true;; first = false)
	{
		bool		done;
		bool		present;

		LWLockAcquire(shared->lock, LW_SHARED);
		db = find_db(MyDatabaseId, false);
		present = db != NULL && db->enabled && !db->stopping && db->pid != 0;
		done = !present || db->delivered_lsn >= target ||
			(first && GetCurrentTimestamp() - db->order_gave_up_at < CATCH_UP_WAIT_MS * (TimestampTz) 1000);
		/* the worker naps between reads of the WAL: it reads now */
		if (!done && first && db->latch != NULL)
			SetLatch(db->latch);
		LWLockRelease(shared->lock);
		if (done)
			return;
		if (GetCurrentTimestamp() >= deadline)
		{
			/*
			 * A worker that far behind: the database's other commits do not
			 * wait for it either for as long (each would stall its COMMIT).
			 */
			order_gave_up = target;
			LWLockAcquire(shared->lock, LW_EXCLUSIVE);
			if (db->dboid == MyDatabaseId)
				db->order_gave_up_at = GetCurrentTimestamp();
			LWLockRelease(shared->lock);
			return;
		}
		if (first)
			(void) flush_wal_to(target);
		nap();
	}
}

/*
 * audit_purge(): every batch committed so far must be in the log before the
 * purge reads the chains (a late batch of a purged month would land behind
 * the anchors).  Errors if the worker does not deliver them in time.
 */
void
audit_delivery_drain(void)
{
	DeliveryDb *db;
	TimestampTz deadline;
	bool		timed_out;

	if (shared == NULL)
		return;
	deadline = GetCurrentTimestamp() + 60 * USECS_PER_SEC;
	db = db_for_wait(deadline, &timed_out);
	if (db != NULL)
	{
		bool		lost;

		/* a lost slot delivers nothing more: nothing to wait for */
		LWLockAcquire(shared->lock, LW_SHARED);
		lost = db->slot_lost && !db->enabled;
		LWLockRelease(shared->lock);
		if (lost)
			return;
	}
	if (timed_out || (db != NULL && !wait_delivered(db, deadline, false)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot purge the audit log while committed changes wait for deferred delivery"),
				 errdetail("The delivery worker did not write them within a minute."),
				 errhint("Check tenant_rls.audit_delivery_status() and the server log, then try again.")));
}

/*
 * On a standby: does this database defer (on the primary)?  Its worker runs
 * there, and what it has not delivered yet is not in this server's shared
 * state: waiting here found nothing to wait for and said true at once while
 * the changes were not in the log (review rev49a).
 */
static bool
standby_defers(void)
{
	XLogRecPtr	applied;
	XLogRecPtr	restart;
	Oid			started_in;
	bool		started;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	started = read_state(&applied, &restart, &started_in);
	SPI_finish();
	/*
	 * (a copy made with CREATE DATABASE ... TEMPLATE of a deferring database
	 * carries started = true, but its primary writes it immediately, as
	 * audit_delivery_start() and audit_delivery_status() there tell)
	 */
	return started && (!OidIsValid(started_in) || started_in == MyDatabaseId);
}

Datum
tenant_rls_audit_delivery_wait(PG_FUNCTION_ARGS)
{
	TimestampTz deadline = deadline_after(fcinfo);
	DeliveryDb *db;
	bool		timed_out;

	if (RecoveryInProgress() && standby_defers())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot wait for deferred audit delivery on a standby"),
				 errdetail("The primary's delivery worker writes the deferred changes; a standby cannot tell which of them are still waiting there."),
				 errhint("Call tenant_rls.audit_delivery_wait() on the primary, then wait until this standby has replayed the WAL up to the primary's pg_current_wal_lsn() taken after it (pg_last_wal_replay_lsn()).")));
	if (shared == NULL)
		PG_RETURN_BOOL(true);
	db = db_for_wait(deadline, &timed_out);
	if (db == NULL)
		PG_RETURN_BOOL(!timed_out);
	PG_RETURN_BOOL(wait_delivered(db, deadline, false));
}

Datum
tenant_rls_audit_delivery_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[11];
	bool		nulls[11];
	char		name[NAMEDATALEN];
	DeliveryDb	copy;
	DeliveryDb *db = NULL;
	XLogRecPtr	insert = RecoveryInProgress() ? InvalidXLogRecPtr : GetXLogInsertRecPtr();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, false, sizeof(nulls));
	memset(&copy, 0, sizeof(copy));
	if (shared != NULL)
	{
		LWLockAcquire(shared->lock, LW_SHARED);
		db = find_db(MyDatabaseId, false);
		if (db != NULL)
			copy = *db;
		LWLockRelease(shared->lock);
	}
	slot_name_for(MyDatabaseId, name);

	/* mode, active, worker_pid, slot_name, delivered_lsn, lag_bytes, pending, batches, rejected */
	values[0] = CStringGetTextDatum(RecoveryInProgress() && standby_defers() ? "deferred (by the primary)"
									: shared == NULL ? "unavailable (not preloaded)"
									: (db != NULL && copy.enabled) ? "deferred"
									: (db != NULL && copy.slot_lost) ? "immediate (slot lost)"
									: (db != NULL && copy.failures >= 3) ? "immediate (delivery failing)"
									: "immediate");
	values[1] = BoolGetDatum(db != NULL && copy.pid != 0);
	values[2] = Int32GetDatum(copy.pid);
	nulls[2] = (copy.pid == 0);
	values[3] = CStringGetTextDatum(name);
	nulls[3] = (SearchNamedReplicationSlot(name, true) == NULL);
	/*
	 * (NULL until the worker has recorded a position: right after
	 * audit_delivery_start(), lag_bytes was all the WAL since 0/0, review
	 * rev40c)
	 */
	values[4] = LSNGetDatum(copy.delivered_lsn);
	nulls[4] = (db == NULL || XLogRecPtrIsInvalid(copy.delivered_lsn));
	values[5] = Int64GetDatum(insert > copy.delivered_lsn ? (int64) (insert - copy.delivered_lsn) : 0);
	nulls[5] = (nulls[4] || insert == InvalidXLogRecPtr);
	values[6] = Int64GetDatum(copy.pending);
	values[7] = Int64GetDatum(copy.batches);
	values[8] = Int64GetDatum(copy.rejected);
	values[9] = TransactionIdGetDatum(top_level_xid(copy.oldest_xid));
	nulls[9] = (db == NULL || copy.pid == 0 || !TransactionIdIsValid(copy.oldest_xid));
	values[10] = TimestampTzGetDatum(copy.oldest_since);
	nulls[10] = nulls[9];
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
