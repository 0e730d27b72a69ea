/*
 * event_trigger.c -- auto-protection, drift guard and registry upkeep
 * (DESIGN E1-E3).
 *
 * Three event trigger functions, created by src/sql/30_event_trigger.sql:
 *
 * tenant_rls_ddl_command_end (ddl_command_end), for every collected command:
 *   - a new table (CREATE TABLE [PARTITION OF | INHERITS], CREATE TABLE AS,
 *     SELECT INTO), a partition attached (ALTER TABLE ... ATTACH PARTITION),
 *     a new inheritance child (ALTER TABLE ... INHERIT), a tenant column
 *     added (ADD COLUMN, RENAME COLUMN ... TO <tenant column>) is protected
 *     by calling tenant_rls.protect() in the same transaction when it is in a
 *     managed schema and has the tenant column, or when its parent is
 *     protected (whatever its schema);
 *   - drift guard: a subcommand that can weaken a protected table (DISABLE
 *     / NO FORCE ROW LEVEL SECURITY, ALTER COLUMN TYPE / DROP DEFAULT / DROP
 *     NOT NULL, RENAME COLUMN, ALTER POLICY, ALTER POLICY ... RENAME of a
 *     managed policy) is refused when the catalog shows, after the command,
 *     that the table is weaker than protect() left it (an ALTER POLICY that
 *     restores the recorded definition of a managed policy is a repair, and
 *     allowed);
 *   - drift guard for hierarchies: a protected table may not end up below
 *     an unprotected one (a query on the parent applies only the parent's
 *     policies, to the children's rows too): CREATE TABLE ... PARTITION OF /
 *     INHERITS, ATTACH PARTITION and INHERIT are checked after
 *     auto-protection, and unprotect() checks the table it unprotects
 *     (tenant_check_unprotect_hierarchy());
 *   - registry upkeep: a table renamed or moved by any statement PostgreSQL
 *     accepts for it (ALTER TABLE, but also ALTER INDEX ... RENAME, which
 *     works on tables) and ALTER SCHEMA ... RENAME update the names in
 *     tenant_rls.protected_table (and the recorded policy texts that name
 *     the table) and in tenant_rls.audit_config (whose column lists also
 *     follow RENAME COLUMN, as does the column an updated_at trigger
 *     maintains); DETACH PARTITION and NO INHERIT clear the former child's
 *     parent link.  The trigger has no command tag filter, so no other
 *     spelling of a command (ALTER VIEW ... RENAME COLUMN and ALTER TYPE ...
 *     RENAME ATTRIBUTE on a table, say) slips past it;
 *   - audit: a new partition (CREATE TABLE ... PARTITION OF, ATTACH
 *     PARTITION) below an audited table gets the audit TRUNCATE trigger,
 *     which PostgreSQL does not clone, and a detached one loses it
 *     (tenant_rls.audit_sync_truncate_triggers(), 40_audit.sql);
 *   - a registry row that no longer describes the table of its name (a
 *     'protected' row whose table has none of the managed policies: renamed
 *     while the trigger did not run; any row of the name of a table the
 *     command has just created) does not stop auto-protection of a new
 *     table of that name: the stale row is replaced, with a warning.
 *
 * tenant_rls_sql_drop (sql_drop):
 *   - registry rows and audit configuration rows of dropped relations
 *     (tables, and also views: CREATE RULE "_RETURN" turns an empty table
 *     into one) are deleted;
 *   - drift guard: dropping a managed policy or the tenant column of a
 *     protected table that is not itself being dropped is refused.
 *
 * tenant_rls_ddl_command_start (ddl_command_start, ALTER TABLE and REFRESH
 * MATERIALIZED VIEW only):
 *   - a REFRESH MATERIALIZED VIEW starts: until it ends, DDL is refused
 *     unless it is on a temporary table or a DROP (PostgreSQL collects no
 *     command below a refresh: see "REFRESH MATERIALIZED VIEW" below);
 *   - before ALTER TABLE ... ATTACH PARTITION, a tenant_rls_audit or
 *     tenant_rls_updated_at row trigger of the partition-to-be (or of a
 *     partition below it) that the clone of its new parent's would collide
 *     with is taken away (disable_audit(), disable_updated_at()), or, when
 *     it is not equivalent (updated_at of another column), the ATTACH is
 *     refused with what to run (see "ddl_command_start" below);
 *   - ALTER TABLE ... DETACH PARTITION of a partition that foreign keys
 *     reference is refused when row-level security hides rows of a
 *     referencing table or of the partition from the current user
 *     (check_detach_references(): PostgreSQL's check that no row references
 *     it would see only that user's rows).
 *
 * The command list comes from pg_event_trigger_ddl_commands(), whose
 * "command" column (pg_ddl_command) is the CollectedCommand of the server:
 * the parse trees it carries are what the parser made of the statement, so
 * no syntax variant can hide a subcommand, and every check then reads the
 * catalog state after the command.
 *
 * Nothing happens while an extension script runs (pgaudit #9), in binary
 * upgrade, inside our own triggers (recursion), or for the statements
 * protect() / unprotect() run themselves (tenant_policy_ddl_active(),
 * policy.c, and tenant_own_ddl_direct(), owner_code.c).
 * Auto-protection (not the drift guard) is also skipped in a session that
 * replays a pg_dump archive: there the dump itself restores the policies
 * and the registry rows, which would otherwise be created twice.
 */
#include "tenant_rls.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "parser/scanner.h"
#include "parser/gram.h"
#include "storage/lmgr.h"
#include "tcop/deparse_utility.h"
#include "lib/stringinfo.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "audit.h"
#include "event_trigger.h"
#include "guc.h"
#include "owner_code.h"
#include "policy.h"

PG_FUNCTION_INFO_V1(tenant_rls_ddl_command_end);
PG_FUNCTION_INFO_V1(tenant_rls_sql_drop);
PG_FUNCTION_INFO_V1(tenant_rls_ddl_command_start);

/* true while one of our event trigger functions runs (recursion guard) */
static bool in_event_trigger = false;

/* what the drift guard verifies on a table after an ALTER TABLE */
#define CHECK_RLS		0x01	/* relrowsecurity still on */
#define CHECK_FORCE		0x02	/* relforcerowsecurity still on */
#define CHECK_COLUMN	0x04	/* tenant column present, same type, default, NOT NULL */

typedef struct DriftCheck
{
	Oid			relid;
	int			flags;
	bool		recurse;		/* also partitions / inheritance children */
} DriftCheck;

typedef struct Candidate
{
	Oid			relid;
	bool		parent_only;	/* protect only because of a protected parent */
	bool		created;		/* created by the command (CREATE TABLE [AS]) */
	bool		filled;			/* ... with rows (CREATE TABLE AS, SELECT INTO) */
} Candidate;

/* One registry row, as far as the drift guard needs it. */
typedef struct RegistryEntry
{
	bool		is_protected;	/* status = 'protected' */
	char	   *tenant_column;
	char	   *tenant_type;	/* NULL if not recorded */
	bool		set_default;	/* protect() set the column default */
	bool		set_not_null;	/* protect() set NOT NULL */
} RegistryEntry;

static void ddl_command_end_work(EventTriggerData *trigdata);
static void sql_drop_work(EventTriggerData *trigdata);
static void ddl_command_start_work(EventTriggerData *trigdata);
static void check_ddl_below_refresh(EventTriggerData *trigdata);
static List *renamed_column_tables(Oid relid);


/* ---------------------------------------------------------------- helpers */

/* The extension's schema, InvalidOid while it does not exist (DROP EXTENSION). */
static Oid
extension_schema_oid(void)
{
	return get_namespace_oid(TENANT_RLS_SCHEMA, true);
}

/*
 * A session that replays a pg_dump archive: pg_restore, and psql running a
 * plain dump, both start with SET row_security = off and SET
 * check_function_bodies = false (pg_restore --enable-row-security is the
 * exception).  Both are on by default and an application has no reason to
 * turn them off.  (The empty search_path they also set is not visible here:
 * our function runs with its own.)
 */
static bool
session_is_restoring(void)
{
	return !row_security && !check_function_bodies;
}

static bool
schema_is_managed(const char *nspname)
{
	ListCell   *lc;

	foreach(lc, tenant_rls_managed_schema_names())
	{
		if (strcmp((char *) lfirst(lc), nspname) == 0)
			return true;
	}
	return false;
}

/* Schemas whose tables tenant_rls never touches. */
static bool
schema_is_excluded(Oid nspid)
{
	return nspid == PG_CATALOG_NAMESPACE ||
		nspid == PG_TOAST_NAMESPACE ||
		isAnyTempNamespace(nspid) ||
		nspid == extension_schema_oid();
}

/*
 * Plans of the statements that run on every CREATE TABLE are prepared once
 * per backend and kept (SPI_keepplan); the plan cache re-analyses them when
 * what they use changes (DROP / CREATE EXTENSION included).
 */
static SPIPlanPtr ddl_commands_plan = NULL;
static SPIPlanPtr registry_plan = NULL;
static SPIPlanPtr protect_plan = NULL;
static SPIPlanPtr audit_sync_plan = NULL;

static SPIPlanPtr
kept_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "tenant_rls: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "tenant_rls: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * Every read and write of the registry (and of pg_policy) here uses the
 * latest snapshot, not the transaction's.  In a REPEATABLE READ or
 * SERIALIZABLE transaction whose snapshot predates a registry change made
 * by another session (the table protected, or renamed, which rewrites its
 * row), the transaction snapshot shows no registry row for the table by its
 * current name: the drift guard let NO FORCE, DISABLE ROW LEVEL SECURITY,
 * DROP POLICY and ALTER POLICY through, and a rename did not reach the
 * registry row.  (Under READ COMMITTED each statement takes a new snapshot
 * anyway, so nothing changes there.)  The latest snapshot also sees this
 * transaction's own changes up to now.
 */
static int
et_spi_plan(SPIPlanPtr plan, Datum *values, const char *nulls, long tcount)
{
	/* fire_triggers: the registry's foreign keys (tenant_grant) cascade */
	return SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot,
								false, true, tcount);
}

static int
et_spi(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls, long tcount)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);
	int			ret;

	if (plan == NULL)
		elog(ERROR, "tenant_rls: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	ret = et_spi_plan(plan, values, nulls, tcount);
	SPI_freeplan(plan);
	return ret;
}

/* The same, as the bootstrap superuser (see spi_exec_privileged()). */
static int
et_spi_privileged(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls)
{
	Oid			save_userid;
	int			save_sec;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	ret = et_spi(sql, nargs, argtypes, values, nulls, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret < 0)
		elog(ERROR, "tenant_rls: SPI_execute_snapshot failed: %s", SPI_result_code_string(ret));
	return ret;
}

/*
 * Look up the registry row of schema.table; false if there is none.
 */
static bool
registry_lookup(const char *nspname, const char *relname, RegistryEntry *entry)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int			ret;
	HeapTuple	tup;
	TupleDesc	tupdesc;

	values[0] = CStringGetTextDatum(nspname);
	values[1] = CStringGetTextDatum(relname);
	ret = et_spi_plan(kept_plan(&registry_plan,
									 "SELECT r.status OPERATOR(pg_catalog.=) 'protected', r.tenant_column::pg_catalog.text, r.tenant_type,"
									 " COALESCE(r.managed OPERATOR(pg_catalog.->) 'set_default' OPERATOR(pg_catalog.=) 'true'::pg_catalog.jsonb, false),"
									 " COALESCE(r.managed OPERATOR(pg_catalog.->) 'set_not_null' OPERATOR(pg_catalog.=) 'true'::pg_catalog.jsonb, false)"
									 " FROM tenant_rls.protected_table r"
									 " WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
									 " AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name",
									 2, argtypes),
					  values, NULL, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: registry lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	entry->is_protected = strcmp(SPI_getvalue(tup, tupdesc, 1), "t") == 0;
	entry->tenant_column = SPI_getvalue(tup, tupdesc, 2);
	entry->tenant_type = SPI_getvalue(tup, tupdesc, 3);
	entry->set_default = strcmp(SPI_getvalue(tup, tupdesc, 4), "t") == 0;
	entry->set_not_null = strcmp(SPI_getvalue(tup, tupdesc, 5), "t") == 0;
	return true;
}

/*
 * A 'protected' registry row of schema.table is stale when table relid (the
 * table of that name now) carries none of the policies the row says
 * protect() made: the protected table was renamed or moved while our event
 * trigger did not run (disabled, session_replication_role = replica), and
 * this is another table.  Dropping every managed policy of a protected table
 * is refused by the drift guard, so a protected table always keeps one.
 */
static bool
registry_row_is_stale(Oid relid, const char *nspname, const char *relname)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		values[3];
	int			ret;

	values[0] = CStringGetTextDatum(nspname);
	values[1] = CStringGetTextDatum(relname);
	values[2] = ObjectIdGetDatum(relid);
	ret = et_spi(
								"SELECT 1 FROM tenant_rls.protected_table r"
								" WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
								" AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name"
								" AND r.status OPERATOR(pg_catalog.=) 'protected'"
								" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p"
								"   WHERE p.polrelid OPERATOR(pg_catalog.=) $3"
								"   AND (COALESCE(r.managed OPERATOR(pg_catalog.->) 'policies' OPERATOR(pg_catalog.?) p.polname::pg_catalog.text, false)"
								"        OR pg_catalog.starts_with(p.polname::pg_catalog.text, 'tenant_rls_')))",
								3, argtypes, values, NULL, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: registry lookup failed: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/*
 * Delete a stale registry row (its grants go with it: ON DELETE CASCADE): a
 * 'protected' row whose table has none of its policies
 * (registry_row_is_stale()), or a 'global' row of the name of a table the
 * command has just created.
 */
static void
forget_stale_row(const char *nspname, const char *relname, bool global_row)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int			ret;
	char	   *qualname = quote_qualified_identifier(nspname, relname);

	values[0] = CStringGetTextDatum(nspname);
	values[1] = CStringGetTextDatum(relname);
	ret = et_spi("DELETE FROM tenant_rls.protected_table r"
								" WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
								" AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name",
								2, argtypes, values, NULL, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "tenant_rls: registry update failed: %s", SPI_result_code_string(ret));
	if (global_row)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("registry entry of table %s was stale and has been replaced", qualname),
				 errdetail("The registry listed %s as global (shared by all tenants), but this statement has just created the table of that name: the table the entry was written for was dropped, renamed or moved while tenant_rls's event triggers did not see it.",
						   qualname),
				 errhint("The new table is handled as any new table (protected if it is a tenant table); if it is meant to be shared by all tenants, run tenant_rls.mark_global() on it.")));
	else
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("registry entry of table %s was stale and has been replaced", qualname),
				 errdetail("The registry listed %s as protected, but the table of that name has none of its tenant_rls policies: the protected table was renamed or moved while tenant_rls's event triggers did not run. Its cross-tenant grants were removed with the entry.",
						   qualname),
				 errhint("The renamed table keeps its row-level security and tenant_rls_* policies but has no registry entry now: run tenant_rls.protect() on it to have it tracked again (it takes those policies over).")));
}

/*
 * A table the command has just created has no registry row yet: one of its
 * name is about a table that is gone, global or protected (review rev45b: a
 * global row outlived its table, and a tenant table created later under the
 * name was left unprotected as if it were that global table).
 */
static void
forget_row_of_created(Oid relid)
{
	char	   *nspname = get_namespace_name(get_rel_namespace(relid));
	char	   *relname = get_rel_name(relid);
	RegistryEntry entry;

	/* (a 'protected' row is stale: a new table has none of its policies) */
	if (nspname != NULL && relname != NULL && registry_lookup(nspname, relname, &entry))
		forget_stale_row(nspname, relname, !entry.is_protected);
}

/*
 * Is policy polname of a protected schema.table one that protect() manages?
 * Managed policies are listed in the registry's managed->'policies' (an
 * object keyed by name, or an array of names); every policy named
 * tenant_rls_* on a protected table counts as managed as well.
 */
