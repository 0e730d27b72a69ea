--
-- Coverage report (DESIGN R1, issue 6): coverage(), lint_json(), lint_sarif(),
-- assert_coverage(), accept_finding() / unaccept_finding(), privileges.
-- The report looks at schema covr only (tenant_rls.managed_schemas).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covr_ci LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covr';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
SET tenant_rls.drift_action = warning;
CREATE SCHEMA covr;

-- protect() without its DDL listing
CREATE FUNCTION pg_temp.protect(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_rls.protect(t);
END
$$;
-- findings this test did not cause (objects other test files may leave) are
-- accepted inside the transaction, so assert_coverage() sees only ours
CREATE FUNCTION pg_temp.accept_others() RETURNS void LANGUAGE sql AS $$
    SELECT count(tenant_rls.accept_finding(l.code, l.object, 'not this test'))
      FROM tenant_rls.lint() l WHERE l.object NOT LIKE '%covr%' AND NOT l.accepted
$$;

-- ==== a small database: protected, unprotected, global, partitioned
CREATE TABLE covr.accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, name text);
CREATE INDEX ON covr.accounts (tenant_id);
SELECT pg_temp.protect('covr.accounts');
CREATE TABLE covr.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, total numeric);
CREATE INDEX ON covr.invoices (tenant_id);
CREATE TABLE covr.plans (code text PRIMARY KEY, price numeric);
SELECT tenant_rls.mark_global('covr.plans');
CREATE TABLE covr.scratch (note text);
CREATE TABLE covr.events (tenant_id text NOT NULL, at date NOT NULL, what text) PARTITION BY RANGE (at);
CREATE INDEX ON covr.events (tenant_id);
CREATE TABLE covr.events_2025 PARTITION OF covr.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT pg_temp.protect('covr.events');
CREATE TABLE covr.events_2026 PARTITION OF covr.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

-- ==== coverage(): one row per table and partition
SELECT table_name, kind, parent, status, tenant_column, tenant_type,
       rls_enabled, rls_forced, policies_ok, audit, tenant_index
  FROM tenant_rls.coverage() WHERE table_name LIKE 'covr.%';
SELECT table_name, errors, warnings, infos, accepted
  FROM tenant_rls.coverage() WHERE table_name LIKE 'covr.%';
SELECT code, level, object FROM tenant_rls.lint() WHERE object LIKE '%covr%';

-- controlled exceptions are visible in the report
SELECT count(*) > 0 AS changed FROM tenant_rls.allow_global_rows('covr.accounts');
SELECT tenant_rls.grant_access('covr.accounts', 'acme', 'globex', 'read');
SET tenant_rls.admin_role = 'covr_owner';
SELECT table_name, exceptions FROM tenant_rls.coverage() WHERE table_name LIKE 'covr.%';
RESET tenant_rls.admin_role;
SELECT tenant_rls.revoke_access('covr.accounts', 'acme', 'globex');
SELECT count(*) > 0 AS changed FROM tenant_rls.allow_global_rows('covr.accounts', false);
SELECT table_name, exceptions FROM tenant_rls.coverage() WHERE table_name = 'covr.accounts';

-- a drifted table shows in its row
ALTER POLICY tenant_rls_guard_select ON covr.accounts USING (true);
SELECT table_name, policies_ok, errors FROM tenant_rls.coverage() WHERE table_name = 'covr.accounts';
-- the finding's fix restores the registered definition
DO $$ BEGIN EXECUTE (SELECT fix FROM tenant_rls.lint()
    WHERE code = 'managed_policy_modified' AND object = 'tenant_rls_guard_select ON covr.accounts'); END $$;
SELECT table_name, policies_ok, errors FROM tenant_rls.coverage() WHERE table_name = 'covr.accounts';

