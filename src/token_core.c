/*
 * token_core.c -- parse, verify and sign tenant tokens (format in token_core.h).
 *
 * No PostgreSQL headers: the fuzzer (test/fuzz/token_fuzz.c) links this file
 * with OpenSSL alone.  Only token_key_init() allocates (the keyed digest
 * states); parsing works on stack buffers whose size the format fixes, and
 * every length is checked before use.
 *
 * Verification order, so each failure has one clear cause:
 *   encoding -> version -> lengths -> key id -> MAC (constant time) -> expiry.
 * The MAC covers the database name besides the token's bytes, so a token of
 * another database is a signature mismatch.
 * The expiry is looked at only after the MAC matched, so an expired-token
 * error is only ever given for a token we really signed.
 */
#include "token_core.h"

#include <string.h>

#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char keyid_label[] = "tenant_rls key id";

static const char b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---------------------------------------------------------------------
 * HMAC-SHA256 (RFC 2104) over OpenSSL EVP digests.
 *
 * The inner and outer digest states after absorbing key^ipad and key^opad
 * are computed once per key; each MAC copies them into a work context.
 * That is the textbook HMAC, about ten times cheaper per token than a fresh
 * EVP_MAC context (which re-derives the pads each time), and it allocates
 * nothing per token.
 * ---------------------------------------------------------------------
 */

#define SHA256_BLOCK 64

typedef struct hmac_keyed
{
	EVP_MD_CTX *inner;			/* SHA-256 state after key ^ ipad */
	EVP_MD_CTX *outer;			/* SHA-256 state after key ^ opad */
	EVP_MD_CTX *work;
} hmac_keyed;

static EVP_MD *sha256_md = NULL;

static void
hmac_free(hmac_keyed *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->inner);
	EVP_MD_CTX_free(h->outer);
	EVP_MD_CTX_free(h->work);
	free(h);
}

static hmac_keyed *
hmac_new(const unsigned char *key, size_t keylen)
{
	hmac_keyed *h;
	unsigned char block[SHA256_BLOCK];
	unsigned char pad[SHA256_BLOCK];
	unsigned int mdlen = 0;
	int			ok;
	int			i;

	if (sha256_md == NULL)
	{
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (sha256_md == NULL)
			return NULL;
	}
	h = calloc(1, sizeof(hmac_keyed));
	if (h == NULL)
		return NULL;
	h->inner = EVP_MD_CTX_new();
	h->outer = EVP_MD_CTX_new();
	h->work = EVP_MD_CTX_new();
	if (h->inner == NULL || h->outer == NULL || h->work == NULL)
	{
		hmac_free(h);
		return NULL;
	}

	/* a key longer than the block is replaced by its digest (RFC 2104) */
	memset(block, 0, sizeof(block));
	if (keylen > SHA256_BLOCK)
		ok = EVP_Digest(key, keylen, block, &mdlen, sha256_md, NULL) == 1;
	else
	{
		memcpy(block, key, keylen);
		ok = 1;
	}

	for (i = 0; i < SHA256_BLOCK; i++)
		pad[i] = block[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex(h->inner, sha256_md, NULL) == 1 &&
		EVP_DigestUpdate(h->inner, pad, SHA256_BLOCK) == 1;
	for (i = 0; i < SHA256_BLOCK; i++)
		pad[i] = block[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(h->outer, sha256_md, NULL) == 1 &&
		EVP_DigestUpdate(h->outer, pad, SHA256_BLOCK) == 1;

	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(pad, sizeof(pad));
	if (!ok)
	{
		hmac_free(h);
		return NULL;
	}
	return h;
}

/* HMAC of data1 || data2 (data2 may be empty) */
static int
hmac_key2(const token_key *k, const unsigned char *data1, size_t len1,
		  const unsigned char *data2, size_t len2,
		  unsigned char out[TOKEN_MAC_LEN])
{
	hmac_keyed *h = (hmac_keyed *) k->ctx;
	unsigned char ih[TOKEN_MAC_LEN];
	unsigned int mdlen1 = 0;
	unsigned int mdlen2 = 0;
	int			ok;

	if (h == NULL)
		return 0;
	ok = EVP_MD_CTX_copy_ex(h->work, h->inner) == 1 &&
		EVP_DigestUpdate(h->work, data1, len1) == 1 &&
		(len2 == 0 || EVP_DigestUpdate(h->work, data2, len2) == 1) &&
		EVP_DigestFinal_ex(h->work, ih, &mdlen1) == 1 &&
		mdlen1 == TOKEN_MAC_LEN &&
		EVP_MD_CTX_copy_ex(h->work, h->outer) == 1 &&
		EVP_DigestUpdate(h->work, ih, TOKEN_MAC_LEN) == 1 &&
		EVP_DigestFinal_ex(h->work, out, &mdlen2) == 1 &&
		mdlen2 == TOKEN_MAC_LEN;
	OPENSSL_cleanse(ih, sizeof(ih));
	return ok;
}

static int
hmac_key(const token_key *k, const unsigned char *data, size_t datalen,
		 unsigned char out[TOKEN_MAC_LEN])
{
	return hmac_key2(k, data, datalen, NULL, 0, out);
}

/* a database name the MAC can cover: 1 .. TOKEN_DATABASE_MAX bytes, no NUL */
static int
database_ok(const char *database, size_t len)
{
	return database != NULL && len > 0 && len <= TOKEN_DATABASE_MAX &&
		memchr(database, '\0', len) == NULL;
}

/* ---------------------------------------------------------------------
 * base64url without padding; decoding accepts only the canonical form
 * (unused low bits of the last character must be zero), so every byte
 * string has exactly one encoding and a re-signed token compares equal.
 * ---------------------------------------------------------------------
 */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

static size_t
b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t		i = 0;
	size_t		o = 0;

	while (i + 3 <= len)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];

		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
		i += 3;
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) in[i] << 16;

		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);

		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* Returns the decoded length, or -1 for anything but canonical base64url. */
