/*
 * token.c -- signed tenant tokens, SQL side (DESIGN C3).
 *
 *   tenant_rls.sign_tenant(tenant text, valid_for interval) -> token
 *   tenant_rls.set_tenant_signed(token text) -> canonical tenant
 *
 * A token is valid in one database: its MAC covers the name of the database
 * it was signed in (token_core.h), and set_tenant_signed() verifies it for
 * the current database.  Its expiry is compared with the wall clock when it
 * is verified, not with the start of the transaction.
 *
 * Keys: tenant_rls.signing_key and tenant_rls.signing_key_previous (accepted
 * for verification only, during a rotation).  Both are superuser-only, not in
 * SHOW ALL / pg_settings, and SHOW displays only "set, key id ..." -- never the
 * key.  Their check hook never echoes a value and refuses the places where a
 * value would become readable by others: ALTER ROLE/DATABASE ... SET and a
 * function's SET clause (stored in catalogs every user can read).
 *
 * A key from postgresql.conf is a placeholder setting that any user can read
 * in every session that has not loaded the library: before its first use
 * without preloading, and in other databases or as other roles when only
 * session_preload_libraries (settable per database or role) loads it.  Sign
 * and verify therefore use such a key only with shared_preload_libraries, so
 * the misconfiguration cannot go unnoticed.
 */
#include "tenant_rls.h"

#include <ctype.h>

#include <openssl/crypto.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/prepare.h"
#include "datatype/timestamp.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/timestamp.h"

#include "context.h"
#include "guc.h"
#include "module_init.h"
#include "strict.h"
#include "token.h"
#include "token_core.h"

PG_FUNCTION_INFO_V1(tenant_rls_sign_tenant);
PG_FUNCTION_INFO_V1(tenant_rls_set_tenant_signed);

#define KEY_CURRENT		0
#define KEY_PREVIOUS	1

static const char *const key_setting_name[2] = {
	"tenant_rls.signing_key",
	"tenant_rls.signing_key_previous"
};

static char *signing_key[2] = {NULL, NULL};

/* where the current value of each key came from (kept by the assign hook) */
typedef struct KeyExtra
{
	bool		from_server_config; /* postgresql.conf, command line, environment */
} KeyExtra;

static bool key_from_server_config[2] = {false, false};
/* our settings' records, to ask which role set the current value */
static struct config_generic *key_record[2] = {NULL, NULL};

/* the prepared key (id computed), recomputed when the setting changes */
typedef struct KeyCache
{
	char	   *copy;			/* malloc'd copy of the key it was made from */
	size_t		len;
	token_status status;
	token_key	key;
} KeyCache;

static KeyCache key_cache[2];

/* ---------------------------------------------------------------------
 * Settings
 * ---------------------------------------------------------------------
 */

static bool
check_key_common(int which, char **newval, void **extra, GucSource source)
{
	KeyExtra   *e;

	/*
	 * Never let a key into pg_db_role_setting or pg_proc.proconfig, which
	 * every user can read: PGC_S_TEST is ALTER ROLE/DATABASE ... SET and
	 * CREATE FUNCTION ... SET being validated; the others are such settings
	 * stored before the library was loaded, applied at connection start.
	 * The message must not contain the value (GUC_check_errmsg replaces
	 * the default one, which would).
	 */
	if (*newval != NULL && (*newval)[0] != '\0' &&
		(source == PGC_S_TEST || source == PGC_S_GLOBAL ||
		 source == PGC_S_DATABASE || source == PGC_S_USER ||
		 source == PGC_S_DATABASE_USER))
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("%s cannot be set per role, per database or in a function's SET clause",
						 key_setting_name[which]);
		GUC_check_errdetail("Such settings are stored in catalogs that every user can read.");
		GUC_check_errhint("Set the key in postgresql.conf (or with ALTER SYSTEM) and reload.");
		return false;
	}

	e = malloc(sizeof(KeyExtra));
	if (e == NULL)
	{
		/* our own message: the default one would contain the value */
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	e->from_server_config = (source == PGC_S_ENV_VAR || source == PGC_S_FILE ||
							 source == PGC_S_ARGV);
	*extra = e;
	return true;
}

static bool
check_signing_key(char **newval, void **extra, GucSource source)
{
	return check_key_common(KEY_CURRENT, newval, extra, source);
}

static bool
check_signing_key_previous(char **newval, void **extra, GucSource source)
{
	return check_key_common(KEY_PREVIOUS, newval, extra, source);
}

/*
 * The last key value each setting got from the server configuration, kept
 * (besides the current value, which a superuser's SET may replace in a
 * session) so that the log hook below can recognise it too.
 */
static char *server_key[2] = {NULL, NULL};

/* changes whenever a key setting is assigned (statement_facts()) */
static uint64 key_generation = 0;

static void
assign_key_common(int which, const char *newval, void *extra)
{
	bool		from_server = extra && ((KeyExtra *) extra)->from_server_config;

	key_generation++;
	key_from_server_config[which] = from_server;
	if (from_server && newval != NULL &&
		(server_key[which] == NULL || strcmp(server_key[which], newval) != 0))
	{
		char	   *copy = strdup(newval);	/* an assign hook must not fail */

		if (copy == NULL)
			return;
		if (server_key[which] != NULL)
		{
			OPENSSL_cleanse(server_key[which], strlen(server_key[which]));
			free(server_key[which]);
		}
		server_key[which] = copy;
	}
}

static void
assign_signing_key(const char *newval, void *extra)
{
	assign_key_common(KEY_CURRENT, newval, extra);
}

static void
assign_signing_key_previous(const char *newval, void *extra)
{
	assign_key_common(KEY_PREVIOUS, newval, extra);
}

