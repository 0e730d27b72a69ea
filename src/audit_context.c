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
 * clear is not remembered).  While its AFTER triggers fire, the last of them
 * is the context audit_statement_context() gives the audit trigger, for
 * every change the statement made.  An assignment made in a subtransaction
 * that aborts is forgotten with it, as the setting is (review rev38a M1, M2:
 * the statement kept a tenant that was in force only in a rolled-back
 * EXCEPTION block, and its changes went to that tenant's chain): each value
 * remembers the subtransaction it was assigned in, and a subtransaction
 * callback drops the values of the one aborting.
 *
 * Executors are remembered from ExecutorStart until their memory (the
 * executor state's query context) goes: ExecutorEnd, or the abort of the
 * portal or subtransaction they ran in.  Statements started before the
 * library was loaded are not remembered: for them, and for everything else
 * that fires AFTER triggers (logical replication's apply worker), the
 * trigger reads the context as it is.
 */
#include "tenant_rls.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "lib/ilist.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/utility.h"
#include "utils/memutils.h"

#include "audit.h"
#include "context.h"
#include "strict.h"

/* a value assigned while a statement ran */
typedef struct AssignedValue
{
	struct AssignedValue *prev; /* the one before it; NULL: the start value */
	SubTransactionId subid;		/* assigned in it (or in a subtransaction of
								 * it that has committed) */
	bool		trusted;
	Size		size;			/* of value's buffer */
	char	   *value;
} AssignedValue;

typedef struct StatementContext
{
	MemoryContextCallback cb;
	dlist_node	node;			/* in statements */
	QueryDesc  *query;			/* NULL: a utility statement */
	MemoryContext cxt;			/* where the values live */
	char	   *start_value;	/* at its start; NULL: none */
	bool		start_trusted;	/* strict mode trusted it */
	AssignedValue *assigned;	/* the last one assigned since; NULL: none */
	uint64		id;				/* a utility statement's: audit_utility_statement_id() */
} StatementContext;

/* the id of the last COPY FROM or TRUNCATE started in this backend */
static uint64 last_utility_id = 0;

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

	sc->start_value = NULL;
	sc->start_trusted = true;
	sc->assigned = NULL;
	if (v != NULL && v[0] != '\0')
	{
		sc->start_value = MemoryContextStrdup(sc->cxt, v);
		sc->start_trusted = tenant_strict_value_trusted();
	}
}

static const char *
current_value(const StatementContext *sc, bool *trusted)
{
	if (sc->assigned != NULL)
	{
		*trusted = sc->assigned->trusted;
		return sc->assigned->value;
	}
	*trusted = sc->start_trusted;
	return sc->start_value;
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
	sc.id = ++last_utility_id;
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
 * sc ran with newval, assigned in subtransaction subid.  A value assigned
 * in subid before is overwritten, its buffer reused, rather than stacked: a
 * loop setting tenants in one statement keeps one value (review rev38a L1:
 * each took a new copy until the statement ended).  (Values of ended
 * subtransactions carry their parent's id: context_subxact_callback().)
 */
static void
assign(StatementContext *sc, const char *newval, bool trusted, SubTransactionId subid)
{
	AssignedValue *top = sc->assigned;
	Size		len = strlen(newval) + 1;
	bool		cur_trusted;
	const char *cur = current_value(sc, &cur_trusted);

	if (cur != NULL && cur_trusted == trusted && strcmp(cur, newval) == 0)
		return;
	if (top == NULL || top->subid < subid)
	{
		top = MemoryContextAllocExtended(sc->cxt, sizeof(AssignedValue), MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO);
		if (top == NULL)
			return;
		top->prev = sc->assigned;
		sc->assigned = top;
	}
	if (top->size < len)
	{
		char	   *buf = MemoryContextAllocExtended(sc->cxt, Max(len, 64), MCXT_ALLOC_NO_OOM);

		if (buf == NULL)
		{
			/* (a new entry without a value yet: take it off again) */
			if (top->value == NULL)
			{
				sc->assigned = top->prev;
				pfree(top);
			}
			return;
		}
		if (top->value != NULL)
			pfree(top->value);
		top->value = buf;
		top->size = Max(len, 64);
	}
	memcpy(top->value, newval, len);
	top->trusted = trusted;
	top->subid = subid;
}

/*
 * The tenant setting was assigned newval (strict.c's assign hook, or
 * set_tenant() when the setting is not preloaded; trusted: strict mode
 * trusts it): every running statement ran with it too.  No error here, nor
 * an allocation that could raise one (the hook runs in transaction abort
 * too).
 */
void
audit_context_assigned(const char *newval, bool trusted)
{
	dlist_iter	it;
	SubTransactionId subid;

	if (newval == NULL || newval[0] == '\0' || dlist_is_empty(&statements))
		return;
	subid = GetCurrentSubTransactionId();
	dlist_foreach(it, &statements)
		assign(dlist_container(StatementContext, node, it.cur), newval, trusted, subid);
}

static void
free_value(AssignedValue *v)
{
	if (v->value != NULL)
		pfree(v->value);
	pfree(v);
}

/*
 * Subtransaction subid aborts: the values assigned in it, and in the
 * subtransactions that started after it (all of them inside it), go.  It
 * commits: they are its parent's from now on, and of two values of the
 * parent only the later one is kept (both go if the parent aborts), so the
 * stack stays as deep as the subtransactions open -- a loop with an
 * EXCEPTION block setting a tenant at each turn keeps one value.
 */
static void
context_subxact_callback(SubXactEvent event, SubTransactionId subid,
						 SubTransactionId parentSubid, void *arg)
{
	dlist_iter	it;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	dlist_foreach(it, &statements)
	{
		StatementContext *sc = dlist_container(StatementContext, node, it.cur);

		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			while (sc->assigned != NULL && sc->assigned->subid >= subid)
			{
				AssignedValue *gone = sc->assigned;

				sc->assigned = gone->prev;
				free_value(gone);
			}
			continue;
		}
		for (AssignedValue *v = sc->assigned; v != NULL && v->subid >= subid; v = v->prev)
			v->subid = parentSubid;
		while (sc->assigned != NULL && sc->assigned->prev != NULL &&
			   sc->assigned->prev->subid == sc->assigned->subid)
		{
			AssignedValue *below = sc->assigned->prev;

			sc->assigned->prev = below->prev;
			free_value(below);
		}
	}
}

/*
 * The COPY FROM or TRUNCATE whose triggers are firing, as a number no other
 * statement of this backend had; 0: none known (a DML statement is firing,
 * or the library was loaded by this very statement).  audit.c tells one
 * TRUNCATE's partitions apart by it: the command id moves within the
 * statement when a user's BEFORE TRUNCATE trigger writes (review rev47b).
 */
uint64
audit_utility_statement_id(void)
{
	return firing != NULL && firing->query == NULL ? firing->id : 0;
}

const char *
audit_statement_context(bool *trusted)
{
	const char *v;
	bool		value_trusted;

	if (firing == NULL)
	{
		v = tenant_setting_get();
		if (v == NULL || v[0] == '\0')
		{
			*trusted = true;
			return NULL;
		}
		*trusted = tenant_strict_value_trusted();
		return v;
	}
	v = current_value(firing, &value_trusted);
	*trusted = value_trusted || !tenant_strict_in_force();
	return v;
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
	RegisterSubXactCallback(context_subxact_callback, NULL);
}