static bool
policy_is_managed(const char *nspname, const char *relname, const char *polname)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	int			ret;

	values[0] = CStringGetTextDatum(nspname);
	values[1] = CStringGetTextDatum(relname);
	values[2] = CStringGetTextDatum(polname);
	ret = et_spi(
								"SELECT 1 FROM tenant_rls.protected_table r"
								" WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
								" AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name"
								" AND r.status OPERATOR(pg_catalog.=) 'protected'"
								" AND (COALESCE(r.managed OPERATOR(pg_catalog.->) 'policies' OPERATOR(pg_catalog.?) $3, false)"
								"      OR pg_catalog.starts_with($3, 'tenant_rls_'))",
								3, argtypes, values, NULL, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: registry lookup failed: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/*
 * Raise the drift error, or only a warning under tenant_rls.drift_action,
 * with the hint given.
 */
static void
report_drift_hint(const char *message, const char *detail, const char *hint)
{
	ereport(tenant_rls_drift_action == DRIFT_WARNING ? WARNING : ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg_internal("%s", message),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
}

/* The same, with the hint of every change that weakens table qualname. */
static void
report_drift(const char *qualname, const char *message, const char *detail)
{
	report_drift_hint(message, detail,
					  psprintf("To remove tenant isolation from the table, run SELECT tenant_rls.unprotect('%s');",
							   qualname));
}

static void
report_table_drift(const char *qualname, const char *message)
{
	report_drift(qualname, message,
				 psprintf("Table %s is protected by tenant_rls; this change would weaken its tenant isolation.",
						  qualname));
}

/* Does the column type still match the tenant type recorded by protect()? */
static bool
tenant_type_matches(Oid typid, const char *tenant_type)
{
	typid = getBaseType(typid);
	if (strcmp(tenant_type, "uuid") == 0)
		return typid == UUIDOID;
	if (strcmp(tenant_type, "bigint") == 0)
		return typid == INT8OID;
	if (strcmp(tenant_type, "integer") == 0)
		return typid == INT4OID;
	if (strcmp(tenant_type, "text") == 0)
		return typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID;
	return true;
}

/* ---------------------------------------------------------- drift guard */

/*
 * Verify what flags asks for on one table, if it is protected.
 */
static void
check_table(Oid relid, int flags)
{
	HeapTuple	tp;
	bool		rls,
				force;
	char	   *nspname;
	char	   *relname;
	char	   *qualname;
	RegistryEntry entry;

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		return;
	rls = ((Form_pg_class) GETSTRUCT(tp))->relrowsecurity;
	force = ((Form_pg_class) GETSTRUCT(tp))->relforcerowsecurity;
	nspname = get_namespace_name(((Form_pg_class) GETSTRUCT(tp))->relnamespace);
	relname = pstrdup(NameStr(((Form_pg_class) GETSTRUCT(tp))->relname));
	ReleaseSysCache(tp);

	if (nspname == NULL || !registry_lookup(nspname, relname, &entry) || !entry.is_protected)
		return;
	qualname = quote_qualified_identifier(nspname, relname);

	if ((flags & CHECK_RLS) && !rls)
		report_table_drift(qualname,
						   psprintf("cannot disable row level security on protected table %s", qualname));
	if ((flags & CHECK_FORCE) && !force)
		report_table_drift(qualname,
						   psprintf("cannot turn off FORCE ROW LEVEL SECURITY on protected table %s", qualname));

	if ((flags & CHECK_COLUMN) && entry.tenant_column != NULL)
	{
		HeapTuple	at = SearchSysCacheAttName(relid, entry.tenant_column);
		Form_pg_attribute att;

		if (!HeapTupleIsValid(at))
		{
			report_table_drift(qualname,
							   psprintf("cannot drop or rename tenant column \"%s\" of protected table %s",
										entry.tenant_column, qualname));
			return;
		}
		att = (Form_pg_attribute) GETSTRUCT(at);
		if (entry.tenant_type != NULL && !tenant_type_matches(att->atttypid, entry.tenant_type))
			report_table_drift(qualname,
							   psprintf("cannot change the type of tenant column \"%s\" of protected table %s",
										entry.tenant_column, qualname));
		if (entry.set_not_null && !att->attnotnull)
			report_table_drift(qualname,
							   psprintf("cannot drop NOT NULL of tenant column \"%s\" of protected table %s",
										entry.tenant_column, qualname));
		if (entry.set_default && !att->atthasdef)
			report_table_drift(qualname,
							   psprintf("cannot drop the default of tenant column \"%s\" of protected table %s",
										entry.tenant_column, qualname));
		ReleaseSysCache(at);
	}
}

static void
run_drift_check(DriftCheck *check)
{
	if (check->recurse)
	{
		/* partitions, children; for a composite type (ALTER TYPE ... CASCADE) its typed tables */
		List	   *rels = renamed_column_tables(check->relid);
		ListCell   *lc;

		foreach(lc, rels)
			check_table(lfirst_oid(lc), check->flags);
	}
	else
		check_table(check->relid, check->flags);
}

/*
 * Is the policy (after an ALTER POLICY) exactly as protect() recorded it in
 * the registry: same USING, WITH CHECK (as pg_get_expr() prints them under
 * our search_path, like policy.c records them) and roles?
 */
static bool
policy_matches_record(const char *nspname, const char *relname, Oid policy_oid, const char *polname)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, OIDOID, TEXTOID};
	Datum		values[4];
	int			ret;

	values[0] = CStringGetTextDatum(nspname);
	values[1] = CStringGetTextDatum(relname);
	values[2] = ObjectIdGetDatum(policy_oid);
	values[3] = CStringGetTextDatum(polname);
	ret = et_spi(
								"SELECT 1 FROM tenant_rls.protected_table r, pg_catalog.pg_policy p,"
								" LATERAL (SELECT r.managed OPERATOR(pg_catalog.->) 'policies' OPERATOR(pg_catalog.->) $4 AS rec) x"
								" WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
								" AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name"
								" AND p.oid OPERATOR(pg_catalog.=) $3"
								" AND pg_catalog.jsonb_typeof(x.rec) OPERATOR(pg_catalog.=) 'object'"
								" AND (x.rec OPERATOR(pg_catalog.->>) 'qual') IS NOT DISTINCT FROM pg_catalog.pg_get_expr(p.polqual, p.polrelid)"
								" AND (x.rec OPERATOR(pg_catalog.->>) 'with_check') IS NOT DISTINCT FROM pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)"
								" AND (SELECT pg_catalog.array_agg(e ORDER BY e)"
								"      FROM pg_catalog.jsonb_array_elements_text(x.rec OPERATOR(pg_catalog.->) 'roles') e)"
								"     IS NOT DISTINCT FROM"
								"     (SELECT pg_catalog.array_agg(n ORDER BY n) FROM"
								"       (SELECT CASE WHEN u.r OPERATOR(pg_catalog.=) 0 THEN 'public'"
								"               ELSE pg_catalog.pg_get_userbyid(u.r)::pg_catalog.text END AS n"
								"          FROM pg_catalog.unnest(p.polroles) u(r)) roles)",
								4, argtypes, values, NULL, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: registry lookup failed: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/*
 * ALTER POLICY of a managed policy, or ALTER POLICY ... RENAME of one
 * (old_name then is the name before the rename).
 */
static void
check_policy_change(Oid policy_oid, const char *old_name)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			ret;
	Oid			relid;
	bool		isnull;
	char	   *polname;
	char	   *nspname;
	char	   *relname;
	char	   *qualname;

	values[0] = ObjectIdGetDatum(policy_oid);
	ret = et_spi("SELECT p.polrelid, p.polname::pg_catalog.text FROM pg_catalog.pg_policy p"
								" WHERE p.oid OPERATOR(pg_catalog.=) $1",
								1, argtypes, values, NULL, 1);
	if (ret != SPI_OK_SELECT || SPI_processed == 0)
		return;
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	polname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	if (nspname == NULL || relname == NULL)
		return;
	if (!policy_is_managed(nspname, relname, old_name ? old_name : polname))
		return;
	/* ALTER POLICY that puts back the recorded definition: a repair */
	if (old_name == NULL && policy_matches_record(nspname, relname, policy_oid, polname))
		return;
	qualname = quote_qualified_identifier(nspname, relname);
	report_drift(qualname,
				 old_name
				 ? psprintf("cannot rename policy \"%s\" of protected table %s", old_name, qualname)
				 : psprintf("cannot alter policy \"%s\" of protected table %s", polname, qualname),
				 psprintf("The policy is managed by tenant_rls; table %s is protected by tenant_rls.", qualname));
}

/* ------------------------------------------------------- auto-protection */

static void
auto_protect_error_context(void *arg)
{
	errcontext("automatic protection of table %s by tenant_rls (tenant_rls.auto_protect)",
			   (const char *) arg);
}

/*
 * Call tenant_rls.protect(relid, tenant_column) through SPI; tenant_column
 * NULL means tenant_rls.tenant_column.
 */
static void
call_protect(Oid relid, const char *qualname, const char *tenant_column)
{
	Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	ErrorContextCallback errcb;
	SPIPlanPtr	plan;
	int			ret;

	values[0] = ObjectIdGetDatum(relid);
	if (tenant_column != NULL)
		values[1] = CStringGetTextDatum(tenant_column);
	else
	{
		values[1] = (Datum) 0;
		nulls[1] = 'n';
	}

	plan = kept_plan(&protect_plan,
					 "SELECT pg_catalog.count(*) FROM tenant_rls.protect($1, $2::pg_catalog.name)",
					 2, argtypes);

	/*
	 * protect() runs with our (SECURITY DEFINER) rights, those of the
	 * extension owner: it must be able to attach the audit trigger
	 * (tenant_rls.audit) and to protect a partition created in a schema
	 * whose owner is someone else.  What it runs is fixed DDL on the table
	 * and catalog reads; code of the table's owner that this makes
	 * PostgreSQL run (a CHECK constraint's function, folded) runs as that
	 * owner, never with our rights, and may not run DDL (owner_code.c).
	 */
	errcb.callback = auto_protect_error_context;
	errcb.arg = (void *) qualname;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	ret = SPI_execute_plan(plan, values, nulls, false, 0);

	error_context_stack = errcb.previous;

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: protect() failed: %s", SPI_result_code_string(ret));
	elog(DEBUG1, "tenant_rls: protected table %s automatically", qualname);
}

/* The direct parents of relid (partitioned table, inheritance parents). */
static List *
relation_parents(Oid relid)
{
	Relation	inh;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *parents = NIL;

	inh = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(inh, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		parents = lappend_oid(parents, ((Form_pg_inherits) GETSTRUCT(tup))->inhparent);
	systable_endscan(scan);
	table_close(inh, AccessShareLock);
	return parents;
}

/* for policy.c (lock_schemas()) */
List *
tenant_relation_parents(Oid relid)
{
	return relation_parents(relid);
}

/*
 * The tenant column of a protected parent (partitioned table or inheritance
 * parent) among parents, or NULL when none is protected.
 */
static char *
protected_parent_column(List *parents)
{
	ListCell   *lc;

	foreach(lc, parents)
	{
		Oid			parent = lfirst_oid(lc);
		char	   *nspname = get_namespace_name(get_rel_namespace(parent));
		char	   *relname = get_rel_name(parent);
		RegistryEntry entry;

		if (nspname != NULL && relname != NULL &&
			registry_lookup(nspname, relname, &entry) &&
			entry.is_protected && entry.tenant_column != NULL)
			return entry.tenant_column;
	}
	return NULL;
}

/*
 * A table the event trigger has just protected may hold rows no policy
 * checked: those CREATE TABLE AS or SELECT INTO wrote, those a table had
 * when it got the tenant column (ADD COLUMN ... DEFAULT, RENAME COLUMN) or a
 * protected parent (ATTACH PARTITION, INHERIT).  Tenant a's session could
 * plant rows that tenant b then read as its own (reviews rev24c, rev24e).
 * When the table's owner is bound by its policies (not a superuser or
 * BYPASSRLS role, nor of tenant_rls.admin_role), every row with a tenant
 * must be of the current tenant, as an INSERT would have to be; rows without
 * one are visible to no tenant (protect() leaves the column nullable).
 * (Like the rows of any table protected with rows in it, they are not in
 * the audit log.)
 */
static void
check_filled_rows(Oid relid)
{
	RegistryEntry entry;
	char	   *nspname = get_namespace_name(get_rel_namespace(relid));
	char	   *relname = get_rel_name(relid);
	char	   *tenant = NULL;
	int64		foreign;
	bool		isnull;
	Oid			owner;

	if (get_rel_relkind(relid) != RELKIND_RELATION || nspname == NULL || relname == NULL ||
		!registry_lookup(nspname, relname, &entry) || !entry.is_protected)
		return;

	/*
	 * The rows were written with the rights of the role that created the
	 * table, its owner (this trigger runs SECURITY DEFINER).  A protected
	 * table is FORCEd: its owner is bound unless it bypasses row-level
	 * security or has the privileges of the admin role.
	 */
	{
		HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

		if (!HeapTupleIsValid(tp))
			return;
		owner = ((Form_pg_class) GETSTRUCT(tp))->relowner;
		ReleaseSysCache(tp);
	}
	if (superuser_arg(owner) || has_bypassrls_privilege(owner) || tenant_role_is_admin(owner))
		return;
	if (et_spi("SELECT tenant_rls.current_tenant()", 0, NULL, NULL, NULL, 1) != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: tenant context lookup failed");
	tenant = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	/*
	 * A scan of the heap, not SQL: planning a query on the table would fold
	 * the owner's functions of its index expressions (owner_code.c).
	 */
	{
		Relation	rel = table_open(relid, AccessShareLock);
		AttrNumber	attnum = get_attnum(relid, entry.tenant_column);
		Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
		Oid			outfunc;
		bool		varlena;
		MemoryContext rowcxt;
		MemoryContext oldcxt;

		if (attnum == InvalidAttrNumber)
			elog(ERROR, "tenant_rls: column \"%s\" of \"%s\" not found", entry.tenant_column, relname);
		getTypeOutputInfo(getBaseType(get_atttype(relid, attnum)), &outfunc, &varlena);
		rowcxt = AllocSetContextCreate(CurrentMemoryContext, "tenant_rls rows check", ALLOCSET_SMALL_SIZES);
		oldcxt = MemoryContextSwitchTo(rowcxt);

		foreign = 0;
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			Datum		v;

			CHECK_FOR_INTERRUPTS();
			v = slot_getattr(slot, attnum, &isnull);
			if (!isnull && (tenant == NULL || strcmp(OidOutputFunctionCall(outfunc, v), tenant) != 0))
				foreign++;
			MemoryContextReset(rowcxt);	/* the text form, a detoasted value */
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(rowcxt);
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		UnregisterSnapshot(snap);
		table_close(rel, AccessShareLock);
	}
	if (foreign > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg_plural("table \"%s\" holds %lld row of another tenant than the current one",
							   "table \"%s\" holds %lld rows of other tenants than the current one",
							   foreign, quote_qualified_identifier(nspname, relname), (long long) foreign),
				 errdetail("Its rows were written before tenant_rls protected it (CREATE TABLE AS, SELECT INTO, a tenant column added or renamed, a partition attached, a parent inherited), so no policy checked them; %s.",
						   tenant != NULL ? psprintf("the current tenant is \"%s\"", tenant) : "no tenant is set"),
				 errhint("Write only the current tenant's rows before the table is protected (fill it afterwards with INSERT, which the policies check), or run the statement as a role that bypasses row-level security, as a migration that writes every tenant's rows does.")));
}

/*
 * Protect relid if it should be: it has a protected parent, or (unless
 * parent_only) it is in a managed schema and has the tenant column.  Then
 * the same for its partitions / inheritance children.
 */
static void
consider_table(Oid relid, bool parent_only)
{
	HeapTuple	tp;
	Form_pg_class cls;
	char		relkind;
	char		relpersistence;
	Oid			nspid;
	char	   *nspname;
	char	   *relname;
	char	   *qualname;
	char	   *parent_column;
	List	   *parents;
	bool		self_qualifies;
	RegistryEntry entry;
	List	   *children;
	ListCell   *lc;

	CHECK_FOR_INTERRUPTS();

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		return;
	cls = (Form_pg_class) GETSTRUCT(tp);
	relkind = cls->relkind;
	relpersistence = cls->relpersistence;
	nspid = cls->relnamespace;
	relname = pstrdup(NameStr(cls->relname));
	ReleaseSysCache(tp);

	if (relpersistence == RELPERSISTENCE_TEMP || schema_is_excluded(nspid))
		return;
	nspname = get_namespace_name(nspid);
	if (nspname == NULL)
		return;

	/*
	 * Row-level security does not exist for foreign tables: say so when one
	 * would have been protected (a partition of a protected table, or a
	 * tenant table of a managed schema), rather than fail the DDL.
	 */
	if (relkind == RELKIND_FOREIGN_TABLE)
	{
		if (protected_parent_column(relation_parents(relid)) != NULL ||
			(!parent_only && schema_is_managed(nspname) &&
			 get_attnum(relid, tenant_rls_tenant_column) != InvalidAttrNumber))
			ereport(WARNING,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("foreign table %s cannot be protected by tenant_rls",
							quote_qualified_identifier(nspname, relname)),
					 errdetail("Row-level security does not apply to foreign tables: whoever can query %s directly sees the rows of every tenant in it.",
							   quote_qualified_identifier(nspname, relname)),
					 errhint("Do not grant privileges on it to tenant roles (query it through its protected parent), or keep tenant rows out of foreign tables.")));
		return;
	}
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return;

	/* cheap tests first: most new tables have no parent */
	parents = relation_parents(relid);
	self_qualifies = !parent_only && schema_is_managed(nspname) &&
		get_attnum(relid, tenant_rls_tenant_column) != InvalidAttrNumber;
	if (parents == NIL && !self_qualifies)
		return;
	if (registry_lookup(nspname, relname, &entry))
	{
		if (!entry.is_protected || !registry_row_is_stale(relid, nspname, relname))
			return;				/* already protected, or marked global */
		forget_stale_row(nspname, relname, false);
	}

	qualname = quote_qualified_identifier(nspname, relname);
	parent_column = protected_parent_column(parents);
	if (parent_column != NULL)
		call_protect(relid, qualname, parent_column);
	else if (self_qualifies)
		call_protect(relid, qualname, NULL);
	else
		return;

	/* partitions and inheritance children, if protect() left any out */
	children = find_inheritance_children(relid, NoLock);
	foreach(lc, children)
		consider_table(lfirst_oid(lc), true);
}

/* ------------------------------------------------ drift guard: ancestors */

/*
 * A query that names a partitioned table or an inheritance parent applies
 * the policies of that table only, to the rows of its partitions and
 * children as well: a protected table below a table that is not protected
 * is read and written by every tenant through it.  So no DDL may put a
 * protected table (the registry says so: status 'protected', as everywhere
 * in this file) below one that is not, at any level, and unprotect() may not
 * leave one below the table it unprotects.
 */

/*
 * Every ancestor of relid (partition parents, inheritance parents, at any
 * level), nearest first, each once.  Read from pg_inherits without SQL:
 * audit.c (build_audit_rel()) needs a table's ancestors before it takes the
 * snapshot its SQL runs with.
 */
List *
tenant_relation_ancestors(Oid relid)
{
	List	   *ancestors = relation_parents(relid);
	ListCell   *lc;

	/* appending while iterating is safe: the new cells are visited too */
	foreach(lc, ancestors)
	{
		ListCell   *pc;

		foreach(pc, relation_parents(lfirst_oid(lc)))
			ancestors = list_append_unique_oid(ancestors, lfirst_oid(pc));
	}
	return ancestors;
}

/*
 * The partitions and inheritance children of parent whose link was made in
 * this transaction: ATTACH PARTITION does not report which partition it
 * attached, but its pg_inherits row is new.
 */
static List *
children_linked_now(Oid parent)
{
	Relation	inh;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *children = NIL;

	inh = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_inherits_inhparent, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(parent));
	scan = systable_beginscan(inh, InheritsParentIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)))
			children = lappend_oid(children, ((Form_pg_inherits) GETSTRUCT(tup))->inhrelid);
	}
	systable_endscan(scan);
	table_close(inh, AccessShareLock);
	return children;
}

