--
-- Tenant context (DESIGN C1, C2): set_tenant(), clear_tenant(), accessors.
-- Run as tr_app: not superuser, not BYPASSRLS, not the owner of the table.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;

-- the accessors carry the strongest true markings
SELECT p.proname, p.provolatile, p.proparallel, p.proleakproof, p.prorettype::regtype
  FROM pg_proc p
 WHERE p.pronamespace = 'tenant_rls'::regnamespace AND p.proname LIKE 'current_tenant%'
 ORDER BY 1;
SELECT tenant_rls.version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'tenant_rls';

-- a hand-written policy over the typed accessor (protect() writes these later)
CREATE TABLE public.notes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    body      text NOT NULL
);
CREATE INDEX notes_tenant_idx ON public.notes (tenant_id);
ALTER TABLE public.notes OWNER TO tr_owner;
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_isolation ON public.notes
    USING (tenant_id = tenant_rls.current_tenant_uuid())
    WITH CHECK (tenant_id = tenant_rls.current_tenant_uuid());
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO tr_app;
-- 200 tenants x 100 rows, each tenant's rows scattered over the heap
INSERT INTO public.notes (tenant_id, body)
SELECT md5((i % 200)::text)::uuid, 'note ' || i FROM generate_series(1, 20000) i;
ANALYZE public.notes;

SET ROLE tr_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user;

-- no context: NULL everywhere, and zero rows (fail closed)
SELECT tenant_rls.current_tenant() IS NULL AS t, tenant_rls.current_tenant_uuid() IS NULL AS u,
       tenant_rls.current_tenant_bigint() IS NULL AS b, tenant_rls.current_tenant_int() IS NULL AS i;
SELECT count(*) FROM public.notes;

-- transaction scope is the default: gone when the transaction ends
BEGIN;
SELECT tenant_rls.set_tenant('B6D767D2-F8B3-D6A4-A3F3-9C3A2F3A1A2B'::text);
SELECT tenant_rls.current_tenant(), current_setting('app.current_tenant_id');
COMMIT;
SELECT tenant_rls.current_tenant() IS NULL AS cleared_at_commit;

BEGIN;
SELECT tenant_rls.set_tenant(md5('1')::uuid);
SELECT count(*), count(DISTINCT tenant_id) FROM public.notes;
SELECT tenant_rls.current_tenant_uuid() = md5('1')::uuid AS same;
ROLLBACK;
SELECT tenant_rls.current_tenant() IS NULL AS cleared_at_rollback;

-- outside a transaction block: a warning, and the tenant lasts one statement
SELECT tenant_rls.set_tenant(md5('1')::uuid);
SELECT count(*) FROM public.notes;
-- ... but not in a procedure that may COMMIT (no BEGIN can surround its
-- CALL): there the tenant lasts until its next COMMIT or ROLLBACK
CREATE PROCEDURE pg_temp.ctx_proc() LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_rls.set_tenant(md5('1')::uuid);
    RAISE NOTICE 'before COMMIT: % notes', (SELECT count(*) FROM public.notes);
    COMMIT;
    RAISE NOTICE 'after COMMIT: % notes, tenant %', (SELECT count(*) FROM public.notes),
        coalesce(tenant_rls.current_tenant()::text, '(none)');
END $$;
CALL pg_temp.ctx_proc();
DROP PROCEDURE pg_temp.ctx_proc();

-- a tenant sees only its rows and cannot write another tenant's
BEGIN;
SELECT tenant_rls.set_tenant(md5('2')::uuid);
SELECT count(*) FROM public.notes;
UPDATE public.notes SET body = 'x' WHERE tenant_id = md5('3')::uuid;
DELETE FROM public.notes WHERE tenant_id = md5('3')::uuid;
INSERT INTO public.notes (tenant_id, body) VALUES (md5('3')::uuid, 'forged');
ROLLBACK;

-- canonical forms: equal tenants compare equal
BEGIN;
SELECT tenant_rls.set_tenant('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11');
SELECT tenant_rls.set_tenant('a0eebc999c0b4ef8bb6d6bb9bd380a11'::uuid);
SELECT tenant_rls.set_tenant(42);
SELECT tenant_rls.current_tenant_bigint(), tenant_rls.current_tenant_int();
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_rls.current_tenant();
COMMIT;

-- malformed values are refused when set, and nothing changes
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SAVEPOINT s;
SELECT tenant_rls.set_tenant('');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(' acme');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('acme ');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(E'ac\nme');
ROLLBACK TO s;
-- beyond ASCII (review rev48a): a no-break space or an ideographic space at
-- an end, a C1 control (CSI) or a bidirectional override anywhere; a letter
-- beyond ASCII, and a no-break space inside, are fine
SELECT tenant_rls.set_tenant(U&'acme\00A0');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(U&'\3000acme');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(U&'ac\009B31mme');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(U&'acme\202Eemca');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(U&'acm\00E9 \00A0co') AS letters_and_inner_space;
ROLLBACK TO s;
-- (review rev48d) bidirectional marks and invisible characters anywhere
SELECT tenant_rls.set_tenant(U&'acme\200E');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(U&'ac\200Bme');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(U&'acme\00AD');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(NULL::text);
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(repeat('x', 257));
ROLLBACK TO s;
SELECT tenant_rls.current_tenant() AS unchanged;
COMMIT;

