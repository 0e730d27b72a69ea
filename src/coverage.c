/*
 * coverage.c -- coverage(), lint() and friends: the parts written in C.
 *
 * The finding families are set-based SQL queries (src/sql/60_coverage.sql):
 * each family is one pass over the catalogs joined by hash, never a catalog
 * query per table, so the report grows linearly with the number of tables.
 * What SQL cannot do cheaply lives here:
 *
 *   _coverage_config()      the settings the report depends on
 *   _policy_facts()         walks the expression trees of one policy (casts
 *                           of the tenant column, current_setting() calls,
 *                           helper functions) and deparses them for the
 *                           comparison with the registry.
 *
 * Most managed policies are never read: the SQL trusts a table whose
 * tenant_rls_* policies were all written together with its registry row.
 * The rest are walked here.  protect() gives every table the same few
 * expression trees: they differ only in the parse locations, the tenant
 * column's number and name and the table's own OID (a regclass constant).
 * _policy_facts() therefore memoises its result per query (in fn_extra),
 * keyed by the trees without locations (and, when no text is wanted, without
 * regclass values) plus the tenant column, when the trees reference no other
 * column of the table and contain no sub-query.  Deparsing (pg_get_expr opens
 * the relation) happens only for the managed policies to compare with the
 * registry.
 *
 *   _expr_text_equal()      compares deparsed expressions, ignoring layout
 *   _key_is_generated()     are an index key's columns identity / serial
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_class.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_proc.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplesort.h"
#include "utils/varlena.h"

#include "coverage.h"
#include "guc.h"
#include "policy.h"

PG_FUNCTION_INFO_V1(tenant_rls_policy_facts);
PG_FUNCTION_INFO_V1(tenant_rls_tenant_row_count);
PG_FUNCTION_INFO_V1(tenant_rls_coverage_config);
PG_FUNCTION_INFO_V1(tenant_rls_expr_text_equal);
PG_FUNCTION_INFO_V1(tenant_rls_key_is_generated);
PG_FUNCTION_INFO_V1(tenant_rls_table_part);
PG_FUNCTION_INFO_V1(tenant_rls_split_identifiers);

/*
 * _config() -> (tenant_column name, audit boolean, managed_schemas text[]):
 * the settings the report depends on, read here so that calling it loads the
 * library (a fresh session that has not loaded it yet would not know the
 * tenant_rls.* settings); the managed schemas parsed as the event triggers
 * parse them.
 */
Datum
tenant_rls_coverage_config(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	List	   *names = tenant_rls_managed_schema_list(true);	/* reserved names too: lint() reports them */
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(names), 1));
	int			n = 0;
	ListCell   *lc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = DirectFunctionCall1(namein,
									CStringGetDatum(tenant_rls_tenant_column ? tenant_rls_tenant_column : "tenant_id"));
	values[1] = BoolGetDatum(tenant_rls_audit);
	foreach(lc, names)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	values[2] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ---------------------------------------------------------------------
 * Policy expression facts
 * ---------------------------------------------------------------------
 */

/* What one walk of a policy expression finds. */
typedef struct ExprFacts
{
	AttrNumber	tenant_attnum;	/* the tenant column, 0 when the table has none */
	int			depth;			/* query levels below the policy's own */
	bool		pure;			/* only the tenant column, no sub-query */
	bool		uses_tenant;	/* compares the tenant column at all */
	bool		casts_tenant;	/* wraps it in a cast or function call */
	bool		current_setting;	/* calls current_setting() */
	bool		not_missing_ok; /* reads the tenant setting without missing_ok */
	List	   *other_settings; /* names of other settings it reads (char *) */
	List	   *funcs;			/* functions it calls (Oid) */
	bool		tenant_fallback;	/* COALESCE(<the tenant>, <another value>) */
} ExprFacts;


/* Is this node (under binary-compatible relabelling) the tenant column? */
static bool
is_tenant_var(Node *node, ExprFacts *f)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node != NULL && IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return f->tenant_attnum > 0 &&
			var->varlevelsup == (Index) f->depth &&
			var->varno == 1 &&
			var->varattno == f->tenant_attnum;
	}
	return false;
}

static bool
any_tenant_var(List *args, ExprFacts *f)
{
	ListCell   *lc;

	foreach(lc, args)
	{
		if (is_tenant_var((Node *) lfirst(lc), f))
			return true;
	}
	return false;
}

/* A call of current_setting(name [, missing_ok]). */
static void
note_current_setting(FuncExpr *fexpr, ExprFacts *f)
{
	Node	   *arg;
	bool		missing_ok = false;

	f->current_setting = true;
	if (list_length(fexpr->args) < 1)
		return;
	if (list_length(fexpr->args) >= 2)
	{
		Node	   *m = (Node *) lsecond(fexpr->args);

		/* a computed missing_ok cannot be judged: give it the benefit */
		if (!IsA(m, Const) ||
			(!((Const *) m)->constisnull && DatumGetBool(((Const *) m)->constvalue)))
			missing_ok = true;
	}

	arg = (Node *) linitial(fexpr->args);
	while (IsA(arg, RelabelType))
		arg = (Node *) ((RelabelType *) arg)->arg;
	if (IsA(arg, Const) && !((Const *) arg)->constisnull &&
		(((Const *) arg)->consttype == TEXTOID ||
		 ((Const *) arg)->consttype == VARCHAROID))
	{
		char	   *name = TextDatumGetCString(((Const *) arg)->constvalue);

		if (pg_strcasecmp(name, TENANT_SETTING) == 0)
		{
			if (!missing_ok)
				f->not_missing_ok = true;
		}
		else if (pg_strncasecmp(name, "tenant_rls.", strlen("tenant_rls.")) != 0)
			f->other_settings = lappend(f->other_settings, name);
	}
	else
		f->other_settings = lappend(f->other_settings, pstrdup("(computed name)"));
}

