/*
 * planner_prune.c -- the tenant's value in plans made for one tenant:
 * plan-time partition pruning of tables partitioned by their tenant
 * column, and sequential scans that compare with a constant.
 *
 * protect()'s policies compare the tenant column with an accessor,
 * tenant_id = tenant_rls.current_tenant_bigint(), which is STABLE: its value
 * is fixed within a statement, but not between the planning of a plan and
 * its executions.  PostgreSQL therefore prunes the partitions of a table
 * partitioned by that column only when the executor starts, never while it
 * plans, and a filter that is not an index condition calls the accessor for
 * every row.  A plan made for one execution (the simple protocol, a custom
 * plan of a prepared statement) then planned every partition and estimated
 * the whole table: a point lookup in one of 100 list partitions took 8 times
 * as long as the hand-written WHERE tenant_id = 42, which the planner prunes
 * (review rev25c); a per-tenant aggregate by sequential scan took 1.2 times
 * as long.
 *
 * So, while it plans a table read under row-level security, the planner
 * gets for every security qual that compares a column with an accessor the
 * comparison with the tenant's value instead, at the same security level,
 * and the statement a check that the tenant is still the one planned for:
 *
 *     tenant_id = 42                             (the table's security qual)
 *     tenant_rls._planned_tenant_is('42')        (its WHERE)
 *
 * The check has no columns, so PostgreSQL evaluates it as a one-time filter,
 * once per scan of its query level (a correlated subquery's at each
 * rescan), before that level reads anything; under another tenant it is
 * an error (context.c), not false: a subquery that read nothing would make
 * NOT IN and NOT EXISTS true (review rev28a).  While a plan with a value
 * runs (from ExecutorStart until its executor's memory goes: a statement,
 * an open cursor), a change of tenant is refused, and one no check hook
 * sees makes it fail (see "Running plans"; reviews rev28b, rev29a).  (Where
 * the column and the accessor differ in type, or the comparison is no
 * equality, the qual stays and the comparison with the value comes in
 * front of it, with the same check.)  Only plans that are made for the
 * current tenant and either used once or planned again when the tenant
 * changes get the value:
 *
 *   - a custom plan (the planner gets the parameter values), also of a
 *     PL/pgSQL statement with variables or of EXECUTE ... USING: used for
 *     one execution, it records no dependency;
 *   - the plan of a top-level statement (the planner's query text is
 *     debug_query_string) without parameters.  For a table partitioned by
 *     the tenant column, every such plan: the simple protocol's, used once,
 *     and the generic plan of a statement of the extended protocol without
 *     parameters, which the plan cache keeps.  For other tables (where the
 *     value saves a call per row, not the planning of every partition) only
 *     the statement the parser has just analysed (analysed_query): the
 *     simple protocol's, the query of a top-level EXPLAIN or of COPY (query)
 *     TO; a cached generic plan keeps the accessor, rather than being
 *     planned again at every change of tenant.  Such plans record a
 *     dependency (PlanInvalItem) that tenant_planner_tenant_changed(),
 *     called by the tenant setting's assign hook, fires in this backend
 *     only: a cached plan is made again for the new tenant.  (Firing it
 *     costs one pass over the backend's cached plans.)
 *
 * The others keep the accessor (and PostgreSQL's pruning at executor
 * start): a generic plan of a statement with parameters is cached for any
 * tenant; the statements of a SQL function are all planned when it is
 * first called, outside the plan cache, and reused within the calling
 * statement, also after a set_tenant() among them (review rev26a); generic
 * plans of PL/pgSQL and other nested statements are not told apart from
 * those; a statement whose rules add queries has them all planned before
 * any runs, and one may change the tenant for the next (review rev26b).
 * No value is given either without the setting's assign hook (the library
 * not preloaded: strict.c), which would not see a change of tenant.
 *
 * No value is given where the accessor would not return one now (no
 * tenant, a value strict mode does not trust, one that is not in the type's
 * canonical form): the accessor then decides at run time, as before.  Only
 * a qual that is a plain comparison of a column with the accessor is
 * replaced: one with an exception term (a cross-tenant grant, the admin
 * role) would prune nothing and be evaluated twice.
 */
