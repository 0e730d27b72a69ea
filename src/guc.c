/*
 * guc.c -- where every tenant_rls.* configuration parameter is defined.
 *
 * Parameters that only one concern reads are still defined here, so that
 * "what can be configured" has one answer.  Concerns with parameters of a
 * special nature (the signing keys, strict mode) define them in their own
 * file, called from _PG_init before the prefix is reserved.
 */
#include "tenant_rls.h"

#include <limits.h>

#include "utils/guc.h"
#include "utils/varlena.h"
#include "nodes/pg_list.h"

#include "guc.h"
#include "strict.h"

char	   *tenant_rls_tenant_column = NULL;
char	   *tenant_rls_managed_schemas = NULL;
int			tenant_rls_tenant_type = TENANT_TYPE_TEXT;
bool		tenant_rls_auto_protect = true;
int			tenant_rls_drift_action = DRIFT_ERROR;
char	   *tenant_rls_admin_role = NULL;
bool		tenant_rls_audit = true;
char	   *tenant_rls_actor_setting = NULL;
bool		tenant_rls_hide_statistics = true;
bool		tenant_rls_mask_activity_values = false;
int			tenant_rls_max_grants_per_table = 1000;

static const struct config_enum_entry tenant_type_options[] = {
	{"text", TENANT_TYPE_TEXT, false},
	{"uuid", TENANT_TYPE_UUID, false},
	{"bigint", TENANT_TYPE_BIGINT, false},
	{"int8", TENANT_TYPE_BIGINT, true},
	{"integer", TENANT_TYPE_INTEGER, false},
	{"int", TENANT_TYPE_INTEGER, true},
	{"int4", TENANT_TYPE_INTEGER, true},
	{NULL, 0, false}
};

static const struct config_enum_entry drift_action_options[] = {
	{"error", DRIFT_ERROR, false},
	{"warning", DRIFT_WARNING, false},
	{NULL, 0, false}
};

const char *
tenant_type_name(TenantType type)
{
	switch (type)
	{
		case TENANT_TYPE_TEXT:
			return "text";
		case TENANT_TYPE_UUID:
			return "uuid";
		case TENANT_TYPE_BIGINT:
			return "bigint";
		case TENANT_TYPE_INTEGER:
			return "integer";
	}
	return "text";				/* keep compiler quiet */
}

/* A column name must be a plain, non-empty identifier of sane length. */
static bool
check_tenant_column(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The tenant column name must not be empty.");
		GUC_check_errhint("Name the column that holds the tenant in every tenant table, such as tenant_id.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("The tenant column name must be shorter than %d bytes.", NAMEDATALEN);
		GUC_check_errhint("Name the column that holds the tenant in every tenant table, such as tenant_id.");
		return false;
	}
	return true;
}

/*
 * The setting whose value the audit log records as the application user:
 * never one that only superusers may read (its value would be in every
 * tenant's entries), nor one of tenant_rls's own (the signing keys).  A
 * setting defined after this check ran is checked again where it is read
 * (audit_log.c, audit_app_user()).
 */
static bool
check_actor_setting(char **newval, void **extra, GucSource source)
{
	bool		ours;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	ours = pg_strncasecmp(*newval, "tenant_rls.", strlen("tenant_rls.")) == 0;
	if (ours || (GetConfigOptionFlags(*newval, true) & GUC_SUPERUSER_ONLY) != 0)
	{
		GUC_check_errdetail("The audit log would show its value to every tenant; \"%s\" is %s.",
							*newval, ours ? "a setting of tenant_rls" : "readable by superusers only");
		GUC_check_errhint("Name a setting the application sets per session or transaction, such as app.current_user_id.");
		return false;
	}
	return true;
}

/* A comma-separated list of schema names, parsed like search_path. */
static bool
check_managed_schemas(char **newval, void **extra, GucSource source)
{
	char	   *rawstring;
	List	   *namelist;

	rawstring = pstrdup(*newval);
	if (!SplitIdentifierString(rawstring, ',', &namelist))
	{
		GUC_check_errdetail("List syntax is invalid.");
		GUC_check_errhint("Give schema names separated by commas, as in search_path; double-quote a name with capitals or commas: 'public, \"Sales\"'.");
		pfree(rawstring);
		list_free(namelist);
		return false;
	}
	pfree(rawstring);
	list_free(namelist);
	return true;
}

/*
 * Schemas whose tables are never tenant tables: the system's (pg_catalog,
 * information_schema, pg_toast and every other name PostgreSQL reserves with
 * the pg_ prefix) and the extension's own.
 */
bool
tenant_rls_is_reserved_schema(const char *nspname)
{
	return strncmp(nspname, "pg_", 3) == 0 ||
		strcmp(nspname, "information_schema") == 0 ||
		strcmp(nspname, TENANT_RLS_SCHEMA) == 0;
}

