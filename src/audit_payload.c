/*
 * audit_payload.c -- the payload of an audit batch: how the changes of one
 * transaction to one table are encoded, and the decoder behind the view
 * tenant_rls.audit_log.
 *
 * The capture trigger does not build jsonb per row (that alone costs more than
 * the write it records); it appends each change to the batch in a compact
 * form, and the view turns it into jsonb when somebody reads it.
 *
 * Payload:
 *     "TRL1"  u16 ncols
 *     ncols x (u8 flags  u8 kind  u32 type  i32 typmod  u8 namelen  name)
 *     entries, to the end:
 *         u8 op  u8 flags  i64 stmt_at  [i64 row_count]  [u32 len  JSON text]
 *         [image: key]  [image: old]  [image: new]
 *     image:  u16 n, n x (u16 column, value)
 *     value:  u8 0 (NULL) | u8 1, then
 *             kind B: typlen bytes, or u32 len + bytes for varlena types
 *             kind J: u32 len + JSON text: to_json(value), or a jsonb's text
 * Integers are in the server's byte order.
 *
 * Kind B (the datum's own bytes, no conversion at all) is used only for a
 * fixed set of types whose output is safe for any bytes: anybody can call
 * audit_entries() with a bytea of their making, so the decoder never hands
 * bytes to the output function of an arbitrary type.  Every other type is
 * stored as the text of to_json(value), which never fails for a valid value
 * (to_jsonb() would: a json value with \u0000 or a number beyond numeric's
 * range is valid json but no jsonb), and parsed back by jsonb_in when read if
 * jsonb can hold it (json_fits_jsonb()), else shown as a JSON string of the
 * text.  The decoder checks every length against the end of the payload.
 */
#include "tenant_rls.h"

#include "catalog/pg_type_d.h"
#include "common/jsonapi.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/bytea.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(tenant_rls_audit_entries);

#define PAYLOAD_MAGIC "TRL1"

/* ---------------------------------------------------------------------
 * Encoding
 * ---------------------------------------------------------------------
 */

/* types stored as their bytes; their inline jsonb form, if any */
static bool
binary_type(Oid typoid)
{
	switch (typoid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case OIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case BYTEAOID:
			return true;
		default:
			return false;
	}
}

/* a call of to_json() (fn F_TO_JSON, JSONOID) or to_jsonb() for values of typoid */
static FmgrInfo *
to_json_fmgr(Oid fn, Oid rettype, Oid typoid, int32 typmod, MemoryContext cxt)
{
	FmgrInfo   *f = MemoryContextAllocZero(cxt, sizeof(FmgrInfo));
	MemoryContext old = MemoryContextSwitchTo(cxt);

	fmgr_info_cxt(fn, f, cxt);
	fmgr_info_set_expr((Node *) makeFuncExpr(fn, rettype,
											 list_make1(makeNullConst(typoid, typmod, InvalidOid)),
											 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL),
					   f);
	MemoryContextSwitchTo(old);
	return f;
}

void
audit_coltype_init(AuditColType *ct, Oid typoid, int32 typmod, MemoryContext cxt)
{
	int32		basemod = typmod;
	Oid			base = getBaseTypeAndTypmod(typoid, &basemod);

	ct->typoid = base;
	ct->typmod = basemod;
	get_typlenbyval(base, &ct->typlen, &ct->typbyval);
	ct->to_json = NULL;
	if (binary_type(base))
		ct->kind = AUDIT_KIND_BINARY;
	else
	{
		ct->kind = AUDIT_KIND_JSON;
		if (base != JSONBOID)
			ct->to_json = to_json_fmgr(F_TO_JSON, JSONOID, base, basemod, cxt);
	}
}

bool		audit_converting = false;

void
audit_put_layout_header(StringInfo buf, int ncols)
{
	audit_put_bytes(buf, PAYLOAD_MAGIC, 4);
	audit_put_u16(buf, (uint16) ncols);
}

void
audit_put_layout_col(StringInfo buf, const char *name, const AuditColType *ct, uint8 flags)
{
	size_t		len = strlen(name);

	Assert(len < NAMEDATALEN);
	audit_put_u8(buf, flags);
	audit_put_u8(buf, (uint8) ct->kind);
	audit_put_u32(buf, ct->typoid);
	audit_put_u32(buf, (uint32) ct->typmod);
	audit_put_u8(buf, (uint8) len);
	audit_put_bytes(buf, name, len);
}

