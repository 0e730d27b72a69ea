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
 * current context, or NULL when none is set.  A table whose registered
 * tenant column is gone, or that has tenant_rls's policies but no registry
 * row (renamed while the event triggers did not run), records NULL, with a
 * warning: the context's tenant could be another tenant than the row's.
 *
 * The entry is handed to audit_append_entry() (audit_chain.c), which queues it;
 * it is chained and written when the transaction commits.
 *
 * Anybody may attach the trigger to a table of their own (EXECUTE is checked
 * against the user who fires it), so it writes only for tables registered in
 * tenant_rls.audit_config (the table or its partition root): elsewhere it
 * would forge entries in any tenant's chain.  The configuration is read with
 * the latest snapshot, like a catalog: a REPEATABLE READ transaction whose
 * snapshot predates enable_audit() must not cache the old settings.
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/proc.h"
#include "utils/acl.h"
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
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "audit_delivery.h"
#include "context.h"
#include "event_trigger.h"
#include "guc.h"
#include "module_init.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_trigger);
PG_FUNCTION_INFO_V1(tenant_rls_audit_guard);
PG_FUNCTION_INFO_V1(tenant_rls_updated_at_trigger);
PG_FUNCTION_INFO_V1(tenant_rls_audit_row_key);

/* tenant_rls.audit_truncate_count: count the rows a TRUNCATE removes */
static bool audit_truncate_count = false;

/* ---------------------------------------------------------------------
 * Per-relation cache
 * ---------------------------------------------------------------------
 */
typedef struct AuditCol
{
	char	   *name;			/* NULL for dropped columns */
	bool		audited;
	int16		attlen;
	bool		attbyval;
	int			layout_idx;		/* position in the payload layout, -1: not in it */
	AuditColType t;
} AuditCol;

typedef struct AuditRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	bool		invalidated;	/* an invalidation came while it was built */
	MemoryContext cxt;
	Oid			target_oid;		/* the table enable_audit() was given */
	int			natts;
	AuditCol   *cols;			/* [natts] */
	int			naudited;
	AttrNumber *audited;		/* audited attnums, in order */
	int			npk;
	AttrNumber *pk;				/* primary key attnums, 0 columns: none */
	AttrNumber	tenant_att;		/* 0: no tenant column */
	bool		tenant_missing; /* registry stale (column or table renamed):
								 * entries get no tenant */
	int			nforced;
	AttrNumber *forced;			/* key and tenant columns not audited: an
								 * UPDATE records them when they change */
	FmgrInfo	tenant_out;
	NameData	target_nsp;		/* names of target_oid, as recorded */
	NameData	target_name;
	NameData	own_nsp;		/* names of the relation itself (TRUNCATE) */
	NameData	own_name;
	bool		registered;		/* target_oid is in tenant_rls.audit_config */
	int			nancestors;
	Oid		   *ancestors;		/* inheritance parents, at every level, whose
								 * audit lists restrict this table's: an
								 * invalidation of one rebuilds it */
	uint64		layout_id;
	StringInfoData layout;		/* the payload header: audited and key columns */
	bool		layout_built;	/* layout and layout_id are of a finished build */
	/* the last tenant value seen and its text (a text column compares bytes) */
	bool		memo_valid;
	Datum		memo_datum;
	char	   *memo_text;
} AuditRel;

static HTAB *audit_rels = NULL;

/* some entry of audit_rels has inheritance ancestors (never reset) */
static bool audit_rels_inherit = false;

static void
invalidate_audit_rel(AuditRel *ar)
{
	ar->valid = false;
	ar->invalidated = true;		/* seen by a build under way */
}

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
			invalidate_audit_rel(ar);
		if (!audit_rels_inherit)
			return;

		/*
		 * an inheritance ancestor of cached tables: its enable_audit() or
		 * disable_audit() (which re-create or drop its triggers), a rename of
		 * its columns, change what they record
		 */
		hash_seq_init(&status, audit_rels);
		while ((ar = hash_seq_search(&status)) != NULL)
		{
			for (int i = 0; i < ar->nancestors; i++)
			{
				if (ar->ancestors[i] == relid)
				{
					invalidate_audit_rel(ar);
					break;
				}
			}
		}
		return;
	}
	hash_seq_init(&status, audit_rels);
	while ((ar = hash_seq_search(&status)) != NULL)
		invalidate_audit_rel(ar);
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
	CacheRegisterRelcacheCallback(audit_log_relcache_callback, (Datum) 0);
	audit_context_init();
	if (process_shared_preload_libraries_in_progress)
		audit_chain_shmem_init();
	audit_delivery_init();
	audit_maintain_init();
}

/*
 * The tenant context of the statement whose changes are recorded, as it ran
 * (audit_context.c): the tenant of a change of a table without tenant
 * column, an error for a value strict mode does not trust (as
 * tenant_context_get()) ...
 */
static const char *
statement_tenant(void)
{
	bool		trusted;
	const char *v = audit_statement_context(&trusted);

	if (v != NULL && !trusted)
		tenant_context_untrusted_error();
	return v;
}

/* ... and the batch's context_tenant: NULL for such a value, no error */
static const char *
statement_context(void)
{
	bool		trusted;
	const char *v = audit_statement_context(&trusted);

	return trusted ? v : NULL;
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

static bool
name_in_list(const char *name, List *names)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
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
	bool		tenant_registered;	/* tenant_column is the registry's */
	bool		unregistered_policies;	/* no registry row, but tenant_rls's
										 * policies: renamed, registry stale */
	bool		registered;		/* a row of tenant_rls.audit_config was found */
	List	   *unaudited;		/* (char *) names of columns an audited
								 * inheritance ancestor does not record */
} AuditConfig;

