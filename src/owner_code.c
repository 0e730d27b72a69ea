/*
 * owner_code.c -- code of other roles that the extension's privileged work
 * makes PostgreSQL run.
 *
 * The extension runs SQL with more rights than the user who caused it: the
 * bootstrap superuser (spi_exec_privileged(): the registry and the catalogs),
 * the extension owner (the SECURITY DEFINER event triggers, which protect
 * every new table; the health views), or a superuser who calls protect().
 * That SQL can make
 * PostgreSQL run code of a table's owner: ALTER TABLE ... SET NOT NULL folds
 * the IMMUTABLE functions of the table's CHECK constraints while it proves the
 * constraint, the planner folds those of its index expressions, and so on.
 * Run with those rights, such code -- any role with CREATE on a managed
 * schema can write it -- would be a superuser.
 *
 * So while the extension works with such rights (owner_code_guard_begin() ..
 * _end()):
 *   - a function not owned by a superuser, called where the current user is
 *     a superuser, runs as its owner, in a security-restricted operation: as
 *     if it were SECURITY DEFINER of its owner (fmgr hooks; SQL functions are
 *     then not inlined).  Called by code of another role, it keeps invoker's
 *     rights as always; a SECURITY DEFINER function of a non-superuser only
 *     gets the restrictions.  Functions of superusers -- built in, of
 *     extensions, of the DBA -- run as before;
 *   - settings such code changes (search_path) end with the guard (a GUC
 *     nest level per guard), as for index functions;
 *   - a function of a non-superuser whose SET clause sets role or
 *     session_authorization is refused (PostgreSQL applies the clause before
 *     the hook sees the call, so the hook would not see its caller);
 *   - DDL run by such code is refused: the drift guard and auto-protection
 *     stand aside while the extension runs its own DDL, so that DDL would pass
 *     unguarded (dropping a policy of another protected table, or weakening
 *     the policies protect() is creating before it records them).  Also a
 *     statement that changes row security or policies below one of the
 *     extension's own statements where the current user is not a superuser
 *     (a table owner's code while its own protect() runs).  Event trigger
 *     functions are not switched (a superuser attached them): the DBA's
 *     event triggers (PostgREST's NOTIFY of a schema reload, a GRANT to a
 *     reporting role) run as before;
 *   - no query of the extension plans a user's table with a condition where
 *     the owner's code could run through a handle PostgreSQL cached before
 *     the guard (the typcache's range subtype_diff, called by a selectivity
 *     estimate): protect()'s NULL check and the audit trigger's TRUNCATE
 *     count scan the heap directly (the count never a foreign table: its
 *     wrapper would log in with the user mapping of whoever truncates).
 */
#include "tenant_rls.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "audit.h"
#include "owner_code.h"

static int	guard_level = 0;	/* owner_code_guard_begin() nesting */
static bool sql_function_hooked = false;	/* an SQL function not inlined under it */
static int	utility_depth = 0;	/* utility statements in progress */
static int	own_ddl_depth = -1; /* where our own statements start; -1: none */
static int *guard_nest = NULL;	/* GUC nest level of each guard level */
static int	guard_nest_size = 0;

