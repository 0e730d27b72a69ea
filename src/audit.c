/*
 * audit.c -- the audit capture trigger, the log's guard trigger, updated_at.
 *
 * tenant_rls.audit_trigger() runs AFTER INSERT/UPDATE/DELETE FOR EACH ROW and
 * BEFORE TRUNCATE FOR EACH STATEMENT on the tables given to enable_audit().
 * Per relation (never per row) it caches: which columns are recorded (the
 * include/exclude lists of tenant_rls.audit_config), the primary key columns,
 * the tenant column and how each column becomes jsonb.  The cache is dropped
 * by a relcache callback, so ALTER TABLE and enable_audit() (which recreates
 * the triggers) take effect at once.
 *
 * The tenant of an entry is the row's tenant column: the column recorded for
 * the table in tenant_rls.protected_table, else tenant_rls.tenant_column if the
 * table has it.  Tables without one (and TRUNCATE) record the tenant of the
 * current context, or NULL when none is set.
 *
 * The entry is handed to audit_append() (audit_chain.c), which queues it;
 * it is chained and written when the transaction commits.
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "context.h"
#include "guc.h"
#include "module_init.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_trigger);
PG_FUNCTION_INFO_V1(tenant_rls_audit_guard);
PG_FUNCTION_INFO_V1(tenant_rls_updated_at_trigger);

/* tenant_rls.audit_truncate_count: count the rows a TRUNCATE removes */
static bool audit_truncate_count = false;

/* ---------------------------------------------------------------------
 * Per-relation cache
 * ---------------------------------------------------------------------
 */
typedef enum ColKind
{
	CK_BOOL,
	CK_INT2,
	CK_INT4,
	CK_INT8,
	CK_NUMERIC,
	CK_TEXT,					/* text, varchar: a JSON string as is */
	CK_JSONB,
	CK_OTHER					/* everything else: to_jsonb() */
} ColKind;

typedef struct AuditCol
{
	char	   *name;			/* NULL for dropped columns */
	ColKind		kind;
	bool		audited;
	int16		typlen;
	bool		typbyval;
	FmgrInfo   *to_jsonb;		/* CK_OTHER */
} AuditCol;

typedef struct AuditRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;
	Oid			target_oid;		/* the table enable_audit() was given */
	int			natts;
	AuditCol   *cols;			/* [natts] */
	int			naudited;
	AttrNumber *audited;		/* audited attnums, in order */
	int			npk;
	AttrNumber *pk;				/* primary key attnums, 0 columns: none */
	AttrNumber	tenant_att;		/* 0: no tenant column */
	FmgrInfo	tenant_out;
	NameData	target_nsp;		/* names of target_oid, as recorded */
	NameData	target_name;
} AuditRel;

static HTAB *audit_rels = NULL;

static void
audit_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	AuditRel   *ar;

	if (audit_rels == NULL)
		return;
	if (OidIsValid(relid))
	{
		ar = hash_search(audit_rels, &relid, HASH_FIND, NULL);
		if (ar != NULL)
			ar->valid = false;
		return;
	}
	hash_seq_init(&status, audit_rels);
	while ((ar = hash_seq_search(&status)) != NULL)
		ar->valid = false;
}

static void
audit_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	audit_relcache_callback(arg, InvalidOid);
}