static void
read_config(Relation rel, AuditConfig *cfg, MemoryContext cxt,
			Oid *ancestors, int nancestors)
{
	List	   *candidates;
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec;
	bool		found = false;

	candidates = list_make1_oid(RelationGetRelid(rel));

	/*
	 * The partitioned tables above it, nearest first -- also across a
	 * DETACH PARTITION ... CONCURRENTLY still pending, which
	 * get_partition_ancestors() stops at: the partition still has the clone
	 * of the parent's trigger, and every write to it failed with "not
	 * audited" (review rev36c)
	 */
	if (rel->rd_rel->relispartition)
	{
		Oid			r = RelationGetRelid(rel);

		while (get_rel_relispartition(r))
		{
			r = get_partition_parent(r, true);
			if (!OidIsValid(r) || list_member_oid(candidates, r))
				break;
			candidates = lappend_oid(candidates, r);
		}
	}

	cfg->target_oid = RelationGetRelid(rel);
	cfg->columns = NULL;
	cfg->exclude = NULL;
	cfg->tenant_column = NULL;
	cfg->tenant_registered = false;
	cfg->unregistered_policies = false;
	cfg->unaudited = NIL;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the committed configuration, whatever the transaction's snapshot */
	PushActiveSnapshot(GetLatestSnapshot());

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
		/*
		 * The row naming the table, else a row with its oid whose names
		 * designate no table (renamed while the event triggers did not
		 * follow).  A row whose names designate another table is that
		 * table's, whatever its oid: restored rows carry the old database's
		 * oids (a data-only restore with --disable-triggers keeps them), and
		 * such an oid may name an unrelated table here.  Checked once, when
		 * the cache entry is built.
		 */
		if (SPI_execute_with_args("SELECT c.columns, c.exclude FROM tenant_rls.audit_config c"
								  " WHERE (c.schema_name OPERATOR(pg_catalog.=) $2 AND c.table_name OPERATOR(pg_catalog.=) $3)"
								  " OR (c.table_oid OPERATOR(pg_catalog.=) $1"
								  "     AND NOT EXISTS (SELECT FROM pg_catalog.pg_class k"
								  "                       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace"
								  "                      WHERE n.nspname OPERATOR(pg_catalog.=) c.schema_name"
								  "                        AND k.relname OPERATOR(pg_catalog.=) c.table_name))"
								  " ORDER BY (c.schema_name OPERATOR(pg_catalog.=) $2 AND c.table_name OPERATOR(pg_catalog.=) $3) DESC"
								  " LIMIT 1",
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

	/*
	 * An inheritance child audited on its own (it has triggers of its own,
	 * not clones): a column that an audited inheritance parent, at any
	 * level, does not record (in its exclude, or not in its columns) is not
	 * recorded for the child either, whatever the child's own lists say.  A
	 * MERGE, UPDATE or DELETE of the parent reaches the child's rows, and
	 * enable_audit(parent, exclude => ...) run after the child was audited
	 * left the child's lists as they were: the secret excluded from the
	 * parent was recorded for every row of the child (review rev51b).
	 * (Partitions take the lists of the partition root above; a partition
	 * has no inheritance parent but its partitioned table.)
	 */
	if (found && nancestors > 0)
	{
		Oid			argtypes[1] = {OIDARRAYOID};
		Datum		args[1];
		Datum	   *elems = palloc(sizeof(Datum) * nancestors);
		MemoryContext old;

		for (int i = 0; i < nancestors; i++)
			elems[i] = ObjectIdGetDatum(ancestors[i]);
		args[0] = PointerGetDatum(construct_array(elems, nancestors, OIDOID,
												  sizeof(Oid), true, TYPALIGN_INT));

		/* (tenant_rls._audit_unrecorded() says which, and why) */
		if (SPI_execute_with_args("SELECT u.name FROM tenant_rls._audit_unrecorded($1) u(name)",
								  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the audit configuration of the inheritance parents");
		old = MemoryContextSwitchTo(cxt);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			if (name != NULL)
				cfg->unaudited = lappend(cfg->unaudited, name);
		}
		MemoryContextSwitchTo(old);
	}

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
			{
				cfg->tenant_column = MemoryContextStrdup(cxt, v);
				cfg->tenant_registered = true;
			}
		}
		else
		{
			/*
			 * No registry row, but policies protect() made: the table was
			 * renamed while the event triggers that keep the registry did
			 * not run (review rev42b).  Its tenant column is not known by
			 * name then (tenant_rls.tenant_column may name another one).
			 */
			Oid			oidtype[1] = {OIDOID};
			Datum		oidarg[1] = {ObjectIdGetDatum(cfg->target_oid)};

			if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_policy p"
									  " WHERE p.polrelid OPERATOR(pg_catalog.=) $1"
									  " AND pg_catalog.starts_with(p.polname::pg_catalog.text, 'tenant_rls_')",
									  1, oidtype, oidarg, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read pg_policy");
			if (SPI_processed > 0)
				cfg->unregistered_policies = true;
			else if (tenant_rls_tenant_column != NULL)
				cfg->tenant_column = MemoryContextStrdup(cxt, tenant_rls_tenant_column);
		}
	}

	PopActiveSnapshot();
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	cfg->registered = found;
}

/* jsonb orders object keys by length, then bytes: the order of key images */
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

/* a new one for every (re)built relation: batches never mix two layouts */
static uint64 next_layout_id = 1;

/*
 * The table's primary key index, DEFERRABLE or not: the relcache's
 * RelationGetPrimaryKeyIndex() leaves out a deferrable one (it serves
 * replica identity and ON CONFLICT), and such a table was recorded as
 * keyless: no row_pk, no history, a change of the key not recorded at all
 * (review rev47b).
 */
static Oid
primary_key_index(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(itup))
			continue;
		if (((Form_pg_index) GETSTRUCT(itup))->indisprimary)
			result = lfirst_oid(lc);
		ReleaseSysCache(itup);
		if (OidIsValid(result))
			break;
	}
	list_free(indexes);
	return result;
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
	int			nlayout = 0;
	char	   *prev_layout = NULL;
	int			prev_len = 0;
	uint64		prev_id = 0;
	Oid			prev_target = InvalidOid;
	NameData	prev_nsp;
	NameData	prev_name;

	/*
	 * The previous build's layout: if the new one is the same (an
	 * invalidation that changed nothing audited: autovacuum's statistics, a
	 * GRANT), it keeps its id, and a statement's entries stay in one batch.
	 */
	if (ar->cxt != NULL && ar->layout_built)
	{
		prev_layout = palloc(ar->layout.len);
		memcpy(prev_layout, ar->layout.data, ar->layout.len);
		prev_len = ar->layout.len;
		prev_id = ar->layout_id;
		prev_target = ar->target_oid;
		prev_nsp = ar->target_nsp;
		prev_name = ar->target_name;
	}
	/* (the invalidation callback reads them: not those of the context deleted) */
	ar->nancestors = 0;
	ar->ancestors = NULL;
	if (ar->cxt != NULL)
		MemoryContextDelete(ar->cxt);
	ar->cxt = NULL;
	ar->layout_built = false;
	ar->valid = false;
	ar->invalidated = false;
	ar->memo_valid = false;
	/* attached at once: an error while building must not leak it */
	ar->cxt = AllocSetContextCreate(CacheMemoryContext, "tenant_rls audit relation",
									ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(ar->cxt, RelationGetRelationName(rel));

	/*
	 * The inheritance ancestors, whose lists restrict this table's, are
	 * known to the invalidation callback before read_config() takes its
	 * snapshot: an enable_audit() of one that commits while it runs SQL is
	 * then seen (ar->invalidated), as one of the table itself is.  Known
	 * only from the SQL, they were not yet when its invalidation came, and
	 * the entry kept the parent's old lists in that backend until something
	 * else invalidated it: the secret excluded meanwhile was recorded.  (A
	 * partition has no inheritance parent but its partitioned table.)
	 */
	if (!rel->rd_rel->relispartition)
	{
		List	   *ancestors;
		ListCell   *lc;
		int			i = 0;

		ancestors = tenant_relation_ancestors(RelationGetRelid(rel));
		if (ancestors != NIL)
		{
			Oid		   *a = MemoryContextAlloc(ar->cxt, sizeof(Oid) * list_length(ancestors));

			foreach(lc, ancestors)
				a[i++] = lfirst_oid(lc);
			ar->ancestors = a;
			ar->nancestors = i;
			audit_rels_inherit = true;
		}
		list_free(ancestors);
	}
	read_config(rel, &cfg, ar->cxt, ar->ancestors, ar->nancestors);
	old = MemoryContextSwitchTo(ar->cxt);

	if (cfg.columns)
		deconstruct_array(cfg.columns, TEXTOID, -1, false, TYPALIGN_INT, &inc, &incn, &ninc);
	if (cfg.exclude)
		deconstruct_array(cfg.exclude, TEXTOID, -1, false, TYPALIGN_INT, &exc, &excn, &nexc);

	ar->target_oid = cfg.target_oid;
	ar->registered = cfg.registered;
	ar->natts = desc->natts;
	ar->cols = palloc0(sizeof(AuditCol) * desc->natts);
	ar->audited = palloc0(sizeof(AttrNumber) * (desc->natts + 1));
	ar->naudited = 0;
	ar->tenant_att = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AuditCol   *c = &ar->cols[i];

		c->layout_idx = -1;
		if (att->attisdropped)
			continue;
		c->name = pstrdup(NameStr(att->attname));
		c->attlen = att->attlen;
		c->attbyval = att->attbyval;
		audit_coltype_init(&c->t, att->atttypid, att->atttypmod, ar->cxt);
		c->audited = (cfg.columns == NULL || name_in_array(c->name, inc, incn, ninc)) &&
			!(cfg.exclude != NULL && name_in_array(c->name, exc, excn, nexc)) &&
			!name_in_list(c->name, cfg.unaudited);
		if (c->audited)
			ar->audited[ar->naudited++] = att->attnum;
		if (cfg.tenant_column != NULL && strcmp(c->name, cfg.tenant_column) == 0)
		{
			Oid			outfn;
			bool		isvarlena;

			ar->tenant_att = att->attnum;
			getTypeOutputInfo(att->atttypid, &outfn, &isvarlena);
			fmgr_info_cxt(outfn, &ar->tenant_out, ar->cxt);
		}
	}

	/*
	 * The registry names a tenant column the table no longer has: renamed
	 * while the event triggers that keep the registry did not run (replica
	 * mode; review rev41a).  The session's tenant context is no stand-in: an
	 * owner changing another tenant's rows would put them in that tenant's
	 * chain, readable by it.  The changes are recorded without a tenant
	 * (readable by no tenant) until the registry names the column again.
	 */
	ar->tenant_missing = (cfg.tenant_registered && ar->tenant_att == 0) || cfg.unregistered_policies;
	if (cfg.unregistered_policies)
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("audited table \"%s\" has tenant_rls policies but no row in tenant_rls.protected_table",
						RelationGetRelationName(rel)),
				 errdetail("Its changes are recorded without a tenant, readable by no tenant."),
				 errhint("If it was renamed while the event triggers were off, rename it back, or delete its old row from tenant_rls.protected_table (lint() finding registry_stale) and run tenant_rls.protect() on it.")));
	else if (ar->tenant_missing)
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("audited table \"%s\" has no column \"%s\", its registered tenant column",
						RelationGetRelationName(rel), cfg.tenant_column),
				 errdetail("Its changes are recorded without a tenant, readable by no tenant."),
				 errhint("Rename the column back, or register its new name: tenant_rls.unprotect(tbl), then tenant_rls.protect(tbl, tenant_column => ...).")));

	ar->npk = 0;
	ar->pk = NULL;
	pkidx = primary_key_index(rel);
	if (OidIsValid(pkidx))
	{
		Relation	idx = index_open(pkidx, AccessShareLock);

		ar->npk = idx->rd_index->indnkeyatts;
		ar->pk = palloc(sizeof(AttrNumber) * ar->npk);
		for (int i = 0; i < ar->npk; i++)
			ar->pk[i] = idx->rd_index->indkey.values[i];
		index_close(idx, AccessShareLock);
		/* the key's order is its columns' names: the same in every partition */
		qsort_arg(ar->pk, ar->npk, sizeof(AttrNumber), jsonb_key_cmp, ar);
	}

	ar->forced = palloc(sizeof(AttrNumber) * (ar->npk + 1));
	ar->nforced = 0;
	for (int i = 0; i < ar->npk; i++)
		if (!ar->cols[ar->pk[i] - 1].audited)
			ar->forced[ar->nforced++] = ar->pk[i];
	if (ar->tenant_att > 0 && !ar->cols[ar->tenant_att - 1].audited)
	{
		bool		in_key = false;

		for (int i = 0; i < ar->npk; i++)
			in_key |= (ar->pk[i] == ar->tenant_att);
		if (!in_key)
			ar->forced[ar->nforced++] = ar->tenant_att;
	}

	/*
	 * the layout: audited and key columns and the tenant column (an UPDATE of
	 * either is always recorded), in table order
	 */
	for (int i = 0; i < desc->natts; i++)
	{
		AuditCol   *c = &ar->cols[i];
		bool		is_pk = false;

		for (int j = 0; j < ar->npk; j++)
			is_pk |= (ar->pk[j] == i + 1);
		if (c->name != NULL && (c->audited || is_pk || i + 1 == ar->tenant_att))
			c->layout_idx = nlayout++;
	}
	initStringInfo(&ar->layout);
	audit_put_layout_header(&ar->layout, nlayout);
	for (int i = 0; i < desc->natts; i++)
	{
		AuditCol   *c = &ar->cols[i];
		uint8		flags = c->audited ? AUDIT_CF_AUDITED : 0;

		if (c->layout_idx < 0)
			continue;
		for (int j = 0; j < ar->npk; j++)
			if (ar->pk[j] == i + 1)
				flags |= AUDIT_CF_PK;
		audit_put_layout_col(&ar->layout, c->name, &c->t, flags);
	}
	ar->layout_id = next_layout_id++;

	{
		char	   *nsp = get_namespace_name(get_rel_namespace(ar->target_oid));
		char	   *name = get_rel_name(ar->target_oid);

		namestrcpy(&ar->target_nsp, nsp ? nsp : "");
		namestrcpy(&ar->target_name, name ? name : "");
		namestrcpy(&ar->own_nsp, get_namespace_name(RelationGetNamespace(rel)));
		namestrcpy(&ar->own_name, RelationGetRelationName(rel));
	}
	if (prev_layout != NULL && prev_len == ar->layout.len &&
		memcmp(prev_layout, ar->layout.data, prev_len) == 0 &&
		prev_target == ar->target_oid &&
		strcmp(NameStr(prev_nsp), NameStr(ar->target_nsp)) == 0 &&
		strcmp(NameStr(prev_name), NameStr(ar->target_name)) == 0)
		ar->layout_id = prev_id;
	ar->layout_built = true;

	MemoryContextSwitchTo(old);
	if (prev_layout != NULL)
		pfree(prev_layout);
	/* read_config() ran SQL: an invalidation seen meanwhile means build again */
	ar->valid = !ar->invalidated;
}

