/*
 * planner_stats.c -- what the planner may learn from a protected table's
 * statistics while a query reads it under row-level security.
 *
 * ANALYZE stores, per column, the most common values with their frequencies,
 * a histogram and the correlation, computed over every tenant's rows.
 * PostgreSQL hides them in pg_stats from a role subject to row-level security,
 * but its planner still uses them for leakproof operators (text =, int4 >,
 * uuid =, ...: statistic_proc_security_check()).  So a tenant's EXPLAIN,
 * which executes nothing, estimated "customer = 'initech-merger'" at 15 rows
 * when another tenant had such rows and at 1 when none had, gave another
 * tenant's largest amount through "amount > x", and each tenant's row count
 * through "tenant_id = 'globex'".
 *
 * With tenant_rls.hide_statistics on (the default), a relation read under
 * row-level security (rte->securityQuals set) that carries tenant_rls's
 * policies is estimated from a copy of its pg_statistic rows with every slot
 * (most common values, histogram, correlation, ...) emptied: the planner
 * keeps the null fraction, the average width and the number of distinct
 * values, which describe the whole table the way reltuples does, and
 * estimates "col = const" as 1/ndistinct for every constant.  The same holds
 * for the statistics of an expression index on such a table, for those of
 * its partitions and inheritance children when the query names the parent,
 * and for its extended statistics (CREATE STATISTICS): the planner does not
 * get their most-common-value lists and expression statistics (ndistinct and
 * functional dependencies stay).  Sessions that
 * bypass row-level security (the owner without FORCE, superusers, BYPASSRLS)
 * have no security quals and keep PostgreSQL's estimates.
 *
 * The stripped copies are cached per (relation, column, inheritance) and
 * dropped on any change of pg_statistic or of a relcache entry; the planner
 * always gets its own copy (freed through freefunc), so an invalidation
 * processed while it plans never frees a tuple it holds.
 */
#include "tenant_rls.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_statistic_ext.h"
#include "nodes/pathnodes.h"
#include "optimizer/plancat.h"
#include "rewrite/rowsecurity.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "guc.h"
#include "module_init.h"
#include "policy.h"

typedef struct StatsKey
{
	Oid			relid;
	AttrNumber	attnum;
	bool		inh;
} StatsKey;

typedef struct StatsEntry
{
	StatsKey	key;
	HeapTuple	stripped;		/* NULL: no statistics for this column */
} StatsEntry;

static get_relation_stats_hook_type prev_relation_stats_hook = NULL;
static get_index_stats_hook_type prev_index_stats_hook = NULL;
static get_relation_info_hook_type prev_relation_info_hook = NULL;
static MemoryContext stats_cxt = NULL;
static HTAB *stats_cache = NULL;

static void
stats_cache_reset(void)
{
	if (stats_cxt != NULL)
		MemoryContextReset(stats_cxt);
	stats_cache = NULL;
}

static void
stats_syscache_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	stats_cache_reset();
}

static void
stats_relcache_changed(Datum arg, Oid relid)
{
	stats_cache_reset();
}

/* Does the relation carry a policy of tenant_rls's own (protect())? */
static bool
has_tenant_rls_policies(Oid relid)
{
	Relation	rel = RelationIdGetRelation(relid);
	bool		found = false;

	if (!RelationIsValid(rel))
		return false;
	if (rel->rd_rsdesc != NULL)
	{
		ListCell   *lc;

		foreach(lc, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *p = (RowSecurityPolicy *) lfirst(lc);

			if (strncmp(p->policy_name, POLICY_NAME_PREFIX, strlen(POLICY_NAME_PREFIX)) == 0)
			{
				found = true;
				break;
			}
		}
	}
	RelationClose(rel);
	return found;
}

/*
 * A copy of a pg_statistic row with every slot emptied, in the current
 * memory context.  pg_statistic's tuple descriptor is copied once: opening
 * the catalog per column would process invalidations each time.
 */