void
tenant_rls_audit_init(void)
{
	DefineCustomBoolVariable("tenant_rls.audit_truncate_count",
							 gettext_noop("Records how many rows a TRUNCATE of an audited table removes."),
							 gettext_noop("Counting scans the table before it is truncated."),
							 &audit_truncate_count,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(audit_relcache_callback, (Datum) 0);
	/* cached schema and table names: any rename forgets them */
	CacheRegisterSyscacheCallback(NAMESPACEOID, audit_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(RELOID, audit_syscache_callback, (Datum) 0);
	CacheRegisterRelcacheCallback(audit_chain_relcache_callback, (Datum) 0);
}

static bool
name_in_array(const char *name, Datum *elems, bool *enulls, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (!enulls[i] && strcmp(TextDatumGetCString(elems[i]), name) == 0)
			return true;
	}
	return false;
}

/*
 * Read the configuration of relid or of the nearest ancestor that has one.
 * Runs as the bootstrap superuser: the trigger fires for roles that cannot
 * read the extension's tables.
 */
typedef struct AuditConfig
{
	Oid			target_oid;
	ArrayType  *columns;		/* NULL: all */
	ArrayType  *exclude;
	char	   *tenant_column;	/* NULL: none */
} AuditConfig;

static void
read_config(Relation rel, AuditConfig *cfg, MemoryContext cxt)
{
	List	   *candidates;
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec;
	bool		found = false;

	candidates = list_make1_oid(RelationGetRelid(rel));
	if (rel->rd_rel->relispartition)
		candidates = list_concat(candidates, get_partition_ancestors(RelationGetRelid(rel)));

	cfg->target_oid = RelationGetRelid(rel);
	cfg->columns = NULL;
	cfg->exclude = NULL;
	cfg->tenant_column = NULL;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	foreach(lc, candidates)
	{
		Oid			relid = lfirst_oid(lc);
		Oid			argtypes[3] = {OIDOID, NAMEOID, NAMEOID};
		Datum		args[3];
		char	   *nsp = get_namespace_name(get_rel_namespace(relid));
		char	   *name = get_rel_name(relid);
		bool		isnull;
		Datum		d;

		if (nsp == NULL || name == NULL)
			continue;
		args[0] = ObjectIdGetDatum(relid);
		args[1] = audit_name_datum(nsp);
		args[2] = audit_name_datum(name);
		if (SPI_execute_with_args("SELECT c.columns, c.exclude FROM tenant_rls.audit_config c"
								  " WHERE c.table_oid OPERATOR(pg_catalog.=) $1"
								  " OR (c.schema_name OPERATOR(pg_catalog.=) $2 AND c.table_name OPERATOR(pg_catalog.=) $3)"
								  " ORDER BY (c.table_oid OPERATOR(pg_catalog.=) $1) DESC NULLS LAST LIMIT 1",
								  3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read tenant_rls.audit_config");
		if (SPI_processed == 0)
			continue;
		found = true;
		cfg->target_oid = relid;
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
				cfg->columns = DatumGetArrayTypePCopy(d);
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			if (!isnull)
				cfg->exclude = DatumGetArrayTypePCopy(d);
			MemoryContextSwitchTo(old);
		}
		break;
	}
	if (!found && list_length(candidates) > 1)
		cfg->target_oid = llast_oid(candidates);	/* the partition root */

	/* the tenant column: the registry's, else tenant_rls.tenant_column */
	{
		Oid			argtypes[2] = {NAMEOID, NAMEOID};
		Datum		args[2];
		char	   *nsp = get_namespace_name(get_rel_namespace(cfg->target_oid));
		char	   *name = get_rel_name(cfg->target_oid);

		args[0] = audit_name_datum(nsp ? nsp : "");
		args[1] = audit_name_datum(name ? name : "");
		if (SPI_execute_with_args("SELECT p.tenant_column::pg_catalog.text FROM tenant_rls.protected_table p"
								  " WHERE p.schema_name OPERATOR(pg_catalog.=) $1 AND p.table_name OPERATOR(pg_catalog.=) $2",
								  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read tenant_rls.protected_table");
		if (SPI_processed > 0)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (v != NULL)
				cfg->tenant_column = MemoryContextStrdup(cxt, v);
		}
		else if (tenant_rls_tenant_column != NULL)
			cfg->tenant_column = MemoryContextStrdup(cxt, tenant_rls_tenant_column);
	}

	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

static ColKind
col_kind(Oid typid)
{
	switch (getBaseType(typid))
	{
		case BOOLOID:
			return CK_BOOL;
		case INT2OID:
			return CK_INT2;
		case INT4OID:
			return CK_INT4;
		case INT8OID:
			return CK_INT8;
		case NUMERICOID:
			return CK_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return CK_TEXT;
		case JSONBOID:
			return CK_JSONB;
		default:
			return CK_OTHER;
	}
}

/* jsonb orders object keys by length, then bytes */
static int
jsonb_key_cmp(const void *a, const void *b, void *arg)
{
	AuditRel   *ar = (AuditRel *) arg;
	const char *ka = ar->cols[*(const AttrNumber *) a - 1].name;
	const char *kb = ar->cols[*(const AttrNumber *) b - 1].name;
	size_t		la = strlen(ka);
	size_t		lb = strlen(kb);

	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(ka, kb, la);
}

static void
build_audit_rel(AuditRel *ar, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AuditConfig cfg;
	MemoryContext old;
	Datum	   *inc = NULL,
			   *exc = NULL;
	bool	   *incn = NULL,
			   *excn = NULL;
	int			ninc = 0,
				nexc = 0;
	Oid			pkidx;

	if (ar->cxt != NULL)
		MemoryContextDelete(ar->cxt);
	ar->cxt = NULL;
	ar->valid = false;

	{
		MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext,
												  "tenant_rls audit relation",
												  ALLOCSET_SMALL_SIZES);

		MemoryContextSetIdentifier(cxt, RelationGetRelationName(rel));
		read_config(rel, &cfg, cxt);
		ar->cxt = cxt;
	}
	old = MemoryContextSwitchTo(ar->cxt);

	if (cfg.columns)
		deconstruct_array(cfg.columns, TEXTOID, -1, false, TYPALIGN_INT, &inc, &incn, &ninc);
	if (cfg.exclude)
		deconstruct_array(cfg.exclude, TEXTOID, -1, false, TYPALIGN_INT, &exc, &excn, &nexc);

	ar->target_oid = cfg.target_oid;
	ar->natts = desc->natts;
	ar->cols = palloc0(sizeof(AuditCol) * desc->natts);
	ar->audited = palloc0(sizeof(AttrNumber) * (desc->natts + 1));
	ar->naudited = 0;
	ar->tenant_att = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AuditCol   *c = &ar->cols[i];

		if (att->attisdropped)
			continue;
		c->name = pstrdup(NameStr(att->attname));
		c->kind = col_kind(att->atttypid);
		c->typlen = att->attlen;
		c->typbyval = att->attbyval;
		c->audited = (cfg.columns == NULL || name_in_array(c->name, inc, incn, ninc)) &&
			!(cfg.exclude != NULL && name_in_array(c->name, exc, excn, nexc));
		if (c->audited)
			ar->audited[ar->naudited++] = att->attnum;
		if (c->kind == CK_OTHER)
		{
			c->to_jsonb = palloc0(sizeof(FmgrInfo));
			fmgr_info_cxt(F_TO_JSONB, c->to_jsonb, ar->cxt);
			fmgr_info_set_expr((Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
													 list_make1(makeNullConst(att->atttypid, att->atttypmod,
																			  att->attcollation)),
													 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL),
							   c->to_jsonb);
		}
		if (cfg.tenant_column != NULL && strcmp(c->name, cfg.tenant_column) == 0)
		{
			Oid			outfn;
			bool		isvarlena;

			ar->tenant_att = att->attnum;
			getTypeOutputInfo(att->atttypid, &outfn, &isvarlena);
			fmgr_info_cxt(outfn, &ar->tenant_out, ar->cxt);
		}
	}

	/* push keys in jsonb's own key order: sorting the object is then a no-op */
	qsort_arg(ar->audited, ar->naudited, sizeof(AttrNumber), jsonb_key_cmp, ar);

	ar->npk = 0;
	ar->pk = NULL;
	pkidx = RelationGetPrimaryKeyIndex(rel);
	if (OidIsValid(pkidx))
	{
		Relation	idx = index_open(pkidx, AccessShareLock);

		ar->npk = idx->rd_index->indnkeyatts;
		ar->pk = palloc(sizeof(AttrNumber) * ar->npk);
		for (int i = 0; i < ar->npk; i++)
			ar->pk[i] = idx->rd_index->indkey.values[i];
		index_close(idx, AccessShareLock);
		qsort_arg(ar->pk, ar->npk, sizeof(AttrNumber), jsonb_key_cmp, ar);
	}

	{
		char	   *nsp = get_namespace_name(get_rel_namespace(ar->target_oid));
		char	   *name = get_rel_name(ar->target_oid);

		namestrcpy(&ar->target_nsp, nsp ? nsp : "");
		namestrcpy(&ar->target_name, name ? name : "");
	}

	MemoryContextSwitchTo(old);
	ar->valid = true;
}

static AuditRel *
get_audit_rel(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	AuditRel   *ar;
	bool		found;

	if (audit_rels == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(AuditRel);
		ctl.hcxt = CacheMemoryContext;
		audit_rels = hash_create("tenant_rls audit relations", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	ar = hash_search(audit_rels, &relid, HASH_ENTER, &found);
	if (!found)
	{
		ar->valid = false;
		ar->cxt = NULL;
	}
	if (!ar->valid)
		build_audit_rel(ar, rel);
	return ar;
}

/* ---------------------------------------------------------------------
 * Rows as jsonb
 * ---------------------------------------------------------------------
 */
static void
push_jsonb_value(JsonbParseState **st, Jsonb *jb)
{
	JsonbValue	jv;

	if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &jv))
	{
		pushJsonbValue(st, WJB_VALUE, &jv);
		return;
	}
	jv.type = jbvBinary;
	jv.val.binary.data = &jb->root;
	jv.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &jv);
}

static void
push_column(JsonbParseState **st, AuditCol *c, Datum v, bool isnull)
{
	JsonbValue	jv;

	jv.type = jbvString;
	jv.val.string.val = c->name;
	jv.val.string.len = strlen(c->name);
	pushJsonbValue(st, WJB_KEY, &jv);

	if (isnull)
	{
		jv.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &jv);
		return;
	}
	switch (c->kind)
	{
		case CK_BOOL:
			jv.type = jbvBool;
			jv.val.boolean = DatumGetBool(v);
			break;
		case CK_INT2:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric(DatumGetInt16(v));
			break;
		case CK_INT4:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric(DatumGetInt32(v));
			break;
		case CK_INT8:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric(DatumGetInt64(v));
			break;
		case CK_NUMERIC:
			{
				Numeric		n = DatumGetNumeric(v);

				if (numeric_is_nan(n) || numeric_is_inf(n))
				{
					char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

					jv.type = jbvString;
					jv.val.string.val = s;
					jv.val.string.len = strlen(s);
				}
				else
				{
					jv.type = jbvNumeric;
					jv.val.numeric = n;
				}
				break;
			}
		case CK_TEXT:
			{
				text	   *t = DatumGetTextPP(v);

				jv.type = jbvString;
				jv.val.string.val = VARDATA_ANY(t);
				jv.val.string.len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case CK_JSONB:
			push_jsonb_value(st, DatumGetJsonbP(v));
			return;
		case CK_OTHER:
			push_jsonb_value(st, DatumGetJsonbP(FunctionCall1(c->to_jsonb, v)));
			return;
	}
	pushJsonbValue(st, WJB_VALUE, &jv);
}

/* an object of the given columns of a deformed row */
static Datum
columns_to_jsonb(AuditRel *ar, const AttrNumber *atts, int n, Datum *values, bool *nulls)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		int			k = atts[i] - 1;

		push_column(&st, &ar->cols[k], values[k], nulls[k]);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* same value?  Unchanged TOASTed values keep their pointer: no detoasting then. */
static bool
same_value(AuditCol *c, Datum a, bool anull, Datum b, bool bnull)
{
	if (anull || bnull)
		return anull == bnull;
	if (c->typlen == -1)
	{
		struct varlena *pa = (struct varlena *) DatumGetPointer(a);
		struct varlena *pb = (struct varlena *) DatumGetPointer(b);

		if (VARATT_IS_EXTERNAL_ONDISK(pa) && VARATT_IS_EXTERNAL_ONDISK(pb) &&
			VARSIZE_EXTERNAL(pa) == VARSIZE_EXTERNAL(pb) &&
			memcmp(pa, pb, VARSIZE_EXTERNAL(pa)) == 0)
			return true;
	}
	return datum_image_eq(a, b, c->typbyval, c->typlen);
}

/* ---------------------------------------------------------------------
 * The capture trigger
 * ---------------------------------------------------------------------
 */
static void
set_table(Datum *values, bool *nulls, AuditRel *ar)
{
	values[AL_TABLE_OID] = ObjectIdGetDatum(ar->target_oid);
	nulls[AL_TABLE_OID] = false;
	values[AL_SCHEMA_NAME] = NameGetDatum(&ar->target_nsp);
	nulls[AL_SCHEMA_NAME] = false;
	values[AL_TABLE_NAME] = NameGetDatum(&ar->target_name);
	nulls[AL_TABLE_NAME] = false;
}

static void
set_context_tenant(Datum *values, bool *nulls)
{
	const char *t = tenant_context_get();

	nulls[AL_TENANT] = (t == NULL);
	if (t != NULL)
		values[AL_TENANT] = CStringGetTextDatum(t);
}

static void
audit_truncate(TriggerData *td)
{
	Relation	rel = td->tg_relation;
	Datum		values[AL_NATTS];
	bool		nulls[AL_NATTS];
	AuditRel   *ar = get_audit_rel(rel);

	memset(nulls, true, sizeof(nulls));
	audit_fill_context(values, nulls);
	set_context_tenant(values, nulls);
	set_table(values, nulls, ar);
	values[AL_OPERATION] = CStringGetTextDatum("TRUNCATE");
	nulls[AL_OPERATION] = false;

	if (audit_truncate_count && TRIGGER_FIRED_BEFORE(td->tg_event))
	{
		Oid			save_userid;
		int			save_sec;
		char	   *sql;
		bool		isnull;

		sql = psprintf("SELECT pg_catalog.count(*) FROM %s",
					   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												  RelationGetRelationName(rel)));
		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not count the rows of %s", RelationGetRelationName(rel));
		values[AL_ROW_COUNT] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		nulls[AL_ROW_COUNT] = isnull;
		SPI_finish();
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	audit_append(values, nulls);
}

Datum
tenant_rls_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	Relation	rel;
	TupleDesc	desc;
	AuditRel   *ar;
	Datum		values[AL_NATTS];
	bool		nulls[AL_NATTS];
	Datum	   *ov = NULL,
			   *nv = NULL;
	bool	   *on = NULL,
			   *nn = NULL;
	HeapTuple	oldtup = NULL,
				newtup = NULL;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.audit_trigger() must be called as a trigger"),
				 errhint("Attach it with tenant_rls.enable_audit(table).")));
	td = (TriggerData *) fcinfo->context;

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		audit_truncate(td);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.audit_trigger() must be fired AFTER ... FOR EACH ROW (or BEFORE TRUNCATE)"),
				 errhint("Attach it with tenant_rls.enable_audit(table).")));

	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	ar = get_audit_rel(rel);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		op = "INSERT";
		newtup = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		op = "UPDATE";
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
	{
		op = "DELETE";
		oldtup = td->tg_trigtuple;
	}

	if (oldtup)
	{
		ov = palloc(sizeof(Datum) * desc->natts);
		on = palloc(sizeof(bool) * desc->natts);
		heap_deform_tuple(oldtup, desc, ov, on);
	}
	if (newtup)
	{
		nv = palloc(sizeof(Datum) * desc->natts);
		nn = palloc(sizeof(bool) * desc->natts);
		heap_deform_tuple(newtup, desc, nv, nn);
	}

	memset(nulls, true, sizeof(nulls));

	if (oldtup && newtup)
	{
		/* UPDATE: only the audited columns that changed; nothing if none did */
		AttrNumber *changed = palloc(sizeof(AttrNumber) * (ar->naudited + 1));
		int			nchanged = 0;

		for (int i = 0; i < ar->naudited; i++)
		{
			int			k = ar->audited[i] - 1;

			if (!same_value(&ar->cols[k], ov[k], on[k], nv[k], nn[k]))
				changed[nchanged++] = ar->audited[i];
		}
		if (nchanged == 0)
			return PointerGetDatum(NULL);
		/* without a primary key the full old image identifies the row */
		if (ar->npk > 0)
			values[AL_OLD_ROW] = columns_to_jsonb(ar, changed, nchanged, ov, on);
		else
			values[AL_OLD_ROW] = columns_to_jsonb(ar, ar->audited, ar->naudited, ov, on);
		nulls[AL_OLD_ROW] = false;
		values[AL_NEW_ROW] = columns_to_jsonb(ar, changed, nchanged, nv, nn);
		nulls[AL_NEW_ROW] = false;
	}
	else if (newtup)
	{
		values[AL_NEW_ROW] = columns_to_jsonb(ar, ar->audited, ar->naudited, nv, nn);
		nulls[AL_NEW_ROW] = false;
	}
	else
	{
		values[AL_OLD_ROW] = columns_to_jsonb(ar, ar->audited, ar->naudited, ov, on);
		nulls[AL_OLD_ROW] = false;
	}

	if (ar->npk > 0)
	{
		values[AL_ROW_PK] = oldtup ? columns_to_jsonb(ar, ar->pk, ar->npk, ov, on)
			: columns_to_jsonb(ar, ar->pk, ar->npk, nv, nn);
		nulls[AL_ROW_PK] = false;
		values[AL_ROW_KEY] = Int64GetDatum(audit_row_key(values[AL_ROW_PK]));
		nulls[AL_ROW_KEY] = false;
	}

	if (ar->tenant_att > 0)
	{
		int			k = ar->tenant_att - 1;
		Datum		tv = oldtup ? ov[k] : nv[k];
		bool		tn = oldtup ? on[k] : nn[k];

		nulls[AL_TENANT] = tn;
		if (!tn)
			values[AL_TENANT] = CStringGetTextDatum(OutputFunctionCall(&ar->tenant_out, tv));
	}
	else
		set_context_tenant(values, nulls);

	set_table(values, nulls, ar);
	values[AL_OPERATION] = CStringGetTextDatum(op);
	nulls[AL_OPERATION] = false;
	audit_fill_context(values, nulls);

	audit_append(values, nulls);
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * The guard of the audit tables
 * ---------------------------------------------------------------------
 */
