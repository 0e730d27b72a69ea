/*
 * context.c -- setting and reading the tenant of the current transaction.
 *
 * The tenant lives in the setting app.current_tenant_id.  It is written only
 * through tenant_rls.set_tenant*() (validated, canonicalised, transaction-local
 * by default so a pooled connection cannot carry it to the next client) and
 * read through the accessors current_tenant*() that policies call.
 *
 * Accessor rules (DESIGN C2): unset, '' (after RESET, DISCARD ALL or the end of
 * the transaction that set it) reads as NULL, never an error, so a policy
 * "tenant_id = tenant_rls.current_tenant_uuid()" returns zero rows.  A value
 * that is not valid for the requested type can only arrive by a raw SET that
 * bypassed set_tenant(); the typed accessors then raise an error rather than
 * guess, so a query never runs as a wrong tenant.
 */
#include "tenant_rls.h"

#include <ctype.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/uuid.h"

#include "audit.h"
#include "context.h"
#include "guc.h"
#include "strict.h"

PG_FUNCTION_INFO_V1(tenant_rls_set_tenant_text);
PG_FUNCTION_INFO_V1(tenant_rls_set_tenant_uuid);
PG_FUNCTION_INFO_V1(tenant_rls_set_tenant_bigint);
PG_FUNCTION_INFO_V1(tenant_rls_clear_tenant);
PG_FUNCTION_INFO_V1(tenant_rls_current_tenant);
PG_FUNCTION_INFO_V1(tenant_rls_current_tenant_uuid);
PG_FUNCTION_INFO_V1(tenant_rls_current_tenant_bigint);
PG_FUNCTION_INFO_V1(tenant_rls_current_tenant_int);
PG_FUNCTION_INFO_V1(tenant_rls_planned_tenant_is);

/* ---------------------------------------------------------------------
 * Parsing: strict, no whitespace, no signs other than a leading '-'.
 * These never raise; callers decide what a failure means.
 * ---------------------------------------------------------------------
 */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Accepts the canonical 8-4-4-4-12 form in either case, and the 32-digit form
 * without hyphens.  Braces and embedded spaces are refused.
 */
static bool
parse_uuid(const char *s, pg_uuid_t *out)
{
	size_t		len = strlen(s);
	bool		hyphens;
	int			i = 0;

	if (len == 36)
		hyphens = true;
	else if (len == 32)
		hyphens = false;
	else
		return false;

	for (int byte = 0; byte < UUID_LEN; byte++)
	{
		int			hi,
					lo;

		if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23))
		{
			if (s[i] != '-')
				return false;
			i++;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->data[byte] = (unsigned char) ((hi << 4) | lo);
		i += 2;
	}
	return s[i] == '\0';
}

/* Decimal integer within [min, max]; optional leading '-', digits only. */
static bool
parse_int_range(const char *s, int64 min, int64 max, int64 *out)
{
	bool		neg = false;
	uint64		acc = 0;
	uint64		limit;
	const char *p = s;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	if (*p == '\0')
		return false;
	limit = neg ? ((uint64) (-(min + 1))) + 1 : (uint64) max;
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		if (acc > (limit - (uint64) (*p - '0')) / 10)
			return false;
		acc = acc * 10 + (uint64) (*p - '0');
	}
	if (neg)
		*out = (acc == (uint64) PG_INT64_MAX + 1) ? PG_INT64_MIN : -(int64) acc;
	else
		*out = (int64) acc;
	return true;
}

static char *
uuid_to_cstring(const pg_uuid_t *u)
{
	static const char hex[] = "0123456789abcdef";
	char	   *buf = palloc(37);
	int			j = 0;

	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[j++] = '-';
		buf[j++] = hex[u->data[i] >> 4];
		buf[j++] = hex[u->data[i] & 0x0f];
	}
	buf[j] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------
 * Validation and storage
 * ---------------------------------------------------------------------
 */

char *
tenant_canonicalize(const char *value, TenantType type)
{
	return tenant_canonicalize_for(value, type, NULL);
}

