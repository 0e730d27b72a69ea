--
-- Signed tenant context (DESIGN C3): sign_tenant(), set_tenant_signed(), the
-- signing key settings, and every error a token can cause.
-- This cluster does not preload tenant_rls: strict mode is not in force here
-- (test/t/050_strict.pl tests it on a preloaded node).
-- Attacks run as tr_tok_app: not superuser, not BYPASSRLS, not the table owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_tok_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_tok_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_tok_issuer LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_tok_monitor LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT pg_read_all_settings TO tr_tok_monitor;
RESET client_min_messages;

-- base64url <-> bytea, to build damaged tokens
CREATE FUNCTION pg_temp.raw(t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT decode(translate(t, '-_', '+/') || repeat('=', (4 - length(t) % 4) % 4), 'base64') $$;
CREATE FUNCTION pg_temp.b64u(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=') $$;

-- the functions: sign_tenant() is not for PUBLIC
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.prosecdef,
       has_function_privilege('tr_tok_app', p.oid, 'EXECUTE') AS app_can_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'tenant_rls'::regnamespace
   AND p.proname IN ('sign_tenant', 'set_tenant_signed', 'strict_status')
 ORDER BY p.oid::regprocedure::text;

-- not preloaded here: strict mode says why it is not in force
SELECT * FROM tenant_rls.strict_status();
SET tenant_rls.strict = on;
SELECT in_force, strict_setting, preloaded, reason FROM tenant_rls.strict_status();
RESET tenant_rls.strict;

-- ---------------------------------------------------------------------
-- the key settings: superuser only, never shown
-- ---------------------------------------------------------------------
SELECT count(*) AS in_pg_settings FROM pg_settings WHERE name LIKE 'tenant_rls.signing_key%';
SHOW tenant_rls.signing_key;
SELECT tenant_rls.sign_tenant('acme');          -- no key yet
SET tenant_rls.signing_key = 'short-key';
SHOW tenant_rls.signing_key;
SELECT tenant_rls.sign_tenant('acme');          -- too short
SET tenant_rls.signing_key = 'regress-key-A-0123456789abcdef0123456789';
SHOW tenant_rls.signing_key;                    -- only its id
-- a key must never land in a catalog every user can read
ALTER ROLE tr_tok_app SET tenant_rls.signing_key = 'regress-key-X-0123456789abcdef0123456789';
ALTER DATABASE contrib_regression SET tenant_rls.signing_key = 'regress-key-X-0123456789abcdef0123456789';
CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql
    SET tenant_rls.signing_key = 'regress-key-X-0123456789abcdef0123456789' AS 'SELECT 1';
SELECT count(*) AS stored_anywhere FROM pg_db_role_setting
 WHERE array_to_string(setconfig, ',') LIKE '%signing_key%';

SET ROLE tr_tok_app;
SHOW tenant_rls.signing_key;
SELECT current_setting('tenant_rls.signing_key');
SELECT current_setting('tenant_rls.signing_key', true);
SET tenant_rls.signing_key = 'regress-key-X-0123456789abcdef0123456789';
SELECT set_config('tenant_rls.signing_key', 'regress-key-X-0123456789abcdef0123456789', false);
SELECT tenant_rls.sign_tenant('acme');          -- not granted
RESET ROLE;
-- pg_read_all_settings may look, and sees only the key id
SET ROLE tr_tok_monitor;
SHOW tenant_rls.signing_key;
SHOW tenant_rls.signing_key_previous;
RESET ROLE;

-- ---------------------------------------------------------------------
-- a table with a hand-written policy over the accessor
-- ---------------------------------------------------------------------
SET tenant_rls.auto_protect = off;    -- a hand-written policy: this test is about the context
CREATE TABLE public.tok_docs (id int PRIMARY KEY, tenant_id text NOT NULL, body text);
RESET tenant_rls.auto_protect;
ALTER TABLE public.tok_docs OWNER TO tr_tok_owner;
ALTER TABLE public.tok_docs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tok_docs FORCE ROW LEVEL SECURITY;
CREATE POLICY tok_docs_isolation ON public.tok_docs
    USING (tenant_id = tenant_rls.current_tenant())
    WITH CHECK (tenant_id = tenant_rls.current_tenant());
GRANT SELECT, INSERT ON public.tok_docs TO tr_tok_app;
INSERT INTO public.tok_docs VALUES (1, 'acme', 'a1'), (2, 'acme', 'a2'), (3, 'globex', 'g1');

-- tokens for later, made by the superuser (the application server's role)
SELECT tenant_rls.sign_tenant('acme') AS tok_acme,
       tenant_rls.sign_tenant('globex', '1 hour') AS tok_globex,
       tenant_rls.sign_tenant('acme', '1 microsecond') AS tok_short \gset
-- the format: base64url, version byte 2, key id, expiry, tenant, 32-byte MAC
SELECT length(:'tok_acme') AS chars, :'tok_acme' ~ '^[A-Za-z0-9_-]+$' AS base64url,
       get_byte(pg_temp.raw(:'tok_acme'), 0) AS version,
       length(pg_temp.raw(:'tok_acme')) AS bytes,
       convert_from(substring(pg_temp.raw(:'tok_acme') FROM 16 FOR 4), 'UTF8') AS tenant;
-- the key id in the token is the one SHOW gives
SELECT 'set, key id ' || encode(substring(pg_temp.raw(:'tok_acme') FROM 2 FOR 4), 'hex')
       = current_setting('tenant_rls.signing_key') AS key_id_matches;
-- the MAC is standard HMAC-SHA256 (so any language can make tokens) of the
-- token's bytes followed by the name of the database: pgcrypto agrees
CREATE SCHEMA tok_pgcrypto;
CREATE EXTENSION pgcrypto SCHEMA tok_pgcrypto;
SELECT tok_pgcrypto.hmac(substring(pg_temp.raw(:'tok_acme') FROM 1 FOR 19) || convert_to(current_database(), 'UTF8'),
                         'regress-key-A-0123456789abcdef0123456789', 'sha256')
       = substring(pg_temp.raw(:'tok_acme') FROM 20 FOR 32) AS mac_is_hmac_sha256_with_database,
       tok_pgcrypto.hmac(substring(pg_temp.raw(:'tok_acme') FROM 1 FOR 19),
                         'regress-key-A-0123456789abcdef0123456789', 'sha256')
       = substring(pg_temp.raw(:'tok_acme') FROM 20 FOR 32) AS mac_without_database_matches,
       substring(tok_pgcrypto.hmac('tenant_rls key id', 'regress-key-A-0123456789abcdef0123456789', 'sha256') FROM 1 FOR 4)
       = substring(pg_temp.raw(:'tok_acme') FROM 2 FOR 4) AS key_id_is_hmac_of_label;
-- a key longer than the SHA-256 block (64 bytes) is hashed first (RFC 2104)
SET tenant_rls.signing_key = 'regress-long-key-0123456789abcdef0123456789abcdef0123456789abcdef0123456789';
SELECT tenant_rls.sign_tenant('acme') AS tok_long \gset
SELECT tok_pgcrypto.hmac(substring(pg_temp.raw(:'tok_long') FROM 1 FOR 19) || convert_to(current_database(), 'UTF8'),
                         'regress-long-key-0123456789abcdef0123456789abcdef0123456789abcdef0123456789', 'sha256')
       = substring(pg_temp.raw(:'tok_long') FROM 20 FOR 32) AS long_key_mac_is_hmac_sha256;
SET tenant_rls.signing_key = 'regress-key-A-0123456789abcdef0123456789';
-- tokens made by hand as an external signer would (body, then the MAC of the
-- body and a database name): valid only in the database named in the MAC
CREATE FUNCTION pg_temp.hand_token_raw(tenant bytea, db text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.b64u(body || tok_pgcrypto.hmac(body || convert_to(db, 'UTF8'),
                                                  'regress-key-A-0123456789abcdef0123456789', 'sha256'))
      FROM (SELECT '\x02'::bytea
                   || substring(tok_pgcrypto.hmac('tenant_rls key id', 'regress-key-A-0123456789abcdef0123456789', 'sha256') FROM 1 FOR 4)
                   || int8send((extract(epoch FROM clock_timestamp() + interval '5 minutes') * 1e6)::bigint)
                   || int2send(octet_length(tenant)::smallint)
                   || tenant AS body) b $$;
CREATE FUNCTION pg_temp.hand_token(tenant text, db text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.hand_token_raw(convert_to(tenant, 'UTF8'), db) $$;
SELECT pg_temp.hand_token('acme', current_database()) AS tok_hand_here,
       pg_temp.hand_token('acme', 'contrib_regression2') AS tok_hand_other,
       pg_temp.hand_token('acme', 'Contrib_regression') AS tok_hand_case \gset
SET ROLE tr_tok_app;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_hand_here');              -- its own database: accepted
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_hand_other');             -- another database: refused
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_hand_case');              -- names are compared byte for byte
ROLLBACK;
RESET ROLE;
-- a signer that put bytes that are not UTF-8 into the tenant: refused (review
-- rev35a: accepted, and the invalid text went into rows a dump could not load)
SELECT pg_temp.hand_token_raw('\x41ff', current_database()) AS tok_hand_bytes \gset
SET ROLE tr_tok_app;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_hand_bytes');
ROLLBACK;
RESET ROLE;
DROP EXTENSION pgcrypto;
DROP SCHEMA tok_pgcrypto;
-- the expiry is the wall clock at signing + valid_for (not the start of the
-- transaction: now())
BEGIN;
SELECT pg_sleep(0.1);
SELECT clock_timestamp() AS before_signing \gset
SELECT tenant_rls.sign_tenant('acme', '90 seconds') AS tok_90 \gset
SELECT clock_timestamp() AS after_signing \gset
SELECT expiry >= :'before_signing'::timestamptz + interval '90 seconds' - interval '1 microsecond'
       AND expiry <= :'after_signing'::timestamptz + interval '90 seconds' + interval '1 microsecond'
           AS expiry_is_clock_plus_90s,
       expiry > now() + interval '90 seconds' AS later_than_transaction_start_plus_90s
  FROM (SELECT to_timestamp(('x' || encode(substring(pg_temp.raw(:'tok_90') FROM 6 FOR 8), 'hex'))::bit(64)::bigint / 1e6)
               AS expiry) e;
COMMIT;

-- sign_tenant() refuses what it cannot sign
SELECT tenant_rls.sign_tenant(NULL);
SELECT tenant_rls.sign_tenant('acme', NULL);
SELECT tenant_rls.sign_tenant('acme', '-5 minutes');
SELECT tenant_rls.sign_tenant('acme', '0 seconds');
SELECT tenant_rls.sign_tenant('acme', '300000 years');
-- an expiry the token's int64 microseconds since 1970 cannot hold (it wrapped
-- around: a token that had always expired)
SELECT tenant_rls.sign_tenant('acme', '292230 years');
SELECT tenant_rls.sign_tenant('');
SELECT tenant_rls.sign_tenant(' acme');
SELECT tenant_rls.sign_tenant(E'ac\nme');
SELECT tenant_rls.sign_tenant(repeat('x', 257));
SELECT length(tenant_rls.sign_tenant(repeat('x', 256))) AS longest_token;

-- ---------------------------------------------------------------------
-- the tenant role uses its token
-- ---------------------------------------------------------------------
SET ROLE tr_tok_app;
SELECT count(*) AS no_tenant_no_rows FROM public.tok_docs;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme');
SELECT tenant_rls.current_tenant(), current_setting('app.current_tenant_id');
SELECT id, body FROM public.tok_docs ORDER BY id;
INSERT INTO public.tok_docs VALUES (10, 'globex', 'forged');
ROLLBACK;
SELECT tenant_rls.current_tenant() IS NULL AS cleared_at_rollback;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_globex');
SELECT id, body FROM public.tok_docs ORDER BY id;
COMMIT;
SELECT tenant_rls.current_tenant() IS NULL AS cleared_at_commit;
-- outside a transaction block: a warning, one statement
SELECT tenant_rls.set_tenant_signed(:'tok_acme');
SELECT count(*) FROM public.tok_docs;

-- every damaged token is refused, each with its own error, nothing is set
BEGIN;
SAVEPOINT s;
SELECT tenant_rls.set_tenant_signed(NULL);
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed('');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed('not a token!');               -- garbage
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(:'tok_acme' || '=');           -- padding is not base64url
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(repeat('A', 405));             -- oversized
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(left(:'tok_acme', -4));        -- truncated
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(left(:'tok_acme', 12));        -- truncated header
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(:'tok_acme' || 'AAAA');        -- trailing bytes
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 0, 3)));  -- version 3
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 0, 1)));  -- version 1 (unreleased)
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 14, 0))); -- tenant length 0
ROLLBACK TO s;
-- tampered: another tenant, same length ("acme" -> "acmf")
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 18, ascii('f'))));
ROLLBACK TO s;
-- tampered: the expiry pushed into the future
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 5, 127)));
ROLLBACK TO s;
-- tampered: the MAC
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 40, get_byte(pg_temp.raw(:'tok_acme'), 40) # 1)));
ROLLBACK TO s;
-- a different key id (a key this server does not have)
SELECT tenant_rls.set_tenant_signed(pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 1, get_byte(pg_temp.raw(:'tok_acme'), 1) # 255)));
ROLLBACK TO s;
SELECT tenant_rls.set_tenant_signed(:'tok_short');                 -- expired
ROLLBACK TO s;
SELECT tenant_rls.current_tenant() IS NULL AS nothing_was_set;
ROLLBACK;
RESET ROLE;

-- a token that expires while a transaction is open is refused from then on:
-- expiry is checked against the wall clock, not the start of the transaction
BEGIN;
SELECT tenant_rls.sign_tenant('acme', '1.5 seconds') AS tok_brief \gset
SET LOCAL ROLE tr_tok_app;
SELECT tenant_rls.set_tenant_signed(:'tok_brief');                -- still valid
SELECT pg_sleep(1.6);
SAVEPOINT s;
SELECT tenant_rls.set_tenant_signed(:'tok_brief');                -- expired meanwhile
ROLLBACK TO s;
ROLLBACK;

-- the same, as SQLSTATE + message: each failure is told apart
CREATE FUNCTION pg_temp.try(tok text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_rls.set_tenant_signed(tok);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SET ROLE tr_tok_app;
SELECT label, pg_temp.try(tok) AS result FROM (VALUES
    ('null', NULL),
    ('empty', ''),
    ('garbage', 'not a token!'),
    ('oversized', repeat('A', 405)),
    ('truncated', left(:'tok_acme', -4)),
    ('trailing bytes', :'tok_acme' || 'AAAA'),
    ('version 1', pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 0, 1))),
    ('version 3', pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 0, 3))),
    ('unknown key', pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 1, get_byte(pg_temp.raw(:'tok_acme'), 1) # 255))),
    ('tampered', pg_temp.b64u(set_byte(pg_temp.raw(:'tok_acme'), 18, ascii('f')))),
    ('expired', :'tok_short'),
    ('valid', :'tok_acme')) v(label, tok);
