/*
 * policy.c -- protect(), unprotect(), mark_global() and the controlled
 * exceptions (admin role, global rows, cross-tenant grants).
 *
 * protect() turns a table into a tenant table:
 *   ALTER TABLE ONLY t ALTER COLUMN c SET DEFAULT <require>()    (if none;
 *     require_tenant*(): the current tenant, or "no tenant context")
 *   ALTER TABLE ONLY t ENABLE / FORCE ROW LEVEL SECURITY         (if not yet)
 *   per command (select, insert, update, delete) a restrictive
 *   tenant_rls_guard_<cmd> with the expression
 *     c = accessor() OR exception_allows*(t, c, 'read' / 'write')
 *   (read also: OR c IS NULL for global rows), and a permissive
 *   tenant_rls_isolation_<cmd> USING (true) (see add_all_policies()).  Being
 *   restrictive, the guard keeps a permissive policy someone adds later from
 *   widening it.
 *   ALTER TABLE ONLY t ALTER COLUMN c SET NOT NULL               (if safe)
 * for the table and every partition / inheritance child, then records each in
 * the registry (tenant_rls.protected_table) with what it changed, so that
 * unprotect() reverses exactly that.
 *
 * Performance: the column is compared uncast to the accessor of its own type,
 * so the tenant index is used (also in generic plans).  The exceptions (admin
 * role, cross-tenant grants) are one call that the planner replaces by the
 * terms the session can use, usually none, and the isolation policy's true
 * vanishes, so the common plan is the same as with a hand-written
 * WHERE c = $1 (tenant_rls_exception_support, at the end of this file).
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "audit.h"
#include "context.h"
#include "event_trigger.h"
#include "guc.h"
#include "owner_code.h"
#include "policy.h"

PG_FUNCTION_INFO_V1(tenant_rls_protect);
PG_FUNCTION_INFO_V1(tenant_rls_unprotect);
PG_FUNCTION_INFO_V1(tenant_rls_protect_refusal);
PG_FUNCTION_INFO_V1(tenant_rls_set_tenant_not_null);
PG_FUNCTION_INFO_V1(tenant_rls_mark_global);
PG_FUNCTION_INFO_V1(tenant_rls_unmark_global);
PG_FUNCTION_INFO_V1(tenant_rls_allow_global_rows);
PG_FUNCTION_INFO_V1(tenant_rls_grant_access);
PG_FUNCTION_INFO_V1(tenant_rls_revoke_access);
PG_FUNCTION_INFO_V1(tenant_rls_grants_changed);
PG_FUNCTION_INFO_V1(tenant_rls_is_admin);
PG_FUNCTION_INFO_V1(tenant_rls_granted_tenants);
PG_FUNCTION_INFO_V1(tenant_rls_exception_allows);
PG_FUNCTION_INFO_V1(tenant_rls_exception_support);

/* managed policy names (all start with POLICY_NAME_PREFIX) */
#define POL_ISO_SELECT		"tenant_rls_isolation_select"
#define POL_ISO_INSERT		"tenant_rls_isolation_insert"
#define POL_ISO_UPDATE		"tenant_rls_isolation_update"
#define POL_ISO_DELETE		"tenant_rls_isolation_delete"
#define POL_GUARD_SELECT	"tenant_rls_guard_select"
#define POL_GUARD_INSERT	"tenant_rls_guard_insert"
#define POL_GUARD_UPDATE	"tenant_rls_guard_update"
#define POL_GUARD_DELETE	"tenant_rls_guard_delete"

static bool policy_ddl_active = false;

bool
tenant_policy_ddl_active(void)
{
	return policy_ddl_active;
}

/* ---------------------------------------------------------------------
 * Column types: which accessor matches which tenant column.
 * ---------------------------------------------------------------------
 */
typedef struct ColType
{
	const char *tenant_type;	/* registry tenant_type */
	const char *accessor;		/* tenant_rls.<accessor>() */
	const char *granted;		/* tenant_rls.<granted>(regclass, text) */
	const char *exception;		/* tenant_rls.<exception>(regclass, <type>, text) */
	TenantType	ttype;
	const char *require;		/* tenant_rls.<require>(): the column default */
} ColType;

static const ColType coltype_uuid = {"uuid", "current_tenant_uuid", "granted_tenants_uuid", "exception_allows_uuid", TENANT_TYPE_UUID, "require_tenant_uuid"};
static const ColType coltype_bigint = {"bigint", "current_tenant_bigint", "granted_tenants_bigint", "exception_allows_bigint", TENANT_TYPE_BIGINT, "require_tenant_bigint"};
static const ColType coltype_int = {"integer", "current_tenant_int", "granted_tenants_int", "exception_allows_int", TENANT_TYPE_INTEGER, "require_tenant_int"};
static const ColType coltype_text = {"text", "current_tenant", "granted_tenants", "exception_allows", TENANT_TYPE_TEXT, "require_tenant"};

static const ColType *
coltype_for(Oid typid)
{
	switch (getBaseType(typid))
	{
		case UUIDOID:
			return &coltype_uuid;
		case INT8OID:
			return &coltype_bigint;
		case INT4OID:
			return &coltype_int;
		case TEXTOID:
		case VARCHAROID:
			return &coltype_text;
		default:
			return NULL;
	}
}

/* Is name that of an accessor the policies call (planner_prune.c asks)? */
bool
tenant_policy_accessor_name(const char *name)
{
	static const ColType *const all[] = {&coltype_uuid, &coltype_bigint, &coltype_int, &coltype_text};

	for (int i = 0; i < lengthof(all); i++)
		if (strcmp(all[i]->accessor, name) == 0)
			return true;
	return false;
}

static const ColType *
coltype_by_name(const char *name)
{
	if (strcmp(name, "uuid") == 0)
		return &coltype_uuid;
	if (strcmp(name, "bigint") == 0)
		return &coltype_bigint;
	if (strcmp(name, "integer") == 0)
		return &coltype_int;
	return &coltype_text;
}

/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

/* quoted schema.table of a relation (policy.h) */
char *
tenant_rel_qualname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* 'schema.table'::regclass as a literal for generated SQL */
static char *
regclass_literal(Oid relid)
{
	return psprintf("%s::regclass", quote_literal_cstr(tenant_rel_qualname(relid)));
}

/*
 * protect(), unprotect(), mark_global(), unmark_global() and
 * allow_global_rows() decide from the registry and the catalogs after they
 * hold their tables' locks, so their reads here use the latest snapshot, as
 * the event triggers' own do (event_trigger.c): in a REPEATABLE READ or
 * SERIALIZABLE transaction the transaction's snapshot can predate a change
 * another session committed while we waited for the lock (a table dropped
 * and created again under its name, unprotected, protected or given a
 * partition), and a decision from it left a new tenant table without any
 * protection ("already protected, nothing to do").
 */
static bool privileged_latest = false;

static int	spi_exec_privileged_snap(const char *sql, int nargs, Oid *argtypes, Datum *values,
									 const char *nulls, bool read_only, Snapshot snap);

/*
 * Run SQL as the bootstrap superuser, for the registry (no privileges are
 * granted on it) and for reads that must not be filtered by the caller's
 * row security.  All SQL passed here is schema-qualified and parameterised,
 * and runs with search_path locked to pg_catalog, pg_temp (in the guard's
 * GUC nest level, undone when it ends), whatever the calling function's
 * settings: granted_tenants*(), called once per row in a filter, has no SET
 * clause for it.  Code of other roles it makes PostgreSQL run (the planner
 * folds a table's index expressions) runs as its owner (owner_code.c).  An
 * error restores the user on abort (xact.c).  (Also used by
 * event_trigger.c: policy.h.)
 */
int
spi_exec_privileged(const char *sql, int nargs, Oid *argtypes, Datum *values,
					const char *nulls, bool read_only)
{
	return spi_exec_privileged_snap(sql, nargs, argtypes, values, nulls, read_only,
									read_only && privileged_latest ? GetLatestSnapshot() : InvalidSnapshot);
}

/* The same, reading with the snapshot given (InvalidSnapshot: SPI's own). */
static int
spi_exec_privileged_snap(const char *sql, int nargs, Oid *argtypes, Datum *values,
						 const char *nulls, bool read_only, Snapshot snap)
{
	Oid			save_userid;
	int			save_sec;
	volatile int ret;

	int			save_guard;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	/* code of other roles it runs, runs as their owners (owner_code.c) */
	save_guard = owner_code_guard_begin();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		if (snap != InvalidSnapshot)
		{
			SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

			if (plan == NULL)
				elog(ERROR, "tenant_rls: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			ret = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot,
									   read_only, false, 0);
			SPI_freeplan(plan);
		}
		else
			ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, 0);
	}
	PG_CATCH();
	{
		owner_code_guard_end_error(save_guard);
		PG_RE_THROW();
	}
	PG_END_TRY();
	owner_code_guard_end(save_guard);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret < 0)
		elog(ERROR, "tenant_rls: SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	return ret;
}

/*
 * In a REPEATABLE READ or SERIALIZABLE transaction, what protect() and its
 * kin read through SQL they run (enable_audit(), the registry of a parent,
 * the triggers and policies in pg_trigger and pg_policy) shows the
 * transaction's snapshot, not the table as it is once we hold its lock.  If
 * another session changed any of that for these tables (their ancestors
 * included) after the snapshot was taken -- protected or unprotected them,
 * dropped a protected table whose name a new one now has, gave them
 * triggers -- the two views differ, and deciding from either one left a
 * table unprotected or half protected.  Refuse, as PostgreSQL refuses a
 * concurrent update there: the transaction is retried with a new snapshot.
 */
static char *spi_getstr(int row, int col);

static void
check_snapshot_current(List *relids, const char *qualname)
{
	static const char *const sql =
		"WITH RECURSIVE rel(oid) AS ("
		"    SELECT pg_catalog.unnest($1)"
		"     UNION"
		"    SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN rel ON i.inhrelid OPERATOR(pg_catalog.=) rel.oid),"
		" names AS ("
		"    SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c"
		"      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
		"     WHERE c.oid IN (SELECT oid FROM rel))"
		" SELECT pg_catalog.concat_ws('|',"
		"   (SELECT pg_catalog.string_agg(x.oid::text, ',' ORDER BY x.oid) FROM names x),"
		"   (SELECT pg_catalog.string_agg(r.ctid::text, ',' ORDER BY r.ctid) FROM tenant_rls.protected_table r"
		"      JOIN names x ON r.schema_name OPERATOR(pg_catalog.=) x.nspname AND r.table_name OPERATOR(pg_catalog.=) x.relname),"
		"   (SELECT pg_catalog.string_agg(a.ctid::text, ',' ORDER BY a.ctid) FROM tenant_rls.audit_config a"
		"     WHERE a.table_oid IN (SELECT oid FROM rel)"
		"        OR EXISTS (SELECT FROM names x WHERE x.nspname OPERATOR(pg_catalog.=) a.schema_name"
		"                                         AND x.relname OPERATOR(pg_catalog.=) a.table_name)),"
		"   (SELECT pg_catalog.string_agg(t.ctid::text, ',' ORDER BY t.ctid) FROM pg_catalog.pg_trigger t"
		"     WHERE t.tgrelid IN (SELECT oid FROM rel)),"
		"   (SELECT pg_catalog.string_agg(p.ctid::text, ',' ORDER BY p.ctid) FROM pg_catalog.pg_policy p"
		"     WHERE p.polrelid IN (SELECT oid FROM rel)))";
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		arg[1];
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;
	char	   *then;
	char	   *now;

	if (!IsolationUsesXactSnapshot())
		return;
	elems = palloc(sizeof(Datum) * Max(list_length(relids), 1));
	foreach(lc, relids)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	arg[0] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	spi_exec_privileged_snap(sql, 1, argtypes, arg, NULL, true, GetTransactionSnapshot());
	then = spi_getstr(0, 1);
	spi_exec_privileged_snap(sql, 1, argtypes, arg, NULL, true, GetLatestSnapshot());
	now = spi_getstr(0, 1);
	if (strcmp(then ? then : "", now ? now : "") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent change of table \"%s\"", qualname),
				 errdetail("Another transaction changed its protection, audit, triggers or policies (or those of a table above it), or dropped a table of its name, after this transaction's snapshot was taken."),
				 errhint("Retry the transaction.")));
}

/* Run a registry-changing function with privileged_latest set (see above). */
static Datum
with_latest_registry(PGFunction body, FunctionCallInfo fcinfo)
{
	bool		save = privileged_latest;
	Datum		result;

	privileged_latest = true;
	PG_TRY();
	{
		result = body(fcinfo);
	}
	PG_FINALLY();
	{
		privileged_latest = save;
	}
	PG_END_TRY();
	return result;
}

/* Run one generated DDL statement as the caller. */
static void
spi_exec_ddl(const char *sql)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret < 0)
		elog(ERROR, "tenant_rls: SPI_execute failed for \"%s\": %s", sql, SPI_result_code_string(ret));
}

static char *
spi_getstr(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static bool
spi_getbool(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? false : DatumGetBool(d);
}

static const char *
relkind_word(char relkind)
{
	switch (relkind)
	{
		case RELKIND_VIEW:
			return "a view";
		case RELKIND_MATVIEW:
			return "a materialized view";
		case RELKIND_FOREIGN_TABLE:
			return "a foreign table";
		case RELKIND_SEQUENCE:
			return "a sequence";
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return "an index";
		case RELKIND_COMPOSITE_TYPE:
			return "a composite type";
		case RELKIND_TOASTVALUE:
			return "a TOAST table";
		default:
			return "not a table";
	}
}

/*
 * Checks common to every table-level function: an ordinary or partitioned,
 * permanent table outside the system schemas, owned by the caller.
 */
static void
check_table(Oid relid, const char *what, const char *suffix)
{
	char		relkind = get_rel_relkind(relid);
	char	   *nspname;
	char	   *qualname;

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("Pass the name of an existing table.")));
	qualname = tenant_rel_qualname(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot %s \"%s\"%s: it is %s", what, qualname, suffix, relkind_word(relkind)),
				 errdetail("tenant_rls works on ordinary and partitioned tables only."),
				 relkind == RELKIND_VIEW ?
				 errhint("Protect the tables the view reads, and create the view WITH (security_invoker = true) so that their policies apply to its users.") :
				 errhint("Protect the ordinary or partitioned table that holds the rows.")));
	nspname = get_namespace_name(get_rel_namespace(relid));
	/* (a temporary table's schema, pg_temp_N, is refused as such below) */
	if (tenant_rls_is_reserved_schema(nspname) && get_rel_persistence(relid) != RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot %s \"%s\"%s: it is in the reserved schema \"%s\"", what, qualname, suffix, nspname),
				 errdetail("Tables in pg_catalog, information_schema, pg_toast and the extension's own schema are not tenant tables."),
				 errhint("Apply it to your application's tables only.")));
	if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s \"%s\"%s: it is a temporary table", what, qualname, suffix),
				 errdetail("A temporary table is visible to its own session only."),
				 errhint("Apply it to permanent tables.")));
	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table \"%s\" to %s it%s", qualname, what, suffix),
				 errhint("Run it as the owner of the table or as a superuser.")));
}

/*
 * check_table(), then the lock, then check_table() again (the table may have
 * been dropped, renamed or given away while we waited).  The lock comes
 * after the first check so that a role that may not change the table cannot
 * queue an exclusive lock on it; it comes before any read of the registry, so
 * that two sessions protecting (unprotecting) one table at once decide one
 * after the other: find_all_inheritors() locks the partitions and children,
 * not the table itself.
 */
static void
lock_checked_table(Oid relid, LOCKMODE mode, const char *what, const char *suffix)
{
	check_table(relid, what, suffix);
	LockRelationOid(relid, mode);
	check_table(relid, what, suffix);
}

/*
 * The registry names tables by schema and name, and ALTER SCHEMA ... RENAME
 * takes no lock on the tables of the schema: a protect() that read the old
 * name and committed after the rename's registry upkeep had run left its
 * row under the old name, and the drift guard lost the table (review
 * rev36c).  So the functions that write registry rows take this lock on the
 * schemas of the tables they act on, and of their ancestors (whose names
 * their rows record as the parent), before they read any name; the upkeep
 * of a schema rename takes it in ACCESS EXCLUSIVE mode (event_trigger.c).
 * One waits for the other, and names read afterwards are current (taking a
 * lock makes the caches take in what the other committed).
 */
static void
lock_schemas(List *relids)
{
	List	   *todo = NIL;
	List	   *seen = NIL;
	List	   *nsps = NIL;
	ListCell   *lc;

	/*
	 * The tables' own schemas; then the ancestors of the first (the root of
	 * a tree) and of every inheritance child (which may have parents outside
	 * the tree).  A partition's parent is in the tree: not walked, so that a
	 * tree of thousands of partitions costs one pass.
	 */
	foreach(lc, relids)
	{
		Oid			rel = lfirst_oid(lc);
		Oid			nsp = get_rel_namespace(rel);

		if (OidIsValid(nsp))
			nsps = list_append_unique_oid(nsps, nsp);
		if (foreach_current_index(lc) == 0 || !get_rel_relispartition(rel))
			todo = list_concat(todo, tenant_relation_parents(rel));
	}
	/* appending while iterating is safe: the new cells are visited too */
	foreach(lc, todo)
	{
		Oid			rel = lfirst_oid(lc);
		Oid			nsp = get_rel_namespace(rel);

		if (list_member_oid(seen, rel))
			continue;
		seen = lappend_oid(seen, rel);
		if (OidIsValid(nsp))
			nsps = list_append_unique_oid(nsps, nsp);
		todo = list_concat(todo, tenant_relation_parents(rel));
	}
	/* in OID order: two of them never wait for each other crosswise */
	list_sort(nsps, list_oid_cmp);
	foreach(lc, nsps)
		LockDatabaseObject(NamespaceRelationId, lfirst_oid(lc), 0, AccessShareLock);
}

/*
 * A partition whose DETACH PARTITION ... CONCURRENTLY did not finish
 * (cancelled, timed out, killed while it waited) is left "detach pending"
 * until ... FINALIZE: find_all_inheritors() leaves it out, so protect()
 * protected the tree around it and tenants read and wrote other tenants'
 * rows in it directly (review rev36c).  Refuse until it is finalized.
 */
static void
refuse_detach_pending(List *tree, const char *what, const char *suffix)
{
	Relation	inh = table_open(InheritsRelationId, AccessShareLock);
	ListCell   *lc;

	foreach(lc, tree)
	{
		Oid			parent = lfirst_oid(lc);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		if (get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE)
			continue;
		ScanKeyInit(&key, Anum_pg_inherits_inhparent, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(parent));
		scan = systable_beginscan(inh, InheritsParentIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_inherits f = (Form_pg_inherits) GETSTRUCT(tup);

			if (f->inhdetachpending)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot %s \"%s\"%s: its partition \"%s\" is being detached",
								what, tenant_rel_qualname(linitial_oid(tree)), suffix,
								tenant_rel_qualname(f->inhrelid)),
						 errdetail("A DETACH PARTITION ... CONCURRENTLY of it did not finish; the partition is left out of the table's partitions until it does."),
						 errhint("Run ALTER TABLE %s DETACH PARTITION %s FINALIZE; first.",
								 tenant_rel_qualname(parent), tenant_rel_qualname(f->inhrelid))));
		}
		systable_endscan(scan);
	}
	table_close(inh, AccessShareLock);
}