-- with a typed deployment, set_tenant(text) validates against the type
RESET ROLE;
ALTER ROLE tr_app SET tenant_rls.tenant_type = 'uuid';
SET ROLE tr_app;
SET tenant_rls.tenant_type = 'bigint';   -- superuser-only setting
RESET ROLE;
SET tenant_rls.tenant_type = 'uuid';
SET ROLE tr_app;
BEGIN;
SAVEPOINT s;
SELECT tenant_rls.set_tenant('abc');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('1 OR true');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(7);
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11');
COMMIT;
RESET ROLE;
SET tenant_rls.tenant_type = 'bigint';
SET ROLE tr_app;
BEGIN;
SAVEPOINT s;
SELECT tenant_rls.set_tenant('1 OR true');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('1234567890123456789012345678901234567890');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('9223372036854775808');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- digits only but out of range: 22003 (as for integer), not "pass the digits only"
SELECT tenant_rls.set_tenant('99999999999999999999');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('-9223372036854775809');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('-');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(' 12');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('+12');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid);
ROLLBACK TO s;
SELECT tenant_rls.set_tenant('-9223372036854775808');
SELECT tenant_rls.set_tenant('0042');
COMMIT;
RESET ROLE;
SET tenant_rls.tenant_type = 'integer';
SET ROLE tr_app;
BEGIN;
SAVEPOINT s;
SELECT tenant_rls.set_tenant('2147483648');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(2147483648);
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(5);
SELECT tenant_rls.set_tenant('2147483647');
COMMIT;
RESET ROLE;
RESET tenant_rls.tenant_type;
ALTER ROLE tr_app RESET tenant_rls.tenant_type;
SET ROLE tr_app;

-- a raw SET that bypassed set_tenant(): the typed accessor refuses to guess
BEGIN;
SET LOCAL app.current_tenant_id = '1 OR true';
SELECT tenant_rls.current_tenant();
SAVEPOINT s;
SELECT tenant_rls.current_tenant_uuid();
ROLLBACK TO s;
SELECT tenant_rls.current_tenant_bigint();
ROLLBACK TO s;
SELECT count(*) FROM public.notes;
ROLLBACK TO s;
SET LOCAL app.current_tenant_id = '99999999999';
SELECT tenant_rls.current_tenant_bigint();
SELECT tenant_rls.current_tenant_int();
ROLLBACK;

-- empty, RESET and DISCARD ALL read as NULL, never an error
SET app.current_tenant_id = '';
SELECT tenant_rls.current_tenant_uuid() IS NULL AS empty_is_null, count(*) FROM public.notes;
SET app.current_tenant_id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
RESET app.current_tenant_id;
SELECT tenant_rls.current_tenant_uuid() IS NULL AS reset_is_null;

-- session scope only when asked for; clear_tenant() and DISCARD ALL clear it
SELECT tenant_rls.set_tenant(md5('4')::uuid, false);
SELECT count(*) FROM public.notes;
SELECT tenant_rls.clear_tenant();
SELECT tenant_rls.current_tenant() IS NULL AS cleared, count(*) FROM public.notes;
SELECT tenant_rls.set_tenant(md5('4')::uuid, is_local => false);
RESET ROLE;
DISCARD ALL;
SET ROLE tr_app;
SELECT tenant_rls.current_tenant() IS NULL AS discarded, count(*) FROM public.notes;

-- prepared statements with generic plans, across a tenant switch
SET plan_cache_mode = force_generic_plan;
PREPARE by_tenant AS SELECT count(*), min(tenant_id::text) FROM public.notes;
PREPARE by_id(bigint) AS SELECT tenant_id::text FROM public.notes WHERE id = $1;
BEGIN;
SELECT tenant_rls.set_tenant(md5('5')::uuid);
EXECUTE by_tenant;
EXECUTE by_id(5);
EXECUTE by_id(6);
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant(md5('6')::uuid);
EXECUTE by_tenant;
EXECUTE by_id(5);
EXECUTE by_id(6);
COMMIT;
EXECUTE by_tenant;

-- the policy compares the column itself: an index condition under a generic plan
EXPLAIN (COSTS OFF) EXECUTE by_tenant;
EXPLAIN (COSTS OFF) EXECUTE by_id(5);
DEALLOCATE ALL;
RESET plan_cache_mode;

RESET ROLE;
DROP TABLE public.notes;

-- tenant values beyond ASCII in a database that is not UTF-8 (review
-- rev48d): WIN1252's no-break space is refused as Unicode's; a byte that
-- maps to no Unicode character is no error (before, 22P05)
CREATE DATABASE context_win1252 ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c context_win1252
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
RESET client_min_messages;
BEGIN;
SELECT tenant_rls.set_tenant(E'ab\x81c') IS NOT NULL AS unmapped_byte_ok;
SELECT tenant_rls.set_tenant(E'caf\xe9') IS NOT NULL AS letter_ok;
SAVEPOINT s;
SELECT tenant_rls.set_tenant(E'acme\xa0');
ROLLBACK TO s;
SELECT tenant_rls.set_tenant(E'ac\x9dme') IS NOT NULL AS unmapped_9d_ok;
COMMIT;
\c contrib_regression
DROP DATABASE context_win1252;