/* The prepared key for the current value of the setting. */
static KeyCache *
prepared_key(int which)
{
	KeyCache   *c = &key_cache[which];
	const char *v = signing_key[which] ? signing_key[which] : "";
	size_t		len = strlen(v);

	if (c->copy != NULL && c->len == len && memcmp(c->copy, v, len) == 0)
		return c;
	if (c->copy != NULL)
	{
		token_key_free(&c->key);
		OPENSSL_cleanse(c->copy, c->len);
		free(c->copy);
		c->copy = NULL;
	}
	c->copy = malloc(len + 1);
	if (c->copy == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	memcpy(c->copy, v, len + 1);
	c->len = len;
	c->status = token_key_init(&c->key, c->copy, len);
	return c;
}

static char show_buf[2][64];

static const char *
show_key_common(int which)
{
	KeyCache   *c;

	if (signing_key[which] == NULL || signing_key[which][0] == '\0')
		return "";
	c = prepared_key(which);
	if (c->status == TOKEN_KEY_TOO_SHORT)
		snprintf(show_buf[which], sizeof(show_buf[which]),
				 "set, too short (%zu bytes)", c->len);
	else if (c->status != TOKEN_OK)
		snprintf(show_buf[which], sizeof(show_buf[which]), "set, unusable");
	else
		snprintf(show_buf[which], sizeof(show_buf[which]),
				 "set, key id %02x%02x%02x%02x",
				 c->key.id[0], c->key.id[1], c->key.id[2], c->key.id[3]);
	return show_buf[which];
}

static const char *
show_signing_key(void)
{
	return show_key_common(KEY_CURRENT);
}

static const char *
show_signing_key_previous(void)
{
	return show_key_common(KEY_PREVIOUS);
}

/* ---------------------------------------------------------------------
 * Keeping the key out of the server log
 *
 * PostgreSQL itself logs 'parameter "x" changed to "<value>"' when a reload
 * changes a setting (the postmaster, at LOG), and log_statement /
 * log_min_error_statement log the text of statements such as ALTER SYSTEM
 * SET tenant_rls.signing_key = '...'.  This hook rewrites such messages
 * before they reach the log: any message that contains a configured key, the
 * "changed to" message of the key settings, and statement text that
 * mentions them.  (It runs wherever the library is loaded: preload it so the
 * postmaster has it too.)
 * ---------------------------------------------------------------------
 */

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * Only a role that can set a key can put one in a statement, so only such a
 * role's statements are hidden or masked because they mention the setting:
 * anybody else could otherwise keep any statement out of the log (and
 * pg_stat_activity, pg_stat_statements) with a comment naming it.  "Can set":
 * a superuser, or SET or ALTER SYSTEM granted on a key setting.  The answer
 * needs the catalogs, so it is cached per role (emptied when roles,
 * memberships or parameter privileges change) and looked up only where that
 * is safe: in the ProcessUtility, post_parse_analyze and executor hooks, for
 * the statement log lines postgres.c writes between statements, and before
 * each commit (key_setter_refresh()).  The commit of the transaction that
 * InitPostgres() runs fills it before a session's first statement, and each
 * commit before the next transaction's, so an error raised while a
 * statement is parsed finds it known (review rev52b: it was empty at a
 * session's first statement, and a role that cannot set a key kept the
 * STATEMENT line of its own failing statement out of the log with a comment
 * naming the setting).  It can still be unknown where a change of the
 * catalogs emptied it since (another session's GRANT or ALTER ROLE, the
 * role's own ALTER ROLE ... PASSWORD, an overflow of the invalidation queue),
 * or for another role (SECURITY DEFINER): see key_setter_answer().
 *
 * Only the changes that can change the answer empty it: with no privilege
 * granted on a key setting to anyone (no row in pg_parameter_acl, the usual
 * case), only the role's own row (rolsuper) and a grant on a key setting
 * can, so another role's ALTER ROLE, GRANT role or a change of a database
 * elsewhere in the cluster leaves it as it is; with such a row, any change
 * of roles, memberships or the database's owner (pg_database_owner) does.
 * (A reset of the caches, hash value 0, always does.)
 */
typedef struct KeySetter
{
	Oid			user;			/* whose answer (InvalidOid: none) */
	bool		may;
	uint32		hash;			/* of its pg_authid row (AUTHOID) */
} KeySetter;

/*
 * Two roles: [0] the session's (outer) role, which sent the statement;
 * [1] another, whose code runs in it (a SECURITY DEFINER function).
 */
static KeySetter key_setter[2] = {{InvalidOid, true, 0}, {InvalidOid, true, 0}};
static bool key_setter_acl = true;	/* a key setting has a pg_parameter_acl row */
static uint32 key_setting_hash[2];	/* of their pg_parameter_acl rows */
static uint64 key_setter_invals = 0;	/* calls of key_setter_invalidate() */

static bool token_database_stale = false;

static void
key_setter_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	bool		relevant = hashvalue == 0 || key_setter_acl;

	key_setter_invals++;
	/* (the database's name too: token_database_name()) */
	if (cacheid == DATABASEOID)
		token_database_stale = true;
	else if (cacheid == AUTHOID)
		relevant = relevant || hashvalue == key_setter[0].hash ||
			hashvalue == key_setter[1].hash;
	else if (cacheid == PARAMETERACLNAME)
		relevant = relevant || hashvalue == key_setting_hash[KEY_CURRENT] ||
			hashvalue == key_setting_hash[KEY_PREVIOUS];
	if (relevant)
		key_setter[0].user = key_setter[1].user = InvalidOid;
}

/*
 * Whether role user can set a key: 1 yes, 0 no, -1 not known (not cached
 * for this role, and lookup_safe false or no transaction to look it up in).
 * outer: user is the session's role.
 */
static int
key_setter_answer_for(Oid user, bool outer, bool lookup_safe)
{
	KeySetter  *slot = &key_setter[outer ? 0 : 1];
	bool		may;
	bool		acl = false;
	uint32		hash;
	uint32		name_hash[2];
	uint64		invals = key_setter_invals;

	if (!OidIsValid(user))
		return 1;
	for (int i = 0; i < 2; i++)
		if (key_setter[i].user == user)
			return key_setter[i].may ? 1 : 0;
	if (!lookup_safe || !IsTransactionState() || !OidIsValid(MyDatabaseId))
		return -1;
	/* what key_setter_invalidate() compares (before the answer: it may read) */
	hash = GetSysCacheHashValue1(AUTHOID, ObjectIdGetDatum(user));
	for (int w = 0; w < 2; w++)
	{
		Datum		name = PointerGetDatum(cstring_to_text(key_setting_name[w]));

		name_hash[w] = GetSysCacheHashValue1(PARAMETERACLNAME, name);
		if (SearchSysCacheExists1(PARAMETERACLNAME, name))
			acl = true;
		pfree(DatumGetPointer(name));
	}
	may = superuser_arg(user) ||
		pg_parameter_aclcheck(key_setting_name[KEY_CURRENT], user,
							  ACL_SET | ACL_ALTER_SYSTEM) == ACLCHECK_OK ||
		pg_parameter_aclcheck(key_setting_name[KEY_PREVIOUS], user,
							  ACL_SET | ACL_ALTER_SYSTEM) == ACLCHECK_OK;
	/*
	 * Reading the catalogs takes in invalidations: one that came meanwhile
	 * may be about what was read before it, so the answer is not kept then
	 * (the next safe point looks it up again).
	 */
	if (invals == key_setter_invals)
	{
		key_setting_hash[KEY_CURRENT] = name_hash[KEY_CURRENT];
		key_setting_hash[KEY_PREVIOUS] = name_hash[KEY_PREVIOUS];
		key_setter_acl = acl;
		slot->may = may;
		slot->hash = hash;
		slot->user = user;
	}
	else
	{
		/* (what was read may be stale: every change counts until the next) */
		key_setter_acl = true;
		key_setter[0].user = key_setter[1].user = InvalidOid;
	}
	return may ? 1 : 0;
}

/* the current role (a SECURITY DEFINER function's owner in its code) */
static int
key_setter_answer(bool lookup_safe)
{
	Oid			user;
	int			sec_context;

	/* (GetUserId() would assert in a process without a user) */
	GetUserIdAndSecContext(&user, &sec_context);
	if (!OidIsValid(user))
		return 1;
	return key_setter_answer_for(user, user == GetOuterUserId(), lookup_safe);
}

/*
 * The role that sent the statement being run (debug_query_string, its bind
 * parameters), whatever code runs now: the session's role (after SET ROLE).
 * An error raised in a SECURITY DEFINER function is reported before the
 * role is set back, and a superuser's function hid the STATEMENT line of
 * the statement that called it (review rev52b).
 */
static int
statement_role_answer(bool lookup_safe)
{
	Oid			user;
	int			sec_context;

	GetUserIdAndSecContext(&user, &sec_context);
	if (!OidIsValid(user))
		return 1;
	return key_setter_answer_for(GetOuterUserId(), true, lookup_safe);
}

/* the same, a role not known counting as one that can (fail safe) */
static bool
may_set_key(bool lookup_safe)
{
	return key_setter_answer(lookup_safe) != 0;
}

/*
 * At a point where the catalogs may be read: the answers for the current
 * and the session's roles, looked up if they are not cached (comparisons
 * when they are).
 */
static inline void
key_setter_refresh(void)
{
	Oid			user;
	int			sec_context;

	GetUserIdAndSecContext(&user, &sec_context);
	/* (usually: one role, cached) */
	if (user == key_setter[0].user && OidIsValid(user) && user == GetOuterUserId())
		return;
	(void) key_setter_answer(true);
	(void) statement_role_answer(true);
}

/* the statement log lines of postgres.c (log_statement, log_min_duration_statement) */
static bool
is_statement_log(const ErrorData *edata)
{
	return edata->elevel == LOG && edata->message != NULL &&
		(strncmp(edata->message, "statement: ", 11) == 0 ||
		 strncmp(edata->message, "execute ", 8) == 0 ||
		 strncmp(edata->message, "duration: ", 10) == 0);
}

/* case-insensitive substring test */
static bool
mentions(const char *haystack, const char *needle)
{
	size_t		n = strlen(needle);

	if (haystack == NULL)
		return false;
	for (; *haystack; haystack++)
		if (pg_strncasecmp(haystack, needle, n) == 0)
			return true;
	return false;
}

static bool
contains_one(const char *text, const char *k)
{
	/* very short strings would match everything; they are unusable keys anyway */
	return k != NULL && strlen(k) >= 8 && strstr(text, k) != NULL;
}

static bool
contains_key(const char *text)
{
	if (text == NULL)
		return false;
	for (int i = 0; i < 2; i++)
	{
		if (contains_one(text, signing_key[i]) || contains_one(text, server_key[i]))
			return true;
	}
	return false;
}

/*
 * An error inside emit_log_hook turns the LOG or WARNING being written into
 * an ERROR that aborts the statement, or replaces the error being reported.
 * So the hook's allocations, up to twice a statement's length, cannot fail
 * (MCXT_ALLOC_NO_OOM), and each has a way out that allocates nothing when
 * one returns NULL.  (The role lookup of may_set_key() is done there only
 * for the statement log lines postgres.c writes between statements.)
 */
static void *
log_hook_alloc(ErrorData *edata, size_t size)
{
	return MemoryContextAllocExtended(edata->assoc_context ? edata->assoc_context : ErrorContext,
									  size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/*
 * text, to replace old (one of edata's strings); without memory, as much of
 * text as fits is written over old itself (which errfinish() frees).
 */
static char *
redacted(ErrorData *edata, char *old, const char *text)
{
	size_t		len = strlen(text);
	char	   *copy = log_hook_alloc(edata, len + 1);

	if (copy == NULL)
	{
		strlcpy(old, text, strlen(old) + 1);
		return old;
	}
	memcpy(copy, text, len + 1);
	return copy;
}

static long after_mention(const char *s, size_t from, size_t to);
static size_t skip_quoted(const char *s, size_t i, size_t to);
static inline size_t past_unquoted(const char *src, size_t i, size_t to);
static void mask_range(char *s, size_t from, size_t to);
static void mask_constants(const char *src, char *dst, size_t from, size_t to, int depth,
						   bool numbers);
static bool mentions_token_fn(const char *s, size_t from, size_t to);
static void mask_activity(const char *text, long key_from, int consts,
						  size_t from, size_t to, uint64 query_id);
/* what mask_statement_copy() does to a statement's constants */
#define MASK_NONE		0
#define MASK_STRINGS	1		/* string constants and comments */
#define MASK_VALUES		2		/* and numbers */

/*
 * The constants of a statement in pg_stat_activity: with
 * tenant_rls.mask_activity_values every statement's values (sessions of one
 * role, usually all tenants', see each other's statements there), else
 * those of a statement that names set_tenant_signed (tokens).
 */
static inline int
activity_consts(bool tokens)
{
	if (tenant_rls_mask_activity_values)
		return MASK_VALUES;
	return tokens ? MASK_STRINGS : MASK_NONE;
}

static bool mask_token_shapes(const char *src, char *dst, size_t dst_len,
							  size_t from, size_t to, char fill);
static void mask_token_fragments(char *text);
static bool scan_token_fragments(char *text, bool mask);
static void mask_token_runs(char *text);
static void mask_signed_literals(char *text);

/*
 * A string of a log message with its tokens masked in place: whole ones, and
 * the pieces of one that PostgreSQL cut (see mask_token_fragments()).  The
 * strings of an ErrorData are its own palloc'd copies (errfinish() frees
 * them), so they are masked where they are, with nothing allocated: a copy
 * per message stayed in ErrorContext until the next error.
 */
static void
mask_log_text(char *text)
{
	if (text == NULL)
		return;
	mask_token_shapes(text, text, strlen(text), 0, strlen(text), '*');
	mask_token_fragments(text);
	mask_signed_literals(text);
}

/*
 * Whether the server log gets the STATEMENT line of a message of level
 * elevel: what elog.c decides with log_min_error_statement (LOG sorts
 * between ERROR and FATAL there).
 */
static bool
logs_statement(int elevel)
{
	if (elevel == LOG || elevel == LOG_SERVER_ONLY)
		return log_min_error_statement == LOG || log_min_error_statement <= ERROR;
	if (elevel == WARNING_CLIENT_ONLY)
		return false;
	if (log_min_error_statement == LOG)
		return elevel >= FATAL;
	return elevel >= log_min_error_statement;
}

/*
 * What the current statement's text (debug_query_string) holds, found once
 * per client message and key: a statement can log many messages (auto_explain
 * of nested statements, a warning per COMMIT of a long string, RAISE LOG in a
 * loop), and scanning the whole string for each one made them quadratic.
 *
 * The next message may come in the same buffer and, with a coarse clock, at
 * the same statement start time (review rev45a: a key rotation right after a
 * DDL statement was logged with the new key), so address and start time do
 * not tell it apart.  Within a message the text cannot change: there the
 * facts hold as long as our reset callback waits in MessageContext, which
 * PostgresMain() resets before it reads each message.  After that, and in
 * processes without that context (background workers), they hold only for
 * the same bytes, compared with a copy of the text.
 */
static const char *facts_src = NULL;	/* the text they hold for in this message */
static TimestampTz facts_start = 0;
static uint64 facts_message = 0;	/* message_resets then */
static uint64 facts_keygen = 0;
static char *facts_text = NULL;	/* malloc'd copy of the text they were found in */
static size_t facts_text_len = 0;
static size_t facts_text_size = 0;
static bool facts_text_valid = false;
static bool facts_token = false;	/* holds a token, or a piece of one, by its form */
static bool token_refused = false;	/* set_tenant_signed() refused a token: see token_error() */
static bool facts_mentions_key = false;	/* names signing_key */
static bool facts_contains_key = false;	/* holds a configured key */

/* a longer copy is not kept past the end of a transaction */
#define FACTS_TEXT_KEEP 65536

static uint64 message_resets = 0;	/* resets of the context we watch */
static MemoryContext watched_context = NULL;	/* where our callback waits */
static MemoryContextCallback message_callback;

static void
message_context_reset(void *arg)
{
	message_resets++;
	watched_context = NULL;
}

/*
 * Whether the end of the current client message will be seen: our reset
 * callback waits in MessageContext (registered if need be; it allocates
 * nothing, so a message logged in a critical section can register it).
 */
static bool
watch_message(void)
{
	if (MessageContext == NULL)
		return false;
	if (watched_context == MessageContext)
		return true;
	if (watched_context != NULL)
		return false;			/* still waits in a context set aside */
	message_callback.func = message_context_reset;
	message_callback.arg = NULL;
	MemoryContextRegisterResetCallback(MessageContext, &message_callback);
	watched_context = MessageContext;
	return true;
}

/* keep a copy of the len bytes of text (malloc: callable in a critical section) */
static void
keep_facts_text(const char *text, size_t len)
{
	facts_text_valid = false;
	if (facts_text != NULL && facts_text_size < len)
	{
		free(facts_text);
		facts_text = NULL;
		facts_text_size = 0;
	}
	if (facts_text == NULL)
	{
		facts_text = malloc(Max(len, 1));
		if (facts_text == NULL)
			return;				/* without memory: good for this message only */
		facts_text_size = Max(len, 1);
	}
	memcpy(facts_text, text, len);
	facts_text_len = len;
	facts_text_valid = true;
}

/* at a transaction's end */
static void
facts_text_release(void)
{
	if (facts_text != NULL && facts_text_size > FACTS_TEXT_KEEP)
	{
		free(facts_text);
		facts_text = NULL;
		facts_text_size = 0;
		facts_text_valid = false;
	}
}

static void
statement_facts(void)
{
	size_t		len;

	if (debug_query_string != NULL && facts_src == debug_query_string &&
		facts_start == GetCurrentStatementStartTimestamp() &&
		facts_keygen == key_generation && facts_message == message_resets &&
		watched_context != NULL && watched_context == MessageContext)
		return;					/* the same client message */
	facts_src = NULL;
	if (debug_query_string == NULL)
	{
		facts_token = facts_mentions_key = facts_contains_key = false;
		facts_text_valid = false;
		return;
	}
	len = strlen(debug_query_string);
	if (!(facts_text_valid && facts_keygen == key_generation && facts_text_len == len &&
		  memcmp(facts_text, debug_query_string, len) == 0))
	{
		facts_keygen = key_generation;
		/* (a piece of one too: "token is truncated" quoted it in the STATEMENT line) */
		facts_token = mask_token_shapes(debug_query_string, NULL, 0, 0, len, '*') ||
			scan_token_fragments(unconstify(char *, debug_query_string), false) ||
			strcasestr(debug_query_string, "set_tenant_signed") != NULL;
		facts_mentions_key = after_mention(debug_query_string, 0, len) >= 0;
		facts_contains_key = contains_key(debug_query_string);
		keep_facts_text(debug_query_string, len);
	}
	if (watch_message())
	{
		facts_src = debug_query_string;
		facts_start = GetCurrentStatementStartTimestamp();
		facts_message = message_resets;
	}
}

/*
 * The contents of every "..." in text, in place, but the name of a
 * configuration parameter (the key settings', or another's: "invalid value
 * for parameter "tenant_rls.actor_setting"" names no key).  The lookup reads
 * only the server's table of settings, in memory.
 */
static void
mask_quoted(char *text)
{
	char	   *p = text;

	while (p != NULL && (p = strchr(p, '"')) != NULL)
	{
		char	   *e = strchr(p + 1, '"');
		bool		setting_name;

		if (e == NULL)
			break;
		*e = '\0';
		setting_name = GetConfigOption(p + 1, true, false) != NULL;
		*e = '"';
		if (!setting_name)
			for (p++; p < e; p++)
				*p = '*';
		p = e + 1;
	}
}

/*
 * The first mention of the key setting in src[from, to) that is not in a
 * comment (offset after it, as after_mention()), or -1: a comment cannot
 * hold a key that is set.
 */
static long
mention_in_code(const char *src, size_t from, size_t to)
{
	size_t		i = from;

	while (i < to)
	{
		size_t		j = skip_quoted(src, i, to);
		long		m;

		if (j == i)
			j = past_unquoted(src, i, to);
		else if (src[i] == '-' || src[i] == '/')
		{
			i = j;				/* a comment */
			continue;
		}
		m = after_mention(src, i, j);
		if (m >= 0)
			return m;
		i = j;
	}
	return -1;
}

/*
 * dst, a copy of the statement src of len bytes, masked for the log when it
 * is not known whether its role can set a key: as safe for a key as leaving
 * it out (the contents of every string constant and comment, numbers, a
 * dollar-quoted value whole, the constants in the code of a DO block or a
 * function body, and from the first mention of the setting outside a
 * comment on, everything), but what a comment names does not hide the rest.
 */
static void
mask_unknown_role_statement(const char *src, char *dst, size_t len)
{
	long		m = mention_in_code(src, 0, len);

	mask_constants(src, dst, 0, len, 0, true);
	if (m >= 0)
		mask_range(dst, (size_t) m, len);
	mask_log_text(dst);
}

/*
 * The STATEMENT line of edata left out, and its text, masked, written to the
 * server log's DETAIL after label instead (debug_query_string cannot be
 * changed here): tokens masked (refused: the runs of a refused token too),
 * or, with unknown_role, as mask_unknown_role_statement() does.  Without
 * memory the statement is not logged at all.
 */
static void
statement_to_detail(ErrorData *edata, const char *label, bool refused, bool unknown_role)
{
	char	   *detail = edata->detail_log ? edata->detail_log : edata->detail;
	size_t		dlen = detail ? strlen(detail) + 1 : 0; /* with a newline */
	size_t		llen = strlen(label);
	size_t		pre = dlen + llen;
	size_t		len = strlen(debug_query_string);
	/* "<detail>\n" label statement, the statement masked in place */
	char	   *buf = log_hook_alloc(edata, pre + len + 1);

	edata->hide_stmt = true;
	if (buf == NULL)
		return;
	if (detail != NULL)
	{
		memcpy(buf, detail, dlen - 1);
		buf[dlen - 1] = '\n';
	}
	memcpy(buf + dlen, label, llen);
	memcpy(buf + pre, debug_query_string, len + 1);
	if (unknown_role)
		mask_unknown_role_statement(debug_query_string, buf + pre, len);
	else
		mask_log_text(buf + pre);
	if (refused)
		mask_token_runs(buf + pre);
	/* errfinish() frees detail_log: the one replaced here, now */
	edata->detail_log = buf;
	if (detail != NULL && detail != edata->detail)
		pfree(detail);
}

static void
token_emit_log_hook(ErrorData *edata)
{
	bool		refused;

	if (edata->output_to_server)
	{
		bool		pg_hid_stmt = edata->hide_stmt;	/* errhidestmt() */
		int			answer = 1; /* key_setter_answer() */
		bool		unknown_stmt;
		const char *redacted_text = "[redacted: contained a tenant_rls signing key]";
		/*
		 * EXECUTE of a prepared statement: log_statement gives its text as
		 * the detail ("prepare: PREPARE p AS ... signing_key ... $1") and the
		 * EXECUTE, which does not mention the setting, carries the key.
		 */
		bool		prepared_mentions_key = edata->detail != NULL &&
			strncmp(edata->detail, "prepare: ", 9) == 0 &&
			mentions(edata->detail, "signing_key");
		bool		stmt_mentions_key;
		bool		params_mention_key = edata->detail != NULL &&
			strncmp(edata->detail, "parameters: ", 12) == 0 &&
			mentions(edata->detail, "signing_key");
		/*
		 * A statement run inside another (EXECUTE in a DO block, a
		 * procedure that rotates the key) comes as the CONTEXT ("SQL
		 * statement "ALTER SYSTEM SET tenant_rls.signing_key = '...'"", or
		 * "... with parameters: ...") or the QUERY of an error (review
		 * rev30b): where it names the setting, the new key may follow.
		 */
		bool		context_mentions_key = edata->context != NULL &&
			mentions(edata->context, "signing_key");
		bool		query_mentions_key = edata->internalquery != NULL &&
			mentions(edata->internalquery, "signing_key");

		statement_facts();
		stmt_mentions_key = prepared_mentions_key || facts_mentions_key;

		if (stmt_mentions_key || params_mention_key || context_mentions_key ||
			query_mentions_key)
		{
			bool		safe = is_statement_log(edata);

			/* the statement and its parameters: of the role that sent them */
			answer = statement_role_answer(safe);
			if (answer == 0)
				stmt_mentions_key = params_mention_key = prepared_mentions_key = false;
			/*
			 * A nested statement: its code's role too (a superuser's
			 * SECURITY DEFINER function that sets a key, called by anyone)
			 */
			if (answer == 0 && (context_mentions_key || query_mentions_key) &&
				key_setter_answer(safe) == 0)
				context_mentions_key = query_mentions_key = false;
		}
		/*
		 * Not known whether the role can set a key (no lookup here, see
		 * key_setter): what mentions the setting is left out as for a
		 * role that can, but the STATEMENT line is not simply dropped -- a
		 * role that cannot set a key would keep its statement out of the log
		 * that way, with a comment naming the setting.  Its text goes to
		 * the DETAIL masked so that no key can be in it
		 * (mask_unknown_role_statement()), below.  (Not for a text that
		 * holds a configured key: left out.)
		 */
		unknown_stmt = answer < 0 && !pg_hid_stmt && !is_statement_log(edata) &&
			!facts_contains_key && debug_query_string != NULL &&
			logs_statement(edata->elevel);

		if (edata->message != NULL &&
			strncmp(edata->message, "parameter \"tenant_rls.signing_key", 33) == 0 &&
			strstr(edata->message, "changed to") != NULL)
			edata->message = redacted(edata, edata->message, "parameter \"tenant_rls.signing_key\" (or signing_key_previous) changed");
		if (stmt_mentions_key)
		{
			/* log_statement, log_min_duration_statement, bind parameters */
			edata->hide_stmt = true;
			if (edata->message != NULL &&
				(strncmp(edata->message, "statement: ", 11) == 0 ||
				 strncmp(edata->message, "execute ", 8) == 0 ||
				 strncmp(edata->message, "duration: ", 10) == 0))
				edata->message = redacted(edata, edata->message, "statement: [not logged: it mentions tenant_rls.signing_key]");
			if (edata->detail != NULL && strncmp(edata->detail, "parameters: ", 12) == 0)
				edata->detail = redacted(edata, edata->detail, "parameters: [not logged]");
			if (prepared_mentions_key)
				edata->detail = redacted(edata, edata->detail, "prepare: [not logged: it mentions tenant_rls.signing_key]");
		}
		/*
		 * The setting's name can come as a bind parameter too ("SELECT
		 * set_config($1, $2, false)"): the statement text then does not
		 * mention it, but the logged parameters (log_statement,
		 * log_min_duration_statement: DETAIL "parameters: ...";
		 * log_parameter_max_length_on_error: CONTEXT "... with
		 * parameters: ...") carry the name and the new key, which is not
		 * configured yet, so the rule below cannot recognise it.
		 */
		if (params_mention_key)
		{
			edata->hide_stmt = true;
			edata->detail = redacted(edata, edata->detail, "parameters: [not logged: they mention tenant_rls.signing_key]");
		}
		if (context_mentions_key)
		{
			/*
			 * (the statement that called it too: it may pass the key to a
			 * function that sets it)
			 */
			edata->hide_stmt = true;
			edata->context = redacted(edata, edata->context, "[not logged: it mentions tenant_rls.signing_key]");
		}
		if (query_mentions_key)
		{
			edata->hide_stmt = true;
			edata->internalquery = redacted(edata, edata->internalquery, "[not logged: it mentions tenant_rls.signing_key]");
			edata->internalpos = 0;
		}
		/*
		 * The messages of a statement that names the setting quote parts of
		 * its text: the lexeme of a syntax error ("syntax error at or near
		 * "'<key>'"", "unterminated quoted string at or near ..."), an
		 * unquoted key read as a name ("column "<key>" does not exist",
		 * "identifier "<key>" will be truncated"): what they quote is
		 * masked (review rev52b: a key-setting statement with a typo logged
		 * the new key in its ERROR line).  A role not known: only for a
		 * mention outside comments (see mask_unknown_role_statement()).
		 */
		if (facts_mentions_key && debug_query_string != NULL &&
			(answer > 0 ||
			 (answer < 0 && mention_in_code(debug_query_string, 0,
											strlen(debug_query_string)) >= 0)))
		{
			mask_quoted(edata->message);
			mask_quoted(edata->detail);
		}
		if (facts_contains_key)
			edata->hide_stmt = true;
		if (contains_key(edata->message))
			edata->message = redacted(edata, edata->message, redacted_text);
		if (contains_key(edata->detail))
			edata->detail = redacted(edata, edata->detail, redacted_text);
		if (contains_key(edata->detail_log))
			edata->detail_log = redacted(edata, edata->detail_log, redacted_text);
		if (contains_key(edata->hint))
			edata->hint = redacted(edata, edata->hint, redacted_text);
		if (contains_key(edata->context))
			edata->context = redacted(edata, edata->context, redacted_text);
		if (contains_key(edata->internalquery))
			edata->internalquery = redacted(edata, edata->internalquery, redacted_text);

		/*
		 * Tokens, by their form, in every part of every message: a token
		 * bound as a parameter (log_statement's "parameters: $1 = '...'"),
		 * in a logged statement ("statement: ..."), quoted by an error.  The
		 * STATEMENT line comes from debug_query_string, which cannot be
		 * changed here: a statement that holds a token is left out and its
		 * masked text goes to the server log's DETAIL instead.
		 */
		mask_log_text(edata->message);
		mask_log_text(edata->detail);
		mask_log_text(edata->detail_log);
		mask_log_text(edata->hint);
		mask_log_text(edata->context);
		mask_log_text(edata->internalquery);
		refused = token_refused && edata->elevel >= ERROR;
		if (refused)
		{
			/*
			 * (the error of a refused token, see token_error(): its own
			 * texts quote no token, the statement texts may)
			 */
			token_refused = false;
			mask_token_runs(edata->context);
			mask_token_runs(edata->internalquery);
		}
		if (unknown_stmt && edata->hide_stmt)
			statement_to_detail(edata, "statement, masked (the role was not checked): ",
								false, true);
		else if (!edata->hide_stmt && debug_query_string != NULL &&
				 logs_statement(edata->elevel) && (facts_token || refused))
			statement_to_detail(edata, "statement, tokens masked: ", refused, false);

		/*
		 * A statement that fails before it runs (a syntax error, an unknown
		 * table) never reaches the hooks that mask pg_stat_activity below,
		 * and the session then shows its text while it stays idle.
		 */
		if (edata->elevel == ERROR && debug_query_string != NULL &&
			pgstat_track_activities)
		{
			size_t		len = strlen(debug_query_string);
			long		m = after_mention(debug_query_string, 0, len);
			int			can = m >= 0 ? statement_role_answer(false) : 0;
			bool		tokens = mentions_token_fn(debug_query_string, 0, len);
			int			consts = activity_consts(tokens);

			/* the role not known: masked as in the log (above) */
			if (can < 0)
			{
				m = mention_in_code(debug_query_string, 0, len);
				consts = MASK_VALUES;
			}
			else if (can == 0)
				m = -1;
			if (m >= 0 || can < 0 || tokens || tenant_rls_mask_activity_values ||
				mask_token_shapes(debug_query_string, NULL, 0, 0, len, '*'))
				mask_activity(debug_query_string, m, consts, 0, len, UINT64CONST(0));
		}
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* ---------------------------------------------------------------------
 * Keeping the key out of pg_stat_activity and pg_stat_statements
 *
 * pg_stat_activity shows the text of a session's last statement for as long
 * as the session stays idle, to the session's role and to pg_read_all_stats
 * (pg_monitor, usually a monitoring agent); pg_stat_statements keeps the text
 * of utility statements (ALTER SYSTEM, SET, DO, EXPLAIN, CREATE TABLE AS,
 * COPY, ...) verbatim.  So a statement that mentions the key settings gets
 * its text masked: before it runs, pg_stat_activity is given the text with
 * everything after the setting's name replaced by '*'; and utility
 * statements pass the next ProcessUtility hook (pg_stat_statements when it
 * is listed before tenant_rls in shared_preload_libraries, pgaudit, ...) the
 * same masked text.
 * Masking keeps every byte offset, so error positions stay right; the values
 * themselves come from the parse tree, never from the text.
 * ---------------------------------------------------------------------
 */

static ProcessUtility_hook_type token_prev_ProcessUtility = NULL;
static ExecutorStart_hook_type token_prev_ExecutorStart = NULL;
static ExecutorRun_hook_type token_prev_ExecutorRun = NULL;
static ExecutorEnd_hook_type token_prev_ExecutorEnd = NULL;
static post_parse_analyze_hook_type token_prev_post_parse_analyze = NULL;
static planner_hook_type token_prev_planner = NULL;

static bool
is_key_setting(const char *name)
{
	return name != NULL &&
		(pg_strcasecmp(name, key_setting_name[KEY_CURRENT]) == 0 ||
		 pg_strcasecmp(name, key_setting_name[KEY_PREVIOUS]) == 0);
}

/*
 * Offset just after the first "signing_key" (any case) in s[from, to), or -1.
 * Runs for every top-level statement: it looks for '_' with memchr() and
 * compares around it.
 */
static long
after_mention(const char *s, size_t from, size_t to)
{
	const char *p = s + from;
	const char *end = s + to;

	while (p < end && (p = memchr(p, '_', end - p)) != NULL)
	{
		if (p - s >= (long) from + 7 && end - p >= 4 &&
			pg_strncasecmp(p - 7, "signing", 7) == 0 &&
			pg_strncasecmp(p + 1, "key", 3) == 0)
		{
			/* the whole name: signing_key_previous too */
			p += 4;
			if (end - p >= 9 && pg_strncasecmp(p, "_previous", 9) == 0)
				p += 9;
			return (long) (p - s);
		}
		p++;
	}
	return -1;
}

/* s[from, to) with every byte that is not white space replaced by '*' */
static void
mask_range(char *s, size_t from, size_t to)
{
	for (size_t i = from; i < to && s[i] != '\0'; i++)
		if (!isspace((unsigned char) s[i]))
			s[i] = '*';
}

/* ---------------------------------------------------------------------
 * Tokens in statement texts
 *
 * pg_stat_activity shows a session's statement, and while the session is
 * idle its last one, to every session of the same role -- usually the one
 * application role all tenants share, i.e. exactly where injected SQL runs.
 * A token passed as a literal, SELECT tenant_rls.set_tenant_signed('...'),
 * stayed readable there (valid for minutes, in any session); so did it in
 * pg_stat_statements for utility statements (EXPLAIN, DO, CALL, ...), which
 * that module keeps verbatim and shows to the role that ran them.  So for
 * every role a top-level statement that names set_tenant_signed gets its
 * string constants and comments masked in pg_stat_activity and in the text
 * utility statements pass to the next ProcessUtility hook (the token may be
 * an argument, or a constant the call reads), and so do the arguments of
 * EXECUTE of a statement prepared to call it.  Only those: a small lexer
 * skips comments, quoted identifiers and string constants (and looks into
 * dollar-quoted bodies of DO blocks and functions, where the code stays
 * readable), so naming the function hides the statement's constants, never
 * the statement itself.
 * ---------------------------------------------------------------------
 */

#define TOKEN_FN		"set_tenant_signed"
#define TOKEN_FN_LEN	17

/* whether s[from, to) contains "set_tenant_signed" in any case: cheap, for every statement */
static bool
mentions_token_fn(const char *s, size_t from, size_t to)
{
	const char *p = s + from;
	const char *end = s + to;

	while (p < end && (p = memchr(p, '_', end - p)) != NULL)
	{
		/* the first '_' of the name, "set" before it */
		if (p - s >= (long) from + 3 && end - (p - 3) >= TOKEN_FN_LEN &&
			pg_strncasecmp(p - 3, TOKEN_FN, TOKEN_FN_LEN) == 0)
			return true;
		p++;
	}
	return false;
}

static bool
ident_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '$' || IS_HIGHBIT_SET(c);
}

/*
 * If s[i] starts a comment, a string constant (also E'...' and $tag$...$tag$)
 * or a quoted identifier: the offset just after it (to, if it does not end
 * before).  Otherwise i.
 */
static size_t
skip_quoted(const char *s, size_t i, size_t to)
{
	char		c = s[i];

	if (c == '-' && i + 1 < to && s[i + 1] == '-')
	{
		while (i < to && s[i] != '\n')
			i++;
		return i;
	}
	if (c == '/' && i + 1 < to && s[i + 1] == '*')
	{
		int			depth = 0;

		while (i < to)
		{
			if (s[i] == '/' && i + 1 < to && s[i + 1] == '*')
			{
				depth++;
				i += 2;
			}
			else if (s[i] == '*' && i + 1 < to && s[i + 1] == '/')
			{
				i += 2;
				if (--depth == 0)
					return i;
			}
			else
				i++;
		}
		return to;
	}
	if (c == '\'' || c == '"')
	{
		/* backslash escapes: E'...', and '...' too without standard_conforming_strings */
		bool		escapes = c == '\'' &&
			((i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
			  (i < 2 || !ident_char(s[i - 2]))) ||
			 !standard_conforming_strings);

		for (i++; i < to; i++)
		{
			if (escapes && s[i] == '\\')
				i++;
			else if (s[i] == c)
			{
				if (i + 1 < to && s[i + 1] == c)
					i++;		/* doubled: part of the text */
				else
					return i + 1;
			}
		}
		return to;
	}
	if (c == '$' && (i == 0 || !ident_char(s[i - 1])))
	{
		size_t		t = i + 1;

		/* $tag$, the tag an identifier without '$' (not $1, a parameter) */
		if (t < to && (isalpha((unsigned char) s[t]) || s[t] == '_' || IS_HIGHBIT_SET(s[t])))
			while (t < to && s[t] != '$' && ident_char(s[t]))
				t++;
		if (t < to && s[t] == '$')
		{
			size_t		taglen = t - i + 1;

			for (size_t j = t + 1; j + taglen <= to; j++)
				if (s[j] == '$' && memcmp(s + j, s + i, taglen) == 0)
					return j + taglen;
			return to;
		}
	}
	return i;
}

/*
 * The delimiters of the lexeme src[i, j) that skip_quoted() found: how many
 * bytes open it and close it (0: it does not end).
 */
static void
quoted_delimiters(const char *src, size_t i, size_t j, size_t *open, size_t *close)
{
	*open = 1;
	*close = 0;
	if (src[i] == '-')
		*open = 2;				/* a line comment ends with the newline, outside it */
	else if (src[i] == '/')
	{
		*open = 2;
		if (j - i >= 4 && src[j - 2] == '*' && src[j - 1] == '/')
			*close = 2;
	}
	else if (src[i] == '$')
	{
		const char *t = memchr(src + i + 1, '$', j - i - 1);

		*open = t ? (size_t) (t - (src + i)) + 1 : j - i;
		if (j - i >= 2 * *open && memcmp(src + j - *open, src + i, *open) == 0)
			*close = *open;
	}
	else if (j - i >= 2 && src[j - 1] == src[i])
		*close = 1;
}

/*
 * Past what starts at src[i] outside quotes: a word whole (the '$' of "a$b"
 * or "$1" opens nothing), else one character.
 */
static inline size_t
past_unquoted(const char *src, size_t i, size_t to)
{
	size_t		j = i;

	if (ident_char(src[i]))
		while (j < to && ident_char(src[j]))
			j++;
	return Max(j, i + 1);
}

/*
 * Masks src[from, to) into dst from offset m on so that the text still lexes
 * as it did: the contents of string constants, quoted identifiers and
 * comments become '*' (their delimiters stay), and with words, the letters
 * of unquoted words become 'x' and their digits '0', numbers all '0' (but
 * not the E, B, X, U& or N in front of a string constant).  The text utility statements pass on
 * is lexed again: pg_stat_statements finds the lengths of constants with
 * the scanner, and a quote or a long run of '*' (an operator) made by plain
 * masking ends in "unterminated quoted string" or "operator too long".
 * from must be the start of a statement or of a parenthesised list.
 */
static void
mask_lexically(const char *src, char *dst, size_t from, size_t m, size_t to, bool words)
{
	size_t		i = from;

	while (i < to)
	{
		size_t		j = skip_quoted(src, i, to);

		if (j != i)
		{
			size_t		open;
			size_t		close;

			quoted_delimiters(src, i, j, &open, &close);
			for (size_t k = Max(i + open, m); k + close < j; k++)
				if (!isspace((unsigned char) src[k]))
					dst[k] = '*';
			i = j;
		}
		else if (ident_char(src[i]))
		{
			while (j < to && ident_char(src[j]))
				j++;
			if (words && !(j < to && (src[j] == '\'' || src[j] == '&')))
			{
				/* a number stays one: all digits ("1.5e3" is not "0.0x0") */
				bool		number = isdigit((unsigned char) src[i]);

				for (size_t k = Max(i, m); k < j; k++)
					if (number || isdigit((unsigned char) src[k]))
						dst[k] = '0';
					else if (isalpha((unsigned char) src[k]) || IS_HIGHBIT_SET(src[k]))
						dst[k] = 'x';
			}
			i = j;
		}
		else
			i++;
	}
}

/*
 * The parenthesised list that starts at src[p] == '(': the contents of the
 * string constants (and quoted identifiers, comments) in it become '*' in
 * dst, lexically as above.  Returns the offset after its closing
 * parenthesis (to, if it has none before).
 */
static size_t
mask_parens(const char *src, char *dst, size_t p, size_t to)
{
	int			depth = 0;
	size_t		i = p;

	while (i < to)
	{
		size_t		j = skip_quoted(src, i, to);

		if (j != i)
		{
			i = j;
			continue;
		}
		if (src[i] == '(')
			depth++;
		else if (src[i] == ')' && --depth == 0)
			break;
		i++;
	}
	mask_lexically(src, dst, p + 1, p + 1, i, false);
	return i < to ? i + 1 : to;
}

/*
 * How deep mask_constants() looks into dollar-quoted bodies: a DO block, a
 * function created in one, a string EXECUTEd there; deeper ones, and one
 * that does not end, are masked whole.  Each level scans its body again: a
 * statement of thousands of nested or unterminated tags, looked into one by
 * one, took minutes, deaf to cancellation, and overflowed the stack (any
 * login role could crash the server with one statement naming the
 * function).  So the masking is linear in the length of the text.
 */
#define TOKEN_MASK_MAX_DEPTH 3

/* a character of a token (base64url) */
static bool
token_char(char c)
{
	return isalnum((unsigned char) c) || c == '-' || c == '_';
}

/*
 * A token is longer than this (its MAC alone is 43 characters of
 * base64url): inside a dollar-quoted body, a run of that many token
 * characters is masked, code or not (a token in a $q$...$q$ constant of a
 * DO block reads as code).
 */
#define TOKEN_MIN_CHARS 43

/* the word that ends just before src[i] (white space skipped), within [from, i) */
static size_t
word_before(const char *src, size_t from, size_t i, size_t *start)
{
	size_t		end = i;

	while (end > from && isspace((unsigned char) src[end - 1]))
		end--;
	*start = end;
	while (*start > from && ident_char(src[*start - 1]))
		(*start)--;
	return end - *start;
}

static bool
word_is(const char *src, size_t start, size_t len, const char *word)
{
	return len == strlen(word) && pg_strncasecmp(src + start, word, len) == 0;
}

/*
 * Whether the dollar-quoted constant at src[i] is code (read for its
 * constants, as a body): after DO, DO LANGUAGE name, or AS (CREATE FUNCTION
 * or PROCEDURE ... AS $$...$$).  Elsewhere it is a value.
 */
static bool
dollar_body_is_code(const char *src, size_t from, size_t i)
{
	size_t		start;
	size_t		len = word_before(src, from, i, &start);
	size_t		start2;
	size_t		len2;

	if (word_is(src, start, len, "do") || word_is(src, start, len, "as"))
		return true;
	len2 = word_before(src, from, start, &start2);
	return len > 0 && word_is(src, start2, len2, "language");
}

/*
 * The contents of the string constants and comments in src[from, to) become
 * '*' in dst (delimiters kept, so the text lexes as before); a dollar-quoted
 * body that ends is looked into instead, to TOKEN_MASK_MAX_DEPTH (the code
 * of a DO block stays readable, its constants and anything that could be a
 * token do not), one that does not is masked whole.  With numbers
 * (tenant_rls.mask_activity_values) numbers are masked too, and a
 * dollar-quoted constant of the statement itself is looked into only where
 * it is code (dollar_body_is_code()), else masked whole: $q$a value$q$.
 */
static void
mask_constants(const char *src, char *dst, size_t from, size_t to, int depth,
			   bool numbers)
{
	size_t		i = from;

	while (i < to)
	{
		size_t		j = skip_quoted(src, i, to);
		size_t		open;
		size_t		close;

		if (j == i)
		{
			/* inside a body, a run of token characters as long as a token */
			if (depth > 0 && token_char(src[i]))
			{
				while (j < to && token_char(src[j]))
					j++;
				if (j - i >= TOKEN_MIN_CHARS)
					memset(dst + i, '*', j - i);
				else if (numbers)
				{
					/* the numbers in it ("-" is a token character: i-42) */
					for (size_t k = i; k < j; k++)
						if (isdigit((unsigned char) src[k]) && (k == 0 || !ident_char(src[k - 1])))
							for (; k < j && (ident_char(src[k]) || src[k] == '.'); k++)
								dst[k] = '*';
				}
				i = j;
				continue;
			}
			/* a number (tenant_rls.mask_activity_values): '*' */
			if (numbers && isdigit((unsigned char) src[i]))
			{
				while (j < to && (ident_char(src[j]) || src[j] == '.'))
					j++;
				memset(dst + i, '*', j - i);
				i = j;
				continue;
			}
			i = past_unquoted(src, i, to);
			continue;
		}
		quoted_delimiters(src, i, j, &open, &close);
		if (src[i] == '"')
			;					/* a quoted identifier: names, not values */
		else if (src[i] == '$' && close > 0 && depth < TOKEN_MASK_MAX_DEPTH &&
				 (!numbers || depth > 0 || dollar_body_is_code(src, from, i)))
			mask_constants(src, dst, i + open, j - close, depth + 1, numbers);
		else
			for (size_t k = i + open; k + close < j; k++)
				if (!isspace((unsigned char) src[k]))
					dst[k] = '*';
		i = j;
	}
}

/*
 * The string constants before a mention of the key setting, which ends at
 * m, become '*' in dst (of dst_len bytes): a key may come before the
 * name (DO $$ DECLARE k text := '<key>'; BEGIN PERFORM set_config(
 * 'tenant_rls.signing_key', k, false); ..., WITH k(v) AS (VALUES ('<key>'))
 * SELECT set_config(..., v, ...), review rev30b).  The constant that holds
 * the mention keeps its text (the name stays readable, and a PREPAREd
 * statement's text still mentions the setting); a dollar-quoted body that
 * holds it is looked into.  Delimiters are kept: the text lexes as before.
 */
static void
mask_constants_before(const char *src, char *dst, size_t dst_len, size_t from,
					  size_t m, size_t to, int depth)
{
	size_t		i = from;

	while (i < m)
	{
		size_t		j = skip_quoted(src, i, to);
		size_t		open;
		size_t		close;

		if (j == i)
		{
			i = past_unquoted(src, i, to);
			continue;
		}
		quoted_delimiters(src, i, j, &open, &close);
		if (j >= m)
		{
			/* the constant that holds the mention */
			if (src[i] == '$' && close > 0 && depth < TOKEN_MASK_MAX_DEPTH)
				mask_constants_before(src, dst, dst_len, i + open, m, j - close, depth + 1);
			return;
		}
		/* not a quoted identifier (names) nor a comment (the statement's marks) */
		if (src[i] != '"' && src[i] != '-' && src[i] != '/')
			for (size_t k = i + open; k + close < j && k < dst_len; k++)
				if (!isspace((unsigned char) src[k]))
					dst[k] = '*';
		i = j;
	}
}

/*
 * For a statement src[from, to) that names set_tenant_signed anywhere (a
 * call, a string EXECUTEd later, a comment): its constants and comments.
 * from must be the start of a statement.
 */
static void
mask_token_args(const char *src, char *dst, size_t from, size_t to)
{
	mask_constants(src, dst, from, to, 0, false);
}

/*
 * Tokens by their form, whatever the statement names: a token passed to a
 * function or procedure of the application's (CALL app.login('...')), bound
 * as a parameter that log_statement logs, quoted in an error message.  Every
 * substring of src[from, to) that is a token by its form alone
 * (token_shape_len(): version, length field and length agree) becomes fill
 * ('*') in dst, when dst is not NULL (dst may be src), as far as dst holds (dst_len bytes: a token the
 * end of the copy cuts is recognised whole in src, and its part in dst
 * masked).  Returns whether there was one.
 *
 * A token starts with "A" and one of 'g' .. 'v' (its first byte is the
 * version, 2): memchr() finds the candidates, so a text without one costs a
 * memchr() pass; each run of base64url characters is measured once.  The
 * first character is left when a '/' precedes it and the last when a '/'
 * follows, so that masking inside a comment opens or closes none ("/ *",
 * "* /"); they say nothing (the first is always 'A').
 */
static bool
mask_token_shapes(const char *src, char *dst, size_t dst_len, size_t from, size_t to,
				  char fill)
{
	const char *p = src + from;
	const char *end = src + to;
	const char *run_end = p;	/* where the run of token characters at p ends */
	bool		found = false;

	while (end - p >= TOKEN_MIN_ENCODED &&
		   (p = memchr(p, 'A', end - p - TOKEN_MIN_ENCODED + 1)) != NULL)
	{
		size_t		len;

		if (p[1] < 'g' || p[1] > 'v')
		{
			p++;
			continue;
		}
		if (run_end <= p)
			for (run_end = p; run_end < end && token_char(*run_end); run_end++)
				;
		len = token_shape_len(p, (size_t) (run_end - p));
		if (len == 0)
		{
			p++;
			continue;
		}
		found = true;
		if (dst != NULL)
		{
			size_t		i = p - src;
			size_t		j = i + len;

			if (i > 0 && src[i - 1] == '/')
				i++;
			if (j < to && src[j] == '/')
				j--;
			j = Min(j, dst_len);
			if (i < j)
				memset(dst + i, fill, j - i);
		}
		p += len;
	}
	return found;
}

/*
 * The pieces of a token that a log message cut, masked in place in text:
 * PostgreSQL shortens values in some messages ("Failing row contains (...)"
 * keeps 64 bytes of each value, log_parameter_max_length, the JSON error
 * context keeps the end of the line after "..."), and a piece that lacks
 * only a few characters of the MAC can be completed by trying them with
 * set_tenant_signed().  Masked: a run of base64url characters that begins
 * with a token's header (its first 20 characters decode to version, key id,
 * expiry and a tenant length in range) but is shorter than the token that
 * header announces (also inside a longer run: 'x' || token), and a run of
 * TOKEN_FRAGMENT_CHARS or more that follows "..." (the end of a token, with
 * its MAC: 42 of its 43 characters were completed in seconds; 20 leave 23,
 * 138 bits, to guess).
 */
#define TOKEN_FRAGMENT_CHARS 20

static void
mask_token_fragments(char *text)
{
	scan_token_fragments(text, true);
}

/*
 * The string constant passed to set_tenant_signed() (a "statement:" line of
 * log_statement is logged before the call can refuse what it holds: a token
 * cut at its start has no shape to recognise), masked in place whatever it
 * holds: 'text' and E'text' (a doubled or escaped quote does not end it).
 */
static void
mask_signed_literals(char *text)
{
	static const char name[] = "set_tenant_signed";
	char	   *p = text;

	while ((p = strcasestr(p, name)) != NULL)
	{
		char	   *q = p + sizeof(name) - 1;
		bool		escapes = false;

		p = q;
		while (isspace((unsigned char) *q))
			q++;
		if (*q++ != '(')
			continue;
		while (isspace((unsigned char) *q))
			q++;
		if (*q == 'E' || *q == 'e')
		{
			escapes = true;
			q++;
		}
		if (*q != '\'')
			continue;
		for (q++; *q != '\0'; q++)
		{
			if (escapes && *q == '\\' && q[1] != '\0')
			{
				*q++ = '*';
				*q = '*';
				continue;
			}
			if (*q == '\'')
			{
				if (q[1] != '\'')
					break;
				*q++ = '*';
			}
			*q = '*';
		}
		p = q;
	}
}

/*
 * After a refused token: every run of TOKEN_FRAGMENT_CHARS or more token
 * characters in text masked in place, whatever it starts with.
 */
static void
mask_token_runs(char *text)
{
	char	   *p = text;

	if (text == NULL)
		return;
	while (*p != '\0')
	{
		char	   *q = p;

		while (token_char(*q))
			q++;
		if (q - p >= TOKEN_FRAGMENT_CHARS)
			memset(p, '*', q - p);
		p = (q == p) ? p + 1 : q;
	}
}

/*
 * mask_token_fragments()'s work: whether text holds a piece of a token, and
 * with mask, each one masked in place.
 */
static bool
scan_token_fragments(char *text, bool mask)
{
	char	   *p = text;
	bool		found = false;

	while (*p != '\0')
	{
		char	   *q = p;
		size_t		declared;

		if (!token_char(*p))
		{
			p++;
			continue;
		}
		while (token_char(*q))
			q++;
		if (q - p >= TOKEN_FRAGMENT_CHARS && p - text >= 3 && strncmp(p - 3, "...", 3) == 0)
		{
			found = true;
			if (mask)
				memset(p, '*', q - p);
		}
		else
		{
			/* a token's start anywhere in the run ('x' || token, cut) */
			for (char *a = p; q - a >= 20; a++)
			{
				if (a[0] != 'A' || a[1] < 'g' || a[1] > 'v')
					continue;
				declared = token_declared_len(a, (size_t) (q - a));
				if (declared > 0 && (size_t) (q - a) < declared)
				{
					found = true;
					if (mask)
						memset(a, '*', q - a);
					break;
				}
			}
		}
		p = q;
	}
	return found;
}

/*
 * mask_token_shapes() for a text the next hooks get: pg_stat_statements lexes
 * it again to find its constants.  Inside string constants, quoted
 * identifiers and comments a token becomes '*'; outside them a word of
 * that form (an identifier) becomes 'x's, since a run of '*' there is an
 * operator ("operator too long").
 */
static bool
mask_token_shapes_lexically(const char *src, char *dst, size_t from, size_t to)
{
	size_t		i = from;
	size_t		plain = from;	/* start of the text outside quotes */
	bool		found = false;

	while (i < to)
	{
		size_t		j = skip_quoted(src, i, to);
		size_t		open;
		size_t		close;

		if (j == i)
		{
			i = past_unquoted(src, i, to);
			continue;
		}
		if (i > plain)
			found |= mask_token_shapes(src, dst, to, plain, i, 'x');
		quoted_delimiters(src, i, j, &open, &close);
		if (i + open < j - close)
			found |= mask_token_shapes(src, dst, to, i + open, j - close, '*');
		i = plain = j;
	}
	if (to > plain)
		found |= mask_token_shapes(src, dst, to, plain, to, 'x');
	return found;
}

/*
 * The copy of a query string that the hooks after tenant_rls get, masked
 * (ProcessUtility, post_parse_analyze: pg_stat_statements keeps what they
 * get).  The top-level string has one copy while it runs, masked statement
 * by statement: a copy of the whole string for each statement made a string
 * of many made it quadratic (64,000 CALLs of 5 MB in all took 30 s).  It is
 * kept until another top-level string needs one, never freed under a
 * statement of its own string, nor while a call of the next hooks has it
 * (a procedure's COMMIT), and freed at the end of a transaction otherwise; a
 * string a hook gets that is not the
 * top-level one (a procedure's statement, a sub-command of CREATE SCHEMA
 * that gets the masked copy) gets a copy of its own.
 */
/* a top-level string was scanned whole at this statement start */
static TimestampTz checked_start = 0;

static char *hook_text = NULL;	/* in TopMemoryContext */
static char *hook_raw = NULL;	/* the text it was copied from (same block) */
static size_t hook_len = 0;
static const char *hook_source = NULL;
static TimestampTz hook_start = 0;
static int	hook_in_use = 0;	/* calls of the next hooks that have it */

/*
 * Texts up to this length are compared whole before their copy is reused;
 * longer ones in the statement's range only (a string of many statements
 * would be read once per statement).
 */
#define HOOK_WHOLE_COMPARE 65536

/*
 * At a transaction's end: a large string's copy is not kept for the
 * session's life.  Not while its own string still runs (a COMMIT between its
 * statements: each later statement would copy the whole string again); so
 * it goes at the end of the next transaction.
 */
static void
hook_copy_release(void)
{
	if (hook_text != NULL && hook_in_use == 0 &&
		(hook_source != debug_query_string ||
		 hook_start != GetCurrentStatementStartTimestamp()))
	{
		pfree(hook_text);
		hook_text = NULL;
		hook_raw = NULL;
		hook_source = NULL;
	}
}

/* (a string that is not the top-level one gets a copy of its own: pstrdup) */
static char *
hook_copy(const char *text, size_t from, size_t to)
{
	size_t		len;

	/*
	 * The same string's copy: same address and statement start time, and
	 * the same bytes (the whole text when it is short, else the statement's
	 * range).  Address and start time alone are not enough: the next client
	 * message reuses the input buffer, and a coarse clock gives it the same
	 * start time, which gave pg_stat_statements the previous string's text.
	 */
	if (hook_text != NULL && hook_source == text &&
		hook_start == GetCurrentStatementStartTimestamp())
	{
		if (hook_len <= HOOK_WHOLE_COMPARE)
		{
			if (strncmp(text, hook_raw, hook_len + 1) == 0)
				return hook_text;
		}
		else if (to <= hook_len && from <= to &&
				 memcmp(text + from, hook_raw + from, to - from) == 0)
			return hook_text;
	}
	if (hook_text != NULL && hook_in_use == 0)
		pfree(hook_text);		/* (in use: left to the session's memory) */
	len = strlen(text);
	hook_text = MemoryContextAlloc(TopMemoryContext, 2 * (len + 1));
	hook_raw = hook_text + len + 1;
	memcpy(hook_text, text, len + 1);
	memcpy(hook_raw, text, len + 1);
	hook_len = len;
	hook_source = text;
	hook_start = GetCurrentStatementStartTimestamp();
	return hook_text;
}

/*
 * The text pg_stat_activity shows for the current top-level query string,
 * as masked so far: one copy per string while its statements run, so that
 * what one statement of a multi-statement string masked stays masked when a
 * later one masks something else.  A new string is recognised by its
 * address, the statement start time (set per client message) and the
 * statement's own bytes.  The same text again (the next Bind or
 * Execute of a prepared statement, the same query sent again) is recognised
 * by its bytes (activity_raw) and gets the same masked copy.
 */
static char *activity_text = NULL;	/* in TopMemoryContext */
static char *activity_raw = NULL;	/* the text it was copied from (same block) */
static size_t activity_len = 0;
static bool activity_whole = false;	/* the whole text was copied */
static bool activity_scs = true;	/* standard_conforming_strings it was masked under */
static const char *activity_source = NULL;
static TimestampTz activity_start = 0;

/*
 * What mask_activity() last masked in activity_text (valid while that copy
 * is reused): a statement's hooks (parse analysis, planning, ExecutorStart,
 * ExecutorRun) each ask for the same masking, and only the extended
 * protocol's Bind and Execute make PostgreSQL report the plain text again.
 */
static bool activity_masked = false;
static uint64 activity_generation = 0;	/* of activity_text: new copy, new number */
static uint64 reported_generation = 0;	/* the copy mask_activity() last reported */
static TimestampTz reported_start = 0;	/* during the client message that started then */
static size_t masked_first = SIZE_MAX;	/* a byte of activity_text masked (note_masked()) */
static size_t masked_from;
static size_t masked_to;
static long masked_key_from;
static int	masked_consts;

/*
 * The copy for text, whose statement in progress is text[from, to): the
 * copy of the same string if that is it (same address and statement start
 * time, and the same bytes in that statement's range, or the same bytes
 * throughout), else a new one.  Within a string only the statement's own
 * range is compared, never the whole string: a string of thousands of
 * statements would be read once per statement.
 */
static char *
activity_copy(const char *text, size_t from, size_t to)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	size_t		len;

	/*
	 * Only what pg_stat_activity keeps (track_activity_query_size bytes):
	 * pgstat_report_activity() measures the whole text at each report, and a
	 * copy of the whole string made a string of many statements quadratic.
	 */
	if (activity_text != NULL && activity_source == text && activity_start == now &&
		(from >= Min(to, activity_len) ||
		 memcmp(activity_raw + from, text + from, Min(to, activity_len) - from) == 0))
		return activity_text;
	len = strnlen(text, (size_t) pgstat_track_activity_query_size);
	/*
	 * The same text again: only a text copied whole (a token across the
	 * copy's end is masked by what follows in the text, which a text cut
	 * there does not show), and lexed the same way (whether '\'' ends a
	 * constant depends on standard_conforming_strings).
	 */
	if (activity_text != NULL && activity_whole && text[len] == '\0' &&
		activity_scs == standard_conforming_strings &&
		len == activity_len && memcmp(text, activity_raw, len) == 0)
	{
		activity_source = text;
		activity_start = now;
		return activity_text;
	}
	if (activity_text != NULL)
		pfree(activity_text);
	activity_masked = false;
	/*
	 * It is made in the log hook too, which must not fail: NULL without
	 * memory (the caller clears pg_stat_activity's text instead).
	 */
	activity_text = MemoryContextAllocExtended(TopMemoryContext, 2 * (len + 1),
											   MCXT_ALLOC_NO_OOM);
	if (activity_text == NULL)
	{
		activity_raw = NULL;
		activity_len = 0;
		activity_source = NULL;
		return NULL;
	}
	activity_raw = activity_text + len + 1;
	memcpy(activity_text, text, len);
	activity_text[len] = '\0';
	memcpy(activity_raw, text, len);
	activity_raw[len] = '\0';
	activity_generation++;
	masked_first = SIZE_MAX;
	activity_len = len;
	activity_whole = text[len] == '\0';
	activity_scs = standard_conforming_strings;
	activity_source = text;
	activity_start = now;
	return activity_text;
}

/*
 * copy, the first copy_len bytes of src, with the statement src[from, to)
 * masked for pg_stat_activity: its constants and comments when it names
 * set_tenant_signed (consts MASK_STRINGS), and its numbers too with
 * tenant_rls.mask_activity_values (MASK_VALUES), its tokens by their form,
 * and everything after the key setting's name (key_from >= 0).  Nothing is
 * masked beyond copy_len.
 */
/*
 * The offset of the value of a SET statement src[from, to) (after its '='
 * or TO), or -1: SET [LOCAL | SESSION] name = value.  Unquoted, a value
 * reads as a word (SET app.current_tenant_id = acme).
 */
static long
set_value_from(const char *src, size_t from, size_t to)
{
	size_t		i = from;
	int			words = 0;

	for (;;)
	{
		size_t		j;

		while (i < to && isspace((unsigned char) src[i]))
			i++;
		if (i >= to)
			return -1;
		j = skip_quoted(src, i, to);
		if (j > i && (src[i] == '-' || src[i] == '/'))
		{
			i = j;				/* a comment */
			continue;
		}
		if (src[i] == '=')
			return words >= 2 ? (long) i + 1 : -1;
		if (j > i)
			i = j;				/* a quoted name */
		else if (ident_char(src[i]) || src[i] == '.')
		{
			for (j = i; j < to && (ident_char(src[j]) || src[j] == '.'); j++)
				;
			if (words == 0 && !(j - i == 3 && pg_strncasecmp(src + i, "set", 3) == 0))
				return -1;
			if (words >= 2 && j - i == 2 && pg_strncasecmp(src + i, "to", 2) == 0)
				return (long) j;
			i = j;
		}
		else
			return -1;
		if (++words > 4)
			return -1;
	}
}

static void
mask_statement_copy(const char *src, char *copy, size_t copy_len,
					size_t from, size_t to, long key_from, int consts)
{
	if (consts != MASK_NONE && from < copy_len)
		mask_constants(src, copy, from, Min(to, copy_len), 0, consts == MASK_VALUES);
	if (consts == MASK_VALUES && from < copy_len)
	{
		long		v = set_value_from(src, from, to);
		size_t		end = v >= 0 ? (size_t) v : to;

		/* to the statement's end (the first statement's range is the whole string) */
		while (end < to && src[end] != ';')
		{
			size_t		j = skip_quoted(src, end, to);

			end = j > end ? j : end + 1;
		}
		if (v >= 0 && (size_t) v < copy_len)
			mask_range(copy, (size_t) v, Min(end, copy_len));
	}
	mask_token_shapes(src, copy, copy_len, from, to, '*');
	if (key_from >= 0 && (size_t) key_from < copy_len)
	{
		mask_constants_before(src, copy, copy_len, from, (size_t) key_from, to, 0);
		mask_range(copy, (size_t) key_from, copy_len);
	}
}

/*
 * With tenant_rls.mask_activity_values and track_activities off (the role's
 * settings), PostgreSQL reports no text at all, and the masked copy is
 * reported here for as long as the statement runs (track_activities is on
 * only for this report): the text PostgreSQL reports when a message
 * arrives, before the hooks mask it, is then never seen.
 */
static inline bool
reporting_activity(void)
{
	return pgstat_track_activities || tenant_rls_mask_activity_values;
}

static void
report_activity(const char *copy, uint64 query_id)
{
	bool		saved = pgstat_track_activities;

	pgstat_track_activities = true;
	pgstat_report_activity(STATE_RUNNING, copy);
	if (query_id != UINT64CONST(0))
		pgstat_report_query_id(query_id, true);
	pgstat_track_activities = saved;
}

/*
 * What mask_activity() reported: this copy, during the current client
 * message.  PostgreSQL reports a statement's text when a message arrives
 * (Query, Parse, Bind, Execute; the statement start time is set then), never
 * later in the message: so while the statement start time is the same,
 * pg_stat_activity still shows the copy reported.
 */
static void
reported_activity(void)
{
	reported_generation = activity_generation;
	reported_start = GetCurrentStatementStartTimestamp();
}

static bool
shows_reported_copy(void)
{
	if (reported_generation != activity_generation ||
		reported_start != GetCurrentStatementStartTimestamp())
		return false;
	/*
	 * Two messages may start in the same microsecond: the copy still shows
	 * if a byte it masks does (the plain text has another one there).
	 */
	if (masked_first == SIZE_MAX)
		return true;			/* nothing masked: the copy is the text */
	return MyBEEntry != NULL && MyBEEntry->st_activity_raw[0] != '\0' &&
		MyBEEntry->st_activity_raw[masked_first] == activity_text[masked_first];
}

/* after masking activity_text in [from, to): remember its first masked byte */
static void
note_masked(size_t from, size_t to)
{
	for (size_t i = from; i < Min(to, activity_len) && i < masked_first; i++)
		if (activity_text[i] != activity_raw[i])
		{
			masked_first = i;
			break;
		}
}

/*
 * pg_stat_activity: the current top-level query string, masked after the
 * setting's name from key_from on (-1: not), and with the constants of the
 * statement [from, to) masked as consts says (activity_consts()).
 * pgstat_report_activity() clears the query id, which parse analysis had
 * reported already: query_id puts it back (0: none to put back).
 */
static void
mask_activity(const char *text, long key_from, int consts, size_t from, size_t to,
			  uint64 query_id)
{
	char	   *copy;

	if (text == NULL || !reporting_activity())
		return;
	copy = activity_copy(text, from, to);
	if (copy == NULL)
	{
		report_activity("", query_id);	/* no memory: no text rather than the raw one */
		return;
	}
	/*
	 * Masked the same way already (this statement's earlier hook, or the
	 * same text run before)?  Then only reported again, unless that is what
	 * pg_stat_activity shows: reported during this message, or the same
	 * text (PostgreSQL may have cut it, never at a difference).
	 */
	if (activity_masked && masked_from == from && masked_to == to &&
		masked_key_from == key_from && masked_consts == consts)
	{
		if (shows_reported_copy() ||
			(MyBEEntry != NULL && MyBEEntry->st_activity_raw[0] != '\0' &&
			 strncmp(MyBEEntry->st_activity_raw, copy, strlen(MyBEEntry->st_activity_raw)) == 0))
			return;
		report_activity(copy, query_id);
		reported_activity();
		return;
	}
	/*
	 * Another statement of a string whose copy pg_stat_activity shows, and
	 * its masking changes nothing (with tenant_rls.mask_activity_values the
	 * first statement's check covers the whole string, and masks it): not
	 * reported again (each report copies the whole text, up to
	 * track_activity_query_size, once per statement of the string).  The
	 * masking writes within the statement's range, except the key's, which
	 * runs to the copy's end.
	 */
	if (key_from < 0 && shows_reported_copy() && from < Min(to, activity_len))
	{
		size_t		n = Min(to, activity_len) - from;
		char	   *before = MemoryContextAllocExtended(CurrentMemoryContext, n,
														 MCXT_ALLOC_NO_OOM);

		if (before != NULL)
		{
			bool		changed;

			memcpy(before, copy + from, n);
			mask_statement_copy(text, copy, activity_len, from, to, key_from, consts);
			note_masked(from, to);
			changed = memcmp(before, copy + from, n) != 0;
			pfree(before);
			if (changed)
			{
				report_activity(copy, query_id);
				reported_activity();
			}
			goto masked;
		}
	}
	mask_statement_copy(text, copy, activity_len, from, to, key_from, consts);
	note_masked(from, key_from >= 0 ? activity_len : to);
	report_activity(copy, query_id);
	reported_activity();
masked:
	activity_masked = true;
	masked_from = from;
	masked_to = to;
	masked_key_from = key_from;
	masked_consts = consts;
}

/* A utility statement whose text carries a key value (or may). */
static bool
utility_sets_key(Node *n, bool *is_execute)
{
	*is_execute = false;
	switch (nodeTag(n))
	{
		case T_VariableSetStmt:
			return is_key_setting(((VariableSetStmt *) n)->name);
		case T_AlterSystemStmt:
			return is_key_setting(((AlterSystemStmt *) n)->setstmt->name);
		case T_AlterRoleSetStmt:
			return is_key_setting(((AlterRoleSetStmt *) n)->setstmt->name);
		case T_AlterDatabaseSetStmt:
			return is_key_setting(((AlterDatabaseSetStmt *) n)->setstmt->name);
		case T_DoStmt:
			return true;		/* masked only where its text mentions the key */
		case T_ExecuteStmt:
			{
				PreparedStatement *ps = FetchPreparedStatement(((ExecuteStmt *) n)->name, false);

				*is_execute = true;
				return ps != NULL && ps->plansource != NULL &&
					after_mention(ps->plansource->query_string, 0,
								  strlen(ps->plansource->query_string)) >= 0;
			}
		default:
			return false;
	}
}

/*
 * The byte range of one statement in a query string that may hold many: only
 * that range is scanned (the first statement scans the whole string, which
 * pg_stat_activity shows from the start), so a long multi-statement string
 * costs its length about twice, not once per statement.
 */
static void
stmt_range(const char *s, int location, int len, size_t *from, size_t *to)
{
	*from = location > 0 ? (size_t) location : 0;
	*to = len > 0 ? *from + (size_t) len : *from + strlen(s + *from);
}

/* EXECUTE of a statement whose text calls set_tenant_signed: the arguments may be tokens */
static bool
executes_token_fn(Node *n)
{
	PreparedStatement *ps;

	if (!IsA(n, ExecuteStmt))
		return false;
	ps = FetchPreparedStatement(((ExecuteStmt *) n)->name, false);
	return ps != NULL && ps->plansource != NULL &&
		mentions_token_fn(ps->plansource->query_string, 0,
						  strlen(ps->plansource->query_string));
}

/*
 * The top-level query string, if src is it: the same pointer (simple
 * protocol, Parse), or a copy of it (Bind and Execute run the portal's own
 * copy of the text, while debug_query_string, which pg_stat_activity got,
 * is the prepared statement's).
 */
static const char *
top_text(const char *src)
{
	if (src == NULL || debug_query_string == NULL)
		return NULL;
	if (src == debug_query_string || strcmp(src, debug_query_string) == 0)
		return debug_query_string;
	return NULL;
}

static void
next_ProcessUtility(PlannedStmt *pstmt, const char *text,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	if (token_prev_ProcessUtility)
		token_prev_ProcessUtility(pstmt, text, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, text, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * The same with the shared copy of the top-level string (hook_copy()): it
 * is not freed at a transaction's end while this call has it (a procedure's
 * COMMIT).
 */
static void
next_ProcessUtility_shared(PlannedStmt *pstmt, const char *text,
						   bool readOnlyTree, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc)
{
	hook_in_use++;
	PG_TRY();
	{
		next_ProcessUtility(pstmt, text, readOnlyTree, context,
							params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		hook_in_use--;
	}
	PG_END_TRY();
}

/*
 * Utility statements that may start parallel workers of their own (index
 * builds: CREATE INDEX, REINDEX, ALTER TABLE ... ADD PRIMARY KEY, CLUSTER,
 * VACUUM FULL and REFRESH MATERIALIZED VIEW rebuild indexes; VACUUM's
 * parallel index vacuuming).  Such a worker copies the leader's whole
 * debug_query_string and reports it in pg_stat_activity before any code of
 * tenant_rls runs in it (_bt_parallel_build_main(), parallel_vacuum_main()),
 * and runs none of the hooks that mask it.  (Parallel query workers do run
 * the executor hooks.)
 */
static bool
may_start_maintenance_workers(Node *n)
{
	switch (nodeTag(n))
	{
		case T_IndexStmt:
		case T_ReindexStmt:
		case T_VacuumStmt:
		case T_ClusterStmt:
		case T_AlterTableStmt:
		case T_RefreshMatViewStmt:
			return true;
		default:
			return false;
	}
}

/*
 * The top-level string src masked whole for such workers: what
 * pg_stat_activity shows of it (activity_text, masked statement by statement
 * so far), and the rest masked as the first statement's check masks it.  It
 * is not activity_text itself, which a later masking may free and which
 * stops at track_activity_query_size (a worker logs its debug_query_string).
 */
static char *
worker_copy(const char *src)
{
	size_t		len = strlen(src);
	char	   *copy = palloc(len + 1);
	long		m = after_mention(src, 0, len);

	memcpy(copy, src, len + 1);
	if (m >= 0 && !may_set_key(true))
		m = -1;
	mask_statement_copy(src, copy, len, 0, len, m,
						activity_consts(mentions_token_fn(src, 0, len)));
	for (size_t i = 0; i < activity_len && i < len; i++)
		if (activity_text[i] != src[i])
			copy[i] = activity_text[i];
	return copy;
}

/*
 * The next hook with debug_query_string pointing to worker_text for the
 * call: the parallel workers it starts copy that instead of the plain text.
 */
static void
next_ProcessUtility_workers(PlannedStmt *pstmt, const char *text, const char *worker_text,
							bool readOnlyTree, ProcessUtilityContext context,
							ParamListInfo params, QueryEnvironment *queryEnv,
							DestReceiver *dest, QueryCompletion *qc)
{
	const char *saved = debug_query_string;

	debug_query_string = worker_text;
	PG_TRY();
	{
		if (text == hook_text)
			next_ProcessUtility_shared(pstmt, text, readOnlyTree, context,
									   params, queryEnv, dest, qc);
		else
			next_ProcessUtility(pstmt, text, readOnlyTree, context,
								params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		debug_query_string = saved;
	}
	PG_END_TRY();
}

/*
 * EXPLAIN output: a plan shows its constants, and EXPLAIN (VERBOSE) EXECUTE
 * of a statement prepared with a token as a literal shows the token, which
 * pg_prepared_statements shows masked (review rev46a: behind a pooler, the
 * next client of the connection read it so).  The rows EXPLAIN sends are
 * passed on with the arguments of set_tenant_signed() and every token by its
 * form masked.
 */
/*
 * How EXPLAIN output spells its constants' surroundings: FORMAT JSON and
 * YAML put each value in a JSON string (PostgreSQL's escape_yaml() is
 * escape_json()), XML in element text where '<' is markup.
 */
typedef enum ExplainOutput
{
	EXPLAIN_OUT_TEXT,
	EXPLAIN_OUT_JSONLIKE,
	EXPLAIN_OUT_XMLLIKE
} ExplainOutput;

/* does the text before the constant at start end with "set_tenant_signed(" */
static bool
constant_is_signed_arg(const char *text, const char *start)
{
	static const char name[] = "set_tenant_signed";
	const char *p = start;

	if (p > text && (p[-1] == 'E' || p[-1] == 'e'))
		p--;
	while (p > text && p[-1] == ' ')
		p--;
	if (p == text || p[-1] != '(')
		return false;
	p--;
	while (p > text && p[-1] == ' ')
		p--;
	return p - text >= (long) (sizeof(name) - 1) &&
		pg_strncasecmp(p - (sizeof(name) - 1), name, sizeof(name) - 1) == 0;
}

/*
 * EXPLAIN output of a statement that does not name the key, read as its
 * constants ('...', '' inside; quoted identifiers skipped): the contents of
 * the constant passed to set_tenant_signed(), and of every constant after a
 * mention of signing_key on the same line (set_config('tenant_rls.
 * signing_key'::text, '...'::text, ...), as a view or function may spell it
 * where the statement does not).  A constant ends at its closing quote, at
 * the end of the line, at the end of its JSON string, or at XML markup, so
 * that masking never leaves it (reviews rev46e, rev46g: a constant that
 * only ended in "set_tenant_signed(" took the rest of the document with it,
 * and the JSON, XML and YAML no longer parsed).  Tokens by their form are
 * masked by the caller; a statement that names the key gets
 * mask_explain_all().
 */
static void
mask_explain_text(char *text, ExplainOutput fmt)
{
	bool		key_seen = false;

	for (char *p = text; *p != '\0';)
	{
		char	   *q;
		bool		mention = false;

		if (*p == '\n')
		{
			key_seen = false;
			p++;
			continue;
		}

		/*
		 * A quoted identifier ("a'b"; in JSON and YAML \"a'b\"): its
		 * apostrophes open no constant (review rev46h).
		 */
		if ((*p == '"' && fmt != EXPLAIN_OUT_JSONLIKE) ||
			(fmt == EXPLAIN_OUT_JSONLIKE && p[0] == '\\' && p[1] == '"'))
		{
			bool		json = *p == '\\';

			for (p += json ? 2 : 1; *p != '\0' && *p != '\n'; p++)
			{
				if (pg_strncasecmp(p, "signing_key", 11) == 0)
					key_seen = true;
				if (json && p[0] == '\\' && p[1] == '"')
				{
					if (p[2] == '\\' && p[3] == '"')
					{
						p += 3;
						continue;
					}
					p += 2;
					break;
				}
				if (json && p[0] == '\\' && p[1] != '\0')
				{
					p++;
					continue;
				}
				if (*p == '"')
				{
					if (json)
						break;	/* the end of the JSON string */
					if (p[1] == '"')
					{
						p++;
						continue;
					}
					p++;
					break;
				}
			}
			continue;
		}
		if (*p != '\'')
		{
			if (pg_strncasecmp(p, "signing_key", 11) == 0)
				key_seen = true;
			p++;
			continue;
		}
		/* a constant: its end */
		for (q = p + 1; *q != '\0' && *q != '\n'; q++)
		{
			if (*q == '\'')
			{
				if (q[1] == '\'')
				{
					q++;
					continue;
				}
				break;
			}
			if (fmt == EXPLAIN_OUT_JSONLIKE && *q == '\\' && q[1] != '\0')
			{
				q++;
				continue;
			}
			if ((fmt == EXPLAIN_OUT_JSONLIKE && *q == '"') || (fmt == EXPLAIN_OUT_XMLLIKE && *q == '<'))
				break;
			if (pg_strncasecmp(q, "signing_key", 11) == 0)
				mention = true;
		}
		if ((key_seen || constant_is_signed_arg(text, p)) && !mention)
		{
			for (char *m = p + 1; m < q; m++)
				*m = '*';
		}
		if (mention)
			key_seen = true;
		p = *q == '\'' ? q + 1 : q;
	}
}

/*
 * One stretch of EXPLAIN output where constants may be, [s, e): everything
 * between its first and its last apostrophe is masked, and, where one is
 * left open (*carry: also one carried in from the stretch before), the rest
 * up to the end, which *carry continues into the next stretch.  No reading
 * as SQL: names EXPLAIN prints unquoted (CTE o'k, a trigger's name) put a
 * reader out of step, and the key showed between "constants" (review
 * rev46h).  It masks more than the constants, for statements that name the
 * key only.
 */
static void
mask_between_quotes(char *s, char *e, bool *carry)
{
	char	   *first = NULL;
	char	   *last = NULL;
	int			n = 0;

	for (char *p = s; p < e; p++)
	{
		if (*p == '\'')
		{
			if (first == NULL)
				first = p;
			last = p;
			n++;
		}
	}
	if (n == 0)
	{
		if (*carry)
			for (char *p = s; p < e; p++)
				*p = '*';
		return;
	}
	if (*carry)
		for (char *p = s; p < first; p++)
			*p = '*';
	for (char *p = first + 1; p < last; p++)
		if (*p != '\'')
			*p = '*';
	/* an apostrophe left open (counting the one carried in) */
	*carry = (n + (*carry ? 1 : 0)) % 2 == 1;
	if (*carry)
		for (char *p = last + 1; p < e; p++)
			*p = '*';
}

/*
 * EXPLAIN output of a statement that names the key (or EXECUTEs one that
 * does): every constant masked, by apostrophes alone.  The stretches are
 * the rows (format TEXT sends one row per line, a constant with a newline
 * goes on in the next row), the JSON strings (JSON, YAML) or the element
 * texts (XML), whose markup stays.
 */
static void
mask_explain_all(char *text, ExplainOutput fmt, bool *carry)
{
	char	   *end = text + strlen(text);

	if (fmt == EXPLAIN_OUT_TEXT)
	{
		mask_between_quotes(text, end, carry);
		return;
	}
	for (char *p = text; p < end;)
	{
		char	   *s;
		char	   *e;

		if (fmt == EXPLAIN_OUT_JSONLIKE)
		{
			/* a JSON string: from a quote to the next unescaped one */
			while (p < end && *p != '"')
				p++;
			if (p == end)
				break;
			s = ++p;
			while (p < end && *p != '"')
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			e = p < end ? p : end;
		}
		else
		{
			/* element text: from a '>' to the next '<' */
			while (p < end && *p != '>')
				p++;
			if (p == end)
				break;
			s = ++p;
			while (p < end && *p != '<')
				p++;
			e = p;
		}
		*carry = false;
		mask_between_quotes(s, e, carry);
		*carry = false;
		if (p < end)
			p++;
	}
}

typedef struct MaskingReceiver
{
	DestReceiver pub;
	DestReceiver *next;
	TupleTableSlot *out;
	ExplainOutput format;
	bool		all;			/* every constant (mask_explain_text()) */
	bool		inside;			/* ... and the last row ended inside one */
} MaskingReceiver;

static void
masking_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	MaskingReceiver *r = (MaskingReceiver *) self;

	r->out = MakeSingleTupleTableSlot(typeinfo, &TTSOpsVirtual);
	r->next->rStartup(r->next, operation, typeinfo);
}

static bool
masking_receive(TupleTableSlot *slot, DestReceiver *self)
{
	MaskingReceiver *r = (MaskingReceiver *) self;
	TupleDesc	td = slot->tts_tupleDescriptor;

	slot_getallattrs(slot);
	ExecClearTuple(r->out);
	for (int i = 0; i < td->natts; i++)
	{
		Oid			typid = TupleDescAttr(td, i)->atttypid;

		r->out->tts_isnull[i] = slot->tts_isnull[i];
		r->out->tts_values[i] = slot->tts_values[i];
		/* (FORMAT TEXT and YAML: text; JSON: json; XML: xml) */
		if (!slot->tts_isnull[i] && (typid == TEXTOID || typid == JSONOID || typid == XMLOID))
		{
			char	   *src = TextDatumGetCString(slot->tts_values[i]);
			size_t		len = strlen(src);
			char	   *dst = pstrdup(src);

			if (r->all)
				mask_explain_all(dst, r->format, &r->inside);
			else
				mask_explain_text(dst, r->format);
			(void) mask_token_shapes(src, dst, len, 0, len, '*');
			r->out->tts_values[i] = CStringGetTextDatum(dst);
		}
	}
	ExecStoreVirtualTuple(r->out);
	return r->next->receiveSlot(r->out, r->next);
}

static void
masking_shutdown(DestReceiver *self)
{
	MaskingReceiver *r = (MaskingReceiver *) self;

	r->next->rShutdown(r->next);
	if (r->out != NULL)
		ExecDropSingleTupleTableSlot(r->out);
	r->out = NULL;
}

static void
masking_destroy(DestReceiver *self)
{
	pfree(self);
}

static ExecuteStmt *
explained_execute(Node *q)
{
	for (int depth = 0; depth < 2 && q != NULL && IsA(q, Query) &&
		 ((Query *) q)->commandType == CMD_UTILITY && ((Query *) q)->utilityStmt != NULL; depth++)
	{
		Node	   *u = ((Query *) q)->utilityStmt;

		if (IsA(u, ExecuteStmt))
			return (ExecuteStmt *) u;
		if (!IsA(u, CreateTableAsStmt))
			return NULL;
		q = ((CreateTableAsStmt *) u)->query;
	}
	return NULL;
}

static DestReceiver *
masking_receiver(DestReceiver *next, ExplainStmt *stmt, const char *text)
{
	MaskingReceiver *r = palloc0(sizeof(MaskingReceiver));
	ListCell   *lc;

	r->format = EXPLAIN_OUT_TEXT;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "format") == 0 && opt->arg != NULL)
		{
			char	   *f = defGetString(opt);

			if (pg_strcasecmp(f, "json") == 0 || pg_strcasecmp(f, "yaml") == 0)
				r->format = EXPLAIN_OUT_JSONLIKE;
			else if (pg_strcasecmp(f, "xml") == 0)
				r->format = EXPLAIN_OUT_XMLLIKE;
		}
	}
	/* the statement explained, or the one it executes, names the key */
	r->all = text != NULL && strcasestr(text, "signing_key") != NULL;
	/* (EXPLAIN EXECUTE: a utility Query once analysed; also below CREATE TABLE AS) */
	if (!r->all && explained_execute(stmt->query) != NULL)
	{
		PreparedStatement *ps = FetchPreparedStatement(explained_execute(stmt->query)->name, false);

		r->all = ps != NULL && ps->plansource != NULL && ps->plansource->query_string != NULL &&
			strcasestr(ps->plansource->query_string, "signing_key") != NULL;
	}

	r->pub.receiveSlot = masking_receive;
	r->pub.rStartup = masking_startup;
	r->pub.rShutdown = masking_shutdown;
	r->pub.rDestroy = masking_destroy;
	r->pub.mydest = next->mydest;
	r->next = next;
	return &r->pub;
}

/*
 * Blank text outside [from, to), keeping every character's place: PostgreSQL
 * counts error positions in characters, so a character of n bytes becomes
 * one of n bytes, a space of its width (review rev46e: blanked byte by byte,
 * the other statements' accented letters moved the cursor of an error in
 * the PREPARE to the right).  In a multibyte encoding other than UTF-8 such
 * characters are left as they are.  Newlines stay.
 */
static void
blank_outside(char *s, size_t len, size_t from, size_t to)
{
	static const char *const fill[] = {NULL, " ", "\xC2\xA0", "\xE3\x80\x80", "\xF3\xA0\x80\xA0"};
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;

	for (size_t i = 0; i < len;)
	{
		int			n = (unsigned char) s[i] < 0x80 ? 1 : pg_mblen(s + i);

		if (n < 1 || i + n > len)
			n = 1;
		if ((i < from || i >= to) && s[i] != '\n' && (n == 1 || (utf8 && n <= 4)))
			memcpy(s + i, fill[n], n);
		i += n;
	}
}

/*
 * The text a cursor (its portal) or a prepared statement (its cached plan
 * source) keeps, a copy of the query string: blanked outside [from, to).
 */
static void
blank_stored_text(Node *stmt, size_t from, size_t to)
{
	char	   *stored = NULL;

	if (IsA(stmt, DeclareCursorStmt))
	{
		Portal		portal = GetPortalByName(((DeclareCursorStmt *) stmt)->portalname);

		if (PortalIsValid(portal))
			stored = unconstify(char *, portal->sourceText);
	}
	else if (IsA(stmt, PrepareStmt))
	{
		PreparedStatement *ps = FetchPreparedStatement(((PrepareStmt *) stmt)->name, false);

		if (ps != NULL && ps->plansource != NULL)
			stored = unconstify(char *, ps->plansource->query_string);
	}
	if (stored != NULL)
		blank_outside(stored, strlen(stored), from, to);
}

static void
token_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	const char *text = queryString;
	char	   *worker_text = NULL; /* debug_query_string for parallel workers */
	char	   *explain_text = NULL;	/* EXPLAIN: its own text */
	bool		blank = false;	/* DECLARE/PREPARE: blank_stored_text() */
	size_t		blank_from = 0;
	size_t		blank_to = 0;

	if (queryString != NULL)
	{
		/*
		 * Top-level by its text, as in the executor hooks: with the extended
		 * protocol pg_stat_activity got (and debug_query_string is) a copy
		 * of the portal's text, which is the one passed here, so comparing
		 * pointers took every CALL, DO and SET a driver sends for a nested
		 * statement and left its token or key in pg_stat_activity.  From
		 * here on queryString is the top-level string when it is that text
		 * (the same bytes): pg_stat_activity's copy is made from it.
		 */
		const char *topsrc = top_text(queryString);
		bool		top = topsrc != NULL;
		char	   *masked = NULL;	/* the text for the next hook */
		bool		is_execute;
		size_t		from;
		size_t		to;
		size_t		act_to;		/* the range pg_stat_activity's masking scans */
		long		key_from = -1;	/* pg_stat_activity: mask from here on */
		bool		tokens;
		bool		shapes = false; /* tokens by their form in [from, act_to) */
		long		exec_paren = -1;	/* EXECUTE's arguments hold tokens */

		if (top)
			queryString = topsrc;
		stmt_range(queryString, pstmt->stmt_location, pstmt->stmt_len, &from, &to);
		/* the first statement: the whole string, once */
		act_to = from == 0 ? strlen(queryString) : to;
		if (top && from == 0)
			checked_start = GetCurrentStatementStartTimestamp();

		if (utility_sets_key(pstmt->utilityStmt, &is_execute) && may_set_key(true))
		{
			long		mask_from;

			if (is_execute)
			{
				/* the arguments: from the first parenthesis on */
				const char *paren = memchr(queryString + from, '(', to - from);

				mask_from = paren ? (long) (paren + 1 - queryString) : (long) to;
			}
			else
			{
				mask_from = after_mention(queryString, from, to);
				/* the name spelled so the text does not show it (U&"...") */
				if (mask_from < 0)
					mask_from = (long) from;
			}
			if (mask_from >= 0 && (size_t) mask_from < to)
			{
				masked = top ? hook_copy(queryString, from, to) : pstrdup(queryString);
				mask_range(masked, (size_t) mask_from, to);
				key_from = mask_from;
			}
		}
		else if (after_mention(queryString, from, top ? act_to : to) >= 0 &&
				 may_set_key(true))
		{
			/*
			 * Any other utility statement that mentions the key: EXPLAIN,
			 * CREATE TABLE AS, COPY (query), ... pg_stat_statements keeps
			 * them verbatim too, so the next hook gets the masked text as
			 * well.  The values come from the parse tree; utility commands
			 * use the text for error positions, which masking keeps, and
			 * some analyse a query in it again (PREPARE, COPY, CREATE
			 * VIEW), when pg_stat_statements lexes it: so it is masked
			 * lexically.
			 */
			long		m = after_mention(queryString, from, to);

			if (m >= 0 && (size_t) m < to)
			{
				masked = top ? hook_copy(queryString, from, to) : pstrdup(queryString);
				mask_constants_before(queryString, masked, to, from, (size_t) m, to, 0);
				mask_lexically(queryString, masked, from, (size_t) m, to, true);
			}
			if (top)
				key_from = after_mention(queryString, from, act_to);
		}

		/* tokens: for every role */
		tokens = mentions_token_fn(queryString, from, act_to);
		if (tokens && mentions_token_fn(queryString, from, to))
		{
			if (masked == NULL)
				masked = top ? hook_copy(queryString, from, to) : pstrdup(queryString);
			mask_token_args(queryString, masked, from, to);
		}
		/* tokens by their form: CALL app.login('...'), for every role */
		if (mask_token_shapes(queryString, NULL, 0, from, to, '*'))
		{
			if (masked == NULL)
				masked = top ? hook_copy(queryString, from, to) : pstrdup(queryString);
			mask_token_shapes_lexically(queryString, masked, from, to);
			shapes = true;
		}
		else if (act_to != to)
			shapes = mask_token_shapes(queryString, NULL, 0, from, act_to, '*');
		if (executes_token_fn(pstmt->utilityStmt))
		{
			const char *paren = memchr(queryString + from, '(', to - from);

			if (paren != NULL)
			{
				exec_paren = (long) (paren - queryString);
				if (masked == NULL)
					masked = top ? hook_copy(queryString, from, to) : pstrdup(queryString);
				mask_parens(queryString, masked, (size_t) exec_paren, to);
			}
		}

		/*
		 * DECLARE CURSOR and PREPARE keep the text they are given for the
		 * life of the cursor or statement (pg_cursors,
		 * pg_prepared_statements; behind a pooler without a reset, the next
		 * clients read it), and PostgreSQL gives them the whole query
		 * string: the other statements of a multi-statement string too,
		 * which the masking above (this statement's range) does not reach
		 * (review rev46a).  Their own copy of it is blanked outside their
		 * statement once they have run (blank_stored_text()): the string
		 * they run with stays the one the planner hook recognises as
		 * top-level by its address (planner_prune.c; a blanked copy passed
		 * down left a cursor's plan unrecorded), and error positions stay.
		 */
		if (IsA(pstmt->utilityStmt, ExplainStmt))
			explain_text = pnstrdup(queryString + from, to - from);
		if ((IsA(pstmt->utilityStmt, DeclareCursorStmt) || IsA(pstmt->utilityStmt, PrepareStmt)) &&
			(from > 0 || to < strlen(queryString)))
		{
			blank_from = from;
			blank_to = to;
			blank = true;
		}

		if (masked != NULL)
			text = masked;
		if (top && reporting_activity() &&
			(key_from >= 0 || tokens || shapes || exec_paren >= 0 ||
			 tenant_rls_mask_activity_values))
		{
			char	   *copy = activity_copy(queryString, from, act_to);

			if (copy != NULL)
			{
				mask_statement_copy(queryString, copy, activity_len, from, act_to,
									key_from, activity_consts(tokens));
				if (exec_paren >= 0 && (size_t) exec_paren < activity_len)
					mask_parens(queryString, copy, (size_t) exec_paren, Min(to, activity_len));
				note_masked(from, activity_len);
			}
			report_activity(copy != NULL ? copy : "", pstmt->queryId);
		}

		/*
		 * A string whose text pg_stat_activity shows masked (this statement
		 * or an earlier one of it needed masking: activity_text is this
		 * string's) and a statement that may start maintenance workers: they
		 * get the masked text as debug_query_string.
		 */
		if (top && pgstat_track_activities && activity_text != NULL &&
			activity_source == queryString &&
			activity_start == GetCurrentStatementStartTimestamp() &&
			may_start_maintenance_workers(pstmt->utilityStmt))
			worker_text = worker_copy(queryString);
	}

	if (IsA(pstmt->utilityStmt, ExplainStmt) && dest != NULL)
		dest = masking_receiver(dest, (ExplainStmt *) pstmt->utilityStmt, explain_text);

	if (worker_text != NULL)
	{
		next_ProcessUtility_workers(pstmt, text, worker_text, readOnlyTree, context,
									params, queryEnv, dest, qc);
		pfree(worker_text);
	}
	else if (text != queryString && text == hook_text)
		next_ProcessUtility_shared(pstmt, text, readOnlyTree, context,
								   params, queryEnv, dest, qc);
	else
		next_ProcessUtility(pstmt, text, readOnlyTree, context,
							params, queryEnv, dest, qc);
	if (blank)
		blank_stored_text(pstmt->utilityStmt, blank_from, blank_to);
}

/*
 * What a top-level statement src[location, +len) needs masked: after the
 * key setting's name (key_from >= 0: SELECT set_config(
 * 'tenant_rls.signing_key', ...) and the like, from a role that can set a
 * key), its constants (tokens: it names set_tenant_signed, any role), the
 * tokens by their form in it (shapes).  Each statement passes up to four
 * hooks (post_parse_analyze, ExecutorStart, ExecutorRun at each Execute,
 * ExecutorEnd): the last statement found clean is remembered, so its text is
 * scanned once, and so is the last one found to hold something.
 */
typedef struct stmt_check
{
	size_t		from;
	size_t		to;
	long		key_from;
	bool		tokens;
	bool		shapes;
} stmt_check;

/*
 * The last top-level statement found clean, and the last one found to hold
 * something to mask, with what: recognised by their range and the bytes
 * there (its next hook; the same statement sent again: each Bind and Execute
 * of a prepared statement starts a new statement, with the same text, and so
 * does a client sending the same query again).  What a check finds depends
 * only on the statement's bytes, except the key setting's mention, which
 * counts only for a role that can set a key: the memo keeps the mention and
 * asks about the role at each use.
 *
 * Never by address and statement start time alone: with a coarse clock the
 * next client message comes in the same buffer at the same start time
 * (review rev45a: a long statement holding a token passed for the clean one
 * before it, whose bytes were not kept).  A range longer than MEMO_MAX_BYTES
 * gets a copy of its own, freed at the end of its transaction (a string's
 * first statement is the whole string: not kept for the session's life).
 * Comparing costs a memcmp() per hook, a small part of the check it saves.
 */
#define MEMO_MAX_BYTES 4096

typedef struct stmt_memo
{
	size_t		from;			/* the range of the statement last checked */
	size_t		to;
	char	   *bytes;			/* its bytes there: buf or large */
	bool		text_valid;
	char	   *buf;			/* MEMO_MAX_BYTES, in TopMemoryContext */
	char	   *large;			/* a longer range's copy, or NULL */
	size_t		large_size;
	long		mention;		/* after_mention(), before the role's check */
	stmt_check	check;
} stmt_memo;

static stmt_memo clean_memo;
static stmt_memo found_memo;

/* whether statement src[from, to) is the one m remembers; c, its check */
static bool
memo_lookup(stmt_memo *m, const char *src, size_t from, size_t to, stmt_check *c)
{
	if (!m->text_valid || from != m->from || to != m->to ||
		memcmp(src + from, m->bytes, to - from) != 0)
		return false;
	*c = m->check;
	c->key_from = m->mention >= 0 && may_set_key(true) ? m->mention : -1;
	return true;
}

static void
memo_store(stmt_memo *m, const char *src, long mention, const stmt_check *c)
{
	size_t		size = c->to - c->from;

	m->from = c->from;
	m->to = c->to;
	m->mention = mention;
	m->check = *c;
	m->text_valid = false;
	if (size <= MEMO_MAX_BYTES)
	{
		if (m->buf == NULL)
			m->buf = MemoryContextAllocExtended(TopMemoryContext, MEMO_MAX_BYTES,
												MCXT_ALLOC_NO_OOM);
		m->bytes = m->buf;
	}
	else
	{
		if (m->large != NULL && m->large_size < size)
		{
			pfree(m->large);
			m->large = NULL;
		}
		if (m->large == NULL)
		{
			m->large = MemoryContextAllocExtended(TopMemoryContext, size,
												  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
			m->large_size = m->large != NULL ? size : 0;
		}
		m->bytes = m->large;
	}
	if (m->bytes == NULL)
		return;					/* without memory, not remembered */
	memcpy(m->bytes, src + c->from, size);
	m->text_valid = true;
}

/* at a transaction's end: a long statement's copy is not kept */
static void
memo_release(stmt_memo *m)
{
	if (m->large == NULL)
		return;
	if (m->bytes == m->large)
	{
		m->text_valid = false;
		m->bytes = NULL;
	}
	pfree(m->large);
	m->large = NULL;
	m->large_size = 0;
}

static bool
check_top_statement(const char *src, int location, int len, stmt_check *c)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	long		mention;

	stmt_range(src, location, len, &c->from, &c->to);
	if (c->from == 0)
		c->to = strlen(src);	/* the first statement: the whole string, once */
	/* found clean before, and not naming the key setting */
	if (memo_lookup(&clean_memo, src, c->from, c->to, c))
	{
		if (c->from == 0)
			checked_start = now;
		if (clean_memo.mention < 0 || c->key_from < 0)
			return false;
		/* the key setting's name, from a role that can set keys: to mask */
		memo_store(&found_memo, src, clean_memo.mention, c);
		return true;
	}
	/* found to hold something (the same statement's next hook, or again) */
	if (memo_lookup(&found_memo, src, c->from, c->to, c))
	{
		if (c->from == 0)
			checked_start = now;
		return true;
	}
	if (c->from == 0)
		checked_start = now;
	mention = after_mention(src, c->from, c->to);
	c->key_from = mention >= 0 && may_set_key(true) ? mention : -1;
	c->tokens = mentions_token_fn(src, c->from, c->to);
	c->shapes = mask_token_shapes(src, NULL, 0, c->from, c->to, '*');
	if (c->key_from >= 0 || c->tokens || c->shapes)
	{
		memo_store(&found_memo, src, mention, c);
		return true;
	}
	memo_store(&clean_memo, src, mention, c);
	return false;
}

/*
 * The same for the next hooks only, for a text that may not be the
 * top-level string (a nested statement's, or the top-level one after it
 * is gone): the statement's own range, every time (no pg_stat_activity).
 * lookup_safe: whether the role may be looked up (may_set_key()).
 */
static bool
check_hook_statement(const char *src, int location, int len, bool lookup_safe,
					 stmt_check *c)
{
	stmt_range(src, location, len, &c->from, &c->to);
	c->tokens = mentions_token_fn(src, c->from, c->to);
	c->shapes = mask_token_shapes(src, NULL, 0, c->from, c->to, '*');
	c->key_from = after_mention(src, c->from, c->to);
	if (c->key_from >= 0 && !may_set_key(lookup_safe))
		c->key_from = -1;
	return c->tokens || c->shapes || c->key_from >= 0;
}

/*
 * pg_stat_activity of a top-level statement; whether it holds anything to
 * mask (in the text the next hooks get: tenant_rls.mask_activity_values
 * masks pg_stat_activity only)
 */
static bool
mask_top_statement(const char *src, int location, int len, uint64 query_id,
				   stmt_check *c)
{
	bool		found = check_top_statement(src, location, len, c);

	if (found || tenant_rls_mask_activity_values)
		mask_activity(src, c->key_from, activity_consts(found && c->tokens),
					  c->from, c->to, query_id);
	return found;
}

/* dst (a copy of src) with the tokens of statement c masked as the next hooks may lex it */
static void
mask_hook_text(const char *src, char *dst, const stmt_check *c)
{
	if (c->tokens)
		mask_token_args(src, dst, c->from, c->to);
	if (c->shapes)
		mask_token_shapes_lexically(src, dst, c->from, c->to);
	/*
	 * a key: lexically, from the setting's name on (as for utility
	 * statements), and the constants before it
	 */
	if (c->key_from >= 0 && (size_t) c->key_from < c->to)
	{
		mask_constants_before(src, dst, c->to, c->from, (size_t) c->key_from, c->to, 0);
		mask_lexically(src, dst, c->from, (size_t) c->key_from, c->to, true);
	}
}

static void
token_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	const char *top = top_text(queryDesc->sourceText);
	stmt_check	c;

	key_setter_refresh();
	if (top != NULL)
		mask_top_statement(top, queryDesc->plannedstmt->stmt_location,
						   queryDesc->plannedstmt->stmt_len, queryDesc->plannedstmt->queryId, &c);
	if (token_prev_ExecutorStart)
		token_prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * The extended protocol reports the plain text again at each Execute
 * message (after the Bind that started the executor): masked again here,
 * before any row is fetched.
 */
static void
token_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once)
{
	const char *top = top_text(queryDesc->sourceText);
	stmt_check	c;

	if (top != NULL)
		mask_top_statement(top, queryDesc->plannedstmt->stmt_location,
						   queryDesc->plannedstmt->stmt_len, queryDesc->plannedstmt->queryId, &c);
	if (token_prev_ExecutorRun)
		token_prev_ExecutorRun(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);
}