/* strict mode trusts a tenant set by a member of admin_role while it is one */
static void
assign_admin_role(const char *newval, void *extra)
{
	tenant_strict_privileges_changed();
}

void
tenant_rls_define_gucs(void)
{
	DefineCustomStringVariable("tenant_rls.tenant_column",
							   gettext_noop("Name of the column that holds the tenant in tenant tables."),
							   NULL,
							   &tenant_rls_tenant_column,
							   "tenant_id",
							   PGC_SUSET,
							   0,
							   check_tenant_column, NULL, NULL);

	DefineCustomStringVariable("tenant_rls.managed_schemas",
							   gettext_noop("Schemas whose tables tenant_rls protects automatically and reports on."),
							   gettext_noop("A comma-separated list of schema names."),
							   &tenant_rls_managed_schemas,
							   "public",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   check_managed_schemas, NULL, NULL);

	DefineCustomEnumVariable("tenant_rls.tenant_type",
							 gettext_noop("Type of tenant values: text, uuid, bigint or integer."),
							 gettext_noop("tenant_rls.set_tenant() validates and canonicalises values against this type."),
							 &tenant_rls_tenant_type,
							 TENANT_TYPE_TEXT,
							 tenant_type_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("tenant_rls.auto_protect",
							 gettext_noop("Protects new tenant tables in managed schemas automatically."),
							 NULL,
							 &tenant_rls_auto_protect,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("tenant_rls.drift_action",
							 gettext_noop("What happens to DDL that weakens a protected table: error or warning."),
							 NULL,
							 &tenant_rls_drift_action,
							 DRIFT_ERROR,
							 drift_action_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("tenant_rls.admin_role",
							   gettext_noop("Role whose members see and change the rows of every tenant."),
							   gettext_noop("Empty means no role has this override."),
							   &tenant_rls_admin_role,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, assign_admin_role, NULL);

	DefineCustomIntVariable("tenant_rls.max_grants_per_table",
							gettext_noop("Most grants one owner tenant may hold on one table when a tenant session grants."),
							gettext_noop("0 means no limit.  The table owner, superusers and members of tenant_rls.admin_role are not limited."),
							&tenant_rls_max_grants_per_table,
							1000,
							0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("tenant_rls.audit",
							 gettext_noop("Attaches the audit trigger when a table is protected."),
							 NULL,
							 &tenant_rls_audit,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("tenant_rls.actor_setting",
							   gettext_noop("Setting that names the application user recorded in the audit log."),
							   NULL,
							   &tenant_rls_actor_setting,
							   "app.current_user_id",
							   PGC_SUSET,
							   0,
							   check_actor_setting, NULL, NULL);

	DefineCustomBoolVariable("tenant_rls.hide_statistics",
							 gettext_noop("Plans queries under row-level security on protected tables without the columns' most common values, histograms and correlation."),
							 gettext_noop("Those statistics describe every tenant's rows: EXPLAIN's estimates would show other tenants' values."),
							 &tenant_rls_hide_statistics,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("tenant_rls.mask_activity_values",
							 gettext_noop("Shows every statement in pg_stat_activity with its string constants, comments and numbers masked."),
							 gettext_noop("Every session of a role sees the statements of the others in pg_stat_activity, with the values written in them; tenants usually share one role."),
							 &tenant_rls_mask_activity_values,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * tenant_rls.managed_schemas as a list of schema names (char *), parsed as
 * search_path is: unquoted names folded to lower case, names truncated to
 * identifiers.  The one place that reads the setting's list.
 */
List *
tenant_rls_managed_schema_list(bool with_reserved)
{
	char	   *raw = pstrdup(tenant_rls_managed_schemas ? tenant_rls_managed_schemas : "");
	List	   *names;
	List	   *result = NIL;
	ListCell   *lc;

	/* (cannot happen: the check hook refuses such a value) */
	if (!SplitIdentifierString(raw, ',', &names))
		elog(ERROR, "invalid list syntax in tenant_rls.managed_schemas");
	if (with_reserved)
		return names;

	/*
	 * A reserved schema named in the setting is left out (review rev47d:
	 * lint() reported the catalog's or the extension's own tables
	 * unprotected, with a protect() that always fails), and lint() reports
	 * the name (managed_schema_missing).  Not refused by the check hook: a
	 * value stored with ALTER DATABASE/ROLE ... SET before would be ignored
	 * whole, and its restore would fail (review rev47e).
	 */
	foreach(lc, names)
		if (!tenant_rls_is_reserved_schema((const char *) lfirst(lc)))
			result = lappend(result, lfirst(lc));
	return result;
}

List *
tenant_rls_managed_schema_names(void)
{
	return tenant_rls_managed_schema_list(false);
}