/* ---------------------------------------------------------------------
 * Registry access
 * ---------------------------------------------------------------------
 */
typedef struct RegRow
{
	bool		found;
	char	   *status;
	char	   *tenant_column;
	char	   *tenant_type;
	char	   *parent_schema;	/* NULL when protected on its own */
	char	   *parent_table;
	bool		global_rows;
} RegRow;

static RegRow
registry_get(const char *nspname, const char *relname)
{
	RegRow		r;
	Oid			types[2] = {NAMEOID, NAMEOID};
	Datum		vals[2];

	memset(&r, 0, sizeof(r));
	vals[0] = CStringGetDatum(nspname);
	vals[1] = CStringGetDatum(relname);
	/* name arguments are passed as cstring-compatible Name datums */
	vals[0] = DirectFunctionCall1(namein, vals[0]);
	vals[1] = DirectFunctionCall1(namein, vals[1]);
	spi_exec_privileged("SELECT status, tenant_column, tenant_type, parent_schema, parent_table, global_rows"
						"  FROM tenant_rls.protected_table"
						" WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2",
						2, types, vals, NULL, true);
	if (SPI_processed > 0)
	{
		bool		isnull;

		r.found = true;
		r.status = spi_getstr(0, 1);
		r.tenant_column = spi_getstr(0, 2);
		r.tenant_type = spi_getstr(0, 3);
		r.parent_schema = spi_getstr(0, 4);
		r.parent_table = spi_getstr(0, 5);
		r.global_rows = spi_getbool(0, 6, &isnull);
	}
	return r;
}

static RegRow
registry_get_rel(Oid relid)
{
	return registry_get(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
}

/*
 * Refuses an operation on a partition or child protected with its parent
 * (reg, its registry row, names the table protect() was called on, and that
 * table is still registered): unprotect(), allow_global_rows() and grants
 * are made on that table, for the whole tree.  detail (NULL: none) and hint
 * are formats of at most one %s, that table's name.  (test/doc_errors.py
 * lists the message once a call, with the call's hint.)
 */
static void
refuse_protected_part(const RegRow *reg, const char *qualname,
					  const char *detail, const char *hint)
{
	char	   *parent;

	if (reg->parent_table == NULL || !registry_get(reg->parent_schema, reg->parent_table).found)
		return;
	parent = quote_qualified_identifier(reg->parent_schema, reg->parent_table);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" is protected as part of \"%s\"", qualname, parent),
			 detail != NULL ? errdetail(detail, parent) : 0,
			 errhint(hint, parent)));
}

/*
 * When protect() wrote the managed policies: the (sub)transaction and the
 * command id after them.  lint() trusts them without comparing them one by
 * one only if every one was written in that transaction before that command
 * (coverage.md, managed_policy_modified).  The registry row's own xmin and
 * cmin do not tell: the registry upkeep (RENAME, SET SCHEMA, DETACH)
 * rewrites the row later, and an ALTER POLICY between protect() and such a
 * rewrite in the same transaction then passed for protect()'s own.
 * Parameters: xid, int8.
 */
#define MANAGED_WRITTEN_SQL(XIDP, CIDP) \
	"'written', pg_catalog.jsonb_build_object('xid', " XIDP "::pg_catalog.text, 'cid', " CIDP ")"

/*
 * The jsonb of the managed policies of a relation, as pg_get_expr() prints
 * them back (search_path = pg_catalog, pg_temp: the function's own).
 * RELP = parameter of the relation oid, NAMESP = of the text[] of names.
 */
#define MANAGED_POLICIES_SQL(RELP, NAMESP) \
	"COALESCE((SELECT pg_catalog.jsonb_object_agg(p.polname, pg_catalog.jsonb_build_object(" \
	"   'cmd', p.polcmd::text, 'permissive', p.polpermissive," \
	"   'roles', (SELECT pg_catalog.jsonb_agg(CASE WHEN r OPERATOR(pg_catalog.=) 0 THEN 'public'" \
	"                                            ELSE r::pg_catalog.regrole::text END ORDER BY r)" \
	"               FROM pg_catalog.unnest(p.polroles) r)," \
	"   'qual', pg_catalog.pg_get_expr(p.polqual, p.polrelid)," \
	"   'with_check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)))" \
	"  FROM pg_catalog.pg_policy p" \
	" WHERE p.polrelid OPERATOR(pg_catalog.=) " RELP " AND p.polname::text OPERATOR(pg_catalog.=) ANY (" NAMESP ")), '{}'::jsonb)"

static Datum
names_to_array(List *names)
{
	int			n = list_length(names);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, names)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* ---------------------------------------------------------------------
 * Policy expressions
 * ---------------------------------------------------------------------
 */
typedef struct PolicyCtx
{
	const char *col;			/* quoted tenant column */
	const ColType *ct;
	char	   *regclass;		/* 'schema.table'::regclass */
	bool		global_rows;
} PolicyCtx;

static char *
expr_own(PolicyCtx *p)
{
	return psprintf("%s OPERATOR(pg_catalog.=) tenant_rls.%s()", p->col, p->ct->accessor);
}

/*
 * The controlled exceptions of one command kind (admin override, cross-tenant
 * grants) in one call; the planner replaces it by the terms the session can
 * use, usually none (tenant_rls_exception_support).
 */
static char *
expr_exception(PolicyCtx *p, const char *priv)
{
	return psprintf("tenant_rls.%s(%s, %s, '%s')", p->ct->exception, p->regclass, p->col, priv);
}

/* what a tenant may read: own rows, global rows (opt-in), admin, grants */
static char *
expr_read_envelope(PolicyCtx *p)
{
	return psprintf("%s OR %s%s",
					expr_own(p),
					p->global_rows ? psprintf("%s IS NULL OR ", p->col) : "",
					expr_exception(p, "read"));
}

/* what a tenant may write: own rows, admin, write grants */
static char *
expr_write_envelope(PolicyCtx *p)
{
	return psprintf("%s OR %s", expr_own(p), expr_exception(p, "write"));
}

static void
add_policy(List **stmts, List **names, const char *name, const char *table,
		   bool restrictive, const char *cmd, const char *using_expr, const char *check_expr)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE POLICY %s ON %s AS %s FOR %s TO PUBLIC",
					 quote_identifier(name), table, restrictive ? "RESTRICTIVE" : "PERMISSIVE", cmd);
	if (using_expr)
		appendStringInfo(&buf, " USING (%s)", using_expr);
	if (check_expr)
		appendStringInfo(&buf, " WITH CHECK (%s)", check_expr);
	*stmts = lappend(*stmts, buf.data);
	*names = lappend(*names, pstrdup(name));
}

/*
 * The policies.  Each command gets a restrictive guard with what the tenant
 * may read (SELECT) or write (INSERT, UPDATE, DELETE), and a permissive
 * isolation policy USING / WITH CHECK (true): PostgreSQL shows no row when no
 * permissive policy applies, and ANDs the restrictive policies with the OR of
 * the permissive ones, so the result is exactly the guard's envelope, and a
 * permissive policy added later cannot widen it.  The envelope exists once:
 * the rewriter copies every applicable policy expression into every query
 * (also with the simple protocol, where each query is planned), so a second
 * copy in the isolation policy costs planning time on every query.  The
 * isolation policy's condition is always true but names the extension's
 * registry table, so that the policy depends on the extension: DROP
 * EXTENSION ... CASCADE drops it together with the guard (whose functions
 * go) rather than leave a lone permissive true that would admit every row;
 * RLS stays enabled and forced, so the table then shows no rows.  Measured
 * (simple protocol, point lookup): the planner folds this NullTest on a
 * constant for ~0.2 % of the query's time; a cast of true to a domain of
 * the extension cost ~0.7 %.
 */
#define ISO_TRUE "'tenant_rls.protected_table'::regclass IS NOT NULL"

static void
add_all_policies(List **stmts, List **names, PolicyCtx *p, const char *table)
{
	char	   *renv = expr_read_envelope(p);
	char	   *wenv = expr_write_envelope(p);

	add_policy(stmts, names, POL_ISO_SELECT, table, false, "SELECT", ISO_TRUE, NULL);
	add_policy(stmts, names, POL_ISO_INSERT, table, false, "INSERT", NULL, ISO_TRUE);
	add_policy(stmts, names, POL_ISO_UPDATE, table, false, "UPDATE", ISO_TRUE, ISO_TRUE);
	add_policy(stmts, names, POL_ISO_DELETE, table, false, "DELETE", ISO_TRUE, NULL);
	add_policy(stmts, names, POL_GUARD_SELECT, table, true, "SELECT", renv, NULL);
	add_policy(stmts, names, POL_GUARD_INSERT, table, true, "INSERT", NULL, wenv);
	add_policy(stmts, names, POL_GUARD_UPDATE, table, true, "UPDATE", wenv, wenv);
	add_policy(stmts, names, POL_GUARD_DELETE, table, true, "DELETE", wenv, NULL);
}

/* ---------------------------------------------------------------------
 * protect()
 * ---------------------------------------------------------------------
 */
typedef struct Target
{
	Oid			relid;
	char	   *nspname;
	char	   *relname;
	char	   *qualname;
	char		relkind;
	bool		ispartition;
	bool		registered;		/* already in the registry: left alone */
	bool		rls_enabled;
	bool		rls_forced;
	bool		has_default;
	char		attidentity;	/* the tenant column's: an identity column? */
	char		attgenerated;	/* ... a generated column? */
	bool		attnotnull;
	bool		has_nulls;
	AttrNumber	attnum;
	/* decisions */
	bool		set_default;
	bool		set_not_null;
	bool		set_not_null_inherited;	/* NOT NULL came from a parent protect() set it on */
	bool		audit;
	List	   *policies;		/* names created */
} Target;

static void
fill_target(Target *t, Oid relid, const char *colname)
{
	HeapTuple	tup;
	Form_pg_class cls;

	memset(t, 0, sizeof(*t));
	t->relid = relid;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	cls = (Form_pg_class) GETSTRUCT(tup);
	t->relkind = cls->relkind;
	t->ispartition = cls->relispartition;
	t->rls_enabled = cls->relrowsecurity;
	t->rls_forced = cls->relforcerowsecurity;
	ReleaseSysCache(tup);
	t->nspname = get_namespace_name(get_rel_namespace(relid));
	t->relname = get_rel_name(relid);
	t->qualname = quote_qualified_identifier(t->nspname, t->relname);
	t->attnum = get_attnum(relid, colname);
	if (t->attnum > 0)
	{
		tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(t->attnum));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for attribute %d of relation %u", t->attnum, relid);
		t->attnotnull = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;
		t->has_default = ((Form_pg_attribute) GETSTRUCT(tup))->atthasdef;
		t->attidentity = ((Form_pg_attribute) GETSTRUCT(tup))->attidentity;
		t->attgenerated = ((Form_pg_attribute) GETSTRUCT(tup))->attgenerated;
		ReleaseSysCache(tup);
	}
}

/* the tenant column's collation when it is nondeterministic, else InvalidOid */
static Oid
nondeterministic_collation(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup;
	Oid			collid;

	if (attnum <= 0)
		return InvalidOid;
	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u", attnum, relid);
	collid = ((Form_pg_attribute) GETSTRUCT(tup))->attcollation;
	ReleaseSysCache(tup);
	if (OidIsValid(collid) && !get_collation_isdeterministic(collid))
		return collid;
	return InvalidOid;
}

/*
 * Under a nondeterministic collation different tenant values ('ACME' and
 * 'acme' under a case-insensitive one) compare equal, and so would pass each
 * other's policies: refuse such a tenant column (also via a domain).
 */
static void
check_tenant_collation(Target *t, const char *colname)
{
	Oid			collid = nondeterministic_collation(t->relid, t->attnum);

	if (OidIsValid(collid))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_COLLATION),
				 errmsg("tenant column \"%s\" of table \"%s\" has the nondeterministic collation \"%s\"",
						colname, t->qualname, get_collation_name(collid)),
				 errdetail("Under a nondeterministic collation different tenant values, such as 'ACME' and 'acme', can compare equal, so one tenant could read another tenant's rows."),
				 errhint("Give the tenant column a deterministic collation such as \"C\" (ALTER TABLE ... ALTER COLUMN ... TYPE ... COLLATE \"C\"), then protect the table.")));
}

static char *reserved_policy_name(Oid relid);
static char *registry_refusal(Oid relid, const char *colname);

/*
 * tenant_rls._protect_refusal(relid oid, column name) RETURNS text: why
 * protect() would refuse this table and tenant column, as a sentence for the
 * coverage report, or NULL when it would accept them: the column's type,
 * collation or identity, a policy with a reserved name, a partition or child
 * that cannot be protected.  The report gives no fix SQL then: it would only
 * fail.  (Read without locks: a report.)
 */
Datum
tenant_rls_protect_refusal(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	const char *colname = NameStr(*PG_GETARG_NAME(1));
	AttrNumber	attnum = get_attnum(relid, colname);
	Oid			typid;
	Oid			collid;
	char	   *policy;
	ListCell   *lc;
	HeapTuple	tup;
	char		identity;

	if (attnum <= 0)
		PG_RETURN_NULL();
	typid = get_atttype(relid, attnum);
	if (coltype_for(typid) == NULL)
		PG_RETURN_TEXT_P(cstring_to_text(psprintf(
			"protect() refuses it: its tenant column %s has type %s, and protect() supports uuid, bigint, integer, text and varchar (or domains over them). Change the column's type, then protect the table.",
			quote_identifier(colname), format_type_be(typid))));
	collid = nondeterministic_collation(relid, attnum);
	if (OidIsValid(collid))
		PG_RETURN_TEXT_P(cstring_to_text(psprintf(
			"protect() refuses it: its tenant column %s has the nondeterministic collation %s, under which different tenant values can compare equal. Give the column a deterministic collation such as \"C\", then protect the table.",
			quote_identifier(colname), quote_identifier(get_collation_name(collid)))));
	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	if (!HeapTupleIsValid(tup))
		PG_RETURN_NULL();		/* dropped meanwhile */
	identity = ((Form_pg_attribute) GETSTRUCT(tup))->attidentity;
	ReleaseSysCache(tup);
	if (identity != '\0')
		PG_RETURN_TEXT_P(cstring_to_text(psprintf(
			"protect() refuses it: its tenant column %s is an identity column, which would give every new row a tenant of its own. Drop the identity (ALTER TABLE ... ALTER COLUMN %s DROP IDENTITY), then protect the table.",
			quote_identifier(colname), quote_identifier(colname))));
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			rel = lfirst_oid(lc);
		char		relkind = get_rel_relkind(rel);

		if (relkind == '\0')
			continue;			/* dropped meanwhile */
		if (rel != relid && ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
							 get_rel_persistence(rel) == RELPERSISTENCE_TEMP))
			PG_RETURN_TEXT_P(cstring_to_text(psprintf(
				"protect() refuses it: its %s %s is %s, which cannot be protected. Detach it or replace it with an ordinary table, then protect the table.",
				get_rel_relispartition(rel) ? "partition" : "child table",
				get_rel_persistence(rel) == RELPERSISTENCE_TEMP ?
				quote_qualified_identifier("pg_temp", get_rel_name(rel)) : tenant_rel_qualname(rel),
				get_rel_persistence(rel) == RELPERSISTENCE_TEMP ? "a temporary table" : relkind_word(relkind))));
		if ((policy = reserved_policy_name(rel)) != NULL)
			PG_RETURN_TEXT_P(cstring_to_text(psprintf(
				"protect() refuses it: %s has a policy named %s, and names starting with \"tenant_rls_\" are reserved for the policies tenant_rls manages. Drop or rename that policy, then protect the table.",
				tenant_rel_qualname(rel), quote_identifier(policy))));
	}
	if ((policy = registry_refusal(relid, colname)) != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(policy));
	PG_RETURN_NULL();
}

/*
 * What protect() refuses by the registry (review rev46d: the report gave
 * protect() as the fix, and it failed): a table below it marked global or
 * protected by another column, or a table above it protected by another
 * column (and the table itself, where it has relatives: the report asks
 * about tables the registry does not list).  A sentence in the caller's
 * memory context, or NULL.
 */
static char *
registry_refusal(Oid relid, const char *colname)
{
	MemoryContext outer = CurrentMemoryContext;
	char	   *msg = NULL;
	ListCell   *lc;
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);

	/*
	 * A table without partitions, children or parents: the report asks
	 * only about tables the registry does not list (unprotected ones), so
	 * there is nothing to look up (3,000 such tables of the 10,000 of the
	 * coverage benchmark: the lookups cost 50 ms).
	 */
	if (list_length(rels) == 1 && tenant_relation_parents(relid) == NIL)
		return NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	foreach(lc, rels)
	{
		Oid			rel = lfirst_oid(lc);
		RegRow		reg;
		const char *what;

		if (get_rel_relkind(rel) == '\0')
			continue;			/* dropped meanwhile */
		reg = registry_get_rel(rel);
		if (!reg.found)
			continue;
		what = rel == relid ? "it" :
			psprintf("its %s %s", get_rel_relispartition(rel) ? "partition" : "child table",
					 tenant_rel_qualname(rel));
		if (strcmp(reg.status, "global") == 0)
			msg = psprintf("protect() refuses it: %s is marked global. Take it out of the hierarchy (ALTER TABLE ... NO INHERIT, or DETACH PARTITION), or run tenant_rls.unmark_global() on it if its rows belong to tenants, then protect the table.",
						   what);
		else if (strcmp(reg.tenant_column, colname) != 0)
			msg = psprintf("protect() refuses it by column %s: %s is protected by column %s. Protect it by that column, or take the other table out of the hierarchy or unprotect it first.",
						   quote_identifier(colname), what, quote_identifier(reg.tenant_column));
		if (msg != NULL)
			break;
	}
	if (msg == NULL)
	{
		Oid			anc;
		Oid			below;
		char	   *anccol;

		if (tenant_protected_above(rels, colname, false, &anc, &below, &anccol))
			msg = psprintf("protect() refuses it by column %s: %s is below table %s, protected by column %s. Take it out of that hierarchy, or protect it by that column.",
						   quote_identifier(colname),
						   below == relid ? "it" :
						   psprintf("its %s %s", get_rel_relispartition(below) ? "partition" : "child table",
									tenant_rel_qualname(below)),
						   tenant_rel_qualname(anc), quote_identifier(anccol));
	}
	if (msg != NULL)
		msg = MemoryContextStrdup(outer, msg);
	SPI_finish();
	return msg;
}