/*
 * pg_stat_statements stores the statement's text at ExecutorEnd, as it is,
 * when its entry was evicted since the statement was analysed (another
 * session of the role can force that, flooding it with statements while
 * this one waits for a lock): the hooks after this one get a masked copy of
 * the text, for their call only.
 */
static void
token_ExecutorEnd(QueryDesc *queryDesc)
{
	const char *src = queryDesc->sourceText;
	stmt_check	c;

	/*
	 * By the statement's own text: with the extended protocol ExecutorEnd
	 * runs at the next Bind or at Sync, when debug_query_string is gone;
	 * with pg_stat_statements.track = all, for nested statements too.
	 */
	if (src != NULL && token_prev_ExecutorEnd != NULL)
	{
		/*
		 * A key: from a role that can set one; ExecutorEnd also runs while
		 * a transaction aborts, where the role cannot be looked up (it
		 * counts as one that can).
		 */
		if (check_hook_statement(src, queryDesc->plannedstmt->stmt_location,
								 queryDesc->plannedstmt->stmt_len,
								 IsTransactionState(), &c))
		{
			const char *top = top_text(src);
			/*
			 * The top-level string's shared copy (a string of many statements
			 * would be copied once per statement), else a copy up to the
			 * statement's end (a text of its own: one statement, usually).
			 */
			char	   *copy = top != NULL ? hook_copy(top, c.from, c.to) : pnstrdup(src, c.to);

			mask_hook_text(src, copy, &c);
			queryDesc->sourceText = copy;
			hook_in_use++;
			PG_TRY();
			{
				token_prev_ExecutorEnd(queryDesc);
			}
			PG_FINALLY();
			{
				hook_in_use--;
				queryDesc->sourceText = src;
			}
			PG_END_TRY();
			if (top == NULL)
				pfree(copy);
			return;
		}
	}
	if (token_prev_ExecutorEnd)
		token_prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/*
 * A Parse message reports its text, and with no Bind after it (PQprepare,
 * a driver preparing ahead) that text stays in pg_stat_activity: masked when
 * it is analysed.  (Simple queries pass here too, before ExecutorStart.)
 * The hooks after this one (pg_stat_statements, which keeps the text with
 * its comments, constants replaced) get a masked copy of the text.
 */
/* the next hook with text, a masked copy (not freed while it runs) */
static void
prev_post_parse_analyze_masked(ParseState *pstate, Query *query, JumbleState *jstate,
							   const char *text)
{
	const char *saved = pstate->p_sourcetext;

	pstate->p_sourcetext = text;
	hook_in_use++;
	PG_TRY();
	{
		token_prev_post_parse_analyze(pstate, query, jstate);
	}
	PG_FINALLY();
	{
		hook_in_use--;
		pstate->p_sourcetext = saved;
	}
	PG_END_TRY();
}

/*
 * A Parse message's statement: PostgreSQL keeps its text in the statement's
 * CachedPlanSource, copied before parse analysis (CreateCachedPlan(), which
 * names the plan's memory context, a child of the current one, after that
 * copy), and a named statement's text shows in pg_prepared_statements to
 * every later user of the connection -- behind a pooler, the next clients
 * (review rev25a).  SQL PREPARE stores the text ProcessUtility masked; this
 * copy is masked in place, with what the next hooks get.  The statement runs
 * from its parse tree: the text serves only messages and views.
 */
static void
mask_plansource_text(const char *src, const stmt_check *c)
{
	size_t		len = strlen(src);

	for (MemoryContext cxt = CurrentMemoryContext->firstchild; cxt != NULL; cxt = cxt->nextchild)
	{
		if (cxt->ident != NULL && cxt->ident != src && strcmp(cxt->name, "CachedPlanSource") == 0 &&
			strncmp(cxt->ident, src, len + 1) == 0)
		{
			char	   *copy = hook_copy(src, c->from, c->to);

			mask_hook_text(src, copy, c);
			memcpy(unconstify(char *, cxt->ident), copy, len);
		}
	}
}

static void
token_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	const char *src = pstate->p_sourcetext;
	const char *top = top_text(src);
	stmt_check	c;
	bool		mask;

	key_setter_refresh();
	if (top != NULL)
	{
		mask = mask_top_statement(top, query->stmt_location, query->stmt_len,
								  query->queryId, &c);
		if (mask && c.from == 0 && c.to == strlen(top))
			mask_plansource_text(top, &c);
	}
	else
	{
		/*
		 * A nested statement (a DO block's, a function's, a string
		 * EXECUTEd there): pg_stat_statements.track = all stores its text,
		 * comments and all, so the next hooks get a masked copy of it too;
		 * pg_stat_activity shows the top-level string only.
		 */
		mask = src != NULL && token_prev_post_parse_analyze != NULL &&
			check_hook_statement(src, query->stmt_location, query->stmt_len,
								 true, &c);
	}
	if (mask && token_prev_post_parse_analyze != NULL)
	{
		/* the shared copy of the top-level string, else one of its own */
		char	   *copy = top != NULL ? hook_copy(top, c.from, c.to) : pnstrdup(src, c.to);

		mask_hook_text(top != NULL ? top : src, copy, &c);
		prev_post_parse_analyze_masked(pstate, query, jstate, copy);
		if (top == NULL)
			pfree(copy);
		return;
	}
	if (token_prev_post_parse_analyze)
		token_prev_post_parse_analyze(pstate, query, jstate);
}