static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * One frame per call the hook sees (FHET_START .. FHET_END / FHET_ABORT,
 * which PostgreSQL nests strictly), innermost first.  A count kept in the
 * FmgrInfo (*private) cannot tell which invocation switched: an FmgrInfo
 * cached for the session (the typcache's subtype_diff) is re-entered by the
 * switched code itself, and the inner, unswitched call would pop the outer
 * call's identity and give the rest of the owner's code the superuser back.
 */
typedef struct SavedUser
{
	bool		switched;		/* this call changed the identity */
	Oid			userid;
	int			sec_context;
	bool		secdef;			/* fmgr_security_definer() restores it itself */
	struct SavedUser *next;
} SavedUser;

static SavedUser *saved_users = NULL;
static int	switched_calls = 0;	/* frames with switched set */

/*
 * Settings that code of other roles changes while the guard is on must not
 * outlive the guard (search_path of a superuser's session): a GUC nest
 * level per guard, rolled back when it ends without error (an error: the
 * (sub)transaction's abort does it).
 */
int
owner_code_guard_begin(void)
{
	if (guard_level >= guard_nest_size)
	{
		int			n = Max(16, guard_nest_size * 2);

		guard_nest = guard_nest ?
			repalloc(guard_nest, n * sizeof(int)) :
			MemoryContextAlloc(TopMemoryContext, n * sizeof(int));
		guard_nest_size = n;
	}
	guard_nest[guard_level] = NewGUCNestLevel();
	return guard_level++;
}

void
owner_code_guard_end(int saved)
{
	if (guard_level > saved)
		AtEOXact_GUC(false, guard_nest[saved]);
	guard_level = saved;

	/*
	 * An SQL function of a non-superuser was not inlined under the guard;
	 * an index expression the planner read then stays cached so, and the
	 * session's queries that inline it no longer match the index.  Rare (a
	 * superuser's protect() of a table with such an expression index): drop
	 * this backend's caches, as a sinval overflow would.
	 */
	if (guard_level == 0 && sql_function_hooked)
	{
		sql_function_hooked = false;
		InvalidateSystemCaches();
	}
}

int
tenant_own_ddl_begin(void)
{
	int			save = own_ddl_depth;

	own_ddl_depth = utility_depth;
	return save;
}

void
tenant_own_ddl_end(int saved)
{
	own_ddl_depth = saved;
}

/*
 * Our statements run at own_ddl_depth + 1 (SPI below begin); a statement
 * deeper than that was run by code one of ours made PostgreSQL run (a CHECK
 * constraint's function folded by SET NOT NULL, a DBA's event trigger).
 */
bool
tenant_own_ddl_direct(void)
{
	return own_ddl_depth >= 0 && utility_depth <= own_ddl_depth + 1;
}

/* on the error path: no GUC work, the abort does it */
void
owner_code_guard_end_error(int saved)
{
	guard_level = saved;
}

/*
 * Does the function's SET clause change the identity (role,
 * session_authorization) or the tenant?  fmgr_security_definer() applies it
 * before the hook is called: the hook would then see that identity, not its
 * caller's, and strict mode would take a tenant set while the current user
 * was still a superuser for a tenant set by a superuser (review rev46b).
 */
static bool
proconfig_sets_identity(HeapTuple tup)
{
	bool		isnull;
	Datum		d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	bool		result = false;

	if (isnull)
		return false;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n && !result; i++)
	{
		char	   *item;

		if (nulls[i])
			continue;
		item = TextDatumGetCString(elems[i]);
		if (pg_strncasecmp(item, "role=", 5) == 0 ||
			pg_strncasecmp(item, "session_authorization=", 22) == 0 ||
			/* strict mode's check hook trusts a tenant a superuser sets */
			(pg_strncasecmp(item, TENANT_SETTING, strlen(TENANT_SETTING)) == 0 &&
			 item[strlen(TENANT_SETTING)] == '='))
			result = true;
		pfree(item);
	}
	return result;
}

/*
 * The owner of a function, if it is not a superuser (and the function is no
 * event trigger function); InvalidOid otherwise.  Optionally whether it is
 * SECURITY DEFINER, sets the role in its SET clause, is written in SQL.
 */