#include "tenant_rls.h"

#include "access/sysattr.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "lib/ilist.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "context.h"
#include "module_init.h"
#include "planner_prune.h"
#include "policy.h"
#include "strict.h"

static get_relation_info_hook_type prev_relation_info_hook = NULL;
static planner_hook_type prev_planner_hook = NULL;

/*
 * The dependency plans with the tenant's value record: PROCOID with the hash of
 * OID 1, which no function has.  Plans record dependencies on functions
 * with an OID of FirstUnpinnedObjectId or above only, and only a function
 * whose OID hashes the same (4012827892 does; review rev29b) would share it:
 * its plans would be made again at each change of tenant, and a change of
 * it would invalidate plans with a value -- more planning, never a wrong
 * plan.  (Not InvalidOid: its hash is 0, which PostgreSQL's plan cache
 * reads as "every plan".)
 * Computed while planning (a catalog cache may need initialising); the
 * assign hook, which may run while a transaction aborts, only uses it.
 */
#define TENANT_PLAN_MARKER_OID ((Oid) 1)

/*
 * And every plan with a value, also those used once (custom plans), records
 * the hash of OID 2, which nothing fires: while such a plan runs, the tenant
 * may not change (see "Running plans" below).
 */
#define TENANT_VALUE_MARKER_OID ((Oid) 2)

static uint32 tenant_plan_hash = 0;
static uint32 tenant_value_hash = 0;
static bool tenant_plan_hash_known = false;

/* a plan with the tenant's value may exist that the last change did not reach */
static bool plans_depend_on_tenant = false;

static void running_tenant_assigned(const char *newval);

void
tenant_planner_tenant_changed(const char *newval)
{
	running_tenant_assigned(newval);
	if (!plans_depend_on_tenant)
		return;
	plans_depend_on_tenant = false;
	CallSyscacheCallbacks(PROCOID, tenant_plan_hash);
}

/*
 * Is funcid one of the current_tenant*() accessors of the extension?  The
 * answers are remembered until pg_proc or pg_namespace changes (the
 * planner asks for every protected table a statement reads).
 */
typedef struct AccessorMemo
{
	Oid			funcid;
	bool		accessor;
} AccessorMemo;

static AccessorMemo accessor_memo[8];
static int	accessor_memo_used = 0;

/* tenant_rls._planned_tenant_is(text); InvalidOid: not looked up yet */
static Oid	check_funcid = InvalidOid;
static bool check_funcid_known = false;

static void
accessor_memo_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	/* not for the tenant's own marker (tenant_planner_tenant_changed) */
	if (cacheid == PROCOID && tenant_plan_hash_known && hashvalue == tenant_plan_hash)
		return;
	accessor_memo_used = 0;
	check_funcid_known = false;
}

/*
 * The check function's OID, InvalidOid where the installed SQL has none
 * (then no qual is replaced: see prune_relation_info).
 */
static Oid
planned_tenant_check_funcid(void)
{
	if (!check_funcid_known)
	{
		Oid			nsp = get_namespace_oid(TENANT_RLS_SCHEMA, true);
		Oid			argtypes[1] = {TEXTOID};

		check_funcid = !OidIsValid(nsp) ? InvalidOid :
			GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
							CStringGetDatum("_planned_tenant_is"),
							PointerGetDatum(buildoidvector(argtypes, 1)),
							ObjectIdGetDatum(nsp));
		check_funcid_known = true;
	}
	return check_funcid;
}

static bool
is_accessor(Oid funcid)
{
	char	   *name;
	bool		found = false;
	Oid			nsp;

	for (int i = 0; i < accessor_memo_used; i++)
		if (accessor_memo[i].funcid == funcid)
			return accessor_memo[i].accessor;

	nsp = get_func_namespace(funcid);
	if (OidIsValid(nsp) && nsp == get_namespace_oid(TENANT_RLS_SCHEMA, true))
	{
		name = get_func_name(funcid);
		found = name != NULL && tenant_policy_accessor_name(name);
	}
	if (accessor_memo_used == lengthof(accessor_memo))
		accessor_memo_used = 0;
	accessor_memo[accessor_memo_used].funcid = funcid;
	accessor_memo[accessor_memo_used].accessor = found;
	accessor_memo_used++;
	return found;
}