RESET ROLE;

-- ---------------------------------------------------------------------
-- key rotation: the previous key is accepted while it is configured
-- ---------------------------------------------------------------------
SET tenant_rls.signing_key = 'regress-key-B-0123456789abcdef0123456789';
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme');                  -- old key, no grace
ROLLBACK;
SET tenant_rls.signing_key_previous = 'regress-key-A-0123456789abcdef0123456789';
SHOW tenant_rls.signing_key_previous;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme');                  -- grace: accepted
ROLLBACK;
SELECT tenant_rls.sign_tenant('acme') AS tok_acme_b \gset
SELECT substring(pg_temp.raw(:'tok_acme_b') FROM 2 FOR 4) <> substring(pg_temp.raw(:'tok_acme') FROM 2 FOR 4)
       AS new_tokens_use_the_new_key;
SET tenant_rls.signing_key_previous = 'too-short';
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme_b');
ROLLBACK;
RESET tenant_rls.signing_key_previous;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme');                  -- grace over
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme_b');
ROLLBACK;
RESET tenant_rls.signing_key;
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_acme_b');                -- no key at all
ROLLBACK;
SET tenant_rls.signing_key = 'regress-key-A-0123456789abcdef0123456789';

-- ---------------------------------------------------------------------
-- typed tenants: signed canonical, checked again against the current type
-- ---------------------------------------------------------------------
SET tenant_rls.tenant_type = 'uuid';
SELECT tenant_rls.sign_tenant('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11') AS tok_uuid \gset
SELECT tenant_rls.sign_tenant('acme');
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_uuid');
SAVEPOINT s;
SELECT tenant_rls.set_tenant_signed(:'tok_acme');                  -- signed as text, now invalid
ROLLBACK TO s;
SELECT tenant_rls.current_tenant_uuid();
COMMIT;
SET tenant_rls.tenant_type = 'bigint';
SELECT tenant_rls.sign_tenant('0042') AS tok_num \gset
SELECT convert_from(substring(pg_temp.raw(:'tok_num') FROM 16 FOR 2), 'UTF8') AS signed_tenant;
RESET tenant_rls.tenant_type;