static List *existing_policies(Oid relid, List *names);

/* the names protect() gives its policies (add_all_policies()) */
static const char *const own_policy_names[] = {
	POL_ISO_SELECT, POL_ISO_INSERT, POL_ISO_UPDATE, POL_ISO_DELETE,
	POL_GUARD_SELECT, POL_GUARD_INSERT, POL_GUARD_UPDATE, POL_GUARD_DELETE
};

/*
 * A policy of relid with a reserved name that is not one of the names
 * protect() itself gives (those are adopted, see own_policies_present()),
 * the first by name, or NULL.  protect() refuses such a table; the report
 * gives it no fix.
 */
static char *
reserved_policy_name(Oid relid)
{
	Relation	rel = table_open(PolicyRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *found = NULL;

	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, PolicyPolrelidPolnameIndexId, true, NULL, 1, &key);
	while (found == NULL && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		const char *name = NameStr(((Form_pg_policy) GETSTRUCT(tup))->polname);
		bool		own = false;

		if (strncmp(name, "tenant_rls_", 11) != 0)
			continue;
		for (int i = 0; i < lengthof(own_policy_names); i++)
			own |= strcmp(name, own_policy_names[i]) == 0;
		if (!own)
			found = pstrdup(name);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The policies of an unregistered relation that carry the names protect()
 * gives its own, in creation order.  A table restored without the
 * extension's configuration rows (pg_dump --schema-only alone, pg_dump -n
 * public) has them but no registry row: protect() adopts them by dropping
 * them and creating them again from the current settings, in the same
 * transaction, so the table is never without them for another session.
 */
static List *
own_policies_present(Oid relid)
{
	List	   *names = NIL;

	for (int i = 0; i < lengthof(own_policy_names); i++)
		names = lappend(names, (char *) own_policy_names[i]);
	return existing_policies(relid, names);
}

/*
 * A valid, non-partial btree index whose first column is attnum (opened), or
 * NULL.  Searching it for NULLs calls no operator: btree answers IS NULL by
 * the entries' null flags.
 */
static Relation
null_search_index(Relation rel, AttrNumber attnum)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = irel->rd_index;

		if (irel->rd_rel->relam == BTREE_AM_OID && ix->indisvalid && ix->indisready &&
			ix->indnatts >= 1 && ix->indkey.values[0] == attnum &&
			heap_attisnull(irel->rd_indextuple, Anum_pg_index_indpred, NULL))
		{
			list_free(indexes);
			return irel;
		}
		index_close(irel, AccessShareLock);
	}
	list_free(indexes);
	return NULL;
}

/*
 * Does a validated CHECK (col IS NOT NULL) of the table's own prove that the
 * column holds no NULL?  Then neither our scan nor ALTER TABLE's own check of
 * SET NOT NULL (which PostgreSQL skips when a valid CHECK constraint implies
 * it) needs to read the table: the way to protect a large table in use is to
 * add such a constraint NOT VALID and VALIDATE it first (SHARE UPDATE
 * EXCLUSIVE: reads and writes go on), see doc/policy.md.  Only the exact
 * form is recognised; nothing of the owner's is evaluated.
 */
static bool
not_null_by_check(Relation rel, AttrNumber attnum)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	/* (the relcache's copy of the table's CHECK constraints) */
	for (int i = 0; constr != NULL && i < constr->num_check; i++)
	{
		Node	   *expr;

		if (!constr->check[i].ccvalid)
			continue;
		expr = (Node *) stringToNode(constr->check[i].ccbin);
		if (IsA(expr, NullTest) &&
			((NullTest *) expr)->nulltesttype == IS_NOT_NULL &&
			!((NullTest *) expr)->argisrow &&
			IsA(((NullTest *) expr)->arg, Var) &&
			((Var *) ((NullTest *) expr)->arg)->varattno == attnum)
			return true;
	}
	return false;
}

/*
 * Rows without a tenant?  A probe of an index on the tenant column, or a
 * plain scan of the heap, not a query: planning a query on the table as a
 * superuser calls code of its owner through handles PostgreSQL caches for
 * the whole session (a range type's subtype_diff in the typcache, called by
 * the selectivity estimate of a partial index's predicate), which the fmgr
 * hook never sees if they were made before the guard was on.  Here nothing
 * of the owner runs at all.
 */
static bool
rel_has_nulls(Target *t, const char *colname)
{
	Relation	rel;
	Relation	irel;
	TupleTableSlot *slot;
	AttrNumber	attnum;
	Snapshot	snap;
	bool		found = false;

	if (t->relkind == RELKIND_PARTITIONED_TABLE || t->attnotnull)
		return false;
	rel = table_open(t->relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION && rel->rd_rel->relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("Pass a table or a materialized view.")));
	attnum = get_attnum(t->relid, colname);
	if (attnum == InvalidAttrNumber)
		elog(ERROR, "tenant_rls: column \"%s\" of \"%s\" not found", colname, RelationGetRelationName(rel));
	if (not_null_by_check(rel, attnum))
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	/*
	 * The latest snapshot, as ALTER TABLE's own check of SET NOT NULL takes
	 * it: a NULL committed while protect() waited for its lock is seen (the
	 * transaction's snapshot can predate it; protect() then failed on SET
	 * NOT NULL instead of leaving the column nullable).
	 */
	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);
	if ((irel = null_search_index(rel, attnum)) != NULL)
	{
		/* the index on the tenant column (protect() advises one): a probe */
		ScanKeyData key;
		IndexScanDesc scan;

		ScanKeyEntryInitialize(&key, SK_ISNULL | SK_SEARCHNULL, 1, InvalidStrategy,
							   InvalidOid, InvalidOid, InvalidOid, (Datum) 0);
		scan = index_beginscan(rel, irel, snap, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, slot);
		index_endscan(scan);
		index_close(irel, AccessShareLock);
	}
	else
	{
		TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);

		while (!found && table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			CHECK_FOR_INTERRUPTS();
			found = slot_attisnull(slot, attnum);
		}
		table_endscan(scan);
	}
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	return found;
}

/* name of the protected table a table's protection belongs to, if any */
static bool
protected_ancestor(Oid relid, char **pschema, char **ptable)
{
	Oid			types[1] = {OIDOID};
	Datum		vals[1] = {ObjectIdGetDatum(relid)};

	spi_exec_privileged("SELECT COALESCE(r.parent_schema, r.schema_name), COALESCE(r.parent_table, r.table_name)"
						"  FROM pg_catalog.pg_inherits i"
						"  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhparent"
						"  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
						"  JOIN tenant_rls.protected_table r ON r.schema_name OPERATOR(pg_catalog.=) n.nspname"
						"                                 AND r.table_name OPERATOR(pg_catalog.=) c.relname"
						" WHERE i.inhrelid OPERATOR(pg_catalog.=) $1 AND r.status OPERATOR(pg_catalog.=) 'protected'"
						" ORDER BY i.inhseqno LIMIT 1",
						1, types, vals, NULL, true);
	if (SPI_processed == 0)
		return false;
	*pschema = spi_getstr(0, 1);
	*ptable = spi_getstr(0, 2);
	return true;
}

static Oid
audit_function(const char *name, int nargs, Oid *argtypes)
{
	List	   *fname = list_make2(makeString(TENANT_RLS_SCHEMA), makeString(pstrdup(name)));

	return LookupFuncName(fname, nargs, argtypes, true);
}

/* is the table part of a hierarchy whose protection it joins? */
static void grant_caches_stale(void);

/* how many of the policies the registry lists for a table no longer exist */
static int
managed_policies_missing(Oid relid, const char *nspname, const char *relname)
{
	Oid			types[3] = {OIDOID, NAMEOID, NAMEOID};
	Datum		vals[3];
	bool		isnull;

	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(nspname));
	vals[2] = DirectFunctionCall1(namein, CStringGetDatum(relname));
	spi_exec_privileged("SELECT count(*)::integer FROM tenant_rls.protected_table r,"
						"       pg_catalog.jsonb_object_keys(r.managed OPERATOR(pg_catalog.->) 'policies') k"
						" WHERE r.schema_name OPERATOR(pg_catalog.=) $2 AND r.table_name OPERATOR(pg_catalog.=) $3"
						"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p"
						"                    WHERE p.polrelid OPERATOR(pg_catalog.=) $1"
						"                      AND p.polname::text OPERATOR(pg_catalog.=) k)",
						3, types, vals, NULL, true);
	if (SPI_processed == 0)
		return 0;
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		return isnull ? 0 : DatumGetInt32(d);
	}
}

static char *current_default_expr(Oid relid, const char *colname);

/* is the default expression tenant_rls.<fn>() (possibly cast)? */
static bool
default_calls(const char *cur, const char *fn)
{
	char	   *ours = psprintf("tenant_rls.%s()", fn);
	char	   *ours_cast = psprintf("(tenant_rls.%s())::", fn);

	return strcmp(cur, ours) == 0 || strncmp(cur, ours_cast, strlen(ours_cast)) == 0;
}

/*
 * Is the column's default the one protect() sets (as pg_get_expr prints it)?
 * require_tenant*(), or the accessor that versions before it set.
 */
static bool
is_our_default(Oid relid, const char *colname, const ColType *ct)
{
	char	   *cur = current_default_expr(relid, colname);

	return cur != NULL && (default_calls(cur, ct->require) || default_calls(cur, ct->accessor));
}

/* did protect() set NOT NULL on this (registered) table? */
static bool
parent_set_not_null(Oid relid)
{
	Oid			types[2] = {NAMEOID, NAMEOID};
	Datum		vals[2];
	bool		isnull;

	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(get_namespace_name(get_rel_namespace(relid))));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(get_rel_name(relid)));
	spi_exec_privileged("SELECT COALESCE((managed OPERATOR(pg_catalog.->>) 'set_not_null')::boolean, false)"
						"  FROM tenant_rls.protected_table"
						" WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2"
						"   AND status OPERATOR(pg_catalog.=) 'protected'",
						2, types, vals, NULL, true);
	return SPI_processed > 0 && spi_getbool(0, 1, &isnull);
}

static void
registry_insert(Target *t, const char *colname, const ColType *ct,
				const char *pschema, const char *ptable, bool global_rows)
{
	Oid			types[18] = {NAMEOID, NAMEOID, NAMEOID, TEXTOID, OIDOID, TEXTARRAYOID,
	BOOLOID, BOOLOID, BOOLOID, BOOLOID, BOOLOID, INT2OID, NAMEOID, NAMEOID, NAMEOID, BOOLOID,
	XIDOID, INT8OID};
	Datum		vals[18];
	char		nulls[19];

	memset(nulls, ' ', sizeof(nulls));
	nulls[18] = '\0';
	vals[16] = TransactionIdGetDatum(GetCurrentTransactionId());
	vals[17] = Int64GetDatum((int64) GetCurrentCommandId(false));
	vals[15] = BoolGetDatum(global_rows);
	vals[14] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false)));
	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(t->nspname));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(t->relname));
	vals[2] = DirectFunctionCall1(namein, CStringGetDatum(colname));
	vals[3] = CStringGetTextDatum(ct->tenant_type);
	vals[4] = ObjectIdGetDatum(t->relid);
	vals[5] = names_to_array(t->policies);
	vals[6] = BoolGetDatum(!t->rls_enabled);
	vals[7] = BoolGetDatum(!t->rls_forced);
	vals[8] = BoolGetDatum(t->set_default);
	vals[9] = BoolGetDatum(t->set_not_null || t->set_not_null_inherited);
	vals[10] = BoolGetDatum(t->audit);
	vals[11] = Int16GetDatum(t->attnum);
	if (pschema)
	{
		vals[12] = DirectFunctionCall1(namein, CStringGetDatum(pschema));
		vals[13] = DirectFunctionCall1(namein, CStringGetDatum(ptable));
	}
	else
	{
		vals[12] = vals[13] = (Datum) 0;
		nulls[12] = nulls[13] = 'n';
	}
	spi_exec_privileged("INSERT INTO tenant_rls.protected_table"
						" (schema_name, table_name, status, tenant_column, tenant_type, managed,"
						"  global_rows, parent_schema, parent_table, protected_by)"
						" SELECT $1, $2, 'protected', $3, $4,"
						"  pg_catalog.jsonb_build_object("
						"   'policies', " MANAGED_POLICIES_SQL("$5", "$6") ","
						"   'enabled_rls', $7, 'forced_rls', $8, 'set_default', $9,"
						"   'default_expr', CASE WHEN $9 THEN (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid)"
						"                       FROM pg_catalog.pg_attrdef d WHERE d.adrelid OPERATOR(pg_catalog.=) $5"
						"                        AND d.adnum OPERATOR(pg_catalog.=) $12) END,"
						"   'set_not_null', $10, 'audit', $11, " MANAGED_WRITTEN_SQL("$17", "$18") "),"
						"  $16, $13, $14, $15",
						18, types, vals, nulls, false);
}

/*
 * After protect()'s statements ran: is every table it protects still what it
 * is about to record?  The registry is written by name, and the statements
 * ran code of the table's owner (ALTER TABLE ... SET NOT NULL folds the
 * functions of its CHECK constraints).  When the owner runs protect() itself
 * that code has the owner's rights, and DDL from it other than row security
 * and policies is allowed (owner_code.c): a rename of the table, its schema
 * or its tenant column there left a registry row naming nothing (review
 * rev39 ddl F1: the drift guard then let the owner disable row security on
 * the table under its new name), and a table renamed away and back let a
 * SET NOT NULL reach another table in between.  So: the same schema, name
 * and tenant column, row security enabled and forced, NOT NULL where we set
 * it, and the protected tree joined still registered under its name.
 */
static void
changed_during_protect(const char *qualname, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" %s while protect() ran", qualname, what),
			 errdetail("protect() records its tables by name after its statements ran; a statement ran code of a table (a CHECK constraint's function) that changed it."),
			 errhint("Take the DDL out of that function, then run protect() again.")));
}

static void
check_targets_intact(Target **tarr, int ntargets, const char *colname,
					 const char *pschema, const char *ptable)
{
	for (int i = 0; i < ntargets; i++)
	{
		Target	   *t = tarr[i];
		HeapTuple	tup;
		Form_pg_class cls;
		char	   *nsp;
		char	   *att;
		const char *what = NULL;

		if (t->registered)
			continue;
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(t->relid));
		if (!HeapTupleIsValid(tup))
			what = "was dropped";
		else
		{
			cls = (Form_pg_class) GETSTRUCT(tup);
			nsp = get_namespace_name(cls->relnamespace);
			att = get_attname(t->relid, t->attnum, true);
			if (nsp == NULL || strcmp(nsp, t->nspname) != 0 ||
				strcmp(NameStr(cls->relname), t->relname) != 0)
				what = psprintf("was renamed to \"%s\"",
								quote_qualified_identifier(nsp ? nsp : "?", NameStr(cls->relname)));
			else if (att == NULL || strcmp(att, colname) != 0)
				what = psprintf("had its tenant column \"%s\" renamed or dropped", colname);
			else if (!cls->relrowsecurity || !cls->relforcerowsecurity)
				what = "had its row security turned off";
			else if (t->set_not_null)
			{
				HeapTuple	atup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(t->relid),
												   Int16GetDatum(t->attnum));

				if (!HeapTupleIsValid(atup) ||
					!((Form_pg_attribute) GETSTRUCT(atup))->attnotnull)
					what = psprintf("did not get NOT NULL on \"%s\"", colname);
				if (HeapTupleIsValid(atup))
					ReleaseSysCache(atup);
			}
			ReleaseSysCache(tup);
		}
		if (what != NULL)
			changed_during_protect(t->qualname, what);
	}
	if (pschema != NULL && !registry_get(pschema, ptable).found)
		changed_during_protect(quote_qualified_identifier(pschema, ptable),
							   "was renamed or unprotected");
}

/*
 * Run generated DDL, with the drift guard told it is ours: as the caller, or
 * (privileged) with the extension's rights -- for enable_audit() and
 * disable_audit(), which PUBLIC may not call, once the caller's ownership of
 * the table has been checked.  Code of a table's owner that a statement
 * makes PostgreSQL run (ALTER ... SET NOT NULL folds the functions of the
 * table's CHECK constraints) runs as that owner, not as the caller (a
 * superuser, or the extension in auto-protection), and may not run DDL
 * (owner_code.c).
 */
static void
exec_statements(List *stmts, bool privileged)
{
	bool		save_active = policy_ddl_active;
	int			save_depth = tenant_own_ddl_begin();
	int			save_guard = owner_code_guard_begin();
	ListCell   *lc;

	PG_TRY();
	{
		policy_ddl_active = true;
		foreach(lc, stmts)
		{
			if (privileged)
				spi_exec_privileged((char *) lfirst(lc), 0, NULL, NULL, NULL, false);
			else
				spi_exec_ddl((char *) lfirst(lc));
		}
	}
	PG_CATCH();
	{
		policy_ddl_active = save_active;
		tenant_own_ddl_end(save_depth);
		owner_code_guard_end_error(save_guard);
		PG_RE_THROW();
	}
	PG_END_TRY();
	policy_ddl_active = save_active;
	tenant_own_ddl_end(save_depth);
	owner_code_guard_end(save_guard);
	CommandCounterIncrement();
}

static List *protect_relation(Oid relid, const char *tenant_column, bool dry_run);

List *
tenant_protect_relation(Oid relid, const char *tenant_column, bool dry_run)
{
	bool		save = privileged_latest;
	List	   *result;

	privileged_latest = true;
	PG_TRY();
	{
		result = protect_relation(relid, tenant_column, dry_run);
	}
	PG_FINALLY();
	{
		privileged_latest = save;
	}
	PG_END_TRY();
	return result;
}