/*
 * Is the clause a plain comparison of a column of the relation (maybe
 * implicitly coerced) with an accessor, either way round?  Returns the
 * accessor's call and sets *arg to its argument number; NULL if not.
 */
static FuncExpr *
accessor_comparison(Node *clause, Index relid, int *arg)
{
	OpExpr	   *op;

	if (!IsA(clause, OpExpr))
		return NULL;
	op = (OpExpr *) clause;
	if (list_length(op->args) != 2)
		return NULL;
	for (int i = 0; i < 2; i++)
	{
		Node	   *a = (Node *) list_nth(op->args, i);
		Node	   *other = strip_implicit_coercions((Node *) list_nth(op->args, 1 - i));

		if (IsA(a, FuncExpr) && ((FuncExpr *) a)->args == NIL &&
			IsA(other, Var) && ((Var *) other)->varno == relid &&
			((Var *) other)->varlevelsup == 0 && is_accessor(((FuncExpr *) a)->funcid))
		{
			*arg = i;
			return (FuncExpr *) a;
		}
	}
	return NULL;
}

static bool
has_extern_param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return ((Param *) node)->paramkind == PARAM_EXTERN;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, has_extern_param_walker, context, 0);
	return expression_tree_walker(node, has_extern_param_walker, context);
}

typedef enum ValueMode
{
	VALUE_NONE,					/* the accessor stays */
	VALUE_FOR_ONE_EXECUTION,		/* a custom plan: never cached */
	VALUE_AND_DEPEND,			/* the statement just analysed: record the
								 * dependency all the same */
	VALUE_KEYED_AND_DEPEND		/* may be cached: only for tables partitioned
								 * by the tenant, with the dependency */
} ValueMode;

/* for the innermost planning under way */
static ValueMode value_mode = VALUE_NONE;

/*
 * The query the last parse analysis of a top-level statement without
 * parameter hooks produced, until the planner is next called: the simple
 * protocol's statement, planned right after it (the planner gets that very
 * Query), or the query of a top-level EXPLAIN.  The plan cache plans a copy
 * of its queries (BuildCachedPlan()), so a match means a plan for this
 * execution only -- except the first plan after a cached statement was
 * analysed again, which is why such plans record the dependency too.
 */
static Query *analysed_query = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;

/* the memory of analysed_query is reset or deleted: forget it */
static void
forget_analysed_query(void *arg)
{
	if (analysed_query == (Query *) arg)
		analysed_query = NULL;
}

/*
 * post_parse_analyze_hook: remember the query of a top-level statement
 * analysed without parameters (see analysed_query), until its memory goes
 * (an error between analysis and planning leaves it unplanned: another
 * query made at its address later is not it; review rev28b).  Checked
 * before the next hooks run: token.c hands them a masked copy of the text.
 */
static void
prune_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	analysed_query = NULL;
	if (pstate->p_sourcetext != NULL && pstate->p_sourcetext == debug_query_string &&
		pstate->p_paramref_hook == NULL && pstate->parentParseState == NULL)
	{
		if (query->commandType != CMD_UTILITY)
			analysed_query = query;
		else if (query->utilityStmt != NULL && IsA(query->utilityStmt, ExplainStmt) &&
				 IsA(((ExplainStmt *) query->utilityStmt)->query, Query))
			analysed_query = (Query *) ((ExplainStmt *) query->utilityStmt)->query;
	}
	if (analysed_query != NULL)
	{
		/* the query was made in this context, and the callback with it */
		MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

		cb->func = forget_analysed_query;
		cb->arg = analysed_query;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	}
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
}