/*
 * The policy reads something any session controls besides the tenant:
 * settings through pg_settings / pg_show_all_settings() (whichever it
 * filters on, any session can SET them), or the text of the query it runs
 * in (current_query(): a comment in the query is enough).
 */
static void
note_spoofable(ExprFacts *f, const char *what)
{
	ListCell   *lc;

	foreach(lc, f->other_settings)
	{
		if (strcmp((char *) lfirst(lc), what) == 0)
			return;
	}
	f->other_settings = lappend(f->other_settings, pstrdup(what));
}

static void
note_settings_view(ExprFacts *f)
{
	note_spoofable(f, "(pg_settings)");
}

/*
 * Remember a function the policy calls, if it is a user's: built-in
 * functions (OIDs below FirstNormalObjectId) and functions of extensions
 * cannot be given a search_path by the DBA and are not reported.
 */
static void
note_func(Oid funcid, ExprFacts *f)
{
	if (funcid < FirstNormalObjectId || list_member_oid(f->funcs, funcid))
		return;
	if (OidIsValid(getExtensionOfObject(ProcedureRelationId, funcid)))
		return;
	f->funcs = lappend_oid(f->funcs, funcid);
}

/*
 * protect()'s guards pass the column to tenant_rls.exception_allows*(), which
 * the planner replaces (by false, or by indexable terms): not an expression
 * that keeps the index from being used.
 */
static bool
is_exception_call(Oid funcid)
{
	char	   *name;

	if (get_func_namespace(funcid) != get_namespace_oid(TENANT_RLS_SCHEMA, true))
		return false;
	name = get_func_name(funcid);
	return name != NULL && strncmp(name, "exception_allows", strlen("exception_allows")) == 0;
}

/*
 * Does this expression read the current tenant: current_setting() of the
 * tenant setting, or a tenant_rls.current_tenant*() accessor?
 */
static bool
reads_tenant_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *fexpr = (FuncExpr *) node;

		if ((fexpr->funcid == F_CURRENT_SETTING_TEXT ||
			 fexpr->funcid == F_CURRENT_SETTING_TEXT_BOOL) &&
			list_length(fexpr->args) >= 1)
		{
			Node	   *arg = (Node *) linitial(fexpr->args);

			while (IsA(arg, RelabelType))
				arg = (Node *) ((RelabelType *) arg)->arg;
			if (IsA(arg, Const) && !((Const *) arg)->constisnull &&
				(((Const *) arg)->consttype == TEXTOID || ((Const *) arg)->consttype == VARCHAROID))
			{
				char	   *name = TextDatumGetCString(((Const *) arg)->constvalue);

				if (pg_strcasecmp(name, TENANT_SETTING) == 0)
					return true;
			}
		}
		else if (get_func_namespace(fexpr->funcid) == get_namespace_oid(TENANT_RLS_SCHEMA, true))
		{
			char	   *name = get_func_name(fexpr->funcid);

			if (name != NULL && strncmp(name, "current_tenant", strlen("current_tenant")) == 0)
				return true;
		}
	}
	if (IsA(node, Query))
		return false;			/* a sub-query's own reads are not this value */
	return expression_tree_walker(node, reads_tenant_walker, context);
}