static AuditRel *
lookup_audit_rel(Relation rel)
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
		ar->layout_built = false;
		ar->nancestors = 0;
		ar->ancestors = NULL;
	}
	if (!ar->valid)
		build_audit_rel(ar, rel);
	return ar;
}

/*
 * The trigger that fired is the one enable_audit() creates: AFTER INSERT OR
 * UPDATE OR DELETE FOR EACH ROW named tenant_rls_audit (BEFORE TRUNCATE FOR
 * EACH STATEMENT named tenant_rls_audit_truncate), without WHEN, column list
 * or arguments.  A table's owner can redefine it (CREATE OR REPLACE TRIGGER)
 * or add another: one that fires on fewer changes records those only, and a
 * second one records each change twice.  (One that never fires is found by
 * lint(): audit_trigger_altered.)
 */
static void
check_audit_trigger(TriggerData *td)
{
	Trigger    *tg = td->tg_trigger;
	bool		truncate = TRIGGER_FIRED_BY_TRUNCATE(td->tg_event);
	const char *name = truncate ? "tenant_rls_audit_truncate" : "tenant_rls_audit";
	int16		type = truncate
		? (TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_TRUNCATE)
		: (TRIGGER_TYPE_ROW | TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE);

	/*
	 * (Not a constraint trigger either: a deferred one fires at commit, and
	 * the entry would record the actor, role and tenant of then, not of the
	 * change: review rev21c.)
	 */
	if (strcmp(tg->tgname, name) != 0 || tg->tgtype != type || tg->tgqual != NULL ||
		tg->tgnattr != 0 || tg->tgnargs != 0 || OidIsValid(tg->tgconstraint) ||
		tg->tgdeferrable || tg->tginitdeferred)
	{
		char	   *qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(td->tg_relation)),
														  RelationGetRelationName(td->tg_relation));

		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table %s is not the audit trigger tenant_rls.enable_audit() creates",
						tg->tgname, qualname),
				 errdetail("The audit trigger must be %s named %s, without WHEN, column list or arguments, and not a constraint trigger: another definition records only some changes, some twice, or with the context of the commit.",
						   truncate ? "BEFORE TRUNCATE FOR EACH STATEMENT" : "AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW",
						   name),
				 strcmp(tg->tgname, name) != 0
				 ? errhint("Drop trigger \"%s\" (DROP TRIGGER %s ON %s), then run tenant_rls.enable_audit() on the table if its audit trigger is missing.",
						   tg->tgname, quote_identifier(tg->tgname), qualname)
				 : errhint("Run tenant_rls.enable_audit() on the table (its columns and exclude as in tenant_rls.audit_config) to recreate the trigger.")));
	}
}

