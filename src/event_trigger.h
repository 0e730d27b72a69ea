/*
 * event_trigger.h -- auto-protection, drift guard and registry upkeep
 * (DESIGN E1-E3), done by event triggers written in C.
 *
 * The three event trigger functions are reached through SQL only
 * (tenant_rls.on_ddl_command_end(), tenant_rls.on_sql_drop(),
 * tenant_rls.on_ddl_command_start(), created by
 * src/sql/30_event_trigger.sql).  The sanctioned path of weakening a
 * protected table is protect() / unprotect(): while they run their own DDL,
 * tenant_policy_ddl_active() (policy.h) is true and the triggers stand
 * aside.  unprotect() calls tenant_check_unprotect_hierarchy() after it
 * has taken the table out of the registry.
 */
#ifndef TENANT_RLS_EVENT_TRIGGER_H
#define TENANT_RLS_EVENT_TRIGGER_H

#include "fmgr.h"
#include "nodes/pg_list.h"

extern Datum tenant_rls_ddl_command_end(PG_FUNCTION_ARGS);
extern Datum tenant_rls_sql_drop(PG_FUNCTION_ARGS);
extern Datum tenant_rls_ddl_command_start(PG_FUNCTION_ARGS);

/*
 * The drift guard's hierarchy rule for unprotect(relid), called with SPI
 * connected once relid's registry rows are gone: a protected table still
 * below relid is refused (ERROR, or WARNING under drift_action = warning),
 * since queries on relid would show its rows to every tenant.
 */
extern void tenant_check_unprotect_hierarchy(Oid relid);

/*
 * Is relid below a protected table (registry status 'protected'), at any
 * level?  *ancestor is the nearest one.  SPI must be connected.
 */
extern bool tenant_protected_ancestor(Oid relid, Oid *ancestor);

/* The direct parents of relid (partition parent, inheritance parents). */
extern List *tenant_relation_parents(Oid relid);

/*
 * Every ancestor of relid (partition parents, inheritance parents, at any
 * level), nearest first, each once; read without SQL.
 */
extern List *tenant_relation_ancestors(Oid relid);

/*
 * Is a table above the tables rels (protect()'s or unprotect()'s targets,
 * not one of them) protected by a column other than colname (!same_column),
 * or by colname (same_column: the topmost such above the first target)?
 * *ancestor, *column and *below (the target below it) say which.  SPI must
 * be connected.
 */
extern bool tenant_protected_above(List *rels, const char *colname, bool same_column,
								   Oid *ancestor, Oid *below, char **column);

#endif							/* TENANT_RLS_EVENT_TRIGGER_H */