/* Does the plan carry the dependency with this hash? */
static bool
plan_has_marker(PlannedStmt *plan, uint32 hash)
{
	ListCell   *lc;

	if (!tenant_plan_hash_known || plan == NULL)
		return false;
	foreach(lc, plan->invalItems)
	{
		PlanInvalItem *item = (PlanInvalItem *) lfirst(lc);

		if (item->cacheId == PROCOID && item->hashValue == hash)
			return true;
	}
	return false;
}

/*
 * planner_hook: may the plan being made get the value (see above)?  Decided on
 * the query as the planner gets it: its preprocessing moves parameters into
 * subplans.
 */
static PlannedStmt *
prune_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	ValueMode	outer = value_mode;
	PlannedStmt *result;
	bool		just_analysed = parse == analysed_query;
	char	   *volatile before = NULL;

	analysed_query = NULL;
	value_mode = VALUE_NONE;
	if (tenant_setting_tracked())
	{
		if (boundParams != NULL)
			value_mode = VALUE_FOR_ONE_EXECUTION;
		else if (query_string != NULL && query_string == debug_query_string)
		{
			const char *v = tenant_setting_get();

			if (v != NULL && v[0] != '\0' &&
				!query_tree_walker(parse, has_extern_param_walker, NULL, 0))
				value_mode = just_analysed ? VALUE_AND_DEPEND : VALUE_KEYED_AND_DEPEND;
		}
	}
	if (value_mode != VALUE_NONE)
	{
		const char *v = tenant_setting_get();

		before = pstrdup(v ? v : "");
	}
	PG_TRY();
	{
		if (prev_planner_hook)
			result = prev_planner_hook(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		value_mode = outer;
	}
	PG_END_TRY();

	/*
	 * Set again once the plan exists: a function the planner ran (to
	 * estimate a qual) may have set the tenant meanwhile, and that change
	 * cleared the flag before the plan was there to be invalidated (review
	 * rev28b).
	 */
	if (plan_has_marker(result, tenant_plan_hash))
		plans_depend_on_tenant = true;

	/*
	 * A plan with the value, made while the tenant changed: refused here,
	 * not when it runs, so that EXPLAIN (which runs nothing) and a cursor
	 * declared with it do not go on under the new tenant (review rev32c).
	 */
	if (before != NULL)
	{
		const char *v = tenant_setting_get();

		if (strcmp(v ? v : "", before) != 0 && plan_has_marker(result, tenant_value_hash))
			tenant_planned_tenant_mismatch(before, v);
		pfree(before);
	}
	return result;
}

/*
 * Does the statement being planned come with queries its rules add?  The
 * planner gets them all before any runs (exec_simple_query plans the
 * rewriter's whole list), and an earlier one may change the tenant for a
 * later one (review rev26b).  Asked only once there is a qual to replace.
 */
static bool
statement_has_rules(PlannerInfo *root)
{
	Query	   *parse;
	RangeTblEntry *rte;
	HeapTuple	tup;
	bool		rules = false;

	while (root->parent_root != NULL)
		root = root->parent_root;
	parse = root->parse;
	if (parse->querySource != QSRC_ORIGINAL)
		return true;
	if (parse->resultRelation == 0)
		return false;
	rte = rt_fetch(parse->resultRelation, parse->rtable);
	if (rte->rtekind != RTE_RELATION)
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rte->relid));
	if (HeapTupleIsValid(tup))
	{
		rules = ((Form_pg_class) GETSTRUCT(tup))->relhasrules;
		ReleaseSysCache(tup);
	}
	return rules;
}

/* Does the clause use a column the relation is partitioned by? */
static bool
uses_partition_key(Node *clause, RelOptInfo *rel)
{
	Bitmapset  *attrs = NULL;

	pull_varattnos(clause, rel->relid, &attrs);
	for (int i = 0; i < rel->part_scheme->partnatts; i++)
	{
		ListCell   *lc;

		foreach(lc, rel->partexprs[i])
		{
			Var		   *var = (Var *) lfirst(lc);

			if (IsA(var, Var) && var->varno == rel->relid &&
				bms_is_member(var->varattno - FirstLowInvalidHeapAttributeNumber, attrs))
				return true;
		}
	}
	return false;
}

