/*
 * owner_code.c -- code of other roles that the extension's privileged work
 * makes PostgreSQL run.
 *
 * The extension runs SQL with more rights than the user who caused it: the
 * bootstrap superuser (spi_exec_privileged(): the registry, the NULL check of
 * protect(), the TRUNCATE count of the audit trigger), the extension owner
 * (the SECURITY DEFINER event triggers, which protect every new table; the
 * health views), or a superuser who calls protect().  That SQL can make
 * PostgreSQL run code of a table's owner: ALTER TABLE ... SET NOT NULL folds
 * the IMMUTABLE functions of the table's CHECK constraints while it proves the
 * constraint, the planner folds those of its index expressions, and so on.
 * Run with those rights, such code -- any role with CREATE on a managed
 * schema can write it -- would be a superuser.
 *
 * So while the extension works with such rights (owner_code_guard_begin() ..
 * _end()), every function that is not owned by a superuser runs as its
 * owner, in a security-restricted operation: as if it were SECURITY DEFINER
 * of its owner (fmgr hooks; SQL functions are then not inlined).  Functions
 * of superusers -- built in, of extensions, of the DBA -- run as before.
 *
 * And while the extension runs its own DDL (tenant_own_ddl_begin() .. _end():
 * protect(), unprotect() & co., the event triggers), the drift guard and
 * auto-protection stand aside for it; DDL that starts below one of those
 * statements -- code they run, of a table's owner -- would pass unguarded
 * (dropping a policy of another protected table, or weakening the policies
 * protect() is creating before it records them as the managed definition),
 * so it is refused.
 */
#include "tenant_rls.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "owner_code.h"

static int	guard_level = 0;	/* owner_code_guard_begin() nesting */
static int	utility_depth = 0;	/* utility statements in progress */
static int	own_ddl_depth = -1; /* where our own statements start; -1: none */

static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* the identities the hook replaced, innermost first */
typedef struct SavedUser
{
	Oid			userid;
	int			sec_context;
	struct SavedUser *next;
} SavedUser;

static SavedUser *saved_users = NULL;

int
owner_code_guard_begin(void)
{
	return guard_level++;
}

void
owner_code_guard_end(int saved)
{
	guard_level = saved;
}

int
owner_code_spi_execute(const char *sql, bool read_only, long tcount)
{
	int			save = owner_code_guard_begin();
	volatile int ret;

	PG_TRY();
	{
		ret = SPI_execute(sql, read_only, tcount);
	}
	PG_FINALLY();
	{
		owner_code_guard_end(save);
	}
	PG_END_TRY();
	return ret;
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

/* the owner of a function, if it is not a superuser; InvalidOid otherwise */
static Oid
untrusted_owner(Oid fn_oid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return superuser_arg(owner) ? InvalidOid : owner;
}

static bool
owner_code_needs_fmgr_hook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && (*prev_needs_fmgr_hook) (fn_oid))
		return true;
	return guard_level > 0 && OidIsValid(untrusted_owner(fn_oid));
}

/*
 * A function looked up while the guard was on: while it is still on, it runs
 * as its owner.  *private counts the identities pushed for this call site.
 */
static void
owner_code_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (prev_fmgr_hook)
		(*prev_fmgr_hook) (event, flinfo, private);

	if (event == FHET_START)
	{
		Oid			owner;
		SavedUser  *s;

		if (guard_level == 0 || !OidIsValid(owner = untrusted_owner(flinfo->fn_oid)))
			return;
		s = MemoryContextAlloc(TopMemoryContext, sizeof(SavedUser));
		GetUserIdAndSecContext(&s->userid, &s->sec_context);
		s->next = saved_users;
		saved_users = s;
		*private = Int32GetDatum(DatumGetInt32(*private) + 1);
		SetUserIdAndSecContext(owner, s->sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	}
	else if (DatumGetInt32(*private) > 0 && saved_users != NULL)
	{
		/* FHET_END, FHET_ABORT: the innermost identity is this call's */
		SavedUser  *s = saved_users;

		saved_users = s->next;
		*private = Int32GetDatum(DatumGetInt32(*private) - 1);
		SetUserIdAndSecContext(s->userid, s->sec_context);
		pfree(s);
	}
}

static void
owner_code_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						  ProcessUtilityContext context, ParamListInfo params,
						  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (own_ddl_depth >= 0 && utility_depth > own_ddl_depth)
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
 * Every begin has its end in a PG_FINALLY; this is the net under it: an
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
