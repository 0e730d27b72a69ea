--
-- Coverage report, review rev40b: partitions outside the managed schemas.
-- A partitioned table with the tenant column in a schema that
-- tenant_rls.managed_schemas does not name, granted to nobody; default
-- privileges grant each new partition to the application role.  The
-- application role reads every tenant's rows through the partitions, and
-- lint() reported neither the partitions (skipped: their root would be)
-- nor the root (nobody holds anything on it).  Shown as the application
-- role (not superuser, not BYPASSRLS, not the owner), then the findings,
-- their fix, and the leak gone.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg11_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg11_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg11_clerk LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg11';
SET tenant_rls.audit = off;
CREATE SCHEMA covg11_archive AUTHORIZATION covg11_owner;
GRANT USAGE ON SCHEMA covg11_archive TO covg11_app;
CREATE FUNCTION pg_temp.mine() RETURNS TABLE(object text, message text, fix text)
    LANGUAGE sql AS $$
    SELECT l.object, l.message, l.fix FROM tenant_rls.lint() l
     WHERE l.code = 'table_outside_managed_schemas' AND l.object LIKE 'covg11%'
     ORDER BY 1
$$;

SET ROLE covg11_owner;
CREATE TABLE covg11_archive.orders_hist (id int, tenant_id text NOT NULL, item text) PARTITION BY RANGE (id);
ALTER DEFAULT PRIVILEGES IN SCHEMA covg11_archive GRANT SELECT ON TABLES TO covg11_app;
CREATE TABLE covg11_archive.orders_hist_1 PARTITION OF covg11_archive.orders_hist FOR VALUES FROM (0) TO (100);
CREATE TABLE covg11_archive.orders_hist_2 PARTITION OF covg11_archive.orders_hist
    FOR VALUES FROM (100) TO (200) PARTITION BY LIST (tenant_id);
CREATE TABLE covg11_archive.orders_hist_2a PARTITION OF covg11_archive.orders_hist_2 DEFAULT;
-- a partition granted nothing: not reported
ALTER DEFAULT PRIVILEGES IN SCHEMA covg11_archive REVOKE SELECT ON TABLES FROM covg11_app;
CREATE TABLE covg11_archive.orders_hist_3 PARTITION OF covg11_archive.orders_hist FOR VALUES FROM (200) TO (300);
RESET ROLE;
INSERT INTO covg11_archive.orders_hist VALUES (1, 'acme', 'acme-old'), (2, 'globex', 'globex-old'),
    (150, 'globex', 'globex-old2'), (250, 'globex', 'globex-old3');
-- a partition owned by a login role other than its root's owner: reported
-- for that owner as well
CREATE TABLE covg11_archive.orders_hist_4 (id int, tenant_id text NOT NULL, item text);
ALTER TABLE covg11_archive.orders_hist_4 OWNER TO covg11_clerk;
ALTER TABLE covg11_archive.orders_hist ATTACH PARTITION covg11_archive.orders_hist_4 FOR VALUES FROM (300) TO (400);

-- the leak: acme reads globex's rows
SET ROLE covg11_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_id, item FROM covg11_archive.orders_hist_1 ORDER BY id;
SELECT tenant_id, item FROM covg11_archive.orders_hist_2a ORDER BY id;
COMMIT;
RESET ROLE;

-- the findings: the partitions granted to the application role, and the one
-- of another login owner; the fix protects their root
SELECT * FROM pg_temp.mine();
SELECT count(*) AS root_findings FROM tenant_rls.lint() WHERE object = 'covg11_archive.orders_hist';
-- the fix (one for all), run
DO $$
DECLARE f text;
BEGIN
    FOR f IN SELECT DISTINCT m.fix FROM pg_temp.mine() m LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT table_name, status FROM tenant_rls.coverage() WHERE table_name LIKE 'covg11_archive.orders_hist%' ORDER BY table_name;
-- and gone: the leak and the findings
SET ROLE covg11_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_id, item FROM covg11_archive.orders_hist_1 ORDER BY id;
SELECT tenant_id, item FROM covg11_archive.orders_hist_2a ORDER BY id;
COMMIT;
RESET ROLE;
SELECT count(*) AS left_over FROM pg_temp.mine();

-- ==== clean up
SET client_min_messages = error;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg11_archive.orders_hist');
DROP SCHEMA covg11_archive CASCADE;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.audit;
DROP OWNED BY covg11_app, covg11_clerk, covg11_owner;
DROP ROLE covg11_app, covg11_clerk, covg11_owner;
RESET client_min_messages;