/* the plan has a value (hash: tenant_value_hash) or depends on the tenant
 * (tenant_plan_hash): record it once per plan */
static void
record_marker(PlannerInfo *root, bool dependency)
{
	PlanInvalItem *item;
	ListCell   *lc;
	uint32		hash;

	if (!tenant_plan_hash_known)
	{
		tenant_plan_hash = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(TENANT_PLAN_MARKER_OID));
		tenant_value_hash = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(TENANT_VALUE_MARKER_OID));
		Assert(tenant_plan_hash != 0 && tenant_value_hash != 0);
		tenant_plan_hash_known = true;
	}
	hash = dependency ? tenant_plan_hash : tenant_value_hash;
	foreach(lc, root->glob->invalItems)
	{
		item = (PlanInvalItem *) lfirst(lc);
		if (item->cacheId == PROCOID && item->hashValue == hash)
			return;
	}
	item = makeNode(PlanInvalItem);
	item->cacheId = PROCOID;
	item->hashValue = hash;
	root->glob->invalItems = lappend(root->glob->invalItems, item);
}

/*
 * get_relation_info_hook: it runs for the partitioned table after the
 * planner has simplified the table's security quals (rte->securityQuals,
 * one implicitly-ANDed list per security level) and before it hands them to
 * the table as restrictions, from which it prunes the partitions.
 */
static void
prune_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
					RelOptInfo *rel)
{
	RangeTblEntry *rte;
	ListCell   *lc;
	bool		valued = false;
	bool		partitioned;
	Oid			check_fn;

	if (prev_relation_info_hook)
		prev_relation_info_hook(root, relationObjectId, inhparent, rel);

	if (value_mode == VALUE_NONE || rel->reloptkind != RELOPT_BASEREL)
		return;
	rte = root->simple_rte_array[rel->relid];
	if (rte->rtekind != RTE_RELATION || rte->securityQuals == NIL)
		return;
	partitioned = inhparent && rel->part_scheme != NULL &&
		rte->relkind == RELKIND_PARTITIONED_TABLE;
	if (value_mode == VALUE_KEYED_AND_DEPEND && !partitioned)
		return;
	check_fn = planned_tenant_check_funcid();

	foreach(lc, rte->securityQuals)
	{
		List	   *level = (List *) lfirst(lc);
		List	   *result = NIL;
		bool		changed = false;
		ListCell   *lc2;

		if (level == NIL || !IsA(level, List))
			continue;
		foreach(lc2, level)
		{
			Node	   *clause = (Node *) lfirst(lc2);
			FuncExpr   *f;
			int			arg;
			Datum		value;
			int16		typlen;
			bool		typbyval;
			Const	   *c;
			OpExpr	   *by_value;

			f = accessor_comparison(clause, rel->relid, &arg);
			if (f == NULL ||
				(value_mode == VALUE_KEYED_AND_DEPEND && !uses_partition_key(clause, rel)) ||
				op_volatile(((OpExpr *) clause)->opno) == PROVOLATILE_VOLATILE ||
				!tenant_context_peek(f->funcresulttype, &value))
			{
				result = lappend(result, clause);
				continue;
			}
			get_typlenbyval(f->funcresulttype, &typlen, &typbyval);
			c = makeConst(f->funcresulttype, -1, f->funccollid, typlen, value, false, typbyval);
			/* flat copies: the other nodes are small, copied by hand */
			by_value = makeNode(OpExpr);
			*by_value = *(OpExpr *) clause;
			by_value->args = arg == 0 ?
				list_make2(c, copyObject(lsecond(by_value->args))) :
				list_make2(copyObject(linitial(by_value->args)), c);
			result = lappend(result, by_value);
			changed = true;
			if (!OidIsValid(check_fn) ||
				exprType((Node *) list_nth(by_value->args, 1 - arg)) != f->funcresulttype ||
				!op_mergejoinable(by_value->opno, f->funcresulttype))
				result = lappend(result, clause);	/* the copy comes first */

			/*
			 * Else an equality of one type: "column = value", with the
			 * statement checking once that the tenant is still the one
			 * planned for, lets through the same rows as the qual.  So it
			 * replaces the qual.  The check goes to the query's own quals
			 * (added below): PostgreSQL evaluates a security qual without
			 * columns for every row, a WHERE clause without columns once
			 * (a one-time filter).
			 */
		}
		if (!changed)
			continue;
		if (!valued && statement_has_rules(root))
			return;
		lfirst(lc) = result;
		valued = true;
	}
	if (!valued)
		return;
	if (OidIsValid(check_fn))
	{
		/*
		 * tenant_rls._planned_tenant_is('42'): true while the tenant is the
		 * one planned for, else an error (a change of tenant while the plan
		 * runs is refused: see "Running plans").  Not the accessor compared
		 * with the value, which would return false: a subquery reading
		 * nothing makes NOT IN and NOT EXISTS true (review rev28a).
		 */
		FromExpr   *jointree = root->parse->jointree;
		List	   *quals;
		Const	   *planned;
		const char *v = tenant_setting_get();

		planned = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
							CStringGetTextDatum(v), false, false);
		if (jointree->quals == NULL)
			quals = NIL;
		else if (IsA(jointree->quals, List))
			quals = (List *) jointree->quals;
		else
			quals = list_make1(jointree->quals);
		/* once: a self-join has two tables, UPDATE and DELETE two levels */
		jointree->quals = (Node *)
			list_append_unique(quals, makeFuncExpr(check_fn, BOOLOID, list_make1(planned),
												   InvalidOid, DEFAULT_COLLATION_OID,
												   COERCE_EXPLICIT_CALL));
	}
	record_marker(root, false);
	if (value_mode != VALUE_FOR_ONE_EXECUTION)
	{
		record_marker(root, true);
		plans_depend_on_tenant = true;
	}
}

