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
 * and the statement a check of the accessor against that value:
 *
 *     tenant_id = 42                 (the table's security qual)
 *     (tenant_rls.current_tenant_bigint() = 42) IS TRUE   (its WHERE)
 *
 * The check has no columns, so PostgreSQL evaluates it once, as a one-time
 * filter, before the statement reads anything: a plan run under another
 * tenant than the one it was made for returns nothing rather than the first
 * tenant's rows, and a scan that has started keeps the tenant it started
 * with, as an index scan on the accessor always did.  (Where the column and
 * the accessor differ in type, or the comparison is no equality, the qual
 * stays and the comparison with the value comes in front of it:
 * PostgreSQL's equivalence classes then derive the same one-time filter.)
 * Only plans that are made for the current tenant and either used once or
 * planned again when the tenant changes get the value:
 *
 *   - a custom plan (the planner gets the parameter values): used for one
 *     execution, it records nothing;
 *   - the plan of a top-level statement (the planner's query text is
 *     debug_query_string) without parameters.  For a table partitioned by
 *     the tenant column, every such plan: the simple protocol's, used once,
 *     and the generic plan of a statement of the extended protocol without
 *     parameters, which the plan cache keeps.  For other tables (where the
 *     copy saves a call per row, not the planning of every partition) only
 *     the statement the parser has just analysed (analysed_query): the
 *     simple protocol's, or the query of a top-level EXPLAIN; a cached
 *     generic plan keeps the accessor, rather than being planned again at
 *     every change of tenant.  Such plans record a dependency (PlanInvalItem)
 *     that tenant_planner_tenant_changed(), called by the tenant setting's
 *     assign hook, fires in this backend only: a cached plan is made again
 *     for the new tenant.  (Firing it costs one pass over the backend's
 *     cached plans.)
 *
 * The others keep the accessor (and PostgreSQL's pruning at executor
 * start): a generic plan of a statement with parameters is cached for any
 * tenant; the statements of a SQL function are all planned when it is
 * first called, outside the plan cache, and reused within the calling
 * statement, also after a set_tenant() among them (review rev26a); PL/pgSQL
 * and other nested statements are not told apart from those; a statement
 * whose rules add queries has them all planned before any runs, and one may
 * change the tenant for the next (review rev26b).  Nothing is copied either
 * without the setting's assign hook (the library not preloaded: strict.c),
 * which would not see a change of tenant.
 *
 * Nothing is copied where the accessor would not return a value now (no
 * tenant, a value strict mode does not trust, one that is not in the type's
 * canonical form): the accessor then decides at run time, as before.  Only
 * a qual that is a plain comparison of a column with the accessor is
 * copied: one with an exception term (a cross-tenant grant, the admin role)
 * would prune nothing and be evaluated twice.
 */
#include "tenant_rls.h"

#include "access/sysattr.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
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
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "context.h"
#include "module_init.h"
#include "planner_prune.h"
#include "strict.h"

static get_relation_info_hook_type prev_relation_info_hook = NULL;
static planner_hook_type prev_planner_hook = NULL;

/*
 * The dependency plans with a copied value record: PROCOID with the hash of
 * OID 1, which no function has.  Plans record dependencies on functions
 * with an OID of FirstUnpinnedObjectId or above only, so no other plan has
 * it, and no change of pg_proc invalidates these.  (Not InvalidOid: its
 * hash is 0, which PostgreSQL's plan cache reads as "every plan".)
 * Computed while planning (a catalog cache may need initialising); the
 * assign hook, which may run while a transaction aborts, only uses it.
 */
#define TENANT_PLAN_MARKER_OID ((Oid) 1)

static uint32 tenant_plan_hash = 0;
static bool tenant_plan_hash_known = false;

/* a plan with a copied value may exist that the last change did not reach */
static bool plans_depend_on_tenant = false;

void
tenant_planner_tenant_changed(void)
{
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

static void
accessor_memo_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	/* not for the tenant's own marker (tenant_planner_tenant_changed) */
	if (cacheid == PROCOID && tenant_plan_hash_known && hashvalue == tenant_plan_hash)
		return;
	accessor_memo_used = 0;
}

static bool
is_accessor(Oid funcid)
{
	static const char *const names[] = {
		"current_tenant", "current_tenant_uuid", "current_tenant_bigint", "current_tenant_int"
	};
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
		for (int i = 0; name != NULL && i < lengthof(names); i++)
			found = found || strcmp(name, names[i]) == 0;
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

typedef enum CopyMode
{
	COPY_NONE,					/* no copies */
	COPY_FOR_ONE_EXECUTION,		/* a custom plan: never cached */
	COPY_AND_DEPEND,			/* the statement just analysed: record the
								 * dependency all the same */
	COPY_KEYED_AND_DEPEND		/* may be cached: only for tables partitioned
								 * by the tenant, with the dependency */
} CopyMode;

/* for the innermost planning under way */
static CopyMode copy_mode = COPY_NONE;

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

/*
 * post_parse_analyze_hook: remember the query of a top-level statement
 * analysed without parameters (see analysed_query).  Checked before the
 * next hooks run: token.c hands them a masked copy of the text.
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
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
}

/*
 * planner_hook: may the plan being made get copies (see above)?  Decided on
 * the query as the planner gets it: its preprocessing moves parameters into
 * subplans.
 */
static PlannedStmt *
prune_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	CopyMode	outer = copy_mode;
	PlannedStmt *result;
	bool		just_analysed = parse == analysed_query;

	analysed_query = NULL;
	copy_mode = COPY_NONE;
	if (tenant_setting_tracked())
	{
		if (boundParams != NULL)
			copy_mode = COPY_FOR_ONE_EXECUTION;
		else if (query_string != NULL && query_string == debug_query_string)
		{
			const char *v = tenant_setting_get();

			if (v != NULL && v[0] != '\0' &&
				!query_tree_walker(parse, has_extern_param_walker, NULL, 0))
				copy_mode = just_analysed ? COPY_AND_DEPEND : COPY_KEYED_AND_DEPEND;
		}
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
		copy_mode = outer;
	}
	PG_END_TRY();
	return result;
}

/*
 * Does the statement being planned come with queries its rules add?  The
 * planner gets them all before any runs (exec_simple_query plans the
 * rewriter's whole list), and an earlier one may change the tenant for a
 * later one (review rev26b).  Asked only once there is something to copy.
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

/* the plan depends on the tenant: record it once per plan */
static void
record_tenant_dependency(PlannerInfo *root)
{
	PlanInvalItem *item;
	ListCell   *lc;

	if (!tenant_plan_hash_known)
	{
		tenant_plan_hash = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(TENANT_PLAN_MARKER_OID));
		Assert(tenant_plan_hash != 0);
		tenant_plan_hash_known = true;
	}
	foreach(lc, root->glob->invalItems)
	{
		item = (PlanInvalItem *) lfirst(lc);
		if (item->cacheId == PROCOID && item->hashValue == tenant_plan_hash)
			return;
	}
	item = makeNode(PlanInvalItem);
	item->cacheId = PROCOID;
	item->hashValue = tenant_plan_hash;
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
	bool		copied = false;
	bool		partitioned;
	List	   *checks = NIL;

	if (prev_relation_info_hook)
		prev_relation_info_hook(root, relationObjectId, inhparent, rel);

	if (copy_mode == COPY_NONE || rel->reloptkind != RELOPT_BASEREL)
		return;
	rte = root->simple_rte_array[rel->relid];
	if (rte->rtekind != RTE_RELATION || rte->securityQuals == NIL)
		return;
	partitioned = inhparent && rel->part_scheme != NULL &&
		rte->relkind == RELKIND_PARTITIONED_TABLE;
	if (copy_mode == COPY_KEYED_AND_DEPEND && !partitioned)
		return;

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
				(copy_mode == COPY_KEYED_AND_DEPEND && !uses_partition_key(clause, rel)) ||
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
			if (exprType((Node *) list_nth(by_value->args, 1 - arg)) == f->funcresulttype &&
				op_mergejoinable(by_value->opno, f->funcresulttype))
			{
				/*
				 * An equality of one type: "column = value", with the
				 * statement checking "(accessor() = value) IS TRUE" once,
				 * lets through no row the qual would not (by transitivity),
				 * and the same rows while the tenant is the one planned for.
				 * So the pair replaces the qual.  The check is no equality
				 * (PostgreSQL's equivalence classes would merge the three
				 * and derive both again, at a cost to every plan), and it
				 * goes to the query's own quals: PostgreSQL evaluates a
				 * security qual without columns for every row, a WHERE
				 * clause without columns once (a one-time filter, where it
				 * can only make the whole statement read nothing).
				 */
				OpExpr	   *eq = makeNode(OpExpr);
				BooleanTest *check = makeNode(BooleanTest);

				*eq = *(OpExpr *) clause;
				eq->args = list_make2(copyObject(f), copyObject(c));
				check->arg = (Expr *) eq;
				check->booltesttype = IS_TRUE;
				check->location = -1;
				checks = lappend(checks, check);
			}
			else
				result = lappend(result, clause);	/* the copy comes first */
		}
		if (!changed)
			continue;
		if (!copied && statement_has_rules(root))
			return;
		lfirst(lc) = result;
		copied = true;
	}
	if (checks != NIL)
	{
		FromExpr   *jointree = root->parse->jointree;

		if (jointree->quals == NULL)
			jointree->quals = (Node *) checks;
		else if (IsA(jointree->quals, List))
			jointree->quals = (Node *) list_concat((List *) jointree->quals, checks);
		else
			jointree->quals = (Node *) lcons(jointree->quals, checks);
	}
	if (copied && copy_mode != COPY_FOR_ONE_EXECUTION)
	{
		record_tenant_dependency(root);
		plans_depend_on_tenant = true;
	}
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
	CacheRegisterSyscacheCallback(PROCOID, accessor_memo_reset, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, accessor_memo_reset, (Datum) 0);
}
