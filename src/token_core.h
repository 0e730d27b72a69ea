/*
 * token_core.h -- signed tenant tokens: format, signing and verification.
 *
 * Plain C and OpenSSL only (no PostgreSQL headers), so a fuzzer can link it
 * on its own (test/fuzz/token_fuzz.c).  token.c is the SQL side.
 *
 * Token format, version 2 (all integers big-endian), encoded as base64url
 * without padding:
 *
 *   offset  size  field
 *   0       1     version, 0x02
 *   1       4     key id: first 4 bytes of HMAC-SHA256(key, "tenant_rls key id")
 *   5       8     expiry, signed microseconds since 1970-01-01 00:00 UTC
 *   13      2     tenant length n, 1 .. TOKEN_TENANT_MAX
 *   15      n     tenant (the canonical value, no NUL byte)
 *   15+n    32    HMAC-SHA256(key, bytes 0 .. 15+n-1 || database name)
 *
 * The database name (1 .. TOKEN_DATABASE_MAX bytes, as current_database()
 * gives it) does not travel in the token: the signer and the verifier each
 * put their own in the MAC input, so a token signed for one database of a
 * cluster fails the signature check in every other database.  The bytes
 * before it are self-delimiting (fixed header, tenant length), so the MAC
 * input is unambiguous.  Version 1 (no database in the MAC) was never
 * released and is refused as an unsupported version.
 *
 * The key id only says which configured key to try (current or previous);
 * it reveals nothing about the key.  The MAC is compared in constant time.
 */
#ifndef TENANT_RLS_TOKEN_CORE_H
#define TENANT_RLS_TOKEN_CORE_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_VERSION		2
#define TOKEN_KEY_MIN_LEN	32		/* bytes */
#define TOKEN_TENANT_MAX	256		/* bytes, same as TENANT_MAX_LEN */
#define TOKEN_DATABASE_MAX	63		/* bytes, NAMEDATALEN - 1 */
#define TOKEN_KEYID_LEN		4
#define TOKEN_MAC_LEN		32
#define TOKEN_HEADER_LEN	(1 + TOKEN_KEYID_LEN + 8 + 2)
#define TOKEN_MIN_RAW		(TOKEN_HEADER_LEN + 1 + TOKEN_MAC_LEN)
#define TOKEN_MAX_RAW		(TOKEN_HEADER_LEN + TOKEN_TENANT_MAX + TOKEN_MAC_LEN)
/* base64url without padding of TOKEN_MAX_RAW bytes */
#define TOKEN_MAX_ENCODED	((TOKEN_MAX_RAW * 4 + 2) / 3)

typedef enum token_status
{
	TOKEN_OK = 0,
	TOKEN_EMPTY,				/* zero-length input */
	TOKEN_TOO_LONG,				/* longer than any valid token */
	TOKEN_BAD_ENCODING,			/* not canonical base64url */
	TOKEN_BAD_VERSION,			/* first byte is not a known version */
	TOKEN_TRUNCATED,			/* shorter than its own header says */
	TOKEN_MALFORMED,			/* impossible length field or trailing bytes */
	TOKEN_UNKNOWN_KEY,			/* key id matches no configured key */
	TOKEN_BAD_SIGNATURE,		/* key id known, MAC does not match */
	TOKEN_EXPIRED,				/* valid, but expired */
	TOKEN_NO_KEY,				/* no signing key configured */
	TOKEN_KEY_TOO_SHORT,		/* a configured key is shorter than TOKEN_KEY_MIN_LEN */
	TOKEN_BAD_TENANT,			/* sign: empty, too long or NUL in tenant */
	TOKEN_BAD_DATABASE,			/* empty, too long or NUL in the database name */
	TOKEN_CRYPTO_ERROR			/* OpenSSL failed */
} token_status;

/*
 * A key and its id.  Fill with token_key_init(), release with
 * token_key_free(); len 0 means "no key".  ctx holds the SHA-256 states
 * after the HMAC key pads, computed once per key.
 */
typedef struct token_key
{
	const unsigned char *key;
	size_t		len;
	unsigned char id[TOKEN_KEYID_LEN];
	void	   *ctx;			/* keyed HMAC digest states, or NULL */
} token_key;

/* What a verified token says. */
typedef struct token_claims
{
	int			version;
	int			key_index;		/* 0: current key, 1: previous key */
	int64_t		expires_us;		/* microseconds since the Unix epoch */
	size_t		tenant_len;
	char		tenant[TOKEN_TENANT_MAX + 1];	/* NUL-terminated */
} token_claims;

/*
 * Prepare a key: computes its id.  A key shorter than TOKEN_KEY_MIN_LEN is
 * refused (TOKEN_KEY_TOO_SHORT); len 0 gives TOKEN_NO_KEY.
 */
extern token_status token_key_init(token_key *k, const void *key, size_t len);
extern void token_key_free(token_key *k);

/*
 * Sign a token for tenant, valid in the database named database: writes the
 * NUL-terminated token into out (at least TOKEN_MAX_ENCODED + 1 bytes).
 */
extern token_status token_sign(const token_key *key,
							   const char *database, size_t database_len,
							   const char *tenant, size_t tenant_len,
							   int64_t expires_us,
							   char *out, size_t outsize);

/*
 * Verify a token against the current key and, when previous is not NULL and
 * has len > 0, the previous key, for the database named database (a token
 * signed for another one fails with TOKEN_BAD_SIGNATURE, like a tampered
 * one: nothing else can tell them apart).  now_us is the verifier's clock.  On
 * TOKEN_OK and TOKEN_EXPIRED, claims is filled (for EXPIRED only after the
 * signature was verified, so the expiry is genuine).
 */
extern token_status token_verify(const char *token, size_t len,
								 const token_key *current,
								 const token_key *previous,
								 const char *database, size_t database_len,
								 int64_t now_us,
								 token_claims *claims);

/*
 * HMAC-SHA256 of data under a prepared key (what tokens carry); exposed for
 * the fuzzer's comparison with OpenSSL's own HMAC.  Returns 1 on success.
 */
extern int	token_mac(const token_key *key, const void *data, size_t len,
					  unsigned char out[TOKEN_MAC_LEN]);

/*
 * If s (avail bytes at hand) begins with a token by its form alone, without
 * any key -- version, length field and length agree, all base64url -- its
 * length, else 0.  Masking statement texts and log lines looks for these.
 */
extern size_t token_shape_len(const char *s, size_t avail);

/*
 * If s (avail bytes at hand) begins with what a token's header is (its
 * first 20 characters: version, key id, expiry, a tenant length in range),
 * the length the whole token has, else 0: the start of a token that a log
 * message cut short.
 */
extern size_t token_declared_len(const char *s, size_t avail);

/* how long the encoding of a token of n raw bytes is */
#define TOKEN_ENCODED_LEN(n)	(((n) * 4 + 2) / 3)
#define TOKEN_MIN_ENCODED	TOKEN_ENCODED_LEN(TOKEN_MIN_RAW)

/* Short stable name of a status, for tests and the fuzzer. */
extern const char *token_status_name(token_status status);

#endif							/* TENANT_RLS_TOKEN_CORE_H */
