/*
 * coverage_tables.c -- tenant_rls._tables(): the tables the coverage report
 * looks at, read from the catalogs in one pass each.
 *
 * The set: every table (relkind r or p) of the schemas in
 * tenant_rls.managed_schemas, every table in the registry, and every
 * partition or inheritance child of those (in any schema), with its parent,
 * registry status and tenant column; foreign tables among those only when
 * they are below such a table or have the tenant column.
 *
 * Cost: one heap scan of pg_class and of pg_inherits, one query of the
 * registry, one syscache probe of pg_attribute per table; everything else in
 * hash tables.  Linear in the number of tables (R3); in SQL the same joins
 * cost several times more at 10,000 tables.
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_policy.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "coverage.h"
#include "guc.h"

PG_FUNCTION_INFO_V1(tenant_rls_tables);
PG_FUNCTION_INFO_V1(tenant_rls_column_acls);
PG_FUNCTION_INFO_V1(tenant_rls_cid_lt);
PG_FUNCTION_INFO_V1(tenant_rls_policies_with_combo_cid);

#define TABLES_NATTS 19

/* A registry row, keyed by "schema.table" (both as stored, NUL-separated). */
typedef struct RegEntry
{
	char		key[2 * NAMEDATALEN];
	bool		global;			/* status 'global' (else 'protected') */
	bool		global_rows;
	NameData	tenant_column;	/* empty for global */
} RegEntry;

/* A table (relkind r or p) of pg_class. */
typedef struct RelEntry
{
	Oid			relid;			/* hash key */
	Oid			nsp;
	NameData	relname;
	char		relkind;
	bool		relispartition;
	bool		rls;
	bool		force;
	Oid			owner;
	Datum		relacl;			/* copy of pg_class.relacl, or 0 when NULL */
	Oid			parent;			/* lowest-numbered direct parent, or InvalidOid */
	List	   *children;		/* direct children (Oid) */
	RegEntry   *reg;			/* its registry row, or NULL */
	bool		selected;
	bool		below_selected; /* a partition / child of a selected table */
} RelEntry;

typedef struct NspEntry
{
	Oid			nsp;			/* hash key */
	char	   *name;
	bool		managed;
} NspEntry;

/*
 * coverage() reads the table list twice in one statement (its own rows and
 * the findings); the second call returns the first one's rows.  Valid for one
 * statement (its start time) of one transaction and subtransaction, the same
 * command and the same settings, and only until a relation's cache entry is
 * invalidated: two statements of one READ COMMITTED transaction may share a
 * command id yet see other sessions' committed DDL, and ROLLBACK TO
 * SAVEPOINT undoes DDL without a new command id (a stale list reported
 * dropped tables and missed new ones).
 */
static LocalTransactionId cache_lxid = InvalidLocalTransactionId;
static CommandId cache_cid = InvalidCommandId;
static TimestampTz cache_stmt = 0;
static SubTransactionId cache_subxid = InvalidSubTransactionId;
static bool cache_callback_registered = false;
static char *cache_settings = NULL;		/* tenant column + managed schemas */
static List *cache_rows = NIL;			/* HeapTuple, in TopTransactionContext */

/* any relcache invalidation (DDL here, or committed elsewhere) drops the list */
static void
tables_cache_inval(Datum arg, Oid relid)
{
	cache_lxid = InvalidLocalTransactionId;
}

static char *
current_settings(void)
{
	return psprintf("%s\x1f%s", tenant_rls_tenant_column ? tenant_rls_tenant_column : "",
					tenant_rls_managed_schemas ? tenant_rls_managed_schemas : "");
}

static void
make_reg_key(char *key, const char *nsp, const char *rel)
{
	memset(key, 0, 2 * NAMEDATALEN);
	strlcpy(key, nsp, NAMEDATALEN);
	strlcpy(key + NAMEDATALEN, rel, NAMEDATALEN);
}