Datum
tenant_rls_audit_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	const char *op;
	const char *relname;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.audit_guard() must be called as a trigger")));
	td = (TriggerData *) fcinfo->context;

	if (audit_purge_sanctioned)
	{
		if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
			return PointerGetDatum(NULL);
		if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
			return PointerGetDatum(td->tg_newtuple);
		return PointerGetDatum(td->tg_trigtuple);
	}

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		op = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		op = "TRUNCATE";
	else
		op = "INSERT";
	/* name the log, not the partition the row happens to be in */
	relname = RelationGetRelationName(td->tg_relation);
	if (td->tg_relation->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(RelationGetRelid(td->tg_relation));
		char	   *root = ancestors ? get_rel_name(llast_oid(ancestors)) : NULL;

		if (root != NULL)
			relname = root;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s of tenant_rls.%s is not allowed", op, relname),
			 errdetail("The tenant_rls audit log is append-only: no role, not even its owner or a superuser, may change or remove entries."),
			 errhint("Remove old entries with tenant_rls.audit_purge(before), which records the purge.")));
	return PointerGetDatum(NULL);	/* keep compiler quiet */
}

/* ---------------------------------------------------------------------
 * updated_at (A5): BEFORE UPDATE FOR EACH ROW, argument: the column
 * ---------------------------------------------------------------------
 */