/*
 * pg_stat_statements with track_planning = on stores the text it gets here
 * when the statement has no entry yet: one without constants (entries are
 * made at parse analysis only for statements with constants), or one
 * evicted since.  So the next planner hook gets a masked copy, like
 * ExecutorEnd's.  A top-level statement is checked as in the executor
 * hooks (found clean at parse analysis: not scanned again), and its
 * pg_stat_activity masked here already (with the extended protocol Bind
 * reported the plain text again, and planning comes before ExecutorStart).
 */
/* the next hook with text, a masked copy (not freed while it runs) */
static PlannedStmt *
prev_planner_masked(Query *parse, const char *text, int cursorOptions,
					ParamListInfo boundParams)
{
	PlannedStmt *volatile result = NULL;

	hook_in_use++;
	PG_TRY();
	{
		result = token_prev_planner(parse, text, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		hook_in_use--;
	}
	PG_END_TRY();
	return result;
}

static PlannedStmt *
token_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	const char *top = top_text(query_string);
	stmt_check	c;
	bool		mask;
	char	   *copy;
	PlannedStmt *result;

	if (top != NULL)
		mask = mask_top_statement(top, parse->stmt_location, parse->stmt_len,
								  parse->queryId, &c);
	else
		mask = query_string != NULL && token_prev_planner != NULL &&
			check_hook_statement(query_string, parse->stmt_location,
								 parse->stmt_len, true, &c);
	if (!mask || token_prev_planner == NULL)
	{
		if (token_prev_planner)
			return token_prev_planner(parse, query_string, cursorOptions, boundParams);
		return standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	copy = top != NULL ? hook_copy(top, c.from, c.to) : pnstrdup(query_string, c.to);
	mask_hook_text(top != NULL ? top : query_string, copy, &c);
	result = prev_planner_masked(parse, copy, cursorOptions, boundParams);
	if (top == NULL)
		pfree(copy);
	return result;
}

/*
 * A statement that reaches none of the hooks above leaves its text in
 * pg_stat_activity as it is: one that fails before it runs while errors are
 * not logged (log_min_messages above error, so the log hook does not run),
 * one that is only a comment.  At the end of its transaction (commit,
 * abort, the abort of a subtransaction) the session's own activity text is
 * checked, unless a hook has checked this statement's string already
 * (checked_start), and masked like a statement's.
 */
static void
check_own_activity(void)
{
	const char *raw;
	size_t		len;
	long		m;
	char	   *copy;

	if (!pgstat_track_activities || MyBEEntry == NULL)
		return;
	raw = MyBEEntry->st_activity_raw;	/* only this backend writes it */
	len = strnlen(raw, (size_t) pgstat_track_activity_query_size);
	if (len == 0)
		return;
	/*
	 * Checked at this statement start already: what pg_stat_activity shows
	 * is the copy reported then, or the string found clean (a coarse clock
	 * can give the next message the same start time).
	 */
	if (checked_start == GetCurrentStatementStartTimestamp() &&
		(shows_reported_copy() ||
		 (!tenant_rls_mask_activity_values && clean_memo.text_valid && clean_memo.mention < 0 &&
		  clean_memo.from == 0 && clean_memo.to == len && memcmp(raw, clean_memo.bytes, len) == 0)))
		return;
	checked_start = GetCurrentStatementStartTimestamp();
	/*
	 * At XACT_EVENT_COMMIT the commit record is written: an error here
	 * (out of memory) would make the abort that follows PANIC ("cannot abort
	 * transaction ..., it was already committed") and restart the server;
	 * during an abort it would be an error while aborting.  So the copy is
	 * allocated so that it cannot fail, and without memory pg_stat_activity
	 * gets no text at all, which needs none, rather than a raw token or key.
	 * (TopMemoryContext: an abort's context is small.)
	 */
	copy = MemoryContextAllocExtended(TopMemoryContext, len + 1, MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
	{
		pgstat_report_activity(STATE_RUNNING, "");
		return;
	}
	m = after_mention(raw, 0, len);
	if (m >= 0 && !may_set_key(false))
		m = -1;
	memcpy(copy, raw, len);
	copy[len] = '\0';
	mask_statement_copy(raw, copy, len, 0, len, m,
						activity_consts(mentions_token_fn(raw, 0, len)));
	/* the start of a token that the text's cut at its end leaves */
	mask_token_fragments(copy);
	if (m >= 0 || memcmp(copy, raw, len) != 0)
		pgstat_report_activity(STATE_RUNNING, copy);
	pfree(copy);
}

static void
token_xact_callback(XactEvent event, void *arg)
{
	/*
	 * Whether the role can set a key, known before the next statement is
	 * parsed (see key_setter): also the commit of InitPostgres()'s
	 * transaction, before a session's first statement.
	 */
	if (event == XACT_EVENT_PRE_COMMIT)
		key_setter_refresh();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		check_own_activity();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		hook_copy_release();
		memo_release(&clean_memo);
		memo_release(&found_memo);
		facts_text_release();
	}
}

static void
token_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		check_own_activity();
}

