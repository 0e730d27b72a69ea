/*
 * strict.c -- strict mode: who may change app.current_tenant_id (DESIGN C3).
 *
 * With the library preloaded, tenant_rls defines app.current_tenant_id itself
 * (PGC_USERSET, so tenant_context_store() can set it for any role) with a check
 * hook.  When tenant_rls.strict is on and the current user is not privileged
 * (superuser, or a member of tenant_rls.admin_role), the hook refuses every
 * change that does not come from tenant_context_store(): SET, SET LOCAL,
 * set_config() anywhere in a query, a function's SET clause, startup options,
 * ALTER ROLE/DATABASE ... SET (at DDL time, and at connection start for
 * defaults stored earlier).  RESET and SET ... TO DEFAULT do not reach check
 * hooks, so a ProcessUtility hook refuses them.  tenant_context_store() in
 * turn refuses, for unprivileged roles, unsigned values, session scope and a
 * second tenant within one transaction.
 *
 * Every value of the setting carries, in its GUC "extra", whether it was set
 * by a trusted path; the accessors refuse an untrusted value while strict
 * mode is in force (a connection default applied before a per-database or
 * per-role tenant_rls.strict = on came into effect, for instance).
 *
 * Clearing is always allowed: DISCARD ALL, RESET ALL (poolers need them),
 * clear_tenant() and the end of the transaction.  A value that was set and
 * rolled back never passes through a check hook (GUC restores it directly),
 * which is what makes transaction-local values work under strict mode.
 */
#include "tenant_rls.h"
#include "context.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "audit.h"
#include "guc.h"
#include "module_init.h"
#include "planner_prune.h"
#include "strict.h"
#include "token.h"

PG_FUNCTION_INFO_V1(tenant_rls_strict_status);

static bool strict_setting = false;
static bool library_preloaded = false;
/*
 * Loaded by shared_preload_libraries (in the postmaster; its backends and
 * parallel workers inherit the flag).  Only then is every session of the
 * cluster, in every database, sure to have the library, so that a key from
 * postgresql.conf is never a placeholder that any role can read.
 */
static bool library_shared_preloaded = false;
static char *tenant_setting_value = NULL;
static bool tenant_setting_defined = false;	/* tenant_setting_value is the GUC's */

uint64		tenant_rls_context_epoch = 1;

/*
 * Set only around tenant_context_store()'s set_config_option(), with
 * whether the value it stores may be trusted once strict mode is in force.
 */
static bool store_in_progress = false;
static bool store_trusted = false;
static Oid	store_privileged_by = InvalidOid;
static Oid	store_via = InvalidOid;

/* whether the current value of app.current_tenant_id came by a trusted path */
static bool value_trusted = true;

/*
 * The role whose privilege made that value trusted (an unsigned or
 * session-wide set_tenant(), a SET, by a superuser or a member of
 * tenant_rls.admin_role); InvalidOid when the trust does not depend on a
 * role (a signed token, a clearing, a superuser's configuration file).
 * Such a value is trusted only while that role keeps the privilege (review
 * rev25a: a session-wide tenant set by a member of admin_role kept serving
 * the session -- behind a pooler, the next clients of that role -- after
 * the membership was revoked).  priv_checked/priv_result cache the answer
 * until roles, memberships or tenant_rls.admin_role change;
 * just_checked_role is the role the check hook has just found privileged
 * (the assign hook that follows needs not ask again; one that restores an
 * older value at the end of a transaction must).
 */
static Oid	value_privileged_by = InvalidOid;

/*
 * The session user, when value_privileged_by was the current role by its
 * SET ROLE (not by a SECURITY DEFINER function): the value is trusted only
 * while that user may still SET ROLE to it (review rev46b: SET ROLE to the
 * admin role, set_tenant(x, false), RESET ROLE, and the tenant outlived the
 * revocation of the membership, since the admin role itself never stops
 * being privileged).  InvalidOid otherwise.
 */
static Oid	value_via = InvalidOid;
static bool priv_checked = false;
static bool priv_result = false;
static Oid	just_checked_role = InvalidOid;