/*
 * Characters beyond ASCII a tenant value refuses (review rev48a, rev48d), by
 * Unicode code point: anywhere, the controls (C1, the line and paragraph
 * separators, the bidirectional marks and overrides: they reorder what a log
 * or a terminal shows) and the invisible characters (a look-alike of another
 * tenant: 'acme' with a zero-width space inside); at either end, Unicode's
 * white space and the joiners and variation selectors ('acme' followed by a
 * no-break space).
 */
static bool
unicode_control(pg_wchar c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
		(c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

static bool
unicode_invisible(pg_wchar c)
{
	return c == 0xad || c == 0x034f || c == 0x115f || c == 0x1160 || c == 0x17b4 || c == 0x17b5 ||
		c == 0x180e || c == 0x200b || (c >= 0x2060 && c <= 0x2064) || c == 0x3164 || c == 0xfeff ||
		c == 0xffa0 || (c >= 0xe0000 && c <= 0xe0fff);
}

static bool
unicode_blank(pg_wchar c)
{
	return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x180b && c <= 0x180f) ||
		(c >= 0x2000 && c <= 0x200d) || c == 0x202f || c == 0x205f || c == 0x3000 ||
		(c >= 0xfe00 && c <= 0xfe0f);
}

/*
 * The value in UTF-8, for those checks; a character the conversion cannot map
 * becomes 'x' (it is none of those).  NULL where the check cannot be made:
 * SQL_ASCII bytes that are not UTF-8, or an encoding other than UTF-8 and
 * LATIN1 outside a transaction (a setting read at connection start; it is
 * checked again when a transaction sets it).
 */
static char *
value_as_utf8(const char *value, size_t len)
{
	int			enc = GetDatabaseEncoding();
	StringInfoData buf;
	Oid			proc;

	if (enc == PG_UTF8)
		return (char *) value;
	if (enc == PG_SQL_ASCII)
		return pg_encoding_verifymbstr(PG_UTF8, value, (int) len) == (int) len ? (char *) value : NULL;
	initStringInfo(&buf);
	if (enc == PG_LATIN1)
	{
		/* (its bytes are the code points U+0000 to U+00FF) */
		for (size_t i = 0; i < len; i++)
		{
			unsigned char u[8] = {0};

			unicode_to_utf8((pg_wchar) (unsigned char) value[i], u);
			appendStringInfoString(&buf, (char *) u);
		}
		return buf.data;
	}
	if (!IsTransactionState())
		return NULL;
	proc = FindDefaultConversionProc(enc, PG_UTF8);
	if (!OidIsValid(proc))
		return NULL;
	for (size_t i = 0; i < len;)
	{
		int			n = pg_encoding_mblen(enc, value + i);
		unsigned char src[8];
		unsigned char out[64];

		if (n <= 0 || n > (int) sizeof(src) - 1 || i + n > len)
			break;
		memcpy(src, value + i, n);
		src[n] = '\0';
		if (pg_do_encoding_conversion_buf(proc, enc, PG_UTF8, src, n, out, sizeof(out), true) == n)
			appendStringInfoString(&buf, (char *) out);
		else
			appendStringInfoChar(&buf, 'x');
		i += n;
	}
	return buf.data;
}

/* the checks above, on a value with bytes beyond ASCII */
static void
check_unicode(const char *value, size_t len)
{
	const unsigned char *u = (const unsigned char *) value_as_utf8(value, len);
	size_t		ulen;
	size_t		i = 0;

	if (u == NULL)
		return;
	ulen = strlen((const char *) u);
	while (i < ulen)
	{
		int			n = pg_utf_mblen(u + i);
		pg_wchar	c;

		if (i + n > ulen || !pg_utf8_islegal(u + i, n))
			break;
		c = utf8_to_unicode(u + i);
		if (unicode_control(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("tenant value must not contain control characters"),
					 errdetail("It contains U+%04X.", (unsigned int) c),
					 errhint("Pass the tenant identifier itself, without line breaks or other control characters.")));
		if (unicode_invisible(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("tenant value must not contain invisible characters"),
					 errdetail("It contains U+%04X.", (unsigned int) c),
					 errhint("Pass the tenant identifier as it is shown, without zero-width or other invisible characters.")));
		if (unicode_blank(c) && (i == 0 || i + n == ulen))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("tenant value must not begin or end with white space"),
					 errdetail("It %s with U+%04X.", i == 0 ? "begins" : "ends", (unsigned int) c),
					 errhint("Pass the value without leading or trailing white space.")));
		i += n;
	}
}

