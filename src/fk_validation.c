/*
 * fk_validation.c -- a foreign key validated by a role that row-level
 * security binds is checked against every row (review rev50a).
 *
 * ALTER TABLE ... ADD FOREIGN KEY, VALIDATE CONSTRAINT, ATTACH PARTITION (the
 * foreign keys cloned onto the partition) and ALTER COLUMN TYPE (a foreign
 * key re-added) check the existing rows in RI_Initial_Check()
 * (ri_triggers.c): one anti-join of the referencing table against the
 * referenced one, run as the current user.  PostgreSQL runs it only when
 * that user has SELECT on the key columns of both tables and, for each table
 * with row-level security enabled, bypasses it or owns the table -- taking
 * the owner to be exempt from its policies.  Under FORCE ROW LEVEL SECURITY,
 * which protect() sets, the owner is not: the policies filter the query, and
 * the owner of a protected table who is neither superuser nor BYPASSRLS
 * validated only the rows it sees (none without a tenant) and got a valid
 * constraint over rows that violate it; on the referenced side, a valid row
 * whose key it cannot see was rejected.  (Unchanged up to PostgreSQL 18.)
 *
 * Otherwise PostgreSQL falls back to its other method, the one it uses for a
 * role without those privileges (validateForeignKeyConstraint(),
 * tablecmds.c): a scan of the referencing table's heap, where no policy
 * applies, and for each row the check an INSERT makes (RI_FKey_check_ins()),
 * which looks the key up as the owner of the referenced table with FORCE set
 * aside (SECURITY_NOFORCE_RLS), as it does for every INSERT.  It reports a
 * violation with PostgreSQL's own message, and names no key value when
 * row-level security applies to the role on the referencing table
 * ("Key is not present in table ...").
 *
 * So the permission hook RI_Initial_Check() consults (ExecCheckRTPerms(),
 * ereport_on_violation false: core's only such call) answers "no" when
 * row-level security would filter the query for the current user on either
 * table: PostgreSQL then takes the fallback.  The cost is the fallback's: one
 * index probe of the referenced table per referencing row, not one join
 * (doc/policy.md, "Foreign keys added by the table's owner").  Superusers,
 * BYPASSRLS roles and owners of tables without FORCE are unaffected: the
 * anti-join, as before.
 *
 * The hook is installed when the library is loaded; ALTER TABLE fires the
 * extension's ddl_command_start event trigger before it runs, which loads it,
 * so no shared_preload_libraries is needed.
 */
#include "tenant_rls.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/rls.h"

#include "module_init.h"

static ExecutorCheckPerms_hook_type prev_check_perms = NULL;

/*
 * RI_Initial_Check()'s question: two relations, SELECT only, no error wanted.
 * Answer false when row-level security applies to the current user on either
 * of them (check_enable_rls() with noError: with row_security off, too --
 * PostgreSQL's query would then fail, the fallback does not).
 */
static bool
fk_check_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	if (prev_check_perms && !prev_check_perms(rangeTable, ereport_on_violation))
		return false;
	if (ereport_on_violation || list_length(rangeTable) != 2)
		return true;
	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);

		if (!IsA(rte, RangeTblEntry) || rte->rtekind != RTE_RELATION ||
			rte->requiredPerms != ACL_SELECT)
			return true;
	}
	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);

		if (check_enable_rls(rte->relid, rte->checkAsUser, true) == RLS_ENABLED)
			return false;
	}
	return true;
}

void
tenant_rls_fk_validation_init(void)
{
	prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = fk_check_perms;
}