/* A NULL constant (possibly cast): COALESCE(x, NULL) adds no fallback. */
static bool
is_null_const(Node *node)
{
	while (node != NULL && (IsA(node, RelabelType) || IsA(node, CoerceViaIO) ||
							(IsA(node, FuncExpr) && list_length(((FuncExpr *) node)->args) == 1)))
	{
		if (IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (IsA(node, CoerceViaIO))
			node = (Node *) ((CoerceViaIO *) node)->arg;
		else
			node = (Node *) linitial(((FuncExpr *) node)->args);
	}
	return node != NULL && IsA(node, Const) && ((Const *) node)->constisnull;
}

/*
 * COALESCE(<the tenant>, <something else>): a session without a tenant gets
 * the fallback value's rows instead of none.
 */
static void
note_coalesce(CoalesceExpr *c, ExprFacts *f)
{
	bool		seen_tenant = false;
	ListCell   *lc;

	foreach(lc, c->args)
	{
		Node	   *arg = (Node *) lfirst(lc);

		if (reads_tenant_walker(arg, NULL))
			seen_tenant = true;
		else if (seen_tenant && !is_null_const(arg))
		{
			f->tenant_fallback = true;
			return;
		}
	}
}

static bool
facts_walker(Node *node, ExprFacts *f)
{
	if (node == NULL)
		return false;

	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varlevelsup == (Index) f->depth && var->varno == 1)
		{
			if (f->tenant_attnum > 0 && var->varattno == f->tenant_attnum)
				f->uses_tenant = true;
			else
				f->pure = false;
		}
		return false;
	}
	if (IsA(node, Query))
	{
		bool		result;

		f->depth++;
		result = query_tree_walker((Query *) node, facts_walker, (void *) f,
								   QTW_EXAMINE_RTES_BEFORE);
		f->depth--;
		return result;
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		/* a sub-query reading the pg_settings view reads any setting */
		if (rte->rtekind == RTE_RELATION && OidIsValid(rte->relid) &&
			rte->relid == get_relname_relid("pg_settings", PG_CATALOG_NAMESPACE))
			note_settings_view(f);
		return false;			/* its parts are walked by range_table_walker */
	}

	if (IsA(node, SubLink))
		f->pure = false;
	else if (IsA(node, CoalesceExpr))
		note_coalesce((CoalesceExpr *) node, f);
	else if (IsA(node, FuncExpr))
	{
		FuncExpr   *fexpr = (FuncExpr *) node;

		note_func(fexpr->funcid, f);
		if (any_tenant_var(fexpr->args, f) && !is_exception_call(fexpr->funcid))
			f->casts_tenant = true;
		if (fexpr->funcid == F_CURRENT_SETTING_TEXT ||
			fexpr->funcid == F_CURRENT_SETTING_TEXT_BOOL)
			note_current_setting(fexpr, f);
		else if (fexpr->funcid == F_PG_SHOW_ALL_SETTINGS)
			note_settings_view(f);
		else if (fexpr->funcid == F_CURRENT_QUERY)
			note_spoofable(f, "(current_query)");
	}
	else if (IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr))
	{
		OpExpr	   *op = (OpExpr *) node;

		set_opfuncid(op);
		note_func(op->opfuncid, f);
		/* arithmetic on the column (tenant_id + 0 = ...) defeats the index too */
		if (op->opresulttype != BOOLOID && any_tenant_var(op->args, f))
			f->casts_tenant = true;
	}
	else if (IsA(node, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *op = (ScalarArrayOpExpr *) node;

		set_sa_opfuncid(op);
		note_func(op->opfuncid, f);
	}
	else if (IsA(node, CoerceViaIO))
	{
		if (is_tenant_var((Node *) ((CoerceViaIO *) node)->arg, f))
			f->casts_tenant = true;
	}
	else if (IsA(node, ArrayCoerceExpr))
	{
		if (is_tenant_var((Node *) ((ArrayCoerceExpr *) node)->arg, f))
			f->casts_tenant = true;
	}

	return expression_tree_walker(node, facts_walker, (void *) f);
}

/*
 * Node strings are compared without their parse locations (" :location N"),
 * which depend on the length of the table name in CREATE POLICY, and -- when
 * only the facts are wanted, not the text -- without the values of regclass
 * constants, which name the policy's own table (protect()'s exception terms
 * pass it to tenant_rls.granted_tenants()).  Both helpers walk the bytes in
 * place: no copy per policy.
 */
#define LOCATION_TAG " :location "
#define REGCLASS_TAG " :consttype 2205 "
#define CONSTVALUE_TAG " :constvalue "

typedef struct NodeCursor
{
	const char *p;
	const char *end;
	bool		skip_regclass;
	bool		in_regclass;	/* saw :consttype regclass, value not yet */
} NodeCursor;

static bool
at_tag(NodeCursor *c, const char *tag)
{
	size_t		len = strlen(tag);

	return c->end - c->p >= (ptrdiff_t) len && memcmp(c->p, tag, len) == 0;
}

/* The next significant byte, or -1 at the end. */
static int
next_byte(NodeCursor *c)
{
	while (c->p < c->end)
	{
		if (*c->p == ' ')
		{
			if (at_tag(c, LOCATION_TAG))
			{
				c->p += strlen(LOCATION_TAG);
				if (c->p < c->end && *c->p == '-')
					c->p++;
				while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
					c->p++;
				continue;
			}
			if (c->skip_regclass && at_tag(c, REGCLASS_TAG))
				c->in_regclass = true;
			else if (c->in_regclass && at_tag(c, CONSTVALUE_TAG))
			{
				/*
				 * " :constvalue 4 [ 1 2 3 4 0 0 0 0 ]": skip the value, and
				 * only the value.  A NULL prints as "<>": skipping to the
				 * next ']' then skipped whatever followed, up to the next
				 * constant, and two different policies compared equal.
				 */
				c->p += strlen(CONSTVALUE_TAG);
				if (c->end - c->p >= 2 && c->p[0] == '<' && c->p[1] == '>')
					c->p += 2;
				else
				{
					while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
						c->p++;
					if (c->end - c->p >= 2 && c->p[0] == ' ' && c->p[1] == '[')
					{
						while (c->p < c->end && *c->p != ']')
							c->p++;
						if (c->p < c->end)
							c->p++;
					}
				}
				c->in_regclass = false;
				continue;
			}
		}
		else if (*c->p == '}')
			c->in_regclass = false;
		return (unsigned char) *c->p++;
	}
	return -1;
}

static void
cursor_init(NodeCursor *c, text *t, bool skip_regclass)
{
	c->p = t ? VARDATA_ANY(t) : "";
	c->end = t ? c->p + VARSIZE_ANY_EXHDR(t) : c->p;
	c->skip_regclass = skip_regclass;
	c->in_regclass = false;
}

/* FNV-1a over the significant bytes */
static uint64
tree_hash(text *t, bool skip_regclass, uint64 h)
{
	NodeCursor	c;
	int			b;

	cursor_init(&c, t, skip_regclass);
	while ((b = next_byte(&c)) >= 0)
	{
		h ^= (uint64) b;
		h *= UINT64CONST(1099511628211);
	}
	return h;
}