static HeapTuple
strip_statistics(HeapTuple tup)
{
	static TupleDesc statdesc = NULL;
	Datum		values[Natts_pg_statistic];
	bool		nulls[Natts_pg_statistic];
	bool		replace[Natts_pg_statistic];

	if (statdesc == NULL)
	{
		Relation	statrel = table_open(StatisticRelationId, AccessShareLock);
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

		statdesc = CreateTupleDescCopy(RelationGetDescr(statrel));
		MemoryContextSwitchTo(old);
		table_close(statrel, AccessShareLock);
	}
	memset(replace, false, sizeof(replace));
	for (int i = 0; i < STATISTIC_NUM_SLOTS; i++)
	{
		int			kind = Anum_pg_statistic_stakind1 - 1 + i;
		int			op = Anum_pg_statistic_staop1 - 1 + i;
		int			coll = Anum_pg_statistic_stacoll1 - 1 + i;
		int			numbers = Anum_pg_statistic_stanumbers1 - 1 + i;
		int			vals = Anum_pg_statistic_stavalues1 - 1 + i;

		values[kind] = Int16GetDatum(0);
		nulls[kind] = false;
		values[op] = ObjectIdGetDatum(InvalidOid);
		nulls[op] = false;
		values[coll] = ObjectIdGetDatum(InvalidOid);
		nulls[coll] = false;
		values[numbers] = (Datum) 0;
		nulls[numbers] = true;
		values[vals] = (Datum) 0;
		nulls[vals] = true;
		replace[kind] = replace[op] = replace[coll] = replace[numbers] = replace[vals] = true;
	}
	return heap_modify_tuple(tup, statdesc, values, nulls, replace);
}

/*
 * Fill vardata with a stripped copy of the statistics (relid, attnum, inh) --
 * of a table or of an index -- from the cache.
 */