static List *
protect_relation(Oid relid, const char *tenant_column, bool dry_run)
{
	MemoryContext outer = CurrentMemoryContext;
	List	   *result = NIL;
	List	   *stmts = NIL;
	List	   *rels;
	List	   *targets = NIL;
	Target	   *root;
	const ColType *ct;
	const char *colname;
	const char *col;
	char	   *pschema = NULL;
	char	   *ptable = NULL;
	RegRow		reg;
	bool		any_nulls = false;
	bool		global_rows = false;
	int			ntargets;
	Target	  **tarr;
	Oid			audit_args[3] = {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID};
	bool		with_audit;
	List	   *audit_stmts = NIL;
	ListCell   *lc;

	if (tenant_column != NULL && tenant_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant column must not be empty"),
				 errhint("Name the tenant column, or pass NULL to use tenant_rls.tenant_column.")));
	colname = tenant_column ? tenant_column : tenant_rls_tenant_column;
	if (colname == NULL || colname[0] == '\0')
		colname = "tenant_id";

	lock_checked_table(relid, dry_run ? AccessShareLock : AccessExclusiveLock, "protect", "");

	/* the table and all its partitions / inheritance children, root first */
	rels = find_all_inheritors(relid, dry_run ? AccessShareLock : AccessExclusiveLock, NULL);
	refuse_detach_pending(rels, "protect", "");
	lock_schemas(rels);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	check_snapshot_current(rels, tenant_rel_qualname(relid));

	/* the root: exists, column, type, registry state */
	root = palloc(sizeof(Target));
	fill_target(root, relid, colname);
	if (root->attnum == InvalidAttrNumber || root->attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no tenant column \"%s\"", root->qualname, colname),
				 errhint("Pass the tenant column as protect(table, tenant_column => ...), set tenant_rls.tenant_column, or mark a shared table with tenant_rls.mark_global().")));
	ct = coltype_for(get_atttype(relid, root->attnum));
	if (ct == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("tenant column \"%s\" of table \"%s\" has unsupported type %s",
						colname, root->qualname, format_type_be(get_atttype(relid, root->attnum))),
				 errdetail("Supported tenant column types are uuid, bigint, integer, text and varchar (or domains over them)."),
				 errhint("Change the column's type, or protect the table by another column.")));
	check_tenant_collation(root, colname);
	col = quote_identifier(colname);

	reg = registry_get(root->nspname, root->relname);

	/*
	 * A column that cannot hold the tenants tenant_rls.tenant_type admits
	 * (review rev49c): the policies read the tenant with the accessor of the
	 * column's type, which refuses them, so every query of a tenant fails.
	 * A NOTICE, not a refusal: the setting is per session (a migration may
	 * run without the application's), the table fails closed (no tenant
	 * reads another's rows), and a refusal would fail the CREATE TABLE that
	 * auto-protection runs in, or leave the table unprotected.  lint()
	 * reports it (tenant_type_mismatch).
	 */
	if (!reg.found && ct->ttype != TENANT_TYPE_TEXT &&
		tenant_rls_tenant_type != TENANT_TYPE_TEXT &&
		ct->ttype != (TenantType) tenant_rls_tenant_type &&
		!(ct->ttype == TENANT_TYPE_BIGINT && tenant_rls_tenant_type == TENANT_TYPE_INTEGER))
		ereport(NOTICE,
				(errmsg("tenant column \"%s\" of \"%s\" is of type %s, which cannot hold the tenants of tenant_rls.tenant_type = %s",
						colname, root->qualname, ct->tenant_type,
						tenant_type_name((TenantType) tenant_rls_tenant_type)),
				 errdetail("The policies read the tenant as %s: every query of a tenant on the table fails.", ct->tenant_type),
				 errhint("Change the column's type, or set tenant_rls.tenant_type = %s if that is the type of this database's tenants.",
						 ct->tenant_type)));
	if (reg.found && strcmp(reg.status, "global") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is marked global", root->qualname),
				 errdetail("A global table is shared by all tenants on purpose."),
				 errhint("Run tenant_rls.unmark_global() first if the table should be isolated by tenant.")));
	if (reg.found && strcmp(reg.tenant_column, colname) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is already protected by column \"%s\"", root->qualname, reg.tenant_column),
				 errhint("Run tenant_rls.unprotect() first to protect it by another column.")));
	if (reg.found)
	{
		/* protected: protect what was added since (partitions, children) */
		if (reg.parent_table)
		{
			pschema = reg.parent_schema;
			ptable = reg.parent_table;
		}
		else
		{
			pschema = root->nspname;
			ptable = root->relname;
		}
		root->registered = true;
	}
	else if (protected_ancestor(relid, &pschema, &ptable))
	{
		/* a new partition / child of a protected table: belongs to it */
	}
	targets = lappend(targets, root);

	foreach(lc, rels)
	{
		Oid			child = lfirst_oid(lc);
		Target	   *t;

		if (child == relid)
			continue;
		t = palloc(sizeof(Target));
		fill_target(t, child, colname);
		if (t->relkind != RELKIND_RELATION && t->relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("cannot protect \"%s\": its %s \"%s\" is %s",
							root->qualname, t->ispartition ? "partition" : "child table",
							t->qualname, relkind_word(t->relkind)),
					 errdetail("Row-level security cannot be enabled on it, so rows queried through it directly would not be isolated."),
					 errhint("Detach it, or replace it with an ordinary table.")));
		/*
		 * A temporary child (PostgreSQL lets one inherit from a permanent
		 * table): its session writes any tenant's rows into it without a
		 * policy, which a query on the parent returns to every tenant, and
		 * its registry rows would outlive it (no event trigger fires when
		 * the session ends).  The drift guard refuses placing one below a
		 * protected table; protecting the parent refuses it the same way.
		 */
		if (get_rel_persistence(child) == RELPERSISTENCE_TEMP)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("cannot protect \"%s\": its child table \"%s\" is a temporary table",
							root->qualname, quote_qualified_identifier("pg_temp", get_rel_name(child))),
					 errdetail("A temporary table cannot be protected: its session writes the rows of any tenant into it without a policy, and a query on \"%s\" returns them to that tenant.",
							   root->qualname),
					 errhint("Drop the temporary table, or ALTER TABLE ... NO INHERIT it, then protect \"%s\".",
							 root->qualname)));
		if (!pg_class_ownercheck(child, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of table \"%s\" to protect it", t->qualname),
					 errdetail("It is a %s of \"%s\", which is protected with it.",
							   t->ispartition ? "partition" : "child table", root->qualname),
					 errhint("Run it as the owner of all these tables or as a superuser.")));
		check_tenant_collation(t, colname);
		reg = registry_get(t->nspname, t->relname);
		if (reg.found)
		{
			if (strcmp(reg.status, "global") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot protect \"%s\": its %s \"%s\" is marked global",
								root->qualname, t->ispartition ? "partition" : "child table", t->qualname),
						 errhint("Run tenant_rls.unmark_global() on it first.")));
			/*
			 * Protected on its own by another column: a query on the root
			 * would check colname on rows its policies let through by the
			 * other (and protect() would leave it as it is).
			 */
			if (strcmp(reg.tenant_column, colname) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot protect \"%s\" by column \"%s\": its %s \"%s\" is protected by column \"%s\"",
								root->qualname, colname, t->ispartition ? "partition" : "child table",
								t->qualname, reg.tenant_column),
						 errdetail("A query on \"%s\" would check \"%s\" on the rows of \"%s\", a query on \"%s\" checks \"%s\": a row written through either for one tenant could be read and changed by another through the other.",
								   root->qualname, colname, t->qualname, t->qualname, reg.tenant_column),
						 errhint("Protect \"%s\" by \"%s\", or unprotect \"%s\" first (SELECT tenant_rls.unprotect(%s);).",
								 root->qualname, reg.tenant_column, t->qualname, quote_literal_cstr(t->qualname))));
			t->registered = true;
		}
		targets = lappend(targets, t);
	}

	/* ... and the same for a protected table above any of them */
	{
		Oid			anc;
		Oid			below;
		char	   *anccol;

		if (tenant_protected_above(rels, colname, false, &anc, &below, &anccol))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot protect \"%s\" by column \"%s\": %s is below table %s, protected by column \"%s\"",
							root->qualname, colname,
							below == relid ? "it" : psprintf("its %s \"%s\"",
															 get_rel_relispartition(below) ? "partition" : "child table",
															 tenant_rel_qualname(below)),
							tenant_rel_qualname(anc), anccol),
					 errdetail("A query on %s checks \"%s\" on the rows below it: a row written for one tenant through a table checking \"%s\" could be read and changed by another through %s.",
							   tenant_rel_qualname(anc), anccol, colname, tenant_rel_qualname(anc)),
					 root->registered
					 ? errhint("Take it out of the hierarchy of %s.", tenant_rel_qualname(anc))
					 : errhint("Take it out of the hierarchy of %s, or, if every protected table above it uses \"%s\", protect it by that column (SELECT tenant_rls.protect(%s, %s);).",
							   tenant_rel_qualname(anc), anccol, quote_literal_cstr(root->qualname),
							   quote_literal_cstr(anccol))));
	}

	/* a table joining a protected tree gets the tree's global-rows switch */
	if (pschema != NULL)
	{
		RegRow		treereg = registry_get(pschema, ptable);

		global_rows = treereg.found && treereg.global_rows;
	}

	ntargets = list_length(targets);
	tarr = palloc(sizeof(Target *) * ntargets);
	{
		int			i = 0;

		foreach(lc, targets)
			tarr[i++] = (Target *) lfirst(lc);
	}

	/* anything to do at all? */
	{
		bool		todo = false;

		for (int i = 0; i < ntargets; i++)
			todo |= !tarr[i]->registered;
		if (!todo)
		{
			int			missing = managed_policies_missing(root->relid, root->nspname, root->relname);

			if (missing > 0)
				ereport(NOTICE,
						(errmsg("table \"%s\" is already protected, nothing to do", root->qualname),
						 errdetail_plural("%d policy that protect() created is missing.",
										  "%d policies that protect() created are missing.",
										  missing, missing),
						 errhint("Run tenant_rls.unprotect() and then tenant_rls.protect() to restore them.")));
			else
				ereport(NOTICE,
						(errmsg("table \"%s\" is already protected, nothing to do", root->qualname)));
			SPI_finish();
			return NIL;
		}
	}

	/* reserved policy names must be free on the tables we change */
	for (int i = 0; i < ntargets; i++)
	{
		char	   *name;

		if (tarr[i]->registered)
			continue;
		name = reserved_policy_name(tarr[i]->relid);
		if (name)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("table \"%s\" already has a policy named \"%s\"", tarr[i]->qualname, name),
					 errdetail("Policy names starting with \"tenant_rls_\" are reserved for the policies tenant_rls manages."),
					 errhint("Drop or rename that policy, then protect the table.")));
	}

	/* NULL tenants anywhere in the hierarchy: leave the column nullable */
	for (int i = 0; i < ntargets; i++)
	{
		tarr[i]->has_nulls = rel_has_nulls(tarr[i], colname);
		any_nulls |= tarr[i]->has_nulls;
	}

	/*
	 * A partition created under a parent whose NOT NULL protect() set got
	 * that constraint from it: it is ours, and goes with the parent's.
	 */
	for (int i = 0; i < ntargets; i++)
	{
		Target	   *t = tarr[i];

		if (!t->registered && t->ispartition && t->attnotnull &&
			parent_set_not_null(get_partition_parent(t->relid, false)))
			t->set_not_null_inherited = true;
	}

	/*
	 * NOT NULL where safe: no NULL rows (then no row can be global yet).  A
	 * partitioned table only when all its partitions end up NOT NULL (ALTER
	 * TABLE ONLY on it checks that).  Decided bottom-up.
	 */
	for (int i = ntargets - 1; i >= 0; i--)
	{
		Target	   *t = tarr[i];

		if (t->registered || t->attnotnull || any_nulls || global_rows)
			continue;
		if (t->relkind == RELKIND_PARTITIONED_TABLE)
		{
			List	   *kids = find_inheritance_children(t->relid, NoLock);
			ListCell   *kc;
			bool		ok = true;

			foreach(kc, kids)
			{
				Oid			kid = lfirst_oid(kc);

				for (int j = 0; j < ntargets; j++)
					if (tarr[j]->relid == kid && !(tarr[j]->attnotnull || tarr[j]->set_not_null))
						ok = false;
			}
			if (!ok)
				continue;
		}
		t->set_not_null = true;
	}
	if (any_nulls)
		ereport(NOTICE,
				(errmsg("tenant column \"%s\" of \"%s\" has rows with NULL, so it is left nullable",
						colname, root->qualname),
				 errdetail("Rows without a tenant are visible to no tenant."),
				 errhint("Assign those rows a tenant, or let every tenant read them with tenant_rls.allow_global_rows().")));

	with_audit = tenant_rls_audit && OidIsValid(audit_function("enable_audit", 3, audit_args));

	/* the statements, in the order they run */
	for (int i = 0; i < ntargets; i++)
	{
		Target	   *t = tarr[i];
		PolicyCtx	p;

		if (t->registered)
			continue;
		if (t->attidentity != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("tenant column \"%s\" of table \"%s\" is an identity column", colname, t->qualname),
					 errdetail("An identity column gives every new row a value of its own, so each insert would name a tenant of its own instead of the current one."),
					 errhint("Drop the identity (ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY), or protect the table by another column.")));
		if (!t->has_default)
		{
			t->set_default = true;
			stmts = lappend(stmts, psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s SET DEFAULT tenant_rls.%s()",
											t->qualname, col, ct->require));
		}
		else if (is_our_default(t->relid, colname, ct))
		{
			/*
			 * Copied from a protected parent (PARTITION OF), or the one
			 * protect() set before a restore without the registry rows
			 * (review rev46f: kept as "a default of its own", with a hint
			 * that it did not give the current tenant): goes with the table's
			 * protection.
			 */
			t->set_default = true;
		}
		else if (t->attgenerated != '\0')
			ereport(NOTICE,
					(errmsg("tenant column \"%s\" of \"%s\" is a generated column, which is kept",
							colname, t->qualname),
					 errhint("Its value is computed from the row's other columns; the policies refuse a row whose computed tenant is not the current one.")));
		else
			ereport(NOTICE,
					(errmsg("tenant column \"%s\" of \"%s\" already has a default, which is kept",
							colname, t->qualname),
					 errhint("Inserts that do not name the tenant column get that default, not the current tenant.")));
		if (!t->rls_enabled)
			stmts = lappend(stmts, psprintf("ALTER TABLE ONLY %s ENABLE ROW LEVEL SECURITY", t->qualname));
		if (!t->rls_forced)
			stmts = lappend(stmts, psprintf("ALTER TABLE ONLY %s FORCE ROW LEVEL SECURITY", t->qualname));
		/* adopt policies of our names (a restore without the registry rows) */
		foreach(lc, own_policies_present(t->relid))
			stmts = lappend(stmts, psprintf("DROP POLICY %s ON %s",
											quote_identifier((char *) lfirst(lc)), t->qualname));
		p.col = col;
		p.ct = ct;
		p.regclass = regclass_literal(t->relid);
		p.global_rows = global_rows;
		add_all_policies(&stmts, &t->policies, &p, t->qualname);
	}
	for (int i = ntargets - 1; i >= 0; i--)
	{
		if (tarr[i]->set_not_null)
			stmts = lappend(stmts, psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s SET NOT NULL",
											tarr[i]->qualname, col));
	}
	if (with_audit)
	{
		for (int i = 0; i < ntargets; i++)
		{
			if (tarr[i]->registered)
				continue;

			/*
			 * Row triggers on a partitioned table reach its partitions: a
			 * partition is audited on its own only when protect() was given
			 * it and no audited table above it has cloned the trigger to it
			 * already (review rev52f: protect() of a partition under a parent
			 * neither protected nor audited left it unaudited, and lint()
			 * reported audit_missing)
			 */
			if (tarr[i]->ispartition &&
				(tarr[i] != root || OidIsValid(get_trigger_oid(tarr[i]->relid, "tenant_rls_audit", true))))
				continue;
			tarr[i]->audit = true;
			/*
			 * with the column lists that already apply to it: its own (it
			 * was audited before), or its nearest audited ancestor's (an
			 * inheritance child); all columns otherwise (review rev36b: an
			 * excluded secret went into the log)
			 */
			{
				Oid			types[1] = {REGCLASSOID};
				Datum		vals[1] = {ObjectIdGetDatum(tarr[i]->relid)};
				char	   *columns;
				char	   *exclude;
				StringInfoData stmt;

				spi_exec_privileged("SELECT l.columns::pg_catalog.text, l.exclude::pg_catalog.text"
									" FROM tenant_rls._audit_lists($1) l",
									1, types, vals, NULL, true);
				columns = SPI_processed > 0 ? spi_getstr(0, 1) : NULL;
				exclude = SPI_processed > 0 ? spi_getstr(0, 2) : NULL;
				initStringInfo(&stmt);
				appendStringInfo(&stmt, "SELECT tenant_rls.enable_audit(%s", regclass_literal(tarr[i]->relid));
				if (columns != NULL)
					appendStringInfo(&stmt, ", columns => %s::pg_catalog.text[]", quote_literal_cstr(columns));
				if (exclude != NULL)
					appendStringInfo(&stmt, ", exclude => %s::pg_catalog.text[]", quote_literal_cstr(exclude));
				appendStringInfoChar(&stmt, ')');
				audit_stmts = lappend(audit_stmts, stmt.data);
			}
		}
	}

	if (!dry_run)
	{
		exec_statements(stmts, false);
		check_targets_intact(tarr, ntargets, colname, pschema, ptable);
		exec_statements(audit_stmts, true);

		for (int i = 0; i < ntargets; i++)
		{
			Target	   *t = tarr[i];

			if (t->registered)
				continue;
			if (t == root)
				registry_insert(t, colname, ct, pschema, ptable, global_rows);
			else
				registry_insert(t, colname, ct,
								pschema ? pschema : root->nspname,
								ptable ? ptable : root->relname, global_rows);
		}
		grant_caches_stale();
	}

	/* the result lives in the caller's context */
	stmts = list_concat(stmts, audit_stmts);
	{
		MemoryContext old = MemoryContextSwitchTo(outer);

		foreach(lc, stmts)
			result = lappend(result, pstrdup((char *) lfirst(lc)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

static void
return_statements(FunctionCallInfo fcinfo, List *stmts)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	foreach(lc, stmts)
	{
		Datum		v = CStringGetTextDatum((char *) lfirst(lc));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
	}
}

Datum
tenant_rls_protect(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *colname = NULL;
	bool		dry_run = false;
	List	   *stmts;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null"),
				 errhint("Pass the table to protect, e.g. tenant_rls.protect('public.orders').")));
	relid = PG_GETARG_OID(0);
	if (!PG_ARGISNULL(1))
		colname = NameStr(*PG_GETARG_NAME(1));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("dry_run must not be null"),
				 errhint("Pass dry_run => true to see the statements without running them, or false (the default) to run them.")));
	dry_run = PG_GETARG_BOOL(2);

	stmts = tenant_protect_relation(relid, colname, dry_run);
	return_statements(fcinfo, stmts);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * unprotect() and what it shares with allow_global_rows()
 * ---------------------------------------------------------------------
 */
typedef struct RegTarget
{
	Oid			relid;			/* InvalidOid when the table is gone */
	char	   *nspname;
	char	   *relname;
	char	   *qualname;
	char	   *tenant_column;
	char	   *tenant_type;
	List	   *policies;		/* managed policy names */
	bool		enabled_rls;
	bool		forced_rls;
	bool		set_default;
	char	   *default_expr;
	bool		set_not_null;
	bool		audit;
	bool		global_rows;
	bool		own;			/* protected on its own, then put below the root */
	int			order;			/* position in the inheritance tree, root 0 */
} RegTarget;

typedef struct Runner
{
	List	   *stmts;			/* executed statements, in order */
} Runner;

static void
run_stmt(Runner *r, char *sql)
{
	exec_statements(list_make1(sql), false);
	r->stmts = lappend(r->stmts, sql);
}