/*
 * Kind J values are the text of to_json(), which for arrays, composites,
 * ranges, geometric types and the like is made by the types' output
 * functions, and these follow settings any session may change:
 * extra_float_digits <= 0 rounds floats (the recorded value would be another
 * value: a point (1.2346,2) recorded as (1,2)), bytea_output = escape,
 * IntervalStyle and DateStyle change the form.  The writer's session must not
 * decide what the log says the row held: where a setting differs from the
 * standard one, the conversion runs with the standard one (the nest level to
 * undo, 0: nothing changed; the usual case costs four comparisons).
 * TimeZone is left as it is: a timestamptz is rendered with its offset, so
 * the instant recorded is the same in any zone (doc/audit.md).
 */
pg_noinline static int
output_settings_fixed(void)
{
	int			nestlevel;

	if (extra_float_digits > 0 && bytea_output == BYTEA_OUTPUT_HEX &&
		IntervalStyle == INTSTYLE_POSTGRES && DateStyle == USE_ISO_DATES)
		return 0;
	nestlevel = NewGUCNestLevel();
	if (extra_float_digits <= 0)
		(void) set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, ERROR, false);
	if (bytea_output != BYTEA_OUTPUT_HEX)
		(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, ERROR, false);
	if (IntervalStyle != INTSTYLE_POSTGRES)
		(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, ERROR, false);
	if (DateStyle != USE_ISO_DATES)
		(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, ERROR, false);
	return nestlevel;
}

void
audit_put_value(StringInfo buf, const AuditColType *ct, Datum v, bool isnull)
{
	if (isnull)
	{
		audit_put_u8(buf, 0);
		return;
	}
	audit_put_u8(buf, 1);
	if (ct->kind == AUDIT_KIND_BINARY)
	{
		if (ct->typlen == -1)
		{
			struct varlena *p = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v));

			audit_put_u32(buf, VARSIZE_ANY_EXHDR(p));
			audit_put_bytes(buf, VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p));
			if (p != (struct varlena *) DatumGetPointer(v))
				pfree(p);
		}
		else if (ct->typbyval)
		{
			switch (ct->typlen)
			{
				case 1:
					audit_put_u8(buf, DatumGetChar(v));
					break;
				case 2:
					audit_put_u16(buf, (uint16) DatumGetInt16(v));
					break;
				case 4:
					audit_put_u32(buf, DatumGetUInt32(v));
					break;
				default:
					audit_put_i64(buf, DatumGetInt64(v));
					break;
			}
		}
		else
			audit_put_bytes(buf, DatumGetPointer(v), ct->typlen);
	}
	else if (ct->to_json == NULL)
	{
		/* jsonb: its text */
		Jsonb	   *jb = DatumGetJsonbP(v);
		char	   *s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		size_t		len = strlen(s);

		audit_put_u32(buf, (uint32) len);
		audit_put_bytes(buf, s, len);
		pfree(s);
	}
	else
	{
		text	   *volatile t = NULL;
		int			nestlevel = output_settings_fixed();

		/* a cast to json may be SQL of the user's (see audit_converting) */
		audit_converting = true;
		PG_TRY();
		{
			t = DatumGetTextPP(FunctionCall1(ct->to_json, v));
		}
		PG_FINALLY();
		{
			audit_converting = false;
		}
		PG_END_TRY();
		/* (on error, the (sub)transaction's abort undoes the settings) */
		if (nestlevel > 0)
			AtEOXact_GUC(true, nestlevel);
		audit_put_u32(buf, VARSIZE_ANY_EXHDR(t));
		audit_put_bytes(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		pfree(t);
	}
}

/* ---------------------------------------------------------------------
 * Decoding: tenant_rls.audit_entries(payload bytea)
 * ---------------------------------------------------------------------
 */
typedef struct Reader
{
	const char *p;
	const char *end;
} Reader;

static void
corrupted(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("audit payload is corrupted: %s", what),
			 errhint("Run tenant_rls.audit_verify() to find the batch that was modified.")));
}