static AuditRel *
get_audit_rel(Relation rel)
{
	AuditRel   *ar = lookup_audit_rel(rel);

	if (!ar->registered || rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table %s is not audited by tenant_rls",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel))),
				 errdetail("tenant_rls.audit_trigger() writes entries only for tables registered by tenant_rls.enable_audit()."),
				 errhint("Drop this trigger and use tenant_rls.enable_audit() to audit the table.")));
	return ar;
}

/* same value?  Unchanged TOASTed values keep their pointer: no detoasting then. */
static bool
same_value(AuditCol *c, Datum a, bool anull, Datum b, bool bnull)
{
	if (anull || bnull)
		return anull == bnull;
	if (c->attlen == -1)
	{
		struct varlena *pa = (struct varlena *) DatumGetPointer(a);
		struct varlena *pb = (struct varlena *) DatumGetPointer(b);

		if (VARATT_IS_EXTERNAL_ONDISK(pa) && VARATT_IS_EXTERNAL_ONDISK(pb) &&
			VARSIZE_EXTERNAL(pa) == VARSIZE_EXTERNAL(pb) &&
			memcmp(pa, pb, VARSIZE_EXTERNAL(pa)) == 0)
			return true;
	}
	return datum_image_eq(a, b, c->attbyval, c->attlen);
}

/* ---------------------------------------------------------------------
 * Encoding a change
 * ---------------------------------------------------------------------
 */

/* reused from row to row (TopMemoryContext) */
static StringInfoData entry_buf;
static StringInfoData key_buf;
static bool bufs_ready = false;

static void
reset_bufs(void)
{
	if (!bufs_ready)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		initStringInfo(&entry_buf);
		initStringInfo(&key_buf);
		MemoryContextSwitchTo(old);
		bufs_ready = true;
	}
	/* a huge row once must not keep its buffer for the life of the backend */
	if (entry_buf.maxlen > 1024 * 1024)
	{
		pfree(entry_buf.data);
		entry_buf.data = MemoryContextAlloc(TopMemoryContext, 1024);
		entry_buf.maxlen = 1024;
	}
	resetStringInfo(&entry_buf);
	resetStringInfo(&key_buf);
}

static void
put_image(StringInfo buf, AuditRel *ar, const AttrNumber *atts, int n,
		  Datum *values, bool *nulls)
{
	audit_put_u16(buf, (uint16) n);
	for (int i = 0; i < n; i++)
	{
		AuditCol   *c = &ar->cols[atts[i] - 1];

		audit_put_u16(buf, (uint16) c->layout_idx);
		audit_put_value(buf, &c->t, values[atts[i] - 1], nulls[atts[i] - 1]);
	}
}

/*
 * The history key of a row: a one-column integer primary key itself, else a
 * hash of its primary key values, encoded as in the payload (integers of
 * every width as bigint), in the key's column-name order.  The same in every
 * partition and whatever the column order.
 */