/* A table of a hierarchy and its registry row, as the check needs them. */
typedef struct HierarchyTable
{
	Oid			relid;
	bool		registered;
	bool		is_global;		/* status 'global' */
	char	   *tenant_column;	/* NULL unless protected */
	char	   *root;			/* protected: the table protect() was called on */
} HierarchyTable;

/*
 * The tables of relids (in list order) that are (want_protected) or are not
 * (!want_protected) registered as protected, at most limit of them (0: all).
 * One query, read with the extension's rights: unprotect() calls this as
 * its caller, who cannot read the registry.
 */
static List *
tables_by_protection(List *relids, bool want_protected, int limit)
{
	Oid			argtypes[3] = {OIDARRAYOID, BOOLOID, INT4OID};
	Datum		values[3];
	Datum	   *oids;
	int			n = list_length(relids);
	int			i = 0;
	ListCell   *lc;
	List	   *result = NIL;

	if (n == 0)
		return NIL;
	oids = palloc(sizeof(Datum) * n);
	foreach(lc, relids)
		oids[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = BoolGetDatum(want_protected);
	values[2] = Int32GetDatum(limit);
	et_spi_privileged("SELECT x.relid, r.status IS NOT NULL, r.status OPERATOR(pg_catalog.=) 'global',"
						" r.tenant_column::pg_catalog.text,"
						" pg_catalog.quote_ident(COALESCE(r.parent_schema, r.schema_name))"
						"  OPERATOR(pg_catalog.||) '.'"
						"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(COALESCE(r.parent_table, r.table_name))"
						" FROM pg_catalog.unnest($1) WITH ORDINALITY x(relid, i)"
						" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.relid"
						" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
						" LEFT JOIN tenant_rls.protected_table r"
						"  ON r.schema_name OPERATOR(pg_catalog.=) n.nspname"
						" AND r.table_name OPERATOR(pg_catalog.=) c.relname"
						" WHERE COALESCE(r.status OPERATOR(pg_catalog.=) 'protected', false) OPERATOR(pg_catalog.=) $2"
						" ORDER BY x.i LIMIT NULLIF($3, 0)",
						3, argtypes, values, NULL);	/* sees this command's changes */
	for (uint64 k = 0; k < SPI_processed; k++)
	{
		HeapTuple	tup = SPI_tuptable->vals[k];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HierarchyTable *out = palloc(sizeof(HierarchyTable));
		bool		isnull;

		out->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		out->registered = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		out->is_global = out->registered && DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		out->tenant_column = SPI_getvalue(tup, desc, 4);
		out->root = SPI_getvalue(tup, desc, 5);
		result = lappend(result, out);
	}
	return result;
}

/* The first of them; false if there is none. */
static bool
first_by_protection(List *relids, bool want_protected, HierarchyTable *out)
{
	List	   *found = tables_by_protection(relids, want_protected, 1);

	if (found == NIL)
		return false;
	*out = *(HierarchyTable *) linitial(found);
	return true;
}

/*
 * Why table anc cannot be protected by column colname as it is (NULL: it
 * can, as far as can be told here).
 */
static char *
unprotectable_reason(HierarchyTable *anc, const char *colname)
{
	char		relkind = get_rel_relkind(anc->relid);
	AttrNumber	attnum;

	if (relkind == RELKIND_FOREIGN_TABLE)
		return pstrdup("it is a foreign table, which row-level security does not cover");
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return pstrdup("it is not a table");
	if (anc->is_global)
		return pstrdup("it is marked global");
	attnum = get_attnum(anc->relid, colname);
	if (attnum == InvalidAttrNumber || attnum < 0)
		return psprintf("it has no tenant column \"%s\"", colname);
	return NULL;
}

/*
 * The check.  Tables that may be exposed: relid and every table below it.
 * Tables that may expose them: the ancestors of relid, and with
 * unprotecting relid itself (unprotect() has just taken it out of the
 * registry).  A protected table of the first kind below an unprotected one
 * of the second is refused (or, under drift_action = warning, reported).
 * Cheap when relid has no ancestor (most new tables): a catalog scan, no
 * query.
 */
static void
check_ancestors(Oid relid, bool unprotecting)
{
	List	   *above;
	HierarchyTable anc;
	HierarchyTable prot;
	char	   *aname;
	char	   *pname;
	char	   *detail;
	char	   *reason;

	/* the extension's own tables (audit log partitions), temporary ones */
	if (!unprotecting && schema_is_excluded(get_rel_namespace(relid)))
		return;
	above = tenant_relation_ancestors(relid);
	if (unprotecting)
		above = lcons_oid(relid, above);
	if (above == NIL || !first_by_protection(above, false, &anc))
		return;
	if (!first_by_protection(find_all_inheritors(relid, NoLock, NULL), true, &prot))
		return;

	aname = tenant_rel_qualname(anc.relid);
	pname = tenant_rel_qualname(prot.relid);
	detail = psprintf("A query on %s applies only the policies of %s, also to the rows of its partitions and inheritance children: every tenant could read and change the rows of %s through %s.",
					  aname, aname, pname, aname);
	if (unprotecting)
	{
		report_drift_hint(psprintf("cannot unprotect table %s while protected table %s is below it",
								   aname, pname),
						  detail,
						  psprintf("Unprotect %s first (SELECT tenant_rls.unprotect(%s);), or take it out of the hierarchy of %s.",
								   prot.root, quote_literal_cstr(prot.root), aname));
		return;
	}
	reason = unprotectable_reason(&anc, prot.tenant_column);
	report_drift_hint(psprintf("cannot place protected table %s below unprotected table %s",
							   pname, aname),
					  detail,
					  reason != NULL
					  ? psprintf("Table %s cannot be protected (%s): keep %s out of its hierarchy.",
								 aname, reason, pname)
					  : psprintf("Protect %s first (SELECT tenant_rls.protect(%s%s);), or keep %s out of its hierarchy.",
								 aname, quote_literal_cstr(aname),
								 tenant_rls_tenant_column != NULL &&
								 strcmp(prot.tenant_column, tenant_rls_tenant_column) == 0
								 ? "" : psprintf(", %s", quote_literal_cstr(prot.tenant_column)),
								 pname));
}

static void check_below_one(HierarchyTable *anc, List *below);

/*
 * The other direction.  A query on a partition or inheritance child applies
 * that table's own policies, and a query on a protected ancestor returns
 * its rows to the tenant they name.  So when relid gets a parent (CREATE
 * TABLE ... PARTITION OF / INHERITS, ATTACH PARTITION, INHERIT) below a
 * protected table, every table of relid's tree must, after auto-protection,
 * be protected by that table's tenant column.  Refused (a WARNING under
 * drift_action = warning):
 *   - a table marked global: no policies, so whoever may query it directly
 *     reads and writes the rows of every tenant routed to it, and rows
 *     written into it show up in the parent for the tenant they name;
 *   - a temporary table (PostgreSQL lets one inherit from a permanent
 *     table; protect() cannot protect it): its session writes any tenant's
 *     rows into it without a policy, and the parent returns them to that
 *     tenant in the same session, e.g. the next client of a pooled
 *     connection;
 *   - a table protected by another column: the child checks one column, the
 *     parent another, so a row written through the child for one tenant is
 *     read and changed by another through the parent.
 * A table left unprotected (auto_protect = off, a pg_dump replay, a foreign
 * table, which got its WARNING) is not refused here: lint() reports it
 * (child_unprotected).
 */
static void
check_below_protected(Oid relid)
{
	List	   *below = NIL;
	ListCell   *ac;

	/*
	 * Every protected ancestor, not only the nearest: with multiple
	 * inheritance a table can have two, protected by different columns.
	 */
	foreach(ac, tables_by_protection(tenant_relation_ancestors(relid), true, 0))
	{
		HierarchyTable *anc = lfirst(ac);

		if (anc->tenant_column == NULL)
			continue;
		if (below == NIL)
			below = find_all_inheritors(relid, NoLock, NULL);
		check_below_one(anc, below);
	}
}

/* check_below_protected() for one protected ancestor anc of the tables below */
static void
check_below_one(HierarchyTable *anc, List *below)
{
	ListCell   *lc;

	foreach(lc, below)
	{
		Oid			rel = lfirst_oid(lc);
		char	   *nspname = get_namespace_name(get_rel_namespace(rel));
		char	   *relname = get_rel_name(rel);
		char	   *qualname;
		char	   *aname;
		RegistryEntry entry;

		if (nspname == NULL || relname == NULL)
			continue;
		/* pg_temp_N depends on the backend: say pg_temp */
		qualname = isAnyTempNamespace(get_rel_namespace(rel))
			? quote_qualified_identifier("pg_temp", relname)
			: quote_qualified_identifier(nspname, relname);
		aname = tenant_rel_qualname(anc->relid);
		if (get_rel_persistence(rel) == RELPERSISTENCE_TEMP)
			report_drift_hint(psprintf("cannot place temporary table %s below protected table %s",
									   qualname, aname),
							  psprintf("A temporary table cannot be protected: its session writes the rows of any tenant into it without a policy, and a query on %s returns them to that tenant.",
									   aname),
							  psprintf("Use a permanent table (it is protected like the rest of the hierarchy of %s).",
									   aname));
		else if (!registry_lookup(nspname, relname, &entry))
			continue;
		else if (!entry.is_protected)
			report_drift_hint(psprintf("cannot place global table %s below protected table %s",
									   qualname, aname),
							  psprintf("A global table has no tenant policies: whoever may query %s directly reads and writes the rows of every tenant in it, which a query on %s returns to the tenant they name.",
									   qualname, aname),
							  psprintf("Run SELECT tenant_rls.unmark_global(%s); first, so that it is protected with %s, or keep it out of the hierarchy.",
									   quote_literal_cstr(qualname), aname));
		else if (entry.tenant_column != NULL &&
				 strcmp(entry.tenant_column, anc->tenant_column) != 0)
			report_drift_hint(psprintf("cannot place table %s, protected by column \"%s\", below table %s, protected by column \"%s\"",
									   qualname, entry.tenant_column, aname, anc->tenant_column),
							  psprintf("A query on %s checks \"%s\" and one on %s checks \"%s\": a row written through either for one tenant could be read and changed by another through the other.",
									   qualname, entry.tenant_column, aname, anc->tenant_column),
							  psprintf("Protect %s by \"%s\" (SELECT tenant_rls.unprotect(%s); then SELECT tenant_rls.protect(%s, %s);), or keep it out of the hierarchy.",
									   qualname, anc->tenant_column, quote_literal_cstr(qualname),
									   quote_literal_cstr(qualname), quote_literal_cstr(anc->tenant_column)));
	}
}

/*
 * The protected table above relid (partition or inheritance parent, at any
 * level), if there is one; for mark_global(), which must not make a table
 * below a protected one global.  Reads the registry with the extension's
 * rights.
 */
bool
tenant_protected_ancestor(Oid relid, Oid *ancestor)
{
	List	   *above = tenant_relation_ancestors(relid);
	HierarchyTable anc;

	if (above == NIL || !first_by_protection(above, true, &anc))
		return false;
	*ancestor = anc.relid;
	return true;
}

/*
 * A protected table above the tables rels (a table and everything below it
 * that protect() or unprotect() acts on), not one of them, at any level:
 * with !same_column one protected by a column other than colname, which
 * would check its column on rows a target lets through by colname (the
 * first found); with same_column one protected by colname (or by a column
 * the registry does not name), whose rows a target would stop guarding if
 * it lost its policies (the topmost above the first target found, the one
 * whose unprotect() takes that target along).  *ancestor, its *column and
 * *below, the target below it.  Only the tables with a parent outside rels
 * are walked up (a partition's parent is usually the root; an inheritance
 * child may have other parents).  SPI must be connected.
 */
bool
tenant_protected_above(List *rels, const char *colname, bool same_column,
					   Oid *ancestor, Oid *below, char **column)
{
	List	   *above = NIL;
	List	   *from = NIL;		/* the target below each of above */
	ListCell   *lc;
	bool		found = false;

	foreach(lc, rels)
	{
		Oid			rel = lfirst_oid(lc);
		ListCell   *pc;
		bool		outside = false;

		foreach(pc, relation_parents(rel))
			outside |= !list_member_oid(rels, lfirst_oid(pc));
		if (!outside)
			continue;
		foreach(pc, tenant_relation_ancestors(rel))
		{
			Oid			a = lfirst_oid(pc);

			if (list_member_oid(rels, a) || list_member_oid(above, a))
				continue;
			above = lappend_oid(above, a);
			from = lappend_oid(from, rel);
		}
	}
	/* in the order of above: each target's ancestors together, nearest first */
	foreach(lc, tables_by_protection(above, true, 0))
	{
		HierarchyTable *anc = lfirst(lc);
		bool		same = anc->tenant_column == NULL || strcmp(anc->tenant_column, colname) == 0;
		Oid			b = InvalidOid;
		ListCell   *fc;
		ListCell   *tc;

		if (same != same_column)
			continue;
		forboth(fc, above, tc, from)
		{
			if (lfirst_oid(fc) == anc->relid)
				b = lfirst_oid(tc);
		}
		if (found && b != *below)
			break;
		*ancestor = anc->relid;
		*column = anc->tenant_column;
		*below = b;
		found = true;
		if (!same_column)
			break;
	}
	return found;
}

/*
 * unprotect() of relid has removed its registry rows (and those of the
 * tables protected with it): refuse, as the drift guard does, when a
 * protected table is left below it.
 */
void
tenant_check_unprotect_hierarchy(Oid relid)
{
	check_ancestors(relid, true);
}

/* --------------------------------------------------------- registry upkeep */

static void
registry_update(const char *sql, int nargs, const char *a1, const char *a2, const char *a3)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	int			ret;

	values[0] = CStringGetTextDatum(a1);
	values[1] = CStringGetTextDatum(a2);
	if (nargs > 2)
		values[2] = CStringGetTextDatum(a3);
	ret = et_spi(sql, nargs, argtypes, values, NULL, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "tenant_rls: registry update failed: %s", SPI_result_code_string(ret));
}