/* Are two node strings equal in their significant bytes? */
static bool
same_tree(text *a, text *b, bool skip_regclass)
{
	NodeCursor	ca;
	NodeCursor	cb;
	int			x;
	int			y;

	if (a == NULL || b == NULL)
		return a == NULL && b == NULL;
	cursor_init(&ca, a, skip_regclass);
	cursor_init(&cb, b, skip_regclass);
	do
	{
		x = next_byte(&ca);
		y = next_byte(&cb);
		if (x != y)
			return false;
	} while (x >= 0);
	return true;
}

/* pg_get_expr(expr, relid); NULL when the relation has gone. */
static Datum
deparse_expr(Datum expr, Oid relid, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = expr;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = ObjectIdGetDatum(relid);
	fcinfo->args[1].isnull = false;
	result = pg_get_expr(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * One memoised result: the two node strings (USING, WITH CHECK; "" for
 * none), the tenant column and whether the text was asked for, and the row
 * computed for them.
 */
typedef struct FactsCacheEntry
{
	uint64		hash;			/* hash key */
	text	   *qual;
	text	   *check;
	AttrNumber	attnum;
	NameData	colname;
	bool		want_text;
	HeapTuple	tuple;			/* the result row */
} FactsCacheEntry;

/* Per-call-site state, in fn_extra. */
typedef struct FactsState
{
	TupleDesc	tupdesc;
	HTAB	   *cache;
} FactsState;

static Datum
list_to_text_array(List *l)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(l) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, l)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
list_to_oid_array(List *l)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(l) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, l)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

#define POLICY_FACTS_NATTS 10

/*
 * _policy_facts(qual pg_node_tree, check pg_node_tree, relid oid,
 *               tenant_attnum int2, tenant_column name, want_text boolean)
 *   -> (qual_text text, check_text text, uses_tenant, casts_tenant,
 *       current_setting, not_missing_ok boolean, other_settings text[],
 *       funcs oid[], pure boolean, tenant_fallback boolean)
 *
 * Facts about one policy (pg_policy.polqual and polwithcheck, either may be
 * NULL).  The texts (pg_get_expr) only when want_text.  Memoised per call
 * site as described at the top of the file.
 */
Datum
tenant_rls_policy_facts(PG_FUNCTION_ARGS)
{
	text	   *qual = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	text	   *check = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	Oid			relid = PG_GETARG_OID(2);
	AttrNumber	attnum = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT16(3);
	char	   *colname = PG_ARGISNULL(4) ? "" : NameStr(*PG_GETARG_NAME(4));
	bool		want_text = PG_ARGISNULL(5) ? false : PG_GETARG_BOOL(5);
	FactsState *state = (FactsState *) fcinfo->flinfo->fn_extra;
	uint64		hash;
	FactsCacheEntry *entry;
	bool		found;
	ExprFacts	f;
	Datum		values[POLICY_FACTS_NATTS];
	bool		nulls[POLICY_FACTS_NATTS];

	if (state == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		TupleDesc	tupdesc;
		HASHCTL		ctl;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		state = palloc0(sizeof(FactsState));
		state->tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(FactsCacheEntry);
		ctl.hcxt = fcinfo->flinfo->fn_mcxt;
		state->cache = hash_create("tenant_rls policy facts", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		fcinfo->flinfo->fn_extra = state;
		MemoryContextSwitchTo(old);
	}

	hash = tree_hash(qual, !want_text, UINT64CONST(14695981039346656037));
	hash = (hash ^ 0x1f) * UINT64CONST(1099511628211);
	hash = tree_hash(check, !want_text, hash);
	hash ^= ((uint64) attnum << 1) ^ (uint64) want_text;
	for (const char *cp = colname; *cp; cp++)
		hash = (hash ^ (unsigned char) *cp) * UINT64CONST(1099511628211);

	entry = (FactsCacheEntry *) hash_search(state->cache, &hash, HASH_FIND, &found);
	if (found && entry->attnum == attnum && entry->want_text == want_text &&
		strcmp(NameStr(entry->colname), colname) == 0 &&
		same_tree(entry->qual, qual, !want_text) && same_tree(entry->check, check, !want_text))
		return heap_copy_tuple_as_datum(entry->tuple, state->tupdesc);

	memset(&f, 0, sizeof(f));
	f.tenant_attnum = attnum;
	f.pure = true;
	if (qual)
		(void) facts_walker((Node *) stringToNode(text_to_cstring(qual)), &f);
	if (check)
		(void) facts_walker((Node *) stringToNode(text_to_cstring(check)), &f);

	memset(nulls, 0, sizeof(nulls));
	nulls[0] = nulls[1] = true;
	if (want_text && qual)
		values[0] = deparse_expr(PointerGetDatum(qual), relid, &nulls[0]);
	if (want_text && check)
		values[1] = deparse_expr(PointerGetDatum(check), relid, &nulls[1]);
	values[2] = BoolGetDatum(f.uses_tenant);
	values[3] = BoolGetDatum(f.casts_tenant);
	values[4] = BoolGetDatum(f.current_setting);
	values[5] = BoolGetDatum(f.not_missing_ok);
	values[6] = list_to_text_array(f.other_settings);
	values[7] = list_to_oid_array(f.funcs);
	values[8] = BoolGetDatum(f.pure);
	values[9] = BoolGetDatum(f.tenant_fallback);

	/* remember it for the other tables with the same trees (not on a collision) */
	if (f.pure && !found)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		entry = (FactsCacheEntry *) hash_search(state->cache, &hash, HASH_ENTER, &found);
		entry->qual = qual ? (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(qual)) : NULL;
		entry->check = check ? (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(check)) : NULL;
		entry->attnum = attnum;
		namestrcpy(&entry->colname, colname);
		entry->want_text = want_text;
		entry->tuple = heap_form_tuple(state->tupdesc, values, nulls);
		MemoryContextSwitchTo(old);
		return heap_copy_tuple_as_datum(entry->tuple, state->tupdesc);
	}

	return HeapTupleGetDatum(heap_form_tuple(state->tupdesc, values, nulls));
}