static long
b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsize)
{
	size_t		i = 0;
	size_t		o = 0;
	size_t		rem = len % 4;

	if (rem == 1)
		return -1;
	if ((len / 4) * 3 + (rem ? rem - 1 : 0) > outsize)
		return -1;
	while (i < len)
	{
		uint32_t	v = 0;
		size_t		n = len - i < 4 ? len - i : 4;
		size_t		j;

		for (j = 0; j < n; j++)
		{
			int			d = b64url_value((unsigned char) in[i + j]);

			if (d < 0)
				return -1;
			v = (v << 6) | (uint32_t) d;
		}
		if (n == 4)
		{
			out[o++] = (unsigned char) (v >> 16);
			out[o++] = (unsigned char) (v >> 8);
			out[o++] = (unsigned char) v;
		}
		else if (n == 3)
		{
			if (v & 0x3)
				return -1;		/* non-canonical: unused bits set */
			v >>= 2;
			out[o++] = (unsigned char) (v >> 8);
			out[o++] = (unsigned char) v;
		}
		else					/* n == 2 */
		{
			if (v & 0xf)
				return -1;
			v >>= 4;
			out[o++] = (unsigned char) v;
		}
		i += n;
	}
	return (long) o;
}

/* ---------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------
 */

token_status
token_key_init(token_key *k, const void *key, size_t len)
{
	unsigned char mac[TOKEN_MAC_LEN];
	int			ok;

	k->key = (const unsigned char *) key;
	k->len = len;
	k->ctx = NULL;
	memset(k->id, 0, sizeof(k->id));
	if (key == NULL || len == 0)
	{
		k->len = 0;
		return TOKEN_NO_KEY;
	}
	if (len < TOKEN_KEY_MIN_LEN)
		return TOKEN_KEY_TOO_SHORT;
	k->ctx = hmac_new(k->key, k->len);
	if (k->ctx == NULL)
		return TOKEN_CRYPTO_ERROR;
	ok = hmac_key(k, (const unsigned char *) keyid_label, sizeof(keyid_label) - 1, mac);
	if (!ok)
	{
		token_key_free(k);
		return TOKEN_CRYPTO_ERROR;
	}
	memcpy(k->id, mac, TOKEN_KEYID_LEN);
	OPENSSL_cleanse(mac, sizeof(mac));
	return TOKEN_OK;
}

void
token_key_free(token_key *k)
{
	hmac_free((hmac_keyed *) k->ctx);
	k->ctx = NULL;
}

static int
key_usable(const token_key *k)
{
	return k != NULL && k->key != NULL && k->len >= TOKEN_KEY_MIN_LEN && k->ctx != NULL;
}

/* ---------------------------------------------------------------------
 * Sign
 * ---------------------------------------------------------------------
 */