Datum
tenant_rls_updated_at_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	TupleDesc	desc;
	int			attnum;
	Oid			typid;
	Datum		value;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.updated_at_trigger() must be called as a trigger"),
				 errhint("Attach it with tenant_rls.enable_updated_at(table, column).")));
	td = (TriggerData *) fcinfo->context;
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.updated_at_trigger() must be fired BEFORE UPDATE FOR EACH ROW"),
				 errhint("Attach it with tenant_rls.enable_updated_at(table, column).")));
	if (td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.updated_at_trigger() needs one argument, the column name"),
				 errhint("Attach it with tenant_rls.enable_updated_at(table, column).")));

	desc = RelationGetDescr(td->tg_relation);
	attnum = SPI_fnumber(desc, td->tg_trigger->tgargs[0]);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist",
						td->tg_trigger->tgargs[0], RelationGetRelationName(td->tg_relation)),
				 errhint("Call tenant_rls.enable_updated_at() again with an existing column.")));
	typid = getBaseType(TupleDescAttr(desc, attnum - 1)->atttypid);
	if (typid == TIMESTAMPTZOID)
		value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	else if (typid == TIMESTAMPOID)
		value = DirectFunctionCall1(timestamptz_timestamp,
									TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of table \"%s\" is not a timestamp",
						td->tg_trigger->tgargs[0], RelationGetRelationName(td->tg_relation)),
				 errhint("Use a timestamptz column.")));

	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_newtuple, desc, 1, &attnum, &value, &isnull));
}
