/*
 * planner_prune.c -- plan-time partition pruning of tables partitioned by
 * their tenant column.
 *
 * protect()'s policies compare the tenant column with an accessor,
 * tenant_id = tenant_rls.current_tenant_bigint(), which is STABLE: its value
 * is fixed within a statement, but not between the planning of a plan and
 * its executions.  PostgreSQL therefore prunes the partitions of a table
 * partitioned by that column only when the executor starts, never while it
 * plans.  A plan made for one execution (the simple protocol, a custom plan
 * of a prepared statement) then plans every partition and estimates the
 * whole table: a point lookup in one of 100 list partitions took 8 times as
 * long as the hand-written WHERE tenant_id = 42, which the planner prunes
 * (review rev25c).
 *
 * So, while it plans a partitioned table read under row-level security, the
 * planner gets for every security qual that calls an accessor and compares
 * a partition key column a copy with the accessor replaced by the tenant's
 * value, at the same security level, in front of the qual:
 *
 *     tenant_id = 42 AND tenant_id = tenant_rls.current_tenant_bigint()
 *
 * The copy only ever removes rows: the original qual stays, so a plan run
 * under another tenant than the one it was made for returns nothing rather
 * than the first tenant's rows.  To keep results right as well, such plans
 * are made invalid whenever the tenant changes:
 *
 *   - a plan made for bound parameter values (a custom plan) and a plan
 *     without parameters (the simple protocol; a prepared statement without
 *     parameters, which PostgreSQL caches as a generic plan) get the copy;
 *     the plan records a dependency (PlanInvalItem) that
 *     tenant_planner_tenant_changed(), called by the tenant setting's assign
 *     hook, fires in this backend only: a cached plan is made again for the
 *     new tenant;
 *   - a generic plan of a statement with parameters, cached for any
 *     tenant, does not: it keeps PostgreSQL's pruning at executor start;
 *   - without the setting's assign hook (the library not preloaded:
 *     strict.c) nothing is copied, since a change of tenant could not be
 *     seen.
 *
 * Nothing is copied where the accessor would not return a value now (no
 * tenant, a value strict mode does not trust, one that is not in the type's
 * canonical form): the accessor then decides at run time, as before.  Quals
 * with volatile functions or subqueries are left alone (a copy would run
 * them twice).
 */
#include "tenant_rls.h"

#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "context.h"
#include "module_init.h"
#include "planner_prune.h"
#include "strict.h"

static get_relation_info_hook_type prev_relation_info_hook = NULL;

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

/* Is funcid one of the current_tenant*() accessors of the extension? */
static bool
is_accessor(Oid funcid)
{
	static const char *const names[] = {
		"current_tenant", "current_tenant_uuid", "current_tenant_bigint", "current_tenant_int"
	};
	char	   *name;
	bool		found = false;
	Oid			nsp = get_func_namespace(funcid);

	if (!OidIsValid(nsp) || nsp == PG_CATALOG_NAMESPACE)
		return false;
	name = get_namespace_name(nsp);
	if (name == NULL || strcmp(name, TENANT_RLS_SCHEMA) != 0)
		return false;
	name = get_func_name(funcid);
	for (int i = 0; name != NULL && i < lengthof(names); i++)
		found = found || strcmp(name, names[i]) == 0;
	return found;
}

typedef struct ReplaceContext
{
	bool		replaced;		/* an accessor call was replaced */
	bool		failed;			/* one has no value now: use nothing */
} ReplaceContext;

static Node *
replace_accessors(Node *node, ReplaceContext *cxt)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *f = (FuncExpr *) node;

		if (f->args == NIL && is_accessor(f->funcid))
		{
			Datum		value;
			int16		typlen;
			bool		typbyval;

			if (!tenant_context_peek(f->funcresulttype, &value))
			{
				cxt->failed = true;
				return node;
			}
			cxt->replaced = true;
			get_typlenbyval(f->funcresulttype, &typlen, &typbyval);
			return (Node *) makeConst(f->funcresulttype, -1, f->funccollid, typlen,
									  value, false, typbyval);
		}
	}
	return expression_tree_mutator(node, replace_accessors, (void *) cxt);
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

/*
 * Will this plan be used for this execution only, or cached for any
 * parameter values (a generic plan)?  The planner gets the parameter values
 * of a custom plan; a generic plan of a statement with parameters gets none.
 */
static bool
plan_for_any_parameters(PlannerInfo *root)
{
	PlannerInfo *top = root;

	if (root->glob->boundParams != NULL)
		return false;
	while (top->parent_root != NULL)
		top = top->parent_root;
	return query_tree_walker(top->parse, has_extern_param_walker, NULL, 0);
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

	if (prev_relation_info_hook)
		prev_relation_info_hook(root, relationObjectId, inhparent, rel);

	if (!inhparent || rel->reloptkind != RELOPT_BASEREL || rel->part_scheme == NULL ||
		!tenant_setting_tracked())
		return;
	rte = root->simple_rte_array[rel->relid];
	if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_PARTITIONED_TABLE ||
		rte->securityQuals == NIL)
		return;

	foreach(lc, rte->securityQuals)
	{
		List	   *level = (List *) lfirst(lc);
		List	   *copies = NIL;
		ListCell   *lc2;

		if (level == NIL || !IsA(level, List))
			continue;
		foreach(lc2, level)
		{
			Node	   *clause = (Node *) lfirst(lc2);
			ReplaceContext cxt = {false, false};
			Node	   *copy;

			if (!uses_partition_key(clause, rel) ||
				contain_volatile_functions(clause) || contain_subplans(clause))
				continue;
			copy = replace_accessors(copyObject(clause), &cxt);
			if (cxt.replaced && !cxt.failed)
				copies = lappend(copies, copy);
		}
		if (copies == NIL)
			continue;
		/* decided once there is something to copy: the walk costs */
		if (!copied && plan_for_any_parameters(root))
			return;
		lfirst(lc) = list_concat(copies, level);
		copied = true;
	}
	if (copied)
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
}