/*
 * _expr_text_equal(a text, b text) -> boolean: are two deparsed expressions
 * the same, ignoring white space and parentheses?  The registry keeps the
 * text protect() read back with pg_get_expr(); this tolerates a registry
 * written with different layout.  NULL equals NULL.
 */
Datum
tenant_rls_expr_text_equal(PG_FUNCTION_ARGS)
{
	const char *a;
	const char *b;
	const char *ea;
	const char *eb;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(PG_ARGISNULL(0) && PG_ARGISNULL(1));

	a = VARDATA_ANY(PG_GETARG_TEXT_PP(0));
	ea = a + VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0));
	b = VARDATA_ANY(PG_GETARG_TEXT_PP(1));
	eb = b + VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1));

	for (;;)
	{
		while (a < ea && (isspace((unsigned char) *a) || *a == '(' || *a == ')'))
			a++;
		while (b < eb && (isspace((unsigned char) *b) || *b == '(' || *b == ')'))
			b++;
		if (a == ea || b == eb)
			break;
		if (*a != *b)
			PG_RETURN_BOOL(false);
		a++;
		b++;
	}
	PG_RETURN_BOOL(a == ea && b == eb);
}

/*
 * Is the column's default nextval(...) (a serial column, under the implicit
 * cast of serial and smallserial), or a random uuid (gen_random_uuid(), its
 * pgcrypto namesake of the dumps made before PostgreSQL 13, uuid-ossp's
 * uuid_generate_v4()), whose values nobody guesses either?
 */
static bool
default_is_nextval(Oid relid, AttrNumber attnum)
{
	/* random uuid functions of extensions: not any function of that name */
	static const struct
	{
		const char *func;
		const char *ext;
	}			random_uuid[] = {{"uuid_generate_v4", "uuid-ossp"}, {"gen_random_uuid", "pgcrypto"}};
	Relation	attrdef;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		result = false;

	attrdef = table_open(AttrDefaultRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_attrdef_adrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_attrdef_adnum, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum(attnum));
	scan = systable_beginscan(attrdef, AttrDefaultIndexId, true, NULL, 2, keys);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		adbin = heap_getattr(tup, Anum_pg_attrdef_adbin,
										 RelationGetDescr(attrdef), &isnull);

		if (!isnull)
		{
			Node	   *expr = strip_implicit_coercions(stringToNode(TextDatumGetCString(adbin)));

			if (IsA(expr, FuncExpr))
			{
				Oid			funcid = ((FuncExpr *) expr)->funcid;
				char	   *name;

				result = funcid == F_NEXTVAL || funcid == F_GEN_RANDOM_UUID;
				if (!result && (name = get_func_name(funcid)) != NULL &&
					get_func_rettype(funcid) == UUIDOID)
				{
					Oid			extoid = getExtensionOfObject(ProcedureRelationId, funcid);
					char	   *extname = OidIsValid(extoid) ? get_extension_name(extoid) : NULL;

					for (int i = 0; i < lengthof(random_uuid) && extname != NULL && !result; i++)
						result = strcmp(name, random_uuid[i].func) == 0 &&
							strcmp(extname, random_uuid[i].ext) == 0;
				}
			}
		}
	}
	systable_endscan(scan);
	table_close(attrdef, AccessShareLock);
	return result;
}

/*
 * _key_is_generated(relid oid, key int2[]) -> boolean: is every column of
 * this index key an identity or serial column, or a random uuid by default?
 * Such unique keys are not existence oracles: their values come from a
 * sequence or a random generator, not from tenants.
 * Syscache and index probes only (called for the unique indexes that do not
 * lead with the tenant column).
 */
Datum
tenant_rls_key_is_generated(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ArrayType  *key = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(key, INT2OID, sizeof(int16), true, TYPALIGN_SHORT, &elems, &nulls, &n);
	if (n == 0)
		PG_RETURN_BOOL(false);
	for (i = 0; i < n; i++)
	{
		AttrNumber	attnum = nulls[i] ? 0 : DatumGetInt16(elems[i]);
		HeapTuple	tup;
		bool		generated = false;

		if (attnum <= 0)
			PG_RETURN_BOOL(false);	/* an expression */
		tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
		if (!HeapTupleIsValid(tup))
			PG_RETURN_BOOL(false);
		if (((Form_pg_attribute) GETSTRUCT(tup))->attidentity != '\0')
			generated = true;
		else if (((Form_pg_attribute) GETSTRUCT(tup))->atthasdef)
			generated = default_is_nextval(relid, attnum);
		ReleaseSysCache(tup);
		if (!generated)
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/*
 * The name column of the catalog row objid of catalog classid (NULL if gone),
 * and the row's namespace when nspattr is given.
 */
static char *
catalog_object_name(Oid classid, AttrNumber oidattr, AttrNumber nameattr, Oid objid,
					AttrNumber nspattr, Oid *nsp)
{
	Relation	rel = table_open(classid, AccessShareLock);
	HeapTuple	tup = get_catalog_object_by_oid(rel, oidattr, objid);
	char	   *res = NULL;

	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, nameattr, RelationGetDescr(rel), &isnull);

		if (!isnull)
			res = pstrdup(NameStr(*DatumGetName(d)));
		if (nspattr != InvalidAttrNumber)
			*nsp = DatumGetObjectId(heap_getattr(tup, nspattr, RelationGetDescr(rel), &isnull));
	}
	table_close(rel, AccessShareLock);
	return res;
}