/*
 * Parallel workers: what the leader knew.  A worker restores the leader's
 * settings through check hooks that cannot tell a value the leader trusted
 * from one it refused (both come as PGC_S_SESSION), and a worker of a
 * session_preload_libraries leader does not count as preloaded itself.  So
 * every backend keeps its own state in the hidden setting
 * tenant_rls.parallel_leader_state (written directly: GUC serialises the
 * variable, not the last SET), workers receive it with the other settings,
 * and a worker's accessors use the leader's state, never their own.  The
 * boot value (a worker that got nothing) fails closed.
 */
#define LEADER_STATE_UNKNOWN	0	/* strict mode per tenant_rls.strict, value untrusted */
#define LEADER_STATE_NOT_PRELOADED 1	/* leader not preloaded: strict mode not in force */
#define LEADER_STATE_UNTRUSTED	2	/* preloaded, value untrusted */
#define LEADER_STATE_TRUSTED	3	/* preloaded, value trusted */
#define LEADER_STATE_SETTING	"tenant_rls.parallel_leader_state"

static int	leader_state = LEADER_STATE_UNKNOWN;

/* set only while this module sets tenant_rls.parallel_leader_state itself */
static bool leader_state_init = false;

/* the tenant this transaction ran as (strict mode, unprivileged roles) */
static LocalTransactionId locked_lxid = InvalidLocalTransactionId;
static char locked_tenant[TENANT_MAX_LEN + 1];

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

typedef struct TenantExtra
{
	bool		trusted;
	Oid			privileged_by;	/* see value_privileged_by */
	Oid			via;			/* see value_via */
} TenantExtra;

/* preloaded: for a parallel worker, whether its leader was */
static bool
effective_preloaded(void)
{
	if (IsParallelWorker())
		return leader_state != LEADER_STATE_NOT_PRELOADED;
	return library_preloaded;
}

bool
tenant_rls_preloaded(void)
{
	return effective_preloaded();
}

bool
tenant_rls_shared_preloaded(void)
{
	return library_shared_preloaded;
}

/* this backend's state, as its parallel workers will see it */
static void
publish_leader_state(void)
{
	if (IsParallelWorker())
		return;
	if (!library_preloaded)
		leader_state = LEADER_STATE_NOT_PRELOADED;
	else
		leader_state = value_trusted &&
			(!OidIsValid(value_privileged_by) || (priv_checked && priv_result)) ?
			LEADER_STATE_TRUSTED : LEADER_STATE_UNTRUSTED;
}

bool
tenant_strict_in_force(void)
{
	return effective_preloaded() && strict_setting;
}

static bool
role_privileged(Oid roleid)
{
	Oid			admin;

	if (superuser_arg(roleid))
		return true;
	if (tenant_rls_admin_role == NULL || tenant_rls_admin_role[0] == '\0')
		return false;
	admin = get_role_oid(tenant_rls_admin_role, true);
	return OidIsValid(admin) && has_privs_of_role(roleid, admin);
}

bool
tenant_strict_privileged(void)
{
	return role_privileged(GetUserId());
}

/*
 * The session user, when the current role is what it is by SET ROLE (the
 * outer role, not a SECURITY DEFINER function's owner) and not the session
 * user itself: see value_via.
 */
static Oid
privilege_via(void)
{
	Oid			current = GetUserId();

	if (current == GetOuterUserId() && current != GetSessionUserId())
		return GetSessionUserId();
	return InvalidOid;
}

/* the role that set the value is privileged, and still reachable by SET ROLE */
static bool
value_privilege_holds(Oid privileged_by, Oid via)
{
	if (!role_privileged(privileged_by))
		return false;
	return !OidIsValid(via) || superuser_arg(via) || is_member_of_role(via, privileged_by);
}

/* the current value may be used (strict mode aside) */
static bool
value_trusted_now(void)
{
	if (!value_trusted)
		return false;
	if (!OidIsValid(value_privileged_by))
		return true;
	if (!priv_checked)
	{
		/* the catalogs need a transaction: fail closed without one */
		if (!IsTransactionState())
			return false;
		priv_result = value_privilege_holds(value_privileged_by, value_via);
		priv_checked = true;
		publish_leader_state();
	}
	return priv_result;
}

bool
tenant_strict_value_trusted(void)
{
	if (IsParallelWorker())
		return leader_state == LEADER_STATE_TRUSTED || !tenant_strict_in_force();
	return !tenant_strict_in_force() || value_trusted_now();
}

