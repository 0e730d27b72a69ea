--
-- Coverage report, review rev50a: the leftovers of session 49's findings
-- (coverage_gaps16, coverage_gaps17).
-- 1. tenant_sequence_privilege reported UPDATE held by a BYPASSRLS role whose
-- only member is NOINHERIT (Supabase's service_role and authenticator: one
-- finding per sequence) and by a role with the table owner's privileges:
-- both may change the table anyway.  The readers of
-- trigger_writes_unprotected_table and table_without_tenant_column count a
-- BYPASSRLS grantee by the same rule: only a member that inherits its
-- privileges makes it a reader.
-- 2. A column default nextval('s'::text) (the text form: no dependency on
-- the sequence) was not followed by tenant_sequence_privilege.
-- 3. security_definer_reads_tenant_table did not report a SECURITY DEFINER
-- function reading a table of tenant rows without a tenant column
-- (invoice_lines of invoices): every caller read every tenant's rows there.
-- 4. trigger_writes_unprotected_table counted the readers of the view a
-- trigger writes through, not those of the table the rows land in.
-- 5. The details of role_bypassrls, table_without_tenant_column and
-- trigger_writes_unprotected_table say what their fix does to a service
-- role that works across tenants on purpose, and how to accept the finding.
-- 6. (review rev50e) what rev50a's changes missed.
-- 7. (review rev50h) dependency_owned_by_other_role did not report a
-- sequence of a tenant table's INSERTs owned by another role (which
-- setval()s it without any grant); security_definer_reads_tenant_table's
-- fix (SECURITY INVOKER) over a table of tenant rows without a tenant column
-- ended the finding, not the leak, when the callers may read the table.
-- Tables belong to covg18_owner (not superuser); isolation is checked as
-- covg18_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg18_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg18_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- Supabase's service_role and authenticator
DO $$ BEGIN CREATE ROLE covg18_svc NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg18_auth LOGIN NOINHERIT; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- a BYPASSRLS group the application inherits from
DO $$ BEGIN CREATE ROLE covg18_jobs NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- a maintenance login with the owner's privileges
DO $$ BEGIN CREATE ROLE covg18_maint LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- service roles: a BYPASSRLS login, a reporting login without BYPASSRLS
DO $$ BEGIN CREATE ROLE covg18_etl LOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg18_report LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT covg18_svc TO covg18_auth;
GRANT covg18_jobs TO covg18_app;
GRANT covg18_owner TO covg18_maint;
GRANT covg18_app TO covg18_owner;     -- the owner may SET ROLE to the application
CREATE SCHEMA covg18 AUTHORIZATION covg18_owner;
GRANT USAGE ON SCHEMA covg18 TO covg18_app, covg18_auth, covg18_svc, covg18_jobs, covg18_report;
SET tenant_rls.managed_schemas = 'covg18';
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE (level text, object text, message text, detail text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.detail, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ~ 'covg18' ORDER BY l.object
$$;

-- ==== 1. tenant_sequence_privilege: not the roles that may change the table anyway
SET ROLE covg18_owner;
CREATE TABLE covg18.tasks (id bigserial PRIMARY KEY, tenant_id text NOT NULL, title text);
CREATE INDEX ON covg18.tasks (tenant_id);
GRANT SELECT, INSERT ON covg18.tasks TO covg18_app;
GRANT USAGE ON SEQUENCE covg18.tasks_id_seq TO covg18_app;
-- (GRANT ALL ON ALL SEQUENCES ... TO anon, authenticated, service_role)
GRANT ALL ON SEQUENCE covg18.tasks_id_seq TO covg18_svc, covg18_jobs, covg18_maint;
ALTER DEFAULT PRIVILEGES IN SCHEMA covg18 GRANT ALL ON SEQUENCES TO covg18_svc, covg18_jobs;
RESET ROLE;
-- covg18_svc (its member covg18_auth is NOINHERIT) and covg18_maint (the
-- owner's privileges) are left out; covg18_jobs, whose UPDATE covg18_app
-- inherits without BYPASSRLS, is not
SELECT level, object FROM pg_temp.mine('tenant_sequence_privilege');
-- what that means: covg18_auth cannot setval() without SET ROLE (and then
-- bypasses row-level security anyway); covg18_app can, through covg18_jobs
SET ROLE covg18_auth;
SELECT setval('covg18.tasks_id_seq', 1);
RESET ROLE;
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg18.tasks (title) VALUES ('a1'), ('a2');
SELECT setval('covg18.tasks_id_seq', 1) AS set_back;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SAVEPOINT s;
INSERT INTO covg18.tasks (title) VALUES ('b1');
ROLLBACK TO s;
COMMIT;
RESET ROLE;
SELECT setval('covg18.tasks_id_seq', 100) AS repaired;
REVOKE covg18_owner FROM covg18_maint;
-- the same rule for the readers of a table a trigger writes: SELECT granted
-- to covg18_svc only is no reader's (a warning), to covg18_jobs is
SET ROLE covg18_owner;
CREATE TABLE covg18.trail (id bigserial PRIMARY KEY, row_data jsonb);
CREATE TABLE covg18.trail2 (id bigserial PRIMARY KEY, row_data jsonb);
CREATE FUNCTION covg18.trail_trg() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg18 AS $$
BEGIN INSERT INTO covg18.trail (row_data) VALUES (to_jsonb(NEW)); RETURN NEW; END $$;
CREATE FUNCTION covg18.trail2_trg() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg18 AS $$
BEGIN INSERT INTO covg18.trail2 (row_data) VALUES (to_jsonb(NEW)); RETURN NEW; END $$;
CREATE TRIGGER trail AFTER INSERT ON covg18.tasks FOR EACH ROW EXECUTE FUNCTION covg18.trail_trg();
CREATE TRIGGER trail2 AFTER INSERT ON covg18.tasks FOR EACH ROW EXECUTE FUNCTION covg18.trail2_trg();
GRANT SELECT ON covg18.trail TO covg18_svc;
GRANT SELECT ON covg18.trail2 TO covg18_jobs;
RESET ROLE;
SELECT level, object, message FROM pg_temp.mine('trigger_writes_unprotected_table');
SET ROLE covg18_auth;
SELECT count(*) FROM covg18.trail;
RESET ROLE;
SET ROLE covg18_owner;
DROP TRIGGER trail ON covg18.tasks;
DROP TRIGGER trail2 ON covg18.tasks;
RESET ROLE;

-- ==== 2. a column default nextval('...'::text)
SET ROLE covg18_owner;
CREATE TABLE covg18.tenants (id text PRIMARY KEY, name text);
CREATE SEQUENCE covg18.inv_seq;
CREATE SEQUENCE covg18."Odd Seq";
CREATE SEQUENCE covg18.plain_seq;
CREATE SEQUENCE covg18.unused_seq;
CREATE TABLE covg18.invoices (id bigint PRIMARY KEY DEFAULT nextval('covg18.inv_seq'::text),
                              tenant_id text NOT NULL REFERENCES covg18.tenants, total int);
CREATE TABLE covg18.quotes (id bigint PRIMARY KEY DEFAULT nextval('COVG18."Odd Seq"'::varchar), tenant_id text NOT NULL);
-- (an unqualified name: the inserting session's search_path decides)
CREATE TABLE covg18.receipts (id bigint PRIMARY KEY DEFAULT (nextval('plain_seq'::text) + 1000), tenant_id text NOT NULL);
-- (a name built at INSERT time is not followed)
CREATE TABLE covg18.notes (id bigint PRIMARY KEY DEFAULT nextval(('covg18.' || 'unused_seq')::regclass), tenant_id text NOT NULL);
CREATE INDEX ON covg18.invoices (tenant_id);
CREATE INDEX ON covg18.quotes (tenant_id);
CREATE INDEX ON covg18.receipts (tenant_id);
CREATE INDEX ON covg18.notes (tenant_id);
GRANT SELECT, INSERT ON covg18.invoices, covg18.quotes, covg18.receipts TO covg18_app;
GRANT UPDATE ON SEQUENCE covg18.inv_seq, covg18."Odd Seq", covg18.plain_seq, covg18.unused_seq TO covg18_app;
RESET ROLE;
SELECT tenant_rls.mark_global('covg18.tenants');
INSERT INTO covg18.tenants VALUES ('a', 'A'), ('b', 'B');
SELECT level, object, message FROM pg_temp.mine('tenant_sequence_privilege') WHERE object !~ 'tasks';
SELECT detail, fix FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ 'inv_seq';
-- the leak: tenant a sets the sequence back, tenant b's INSERT fails
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg18.invoices (total) VALUES (1), (2);
SELECT setval('covg18.inv_seq', 1) AS set_back;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SAVEPOINT s;
INSERT INTO covg18.invoices (total) VALUES (3);
ROLLBACK TO s;
COMMIT;
RESET ROLE;
SELECT setval('covg18.inv_seq', 100) AS repaired;
-- the fix: covg18_app still inserts (USAGE), and no longer sets it back
SELECT fix FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ 'inv_seq' \gexec
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
INSERT INTO covg18.invoices (total) VALUES (3);
SELECT setval('covg18.inv_seq', 1) AS set_back;
ROLLBACK;
RESET ROLE;
SELECT count(*) AS inv_seq_left FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ 'inv_seq';

-- ==== 3. security_definer_reads_tenant_table: tables of tenant rows
SET ROLE covg18_owner;
CREATE TABLE covg18.invoice_lines (id bigint PRIMARY KEY, invoice_id bigint NOT NULL REFERENCES covg18.invoices (id), amount int);
CREATE VIEW covg18.lines_v AS SELECT invoice_id, amount FROM covg18.invoice_lines;
-- callable by PUBLIC (the default): an error
CREATE FUNCTION covg18.invoice_total(inv bigint) RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = covg18 AS $$ SELECT sum(amount) FROM covg18.invoice_lines WHERE invoice_id = inv $$;
-- through a view, callable by the application: an error
CREATE FUNCTION covg18.line_count(inv bigint) RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = covg18 AS $$ BEGIN RETURN (SELECT count(*) FROM lines_v WHERE invoice_id = inv); END $$;
REVOKE EXECUTE ON FUNCTION covg18.line_count(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION covg18.line_count(bigint) TO covg18_app;
-- callable by its owner only: a warning
CREATE FUNCTION covg18.lines_purge_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = covg18 AS $$ SELECT count(*) FROM covg18.invoice_lines $$;
REVOKE EXECUTE ON FUNCTION covg18.lines_purge_count() FROM PUBLIC;
-- a tenant table and a table of tenant rows
CREATE FUNCTION covg18.invoice_with_lines(inv bigint) RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = covg18 AS $$ SELECT i.total + sum(l.amount) FROM covg18.invoices i JOIN covg18.invoice_lines l ON l.invoice_id = i.id WHERE i.id = inv GROUP BY i.total $$;
RESET ROLE;
-- (invoices 1 and 2 are tenant a's)
INSERT INTO covg18.invoice_lines VALUES (1, 1, 500), (2, 1, 700), (3, 2, 5);
SELECT level, object, message FROM pg_temp.mine('security_definer_reads_tenant_table');
SELECT object, detail FROM pg_temp.mine('security_definer_reads_tenant_table')
 WHERE object IN ('covg18.invoice_total(inv bigint)', 'covg18.lines_purge_count()');
-- the leak: tenant b reads the lines of tenant a's invoice 1
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT count(*) AS invoices_of_a FROM covg18.invoices WHERE id = 1;
SELECT covg18.invoice_total(1) AS lines_of_a, covg18.line_count(1) AS line_count_of_a;
COMMIT;
RESET ROLE;

-- ==== 4. trigger_writes_unprotected_table: the readers of the table a view writes into
SET ROLE covg18_owner;
-- an auto-updatable view: the rows go to feed
CREATE TABLE covg18.feed (id bigserial PRIMARY KEY, row_data jsonb);
CREATE VIEW covg18.feed_w WITH (security_invoker = true) AS SELECT id, row_data FROM covg18.feed;
CREATE FUNCTION covg18.feed_trg() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg18 AS $$
BEGIN INSERT INTO covg18.feed_w (row_data) VALUES (to_jsonb(NEW)); RETURN NEW; END $$;
CREATE TRIGGER feed AFTER INSERT ON covg18.tasks FOR EACH ROW EXECUTE FUNCTION covg18.feed_trg();
-- an INSTEAD OF trigger: the rows go to act_log, not to act_src
CREATE TABLE covg18.act_src (id bigserial PRIMARY KEY, what text);
CREATE TABLE covg18.act_log (id bigserial PRIMARY KEY, what text);
CREATE VIEW covg18.act_v AS SELECT id, what FROM covg18.act_src;
CREATE FUNCTION covg18.act_ins() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg18 AS $$
BEGIN INSERT INTO covg18.act_log (what) VALUES (NEW.what); RETURN NEW; END $$;
CREATE TRIGGER act_ins INSTEAD OF INSERT ON covg18.act_v FOR EACH ROW EXECUTE FUNCTION covg18.act_ins();
CREATE FUNCTION covg18.act_trg() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg18 AS $$
BEGIN INSERT INTO covg18.act_v (what) VALUES (NEW.title); RETURN NEW; END $$;
CREATE TRIGGER act AFTER INSERT ON covg18.tasks FOR EACH ROW EXECUTE FUNCTION covg18.act_trg();
-- the application reads feed (not the view), and act_v (not act_log)
GRANT SELECT ON covg18.feed TO covg18_app;
GRANT SELECT ON covg18.act_v TO covg18_app;
RESET ROLE;
-- feed: an error (covg18_app reads feed); act: a warning (nobody reads act_log)
SELECT level, object, message FROM pg_temp.mine('trigger_writes_unprotected_table');
SELECT object, detail FROM pg_temp.mine('trigger_writes_unprotected_table') WHERE object ~ '^feed';
-- tenant b reads tenant a's row in feed, and nothing of it through act_v
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg18.tasks (title) VALUES ('a secret');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT row_data ->> 'tenant_id' AS other_tenant, row_data ->> 'title' AS title FROM covg18.feed;
SELECT count(*) AS through_act_v FROM covg18.act_v;
SAVEPOINT s;
SELECT count(*) FROM covg18.act_log;
ROLLBACK TO s;
COMMIT;
RESET ROLE;
SELECT what AS in_act_log FROM covg18.act_log;
-- SELECT on act_log granted, the application reads it there: an error
SET ROLE covg18_owner;
GRANT SELECT ON covg18.act_log TO covg18_app;
RESET ROLE;
SELECT level, object FROM pg_temp.mine('trigger_writes_unprotected_table');
SELECT detail ~ 'covg18.act_log by covg18_app' AS names_act_log FROM pg_temp.mine('trigger_writes_unprotected_table')
 WHERE object ~ '^act';
SET ROLE covg18_owner;
DROP TRIGGER feed ON covg18.tasks;
DROP TRIGGER act ON covg18.tasks;
RESET ROLE;

-- ==== 5. what the fixes do to a service role that works across tenants
-- (a) role_bypassrls: a BYPASSRLS login, and one that can SET ROLE to a BYPASSRLS role
SELECT object, detail FROM pg_temp.mine('role_bypassrls') WHERE object IN ('covg18_etl', 'covg18_auth');
-- the way it names works: the finding is accepted
SELECT (regexp_match(detail, 'SELECT tenant_rls\.accept_finding\([^;]*\);'))[1]
  FROM pg_temp.mine('role_bypassrls') WHERE object = 'covg18_etl' \gexec
SELECT count(*) AS etl_open FROM tenant_rls.lint() WHERE code = 'role_bypassrls' AND object = 'covg18_etl' AND NOT accepted;
-- (b) a table of tenant rows read across tenants by a reporting role on purpose
SET ROLE covg18_owner;
CREATE TABLE covg18.refunds (id bigint PRIMARY KEY, org_id text NOT NULL REFERENCES covg18.tenants, cents int);
GRANT SELECT ON covg18.refunds TO covg18_report;
RESET ROLE;
INSERT INTO covg18.refunds VALUES (1, 'a', 100), (2, 'b', 200);
SELECT level, detail FROM pg_temp.mine('table_without_tenant_column') WHERE object = 'covg18.refunds';
-- what the detail says: the fix leaves the reporting role no rows
SET ROLE covg18_report;
SELECT count(*) AS report_reads FROM covg18.refunds;
RESET ROLE;
BEGIN;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg18.refunds', tenant_column => 'org_id');
SET LOCAL ROLE covg18_report;
SELECT count(*) AS report_reads_after_fix FROM covg18.refunds;
ROLLBACK;
SELECT (regexp_match(detail, 'SELECT tenant_rls\.accept_finding\([^;]*\);'))[1]
  FROM pg_temp.mine('table_without_tenant_column') WHERE object = 'covg18.refunds' \gexec
SELECT count(*) AS refunds_open FROM tenant_rls.lint()
 WHERE code = 'table_without_tenant_column' AND object = 'covg18.refunds' AND NOT accepted;

-- ==== 6. (review rev50e) what rev50a's changes missed
-- (a) nextval('...'::text) names that text_regclass() resolves and
-- parse_ident() refused: an unquoted part with any character but '.' and
-- white space, a name of more than 63 bytes (truncated); and a vertical tab,
-- part of a name for PostgreSQL (a schema "\vcovg18" here, which does not
-- exist), white space for the guard of parse_ident(), which then raised an
-- error: lint() failed; a varchar(n) cast cuts the name at each INSERT
SET ROLE covg18_owner;
CREATE SEQUENCE covg18."memo-seq";
CREATE SEQUENCE covg18.memo_seq_with_a_name_of_more_than_sixty_three_bytes_which_is_cut;
CREATE TABLE covg18.memos (id bigint PRIMARY KEY DEFAULT nextval('covg18.MEMO-SEQ'::text), tenant_id text NOT NULL);
CREATE TABLE covg18.memos2 (id bigint PRIMARY KEY
    DEFAULT nextval('covg18.memo_seq_with_a_name_of_more_than_sixty_three_bytes_which_is_cut'::text), tenant_id text NOT NULL);
CREATE TABLE covg18.memos3 (id bigint PRIMARY KEY DEFAULT nextval(E'\x0bcovg18.memo-seq'::text), tenant_id text NOT NULL);
CREATE INDEX ON covg18.memos (tenant_id);
CREATE INDEX ON covg18.memos2 (tenant_id);
CREATE INDEX ON covg18.memos3 (tenant_id);
GRANT SELECT, INSERT ON covg18.memos, covg18.memos2 TO covg18_app;
GRANT UPDATE ON SEQUENCE covg18."memo-seq", covg18.memo_seq_with_a_name_of_more_than_sixty_three_bytes_which_is_cut TO covg18_app;
RESET ROLE;
SELECT level, object, message FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ 'memo' AND object ~ 'TO covg18_app$';
SELECT n.* FROM (VALUES ('nextval((''a b''::text)::regclass)'), ('nextval((''"a""b" . C.d''::text)::regclass)'),
                        ('nextval((''a.b.c.d''::text)::regclass)'), ('nextval((''"a"b''::text)::regclass)'),
                        ('nextval((''a.''::text)::regclass)'), (E'nextval((''\x0ba''::text)::regclass)'),
                        -- (varchar(n) cuts the name at each INSERT)
                        ('nextval((''covg18.memo-seq-x''::character varying(15))::regclass)')) v(e),
       tenant_rls._nextval_names(v.e) n;
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg18.memos DEFAULT VALUES;
SELECT setval('covg18."memo-seq"', 1) AS set_back;
ROLLBACK;
RESET ROLE;
-- (b) a role left out (BYPASSRLS, its member NOINHERIT) that granted UPDATE
-- on through a grant option is reported: the finding of the role it granted
-- it to names its REVOKE ... CASCADE as the fix
SET ROLE covg18_owner;
CREATE TABLE covg18.batches (id bigserial PRIMARY KEY, tenant_id text NOT NULL);
CREATE INDEX ON covg18.batches (tenant_id);
GRANT ALL ON SEQUENCE covg18.batches_id_seq TO covg18_svc WITH GRANT OPTION;
SET ROLE covg18_svc;
GRANT UPDATE ON SEQUENCE covg18.batches_id_seq TO covg18_app;
RESET ROLE;
SELECT object, fix, detail ~ 'Granted \(also\) by covg18_svc' AS granted_by_svc
  FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ '^covg18.batches_id_seq TO covg18_(svc|app)$';
-- (c) who reads the table is in the message: the acceptance the detail
-- offers ('read by the service role only') no longer holds once a tenant's
-- role may read it
SELECT level, accepted, message FROM tenant_rls.lint() WHERE code = 'table_without_tenant_column' AND object = 'covg18.refunds';
SET ROLE covg18_owner;
GRANT SELECT ON covg18.refunds TO covg18_app;
RESET ROLE;
SELECT level, accepted, message FROM tenant_rls.lint() WHERE code = 'table_without_tenant_column' AND object = 'covg18.refunds';
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT id, org_id FROM covg18.refunds WHERE org_id = 'a';
COMMIT;
RESET ROLE;
-- (d) a NOINHERIT service role is no administrator as a member of the admin
-- role (is_admin(): its privileges): the detail says its jobs SET ROLE
SELECT object, detail ~ 'covg18_auth is NOINHERIT' AS says_noinherit
  FROM pg_temp.mine('role_bypassrls') WHERE object IN ('covg18_etl', 'covg18_auth');

-- (e) the DEFAULT nextval() of a column's domain (not followed before)
SET ROLE covg18_owner;
CREATE SEQUENCE covg18.doc_seq;
CREATE DOMAIN covg18.doc_id AS bigint DEFAULT nextval('covg18.doc_seq');
CREATE TABLE covg18.docs (id covg18.doc_id PRIMARY KEY, tenant_id text NOT NULL);
CREATE INDEX ON covg18.docs (tenant_id);
GRANT UPDATE ON SEQUENCE covg18.doc_seq TO covg18_app;
RESET ROLE;
SELECT level, object, message FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ '^covg18.doc_seq TO covg18_app$';

-- ==== 7. (review rev50h) what rev50e left open
-- (a) dependency_owned_by_other_role: a sequence a tenant table's INSERTs
-- take their ids from, owned by another role (an application role's own
-- schema): its owner setval()s it without any grant.  A column default's
-- nextval() (also in text), a domain's DEFAULT nextval(); not a role with
-- the owner's privileges, nor a BYPASSRLS role no member of which inherits
-- its privileges; a role whose privileges the owner has is reported
DO $$ BEGIN CREATE ROLE covg18_grp NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT covg18_grp TO covg18_owner;
GRANT covg18_owner TO covg18_maint;
CREATE SCHEMA covg18_appsch AUTHORIZATION covg18_app;
GRANT USAGE ON SCHEMA covg18_appsch TO covg18_owner, covg18_svc, covg18_maint, covg18_grp;
GRANT CREATE ON SCHEMA covg18_appsch TO covg18_svc, covg18_maint, covg18_grp;
SET ROLE covg18_app;
CREATE SEQUENCE covg18_appsch.ord_seq;
CREATE SEQUENCE covg18_appsch.ord2_seq;
CREATE SEQUENCE covg18_appsch.ord3_seq;
CREATE DOMAIN covg18_appsch.ord_id AS bigint DEFAULT nextval('covg18_appsch.ord3_seq');
CREATE TABLE covg18_appsch.own_tab (id serial PRIMARY KEY);
SET ROLE covg18_svc;
CREATE SEQUENCE covg18_appsch.svc_seq;
SET ROLE covg18_maint;
CREATE SEQUENCE covg18_appsch.maint_seq;
SET ROLE covg18_grp;
CREATE SEQUENCE covg18_appsch.grp_seq;
RESET ROLE;
ALTER DOMAIN covg18_appsch.ord_id OWNER TO covg18_owner;
GRANT USAGE ON SEQUENCE covg18_appsch.svc_seq, covg18_appsch.maint_seq, covg18_appsch.grp_seq TO covg18_app;
SET ROLE covg18_owner;
CREATE TABLE covg18.orders (id bigint PRIMARY KEY DEFAULT nextval('covg18_appsch.ord_seq'), tenant_id text NOT NULL, n int);
CREATE TABLE covg18.orders2 (id bigint PRIMARY KEY DEFAULT nextval('covg18_appsch.ord2_seq'::text), tenant_id text NOT NULL);
CREATE TABLE covg18.orders3 (id covg18_appsch.ord_id PRIMARY KEY, tenant_id text NOT NULL);
CREATE TABLE covg18.orders4 (id bigint PRIMARY KEY DEFAULT nextval('covg18_appsch.svc_seq'), tenant_id text NOT NULL,
                             m bigint DEFAULT nextval('covg18_appsch.maint_seq'), g bigint DEFAULT nextval('covg18_appsch.grp_seq'));
CREATE TABLE covg18.orders5 (id bigint PRIMARY KEY DEFAULT nextval('covg18_appsch.own_tab_id_seq'), tenant_id text NOT NULL);
CREATE INDEX ON covg18.orders (tenant_id);
CREATE INDEX ON covg18.orders2 (tenant_id);
CREATE INDEX ON covg18.orders3 (tenant_id);
CREATE INDEX ON covg18.orders4 (tenant_id);
CREATE INDEX ON covg18.orders5 (tenant_id);
GRANT SELECT, INSERT ON covg18.orders, covg18.orders2, covg18.orders3 TO covg18_app;
RESET ROLE;
-- ord_seq, ord2_seq (in text), ord3_seq (the domain's), own_tab_id_seq
-- (OWNED BY a column of covg18_app's table: no fix) and grp_seq (covg18_grp,
-- whose privileges the owner has; an error: covg18_maint, an application
-- role, is a member of it); not svc_seq nor maint_seq
SELECT level, object, message FROM tenant_rls.lint()
 WHERE code = 'dependency_owned_by_other_role' AND object ~ '^covg18_appsch\.' ORDER BY object, message;
SELECT object, detail, fix FROM pg_temp.mine('dependency_owned_by_other_role')
 WHERE object IN ('covg18_appsch.ord_seq', 'covg18_appsch.own_tab_id_seq');
-- the leak: tenant a's session sets the sequence back, tenant b's INSERT fails
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg18.orders (n) VALUES (1), (2);
SELECT setval('covg18_appsch.ord_seq', 1) AS set_back;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SAVEPOINT s;
INSERT INTO covg18.orders (n) VALUES (3);
ROLLBACK TO s;
COMMIT;
RESET ROLE;
SELECT setval('covg18_appsch.ord_seq', 100) AS repaired;
-- the fixes: covg18_app still inserts (USAGE), and no longer sets them back
SELECT fix FROM tenant_rls.lint()
 WHERE code = 'dependency_owned_by_other_role' AND object ~ '^covg18_appsch\.ord' ORDER BY object \gexec
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
INSERT INTO covg18.orders (n) VALUES (3);
INSERT INTO covg18.orders2 DEFAULT VALUES;
INSERT INTO covg18.orders3 DEFAULT VALUES;
SELECT count(*) AS inserted FROM covg18.orders, covg18.orders2, covg18.orders3;
SAVEPOINT s;
SELECT setval('covg18_appsch.ord_seq', 1) AS set_back;
ROLLBACK TO s;
SAVEPOINT s;
ALTER SEQUENCE covg18_appsch.ord3_seq RESTART;
ROLLBACK TO s;
ROLLBACK;
RESET ROLE;
SELECT object FROM tenant_rls.lint()
 WHERE code = 'dependency_owned_by_other_role' AND object ~ '^covg18_appsch\.' ORDER BY object;
SELECT object FROM pg_temp.mine('tenant_sequence_privilege') WHERE object ~ 'covg18_appsch';
REVOKE covg18_owner FROM covg18_maint;
REVOKE covg18_grp FROM covg18_owner;
-- (b) security_definer_reads_tenant_table over a table of tenant rows
-- without a tenant column: its fix (SECURITY INVOKER) ends the finding, not
-- the leak, when the callers may read the table themselves; the detail says
-- so, and who may (section 3: nobody but the owner may read invoice_lines)
SELECT object, detail ~ 'SECURITY INVOKER \(the fix\) makes its callers read the table with their own privileges' AS says_calls_fail
  FROM pg_temp.mine('security_definer_reads_tenant_table') WHERE object = 'covg18.invoice_total(inv bigint)';
SET ROLE covg18_owner;
GRANT SELECT ON covg18.invoice_lines TO covg18_app;
RESET ROLE;
SELECT object, detail ~ 'alone ends this finding, not the leak: roles may read covg18.invoice_lines themselves \(covg18.invoice_lines by covg18_app\)' AS says_readers
  FROM pg_temp.mine('security_definer_reads_tenant_table') WHERE object IN ('covg18.invoice_total(inv bigint)', 'covg18.line_count(inv bigint)');
SELECT fix FROM pg_temp.mine('security_definer_reads_tenant_table') WHERE object = 'covg18.invoice_total(inv bigint)' \gexec
-- the finding is gone; tenant b still reads tenant a's lines, now as itself,
-- which table_without_tenant_column reports (an error naming covg18_app)
SELECT count(*) AS invoice_total_left FROM pg_temp.mine('security_definer_reads_tenant_table') WHERE object = 'covg18.invoice_total(inv bigint)';
SET ROLE covg18_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT covg18.invoice_total(1) AS lines_of_a;
COMMIT;
RESET ROLE;
SELECT level, message FROM pg_temp.mine('table_without_tenant_column') WHERE object = 'covg18.invoice_lines';

-- clean up
SET client_min_messages = warning;
RESET tenant_rls.managed_schemas;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT a.code, a.object FROM tenant_rls.accepted_finding a WHERE a.object ~ 'covg18' LOOP
        PERFORM tenant_rls.unaccept_finding(r.code, r.object);
    END LOOP;
    FOR r IN SELECT p.schema_name, p.table_name, p.status FROM tenant_rls.protected_table p
              WHERE p.schema_name = 'covg18' AND p.parent_table IS NULL LOOP
        IF r.status = 'protected' THEN
            PERFORM tenant_rls.unprotect(format('%I.%I', r.schema_name, r.table_name)::regclass);
        ELSE
            PERFORM tenant_rls.unmark_global(format('%I.%I', r.schema_name, r.table_name)::regclass);
        END IF;
    END LOOP;
END
$$;
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
SET ROLE covg18_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA covg18 REVOKE ALL ON SEQUENCES FROM covg18_svc, covg18_jobs;
RESET ROLE;
DROP SCHEMA covg18 CASCADE;
DROP SCHEMA covg18_appsch CASCADE;
DROP OWNED BY covg18_app, covg18_auth, covg18_svc, covg18_jobs, covg18_maint, covg18_etl, covg18_report, covg18_grp;
DROP OWNED BY covg18_owner;
DROP ROLE covg18_app, covg18_auth, covg18_svc, covg18_jobs, covg18_maint, covg18_etl, covg18_report, covg18_grp, covg18_owner;
