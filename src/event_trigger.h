/*
 * event_trigger.h -- auto-protection, drift guard and registry upkeep
 * (DESIGN E1-E3), done by event triggers written in C.
 */
#ifndef TENANT_RLS_EVENT_TRIGGER_H
#define TENANT_RLS_EVENT_TRIGGER_H

/*
 * Set (with PG_TRY / PG_FINALLY restoring the previous value) by the code of
 * protect() and unprotect() around the DDL they run themselves: the drift
 * guard then lets that DDL through and the event triggers do nothing.  This
 * is the sanctioned path of weakening a protected table; a flag in C cannot
 * be set from SQL.  Usage:
 *
 *		bool	save = tenant_rls_in_sanctioned_ddl;
 *
 *		tenant_rls_in_sanctioned_ddl = true;
 *		PG_TRY();
 *		{
 *			... SPI_execute() the DDL ...
 *		}
 *		PG_FINALLY();
 *		{
 *			tenant_rls_in_sanctioned_ddl = save;
 *		}
 *		PG_END_TRY();
 */
extern bool tenant_rls_in_sanctioned_ddl;

#endif							/* TENANT_RLS_EVENT_TRIGGER_H */