/*
 * A string literal as pg_get_expr() prints it (ruleutils' simple_quote_literal:
 * never E'', a backslash doubled only when standard_conforming_strings is
 * off), so that a record rewritten here equals the policy's deparsed text.
 */
static char *
deparse_literal(const char *val)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '\'');
	for (const char *p = val; *p; p++)
	{
		if (SQL_STR_DOUBLE(*p, !standard_conforming_strings))
			appendStringInfoChar(&buf, *p);
		appendStringInfoChar(&buf, *p);
	}
	appendStringInfoChar(&buf, '\'');
	return buf.data;
}

/*
 * expr with each 'oldname'::regclass (a string constant, a cast, the type
 * regclass: tokens of PostgreSQL's own scanner) replaced by newtok, or NULL
 * when there is none.  Only whole tokens: a quoted identifier or a comment
 * that contains the same characters is left as it is.
 */
static char *
replace_regclass_literal(const char *expr, const char *oldname, const char *newtok)
{
	core_yyscan_t yyscanner;
	core_yy_extra_type yyextra;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	StringInfoData out;
	int			copied = 0;
	int			tok[3] = {0, 0, 0};
	int			loc[3] = {0, 0, 0};
	char	   *str = NULL;
	bool		any = false;

	initStringInfo(&out);
	yyscanner = scanner_init(expr, &yyextra, &ScanKeywords, ScanKeywordTokens);
	for (;;)
	{
		int			t = core_yylex(&yylval, &yylloc, yyscanner);

		tok[0] = tok[1];
		loc[0] = loc[1];
		tok[1] = tok[2];
		loc[1] = loc[2];
		tok[2] = t;
		loc[2] = yylloc;
		if (t == 0)
			break;
		if (t == SCONST)
			str = pstrdup(yylval.str);
		/* SCONST TYPECAST IDENT(regclass), the constant being oldname */
		if (t == IDENT && strcmp(yylval.str, "regclass") == 0 &&
			tok[1] == TYPECAST && tok[0] == SCONST && str != NULL && strcmp(str, oldname) == 0 &&
			strncmp(expr + loc[2], "regclass", 8) == 0)
		{
			appendBinaryStringInfo(&out, expr + copied, loc[0] - copied);
			appendStringInfoString(&out, newtok);
			copied = loc[2] + 8;
			any = true;
		}
	}
	scanner_finish(yyscanner);
	if (!any)
		return NULL;
	appendStringInfoString(&out, expr + copied);
	return out.data;
}

/*
 * The managed policies recorded in the registry are pg_get_expr() texts,
 * and some name their own table ('schema.table'::regclass).  After a rename
 * or a move, rewrite that literal so the record matches the catalog again
 * (a policy edited by hand stays different from its record).  The literal
 * is found by the scanner, not by a replace() of its characters, which also
 * matched inside a quoted identifier (a tenant column named
 * "a'ms.u'::regclass"): the new name's quotes ended the identifier, and the
 * record held SQL of the table owner's choosing, which lint() hands to a
 * superuser as the fix of managed_policy_modified (review rev24b).
 */
static void
registry_rewrite_regclass(const char *oldnsp, const char *oldrel,
						  const char *newnsp, const char *newrel)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	const char *oldname = quote_qualified_identifier(oldnsp, oldrel);
	char	   *newtok = psprintf("%s::regclass", deparse_literal(quote_qualified_identifier(newnsp, newrel)));
	List	   *keys = NIL;
	List	   *quals = NIL;
	List	   *checks = NIL;
	ListCell   *k,
			   *q,
			   *c;

	values[0] = CStringGetTextDatum(newnsp);
	values[1] = CStringGetTextDatum(newrel);
	if (et_spi("SELECT k.key, k.value OPERATOR(pg_catalog.->>) 'qual', k.value OPERATOR(pg_catalog.->>) 'with_check'"
			   "  FROM tenant_rls.protected_table r,"
			   "       pg_catalog.jsonb_each(r.managed OPERATOR(pg_catalog.->) 'policies') k"
			   " WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
			   "   AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name"
			   "   AND pg_catalog.jsonb_typeof(r.managed OPERATOR(pg_catalog.->) 'policies')"
			   "       OPERATOR(pg_catalog.=) 'object'",
			   2, argtypes, values, NULL, 0) != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: registry lookup failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		keys = lappend(keys, SPI_getvalue(tup, desc, 1));
		quals = lappend(quals, SPI_getvalue(tup, desc, 2));
		checks = lappend(checks, SPI_getvalue(tup, desc, 3));
	}
	forthree(k, keys, q, quals, c, checks)
	{
		char	   *qual = lfirst(q) ? replace_regclass_literal(lfirst(q), oldname, newtok) : NULL;
		char	   *check = lfirst(c) ? replace_regclass_literal(lfirst(c), oldname, newtok) : NULL;

		if (qual == NULL && check == NULL)
			continue;
		values[2] = CStringGetTextDatum(lfirst(k));
		if (qual == NULL)
			qual = lfirst(q);
		if (check == NULL)
			check = lfirst(c);
		nulls[3] = qual ? ' ' : 'n';
		values[3] = qual ? CStringGetTextDatum(qual) : (Datum) 0;
		nulls[4] = check ? ' ' : 'n';
		values[4] = check ? CStringGetTextDatum(check) : (Datum) 0;
		if (et_spi("UPDATE tenant_rls.protected_table r"
				   " SET managed = pg_catalog.jsonb_set(r.managed, ARRAY['policies', $3],"
				   "       (r.managed OPERATOR(pg_catalog.->) 'policies' OPERATOR(pg_catalog.->) $3)"
				   "       OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('qual', $4, 'with_check', $5))"
				   " WHERE r.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
				   "   AND r.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name",
				   5, argtypes, values, nulls, 0) != SPI_OK_UPDATE)
			elog(ERROR, "tenant_rls: registry update failed");
	}
}

/*
 * The row of tenant_rls.audit_config (alias c) that belongs to a table, given
 * as SQL expressions for its oid, schema and name: the row with its name, or
 * a row with its oid whose names designate no table (renamed while the event
 * triggers did not follow).  A row whose names designate another table is
 * that table's, whatever its oid: rows restored by pg_dump carry the old
 * cluster's oids (a data-only restore with --disable-triggers keeps them),
 * and such an oid may name an unrelated table here.  The same rule as
 * read_config() in audit.c.
 */
#define AUDIT_CONFIG_ROW_OF(oid, nsp, rel) \
	"((c.schema_name OPERATOR(pg_catalog.=) " nsp \
	"  AND c.table_name OPERATOR(pg_catalog.=) " rel ")" \
	" OR (c.table_oid OPERATOR(pg_catalog.=) " oid \
	"     AND NOT EXISTS (SELECT FROM pg_catalog.pg_class d" \
	"                      JOIN pg_catalog.pg_namespace e ON e.oid OPERATOR(pg_catalog.=) d.relnamespace" \
	"                     WHERE e.nspname OPERATOR(pg_catalog.=) c.schema_name" \
	"                       AND d.relname OPERATOR(pg_catalog.=) c.table_name)))"

/*
 * The audit configuration names its tables too (the identity pg_dump
 * restores; table_oid is only a hint): relid, called oldnsp.oldname before
 * a rename or move, keeps its row (AUDIT_CONFIG_ROW_OF, by the old name)
 * under its new name.  A row already holding the new name is left alone
 * (that row then applies to the table).
 */
static void
audit_config_follow(const char *oldnsp, const char *oldname, Oid relid)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		values[3];
	int			ret;

	values[0] = CStringGetTextDatum(oldnsp);
	values[1] = CStringGetTextDatum(oldname);
	values[2] = ObjectIdGetDatum(relid);
	ret = SPI_execute_with_args("UPDATE tenant_rls.audit_config c"
								" SET schema_name = n.nspname, table_name = k.relname, table_oid = k.oid"
								" FROM pg_catalog.pg_class k"
								" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace"
								" WHERE k.oid OPERATOR(pg_catalog.=) $3"
								" AND " AUDIT_CONFIG_ROW_OF("$3", "$1::pg_catalog.name", "$2::pg_catalog.name")
								" AND NOT EXISTS (SELECT FROM tenant_rls.audit_config o"
								"                  WHERE o.schema_name OPERATOR(pg_catalog.=) n.nspname"
								"                  AND o.table_name OPERATOR(pg_catalog.=) k.relname"
								"                  AND o.ctid OPERATOR(pg_catalog.<>) c.ctid)",
								3, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "tenant_rls: audit configuration update failed: %s", SPI_result_code_string(ret));
}

/*
 * The tables a RENAME COLUMN of relid renamed the column of: relid and its
 * partitions and inheritance children; for a composite type (ALTER TYPE ...
 * RENAME ATTRIBUTE ... CASCADE) the typed tables of the type, and theirs.
 */
static List *
renamed_column_tables(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	List	   *typed = NIL;
	List	   *rels = NIL;
	ListCell   *lc;

	if (get_rel_relkind(relid) != RELKIND_COMPOSITE_TYPE)
		return find_all_inheritors(relid, NoLock, NULL);
	values[0] = ObjectIdGetDatum(get_rel_type_id(relid));
	if (et_spi("SELECT c.oid FROM pg_catalog.pg_class c"
							  " WHERE c.reloftype OPERATOR(pg_catalog.=) $1"
							  " ORDER BY c.oid",
							  1, argtypes, values, NULL, 0) != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: typed table lookup failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		typed = lappend_oid(typed, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																  SPI_tuptable->tupdesc, 1, &isnull)));
	}
	foreach(lc, typed)
		rels = list_concat_unique_oid(rels, find_all_inheritors(lfirst_oid(lc), NoLock, NULL));
	return rels;
}

/*
 * The column lists of the audit configuration (columns, exclude) name
 * columns: a column renamed in rels (renamed_column_tables()) keeps its
 * place in them.  Otherwise a renamed excluded column would be recorded in
 * full from then on, and a renamed audited one silently dropped from the
 * record.
 */
static void
audit_config_rename_column(List *rels, const char *oldname, const char *newname)
{
	ListCell   *lc;

	foreach(lc, rels)
	{
		Oid			argtypes[3] = {OIDOID, TEXTOID, TEXTOID};
		Datum		values[3];
		int			ret;

		values[0] = ObjectIdGetDatum(lfirst_oid(lc));
		values[1] = CStringGetTextDatum(oldname);
		values[2] = CStringGetTextDatum(newname);
		ret = SPI_execute_with_args("UPDATE tenant_rls.audit_config c"
									" SET columns = pg_catalog.array_replace(c.columns, $2, $3),"
									"     exclude = pg_catalog.array_replace(c.exclude, $2, $3)"
									" FROM pg_catalog.pg_class k"
									" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace"
									" WHERE k.oid OPERATOR(pg_catalog.=) $1"
									" AND " AUDIT_CONFIG_ROW_OF("$1", "n.nspname", "k.relname"),
									3, argtypes, values, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "tenant_rls: audit configuration update failed: %s", SPI_result_code_string(ret));
	}
}

/*
 * The updated_at trigger (tenant_rls.updated_at_attach(), 40_audit.sql)
 * names the column it maintains in its argument, which a rename leaves
 * behind (its WHEN clause, which holds attribute numbers, follows by
 * itself): every UPDATE would fail.  Each table of rels whose
 * tenant_rls_updated_at trigger of tenant_rls.updated_at_trigger() names
 * oldname and is its own (not a clone) gets it again, naming newname,
 * through updated_at_attach(); the clones on its partitions follow
 * (CREATE OR REPLACE TRIGGER on a partitioned table replaces them).  That
 * also enables the trigger and its clones again, so a state set with ALTER
 * TABLE ... DISABLE / ENABLE REPLICA / ENABLE ALWAYS TRIGGER is set back
 * afterwards, on each table (ONLY).  A trigger attached by hand under
 * another name is left alone (its UPDATEs then fail with a hint, audit.c).
 */
