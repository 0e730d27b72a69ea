-- tenant_rls demonstration.  Run by `make demo` on a throwaway cluster.
\pset footer off
\set VERBOSITY terse
CREATE DATABASE shop;
-- tenants of this deployment are uuids: set_tenant() validates against that
ALTER DATABASE shop SET tenant_rls.tenant_type = 'uuid';
\c shop
CREATE EXTENSION tenant_rls;

-- The application owns its tables and connects as app_user: not a superuser,
-- not BYPASSRLS, not the owner.
CREATE ROLE app_owner;
CREATE ROLE app_user LOGIN;
CREATE TABLE public.orders (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    item      text NOT NULL
);
CREATE INDEX ON public.orders (tenant_id);
ALTER TABLE public.orders OWNER TO app_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO app_user;

-- A hand-written policy over the typed accessor: the column is compared
-- uncast, so the tenant index is used, and no tenant means no rows.
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.orders FORCE ROW LEVEL SECURITY;
CREATE POLICY orders_isolation ON public.orders
    USING (tenant_id = tenant_rls.current_tenant_uuid())
    WITH CHECK (tenant_id = tenant_rls.current_tenant_uuid());

INSERT INTO public.orders (tenant_id, item) VALUES
    ('11111111-1111-1111-1111-111111111111', 'acme: anvil'),
    ('11111111-1111-1111-1111-111111111111', 'acme: rocket skates'),
    ('22222222-2222-2222-2222-222222222222', 'globex: doomsday device');

SET ROLE app_user;

\echo '--- tenant acme sets its context for one transaction and sees only its rows'
BEGIN;
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-111111111111'::uuid);
SELECT id, item FROM public.orders ORDER BY id;
COMMIT;

\echo '--- tenant globex, in the next transaction on the same connection'
BEGIN;
SELECT tenant_rls.set_tenant('22222222-2222-2222-2222-222222222222'::uuid);
SELECT id, item FROM public.orders ORDER BY id;
\echo '--- globex cannot write a row for acme'
SAVEPOINT s;
\set ON_ERROR_STOP off
INSERT INTO public.orders (tenant_id, item) VALUES ('11111111-1111-1111-1111-111111111111', 'forged');
\set ON_ERROR_STOP on
ROLLBACK TO s;
COMMIT;

\echo '--- the transaction ended, so no tenant: zero rows (fail closed), never an error'
SELECT tenant_rls.current_tenant() AS tenant, count(*) AS visible_rows FROM public.orders;

\echo '--- malformed tenant values are refused with a clear error'
\set VERBOSITY default
\set ON_ERROR_STOP off
SELECT tenant_rls.set_tenant('1 OR true');
SELECT tenant_rls.set_tenant('11111111-1111-1111-1111-11111111111 ');
\set ON_ERROR_STOP on
\set VERBOSITY terse
RESET ROLE;
\c postgres
DROP DATABASE shop;