void
tenant_rls_token_init(void)
{
	DefineCustomStringVariable("tenant_rls.signing_key",
							   gettext_noop("Key of the HMAC-SHA256 signature of tenant tokens."),
							   gettext_noop("At least 32 bytes. Superuser only; SHOW displays only its key id."),
							   &signing_key[KEY_CURRENT],
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_signing_key, assign_signing_key, show_signing_key);

	DefineCustomStringVariable("tenant_rls.signing_key_previous",
							   gettext_noop("Previous signing key, still accepted for verification during a key rotation."),
							   gettext_noop("Empty: only tenant_rls.signing_key is accepted."),
							   &signing_key[KEY_PREVIOUS],
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_signing_key_previous, assign_signing_key_previous,
							   show_signing_key_previous);

	{
		struct config_generic **vars = get_guc_variables();
		int			n = GetNumConfigOptions();

		for (int i = 0; i < n; i++)
			for (int w = 0; w < 2; w++)
				if (strcmp(vars[i]->name, key_setting_name[w]) == 0)
					key_record[w] = vars[i];
	}

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = token_emit_log_hook;

	CacheRegisterSyscacheCallback(AUTHOID, key_setter_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, key_setter_invalidate, (Datum) 0);
	/* (the database's owner has the privileges of pg_database_owner) */
	CacheRegisterSyscacheCallback(DATABASEOID, key_setter_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(PARAMETERACLNAME, key_setter_invalidate, (Datum) 0);

	token_prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = token_ProcessUtility;
	token_prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = token_ExecutorStart;
	token_prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = token_ExecutorRun;
	token_prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = token_ExecutorEnd;
	token_prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = token_post_parse_analyze;
	token_prev_planner = planner_hook;
	planner_hook = token_planner;
	RegisterXactCallback(token_xact_callback, NULL);
	RegisterSubXactCallback(token_subxact_callback, NULL);
}

bool
tenant_token_key_configured(void)
{
	return signing_key[KEY_CURRENT] != NULL && signing_key[KEY_CURRENT][0] != '\0';
}

/* ---------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------
 */

/*
 * PostgreSQL 15 lets a superuser GRANT SET ON PARAMETER to other roles.  A
 * role that can choose the key can forge any tenant's token, so a key value
 * set by a role that is not a superuser is never used.  GUC records which
 * role set the current value (srole; the bootstrap superuser for the server
 * configuration), also across placeholders, RESET and rollbacks.
 */
static bool
key_set_by_superuser(int which)
{
	struct config_generic *rec = key_record[which];

	if (rec == NULL || rec->source <= PGC_S_ARGV)
		return true;
	return superuser_arg(rec->srole);
}

static void
refuse_untrusted_key(int which)
{
	if (!key_set_by_superuser(which))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s was set by a role that is not a superuser", key_setting_name[which]),
				 errdetail("A role that can choose the signing key can make a token for any tenant."),
				 errhint("Revoke SET ON PARAMETER %s from that role; only superusers should set the key.",
						 key_setting_name[which])));
	if (key_from_server_config[which] && !tenant_rls_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is set in the server configuration but tenant_rls is not preloaded",
						key_setting_name[which]),
				 errdetail("Until the library is loaded in a session, a setting from postgresql.conf is a placeholder that any user can read."),
				 errhint("Add tenant_rls to shared_preload_libraries and restart the server.")));
	if (key_from_server_config[which] && !tenant_rls_shared_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is set in the server configuration but tenant_rls is not in shared_preload_libraries",
						key_setting_name[which]),
				 errdetail("session_preload_libraries loads the library only in some sessions; in the others (another database or role) the key is a placeholder that any user can read."),
				 errhint("Add tenant_rls to shared_preload_libraries, restart the server, and replace the key: it may have been read.")));
}