static void
updated_at_rename_column(List *rels, const char *oldname, const char *newname)
{
	typedef struct
	{
		Oid			relid;
		bool		own;		/* not a clone of a parent's trigger */
		char		enabled;	/* pg_trigger.tgenabled */
	} Found;
	List	   *found = NIL;
	size_t		len = strlen(oldname) + 1;
	bytea	   *oldarg = palloc(VARHDRSZ + len);
	ListCell   *lc;

	/* tgargs: each argument followed by a NUL byte */
	SET_VARSIZE(oldarg, VARHDRSZ + len);
	memcpy(VARDATA(oldarg), oldname, len);

	foreach(lc, rels)
	{
		Oid			argtypes[2] = {OIDOID, BYTEAOID};
		Datum		values[2];
		int			ret;

		values[0] = ObjectIdGetDatum(lfirst_oid(lc));
		values[1] = PointerGetDatum(oldarg);
		ret = SPI_execute_with_args("SELECT t.tgparentid OPERATOR(pg_catalog.=) 0, t.tgenabled"
									" FROM pg_catalog.pg_trigger t"
									" WHERE t.tgrelid OPERATOR(pg_catalog.=) $1"
									" AND t.tgname OPERATOR(pg_catalog.=) 'tenant_rls_updated_at'"
									" AND t.tgfoid OPERATOR(pg_catalog.=)"
									"     pg_catalog.to_regprocedure('tenant_rls.updated_at_trigger()')"
									" AND t.tgnargs OPERATOR(pg_catalog.=) 1"
									" AND t.tgargs OPERATOR(pg_catalog.=) $2",
									2, argtypes, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "tenant_rls: updated_at trigger lookup failed: %s", SPI_result_code_string(ret));
		if (SPI_processed > 0)
		{
			Found	   *f = palloc(sizeof(Found));
			bool		isnull;

			f->relid = lfirst_oid(lc);
			f->own = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			f->enabled = DatumGetChar(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			found = lappend(found, f);
		}
	}

	foreach(lc, found)
	{
		Found	   *f = (Found *) lfirst(lc);
		Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
		Datum		values[2];
		int			ret;

		if (!f->own || get_attnum(f->relid, newname) == InvalidAttrNumber)
			continue;
		values[0] = ObjectIdGetDatum(f->relid);
		values[1] = CStringGetTextDatum(newname);
		ret = SPI_execute_with_args("SELECT tenant_rls.updated_at_attach($1, $2::pg_catalog.name)",
									2, argtypes, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "tenant_rls: updated_at_attach() failed: %s", SPI_result_code_string(ret));
	}

	foreach(lc, found)
	{
		Found	   *f = (Found *) lfirst(lc);
		const char *action;
		int			ret;

		switch (f->enabled)
		{
			case TRIGGER_DISABLED:
				action = "DISABLE";
				break;
			case TRIGGER_FIRES_ON_REPLICA:
				action = "ENABLE REPLICA";
				break;
			case TRIGGER_FIRES_ALWAYS:
				action = "ENABLE ALWAYS";
				break;
			default:
				continue;		/* TRIGGER_FIRES_ON_ORIGIN: as updated_at_attach() left it */
		}
		ret = SPI_execute(psprintf("ALTER TABLE ONLY %s %s TRIGGER tenant_rls_updated_at",
								   quote_qualified_identifier(get_namespace_name(get_rel_namespace(f->relid)),
															  get_rel_name(f->relid)),
								   action),
						  false, 0);
		if (ret != SPI_OK_UTILITY)
			elog(ERROR, "tenant_rls: restoring the state of an updated_at trigger failed: %s",
				 SPI_result_code_string(ret));
	}
}

/* schema.oldname was renamed to schema.newname */
static void
registry_rename_table(const char *nspname, const char *oldname, const char *newname)
{
	registry_update("UPDATE tenant_rls.protected_table SET table_name = $3::pg_catalog.name"
					" WHERE schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
					" AND table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name",
					3, nspname, oldname, newname);
	registry_rewrite_regclass(nspname, oldname, nspname, newname);
	registry_update("UPDATE tenant_rls.protected_table SET parent_table = $3::pg_catalog.name"
					" WHERE parent_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name"
					" AND parent_table OPERATOR(pg_catalog.=) $2::pg_catalog.name",
					3, nspname, oldname, newname);
}

/* oldnsp.relname was moved to newnsp.relname */
static void
registry_move_table(const char *oldnsp, const char *newnsp, const char *relname)
{
	registry_update("UPDATE tenant_rls.protected_table SET schema_name = $2::pg_catalog.name"
					" WHERE schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
					" AND table_name OPERATOR(pg_catalog.=) $3::pg_catalog.name",
					3, oldnsp, newnsp, relname);
	registry_rewrite_regclass(oldnsp, relname, newnsp, relname);
	registry_update("UPDATE tenant_rls.protected_table SET parent_schema = $2::pg_catalog.name"
					" WHERE parent_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name"
					" AND parent_table OPERATOR(pg_catalog.=) $3::pg_catalog.name",
					3, oldnsp, newnsp, relname);
}

/*
 * The registry and the audit configuration follow a command that renamed or
 * moved a table (ALTER TABLE / INDEX / VIEW ... RENAME, ALTER ... SET SCHEMA,
 * ALTER EXTENSION ... SET SCHEMA, which moves the extension's member tables:
 * review rev35c, the guard lost a moved protected table), or renamed a
 * schema.  Other commands: nothing.
 */
static List *extension_member_tables(Oid extoid);
static void registry_rename_schema(const char *oldnsp, const char *newnsp);

static void
registry_follow(CollectedCommand *cmd)
{
	Node	   *parsetree = cmd->parsetree;
	ObjectAddress *addr = &cmd->d.simple.address;

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;

		if (stmt->renameType == OBJECT_SCHEMA)
		{
			/*
			 * wait for protect() and its kin that hold the schema's lock
			 * (policy.c, lock_schemas()); the UPDATEs below, with the latest
			 * snapshot, then see the rows they wrote under the old name
			 * (review rev36c)
			 */
			if (addr->classId == NamespaceRelationId)
				LockDatabaseObject(NamespaceRelationId, addr->objectId, 0, AccessExclusiveLock);
			registry_rename_schema(stmt->subname, stmt->newname);
		}
		else if (addr->classId == RelationRelationId &&
				 addr->objectSubId == 0 && stmt->relation != NULL &&
				 strcmp(stmt->relation->relname, stmt->newname) != 0)
		{
			/*
			 * PostgreSQL renames a table under any of OBJECT_TABLE, _INDEX,
			 * _VIEW, ... (ALTER INDEX ... RENAME does, on a table): what
			 * counts is what was renamed.
			 */
			char	   *nsp = get_namespace_name(get_rel_namespace(addr->objectId));

			if (nsp != NULL)
			{
				registry_rename_table(nsp, stmt->relation->relname, stmt->newname);
				audit_config_follow(nsp, stmt->relation->relname, addr->objectId);
			}
		}
	}
	else if (IsA(parsetree, AlterObjectSchemaStmt) &&
			 cmd->d.simple.secondaryObject.classId == NamespaceRelationId)
	{
		char	   *oldnsp = get_namespace_name(cmd->d.simple.secondaryObject.objectId);
		List	   *moved = NIL;
		ListCell   *lc;

		if (addr->classId == RelationRelationId)
			moved = list_make1_oid(addr->objectId);
		else if (addr->classId == ExtensionRelationId)
			moved = extension_member_tables(addr->objectId);
		foreach(lc, moved)
		{
			Oid			relid = lfirst_oid(lc);
			char	   *newnsp = get_namespace_name(get_rel_namespace(relid));
			char	   *relname = get_rel_name(relid);

			if (oldnsp && newnsp && relname && strcmp(oldnsp, newnsp) != 0)
			{
				registry_move_table(oldnsp, newnsp, relname);
				audit_config_follow(oldnsp, relname, relid);
			}
		}
	}
}

/* the tables, views and sequences that are members of extension extoid */
static List *
extension_member_tables(Oid extoid)
{
	Relation	dep = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *res = NIL;

	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(dep, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);

		if (d->deptype == DEPENDENCY_EXTENSION && d->classid == RelationRelationId && d->objsubid == 0)
			res = lappend_oid(res, d->objid);
	}
	systable_endscan(scan);
	table_close(dep, AccessShareLock);
	return res;
}

/* schema oldnsp was renamed to newnsp */
static void
registry_rename_schema(const char *oldnsp, const char *newnsp)
{
	registry_update("UPDATE tenant_rls.protected_table SET schema_name = $2::pg_catalog.name"
					" WHERE schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
					2, oldnsp, newnsp, NULL);
	registry_update("UPDATE tenant_rls.protected_table SET parent_schema = $2::pg_catalog.name"
					" WHERE parent_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name",
					2, oldnsp, newnsp, NULL);
	registry_update("UPDATE tenant_rls.audit_config SET schema_name = $2::pg_catalog.name"
					" WHERE schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
					2, oldnsp, newnsp, NULL);
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];
		List	   *tables = NIL;
		ListCell   *lc;
		uint64		i;

		values[0] = CStringGetTextDatum(newnsp);
		if (et_spi("SELECT table_name::pg_catalog.text FROM tenant_rls.protected_table"
								  " WHERE schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
								  1, argtypes, values, NULL, 0) != SPI_OK_SELECT)
			elog(ERROR, "tenant_rls: registry lookup failed");
		for (i = 0; i < SPI_processed; i++)
			tables = lappend(tables, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		foreach(lc, tables)
			registry_rewrite_regclass(oldnsp, lfirst(lc), newnsp, lfirst(lc));
	}
}

/*
 * The arguments of the registry updates below: $1, $2 the schema and name
 * of named, $3 the OIDs of tree_of and every table below it.  False when
 * named is gone.
 */
static bool
registry_tree_args(Oid named, Oid tree_of, Datum *values)
{
	char	   *nspname = get_namespace_name(get_rel_namespace(named));
	char	   *relname = get_rel_name(named);
	List	   *tree;
	Datum	   *oids;
	int			n = 0;
	ListCell   *lc;

	if (nspname == NULL || relname == NULL)
		return false;
	tree = find_all_inheritors(tree_of, NoLock, NULL);
	oids = palloc(sizeof(Datum) * list_length(tree));
	foreach(lc, tree)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = CStringGetTextDatum(nspname);
	values[1] = CStringGetTextDatum(relname);
	values[2] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	return true;
}

/*
 * Tables registered with root (parent_schema / parent_table: the table
 * protect() was called on, for partitions of partitions too) that are no
 * longer in root's tree, at any level, stay protected, without that link:
 * they are returned, and registry_forget_parent() keeps each tree that
 * left together.
 */
static List *
registry_forget_parent_of(Oid root)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, OIDARRAYOID};
	Datum		values[3];
	int			ret;
	List	   *left = NIL;

	if (!registry_tree_args(root, root, values))
		return NIL;
	ret = et_spi("UPDATE tenant_rls.protected_table r SET parent_schema = NULL, parent_table = NULL"
								" WHERE r.parent_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name"
								" AND r.parent_table OPERATOR(pg_catalog.=) $2::pg_catalog.name"
								" AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest($3) x(relid)"
								"   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.relid"
								"   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
								"  WHERE n.nspname OPERATOR(pg_catalog.=) r.schema_name"
								"    AND c.relname OPERATOR(pg_catalog.=) r.table_name)"
								" RETURNING pg_catalog.to_regclass(pg_catalog.quote_ident(r.schema_name)"
								"   OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.table_name))::pg_catalog.oid",
								3, argtypes, values, NULL, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "tenant_rls: registry update failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			left = lappend_oid(left, DatumGetObjectId(d));
	}
	return left;
}

/*
 * child was linked below parent (ATTACH PARTITION; or it is below parent in
 * a tree that left its root: registry_forget_parent()).  When parent is
 * protected, child and the tables of child's tree that were protected on
 * their own or with child, by the same column, are now protected with
 * parent's root, as tables created below parent are: unprotect() of the
 * root takes them along, and the root's grants cover them also when they are
 * queried directly.  A partition detached and attached again stayed on its
 * own (review rev37b L2).  The reverse of registry_forget_parent().
 */
static void
registry_adopt_child(Oid child, Oid parent)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, OIDARRAYOID};
	Datum		values[3];
	int			ret;

	if (!registry_tree_args(parent, child, values))
		return;
	ret = et_spi("WITH tree AS (SELECT n.nspname, c.relname FROM pg_catalog.unnest($3) x(relid)"
				 "   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.relid"
				 "   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace),"
				 " root AS (SELECT COALESCE(p.parent_schema, p.schema_name) AS nspname,"
				 "   COALESCE(p.parent_table, p.table_name) AS relname, p.tenant_column"
				 "   FROM tenant_rls.protected_table p"
				 "  WHERE p.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name"
				 "    AND p.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name"
				 "    AND p.status OPERATOR(pg_catalog.=) 'protected')"
				 " UPDATE tenant_rls.protected_table r SET parent_schema = root.nspname, parent_table = root.relname"
				 " FROM root, tree"
				 " WHERE r.schema_name OPERATOR(pg_catalog.=) tree.nspname"
				 " AND r.table_name OPERATOR(pg_catalog.=) tree.relname"
				 " AND r.status OPERATOR(pg_catalog.=) 'protected'"
				 " AND r.tenant_column OPERATOR(pg_catalog.=) root.tenant_column"
				 " AND (r.parent_schema IS NULL OR EXISTS (SELECT 1 FROM tree t"
				 "   WHERE t.nspname OPERATOR(pg_catalog.=) r.parent_schema"
				 "     AND t.relname OPERATOR(pg_catalog.=) r.parent_table))",
				 3, argtypes, values, NULL, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "tenant_rls: registry update failed: %s", SPI_result_code_string(ret));
}

/*
 * relid stopped being the parent of some of its children (DETACH
 * PARTITION, NO INHERIT).  The tables that left are registered with relid
 * or with any table above it (the root protect() was called on): so, for
 * relid and each of its ancestors, the tables registered with it that are
 * no longer below it lose that link.  (Comparing with the direct children
 * only, as before, unlinked every partition of a partition on any DETACH
 * from the root, and never one detached from an intermediate parent.)
 */
static void
registry_forget_parent(Oid relid)
{
	ListCell   *lc;
	List	   *left;

	left = registry_forget_parent_of(relid);
	foreach(lc, tenant_relation_ancestors(relid))
		left = list_concat_unique_oid(left, registry_forget_parent_of(lfirst_oid(lc)));

	/*
	 * The tables that left, below the one that left (a detached partition's
	 * own partitions), are protected with it from now on: they stay one tree
	 * (review rev38c: a table that had brought its partitions along when
	 * attached left them on their own when detached again).
	 */
	foreach(lc, left)
	{
		Oid			top = lfirst_oid(lc);
		ListCell   *ch;

		/*
		 * The grants that cover them changed (those of their new root), but
		 * nothing in the catalog of a table below top did: drop what the
		 * backends cached of them (review rev47g: NO INHERIT left a
		 * grandchild covered by the old root's grants in every backend that
		 * had read them).
		 */
		foreach(ch, find_all_inheritors(top, NoLock, NULL))
			CacheInvalidateRelcacheByRelid(lfirst_oid(ch));

		foreach(ch, find_inheritance_children(top, NoLock))
		{
			if (list_member_oid(left, lfirst_oid(ch)))
				registry_adopt_child(lfirst_oid(ch), top);
		}
	}
}

/* ------------------------------------------------------- ddl_command_end */

static bool
is_tenant_column_of(Oid relid, AttrNumber attnum)
{
	char	   *attname;

	if (attnum <= 0 || tenant_rls_tenant_column == NULL)
		return false;
	attname = get_attname(relid, attnum, true);
	return attname != NULL && strcmp(attname, tenant_rls_tenant_column) == 0;
}

static List *
add_candidate(List *list, Oid relid, bool parent_only)
{
	Candidate  *c = palloc(sizeof(Candidate));

	c->relid = relid;
	c->parent_only = parent_only;
	c->created = false;
	c->filled = false;
	return lappend(list, c);
}

/*
 * relid, which now has the tenant column, and each of its partitions and
 * inheritance children that has it (by name), as candidates: ADD COLUMN and
 * RENAME COLUMN recurse, and report the table named only.  The children go
 * to the hierarchy checks too: one protected now below a parent that is not
 * is refused, as its CREATE ... INHERITS / PARTITION OF would have been.
 */
static List *
add_inheritors(List *list, Oid relid, List **hierarchy_checks)
{
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);
	ListCell   *lc;

	foreach(lc, rels)
	{
		Oid			rel = lfirst_oid(lc);

		if (rel == relid)
			list = add_candidate(list, rel, false);
		else if (is_tenant_column_of(rel, get_attnum(rel, tenant_rls_tenant_column)))
		{
			list = add_candidate(list, rel, false);
			*hierarchy_checks = list_append_unique_oid(*hierarchy_checks, rel);
		}
	}
	return list;
}

static List *
add_check(List *list, Oid relid, int flags, bool recurse)
{
	DriftCheck *c = palloc(sizeof(DriftCheck));

	c->relid = relid;
	c->flags = flags;
	c->recurse = recurse;
	return lappend(list, c);
}

/*
 * Statement triggers are not cloned to partitions: the audit TRUNCATE trigger
 * of every table in relids' partition trees is reconciled with the audit
 * configuration (created below audited tables, dropped elsewhere).  Runs with
 * our rights, like protect(): a partition owned by another role gets it too.
 */