/* disable_audit(): with the extension's rights (see exec_statements) */
static void
run_stmt_privileged(Runner *r, char *sql)
{
	exec_statements(list_make1(sql), true);
	r->stmts = lappend(r->stmts, sql);
}

static List *
text_array_to_list(Datum arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *l = NIL;

	deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			l = lappend(l, TextDatumGetCString(elems[i]));
	return l;
}

static int
cmp_regtarget(const ListCell *a, const ListCell *b)
{
	RegTarget  *x = lfirst(a);
	RegTarget  *y = lfirst(b);

	return (x->order > y->order) - (x->order < y->order);
}

/*
 * The registry rows of a protected table and of the children protected with
 * it, in tree order (root first).  The caller SPI_connect()ed.
 */
static List *
registry_targets(Oid relid, const char *nspname, const char *relname, bool whole_tree)
{
	Oid			types[3] = {NAMEOID, NAMEOID, OIDARRAYOID};
	Datum		vals[3];
	List	   *res = NIL;
	List	   *tree = find_all_inheritors(relid, NoLock, NULL);
	Datum	   *treeoids = palloc(sizeof(Datum) * list_length(tree));
	int			ntree = 0;
	uint64		n;
	SPITupleTable *tt;
	ListCell   *tc;

	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(nspname));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(relname));
	/* with whole_tree, also the tables below protected on their own */
	if (whole_tree)
		foreach(tc, tree)
			treeoids[ntree++] = ObjectIdGetDatum(lfirst_oid(tc));
	vals[2] = PointerGetDatum(construct_array(treeoids, ntree, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	spi_exec_privileged("SELECT schema_name::text, table_name::text, tenant_column::text, tenant_type,"
						"  COALESCE((SELECT pg_catalog.array_agg(k ORDER BY k)"
						"              FROM pg_catalog.jsonb_object_keys(managed OPERATOR(pg_catalog.->) 'policies') k),"
						"           '{}'::text[]),"
						"  COALESCE((managed OPERATOR(pg_catalog.->>) 'enabled_rls')::boolean, false),"
						"  COALESCE((managed OPERATOR(pg_catalog.->>) 'forced_rls')::boolean, false),"
						"  COALESCE((managed OPERATOR(pg_catalog.->>) 'set_default')::boolean, false),"
						"  managed OPERATOR(pg_catalog.->>) 'default_expr',"
						"  COALESCE((managed OPERATOR(pg_catalog.->>) 'set_not_null')::boolean, false),"
						"  COALESCE((managed OPERATOR(pg_catalog.->>) 'audit')::boolean, false),"
						"  global_rows,"
						"  parent_table IS NULL"
						"  AND NOT (schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2)"
						"  FROM tenant_rls.protected_table"
						" WHERE status OPERATOR(pg_catalog.=) 'protected'"
						"   AND ((schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2)"
						"     OR (parent_schema OPERATOR(pg_catalog.=) $1 AND parent_table OPERATOR(pg_catalog.=) $2)"
						"     OR (COALESCE(parent_schema, schema_name), COALESCE(parent_table, table_name)) OPERATOR(pg_catalog.=) ANY"
						"        (SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
						"           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
						"          WHERE c.oid OPERATOR(pg_catalog.=) ANY ($3)))",
						3, types, vals, NULL, true);
	n = SPI_processed;
	tt = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		RegTarget  *t = palloc0(sizeof(RegTarget));
		HeapTuple	tup = tt->vals[i];
		TupleDesc	desc = tt->tupdesc;
		bool		isnull;
		Oid			nsp;
		int			pos;
		ListCell   *lc;

		t->nspname = SPI_getvalue(tup, desc, 1);
		t->relname = SPI_getvalue(tup, desc, 2);
		t->qualname = quote_qualified_identifier(t->nspname, t->relname);
		t->tenant_column = SPI_getvalue(tup, desc, 3);
		t->tenant_type = SPI_getvalue(tup, desc, 4);
		t->policies = text_array_to_list(SPI_getbinval(tup, desc, 5, &isnull));
		t->enabled_rls = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		t->forced_rls = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		t->set_default = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
		t->default_expr = SPI_getvalue(tup, desc, 9);
		t->set_not_null = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		t->audit = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
		t->global_rows = DatumGetBool(SPI_getbinval(tup, desc, 12, &isnull));
		t->own = DatumGetBool(SPI_getbinval(tup, desc, 13, &isnull));
		nsp = get_namespace_oid(t->nspname, true);
		t->relid = OidIsValid(nsp) ? get_relname_relid(t->relname, nsp) : InvalidOid;
		/* tree order; rows no longer in the tree (detached) go last */
		t->order = INT_MAX;
		pos = 0;
		foreach(lc, tree)
		{
			if (lfirst_oid(lc) == t->relid)
			{
				t->order = pos;
				break;
			}
			pos++;
		}
		res = lappend(res, t);
	}
	list_sort(res, cmp_regtarget);
	return res;
}

static void
registry_delete(const char *nspname, const char *relname)
{
	Oid			types[2] = {NAMEOID, NAMEOID};
	Datum		vals[2];

	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(nspname));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(relname));
	spi_exec_privileged("DELETE FROM tenant_rls.protected_table"
						" WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2",
						2, types, vals, NULL, false);
}

static bool
att_notnull(Oid relid, const char *colname)
{
	AttrNumber	attnum = get_attnum(relid, colname);
	HeapTuple	tup;
	bool		res;

	if (attnum <= 0)
		return false;
	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	if (!HeapTupleIsValid(tup))
		return false;
	res = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;
	ReleaseSysCache(tup);
	return res;
}

/*
 * Drop the NOT NULL constraints protect() set (set_not_null) on the targets,
 * parents first.  On a partitioned table with partitions only a recursive
 * DROP NOT NULL is allowed; partitions that had NOT NULL of their own get it
 * back right after.
 */
static void
drop_our_not_null(Runner *r, List *targets)
{
	ListCell   *lc;

	foreach(lc, targets)
	{
		RegTarget  *t = lfirst(lc);
		const char *col = quote_identifier(t->tenant_column);

		if (!OidIsValid(t->relid) || !t->set_not_null || !att_notnull(t->relid, t->tenant_column))
			continue;
		if (get_rel_relkind(t->relid) == RELKIND_PARTITIONED_TABLE &&
			find_inheritance_children(t->relid, NoLock) != NIL)
		{
			List	   *tree = find_all_inheritors(t->relid, NoLock, NULL);
			List	   *restore = NIL;
			ListCell   *kc;

			/* descendants whose NOT NULL is not ours: restore them, children first */
			foreach(kc, tree)
			{
				Oid			kid = lfirst_oid(kc);
				bool		ours = false;
				ListCell   *tc;

				if (kid == t->relid || !att_notnull(kid, t->tenant_column))
					continue;
				foreach(tc, targets)
				{
					RegTarget  *o = lfirst(tc);

					if (o->relid == kid && o->set_not_null)
						ours = true;
				}
				if (!ours)
					restore = lcons_oid(kid, restore);
			}
			run_stmt(r, psprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", t->qualname, col));
			foreach(kc, restore)
				run_stmt(r, psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s SET NOT NULL",
									 tenant_rel_qualname(lfirst_oid(kc)), col));
		}
		else
			run_stmt(r, psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s DROP NOT NULL", t->qualname, col));
	}
}

static char *
current_default_expr(Oid relid, const char *colname)
{
	Oid			types[2] = {OIDOID, INT2OID};
	Datum		vals[2];

	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = Int16GetDatum(get_attnum(relid, colname));
	spi_exec_privileged("SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d"
						" WHERE d.adrelid OPERATOR(pg_catalog.=) $1 AND d.adnum OPERATOR(pg_catalog.=) $2",
						2, types, vals, NULL, true);
	return SPI_processed > 0 ? spi_getstr(0, 1) : NULL;
}

static bool
str_in_list(List *l, const char *s)
{
	ListCell   *lc;

	foreach(lc, l)
		if (strcmp((char *) lfirst(lc), s) == 0)
			return true;
	return false;
}

/* The policies of relid among names, in the order of names. */
static List *
existing_policies(Oid relid, List *names)
{
	Oid			types[2] = {OIDOID, TEXTARRAYOID};
	Datum		vals[2];
	List	   *res = NIL;

	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = names_to_array(names);
	spi_exec_privileged("SELECT polname::text FROM pg_catalog.pg_policy"
						" WHERE polrelid OPERATOR(pg_catalog.=) $1 AND polname::text OPERATOR(pg_catalog.=) ANY ($2)"
						" ORDER BY pg_catalog.array_position($2, polname::text)",
						2, types, vals, NULL, true);
	for (uint64 i = 0; i < SPI_processed; i++)
		res = lappend(res, spi_getstr(i, 1));
	return res;
}

static void
rel_rls_flags(Oid relid, bool *enabled, bool *forced)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	*enabled = ((Form_pg_class) GETSTRUCT(tup))->relrowsecurity;
	*forced = ((Form_pg_class) GETSTRUCT(tup))->relforcerowsecurity;
	ReleaseSysCache(tup);
}

/*
 * tenant_rls.set_tenant_not_null(tbl regclass, tenant_column name): ALTER
 * TABLE tbl ALTER COLUMN tenant_column SET NOT NULL, as lint()'s fix of
 * tenant_column_nullable.  The statement itself is the caller's (who must own
 * the table, or be a superuser), but PostgreSQL folds the IMMUTABLE
 * functions of the table's CHECK constraints while it proves the column not
 * null: written as plain SQL and run by a superuser, the fix ran the table
 * owner's code as that superuser.  Here that code runs as its owner, in a
 * security-restricted operation (owner_code.c), as in protect().
 */
Datum
tenant_rls_set_tenant_not_null(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *colname;
	AttrNumber	attnum;
	char	   *qualname;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table and tenant column must not be null"),
				 errhint("Pass the table and the name of its tenant column.")));
	relid = PG_GETARG_OID(0);
	colname = NameStr(*PG_GETARG_NAME(1));
	/* (also the caller's ownership) */
	lock_checked_table(relid, AccessExclusiveLock, "set the tenant column not null on", "");
	qualname = tenant_rel_qualname(relid);
	attnum = get_attnum(relid, colname);
	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist", colname, qualname),
				 errhint("Pass the table's tenant column.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	exec_statements(list_make1(psprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
										qualname, quote_identifier(colname))),
					false);
	SPI_finish();
	PG_RETURN_VOID();
}

static Datum unprotect_body(PG_FUNCTION_ARGS);

/*
 * Does relid's audit record only some columns (enable_audit() with columns
 * or exclude)?  unprotect() then leaves it: disable_audit() forgets the
 * lists, and a protect() again -- by another tenant column, the documented
 * way -- audited every column, an excluded secret included.
 */
static bool
audit_has_column_lists(Oid relid)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	/* by name, as the trigger finds its row (table_oid may be stale after a restore) */
	values[0] = CStringGetTextDatum(get_namespace_name(get_rel_namespace(relid)));
	values[1] = CStringGetTextDatum(get_rel_name(relid));
	spi_exec_privileged("SELECT 1 FROM tenant_rls.audit_config a"
						" WHERE a.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
						"   AND a.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name"
						"   AND (a.columns IS NOT NULL OR a.exclude IS NOT NULL)",
						2, argtypes, values, NULL, true);
	return SPI_processed > 0;
}

Datum
tenant_rls_unprotect(PG_FUNCTION_ARGS)
{
	return with_latest_registry(unprotect_body, fcinfo);
}

static Datum
unprotect_body(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *nspname;
	char	   *relname;
	char	   *qualname;
	RegRow		reg;
	List	   *targets;
	Runner		r = {NIL};
	MemoryContext outer = CurrentMemoryContext;
	List	   *result = NIL;
	ListCell   *lc;
	Oid			disable_args[1] = {REGCLASSOID};
	bool		can_disable_audit;
	List	   *tree;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null"),
				 errhint("Pass the table to unprotect.")));
	relid = PG_GETARG_OID(0);
	lock_checked_table(relid, AccessExclusiveLock, "unprotect", "");
	tree = find_all_inheritors(relid, AccessExclusiveLock, NULL);
	refuse_detach_pending(tree, "unprotect", "");
	lock_schemas(tree);
	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	qualname = quote_qualified_identifier(nspname, relname);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	check_snapshot_current(tree, qualname);
	reg = registry_get(nspname, relname);
	if (!reg.found || strcmp(reg.status, "protected") != 0)
	{
		if (reg.found)
			ereport(NOTICE,
					(errmsg("table \"%s\" is not protected, nothing to do", qualname),
					 errdetail("It is marked global."),
					 errhint("Use tenant_rls.unmark_global() to remove the mark.")));
		else
			ereport(NOTICE,
					(errmsg("table \"%s\" is not protected, nothing to do", qualname)));
		SPI_finish();
		return_statements(fcinfo, NIL);
		return (Datum) 0;
	}
	refuse_protected_part(&reg, qualname,
						  "Unprotecting one partition or child alone would let its rows be read directly by every tenant.",
						  "Unprotect \"%s\" instead, or detach this table first.");

	targets = registry_targets(relid, nspname, relname, true);

	/*
	 * Protected on its own, then attached below a protected table: without
	 * its policies, queried directly, it would let every tenant read and
	 * change its rows (the parent's policies do not apply there).  Unless it
	 * is protected by another column than that table: the drift guard's
	 * repair is unprotect() then protect() by that column (event_trigger.c).
	 * The same for the tables unprotected with it: an inheritance child may
	 * have another protected parent, outside this tree (review rev36b).
	 */
	{
		List	   *rels = list_make1_oid(relid);
		Oid			anc;
		Oid			below;
		char	   *anccol;

		foreach(lc, targets)
		{
			RegTarget  *t = lfirst(lc);

			if (OidIsValid(t->relid))
				rels = list_append_unique_oid(rels, t->relid);
		}
		if (tenant_protected_above(rels, reg.tenant_column, true, &anc, &below, &anccol))
		{
			if (below == relid)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("table \"%s\" is below protected table \"%s\", so it cannot be unprotected",
								qualname, tenant_rel_qualname(anc)),
						 errdetail("Queried directly, a partition or inheritance child applies only its own policies: without them every tenant could read and change its rows."),
						 errhint("Unprotect %s, which unprotects this table with it, or detach this table first.",
								 quote_literal_cstr(tenant_rel_qualname(anc)))));
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\", below \"%s\", is also below protected table \"%s\", so it cannot be unprotected with it",
							tenant_rel_qualname(below), qualname, tenant_rel_qualname(anc)),
					 errdetail("Queried directly, a partition or inheritance child applies only its own policies: without them every tenant could read and change its rows."),
					 errhint("Take \"%s\" out of one of the two hierarchies first (ALTER TABLE ... NO INHERIT).",
							 tenant_rel_qualname(below))));
		}
	}
	foreach(lc, targets)
	{
		RegTarget  *t = lfirst(lc);

		if (OidIsValid(t->relid) && t->relid != relid && !pg_class_ownercheck(t->relid, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of table \"%s\" to unprotect it", t->qualname),
					 errdetail("It was protected together with \"%s\".", qualname),
					 errhint("Run it as the owner of all these tables or as a superuser.")));
		if (OidIsValid(t->relid))
			LockRelationOid(t->relid, AccessExclusiveLock);
	}

	/* the registry first: the drift guard then sees unmanaged tables */
	foreach(lc, targets)
	{
		RegTarget  *t = lfirst(lc);

		registry_delete(t->nspname, t->relname);
		/* unprotecting it alone is refused while the root is protected */
		if (t->own)
			ereport(NOTICE,
					(errmsg("table \"%s\", protected on its own before it was put below \"%s\", is unprotected with it",
							t->qualname, qualname)));
	}
	grant_caches_stale();
	CommandCounterIncrement();
	/* no protected table may be left below it (event_trigger.c) */
	tenant_check_unprotect_hierarchy(relid);

	can_disable_audit = OidIsValid(audit_function("disable_audit", 1, disable_args));
	foreach(lc, targets)
	{
		RegTarget  *t = lfirst(lc);
		ListCell   *pc;
		bool		enabled,
					forced;

		if (!OidIsValid(t->relid))
			continue;
		if (t->audit && can_disable_audit)
		{
			Oid			trigoid = get_trigger_oid(t->relid, "tenant_rls_audit", true);
			Oid			origin = OidIsValid(trigoid) ? audit_trigger_origin(trigoid, t->relid) : t->relid;

			/*
			 * a partition audited on its own when protected, and since then
			 * through a partitioned table enable_audit() audits: that audit is
			 * the partitioned table's to stop (disable_audit() refuses)
			 */
			if (origin != t->relid)
				ereport(NOTICE,
						(errmsg("table \"%s\" stays audited through its parent \"%s\"", t->qualname,
								quote_qualified_identifier(get_namespace_name(get_rel_namespace(origin)),
														   get_rel_name(origin))),
						 errhint("Call tenant_rls.disable_audit() on the parent, or detach the partition, to stop it.")));
			else if (audit_has_column_lists(t->relid))
				ereport(NOTICE,
						(errmsg("table \"%s\" stays audited: its audit records only some of its columns", t->qualname),
						 errdetail("unprotect() leaves an audit with columns or exclude lists in place, so that protecting the table again (by another tenant column, say) does not start recording the columns left out."),
						 errhint("To stop auditing it, have a role that may run tenant_rls.disable_audit() (a superuser, unless granted) call tenant_rls.disable_audit('%s').", t->qualname)));
			else
				run_stmt_privileged(&r, psprintf("SELECT tenant_rls.disable_audit(%s)", regclass_literal(t->relid)));
		}
		foreach(pc, existing_policies(t->relid, t->policies))
			run_stmt(&r, psprintf("DROP POLICY %s ON %s", quote_identifier((char *) lfirst(pc)), t->qualname));
		rel_rls_flags(t->relid, &enabled, &forced);
		if (t->forced_rls && forced)
			run_stmt(&r, psprintf("ALTER TABLE ONLY %s NO FORCE ROW LEVEL SECURITY", t->qualname));
		if (t->enabled_rls && enabled)
			run_stmt(&r, psprintf("ALTER TABLE ONLY %s DISABLE ROW LEVEL SECURITY", t->qualname));
		if (t->set_default)
		{
			char	   *cur = current_default_expr(t->relid, t->tenant_column);

			if (cur != NULL && t->default_expr != NULL && strcmp(cur, t->default_expr) == 0)
				run_stmt(&r, psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s DROP DEFAULT",
									  t->qualname, quote_identifier(t->tenant_column)));
			else if (cur != NULL)
				ereport(NOTICE,
						(errmsg("default of column \"%s\" of \"%s\" was changed after protect(), so it is kept",
								t->tenant_column, t->qualname)));
		}
	}
	drop_our_not_null(&r, targets);

	{
		MemoryContext old = MemoryContextSwitchTo(outer);

		foreach(lc, r.stmts)
			result = lappend(result, pstrdup((char *) lfirst(lc)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return_statements(fcinfo, result);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * mark_global() / unmark_global()
 * ---------------------------------------------------------------------
 */
static Datum mark_global_body(PG_FUNCTION_ARGS);

Datum
tenant_rls_mark_global(PG_FUNCTION_ARGS)
{
	return with_latest_registry(mark_global_body, fcinfo);
}

static Datum
mark_global_body(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	List	   *tree;
	ListCell   *lc;
	char	   *root_nsp;
	char	   *root_rel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null"),
				 errhint("Pass the table to mark global, e.g. tenant_rls.mark_global('public.countries').")));
	lock_checked_table(relid, ShareUpdateExclusiveLock, "mark", " global");
	tree = find_all_inheritors(relid, ShareUpdateExclusiveLock, NULL);
	refuse_detach_pending(tree, "mark", " global");
	lock_schemas(tree);
	root_nsp = get_namespace_name(get_rel_namespace(relid));
	root_rel = get_rel_name(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	check_snapshot_current(tree, tenant_rel_qualname(relid));

	/*
	 * Not below a protected table: a query on it would return the rows of
	 * this one to the tenant they name, while this one, without policies,
	 * lets whoever may query it read and write every tenant's rows.
	 */
	{
		Oid			anc;

		if (tenant_protected_ancestor(relid, &anc))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" is below protected table \"%s\", so it cannot be marked global",
							tenant_rel_qualname(relid), tenant_rel_qualname(anc)),
					 errdetail("A global table has no tenant policies; the rows of a partition or child are those of its protected parent."),
					 errhint("Protect it with its parent (SELECT tenant_rls.protect(%s);), or detach it first.",
							 quote_literal_cstr(tenant_rel_qualname(anc)))));
	}
	foreach(lc, tree)
	{
		Oid			rel = lfirst_oid(lc);
		RegRow		reg = registry_get_rel(rel);
		Oid			types[5] = {NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID};
		Datum		vals[5];
		char		nulls[6] = "     ";

		if (reg.found && strcmp(reg.status, "protected") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" is protected, so it cannot be marked global", tenant_rel_qualname(rel)),
					 errhint("Run tenant_rls.unprotect() first if the table is really shared by all tenants.")));
		if (reg.found)
		{
			if (rel == relid)
				ereport(NOTICE,
						(errmsg("table \"%s\" is already marked global, nothing to do", tenant_rel_qualname(rel))));
			continue;
		}
		if (rel != relid && !pg_class_ownercheck(rel, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of table \"%s\" to mark it global", tenant_rel_qualname(rel)),
					 errhint("Run it as the owner of the table and its partitions or as a superuser.")));
		vals[0] = DirectFunctionCall1(namein, CStringGetDatum(get_namespace_name(get_rel_namespace(rel))));
		vals[1] = DirectFunctionCall1(namein, CStringGetDatum(get_rel_name(rel)));
		vals[4] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false)));
		if (rel == relid)
		{
			vals[2] = vals[3] = (Datum) 0;
			nulls[2] = nulls[3] = 'n';
		}
		else
		{
			vals[2] = DirectFunctionCall1(namein, CStringGetDatum(root_nsp));
			vals[3] = DirectFunctionCall1(namein, CStringGetDatum(root_rel));
		}
		spi_exec_privileged("INSERT INTO tenant_rls.protected_table"
							" (schema_name, table_name, status, parent_schema, parent_table, protected_by)"
							" VALUES ($1, $2, 'global', $3, $4, $5)",
							5, types, vals, nulls, false);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