/*
 * tenant_rls._table_part(classid, objid, objsubid, qname) -> (object, kind,
 * what): how lint() names the trigger, rule, policy, constraint, statistics
 * object, column default, index or column of tenant table qname that a
 * finding is about (pg_depend's terms).  Called once per finding (thousands
 * in a large catalog): catalog lookups by OID, no SQL.
 */
Datum
tenant_rls_table_part(PG_FUNCTION_ARGS)
{
	Oid			classid = PG_GETARG_OID(0);
	Oid			objid = PG_GETARG_OID(1);
	int32		objsubid = PG_GETARG_INT32(2);
	char	   *qname = text_to_cstring(PG_GETARG_TEXT_PP(3));
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char	   *object = NULL;
	const char *kind;
	char	   *what = NULL;
	char	   *nm;

	/*
	 * The result's row descriptor, built and blessed once for the call site
	 * (get_call_result_type() reads pg_proc and builds it anew: two thirds of
	 * the cost of a call, and lint() calls this once per finding of
	 * dependency_owned_by_other_role, 14,000 times on 10,000 tables)
	 */
	desc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (desc == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "tenant_rls: return type must be a row type");
		desc = BlessTupleDesc(desc);
		MemoryContextSwitchTo(oldcxt);
		fcinfo->flinfo->fn_extra = desc;
	}

	if (classid == TriggerRelationId || classid == RewriteRelationId ||
		classid == PolicyRelationId || classid == ConstraintRelationId)
	{
		static const struct
		{
			Oid			classid;
			AttrNumber	oidattr;
			AttrNumber	nameattr;
			const char *kind;
			const char *label;
		}			parts[] = {
			{TriggerRelationId, Anum_pg_trigger_oid, Anum_pg_trigger_tgname, "trigger", "Trigger"},
			{RewriteRelationId, Anum_pg_rewrite_oid, Anum_pg_rewrite_rulename, "rule", "Rule"},
			{PolicyRelationId, Anum_pg_policy_oid, Anum_pg_policy_polname, "policy", "Policy"},
			{ConstraintRelationId, Anum_pg_constraint_oid, Anum_pg_constraint_conname, "constraint", "Constraint"},
		};
		int			i = 0;

		while (parts[i].classid != classid)
			i++;
		kind = parts[i].kind;
		nm = catalog_object_name(classid, parts[i].oidattr, parts[i].nameattr, objid, InvalidAttrNumber, NULL);
		if (nm != NULL)
		{
			object = psprintf("%s ON %s", quote_identifier(nm), qname);
			what = psprintf("%s %s", parts[i].label, quote_identifier(nm));
		}
	}
	else if (classid == StatisticExtRelationId)
	{
		Oid			nsp = InvalidOid;

		kind = "statistics";
		nm = catalog_object_name(classid, Anum_pg_statistic_ext_oid, Anum_pg_statistic_ext_stxname, objid,
								 Anum_pg_statistic_ext_stxnamespace, &nsp);
		if (nm != NULL)
		{
			object = quote_qualified_identifier(get_namespace_name(nsp), nm);
			what = psprintf("Statistics object %s", quote_identifier(nm));
		}
	}
	else if (classid == AttrDefaultRelationId)
	{
		/* (pg_attrdef is not among get_catalog_object_by_oid()'s catalogs) */
		Relation	rel = table_open(AttrDefaultRelationId, AccessShareLock);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_pg_attrdef_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(objid));
		scan = systable_beginscan(rel, AttrDefaultOidIndexId, true, NULL, 1, &key);
		tup = systable_getnext(scan);
		kind = "column";
		if (HeapTupleIsValid(tup))
		{
			Form_pg_attrdef def = (Form_pg_attrdef) GETSTRUCT(tup);

			nm = get_attname(def->adrelid, def->adnum, true);
			if (nm != NULL)
			{
				object = psprintf("%s.%s", qname, quote_identifier(nm));
				what = psprintf(get_attgenerated(def->adrelid, def->adnum) != '\0'
								? "Generated column %s" : "The default of column %s",
								quote_identifier(nm));
			}
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	else
	{
		/* pg_class: an index of the table, a column of it, or the table */
		char		relkind = get_rel_relkind(objid);

		if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX)
		{
			kind = "index";
			nm = get_rel_name(objid);
			if (nm != NULL)
			{
				object = quote_qualified_identifier(get_namespace_name(get_rel_namespace(objid)), nm);
				what = psprintf("Index %s", quote_identifier(nm));
			}
		}
		else if (objsubid != 0)
		{
			kind = "column";
			nm = get_attname(objid, (AttrNumber) objsubid, true);
			if (nm != NULL)
			{
				object = psprintf("%s.%s", qname, quote_identifier(nm));
				what = psprintf("Column %s", quote_identifier(nm));
			}
		}
		else
		{
			kind = "table";
			object = qname;
			what = "The table";
		}
	}

	values[0] = object ? CStringGetTextDatum(object) : (Datum) 0;
	nulls[0] = object == NULL;
	values[1] = CStringGetTextDatum(kind);
	values[2] = what ? CStringGetTextDatum(what) : (Datum) 0;
	nulls[2] = what == NULL;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* one value of the tenant column and its rows (_tenant_row_count()) */