void
tenant_strict_privileges_changed(void)
{
	priv_checked = false;
	tenant_rls_context_epoch++;

	/*
	 * The workers of a parallel query get the state published here, not
	 * checked again: until the leader has checked the privilege (the next
	 * call of an accessor), they fail closed.
	 */
	if (OidIsValid(value_privileged_by))
		publish_leader_state();
}

static void
roles_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	tenant_strict_privileges_changed();
}

void
tenant_strict_begin_store(bool trusted, Oid privileged_by)
{
	store_in_progress = true;
	store_trusted = trusted;
	store_privileged_by = privileged_by;
	store_via = OidIsValid(privileged_by) ? privilege_via() : InvalidOid;
}

void
tenant_strict_end_store(void)
{
	store_in_progress = false;
}

/* ---------------------------------------------------------------------
 * The check and assign hooks of app.current_tenant_id
 * ---------------------------------------------------------------------
 */

static bool
connection_source(GucSource source)
{
	return source == PGC_S_DATABASE || source == PGC_S_USER ||
		source == PGC_S_DATABASE_USER || source == PGC_S_CLIENT;
}

static bool
check_tenant_setting(char **newval, void **extra, GucSource source)
{
	bool		trusted;
	Oid			privileged_by = InvalidOid;
	Oid			via = InvalidOid;
	TenantExtra *e;
	const char *planned;

	if (store_in_progress)
	{
		/*
		 * tenant_context_store() checked the change; whether the value counts
		 * once strict mode is in force was decided there: an unsigned value
		 * of a role that is not privileged, set while strict mode was off,
		 * must not serve that session after strict mode comes on (review
		 * rev21a: a session-wide set_tenant(x, false) made before a reload
		 * kept reading x's rows without a token).
		 */
		trusted = store_trusted;
		privileged_by = store_privileged_by;
		via = store_via;
	}
	else if (source <= PGC_S_GLOBAL)
	{
		/*
		 * Built-in default, postgresql.conf, command line, environment,
		 * ALTER ROLE ALL SET: only a superuser can put a value there.
		 * (Also the postmaster, where no catalog can be read.)
		 */
		trusted = true;
	}
	else if (InitializingParallelWorker)
	{
		/*
		 * The leader checked it.  Whether the leader trusted it is not known
		 * here: the worker's accessors ask tenant_rls.parallel_leader_state.
		 */
		trusted = false;
	}
	else
	{
		/*
		 * SET, set_config(), function SET clauses (PGC_S_SESSION), startup
		 * options and per-role/per-database defaults (connection sources),
		 * ALTER ROLE/DATABASE ... SET and CREATE FUNCTION ... SET being
		 * validated (PGC_S_TEST).  Privilege needs the catalogs, i.e. a
		 * transaction (PostgreSQL 15 applies startup options, role and
		 * database defaults and session_preload_libraries inside
		 * InitPostgres()'s transaction); without one the change counts as
		 * unprivileged.
		 */
		trusted = IsTransactionState() && OidIsValid(GetUserId()) &&
			tenant_strict_privileged();
		if (trusted)
		{
			privileged_by = GetUserId();
			via = privilege_via();
		}

		if (!trusted && tenant_strict_in_force())
		{
			GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
			if (source == PGC_S_TEST)
				GUC_check_errmsg("a default for %s cannot be stored in strict mode",
								 TENANT_SETTING);
			else if (connection_source(source))
				GUC_check_errmsg("%s cannot be set at connection start in strict mode",
								 TENANT_SETTING);
			else
				GUC_check_errmsg("%s can only be changed through tenant_rls.set_tenant_signed() in strict mode",
								 TENANT_SETTING);
			GUC_check_errdetail("tenant_rls.strict is on and the current role is neither a superuser nor a member of tenant_rls.admin_role.");
			GUC_check_errhint("Set the tenant with tenant_rls.set_tenant_signed(token) inside the transaction.");
			return false;
		}
	}

	/*
	 * A plan made with the current tenant's value is running (the library
	 * preloaded: planner_prune.c): it would go on reading that tenant's
	 * rows.  After strict mode's checks, whose errors say more; not for
	 * ALTER ROLE/DATABASE/FUNCTION ... SET being validated, nor for a
	 * parallel worker taking the leader's value.
	 */
	if (source != PGC_S_TEST && !InitializingParallelWorker &&
		(planned = tenant_planner_change_refused(*newval)) != NULL)
	{
		GUC_check_errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
		GUC_check_errmsg("cannot change the tenant while a statement planned for tenant \"%s\" is running",
						 planned);
		GUC_check_errdetail("The statement, or a cursor still open, reads that tenant's rows with the value its plan was made with; tenant_rls is preloaded.");
		GUC_check_errhint(TENANT_PLANNED_CHANGE_HINT);
		return false;
	}

	e = malloc(sizeof(TenantExtra));
	if (e == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	e->trusted = trusted;
	e->privileged_by = privileged_by;
	e->via = via;
	*extra = e;
	/* (ALTER ROLE ... SET only validates: no assign follows) */
	just_checked_role = source == PGC_S_TEST ? InvalidOid : privileged_by;
	return true;
}

static void
assign_tenant_setting(const char *newval, void *extra)
{
	TenantExtra *e = (TenantExtra *) extra;

	value_trusted = (e == NULL) || e->trusted;
	value_privileged_by = e ? e->privileged_by : InvalidOid;
	value_via = e ? e->via : InvalidOid;
	/* found privileged just now, or to be checked before use */
	priv_checked = priv_result =
		OidIsValid(value_privileged_by) && value_privileged_by == just_checked_role;
	just_checked_role = InvalidOid;
	tenant_rls_context_epoch++;
	publish_leader_state();
	tenant_planner_tenant_changed(newval);
	audit_context_assigned(newval, value_trusted);
}

/* strict mode on or off: the accessors ask again */
static void
assign_strict(bool newval, void *extra)
{
	tenant_rls_context_epoch++;
}

/*
 * tenant_rls.parallel_leader_state: only this module sets it (at load), and
 * parallel workers restoring their leader's settings; nobody else.
 */
static bool
check_leader_state(int *newval, void **extra, GucSource source)
{
	if (leader_state_init || source == PGC_S_DEFAULT || InitializingParallelWorker)
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("%s is internal to tenant_rls and cannot be set", LEADER_STATE_SETTING);
	GUC_check_errdetail("It passes this session's strict-mode state to its parallel workers.");
	GUC_check_errhint("Leave it alone; tenant_rls.strict_status() shows the state.");
	return false;
}

/* ---------------------------------------------------------------------
 * tenant_context_store() asks here first
 * ---------------------------------------------------------------------
 */

void
tenant_strict_check_store(const char *canonical, bool is_local, bool verified)
{
	const char *current;
	bool		changes;

	if (!tenant_strict_in_force() || canonical[0] == '\0')
		return;					/* clearing is always allowed */
	if (tenant_strict_privileged())
		return;

	if (!is_local)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("session-wide tenant context is not allowed in strict mode"),
				 errdetail("A session-wide tenant outlives the transaction and, behind a pooler, reaches the next client."),
				 errhint("Set the tenant for each transaction with tenant_rls.set_tenant_signed(token).")));
	if (!verified)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tenant_rls.set_tenant() is not allowed in strict mode"),
				 errdetail("In strict mode a role that is not privileged sets its tenant only with a signed token."),
				 errhint("Use tenant_rls.set_tenant_signed(token), with a token made by tenant_rls.sign_tenant().")));

	/* an untrusted value (accessors refuse it) does not count as a tenant */
	current = GetConfigOption(TENANT_SETTING, true, false);
	changes = (value_trusted_now() && current != NULL && current[0] != '\0' &&
			   strcmp(current, canonical) != 0) ||
		(locked_lxid == MyProc->lxid && strcmp(locked_tenant, canonical) != 0);
	if (changes)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("the tenant cannot change within a transaction in strict mode"),
				 errdetail("This transaction has already run as another tenant."),
				 errhint("End the transaction, then set the new tenant in the next one.")));

	locked_lxid = MyProc->lxid;
	strlcpy(locked_tenant, canonical, sizeof(locked_tenant));
}