/* ---------------------------------------------------------------------
 * Running plans
 *
 * A plan with a value reads the rows of the tenant it was planned for.  A
 * change of tenant while it runs would not reach it: a statement that calls
 * set_tenant() itself, a cursor still open, a function or trigger the
 * statement runs.  Such a change is refused (the tenant setting's check
 * hook asks tenant_planner_change_refused()), rather than a part of the
 * statement still reading the first tenant's rows while the rest reads the
 * second's (review rev28b).  The executors that run such a plan are
 * remembered from ExecutorStart until their memory (the executor state's
 * query context) goes: ExecutorEnd, or the portal of a cursor that failed
 * dropped (CLOSE, review rev29a).  An error in their ExecutorRun forgets
 * them too (a cursor fetched in a savepoint: its portal fails), as does the
 * abort of the subtransaction they belong to (the one they started in, or
 * the one it was released into), the end of the transaction all of them.
 *
 * Some changes pass no check hook: RESET, SET ... TO DEFAULT, RESET ALL,
 * set_config(..., NULL, ...), the value a function's SET clause restores
 * when it returns.  Every change passes the assign hook, which marks the
 * plans made for another tenant than the new one; ExecutorRun and
 * ExecutorFinish (data-modifying WITH queries, AFTER triggers) clear the
 * mark when they start and fail when they end with it set, also when the
 * tenant came back meanwhile (review rev29a).  ExecutorRun also fails when
 * it starts under another tenant than the plan's: a cursor fetched after
 * RESET (review rev28c).  Closing such a cursor is no error.
 * ---------------------------------------------------------------------
 */
typedef struct RunningPlan RunningPlan;

/* in the executor's memory: its callback, and the plan while remembered */
typedef struct RunningHandle
{
	MemoryContextCallback cb;
	RunningPlan *plan;			/* NULL once forgotten */
} RunningHandle;

struct RunningPlan
{
	QueryDesc  *query;			/* the hash key */
	dlist_node	node;			/* in running_order */
	RunningHandle *handle;
	MemoryContext cxt;			/* the executor's: the strings' too */
	int			level;
	bool		diverged;		/* ran with another tenant since its run began */
	char	   *planned;		/* the tenant then */
	char	   *ran_with;		/* the first other tenant, or NULL */
};