static Datum unmark_global_body(PG_FUNCTION_ARGS);

Datum
tenant_rls_unmark_global(PG_FUNCTION_ARGS)
{
	return with_latest_registry(unmark_global_body, fcinfo);
}

static Datum
unmark_global_body(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	RegRow		reg;
	Oid			types[2] = {NAMEOID, NAMEOID};
	Datum		vals[2];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null"),
				 errhint("Pass the table to unmark global, e.g. tenant_rls.unmark_global('public.countries').")));
	lock_checked_table(relid, ShareUpdateExclusiveLock, "unmark", " global");
	lock_schemas(list_make1_oid(relid));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	check_snapshot_current(list_make1_oid(relid), tenant_rel_qualname(relid));
	reg = registry_get_rel(relid);
	if (!reg.found || strcmp(reg.status, "global") != 0)
	{
		ereport(NOTICE,
				(errmsg("table \"%s\" is not marked global, nothing to do", tenant_rel_qualname(relid))));
		SPI_finish();
		PG_RETURN_VOID();
	}
	if (reg.parent_table != NULL && registry_get(reg.parent_schema, reg.parent_table).found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is marked global as part of \"%s\"", tenant_rel_qualname(relid),
						quote_qualified_identifier(reg.parent_schema, reg.parent_table)),
				 errhint("Unmark \"%s\" instead, or detach this table first.",
						 quote_qualified_identifier(reg.parent_schema, reg.parent_table))));
	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(get_namespace_name(get_rel_namespace(relid))));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(get_rel_name(relid)));
	spi_exec_privileged("DELETE FROM tenant_rls.protected_table"
						" WHERE status OPERATOR(pg_catalog.=) 'global'"
						"   AND ((schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2)"
						"     OR (parent_schema OPERATOR(pg_catalog.=) $1 AND parent_table OPERATOR(pg_catalog.=) $2))",
						2, types, vals, NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * allow_global_rows()
 * ---------------------------------------------------------------------
 */
static Datum allow_global_rows_body(PG_FUNCTION_ARGS);

Datum
tenant_rls_allow_global_rows(PG_FUNCTION_ARGS)
{
	return with_latest_registry(allow_global_rows_body, fcinfo);
}

static Datum
allow_global_rows_body(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		enabled;
	List	   *tree;
	RegRow		reg;
	List	   *targets;
	Runner		r = {NIL};
	MemoryContext outer = CurrentMemoryContext;
	List	   *result = NIL;
	ListCell   *lc;
	char	   *qualname;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null"),
				 errhint("Pass the protected table, e.g. tenant_rls.allow_global_rows('public.plans').")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("enabled must not be null"),
				 errhint("Pass true to let every tenant read the rows whose tenant is NULL, false to stop it.")));
	relid = PG_GETARG_OID(0);
	enabled = PG_GETARG_BOOL(1);
	lock_checked_table(relid, AccessExclusiveLock, "change global rows of", "");
	tree = find_all_inheritors(relid, AccessExclusiveLock, NULL);
	qualname = tenant_rel_qualname(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	check_snapshot_current(tree, qualname);
	reg = registry_get_rel(relid);
	if (!reg.found || strcmp(reg.status, "protected") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not protected", qualname),
				 errhint("Protect it first with tenant_rls.protect().")));
	refuse_protected_part(&reg, qualname, NULL,
						  "Change global rows on \"%s\"; it applies to its partitions and children.");
	if (reg.global_rows == enabled)
	{
		ereport(NOTICE,
				(errmsg("global rows of table \"%s\" are already %s, nothing to do",
						qualname, enabled ? "allowed" : "not allowed")));
		SPI_finish();
		return_statements(fcinfo, NIL);
		return (Datum) 0;
	}

	targets = registry_targets(relid, get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid), false);
	foreach(lc, targets)
	{
		RegTarget  *t = lfirst(lc);
		PolicyCtx	p;
		List	   *have;

		if (!OidIsValid(t->relid))
			continue;
		p.col = quote_identifier(t->tenant_column);
		p.ct = coltype_by_name(t->tenant_type);
		p.regclass = regclass_literal(t->relid);
		p.global_rows = enabled;
		/* the read envelope (the guard's) gains / loses "IS NULL" */
		have = existing_policies(t->relid, list_make1(POL_GUARD_SELECT));
		if (str_in_list(have, POL_GUARD_SELECT))
			run_stmt(&r, psprintf("ALTER POLICY %s ON %s USING (%s)",
								  POL_GUARD_SELECT, t->qualname, expr_read_envelope(&p)));
	}

	/* rows without a tenant need a nullable column */
	if (enabled)
	{
		drop_our_not_null(&r, targets);
		if (att_notnull(relid, reg.tenant_column))
			ereport(NOTICE,
					(errmsg("tenant column \"%s\" of \"%s\" is NOT NULL, so it has no global rows yet",
							reg.tenant_column, qualname),
					 errhint("Drop the NOT NULL constraint to store rows that every tenant can read.")));
	}

	foreach(lc, targets)
	{
		RegTarget  *t = lfirst(lc);
		Oid			types[6] = {OIDOID, TEXTARRAYOID, BOOLOID, BOOLOID, NAMEOID, NAMEOID};
		Datum		vals[6];

		/*
		 * Only the guard it rewrote is recorded again: copying every managed
		 * policy as it stands made an edited one the registered version,
		 * and lint() no longer reported it (review rev20e).
		 */
		vals[0] = ObjectIdGetDatum(t->relid);
		vals[1] = names_to_array(str_in_list(t->policies, POL_GUARD_SELECT)
								 ? list_make1(POL_GUARD_SELECT) : NIL);
		vals[2] = BoolGetDatum(enabled);
		vals[3] = BoolGetDatum(enabled ? false : t->set_not_null);
		vals[4] = DirectFunctionCall1(namein, CStringGetDatum(t->nspname));
		vals[5] = DirectFunctionCall1(namein, CStringGetDatum(t->relname));
		spi_exec_privileged("UPDATE tenant_rls.protected_table SET global_rows = $3,"
							"  managed = managed OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
							"   'policies', COALESCE(managed OPERATOR(pg_catalog.->) 'policies', '{}'::pg_catalog.jsonb)"
							"               OPERATOR(pg_catalog.||) " MANAGED_POLICIES_SQL("$1", "$2") ","
							"   'set_not_null', $4)"
							" WHERE schema_name OPERATOR(pg_catalog.=) $5 AND table_name OPERATOR(pg_catalog.=) $6",
							6, types, vals, NULL, false);
	}

	{
		MemoryContext old = MemoryContextSwitchTo(outer);

		foreach(lc, r.stmts)
			result = lappend(result, pstrdup((char *) lfirst(lc)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return_statements(fcinfo, result);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * Cross-tenant grants
 * ---------------------------------------------------------------------
 */

/* the table's tenant type and the canonical form of a tenant value for it */
static const ColType *
grant_table_type(Oid relid, RegRow *reg)
{
	*reg = registry_get_rel(relid);
	if (!reg->found || strcmp(reg->status, "protected") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not protected", tenant_rel_qualname(relid)),
				 errhint("Protect it first with tenant_rls.protect(); grants apply to protected tables only.")));
	return coltype_by_name(reg->tenant_type);
}

static char *
grant_arg(FunctionCallInfo fcinfo, int argno, const char *what, const ColType *ct, Oid relid)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what),
				 errhint("Pass the tenant value, as given to tenant_rls.set_tenant().")));
	return tenant_canonicalize_for(TextDatumGetCString(PG_GETARG_DATUM(argno)), ct->ttype,
								   psprintf("the tenant column of table \"%s\" is %s",
											tenant_rel_qualname(relid), ct->tenant_type));
}

/*
 * Only the owner tenant itself (the current tenant) or the table owner (or a
 * superuser) may grant access to the owner tenant's rows, or revoke it.
 * Returns true when the caller is admitted as the owner tenant, not as the
 * table owner.
 */
static bool
check_grantor(Oid relid, const char *owner_c, const ColType *ct, const char *what,
			  bool want_write)
{
	const char *cur = tenant_context_get();

	if (pg_class_ownercheck(relid, GetUserId()))
		return false;
	/*
	 * The context as it is, not canonicalised: '0042' (or an upper-case uuid)
	 * set as a text tenant is another tenant than 42, whose rows the typed
	 * accessors refuse to read for it (review rev40a: it granted 42's rows
	 * away).  owner_c is canonical.
	 */
	if (cur != NULL && strcmp(cur, owner_c) == 0)
	{
		/*
		 * Admitted as the owner tenant, the session's role must itself hold
		 * the table privileges the grant hands on (review rev49b: a role
		 * without any privilege on the table granted the tenant's rows of it
		 * to another tenant, whose sessions of a role that may read it then
		 * read and changed them): SELECT for 'read', SELECT, INSERT, UPDATE
		 * and DELETE for 'write', SELECT for a revoke (what a grant or
		 * revoke of the table's rows may touch).
		 */
		AclMode		need = ACL_SELECT |
			(want_write ? (ACL_INSERT | ACL_UPDATE | ACL_DELETE) : 0);

		if (pg_class_aclmask(relid, GetUserId(), need, ACLMASK_ALL) != need)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to %s access to the rows of table \"%s\"",
							what, tenant_rel_qualname(relid)),
					 want_write ?
					 errdetail("A tenant session may grant write access to a table's rows only if its role may select from, insert into, update and delete from the table.") :
					 errdetail("A tenant session may %s access to a table's rows only if its role may select from the table.", what),
					 errhint("Run it as a role that holds those privileges on the table, or as the table owner.")));
		return true;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("only tenant \"%s\" or the owner of table \"%s\" may %s access to its rows",
					owner_c, tenant_rel_qualname(relid), what),
			 errhint("Set the owner tenant first (tenant_rls.set_tenant(), or tenant_rls.set_tenant_signed() under strict mode), or run it as the table owner.")));
	return false;				/* keep compiler quiet */
}

static bool current_user_is_admin(void);

/*
 * locktag_field4 of the grant limit's advisory-type lock (user advisory
 * locks use 1 and 2, the audit chains 0x7472)
 */
#define TENANT_RLS_LOCK_GRANTS	0x7467

/*
 * A tenant session may hold at most tenant_rls.max_grants_per_table grants of
 * its rows of one table: a tenant creating grants without end would slow
 * down every tenant that uses the table.  A lock per owner tenant, held to
 * the end of the transaction, makes the grant changes of a tenant's
 * concurrent sessions (grants and revokes, on any table) happen one after
 * the other: taken first, before any row of tenant_rls.tenant_grant is read
 * or locked (review rev48h: taken only before a new grant, after a revoke had
 * locked a row, it deadlocked with another transaction of the tenant; per
 * table too, two transactions granting on two tables in opposite orders
 * deadlocked, review rev48e).  classid and objid are an unkeyed 64-bit hash
 * of the tenant: whoever reads pg_locks and guesses tenant ids can tell
 * which one is changing its grants; PostgreSQL offers no secret every backend
 * shares without preloading to key it with (review rev40g).  Not taken where
 * the limit does not apply: the table owner, administrators, no limit.
 */
static bool
grant_limit_applies(bool by_tenant)
{
	return by_tenant && tenant_rls_max_grants_per_table > 0 && !current_user_is_admin();
}

static void
grant_tenant_lock(const char *owner_c)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) owner_c, strlen(owner_c), 0);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, TENANT_RLS_LOCK_GRANTS);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * The count, after grant_tenant_lock(), read with the latest snapshot (the
 * grants and revokes a concurrent transaction committed count, also in a
 * REPEATABLE READ transaction): the grant exists (a new valid_until adds
 * nothing), or there is room for it.  (review rev48h: whether it existed was
 * read with the statement's snapshot, before the lock; a grant revoked by a
 * transaction that committed meanwhile was made again without a count.)
 */
static void
check_grant_limit(Oid relid, Datum *vals, Oid *types, const char *owner_c)
{
	int64		count;
	int64		same;
	bool		isnull;

	PushActiveSnapshot(GetLatestSnapshot());
	spi_exec_privileged("SELECT pg_catalog.count(*),"
						"       pg_catalog.count(*) FILTER (WHERE grantee_tenant OPERATOR(pg_catalog.=) $4"
						"                                      AND privilege OPERATOR(pg_catalog.=) $5)"
						"  FROM tenant_rls.tenant_grant"
						" WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2"
						"   AND owner_tenant OPERATOR(pg_catalog.=) $3",
						5, types, vals, NULL, true);
	PopActiveSnapshot();
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	same = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (same == 0 && count >= tenant_rls_max_grants_per_table)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many grants from tenant \"%s\" on table \"%s\"",
						owner_c, tenant_rel_qualname(relid)),
				 errdetail("Tenant \"%s\" has %lld grants on this table, and tenant_rls.max_grants_per_table allows %d.",
						   owner_c, (long long) count, tenant_rls_max_grants_per_table),
				 errhint("Revoke grants it no longer needs with tenant_rls.revoke_access(), or ask an administrator to raise tenant_rls.max_grants_per_table.")));
}

/* The table argument (first) of grant_access() / revoke_access(). */
static Oid
grant_table_arg(FunctionCallInfo fcinfo)
{
	Oid			relid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null"),
				 errhint("Pass the protected table the grant is for.")));
	relid = PG_GETARG_OID(0);
	if (get_rel_relkind(relid) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("Pass the name of an existing protected table.")));
	return relid;
}

/* 'read' or 'write'; anything else is an error.  Returns: is it 'write'? */
static bool
privilege_is_write(const char *priv)
{
	if (strcmp(priv, "read") != 0 && strcmp(priv, "write") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown privilege \"%s\"", priv),
				 errhint("Use 'read' (see the rows) or 'write' (see, insert, update and delete them).")));
	return strcmp(priv, "write") == 0;
}

static char *
grant_privilege_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *priv;

	if (PG_ARGISNULL(argno))
		return NULL;
	priv = TextDatumGetCString(PG_GETARG_DATUM(argno));
	(void) privilege_is_write(priv);
	return priv;
}

