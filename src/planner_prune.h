/*
 * planner_prune.h -- the tenant's value in plans made for one tenant
 * (planner_prune.c).
 */
#ifndef TENANT_RLS_PLANNER_PRUNE_H
#define TENANT_RLS_PLANNER_PRUNE_H

/*
 * the tenant setting was assigned newval: plans made for the previous tenant
 * are invalid, and a running plan made for another tenant has run with it
 */
extern void tenant_planner_tenant_changed(const char *newval);

/* the tenant of a running plan this change would leave behind, or NULL */
extern const char *tenant_planner_change_refused(const char *newval);

#endif							/* TENANT_RLS_PLANNER_PRUNE_H */
