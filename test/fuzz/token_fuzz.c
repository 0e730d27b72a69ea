/*
 * token_fuzz.c -- libFuzzer target for src/token_core.c (see test/fuzz/run.sh).
 *
 * Each input is used twice:
 *   1. as a token: token_verify() must never crash, and whatever it accepts
 *      must be exactly what token_sign() makes of the claims it returned
 *      and a token by its form (token_shape_len())
 *      (one canonical encoding per token; no token verifies with the wrong
 *      key or for another database);
 *   2. as claims: byte 0 picks the key (bit 0) and the database (bit 1),
 *      bytes 1-8 the expiry, the rest the tenant; sign, then verify must
 *      return the same claims, verifying for the other database must fail
 *      with a signature mismatch, and flipping any one character of the
 *      token must make verification fail;
 *   3. as key and message: byte 0 says how long the key is (32..159 bytes,
 *      so keys shorter than, equal to and longer than the SHA-256 block),
 *      the rest is split into key and message; token_core's HMAC (built
 *      from precomputed digest states) must equal OpenSSL's HMAC().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token_core.h"

static const char key_a[] = "fuzz-current-key-0123456789abcdef-0123456789";
static const char key_b[] = "fuzz-previous-key-0123456789abcdef-012345678";
/* two databases whose names differ in one byte and in length */
static const char db_a[] = "appdb";
static const char db_b[] = "appdb2";
static token_key cur;
static token_key prev;
static int	initialised = 0;

#define NOW_US ((int64_t) 1700000000 * 1000000)

static void
die(const char *what)
{
	fprintf(stderr, "token_fuzz invariant violated: %s\n", what);
	abort();
}

static void
init_keys(void)
{
	if (initialised)
		return;
	if (token_key_init(&cur, key_a, sizeof(key_a) - 1) != TOKEN_OK ||
		token_key_init(&prev, key_b, sizeof(key_b) - 1) != TOKEN_OK)
		die("key init");
	initialised = 1;
}

static void
as_token(const uint8_t *data, size_t size)
{
	token_claims c;
	token_status st;
	char		again[TOKEN_MAX_ENCODED + 1];

	/* (reads only what it is given: AddressSanitizer) */
	size_t		shape = token_shape_len((const char *) data, size);

	if (shape > size)
		die("token_shape_len beyond the input");
	st = token_verify((const char *) data, size, &cur, &prev,
					  db_a, sizeof(db_a) - 1, NOW_US, &c);
	if (st == TOKEN_OK || st == TOKEN_EXPIRED)
	{
		if (shape != size)
			die("a token that verifies is not one by its form");
		if (c.tenant_len == 0 || c.tenant_len > TOKEN_TENANT_MAX ||
			strlen(c.tenant) != c.tenant_len)
			die("claims tenant length");
		if (st == TOKEN_OK && c.expires_us <= NOW_US)
			die("accepted an expired token");
		if (token_sign(c.key_index == 0 ? &cur : &prev, db_a, sizeof(db_a) - 1,
					   c.tenant, c.tenant_len,
					   c.expires_us, again, sizeof(again)) != TOKEN_OK)
			die("re-sign failed");
		if (strlen(again) != size || memcmp(again, data, size) != 0)
			die("accepted token is not the canonical signature of its claims");
		/* without the key it was signed with, it must not verify */
		if (token_verify((const char *) data, size,
						 c.key_index == 0 ? &prev : &cur, NULL,
						 db_a, sizeof(db_a) - 1, NOW_US, &c) == TOKEN_OK)
			die("verified with the wrong key");
		/* nor in another database */
		if (token_verify((const char *) data, size, &cur, &prev,
						 db_b, sizeof(db_b) - 1, NOW_US, &c) != TOKEN_BAD_SIGNATURE)
			die("verified for another database");
	}
}

static void
as_claims(const uint8_t *data, size_t size)
{
	const token_key *k;
	const char *db;
	const char *other_db;
	int64_t		exp = 0;
	size_t		tlen;
	char		tok[TOKEN_MAX_ENCODED + 1];
	token_claims c;
	token_status st;
	size_t		toklen;
	size_t		pos;

	if (size < 10)
		return;
	k = (data[0] & 1) ? &prev : &cur;
	db = (data[0] & 2) ? db_b : db_a;
	other_db = (data[0] & 2) ? db_a : db_b;
	memcpy(&exp, data + 1, 8);
	tlen = size - 9;
	st = token_sign(k, db, strlen(db), (const char *) data + 9, tlen, exp, tok, sizeof(tok));
	if (tlen > TOKEN_TENANT_MAX || memchr(data + 9, '\0', tlen) != NULL)
	{
		if (st != TOKEN_BAD_TENANT)
			die("signed a bad tenant");
		return;
	}
	if (st != TOKEN_OK)
		die("sign failed");
	toklen = strlen(tok);
	if (token_shape_len(tok, toklen) != toklen)
		die("a signed token is not one by its form");
	st = token_verify(tok, toklen, &cur, &prev, db, strlen(db), NOW_US, &c);
	if (st != (exp > NOW_US ? TOKEN_OK : TOKEN_EXPIRED))
		die("own token did not verify");
	if (c.expires_us != exp || c.tenant_len != tlen || memcmp(c.tenant, data + 9, tlen) != 0 ||
		c.key_index != (k == &cur ? 0 : 1))
		die("claims changed in the round trip");
	{
		token_claims other;

		if (token_verify(tok, toklen, &cur, &prev, other_db, strlen(other_db),
						 NOW_US, &other) != TOKEN_BAD_SIGNATURE)
			die("a token verified in another database");
	}
	/* flip one character (position chosen by the data) */
	pos = (size_t) data[size - 1] % toklen;
	tok[pos] = (tok[pos] == 'A') ? 'B' : 'A';
	st = token_verify(tok, toklen, &cur, &prev, db, strlen(db), NOW_US, &c);
	if (st == TOKEN_OK || st == TOKEN_EXPIRED)
		die("a tampered token verified");
}

static void
as_hmac(const uint8_t *data, size_t size)
{
	size_t		klen;
	token_key	k;
	unsigned char mine[TOKEN_MAC_LEN];
	unsigned char theirs[EVP_MAX_MD_SIZE];
	unsigned int theirs_len = 0;

	if (size < 1)
		return;
	klen = TOKEN_KEY_MIN_LEN + data[0] % 128;
	if (size < 1 + klen)
		return;
	if (token_key_init(&k, data + 1, klen) != TOKEN_OK)
		die("key init for hmac");
	if (!token_mac(&k, data + 1 + klen, size - 1 - klen, mine))
		die("token_mac failed");
	if (HMAC(EVP_sha256(), data + 1, (int) klen, data + 1 + klen, size - 1 - klen,
			 theirs, &theirs_len) == NULL || theirs_len != TOKEN_MAC_LEN)
		die("OpenSSL HMAC failed");
	if (memcmp(mine, theirs, TOKEN_MAC_LEN) != 0)
		die("HMAC differs from OpenSSL's");
	token_key_free(&k);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_keys();
	as_token(data, size);
	as_claims(data, size);
	as_hmac(data, size);
	return 0;
}
