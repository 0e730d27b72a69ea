/*
 * module_init.h -- per-concern initialisation called from _PG_init.
 *
 * Each function defines the settings and installs the hooks of its concern.
 * They run once per backend, whether the library is preloaded or loaded by
 * CREATE EXTENSION / the first call of one of its functions.
 */
#ifndef TENANT_RLS_MODULE_INIT_H
#define TENANT_RLS_MODULE_INIT_H

extern void tenant_rls_strict_init(void);	/* strict.c */
extern void tenant_rls_token_init(void);	/* token.c */
extern void tenant_rls_audit_init(void);	/* audit.c */
extern void tenant_rls_planner_stats_init(void);	/* planner_stats.c */
extern void tenant_rls_planner_prune_init(void);	/* planner_prune.c */
extern void tenant_rls_fk_validation_init(void);	/* fk_validation.c */

#endif							/* TENANT_RLS_MODULE_INIT_H */