/* The registry, read with one query. */
static HTAB *
load_registry(void)
{
	HASHCTL		ctl;
	HTAB	   *reg;
	uint64		i;

	ctl.keysize = 2 * NAMEDATALEN;
	ctl.entrysize = sizeof(RegEntry);
	ctl.hcxt = CurrentMemoryContext;
	reg = hash_create("tenant_rls registry", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT r.schema_name::pg_catalog.text, r.table_name::pg_catalog.text,"
					" r.status OPERATOR(pg_catalog.=) 'global', r.global_rows,"
					" r.tenant_column::pg_catalog.text"
					" FROM tenant_rls.protected_table r", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read tenant_rls.protected_table");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *nsp = SPI_getvalue(tup, desc, 1);
		char	   *rel = SPI_getvalue(tup, desc, 2);
		char	   *col = SPI_getvalue(tup, desc, 5);
		bool		isnull;
		char		key[2 * NAMEDATALEN];
		RegEntry   *e;
		bool		found;

		if (nsp == NULL || rel == NULL)
			continue;
		make_reg_key(key, nsp, rel);
		e = hash_search(reg, key, HASH_ENTER, &found);
		e->global = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		e->global_rows = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull)) && !isnull;
		namestrcpy(&e->tenant_column, col ? col : "");
	}
	SPI_finish();
	return reg;
}

/* tenant_rls.managed_schemas as a list of namespace OIDs */
static List *
managed_schema_oids(void)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, tenant_rls_managed_schema_names())
	{
		Oid			nsp = get_namespace_oid((char *) lfirst(lc), true);

		if (OidIsValid(nsp))
			oids = lappend_oid(oids, nsp);
	}
	return oids;
}

static NspEntry *
nsp_lookup(HTAB *nsps, Oid nsp, List *managed)
{
	bool		found;
	NspEntry   *e = hash_search(nsps, &nsp, HASH_ENTER, &found);

	if (!found)
	{
		e->name = get_namespace_name(nsp);
		if (e->name == NULL)
			e->name = psprintf("%u", nsp);
		e->managed = list_member_oid(managed, nsp);
	}
	return e;
}

