/*
 * planner_prune.h -- the tenant's value in plans made for one tenant
 * (planner_prune.c).
 */
#ifndef TENANT_RLS_PLANNER_PRUNE_H
#define TENANT_RLS_PLANNER_PRUNE_H

/* the tenant setting changed: plans made for the previous tenant are invalid */
extern void tenant_planner_tenant_changed(void);

/* the tenant of a running plan this change would leave behind, or NULL */
extern const char *tenant_planner_change_refused(const char *newval);

#endif							/* TENANT_RLS_PLANNER_PRUNE_H */