typedef struct TenantCount
{
	char	   *tenant;			/* the hash key: the value's text */
	int64		rows;
} TenantCount;

static uint32
tenant_count_hash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, (int) strlen(s));
}

static int
tenant_count_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* qsort_arg() comparator: tenants in collation *arg */
static int
tenant_count_cmp(const void *a, const void *b, void *arg)
{
	const char *x = (*(TenantCount *const *) a)->tenant;
	const char *y = (*(TenantCount *const *) b)->tenant;

	return varstr_cmp(x, (int) strlen(x), y, (int) strlen(y), *(Oid *) arg);
}

/* a fresh hash table of TenantCount in cxt */
static HTAB *
tenant_count_table(MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(TenantCount);
	ctl.hash = tenant_count_hash;
	ctl.match = tenant_count_match;
	ctl.hcxt = cxt;
	return hash_create("tenant_rls row counts", 256, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* the counts of the hash table, as (tenant, rows) tuples, into the sort */
static void
tenant_count_spill(HTAB *counts, Tuplesortstate *sort, TupleTableSlot *slot)
{
	HASH_SEQ_STATUS seq;
	TenantCount *tc;

	hash_seq_init(&seq, counts);
	while ((tc = hash_seq_search(&seq)) != NULL)
	{
		ExecClearTuple(slot);
		slot->tts_values[0] = CStringGetTextDatum(tc->tenant);
		slot->tts_isnull[0] = false;
		slot->tts_values[1] = Int64GetDatum(tc->rows);
		slot->tts_isnull[1] = false;
		ExecStoreVirtualTuple(slot);
		tuplesort_puttupleslot(sort, slot);
		pfree(DatumGetPointer(slot->tts_values[0]));
	}
}

/*
 * tenant_rls._tenant_row_count(tbl regclass, col name): rows of tbl (ONLY)
 * per value of col (as text, in the database's collation order, NULL last),
 * for tenant_row_counts(), which runs as the extension owner.
 *
 * The table's heap is read directly, under the caller's snapshot: no query
 * is planned, so none of the table owner's code runs with the extension
 * owner's rights (the planner folds index expressions and partial-index
 * predicates, calls a range type's subtype_diff, and so on; owner_code.c
 * would switch those to their owner, but a direct scan runs none at all).
 * The values are converted with their type's output function: a base
 * type's is C, created by a superuser.  Only ordinary tables are counted
 * (never a foreign table: that would use the extension owner's user mapping).
 */
Datum
tenant_rls_tenant_row_count(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		col = PG_GETARG_NAME(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	rel;
	AttrNumber	attnum;
	Form_pg_attribute att;
	Oid			collation;
	Oid			typoutput;
	bool		typisvarlena;
	FmgrInfo	outfn;
	HTAB	   *counts;
	MemoryContext cxt;
	MemoryContext hcxt;
	MemoryContext rowcxt;
	MemoryContext old;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Tuplesortstate *sort = NULL;
	TupleDesc	sortdesc = NULL;
	TupleTableSlot *sortslot = NULL;
	int64		null_rows = 0;
	uint64		nrows = 0;

	InitMaterializedSRF(fcinfo, 0);
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		PG_RETURN_VOID();
	/* (an unlogged table has no rows on a standby: nothing to read there) */
	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		(RecoveryInProgress() && !RelationIsPermanent(rel)))
	{
		relation_close(rel, AccessShareLock);
		PG_RETURN_VOID();
	}
	/* what SELECT would check; a direct scan cannot apply row security */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("counting the rows of %s per tenant needs a role that bypasses row-level security",
						tenant_rel_qualname(relid)),
				 errhint("tenant_rls.tenant_row_counts() runs as the owner of the extension: install tenant_rls as a superuser.")));
	attnum = get_attnum(relid, NameStr(*col));
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist",
						NameStr(*col), tenant_rel_qualname(relid)),
				 errhint("Pass the table's tenant column (tenant_rls.coverage() names it).")));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	getTypeOutputInfo(att->atttypid, &typoutput, &typisvarlena);
	/* listed as ORDER BY col::text would: in the column's collation */
	collation = OidIsValid(att->attcollation) ? att->attcollation : DEFAULT_COLLATION_OID;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "tenant_rls row counts",
								ALLOCSET_DEFAULT_SIZES);
	hcxt = AllocSetContextCreate(cxt, "tenant_rls row counts table",
								 ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(cxt, "tenant_rls row counts per row",
								   ALLOCSET_SMALL_SIZES);
	fmgr_info_cxt(typoutput, &outfn, cxt);
	counts = tenant_count_table(hcxt);

	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		v;
		char	   *text;
		bool		found;
		TenantCount *tc;

		CHECK_FOR_INTERRUPTS();
		v = slot_getattr(slot, attnum, &isnull);
		if (isnull)
		{
			null_rows++;
			continue;
		}
		old = MemoryContextSwitchTo(rowcxt);
		text = OutputFunctionCall(&outfn, v);
		MemoryContextSwitchTo(old);
		tc = hash_search(counts, &text, HASH_ENTER, &found);
		if (!found)
		{
			tc->tenant = MemoryContextStrdup(hcxt, text);
			tc->rows = 0;
		}
		tc->rows++;
		MemoryContextReset(rowcxt);

		/*
		 * Many tenants: beyond work_mem, the counts so far go into a sort
		 * (which spills to disk as a GROUP BY would), and a new table
		 * starts; the sort adds up the counts of each tenant at the end.
		 */
		if (++nrows % 1024 == 0 &&
			MemoryContextMemAllocated(hcxt, true) > (Size) work_mem * 1024)
		{
			if (sort == NULL)
			{
				AttrNumber	attno = 1;
				Oid			ltop = TextLessOperator;
				Oid			coll = collation;
				bool		nullsfirst = false;

				old = MemoryContextSwitchTo(cxt);
				sortdesc = CreateTemplateTupleDesc(2);
				TupleDescInitEntry(sortdesc, 1, "tenant", TEXTOID, -1, 0);
				TupleDescInitEntryCollation(sortdesc, 1, coll);
				TupleDescInitEntry(sortdesc, 2, "rows", INT8OID, -1, 0);
				sortslot = MakeSingleTupleTableSlot(sortdesc, &TTSOpsVirtual);
				sort = tuplesort_begin_heap(sortdesc, 1, &attno, &ltop, &coll, &nullsfirst,
											work_mem, NULL, TUPLESORT_NONE);
				MemoryContextSwitchTo(old);
			}
			tenant_count_spill(counts, sort, sortslot);
			MemoryContextReset(hcxt);
			counts = tenant_count_table(hcxt);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	relation_close(rel, AccessShareLock);

	if (sort == NULL)
	{
		/* in the order of ORDER BY the value's text, NULL last */
		long		n = hash_get_num_entries(counts);
		TenantCount **sorted = MemoryContextAlloc(cxt, sizeof(TenantCount *) * Max(n, 1));
		HASH_SEQ_STATUS seq;
		TenantCount *tc;

		n = 0;
		hash_seq_init(&seq, counts);
		while ((tc = hash_seq_search(&seq)) != NULL)
			sorted[n++] = tc;
		qsort_arg(sorted, n, sizeof(TenantCount *), tenant_count_cmp, &collation);
		for (long i = 0; i < n; i++)
		{
			Datum		values[2];
			bool		nulls[2] = {false, false};

			values[0] = CStringGetTextDatum(sorted[i]->tenant);
			values[1] = Int64GetDatum(sorted[i]->rows);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	else
	{
		/* the sorted counts, a tenant's added up (a deterministic collation: equal is byte-equal) */
		TupleTableSlot *out = MakeSingleTupleTableSlot(sortdesc, &TTSOpsMinimalTuple);
		text	   *cur = NULL;
		int64		cur_rows = 0;

		tenant_count_spill(counts, sort, sortslot);
		tuplesort_performsort(sort);
		for (;;)
		{
			bool		more = tuplesort_gettupleslot(sort, true, false, out, NULL);
			text	   *t = NULL;
			bool		isnull;

			if (more)
				t = DatumGetTextPP(slot_getattr(out, 1, &isnull));
			if (cur != NULL &&
				(!more || VARSIZE_ANY_EXHDR(t) != VARSIZE_ANY_EXHDR(cur) ||
				 memcmp(VARDATA_ANY(t), VARDATA_ANY(cur), VARSIZE_ANY_EXHDR(cur)) != 0))
			{
				Datum		values[2] = {PointerGetDatum(cur), Int64GetDatum(cur_rows)};
				bool		nulls[2] = {false, false};

				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				pfree(cur);
				cur = NULL;
			}
			if (!more)
				break;
			if (cur == NULL)
			{
				old = MemoryContextSwitchTo(cxt);
				cur = DatumGetTextPCopy(PointerGetDatum(t));
				MemoryContextSwitchTo(old);
				cur_rows = 0;
			}
			cur_rows += DatumGetInt64(slot_getattr(out, 2, &isnull));
		}
		ExecDropSingleTupleTableSlot(out);
		ExecDropSingleTupleTableSlot(sortslot);
		tuplesort_end(sort);
	}
	if (null_rows > 0)
	{
		Datum		values[2] = {(Datum) 0, Int64GetDatum(null_rows)};
		bool		nulls[2] = {true, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(cxt);
	PG_RETURN_VOID();
}

/*
 * tenant_rls._split_identifiers(list text) RETURNS text[]: a list of
 * identifiers as PostgreSQL reads a search_path (SplitIdentifierString():
 * unquoted names folded to lower case, quoted ones exact, quotes removed),
 * or NULL when it is not a valid list.  lower(btrim(e, '"')) took
 * "PG_TEMP" for pg_temp and split "a,b" in two (review rev46d).
 */
Datum
tenant_rls_split_identifiers(PG_FUNCTION_ARGS)
{
	char	   *raw = text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *names = NIL;
	ListCell   *lc;
	ArrayBuildState *astate = NULL;

	if (!SplitIdentifierString(raw, ',', &names))
		PG_RETURN_NULL();
	if (names == NIL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	foreach(lc, names)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false,
								  TEXTOID, CurrentMemoryContext);
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