Datum
tenant_rls_tables(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HTAB	   *reg;
	HTAB	   *rels;
	HTAB	   *nsps;
	HASHCTL		ctl;
	List	   *managed;
	List	   *queue = NIL;
	Relation	catalog;
	TableScanDesc scan;
	HeapTuple	tup;
	HASH_SEQ_STATUS seq;
	RelEntry   *r;
	ListCell   *lc;
	const char *default_column = tenant_rls_tenant_column ? tenant_rls_tenant_column : "tenant_id";

	char	   *settings;
	bool		use_cache;

	InitMaterializedSRF(fcinfo, 0);

	if (!cache_callback_registered)
	{
		CacheRegisterRelcacheCallback(tables_cache_inval, (Datum) 0);
		cache_callback_registered = true;
	}
	settings = current_settings();
	use_cache = cache_lxid == MyProc->lxid && cache_cid == GetCurrentCommandId(false) &&
		cache_stmt == GetCurrentStatementStartTimestamp() &&
		cache_subxid == GetCurrentSubTransactionId() &&
		cache_settings != NULL && strcmp(cache_settings, settings) == 0;
	if (use_cache)
	{
		foreach(lc, cache_rows)
			tuplestore_puttuple(rsinfo->setResult, (HeapTuple) lfirst(lc));
		return (Datum) 0;
	}
	cache_lxid = InvalidLocalTransactionId;
	cache_rows = NIL;
	cache_settings = NULL;

	reg = load_registry();
	managed = managed_schema_oids();

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RelEntry);
	ctl.hcxt = CurrentMemoryContext;
	rels = hash_create("tenant_rls tables", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(NspEntry);
	nsps = hash_create("tenant_rls schemas", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* every table of pg_class; seed: managed schemas and registered tables */
	catalog = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(catalog, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);
		NspEntry   *ns;
		char		key[2 * NAMEDATALEN];
		bool		found;

		/*
		 * Foreign tables too: they cannot have row-level security, so one
		 * that is a partition or child of a tenant table, or has the tenant
		 * column in a managed schema, shows every tenant's rows to whoever
		 * may query it.
		 */
		if (c->relkind != RELKIND_RELATION && c->relkind != RELKIND_PARTITIONED_TABLE &&
			c->relkind != RELKIND_FOREIGN_TABLE)
			continue;
		r = hash_search(rels, &c->oid, HASH_ENTER, &found);
		r->nsp = c->relnamespace;
		r->relname = c->relname;
		r->relkind = c->relkind;
		r->relispartition = c->relispartition;
		r->rls = c->relrowsecurity;
		r->force = c->relforcerowsecurity;
		r->owner = c->relowner;
		{
			bool		aclnull;
			Datum		acl = heap_getattr(tup, Anum_pg_class_relacl,
										   RelationGetDescr(catalog), &aclnull);

			r->relacl = aclnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(acl));
		}
		r->parent = InvalidOid;
		r->children = NIL;
		r->below_selected = false;

		ns = nsp_lookup(nsps, c->relnamespace, managed);
		make_reg_key(key, ns->name, NameStr(c->relname));
		r->reg = hash_search(reg, key, HASH_FIND, NULL);
		r->selected = ns->managed || r->reg != NULL;
		if (r->selected)
			queue = lappend_oid(queue, r->relid);
	}
	table_endscan(scan);
	table_close(catalog, AccessShareLock);

	/* inheritance: parent of each table, children of each */
	catalog = table_open(InheritsRelationId, AccessShareLock);
	scan = table_beginscan_catalog(catalog, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_inherits inh = (Form_pg_inherits) GETSTRUCT(tup);
		RelEntry   *child = hash_search(rels, &inh->inhrelid, HASH_FIND, NULL);
		RelEntry   *parent;

		if (child == NULL)
			continue;			/* an index */
		parent = hash_search(rels, &inh->inhparent, HASH_FIND, NULL);
		if (parent == NULL)
			continue;
		if (!OidIsValid(child->parent) || inh->inhparent < child->parent)
			child->parent = inh->inhparent;
		parent->children = lappend_oid(parent->children, inh->inhrelid);
	}
	table_endscan(scan);
	table_close(catalog, AccessShareLock);

	/* add every descendant of a selected table */
	foreach(lc, queue)
	{
		RelEntry   *p = hash_search(rels, &lfirst_oid(lc), HASH_FIND, NULL);
		ListCell   *cc;

		foreach(cc, p->children)
		{
			RelEntry   *c = hash_search(rels, &lfirst_oid(cc), HASH_FIND, NULL);

			if (c != NULL)
				c->below_selected = true;
			if (c != NULL && !c->selected)
			{
				c->selected = true;
				queue = lappend_oid(queue, c->relid);
			}
		}
	}

	hash_seq_init(&seq, rels);
	while ((r = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[TABLES_NATTS];
		bool		nulls[TABLES_NATTS];
		NspEntry   *ns;
		RelEntry   *parent = NULL;
		const char *column;
		HeapTuple	atttup;
		NameData	n;

		if (!r->selected)
			continue;
		CHECK_FOR_INTERRUPTS();
		memset(nulls, 0, sizeof(nulls));
		ns = nsp_lookup(nsps, r->nsp, managed);
		if (OidIsValid(r->parent))
			parent = hash_search(rels, &r->parent, HASH_FIND, NULL);

		/*
		 * The tenant column: the table's own registry row, else that of the
		 * nearest protected ancestor (at any level: an unprotected partition
		 * below an unprotected partition of a table protected by org_id must
		 * be looked at by org_id too), else the setting.
		 */
		column = default_column;
		{
			RelEntry   *a = r;
			int			guard = 0;

			while (a != NULL && guard++ < 1000)
			{
				if (a->reg && !a->reg->global && NameStr(a->reg->tenant_column)[0] != '\0')
				{
					column = NameStr(a->reg->tenant_column);
					break;
				}
				a = OidIsValid(a->parent) ? hash_search(rels, &a->parent, HASH_FIND, NULL) : NULL;
			}
		}

		values[0] = ObjectIdGetDatum(r->relid);
		namestrcpy(&n, ns->name);
		values[1] = NameGetDatum(&n);
		values[2] = NameGetDatum(&r->relname);
		values[3] = CStringGetTextDatum(quote_qualified_identifier(ns->name, NameStr(r->relname)));
		values[4] = CharGetDatum(r->relkind);
		values[5] = CStringGetTextDatum(r->relkind == RELKIND_FOREIGN_TABLE ? "foreign table" :
										r->relispartition ? "partition" :
										parent ? "inheritance child" :
										r->relkind == RELKIND_PARTITIONED_TABLE ? "partitioned table" :
										"table");
		if (parent)
		{
			NspEntry   *pns = nsp_lookup(nsps, parent->nsp, managed);

			values[6] = ObjectIdGetDatum(parent->relid);
			values[7] = CStringGetTextDatum(quote_qualified_identifier(pns->name, NameStr(parent->relname)));
		}
		else
			nulls[6] = nulls[7] = true;
		values[8] = BoolGetDatum(ns->managed);
		values[9] = CStringGetTextDatum(r->reg == NULL ? "unprotected" :
										r->reg->global ? "global" : "protected");
		values[10] = BoolGetDatum(r->reg != NULL && r->reg->global_rows);
		values[11] = CStringGetDatum(column);	/* replaced below */
		{
			NameData   *cn = palloc(sizeof(NameData));

			namestrcpy(cn, column);
			values[11] = NameGetDatum(cn);
		}

		atttup = SearchSysCacheAttName(r->relid, column);
		if (HeapTupleIsValid(atttup))
		{
			Form_pg_attribute att = (Form_pg_attribute) GETSTRUCT(atttup);

			if (att->attnum > 0)
			{
				values[12] = Int16GetDatum(att->attnum);
				values[13] = CStringGetTextDatum(format_type_with_typemod(att->atttypid, att->atttypmod));
				values[14] = BoolGetDatum(att->attnotnull);
			}
			else
				nulls[12] = nulls[13] = nulls[14] = true;
			ReleaseSysCache(atttup);
		}
		else
			nulls[12] = nulls[13] = nulls[14] = true;

		/*
		 * A foreign table is reported only below a tenant table or with the
		 * tenant column (one without it, in a managed schema, is not a table
		 * whose sharing anyone decides with mark_global()).
		 */
		if (r->relkind == RELKIND_FOREIGN_TABLE && !r->below_selected && nulls[12])
			continue;
		values[15] = BoolGetDatum(r->rls);
		values[16] = BoolGetDatum(r->force);
		values[17] = ObjectIdGetDatum(r->owner);
		values[18] = r->relacl;
		nulls[18] = r->relacl == (Datum) 0;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		{
			MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

			cache_rows = lappend(cache_rows, heap_form_tuple(rsinfo->setDesc, values, nulls));
			MemoryContextSwitchTo(old);
		}
	}

	cache_settings = MemoryContextStrdup(TopTransactionContext, settings);
	cache_lxid = MyProc->lxid;
	cache_cid = GetCurrentCommandId(false);
	cache_stmt = GetCurrentStatementStartTimestamp();
	cache_subxid = GetCurrentSubTransactionId();

	return (Datum) 0;
}