/*
 * As tenant_canonicalize(), for a value whose type is decided by something
 * other than tenant_rls.tenant_type: type_source names it in the hint
 * ("the tenant column of table \"t\" is uuid").
 */
char *
tenant_canonicalize_for(const char *value, TenantType type, const char *type_source)
{
	size_t		len = strlen(value);
	bool		beyond_ascii = false;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant value must not be empty"),
				 errhint("Use tenant_rls.clear_tenant() to clear the tenant context.")));
	if (len > TENANT_MAX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant value is too long"),
				 errdetail("A tenant value may be at most %d bytes; this one has %zu.",
						   TENANT_MAX_LEN, len),
				 errhint("Pass the tenant identifier itself, not a description of it.")));
	if (isspace((unsigned char) value[0]) || isspace((unsigned char) value[len - 1]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("tenant value must not begin or end with white space"),
				 errhint("Pass the value without leading or trailing white space.")));
	for (size_t i = 0; i < len; i++)
	{
		if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("tenant value must not contain control characters"),
					 errhint("Pass the tenant identifier itself, without line breaks or other control characters.")));
		if ((unsigned char) value[i] >= 0x80)
			beyond_ascii = true;
	}
	if (beyond_ascii)
		check_unicode(value, len);

	if (type_source == NULL)
		type_source = psprintf("tenant_rls.tenant_type = %s", tenant_type_name(type));
	switch (type)
	{
		case TENANT_TYPE_UUID:
			{
				pg_uuid_t	u;

				if (!parse_uuid(value, &u))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("invalid tenant value for type uuid: \"%s\"", value),
							 errhint("Tenants are uuids (%s); pass one like 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', without braces.",
									  type_source)));
				return uuid_to_cstring(&u);
			}
		case TENANT_TYPE_BIGINT:
		case TENANT_TYPE_INTEGER:
			{
				int64		v;
				bool		is_int = (type == TENANT_TYPE_INTEGER);
				int64		min = is_int ? PG_INT32_MIN : PG_INT64_MIN;
				int64		max = is_int ? PG_INT32_MAX : PG_INT64_MAX;
				size_t		sign = (value[0] == '-') ? 1 : 0;

				if (!parse_int_range(value, min, max, &v))
				{
					/* only digits (after a minus): a number outside the range */
					if (len > sign && strspn(value + sign, "0123456789") == len - sign)
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("tenant value %s is out of range for type %s",
										value, tenant_type_name(type)),
								 errhint("Pass a number from " INT64_FORMAT " to " INT64_FORMAT " (%s).",
										 min, max, type_source)));
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("invalid tenant value for type %s: \"%s\"",
									tenant_type_name(type), value),
							 errhint("Tenants are %s numbers (%s); pass the digits only.",
									 tenant_type_name(type), type_source)));
				}
				return psprintf(INT64_FORMAT, v);
			}
		case TENANT_TYPE_TEXT:
			break;
	}
	return pstrdup(value);
}

/*
 * The one path that changes app.current_tenant_id on behalf of the extension.
 * In strict mode the check hook of the setting (strict.c) admits a change
 * only while tenant_strict_begin_store() .. tenant_strict_end_store() brackets
 * this set_config_option() call.
 */
static void
context_store(const char *canonical, bool is_local, bool verified)
{
	tenant_strict_check_store(canonical, is_local, verified);

	/*
	 * (not in a procedure that may COMMIT: there the tenant lasts until its
	 * next COMMIT or ROLLBACK, and a BEGIN around the CALL is refused)
	 */
	if (is_local && !IsTransactionBlock() && !SPI_inside_nonatomic_context())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("tenant context set outside a transaction block lasts only for this statement"),
				 errdetail("Outside BEGIN ... COMMIT a statement runs in a transaction of its own, and the tenant ends with it (in a pipeline of the extended query protocol, that transaction lasts until the next Sync message)."),
				 verified ?
				 errhint("Call tenant_rls.set_tenant_signed() after BEGIN.") :
				 errhint("Call tenant_rls.set_tenant() after BEGIN, or pass is_local => false for a session-wide tenant.")));

	{
		/* trusted by a token or as a clearing, or while the role is privileged */
		bool		by_privilege = !verified && canonical[0] != '\0' && tenant_strict_privileged();

		tenant_strict_begin_store(verified || canonical[0] == '\0' || by_privilege,
								  by_privilege ? GetUserId() : InvalidOid);
	}
	PG_TRY();
	{
		(void) set_config_option(TENANT_SETTING, canonical,
								 superuser() ? PGC_SUSET : PGC_USERSET,
								 PGC_S_SESSION,
								 is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET,
								 true, 0, false);
	}
	PG_FINALLY();
	{
		tenant_strict_end_store();
	}
	PG_END_TRY();
	/* (a setting of tenant_rls's own tells the audit from its assign hook) */
	if (!tenant_setting_tracked())
		audit_context_assigned(canonical, true);
}