/*
 * Why a key from the server configuration is not used in this session
 * (refuse_untrusted_key() refuses it), or NULL: for strict_status().
 */
const char *
tenant_token_key_refused(void)
{
	if (!tenant_token_key_configured() || !key_from_server_config[KEY_CURRENT])
		return NULL;
	if (!tenant_rls_preloaded())
		return "tenant_rls.signing_key from the server configuration is not used: tenant_rls is not preloaded, and until a session loads it any user can read the key";
	if (!tenant_rls_shared_preloaded())
		return "tenant_rls.signing_key from the server configuration is not used: tenant_rls is loaded by session_preload_libraries, not shared_preload_libraries, and sessions that do not load it (another database or role) can read the key; add tenant_rls to shared_preload_libraries, restart, and replace the key";
	return NULL;
}

static void
key_error(int which, token_status st)
{
	if (st == TOKEN_NO_KEY)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no signing key is configured"),
				 errdetail("%s is empty.", key_setting_name[which]),
				 errhint("A superuser sets tenant_rls.signing_key in postgresql.conf (at least %d bytes, e.g. from \"openssl rand -base64 48\") and reloads.",
						 TOKEN_KEY_MIN_LEN)));
	if (st == TOKEN_KEY_TOO_SHORT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is too short", key_setting_name[which]),
				 errdetail("A signing key must be at least %d bytes long.", TOKEN_KEY_MIN_LEN),
				 errhint("Generate a key with \"openssl rand -base64 48\".")));
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("could not prepare %s: %s", key_setting_name[which],
					token_status_name(st))));
}