static const char *
take(Reader *r, size_t n)
{
	const char *p = r->p;

	if ((size_t) (r->end - r->p) < n)
		corrupted("it ends early");
	r->p += n;
	return p;
}

static uint8
get_u8(Reader *r)
{
	return (uint8) *take(r, 1);
}

static uint16
get_u16(Reader *r)
{
	uint16		v;

	memcpy(&v, take(r, sizeof(v)), sizeof(v));
	return v;
}

static uint32
get_u32(Reader *r)
{
	uint32		v;

	memcpy(&v, take(r, sizeof(v)), sizeof(v));
	return v;
}

static int64
get_i64(Reader *r)
{
	int64		v;

	memcpy(&v, take(r, sizeof(v)), sizeof(v));
	return v;
}

typedef struct DecodeCol
{
	char	   *name;
	int			namelen;
	uint8		flags;
	char		kind;
	Oid			typoid;
	int32		typmod;
	FmgrInfo   *to_jsonb;		/* kind B types rendered through to_jsonb() */
} DecodeCol;

static void
push_jsonb(JsonbParseState **st, Jsonb *jb)
{
	JsonbValue	jv;

	if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &jv))
	{
		pushJsonbValue(st, WJB_VALUE, &jv);
		return;
	}
	jv.type = jbvBinary;
	jv.val.binary.data = &jb->root;
	jv.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &jv);
}

/* a varlena of the given bytes */
static struct varlena *
make_varlena(const char *data, uint32 len)
{
	struct varlena *v = palloc(len + VARHDRSZ);

	SET_VARSIZE(v, len + VARHDRSZ);
	memcpy(VARDATA(v), data, len);
	return v;
}

/* read one value of column c and push it as the value of its key */
/*
 * Is s (len bytes) the image of a valid numeric, in numeric.c's on-disk
 * format without the varlena header?  Anyone can pass a forged payload to
 * audit_entries(), and numeric's functions trust their input (a header
 * shorter than its format reads past the value), so the image is checked
 * here: a special value (NaN, +-Infinity) is its 2-byte header alone; a
 * short-format value has a 2-byte header, a long-format one a 2-byte header
 * and a 2-byte weight; then whole base-10000 digits, each 0 to 9999.
 */
static bool
numeric_image_ok(const char *s, uint32 len)
{
	uint16		header;
	uint32		hdrlen;

	if (len < sizeof(uint16))
		return false;
	memcpy(&header, s, sizeof(uint16));
	switch (header & 0xC000)
	{
		case 0xC000:			/* special: NaN 0xC000, +Inf 0xD000, -Inf 0xF000 */
			return len == sizeof(uint16) &&
				(header == 0xC000 || header == 0xD000 || header == 0xF000);
		case 0x8000:			/* short format */
			hdrlen = sizeof(uint16);
			break;
		default:				/* long format, positive or negative */
			hdrlen = sizeof(uint16) + sizeof(int16);
			break;
	}
	if (len < hdrlen || (len - hdrlen) % sizeof(int16) != 0)
		return false;
	for (uint32 off = hdrlen; off < len; off += sizeof(int16))
	{
		int16		digit;

		memcpy(&digit, s + off, sizeof(int16));
		if (digit < 0 || digit > 9999)
			return false;
	}
	return true;
}

/*
 * Whether jsonb_in() accepts a JSON text and the reader can use the result,
 * decided without raising errors (PostgreSQL 15 has no soft input errors),
 * so that no valid value a writer could store makes the log unreadable.
 * Text json_in() accepted, or to_json() wrote, fails jsonb_in() when:
 *   - a string has \u0000 or a lone surrogate (the parser, run with strings
 *     de-escaped, returns these errors);
 *   - in a database whose encoding is not UTF-8, a \u escape names a
 *     non-ASCII character (the parser raises a conversion error there, so
 *     json_shape_fits() looks for these first);
 *   - a number does not fit numeric: its most significant digit at more
 *     than 131071 places before the decimal point, or more than 16383
 *     digits after it (numeric_in's limits, exponent applied);
 *   - the value is too large or too deep for jsonb or for the reader's
 *     stack: json_shape_fits() draws conservative lines (JSON_FITS_*).
 * Any other parse error means the text is not JSON: a forged payload.
 */