static Oid
untrusted_owner(Oid fn_oid, bool *secdef, bool *sets_identity, bool *sql)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;

	/*
	 * An event trigger function runs only where a superuser attached it
	 * (CREATE EVENT TRIGGER): the DBA's, whoever owns it (PostgREST's
	 * NOTIFY of a schema reload).
	 */
	if (((Form_pg_proc) GETSTRUCT(tup))->prorettype == EVENT_TRIGGEROID)
	{
		ReleaseSysCache(tup);
		return InvalidOid;
	}
	if (secdef)
		*secdef = ((Form_pg_proc) GETSTRUCT(tup))->prosecdef;
	if (sql)
		*sql = ((Form_pg_proc) GETSTRUCT(tup))->prolang == SQLlanguageId;
	if (sets_identity)
		*sets_identity = !superuser_arg(owner) && proconfig_sets_identity(tup);
	ReleaseSysCache(tup);
	return superuser_arg(owner) ? InvalidOid : owner;
}


static bool
owner_code_needs_fmgr_hook(Oid fn_oid)
{
	bool		sql = false;

	if (prev_needs_fmgr_hook && (*prev_needs_fmgr_hook) (fn_oid))
		return true;
	/* (only where the call would run with a superuser's rights, see below) */
	if (guard_level == 0 || !superuser() ||
		!OidIsValid(untrusted_owner(fn_oid, NULL, NULL, &sql)))
		return false;
	/* the planner does not inline it now: see owner_code_guard_end() */
	if (sql)
		sql_function_hooked = true;
	return true;
}

/*
 * A function looked up while the guard was on: while it is still on, it runs
 * as its owner.  Each call pushes a frame (SavedUser), switched or not.
 */
static void
owner_code_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (prev_fmgr_hook)
		(*prev_fmgr_hook) (event, flinfo, private);

	if (event == FHET_START)
	{
		Oid			owner = InvalidOid;
		bool		secdef = false;
		bool		sets_identity = false;
		SavedUser  *s;

		/*
		 * Outside the guard, with no frame open, nothing to do (every
		 * SECURITY DEFINER or SET-clause call of every session comes here).
		 * Calls nest strictly, so a call that pushes no frame here finds
		 * none at its end either.
		 */
		if (guard_level == 0 && saved_users == NULL)
			return;
		if (guard_level > 0)
			owner = untrusted_owner(flinfo->fn_oid, &secdef, &sets_identity, NULL);
		/*
		 * Its SET role / session_authorization has already replaced the
		 * identity of its caller (a superuser calling protect()): neither
		 * the test below nor the identity saved for FHET_END would be the
		 * caller's.  (SECURITY DEFINER functions cannot set them.)
		 */
		if (sets_identity)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("tenant_rls refuses function %s: its SET clause changes the role or the tenant while the extension changes a table's protection",
							get_func_name(flinfo->fn_oid)),
					 errdetail("PostgreSQL applies a function's SET clause before tenant_rls runs the function with its owner's rights, so the clause would take effect with the rights of the extension."),
					 errhint("Remove SET role, SET session_authorization and SET %s from the function, or make it SECURITY DEFINER.",
							 TENANT_SETTING)));

		/*
		 * Every call gets its frame, switched or not (see SavedUser); pushed
		 * after the last error above: fmgr_security_definer() calls
		 * FHET_ABORT only for errors after FHET_START has returned.
		 */
		s = MemoryContextAllocZero(TopMemoryContext, sizeof(SavedUser));
		s->next = saved_users;
		saved_users = s;
		if (!OidIsValid(owner))
			return;
		/*
		 * An ordinary function runs as its owner only when the code calling
		 * it has rights to protect (a superuser); called by code of another
		 * role it keeps invoker's rights.  A SECURITY DEFINER function
		 * already runs as its owner: it only gets the restrictions.
		 */
		if (!secdef && !superuser())
			return;
		GetUserIdAndSecContext(&s->userid, &s->sec_context);
		s->secdef = secdef;
		s->switched = true;
		switched_calls++;
		SetUserIdAndSecContext(owner, s->sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	}
	else if (saved_users != NULL)
	{
		/* FHET_END, FHET_ABORT: the innermost frame is this call's */
		SavedUser  *s = saved_users;

		saved_users = s->next;
		if (s->switched)
		{
			switched_calls--;
			/*
			 * A SECURITY DEFINER function: fmgr_security_definer() has
			 * already put its caller's identity back before FHET_END; what
			 * we saved is the function owner's, which must not stay.
			 */
			if (!(s->secdef && event == FHET_END))
				SetUserIdAndSecContext(s->userid, s->sec_context);
		}
		pfree(s);
	}
}

