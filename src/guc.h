/*
 * guc.h -- the extension's configuration parameters (tenant_rls.*).
 */
#ifndef TENANT_RLS_GUC_H
#define TENANT_RLS_GUC_H

#include "nodes/pg_list.h"

/* tenant_rls.tenant_type: the type tenant values must have */
typedef enum TenantType
{
	TENANT_TYPE_TEXT,
	TENANT_TYPE_UUID,
	TENANT_TYPE_BIGINT,
	TENANT_TYPE_INTEGER
} TenantType;

/* tenant_rls.drift_action: what the drift guard does */
typedef enum DriftAction
{
	DRIFT_ERROR,
	DRIFT_WARNING
} DriftAction;

extern char *tenant_rls_tenant_column;
extern char *tenant_rls_managed_schemas;
extern int	tenant_rls_tenant_type;
extern bool tenant_rls_auto_protect;
extern int	tenant_rls_drift_action;
extern char *tenant_rls_admin_role;
extern bool tenant_rls_audit;
extern char *tenant_rls_actor_setting;
extern bool tenant_rls_hide_statistics;
extern bool tenant_rls_mask_activity_values;
extern int	tenant_rls_max_grants_per_table;

extern void tenant_rls_define_gucs(void);
extern List *tenant_rls_managed_schema_names(void);
extern List *tenant_rls_managed_schema_list(bool with_reserved);
extern bool tenant_rls_is_reserved_schema(const char *nspname);
extern const char *tenant_type_name(TenantType type);

#endif							/* TENANT_RLS_GUC_H */