#define JSON_FITS_MAX_LEN	(32 * 1024 * 1024)	/* bytes: jsonb stays < 256 MB */
#define JSON_FITS_MAX_DEPTH 1000	/* nesting levels */
#define JSON_FITS_MAX_ELEMS (4 * 1024 * 1024)	/* per array or object */

static bool
json_shape_fits(const char *s, int len)
{
	int32		elems[JSON_FITS_MAX_DEPTH + 1];
	int			depth = 0;
	bool		in_string = false;
	bool		utf8 = (GetDatabaseEncoding() == PG_UTF8);

	if (len > JSON_FITS_MAX_LEN)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '"')
				in_string = false;
			else if (c == '\\' && i + 1 < len)
			{
				if (s[++i] == 'u' && !utf8)
				{
					int			code = 0;
					int			k;

					for (k = 1; k <= 4 && i + k < len && isxdigit((unsigned char) s[i + k]); k++)
					{
						char		h = s[i + k];

						code = code * 16 + (isdigit((unsigned char) h) ? h - '0' : (h | 0x20) - 'a' + 10);
					}
					if (k > 4 && code >= 0x80)
						return false;
				}
			}
			continue;
		}
		switch (c)
		{
			case '"':
				in_string = true;
				break;
			case '[':
			case '{':
				if (++depth > JSON_FITS_MAX_DEPTH)
					return false;
				elems[depth] = 0;
				break;
			case ']':
			case '}':
				if (depth > 0)
					depth--;
				break;
			case ',':
				if (depth > 0 && ++elems[depth] >= JSON_FITS_MAX_ELEMS)
					return false;
				break;
			default:
				break;
		}
	}
	return true;
}

typedef struct FitsState
{
	bool		fits;
} FitsState;

static void
fits_scalar(void *state, char *token, JsonTokenType tokentype)
{
	FitsState  *fs = (FitsState *) state;

	if (tokentype == JSON_TOKEN_NUMBER && fs->fits)
	{
		/* -?digits[.digits][(e|E)[+-]digits], as the lexer checked */
		const char *p = token;
		int64		intdigits = 0,
					fracdigits = 0,
					first = -1, /* digits before the first nonzero one */
					exp = 0;
		bool		negexp = false;

		if (*p == '-')
			p++;
		for (; isdigit((unsigned char) *p); p++, intdigits++)
			if (first < 0 && *p != '0')
				first = intdigits;
		if (*p == '.')
			for (p++; isdigit((unsigned char) *p); p++, fracdigits++)
				if (first < 0 && *p != '0')
					first = intdigits + fracdigits;
		if (*p == 'e' || *p == 'E')
		{
			p++;
			if (*p == '+' || *p == '-')
				negexp = (*p++ == '-');
			for (; isdigit((unsigned char) *p); p++)
				if (exp < 10000000)
					exp = exp * 10 + (*p - '0');
			if (negexp)
				exp = -exp;
		}
		/* the place of the most significant digit (0: units), if not zero */
		if (first >= 0 && intdigits - 1 - first + exp > 131071)
			fs->fits = false;
		/* the digits after the decimal point: numeric's dscale */
		if (fracdigits - exp > 16383)
			fs->fits = false;
	}
	if (token)
		pfree(token);
}

static bool
json_fits_jsonb(char *json, int len)
{
	FitsState	fs = {true};
	JsonSemAction sem = {0};
	JsonLexContext *lex;

	if (!json_shape_fits(json, len))
		return false;
	lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), true);
	sem.semstate = &fs;
	sem.scalar = fits_scalar;
	switch (pg_parse_json(lex, &sem))
	{
		case JSON_SUCCESS:
			return fs.fits;
		case JSON_UNICODE_CODE_POINT_ZERO:
		case JSON_UNICODE_HIGH_ESCAPE:
		case JSON_UNICODE_HIGH_SURROGATE:
		case JSON_UNICODE_LOW_SURROGATE:
			return false;
		default:
			corrupted("a JSON value is not valid JSON");
			return false;		/* keep compiler quiet */
	}
}

/*
 * At most this many bytes of values in one image, counted as the JSON text
 * a client receives (a jsonb object holds at most 256 MB, and a row of
 * audit_log, up to three images, at most 1 GB of text); a value beyond it is
 * shown as {"tenant_rls": "value too large to show", "bytes": n}.  Review rev40d: one row of 270 MB made its batch unreadable, and with
 * it every read of the log that reached it.
 */