void
tenant_context_store(const char *canonical, bool is_local)
{
	context_store(canonical, is_local, false);
}

void
tenant_context_store_verified(const char *canonical)
{
	context_store(canonical, true, true);
}

const char *
tenant_context_get(void)
{
	const char *v = tenant_setting_get();

	if (v == NULL || v[0] == '\0')
		return NULL;
	if (!tenant_strict_value_trusted())
		tenant_context_untrusted_error();
	return v;
}

void
tenant_context_untrusted_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("tenant context was not set through tenant_rls in strict mode"),
			 errdetail("app.current_tenant_id holds a value from a connection default, a setting made before strict mode was in force, or one made by a role that is no longer a superuser or a member of tenant_rls.admin_role."),
			 errhint("Set the tenant with tenant_rls.set_tenant_signed(); remove ALTER ROLE/DATABASE ... SET app.current_tenant_id defaults.")));
}

const char *
tenant_context_get_trusted(void)
{
	const char *v = tenant_setting_get();

	if (v == NULL || v[0] == '\0' || !tenant_strict_value_trusted())
		return NULL;
	return v;
}

/* ---------------------------------------------------------------------
 * SQL-callable setters
 * ---------------------------------------------------------------------
 */

static void
check_type_matches(TenantType given)
{
	TenantType	want = (TenantType) tenant_rls_tenant_type;

	/* set_tenant(bigint) serves integer deployments too (range-checked by the caller) */
	if (want == TENANT_TYPE_TEXT || want == given ||
		(want == TENANT_TYPE_INTEGER && given == TENANT_TYPE_BIGINT))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("tenant value of type %s does not match tenant_rls.tenant_type %s",
					tenant_type_name(given), tenant_type_name(want)),
			 errhint("Pass a value of type %s, or change tenant_rls.tenant_type.", tenant_type_name(want))));
}

/*
 * set_tenant(value [, is_local boolean]): refuses a NULL value; is_local,
 * true unless given (and not NULL)
 */
static bool
set_tenant_is_local(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tenant value must not be null"),
				 errhint("Use tenant_rls.clear_tenant() to clear the tenant context.")));
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		return PG_GETARG_BOOL(1);
	return true;
}

/* set_tenant(value text [, is_local boolean]) */
Datum
tenant_rls_set_tenant_text(PG_FUNCTION_ARGS)
{
	char	   *value;
	bool		is_local;
	char	   *canonical;

	is_local = set_tenant_is_local(fcinfo);

	value = text_to_cstring(PG_GETARG_TEXT_PP(0));
	canonical = tenant_canonicalize(value, (TenantType) tenant_rls_tenant_type);
	tenant_context_store(canonical, is_local);
	PG_RETURN_TEXT_P(cstring_to_text(canonical));
}

/* set_tenant(value uuid [, is_local boolean]) */
Datum
tenant_rls_set_tenant_uuid(PG_FUNCTION_ARGS)
{
	bool		is_local;
	char	   *canonical;

	is_local = set_tenant_is_local(fcinfo);
	check_type_matches(TENANT_TYPE_UUID);
	canonical = uuid_to_cstring(PG_GETARG_UUID_P(0));
	tenant_context_store(canonical, is_local);
	PG_RETURN_TEXT_P(cstring_to_text(canonical));
}