static int64
row_key(StringInfo buf, AuditRel *ar, Datum *values, bool *nulls)
{
	/* a one-column integer key is its own history key: it keeps its order */
	if (ar->npk == 1 && !nulls[ar->pk[0] - 1])
	{
		Datum		v = values[ar->pk[0] - 1];

		switch (ar->cols[ar->pk[0] - 1].t.typoid)
		{
			case INT2OID:
				return (int64) DatumGetInt16(v);
			case INT4OID:
				return (int64) DatumGetInt32(v);
			case INT8OID:
				return DatumGetInt64(v);
			default:
				break;
		}
	}
	resetStringInfo(buf);
	for (int i = 0; i < ar->npk; i++)
	{
		int			k = ar->pk[i] - 1;
		Oid			typoid = ar->cols[k].t.typoid;

		/*
		 * smallint and integer as bigint: a key column widened (ALTER COLUMN
		 * id TYPE bigint) keeps the history key of its rows, and
		 * audit_history() finds their older entries (review rev24a)
		 */
		if (!nulls[k] && (typoid == INT2OID || typoid == INT4OID))
		{
			audit_put_u8(buf, 1);
			audit_put_i64(buf, typoid == INT2OID ? (int64) DatumGetInt16(values[k])
						  : (int64) DatumGetInt32(values[k]));
		}
		else
			audit_put_value(buf, &ar->cols[k].t, values[k], nulls[k]);
	}
	return (int64) hash_bytes_extended((const unsigned char *) buf->data, buf->len, 0);
}

/* the text of the row's tenant value; NULL if it is NULL */
static const char *
row_tenant(AuditRel *ar, Datum v, bool isnull)
{
	AuditCol   *c;
	MemoryContext old;

	if (isnull)
		return NULL;
	c = &ar->cols[ar->tenant_att - 1];
	if (ar->memo_valid && datum_image_eq(ar->memo_datum, v, c->attbyval, c->attlen))
		return ar->memo_text;
	if (ar->memo_valid)
	{
		if (!c->attbyval)
			pfree(DatumGetPointer(ar->memo_datum));
		pfree(ar->memo_text);
		ar->memo_valid = false;
	}
	old = MemoryContextSwitchTo(ar->cxt);
	ar->memo_text = OutputFunctionCall(&ar->tenant_out, v);
	if (c->attlen == -1)
		ar->memo_datum = PointerGetDatum(PG_DETOAST_DATUM_COPY(v));
	else
		ar->memo_datum = datumCopy(v, c->attbyval, c->attlen);
	ar->memo_valid = true;
	MemoryContextSwitchTo(old);
	return ar->memo_text;
}

static void
audit_target(AuditRel *ar, AuditTarget *t)
{
	t->table_oid = ar->target_oid;
	t->schema_name = &ar->target_nsp;
	t->table_name = &ar->target_name;
	t->layout_id = ar->layout_id;
	t->layout = ar->layout.data;
	t->layout_len = ar->layout.len;
}

/* ---------------------------------------------------------------------
 * The capture trigger
 * ---------------------------------------------------------------------
 */
/*
 * TRUNCATE of a partitioned table fires the BEFORE TRUNCATE triggers of the
 * tables named, then of the partitions it reaches (which have the trigger of
 * their own: audit_sync_truncate_triggers(), 40_audit.sql).  One entry per
 * table named: a partition whose ancestor this statement recorded is skipped.
 * The relations recorded, per statement: the transaction and the
 * statement's id (audit_context.c), or, where that is not known, its command
 * id, which a user's BEFORE TRUNCATE trigger that writes moves on: every
 * partition was then recorded again (review rev47b).  The list, of every
 * statement of the transaction (a TRUNCATE run by a trigger of another one
 * reset it, and the outer one's partitions were recorded again: review
 * rev47e), lives in TopTransactionContext; a new transaction starts it anew.
 */
typedef struct TruncatedRel
{
	uint64		stmt;
	Oid			relid;
} TruncatedRel;

static LocalTransactionId truncated_lxid = InvalidLocalTransactionId;
static uint64 truncated_stmt = 0;
static List *truncated_rels = NIL;	/* TruncatedRel *, of every statement */

static bool
truncate_recorded_above(Relation rel)
{
	/*
	 * The entry counts as a write of this command, so the next statement of
	 * the transaction gets another command id whatever else this one does
	 * (a TRUNCATE marks it itself in the cases tested; this does not rely on
	 * it).
	 */
	CommandId	cid = GetCurrentCommandId(true);
	uint64		stmt = audit_utility_statement_id();
	ListCell   *lc;

	if (stmt == 0)
		stmt = (UINT64CONST(1) << 63) | cid;
	if (truncated_lxid != MyProc->lxid)
	{
		/* the old list went with its transaction */
		truncated_rels = NIL;
		truncated_lxid = MyProc->lxid;
	}
	/*
	 * (the relations of every statement of the transaction: a TRUNCATE that
	 * a trigger of this one runs must not make this one forget its own)
	 */
	truncated_stmt = stmt;
	if (!rel->rd_rel->relispartition)
		return false;
	foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
	{
		ListCell   *lc2;

		foreach(lc2, truncated_rels)
		{
			TruncatedRel *tr = lfirst(lc2);

			if (tr->stmt == stmt && tr->relid == lfirst_oid(lc))
				return true;
		}
	}
	return false;
}

/*
 * The rows a TRUNCATE of rel removes through heaps, counted with a heap scan
 * under the active snapshot: the table's own (an inheritance child has its
 * own trigger and entry; TRUNCATE ONLY leaves it alone), a partitioned
 * table's those of its leaf partitions.  Foreign tables are not scanned.
 */
static int64
truncate_row_count(Relation rel)
{
	List	   *rels = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
		find_all_inheritors(RelationGetRelid(rel), AccessShareLock, NULL) :
		list_make1_oid(RelationGetRelid(rel));
	ListCell   *lc;
	int64		count = 0;

	/* TRUNCATE holds its lock now: what it removes is what is committed now */
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());

	foreach(lc, rels)
	{
		Relation	r = table_open(lfirst_oid(lc), NoLock);

		if (r->rd_rel->relkind == RELKIND_RELATION || r->rd_rel->relkind == RELKIND_MATVIEW)
		{
			TupleTableSlot *slot = table_slot_create(r, NULL);
			TableScanDesc scan = table_beginscan(r, snapshot, 0, NULL);

			while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
			{
				CHECK_FOR_INTERRUPTS();
				count++;
			}
			table_endscan(scan);
			ExecDropSingleTupleTableSlot(slot);
		}
		table_close(r, NoLock);
	}
	UnregisterSnapshot(snapshot);
	return count;
}