#define IMAGE_SHOW_MAX	(128 * 1024 * 1024)

/*
 * The bytes of a string in JSON text, as a client receives it: a control
 * character is escaped in up to 6 bytes (\u0001), '"' and '\\' in 2 (review
 * rev40g: 90 MB of control characters in each of two images made a row of
 * the view over 1 GB of text)
 */
static Size
json_string_bytes(const char *s, Size len)
{
	Size		n = len + 2;

	for (Size i = 0; i < len; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (ch < 0x20)
			n += 5;
		else if (ch == '"' || ch == '\\')
			n += 1;
	}
	return n;
}

/* an image's allowance: may a value of this many bytes still be shown? */
static bool
image_takes(Size *left, Size bytes)
{
	if (bytes > *left)
		return false;
	*left -= bytes;
	return true;
}

static void
push_not_shown(JsonbParseState **st, uint64 bytes)
{
	JsonbValue	jv;

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	jv.type = jbvString;
	jv.val.string.val = "tenant_rls";
	jv.val.string.len = strlen("tenant_rls");
	pushJsonbValue(st, WJB_KEY, &jv);
	jv.val.string.val = "value too large to show";
	jv.val.string.len = strlen("value too large to show");
	pushJsonbValue(st, WJB_VALUE, &jv);
	jv.val.string.val = "bytes";
	jv.val.string.len = strlen("bytes");
	pushJsonbValue(st, WJB_KEY, &jv);
	jv.type = jbvNumeric;
	jv.val.numeric = int64_to_numeric((int64) bytes);
	pushJsonbValue(st, WJB_VALUE, &jv);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * A float as to_jsonb() shows it with extra_float_digits > 0 (the shortest
 * text that reads back as the same value; NaN and the infinities as
 * strings), whatever the reader's extra_float_digits: with 0 or less,
 * to_jsonb() rounded the value recorded, 0.30000000000000004 shown as 0.3,
 * and a key so recorded was not found by audit_history() (review rev47b).
 */
static void
push_float(JsonbParseState **st, double v, bool is_float4)
{
	JsonbValue	jv;
	char		buf[32];

	if (isnan(v) || isinf(v))
	{
		const char *w = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";

		jv.type = jbvString;
		jv.val.string.val = (char *) w;
		jv.val.string.len = strlen(w);
	}
	else
	{
		if (is_float4)
			float_to_shortest_decimal_buf((float) v, buf);
		else
			double_to_shortest_decimal_buf(v, buf);
		jv.type = jbvNumeric;
		jv.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)));
	}
	pushJsonbValue(st, WJB_VALUE, &jv);
}