/* set_tenant(value bigint [, is_local boolean]) */
Datum
tenant_rls_set_tenant_bigint(PG_FUNCTION_ARGS)
{
	bool		is_local;
	int64		v;
	char	   *canonical;

	is_local = set_tenant_is_local(fcinfo);
	v = PG_GETARG_INT64(0);
	check_type_matches(TENANT_TYPE_BIGINT);
	if (tenant_rls_tenant_type == TENANT_TYPE_INTEGER && (v < PG_INT32_MIN || v > PG_INT32_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("tenant value " INT64_FORMAT " is out of range for type integer", v),
				 errhint("Tenants are integers (tenant_rls.tenant_type = integer).")));
	canonical = psprintf(INT64_FORMAT, v);
	tenant_context_store(canonical, is_local);
	PG_RETURN_TEXT_P(cstring_to_text(canonical));
}

/* clear_tenant(): no tenant, for the rest of the session */
Datum
tenant_rls_clear_tenant(PG_FUNCTION_ARGS)
{
	tenant_context_store("", false);
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Accessors.  Called once per scan (index key) or per row (filter), so the
 * typed forms cache the last parsed value, keyed by the setting's text.
 * ---------------------------------------------------------------------
 */


static void
invalid_context(const char *v, const char *type)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("tenant context \"%s\" is not a valid %s", v, type),
			 errdetail("A tenant column of type %s reads the tenant as %s; tenant_rls.set_tenant() checks values against tenant_rls.tenant_type, which is %s here (or the value was set directly).",
					   type, type, tenant_type_name((TenantType) tenant_rls_tenant_type)),
			 errhint("Set a tenant that is a valid %s, or set tenant_rls.tenant_type = %s so that tenant_rls.set_tenant() refuses the others.",
					 type, type)));
}

/*
 * A typed accessor reads only the canonical spelling of a value (what
 * set_tenant() stores when tenant_rls.tenant_type names the type): with
 * tenant_type = text the context is stored as given, and '0042' or an
 * upper-case uuid would read the rows of tenant 42 or of that uuid in typed
 * tables while being another tenant in text-keyed tables, in grants and in
 * the audit log (whose read policy compares the text: the session could not
 * read its own entries).  Review rev21a: a token signed for '0042' read
 * tenant 42's rows.
 */
static void
noncanonical_context(const char *v, const char *type, const char *canonical)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("tenant context \"%s\" is not in the canonical form of type %s", v, type),
			 errdetail("The %s tenant column reads the tenant \"%s\"; the same tenant written differently would be another tenant in text tenant columns, in grants and in the audit log.",
					   type, canonical),
			 errhint("Set the tenant as \"%s\", or set tenant_rls.tenant_type = %s so that tenant_rls.set_tenant() and tenant_rls.sign_tenant() write it so.",
					 canonical, type)));
}

/*
 * One-entry cache per accessor: the setting text and its parsed value, and
 * the accessor's last answer, which holds while tenant_rls_context_epoch
 * (strict.c) stays where it was when the answer was found: a filter that is
 * not an index condition (a sequential scan under a generic plan) calls the
 * accessor for every row, and then costs about what a parameter does.
 * Answers are kept only where every change of the setting moves the epoch
 * (its assign hook is ours), not in a parallel worker (it answers from its
 * leader's state), and not outside a transaction (strict mode fails closed
 * there before it could check a privilege).  Errors are never kept.
 */
typedef struct AccessorCache
{
	char		key[TENANT_MAX_LEN + 1];
	bool		valid;
	pg_uuid_t	uuid;
	int64		num;
	uint64		epoch;			/* the answer's, 0: none */
	bool		isnull;			/* the answer: no tenant */
	const char *text;			/* the answer of current_tenant() */
} AccessorCache;

static AccessorCache text_cache;
static AccessorCache uuid_cache;
static AccessorCache int8_cache;
static AccessorCache int4_cache;

#define ANSWER_HOLDS(c) ((c)->epoch == tenant_rls_context_epoch)

/* keep the answer found in epoch "epoch" (read before it was looked for) */
static void
answer_keep(AccessorCache *c, uint64 epoch, bool isnull)
{
	if (!tenant_setting_tracked() || IsParallelWorker() || !IsTransactionState())
		return;
	c->isnull = isnull;
	c->epoch = epoch;
}

