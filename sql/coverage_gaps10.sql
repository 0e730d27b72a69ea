--
-- Coverage report, review rev39 lint: code that a write runs.  (1) A
-- SECURITY DEFINER function that only writes a queue table, whose trigger
-- then changes a tenant table: the trigger runs with the definer's rights
-- (here a superuser's), so any tenant changes any tenant's rows; lint()
-- followed the calls in the function's body but not the triggers its writes
-- fire.  (2) A trigger on a tenant table that writes a view whose INSTEAD OF
-- trigger copies the row into a table every tenant reads, and sends it with
-- pg_notify(): neither trigger_writes_unprotected_table nor trigger_notifies
-- was reported.  Each leak shown as the application role (not superuser,
-- not BYPASSRLS, not the owner), then the findings.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg10_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg10_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg10';
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg10 AUTHORIZATION covg10_owner;
GRANT USAGE ON SCHEMA covg10 TO covg10_app;
CREATE SCHEMA covg10_ops;
GRANT USAGE ON SCHEMA covg10_ops TO covg10_app;
SET ROLE covg10_owner;
CREATE TABLE covg10.deals (id bigint PRIMARY KEY, tenant_id text NOT NULL, item text, secret text);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg10.deals');
SELECT tenant_rls.disable_audit('covg10.deals');
GRANT SELECT, INSERT ON covg10.deals TO covg10_app;
INSERT INTO covg10.deals VALUES (1, 'acme', 'gadget', 'acme-secret'), (2, 'globex', 'merger', 'acquire initech');

-- (1) a SECURITY DEFINER function of a superuser that writes a queue; the
-- queue's trigger updates the tenant table
CREATE TABLE covg10_ops.queue (deal_id bigint, note text);
CREATE FUNCTION covg10_ops.queue_apply() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $f$ BEGIN UPDATE covg10.deals SET item = NEW.note WHERE id = NEW.deal_id; RETURN NEW; END $f$;
CREATE TRIGGER queue_apply AFTER INSERT ON covg10_ops.queue
    FOR EACH ROW EXECUTE FUNCTION covg10_ops.queue_apply();
CREATE FUNCTION covg10_ops.enqueue(bigint, text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $f$ INSERT INTO covg10_ops.queue VALUES ($1, $2) $f$;
REVOKE EXECUTE ON FUNCTION covg10_ops.enqueue(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION covg10_ops.enqueue(bigint, text) TO covg10_app;

-- (2) a trigger on the tenant table writes a view; the view's INSTEAD OF
-- trigger copies the row into a feed and notifies it
SET ROLE covg10_owner;
CREATE TABLE covg10.feed (doc jsonb);
RESET ROLE;
SELECT tenant_rls.mark_global('covg10.feed');
CREATE VIEW covg10_ops.sink AS SELECT NULL::jsonb AS doc;
CREATE FUNCTION covg10_ops.sink_write() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $f$ BEGIN
        INSERT INTO covg10.feed VALUES (NEW.doc);
        PERFORM pg_notify('deals', NEW.doc::text);
        RETURN NEW;
    END $f$;
CREATE TRIGGER sink_write INSTEAD OF INSERT ON covg10_ops.sink
    FOR EACH ROW EXECUTE FUNCTION covg10_ops.sink_write();
CREATE FUNCTION covg10_ops.deals_feed() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $f$ BEGIN INSERT INTO covg10_ops.sink VALUES (to_jsonb(NEW)); RETURN NEW; END $f$;
CREATE TRIGGER deals_feed AFTER INSERT ON covg10.deals
    FOR EACH ROW EXECUTE FUNCTION covg10_ops.deals_feed();
GRANT INSERT ON covg10_ops.sink TO covg10_app;
GRANT SELECT, INSERT ON covg10.feed TO covg10_app;

-- the leaks, as the application role
SET ROLE covg10_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL;
SELECT covg10_ops.enqueue(2, 'overwritten by acme');
INSERT INTO covg10.deals VALUES (3, 'acme', 'widget', 'acme-second-secret');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('globex') IS NOT NULL;
SELECT id, item FROM covg10.deals ORDER BY id;
SELECT doc->>'tenant_id' AS tenant, doc->>'secret' AS secret FROM covg10.feed;
COMMIT;
RESET ROLE;

-- the findings
SELECT code, level, object, message FROM tenant_rls.lint()
 WHERE code IN ('security_definer_reads_tenant_table', 'trigger_notifies', 'trigger_writes_unprotected_table')
   AND (object LIKE 'covg10%' OR object LIKE '% ON covg10.%')
 ORDER BY code, object;

-- ==== clean up
SET client_min_messages = error;
DROP SCHEMA covg10_ops CASCADE;
DROP SCHEMA covg10 CASCADE;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.auto_protect;
DROP ROLE covg10_app, covg10_owner;
RESET client_min_messages;