static void
audit_truncate(TriggerData *td)
{
	Relation	rel = td->tg_relation;
	AuditRel   *ar = get_audit_rel(rel);
	AuditTarget target;
	uint8		flags = 0;
	int64		count = 0;
	MemoryContext old;

	check_audit_trigger(td);

	if (truncate_recorded_above(rel))
		return;

	if (audit_truncate_count && TRIGGER_FIRED_BEFORE(td->tg_event))
	{
		/*
		 * Every tenant's rows, read directly from the heaps: no query is
		 * planned (planning would run code of the owner through handles
		 * cached before any guard) and nothing runs with other rights than
		 * the caller's.  Foreign tables are not counted: scanning one runs
		 * its FDW with the user mapping of whoever scans (a superuser's, for
		 * the planned count this replaces).
		 */
		count = truncate_row_count(rel);
		flags |= AUDIT_EF_ROW_COUNT;
	}

	reset_bufs();
	audit_put_u8(&entry_buf, AUDIT_OP_TRUNCATE);
	audit_put_u8(&entry_buf, flags);
	audit_put_i64(&entry_buf, GetCurrentStatementStartTimestamp());
	if (flags & AUDIT_EF_ROW_COUNT)
		audit_put_i64(&entry_buf, count);
	/* the batch names the table truncated (a partition: the partition) */
	audit_target(ar, &target);
	target.table_oid = RelationGetRelid(rel);
	target.schema_name = &ar->own_nsp;
	target.table_name = &ar->own_name;
	audit_append_entry(statement_tenant(), statement_context(), &target, entry_buf.data, entry_buf.len, 0, NULL,
					   GetCurrentCommandId(false));

	old = MemoryContextSwitchTo(TopTransactionContext);
	{
		TruncatedRel *tr = palloc(sizeof(TruncatedRel));

		tr->stmt = truncated_stmt;
		tr->relid = RelationGetRelid(rel);
		truncated_rels = lappend(truncated_rels, tr);
	}
	MemoryContextSwitchTo(old);
}

/* deformed rows of the trigger, reused from row to row */
static Datum *row_values[2];
static bool *row_nulls[2];
static int	row_natts = 0;

static void
deform(HeapTuple tup, TupleDesc desc, int which)
{
	if (desc->natts > row_natts)
	{
		for (int i = 0; i < 2; i++)
		{
			if (row_values[i])
			{
				pfree(row_values[i]);
				pfree(row_nulls[i]);
			}
			row_values[i] = MemoryContextAlloc(TopMemoryContext, sizeof(Datum) * desc->natts);
			row_nulls[i] = MemoryContextAlloc(TopMemoryContext, sizeof(bool) * desc->natts);
		}
		row_natts = desc->natts;
	}
	heap_deform_tuple(tup, desc, row_values[which], row_nulls[which]);
}

/*
 * The command that made a row trigger's change: the new version's cmin
 * (INSERT, UPDATE), the deleted version's cmax (DELETE), read from the
 * tuple's header, which an AFTER trigger on a heap table gets as stored
 * (fetched again by its ctid into a buffer slot).  Where the tuple is not a
 * stored heap tuple (a foreign table's row, another table access method's)
 * or not this transaction's, or the command is not known (COPY FREEZE:
 * frozen): the command of the statement whose AFTER triggers fire now, the
 * curcid of its snapshot, which is active while they fire (the portal's,
 * SPI's).  Not the current command: the statement's triggers have moved it
 * on, and a row written by a multi-row COPY FREEZE was recorded after the
 * changes a trigger of a later row made to it (review rev42c).
 */
static CommandId
statement_cid(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot()->curcid : GetCurrentCommandId(false);
}

static CommandId
change_cid(TriggerData *td, HeapTuple oldtup, HeapTuple newtup)
{
	HeapTupleHeader h;
	TupleTableSlot *slot = newtup != NULL && oldtup != NULL ? td->tg_newslot : td->tg_trigslot;

	if (slot == NULL || slot->tts_ops != &TTSOpsBufferHeapTuple)
		return statement_cid();
	if (newtup != NULL)
	{
		h = newtup->t_data;
		if (h != NULL && !HeapTupleHeaderXminFrozen(h) && !(h->t_infomask & HEAP_MOVED) &&
			TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(h)))
			return HeapTupleHeaderGetCmin(h);
	}
	else if (oldtup != NULL)
	{
		h = oldtup->t_data;
		if (h != NULL && !(h->t_infomask & (HEAP_XMAX_INVALID | HEAP_MOVED)) &&
			!HEAP_XMAX_IS_LOCKED_ONLY(h->t_infomask) &&
			TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetUpdateXid(h)))
			return HeapTupleHeaderGetCmax(h);
	}
	return statement_cid();
}