/*
 * The setting's text: while the epoch stays, it is the GUC's own string
 * (every assignment, which may free it, moves the epoch).
 */
Datum
tenant_rls_current_tenant(PG_FUNCTION_ARGS)
{
	uint64		epoch = tenant_rls_context_epoch;
	const char *v;

	if (ANSWER_HOLDS(&text_cache))
		v = text_cache.isnull ? NULL : text_cache.text;
	else
	{
		v = tenant_context_get();
		text_cache.text = v;
		answer_keep(&text_cache, epoch, v == NULL);
	}
	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(v));
}

static inline bool
cache_hit(AccessorCache *c, const char *v)
{
	return c->valid && strcmp(c->key, v) == 0;
}

static inline void
cache_fill(AccessorCache *c, const char *v)
{
	size_t		len = strlen(v);

	if (len > TENANT_MAX_LEN)
	{
		c->valid = false;
		return;
	}
	memcpy(c->key, v, len + 1);
	c->valid = true;
}

/*
 * The context as a uuid or an integer in [min, max], only in that type's
 * canonical form: the one check behind the accessors (which raise the error
 * *canonical says: NULL, not a valid value at all; else the canonical
 * spelling) and tenant_context_peek() (which raises none).
 */
static bool
canonical_uuid(const char *v, pg_uuid_t *u, char **canonical)
{
	char	   *c;

	*canonical = NULL;
	if (!parse_uuid(v, u))
		return false;
	c = uuid_to_cstring(u);
	if (strcmp(c, v) == 0)
	{
		pfree(c);
		return true;
	}
	*canonical = c;
	return false;
}

static bool
canonical_integer(const char *v, int64 min, int64 max, int64 *n, char **canonical)
{
	char		c[32];

	*canonical = NULL;
	if (!parse_int_range(v, min, max, n))
		return false;
	snprintf(c, sizeof(c), INT64_FORMAT, *n);
	if (strcmp(c, v) == 0)
		return true;
	*canonical = pstrdup(c);
	return false;
}

Datum
tenant_rls_current_tenant_uuid(PG_FUNCTION_ARGS)
{
	uint64		epoch = tenant_rls_context_epoch;
	const char *v;
	pg_uuid_t  *result;

	if (ANSWER_HOLDS(&uuid_cache))
	{
		if (uuid_cache.isnull)
			PG_RETURN_NULL();
		result = palloc(sizeof(pg_uuid_t));
		*result = uuid_cache.uuid;
		PG_RETURN_UUID_P(result);
	}
	v = tenant_context_get();
	if (v == NULL)
	{
		answer_keep(&uuid_cache, epoch, true);
		PG_RETURN_NULL();
	}
	if (!cache_hit(&uuid_cache, v))
	{
		pg_uuid_t	u;
		char	   *canonical;

		if (!canonical_uuid(v, &u, &canonical))
		{
			if (canonical == NULL)
				invalid_context(v, "uuid");
			noncanonical_context(v, "uuid", canonical);
		}
		uuid_cache.uuid = u;
		cache_fill(&uuid_cache, v);
	}
	answer_keep(&uuid_cache, epoch, false);
	result = palloc(sizeof(pg_uuid_t));
	*result = uuid_cache.uuid;
	PG_RETURN_UUID_P(result);
}

/* the context as an integer in [min, max], parsed once per value */
static inline int64
context_integer(AccessorCache *c, const char *v, int64 min, int64 max,
				const char *type)
{
	if (!cache_hit(c, v))
	{
		int64		n;
		char	   *canonical;

		if (!canonical_integer(v, min, max, &n, &canonical))
		{
			if (canonical == NULL)
				invalid_context(v, type);
			noncanonical_context(v, type, canonical);
		}
		c->num = n;
		cache_fill(c, v);
	}
	return c->num;
}

/*
 * The bigint and integer accessors: false when no tenant is set (the
 * accessor returns NULL), else the context in *n.
 */
static inline bool
current_integer(AccessorCache *c, int64 min, int64 max, const char *type,
				int64 *n)
{
	uint64		epoch = tenant_rls_context_epoch;
	const char *v;

	if (ANSWER_HOLDS(c))
	{
		*n = c->num;
		return !c->isnull;
	}
	v = tenant_context_get();
	if (v == NULL)
	{
		answer_keep(c, epoch, true);
		return false;
	}
	*n = context_integer(c, v, min, max, type);
	answer_keep(c, epoch, false);
	return true;
}

