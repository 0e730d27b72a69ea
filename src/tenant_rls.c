/*
 * tenant_rls.c -- module entry: PG_MODULE_MAGIC, _PG_init, version().
 *
 * Where things are decided:
 *   guc.c              every tenant_rls.* setting
 *   context.c          set_tenant(), clear_tenant(), current_tenant*() accessors
 *   strict.c           strict mode: who may change app.current_tenant_id
 *   token.c            signed tenant tokens (SQL side); token_core.c the plain-C
 *                      parser, signer and HMAC
 *   policy.c           protect(), unprotect(), mark_global(), exceptions
 *   policy_require.c   require_tenant*(): the tenant column's default
 *   planner_stats.c    what the planner learns from a protected table's
 *                      statistics under row-level security
 *   planner_prune.c    plan-time partition pruning of tables partitioned by
 *                      the tenant column
 *   owner_code.c       code of other roles run by the extension's privileged
 *                      work runs as its owner; no DDL inside our own DDL
 *   event_trigger.c    auto-protection, drift guard, registry upkeep
 *   fk_validation.c    a foreign key validated by a role row-level security
 *                      binds is checked against every row
 *   audit.c            the audit trigger, the log's guard trigger, updated_at
 *   audit_payload.c    how one transaction's changes to one table are encoded
 *   audit_chain.c      pending batches, the per-tenant hash chain
 *   audit_log.c        a batch's row, the log's partitions and indexes, the
 *                      writer
 *   audit_message.c    deferred delivery's WAL message, audit_deliver()
 *   audit_verify.c     audit_verify(): the chains recomputed
 *   audit_purge.c      audit_purge(): old partitions dropped, anchors kept
 *   audit_context.c    the tenant context a statement's audit entries record
 *   audit_maintain.c   the worker creating the log's partitions ahead, and
 *                      the move of a month's batches out of the default one
 *   audit_delivery.c   deferred delivery: signing, emitting and reading back
 *                      the WAL message, the launcher and worker, DROP
 *                      DATABASE & co. of a deferring database
 *   coverage.c         coverage(), lint() and friends (C parts);
 *                      coverage_tables.c the catalog pass behind them
 *   src/sql/NN_*.sql   the SQL objects of each concern, assembled into the
 *                      install script
 */
#include "tenant_rls.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "guc.h"
#include "module_init.h"
#include "owner_code.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(tenant_rls_version);

void
_PG_init(void)
{
	/*
	 * pg_upgrade loads every library to check it can; define nothing and
	 * install no hook then (pgaudit #153, pg_cron).
	 */
	if (IsBinaryUpgrade)
		return;

	tenant_rls_define_gucs();
	tenant_rls_owner_code_init();
	tenant_rls_strict_init();
	tenant_rls_token_init();
	tenant_rls_audit_init();
	tenant_rls_planner_stats_init();
	tenant_rls_planner_prune_init();
	tenant_rls_fk_validation_init();

	MarkGUCPrefixReserved("tenant_rls");
}

/* The version of the loaded library, to compare with the installed SQL. */
Datum
tenant_rls_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(TENANT_RLS_VERSION));
}