/* ---------------------------------------------------------------------
 * RESET app.current_tenant_id / SET ... TO DEFAULT: no check hook runs
 * ---------------------------------------------------------------------
 */

static void
two_phase_refused(bool preparing)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("two-phase commit is not allowed in strict mode"),
			 errdetail("The tenants of a role share its prepared transactions: any of them could commit or roll back another tenant's."),
			 preparing ?
			 errhint("The transaction was rolled back: run it again and end it with COMMIT, or run two-phase commit as a role strict mode does not hold to signed tokens (a superuser or a member of tenant_rls.admin_role).") :
			 errhint("Commit or roll back prepared transactions as a role strict mode does not hold to signed tokens (a superuser or a member of tenant_rls.admin_role).")));
}

/*
 * PREPARE TRANSACTION: refused as it prepares, like PostgreSQL's own
 * failures there (max_prepared_transactions = 0, a gid in use): the
 * transaction is rolled back and the block ends.
 */
static void
strict_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_PREPARE && tenant_strict_in_force() &&
		!tenant_strict_privileged())
		two_phase_refused(true);
}

static void
strict_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, VariableSetStmt) && tenant_strict_in_force())
	{
		VariableSetStmt *stmt = (VariableSetStmt *) parsetree;

		if ((stmt->kind == VAR_RESET || stmt->kind == VAR_SET_DEFAULT) &&
			stmt->name != NULL && pg_strcasecmp(stmt->name, TENANT_SETTING) == 0 &&
			!tenant_strict_privileged())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s cannot be reset in strict mode", TENANT_SETTING),
					 errdetail("tenant_rls.strict is on and the current role is neither a superuser nor a member of tenant_rls.admin_role."),
					 errhint("Use tenant_rls.clear_tenant(), or end the transaction: a transaction's tenant ends with it.")));
	}

	/*
	 * Two-phase commit: the tenants of one application role share its
	 * prepared transactions (pg_prepared_xacts lists them to it, and
	 * COMMIT PREPARED runs outside any transaction, so with no tenant), so
	 * each could decide the outcome of another's writes.
	 */
	/*
	 * (PREPARE TRANSACTION is refused when it prepares, by
	 * strict_xact_callback(): refused here, in the block, it left the block
	 * open and aborted, where PostgreSQL's own failed PREPARE TRANSACTION
	 * ends it -- a client behind a transaction pooler then kept its server
	 * connection, and a COMMIT, as the hint said, rolled back; review rev49d.)
	 */
	/*
	 * (The kind first: COMMIT, ROLLBACK and PREPARE TRANSACTION of a failed
	 * block come here in the aborted transaction, where no catalog may be
	 * read -- tenant_strict_privileged() read pg_authid there when a role
	 * change had invalidated superuser()'s cache: an assertion failure in an
	 * assert-enabled server.  COMMIT/ROLLBACK PREPARED never run in a block.)
	 */
	if (IsA(parsetree, TransactionStmt) &&
		(((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED ||
		 ((TransactionStmt *) parsetree)->kind == TRANS_STMT_ROLLBACK_PREPARED) &&
		tenant_strict_in_force() && !tenant_strict_privileged())
		two_phase_refused(false);

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* ---------------------------------------------------------------------
 * Initialisation and status
 * ---------------------------------------------------------------------
 */

void
tenant_rls_strict_init(void)
{
	/*
	 * Preloaded: by shared_preload_libraries (postmaster), or by
	 * session_preload_libraries while the backend initialises (PostgreSQL 15
	 * loads those inside InitPostgres()'s transaction, still in
	 * InitProcessing mode), i.e. before the session ran any SQL.  CREATE
	 * EXTENSION, LOAD and a first function call load it in normal
	 * processing, after the session could already have set anything.
	 * Parallel workers load what their leader had; they never count.
	 */
	CacheRegisterSyscacheCallback(AUTHOID, roles_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, roles_changed, (Datum) 0);
	/* the database's owner has the privileges of pg_database_owner (review rev45d) */
	CacheRegisterSyscacheCallback(DATABASEOID, roles_changed, (Datum) 0);
	RegisterXactCallback(strict_xact_callback, NULL);

	library_shared_preloaded = process_shared_preload_libraries_in_progress;
	library_preloaded = process_shared_preload_libraries_in_progress ||
		(!InitializingParallelWorker &&
		 (IsInitProcessingMode() || !IsTransactionState()));

	DefineCustomBoolVariable("tenant_rls.strict",
							 gettext_noop("Strict mode: roles that are not privileged can set the tenant only with a signed token."),
							 gettext_noop("Needs tenant_rls in shared_preload_libraries or session_preload_libraries."),
							 &strict_setting,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, assign_strict, NULL);

	DefineCustomIntVariable(LEADER_STATE_SETTING,
							"Internal: the strict-mode state of the leader, for its parallel workers.",
							NULL,
							&leader_state,
							LEADER_STATE_UNKNOWN,
							LEADER_STATE_UNKNOWN, LEADER_STATE_TRUSTED,
							PGC_SUSET,
							GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE |
							GUC_NO_RESET_ALL | GUC_SUPERUSER_ONLY,
							check_leader_state, NULL, NULL);
	if (!InitializingParallelWorker && !IsInParallelMode())
	{
		/*
		 * A non-default source, so that SerializeGUCState() always sends it
		 * (PGC_S_OVERRIDE: RESET ALL and DISCARD ALL leave it alone); from
		 * now on the variable itself follows this backend's state.
		 * PGC_SUSET: a role that is not superuser cannot RESET it either
		 * (RESET, SET ... TO DEFAULT and set_config(..., NULL, ...) bypass
		 * check hooks, and a reset rolled back would restore a stale state).
		 * (Loaded for the first time inside a parallel operation, where no
		 * setting can change: it stays at its boot value, and the workers
		 * fail closed.)
		 */
		leader_state_init = true;
		PG_TRY();
		{
			SetConfigOption(LEADER_STATE_SETTING, "0", PGC_INTERNAL, PGC_S_OVERRIDE);
		}
		PG_FINALLY();
		{
			leader_state_init = false;
		}
		PG_END_TRY();
		publish_leader_state();
	}

	/*
	 * A parallel worker defines the setting whatever it counts as itself: it
	 * follows its leader (tenant_strict_in_force()).
	 */
	if (!library_preloaded && !InitializingParallelWorker)
		return;

	DefineCustomStringVariable(TENANT_SETTING,
							   gettext_noop("Tenant of the current transaction or session; set it with tenant_rls.set_tenant_signed() or tenant_rls.set_tenant()."),
							   NULL,
							   &tenant_setting_value,
							   "",
							   PGC_USERSET,
							   GUC_NOT_IN_SAMPLE,
							   check_tenant_setting, assign_tenant_setting, NULL);
	tenant_setting_defined = true;

	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = strict_ProcessUtility;
}

/*
 * The value of app.current_tenant_id (NULL when it was never set).  Where
 * this module defines the setting, its variable is read directly: the
 * accessors call this for every statement that reads a tenant table, and a
 * lookup by name costs a search of all settings.
 */
const char *
tenant_setting_get(void)
{
	if (tenant_setting_defined)
		return tenant_setting_value;
	return GetConfigOption(TENANT_SETTING, true, false);
}

bool
tenant_setting_tracked(void)
{
	return tenant_setting_defined;
}

/*
 * strict_status(OUT in_force, OUT strict_setting, OUT preloaded, OUT key_configured,
 *               OUT reason)
 */
Datum
tenant_rls_strict_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	const char *reason;
	bool		key = tenant_token_key_configured();
	const char *refused = tenant_token_key_refused();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (!strict_setting)
		reason = "tenant_rls.strict is off: any role can set app.current_tenant_id directly";
	else if (!effective_preloaded())
		reason = "tenant_rls.strict is on but not in force: tenant_rls is not preloaded; add it to shared_preload_libraries and restart";
	else if (!key)
		reason = "strict mode is in force, but tenant_rls.signing_key is not set, so no role that is not privileged can set a tenant";
	else if (refused)
		reason = psprintf("strict mode is in force, but %s; until then no role that is not privileged can set a tenant", refused);
	else
		reason = "strict mode is in force: roles that are not privileged set the tenant only with tenant_rls.set_tenant_signed()";
	/*
	 * Strict mode not in force: say also that the key is refused (and may
	 * be exposed), preloaded or not (review rev40c: without preload, reason
	 * did not say it, though any role could read the key)
	 */
	if (refused && !(strict_setting && effective_preloaded()))
		reason = psprintf("%s; %s", reason, refused);

	values[0] = BoolGetDatum(tenant_strict_in_force());
	values[1] = BoolGetDatum(strict_setting);
	values[2] = BoolGetDatum(effective_preloaded());
	values[3] = BoolGetDatum(key);
	values[4] = CStringGetTextDatum(reason);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
