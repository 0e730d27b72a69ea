/*
 * context.h -- the tenant context: app.current_tenant_id.
 */
#ifndef TENANT_RLS_CONTEXT_H
#define TENANT_RLS_CONTEXT_H

#include "guc.h"

/*
 * Validate and canonicalise a tenant value for the given type.  Returns a
 * palloc'd canonical string, or raises a clear error.
 */
extern char *tenant_canonicalize(const char *value, TenantType type);
extern char *tenant_canonicalize_for(const char *value, TenantType type,
									 const char *type_source);

/*
 * Store a canonical tenant value in app.current_tenant_id, transaction-local
 * (is_local) or for the session.  Strict mode (strict.c) lets this path, and
 * only this path, change the setting for unprivileged roles -- and refuses
 * it for an unsigned value (set_tenant()), session scope, or a second tenant
 * in one transaction; clearing ("") is always allowed.
 */
extern void tenant_context_store(const char *canonical, bool is_local);

/*
 * The same for a value taken from a verified token (set_tenant_signed()):
 * transaction-local; strict mode admits it for unprivileged roles.
 */
extern void tenant_context_store_verified(const char *canonical);

/*
 * The current tenant, or NULL when unset / empty.  Errors only in strict mode,
 * for a value that did not come through a trusted path (strict.c).
 */
extern const char *tenant_context_get(void);

/*
 * The same without the error: NULL also for a value strict mode does not
 * trust (what the audit log records as a batch's context_tenant).
 */
extern const char *tenant_context_get_trusted(void);

/* the error of tenant_context_get() for a value strict mode does not trust */
extern void tenant_context_untrusted_error(void) pg_attribute_noreturn();

/* raise the error of a plan made for tenant "planned" run under another */
extern void tenant_planned_tenant_mismatch(const char *planned, const char *ran_with) pg_attribute_noreturn();
/* the hint of that error and of strict.c's refusal of a change while such a plan runs */
#define TENANT_PLANNED_CHANGE_HINT \
	"Change the tenant in a statement of its own, before the statements that read tenant tables; close cursors first."

extern bool tenant_context_peek(Oid type, Datum *result);

#endif							/* TENANT_RLS_CONTEXT_H */