static void
token_error(token_status st, const token_claims *claims, size_t len)
{
	const char *hint = "Get a new token from the application server (tenant_rls.sign_tenant()).";

	/*
	 * What was refused may be a token cut anywhere (its start too: the first
	 * characters of the tokens of one key differ little): this error and
	 * its STATEMENT line mask every run of token characters that could be a
	 * piece of one (token_emit_log_hook())
	 */
	token_refused = true;

	switch (st)
	{
		case TOKEN_OK:
			return;
		case TOKEN_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_ZERO_LENGTH_CHARACTER_STRING),
					 errmsg("token is empty"),
					 errhint("%s", hint)));
			break;
		case TOKEN_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("token is too long"),
					 errdetail("A token is at most %d bytes long (ASCII characters); this one is %zu bytes long.",
							   TOKEN_MAX_ENCODED, len),
					 errhint("%s", hint)));
			break;
		case TOKEN_BAD_ENCODING:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("token is not valid base64url"),
					 errdetail("A token consists of the characters A-Z, a-z, 0-9, \"-\" and \"_\", without padding."),
					 errhint("%s", hint)));
			break;
		case TOKEN_BAD_VERSION:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("unsupported token version %d", claims->version),
					 errdetail("This server understands token version %d.", TOKEN_VERSION),
					 errhint("%s", hint)));
			break;
		case TOKEN_TRUNCATED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("token is truncated"),
					 errdetail("The token is shorter than its header says."),
					 errhint("Pass the whole token.")));
			break;
		case TOKEN_MALFORMED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("token is malformed"),
					 errdetail("Its tenant length is impossible or bytes follow its signature."),
					 errhint("%s", hint)));
			break;
		case TOKEN_UNKNOWN_KEY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("token was signed with a key that is not accepted"),
					 errdetail("Its key is neither tenant_rls.signing_key nor tenant_rls.signing_key_previous; it may predate a key rotation."),
					 errhint("%s", hint)));
			break;
		case TOKEN_BAD_SIGNATURE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("token signature does not match"),
					 errdetail("The token was altered after it was signed, or it was signed for another database."),
					 errhint("%s", hint)));
			break;
		case TOKEN_EXPIRED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("token has expired"),
					 errdetail("Tokens are checked against the server's clock when they are verified."),
					 errhint("%s", hint)));
			break;
		case TOKEN_NO_KEY:
		case TOKEN_KEY_TOO_SHORT:
			key_error(KEY_CURRENT, st);
			break;
		case TOKEN_BAD_TENANT:
		case TOKEN_BAD_DATABASE:
		case TOKEN_CRYPTO_ERROR:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("could not verify token: %s", token_status_name(st))));
}