/*
 * The plans running, by executor (one look-up per run and finish, however
 * many cursors are open) and in the order they started.  That order is also
 * the order of their levels: a plan starts at the current level, and a
 * subtransaction's plans pass to its parent or are forgotten when it ends.
 */
static HTAB *running = NULL;
static dlist_head running_order = DLIST_STATIC_INIT(running_order);
static int	n_running = 0;
static int	max_running = 0;		/* the most at once since the hash was made */

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;

/*
 * No error here: the memory callback and transaction abort call it.  The
 * strings stay in the executor's memory, which outlives the entry.
 */
static void
forget_running(RunningPlan *p)
{
	QueryDesc  *key = p->query;

	p->handle->plan = NULL;
	dlist_delete(&p->node);
	n_running--;
	hash_search(running, &key, HASH_REMOVE, NULL);
}

static RunningPlan *
find_running(QueryDesc *queryDesc)
{
	if (n_running == 0)
		return NULL;
	return hash_search(running, &queryDesc, HASH_FIND, NULL);
}

/*
 * The executor's memory goes: its plan runs no more.  Its handle lives in
 * that memory, so it is there as long as the plan is remembered.
 */
static void
running_memory_gone(void *arg)
{
	RunningHandle *h = (RunningHandle *) arg;

	if (h->plan)
		forget_running(h->plan);
}

/*
 * The assign hook's: newval is the tenant now.  No error here, nor an
 * allocation that could raise one (the hook runs in transaction abort too).
 */
static void
running_tenant_assigned(const char *newval)
{
	const char *v = newval ? newval : "";
	dlist_iter	it;

	dlist_foreach(it, &running_order)
	{
		RunningPlan *p = dlist_container(RunningPlan, node, it.cur);

		if (!p->diverged && strcmp(p->planned, v) != 0)
		{
			p->diverged = true;
			p->ran_with =
				MemoryContextAllocExtended(p->cxt, strlen(v) + 1, MCXT_ALLOC_NO_OOM);
			if (p->ran_with)
				strcpy(p->ran_with, v);
		}
	}
}

/* a run or finish begins: no other tenant yet */
static void
clear_diverged(RunningPlan *p)
{
	p->diverged = false;
	if (p->ran_with)
	{
		pfree(p->ran_with);
		p->ran_with = NULL;
	}
}

/* a run begins: the tenant is the plan's, else an error */
static void
running_begins(RunningPlan *p)
{
	const char *v = tenant_setting_get();

	if (strcmp(v ? v : "", p->planned) != 0)
		tenant_planned_tenant_mismatch(pstrdup(p->planned), v);
	clear_diverged(p);
}

/* a run or finish has ended: it ran with the plan's tenant only, else an error */
static void
running_ended(QueryDesc *queryDesc)
{
	RunningPlan *p = find_running(queryDesc);

	if (p && p->diverged)
		tenant_planned_tenant_mismatch(pstrdup(p->planned),
									   p->ran_with ? pstrdup(p->ran_with) : "another tenant");
}

