/*
 * audit_context.c -- the tenant context a statement's audit entries record.
 *
 * The audit trigger runs AFTER ROW: PostgreSQL queues its events and fires
 * them when the statement that made the changes ends (in ExecutorFinish, or
 * at the end of COPY FROM and TRUNCATE).  By then the statement itself may
 * have cleared the tenant context -- UPDATE ... RETURNING
 * tenant_rls.clear_tenant(), a data-modifying WITH query, a function called
 * later in the statement -- and strict mode allows a clear.  Read then, the
 * context would say "none": a tenant granted 'write' on another tenant's rows
 * would leave no trace of itself in that tenant's log, and a change of a
 * table without tenant column would leave the writer's chain (review rev37a
 * H1).
 *
 * So each data-modifying statement remembers, from its start, the tenant
 * context it ran with: the value at its start, then every non-empty value
 * assigned while it runs (strict mode allows one tenant per transaction; a
 * clear is not remembered).  While its AFTER triggers fire, that is the
 * context audit_statement_context() gives the audit trigger.
 *
 * Executors are remembered from ExecutorStart until their memory (the
 * executor state's query context) goes: ExecutorEnd, or the abort of the
 * portal or subtransaction they ran in.  Statements started before the
 * library was loaded are not remembered: for them, and for everything else
 * that fires AFTER triggers (logical replication's apply worker), the
 * trigger reads the context as it is.
 */
#include "tenant_rls.h"

#include "executor/executor.h"
#include "lib/ilist.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/utility.h"
#include "utils/memutils.h"

#include "audit.h"
#include "context.h"
#include "strict.h"

typedef struct StatementContext
{
	MemoryContextCallback cb;
	dlist_node	node;			/* in statements */
	QueryDesc  *query;			/* NULL: a utility statement */
	MemoryContext cxt;			/* where value lives */
	char	   *value;			/* NULL: none */
	bool		trusted;		/* strict mode trusted value when it was set */
} StatementContext;

/* the data-modifying statements running, innermost first */
static dlist_head statements = DLIST_STATIC_INIT(statements);

/* the statement whose AFTER triggers are firing; NULL: not known */
static StatementContext *firing = NULL;

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* the context as it is now */
static void
remember_current(StatementContext *sc)
{
	const char *v = tenant_setting_get();

	sc->value = NULL;
	sc->trusted = true;
	if (v != NULL && v[0] != '\0')
	{
		sc->value = MemoryContextStrdup(sc->cxt, v);
		sc->trusted = tenant_strict_value_trusted();
	}
}

static void
statement_memory_gone(void *arg)
{
	StatementContext *sc = (StatementContext *) arg;

	dlist_delete(&sc->node);
	if (firing == sc)
		firing = NULL;
}

static void
context_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	/* only a statement that changes rows queues audit events */
	if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 &&
		(queryDesc->operation != CMD_SELECT || queryDesc->plannedstmt->hasModifyingCTE))
	{
		MemoryContext cxt = queryDesc->estate->es_query_cxt;
		StatementContext *sc = MemoryContextAllocZero(cxt, sizeof(StatementContext));

		sc->query = queryDesc;
		sc->cxt = cxt;
		remember_current(sc);
		sc->cb.func = statement_memory_gone;
		sc->cb.arg = sc;
		MemoryContextRegisterResetCallback(cxt, &sc->cb);
		dlist_push_head(&statements, &sc->node);
	}
}

static void
context_executor_finish(QueryDesc *queryDesc)
{
	StatementContext *outer = firing;
	dlist_iter	it;

	firing = NULL;
	dlist_foreach(it, &statements)
	{
		StatementContext *sc = dlist_container(StatementContext, node, it.cur);

		if (sc->query == queryDesc)
		{
			firing = sc;
			break;
		}
	}
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		firing = outer;
	}
	PG_END_TRY();
}

/* COPY FROM and TRUNCATE fire their AFTER triggers themselves */
static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

static void
context_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	StatementContext sc;
	StatementContext *outer = firing;

	if (!(IsA(parsetree, CopyStmt) && ((CopyStmt *) parsetree)->is_from) &&
		!IsA(parsetree, TruncateStmt))
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	memset(&sc, 0, sizeof(sc));
	sc.cxt = CurrentMemoryContext;
	remember_current(&sc);
	dlist_push_head(&statements, &sc.node);
	firing = &sc;
	PG_TRY();
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		dlist_delete(&sc.node);
		firing = outer;
	}
	PG_END_TRY();
}

/*
 * The tenant setting was assigned newval (strict.c's assign hook; trusted:
 * strict mode trusts it): every running statement ran with it too.  No error
 * here, nor an allocation that could raise one (the hook runs in transaction
 * abort too).
 */
void
audit_context_assigned(const char *newval, bool trusted)
{
	dlist_iter	it;

	if (newval == NULL || newval[0] == '\0')
		return;
	dlist_foreach(it, &statements)
	{
		StatementContext *sc = dlist_container(StatementContext, node, it.cur);
		char	   *copy;

		if (sc->value != NULL && strcmp(sc->value, newval) == 0)
		{
			sc->trusted = trusted;
			continue;
		}
		copy = MemoryContextAllocExtended(sc->cxt, strlen(newval) + 1, MCXT_ALLOC_NO_OOM);
		if (copy == NULL)
			continue;
		strcpy(copy, newval);
		sc->value = copy;
		sc->trusted = trusted;
	}
}

const char *
audit_statement_context(bool *trusted)
{
	if (firing == NULL)
	{
		const char *v = tenant_setting_get();

		if (v == NULL || v[0] == '\0')
		{
			*trusted = true;
			return NULL;
		}
		*trusted = tenant_strict_value_trusted();
		return v;
	}
	*trusted = firing->trusted || !tenant_strict_in_force();
	return firing->value;
}

void
audit_context_init(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = context_executor_start;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = context_executor_finish;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = context_process_utility;
}