static void
fill_stripped(Oid relid, AttrNumber attnum, bool inh, VariableStatData *vardata)
{
	StatsKey	key;
	StatsEntry *entry;
	bool		found;
	HeapTuple	stripped = NULL;

	if (stats_cache == NULL)
	{
		HASHCTL		ctl;

		if (stats_cxt == NULL)
		{
			stats_cxt = AllocSetContextCreate(CacheMemoryContext, "tenant_rls statistics",
											  ALLOCSET_SMALL_SIZES);
			CacheRegisterSyscacheCallback(STATRELATTINH, stats_syscache_changed, (Datum) 0);
			CacheRegisterRelcacheCallback(stats_relcache_changed, (Datum) 0);
		}
		ctl.keysize = sizeof(StatsKey);
		ctl.entrysize = sizeof(StatsEntry);
		ctl.hcxt = stats_cxt;
		stats_cache = hash_create("tenant_rls statistics", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.attnum = attnum;
	key.inh = inh;
	entry = hash_search(stats_cache, &key, HASH_FIND, &found);
	if (found)
		stripped = entry->stripped;
	else
	{
		HeapTuple	tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
										  Int16GetDatum(attnum), BoolGetDatum(inh));

		/*
		 * The lookups may process invalidations, which reset stats_cxt: it
		 * is never the current context while they run, and only a finished
		 * tuple is copied into it.
		 */
		if (HeapTupleIsValid(tup))
		{
			HeapTuple	local = strip_statistics(tup);

			ReleaseSysCache(tup);
			if (stats_cache == NULL)
			{
				/* reset meanwhile: hand out this copy, cache nothing */
				vardata->statsTuple = local;
				vardata->freefunc = heap_freetuple;
				return;
			}
			{
				MemoryContext old = MemoryContextSwitchTo(stats_cxt);

				stripped = heap_copytuple(local);
				MemoryContextSwitchTo(old);
			}
			heap_freetuple(local);
		}
		if (stats_cache != NULL)
		{
			entry = hash_search(stats_cache, &key, HASH_ENTER, NULL);
			entry->stripped = stripped;
		}
	}
	vardata->statsTuple = stripped ? heap_copytuple(stripped) : NULL;
	vardata->freefunc = heap_freetuple;
	/* acl_ok stays false: non-leakproof operators get no statistics either */
}

/*
 * Is range table entry rti read under tenant_rls's row-level security?  Its
 * own security quals count, and for an inheritance child or a partition
 * those of the parent the query names (PostgreSQL checks the same way which
 * statistics a child's estimates may use).
 */
static bool
read_under_tenant_rls(PlannerInfo *root, Index rti)
{
	while (rti > 0 && rti < root->simple_rel_array_size)
	{
		RangeTblEntry *rte = root->simple_rte_array[rti];
		AppendRelInfo *appinfo;

		if (rte == NULL || rte->rtekind != RTE_RELATION)
			return false;
		if (rte->securityQuals != NIL)
			return has_tenant_rls_policies(rte->relid);
		if (root->append_rel_array == NULL ||
			(appinfo = root->append_rel_array[rti]) == NULL)
			return false;
		rti = appinfo->parent_relid;
	}
	return false;
}

static bool
tenant_rls_relation_stats(PlannerInfo *root, RangeTblEntry *rte,
						  AttrNumber attnum, VariableStatData *vardata)
{
	if (tenant_rls_hide_statistics && rte->rtekind == RTE_RELATION &&
		root->simple_rte_array != NULL)
	{
		for (Index rti = 1; rti < root->simple_rel_array_size; rti++)
		{
			if (root->simple_rte_array[rti] == rte)
			{
				if (read_under_tenant_rls(root, rti))
				{
					fill_stripped(rte->relid, attnum, rte->inh, vardata);
					return true;
				}
				break;
			}
		}
	}
	if (prev_relation_stats_hook)
		return prev_relation_stats_hook(root, rte, attnum, vardata);
	return false;
}

static bool
tenant_rls_index_stats(PlannerInfo *root, Oid indexoid,
					   AttrNumber indexattnum, VariableStatData *vardata)
{
	if (tenant_rls_hide_statistics && root->simple_rte_array != NULL)
	{
		Oid			heapoid = IndexGetRelation(indexoid, true);

		for (Index rti = 1; OidIsValid(heapoid) && rti < root->simple_rel_array_size; rti++)
		{
			RangeTblEntry *rte = root->simple_rte_array[rti];

			if (rte != NULL && rte->rtekind == RTE_RELATION && rte->relid == heapoid &&
				read_under_tenant_rls(root, rti))
			{
				fill_stripped(indexoid, indexattnum, false, vardata);
				return true;
			}
		}
	}
	if (prev_index_stats_hook)
		return prev_index_stats_hook(root, indexoid, indexattnum, vardata);
	return false;
}

/*
 * Extended statistics (CREATE STATISTICS): their most-common-value lists and
 * the statistics of their expressions describe every tenant's rows too, and
 * no hook hands them out, so a relation read under tenant_rls's row-level
 * security plans without them (ndistinct and functional dependencies stay).
 */
static void
tenant_rls_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
						 RelOptInfo *rel)
{
	if (prev_relation_info_hook)
		prev_relation_info_hook(root, relationObjectId, inhparent, rel);
	if (tenant_rls_hide_statistics && rel->statlist != NIL &&
		root->simple_rte_array != NULL && read_under_tenant_rls(root, rel->relid))
	{
		List	   *kept = NIL;
		ListCell   *lc;

		foreach(lc, rel->statlist)
		{
			StatisticExtInfo *info = (StatisticExtInfo *) lfirst(lc);

			if (info->kind != STATS_EXT_MCV && info->kind != STATS_EXT_EXPRESSIONS)
				kept = lappend(kept, info);
		}
		rel->statlist = kept;
	}
}

void
tenant_rls_planner_stats_init(void)
{
	prev_relation_stats_hook = get_relation_stats_hook;
	get_relation_stats_hook = tenant_rls_relation_stats;
	prev_index_stats_hook = get_index_stats_hook;
	get_index_stats_hook = tenant_rls_index_stats;
	prev_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = tenant_rls_relation_info;
}