-- ==== assert_coverage(): raises with the findings at or above the level
BEGIN;
SELECT pg_temp.accept_others();
SELECT tenant_rls.assert_coverage();
ROLLBACK;
BEGIN;
SELECT pg_temp.accept_others();
SELECT tenant_rls.assert_coverage('WARNING');
ROLLBACK;
-- the SQLSTATE a CI script can test for
BEGIN;
SELECT pg_temp.accept_others();
CREATE FUNCTION pg_temp.assert_sqlstate(lvl text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    PERFORM tenant_rls.assert_coverage(lvl);
    RETURN 'passed';
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    RETURN 'raised ' || st;
END $$;
SELECT pg_temp.assert_sqlstate('error') AS error, pg_temp.assert_sqlstate('info') AS info;
ROLLBACK;
SELECT tenant_rls.assert_coverage('fatal');
-- NULL: 22004, not "invalid level" / "unknown code" (review rev33b)
SELECT tenant_rls.assert_coverage(NULL);
SELECT tenant_rls.accept_finding(NULL, 'covr.invoices', 'no code');

-- ==== accept_finding(): still reported, marked accepted, no longer failing
SELECT tenant_rls.accept_finding('table_unprotected', 'covr.invoices', 'legacy import table, protected in release 42');
SELECT tenant_rls.accept_finding('child_unprotected', 'covr.events_2026', 'empty until 2026');
SELECT tenant_rls.accept_finding('table_without_tenant_column', 'covr.scratch', 'a DBA scratch table');
SELECT code, object, accepted FROM tenant_rls.lint() WHERE object LIKE '%covr%';
SELECT code, object, reason, accepted_by FROM tenant_rls.accepted_finding WHERE object LIKE 'covr%' ORDER BY 1;
SELECT table_name, errors, warnings, accepted FROM tenant_rls.coverage() WHERE table_name LIKE 'covr.%';
BEGIN;
SELECT pg_temp.accept_others();
SELECT tenant_rls.assert_coverage('error');
SELECT 'assert_coverage passed' AS result;
ROLLBACK;
-- accepting again replaces the reason; accepting in advance is allowed
SELECT tenant_rls.accept_finding('table_unprotected', 'covr.invoices', 'protected in release 43');
SELECT tenant_rls.accept_finding('rls_disabled', 'covr.not_yet', 'created by the next migration');
SELECT code, object, reason FROM tenant_rls.accepted_finding WHERE object LIKE 'covr%' ORDER BY 1, 2;
-- bad input
SELECT tenant_rls.accept_finding('no_such_code', 'covr.invoices', 'x');
SELECT tenant_rls.accept_finding('table_unprotected', 'covr.invoices', '  ');
SELECT tenant_rls.accept_finding('table_unprotected', '', 'x');
-- the inverse
SELECT tenant_rls.unaccept_finding('rls_disabled', 'covr.not_yet') AS removed;
SELECT tenant_rls.unaccept_finding('rls_disabled', 'covr.not_yet') AS removed;
-- the accepted findings are dumped with the extension's configuration
SELECT 'tenant_rls.accepted_finding'::regclass = ANY (e.extconfig) AS dumped
  FROM pg_extension e WHERE e.extname = 'tenant_rls';

-- ==== lint_json(): one document, the same findings as lint()
SELECT jsonb_typeof(j) AS doc, j ->> 'tool' AS tool, j ->> 'version' = tenant_rls.version() AS version_ok,
       j ->> 'database' = current_database() AS database_ok,
       jsonb_array_length(j -> 'findings') = (SELECT count(*) FROM tenant_rls.lint()) AS same_count,
       (j -> 'summary' ->> 'error')::int + (j -> 'summary' ->> 'warning')::int + (j -> 'summary' ->> 'info')::int
         + (j -> 'summary' ->> 'accepted')::int = jsonb_array_length(j -> 'findings') AS summary_adds_up
  FROM tenant_rls.lint_json() j;
SELECT f ->> 'code' AS code, f ->> 'level' AS level, f ->> 'object' AS object, f ->> 'object_kind' AS kind,
       f ->> 'accepted' AS accepted, f ->> 'accepted_reason' AS reason, f ->> 'fix' AS fix
  FROM jsonb_array_elements(tenant_rls.lint_json() -> 'findings') f WHERE f ->> 'object' LIKE '%covr%';

-- ==== lint_sarif(): SARIF 2.1.0
SELECT s ->> 'version' AS version, s ->> '$schema' AS schema, jsonb_array_length(s -> 'runs') AS runs,
       s #>> '{runs,0,tool,driver,name}' AS driver,
       jsonb_array_length(s #> '{runs,0,tool,driver,rules}') = (SELECT count(*) FROM tenant_rls.finding_codes()) AS all_rules
  FROM tenant_rls.lint_sarif() s;
-- every rule has an id, descriptions and a SARIF level
SELECT count(*) AS bad_rules
  FROM jsonb_array_elements(tenant_rls.lint_sarif() #> '{runs,0,tool,driver,rules}') r
 WHERE r ->> 'id' IS NULL OR r #>> '{shortDescription,text}' IS NULL OR r #>> '{fullDescription,text}' IS NULL
    OR r #>> '{defaultConfiguration,level}' NOT IN ('error', 'warning', 'note');
-- every result points at its rule (ruleId and ruleIndex agree), has a level,
-- a message and a logical location
WITH s AS (SELECT tenant_rls.lint_sarif() AS s),
r AS (SELECT s.s #> '{runs,0,tool,driver,rules}' AS rules, r FROM s, jsonb_array_elements(s.s #> '{runs,0,results}') r)
SELECT count(*) = (SELECT count(*) FROM tenant_rls.lint()) AS one_result_per_finding,
       bool_and(r.rules -> ((r.r ->> 'ruleIndex')::int) ->> 'id' = r.r ->> 'ruleId') AS rule_index_ok,
       bool_and(r.r ->> 'level' IN ('error', 'warning', 'note')) AS level_ok,
       bool_and(r.r #>> '{message,text}' <> '') AS message_ok,
       bool_and(r.r #>> '{locations,0,logicalLocations,0,fullyQualifiedName}' <> '') AS location_ok
  FROM r;
SELECT r ->> 'ruleId' AS rule, r ->> 'level' AS level,
       r #>> '{locations,0,logicalLocations,0,fullyQualifiedName}' AS object,
       r #>> '{locations,0,logicalLocations,0,kind}' AS kind,
       r -> 'suppressions' AS suppressions
  FROM jsonb_array_elements(tenant_rls.lint_sarif() #> '{runs,0,results}') r
 WHERE r #>> '{locations,0,logicalLocations,0,fullyQualifiedName}' LIKE '%covr%';

-- ==== who may run the report: nobody by default, granted roles through the owner's rights
SET ROLE covr_ci;
SELECT count(*) FROM tenant_rls.lint();
SELECT tenant_rls.accept_finding('table_unprotected', 'covr.invoices', 'sneaky');
RESET ROLE;
GRANT EXECUTE ON FUNCTION tenant_rls.lint(), tenant_rls.coverage(), tenant_rls.assert_coverage(text) TO covr_ci;
SET ROLE covr_ci;
SELECT count(*) > 0 AS sees_findings FROM tenant_rls.lint();
SELECT count(*) > 0 AS sees_tables FROM tenant_rls.coverage();
SELECT tenant_rls.accept_finding('table_unprotected', 'covr.invoices', 'sneaky');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION tenant_rls.lint(), tenant_rls.coverage(), tenant_rls.assert_coverage(text) FROM covr_ci;

-- ==== clean up
DO $$ BEGIN
    DELETE FROM tenant_rls.accepted_finding WHERE object LIKE 'covr%';
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covr';
END $$;
DROP SCHEMA covr CASCADE;
DROP ROLE covr_ci, covr_owner;
RESET client_min_messages;
