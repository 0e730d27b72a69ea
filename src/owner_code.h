/*
 * owner_code.h -- code of other roles that the extension's privileged work
 * makes PostgreSQL run (owner_code.c).
 */
#ifndef TENANT_RLS_OWNER_CODE_H
#define TENANT_RLS_OWNER_CODE_H

/*
 * Between begin and end (nested: end gets what begin returned; call end in a
 * PG_FINALLY), every function not owned by a superuser runs as its owner, in
 * a security-restricted operation.  Wrap every piece of SQL the extension
 * runs with more rights than the user who caused it.
 */
extern int	owner_code_guard_begin(void);
extern void owner_code_guard_end(int saved);
extern void owner_code_guard_end_error(int saved);

/*
 * The extension's own DDL: between begin and end, a statement changing row
 * security or policies that starts below one of the statements the caller
 * runs, where the current user is not a superuser, is refused (a table
 * owner's code while its own protect() runs).
 */
extern int	tenant_own_ddl_begin(void);
extern void tenant_own_ddl_end(int saved);

/*
 * Is the utility statement in progress one the extension runs itself (not a
 * statement of code that one of ours made PostgreSQL run)?
 */
extern bool tenant_own_ddl_direct(void);

/* _PG_init(): the hooks */
extern void tenant_rls_owner_code_init(void);

#endif							/* TENANT_RLS_OWNER_CODE_H */