Datum
tenant_rls_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	Relation	rel;
	TupleDesc	desc;
	AuditRel   *ar;
	AuditTarget target;
	Datum	   *ov = NULL,
			   *nv = NULL;
	bool	   *on = NULL,
			   *nn = NULL;
	HeapTuple	oldtup = NULL,
				newtup = NULL;
	uint8		op;
	uint8		flags = 0;
	int64		keys[2];
	int			nkeys = 0;
	bool		tenant_moved = false;
	const char *tenant;
	const char *context;
	CommandId	cid;
	AttrNumber	changed[MaxTupleAttributeNumber];
	int			nchanged = 0;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.audit_trigger() must be called as a trigger"),
				 errhint("Attach it with tenant_rls.enable_audit(table).")));
	td = (TriggerData *) fcinfo->context;
	if (audit_converting)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot audit a change made while the audit trigger converts a value to json"),
				 errdetail("A cast to json of an audited column's type changed table %s, which is audited.",
						   RelationGetRelationName(td->tg_relation)),
				 errhint("Make the cast free of writes to audited tables, or leave the column out of the audit (tenant_rls.enable_audit(..., exclude => ...)).")));

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
	check_audit_trigger(td);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		op = AUDIT_OP_INSERT;
		newtup = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		op = AUDIT_OP_UPDATE;
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
	{
		op = AUDIT_OP_DELETE;
		oldtup = td->tg_trigtuple;
	}

	if (oldtup)
	{
		deform(oldtup, desc, 0);
		ov = row_values[0];
		on = row_nulls[0];
	}
	if (newtup)
	{
		deform(newtup, desc, 1);
		nv = row_values[1];
		nn = row_nulls[1];
	}

	if (oldtup && newtup)
	{
		/*
		 * UPDATE: only the audited columns that changed, and the key columns
		 * if the key changed and the tenant column if the tenant did, audited
		 * or not (the entry's key is the old one: the new one is in the new
		 * image; a row moved to another tenant is in both chains, below);
		 * nothing if none did.
		 */
		for (int i = 0; i < ar->naudited; i++)
		{
			int			k = ar->audited[i] - 1;

			if (!same_value(&ar->cols[k], ov[k], on[k], nv[k], nn[k]))
				changed[nchanged++] = ar->audited[i];
		}
		for (int i = 0; i < ar->nforced; i++)
		{
			int			k = ar->forced[i] - 1;

			if (!same_value(&ar->cols[k], ov[k], on[k], nv[k], nn[k]))
				changed[nchanged++] = ar->forced[i];
		}
		if (ar->tenant_att > 0)
		{
			int			k = ar->tenant_att - 1;

			tenant_moved = !same_value(&ar->cols[k], ov[k], on[k], nv[k], nn[k]);
		}
		if (nchanged == 0)
			return PointerGetDatum(NULL);
		flags = AUDIT_EF_OLD | AUDIT_EF_NEW;
	}
	else
		flags = newtup ? AUDIT_EF_NEW : AUDIT_EF_OLD;
	if (ar->npk > 0)
		flags |= AUDIT_EF_KEY;

	reset_bufs();
	audit_put_u8(&entry_buf, op);
	audit_put_u8(&entry_buf, flags);
	audit_put_i64(&entry_buf, GetCurrentStatementStartTimestamp());
	if (ar->npk > 0)
	{
		Datum	   *kv = oldtup ? ov : nv;
		bool	   *kn = oldtup ? on : nn;

		put_image(&entry_buf, ar, ar->pk, ar->npk, kv, kn);
		keys[nkeys++] = row_key(&key_buf, ar, kv, kn);
		/* a new primary key: the row's history goes on under both keys */
		if (oldtup && newtup)
		{
			keys[nkeys] = row_key(&key_buf, ar, nv, nn);
			if (keys[nkeys] != keys[0])
				nkeys++;
		}
	}
	if (oldtup && newtup)
	{
		/* without a primary key the full old image identifies the row */
		if (ar->npk > 0)
			put_image(&entry_buf, ar, changed, nchanged, ov, on);
		else
			put_image(&entry_buf, ar, ar->audited, ar->naudited, ov, on);
		put_image(&entry_buf, ar, changed, nchanged, nv, nn);
	}
	else if (newtup)
		put_image(&entry_buf, ar, ar->audited, ar->naudited, nv, nn);
	else
		put_image(&entry_buf, ar, ar->audited, ar->naudited, ov, on);

	if (ar->tenant_att > 0)
	{
		int			k = ar->tenant_att - 1;

		tenant = oldtup ? row_tenant(ar, ov[k], on[k]) : row_tenant(ar, nv[k], nn[k]);
	}
	else if (ar->tenant_missing)
		tenant = NULL;
	else
		tenant = statement_tenant();

	audit_target(ar, &target);
	context = statement_context();
	cid = change_cid(td, oldtup, newtup);
	audit_append_entry(tenant, context, &target, entry_buf.data, entry_buf.len, nkeys, keys, cid);

	/*
	 * An UPDATE that moves the row to another tenant is in the new tenant's
	 * chain too: each tenant's log shows the row leaving or arriving.
	 */
	if (tenant_moved)
	{
		int			k = ar->tenant_att - 1;
		char	   *from = tenant ? pstrdup(tenant) : NULL;
		const char *to = row_tenant(ar, nv[k], nn[k]);

		/* (another image of the same text, a char(n)'s padding: the same tenant) */
		if ((from == NULL) != (to == NULL) || (from != NULL && strcmp(from, to) != 0))
			audit_append_entry(to, context, &target, entry_buf.data, entry_buf.len, nkeys, keys, cid);
	}
	return PointerGetDatum(NULL);
}

/*
 * tenant_rls.audit_row_key(tbl regclass, pk jsonb): the history key of the
 * row of tbl whose primary key is pk (an object of the key's columns), as the
 * trigger computes it; NULL if tbl has no primary key, or pk lacks a column
 * or gives one as null (no row has that key).
 */
Datum
tenant_rls_audit_row_key(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Jsonb	   *pk = PG_GETARG_JSONB_P(1);
	Relation	rel;
	AuditRel   *ar;
	Datum	   *values;
	bool	   *nulls;
	int64		key;
	StringInfoData buf;

	/*
	 * Not from a cast to json that the trigger runs while it builds an
	 * entry: the relation's cache it rebuilds is the one the trigger reads.
	 */
	if (audit_converting)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot compute an audit row key while the audit trigger converts a value to json"),
				 errdetail("A cast to json of an audited column's type called tenant_rls.audit_row_key()."),
				 errhint("Make the cast free of calls to tenant_rls functions, or leave the column out of the audit (tenant_rls.enable_audit(..., exclude => ...)).")));
	if (!JB_ROOT_IS_OBJECT(pk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the primary key must be a jsonb object"),
				 errhint("Pass the key as an object of its columns, e.g. '{\"id\": 42}'.")));
	/* no lock on a table the caller may not read (and no error: no entries) */
	{
		bool		is_missing = false;

		if (pg_class_aclcheck_ext(relid, GetUserId(), ACL_SELECT, &is_missing) != ACLCHECK_OK)
			PG_RETURN_NULL();
	}
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		PG_RETURN_NULL();
	ar = lookup_audit_rel(rel);
	if (ar->npk == 0)
	{
		relation_close(rel, AccessShareLock);
		PG_RETURN_NULL();
	}
	values = palloc0(sizeof(Datum) * ar->natts);
	nulls = palloc0(sizeof(bool) * ar->natts);
	for (int i = 0; i < ar->npk; i++)
	{
		int			k = ar->pk[i] - 1;
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), k);
		JsonbValue *jv = getKeyJsonValueFromContainer(&pk->root, ar->cols[k].name,
													  strlen(ar->cols[k].name), NULL);
		char	   *s;
		Oid			infn,
					ioparam;

		if (jv == NULL)
		{
			relation_close(rel, AccessShareLock);
			PG_RETURN_NULL();
		}
		/* (a key column is NOT NULL: no row has that key) */
		if (jv->type == jbvNull)
		{
			relation_close(rel, AccessShareLock);
			PG_RETURN_NULL();
		}
		if (jv->type == jbvString)
			s = pnstrdup(jv->val.string.val, jv->val.string.len);
		else if (jv->type == jbvNumeric)
			s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(jv->val.numeric)));
		else if (jv->type == jbvBool)
			s = jv->val.boolean ? "true" : "false";
		else
		{
			relation_close(rel, AccessShareLock);
			PG_RETURN_NULL();
		}
		getTypeInputInfo(att->atttypid, &infn, &ioparam);
		values[k] = OidInputFunctionCall(infn, s, ioparam, att->atttypmod);
	}
	/* (a buffer of its own: not the trigger's) */
	initStringInfo(&buf);
	key = row_key(&buf, ar, values, nulls);
	relation_close(rel, AccessShareLock);
	PG_RETURN_INT64(key);
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
				 errmsg("tenant_rls.audit_guard() must be called as a trigger"),
				 errhint("It guards the audit log's own tables; nothing else calls it.")));
	td = (TriggerData *) fcinfo->context;

	/* anybody may attach it to a table of their own: it is for ours only */
	if (RelationGetNamespace(td->tg_relation) != get_namespace_oid(TENANT_RLS_SCHEMA, true))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tenant_rls.audit_guard() guards only the audit tables of tenant_rls"),
				 errhint("Drop this trigger from table \"%s\".", RelationGetRelationName(td->tg_relation))));

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