static void
sync_audit_truncate_triggers(List *relids)
{
	Oid			argtypes[1] = {REGCLASSOID};
	List	   *fname;
	ListCell   *lc;

	if (relids == NIL)
		return;
	/* a database still on an install script without it (as policy.c does for enable_audit) */
	fname = list_make2(makeString(TENANT_RLS_SCHEMA), makeString("audit_sync_truncate_triggers"));
	if (!OidIsValid(LookupFuncName(fname, 1, argtypes, true)))
		return;
	foreach(lc, relids)
	{
		Oid			nspid = get_rel_namespace(lfirst_oid(lc));
		Datum		values[1];
		int			ret;

		/* gone, or a table tenant_rls never audits (the log's own partitions) */
		if (!OidIsValid(nspid) || schema_is_excluded(nspid))
			continue;
		values[0] = ObjectIdGetDatum(lfirst_oid(lc));
		ret = SPI_execute_plan(kept_plan(&audit_sync_plan,
										 "SELECT tenant_rls.audit_sync_truncate_triggers($1)",
										 1, argtypes),
							   values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "tenant_rls: audit_sync_truncate_triggers() failed: %s", SPI_result_code_string(ret));
	}
}

/*
 * DETACH PARTITION does not record which partition it detached (no address
 * either).  The detached table is among the tables that carry the audit
 * TRUNCATE trigger but are neither partitions nor registered themselves:
 * those are reconciled (the trigger goes, from their partitions too).
 */
static List *
detached_audit_tables(void)
{
	List	   *relids = NIL;
	int			ret;

	ret = SPI_execute("SELECT g.tgrelid FROM pg_catalog.pg_trigger g"
					  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) g.tgrelid"
					  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  " WHERE g.tgname OPERATOR(pg_catalog.=) 'tenant_rls_audit_truncate'"
					  " AND g.tgfoid OPERATOR(pg_catalog.=) 'tenant_rls.audit_trigger()'::pg_catalog.regprocedure"
					  " AND NOT c.relispartition"
					  " AND NOT EXISTS (SELECT FROM tenant_rls.audit_config ac"
					  "  WHERE (ac.schema_name OPERATOR(pg_catalog.=) n.nspname"
					  "         AND ac.table_name OPERATOR(pg_catalog.=) c.relname)"
					  "  OR (ac.table_oid OPERATOR(pg_catalog.=) c.oid"
					  "      AND NOT EXISTS (SELECT FROM pg_catalog.pg_class d"
					  "                       JOIN pg_catalog.pg_namespace e ON e.oid OPERATOR(pg_catalog.=) d.relnamespace"
					  "                      WHERE e.nspname OPERATOR(pg_catalog.=) ac.schema_name"
					  "                        AND d.relname OPERATOR(pg_catalog.=) ac.table_name)))",
					  false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: audit trigger lookup failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		relids = lappend_oid(relids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull)));
	}
	return relids;
}

/*
 * A partition detached from an audited table loses the clone of its row
 * trigger (PostgreSQL drops it): it stays audited, on its own now, with the
 * column lists that applied to it through parent (review rev36b: it went
 * unaudited, and lint()'s fix audited every column, an excluded secret
 * included).  Returns the tables left for sync_audit_truncate_triggers()
 * (none, unless enable_audit() is missing).
 */
static List *
keep_detached_audited(List *relids, Oid parent)
{
	Oid			argtypes[2] = {REGCLASSOID, REGCLASSOID};
	Oid			fargs[3] = {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID};
	List	   *fname;
	ListCell   *lc;

	fname = list_make2(makeString(TENANT_RLS_SCHEMA), makeString("enable_audit"));
	if (!OidIsValid(parent) || !OidIsValid(LookupFuncName(fname, 3, fargs, true)))
		return relids;
	foreach(lc, relids)
	{
		Oid			nspid = get_rel_namespace(lfirst_oid(lc));
		Datum		values[2];

		if (!OidIsValid(nspid) || schema_is_excluded(nspid))
			continue;
		values[0] = ObjectIdGetDatum(lfirst_oid(lc));
		values[1] = ObjectIdGetDatum(parent);
		et_spi_privileged("SELECT tenant_rls.enable_audit($1, l.columns, l.exclude)"
						  " FROM tenant_rls._audit_lists($2) l",
						  2, argtypes, values, NULL);
	}
	return NIL;
}

/*
 * ALTER TABLE child NO INHERIT parent.  The columns that parent, or an
 * audited table above it, does not record were not recorded for child, nor
 * for the tables below child audited on their own (audit.c, read_config()):
 * each keeps that restriction (tenant_rls._audit_keep_unrecorded() says how
 * and why; review rev51e).
 */
static void
keep_former_parent_restriction(Oid child, Oid parent)
{
	List	   *above = lcons_oid(parent, tenant_relation_ancestors(parent));
	Datum	   *elems = palloc(sizeof(Datum) * list_length(above));
	int			n = 0;
	Oid			argtypes[2] = {REGCLASSOID, OIDARRAYOID};
	Datum		values[2];
	ListCell   *lc;
	SPITupleTable *tuptable;
	uint64		nrows;

	foreach(lc, above)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = ObjectIdGetDatum(child);
	values[1] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	et_spi_privileged("SELECT k.relid, pg_catalog.array_to_string(k.names, ', ')"
					  " FROM tenant_rls._audit_keep_unrecorded($1, $2) k",
					  2, argtypes, values, NULL);
	tuptable = SPI_tuptable;
	nrows = SPI_processed;
	for (uint64 i = 0; i < nrows; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
		char	   *names = SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 2);

		/* what every backend cached of it */
		CacheInvalidateRelcacheByRelid(relid);
		ereport(NOTICE,
				(errmsg("table %s keeps the audit restrictions of its former parent %s",
						tenant_rel_qualname(relid), tenant_rel_qualname(parent)),
				 errdetail("Columns %s, which %s or an audited table above it does not record, were added to the exclude list of its audit configuration.",
						   names, tenant_rel_qualname(parent)),
				 errhint("To record them, call tenant_rls.enable_audit() on %s with the lists it should have.",
						 tenant_rel_qualname(relid))));
	}
}

static void
ddl_command_end_work(EventTriggerData *trigdata)
{
	int			ret;
	uint64		i;
	List	   *commands = NIL;
	List	   *checks = NIL;
	List	   *candidates = NIL;
	List	   *audit_syncs = NIL;
	List	   *hierarchy_checks = NIL;	/* tables that got a new parent */
	bool		detached = false;
	Oid			detached_from = InvalidOid;
	ListCell   *lc;
	bool		may_protect;

	check_ddl_below_refresh(trigdata);

	ret = SPI_execute_plan(kept_plan(&ddl_commands_plan,
									 "SELECT c.command FROM pg_catalog.pg_event_trigger_ddl_commands() c",
									 0, NULL),
						   NULL, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: pg_event_trigger_ddl_commands() failed: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			commands = lappend(commands, DatumGetPointer(d));
	}

	may_protect = tenant_rls_auto_protect && !session_is_restoring();

	foreach(lc, commands)
	{
		CollectedCommand *cmd = (CollectedCommand *) lfirst(lc);
		Node	   *parsetree = cmd->parsetree;

		if (parsetree == NULL)
			continue;
		/*
		 * An extension's script: its tables are not protected automatically,
		 * but the registry follows a protected member it renames or moves
		 * (the drift guard finds tables by name)
		 */
		if (cmd->in_extension)
		{
			if (cmd->type == SCT_Simple)
				registry_follow(cmd);
			continue;
		}

		if (cmd->type == SCT_Simple)
		{
			ObjectAddress *addr = &cmd->d.simple.address;

			switch (nodeTag(parsetree))
			{
				case T_CreateStmt:
				case T_CreateForeignTableStmt:
				case T_CreateTableAsStmt:
					if (addr->classId == RelationRelationId && OidIsValid(addr->objectId))
					{
						candidates = add_candidate(candidates, addr->objectId, false);
						((Candidate *) llast(candidates))->created = true;
						((Candidate *) llast(candidates))->filled = IsA(parsetree, CreateTableAsStmt);
						if (get_rel_relispartition(addr->objectId))
							audit_syncs = list_append_unique_oid(audit_syncs, addr->objectId);
						/* PARTITION OF, INHERITS */
						if (!IsA(parsetree, CreateTableAsStmt))
							hierarchy_checks = list_append_unique_oid(hierarchy_checks, addr->objectId);
					}
					break;

				case T_AlterPolicyStmt:
					check_policy_change(addr->objectId, NULL);
					break;

				case T_RenameStmt:
					{
						RenameStmt *stmt = (RenameStmt *) parsetree;

						switch (stmt->renameType)
						{
							case OBJECT_TABLE:
							case OBJECT_INDEX:
							case OBJECT_FOREIGN_TABLE:
							case OBJECT_VIEW:
							case OBJECT_MATVIEW:
							case OBJECT_SEQUENCE:

								/*
								 * PostgreSQL renames a table under any of
								 * these (ALTER INDEX ... RENAME does, on a
								 * table): what counts is what was renamed.
								 */
								registry_follow(cmd);
								break;
							case OBJECT_COLUMN:
							case OBJECT_ATTRIBUTE:
								/* ALTER TYPE ... RENAME ATTRIBUTE works on a table too */
								if (addr->classId == RelationRelationId &&
									get_rel_relkind(addr->objectId) == RELKIND_COMPOSITE_TYPE)
								{
									/*
									 * ALTER TYPE c RENAME ATTRIBUTE ... CASCADE:
									 * the server reports the composite type; the
									 * columns renamed are those of its typed
									 * tables (and their children).
									 */
									List	   *rels = renamed_column_tables(addr->objectId);
									ListCell   *rc;

									foreach(rc, rels)
									{
										checks = add_check(checks, lfirst_oid(rc), CHECK_COLUMN, false);
										if (stmt->newname != NULL &&
											is_tenant_column_of(lfirst_oid(rc),
																get_attnum(lfirst_oid(rc), stmt->newname)))
											candidates = add_candidate(candidates, lfirst_oid(rc), false);
									}
									if (stmt->subname != NULL && stmt->newname != NULL)
									{
										audit_config_rename_column(rels, stmt->subname, stmt->newname);
										updated_at_rename_column(rels, stmt->subname, stmt->newname);
									}
								}
								else if (addr->classId == RelationRelationId)
								{
									checks = add_check(checks, addr->objectId, CHECK_COLUMN, true);
									if (is_tenant_column_of(addr->objectId, addr->objectSubId))
										candidates = add_inheritors(candidates, addr->objectId, &hierarchy_checks);
									if (stmt->subname != NULL && stmt->newname != NULL)
									{
										List	   *rels = renamed_column_tables(addr->objectId);

										audit_config_rename_column(rels, stmt->subname, stmt->newname);
										updated_at_rename_column(rels, stmt->subname, stmt->newname);
									}
								}
								break;
							case OBJECT_POLICY:
								check_policy_change(addr->objectId, stmt->subname);
								break;
							case OBJECT_SCHEMA:
								registry_follow(cmd);
								break;
							default:
								break;
						}
					}
					break;

				case T_AlterObjectSchemaStmt:
					registry_follow(cmd);
					break;

				default:
					break;
			}
		}
		else if (cmd->type == SCT_AlterTable &&
				 cmd->d.alterTable.classId == RelationRelationId)
		{
			Oid			relid = cmd->d.alterTable.objectId;
			ListCell   *sc;

			foreach(sc, cmd->d.alterTable.subcmds)
			{
				CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(sc);
				AlterTableCmd *atc = (AlterTableCmd *) sub->parsetree;

				if (atc == NULL || !IsA(atc, AlterTableCmd))
					continue;
				switch (atc->subtype)
				{
					case AT_DisableRowSecurity:
						checks = add_check(checks, relid, CHECK_RLS, false);
						break;
					case AT_NoForceRowSecurity:
						checks = add_check(checks, relid, CHECK_FORCE, false);
						break;
					case AT_AlterColumnType:
					case AT_ColumnDefault:
					case AT_CookedColumnDefault:
					case AT_DropNotNull:
					case AT_DropExpression:
					case AT_DropIdentity:
						/* (DROP COLUMN is seen by sql_drop) */
						checks = add_check(checks, relid, CHECK_COLUMN, true);
						break;
					case AT_AddColumn:
					case AT_AddColumnRecurse:
						/*
						 * The column reaches every inheritor too (the server
						 * reports only the table named): a child in a managed
						 * schema below a parent elsewhere is a tenant table now.
						 */
						if (sub->address.classId == RelationRelationId &&
							is_tenant_column_of(sub->address.objectId, sub->address.objectSubId))
							candidates = add_inheritors(candidates, sub->address.objectId, &hierarchy_checks);
						break;
					case AT_AttachPartition:

						/*
						 * The server does not record which partition was
						 * attached (no address); every partition of a
						 * protected parent must be protected anyway.
						 */
						{
							List	   *children = find_inheritance_children(relid, NoLock);
							ListCell   *ch;

							foreach(ch, children)
								candidates = add_candidate(candidates, lfirst_oid(ch), true);
						}
						/* but the new link is known: its pg_inherits row */
						{
							List	   *linked = children_linked_now(relid);
							ListCell   *ch;

							foreach(ch, linked)
								registry_adopt_child(lfirst_oid(ch), relid);
							hierarchy_checks = list_concat_unique_oid(hierarchy_checks, linked);
						}
						audit_syncs = list_append_unique_oid(audit_syncs, relid);
						break;
					case AT_AddInherit:

						/*
						 * (An inheritance child protected on its own stays
						 * so, unlike a partition attached: it may have
						 * columns the parent has not, and the parent's
						 * grants would reach them -- review rev38c.)
						 */
						candidates = add_candidate(candidates, relid, true);
						hierarchy_checks = list_append_unique_oid(hierarchy_checks, relid);
						break;
					case AT_DetachPartition:
					case AT_DetachPartitionFinalize:
						registry_forget_parent(relid);
						detached = true;
						detached_from = relid;
						break;
					case AT_DropInherit:
						{
							/* ALTER TABLE child NO INHERIT parent */
							RangeVar   *parent = (RangeVar *) atc->def;

							if (parent && IsA(parent, RangeVar) &&
								sub->address.classId == RelationRelationId &&
								OidIsValid(sub->address.objectId))
							{
								registry_forget_parent(sub->address.objectId);
								if (!session_is_restoring())
									keep_former_parent_restriction(relid, sub->address.objectId);
							}
						}
						break;
					default:
						break;
				}
			}
		}
	}

	/* refuse first, then protect */
	foreach(lc, checks)
		run_drift_check((DriftCheck *) lfirst(lc));

	/* (a restore brings its own registry rows, after its tables) */
	if (!session_is_restoring())
	{
		foreach(lc, candidates)
		{
			Candidate  *c = (Candidate *) lfirst(lc);

			if (c->created)
				forget_row_of_created(c->relid);
		}
	}

	if (may_protect)
	{
		List	   *tables = NIL;
		List	   *registered = NIL;

		/*
		 * The candidates and everything below them, and which of those were
		 * in the registry before: the others, if protected now, were filled
		 * before any policy applied (check_filled_rows()).
		 */
		foreach(lc, candidates)
		{
			Candidate  *c = (Candidate *) lfirst(lc);

			tables = list_concat_unique_oid(tables, find_all_inheritors(c->relid, NoLock, NULL));
		}
		foreach(lc, tables)
		{
			Oid			relid = lfirst_oid(lc);
			char	   *nsp = get_namespace_name(get_rel_namespace(relid));
			char	   *rel = get_rel_name(relid);
			RegistryEntry entry;

			if (nsp != NULL && rel != NULL && registry_lookup(nsp, rel, &entry))
				registered = lappend_oid(registered, relid);
		}

		foreach(lc, candidates)
		{
			Candidate  *c = (Candidate *) lfirst(lc);

			consider_table(c->relid, c->parent_only);
		}

		foreach(lc, tables)
		{
			if (!list_member_oid(registered, lfirst_oid(lc)))
				check_filled_rows(lfirst_oid(lc));
		}

		/*
		 * The rows CREATE TABLE AS wrote came before the audit trigger that
		 * protect() has just attached: recorded now, as the trigger would
		 * have (review rev46c).
		 */
		foreach(lc, candidates)
		{
			Candidate  *c = (Candidate *) lfirst(lc);

			if (c->filled)
				audit_record_created_rows(c->relid);
		}
	}

	/*
	 * After auto-protection, which may have protected the new table: no
	 * protected table below an unprotected one (whatever auto_protect says:
	 * the table may have been protected before it got the parent).
	 */
	foreach(lc, hierarchy_checks)
	{
		check_ancestors(lfirst_oid(lc), false);
		check_below_protected(lfirst_oid(lc));
	}

	if (detached)
		audit_syncs = list_concat_unique_oid(audit_syncs,
											 keep_detached_audited(detached_audit_tables(), detached_from));
	sync_audit_truncate_triggers(audit_syncs);
}