Datum
tenant_rls_current_tenant_bigint(PG_FUNCTION_ARGS)
{
	int64		n;

	if (!current_integer(&int8_cache, PG_INT64_MIN, PG_INT64_MAX, "bigint", &n))
		PG_RETURN_NULL();
	PG_RETURN_INT64(n);
}

Datum
tenant_rls_current_tenant_int(PG_FUNCTION_ARGS)
{
	int64		n;

	if (!current_integer(&int4_cache, PG_INT32_MIN, PG_INT32_MAX, "integer", &n))
		PG_RETURN_NULL();
	PG_RETURN_INT32((int32) n);
}

/*
 * What the accessor returning type `type` would return now, without raising
 * an error: false where it would return NULL or raise one (no tenant, a
 * value strict mode does not trust, one not in the type's canonical form).
 * For the planner (planner_prune.c), which then leaves the call alone.
 */
bool
tenant_context_peek(Oid type, Datum *result)
{
	const char *v = tenant_setting_get();

	if (v == NULL || v[0] == '\0' || !tenant_strict_value_trusted())
		return false;
	switch (type)
	{
		case TEXTOID:
			*result = CStringGetTextDatum(v);
			return true;
		case UUIDOID:
			{
				pg_uuid_t	u;
				pg_uuid_t  *copy;
				char	   *canonical;

				if (!canonical_uuid(v, &u, &canonical))
					return false;
				copy = palloc(sizeof(pg_uuid_t));
				*copy = u;
				*result = UUIDPGetDatum(copy);
				return true;
			}
		case INT8OID:
		case INT4OID:
			{
				int64		n;
				char	   *canonical;

				if (!canonical_integer(v, type == INT8OID ? PG_INT64_MIN : PG_INT32_MIN,
									   type == INT8OID ? PG_INT64_MAX : PG_INT32_MAX,
									   &n, &canonical))
					return false;
				*result = type == INT8OID ? Int64GetDatum(n) : Int32GetDatum((int32) n);
				return true;
			}
	}
	return false;
}

/*
 * A plan made with the tenant's value "planned" (planner_prune.c) ran with
 * the tenant ran_with (NULL or "": none): the error of the check below and
 * of the executor's.
 */
void
tenant_planned_tenant_mismatch(const char *planned, const char *ran_with)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("statement planned for tenant \"%s\" ran with %s", planned,
					ran_with == NULL || ran_with[0] == '\0' ? "no tenant" : psprintf("tenant \"%s\"", ran_with)),
			 errdetail("tenant_rls gives a plan made for one tenant that tenant's value; the tenant changed between planning and execution, or while it ran."),
			 errhint(TENANT_PLANNED_CHANGE_HINT)));
}

/*
 * tenant_rls._planned_tenant_is(planned text): the one-time check the
 * planner adds to a statement it planned with the tenant's value
 * (planner_prune.c).  The value was the setting's text then, in the
 * canonical form of the column's type, so the same text now means the same
 * value.  Anything else is an error, not a statement that reads nothing: a
 * subquery that read nothing would make NOT IN and NOT EXISTS true for
 * every row (review rev28a).
 */
Datum
tenant_rls_planned_tenant_is(PG_FUNCTION_ARGS)
{
	text	   *planned = PG_GETARG_TEXT_PP(0);
	const char *v = tenant_context_get();
	int			len = VARSIZE_ANY_EXHDR(planned);

	char	   *shown;

	if (v != NULL && strlen(v) == (size_t) len && memcmp(v, VARDATA_ANY(planned), len) == 0)
		PG_RETURN_BOOL(true);
	/* (anybody may call it: no longer value than a tenant's in the message) */
	if (len > TENANT_MAX_LEN)
		shown = psprintf("%s...", pnstrdup(VARDATA_ANY(planned),
										   pg_mbcliplen(VARDATA_ANY(planned), len, 64)));
	else
		shown = text_to_cstring(planned);
	tenant_planned_tenant_mismatch(shown, tenant_setting_get());
	PG_RETURN_BOOL(false);		/* not reached */
}