/* does the statement change a table's row security or its policies? */
static bool
changes_row_security(Node *stmt)
{
	ListCell   *lc;

	if (IsA(stmt, CreatePolicyStmt) || IsA(stmt, AlterPolicyStmt))
		return true;
	if (IsA(stmt, DropStmt))
		return ((DropStmt *) stmt)->removeType == OBJECT_POLICY;
	if (IsA(stmt, RenameStmt))
		return ((RenameStmt *) stmt)->renameType == OBJECT_POLICY;
	if (!IsA(stmt, AlterTableStmt))
		return false;
	foreach(lc, ((AlterTableStmt *) stmt)->cmds)
	{
		AlterTableType t = ((AlterTableCmd *) lfirst(lc))->subtype;

		if (t == AT_EnableRowSecurity || t == AT_DisableRowSecurity ||
			t == AT_ForceRowSecurity || t == AT_NoForceRowSecurity)
			return true;
	}
	return false;
}

static void
owner_code_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						  ProcessUtilityContext context, ParamListInfo params,
						  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	/*
	 * Any statement of code of another role that the hook runs as its owner
	 * (switched_calls); and statements that change a table's row security or
	 * policies below one of our own statements where the current user is not
	 * a superuser (a table owner's CHECK function while the owner's
	 * protect() runs: it would weaken the policies protect() is about to
	 * record).  Other statements there (the DBA's event triggers firing as
	 * the owner: GRANT, COMMENT, NOTIFY) run.
	 */
	/*
	 * Code of the table owner's that the audit trigger runs (a cast to
	 * json) while the rows CREATE TABLE AS wrote are recorded: it runs
	 * inside our event trigger, where the drift guard does not see its DDL
	 * (review rev46g: it turned row-level security of a protected table off).
	 */
	if (audit_recording_created_rows)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tenant_rls refuses a statement run while it records the rows of a table created by CREATE TABLE AS"),
				 errdetail("Statement: %s", queryString ? queryString : "?"),
				 errhint("Code the audit trigger runs for the table's values (a cast to json of a column's type) must not run SQL commands other than queries.")));
	if (switched_calls > 0 ||
		(own_ddl_depth >= 0 && utility_depth > own_ddl_depth && !superuser() &&
		 changes_row_security(pstmt->utilityStmt)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tenant_rls refuses a statement run by a function while it changes a table's protection"),
				 errdetail("Statement: %s", queryString ? queryString : "?"),
				 errhint("A function called by a CHECK constraint, an index expression or another expression of the table ran it while protect(), unprotect() or auto-protection ran their own statements; such a function must not run DDL.")));
	utility_depth++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		utility_depth--;
	}
	PG_END_TRY();
}

/*
 * Every begin has its end (owner_code_guard_end_error() when an error passes
 * through, the abort rolls the settings back); this is the net under it: an
 * error the guard's owner did not catch ends the transaction, and nothing of
 * the guard may outlive it.
 */
static void
owner_code_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		guard_level = 0;
		own_ddl_depth = -1;
		sql_function_hooked = false;
		switched_calls = 0;
		while (saved_users != NULL)
		{
			SavedUser  *s = saved_users;

			saved_users = s->next;
			pfree(s);
		}
	}
}

void
tenant_rls_owner_code_init(void)
{
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = owner_code_needs_fmgr_hook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = owner_code_fmgr_hook;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = owner_code_ProcessUtility;
	RegisterXactCallback(owner_code_xact_callback, NULL);
}