/* -------------------------------------------------------------- sql_drop */

static void
sql_drop_work(EventTriggerData *trigdata)
{
	int			ret;
	uint64		i;

	/*
	 * The registry follows the tables: every relation dropped, not only those
	 * dropped as tables -- an empty table without row-level security (a
	 * global one) becomes a view by CREATE RULE "_RETURN", and its row
	 * outlived the DROP VIEW: a tenant table created later under that name
	 * was taken for the global table (review rev45b).  Names of relations
	 * are unique within a schema: a row of the name is about this relation.
	 */
	ret = et_spi("DELETE FROM tenant_rls.protected_table r"
					  " USING pg_catalog.pg_event_trigger_dropped_objects() d"
					  " WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
					  " AND d.objsubid OPERATOR(pg_catalog.=) 0"
					  " AND r.schema_name OPERATOR(pg_catalog.=) d.schema_name"
					  " AND r.table_name OPERATOR(pg_catalog.=) d.object_name",
				 0, NULL, NULL, NULL, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "tenant_rls: registry cleanup failed: %s", SPI_result_code_string(ret));

	/*
	 * So does the audit configuration (AUDIT_CONFIG_ROW_OF): a table created
	 * later under the same name must not count as audited.
	 */
	ret = SPI_execute("DELETE FROM tenant_rls.audit_config c"
					  " USING pg_catalog.pg_event_trigger_dropped_objects() x"
					  " WHERE x.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
					  " AND x.objsubid OPERATOR(pg_catalog.=) 0"
					  " AND " AUDIT_CONFIG_ROW_OF("x.objid", "x.schema_name", "x.object_name"),
					  false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "tenant_rls: audit configuration cleanup failed: %s", SPI_result_code_string(ret));
	/* an extension's script: the upkeep only, not the drift guard */
	if (creating_extension)
		return;

	/*
	 * Managed policies and tenant columns dropped from a protected table that
	 * stays (the rows of dropped tables are gone by now).
	 */
	ret = et_spi("SELECT d.object_type, d.address_names[1], d.address_names[2], d.address_names[3],"
				 "       COALESCE(r.managed OPERATOR(pg_catalog.->) 'policies' OPERATOR(pg_catalog.?) d.address_names[3], false)"
					  " FROM pg_catalog.pg_event_trigger_dropped_objects() WITH ORDINALITY d"
					  " JOIN tenant_rls.protected_table r"
					  "  ON r.schema_name OPERATOR(pg_catalog.=) d.address_names[1]"
					  " AND r.table_name OPERATOR(pg_catalog.=) d.address_names[2]"
					  " AND r.status OPERATOR(pg_catalog.=) 'protected'"
					  " WHERE (d.object_type OPERATOR(pg_catalog.=) 'policy'"
					  "        AND (COALESCE(r.managed OPERATOR(pg_catalog.->) 'policies' OPERATOR(pg_catalog.?) d.address_names[3], false)"
					  "             OR pg_catalog.starts_with(d.address_names[3], 'tenant_rls_')))"
					  "    OR (d.object_type OPERATOR(pg_catalog.=) 'table column'"
					  "        AND d.address_names[3] OPERATOR(pg_catalog.=) r.tenant_column)"
					   " ORDER BY d.object_type OPERATOR(pg_catalog.=) 'policy', d.ordinality",
				 0, NULL, NULL, NULL, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant_rls: registry lookup failed: %s", SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		char	   *objtype = SPI_getvalue(tup, tupdesc, 1);
		char	   *qualname = quote_qualified_identifier(SPI_getvalue(tup, tupdesc, 2),
														  SPI_getvalue(tup, tupdesc, 3));
		char	   *name = SPI_getvalue(tup, tupdesc, 4);
		bool		isnull;
		bool		registered = DatumGetBool(SPI_getbinval(tup, tupdesc, 5, &isnull));

		if (strcmp(objtype, "policy") == 0)
			report_drift(qualname,
						 psprintf("cannot drop policy \"%s\" of protected table %s", name, qualname),
						 registered
						 ? psprintf("The policy is managed by tenant_rls; table %s is protected by tenant_rls.", qualname)
						 : psprintf("Names beginning with tenant_rls_ are reserved for tenant_rls's policies; table %s is protected by tenant_rls.", qualname));
		else
			report_table_drift(qualname,
							   psprintf("cannot drop tenant column \"%s\" of protected table %s", name, qualname));
	}
}

/* ------------------------------------------ REFRESH MATERIALIZED VIEW */

/*
 * PostgreSQL collects no command while REFRESH MATERIALIZED VIEW runs
 * (EventTriggerInhibitCommandCollection(): its CONCURRENTLY form runs DDL of
 * its own), and so none of the DDL that a function in the view's query runs
 * either: ddl_command_end fires for it with an empty command list, and the
 * drift guard, auto-protection and the registry's upkeep saw nothing (review
 * rev45b: DISABLE ROW LEVEL SECURITY, RENAME of a protected table, ALTER
 * POLICY and CREATE TABLE of a tenant table all passed).  So the refreshes
 * running are counted, from their ddl_command_start to their
 * ddl_command_end (an error ends them with their subtransaction), and below
 * one, ddl_command_end refuses what it cannot check: everything but what
 * the refresh runs itself (CREATE TEMP TABLE ... AS, on temporary tables)
 * and DROP (sql_drop still gets its objects).
 */
static List *refreshes = NIL;	/* the subtransaction of each, innermost last */
static bool refresh_callbacks = false;

static void
refresh_xact_callback(XactEvent event, void *arg)
{
	if (refreshes != NIL &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		 event == XACT_EVENT_PREPARE))
	{
		list_free(refreshes);
		refreshes = NIL;
	}
}

static void
refresh_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (refreshes != NIL && (SubTransactionId) llast_int(refreshes) == mySubid)
		refreshes = list_delete_last(refreshes);
}

static void
refresh_begins(void)
{
	MemoryContext oldcxt;

	if (!refresh_callbacks)
	{
		RegisterXactCallback(refresh_xact_callback, NULL);
		RegisterSubXactCallback(refresh_subxact_callback, NULL);
		refresh_callbacks = true;
	}
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	refreshes = lappend_int(refreshes, (int) GetCurrentSubTransactionId());
	MemoryContextSwitchTo(oldcxt);
}

static void
refresh_ends(void)
{
	if (refreshes != NIL)
		refreshes = list_delete_last(refreshes);
}

static bool
temp_relation(RangeVar *rv)
{
	Oid			nsp;

	/*
	 * From the statement alone: resolving an unqualified name again here,
	 * with this function's search_path (pg_catalog, pg_temp), found a
	 * temporary table of the same name instead of the permanent table the
	 * statement changed (review rev47g).  REFRESH ... CONCURRENTLY names its
	 * temporary tables with their schema.
	 */
	if (rv == NULL)
		return false;
	if (rv->relpersistence == RELPERSISTENCE_TEMP)
		return true;
	if (rv->schemaname == NULL)
		return false;
	if (strcmp(rv->schemaname, "pg_temp") == 0)
		return true;
	nsp = get_namespace_oid(rv->schemaname, true);
	return OidIsValid(nsp) && isAnyTempNamespace(nsp);
}

/* DDL below a refresh: refused unless the event triggers need not see it */
static void
check_ddl_below_refresh(EventTriggerData *trigdata)
{
	Node	   *stmt = trigdata->parsetree;

	if (refreshes == NIL || stmt == NULL)
		return;
	switch (nodeTag(stmt))
	{
		case T_DropStmt:
			return;
		case T_CreateStmt:
			if (temp_relation(((CreateStmt *) stmt)->relation))
				return;
			break;
		case T_CreateTableAsStmt:
			if (((CreateTableAsStmt *) stmt)->into != NULL &&
				temp_relation(((CreateTableAsStmt *) stmt)->into->rel))
				return;
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *at = (AlterTableStmt *) stmt;
				ListCell   *lc;
				bool		reaches_other = false;

				/* (INHERIT reaches a permanent table: review rev47g) */
				foreach(lc, at->cmds)
				{
					AlterTableCmd *c = (AlterTableCmd *) lfirst(lc);

					if (IsA(c, AlterTableCmd) && c->subtype != AT_AddColumn)
						reaches_other = true;
				}
				if (!reaches_other && temp_relation(at->relation))
					return;
			}
			break;
		default:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s cannot run inside REFRESH MATERIALIZED VIEW", GetCommandTagName(trigdata->tag)),
			 errdetail("PostgreSQL hides the DDL run while a materialized view is refreshed from event triggers, so tenant_rls could not check or protect the tables it changes."),
			 errhint("Run the DDL in a statement of its own, not from a function the materialized view's query calls.")));
}

/* ---------------------------------------------------- ddl_command_start */

/*
 * ALTER TABLE parent ATTACH PARTITION child: PostgreSQL gives child (and,
 * when child is partitioned, every partition below it) a clone of each row
 * trigger of parent, and fails ("trigger ... already exists") where a table
 * already has a trigger of that name -- before ddl_command_end runs.  Two
 * row triggers are tenant_rls's: tenant_rls_audit (enable_audit()) and
 * tenant_rls_updated_at (enable_updated_at()).  Without this, a table audited
 * on its own (every standalone tenant table that auto-protection creates
 * while tenant_rls.audit is on) could never be attached below an audited one.
 *
 * So before the ATTACH runs, in its transaction (a failed ATTACH takes all
 * of it back), for every table T of child's tree that has its own trigger
 * (tgparentid = 0) with the name and function of a row trigger of parent:
 *   - tenant_rls_audit: tenant_rls.disable_audit(T), which removes T's own
 *     triggers and audit_config row.  T is then audited through parent like
 *     any partition created with PARTITION OF: the clone records its rows
 *     with the configuration that applies to parent, and ddl_command_end
 *     gives it the TRUNCATE trigger again (audit_sync_truncate_triggers()).
 *     A NOTICE says so when T's own column lists were other ones.  T's
 *     registry row stops saying that unprotect() must disable its audit
 *     (the clone cannot be dropped alone);
 *   - tenant_rls_updated_at setting the same column:
 *     tenant_rls.disable_updated_at(T) (the clone does the same); for another
 *     column nothing is guessed: an error that says what to run.
 * A trigger of these names with another function is not ours: PostgreSQL's
 * error stands.  DETACH PARTITION needs nothing here: PostgreSQL drops the
 * clones, ddl_command_end the TRUNCATE trigger; the detached table is not
 * audited, like any detached partition.
 *
 * The names in the statement are resolved as the statement resolves them,
 * with the caller's search_path: the function is declared without SET
 * search_path and locks it here once they are resolved.  It acts only when
 * the caller owns both tables (ATTACH requires it, but PostgreSQL checks
 * after this trigger), and then takes the locks ATTACH takes, in its order;
 * otherwise it does nothing, not even lock.  It is not SECURITY DEFINER, so
 * that the caller is known: the fixed SQL it runs on the extension's tables
 * and functions runs with the extension's rights (spi_exec_privileged()).
 */

/* a trigger of child's tree that ATTACH would clone from parent again */
typedef struct AttachClash
{
	Oid			relid;			/* the table of child's tree that has it */
	char	   *tgname;
	bool		same_args;
	char	   *own_arg;		/* the first argument of each (updated_at: */
	char	   *parent_arg;		/* the column), "" without one */
} AttachClash;

#define AUDIT_TRIGGER_NAME		"tenant_rls_audit"
#define UPDATED_AT_TRIGGER_NAME	"tenant_rls_updated_at"

/* pg_trigger row t is one of those two, with its function */
#define OUR_ROW_TRIGGER(t) \
	"(NOT " t ".tgisinternal" \
	" AND ((" t ".tgname OPERATOR(pg_catalog.=) '" AUDIT_TRIGGER_NAME "'" \
	"       AND " t ".tgfoid OPERATOR(pg_catalog.=) 'tenant_rls.audit_trigger()'::pg_catalog.regprocedure)" \
	"   OR (" t ".tgname OPERATOR(pg_catalog.=) '" UPDATED_AT_TRIGGER_NAME "'" \
	"       AND " t ".tgfoid OPERATOR(pg_catalog.=) 'tenant_rls.updated_at_trigger()'::pg_catalog.regprocedure)))"

/* Does parent have one of them as a row trigger, which ATTACH clones? */
static bool
has_our_row_trigger(Oid parent)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];

	values[0] = ObjectIdGetDatum(parent);
	spi_exec_privileged("SELECT FROM pg_catalog.pg_trigger p"
						" WHERE p.tgrelid OPERATOR(pg_catalog.=) $1"
						" AND (p.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 1"	/* FOR EACH ROW */
						" AND " OUR_ROW_TRIGGER("p") " LIMIT 1",
						1, argtypes, values, NULL, false);
	return SPI_processed > 0;
}

