/*
 * token_seed.c -- writes a seed corpus for token_fuzz: valid tokens signed
 * with the fuzzer's keys (current and previous), expired and live, short and
 * long tenants, plus the claims form that as_claims() reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "token_core.h"

static const char key_a[] = "fuzz-current-key-0123456789abcdef-0123456789";
static const char key_b[] = "fuzz-previous-key-0123456789abcdef-012345678";

static void
write_file(const char *dir, int n, const void *data, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/seed%02d", dir, n);
	f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

int
main(int argc, char **argv)
{
	token_key	a,
				b;
	char		tok[TOKEN_MAX_ENCODED + 1];
	char		tenant[TOKEN_TENANT_MAX];
	const char *tenants[] = {"acme", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "42", "x"};
	int64_t		now = (int64_t) 1700000000 * 1000000;
	int			n = 0;

	if (argc < 2)
		return 1;
	token_key_init(&a, key_a, sizeof(key_a) - 1);
	token_key_init(&b, key_b, sizeof(key_b) - 1);
	for (int i = 0; i < 4; i++)
	{
		token_sign(i % 2 ? &b : &a, "appdb", 5, tenants[i], strlen(tenants[i]),
				   now + (i < 2 ? 1 : -1) * 300000000LL, tok, sizeof(tok));
		write_file(argv[1], n++, tok, strlen(tok));
	}
	memset(tenant, 't', sizeof(tenant));
	token_sign(&a, "appdb", 5, tenant, sizeof(tenant), now + 1000, tok, sizeof(tok));
	write_file(argv[1], n++, tok, strlen(tok));
	{
		unsigned char claims[9 + 4];

		claims[0] = 0;
		memcpy(claims + 1, &now, 8);
		memcpy(claims + 9, "acme", 4);
		write_file(argv[1], n++, claims, sizeof(claims));
	}
	printf("wrote %d seeds to %s\n", n, argv[1]);
	return 0;
}