/*
 * _column_acls() -> SETOF (attrelid oid, attacl aclitem[]): the columns that
 * have privileges of their own (GRANT ... (column) ON ...).  One heap scan of
 * pg_attribute that looks at the null bitmap only, for the few rows with an
 * ACL: in SQL the same filter deforms every row (3 times the cost at 10,000
 * tables).
 */
Datum
tenant_rls_column_acls(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	catalog;
	TableScanDesc scan;
	HeapTuple	tup;

	InitMaterializedSRF(fcinfo, 0);
	catalog = table_open(AttributeRelationId, AccessShareLock);
	scan = table_beginscan_catalog(catalog, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (heap_attisnull(tup, Anum_pg_attribute_attacl, RelationGetDescr(catalog)))
			continue;
		values[0] = ObjectIdGetDatum(((Form_pg_attribute) GETSTRUCT(tup))->attrelid);
		values[1] = heap_getattr(tup, Anum_pg_attribute_attacl, RelationGetDescr(catalog), &nulls[1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	table_endscan(scan);
	table_close(catalog, AccessShareLock);
	return (Datum) 0;
}

/*
 * _cid_lt(a cid, b cid) -> boolean: a < b.  PostgreSQL has no ordering
 * operator for command ids; the trust rule of the managed policies compares
 * the cmin of a policy with that of its registry row.
 */
Datum
tenant_rls_cid_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_UINT32(0) < PG_GETARG_UINT32(1));
}

/*
 * _policies_with_combo_cid() -> SETOF oid: the policies whose pg_policy row
 * has a combo command id.  A row inserted and then updated or deleted by the
 * same transaction (here: in a savepoint rolled back) keeps in its cmin the
 * index of a combo id, not the command that wrote it; once a vacuum has
 * frozen the aborted xmax away, nothing visible in SQL tells, and that small
 * number passed the trust rule's "written before protect() recorded"
 * (review rev20e: an edited managed policy went unreported).  One heap scan
 * of pg_policy.
 */
Datum
tenant_rls_policies_with_combo_cid(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	catalog;
	TableScanDesc scan;
	HeapTuple	tup;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);	/* (a scalar: one column) */
	catalog = table_open(PolicyRelationId, AccessShareLock);
	scan = table_beginscan_catalog(catalog, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Datum		value;
		bool		isnull = false;

		if (!(tup->t_data->t_infomask & HEAP_COMBOCID))
			continue;
		value = ObjectIdGetDatum(((Form_pg_policy) GETSTRUCT(tup))->oid);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	table_endscan(scan);
	table_close(catalog, AccessShareLock);
	return (Datum) 0;
}