Datum
tenant_rls_grant_access(PG_FUNCTION_ARGS)
{
	Oid			relid;
	RegRow		reg;
	const ColType *ct;
	char	   *owner_c;
	char	   *grantee_c;
	char	   *priv;
	bool		by_tenant;
	bool		limited;
	Oid			types[7] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, NAMEOID};
	Datum		vals[7];
	char		nulls[8] = "       ";

	relid = grant_table_arg(fcinfo);
	priv = grant_privilege_arg(fcinfo, 3);
	if (priv == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("privilege must not be null"),
				 errhint("Use 'read' or 'write'.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	ct = grant_table_type(relid, &reg);

	/*
	 * A grant on a partition or child protected with its parent would apply
	 * to it only where it is queried by its own name: the same rows would
	 * read differently through the parent (review rev48c).  As for global
	 * rows, the grant is made on the table protect() was called on.
	 */
	refuse_protected_part(&reg, tenant_rel_qualname(relid),
						  "A grant on it alone would apply only where it is queried by its own name, not through \"%s\".",
						  "Grant access on \"%s\": it applies to its partitions and children.");
	owner_c = grant_arg(fcinfo, 1, "owner tenant", ct, relid);
	grantee_c = grant_arg(fcinfo, 2, "grantee tenant", ct, relid);
	if (strcmp(owner_c, grantee_c) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("owner and grantee tenant are the same: \"%s\"", owner_c),
				 errhint("A tenant always has access to its own rows.")));
	by_tenant = check_grantor(relid, owner_c, ct, "grant", privilege_is_write(priv));
	limited = grant_limit_applies(by_tenant);
	if (limited)
		grant_tenant_lock(owner_c);
	if (!PG_ARGISNULL(4) && PG_GETARG_TIMESTAMPTZ(4) <= GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be in the future"),
				 errhint("Pass a later time, or NULL for a grant that lasts until it is revoked.")));

	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(get_namespace_name(get_rel_namespace(relid))));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(get_rel_name(relid)));
	vals[2] = CStringGetTextDatum(owner_c);
	vals[3] = CStringGetTextDatum(grantee_c);
	vals[4] = CStringGetTextDatum(priv);
	if (PG_ARGISNULL(4))
	{
		vals[5] = (Datum) 0;
		nulls[5] = 'n';
	}
	else
		vals[5] = PG_GETARG_DATUM(4);
	vals[6] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false)));

	/*
	 * The same grant again (same valid_until) changes nothing: no write, so
	 * the grants trigger does not fire and no backend drops its caches.
	 */
	spi_exec_privileged("SELECT g.valid_until IS NOT DISTINCT FROM $6"
						"  FROM tenant_rls.tenant_grant g"
						" WHERE g.schema_name OPERATOR(pg_catalog.=) $1 AND g.table_name OPERATOR(pg_catalog.=) $2"
						"   AND g.owner_tenant OPERATOR(pg_catalog.=) $3 AND g.grantee_tenant OPERATOR(pg_catalog.=) $4"
						"   AND g.privilege OPERATOR(pg_catalog.=) $5",
						6, types, vals, nulls, false);
	if (SPI_processed == 1)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		{
			SPI_finish();
			PG_RETURN_VOID();
		}
	}
	if (limited)
		check_grant_limit(relid, vals, types, owner_c);
	spi_exec_privileged("INSERT INTO tenant_rls.tenant_grant AS g"
						" (schema_name, table_name, owner_tenant, grantee_tenant, privilege, valid_until, granted_by)"
						" VALUES ($1, $2, $3, $4, $5, $6, $7)"
						" ON CONFLICT (schema_name, table_name, owner_tenant, grantee_tenant, privilege)"
						" DO UPDATE SET valid_until = EXCLUDED.valid_until, granted_at = pg_catalog.now(),"
						"               granted_by = EXCLUDED.granted_by",
						7, types, vals, nulls, false);
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
tenant_rls_revoke_access(PG_FUNCTION_ARGS)
{
	Oid			relid;
	RegRow		reg;
	const ColType *ct;
	char	   *owner_c;
	char	   *grantee_c;
	char	   *priv;
	Oid			types[5] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		vals[5];
	char		nulls[6] = "     ";
	uint64		n;

	relid = grant_table_arg(fcinfo);
	priv = grant_privilege_arg(fcinfo, 3);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	ct = grant_table_type(relid, &reg);
	owner_c = grant_arg(fcinfo, 1, "owner tenant", ct, relid);
	grantee_c = grant_arg(fcinfo, 2, "grantee tenant", ct, relid);
	if (grant_limit_applies(check_grantor(relid, owner_c, ct, "revoke", false)))
		grant_tenant_lock(owner_c);

	vals[0] = DirectFunctionCall1(namein, CStringGetDatum(get_namespace_name(get_rel_namespace(relid))));
	vals[1] = DirectFunctionCall1(namein, CStringGetDatum(get_rel_name(relid)));
	vals[2] = CStringGetTextDatum(owner_c);
	vals[3] = CStringGetTextDatum(grantee_c);
	if (priv)
		vals[4] = CStringGetTextDatum(priv);
	else
	{
		vals[4] = (Datum) 0;
		nulls[4] = 'n';
	}
	/*
	 * Nothing to revoke: no DELETE, so the grants trigger does not fire (a
	 * tenant looping on a revoke of nothing made every backend drop its
	 * caches and plans at each call).
	 */
	spi_exec_privileged("SELECT 1 FROM tenant_rls.tenant_grant"
						" WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2"
						"   AND owner_tenant OPERATOR(pg_catalog.=) $3 AND grantee_tenant OPERATOR(pg_catalog.=) $4"
						"   AND ($5::text IS NULL OR privilege OPERATOR(pg_catalog.=) $5)"
						" LIMIT 1",
						5, types, vals, nulls, false);
	n = 0;
	if (SPI_processed > 0)
	{
		spi_exec_privileged("DELETE FROM tenant_rls.tenant_grant"
							" WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2"
							"   AND owner_tenant OPERATOR(pg_catalog.=) $3 AND grantee_tenant OPERATOR(pg_catalog.=) $4"
							"   AND ($5::text IS NULL OR privilege OPERATOR(pg_catalog.=) $5)",
							5, types, vals, nulls, false);
		n = SPI_processed;
	}
	if (n == 0 && priv)
		ereport(NOTICE,
				(errmsg("tenant \"%s\" had no %s grant from tenant \"%s\" on table \"%s\", nothing to do",
						grantee_c, priv, owner_c, tenant_rel_qualname(relid))));
	else if (n == 0)
		ereport(NOTICE,
				(errmsg("tenant \"%s\" had no grant from tenant \"%s\" on table \"%s\", nothing to do",
						grantee_c, owner_c, tenant_rel_qualname(relid))));
	SPI_finish();
	PG_RETURN_INT32((int32) n);
}

/*
 * Invalidate, in every backend at commit, the relcache of each table the
 * grants in the trigger's transition tables cover (the named table and the
 * children protected with it, as GRANT_COVERS maps them): plans that folded
 * "no grants" for it depend on it, and the grant cache drops its entries
 * (grant_cache_inval()).
 */
static void
invalidate_granted_tables(TriggerData *trigdata)
{
	Trigger    *trig = trigdata->tg_trigger;
	StringInfoData sql;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "tenant_rls: SPI_register_trigger_data failed");
	initStringInfo(&sql);
	appendStringInfoString(&sql, "WITH g AS (");
	if (trigdata->tg_oldtable != NULL)
		appendStringInfo(&sql, "SELECT schema_name, table_name FROM %s",
						 quote_identifier(trig->tgoldtable));
	if (trigdata->tg_oldtable != NULL && trigdata->tg_newtable != NULL)
		appendStringInfoString(&sql, " UNION ");
	if (trigdata->tg_newtable != NULL)
		appendStringInfo(&sql, "SELECT schema_name, table_name FROM %s",
						 quote_identifier(trig->tgnewtable));
	appendStringInfoString(&sql,
						   ")"
						   " SELECT c.oid FROM g"
						   "  JOIN tenant_rls.protected_table p"
						   "    ON (p.schema_name OPERATOR(pg_catalog.=) g.schema_name"
						   "        AND p.table_name OPERATOR(pg_catalog.=) g.table_name)"
						   "    OR (p.parent_schema OPERATOR(pg_catalog.=) g.schema_name"
						   "        AND p.parent_table OPERATOR(pg_catalog.=) g.table_name)"
						   "  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) p.schema_name"
						   "  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid"
						   "                            AND c.relname OPERATOR(pg_catalog.=) p.table_name"
						   " UNION"
						   " SELECT c.oid FROM g"
						   "  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) g.schema_name"
						   "  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid"
						   "                            AND c.relname OPERATOR(pg_catalog.=) g.table_name");
	spi_exec_privileged(sql.data, 0, NULL, NULL, NULL, false);
	/* before SPI_finish(), which frees the result */
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		CacheInvalidateRelcacheByRelid(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	   SPI_tuptable->tupdesc, 1, &isnull)));
	}
	SPI_finish();
}

/* a transition table that is there and holds a row */
static bool
transition_rows(Tuplestorestate *ts)
{
	return ts != NULL && tuplestore_tuple_count(ts) > 0;
}

/*
 * Statement triggers on tenant_rls.tenant_grant: each backend drops its grant
 * cache and the cached plans of the tables the changed grants cover, at
 * commit (what the planner read for exception_allows*() must never be
 * stale).  A statement that changed no row invalidates nothing; TRUNCATE (or
 * a trigger without transition tables) invalidates every relcache.  On any
 * other table it refuses to run: it would let anybody flush other backends'
 * caches with each statement.
 */
Datum
tenant_rls_grants_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.grants_changed() must be called as a trigger"),
				 errhint("It is the trigger of tenant_rls.tenant_grant; change grants with tenant_rls.grant_access() and tenant_rls.revoke_access().")));
	rel = trigdata->tg_relation;
	if (strcmp(get_namespace_name(RelationGetNamespace(rel)), TENANT_RLS_SCHEMA) != 0 ||
		strcmp(RelationGetRelationName(rel), "tenant_grant") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenant_rls.grants_changed() may only be used as a trigger on tenant_rls.tenant_grant"),
				 errdetail("It was fired on table \"%s\".",
						   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													  RelationGetRelationName(rel))),
				 errhint("Drop the trigger.")));
	/*
	 * The triggers for replica mode (tenant_grant_replicated*, ENABLE
	 * ALWAYS): the others do not fire there, and the apply worker of a
	 * subscriber fires no statement trigger for row changes (review rev45e).
	 * Outside it, the others do the work.
	 */
#define REPLICA_TRIGGER_PREFIX "tenant_grant_replicated"
	if (strncmp(trigdata->tg_trigger->tgname, REPLICA_TRIGGER_PREFIX, strlen(REPLICA_TRIGGER_PREFIX)) == 0 &&
		SessionReplicationRole != SESSION_REPLICATION_ROLE_REPLICA)
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		(trigdata->tg_oldtable == NULL && trigdata->tg_newtable == NULL))
		CacheInvalidateRelcacheAll();
	else if (transition_rows(trigdata->tg_oldtable) || transition_rows(trigdata->tg_newtable))
		invalidate_granted_tables(trigdata);
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * The grant cache, per protected table and grantee, read on demand: for
 * each table a backend plans or runs a query on, whether any grant covers
 * it (a grant on the table itself or on the parent it was protected with),
 * and for each grantee tenant asked about, the grants it holds there.  An
 * invalidation of a table's relcache drops its entry: the grants trigger
 * sends one for each table a changed grant covers, so a grant change costs
 * the other backends a new read of that table's entries only, and a
 * grantee's grants are read only by the backends that serve it.  An
 * invalidation of the grants table's relcache (protect() and unprotect(),
 * which change the tables a grant covers) or of all relcaches (TRUNCATE)
 * drops everything.
 *
 * The grants are read with the latest snapshot, not the transaction's: a
 * REPEATABLE READ transaction that processes the invalidation of a revoke
 * must not read the revoked grant from its old snapshot and keep it, valid,
 * for the rest of the session.  A commit becomes visible to new snapshots
 * before its invalidation is sent, and a read is kept only when no
 * invalidation of its table arrived between the start of the read and its
 * end, so any change the snapshot misses drops the entry again.  In parallel
 * mode (a parallel worker, or the leader while workers run) GetLatestSnapshot()
 * is refused, and the query's snapshot is the transaction's in REPEATABLE
 * READ: a worker, whose cache starts empty, honoured a grant revoked after
 * the transaction began (review rev21b).  There the grants are read with a
 * fresh snapshot taken for them, as for a catalog lookup: GetCatalogSnapshot()
 * of a table that is not a catalog takes a new one every time (workers take
 * those for their catalog lookups anyway).
 * ---------------------------------------------------------------------
 */
typedef struct GrantEntry
{
	char	   *owner;
	bool		write;
	bool		has_until;
	TimestampTz valid_until;
} GrantEntry;

/* the grants of one table to one grantee, by owner */
typedef struct GrantSet
{
	struct GrantSet *next;
	char	   *grantee;
	int			count;
	GrantEntry *entries;
} GrantSet;

typedef struct GrantTable
{
	Oid			relid;			/* hash key */
	bool		has_grants;
	int			nsets;
	GrantSet   *sets;
	/*
	 * Every grantee of the table, sorted bytewise (strcmp), when there are
	 * at most GRANTEES_MAX: a tenant not among them has no grant there, with
	 * no read of its own.  (Most tenants of a table with a grant have none;
	 * each of them read the grants at every plan and scan once the sets
	 * below were full -- review rev25c.)
	 */
	bool		grantees_known;
	int			ngrantees;
	char	  **grantees;
} GrantTable;

#define GRANTEES_MAX	4096

/* what a tenant that is no grantee of a table gets */
static GrantSet no_grants = {NULL, "", 0, NULL};

/*
 * grantees kept per table, most recently used first (a pooled backend serves
 * many tenants; each one's set, empty for most, saves a read of the grants
 * at every plan and scan): past that, the least recently used goes.  (It
 * was 64, all dropped at once when full: a backend serving more tenants read
 * the grants again almost every time -- review rev25c.)
 */
#define GRANT_SETS_MAX	256

static MemoryContext grant_cxt = NULL;
static HTAB *grant_tables = NULL;
static bool grant_cache_older = false;	/* something was read with an older snapshot */
static Oid	grant_reading_relid = InvalidOid;	/* a read of this table runs */
static bool grant_reading_invalidated = false;	/* ... and it was invalidated */
static Oid	grant_table_oid = InvalidOid;
static uint64 grant_cache_generation = 0;	/* bumped at each read and drop */
static uint64 grant_unkept_reads = 0;	/* reads invalidated while they ran */
static bool callbacks_registered = false;

static void
grant_set_free(GrantSet *s)
{
	for (int i = 0; i < s->count; i++)
		pfree(s->entries[i].owner);
	if (s->entries != NULL)
		pfree(s->entries);
	pfree(s->grantee);
	pfree(s);
}

/* what an entry holds (before it is removed) */
static void
grant_table_free(GrantTable *t)
{
	while (t->sets != NULL)
	{
		GrantSet   *next = t->sets->next;

		grant_set_free(t->sets);
		t->sets = next;
	}
	t->nsets = 0;
	for (int i = 0; i < t->ngrantees; i++)
		pfree(t->grantees[i]);
	if (t->grantees != NULL)
		pfree(t->grantees);
	t->grantees = NULL;
	t->ngrantees = 0;
}

static void
grant_cache_drop_all(void)
{
	if (grant_cxt != NULL)
		MemoryContextReset(grant_cxt);	/* the hash table's context too */
	grant_tables = NULL;
	grant_cache_older = false;
	grant_cache_generation++;
}

static void
grant_cache_inval(Datum arg, Oid relid)
{
	bool		all = !OidIsValid(relid) || relid == grant_table_oid;

	if (OidIsValid(grant_reading_relid) && (all || relid == grant_reading_relid))
		grant_reading_invalidated = true;
	if (all)
		grant_cache_drop_all();
	else if (grant_tables != NULL)
	{
		GrantTable *t = hash_search(grant_tables, &relid, HASH_FIND, NULL);

		if (t != NULL)
		{
			grant_table_free(t);
			hash_search(grant_tables, &relid, HASH_REMOVE, NULL);
			grant_cache_generation++;
		}
	}
}

/* protect() / unprotect() changed the registry: grant caches must reload */
static void
grant_caches_stale(void)
{
	Oid			nsp = get_namespace_oid(TENANT_RLS_SCHEMA, false);
	Oid			rel = get_relname_relid("tenant_grant", nsp);

	if (OidIsValid(rel))
		CacheInvalidateRelcacheByRelid(rel);
}

/*
 * What was read with an older snapshot (parallel mode: the query's) never
 * outlives its transaction; neither does anything read in an aborted one.
 */
static void
grant_cache_xact(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (grant_cache_older)
				grant_cache_drop_all();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			grant_cache_drop_all();
			break;
		default:
			break;
	}
}

/* role membership or roles changed: cached plans may have folded is_admin */
static void
roles_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	ResetPlanCache();
}

/* the hash of MyDatabaseId in DATABASEOID, 0 while unknown */
static uint32 database_hash = 0;

/*
 * The database's owner has the privileges of pg_database_owner (review
 * rev45d): a change of this database's row (not of another's: VACUUM
 * updates their rows too) counts as a change of roles.  The hash is taken in
 * register_callbacks(), inside a transaction: a callback may run where no
 * catalog may be opened (at the start of the transaction in which an exiting
 * backend drops its temporary schema), and the first hash of a cache opens
 * its catalog.
 */
static void
database_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	if (hashvalue == 0 || database_hash == 0 || hashvalue == database_hash)
		ResetPlanCache();
}

static void
register_callbacks(void)
{
	if (database_hash == 0 && OidIsValid(MyDatabaseId) && IsTransactionState())
		database_hash = GetSysCacheHashValue1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(grant_cache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, roles_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, roles_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(DATABASEOID, database_changed, (Datum) 0);
	RegisterXactCallback(grant_cache_xact, NULL);
	callbacks_registered = true;
}

/* the join from a grant to the protected tables it covers, c being the table */
#define GRANT_COVERS \
	"  FROM tenant_rls.tenant_grant g" \
	"  JOIN tenant_rls.protected_table p" \
	"    ON (p.schema_name OPERATOR(pg_catalog.=) g.schema_name" \
	"        AND p.table_name OPERATOR(pg_catalog.=) g.table_name)" \
	"    OR (p.parent_schema OPERATOR(pg_catalog.=) g.schema_name" \
	"        AND p.parent_table OPERATOR(pg_catalog.=) g.table_name)" \
	"  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) p.schema_name" \
	"  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid" \
	"                            AND c.relname OPERATOR(pg_catalog.=) p.table_name" \
	" WHERE p.status OPERATOR(pg_catalog.=) 'protected' AND c.oid OPERATOR(pg_catalog.=) $1"

/*
 * Read the grants covering relid (to grantee, or whether there is any when
 * grantee is NULL) with the snapshot described above.  Returns whether the
 * result may be kept; *has or *set (allocated in grant_cxt when it may be
 * kept, else in the caller's context) get the result.
 */
static bool
grant_read(Oid relid, const char *grantee, bool *has, GrantSet **set,
		   char ***grantees, int *ngrantees)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		vals[2];
	bool		latest = !IsInParallelMode();
	bool		keep;

	register_callbacks();
	grant_table_oid = get_relname_relid("tenant_grant", get_namespace_oid(TENANT_RLS_SCHEMA, false));
	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = grantee != NULL ? CStringGetTextDatum(grantee) : (Datum) 0;
	/* from here on, an invalidation of relid means: do not keep */
	grant_reading_relid = relid;
	grant_reading_invalidated = false;
	if (latest)
		PushActiveSnapshot(GetLatestSnapshot());
	else
		PushActiveSnapshot(GetCatalogSnapshot(grant_table_oid));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_rls: SPI_connect failed");
	PG_TRY();
	{
		if (grantee == NULL)
			spi_exec_privileged("SELECT DISTINCT g.grantee_tenant COLLATE pg_catalog.\"C\" AS grantee"
								GRANT_COVERS
								" ORDER BY 1 LIMIT " CppAsString2(GRANTEES_MAX) " + 1",
								1, types, vals, NULL, true);
		else
			spi_exec_privileged("SELECT g.owner_tenant, g.privilege OPERATOR(pg_catalog.=) 'write', g.valid_until"
								GRANT_COVERS
								"   AND g.grantee_tenant OPERATOR(pg_catalog.=) $2"
								" ORDER BY g.owner_tenant COLLATE pg_catalog.\"C\"",
								2, types, vals, NULL, true);
	}
	PG_CATCH();
	{
		grant_reading_relid = InvalidOid;
		PG_RE_THROW();
	}
	PG_END_TRY();
	/* nothing below processes invalidations */
	keep = !grant_reading_invalidated;
	grant_reading_relid = InvalidOid;
	if (grantee == NULL)
	{
		uint64		n = SPI_processed;

		*has = n > 0;
		*grantees = NULL;
		*ngrantees = -1;		/* too many to list */
		if (n <= GRANTEES_MAX)
		{
			MemoryContext old = MemoryContextSwitchTo(keep ? grant_cxt : caller);

			*grantees = n > 0 ? palloc(sizeof(char *) * n) : NULL;
			for (uint64 i = 0; i < n; i++)
				(*grantees)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			*ngrantees = (int) n;
			MemoryContextSwitchTo(old);
		}
	}
	else
	{
		uint64		n = SPI_processed;
		MemoryContext old = MemoryContextSwitchTo(keep ? grant_cxt : caller);
		GrantSet   *s = palloc0(sizeof(GrantSet));

		s->grantee = pstrdup(grantee);
		s->count = (int) n;
		s->entries = n > 0 ? palloc0(sizeof(GrantEntry) * n) : NULL;
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			GrantEntry *e = &s->entries[i];
			bool		isnull;
			Datum		d;

			e->owner = SPI_getvalue(tup, desc, 1);
			e->write = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
			d = SPI_getbinval(tup, desc, 3, &isnull);
			e->has_until = !isnull;
			e->valid_until = isnull ? 0 : DatumGetTimestampTz(d);
		}
		MemoryContextSwitchTo(old);
		*set = s;
	}
	SPI_finish();
	PopActiveSnapshot();
	if (keep && !latest)
		grant_cache_older = true;
	if (!keep)
		grant_unkept_reads++;
	grant_cache_generation++;
	return keep;
}

