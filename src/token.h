/*
 * token.h -- signed tenant tokens, SQL side (token.c).
 *
 * tenant_rls.sign_tenant() and tenant_rls.set_tenant_signed(); the settings
 * tenant_rls.signing_key and tenant_rls.signing_key_previous.  The format,
 * parser and verifier are in token_core.c (plain C, fuzzable).
 */
#ifndef TENANT_RLS_TOKEN_H
#define TENANT_RLS_TOKEN_H

/* Whether tenant_rls.signing_key is set (for strict_status()); never the key. */
extern bool tenant_token_key_configured(void);

/*
 * Why this session refuses the key from the server configuration (a
 * sentence for strict_status()), or NULL when it does not.
 */
extern const char *tenant_token_key_refused(void);

#endif							/* TENANT_RLS_TOKEN_H */