/* the first argument in a pg_trigger.tgargs value (NUL-terminated strings) */
static char *
first_trigger_arg(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	bytea	   *b;

	if (isnull)
		return "";
	b = DatumGetByteaPP(d);
	return pnstrdup(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

/*
 * The triggers of child's tree (child and the partitions below it) that
 * clash with a row trigger of parent, both of them ours.
 */
static List *
attach_clashes(Oid parent, Oid child)
{
	Oid			argtypes[2] = {REGCLASSOID, REGCLASSOID};
	Datum		values[2];
	List	   *clashes = NIL;

	values[0] = ObjectIdGetDatum(parent);
	values[1] = ObjectIdGetDatum(child);
	spi_exec_privileged("WITH tree AS ("
						"  SELECT $2::pg_catalog.oid AS relid"
						"   UNION"
						"  SELECT t.relid::pg_catalog.oid FROM pg_catalog.pg_partition_tree($2) t)"
						" SELECT g.tgrelid, g.tgname::pg_catalog.text,"
						"  g.tgnargs OPERATOR(pg_catalog.=) p.tgnargs"
						"   AND g.tgargs OPERATOR(pg_catalog.=) p.tgargs,"
						"  g.tgargs, p.tgargs"
						" FROM tree"
						" JOIN pg_catalog.pg_trigger g ON g.tgrelid OPERATOR(pg_catalog.=) tree.relid"
						" JOIN pg_catalog.pg_trigger p ON p.tgname OPERATOR(pg_catalog.=) g.tgname"
						"  AND p.tgfoid OPERATOR(pg_catalog.=) g.tgfoid"
						" WHERE p.tgrelid OPERATOR(pg_catalog.=) $1"
						" AND (p.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 1"	/* FOR EACH ROW */
						" AND " OUR_ROW_TRIGGER("p")
						" AND " OUR_ROW_TRIGGER("g")
						" AND g.tgparentid OPERATOR(pg_catalog.=) 0"
						" ORDER BY g.tgrelid, g.tgname",
						2, argtypes, values, NULL, false);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		AttachClash *c = palloc(sizeof(AttachClash));
		bool		isnull;

		c->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		c->tgname = SPI_getvalue(tup, desc, 2);
		c->same_args = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		c->own_arg = first_trigger_arg(tup, desc, 4);
		c->parent_arg = first_trigger_arg(tup, desc, 5);
		clashes = lappend(clashes, c);
	}
	return clashes;
}

/*
 * relid, audited on its own, becomes a partition of parent: say so when its
 * own column lists are not those that apply to parent (its own audit_config
 * row, or the nearest ancestor's: read_config() in audit.c).
 */
static void
notice_audit_config_change(Oid relid, Oid parent)
{
	Oid			argtypes[2] = {OIDOID, REGCLASSOID};
	Datum		values[2];
	char	   *applied;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(parent);
	spi_exec_privileged("SELECT pg_catalog.quote_ident(a.schema_name) OPERATOR(pg_catalog.||) '.'"
						"       OPERATOR(pg_catalog.||) pg_catalog.quote_ident(a.table_name)"
						" FROM (SELECT c.columns, c.exclude FROM tenant_rls.audit_config c"
						"        JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) $1"
						"        JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace"
						"       WHERE " AUDIT_CONFIG_ROW_OF("$1", "n.nspname", "k.relname") ") o,"
						" LATERAL (SELECT c.schema_name, c.table_name, c.columns, c.exclude"
						"           FROM pg_catalog.pg_partition_ancestors($2) WITH ORDINALITY x(relid, i)"
						"           JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) x.relid"
						"           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace"
						"           JOIN tenant_rls.audit_config c"
						"             ON " AUDIT_CONFIG_ROW_OF("x.relid::pg_catalog.oid", "n.nspname", "k.relname")
						"          ORDER BY x.i LIMIT 1) a"
						" WHERE (o.columns, o.exclude) IS DISTINCT FROM (a.columns, a.exclude)",
						2, argtypes, values, NULL, false);
	if (SPI_processed == 0)
		return;
	applied = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	ereport(NOTICE,
			(errmsg("table %s is audited as a partition of %s from now on", tenant_rel_qualname(relid), tenant_rel_qualname(parent)),
			 errdetail("It was audited on its own, with other column lists; its rows are now recorded as the audit configuration of %s says, and its own configuration was removed.",
					   applied),
			 errhint("To record other columns, call tenant_rls.enable_audit() on %s.", applied)));
}

/*
 * A clash left to the user: the trigger of the partition-to-be is not the
 * same as the one it would get (updated_at for another column).
 */
static void
refuse_attach_clash(AttachClash *c, Oid parent, Oid child)
{
	char	   *qualname = tenant_rel_qualname(c->relid);

	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("cannot attach %s as a partition of %s: both have trigger \"%s\"",
					tenant_rel_qualname(child), tenant_rel_qualname(parent), c->tgname),
			 errdetail("A partition gets the row triggers of its partitioned table. Trigger \"%s\" of %s sets column \"%s\", that of %s sets column \"%s\".",
					   c->tgname, qualname, c->own_arg, tenant_rel_qualname(parent), c->parent_arg),
			 errhint("Run SELECT tenant_rls.disable_updated_at(%s); first: as a partition, it then gets the trigger of %s.",
					 quote_literal_cstr(qualname), tenant_rel_qualname(parent))));
}

/* run one fixed statement about relid ($1), with the extension's rights */
static void
exec_on_table(const char *sql, Oid relid)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1];

	values[0] = ObjectIdGetDatum(relid);
	spi_exec_privileged(sql, 1, argtypes, values, NULL, false);
}

/* Take the trigger of the partition-to-be away: the clone replaces it. */
static void
resolve_attach_clash(AttachClash *c, Oid parent)
{
	if (strcmp(c->tgname, AUDIT_TRIGGER_NAME) == 0)
	{
		notice_audit_config_change(c->relid, parent);
		exec_on_table("SELECT tenant_rls.disable_audit($1)", c->relid);
		exec_on_table("UPDATE tenant_rls.protected_table r"
					  " SET managed = pg_catalog.jsonb_set(r.managed, '{audit}', 'false'::pg_catalog.jsonb)"
					  " FROM pg_catalog.pg_class k"
					  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace"
					  " WHERE k.oid OPERATOR(pg_catalog.=) $1"
					  " AND r.schema_name OPERATOR(pg_catalog.=) n.nspname"
					  " AND r.table_name OPERATOR(pg_catalog.=) k.relname"
					  " AND r.managed OPERATOR(pg_catalog.->) 'audit' OPERATOR(pg_catalog.=) 'true'::pg_catalog.jsonb",
					  c->relid);
	}
	else
		exec_on_table("SELECT tenant_rls.disable_updated_at($1)", c->relid);
	elog(DEBUG1, "tenant_rls: trigger %s of %s dropped: attached to %s, it gets that of %s",
		 c->tgname, tenant_rel_qualname(c->relid), tenant_rel_qualname(parent), tenant_rel_qualname(parent));
}

/*
 * Lock search_path for the SQL we run, as SET search_path on the function
 * would (undone by AtEOXact_GUC(), or by the abort of an error).
 */
static int
lock_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * ALTER TABLE p DETACH PARTITION p1, where foreign keys reference p: before
 * it detaches p1, PostgreSQL checks that no row references p1's keys
 * (RI_PartitionRemove_Check(), ri_triggers.c) with a join run as the current
 * user.  Row-level security filters it: run by the owner of a protected
 * referencing table (neither superuser nor BYPASSRLS), it saw only that
 * owner's rows -- none without a tenant -- and p1 was detached while hidden
 * rows still referenced it (PostgreSQL 15 to 18; the check asks no
 * permission first, so fk_validation.c cannot send PostgreSQL another way).
 * Refused then, before anything happens: a role that sees every row must do
 * it.
 */
static void
check_detach_references(Oid parent, Oid partition)
{
	Relation	conrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_constraint_confrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(partition));
	scan = systable_beginscan(conrel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		Oid			hidden;
		Oid			parentcon;
		char	   *fkname;
		char	   *conname;

		/* (PostgreSQL's own list: the clones of a parent's foreign key) */
		if (con->contype != CONSTRAINT_FOREIGN || !OidIsValid(con->conparentid))
			continue;
		/* as PostgreSQL's check: row-level security cannot be turned on meanwhile */
		LockRelationOid(con->conrelid, ShareLock);
		if (check_enable_rls(con->conrelid, InvalidOid, true) == RLS_ENABLED)
			hidden = con->conrelid;
		else if (check_enable_rls(partition, InvalidOid, true) == RLS_ENABLED)
			hidden = partition;
		else
			continue;
		fkname = tenant_rel_qualname(con->conrelid);
		/* the name the user gave: that of the clone's root */
		conname = pstrdup(NameStr(con->conname));
		for (parentcon = con->conparentid; OidIsValid(parentcon);)
		{
			HeapTuple	ptup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(parentcon));

			if (!HeapTupleIsValid(ptup))
				break;
			conname = pstrdup(NameStr(((Form_pg_constraint) GETSTRUCT(ptup))->conname));
			parentcon = ((Form_pg_constraint) GETSTRUCT(ptup))->conparentid;
			ReleaseSysCache(ptup);
		}
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot detach partition %s of %s: row-level security applies to %s for role \"%s\"",
						tenant_rel_qualname(partition),
						tenant_rel_qualname(parent),
						tenant_rel_qualname(hidden),
						GetUserNameFromId(GetUserId(), false)),
				 errdetail("Foreign key \"%s\" of table %s references the partition. PostgreSQL checks that no row references it with a query that row-level security filters for the role: rows hidden from it would be left with keys no longer present (a member of tenant_rls.admin_role, whose policies show every row, is refused too: the extension cannot tell from here that they do).",
						   conname, fkname),
				 errhint("Detach the partition as a superuser or a role with BYPASSRLS.")));
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
}

static void
ddl_command_start_work(EventTriggerData *trigdata)
{
	AlterTableStmt *stmt = (AlterTableStmt *) trigdata->parsetree;
	AlterTableCmd *cmd;
	PartitionCmd *pcmd;
	Oid			parent;
	Oid			child;
	int			nestlevel;
	List	   *clashes;
	ListCell   *lc;

	/* ATTACH and DETACH PARTITION are the only subcommand of their statement */
	if (stmt == NULL || !IsA(stmt, AlterTableStmt) || stmt->objtype != OBJECT_TABLE ||
		list_length(stmt->cmds) != 1)
		return;
	cmd = (AlterTableCmd *) linitial(stmt->cmds);
	if (!IsA(cmd, AlterTableCmd) || cmd->def == NULL || !IsA(cmd->def, PartitionCmd))
		return;
	pcmd = (PartitionCmd *) cmd->def;

	/* (DETACH ... CONCURRENTLY too; not ... FINALIZE, which checks nothing) */
	if (cmd->subtype == AT_DetachPartition)
	{
		LOCKMODE	lockmode = pcmd->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock;

		parent = RangeVarGetRelid(stmt->relation, NoLock, true);
		child = RangeVarGetRelid(pcmd->name, NoLock, true);
		if (!OidIsValid(parent) || !OidIsValid(child) || parent == child ||
			get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE ||
			!pg_class_ownercheck(parent, GetUserId()))
			return;

		/*
		 * The locks DETACH takes, in its order: parent, its default
		 * partition, the partition (check_detach_references() then takes
		 * ShareLock on each referencing table, as PostgreSQL's check does).
		 * Read without them, a foreign key added by a session that commits
		 * after our check but before PostgreSQL's was not seen, and
		 * PostgreSQL's filtered check let the partition go (review rev50g).
		 * A table that is no partition of parent: PostgreSQL's error, and no
		 * lock on it here.
		 */
		LockRelationOid(parent, lockmode);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parent)) ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(child)) ||
			!list_member_oid(find_inheritance_children_extended(parent, false, NoLock,
																NULL, NULL), child))
			return;
		if (!pcmd->concurrent)
		{
			Oid			default_part = get_default_partition_oid(parent);

			if (OidIsValid(default_part))
				LockRelationOid(default_part, AccessExclusiveLock);
		}
		LockRelationOid(child, lockmode);
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(child)))
			check_detach_references(parent, child);
		return;
	}
	if (cmd->subtype != AT_AttachPartition)
		return;

	/* missing tables, wrong kinds, other owners: PostgreSQL's errors */
	parent = RangeVarGetRelid(stmt->relation, NoLock, true);
	child = RangeVarGetRelid(pcmd->name, NoLock, true);
	if (!OidIsValid(parent) || !OidIsValid(child) || parent == child ||
		get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE ||
		!pg_class_ownercheck(parent, GetUserId()) || !pg_class_ownercheck(child, GetUserId()))
		return;

	nestlevel = lock_search_path();
	/* (read without a lock: no table is locked below a parent without them) */
	if (has_our_row_trigger(parent))
	{
		/*
		 * The locks ATTACH takes next, in its order: parent, its default
		 * partition, then child and every partition below it (another order
		 * could deadlock with a session that waits on them in PostgreSQL's).
		 * Then the triggers cannot change.
		 */
		Oid			default_part;

		LockRelationOid(parent, ShareUpdateExclusiveLock);
		default_part = get_default_partition_oid(parent);
		if (OidIsValid(default_part))
			LockRelationOid(default_part, AccessExclusiveLock);
		LockRelationOid(child, AccessExclusiveLock);
		(void) find_all_inheritors(child, AccessExclusiveLock, NULL);
		/* dropped meanwhile: PostgreSQL's error */
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parent)) &&
			SearchSysCacheExists1(RELOID, ObjectIdGetDatum(child)))
		{
			clashes = attach_clashes(parent, child);
			/* refuse before changing anything */
			foreach(lc, clashes)
			{
				AttachClash *c = (AttachClash *) lfirst(lc);

				if (strcmp(c->tgname, UPDATED_AT_TRIGGER_NAME) == 0 && !c->same_args)
					refuse_attach_clash(c, parent, child);
			}
			foreach(lc, clashes)
				resolve_attach_clash((AttachClash *) lfirst(lc), parent);
			CommandCounterIncrement();
		}
	}
	AtEOXact_GUC(true, nestlevel);
}

/* ------------------------------------------------------ entry points */

/*
 * Common frame of the triggers: protocol check, early exits, a temporary
 * memory context, SPI, and the recursion flag reset on the way out, also on
 * an error.
 */
static void
run_event_trigger(FunctionCallInfo fcinfo, void (*work) (EventTriggerData *trigdata))
{
	MemoryContext tmpcxt;
	MemoryContext oldcxt;
	int			save_depth;
	int			save_guard;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function can only be called as an event trigger"),
				 errhint("Do not call tenant_rls's event trigger functions directly.")));

	/*
	 * Not during extension scripts (ours or another's), binary upgrade, our
	 * own DDL, or the statements protect() / unprotect() run themselves.  A
	 * statement that code of the table's owner runs below one of those (its
	 * CHECK function, folded by SET NOT NULL in the owner's own protect())
	 * is guarded like any other: standing aside for it let the owner rename
	 * another protected table away from its registry row and rewrite its
	 * policies.  (Below our own triggers such code runs as its owner and may
	 * run no statement at all: owner_code.c.)  In an extension's script only
	 * the registry's upkeep runs: each statement of the script fires
	 * ddl_command_end and sql_drop on its own, and a protected member it
	 * renames, moves or drops must not leave the registry on a name that no
	 * longer is that table (review rev36b: the drift guard lost it).
	 */
	if (IsBinaryUpgrade || in_event_trigger ||
		(tenant_policy_ddl_active() && tenant_own_ddl_direct()) ||
		tenant_rls_tenant_column == NULL)
		return;
	if (creating_extension && work == ddl_command_start_work)
		return;
	/* DROP EXTENSION tenant_rls: the registry is going away */
	if (!OidIsValid(extension_schema_oid()) ||
		!OidIsValid(get_relname_relid("protected_table", extension_schema_oid())))
		return;

	tmpcxt = AllocSetContextCreate(CurrentMemoryContext,
								   "tenant_rls event trigger",
								   ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(tmpcxt);
	in_event_trigger = true;
	/*
	 * Our statements pass the drift guard; DDL of code they run does not, and
	 * that code runs as its owner, not with our rights (owner_code.c).
	 */
	save_depth = tenant_own_ddl_begin();
	save_guard = owner_code_guard_begin();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "tenant_rls: SPI_connect failed");
		work((EventTriggerData *) fcinfo->context);
		SPI_finish();
	}
	PG_CATCH();
	{
		in_event_trigger = false;
		tenant_own_ddl_end(save_depth);
		owner_code_guard_end_error(save_guard);
		PG_RE_THROW();
	}
	PG_END_TRY();
	in_event_trigger = false;
	tenant_own_ddl_end(save_depth);
	owner_code_guard_end(save_guard);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(tmpcxt);
}

Datum
tenant_rls_ddl_command_end(PG_FUNCTION_ARGS)
{
	/* (whatever run_event_trigger() then skips: the count must stay right) */
	if (CALLED_AS_EVENT_TRIGGER(fcinfo) &&
		IsA(((EventTriggerData *) fcinfo->context)->parsetree, RefreshMatViewStmt))
		refresh_ends();
	run_event_trigger(fcinfo, ddl_command_end_work);
	PG_RETURN_VOID();
}

Datum
tenant_rls_sql_drop(PG_FUNCTION_ARGS)
{
	run_event_trigger(fcinfo, sql_drop_work);
	PG_RETURN_VOID();
}

Datum
tenant_rls_ddl_command_start(PG_FUNCTION_ARGS)
{
	if (CALLED_AS_EVENT_TRIGGER(fcinfo) &&
		IsA(((EventTriggerData *) fcinfo->context)->parsetree, RefreshMatViewStmt))
	{
		refresh_begins();
		PG_RETURN_VOID();
	}
	run_event_trigger(fcinfo, ddl_command_start_work);
	PG_RETURN_VOID();
}