static void
prune_executor_start(QueryDesc *queryDesc, int eflags)
{
	const char *v;
	RunningHandle *h;
	RunningPlan *p;
	char	   *planned;
	char	   *before = NULL;
	bool		found;
	bool		marked = plan_has_marker(queryDesc->plannedstmt, tenant_value_hash);

	/*
	 * The tenant the plan starts with, read before the executor starts: its
	 * start-up evaluates STABLE expressions to prune partitions (also for
	 * EXPLAIN without ANALYZE), which may call user code that changes the
	 * tenant before the plan is registered below (review rev32c).
	 */
	if (marked)
	{
		v = tenant_setting_get();
		before = pstrdup(v ? v : "");
	}
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (!marked)
		return;
	v = tenant_setting_get();
	if (strcmp(v ? v : "", before) != 0)
		tenant_planned_tenant_mismatch(before, v);

	if (running == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(QueryDesc *);
		ctl.entrysize = sizeof(RunningPlan);
		ctl.hcxt = TopMemoryContext;
		running = hash_create("tenant_rls running plans", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	h = MemoryContextAlloc(queryDesc->estate->es_query_cxt, sizeof(RunningHandle));
	planned = MemoryContextStrdup(queryDesc->estate->es_query_cxt, before);
	pfree(before);
	p = hash_search(running, &queryDesc, HASH_ENTER, &found);
	if (found)
	{
		/* its QueryDesc freed while the executor's memory lives on: not known to happen */
		forget_running(p);
		p = hash_search(running, &queryDesc, HASH_ENTER, &found);
	}
	p->planned = planned;
	p->ran_with = NULL;
	p->diverged = false;
	p->level = GetCurrentTransactionNestLevel();
	p->handle = h;
	p->cxt = queryDesc->estate->es_query_cxt;
	dlist_push_tail(&running_order, &p->node);
	n_running++;
	max_running = Max(max_running, n_running);
	h->plan = p;
	h->cb.func = running_memory_gone;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt, &h->cb);
}

static void
prune_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				   bool execute_once)
{
	RunningPlan *p = find_running(queryDesc);

	if (p == NULL)
	{
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
		return;
	}
	PG_TRY();
	{
		running_begins(p);
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
		running_ended(queryDesc);
	}
	PG_CATCH();
	{
		/* its portal or statement fails: no ExecutorEnd will come */
		RunningPlan *q = find_running(queryDesc);

		if (q)
			forget_running(q);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * ExecutorFinish runs the data-modifying WITH queries no one read and the
 * AFTER triggers.  It does not check the tenant it starts with: it comes
 * right after the last run (a statement's), or at the CLOSE of a cursor
 * (a SELECT: it runs nothing), maybe after a RESET.
 */
static void
prune_executor_finish(QueryDesc *queryDesc)
{
	RunningPlan *p = find_running(queryDesc);

	if (p == NULL)
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
		return;
	}
	clear_diverged(p);
	if (prev_executor_finish)
		prev_executor_finish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
	running_ended(queryDesc);
}

/*
 * The plans of the subtransaction that ends are the last ones started: they
 * pass to the parent (commit) or are forgotten (abort).
 */
static void
prune_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (!dlist_is_empty(&running_order))
		{
			RunningPlan *p = dlist_container(RunningPlan, node,
											 dlist_tail_node(&running_order));

			if (p->level < level)
				break;
			forget_running(p);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		dlist_iter	it;

		dlist_reverse_foreach(it, &running_order)
		{
			RunningPlan *p = dlist_container(RunningPlan, node, it.cur);

			if (p->level < level)
				break;
			p->level = level - 1;	/* now the parent's */
		}
	}
}

static void
prune_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		while (!dlist_is_empty(&running_order))
			forget_running(dlist_container(RunningPlan, node,
										   dlist_head_node(&running_order)));
		/* a hash grown for many cursors goes: the next one starts small */
		if (running && max_running > 64)
		{
			hash_destroy(running);
			running = NULL;
			max_running = 0;
		}
	}
}

/*
 * Would changing the tenant setting to newval leave a plan made for another
 * tenant running?  Returns that plan's tenant, or NULL.  The same value
 * again changes nothing.
 */
const char *
tenant_planner_change_refused(const char *newval)
{
	dlist_iter	it;

	dlist_foreach(it, &running_order)
	{
		RunningPlan *p = dlist_container(RunningPlan, node, it.cur);

		if (strcmp(p->planned, newval ? newval : "") != 0)
			return p->planned;
	}
	return NULL;
}

void
tenant_rls_planner_prune_init(void)
{
	prev_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = prune_relation_info;
	prev_planner_hook = planner_hook;
	planner_hook = prune_planner;
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = prune_post_parse_analyze;
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = prune_executor_start;
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = prune_executor_run;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = prune_executor_finish;
	RegisterXactCallback(prune_xact_callback, NULL);
	RegisterSubXactCallback(prune_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(PROCOID, accessor_memo_reset, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, accessor_memo_reset, (Datum) 0);
}