static void
put_be64(unsigned char *p, uint64_t v)
{
	int			i;

	for (i = 7; i >= 0; i--)
	{
		p[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

token_status
token_sign(const token_key *key, const char *database, size_t database_len,
		   const char *tenant, size_t tenant_len,
		   int64_t expires_us, char *out, size_t outsize)
{
	unsigned char raw[TOKEN_MAX_RAW];
	size_t		n;

	if (key == NULL || key->key == NULL || key->len == 0)
		return TOKEN_NO_KEY;
	if (key->len < TOKEN_KEY_MIN_LEN)
		return TOKEN_KEY_TOO_SHORT;
	if (key->ctx == NULL)
		return TOKEN_CRYPTO_ERROR;
	if (tenant == NULL || tenant_len == 0 || tenant_len > TOKEN_TENANT_MAX ||
		memchr(tenant, '\0', tenant_len) != NULL)
		return TOKEN_BAD_TENANT;
	if (!database_ok(database, database_len))
		return TOKEN_BAD_DATABASE;
	if (outsize < TOKEN_MAX_ENCODED + 1)
		return TOKEN_TOO_LONG;

	raw[0] = TOKEN_VERSION;
	memcpy(raw + 1, key->id, TOKEN_KEYID_LEN);
	put_be64(raw + 1 + TOKEN_KEYID_LEN, (uint64_t) expires_us);
	raw[TOKEN_HEADER_LEN - 2] = (unsigned char) (tenant_len >> 8);
	raw[TOKEN_HEADER_LEN - 1] = (unsigned char) (tenant_len & 0xff);
	memcpy(raw + TOKEN_HEADER_LEN, tenant, tenant_len);
	n = TOKEN_HEADER_LEN + tenant_len;
	if (!hmac_key2(key, raw, n, (const unsigned char *) database, database_len, raw + n))
		return TOKEN_CRYPTO_ERROR;
	b64url_encode(raw, n + TOKEN_MAC_LEN, out);
	return TOKEN_OK;
}

/* ---------------------------------------------------------------------
 * Verify
 * ---------------------------------------------------------------------
 */

token_status
token_verify(const char *token, size_t len,
			 const token_key *current, const token_key *previous,
			 const char *database, size_t database_len,
			 int64_t now_us, token_claims *claims)
{
	unsigned char raw[TOKEN_MAX_RAW];
	unsigned char mac[TOKEN_MAC_LEN];
	long		rawlen;
	size_t		tenant_len;
	size_t		signed_len;
	const token_key *candidates[2];
	int			ncand = 0;
	int			i;
	int			matched = -1;

	memset(claims, 0, sizeof(*claims));

	/* keys first: a misconfigured server says so whatever the token */
	if (current == NULL || current->key == NULL || current->len == 0)
		return TOKEN_NO_KEY;
	if (current->len < TOKEN_KEY_MIN_LEN)
		return TOKEN_KEY_TOO_SHORT;
	if (previous != NULL && previous->key != NULL && previous->len > 0 &&
		previous->len < TOKEN_KEY_MIN_LEN)
		return TOKEN_KEY_TOO_SHORT;
	if (current->ctx == NULL ||
		(previous != NULL && previous->len > 0 && previous->ctx == NULL))
		return TOKEN_CRYPTO_ERROR;
	if (!database_ok(database, database_len))
		return TOKEN_BAD_DATABASE;

	if (token == NULL || len == 0)
		return TOKEN_EMPTY;
	if (len > TOKEN_MAX_ENCODED)
		return TOKEN_TOO_LONG;
	rawlen = b64url_decode(token, len, raw, sizeof(raw));
	if (rawlen < 0)
		return TOKEN_BAD_ENCODING;
	if (rawlen < 1)
		return TOKEN_TRUNCATED;
	if (raw[0] != TOKEN_VERSION)
	{
		claims->version = raw[0];
		return TOKEN_BAD_VERSION;
	}
	claims->version = raw[0];
	if ((size_t) rawlen < TOKEN_HEADER_LEN)
		return TOKEN_TRUNCATED;
	tenant_len = ((size_t) raw[TOKEN_HEADER_LEN - 2] << 8) | raw[TOKEN_HEADER_LEN - 1];
	if (tenant_len == 0 || tenant_len > TOKEN_TENANT_MAX)
		return TOKEN_MALFORMED;
	signed_len = TOKEN_HEADER_LEN + tenant_len;
	if ((size_t) rawlen < signed_len + TOKEN_MAC_LEN)
		return TOKEN_TRUNCATED;
	if ((size_t) rawlen > signed_len + TOKEN_MAC_LEN)
		return TOKEN_MALFORMED;

	/* which key? (the id is public; the MAC below is what proves anything) */
	candidates[ncand++] = current;
	if (previous != NULL && key_usable(previous))
		candidates[ncand++] = previous;
	for (i = 0; i < ncand; i++)
	{
		if (memcmp(raw + 1, candidates[i]->id, TOKEN_KEYID_LEN) != 0)
			continue;
		if (!hmac_key2(candidates[i], raw, signed_len,
					   (const unsigned char *) database, database_len, mac))
			return TOKEN_CRYPTO_ERROR;
		if (CRYPTO_memcmp(mac, raw + signed_len, TOKEN_MAC_LEN) == 0)
		{
			matched = i;
			break;
		}
		/* ids of current and previous may collide (2^-32): try the other */
		if (matched < 0)
			matched = -2;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	if (matched == -1)
		return TOKEN_UNKNOWN_KEY;
	if (matched == -2)
		return TOKEN_BAD_SIGNATURE;

	/* genuine from here on */
	if (memchr(raw + TOKEN_HEADER_LEN, '\0', tenant_len) != NULL)
		return TOKEN_MALFORMED;
	claims->key_index = (candidates[matched] == current) ? 0 : 1;
	claims->expires_us = (int64_t) get_be64(raw + 1 + TOKEN_KEYID_LEN);
	claims->tenant_len = tenant_len;
	memcpy(claims->tenant, raw + TOKEN_HEADER_LEN, tenant_len);
	claims->tenant[tenant_len] = '\0';
	if (claims->expires_us <= now_us)
		return TOKEN_EXPIRED;
	return TOKEN_OK;
}

int
token_mac(const token_key *key, const void *data, size_t len,
		  unsigned char out[TOKEN_MAC_LEN])
{
	return hmac_key(key, (const unsigned char *) data, len, out);
}

size_t
token_declared_len(const char *s, size_t avail)
{
	unsigned char head[TOKEN_HEADER_LEN];
	size_t		tenant_len;

	/* the header is the first 20 characters: 15 bytes, whole groups */
	if (avail < TOKEN_ENCODED_LEN(TOKEN_HEADER_LEN) ||
		b64url_decode(s, TOKEN_ENCODED_LEN(TOKEN_HEADER_LEN), head, sizeof(head)) != TOKEN_HEADER_LEN ||
		head[0] != TOKEN_VERSION)
		return 0;
	tenant_len = ((size_t) head[TOKEN_HEADER_LEN - 2] << 8) | head[TOKEN_HEADER_LEN - 1];
	if (tenant_len < 1 || tenant_len > TOKEN_TENANT_MAX)
		return 0;
	return TOKEN_ENCODED_LEN(TOKEN_HEADER_LEN + tenant_len + TOKEN_MAC_LEN);
}

size_t
token_shape_len(const char *s, size_t avail)
{
	size_t		len;

	if (avail < TOKEN_MIN_ENCODED)
		return 0;
	len = token_declared_len(s, avail);
	if (len == 0 || len > avail)
		return 0;
	for (size_t i = TOKEN_ENCODED_LEN(TOKEN_HEADER_LEN); i < len; i++)
		if (b64url_value((unsigned char) s[i]) < 0)
			return 0;
	return len;
}

const char *
token_status_name(token_status status)
{
	switch (status)
	{
		case TOKEN_OK:
			return "ok";
		case TOKEN_EMPTY:
			return "empty";
		case TOKEN_TOO_LONG:
			return "too_long";
		case TOKEN_BAD_ENCODING:
			return "bad_encoding";
		case TOKEN_BAD_VERSION:
			return "bad_version";
		case TOKEN_TRUNCATED:
			return "truncated";
		case TOKEN_MALFORMED:
			return "malformed";
		case TOKEN_UNKNOWN_KEY:
			return "unknown_key";
		case TOKEN_BAD_SIGNATURE:
			return "bad_signature";
		case TOKEN_EXPIRED:
			return "expired";
		case TOKEN_NO_KEY:
			return "no_key";
		case TOKEN_KEY_TOO_SHORT:
			return "key_too_short";
		case TOKEN_BAD_TENANT:
			return "bad_tenant";
		case TOKEN_BAD_DATABASE:
			return "bad_database";
		case TOKEN_CRYPTO_ERROR:
			return "crypto_error";
	}
	return "unknown";
}
