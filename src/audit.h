/*
 * audit.h -- the audit log: what an entry is and how it is written.
 *
 * audit.c        the capture trigger, the guard trigger, updated_at
 * audit_chain.c  the per-tenant hash chain, the log writer, audit_verify(),
 *                audit_purge()
 */
#ifndef TENANT_RLS_AUDIT_H
#define TENANT_RLS_AUDIT_H

#include "utils/relcache.h"

/*
 * The columns of tenant_rls.audit_log, in table order (src/sql/40_audit.sql).
 * Every column before AL_PREV_HASH is covered by the entry's hash.
 */
typedef enum AuditLogAttr
{
	AL_LOGGED_AT = 0,
	AL_TENANT,
	AL_SEQ,
	AL_TABLE_OID,
	AL_SCHEMA_NAME,
	AL_TABLE_NAME,
	AL_OPERATION,
	AL_ROW_PK,
	AL_OLD_ROW,
	AL_NEW_ROW,
	AL_TXID,
	AL_STMT_AT,
	AL_DB_USER,
	AL_DB_SESSION_USER,
	AL_APP_USER,
	AL_APPLICATION_NAME,
	AL_CLIENT_ADDR,
	AL_ROW_COUNT,
	AL_ROW_KEY,
	AL_PREV_HASH,
	AL_HASH,
	AL_NATTS
} AuditLogAttr;

#define AUDIT_HASH_LEN 32		/*
 * Fill the context columns of an entry: logged_at, txid, stmt_at, db_user,
 * db_session_user, app_user, application_name, client_addr.
 */
extern void audit_fill_context(Datum *values, bool *nulls);

/* a palloc'd name Datum */
extern Datum audit_name_datum(const char *s);

/* SHA-256 */

/*
 * Set only while tenant_rls.audit_purge() runs: the guard trigger then lets
 * the purge's own statements through.
 */
extern bool audit_purge_sanctioned;

/*
 * Queue one entry.  values/nulls are AL_NATTS long; the caller fills every
 * column except seq, prev_hash and hash (and logged_at, which is set again),
 * which the chain assigns when the transaction commits, under the tenant's
 * lock.
 */
extern void audit_append(Datum *values, bool *nulls);

/*
 * Fill the context columns of an entry: logged_at, txid, stmt_at, db_user,
 * db_session_user, app_user, application_name, client_addr.
 */
extern void audit_fill_context(Datum *values, bool *nulls);

/* a palloc'd name Datum */
extern Datum audit_name_datum(const char *s);

/* SHA-256(prev || canonical bytes of values[0 .. AL_PREV_HASH - 1]) */
extern void audit_entry_hash(const uint8 *prev, const Datum *values, const bool *nulls,
							 uint8 *out);

/* the history index key of a primary key jsonb */
extern int64 audit_row_key(Datum pk);

/* relcache callback of audit_chain.c (forgets cached relation OIDs) */
extern void audit_chain_relcache_callback(Datum arg, Oid relid);

#endif							/* TENANT_RLS_AUDIT_H */
