/*
 * policy.h -- protect(), unprotect() and the tenant isolation policies.
 *
 * Managed objects: every policy protect() creates is named "tenant_rls_*"
 * (POLICY_NAME_PREFIX) and recorded, as pg_get_expr() prints it back under
 * search_path = pg_catalog, pg_temp, in the registry row's "managed" jsonb
 * (see src/sql/15_registry.sql for the shape).
 */
#ifndef TENANT_RLS_POLICY_H
#define TENANT_RLS_POLICY_H

#include "nodes/pg_list.h"

#define POLICY_NAME_PREFIX "tenant_rls_"

/*
 * Protect a table (and its partitions / inheritance children): the C form of
 * tenant_rls.protect().  tenant_column NULL means the tenant_rls.tenant_column
 * setting.  Returns the DDL statements (palloc'd char *, in the caller's
 * memory context) in the order they ran, or with dry_run would run; NIL when
 * the table was already protected.  Raises a clear error, having changed
 * nothing, for anything it cannot protect.  Uses SPI internally (nests).
 */
extern List *tenant_protect_relation(Oid relid, const char *tenant_column, bool dry_run);

/*
 * True while protect(), unprotect() or allow_global_rows() run their own
 * DDL on a table, so the drift guard can let those statements through.
 * (The registry row is also removed before unprotect() drops anything.)
 */
extern bool tenant_policy_ddl_active(void);

/* is name one of the current_tenant*() accessors the policies call? */
extern bool tenant_policy_accessor_name(const char *name);

/* quoted schema.table of a relation */
extern char *tenant_rel_qualname(Oid relid);
extern bool tenant_role_is_admin(Oid role);

/*
 * Run fixed, schema-qualified, parameterised SQL through SPI (connected by
 * the caller) as the bootstrap superuser: the extension's rights, for its
 * own tables and functions.  Returns the SPI result code; errors on failure.
 */
extern int	spi_exec_privileged(const char *sql, int nargs, Oid *argtypes, Datum *values,
								const char *nulls, bool read_only);

#endif							/* TENANT_RLS_POLICY_H */
