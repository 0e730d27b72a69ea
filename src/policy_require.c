/*
 * policy_require.c -- require_tenant*(): the tenant column default protect()
 * sets (DESIGN C2: a write without a tenant fails with a clear "no tenant
 * context" error, not with a row-level security or NOT NULL violation).
 *
 * Each returns the current tenant, typed like the accessor of the same type
 * (context.c), or raises the error when no tenant is set.  They are used only
 * as column defaults: reads go through the accessors, which return NULL (zero
 * rows) without a tenant.
 */
#include "tenant_rls.h"

#include "fmgr.h"

#include "context.h"

PG_FUNCTION_INFO_V1(tenant_rls_require_tenant);
PG_FUNCTION_INFO_V1(tenant_rls_require_tenant_uuid);
PG_FUNCTION_INFO_V1(tenant_rls_require_tenant_bigint);
PG_FUNCTION_INFO_V1(tenant_rls_require_tenant_int);

/* the accessors (context.c) */
extern PGDLLEXPORT Datum tenant_rls_current_tenant(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum tenant_rls_current_tenant_uuid(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum tenant_rls_current_tenant_bigint(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum tenant_rls_current_tenant_int(PG_FUNCTION_ARGS);

static void
require_context(void)
{
	if (tenant_context_get() == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no tenant context"),
				 errdetail("The tenant column of a protected table defaults to the current tenant, and no tenant is set."),
				 errhint("Call tenant_rls.set_tenant() (or set_tenant_signed()) in this transaction before writing.")));
}

Datum
tenant_rls_require_tenant(PG_FUNCTION_ARGS)
{
	require_context();
	return tenant_rls_current_tenant(fcinfo);
}

Datum
tenant_rls_require_tenant_uuid(PG_FUNCTION_ARGS)
{
	require_context();
	return tenant_rls_current_tenant_uuid(fcinfo);
}

Datum
tenant_rls_require_tenant_bigint(PG_FUNCTION_ARGS)
{
	require_context();
	return tenant_rls_current_tenant_bigint(fcinfo);
}

Datum
tenant_rls_require_tenant_int(PG_FUNCTION_ARGS)
{
	require_context();
	return tenant_rls_current_tenant_int(fcinfo);
}