static void
push_value(JsonbParseState **st, Reader *r, DecodeCol *c, Size *left)
{
	JsonbValue	jv;
	uint8		tag = get_u8(r);
	Datum		d = (Datum) 0;
	Jsonb	   *jb;

	if (tag == 0)
	{
		jv.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &jv);
		return;
	}
	if (tag != 1)
		corrupted("bad value tag");

	if (c->kind == AUDIT_KIND_JSON)
	{
		uint32		len = get_u32(r);
		const char *s = take(r, len);
		char	   *cs;

		if (len > *left)
		{
			push_not_shown(st, len);
			return;
		}
		cs = pnstrdup(s, len);
		if (strlen(cs) != len)
			corrupted("a JSON value holds a zero byte");
		if (!pg_verifymbstr(cs, len, true))
			corrupted("a JSON value is not valid in the database encoding");
		if (json_fits_jsonb(cs, len))
		{
			jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(cs)));
			if (!image_takes(left, Max((Size) len, (Size) VARSIZE(jb))))
				push_not_shown(st, len);
			else
				push_jsonb(st, jb);
		}
		else
		{
			/* valid json jsonb cannot hold: its text, as a string */
			if (!image_takes(left, json_string_bytes(cs, len)))
			{
				push_not_shown(st, len);
				return;
			}
			jv.type = jbvString;
			jv.val.string.val = cs;
			jv.val.string.len = len;
			pushJsonbValue(st, WJB_VALUE, &jv);
		}
		return;
	}

	switch (c->typoid)
	{
		case BOOLOID:
			jv.type = jbvBool;
			jv.val.boolean = (get_u8(r) != 0);
			pushJsonbValue(st, WJB_VALUE, &jv);
			return;
		case INT2OID:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric((int16) get_u16(r));
			pushJsonbValue(st, WJB_VALUE, &jv);
			return;
		case INT4OID:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric((int32) get_u32(r));
			pushJsonbValue(st, WJB_VALUE, &jv);
			return;
		case INT8OID:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric(get_i64(r));
			pushJsonbValue(st, WJB_VALUE, &jv);
			return;
		case NUMERICOID:
			{
				uint32		len = get_u32(r);
				const char *s = take(r, len);
				Numeric		n;

				if (!numeric_image_ok(s, len))
					corrupted("a numeric value is not a valid numeric");
				(void) image_takes(left, len);
				n = (Numeric) make_varlena(s, len);
				if (numeric_is_nan(n) || numeric_is_inf(n))
				{
					char	   *out = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

					jv.type = jbvString;
					jv.val.string.val = out;
					jv.val.string.len = strlen(out);
				}
				else
				{
					jv.type = jbvNumeric;
					jv.val.numeric = n;
				}
				pushJsonbValue(st, WJB_VALUE, &jv);
				return;
			}
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			{
				uint32		len = get_u32(r);
				const char *s = take(r, len);

				if (len > *left || !image_takes(left, json_string_bytes(s, len)))
				{
					push_not_shown(st, len);
					return;
				}
				if (!pg_verifymbstr(s, len, true))
					corrupted("a text value is not valid in the database encoding");
				jv.type = jbvString;
				jv.val.string.val = (char *) s;
				jv.val.string.len = len;
				pushJsonbValue(st, WJB_VALUE, &jv);
				return;
			}
		case BYTEAOID:
			{
				uint32		len = get_u32(r);
				const char *s = take(r, len);

				char	   *hex;

				/* (shown as "\\x" and two hex digits a byte) */
				if (!image_takes(left, (Size) len * 2 + 3))
				{
					push_not_shown(st, len);
					return;
				}

				/*
				 * In hex whatever the reader's bytea_output, as the writer
				 * records bytea inside arrays and composites (review rev47b:
				 * to_jsonb() followed the reader's setting)
				 */
				hex = palloc((Size) len * 2 + 3);
				hex[0] = '\\';
				hex[1] = 'x';
				jv.type = jbvString;
				jv.val.string.len = 2 + (int) hex_encode(s, len, hex + 2);
				jv.val.string.val = hex;
				pushJsonbValue(st, WJB_VALUE, &jv);
				return;
			}
		case FLOAT4OID:
			push_float(st, DatumGetFloat4(UInt32GetDatum(get_u32(r))), true);
			return;
		case FLOAT8OID:
			push_float(st, DatumGetFloat8(Int64GetDatum(get_i64(r))), false);
			return;
		case UUIDOID:
			{
				pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

				memcpy(u->data, take(r, UUID_LEN), UUID_LEN);
				d = UUIDPGetDatum(u);
				break;
			}
		case OIDOID:
		case DATEOID:
			d = UInt32GetDatum(get_u32(r));
			break;
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			d = Int64GetDatum(get_i64(r));
			break;
		default:
			corrupted("a binary value of an unexpected type");
	}
	push_jsonb(st, DatumGetJsonbP(FunctionCall1(c->to_jsonb, d)));
}

/* an image as a jsonb object */
static Datum
read_image(Reader *r, DecodeCol *cols, int ncols)
{
	JsonbParseState *st = NULL;
	JsonbValue	jv;
	uint16		n = get_u16(r);
	Size		left = IMAGE_SHOW_MAX;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		uint16		k = get_u16(r);

		if (k >= ncols)
			corrupted("an image names a column the layout does not have");
		jv.type = jbvString;
		jv.val.string.val = cols[k].name;
		jv.val.string.len = cols[k].namelen;
		pushJsonbValue(&st, WJB_KEY, &jv);
		push_value(&st, r, &cols[k], &left);
	}
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