/*
 * The wall clock now, in microseconds since the Unix epoch.  Not the start
 * of the transaction (now()): a session could otherwise keep a transaction
 * open and go on accepting tokens signed after its BEGIN long after they
 * expired.
 */
static int64
clock_now_unix_us(void)
{
	return (int64) GetCurrentTimestamp() +
		((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY;
}

/*
 * The name of the database this backend is connected to, which every token's
 * MAC covers.  Cached per backend, and looked up again after any change of
 * pg_database: MyDatabaseId never changes, but its name can.  On the primary
 * ALTER DATABASE ... RENAME refuses while anyone is connected to it; the
 * sessions of a hot standby are not counted, and there the rename is replayed
 * under them (review rev49a: a standby session connected to the renamed
 * database accepted the tokens signed for the new database of the old name).
 */
static char *token_database = NULL;
static size_t token_database_len = 0;
static const char *
token_database_name(size_t *len)
{
	if (token_database_stale)
	{
		/* (cleared before the look-up: a change during it marks it again) */
		token_database_stale = false;
		if (token_database != NULL)
			pfree(token_database);
		token_database = NULL;
	}
	if (token_database == NULL)
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("could not find the name of the current database")));
		token_database = MemoryContextStrdup(TopMemoryContext, name);
		token_database_len = strlen(token_database);
		pfree(name);
	}
	*len = token_database_len;
	return token_database;
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */

/* sign_tenant(tenant text, valid_for interval DEFAULT '5 minutes') */
Datum
tenant_rls_sign_tenant(PG_FUNCTION_ARGS)
{
	char	   *canonical;
	Interval   *valid_for;
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz expires;
	const char *database;
	size_t		database_len;
	KeyCache   *k;
	char		out[TOKEN_MAX_ENCODED + 1];
	token_status st;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tenant value must not be null"),
				 errhint("Pass the tenant the token is for.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("valid_for must not be null"),
				 errhint("Pass how long the token is valid, e.g. interval '5 minutes'.")));

	refuse_untrusted_key(KEY_CURRENT);
	k = prepared_key(KEY_CURRENT);
	if (k->status != TOKEN_OK)
		key_error(KEY_CURRENT, k->status);

	canonical = tenant_canonicalize(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									(TenantType) tenant_rls_tenant_type);

	valid_for = PG_GETARG_INTERVAL_P(1);
	expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													  TimestampTzGetDatum(start),
													  IntervalPGetDatum(valid_for)));
	if (TIMESTAMP_NOT_FINITE(expires))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("valid_for must be finite"),
				 errhint("Pass a short interval; tokens are meant to live minutes.")));
	if (expires <= start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for must be positive"),
				 errhint("Pass a short positive interval, e.g. interval '5 minutes'.")));
	/* the token carries microseconds since 1970 in an int64 */
	if (expires > PG_INT64_MAX - ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("valid_for is too large"),
				 errdetail("A token cannot expire after 294247-01-10 04:00:54 UTC."),
				 errhint("Pass a short interval; tokens are meant to live minutes.")));

	/* the tenant goes into the token as UTF-8 (see set_tenant_signed()) */
	canonical = pg_server_to_any(canonical, strlen(canonical), PG_UTF8);
	if (strlen(canonical) > TOKEN_TENANT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant value is too long for a token"),
				 errdetail("As UTF-8 it has %zu bytes; a token holds at most %d.",
						   strlen(canonical), TOKEN_TENANT_MAX),
				 errhint("Pass the tenant identifier itself, not a description of it.")));
	database = token_database_name(&database_len);
	st = token_sign(&k->key, database, database_len, canonical, strlen(canonical),
					(int64) expires + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY,
					out, sizeof(out));
	if (st != TOKEN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign token: %s", token_status_name(st))));
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/* set_tenant_signed(token text): verify, then set the tenant for the transaction */
Datum
tenant_rls_set_tenant_signed(PG_FUNCTION_ARGS)
{
	text	   *t;
	KeyCache   *cur;
	KeyCache   *prev;
	token_claims claims;
	token_status st;
	char	   *canonical;
	const char *database;
	size_t		database_len;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token must not be null"),
				 errhint("Pass the token made by tenant_rls.sign_tenant().")));
	t = PG_GETARG_TEXT_PP(0);

	refuse_untrusted_key(KEY_CURRENT);
	cur = prepared_key(KEY_CURRENT);
	if (cur->status != TOKEN_OK)
		key_error(KEY_CURRENT, cur->status);
	prev = NULL;
	if (signing_key[KEY_PREVIOUS] != NULL && signing_key[KEY_PREVIOUS][0] != '\0')
	{
		refuse_untrusted_key(KEY_PREVIOUS);
		prev = prepared_key(KEY_PREVIOUS);
		if (prev->status != TOKEN_OK)
			key_error(KEY_PREVIOUS, prev->status);
	}

	database = token_database_name(&database_len);
	st = token_verify(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
					  &cur->key, prev ? &prev->key : NULL,
					  database, database_len,
					  clock_now_unix_us(), &claims);
	if (st != TOKEN_OK)
		token_error(st, &claims, VARSIZE_ANY_EXHDR(t));

	/*
	 * The tenant is UTF-8 text (the token format says so: a signer outside
	 * the database cannot know its encoding), taken into the database's
	 * encoding (review rev35a: a signer's raw bytes went into the setting and
	 * rows; rev36b: in a LATIN1 database UTF-8 bytes were taken one by one,
	 * another tenant).  A character the database cannot hold: 22P05.
	 */
	if (!pg_verify_mbstr(PG_UTF8, claims.tenant, strlen(claims.tenant), true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("token's tenant is not valid UTF-8"),
				 errdetail("The signer put bytes into the tenant that are not UTF-8 text."),
				 errhint("Sign the tenant as UTF-8 text, as tenant_rls.sign_tenant() does.")));
	/* the signer canonicalised it, but the tenant type may have changed since */
	canonical = tenant_canonicalize(pg_any_to_server(claims.tenant, strlen(claims.tenant), PG_UTF8),
									(TenantType) tenant_rls_tenant_type);
	tenant_context_store_verified(canonical);
	PG_RETURN_TEXT_P(cstring_to_text(canonical));
}