/*
 * The table whose trigger the trigger trigoid on relid is, or descends from:
 * a partition's trigger may be a clone of its parent's, which only the
 * parent's can change (enable_updated_at() on the partition is refused).
 * The SQL functions ask tenant_rls._trigger_origin() (40_audit.sql).
 */
Oid
audit_trigger_origin(Oid trigoid, Oid relid)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);

	while (OidIsValid(trigoid))
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(trigoid));
		scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
		tup = systable_getnext(scan);
		trigoid = InvalidOid;
		if (HeapTupleIsValid(tup))
		{
			relid = ((Form_pg_trigger) GETSTRUCT(tup))->tgrelid;
			trigoid = ((Form_pg_trigger) GETSTRUCT(tup))->tgparentid;
		}
		systable_endscan(scan);
	}
	table_close(tgrel, AccessShareLock);
	return relid;
}

/*
 * The column named by the trigger is missing or no timestamp.  With the
 * trigger enable_updated_at() attaches, DDL does not lead here while the
 * event triggers run: a RENAME COLUMN gives the trigger the new name
 * (event_trigger.c), and PostgreSQL refuses DROP COLUMN and ALTER COLUMN ...
 * TYPE of the column, on which the trigger depends (40_audit.sql).  A
 * rename while they did not run does (the argument keeps the old name, which
 * a later rename may even give to another column), and so may a trigger
 * attached by hand.
 */
static void updated_at_column_error(TriggerData *td, int sqlstate, const char *problem) pg_attribute_noreturn();

static void
updated_at_column_error(TriggerData *td, int sqlstate, const char *problem)
{
	Oid			owner = audit_trigger_origin(td->tg_trigger->tgoid,
												 RelationGetRelid(td->tg_relation));
	char	   *relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(td->tg_relation)),
													 RelationGetRelationName(td->tg_relation));
	char	   *ownername = quote_literal_cstr(quote_qualified_identifier(get_namespace_name(get_rel_namespace(owner)),
																		  get_rel_name(owner)));

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("column \"%s\" of table %s, maintained by trigger \"%s\", %s",
					td->tg_trigger->tgargs[0], relname, td->tg_trigger->tgname, problem),
			 errdetail("The trigger names the column it sets to now(): a column was renamed while tenant_rls's "
					   "event triggers did not run, or the trigger was not attached by tenant_rls.enable_updated_at()."),
			 errhint("Run tenant_rls.enable_updated_at(%s, column) with the timestamp column to maintain, "
					 "or tenant_rls.disable_updated_at(%s).", ownername, ownername)));
}

Datum
tenant_rls_updated_at_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	TupleDesc	desc;
	int			attnum;
	Oid			typid;
	int32		typmod;
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
		updated_at_column_error(td, ERRCODE_UNDEFINED_COLUMN, "does not exist");
	typmod = TupleDescAttr(desc, attnum - 1)->atttypmod;
	typid = getBaseTypeAndTypmod(TupleDescAttr(desc, attnum - 1)->atttypid, &typmod);
	if (typid == TIMESTAMPTZOID)
		value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	else if (typid == TIMESTAMPOID)
		value = DirectFunctionCall1(timestamptz_timestamp,
									TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	else
		updated_at_column_error(td, ERRCODE_DATATYPE_MISMATCH, "is not a timestamptz or timestamp");
	/* rounded to the column's precision, as an INSERT stores it: timestamptz(0) */
	if (typmod >= 0)
		value = DirectFunctionCall2(typid == TIMESTAMPTZOID ? timestamptz_scale : timestamp_scale,
									value, Int32GetDatum(typmod));
	/* a domain's constraints hold (the column's type changed since enable_updated_at()) */
	if (TupleDescAttr(desc, attnum - 1)->atttypid != typid)
		domain_check(value, false, TupleDescAttr(desc, attnum - 1)->atttypid, NULL, NULL);

	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_newtuple, desc, 1, &attnum, &value, &isnull));
}

/*
 * The rows CREATE TABLE AS or SELECT INTO wrote into the table it created,
 * which the ddl_command_end event trigger has just protected and audited:
 * they were written before the table had its audit trigger (review rev46c:
 * the log of such a table began with an UPDATE of a row it never saw
 * inserted).  Each is recorded as the INSERT the trigger would have
 * recorded, by calling it as PostgreSQL would, with the table's owner (the
 * role that created it) as the current user.  Nothing when the table has
 * no audit trigger that fires in this session.
 */
bool		audit_recording_created_rows = false;

void
audit_record_created_rows(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TriggerDesc *trigdesc;
	Trigger    *tg = NULL;
	Snapshot	snap;
	TupleTableSlot *slot;
	TableScanDesc scan;
	MemoryContext rowcxt;
	MemoryContext old;
	Oid			save_user;
	int			save_sec;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc == NULL)
	{
		table_close(rel, AccessShareLock);
		return;
	}
	/*
	 * A copy, as the executor keeps one (ResultRelInfo): code of the user's
	 * that the trigger runs (a cast to json of a column's type) may change
	 * the table's triggers, and the relcache entry's trigdesc is then
	 * rebuilt and the old one freed (review rev46g: a crash).
	 */
	trigdesc = CopyTriggerDesc(rel->trigdesc);
	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];
		bool		fires = t->tgenabled == TRIGGER_FIRES_ALWAYS ||
			(SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA
			 ? t->tgenabled == TRIGGER_FIRES_ON_REPLICA
			 : t->tgenabled == TRIGGER_FIRES_ON_ORIGIN);

		if (fires && strcmp(t->tgname, "tenant_rls_audit") == 0 &&
			TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_INSERT(t->tgtype))
			tg = t;
	}
	if (tg == NULL)
	{
		FreeTriggerDesc(trigdesc);
		table_close(rel, AccessShareLock);
		return;
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snap, 0, NULL);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "tenant_rls created rows", ALLOCSET_DEFAULT_SIZES);
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	audit_recording_created_rows = true;
	PG_TRY();
	{
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			TriggerData td;
			bool		should_free;
			LOCAL_FCINFO(fcinfo, 0);

			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(rowcxt);
			memset(&td, 0, sizeof(td));
			td.type = T_TriggerData;
			td.tg_event = TRIGGER_EVENT_INSERT | TRIGGER_EVENT_ROW | TRIGGER_EVENT_AFTER;
			td.tg_relation = rel;
			td.tg_trigtuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
			td.tg_trigslot = slot;
			td.tg_trigger = tg;
			InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, (Node *) &td, NULL);
			(void) tenant_rls_audit_trigger(fcinfo);
			if (should_free)
				heap_freetuple(td.tg_trigtuple);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
	}
	PG_FINALLY();
	{
		audit_recording_created_rows = false;
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	FreeTriggerDesc(trigdesc);
	MemoryContextDelete(rowcxt);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	table_close(rel, NoLock);
}