static const char *
op_name(uint8 op)
{
	switch (op)
	{
		case AUDIT_OP_INSERT:
			return "INSERT";
		case AUDIT_OP_UPDATE:
			return "UPDATE";
		case AUDIT_OP_DELETE:
			return "DELETE";
		case AUDIT_OP_TRUNCATE:
			return "TRUNCATE";
		case AUDIT_OP_PURGE:
			return "PURGE";
	}
	corrupted("unknown operation");
	return NULL;
}

/*
 * tenant_rls.audit_entries(payload bytea) RETURNS TABLE (entry integer,
 *   operation text, stmt_at timestamptz, row_pk jsonb, old_row jsonb,
 *   new_row jsonb, row_count bigint)
 */
Datum
tenant_rls_audit_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bytea	   *payload = PG_GETARG_BYTEA_PP(0);
	Reader		r;
	int			ncols;
	DecodeCol  *cols;
	int32		entry = 0;
	MemoryContext rowcxt;
	MemoryContext old;

	InitMaterializedSRF(fcinfo, 0);
	r.p = VARDATA_ANY(payload);
	r.end = r.p + VARSIZE_ANY_EXHDR(payload);

	if (memcmp(take(&r, 4), PAYLOAD_MAGIC, 4) != 0)
		corrupted("unknown format");
	ncols = get_u16(&r);
	cols = palloc0(sizeof(DecodeCol) * (ncols + 1));
	for (int i = 0; i < ncols; i++)
	{
		DecodeCol  *c = &cols[i];

		c->flags = get_u8(&r);
		c->kind = (char) get_u8(&r);
		c->typoid = get_u32(&r);
		c->typmod = (int32) get_u32(&r);
		c->namelen = get_u8(&r);
		c->name = pnstrdup(take(&r, c->namelen), c->namelen);
		if ((int) strlen(c->name) != c->namelen || !pg_verifymbstr(c->name, c->namelen, true))
			corrupted("a column name is not valid");
		if (c->kind == AUDIT_KIND_BINARY)
		{
			if (!binary_type(c->typoid))
				corrupted("a binary column of an unexpected type");
			switch (c->typoid)
			{
				case UUIDOID:
				case OIDOID:
				case DATEOID:
				case TIMEOID:
				case TIMESTAMPOID:
				case TIMESTAMPTZOID:
					c->to_jsonb = to_json_fmgr(F_TO_JSONB, JSONBOID, c->typoid, c->typmod,
											   CurrentMemoryContext);
					break;
				default:
					break;
			}
		}
		else if (c->kind != AUDIT_KIND_JSON)
			corrupted("unknown value kind");
	}

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "tenant_rls audit entry", ALLOCSET_DEFAULT_SIZES);
	while (r.p < r.end)
	{
		Datum		values[7];
		bool		nulls[7] = {false, true, false, true, true, true, true};
		uint8		op,
					flags;

		old = MemoryContextSwitchTo(rowcxt);
		op = get_u8(&r);
		flags = get_u8(&r);
		values[0] = Int32GetDatum(++entry);
		values[1] = CStringGetTextDatum(op_name(op));
		nulls[1] = false;
		values[2] = TimestampTzGetDatum(get_i64(&r));
		if (flags & AUDIT_EF_ROW_COUNT)
		{
			values[6] = Int64GetDatum(get_i64(&r));
			nulls[6] = false;
		}
		if (flags & AUDIT_EF_DOC)
		{
			uint32		len = get_u32(&r);
			char	   *cs = pnstrdup(take(&r, len), len);

			if (strlen(cs) != len)
				corrupted("a JSON document holds a zero byte");
			if (!pg_verifymbstr(cs, len, true))
				corrupted("a JSON document is not valid in the database encoding");
			/* (the trigger writes documents jsonb holds) */
			if (!json_fits_jsonb(cs, len))
				corrupted("a JSON document is not one jsonb can hold");
			values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(cs));
			nulls[5] = false;
		}
		if (flags & AUDIT_EF_KEY)
		{
			values[3] = read_image(&r, cols, ncols);
			nulls[3] = false;
		}
		if (flags & AUDIT_EF_OLD)
		{
			values[4] = read_image(&r, cols, ncols);
			nulls[4] = false;
		}
		if (flags & AUDIT_EF_NEW)
		{
			values[5] = read_image(&r, cols, ncols);
			nulls[5] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}