-- ---------------------------------------------------------------------
-- a role granted sign_tenant() explicitly can sign (and so be any tenant)
-- ---------------------------------------------------------------------
GRANT EXECUTE ON FUNCTION tenant_rls.sign_tenant(text, interval) TO tr_tok_issuer;
SET ROLE tr_tok_issuer;
SELECT length(tenant_rls.sign_tenant('acme')) > 0 AS issuer_can_sign;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION tenant_rls.sign_tenant(text, interval) FROM tr_tok_issuer;

-- a role allowed to SET the key (GRANT SET ON PARAMETER) could forge any
-- tenant's token: a key it set is never used
SELECT tenant_rls.sign_tenant('globex') AS tok_forged \gset
GRANT SET ON PARAMETER tenant_rls.signing_key TO tr_tok_app;
SET ROLE tr_tok_app;
SET tenant_rls.signing_key = 'regress-key-A-0123456789abcdef0123456789';
BEGIN;
SELECT tenant_rls.set_tenant_signed(:'tok_forged');
ROLLBACK;
RESET tenant_rls.signing_key;
RESET ROLE;
REVOKE SET ON PARAMETER tenant_rls.signing_key FROM tr_tok_app;

-- a role granted ALTER SYSTEM on a key setting writes a key of its choice,
-- trusted after the next reload (review revctx #3): lint() reports every SET
-- or ALTER SYSTEM grant on the key settings to a role that is not a
-- superuser, or to PUBLIC, and its fix revokes them
GRANT ALTER SYSTEM ON PARAMETER tenant_rls.signing_key_previous TO tr_tok_app;
GRANT SET ON PARAMETER tenant_rls.signing_key TO tr_tok_app;
GRANT ALTER SYSTEM ON PARAMETER tenant_rls.signing_key TO PUBLIC;
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'key_setting_privilege' ORDER BY object;
DO $$
DECLARE
    f text;
BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'key_setting_privilege' LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT count(*) AS key_grants_left FROM tenant_rls.lint() WHERE code = 'key_setting_privilege';
SELECT has_parameter_privilege('tr_tok_app', 'tenant_rls.signing_key', 'SET, ALTER SYSTEM') AS app_current,
       has_parameter_privilege('tr_tok_app', 'tenant_rls.signing_key_previous', 'SET, ALTER SYSTEM') AS app_previous;

-- clean up
RESET tenant_rls.signing_key;
DROP TABLE public.tok_docs;
REVOKE pg_read_all_settings FROM tr_tok_monitor;
DROP ROLE tr_tok_app, tr_tok_owner, tr_tok_issuer, tr_tok_monitor;