static void
grant_cxt_ensure(void)
{
	if (grant_cxt == NULL)
		grant_cxt = AllocSetContextCreate(TopMemoryContext, "tenant_rls grants", ALLOCSET_SMALL_SIZES);
}

/* the cache entry of relid, created (has_grants read) if missing; NULL: not kept, *has says */
static GrantTable *
grant_table_get(Oid relid, bool *has)
{
	GrantTable *t;
	bool		found;
	char	  **grantees;
	int			ngrantees;

	if (grant_tables != NULL &&
		(t = hash_search(grant_tables, &relid, HASH_FIND, NULL)) != NULL)
	{
		*has = t->has_grants;
		return t;
	}
	grant_cxt_ensure();
	if (!grant_read(relid, NULL, has, NULL, &grantees, &ngrantees))
		return NULL;
	if (grant_tables == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(GrantTable);
		ctl.hcxt = grant_cxt;
		grant_tables = hash_create("tenant_rls grants by table", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	t = hash_search(grant_tables, &relid, HASH_ENTER, &found);
	if (!found)
	{
		t->nsets = 0;
		t->sets = NULL;
	}
	t->has_grants = *has;
	t->grantees_known = ngrantees >= 0;
	t->ngrantees = Max(ngrantees, 0);
	t->grantees = grantees;
	return t;
}

static bool
table_has_grants(Oid relid)
{
	bool		has;

	(void) grant_table_get(relid, &has);
	return has;
}

static int
grantee_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* the grants of relid to grantee, read if not cached */
static GrantSet *
grant_set_get(Oid relid, const char *grantee)
{
	GrantTable *t;
	GrantSet   *s;
	bool		has;

	grant_cxt_ensure();
	t = grant_table_get(relid, &has);
	if (!has)
		return NULL;
	if (t != NULL && t->grantees_known &&
		bsearch(&grantee, t->grantees, t->ngrantees, sizeof(char *), grantee_cmp) == NULL)
		return &no_grants;
	if (t != NULL)
	{
		GrantSet  **prev = &t->sets;

		for (s = t->sets; s != NULL; prev = &s->next, s = s->next)
			if (strcmp(s->grantee, grantee) == 0)
			{
				*prev = s->next;
				s->next = t->sets;
				t->sets = s;
				return s;
			}
	}
	if (!grant_read(relid, grantee, &has, &s, NULL, NULL))
		return s;				/* in the caller's context, not kept */
	/* the read may have dropped the table's entry: look it up again */
	t = grant_tables != NULL ? hash_search(grant_tables, &relid, HASH_FIND, NULL) : NULL;
	if (t == NULL)
	{
		/* kept in grant_cxt but not attached: a copy for the caller would do; free at the next drop */
		return s;
	}
	if (t->nsets >= GRANT_SETS_MAX)
	{
		/* the least recently used goes */
		GrantSet  **last = &t->sets;

		while ((*last)->next != NULL)
			last = &(*last)->next;
		grant_set_free(*last);
		*last = NULL;
		t->nsets--;
	}
	s->next = t->sets;
	t->sets = s;
	t->nsets++;
	return s;
}

/*
 * A revoke committed by another session (of a grant, or of membership in the
 * admin role) applies from this session's next statement.  PostgreSQL reads
 * other sessions' invalidations when a statement takes a lock it does not
 * hold yet; an EXECUTE of a prepared statement (or a function's cached plan)
 * in a transaction that already holds its locks takes none, and went on with
 * the cached grants and role memberships until the transaction ended
 * (review rev31c).  So they are read here, once per statement, before the
 * exceptions are decided (cheap when there are none: one unlocked flag).
 */
static void
exceptions_accept_invalidations(void)
{
	static TimestampTz last_stmt = 0;
	static LocalTransactionId last_lxid = InvalidLocalTransactionId;
	TimestampTz stmt = GetCurrentStatementStartTimestamp();

	if (stmt == last_stmt && MyProc->lxid == last_lxid)
		return;
	last_stmt = stmt;
	last_lxid = MyProc->lxid;
	AcceptInvalidationMessages();
}

/*
 * The time grants are in force at: the start of the statement, or of the
 * transaction when it began later -- a transaction that a procedure started
 * (CALL ... COMMIT), whose statements all share the CALL's start (review
 * rev37b L1: a batch procedure kept an expired grant for as long as it ran).
 */
static TimestampTz
grant_clock(void)
{
	return Max(GetCurrentStatementStartTimestamp(), GetCurrentTransactionStartTimestamp());
}

/*
 * A grant's owner tenant is stored in the canonical form of the table's
 * tenant type; a granted_tenants_*() or exception_allows_*() of another type
 * called by hand on the table (granted_tenants_int() on a text table) fails
 * to convert it.  PostgreSQL's input error then says which function to call.
 */
typedef struct GrantedTypeErrorArg
{
	Oid			relid;
	Oid			elemtype;
} GrantedTypeErrorArg;

static void
granted_type_error_callback(void *arg)
{
	GrantedTypeErrorArg *a = (GrantedTypeErrorArg *) arg;
	int			code = geterrcode();
	char	   *relname;

	/*
	 * Only for the input function's own conversion errors: the catalog
	 * look-ups below have no place in, say, an out-of-memory error or a
	 * query cancel (review rev49f).
	 */
	if (code != ERRCODE_INVALID_TEXT_REPRESENTATION &&
		code != ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE)
		return;
	relname = get_rel_name(a->relid);
	errcontext("reading the tenants granted on table \"%s\" as %s: call the granted_tenants or exception_allows function of the table's tenant type",
			   relname != NULL ? relname : "?", format_type_be(a->elemtype));
}

/*
 * The owner tenants that granted the current tenant 'read' (read or write
 * grants) or 'write' on relid, in force now (valid_until after
 * grant_clock()), as datums of elemtype (uuid, bigint, integer or text);
 * *n is set to their number.  Only grants whose grantee is the current
 * tenant are ever returned.  Grants are stored canonical; the context is
 * compared as it is: a context not in the element type's canonical form
 * ('0042', an upper-case uuid: another tenant than 42 in text columns, which
 * the typed accessors refuse) holds no grant of a typed table (review
 * rev40a: it learnt tenant 42's grants).
 */
static Datum *
granted_tenant_datums(Oid relid, bool want_write, Oid elemtype, int *n)
{
	const char *cur = tenant_context_get();
	Oid			infunc;
	Oid			ioparam;
	Datum	   *elems;
	GrantSet   *s;
	TimestampTz now = grant_clock();
	GrantedTypeErrorArg cbarg;
	ErrorContextCallback errcb;

	*n = 0;
	if (cur == NULL)
		return NULL;
	/* before the look-up: a catalog read may process invalidations, which free sets */
	getTypeInputInfo(elemtype, &infunc, &ioparam);
	s = grant_set_get(relid, cur);
	if (s == NULL)
		return NULL;
	elems = palloc(sizeof(Datum) * Max(s->count, 1));
	/* a conversion error says which function to call (review rev49b) */
	cbarg.relid = relid;
	cbarg.elemtype = elemtype;
	errcb.callback = granted_type_error_callback;
	errcb.arg = &cbarg;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (int i = 0; i < s->count; i++)
	{
		GrantEntry *e = &s->entries[i];

		if (want_write && !e->write)
			continue;
		if (e->has_until && e->valid_until <= now)
			continue;
		elems[(*n)++] = OidInputFunctionCall(infunc, e->owner, ioparam, -1);
	}
	error_context_stack = errcb.previous;
	return elems;
}

/*
 * granted_tenants*(tbl, privilege): granted_tenant_datums() as an array of
 * the function's element type.  In a filter it is called once per row (for
 * each row the tenant comparison rejects): the array is computed once per
 * statement and kept in fn_extra, for as long as what it was computed from
 * holds: the table and privilege, the tenant context, the grant cache (its
 * generation changes at each load) and grant_clock() (valid_until is
 * compared with it).  The kept array is returned as it is: callers do not
 * change or free a function's result.
 */
typedef struct GrantedTenantsCache
{
	Oid			elemtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	bool		valid;
	Oid			relid;
	bool		want_write;
	uint64		generation;
	TimestampTz stmt_start;
	char	   *tenant;			/* the context it was computed for; NULL: none */
	ArrayType  *array;
} GrantedTenantsCache;

Datum
tenant_rls_granted_tenants(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		want_write = privilege_is_write(TextDatumGetCString(PG_GETARG_DATUM(1)));
	GrantedTenantsCache *gc = (GrantedTenantsCache *) fcinfo->flinfo->fn_extra;
	const char *cur = tenant_context_get();
	TimestampTz stmt_start = grant_clock();
	MemoryContext old;
	Datum	   *elems;
	int			n;
	uint64		unkept;

	exceptions_accept_invalidations();
	if (gc == NULL)
	{
		Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);

		gc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(GrantedTenantsCache));
		gc->elemtype = OidIsValid(rettype) ? get_element_type(rettype) : TEXTOID;
		if (!OidIsValid(gc->elemtype))
			gc->elemtype = TEXTOID;
		get_typlenbyvalalign(gc->elemtype, &gc->elmlen, &gc->elmbyval, &gc->elmalign);
		fcinfo->flinfo->fn_extra = gc;
	}
	if (gc->valid && gc->relid == relid && gc->want_write == want_write &&
		gc->generation == grant_cache_generation && gc->stmt_start == stmt_start &&
		(gc->tenant == NULL ? cur == NULL : cur != NULL && strcmp(gc->tenant, cur) == 0))
		PG_RETURN_ARRAYTYPE_P(gc->array);

	gc->valid = false;
	if (gc->tenant != NULL)
		pfree(gc->tenant);
	if (gc->array != NULL)
		pfree(gc->array);
	gc->tenant = NULL;
	gc->array = NULL;
	unkept = grant_unkept_reads;
	elems = granted_tenant_datums(relid, want_write, gc->elemtype, &n);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	gc->array = construct_array(elems, n, gc->elemtype, gc->elmlen, gc->elmbyval, gc->elmalign);
	gc->tenant = cur != NULL ? pstrdup(cur) : NULL;
	MemoryContextSwitchTo(old);
	gc->relid = relid;
	gc->want_write = want_write;
	gc->generation = grant_cache_generation;
	gc->stmt_start = stmt_start;
	/* read while the grants changed: read them again at the next call */
	gc->valid = grant_unkept_reads == unkept;
	PG_RETURN_ARRAYTYPE_P(gc->array);
}

/* ---------------------------------------------------------------------
 * The admin override: members of the role named by tenant_rls.admin_role.
 * Empty setting or a role that does not exist: nobody, never an error.
 * ---------------------------------------------------------------------
 */
static bool
current_user_is_admin(void)
{
	exceptions_accept_invalidations();
	return tenant_role_is_admin(GetUserId());
}

/* Has role the privileges of tenant_rls.admin_role?  (Also event_trigger.c.) */
bool
tenant_role_is_admin(Oid role)
{
	Oid			admin;

	register_callbacks();
	if (tenant_rls_admin_role == NULL || tenant_rls_admin_role[0] == '\0')
		return false;
	admin = get_role_oid(tenant_rls_admin_role, true);
	return OidIsValid(admin) && has_privs_of_role(role, admin);
}

Datum
tenant_rls_is_admin(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(current_user_is_admin());
}

/* ---------------------------------------------------------------------
 * The controlled exceptions in a policy: exception_allows*(tbl, tenant,
 * privilege), one function per tenant column type, is true when the admin
 * override or a grant in force lets the current session read (privilege
 * 'read') or write ('write') the rows of tenant in tbl.  Policies call it
 * next to the tenant comparison:
 *
 *     tenant_id = current_tenant_bigint()
 *       OR exception_allows_bigint('s.t'::regclass, tenant_id, 'read')
 *
 * When a query is planned, its planner support function replaces the call by
 * the exceptions this session can use:
 *
 *     is_admin()                                  if it is an admin now
 *     tenant_id = ANY (granted_tenants_bigint(tbl, 'read'))
 *                                                 if tbl has grants now
 *
 * OR-ed, or by false when there are none: the common plan is the same as
 * with a hand-written WHERE tenant_id = $1 and uses the tenant index; the
 * grants term is indexable too.  What is kept are the run-time checks, so
 * planning can only ever remove an allowance.  Cached plans are invalidated
 * when what it read changes (see the callbacks above; a role switch re-plans
 * queries that use row security).  Called without planning (its arguments
 * are not constants), the function decides the same at run time.
 * ---------------------------------------------------------------------
 */
Datum
tenant_rls_exception_allows(PG_FUNCTION_ARGS)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	bool		want_write;
	TypeCacheEntry *tce;
	Datum	   *elems;
	int			n;

	if (PG_ARGISNULL(2))
		PG_RETURN_BOOL(false);
	want_write = privilege_is_write(TextDatumGetCString(PG_GETARG_DATUM(2)));
	if (current_user_is_admin())
		PG_RETURN_BOOL(true);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	if (!OidIsValid(argtype))
		elog(ERROR, "could not determine the tenant type of exception_allows()");
	tce = lookup_type_cache(argtype, TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tce->eq_opr_finfo.fn_oid))
		elog(ERROR, "no equality operator for type %s", format_type_be(argtype));
	elems = granted_tenant_datums(PG_GETARG_OID(0), want_write, argtype, &n);
	for (int i = 0; i < n; i++)
		if (DatumGetBool(FunctionCall2Coll(&tce->eq_opr_finfo, PG_GET_COLLATION(),
										   PG_GETARG_DATUM(1), elems[i])))
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}

/* tenant_rls.<name>(args) as an expression; the function must exist */
static Node *
make_ext_call(Oid nspid, const char *name, List *args, Oid *argtypes, Oid rettype,
			  Oid funccollid, Oid inputcollid)
{
	List	   *fname = list_make2(makeString(get_namespace_name(nspid)), makeString(pstrdup(name)));
	Oid			funcid = LookupFuncName(fname, list_length(args), argtypes, false);

	return (Node *) makeFuncExpr(funcid, rettype, args, funccollid, inputcollid, COERCE_EXPLICIT_CALL);
}

/*
 * Planner support of exception_allows*(): SupportRequestSimplify replaces
 * the call as described above.  Only a call with a constant table and
 * privilege is replaced (the generated policies); any other is left alone.
 */
Datum
tenant_rls_exception_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	FuncExpr   *call;
	Const	   *tbl;
	Const	   *priv;
	Node	   *tenant;
	List	   *terms = NIL;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	call = req->fcall;
	if (list_length(call->args) != 3 || !IsA(linitial(call->args), Const) ||
		!IsA(lthird(call->args), Const))
		PG_RETURN_POINTER(NULL);
	tbl = linitial_node(Const, call->args);
	tenant = (Node *) lsecond(call->args);
	priv = lthird_node(Const, call->args);
	if (tbl->constisnull || priv->constisnull)
		PG_RETURN_POINTER(NULL);
	(void) privilege_is_write(TextDatumGetCString(priv->constvalue));

	if (current_user_is_admin())
		terms = lappend(terms, make_ext_call(get_func_namespace(call->funcid), "is_admin",
											 NIL, NULL, BOOLOID, InvalidOid, InvalidOid));
	if (table_has_grants(DatumGetObjectId(tbl->constvalue)))
	{
		Oid			ttype = exprType(tenant);
		Oid			tcoll = exprCollation(tenant);
		const ColType *ct = coltype_for(ttype);
		Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
		TypeCacheEntry *tce = lookup_type_cache(ttype, TYPECACHE_EQ_OPR);
		ScalarArrayOpExpr *saop;

		if (ct == NULL || !OidIsValid(tce->eq_opr))
			PG_RETURN_POINTER(NULL);
		if (!OidIsValid(tcoll) && type_is_collatable(ttype))
			tcoll = DEFAULT_COLLATION_OID;
		saop = makeNode(ScalarArrayOpExpr);
		saop->opno = tce->eq_opr;
		saop->opfuncid = get_opcode(tce->eq_opr);
		saop->useOr = true;
		saop->inputcollid = tcoll;
		saop->args = list_make2(copyObject(tenant),
								make_ext_call(get_func_namespace(call->funcid), ct->granted,
											  list_make2(copyObject(tbl), copyObject(priv)),
											  argtypes, get_array_type(ttype),
											  type_is_collatable(ttype) ? DEFAULT_COLLATION_OID : InvalidOid,
											  DEFAULT_COLLATION_OID));
		saop->location = -1;
		terms = lappend(terms, saop);
	}
	if (terms == NIL)
		PG_RETURN_POINTER(makeBoolConst(false, false));
	if (list_length(terms) == 1)
		PG_RETURN_POINTER(linitial(terms));
	PG_RETURN_POINTER(makeBoolExpr(OR_EXPR, terms, -1));
}
