/*
 * strict.h -- strict mode (strict.c): who may change app.current_tenant_id.
 */
#ifndef TENANT_RLS_STRICT_H
#define TENANT_RLS_STRICT_H

/*
 * True when the library was loaded by shared_preload_libraries or
 * session_preload_libraries, i.e. before any SQL of the session ran.
 */
extern bool tenant_rls_preloaded(void);

/*
 * True when the library was loaded by shared_preload_libraries: then every
 * session of the cluster has it.  session_preload_libraries, which can be
 * set per database or per role, leaves sessions without it elsewhere.
 */
extern bool tenant_rls_shared_preloaded(void);

/* strict = on and the library preloaded (the check hook is installed). */
extern bool tenant_strict_in_force(void);

/*
 * The current user may change the tenant freely: a superuser, or a member
 * of tenant_rls.admin_role.  Needs catalog access (a transaction).
 */
extern bool tenant_strict_privileged(void);

/*
 * Called by tenant_context_store() before it changes the setting: raises an
 * error if strict mode forbids this change (unsigned set_tenant(), session
 * scope, a second tenant in one transaction).  verified: the value comes
 * from a verified token.
 */
extern void tenant_strict_check_store(const char *canonical, bool is_local, bool verified);

/*
 * Set around the one set_config_option() call of tenant_context_store();
 * trusted: the value may serve the session in strict mode (it came from a
 * verified token or a privileged role, or clears the tenant).
 */
extern void tenant_strict_begin_store(bool trusted, Oid privileged_by);
extern void tenant_strict_end_store(void);

/*
 * Whether the current value of app.current_tenant_id may be used: false only
 * in strict mode for a value that did not come through tenant_context_store()
 * or a privileged role (e.g. a connection-time default applied before strict
 * mode was switched on), or that a privileged role set and that role has
 * lost the privilege since.  Cheap: a flag kept by the assign hook, and the
 * privilege checked again only after roles or tenant_rls.admin_role changed.
 */
extern bool tenant_strict_value_trusted(void);

/* roles, role memberships or tenant_rls.admin_role changed (guc.c) */
extern void tenant_strict_privileges_changed(void);

/* the value of app.current_tenant_id, NULL when never set */
extern const char *tenant_setting_get(void);

/* every change of app.current_tenant_id reaches this module's assign hook */
extern bool tenant_setting_tracked(void);

/*
 * Moves whenever what the accessors answer may change (where the setting is
 * tracked): every assignment of app.current_tenant_id (SET, RESET, the end
 * of a transaction or of a function's SET clause, ...), of tenant_rls.strict
 * and of tenant_rls.admin_role, and every change of roles, memberships or
 * the database's row (its owner has the privileges of pg_database_owner).
 * Until it moves, an accessor may give its last answer again without asking
 * (context.c): a filter calls it for every row.
 */
extern PGDLLEXPORT uint64 tenant_rls_context_epoch;

#endif							/* TENANT_RLS_STRICT_H */
