/*
 * audit_delivery.h -- deferred delivery of audit batches through the WAL.
 *
 * With tenant_rls.audit_delivery = deferred (and the library preloaded, and
 * tenant_rls.audit_delivery_start() run in the database), a committing
 * transaction writes its batches into the WAL as one signed message instead
 * of chaining and writing them itself; a background worker per database reads
 * them back after the commit and writes them (audit_deliver() in
 * audit_message.c).  audit_delivery.c has the settings, the shared state, the
 * signing key, the workers and the SQL functions.
 */
#ifndef TENANT_RLS_AUDIT_DELIVERY_H
#define TENANT_RLS_AUDIT_DELIVERY_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "nodes/pg_list.h"

/* should the batches of this commit go to the WAL? */
extern bool audit_delivery_deferred(void);

/*
 * Sign body and write it into the WAL as a transactional message; false
 * (nothing written) if delivery was switched off or its slot is gone
 * meanwhile: the caller then writes the batches itself.  continuing: the
 * transaction deferred messages before; accepted while
 * audit_delivery_stop() waits for it.
 */
extern bool audit_delivery_emit(const char *body, int len, bool continuing);

/*
 * Commit order: a transaction that deferred batches of tenants keys is
 * marked from its PRE_COMMIT to its end; a commit that writes batches of
 * keys itself first waits (a bounded time) until the worker has written the
 * marked ones that committed before it, and own (this backend's last
 * deferred commit of one of keys; InvalidXLogRecPtr: none)
 */
extern void audit_delivery_order_mark(List *keys, bool all);
extern void audit_delivery_order_end(bool committed, XLogRecPtr end);
extern void audit_delivery_order_wait(List *keys, XLogRecPtr own);

/* audit_purge(): wait until every committed batch is in the log (or error) */
extern void audit_delivery_drain(void);

/*
 * audit_message.c: chain and write n committed messages, in order; fetch(i)
 * returns message i, valid until the next call if *transient, else until
 * audit_deliver() returns
 */
typedef const char *(*AuditMessageFetch) (int i, Size *len, bool *transient, void *arg);
extern int	audit_deliver(int n, AuditMessageFetch fetch, void *arg);

/* a background worker connected to a database: settings stored for it do not apply */
extern void audit_worker_settings(void);

/* tenant_rls_audit_init(): settings; when preloaded, shared memory and the launcher */
extern void audit_delivery_init(void);

#endif							/* TENANT_RLS_AUDIT_DELIVERY_H */
