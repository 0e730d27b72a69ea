-- Coverage report (DESIGN R1-R3, issue 6): coverage.c + this fragment.
--
-- tenant_rls._tables()    every table the report looks at: the tables of the
--                         managed schemas, the registered ones, and every
--                         partition / inheritance child of those, with their
--                         tenant column and registry row.  One set-based query.
-- tenant_rls._findings()  every finding: one set-based query per finding
--                         family over _tables() and the catalogs, UNION ALL.
-- lint(), lint_json(), lint_sarif(), coverage(), assert_coverage(),
-- accept_finding(), unaccept_finding(): the public interface.
--
-- Nothing here runs a catalog query per table: the cost is one pass over
-- each catalog, joined by hash (R3).  Policy expression trees are walked in
-- C (_policy_facts), memoised across tables that share the same tree.

-- Accepted findings: a DBA decided a finding is fine.  They are still reported
-- (accepted = true), never dropped, and do not fail assert_coverage().
CREATE TABLE tenant_rls.accepted_finding (
    code        text        NOT NULL,
    object      text        NOT NULL,
    reason      text        NOT NULL CHECK (reason OPERATOR(pg_catalog.<>) ''),
    accepted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    accepted_by name        NOT NULL DEFAULT CURRENT_USER,
    -- what was accepted (filled in by a trigger from the report when NULL):
    -- the level, and a fingerprint of each finding of (code, object); an
    -- acceptance holds only while the level is not higher and the finding
    -- is the same
    level        text,
    fingerprints text[],
    PRIMARY KEY (code, object)
);
COMMENT ON TABLE tenant_rls.accepted_finding IS
    'findings of tenant_rls.lint() a DBA accepted, with the reason; maintained by accept_finding() and unaccept_finding()';
SELECT pg_catalog.pg_extension_config_dump('tenant_rls.accepted_finding', '');
REVOKE ALL ON tenant_rls.accepted_finding FROM PUBLIC;

-- ---- C helpers (coverage.c); internal
CREATE FUNCTION tenant_rls._coverage_config(OUT tenant_column name, OUT audit boolean, OUT managed_schemas text[])
    RETURNS record
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_coverage_config';
CREATE TYPE tenant_rls.policy_facts AS (
    qual_text text, check_text text, uses_tenant boolean, casts_tenant boolean,
    current_setting boolean, not_missing_ok boolean, other_settings text[],
    funcs oid[], pure boolean, tenant_fallback boolean);
COMMENT ON TYPE tenant_rls.policy_facts IS 'internal: what _policy_facts() finds in a policy';
CREATE FUNCTION tenant_rls._policy_facts(qual pg_node_tree, with_check pg_node_tree, relid oid,
                                         tenant_attnum int2, tenant_column name, want_text boolean)
    RETURNS tenant_rls.policy_facts
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_policy_facts';
REVOKE ALL ON FUNCTION tenant_rls._coverage_config() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls._policy_facts(pg_node_tree, pg_node_tree, oid, int2, name, boolean) FROM PUBLIC;

-- Is this server version affected by a known row-security CVE?  (NULL: no.)
-- A function of its argument so the test can feed it older versions.
CREATE FUNCTION tenant_rls._server_version_cve(version_num integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN version_num < 150000 THEN
            'PostgreSQL before 15 is not supported by tenant_rls and misses row-security fixes.'
        WHEN version_num < 150019 AND version_num < 160000 THEN
            'PostgreSQL 15 before 15.19 has known row-security vulnerabilities (policies bypassed or leaked through planner statistics and error messages); minor releases fix them.'
    END
$$;

-- ---- the finding catalogue: every code, its default level and its meaning
CREATE FUNCTION tenant_rls.finding_codes(OUT code text, OUT level text, OUT title text, OUT description text)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    VALUES
    ('table_unprotected', 'error', 'tenant table not protected',
     'A table in a managed schema has the tenant column but tenant_rls does not protect it: every role that can read it sees all tenants.'),
    ('child_unprotected', 'error', 'partition or inheritance child not protected',
     'A partition or inheritance child (also a foreign table) of a protected table is not protected itself: queried directly it skips the parent''s policies.'),
    ('ancestor_unprotected', 'error', 'protected table below an unprotected parent',
     'A protected table is a partition or inheritance child (at any level) of a table tenant_rls does not protect: a query on that parent applies only the parent''s policies, so every tenant reads and changes the protected table''s rows through it.'),
    ('hierarchy_mismatch', 'error', 'table below a protected table protected differently',
     'A table marked global, or protected by another tenant column, is a partition or inheritance child (at any level) of a protected table: queried directly it lets through rows the ancestor''s policies would not, and a query on the ancestor checks its own column on them, so one tenant reads and changes another''s rows.'),
    ('rls_disabled', 'error', 'row-level security disabled',
     'A protected table has row-level security disabled: its policies are ignored and every tenant''s rows are visible.'),
    ('rls_not_forced', 'error', 'row-level security not forced',
     'A protected table does not FORCE row-level security: its owner (often the application role) bypasses every policy.'),
    ('tenant_column_missing', 'error', 'registered tenant column missing',
     'A protected table has no column of the name the registry gives as its tenant column (it was renamed or dropped under drift_action = warning): its audit entries carry no tenant, its new partitions and children cannot be protected, and this report cannot check its tenant index or foreign keys.'),
    ('isolation_policy_missing', 'error', 'no isolation policy',
     'A protected table has no policy that compares the tenant column: it is not isolated by tenant.'),
    ('managed_policy_dropped', 'error', 'managed policy dropped',
     'A policy that protect() created and the registry lists no longer exists.'),
    ('managed_policy_modified', 'error', 'managed policy modified',
     'A policy that protect() created differs from the definition in the registry (command, roles, USING or WITH CHECK).'),
    ('extra_permissive_policy', 'warning', 'extra permissive policy',
     'A permissive policy that tenant_rls did not create is OR-ed with the isolation policy; without a restrictive guard it opens other tenants'' rows.'),
    ('policy_casts_tenant_column', 'warning', 'policy casts the tenant column',
     'A policy applies a cast, function or operator to the tenant column: the tenant index cannot be used and every query scans the table.'),
    ('policy_calls_current_setting', 'warning', 'policy calls current_setting()',
     'A policy reads a setting with current_setting() instead of the tenant_rls accessors: evaluated per row, and fragile on an empty value.'),
    ('policy_setting_without_missing_ok', 'warning', 'policy reads the tenant setting without missing_ok',
     'A policy calls current_setting(''app.current_tenant_id'') without missing_ok: a session that never set it gets an error instead of zero rows.'),
    ('policy_reads_other_setting', 'error', 'policy consults a second setting',
     'A policy reads a setting other than the tenant setting (for example app.is_admin), itself or in a function it calls: any session can SET it, so it is a backdoor (a warning for a policy of the user''s on a protected table whose restrictive tenant guard is in place: it cannot open other tenants'' rows, only rows within the tenant).'),
    ('policy_function_search_path', 'warning', 'policy helper function without locked search_path',
     'A user function called by a policy has no SET search_path: objects it names can be hijacked by a schema earlier in the caller''s search_path.'),
    ('tenant_column_nullable', 'warning', 'tenant column nullable',
     'The tenant column allows NULL: rows without a tenant belong to nobody and are invisible or, with global rows, visible to all.'),
    ('tenant_index_missing', 'warning', 'no index leading with the tenant column',
     'No index starts with the tenant column: every tenant-filtered query scans the whole table.'),
    ('unique_not_leading_tenant', 'warning', 'unique index not leading with the tenant column',
     'A unique index or constraint does not start with the tenant column: an INSERT that fails with a unique violation tells a tenant that another tenant has that value (existence oracle; keys of identity, serial or random-uuid columns are not reported, though sequence values can be probed: see doc/coverage.md).'),
    ('index_not_leading_tenant', 'info', 'index not leading with the tenant column',
     'An index does not start with the tenant column: its scans touch other tenants'' entries, whose counts EXPLAIN ANALYZE and timing reveal.'),
    ('audit_missing', 'warning', 'audit trigger missing',
     'A protected table has no tenant_rls audit trigger while tenant_rls.audit is on, or an audited table (or a partition of one) has no TRUNCATE audit trigger that fires: its changes, or its TRUNCATEs, are not recorded.'),
    ('audit_trigger_altered', 'warning', 'audit trigger redefined or duplicated',
     'A row trigger calling tenant_rls.audit_trigger() is not the one enable_audit() creates (a WHEN clause, UPDATE OF, fewer events, arguments, another name): the changes it does not fire on are not recorded, and a second one would record each change twice.'),
    ('audit_json_cast', 'warning', 'a cast to json decides what the audit log records',
     'A column of an audited table has a user type (also as an array''s element, or under domains) with a cast to json that runs a function, not a superuser''s nor an extension''s: the audit trigger records values of such types as to_json(value), which calls that function. Whoever owns it decides what the log shows for every change of the column, whatever the row holds, and its code runs in the writer''s session, where it can also change the setting recorded as app_user.'),
    ('audit_log_ignores_policies', 'warning', 'audited table with row policies of its own',
     'An audited table has row-level security policies besides tenant_rls''s (per author, per team, per role): the audit log does not apply them, so every role of the tenant that may SELECT the table reads, through tenant_rls.audit_log and audit_history(), the row images those policies hide from it, deleted rows included.'),
    ('view_not_security_invoker', 'error', 'view without security_invoker',
     'A view over a tenant table (also one outside the managed schemas, and the audit log) runs with its owner''s rights: the owner''s row-level security applies, not the caller''s (a warning when the owner is bound by the same tenant policies: not a superuser, BYPASSRLS or admin role, and every table it reads protected, enabled and, if the owner''s, FORCEd).'),
    ('view_reads_catalog', 'error', 'view over catalogs that hold every tenant''s values',
     'A view that is not security_invoker, or a materialized view, reads pg_statistic, pg_statistic_ext_data or pg_largeobject (directly or through views) with the rights of an owner who may, and roles other than the owner may read it: the sample values of every column of every table (most common values, histogram bounds), every tenant''s included, or the contents of every large object, which row-level security does not guard.'),
    ('materialized_view_over_tenant_table', 'error', 'materialized view over a tenant table',
     'A materialized view stores rows of a tenant table (also one outside the managed schemas, and the audit log; directly, through views or through a function); it has no row-level security, so every reader sees every tenant.'),
    ('security_definer_reads_tenant_table', 'warning', 'SECURITY DEFINER function reads a tenant table',
     'A SECURITY DEFINER function names a tenant table (also one outside the managed schemas, and the audit log) or a view over one, calls a function that does, or runs dynamic SQL as a role that bypasses row-level security: it reads with its owner''s rights (all tenants, an error, if the owner is a superuser, has BYPASSRLS or has the privileges of tenant_rls.admin_role, or if a table it reads has no row-level security). A table that holds tenant rows without a tenant column (a foreign key to the table of tenants or to a tenant table) counts too: an error when a role other than its owner may execute it.'),
    ('security_definer_changes_isolation', 'error', 'SECURITY DEFINER function undoes tenant isolation',
     'A SECURITY DEFINER function whose owner may undo tenant isolation (a superuser, the owner of tenant tables or a member of it, a member of pg_write_all_data) calls grant_access(), unprotect(), mark_global(), allow_global_rows() or accept_finding(), or names the tables behind them, directly or through a function it calls: whoever may execute it does so with the owner''s rights, from any tenant''s session (an error when PUBLIC or an application role may execute it).'),
    ('security_definer_sets_tenant', 'error', 'SECURITY DEFINER function sets the tenant',
     'A user SECURITY DEFINER function calls tenant_rls.set_tenant() or sets app.current_tenant_id (also with set_config() of a setting name it is given, or through a function it calls): it runs as its owner, so strict mode lets it through, and whoever may call it chooses any tenant without a signed token.'),
    ('security_definer_search_path', 'error', 'privileged SECURITY DEFINER function without pg_temp last in its search_path',
     'A SECURITY DEFINER function whose owner bypasses row-level security, is the admin role, owns tenant tables or reads or writes all data, and that any role may run (PUBLIC, an application role, or a trigger anyone fires), has no search_path of its own or one that does not end with pg_temp: PostgreSQL looks up tables and views in pg_temp first unless the path names it, so a caller''s temporary table named like one the body uses, with a trigger of the caller''s, runs with the owner''s rights.'),
    ('security_definer_reads_server_data', 'error', 'SECURITY DEFINER function reads other sessions or server files',
     'A SECURITY DEFINER function that any role may run reads, with a privileged owner''s rights, what row-level security does not guard: other sessions'' statements (pg_stat_activity, pg_stat_statements), planner statistics with sample values (pg_statistic, pg_stats), large objects, or server files (pg_read_file(), pg_file_settings, COPY ... FROM a file: the configuration holds tenant_rls.signing_key), also through a function it calls.'),
    ('rule_bypasses_rls', 'error', 'rule acts on tenant tables as a role that bypasses row-level security',
     'A rule (CREATE RULE) whose actions read or change tenant tables is on a relation owned by a superuser or a BYPASSRLS role: rule actions run with that owner''s rights, security_invoker or not, so every role that may run the triggering command reaches every tenant''s rows.'),
    ('leakproof_function', 'warning', 'user function marked LEAKPROOF',
     'A user function is marked LEAKPROOF, or a built-in function that PostgreSQL does not ship as LEAKPROOF was marked so (an error): the planner evaluates it before the policy, so a leaky one (error messages such as division by zero, side channels) sees other tenants'' rows.'),
    ('role_bypassrls', 'error', 'login role with BYPASSRLS',
     'A role that can log in has BYPASSRLS, or can SET ROLE to a role that has it (membership, or CREATEROLE to grant it): every policy is ignored for its sessions.'),
    ('role_superuser_login', 'warning', 'login superuser',
     'A role other than the bootstrap superuser can log in as superuser: superusers bypass every policy.'),
    ('role_owns_tenant_table', 'error', 'login role owns tenant tables',
     'A role that can log in owns tenant tables or is a member of their owner (error), or can make itself one with CREATEROLE (warning): the owner undoes isolation with one call to unprotect() or grant_access(), which the drift guard does not refuse.'),
    ('role_replication', 'error', 'login role with REPLICATION',
     'A role that can log in has REPLICATION (or can SET ROLE to one that has): logical decoding and pg_basebackup read every tenant''s rows and the audit log without row-level security, and a base backup carries the signing key and the audit key (error when the role also has privileges on tenant tables, warning for a dedicated replication role).'),
    ('role_all_data', 'error', 'login role reads or writes all data',
     'A role that can log in is a member of pg_read_all_data or pg_write_all_data (directly or through other roles): the extension''s own tables have no row-level security, so it reads every tenant''s audit entries, or gives its tenant another tenant''s rows with an INSERT into tenant_rls.tenant_grant and rewrites the registry and the accepted findings (warning for a BYPASSRLS role that only reads: a dump role).'),
    ('role_reads_all_stats', 'error', 'application role reads every session''s statements',
     'A role that can log in and read or change tenant tables is a member of pg_read_all_stats (directly, through pg_monitor or other roles): pg_stat_activity shows it the statements every other role''s sessions run or last ran, with the values written in them, so one login role per tenant no longer keeps tenants from reading each other''s statements.'),
    ('role_createrole', 'error', 'login role with CREATEROLE',
     'A role that can log in has CREATEROLE: in PostgreSQL 15 it can grant itself any role that is not a superuser (pg_read_server_files: the signing key; pg_write_all_data: tenant_rls.tenant_grant; the role tenant_rls.admin_role names, or create that role if it does not exist; BYPASSRLS roles; the owners of tenant tables).'),
    ('role_server_files', 'error', 'login role reads or writes server files',
     'A role that can log in is a member of pg_read_server_files, pg_write_server_files or pg_execute_server_program: it reads the configuration (tenant_rls.signing_key: it forges tenant tokens), the audit key and every table''s data files, or changes them.'),
    ('catalog_privilege', 'error', 'privilege on a built-in object that reads around row-level security',
     'A role that is not a superuser (or PUBLIC) holds a privilege that PostgreSQL does not grant on a table or view of pg_catalog or pg_toast, or on some of its columns (pg_statistic holds sample values of every column, a TOAST table the values of every tenant''s wide rows), on schema pg_toast, or on a built-in function that reads server files or imports them (pg_read_file(), pg_read_binary_file(), lo_import(), pg_show_all_file_settings(): the data files of every table, and the configuration with tenant_rls.signing_key).'),
    ('key_setting_privilege', 'error', 'SET or ALTER SYSTEM granted on a signing-key setting',
     'A role that is not a superuser (or PUBLIC) holds SET or ALTER SYSTEM ON PARAMETER tenant_rls.signing_key or tenant_rls.signing_key_previous: with ALTER SYSTEM it writes a key of its choice into postgresql.auto.conf, which the next reload puts in force, and signs tokens for any tenant.'),
    ('setting_privilege', 'error', 'SET or ALTER SYSTEM granted on a setting that guards tenants',
     'A role that is not a superuser (or PUBLIC) holds SET or ALTER SYSTEM ON PARAMETER of a tenant_rls setting (other than the keys) or session_replication_role: it names itself the admin role (tenant_rls.admin_role), turns strict mode or the drift guard off, or silences the triggers (session_replication_role = replica) for its own sessions or, with ALTER SYSTEM, for all (error for those four, warning for the other tenant_rls settings).'),
    ('tenant_sequence_privilege', 'warning', 'UPDATE granted on the sequence of a tenant table',
     'A role other than the owner (or PUBLIC) holds UPDATE on a sequence a tenant table uses (serial, identity, or a column default''s nextval(), also nextval(''s''::text)), not a role with the privileges of the table''s owner nor a BYPASSRLS role no other role inherits from, or default privileges give it UPDATE on new sequences: setval() moves the sequence for every tenant, so one tenant makes the INSERTs of all others fail with unique violations, and setval() followed by an INSERT tells it whether another tenant''s row has a given key. nextval() needs only USAGE.'),
    ('tenant_table_privilege', 'error', 'TRUNCATE, TRIGGER or REFERENCES granted on a tenant table',
     'A role holds TRUNCATE (ignores row-level security), TRIGGER (a trigger sees every tenant''s new rows) or REFERENCES (a foreign key probes other tenants'' keys; also on columns) on a tenant table, or default privileges (ALTER DEFAULT PRIVILEGES ... ON TABLES) give them on the tables a role creates in a managed schema.'),
    ('foreign_key_without_tenant', 'error', 'foreign key between tenant tables without the tenant column',
     'A foreign key between two tenant tables does not pair the tenant columns, or a table that is not a tenant table references a tenant table, or a tenant table references one that is not with an ON UPDATE / ON DELETE action that changes rows: a row may reference another tenant''s row (an existence oracle), and a cascade changes another tenant''s rows.'),
    ('foreign_key_resets_tenant', 'error', 'foreign key action sets the tenant column',
     'A foreign key between tenant tables pairs the tenant columns, but its ON DELETE / ON UPDATE SET NULL or SET DEFAULT sets the tenant column too: the action ignores row-level security, so another tenant''s delete moves the rows to no tenant (readable by every tenant with global rows) or into the deleting session''s tenant (warning when SET NULL meets a NOT NULL tenant column: the delete fails).'),
    ('foreign_key_cascades_tenant', 'error', 'foreign key cascades a change of the tenant column',
     'A foreign key between tenant tables pairs the tenant columns with ON UPDATE CASCADE: the action ignores row-level security, so a tenant holding a ''write'' grant on the referenced table, which may set a granted row''s tenant to its own, moves the owner tenant''s referencing rows, in a table it holds no grant on, into its own tenant with it.'),
    ('user_mapping_bypasses_rls', 'error', 'user mapping logs in as a role that bypasses row-level security',
     'A user mapping of a postgres_fdw or dblink server, for PUBLIC or a login role, logs in as a superuser, a BYPASSRLS role or a role with the privileges of tenant_rls.admin_role: a foreign table of a server that points back at this database (a loopback "reporting" table), or dblink(), reads every tenant''s rows (warning when the server does not name this database).'),
    ('tenant_setting_default', 'error', 'default for the tenant setting',
     'ALTER ROLE, ALTER DATABASE, ALTER SYSTEM, the configuration file, a function''s SET clause or a policy''s COALESCE gives app.current_tenant_id a default: sessions run inside a tenant without setting one.'),
    ('replication_role_default', 'error', 'default of session_replication_role = replica',
     'ALTER ROLE, ALTER DATABASE, ALTER SYSTEM or the configuration file makes sessions start with session_replication_role = replica: ordinary triggers and event triggers do not fire, so nothing is audited, new tables are not protected and the drift guard is off.'),
    ('weakened_setting_default', 'error', 'stored default that turns a safeguard of tenant_rls off',
     'ALTER ROLE or ALTER DATABASE ... SET stores tenant_rls.strict = off (error), tenant_rls.drift_action = warning, tenant_rls.auto_protect = off, tenant_rls.audit = off, tenant_rls.hide_statistics = off or row_security = off (warnings) for sessions of this database: strict mode, the drift guard, auto-protection, auditing or the hiding of other tenants'' values from the planner is off for them, though the session that runs the report has it on.'),
    ('activity_values_window', 'warning', 'tenant_rls.mask_activity_values without track_activities = off',
     'ALTER ROLE or ALTER DATABASE ... SET stores tenant_rls.mask_activity_values = on for sessions of this database, but not track_activities = off: PostgreSQL shows each of their statements in pg_stat_activity as it arrives, values and all, until tenant_rls masks it at parse analysis, and a statement that waits for a lock before then (another session of the role can hold the table) shows its values for as long as it waits.'),
    ('signing_key_stored', 'error', 'signing key stored in the catalog',
     'ALTER ROLE, ALTER DATABASE or a function''s SET clause stores tenant_rls.signing_key or signing_key_previous in a catalog every role can read (the check hook refuses it only in sessions that have loaded the library): whoever reads the key signs tokens for any tenant.'),
    ('extension_owner_not_superuser', 'error', 'owner of the extension is not a superuser',
     'The role that owns tenant_rls (its tables: the registry, the cross-tenant grants, the accepted findings, the audit log) is no longer a superuser: it writes them directly, a cross-tenant grant included, and the report runs with its rights.'),
    ('event_trigger_disabled', 'error', 'tenant_rls event trigger disabled or missing',
     'An event trigger of the extension is disabled, set to ENABLE REPLICA, dropped, or replaced by one that is not the extension''s: new tenant tables are not protected automatically, the drift guard does not stop DISABLE ROW LEVEL SECURITY, NO FORCE or DROP POLICY, and the registry misses drops and renames.'),
    ('extension_privilege', 'error', 'privilege on an object of tenant_rls beyond a plain install',
     'A role other than the owner holds a privilege on a table, partition, view or sequence of schema tenant_rls (INSERT on tenant_grant is a cross-tenant read, SELECT on an audit partition shows every tenant''s entries) or CREATE on the schema (an overload captures calls); EXECUTE on a function a plain install leaves to the owner is reported as info (as warning when granted to PUBLIC).'),
    ('large_objects_present', 'warning', 'large objects present',
     'The database has large objects: they have no row-level security and no tenant.'),
    ('audit_guard_not_always', 'warning', 'audit log guard not ENABLE ALWAYS',
     'A guard trigger of the audit log (or the oid fix-up of audit_config) is not ENABLE ALWAYS, as ALTER TABLE ... ENABLE TRIGGER ALL after pg_restore --disable-triggers leaves it: a session with session_replication_role = replica, or any session if it is disabled, can then change or delete log entries.'),
    ('publication_includes_tenant_table', 'error', 'publication includes tenant tables',
     'A publication (FOR TABLE, FOR TABLES IN SCHEMA or FOR ALL TABLES) includes a tenant table or a table of schema tenant_rls: logical replication ignores row-level security, so every subscriber receives every tenant''s rows (error when it includes the audit log, the cross-tenant grants or another table of tenant_rls, warning for tenant tables).'),
    ('subscription_audit_not_always', 'warning', 'audit trigger of a subscription''s table not ENABLE ALWAYS',
     'A table that a subscription replicates into is audited, but its audit triggers are not ENABLE ALWAYS: the apply worker runs with session_replication_role = replica, so the changes it applies are not recorded in the audit log.'),
    ('subscription_owner_subject_to_rls', 'error', 'subscription owner subject to row-level security',
     'A subscription replicates into tables with row-level security and its owner is neither a superuser nor BYPASSRLS: the PostgreSQL 15 apply worker fails on every change ("cannot replicate into relation with row-level security enabled") and retries for ever; nothing is replicated and the publisher''s slot retains WAL.'),
    ('walsender_without_replication', 'error', 'walsender of a role without REPLICATION',
     'A walsender (a replication connection: a standby, pg_basebackup, a subscription or logical decoding) runs as a role that no longer has REPLICATION: ALTER ROLE ... NOREPLICATION does not end the connections the role already has, so it keeps streaming every tenant''s rows until they are terminated.'),
    ('tenant_table_unlogged', 'warning', 'tenant table UNLOGGED',
     'A tenant table is UNLOGGED: after a crash it is emptied while the audit log still records its rows, a standby does not have its rows (a failover loses them) and publications do not replicate it.'),
    ('audit_partition_missing', 'warning', 'audit log partition of this or next month missing',
     'The audit log (tenant_rls.audit_batch) has no partition for the current or the next month (UTC): batches of that month go to the default partition, which audit_purge() cannot drop by whole months (audit_maintain() moves them into the month''s partition when it creates it).'),
    ('audit_delivery_inactive', 'warning', 'deferred audit delivery configured but not running',
     'tenant_rls.audit_delivery = deferred is set for a role, this database or in the configuration file, but deferred delivery does not run in this database (not started, or the library is not preloaded): audited changes are written in the committing transaction, at the full cost.'),
    ('audit_delivery_stalled', 'warning', 'deferred audit delivery stalled',
     'The replication slot of deferred audit delivery of this database exists but no delivery worker runs or the slot is not in use: the slot retains WAL until the disk is full, and changes committed since are not in the audit log.'),
    ('audit_delivery_held', 'warning', 'an open transaction holds back deferred audit delivery',
     'A transaction that wrote deferred audit messages has not ended for 5 minutes, or the WAL kept for it passed 64 MB: the slot of deferred delivery keeps the WAL from its first audited change until it commits or rolls back (a prepared transaction can keep it for ever), and audit_delivery_stop() waits for it.'),
    ('audit_delivery_lost', 'error', 'deferred audit delivery lost its replication slot',
     'Deferred audit delivery was started in this database and not stopped, but its replication slot is not there (a failover to a standby, a restored base backup, a copy of the database or a dropped slot): changes committed before the slot went that were not delivered yet are not in the audit log, and audit_verify() cannot see entries that were never written.'),
    ('audit_delivery_key_mismatch', 'error', 'this server''s deferred delivery key is not the one delivery was started with',
     'Deferred audit delivery signs every message in the WAL with the key in $PGDATA/tenant_rls_audit.key of the server that writes it. This server holds another key than the one delivery was started with (a standby that created a key of its own at its first start with the library, or a key file replaced or lost): after a failover to it, or a restart of it, the changes committed and not delivered yet are rejected as forged and never reach the audit log.'),
    ('audit_delivery_wal_missing', 'error', 'a standby no longer holds the WAL its primary''s deferred delivery reads from',
     'This standby''s pg_wal lacks WAL from the position where deferred audit delivery of this database reads on the primary (audit_delivery_state.restart_lsn), or holds it only until a promotion, whose checkpoint keeps no more than wal_keep_size before the position it was promoted at: the primary''s replication slot keeps that WAL there only. After a failover to this standby, the changes the primary committed and had not delivered cannot be delivered and never reach the audit log, which audit_verify() cannot see.'),
    ('strict_mode_off', 'warning', 'strict mode not in force',
     'tenant_rls strict mode is off or the library is not preloaded: any session (or SQL injection) can SET app.current_tenant_id to another tenant.'),
    ('managed_schema_missing', 'warning', 'tenant_rls.managed_schemas names no existing schema, or a reserved one',
     'An entry of tenant_rls.managed_schemas (as this session sees it) names no schema: a misspelling, or a mixed-case name without double quotes. The schema it was meant to name is not managed: its new tenant tables are not protected automatically and the report does not look at its tables as managed. An entry that names a reserved schema (pg_catalog, information_schema, another pg_ schema, tenant_rls) is left out.'),
    ('server_version_cve', 'error', 'server version with known row-security CVEs',
     'This PostgreSQL minor release has known vulnerabilities that bypass or leak through row-level security.'),
    ('table_outside_managed_schemas', 'warning', 'table with the tenant column outside the managed schemas',
     'A table (also a foreign table) outside tenant_rls.managed_schemas has the tenant column and a role other than its owner may read or change it (a privilege on the table or on some of its columns), or its owner is a login role or has login members (the application''s own copy): nothing protects its rows (a copy that a trigger fills, an archive, a reporting feed).'),
    ('trigger_writes_unprotected_table', 'error', 'trigger on a tenant table writes to a table without tenant isolation',
     'A trigger function on a tenant table (or a user function it calls, at any depth), a rule''s action, or a function that a trigger''s WHEN clause, a CHECK constraint, a column default, an index, a policy or a domain of the table calls, writes by name (INSERT, UPDATE, MERGE, COPY) to a table that isolates no tenant: a global table, one without the tenant column, or one outside tenant_rls.managed_schemas. What it copies from a tenant''s row there is readable by every role that may read that table (a PL/pgSQL change log, an activity feed): an error when a role other than its owner (not a superuser), or PUBLIC, may read it (directly, or through a view that is not security_invoker; written through a view: the tables the rows land in), a warning otherwise.'),
    ('trigger_notifies', 'warning', 'trigger or rule on a tenant table sends NOTIFY',
     'A trigger function (pg_notify() or NOTIFY), a rule (NOTIFY, pg_notify()), or a trigger''s WHEN clause, a CHECK constraint, a column default, an index, a policy or a domain of a tenant table (pg_notify(), or a function that notifies) sends notifications: LISTEN needs no privilege and notifications have no row-level security, so every tenant''s sessions that listen on the channel receive what it sends.'),
    ('dependency_owned_by_other_role', 'error', 'tenant table uses code another role owns',
     'A function, domain, type, operator, operator class or sequence that a tenant table uses (a column''s type, a constraint, an index, a column default, a policy, a trigger, a rule, a statistics object; a function those call at any depth; a domain under a domain and their CHECKs; the sequences its INSERTs take ids from) is owned by a role that is neither a superuser nor the table''s owner or a member of it: that role changes it at will, and the table runs its code on every tenant''s rows (error when an application role owns it or is a member of its owner, warning otherwise).'),
    ('event_trigger_function_owner', 'error', 'event trigger runs a function another role owns',
     'A user event trigger runs a function owned by a role that is not a superuser: event triggers run as whoever runs the DDL, often a superuser (a migration), so the function''s owner, or a member of it, rewrites the function and runs its code with that role''s rights (ALTER ROLE ... BYPASSRLS, grants of every tenant''s rows; error when a login role is a member of its owner, warning otherwise).'),
    ('schema_create_privilege', 'warning', 'application role may create objects in a schema',
     'A login role with privileges on tenant tables may create objects in a schema (CREATE granted, to it or PUBLIC, or it owns the schema): from an injected statement it plants a function or operator that a session of another tenant resolves through its search_path and runs with that tenant''s rights.'),
    ('role_tenant_admin', 'warning', 'login role with the tenant_rls admin role',
     'A role that can log in has the privileges of the role tenant_rls.admin_role names (in this session, or as stored with ALTER ROLE / ALTER DATABASE ... SET or in the configuration files): policies let it read and change every tenant''s rows, and strict mode lets it set any tenant.'),
    ('table_without_tenant_column', 'warning', 'table without tenant column and not global',
     'A table in a managed schema has no tenant column and is not marked global: nobody decided whether it is shared. A table whose foreign key references the table the tenant columns reference (the table of tenants) or a tenant table holds tenant rows: an error when a role other than its owner (not a superuser), or PUBLIC, may read it.'),
    ('tenant_type_mismatch', 'error', 'tenant column of a type that cannot hold the tenants of tenant_rls.tenant_type',
     'The tenant column''s type cannot hold every value tenant_rls.tenant_type admits (a bigint or integer column where tenants are uuids, an integer column where they are bigints; a text column holds anything): the typed accessor the policies call refuses the tenant of every session, so every query of a tenant on the protected table fails (a warning for a table not protected yet).'),
    ('tenant_row_type_column', 'error', 'column holds whole rows of a tenant table',
     'A table that tenant_rls does not protect has a column whose type is the row type of a tenant table (or an array, a domain or a composite type built on it): each value is a whole row of some tenant, tenant column included, and whoever reads the table reads the rows of every tenant.'),
    ('global_table_has_tenant_column', 'warning', 'global table with the tenant column',
     'A table marked global (mark_global()) has the tenant column: every tenant reads and changes all its rows, which the column says belong to tenants (unprotect() followed by mark_global() leaves such a table). A table whose primary key is the tenant column alone, the table of tenants, is not reported.'),
    ('registry_stale', 'warning', 'registry row without table',
     'The registry lists a table that no longer exists.')
$$;

-- ---- the tables the report looks at
CREATE FUNCTION tenant_rls._tables(
        OUT relid oid, OUT schema_name name, OUT table_name name, OUT qname text,
        OUT relkind "char", OUT kind text, OUT parent_relid oid, OUT parent_qname text,
        OUT in_managed_schema boolean, OUT status text, OUT global_rows boolean,
        OUT tenant_column name, OUT tenant_attnum int2, OUT tenant_type text, OUT tenant_notnull boolean,
        OUT rls_enabled boolean, OUT rls_forced boolean, OUT owner oid, OUT relacl aclitem[])
    RETURNS SETOF record
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'tenant_rls_tables';
COMMENT ON FUNCTION tenant_rls._tables() IS
    'internal: the tables of the managed schemas, the registered ones and all their partitions and children (coverage_tables.c)';
REVOKE ALL ON FUNCTION tenant_rls._tables() FROM PUBLIC;

-- Why protect() would refuse a table (its tenant column's type, collation or
-- identity, a reserved policy name, a partition or child it cannot protect),
-- or NULL: a finding whose fix would only fail gives none, and says why
CREATE FUNCTION tenant_rls._protect_refusal(relid oid, column_name name) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_protect_refusal';
COMMENT ON FUNCTION tenant_rls._protect_refusal(oid, name) IS
    'internal: why protect() would refuse this table and tenant column, or NULL (policy.c)';
REVOKE ALL ON FUNCTION tenant_rls._protect_refusal(oid, name) FROM PUBLIC;

-- a list of identifiers (a search_path) as PostgreSQL reads it
CREATE FUNCTION tenant_rls._split_identifiers(list text) RETURNS text[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_split_identifiers';
COMMENT ON FUNCTION tenant_rls._split_identifiers(text) IS
    'internal: a list of identifiers as PostgreSQL reads a search_path, or NULL (coverage.c)';
REVOKE ALL ON FUNCTION tenant_rls._split_identifiers(text) FROM PUBLIC;

-- The names of columns attnums of relid, quoted, in the order given, without
-- column skip: the column lists of a foreign key the fixes re-create
CREATE FUNCTION tenant_rls._column_list(relid oid, attnums int2[], skip int2 DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.i)
      FROM generate_subscripts(attnums, 1) k(i)
      JOIN pg_attribute a ON a.attrelid = relid AND a.attnum = attnums[k.i]
     WHERE skip IS NULL OR attnums[k.i] <> skip
    $$;
REVOKE ALL ON FUNCTION tenant_rls._column_list(oid, int2[], int2) FROM PUBLIC;

-- A fix the drift guard would refuse (a DROP POLICY of a tenant_rls_*
-- policy), in a DO block that sets tenant_rls.drift_action to warning for
-- those statements only (a superuser's fix; the guard logs a warning).
CREATE FUNCTION tenant_rls._drift_allowed(sql text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT format('DO %s DECLARE prev text := current_setting(%L); BEGIN '
                  'PERFORM set_config(%L, %L, true); %s '
                  'PERFORM set_config(%L, prev, true); END %s;',
                  tag, 'tenant_rls.drift_action', 'tenant_rls.drift_action', 'warning', sql,
                  'tenant_rls.drift_action', tag)
      -- the dollar quote's tag: one the statement does not contain (a table
      -- or policy named with "$fix$" in it would end the quote there, and
      -- the rest of its name would run as SQL in the fixing superuser's
      -- session)
      FROM (SELECT (SELECT '$fix' || CASE WHEN n = 0 THEN '' ELSE n::text END || '$'
                      FROM generate_series(0, length(sql)) n
                     WHERE strpos(sql, '$fix' || CASE WHEN n = 0 THEN '' ELSE n::text END || '$') = 0
                     ORDER BY n LIMIT 1) AS tag) x
$$;
REVOKE ALL ON FUNCTION tenant_rls._drift_allowed(text) FROM PUBLIC;

-- The SQL that puts a managed policy back as the registry defines it:
--   mode 'create'  CREATE POLICY (it was dropped)
--   mode 'alter'   ALTER POLICY ... TO ... USING ... WITH CHECK (roles or
--                  expressions edited)
--   mode 'replace' DROP POLICY + CREATE POLICY (command or permissive changed)
-- The drift guard (event triggers) lets a policy be created again and
-- accepts an ALTER POLICY that restores the recorded definition, but refuses
-- any DROP of a managed policy; 'replace' therefore runs in a DO block that
-- sets tenant_rls.drift_action to warning for those statements only (a
-- superuser's fix; the guard logs a warning).
CREATE FUNCTION tenant_rls._restore_policy(qname text, polname name, def jsonb, mode text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN mode IN ('create', 'alter') THEN y.sql ELSE tenant_rls._drift_allowed(y.sql) END
      FROM (SELECT CASE mode WHEN 'replace' THEN format('DROP POLICY IF EXISTS %I ON %s; ', polname, qname) ELSE '' END
                || CASE WHEN mode = 'alter' THEN format('ALTER POLICY %I ON %s', polname, qname)
                        ELSE format('CREATE POLICY %I ON %s AS %s FOR %s', polname, qname,
                                    CASE WHEN coalesce((def ->> 'permissive')::boolean, true) THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                                    CASE def ->> 'cmd' WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                                       WHEN 'd' THEN 'DELETE' ELSE 'ALL' END) END
                || format(' TO %s%s%s;',
                          coalesce((SELECT string_agg(CASE WHEN lower(r) = 'public' THEN 'PUBLIC'
                                                           ELSE coalesce(to_regrole(r)::text, quote_ident(r)) END, ', ')
                                      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(def -> 'roles') = 'array'
                                                                          THEN def -> 'roles' END) r), 'PUBLIC'),
                          CASE WHEN def ->> 'qual' IS NOT NULL THEN format(' USING (%s)', def ->> 'qual') ELSE '' END,
                          CASE WHEN def ->> 'with_check' IS NOT NULL THEN format(' WITH CHECK (%s)', def ->> 'with_check') ELSE '' END)
                   AS sql) y
$$;
REVOKE ALL ON FUNCTION tenant_rls._restore_policy(text, name, jsonb, text) FROM PUBLIC;

CREATE FUNCTION tenant_rls._expr_text_equal(a text, b text) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_expr_text_equal';
COMMENT ON FUNCTION tenant_rls._expr_text_equal(text, text) IS
    'are two deparsed expressions equal, ignoring white space and parentheses (NULL equals NULL)';

CREATE FUNCTION tenant_rls._column_acls(OUT attrelid oid, OUT attacl aclitem[])
    RETURNS SETOF record
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_column_acls';
COMMENT ON FUNCTION tenant_rls._column_acls() IS
    'internal: the columns with privileges of their own (pg_attribute.attacl), read in one scan (coverage_tables.c)';
REVOKE ALL ON FUNCTION tenant_rls._column_acls() FROM PUBLIC;

CREATE FUNCTION tenant_rls._cid_lt(a cid, b cid) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_cid_lt';
COMMENT ON FUNCTION tenant_rls._cid_lt(cid, cid) IS 'internal: is command id a before b';

CREATE FUNCTION tenant_rls._policies_with_combo_cid() RETURNS SETOF oid
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'tenant_rls_policies_with_combo_cid';
COMMENT ON FUNCTION tenant_rls._policies_with_combo_cid() IS
    'internal: the policies whose pg_policy row has a combo command id (its cmin is not a command id)';
REVOKE ALL ON FUNCTION tenant_rls._policies_with_combo_cid() FROM PUBLIC;

CREATE FUNCTION tenant_rls._key_is_generated(relid oid, key int2[]) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'tenant_rls_key_is_generated';
COMMENT ON FUNCTION tenant_rls._key_is_generated(oid, int2[]) IS
    'internal: are all columns of this index key identity or serial columns, or random uuids by default';
REVOKE ALL ON FUNCTION tenant_rls._key_is_generated(oid, int2[]) FROM PUBLIC;

-- The row triggers that call tenant_rls.audit_trigger(), and whether each
-- is exactly the one enable_audit() creates (AFTER INSERT OR UPDATE OR
-- DELETE FOR EACH ROW, tgtype 29, named tenant_rls_audit, no WHEN, column
-- list or arguments; audit_trigger() refuses to run from any other: audit.c,
-- check_audit_trigger()).  For _findings() and coverage().
CREATE FUNCTION tenant_rls._audit_row_triggers(
        OUT tgrelid oid, OUT tgname name, OUT tgenabled "char", OUT tgparentid oid, OUT exact boolean)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT tg.tgrelid, tg.tgname, tg.tgenabled, tg.tgparentid,
           tg.tgname = 'tenant_rls_audit' AND tg.tgtype = 29 AND tg.tgqual IS NULL
           AND tg.tgnargs = 0 AND cardinality(tg.tgattr::int2[]) = 0
           AND tg.tgconstraint = 0 AND NOT tg.tgdeferrable AND NOT tg.tginitdeferred
      FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
     WHERE p.pronamespace = 'tenant_rls'::regnamespace AND p.proname = 'audit_trigger'
       AND (tg.tgtype::int & 1) = 1
    $$;
COMMENT ON FUNCTION tenant_rls._audit_row_triggers() IS
    'internal: the row triggers calling audit_trigger(), and whether each is the one enable_audit() creates';

-- Does a function body (of language lang) run SQL built at run time, whose
-- table names the report cannot see: EXECUTE and the SPI calls of the
-- procedural languages, in any language the built-in functions that run a
-- query given as text (also called by a quoted name) and those of contrib's
-- tablefunc and xml2 (crosstab(), connectby(), xpath_table()), a DO block
-- (which a LANGUAGE sql body may run), and identifiers written with Unicode
-- escapes (U&"\0061"), which the report cannot match (review rev32b).
CREATE FUNCTION tenant_rls._runs_dynamic_sql(lang name, body text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
    SELECT (lang NOT IN ('sql', 'internal', 'c')
            AND lower(body) ~ '\m(execute|spi_exec|spi_exec_query|spi_query|spi_prepare|spi_exec_prepared|spi_query_prepared|spi_execp)\M|plpy\.cursor')
        OR lower(body) ~ '\m(query_to_xml|query_to_xml_and_xmlschema|query_to_xmlschema|cursor_to_xml|table_to_xml|table_to_xml_and_xmlschema|table_to_xmlschema|schema_to_xml|schema_to_xml_and_xmlschema|schema_to_xmlschema|database_to_xml|database_to_xml_and_xmlschema|database_to_xmlschema|ts_stat|ts_rewrite|dblink|dblink_exec|dblink_open|dblink_send_query|crosstab|crosstab2|crosstab3|crosstab4|connectby|xpath_table)"?\s*\('
        -- a DO block, also in a LANGUAGE sql body: PL/pgSQL run as the definer
        OR lower(body) ~ '\mdo\s+(e?''|\$|language\M)'
        OR lower(body) ~ 'u&"'
    $$;
COMMENT ON FUNCTION tenant_rls._runs_dynamic_sql(name, text) IS
    'internal: does a function body run SQL built at run time (security_definer_reads_tenant_table)';

-- The identifiers a function body names, to match against table and
-- function names: unquoted words (ASCII letters folded to lower case, as the
-- parser does; any non-ASCII character is part of a word) and quoted
-- identifiers ("Order Items", "a ""b""") exactly.
CREATE FUNCTION tenant_rls._body_words(body text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 200
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
    SELECT w.word
      FROM regexp_split_to_table(lower(body), '[\x01-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]+') w(word)
     WHERE w.word <> ''
    UNION
    SELECT replace(q.m[1], '""', '"') FROM regexp_matches(body, '"((?:[^"]|"")+)"', 'g') q(m)
    $$;
COMMENT ON FUNCTION tenant_rls._body_words(text) IS
    'internal: the identifiers a function body names (security_definer_reads_tenant_table)';

-- A function body without its string literals and comments (replaced by a
-- space): what the body checks that look for statements read.
CREATE FUNCTION tenant_rls._code_text(body text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(body,
               '''(?:[^'']|'''')*''', ' ', 'g'),   -- string literals
               '--[^\n]*', ' ', 'g'),                  -- comments
               '/\*.*?\*/', ' ', 'g')
    $$;
COMMENT ON FUNCTION tenant_rls._code_text(text) IS
    'internal: a function body without string literals and comments (lint())';

-- The relations a function body writes by name: the name after INSERT INTO,
-- UPDATE, MERGE INTO, COPY, DELETE FROM or TRUNCATE (each name of its
-- list), outside string literals and comments, its schema when it is
-- qualified (else NULL), and that statement's first word (verb); unquoted
-- names folded to lower case as the parser does, quoted ones exact.  For
-- _trigger_calls() (every verb), and trigger_writes_unprotected_table and
-- security_definer_changes_isolation (the writes that add or change rows).
CREATE FUNCTION tenant_rls._written_names(body text, OUT schema_name text, OUT rel_name text, OUT verb text)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 4
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
    SELECT DISTINCT
           CASE WHEN n.m[1] IS NULL THEN NULL
                WHEN left(n.m[1], 1) = '"' THEN replace(substr(n.m[1], 2, length(n.m[1]) - 2), '""', '"')
                ELSE lower(n.m[1]) END,
           CASE WHEN left(n.m[2], 1) = '"' THEN replace(substr(n.m[2], 2, length(n.m[2]) - 2), '""', '"')
                ELSE lower(n.m[2]) END,
           x.verb
      FROM (SELECT tenant_rls._code_text(body) AS code) b,
           LATERAL (SELECT w[2], lower(substring(w[1] FROM '^[a-zA-Z]+'))
                      FROM regexp_matches(b.code,
                               '\m(insert\s+into|update|merge\s+into|copy|delete\s+from|truncate(?:\s+table)?)\s+(?:only\s+)?'
                               '((?:(?:"(?:[^"]|"")+"|[^\s"().,;]+)\s*\.\s*)?(?:"(?:[^"]|"")+"|[^\s"().,;]+))', 'gi') w
                    UNION ALL
                    -- each name of TRUNCATE a, b, ... (review rev40g: only the first; the
                    -- scan goes from name to name, so a comma inside quotes is no separator)
                    SELECT e[1], 'truncate'
                      FROM regexp_matches(b.code,
                               '\mtruncate(?:\s+table)?\s+((?:only\s+)?(?:(?:"(?:[^"]|"")+"|[^\s"().,;]+)\s*\.\s*)?(?:"(?:[^"]|"")+"|[^\s"().,;]+)\s*\*?'
                               '(?:\s*,\s*(?:only\s+)?(?:(?:"(?:[^"]|"")+"|[^\s"().,;]+)\s*\.\s*)?(?:"(?:[^"]|"")+"|[^\s"().,;]+)\s*\*?)+)', 'gi') t,
                           regexp_matches(t[1], '(?:^|,)\s*(?:only\s+)?((?:(?:"(?:[^"]|"")+"|[^\s"().,;]+)\s*\.\s*)?(?:"(?:[^"]|"")+"|[^\s"().,;]+))', 'gi') e
                   ) x(name, verb),
           LATERAL (SELECT regexp_match(x.name, '^(?:("(?:[^"]|"")+"|[^\s"().,;]+)\s*\.\s*)?("(?:[^"]|"")+"|[^\s"().,;]+)$') AS m) n
    $$;
COMMENT ON FUNCTION tenant_rls._written_names(text) IS
    'internal: the relations a function body writes by name, with their schema if given, and the statement (insert, update, merge, copy, delete, truncate; lint())';

-- The sequences a column default names in text to nextval() (review rev50a):
-- nextval('s'::text), which PostgreSQL records no dependency for and
-- resolves at each INSERT (text to regclass, with the inserting session's
-- search_path).  From the default's deparsed text (pg_get_expr(), with
-- standard_conforming_strings on: a literal is '...' with '' for a quote):
-- each nextval() whose argument is a string literal, cast one or more times
-- to a string type (text, varchar, char, name; review rev51a: also nested,
-- ('s'::text)::varchar(30)), then cast to regclass or (review rev51a)
-- passed to to_regclass(), which splits and looks the name up as the cast
-- does (a name it does not find gives NULL, and nextval(NULL) no id); its
-- name split as text_regclass() splits it (SplitIdentifierString() on '.':
-- an unquoted part runs to the next '.' or white space, any other character
-- included, and is folded to lower case, ASCII letters only; a quoted one is
-- exact; each is truncated to 63 bytes; white space is a space, tab,
-- newline, carriage return or form feed; a database name before the schema
-- dropped), its schema NULL when not given.  A name PostgreSQL would refuse
-- gives nothing (the INSERT fails), and nothing here raises an error
-- (review rev50e: parse_ident() accepted less than text_regclass(),
-- "inv-seq" or a name of more than 63 bytes, and raised an error on a
-- vertical tab the guard took for white space: lint() failed).
CREATE FUNCTION tenant_rls._nextval_names(expr text, OUT schema_name text, OUT rel_name text)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1
    SET search_path = pg_catalog, pg_temp
    SET standard_conforming_strings = on
    AS $$
    SELECT CASE WHEN cardinality(p.parts) > 1 THEN p.parts[cardinality(p.parts) - 1] END,
           p.parts[cardinality(p.parts)]
      FROM -- m[1]: to_regclass( or not; m[2]: the literal; m[3]: its casts,
           -- ::t1)::t2 ...; m[4]: what closes nextval(), )::regclass) after
           -- the casts, )) after to_regclass()'s
           regexp_matches(expr,
               '\mnextval\((?:(to_regclass)\(\(*|\(+)''((?:[^'']|'''')*)'''
               '(::(?:text|character varying|character|bpchar|name)(?:\(\d{1,8}\))?'
               '(?:\)::(?:text|character varying|character|bpchar|name)(?:\(\d{1,8}\))?)*)'
               '(\)::regclass\)|\)\))', 'g') m,
           -- the string as the casts leave it at each INSERT, one after the
           -- other: varchar(n) and char(n) cut it to n characters, name to
           -- 63 bytes; char's trailing spaces go when it becomes text,
           -- varchar or name (after the cut to 63 bytes)
           LATERAL (WITH RECURSIVE
                    k AS (SELECT c.c[1] AS typ, c.c[2]::int AS n, c.i
                            FROM regexp_matches(m[3], '::(text|character varying|character|bpchar|name)(?:\((\d{1,8})\))?', 'g')
                                 WITH ORDINALITY c(c, i)),
                    f(i, s, b) AS (
                        SELECT 0::bigint, replace(m[2], '''''', ''''), false
                        UNION ALL
                        SELECT k.i,
                               CASE WHEN k.typ IN ('text', 'character varying')
                                    THEN left(CASE WHEN f.b THEN rtrim(f.s, ' ') ELSE f.s END, coalesce(k.n, length(f.s)))
                                    WHEN k.typ = 'character' THEN left(f.s, coalesce(k.n, length(f.s)))
                                    WHEN k.typ = 'bpchar' THEN f.s
                                    WHEN f.b THEN rtrim(f.s::name::text, ' ')
                                    ELSE f.s::name::text END,
                               k.typ IN ('character', 'bpchar')
                          FROM f JOIN k ON k.i = f.i + 1)
                    SELECT CASE WHEN f.b THEN rtrim(f.s, ' ') ELSE f.s END AS lit
                      FROM f ORDER BY f.i DESC LIMIT 1) l,
           -- one to three parts separated by '.', white space around each
           LATERAL (SELECT ARRAY(SELECT (CASE WHEN left(t.m[1], 1) = '"'
                                              THEN replace(substr(t.m[1], 2, length(t.m[1]) - 2), '""', '"')
                                              ELSE translate(t.m[1], 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                                     'abcdefghijklmnopqrstuvwxyz') END)::name::text
                                   FROM regexp_matches(l.lit, '"(?:[^"]|"")*"|[^ \t\n\r\f."][^ \t\n\r\f.]*', 'g')
                                        WITH ORDINALITY t(m, n)
                                  ORDER BY t.n) AS parts
                     WHERE l.lit ~ ('^[ \t\n\r\f]*(?:"(?:[^"]|"")*"|[^ \t\n\r\f."][^ \t\n\r\f.]*)[ \t\n\r\f]*'
                                    '(?:\.[ \t\n\r\f]*(?:"(?:[^"]|"")*"|[^ \t\n\r\f."][^ \t\n\r\f.]*)[ \t\n\r\f]*){0,2}$')) p
     WHERE (m[1] IS NULL) = (m[4] = ')::regclass)')
    $$;
COMMENT ON FUNCTION tenant_rls._nextval_names(text) IS
    'internal: the sequences a column default names as text to nextval(), with their schema if given (lint())';

-- audit_delivery_wal_missing: how many of the WAL segments first_seg ..
-- last_seg (numbered from the start of the WAL, seg_size bytes each) are in
-- pg_wal, on any timeline; NULL when the caller may not list pg_wal
-- (pg_ls_waldir(): superuser or pg_monitor).  PL/pgSQL: PostgreSQL checks
-- the EXECUTE privilege of a function when the plan that calls it starts,
-- called or not, so a guard in lint()'s own query did not keep a demoted
-- extension owner's lint() from failing (review of rev50d's change).
CREATE FUNCTION tenant_rls._wal_segments_present(first_seg bigint, last_seg bigint, seg_size bigint)
    RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT has_function_privilege('pg_catalog.pg_ls_waldir()', 'EXECUTE') THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT count(DISTINCT f.segno)
              FROM (SELECT ('x' || lpad(substr(wd.name, 9, 8), 16, '0'))::bit(64)::bigint
                           * (4294967296 / seg_size)
                           + ('x' || lpad(substr(wd.name, 17, 8), 16, '0'))::bit(64)::bigint AS segno
                      FROM pg_catalog.pg_ls_waldir() wd
                     WHERE wd.name ~ '^[0-9A-F]{24}$') f
             WHERE f.segno BETWEEN first_seg AND last_seg);
END
$$;
COMMENT ON FUNCTION tenant_rls._wal_segments_present(bigint, bigint, bigint) IS
    'internal: how many of the given WAL segments are in pg_wal, NULL without the privilege to list it (lint())';

-- How a finding names a part of a tenant table that uses code (a pg_depend
-- depender: a trigger, rule, policy, constraint, column default, index,
-- column, or the table itself): its object, object kind, and the words that
-- start a message.  qname: the table, as the findings name it.
CREATE FUNCTION tenant_rls._table_part(classid oid, objid oid, objsubid integer, qname text,
                                       OUT object text, OUT kind text, OUT what text)
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    -- (catalog lookups by OID in C: a SQL function's union of every kind cost
    -- 30 us a finding, PL/pgSQL's lookups 15 us)
    AS 'MODULE_PATHNAME', 'tenant_rls_table_part';
COMMENT ON FUNCTION tenant_rls._table_part(oid, oid, integer, text) IS
    'internal: how lint() names the trigger, rule, policy, constraint, default, index or column of a tenant table that uses code';

-- The user functions an object runs through the operators and casts it uses
-- (review rev30c: a SECURITY DEFINER function or a materialized view that
-- calls a reading function as an operator or a cast): in a stored tree
-- (BEGIN ATOMIC, a rule) by its dependency on the operator (a cast with a
-- function is a call of that function there, a dependency on pg_proc); in a
-- body kept as text (body not NULL) the user operators whose names it
-- contains and the casts with a user function to a type it names.
CREATE FUNCTION tenant_rls._operator_calls(cls oid, obj oid, body text) RETURNS SETOF oid
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 4
    SET search_path = pg_catalog, pg_temp
    SET enable_nestloop = on
    AS $$
    SELECT o.oprcode::oid
      FROM pg_depend d JOIN pg_operator o ON o.oid = d.refobjid
     WHERE d.classid = cls AND d.objid = obj AND d.refclassid = 'pg_operator'::regclass
       AND o.oprcode::oid >= 16384
    UNION
    -- (user operators and casts only: the oid index, nothing to read without them)
    SELECT o.oprcode::oid
      FROM pg_operator o
     WHERE body IS NOT NULL AND o.oid >= 16384 AND o.oprcode::oid >= 16384
       AND strpos(body, o.oprname::text) > 0
    UNION
    SELECT c.castfunc
      FROM pg_cast c JOIN pg_type t ON t.oid = c.casttarget
     WHERE body IS NOT NULL AND c.oid >= 16384 AND c.castfunc >= 16384
       AND lower(t.typname::text) IN (SELECT w.w FROM tenant_rls._body_words(body) w(w))
    $$;
COMMENT ON FUNCTION tenant_rls._operator_calls(oid, oid, text) IS
    'internal: the user functions an object runs through the operators and casts it uses';

-- A view and what its rule reads, through the views it reads, at any depth
-- (review rev30c: what reading it runs, where a write through it goes)
CREATE FUNCTION tenant_rls._view_reach(viewid oid, OUT relid oid, OUT relkind "char") RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 4
    SET search_path = pg_catalog, pg_temp
    SET enable_nestloop = on
    AS $$
    WITH RECURSIVE v(oid, relkind) AS (
        SELECT viewid, 'v'::"char"
        UNION
        SELECT d.refobjid, c.relkind
          FROM v
          JOIN pg_rewrite r ON r.ev_class = v.oid
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid
          JOIN pg_class c ON c.oid = d.refobjid
         WHERE v.relkind = 'v')
    SELECT v.oid, v.relkind FROM v
    $$;
COMMENT ON FUNCTION tenant_rls._view_reach(oid) IS
    'internal: a view and the relations it reads, also through the views it reads';

-- The user functions a view runs when it is read: those its rule and the
-- rules of the views it reads call (by dependency, through operators); a
-- materialized view or a SECURITY DEFINER function reading it runs them
-- with its owner's rights
CREATE FUNCTION tenant_rls._view_calls(viewid oid) RETURNS SETOF oid
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 4
    SET search_path = pg_catalog, pg_temp
    SET enable_nestloop = on
    AS $$
    WITH r AS MATERIALIZED (
        SELECT r.oid
          FROM tenant_rls._view_reach(viewid) v
          JOIN pg_rewrite r ON r.ev_class = v.relid
         WHERE v.relkind = 'v')
    SELECT d.refobjid
      FROM r
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                      AND d.refclassid = 'pg_proc'::regclass AND d.refobjid >= 16384
    UNION
    SELECT x.x FROM r CROSS JOIN LATERAL tenant_rls._operator_calls('pg_rewrite'::regclass, r.oid, NULL) x(x)
    $$;
COMMENT ON FUNCTION tenant_rls._view_calls(oid) IS
    'internal: the user functions a view runs when it is read, also through the views it reads';

-- The user functions of the triggers that a body's writes fire (review
-- rev39 lint F2, F3): those on each relation it writes by name (in the
-- schema given, in any schema for an unqualified name), and for a view those
-- on the relations it writes through.  They run as whoever wrote: a
-- SECURITY DEFINER function's owner, or the trigger's caller, whose own
-- trigger writing a view with an INSTEAD OF trigger copied tenant rows on.
CREATE FUNCTION tenant_rls._trigger_calls(body text) RETURNS SETOF oid
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 4
    SET search_path = pg_catalog, pg_temp
    SET enable_nestloop = on
    AS $$
    WITH r AS MATERIALIZED (
        -- (the trigger events each statement may fire, as pg_trigger.tgtype
        -- bits: INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32: an INSERT ... ON
        -- CONFLICT DO UPDATE fires UPDATE triggers, an UPDATE that moves a
        -- row to another partition DELETE and INSERT triggers; review
        -- rev40e: a DELETE's triggers were not followed, an INSERT's were
        -- taken for all)
        SELECT c.oid, c.relkind,
               CASE w.verb WHEN 'insert' THEN 4 + 16 WHEN 'copy' THEN 4 WHEN 'update' THEN 4 + 8 + 16
                           WHEN 'merge' THEN 4 + 8 + 16 WHEN 'delete' THEN 8 ELSE 32 END AS events
          FROM tenant_rls._written_names(body) w
          JOIN pg_class c ON c.relname = w.rel_name::name AND c.relkind IN ('r', 'p', 'f', 'v')
         WHERE w.schema_name IS NULL
            OR c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = w.schema_name))
    SELECT tg.tgfoid
      FROM (SELECT r.oid, r.events FROM r
            UNION
            SELECT v.relid, r.events FROM r CROSS JOIN LATERAL tenant_rls._view_reach(r.oid) v WHERE r.relkind = 'v') x
      JOIN pg_trigger tg ON tg.tgrelid = x.oid
     WHERE tg.tgfoid >= 16384 AND (tg.tgtype::int & x.events) <> 0
    $$;
COMMENT ON FUNCTION tenant_rls._trigger_calls(text) IS
    'internal: the user functions of the triggers that a function body''s writes fire';

-- The user functions a function calls: by name in its body (by text: a
-- word equal to a function's name) or, for BEGIN ATOMIC, by dependency;
-- through the operators and casts it uses; and those the views it reads
-- run (by name, by dependency); and the functions of the triggers its
-- writes fire.
CREATE FUNCTION tenant_rls._called_functions(caller oid) RETURNS SETOF oid
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 8
    SET search_path = pg_catalog, pg_temp
    -- one index probe of pg_proc per word (_findings() turns nested loops
    -- off for its own joins: a hash of pg_proc per call cost 1 ms)
    SET enable_nestloop = on
    AS $$
    WITH f AS MATERIALIZED (
        SELECT fp.oid, fp.prosqlbody IS NULL AS is_text,
               CASE WHEN fp.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(fp.oid) ELSE fp.prosrc END AS body
          FROM pg_proc fp
          JOIN pg_language lg ON lg.oid = fp.prolang AND lg.lanname NOT IN ('internal', 'c')
         WHERE fp.oid = caller),
    w AS MATERIALIZED (SELECT DISTINCT x.word FROM f CROSS JOIN LATERAL tenant_rls._body_words(f.body) x(word))
    SELECT p.oid
      FROM w JOIN pg_proc p ON p.proname = w.word::name
     WHERE p.oid >= 16384 AND p.oid <> caller
    UNION
    SELECT d.refobjid
      FROM pg_depend d
     WHERE d.classid = 'pg_proc'::regclass AND d.objid = caller
       AND d.refclassid = 'pg_proc'::regclass AND d.refobjid >= 16384 AND d.refobjid <> caller
    UNION
    SELECT x.x
      FROM f CROSS JOIN LATERAL tenant_rls._operator_calls('pg_proc'::regclass, f.oid,
                                                            CASE WHEN f.is_text THEN f.body END) x(x)
     WHERE x.x <> caller
    UNION
    SELECT x.x
      FROM (SELECT c.oid FROM w JOIN pg_class c ON c.relname = w.word::name AND c.relkind = 'v' AND c.oid >= 16384
            UNION
            SELECT c.oid
              FROM pg_depend d JOIN pg_class c ON c.oid = d.refobjid AND c.relkind = 'v'
             WHERE d.classid = 'pg_proc'::regclass AND d.objid = caller AND d.refclassid = 'pg_class'::regclass) v
     CROSS JOIN LATERAL tenant_rls._view_calls(v.oid) x(x)
     WHERE x.x <> caller
    UNION
    SELECT x.x
      FROM f CROSS JOIN LATERAL tenant_rls._trigger_calls(f.body) x(x)
     WHERE x.x <> caller
    $$;
COMMENT ON FUNCTION tenant_rls._called_functions(oid) IS
    'internal: the user functions a function calls, by name in its body or by dependency, through operators and casts, through the views it reads, and through the triggers its writes fire';

-- The calls among the user functions that roots reach, at any depth
-- (caller, callee), leaving out (and not following) the functions in skip.
-- Each function's body is read twice (once to find the functions, once for
-- their calls), so the cost grows with the functions and calls, not with
-- roots times the functions each reaches: a finding that needs "reaches a
-- function that does X" marks the functions that do X and walks these
-- edges backwards once (review rev21d: closures per root took 8 s and
-- 400 MB for 1,200 roots over 3,000 functions).  (The ROWS estimates
-- matter: with the default 1,000 rows a call, the recursive union sized its
-- hash table for 100 million rows, about 200 ms per call under _findings()'
-- work_mem.)
CREATE FUNCTION tenant_rls._call_edges(roots oid[], skip oid[], OUT caller oid, OUT callee oid)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 100
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE
    reached(fid) AS (
        SELECT DISTINCT x FROM unnest(roots) x
        UNION
        SELECT c.c
          FROM reached r
         CROSS JOIN LATERAL tenant_rls._called_functions(r.fid) c(c)
         WHERE c.c <> ALL (skip))
    SELECT r.fid, c.c
      FROM reached r
     CROSS JOIN LATERAL tenant_rls._called_functions(r.fid) c(c)
     WHERE c.c <> ALL (skip)
    $$;
COMMENT ON FUNCTION tenant_rls._call_edges(oid[], oid[]) IS
    'internal: the calls among the user functions some functions reach, at any depth';

-- Walk calls backwards: every (function, val) such that the function is one
-- of fids (with its val), or calls, at any depth through the calls
-- (callers[i] calls callees[i]), one that is.  A function of its own, not a
-- recursive CTE in _findings(): there a recursive union sized its hash table
-- for the CTE's estimate (millions of rows) under _findings()' work_mem, about
-- 50 ms each, five times per report.
CREATE FUNCTION tenant_rls._walk_calls_back(callers oid[], callees oid[], fids oid[], vals text[],
                                            OUT fid oid, OUT val text)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 100
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE
    edge AS MATERIALIZED (SELECT * FROM unnest(callers, callees) e(caller, callee)),
    up(fid, val) AS (
        SELECT f.fid, f.val FROM unnest(fids, vals) f(fid, val)
        UNION
        SELECT e.caller, u.val FROM up u JOIN edge e ON e.callee = u.fid)
    SELECT u.fid, u.val FROM up u
    $$;
COMMENT ON FUNCTION tenant_rls._walk_calls_back(oid[], oid[], oid[], text[]) IS
    'internal: the functions that are, or call at any depth, functions with a fact (lint() findings about called functions)';

-- The configuration files' settings (pg_file_settings), for a report run by
-- a role that may read them (pg_read_all_settings; the report runs as the
-- extension's owner), else none: a view named in a query is checked when the
-- query starts, whatever its WHERE clause says, so the check is here.
CREATE FUNCTION tenant_rls._file_settings(OUT sourcefile text, OUT sourceline integer, OUT seqno integer,
                                          OUT name text, OUT setting text, OUT error text)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') THEN
        RETURN QUERY SELECT f.sourcefile, f.sourceline, f.seqno, f.name, f.setting, f.error FROM pg_file_settings f;
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_rls._file_settings() IS
    'internal: pg_file_settings, if the current role may read it (lint())';
REVOKE ALL ON FUNCTION tenant_rls._file_settings() FROM PUBLIC;

-- ... and pg_user_mapping, which only superusers may read (the mappings'
-- options name the remote user)
CREATE FUNCTION tenant_rls._user_mappings(OUT umuser oid, OUT umserver oid, OUT umoptions text[])
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RETURN QUERY SELECT um.umuser, um.umserver, um.umoptions FROM pg_user_mapping um;
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_rls._user_mappings() IS
    'internal: pg_user_mapping, if the current role may read it (lint())';
REVOKE ALL ON FUNCTION tenant_rls._user_mappings() FROM PUBLIC;

-- ---- every finding, one set-based query per family
-- relid: the table a finding is about (for coverage() counts), NULL for
-- findings about roles, functions, views and the server.
CREATE FUNCTION tenant_rls._findings(
        OUT code text, OUT level text, OUT object text, OUT object_kind text,
        OUT message text, OUT detail text, OUT fix text, OUT relid oid)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    -- CTE row estimates are poor: never let a nested loop over them turn quadratic
    SET enable_nestloop = off
    SET enable_mergejoin = off
    SET enable_sort = off
    SET jit = off
    SET work_mem = '64MB'
    AS $$
WITH RECURSIVE
cfg AS MATERIALIZED (SELECT * FROM tenant_rls._coverage_config()),
-- the extension's event triggers as 30_event_trigger.sql defines them
-- (tags: NULL, every command), and the clause that re-creates the filter
evtdef AS (SELECT w.name, w.event, w.tags, w.func,
                  CASE WHEN w.tags IS NULL THEN ''
                       ELSE format(' WHEN TAG IN (%s)',
                                   (SELECT string_agg(quote_literal(t), ', ' ORDER BY o)
                                      FROM unnest(w.tags) WITH ORDINALITY u(t, o))) END AS tagclause
             FROM (VALUES ('tenant_rls_ddl_command_end', 'ddl_command_end', NULL::text[], 'on_ddl_command_end'),
                          ('tenant_rls_sql_drop', 'sql_drop', NULL, 'on_sql_drop'),
                          ('tenant_rls_ddl_command_start', 'ddl_command_start',
                           ARRAY['ALTER TABLE', 'REFRESH MATERIALIZED VIEW'], 'on_ddl_command_start'))
                  w(name, event, tags, func)),
tt AS MATERIALIZED (SELECT * FROM tenant_rls._tables()),
-- tenant tables: not global, and with the tenant column or registered as protected
ten AS MATERIALIZED (
    SELECT * FROM tt
     WHERE tt.status <> 'global' AND (tt.tenant_attnum IS NOT NULL OR tt.status = 'protected')),
-- tenant_row_type_column (review rev32b): the types whose values are whole
-- rows of tenant tables.  The columns of user types (one scan of
-- pg_attribute), then what contains what among user types: an array of its
-- element, a domain of its base type, a range of its subtype and a
-- multirange of its range (review rev39 lint F1), a table's or composite
-- type's row type of its columns' types; then, from the tenant tables' row
-- types, every type that contains one, at any depth
-- (one scan of pg_attribute, 300,000 rows on 10,000 tables, for ucol and
-- for tseq's columns of a domain with a default, whatever its oid)
uatt AS MATERIALIZED (
    SELECT a.attrelid, a.attname, a.attnum, a.atttypid, a.atttypmod, a.atthasdef FROM pg_attribute a
     WHERE a.attnum > 0 AND NOT a.attisdropped
       AND (a.atttypid >= 16384
            OR a.atttypid IN (SELECT y.oid FROM pg_type y WHERE y.typtype = 'd' AND y.typdefaultbin IS NOT NULL))),
ucol AS MATERIALIZED (
    SELECT a.attrelid, a.attname, a.atttypid, a.atttypmod FROM uatt a WHERE a.atttypid >= 16384),
tyedge AS MATERIALIZED (
    SELECT y.typelem AS inner_type, y.oid AS outer_type FROM pg_type y
     WHERE y.typelem >= 16384 AND y.typcategory = 'A'
    UNION ALL
    SELECT y.typbasetype, y.oid FROM pg_type y WHERE y.typtype = 'd' AND y.typbasetype >= 16384
    UNION ALL
    SELECT g.rngsubtype, g.rngtypid FROM pg_range g WHERE g.rngsubtype >= 16384
    UNION ALL
    SELECT g.rngtypid, g.rngmultitypid FROM pg_range g WHERE g.rngtypid >= 16384
    UNION ALL
    SELECT u.atttypid, c.reltype
      FROM ucol u JOIN pg_class c ON c.oid = u.attrelid AND c.relkind IN ('r', 'p', 'f', 'c')),
-- (The UNION's hash table is allocated at start for the planner's estimate
-- of its rows: with the default selectivity of a join of CTE columns, 4
-- million on 10,000 tables, 18,000 in fact: 200 MB zeroed, page by page, at
-- a tenth of lint()'s time.  The join's second clause, the same as its first
-- (oid to bigint is exact), divides that estimate by 200.)
rowtype(typid, trelid) AS (
    SELECT c.reltype, t.relid FROM ten t JOIN pg_class c ON c.oid = t.relid
    UNION
    SELECT e.outer_type, r.trelid FROM rowtype r
      JOIN tyedge e ON e.inner_type = r.typid AND e.inner_type::bigint = r.typid::bigint),
-- extension members, found from the extensions' side (the reference index:
-- a few rows, where the depender side visits every table's dependencies).
-- Only those an extension script made are left out of the findings: owned
-- by a superuser (a trusted extension's script runs as one), or of an
-- extension a superuser owns.  The owner of an extension (any role with
-- CREATE on the database, for a trusted one) may ALTER EXTENSION ... ADD
-- any object it owns: those stay reported.
extsupers AS MATERIALIZED (SELECT r.oid FROM pg_roles r WHERE r.rolsuper),
extfuncs AS MATERIALIZED (
    SELECT d.objid FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
       AND ((SELECT p.proowner FROM pg_proc p WHERE p.oid = d.objid) IN (SELECT e.oid FROM extsupers e)
            OR (SELECT x.extowner FROM pg_extension x WHERE x.oid = d.refobjid) IN (SELECT e.oid FROM extsupers e))),
extrels AS MATERIALIZED (
    SELECT d.objid FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
       AND ((SELECT c.relowner FROM pg_class c WHERE c.oid = d.objid) IN (SELECT e.oid FROM extsupers e)
            OR (SELECT x.extowner FROM pg_extension x WHERE x.oid = d.refobjid) IN (SELECT e.oid FROM extsupers e))),
-- Managed policies.  A table is *trusted* when its tenant_rls_* policies are
-- exactly as many as the registry lists and every one of them was written
-- in the same transaction as its registry row (xmin), by an earlier command
-- of it (cmin): protect() creates the policies and then writes the registry
-- row from them; ALTER POLICY, DROP + CREATE or a new policy give a row a new
-- xmin, or, in protect()'s own transaction, a later cmin; a restore in one
-- transaction (psql -1, pg_restore -1) writes the registry rows (data)
-- before the policies (post-data), so their policies are compared.  A row
-- that an aborted UPDATE / DELETE touched (xmax set) has the aborter's
-- command id in place of its cmin: such a policy row is compared; for such a
-- registry row the command order is not looked at (xmin only).  And the
-- policies must come before the command protect() recorded in
-- managed.written, in that transaction, and have a cmin that is a command
-- id, not a combo id (combo: _policies_with_combo_cid()): the registry upkeep
-- rewrites the row (RENAME, SET SCHEMA, DETACH), so an ALTER POLICY made
-- between protect() and such a rewrite in the same transaction came before
-- the row's cmin too; a row rewritten in a later transaction is not
-- trusted at all (its policies are compared).  A
-- trusted table's managed policies are what protect() created and are not
-- looked at one by one; the other tables' policies are (few).
-- policies whose cmin is a combo command id, not a command: never trusted
combo AS MATERIALIZED (SELECT c.oid FROM tenant_rls._policies_with_combo_cid() c(oid)),
reg1 AS MATERIALIZED (
    SELECT t.relid, t.qname, t.schema_name, t.table_name, r.reg_xmin, r.reg_cmin, r.reg_cid_ok, r.n_keys,
           r.written_xid, r.written_cid
      FROM (SELECT r.schema_name, r.table_name, r.reg_xmin, r.reg_cmin, r.reg_cid_ok,
                   (r.w ->> 'xid')::xid AS written_xid,
                   (r.w ->> 'cid')::cid AS written_cid,
                   (SELECT count(*)
                      FROM jsonb_object_keys(CASE WHEN jsonb_typeof(r.p) = 'object'
                                                  THEN r.p ELSE '{}'::jsonb END)) AS n_keys
              -- (managed, compressed in the row, decompressed twice, not
              -- once for each of four uses: OFFSET 0)
              FROM (SELECT r.schema_name, r.table_name, r.xmin AS reg_xmin, r.cmin AS reg_cmin,
                           r.xmax = '0'::xid AS reg_cid_ok,
                           r.managed -> 'written' AS w, r.managed -> 'policies' AS p
                      FROM tenant_rls.protected_table r WHERE r.status = 'protected' OFFSET 0) r
             OFFSET 0) r
      JOIN tt t ON t.schema_name = r.schema_name AND t.table_name = r.table_name),
pagg AS MATERIALIZED (
    SELECT p.polrelid AS relid, count(*) AS n_managed,
           bool_and(p.xmin = g.reg_xmin AND p.xmax = '0'::xid AND cb.oid IS NULL
                    AND (NOT g.reg_cid_ok OR tenant_rls._cid_lt(p.cmin, g.reg_cmin))
                    -- and before the command protect() recorded, in that
                    -- transaction (rows from before it recorded none)
                    AND (g.written_xid IS NULL
                         OR (g.written_xid = g.reg_xmin AND tenant_rls._cid_lt(p.cmin, g.written_cid)))) AS all_trusted,
           bool_or(p.polcmd IN ('r', '*')
                   AND (p.polname LIKE 'tenant\_rls\_isolation\_%'
                        OR p.polname LIKE 'tenant\_rls\_guard\_%')) AS managed_iso,
           bool_or(NOT p.polpermissive AND p.polcmd IN ('r', '*')) AS has_guard
      FROM pg_policy p JOIN reg1 g ON g.relid = p.polrelid
      LEFT JOIN combo cb ON cb.oid = p.oid
     -- (the names' prefixes tested with LIKE on the name, here and in
     -- pol, gcol and texpr: the same byte-wise test as starts_with() in
     -- pg_policy's C collation, without a copy to text and a substring by
     -- characters for each of 48,000 policies on 10,000 tables)
     WHERE p.polname LIKE 'tenant\_rls\_%'
     GROUP BY p.polrelid),
trusted AS MATERIALIZED (
    SELECT g.relid, a.managed_iso, a.has_guard
      FROM reg1 g JOIN pagg a ON a.relid = g.relid
     WHERE a.n_managed = g.n_keys AND a.all_trusted),
-- the registry's policy names of the tables that are not trusted
mp AS MATERIALIZED (
    SELECT g.relid, g.qname, g.schema_name, g.table_name, k.polname::name AS polname, g.reg_xmin, g.reg_cmin, g.reg_cid_ok,
           g.written_xid, g.written_cid
      FROM (SELECT g.* FROM reg1 g LEFT JOIN trusted tr ON tr.relid = g.relid
             WHERE tr.relid IS NULL OFFSET 0) g
     CROSS JOIN LATERAL jsonb_object_keys(
           (SELECT CASE WHEN jsonb_typeof(r.managed -> 'policies') = 'object'
                        THEN r.managed -> 'policies' ELSE '{}'::jsonb END
              FROM tenant_rls.protected_table r
             WHERE r.schema_name = g.schema_name AND r.table_name = g.table_name)) k(polname)),
-- every other policy of a tenant table: the user's, and all policies of the
-- tables that are not trusted.  Their expression trees are walked once, in C
-- (_policy_facts), looked up by OID so the trees are never copied into hash
-- tables; OFFSET 0 keeps the call from being repeated for each field.  A
-- managed policy's text is deparsed and compared with the registry
-- (checked_text) only when its row is newer than its registry row.
pol AS MATERIALIZED (
    SELECT y.relid, y.qname, y.status, y.polname, y.polcmd, y.polpermissive, y.is_managed,
           y.polroles, y.tenant_column, y.checked_text,
           (y.f).qual_text IS NOT NULL AS has_qual, (y.f).check_text IS NOT NULL AS has_check,
           CASE WHEN y.f IS NULL
                THEN starts_with(y.polname, 'tenant_rls_isolation_') OR starts_with(y.polname, 'tenant_rls_guard_')
                ELSE (y.f).uses_tenant END AS uses_tenant,
           coalesce((y.f).casts_tenant, false) AS casts_tenant,
           coalesce((y.f).current_setting, false) AS calls_setting,
           coalesce((y.f).not_missing_ok, false) AS not_missing_ok,
           coalesce((y.f).other_settings, '{}') AS other_settings,
           coalesce((y.f).funcs, '{}') AS funcs,
           coalesce((y.f).tenant_fallback, false) AS tenant_fallback,
           (y.f).qual_text, (y.f).check_text
      FROM (SELECT z.*, z.is_managed AND NOT z.pristine AS checked_text,
                   CASE WHEN z.pristine THEN NULL
                        ELSE (SELECT tenant_rls._policy_facts(pp.polqual, pp.polwithcheck, z.relid,
                                                              z.tenant_attnum, z.tenant_column, z.is_managed)
                                FROM pg_policy pp WHERE pp.oid = z.polid) END AS f
      -- pristine: a managed policy as protect() wrote it (the test of pagg)
      FROM (SELECT x.*, m.relid IS NOT NULL AS is_managed,
                   coalesce(m.relid IS NOT NULL AND x.pxmin = m.reg_xmin AND x.pxmax = '0'::xid AND cb.oid IS NULL
                            AND (NOT m.reg_cid_ok OR tenant_rls._cid_lt(x.pcmin, m.reg_cmin))
                            AND (m.written_xid IS NULL
                                 OR (m.written_xid = m.reg_xmin AND tenant_rls._cid_lt(x.pcmin, m.written_cid))),
                            false) AS pristine
              FROM (SELECT t.relid, t.qname, t.status, t.tenant_column, t.tenant_attnum,
                           p.oid AS polid, p.polname, p.polcmd, p.polpermissive, p.polroles,
                           p.xmin AS pxmin, p.xmax AS pxmax, p.cmin AS pcmin
                      FROM ten t JOIN pg_policy p ON p.polrelid = t.relid
                      LEFT JOIN trusted tr ON tr.relid = t.relid
                     WHERE tr.relid IS NULL OR NOT p.polname LIKE 'tenant\_rls\_%') x
              LEFT JOIN mp m ON m.relid = x.relid AND m.polname = x.polname
              LEFT JOIN combo cb ON cb.oid = x.polid
            OFFSET 0) z) y),
-- managed policies that were dropped or differ from the registry (only
-- those written after their registry row can), with their registered
-- definition, and the SQL that puts each back
mpcand AS MATERIALIZED (
    SELECT m.relid, m.qname, m.polname, m.schema_name, m.table_name, true AS dropped
      FROM mp m LEFT JOIN pol ON pol.relid = m.relid AND pol.polname = m.polname
     WHERE pol.relid IS NULL
    UNION ALL
    SELECT pol.relid, pol.qname, pol.polname, t.schema_name, t.table_name, false
      FROM pol JOIN tt t ON t.relid = pol.relid
     WHERE pol.checked_text),
mpdef AS MATERIALIZED (
    SELECT c.*, (SELECT r.managed -> 'policies' -> c.polname::text
                   FROM tenant_rls.protected_table r
                  WHERE r.schema_name = c.schema_name AND r.table_name = c.table_name) AS def
      FROM mpcand c),
mpdiff AS MATERIALIZED (
    SELECT d.relid, d.qname, d.polname, d.def, true AS dropped, NULL::text[] AS diffs,
           tenant_rls._restore_policy(d.qname, d.polname, d.def, 'create') AS fix
      FROM mpdef d WHERE d.dropped
    UNION ALL
    SELECT x.relid, x.qname, x.polname, x.def, false, x.diffs,
           tenant_rls._restore_policy(x.qname, x.polname, x.def,
               CASE WHEN 'command' = ANY (x.diffs) OR 'permissive/restrictive' = ANY (x.diffs)
                         OR (x.has_qual AND x.def ->> 'qual' IS NULL)
                         OR (x.has_check AND x.def ->> 'with_check' IS NULL)
                    THEN 'replace' ELSE 'alter' END)
      FROM (SELECT pol.relid, pol.qname, pol.polname, d.def, pol.has_qual, pol.has_check,
                   array_remove(ARRAY[
                       CASE WHEN d.def ? 'cmd' AND (d.def ->> 'cmd') IS DISTINCT FROM pol.polcmd::text
                            THEN 'command' END,
                       CASE WHEN d.def ? 'permissive'
                                 AND (d.def ->> 'permissive')::boolean IS DISTINCT FROM pol.polpermissive
                            THEN 'permissive/restrictive' END,
                       CASE WHEN jsonb_typeof(d.def -> 'roles') = 'array'
                                 AND NOT (pol.polroles = '{0}' AND d.def -> 'roles' = '["public"]')
                                 AND (SELECT array_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END
                                                       ORDER BY 1)
                                        FROM unnest(pol.polroles) r)
                                     IS DISTINCT FROM
                                     (SELECT array_agg(CASE WHEN lower(n) = 'public' THEN 'public' ELSE n END ORDER BY 1)
                                        FROM jsonb_array_elements_text(d.def -> 'roles') n)
                            THEN 'roles' END,
                       CASE WHEN d.def ? 'qual' AND NOT tenant_rls._expr_text_equal(d.def ->> 'qual', pol.qual_text)
                            THEN 'USING' END,
                       CASE WHEN d.def ? 'with_check'
                                 AND NOT tenant_rls._expr_text_equal(d.def ->> 'with_check', pol.check_text)
                            THEN 'WITH CHECK' END], NULL) AS diffs
              FROM pol JOIN mpdef d ON d.relid = pol.relid AND d.polname = pol.polname AND NOT d.dropped) x
     WHERE cardinality(x.diffs) > 0),
-- guard: a restrictive managed policy limits SELECT (what a permissive policy
-- added later would open).
-- iso: tables isolated by some SELECT policy on the tenant column; protect()'s
-- exception policies (admin, grants, global rows) do not count
-- the tables whose managed permissive SELECT policy is in place, unchanged:
-- it lets every row through (the restrictive guard isolates), so a user's
-- permissive policy there changes nothing
isotrue AS (SELECT tr.relid FROM trusted tr
             WHERE EXISTS (SELECT 1 FROM pg_policy p
                            WHERE p.polrelid = tr.relid AND p.polname = 'tenant_rls_isolation_select'
                              AND p.polpermissive)),
iso AS (SELECT tr.relid FROM trusted tr WHERE tr.managed_iso
        UNION
        SELECT pol.relid FROM pol
         WHERE pol.uses_tenant AND pol.polcmd IN ('r', '*')
           AND NOT (pol.is_managed AND (starts_with(pol.polname, 'tenant_rls_admin')
                                        OR starts_with(pol.polname, 'tenant_rls_grant')
                                        OR starts_with(pol.polname, 'tenant_rls_global')))),
-- the column the managed guard policies of each protected table compare
-- (their dependencies on its columns: one column for all four), for
-- tenant_column_missing: the registered column renamed, and perhaps its
-- name given to another column (review rev47e).  One pass over the
-- policies' entries of pg_depend.
gcol AS MATERIALIZED (
    SELECT p.polrelid AS relid, min(d.refobjsubid) AS attnum, count(DISTINCT d.refobjsubid) AS n
      FROM pg_policy p
      JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid = p.polrelid
                      AND d.refobjsubid > 0
     WHERE p.polname LIKE 'tenant\_rls\_guard\_%'
     GROUP BY p.polrelid),
-- protected tables whose registered tenant column is another column than
-- the one their guard policies compare: the renamed column's name given to a
-- new one.  The tenant column's findings of nullability and indexes would
-- name that new column; tenant_column_missing says to rename it away.
reused AS MATERIALIZED (
    SELECT t.relid FROM ten t JOIN gcol g ON g.relid = t.relid AND g.n = 1
     WHERE t.status = 'protected' AND g.attnum <> t.tenant_attnum),
isomiss AS MATERIALIZED (
    SELECT t.relid, t.qname, t.tenant_column
      FROM ten t LEFT JOIN iso ON iso.relid = t.relid
     WHERE t.status = 'protected' AND iso.relid IS NULL),
guard AS (SELECT tr.relid FROM trusted tr WHERE tr.has_guard
          UNION
          SELECT pol.relid FROM pol WHERE pol.is_managed AND NOT pol.polpermissive AND pol.polcmd IN ('r', '*')),
-- ancestors (partition parents, inheritance parents, every level) of the
-- protected and global tables, walked up pg_inherits from those tables only;
-- via: the table just below the ancestor on the way up
anc AS (
    SELECT t.relid, i.inhparent AS anc, t.relid AS via, 1 AS depth, t.tenant_column, t.status
      FROM tt t JOIN pg_inherits i ON i.inhrelid = t.relid
     WHERE t.status IN ('protected', 'global')
    UNION
    SELECT a.relid, i.inhparent, a.anc, a.depth + 1, a.tenant_column, a.status
      FROM anc a JOIN pg_inherits i ON i.inhrelid = a.anc),
-- the ancestors that are not protected, and what to run for each: protect()
-- where it can work (a table with the protected table's tenant column, not
-- marked global, that protect() accepts: not above a global table or one
-- protected by another column, review rev46d), otherwise take the branch
-- out of that ancestor's hierarchy.  Names and columns are looked up for these few rows only.
ancbad AS MATERIALIZED (
    SELECT x.relid, x.depth, x.aname,
           CASE WHEN x.relkind IN ('r', 'p') AND x.astatus IS DISTINCT FROM 'global' AND x.has_column
                     AND tenant_rls._protect_refusal(x.anc, x.tenant_column) IS NULL
                THEN format('SELECT tenant_rls.protect(%L%s);', x.aname,
                            CASE WHEN x.tenant_column = cfg.tenant_column THEN ''
                                 ELSE format(', %L', x.tenant_column) END)
                WHEN x.via_is_partition
                THEN format('ALTER TABLE %s DETACH PARTITION %s;', x.aname, x.vname)
                ELSE format('ALTER TABLE %s NO INHERIT %s;', x.vname, x.aname) END AS fix
      FROM (SELECT a.relid, a.anc, a.depth, a.tenant_column, ap.status AS astatus,
                   (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = a.anc) AS aname,
                   (SELECT c.relkind FROM pg_class c WHERE c.oid = a.anc) AS relkind,
                   EXISTS (SELECT 1 FROM pg_attribute at
                            WHERE at.attrelid = a.anc AND at.attname = a.tenant_column
                              AND at.attnum > 0 AND NOT at.attisdropped) AS has_column,
                   (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = a.via) AS vname,
                   (SELECT c.relispartition FROM pg_class c WHERE c.oid = a.via) AS via_is_partition
              FROM anc a LEFT JOIN tt ap ON ap.relid = a.anc
             WHERE a.status = 'protected' AND ap.status IS DISTINCT FROM 'protected' OFFSET 0) x
     CROSS JOIN cfg),
-- indexes: first key column, and the generated (identity, serial) columns
lead AS (SELECT DISTINCT i.indrelid, i.indkey[0] AS first FROM pg_index i WHERE i.indisvalid),
-- the audit row trigger, and whether it fires in an ordinary session (not
-- DISABLEd, not ENABLE REPLICA) as enable_audit() made it (exact: see
-- _audit_row_triggers(); a redefined one records only some changes); the
-- TRUNCATE trigger alone records no row; odd: the other row triggers of
-- audit_trigger() (redefined, or a second one), clones of a parent's left to
-- the parent
-- (one pass over pg_trigger for the row and the TRUNCATE triggers of
-- audit_trigger(): audtg, with audtrunc's facts; a trigger's function takes
-- no arguments)
audtg AS MATERIALIZED (
    SELECT t.tgrelid,
           bool_or(t.tgenabled IN ('O', 'A') AND t.exact) FILTER (WHERE t.isrow) AS fires,
           bool_or(t.exact) FILTER (WHERE t.isrow) AS exact,
           -- (in name order below, where there are any: an ordered
           -- aggregate here sorts every table's triggers)
           array_agg(t.tgname::text) FILTER (WHERE t.isrow AND t.tgparentid = 0 AND NOT t.exact) AS odd,
           bool_or(t.isrow) AS has_row,
           bool_or(t.isrow AND t.tgenabled IN ('O', 'A')) AS row_enabled,
           bool_or(t.istrunc AND t.tgenabled IN ('O', 'A')) AS trunc_fires,
           min(t.tgname) FILTER (WHERE t.istrunc) AS trunc_name
      FROM (SELECT tg.tgrelid, tg.tgname, tg.tgenabled, tg.tgparentid,
                   (tg.tgtype::int & 1) = 1 AS isrow, (tg.tgtype::int & 32) = 32 AS istrunc,
                   -- (as _audit_row_triggers() says)
                   tg.tgname = 'tenant_rls_audit' AND tg.tgtype = 29 AND tg.tgqual IS NULL
                   AND tg.tgnargs = 0 AND cardinality(tg.tgattr::int2[]) = 0
                   AND tg.tgconstraint = 0 AND NOT tg.tgdeferrable AND NOT tg.tginitdeferred AS exact
              FROM pg_trigger tg
             WHERE tg.tgfoid IN (SELECT p.oid FROM pg_proc p
                                  WHERE p.pronamespace = 'tenant_rls'::regnamespace
                                    AND p.proname = 'audit_trigger')) t
     GROUP BY t.tgrelid),
aud AS (SELECT a.tgrelid, a.fires, a.exact,
               CASE WHEN a.odd IS NOT NULL THEN ARRAY(SELECT n FROM unnest(a.odd) n ORDER BY n::name) END AS odd
          FROM audtg a WHERE a.has_row),
has_enable_audit AS (SELECT EXISTS (SELECT 1 FROM pg_proc p
                                     WHERE p.pronamespace = 'tenant_rls'::regnamespace
                                       AND p.proname = 'enable_audit') AS yes),
-- tenant rows nothing protects or the extension keeps: the tables with the
-- tenant column outside _tables() (outside the managed schemas; their
-- columns looked up by index for each), and the audit log's tables (the
-- partitioned audit_batch and its partitions).  Views, materialized views and
-- SECURITY DEFINER functions over them are reported as over tenant tables.
xten AS MATERIALIZED (
    SELECT c.oid AS relid, c.relname, format('%I.%I', n.nspname, c.relname) AS qname,
           c.relkind, c.relispartition, c.relacl, c.relowner, n.nspname, false AS audit,
           c.relrowsecurity, c.relforcerowsecurity
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tt ON tt.relid = c.oid
      LEFT JOIN extrels e ON e.objid = c.oid
     CROSS JOIN cfg
     WHERE c.relkind IN ('r', 'p', 'f') AND tt.relid IS NULL AND e.objid IS NULL
       -- (not by schema name: a superuser may create tables in
       -- information_schema and tenant_rls, review rev45c; the audit log's
       -- tables come below)
       AND n.nspname !~ '^pg_' AND c.oid >= 16384
       AND NOT (c.relnamespace = 'tenant_rls'::regnamespace
                AND (c.relname = 'audit_batch'
                     OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i JOIN pg_class b ON b.oid = i.inhparent
                                   WHERE b.relnamespace = 'tenant_rls'::regnamespace AND b.relname = 'audit_batch')))
       AND (SELECT true FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attname = cfg.tenant_column AND a.attnum > 0 AND NOT a.attisdropped)
    UNION ALL
    SELECT c.oid, c.relname, format('%I.%I', 'tenant_rls', c.relname), c.relkind, c.relispartition,
           c.relacl, c.relowner, 'tenant_rls', true, c.relrowsecurity, c.relforcerowsecurity
      FROM pg_class c
     WHERE c.relnamespace = 'tenant_rls'::regnamespace AND c.relkind IN ('r', 'p')
       AND (c.relname = 'audit_batch'
            OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i JOIN pg_class b ON b.oid = i.inhparent
                          WHERE b.relnamespace = 'tenant_rls'::regnamespace AND b.relname = 'audit_batch'))),
-- what views and functions may read: the tenant tables and those, and
-- whether their policies bind a reader that is not their owner (t_ok: row
-- security on and, for a tenant table, protected; the audit log's tables
-- have policies of their own)
tgt AS MATERIALIZED (
    SELECT t.relid, t.table_name AS relname, t.qname, t.status = 'protected' AND t.rls_enabled AS t_ok,
           t.rls_forced AS t_forced, t.owner AS t_owner
      FROM ten t
    UNION ALL
    SELECT x.relid, x.relname, x.qname, x.audit AND x.relrowsecurity, x.relforcerowsecurity, x.relowner
      FROM xten x),
-- the extension's functions that read tenant rows with the rights of whoever
-- runs them (review rev30c: a SECURITY DEFINER wrapper or a materialized
-- view of a superuser hands them to its callers): audit_history() the log,
-- tenant_row_counts() and _tenant_row_count() every tenant table; by oid,
-- and by name for the bodies kept as text
extread AS MATERIALIZED (
    SELECT p.oid AS fid, p.proname::text AS word, t.relid AS trelid
      FROM pg_proc p
      JOIN tgt t ON (p.proname = 'audit_history' AND t.qname = 'tenant_rls.audit_batch')
                 OR (p.proname <> 'audit_history' AND t.qname !~ '^tenant_rls\.')
     WHERE p.pronamespace = 'tenant_rls'::regnamespace
       AND p.proname IN ('audit_history', 'tenant_row_counts', '_tenant_row_count')),
-- views and materialized views reading tenant tables, through other views too
-- what rules read or change (one pass over pg_depend): views through their
-- ON SELECT rule, and the other rules (rule_bypasses_rls)
rdep AS MATERIALIZED (
    SELECT r.oid AS ruleid, r.rulename, r.ev_class, d.refobjid AS base
      FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
     WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
       AND d.deptype = 'n'),
vdep AS MATERIALIZED (
    SELECT DISTINCT rdep.ev_class AS viewid, rdep.base FROM rdep WHERE rdep.ev_class <> rdep.base),
vreach AS (
    SELECT vdep.viewid, t.relid AS tenant_relid FROM vdep JOIN tgt t ON t.relid = vdep.base
    UNION
    SELECT vdep.viewid, vreach.tenant_relid FROM vreach JOIN vdep ON vdep.base = vreach.viewid),
-- the views and materialized views found, with what the findings show;
-- names are looked up for these few rows only (a hash join would read all
-- of pg_class)
vall AS (
    SELECT vreach.viewid, vreach.tenant_relid FROM vreach
    UNION
    -- a materialized view calling a function that reads a tenant table
    -- (its owner runs it at refresh)
    SELECT c.caller, h.trelid FROM callee0 c JOIN chitup h ON h.fid = c.fid WHERE c.kind = 'm' AND NOT h.nt
    UNION
    -- ... or one of the extension's that read tenant rows (review rev30c)
    SELECT r.ev_class, e.trelid
      FROM extread e
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_proc'::regclass
                      AND d.refobjid = e.fid
      JOIN pg_rewrite r ON r.oid = d.objid
     WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = r.ev_class) = 'm'),
vrel AS (
    SELECT x.oid, x.relkind, format('%I.%I', x.nspname, x.relname) AS vname, x.reloptions,
           pg_get_userbyid(x.relowner) AS owner, x.relowner AS owner_oid,
           array_to_string((array_agg(x.tname ORDER BY x.tname))[1:10], ', ') AS tables,
           count(*) AS ntables,
           -- a tenant table it reads whose policies do not bind the owner:
           -- not protected, row-level security off, or a table the owner
           -- owns (or has the privileges of its owner: row security treats
           -- it as the owner) without FORCE
           bool_or(NOT coalesce(x.t_ok, false) OR (pg_has_role(x.relowner, x.t_owner, 'USAGE') AND NOT x.t_forced)) AS weak
      FROM (SELECT a.viewid AS oid,
                   t.t_ok, t.t_forced, t.t_owner,
                   (SELECT c.relkind FROM pg_class c WHERE c.oid = a.viewid) AS relkind,
                   (SELECT c.relname FROM pg_class c WHERE c.oid = a.viewid) AS relname,
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = a.viewid) AS nspname,
                   (SELECT c.reloptions FROM pg_class c WHERE c.oid = a.viewid) AS reloptions,
                   (SELECT c.relowner FROM pg_class c WHERE c.oid = a.viewid) AS relowner,
                   (SELECT format('%I.%I', n.nspname, c.relname)
                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = a.tenant_relid) AS tname
              FROM vall a
              -- (a hash join: a sub-select on the CTE would scan it per row)
              LEFT JOIN tgt t ON t.relid = a.tenant_relid
             WHERE NOT EXISTS (SELECT 1 FROM extrels e WHERE e.objid = a.viewid)
            OFFSET 0) x
     WHERE x.oid >= 16384		-- (a superuser's in information_schema too: review rev45c)
     GROUP BY x.oid, x.relkind, x.nspname, x.relname, x.reloptions, x.relowner),
-- SECURITY DEFINER functions of users, and the tenant tables they name
sdf AS MATERIALIZED (
    SELECT pr.oid, lower(pr.prosrc) AS src, pr.prosrc AS rawsrc, pr.proowner,
           -- dynamic SQL: names built at run time.  PL/pgSQL EXECUTE and the
           -- like, and in any language the built-in functions that run a
           -- query given as text
           tenant_rls._runs_dynamic_sql(lg.lanname,
               CASE WHEN pr.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(pr.oid) ELSE pr.prosrc END) AS dynamic,
           format('%I.%I(%s)', n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid)) AS ident
      FROM pg_proc pr
      JOIN pg_namespace n ON n.oid = pr.pronamespace
      JOIN pg_language lg ON lg.oid = pr.prolang
      LEFT JOIN extfuncs e ON e.objid = pr.oid
     -- (built-in ones by OID: a superuser may create functions in pg_catalog
     -- and information_schema, review rev45c)
     WHERE pr.prosecdef AND e.objid IS NULL AND pr.oid >= 16384),
-- the identifiers in their bodies (one pass), matched to table names by hash
sdword AS (SELECT DISTINCT s.oid, w.word FROM sdf s, tenant_rls._body_words(s.rawsrc) w(word)),
-- what a body can name to read a tenant table: the table, or a view that
-- reads it (through other views too; a security_invoker view run by the
-- function runs with the function owner's rights)
-- (review rev50a) and the tables that hold tenant rows without a tenant
-- column (ntrow: table_without_tenant_column's, invoice_lines of invoices),
-- with nt true: no row-level security limits what the function reads there
sdtab AS MATERIALIZED (
    SELECT t.relid, t.relname, t.qname, t.t_ok, false AS nt FROM tgt t
    UNION ALL
    SELECT t.relid, t.table_name, t.qname, false, true FROM ntrow n JOIN tt t ON t.relid = n.relid),
ntreach AS (
    SELECT vdep.viewid, n.relid FROM vdep JOIN ntrow n ON n.relid = vdep.base
    UNION
    SELECT vdep.viewid, ntreach.relid FROM ntreach JOIN vdep ON vdep.base = ntreach.viewid),
sdtarget AS MATERIALIZED (
    SELECT t.relid, t.relname, t.relid AS trelid, t.qname, t.t_ok, t.nt FROM sdtab t
    UNION ALL
    SELECT vr.viewid, (SELECT c.relname FROM pg_class c WHERE c.oid = vr.viewid), vr.tenant_relid, t.qname, t.t_ok,
           false
      FROM vreach vr JOIN tgt t ON t.relid = vr.tenant_relid
    UNION ALL
    SELECT vr.viewid, (SELECT c.relname FROM pg_class c WHERE c.oid = vr.viewid), vr.relid, t.qname, false, true
      FROM ntreach vr JOIN sdtab t ON t.relid = vr.relid AND t.nt),
-- the user functions they call (by name in the body, by dependency for
-- BEGIN ATOMIC), which run with the definer's rights too, and the user
-- functions materialized views call (run by the owner at refresh): the
-- direct calls first
callee0 AS MATERIALIZED (
    SELECT DISTINCT x.kind, x.caller, x.fid
      FROM (SELECT 'f' AS kind, w.oid AS caller, p.oid AS fid
              FROM sdword w JOIN pg_proc p ON p.proname::text = w.word
             WHERE p.oid >= 16384 AND p.oid <> w.oid
            UNION ALL
            SELECT 'f', d.objid, d.refobjid
              FROM sdf s JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = s.oid
                                         AND d.refclassid = 'pg_proc'::regclass
             WHERE d.refobjid >= 16384
            UNION ALL
            SELECT 'm', r.ev_class, d.refobjid
              FROM pg_depend d
              JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_proc'::regclass
               AND d.refobjid >= 16384 AND r.ev_class >= 16384
               AND (SELECT c.relkind FROM pg_class c WHERE c.oid = r.ev_class) = 'm'
            UNION ALL
            -- through operators and casts, and what the views they read run
            -- (review rev30c)
            SELECT 'f', s.oid, x.x
              FROM sdf s
              JOIN pg_proc pr ON pr.oid = s.oid
             CROSS JOIN LATERAL tenant_rls._operator_calls('pg_proc'::regclass, s.oid,
                                   CASE WHEN pr.prosqlbody IS NULL THEN pr.prosrc END) x(x)
            UNION ALL
            SELECT 'f', v.caller, x.x
              FROM (SELECT w.oid AS caller, c.oid
                      FROM sdword w
                     CROSS JOIN LATERAL (SELECT c.oid FROM pg_class c
                                          WHERE c.relname = w.word::name AND c.relkind = 'v' AND c.oid >= 16384) c
                    UNION
                    SELECT s.oid, d.refobjid
                      FROM sdf s
                      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = s.oid
                                      AND d.refclassid = 'pg_class'::regclass
                     WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = d.refobjid) = 'v') v
             CROSS JOIN LATERAL tenant_rls._view_calls(v.oid) x(x)
            UNION ALL
            -- the triggers its writes fire run with its owner's rights too
            -- (review rev39 lint F2)
            SELECT 'f', s.oid, x.x
              FROM sdf s
              JOIN pg_proc pr ON pr.oid = s.oid
             CROSS JOIN LATERAL tenant_rls._trigger_calls(
                 CASE WHEN pr.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(pr.oid) ELSE pr.prosrc END) x(x)
             WHERE x.x <> s.oid
            UNION ALL
            SELECT 'm', r.ev_class, x.x
              FROM pg_rewrite r
             CROSS JOIN LATERAL tenant_rls._operator_calls('pg_rewrite'::regclass, r.oid, NULL) x(x)
             WHERE r.ev_class >= 16384 AND (SELECT c.relkind FROM pg_class c WHERE c.oid = r.ev_class) = 'm'
            UNION ALL
            SELECT 'm', vd.viewid, x.x
              FROM vdep vd
             CROSS JOIN LATERAL tenant_rls._view_calls(vd.base) x(x)
             WHERE vd.viewid >= 16384 AND (SELECT c.relkind FROM pg_class c WHERE c.oid = vd.viewid) = 'm'
               AND (SELECT c.relkind FROM pg_class c WHERE c.oid = vd.base) = 'v'
) x
      LEFT JOIN extfuncs e ON e.objid = x.fid
     WHERE e.objid IS NULL),
-- ... and the calls among every user function those reach
cgraph AS MATERIALIZED (
    SELECT g.caller, g.callee
      FROM tenant_rls._call_edges(ARRAY(SELECT DISTINCT c0.fid FROM callee0 c0),
                                  ARRAY(SELECT e.objid FROM extfuncs e)) g),
cbody AS MATERIALIZED (
    SELECT p.oid,
           tenant_rls._runs_dynamic_sql(lg.lanname,
               CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END) AS dynamic,
           CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END AS body
      FROM pg_proc p JOIN pg_language lg ON lg.oid = p.prolang
     WHERE (p.oid IN (SELECT c.fid FROM callee0 c) OR p.oid IN (SELECT g.callee FROM cgraph g))
       AND lg.lanname NOT IN ('internal', 'c')),
cword AS (SELECT DISTINCT b.oid, w.word FROM cbody b, tenant_rls._body_words(b.body) w(word)),
-- the tenant tables the callees name
-- (EXISTS: a one-time test, so that no hash of sdtarget is built for nothing)
chit AS MATERIALIZED (
    SELECT cword.oid AS fid, x.trelid, x.qname
      FROM cword JOIN sdtarget x ON lower(x.relname) = cword.word
     WHERE EXISTS (SELECT 1 FROM cbody)
    UNION
    SELECT cword.oid, x.trelid, x.qname
      FROM cword JOIN sdtarget x ON x.relname = cword.word
     WHERE EXISTS (SELECT 1 FROM cbody)
    UNION
    SELECT b.oid, x.trelid, x.qname
      FROM cbody b
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = b.oid
                      AND d.refclassid = 'pg_class'::regclass
      JOIN sdtarget x ON x.relid = d.refobjid
    UNION
    -- the extension's functions that read tenant rows (review rev30c)
    SELECT cword.oid, e.trelid, t.qname
      FROM cword JOIN extread e ON e.word = cword.word JOIN tgt t ON t.relid = e.trelid
    UNION
    SELECT b.oid, e.trelid, t.qname
      FROM cbody b
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = b.oid
                      AND d.refclassid = 'pg_proc'::regclass
      JOIN extread e ON e.fid = d.refobjid
      JOIN tgt t ON t.relid = e.trelid),
-- ... and the tenant tables each of them reaches through the functions it
-- calls, and which of them run dynamic SQL or reach one that does (the
-- call graph walked backwards)
-- (each walk takes the calls, and the functions with their facts, as pairs
-- of arrays aggregated in one pass, so that their elements stay paired)
cgedges AS (SELECT array_agg(g.caller) AS callers, array_agg(g.callee) AS callees FROM cgraph g),
chitup AS MATERIALIZED (
    SELECT w.fid, w.val::oid AS trelid, t.qname, t.t_ok, t.nt
      FROM cgedges g,
           (SELECT array_agg(h.fid) AS fids, array_agg(h.trelid::text) AS vals FROM chit h) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w
      JOIN sdtab t ON t.relid = w.val::oid),
cdynup AS MATERIALIZED (
    SELECT w.fid
      FROM cgedges g,
           (SELECT array_agg(b.oid) AS fids, array_agg(''::text) AS vals FROM cbody b WHERE b.dynamic) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
sdhit AS (
    SELECT sdword.oid, x.qname, x.t_ok, x.nt
      FROM sdword JOIN sdtarget x ON lower(x.relname) = sdword.word
     WHERE EXISTS (SELECT 1 FROM sdf)
    UNION
    SELECT sdword.oid, x.qname, x.t_ok, x.nt
      FROM sdword JOIN sdtarget x ON x.relname = sdword.word
     WHERE EXISTS (SELECT 1 FROM sdf)
    UNION
    SELECT s.oid, x.qname, x.t_ok, x.nt
      FROM sdf s
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = s.oid
                      AND d.refclassid = 'pg_class'::regclass
      JOIN sdtarget x ON x.relid = d.refobjid
    UNION
    SELECT c.caller, h.qname, h.t_ok, h.nt FROM callee0 c JOIN chitup h ON h.fid = c.fid WHERE c.kind = 'f'
    UNION
    -- the extension's functions that read tenant rows (review rev30c)
    SELECT sdword.oid, t.qname, t.t_ok, false
      FROM sdword JOIN extread e ON e.word = sdword.word JOIN tgt t ON t.relid = e.trelid
    UNION
    SELECT s.oid, t.qname, t.t_ok, false
      FROM sdf s
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = s.oid
                      AND d.refclassid = 'pg_proc'::regclass
      JOIN extread e ON e.fid = d.refobjid
      JOIN tgt t ON t.relid = e.trelid),
-- security_definer_changes_isolation: SECURITY DEFINER functions that call
-- what undoes isolation, which then runs with their owner's rights
-- (grant_access() to the current tenant, unprotect(), mark_global(),
-- allow_global_rows(), accept_finding()), or name the tables behind them:
-- by name in the body or by dependency (BEGIN ATOMIC), also in a user
-- function they call at any depth
-- (calls outside string literals and comments; the tables only where the
-- body writes them)
isowords(word) AS (
    VALUES ('grant_access'), ('unprotect'), ('mark_global'), ('allow_global_rows'), ('accept_finding')),
isotables(word) AS (VALUES ('tenant_grant'), ('protected_table'), ('accepted_finding')),
-- the SECURITY DEFINER functions and the user functions they call, each once
isobody AS (SELECT s.oid, s.rawsrc AS body FROM sdf s UNION SELECT b.oid, b.body FROM cbody b),
isofact AS MATERIALIZED (
    SELECT x.oid AS fid, lower(m.m[1]) AS word
      FROM isobody x,
           regexp_matches(tenant_rls._code_text(x.body),
                          '\m(grant_access|unprotect|mark_global|allow_global_rows|accept_finding)\M', 'gi') m(m)
    UNION
    SELECT x.oid, w.rel_name
      FROM isobody x, tenant_rls._written_names(x.body) w
     WHERE w.verb IN ('insert', 'update', 'merge', 'copy')
       AND w.rel_name IN (SELECT i.word FROM isotables i)
       AND coalesce(w.schema_name, 'tenant_rls') = 'tenant_rls'
    UNION
    SELECT x.oid, p.proname::text
      FROM isobody x
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = x.oid AND d.refclassid = 'pg_proc'::regclass
      JOIN pg_proc p ON p.oid = d.refobjid AND p.pronamespace = 'tenant_rls'::regnamespace
      JOIN isowords i ON i.word = p.proname::text),
cisoup AS MATERIALIZED (
    SELECT w.fid, w.val AS word
      FROM cgedges g,
           (SELECT array_agg(c.fid) AS fids, array_agg(c.word) AS vals FROM isofact c) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
sdiso AS MATERIALIZED (
    SELECT s.oid, i.word FROM sdf s JOIN isofact i ON i.fid = s.oid
    UNION
    SELECT c.caller, u.word FROM callee0 c JOIN cisoup u ON u.fid = c.fid WHERE c.kind = 'f'),
-- security_definer_sets_tenant: the SECURITY DEFINER functions and the user
-- functions they call (review rev45c F1), each once, with their bodies
-- (BEGIN ATOMIC ones deparsed), and what sets the tenant in them:
-- set_tenant() by name (also quoted: tenant_rls."set_tenant"(t)) or by
-- dependency, set_config() of app.current_tenant_id or of a setting whose
-- name is not a string literal (a generic set_config(k, v) helper sets
-- app.current_tenant_id too), SET app.current_tenant_id; then walked back
-- through the calls (a SECURITY INVOKER helper the definer calls runs with
-- its owner's rights)
setbody AS (
    SELECT s.oid, CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END AS body
      FROM sdf s JOIN pg_proc p ON p.oid = s.oid
    UNION
    SELECT b.oid, b.body FROM cbody b),
setfact AS MATERIALIZED (
    SELECT x.oid AS fid, 'set' AS kind
      FROM setbody x
     WHERE lower(x.body) ~ '\mset_tenant"?\s*\('
        OR lower(x.body) ~ '\mset\s+(local\s+|session\s+)?"?app"?\."?current_tenant_id\M'
        OR EXISTS (SELECT 1 FROM regexp_matches(lower(x.body), '\mset_config"?\s*\(\s*(''(?:[^'']|'''')*''(?:::\w+)?\s*,)?', 'g') m(m)
                    WHERE m.m[1] IS NOT NULL
                      AND btrim(regexp_replace(m.m[1], '(::\w+)?\s*,$', ''), '''') = 'app.current_tenant_id')
        OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_proc f ON f.oid = d.refobjid
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = x.oid
                      AND d.refclassid = 'pg_proc'::regclass
                      AND f.pronamespace = 'tenant_rls'::regnamespace AND f.proname = 'set_tenant')
    UNION
    SELECT x.oid, 'config'
      FROM setbody x
     WHERE EXISTS (SELECT 1 FROM regexp_matches(lower(x.body), '\mset_config"?\s*\(\s*(''(?:[^'']|'''')*''(?:::\w+)?\s*,)?', 'g') m(m)
                    WHERE m.m[1] IS NULL)),
csetup AS MATERIALIZED (
    SELECT w.fid, w.val
      FROM cgedges g,
           (SELECT array_agg(c.fid) AS fids, array_agg(c.kind || ' ' || c.fid::text) AS vals FROM setfact c) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
-- (kind: set or config; via: the user function it calls that does, NULL
-- for its own body)
sdset AS MATERIALIZED (
    SELECT s.oid, f.kind, NULL::oid AS via FROM sdf s JOIN setfact f ON f.fid = s.oid
    UNION
    SELECT c.caller, split_part(u.val, ' ', 1), split_part(u.val, ' ', 2)::oid
      FROM callee0 c JOIN csetup u ON u.fid = c.fid WHERE c.kind = 'f'),
-- security_definer_reads_server_data: what row-level security does not
-- guard, named in the bodies of SECURITY DEFINER functions and of the user
-- functions they call (at any depth: review rev45c F2), or read with COPY
-- from a server file or a program
srvwords(word) AS (
    VALUES ('pg_stat_activity'), ('pg_stat_get_activity'), ('pg_stat_get_backend_activity'), ('pg_stat_statements'),
           ('pg_statistic'), ('pg_stats'), ('pg_stats_ext'), ('pg_stats_ext_exprs'), ('pg_statistic_ext_data'),
           ('pg_largeobject'), ('lo_get'), ('loread'), ('lo_export'),
           ('pg_read_file'), ('pg_read_binary_file'), ('pg_file_settings'), ('pg_show_all_file_settings'),
           -- pageinspect: any table's pages and their tuples, by name (review
           -- rev47f)
           ('get_raw_page'), ('heap_page_items'), ('heap_page_item_attrs'), ('tuple_data_split'),
           ('bt_page_items'), ('brin_page_items'), ('gist_page_items'), ('hash_page_items'),
           -- logical decoding: every change to every table, from the WAL
           -- (review rev48b)
           ('pg_logical_slot_get_changes'), ('pg_logical_slot_peek_changes'),
           ('pg_logical_slot_get_binary_changes'), ('pg_logical_slot_peek_binary_changes')),
srvfact AS MATERIALIZED (
    SELECT sw.oid AS fid, sw.word FROM sdword sw JOIN srvwords v ON v.word = sw.word
    UNION
    SELECT cw.oid, cw.word FROM cword cw JOIN srvwords v ON v.word = cw.word
    UNION
    SELECT x.oid, coalesce(c.relname::text, f.proname::text)
      FROM setbody x
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = x.oid
      LEFT JOIN pg_class c ON d.refclassid = 'pg_class'::regclass AND c.oid = d.refobjid
      LEFT JOIN pg_proc f ON d.refclassid = 'pg_proc'::regclass AND f.oid = d.refobjid
     WHERE coalesce(c.relname::text, f.proname::text) IN (SELECT v.word FROM srvwords v)
    UNION
    -- COPY ... FROM '<file>', COPY ... TO '<file>', COPY ... PROGRAM
    SELECT x.oid, CASE WHEN m.m[2] = 'program' THEN 'a program (COPY ... PROGRAM)'
                       WHEN m.m[1] = 'from' THEN 'a server file (COPY ... FROM ''<file>'')'
                       ELSE 'a server file (COPY ... TO ''<file>'' writes one)' END
      FROM setbody x,
           regexp_matches(lower(x.body), '\mcopy\M[^;]*?\m(from|to)\s+(program\M|e?'')', 'g') m(m)),
csrvup AS MATERIALIZED (
    SELECT w.fid, w.val
      FROM cgedges g,
           (SELECT array_agg(c.fid) AS fids, array_agg(c.fid::text || ' ' || c.word) AS vals FROM srvfact c) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
sdsrv AS MATERIALIZED (
    SELECT s.oid, f.word FROM sdf s JOIN srvfact f ON f.fid = s.oid
    UNION
    SELECT c.caller, format('%s (in %I.%I(%s))', substr(u.val, strpos(u.val, ' ') + 1), n.nspname, p.proname,
                           pg_get_function_identity_arguments(p.oid))
      FROM callee0 c
      JOIN csrvup u ON u.fid = c.fid
      JOIN pg_proc p ON p.oid = split_part(u.val, ' ', 1)::oid
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE c.kind = 'f'),
-- column privileges (pg_attribute.attacl), few
colacl AS MATERIALIZED (SELECT * FROM tenant_rls._column_acls()),
-- rolcreaterole: CREATEROLE of its own, or of a role it can SET ROLE to
-- (review rev47f: a member of a NOLOGIN role with CREATEROLE granted itself
-- a BYPASSRLS role after SET ROLE, and nothing was reported); crvia: that
-- role (NULL: its own)
logins AS MATERIALIZED (
    SELECT r.oid, r.rolname, r.rolcreaterole OR cv.oid IS NOT NULL AS rolcreaterole,
           CASE WHEN NOT r.rolcreaterole THEN cv.oid END AS crvia
      FROM pg_roles r
      LEFT JOIN LATERAL (SELECT c.oid FROM pg_roles c
                          WHERE c.rolcreaterole AND c.oid <> r.oid AND pg_has_role(r.oid, c.oid, 'MEMBER')
                          ORDER BY c.rolname LIMIT 1) cv ON true
     WHERE r.rolcanlogin AND NOT r.rolsuper),
-- application roles: login roles that hold (through membership too, or as
-- PUBLIC) a privilege to read or change some tenant table; one pass over the
-- tables' ACLs, then the few distinct grantees
approles AS MATERIALIZED (
    SELECT l.oid FROM logins l
     WHERE EXISTS (SELECT 1
                     -- the few distinct ACLs, not every table's
                     FROM (SELECT DISTINCT e.grantee
                             FROM (SELECT DISTINCT t.relacl, t.owner FROM ten t WHERE t.relacl IS NOT NULL) a
                            CROSS JOIN LATERAL aclexplode(a.relacl) e
                            WHERE e.grantee <> a.owner
                              AND e.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
                           UNION
                           -- column privileges too (review rev47f: a role
                           -- granted SELECT (...) of a tenant table was no
                           -- application role)
                           SELECT e.grantee
                             FROM colacl ca JOIN ten t ON t.relid = ca.attrelid
                            CROSS JOIN LATERAL aclexplode(ca.attacl) e
                            WHERE e.grantee <> t.owner
                              AND e.privilege_type IN ('SELECT', 'INSERT', 'UPDATE')) g
                    -- MEMBER: a NOINHERIT member uses them after SET ROLE
                    WHERE g.grantee = 0 OR pg_has_role(l.oid, g.grantee, 'MEMBER'))),
-- who may run a SECURITY DEFINER function: a trigger function whoever
-- fires the trigger (EXECUTE is not checked then), else PUBLIC or the
-- login roles granted EXECUTE, directly or through a role, other than the
-- owner's members, who have its rights anyway (NULL: none of them); any
-- login role, not only those that may use tenant tables: the
-- function runs with its owner's rights (review rev40e: a login role with
-- no privilege on any tenant table read them all through one)
sdwho AS (
    SELECT x.oid, coalesce(x.everyone, x.logins) AS who,
           -- (of the application roles only: reading server data with the
           -- owner's rights matters to a tenant session; a monitoring login
           -- may be meant to)
           coalesce(x.everyone, x.apps) AS app_who
      FROM (SELECT s.oid,
                   CASE WHEN p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype) THEN 'whoever fires it'
                        WHEN p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) e
                                                          WHERE e.grantee = 0 AND e.privilege_type = 'EXECUTE')
                        THEN 'PUBLIC' END AS everyone,
                   (SELECT string_agg(quote_ident(l.rolname), ', ' ORDER BY l.rolname)
                      FROM logins l
                     WHERE NOT pg_has_role(l.oid, p.proowner, 'MEMBER')
                       AND (has_function_privilege(l.oid, p.oid, 'EXECUTE')
                            -- (a NOINHERIT member runs it after SET ROLE: review rev47f)
                            OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) e
                                        WHERE e.privilege_type = 'EXECUTE' AND e.grantee <> 0
                                          AND pg_has_role(l.oid, e.grantee, 'MEMBER')))) AS logins,
                   (SELECT string_agg(quote_ident(l.rolname), ', ' ORDER BY l.rolname)
                      FROM approles a JOIN logins l ON l.oid = a.oid
                     WHERE NOT pg_has_role(l.oid, p.proowner, 'MEMBER')
                       AND (has_function_privilege(l.oid, p.oid, 'EXECUTE')
                            -- (a NOINHERIT member runs it after SET ROLE: review rev47f)
                            OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) e
                                        WHERE e.privilege_type = 'EXECUTE' AND e.grantee <> 0
                                          AND pg_has_role(l.oid, e.grantee, 'MEMBER')))) AS apps
              FROM sdf s JOIN pg_proc p ON p.oid = s.oid) x),
-- the tables a publication may include that hold tenant rows: tenant tables
-- and the extension's own (ext); unlogged and temporary ones are never
-- published
-- (nothing to compute in a database without publications)
pubtabs AS MATERIALIZED (
    SELECT c.oid AS relid, t.qname, c.relnamespace AS nspoid, false AS ext
      FROM ten t JOIN pg_class c ON c.oid = t.relid
     WHERE c.relpersistence = 'p' AND c.relkind IN ('r', 'p')
       AND c.relnamespace <> 'tenant_rls'::regnamespace
       AND EXISTS (SELECT 1 FROM pg_publication)
    UNION ALL
    SELECT c.oid, format('tenant_rls.%I', c.relname), c.relnamespace, true
      FROM pg_class c
     WHERE c.relnamespace = 'tenant_rls'::regnamespace AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
       AND EXISTS (SELECT 1 FROM pg_publication)),
-- the tables subscriptions of this database write into, and their partitions
subrels AS MATERIALIZED (
    SELECT sr.srrelid AS relid FROM pg_subscription_rel sr
    UNION
    SELECT pt.relid FROM pg_subscription_rel sr CROSS JOIN LATERAL pg_partition_tree(sr.srrelid) pt),
owners AS (SELECT DISTINCT t.owner, o.rolsuper AS owner_super
             FROM ten t JOIN pg_roles o ON o.oid = t.owner),
-- user functions called by policies, at any depth, and the settings their
-- bodies read (current_setting('name') with the name written out, a
-- computed name, pg_settings / pg_show_all_settings())
pfgraph AS MATERIALIZED (
    SELECT g.caller, g.callee
      FROM tenant_rls._call_edges(ARRAY(SELECT DISTINCT f.fid FROM pol p, unnest(p.funcs) f(fid)),
                                  ARRAY(SELECT e.objid FROM extfuncs e)) g),
pfbody AS MATERIALIZED (
    SELECT pf.fid,
           -- BEGIN ATOMIC bodies are stored as a tree, not as text
           lower(CASE WHEN pr.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(pr.oid)
                      ELSE pr.prosrc END) AS body
      FROM (SELECT f.fid FROM pol p, unnest(p.funcs) f(fid)
            UNION
            SELECT g.callee FROM pfgraph g) pf
      JOIN pg_proc pr ON pr.oid = pf.fid),
pfset AS MATERIALIZED (
    SELECT x.fid, array_agg(DISTINCT x.name ORDER BY x.name) AS names
      FROM (SELECT b.fid,
                   CASE WHEN m.m[1] IS NULL THEN '(computed name)' ELSE m.m[1] END AS name
              FROM pfbody b
             CROSS JOIN LATERAL regexp_matches(b.body,
                   'current_setting\s*\(\s*(?:''([^'']*)''(?=\s*(?:::\s*[a-z ]+)?[,)]))?', 'g') m
            UNION ALL
            SELECT b.fid, '(pg_settings)'
              FROM pfbody b
             WHERE b.body ~ '(pg_settings|pg_show_all_settings)') x
     WHERE lower(x.name) <> 'app.current_tenant_id' AND NOT starts_with(lower(x.name), 'tenant_rls.')
     GROUP BY x.fid),
-- the settings each function reads, itself or through the functions it
-- calls, named with the function that reads them (the calls walked
-- backwards)
pfsetup AS MATERIALIZED (
    SELECT w.fid, w.val AS via
      FROM (SELECT array_agg(g.caller) AS callers, array_agg(g.callee) AS callees FROM pfgraph g) g,
           (SELECT array_agg(fs.fid) AS fids, array_agg(format('%s in %s', n.name, fs.fid::regprocedure::text)) AS vals
              FROM pfset fs, unnest(fs.names) n(name)) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
-- per policy: the settings its functions (and those they call) read
polfset AS (
    SELECT p.relid, p.polname, array_agg(DISTINCT u.via) AS via
      FROM pol p, unnest(p.funcs) f(fid)
      JOIN pfsetup u ON u.fid = f.fid
     GROUP BY p.relid, p.polname),
-- the tables whose audit row trigger fires but whose audit TRUNCATE trigger
-- (a statement trigger: not cloned, every partition has its own) is
-- missing or does not fire; names looked up for these rows only
audtrunc AS MATERIALIZED (
    SELECT y.relid, y.trunc_name, y.qname
      FROM (SELECT x.relid, x.trunc_name,
                   (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = x.relid) AS qname,
                   (SELECT c.relkind FROM pg_class c WHERE c.oid = x.relid) AS relkind
              FROM (SELECT a.tgrelid AS relid, a.trunc_name
                      FROM audtg a
                     WHERE a.row_enabled AND NOT coalesce(a.trunc_fires, false)) x
            OFFSET 0) y
     WHERE y.relkind IN ('r', 'p')),
-- What tenant tables run or use besides their columns' data: the user
-- functions, types, operators and operator classes in a column's type, a
-- constraint, an index, a column default, a policy, a trigger (its function,
-- its WHEN clause) or a rule, from their recorded dependencies (built-in
-- objects are pinned: none are recorded), an array type standing for its
-- element type; not the extension's own functions.  One pass over
-- pg_depend; the table of the using object looked up for these rows only.
tuse AS MATERIALIZED (
    SELECT t.relid, t.qname, t.owner, u.classid, u.objid, u.objsubid, u.refclassid, u.refobjid
      FROM (SELECT d.classid, d.objid, d.objsubid, d.refclassid,
                   CASE WHEN d.refclassid = 'pg_type'::regclass
                        THEN coalesce((SELECT y.typelem FROM pg_type y
                                        WHERE y.oid = d.refobjid AND y.typcategory = 'A' AND y.typelem <> 0),
                                      d.refobjid)
                        ELSE d.refobjid END AS refobjid,
                   -- (what a partition has from its parent, its parent has:
                   -- a partition's columns and indexes, an inherited
                   -- constraint, a cloned trigger count there)
                   CASE d.classid
                        WHEN 'pg_class'::regclass
                        THEN (SELECT CASE WHEN c.relispartition THEN NULL
                                          WHEN c.relkind IN ('i', 'I')
                                          THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.oid)
                                          ELSE c.oid END
                                FROM pg_class c WHERE c.oid = d.objid)
                        WHEN 'pg_constraint'::regclass
                        THEN (SELECT c.conrelid FROM pg_constraint c WHERE c.oid = d.objid AND c.conislocal)
                        WHEN 'pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_policy p WHERE p.oid = d.objid)
                        WHEN 'pg_trigger'::regclass
                        THEN (SELECT tg.tgrelid FROM pg_trigger tg WHERE tg.oid = d.objid AND tg.tgparentid = 0)
                        WHEN 'pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid)
                        WHEN 'pg_statistic_ext'::regclass
                        THEN (SELECT x.stxrelid FROM pg_statistic_ext x WHERE x.oid = d.objid)
                        ELSE (SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = d.objid) END AS relid
              FROM pg_depend d
             WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_operator'::regclass,
                                    'pg_opclass'::regclass, 'pg_opfamily'::regclass)
               AND d.classid IN ('pg_class'::regclass, 'pg_constraint'::regclass, 'pg_policy'::regclass,
                                 'pg_trigger'::regclass, 'pg_rewrite'::regclass, 'pg_attrdef'::regclass,
                                 'pg_statistic_ext'::regclass)
               AND d.deptype = 'n'
               AND NOT (d.refclassid = 'pg_proc'::regclass AND d.refobjid IN (SELECT e.objid FROM extfuncs e))
            OFFSET 0) u
      JOIN ten t ON t.relid = u.relid),
-- ... with the domains those domains are over, at any depth (through: the
-- domain over it)
tusex(relid, qname, owner, classid, objid, objsubid, refclassid, refobjid, via) AS (
    SELECT u.relid, u.qname, u.owner, u.classid, u.objid, u.objsubid, u.refclassid, u.refobjid, NULL::text
      FROM tuse u
    UNION ALL
    SELECT x.relid, x.qname, x.owner, x.classid, x.objid, x.objsubid, 'pg_type'::regclass::oid, y.typbasetype,
           format('domain %s', format_type(x.refobjid, NULL))
      FROM tusex x
      JOIN pg_type y ON y.oid = x.refobjid AND y.typtype = 'd' AND y.typbasetype >= 16384
     WHERE x.refclassid = 'pg_type'::regclass),
-- ... and the functions a tenant table runs: those, the functions of the
-- CHECK constraints of the domains it uses and those of its operators
-- (through: the domain or operator), each with what uses it
tentry AS MATERIALIZED (
    SELECT u.relid, u.qname, u.owner, u.classid, u.objid, u.objsubid, u.refobjid AS fid, NULL::text AS via
      FROM tuse u WHERE u.refclassid = 'pg_proc'::regclass
    UNION ALL
    SELECT u.relid, u.qname, u.owner, u.classid, u.objid, u.objsubid, f.fid,
           CASE WHEN u.refclassid = 'pg_type'::regclass THEN format('domain %s', format_type(u.refobjid, NULL))
                ELSE format('operator %s', u.refobjid::regoperator) END
      FROM tusex u
      JOIN (SELECT y.refclassid, y.refobjid, f.fid
              FROM (SELECT DISTINCT u.refclassid, u.refobjid FROM tusex u
                     WHERE u.refclassid IN ('pg_type'::regclass, 'pg_operator'::regclass)) y
             -- (by index, for these few types and operators)
             CROSS JOIN LATERAL unnest(CASE WHEN y.refclassid = 'pg_type'::regclass
                  THEN ARRAY(SELECT d.refobjid FROM pg_depend d
                              WHERE d.classid = 'pg_constraint'::regclass AND d.refclassid = 'pg_proc'::regclass
                                AND d.objid = ANY (ARRAY(SELECT c.oid FROM pg_constraint c
                                                          WHERE c.contypid = y.refobjid)))
                  ELSE ARRAY[(SELECT o.oprcode::oid FROM pg_operator o WHERE o.oid = y.refobjid)] END) f(fid)
             WHERE f.fid >= 16384 AND f.fid NOT IN (SELECT e.objid FROM extfuncs e)
            -- (OFFSET 0: the lookups once for each type or operator, then
            -- joined; pulled up, they ran once for each use, 7,000 times
            -- for one domain on 10,000 tables)
            OFFSET 0) f
        ON f.refclassid = u.refclassid AND f.refobjid = u.refobjid),
-- What that code sends with NOTIFY (trigger_notifies): pg_notify() or NOTIFY
-- in a function's body, also dynamic (EXECUTE format('NOTIFY %I, ...')), or in
-- a user function it calls, at any depth (the usual broadcast() helper).
-- Once per distinct function, not per table (one updated_at function serves
-- many tables).
tgfun AS MATERIALIZED (SELECT DISTINCT e.fid FROM tentry e),
tggraph AS MATERIALIZED (
    SELECT g.caller, g.callee
      FROM tenant_rls._call_edges(ARRAY(SELECT f.fid FROM tgfun f), ARRAY(SELECT e.objid FROM extfuncs e)) g),
-- (the calls as a pair of arrays, for the walks backwards; every function
-- reached)
tgedges AS (SELECT array_agg(g.caller) AS callers, array_agg(g.callee) AS callees FROM tggraph g),
tgall AS (SELECT f.fid FROM tgfun f UNION SELECT g.callee FROM tggraph g),
-- the functions among them whose body notifies, then every function that
-- reaches one (the calls walked backwards), with the one that notifies
tnsrc AS (
    SELECT c.oid AS fid
      FROM tgall x
      JOIN pg_proc c ON c.oid = x.fid AND c.prolang NOT IN (12, 13)
     WHERE lower(CASE WHEN c.prosqlbody IS NULL THEN c.prosrc ELSE pg_get_function_sqlbody(c.oid) END)
           ~ '(\mpg_notify\M|\mnotify\s)'),
tnup AS MATERIALIZED (
    SELECT w.fid, w.val::oid AS notifier
      FROM tgedges g,
           (SELECT array_agg(t.fid) AS fids, array_agg(t.fid::text) AS vals FROM tnsrc t) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
tnotify AS MATERIALIZED (
    SELECT f.fid, bool_or(u.notifier = f.fid) AS direct,
           string_agg(DISTINCT u.notifier::regprocedure::text, ', ' ORDER BY u.notifier::regprocedure::text)
               FILTER (WHERE u.notifier <> f.fid) AS via
      FROM tgfun f JOIN tnup u ON u.fid = f.fid
     GROUP BY f.fid),
-- trigger_writes_unprotected_table: the relations that the functions of
-- user triggers on tenant tables, or the user functions they call at any
-- depth, write by name (INSERT INTO, UPDATE, MERGE INTO, COPY) and that
-- isolate no tenant: not a tenant table (a global table, one without the
-- tenant column, one outside the managed schemas; not tenant_rls's own),
-- then every trigger function that reaches such a write, with the relation
twsrc AS MATERIALIZED (
    SELECT x.kind, x.id, r.oid AS target, r.relkind, w.verb
      FROM (SELECT 'function' AS kind, p.oid AS id,
                   CASE WHEN p.prosqlbody IS NULL THEN p.prosrc ELSE pg_get_function_sqlbody(p.oid) END AS body
              FROM tgall x
              JOIN pg_proc p ON p.oid = x.fid AND p.prolang NOT IN (12, 13)
            UNION ALL
            -- the rules on tenant tables (their actions, the relations
            -- named with their schema: the search_path is locked)
            SELECT 'rule', rw.oid, pg_get_ruledef(rw.oid)
              FROM ten t JOIN pg_rewrite rw ON rw.ev_class = t.relid AND rw.rulename <> '_RETURN') x
     CROSS JOIN LATERAL tenant_rls._written_names(x.body) w
     -- the relations of that name (by the name index, for these few names),
     -- in the schema given; an unqualified name, which the function's
     -- search_path resolves, counts only if no relation of that name is a
     -- tenant table (it may be the one written)
     CROSS JOIN LATERAL (SELECT c.oid, c.relkind FROM pg_class c
                          WHERE c.relname = w.rel_name AND c.relkind IN ('r', 'p', 'f', 'v') AND c.relpersistence <> 't'
                            AND (w.schema_name IS NULL
                                 OR c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = w.schema_name))
                            AND c.oid >= 16384) r
     WHERE w.verb IN ('insert', 'update', 'merge', 'copy')
       AND NOT EXISTS (SELECT 1 FROM ten t WHERE t.relid = r.oid)
       AND NOT EXISTS (SELECT 1 FROM extrels e WHERE e.objid = r.oid)
       -- a view: written through to its tables, one of which isolates no
       -- tenant (review rev30c)
       AND (r.relkind <> 'v'
            OR EXISTS (SELECT 1 FROM tenant_rls._view_reach(r.oid) b
                        WHERE b.relkind IN ('r', 'p', 'f')
                          AND NOT EXISTS (SELECT 1 FROM ten t WHERE t.relid = b.relid)
                          AND NOT EXISTS (SELECT 1 FROM extrels e WHERE e.objid = b.relid)))
       AND (w.schema_name IS NOT NULL
            OR NOT EXISTS (SELECT 1 FROM pg_class c JOIN ten t ON t.relid = c.oid WHERE c.relname = w.rel_name))),
twup AS MATERIALIZED (
    SELECT w.fid, w.val::oid AS target
      FROM tgedges g,
           (SELECT array_agg(t.id) AS fids, array_agg(t.target::text) AS vals
              FROM (SELECT DISTINCT t.id, t.target FROM twsrc t WHERE t.kind = 'function') t) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
-- (review rev50a) where the rows written through a view go, whose readers
-- are those that count (the view's own: a view that is not
-- security_invoker over such a table is one of its readers anyway):
-- an auto-updatable view writes into the relation below it, at any depth
-- (the tables it reaches that isolate no tenant); a rule of the view for
-- the statement's event into what its actions write (and, DO INSTEAD,
-- nowhere else); an INSTEAD OF trigger for it nowhere: its function's
-- writes are followed as calls of the trigger (targets of their own)
twview AS (SELECT DISTINCT t.target, t.verb FROM twsrc t WHERE t.relkind = 'v'),
twsink AS MATERIALIZED (
    SELECT v.target, b.relid AS sink
      FROM twview v
     CROSS JOIN LATERAL tenant_rls._view_reach(v.target) b
     WHERE b.relkind IN ('r', 'p', 'f')
       AND NOT EXISTS (SELECT 1 FROM ten t WHERE t.relid = b.relid)
       AND NOT EXISTS (SELECT 1 FROM extrels e WHERE e.objid = b.relid)
       AND NOT EXISTS (SELECT 1 FROM pg_trigger tg
                        WHERE tg.tgrelid = v.target AND (tg.tgtype::int & 64) <> 0
                          AND (tg.tgtype::int & CASE v.verb WHEN 'update' THEN 16 WHEN 'merge' THEN 20 ELSE 4 END) <> 0)
       AND NOT EXISTS (SELECT 1 FROM pg_rewrite rw
                        WHERE rw.ev_class = v.target AND rw.is_instead AND rw.rulename <> '_RETURN'
                          AND rw.ev_type IN (CASE v.verb WHEN 'update' THEN '2' ELSE '3' END,
                                             CASE v.verb WHEN 'merge' THEN '2' ELSE '0' END))
    UNION
    SELECT v.target, c.oid
      FROM twview v
      JOIN pg_rewrite rw ON rw.ev_class = v.target AND rw.rulename <> '_RETURN'
                        AND rw.ev_type IN (CASE v.verb WHEN 'update' THEN '2' ELSE '3' END,
                                           CASE v.verb WHEN 'merge' THEN '2' ELSE '0' END)
     CROSS JOIN LATERAL tenant_rls._written_names(pg_get_ruledef(rw.oid)) w
     CROSS JOIN LATERAL (SELECT c.oid FROM pg_class c
                          WHERE c.relname = w.rel_name AND c.relkind IN ('r', 'p', 'f')
                            AND (w.schema_name IS NULL
                                 OR c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = w.schema_name))
                            AND c.oid >= 16384) c
     WHERE w.verb IN ('insert', 'update', 'merge', 'copy')
       AND NOT EXISTS (SELECT 1 FROM ten t WHERE t.relid = c.oid)
       AND NOT EXISTS (SELECT 1 FROM extrels e WHERE e.objid = c.oid)),
-- each target and the relations whose readers count for it
twmap AS MATERIALIZED (
    SELECT DISTINCT t.target, t.target AS rel FROM twsrc t WHERE t.relkind <> 'v'
    UNION
    SELECT k.target, k.sink FROM twsink k),
-- tenant_sequence_privilege: the sequences on which a role other than the
-- owner (not a superuser) or PUBLIC holds UPDATE, one row per grantor and
-- grantee (has_usage: the grantee holds USAGE too, from any grantor)
seqpriv AS MATERIALIZED (
    SELECT a.seq, a.sname, a.owner, a.grantor, a.grantee, a.grantable, a.has_usage, a.grantee_oid, a.bypass
      FROM (SELECT c.oid AS seq, format('%I.%I', n.nspname, c.relname) AS sname, c.relowner AS owner,
                   e.grantor, CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END AS grantee,
                   e.grantee AS grantee_oid, coalesce(gr.rolbypassrls, false) AS bypass,
                   e.is_grantable AS grantable,
                   EXISTS (SELECT 1 FROM aclexplode(c.relacl) u
                            WHERE u.grantee = e.grantee AND u.privilege_type = 'USAGE') AS has_usage
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN LATERAL aclexplode(c.relacl) e
              LEFT JOIN pg_roles gr ON gr.oid = e.grantee
             WHERE c.relkind = 'S' AND c.relacl IS NOT NULL
               AND e.privilege_type = 'UPDATE' AND e.grantee <> c.relowner AND NOT coalesce(gr.rolsuper, false)
            OFFSET 0) a),
-- table_without_tenant_column (review rev49c): the tables without the
-- tenant column that hold tenant rows.  tdir: the tables the tenant columns
-- reference alone (the table of tenants); ntrow: the unprotected tables of
-- the managed schemas without the tenant column with a foreign key to one of
-- those (dircol: its column, a tenant column by another name) or to a
-- tenant table (a child: invoice_lines of invoices)
tdir AS MATERIALIZED (
    SELECT DISTINCT co.confrelid AS relid
      FROM pg_constraint co JOIN ten t ON t.relid = co.conrelid
     WHERE co.contype = 'f' AND t.tenant_attnum IS NOT NULL
       AND co.conkey = ARRAY[t.tenant_attnum]),
ntrow AS MATERIALIZED (
    SELECT x.relid, min(x.dircol) AS dircol, min(x.parent) AS parent
      FROM (SELECT co.conrelid AS relid,
                   CASE WHEN d.relid IS NOT NULL AND cardinality(co.conkey) = 1
                        THEN (SELECT a.attname FROM pg_attribute a
                               WHERE a.attrelid = co.conrelid AND a.attnum = co.conkey[1]) END AS dircol,
                   p.qname AS parent
              FROM pg_constraint co
              JOIN tt t ON t.relid = co.conrelid
              LEFT JOIN tdir d ON d.relid = co.confrelid
              LEFT JOIN ten p ON p.relid = co.confrelid
             WHERE co.contype = 'f' AND co.conparentid = 0
               AND t.in_managed_schema AND t.status = 'unprotected' AND t.tenant_attnum IS NULL
               AND (d.relid IS NOT NULL OR p.relid IS NOT NULL)
               -- (review rev49g) not the table of tenants itself (its
               -- parent-tenant column, a reseller hierarchy): its rows are
               -- the tenants, not rows of a tenant
               AND NOT EXISTS (SELECT 1 FROM tdir s WHERE s.relid = co.conrelid)
            OFFSET 0) x
     GROUP BY x.relid),
-- who, other than the owner and superusers, may read the tables that
-- trigger_writes_unprotected_table writes to and those of ntrow (review
-- rev49c): a SELECT grant on the table or one of its columns, to a role or
-- PUBLIC, or one on a view that is not security_invoker (or a materialized
-- view) over it, through other views too; who: the grantees, with the view
rdcand AS (SELECT m.rel AS relid FROM twmap m UNION SELECT n.relid FROM ntrow n),
-- the roles of which a role that is neither a superuser nor BYPASSRLS is a
-- member, at any depth (review rev49i): walked up once from those members,
-- not down from each grantee and owner of readers (a recursive query per
-- row, each step a hash join over all of pg_auth_members under this
-- function's enable_nestloop = off: lint() took 85 s instead of 5 s with a
-- chain of 2,000 roles and 300 tables written by triggers).  Read only when
-- readers has a BYPASSRLS grantee or a NOLOGIN owner to decide.
nbmember AS MATERIALIZED (
    WITH RECURSIVE up(r) AS (
        SELECT am.roleid FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member
         WHERE NOT m.rolsuper AND NOT m.rolbypassrls
        UNION
        SELECT am.roleid FROM up JOIN pg_auth_members am ON am.member = up.r)
    SELECT up.r FROM up),
-- ... and those whose privileges such a member has without SET ROLE (review
-- rev50a): PostgreSQL 15 passes a role's privileges on to a member only if
-- the member is INHERIT, and no further up than a NOINHERIT role.  A
-- NOINHERIT member (Supabase's authenticator of service_role) uses a
-- BYPASSRLS role's grants only after SET ROLE to it, and then bypasses
-- row-level security anyway: that role's grants on a table are no reader's,
-- nor its UPDATE on a sequence a setval() of a tenant's.  (For the owner of
-- a table, nbmember: any member may SET ROLE to it and read as it.)
nbinherit AS MATERIALIZED (
    WITH RECURSIVE up(r, inh) AS (
        SELECT am.roleid, (SELECT x.rolinherit FROM pg_roles x WHERE x.oid = am.roleid)
          FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member
         WHERE NOT m.rolsuper AND NOT m.rolbypassrls AND m.rolinherit
        UNION
        SELECT am.roleid, (SELECT x.rolinherit FROM pg_roles x WHERE x.oid = am.roleid)
          FROM up JOIN pg_auth_members am ON am.member = up.r
         WHERE up.inh)
    SELECT DISTINCT up.r FROM up),
rdview(base, viewid) AS (
    SELECT c.relid, r.ev_class FROM rdcand c
      JOIN rdep r ON r.base = c.relid AND r.rulename = '_RETURN' AND r.ev_class <> c.relid
    UNION
    SELECT v.base, r.ev_class FROM rdview v
      JOIN rdep r ON r.base = v.viewid AND r.rulename = '_RETURN' AND r.ev_class <> v.viewid),
-- (the relations looked up by oid for these few rows: a hash join would
-- read all of pg_class)
rdrel AS MATERIALIZED (
    SELECT x.base, x.rel, (SELECT c.relowner FROM pg_class c WHERE c.oid = x.rel) AS owner,
           (SELECT c.relacl FROM pg_class c WHERE c.oid = x.rel) AS relacl
      FROM (SELECT c.relid AS base, c.relid AS rel FROM rdcand c
            UNION
            SELECT v.base, v.viewid FROM rdview v
             WHERE (SELECT vc.relkind = 'm'
                           OR NOT EXISTS (SELECT 1 FROM unnest(vc.reloptions) o
                                           WHERE lower(split_part(o, '=', 1)) = 'security_invoker'
                                             AND lower(split_part(o, '=', 2)) IN ('true', 'on', '1', 'yes', 't', 'y'))
                      FROM pg_class vc WHERE vc.oid = v.viewid)) x),
readers AS MATERIALIZED (
    SELECT y.base AS relid,
           string_agg(DISTINCT y.who || CASE WHEN y.rel <> y.base
                                             THEN format(' (through %s)', y.rel::regclass) ELSE '' END, ', ') AS who
      FROM (SELECT x.base, x.rel,
                   CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS who
              FROM (SELECT r.base, r.rel, r.owner, e.grantee, e.privilege_type
                      FROM rdrel r CROSS JOIN LATERAL aclexplode(r.relacl) e
                    UNION ALL
                    SELECT r.base, r.rel, r.owner, e.grantee, e.privilege_type
                      FROM rdrel r JOIN colacl ca ON ca.attrelid = r.rel
                     CROSS JOIN LATERAL aclexplode(ca.attacl) e) x
              LEFT JOIN pg_roles gr ON gr.oid = x.grantee
             WHERE x.privilege_type = 'SELECT' AND x.grantee <> x.owner AND NOT coalesce(gr.rolsuper, false)
               -- (review rev49g) a BYPASSRLS role reads every tenant's rows
               -- anyway: not a reader here, unless a role that is neither a
               -- superuser nor BYPASSRLS is a member of it (at any depth),
               -- which inherits the SELECT but not the BYPASSRLS
               -- (review rev50a: a member that inherits its privileges)
               AND NOT (coalesce(gr.rolbypassrls, false) AND x.grantee NOT IN (SELECT n.r FROM nbinherit n))
            UNION ALL
            -- (review rev49g) the owner of the table written, when it is a
            -- login role (an application that logs in as the owner of its
            -- tables) or a role with members that are neither superusers
            -- nor BYPASSRLS: they read it without any grant
            SELECT r.base, r.rel, format('%s (its owner)', quote_ident(o.rolname))
              FROM rdrel r JOIN pg_roles o ON o.oid = r.owner
             WHERE r.rel = r.base AND NOT o.rolsuper AND NOT o.rolbypassrls
               AND (o.rolcanlogin OR o.oid IN (SELECT n.r FROM nbmember n))
            OFFSET 0) y
     GROUP BY y.base),
-- The other code of tenant tables that calls those functions: not a
-- trigger's own function (the trigger findings above), nor the clone of a
-- partitioned table's trigger
tother AS MATERIALIZED (
    SELECT e.* FROM tentry e
     WHERE e.classid <> 'pg_trigger'::regclass
        OR NOT EXISTS (SELECT 1 FROM pg_trigger tg
                        WHERE tg.oid = e.objid AND ((tg.tgfoid = e.fid AND e.via IS NULL) OR tg.tgparentid <> 0))),
-- ... and the expressions of tenant tables that call pg_notify() themselves
-- (a trigger's WHEN clause, a CHECK constraint, a column default, an index,
-- a policy of their own, a rule), from their stored trees: built-in
-- functions leave no dependency to follow
texpr AS MATERIALIZED (
    SELECT x.relid, x.qname, x.classid, x.objid
      FROM (SELECT t.relid, t.qname, 'pg_trigger'::regclass::oid AS classid, tg.oid AS objid, tg.tgqual::text AS expr
              FROM ten t JOIN pg_trigger tg ON tg.tgrelid = t.relid AND tg.tgqual IS NOT NULL AND tg.tgparentid = 0
            UNION ALL
            SELECT t.relid, t.qname, 'pg_constraint'::regclass, c.oid, c.conbin::text
              FROM ten t JOIN pg_constraint c ON c.conrelid = t.relid AND c.contype = 'c' AND c.conislocal
            UNION ALL
            SELECT t.relid, t.qname, 'pg_attrdef'::regclass, d.oid, d.adbin::text
              FROM ten t JOIN pg_attrdef d ON d.adrelid = t.relid
            UNION ALL
            SELECT t.relid, t.qname, 'pg_class'::regclass, i.indexrelid, concat(i.indexprs::text, i.indpred::text)
              FROM ten t JOIN pg_index i ON i.indrelid = t.relid
             WHERE (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)
               AND NOT (SELECT c.relispartition FROM pg_class c WHERE c.oid = i.indexrelid)
            UNION ALL
            SELECT t.relid, t.qname, 'pg_statistic_ext'::regclass, x.oid, x.stxexprs::text
              FROM ten t JOIN pg_statistic_ext x ON x.stxrelid = t.relid AND x.stxexprs IS NOT NULL
            UNION ALL
            SELECT t.relid, t.qname, 'pg_policy'::regclass, p.oid, concat(p.polqual::text, p.polwithcheck::text)
              FROM ten t JOIN pg_policy p ON p.polrelid = t.relid AND NOT p.polname LIKE 'tenant\_rls\_%'
            UNION ALL
            SELECT t.relid, t.qname, 'pg_rewrite'::regclass, r.oid, concat(r.ev_qual::text, r.ev_action::text)
              FROM ten t JOIN pg_rewrite r ON r.ev_class = t.relid AND r.rulename <> '_RETURN') x
     WHERE strpos(x.expr, format(':funcid %s ', 'pg_catalog.pg_notify(text, text)'::regprocedure::oid)) > 0),
-- dependency_owned_by_other_role: of what tenant tables use (and of the
-- user functions that calls, at any depth), what a role owns that is
-- neither a superuser nor the table's owner
uofn AS (
    SELECT p.oid AS fid
      FROM tgall x
      JOIN pg_proc p ON p.oid = x.fid
      JOIN pg_roles r ON r.oid = p.proowner AND NOT r.rolsuper),
uofnup AS MATERIALIZED (
    SELECT w.fid, w.val::oid AS other
      FROM tgedges g,
           (SELECT array_agg(f.fid) AS fids, array_agg(f.fid::text) AS vals FROM uofn f) f,
           tenant_rls._walk_calls_back(g.callers, g.callees, f.fids, f.vals) w),
-- the sequences a tenant table's INSERTs take their ids from, gathered once
-- for tenant_sequence_privilege and dependency_owned_by_other_role (review
-- rev51a; rev50e, rev50h): a column default's nextval(), by dependency or,
-- named in text (nextval('s'::text), and (review rev51a) through nested
-- casts, to_regclass('s'), ('s'::name)::regclass: PostgreSQL records no
-- dependency and resolves the name at each INSERT), by the name resolved as
-- the INSERT would, in the schema given, and for an unqualified name (the
-- inserting session's search_path decides) every sequence of that name, by
-- the name index; and the same of the DEFAULT of the domain of a column
-- without a default of its own (review rev51a: also in text; the domain's
-- own: CREATE DOMAIN copies the default of a domain it is over, and an INSERT
-- reads only that of the column's type).  Only the defaults that call
-- nextval() and a cast of a string to regclass or to_regclass() are deparsed
-- (review rev50h: 0.1 ms a default).  (A
-- sequence OWNED BY a column, serial or identity, has its table's owner:
-- tenant_sequence_privilege reads those from pg_depend itself.)
tseq AS MATERIALIZED (
    SELECT x.relid, x.qname, x.owner, x.classid, x.objid, x.objsubid, x.seq, x.via, s.relowner AS sowner
      FROM (SELECT t.relid, t.qname, t.owner, 'pg_attrdef'::regclass::oid AS classid, ad.oid AS objid,
                   0 AS objsubid, d.refobjid AS seq, NULL::text AS via
              FROM pg_depend d
              JOIN pg_attrdef ad ON ad.oid = d.objid
              JOIN ten t ON t.relid = ad.adrelid
             WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
            UNION
            SELECT t.relid, t.qname, t.owner, 'pg_attrdef'::regclass, ad.oid, 0, q.seq, NULL
              FROM ten t
              JOIN pg_attrdef ad ON ad.adrelid = t.relid
             CROSS JOIN LATERAL tenant_rls._nextval_names(pg_get_expr(ad.adbin, ad.adrelid)) nm
             -- (OFFSET 0: looked up by name in pg_class's index, not a
             -- hash of every sequence)
             CROSS JOIN LATERAL (SELECT c.oid AS seq FROM pg_class c
                                  WHERE c.relname = nm.rel_name AND c.relkind = 'S' AND c.relpersistence <> 't'
                                    AND (nm.schema_name IS NULL
                                         OR c.relnamespace = (SELECT n.oid FROM pg_namespace n
                                                               WHERE n.nspname = nm.schema_name))
                                 OFFSET 0) q
             -- nextval(); text to regclass (regclass(text)), to_regclass(),
             -- or (name, char) the cast through their text forms
             WHERE strpos(ad.adbin::text, ':funcid 1574 ') > 0
               AND (strpos(ad.adbin::text, ':funcid 1079 ') > 0 OR strpos(ad.adbin::text, ':funcid 3495 ') > 0
                    OR strpos(ad.adbin::text, ':resulttype 2205 ') > 0)) x
      JOIN pg_class s ON s.oid = x.seq AND s.relkind = 'S'
    UNION ALL
    SELECT y.relid, y.qname, y.owner, 'pg_class'::regclass, y.relid, y.attnum, y.seq,
           format('domain %s', format_type(y.typid, NULL)), s.relowner
      FROM (SELECT DISTINCT t.relid, t.qname, t.owner, a.attnum, dm.oid AS typid, z.seq
              FROM ten t
              JOIN uatt a ON a.attrelid = t.relid AND NOT a.atthasdef
              JOIN pg_type dm ON dm.oid = a.atttypid AND dm.typtype = 'd' AND dm.typdefaultbin IS NOT NULL
             CROSS JOIN LATERAL (
                   SELECT d.refobjid AS seq FROM pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = dm.oid
                      AND d.refclassid = 'pg_class'::regclass
                   UNION ALL
                   -- (review rev51a) in text
                   SELECT c.oid FROM tenant_rls._nextval_names(pg_get_expr(dm.typdefaultbin, 0)) nm
                     JOIN pg_class c ON c.relname = nm.rel_name AND c.relkind = 'S' AND c.relpersistence <> 't'
                                    AND (nm.schema_name IS NULL
                                         OR c.relnamespace = (SELECT n.oid FROM pg_namespace n
                                                               WHERE n.nspname = nm.schema_name))
                    WHERE strpos(dm.typdefaultbin::text, ':funcid 1574 ') > 0
                      AND (strpos(dm.typdefaultbin::text, ':funcid 1079 ') > 0
                           OR strpos(dm.typdefaultbin::text, ':funcid 3495 ') > 0
                           OR strpos(dm.typdefaultbin::text, ':resulttype 2205 ') > 0)) z) y
      JOIN pg_class s ON s.oid = y.seq AND s.relkind = 'S'),
-- (review rev50h) those owned by a role other than the table's owner: their
-- owner may setval() or RESTART them without any grant
useq AS MATERIALIZED (
    SELECT s.relid, s.qname, s.owner, s.classid, s.objid, s.objsubid, s.seq, s.via
      FROM tseq s WHERE s.sowner <> s.owner),
-- the uses: which table uses which object, through what
uuse AS MATERIALIZED (
    SELECT u.relid, u.qname, u.owner, u.classid, u.objid, u.objsubid,
           u.refclassid AS ocls, u.refobjid AS ooid, u.via
      FROM tusex u WHERE u.refclassid <> 'pg_proc'::regclass
    UNION ALL
    SELECT e.relid, e.qname, e.owner, e.classid, e.objid, e.objsubid, 'pg_proc'::regclass, w.other,
           nullif(concat_ws(', ', e.via,
                            CASE WHEN w.other <> e.fid THEN format('function %s', e.fid::regprocedure) END),
                  '')
      FROM tentry e JOIN uofnup w ON w.fid = e.fid
    UNION ALL
    SELECT s.relid, s.qname, s.owner, s.classid, s.objid, s.objsubid, 'pg_class'::regclass, s.seq, s.via
      FROM useq s),
-- the objects used, once each (one domain or function often serves many
-- tables), whose owner is not a superuser, leaving out the members of
-- extensions (their owner's: extension_owner_not_superuser); with what the
-- finding says of each
uobj AS MATERIALIZED (
    SELECT y.ocls, y.ooid, y.oowner, r.rolname,
           CASE WHEN EXISTS (SELECT 1 FROM approles a WHERE pg_has_role(a.oid, y.oowner, 'MEMBER'))
                THEN 'error' ELSE 'warning' END AS level,
           o.*
      FROM (SELECT d.ocls, d.ooid,
                   CASE d.ocls
                        WHEN 'pg_proc'::regclass THEN (SELECT p.proowner FROM pg_proc p WHERE p.oid = d.ooid)
                        WHEN 'pg_type'::regclass THEN (SELECT y.typowner FROM pg_type y WHERE y.oid = d.ooid)
                        WHEN 'pg_operator'::regclass THEN (SELECT o.oprowner FROM pg_operator o WHERE o.oid = d.ooid)
                        WHEN 'pg_opclass'::regclass THEN (SELECT o.opcowner FROM pg_opclass o WHERE o.oid = d.ooid)
                        WHEN 'pg_class'::regclass THEN (SELECT c.relowner FROM pg_class c WHERE c.oid = d.ooid)
                        ELSE (SELECT o.opfowner FROM pg_opfamily o WHERE o.oid = d.ooid) END AS oowner
              FROM (SELECT DISTINCT u.ocls, u.ooid FROM uuse u) d
            OFFSET 0) y
      JOIN pg_roles r ON r.oid = y.oowner AND NOT r.rolsuper
                     -- (review rev50h) a sequence: not a BYPASSRLS owner
                     -- whose privileges no role without BYPASSRLS inherits,
                     -- as for tenant_sequence_privilege's grantees
                     AND NOT (y.ocls = 'pg_class'::regclass AND r.rolbypassrls
                              AND r.oid NOT IN (SELECT n.r FROM nbinherit n))
     CROSS JOIN LATERAL (
           SELECT CASE y.ocls WHEN 'pg_proc'::regclass THEN y.ooid::regprocedure::text
                              WHEN 'pg_type'::regclass THEN format_type(y.ooid, NULL)
                              WHEN 'pg_operator'::regclass THEN y.ooid::regoperator::text
                              WHEN 'pg_class'::regclass
                              THEN (SELECT format('%I.%I', n.nspname, c.relname)
                                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = y.ooid)
                              WHEN 'pg_opclass'::regclass
                              THEN (SELECT format('%I.%I USING %I', n.nspname, c.opcname, am.amname)
                                      FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace
                                      JOIN pg_am am ON am.oid = c.opcmethod WHERE c.oid = y.ooid)
                              ELSE (SELECT format('%I.%I USING %I', n.nspname, f.opfname, am.amname)
                                      FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
                                      JOIN pg_am am ON am.oid = f.opfmethod WHERE f.oid = y.ooid) END AS name,
                  CASE y.ocls WHEN 'pg_proc'::regclass THEN 'function'
                              WHEN 'pg_type'::regclass
                              THEN CASE WHEN (SELECT t.typtype FROM pg_type t WHERE t.oid = y.ooid) = 'd' THEN 'domain' ELSE 'type' END
                              WHEN 'pg_operator'::regclass THEN 'operator'
                              WHEN 'pg_class'::regclass THEN 'sequence'
                              WHEN 'pg_opclass'::regclass THEN 'operator class' ELSE 'operator family' END AS kind,
                  -- (review rev50h) a sequence OWNED BY a column of a table
                  -- (of that role): ALTER SEQUENCE ... OWNER TO refuses it
                  (SELECT format('%s.%I', d.refobjid::regclass, a.attname)
                     FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                    WHERE y.ocls = 'pg_class'::regclass AND d.classid = 'pg_class'::regclass AND d.objid = y.ooid
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                    LIMIT 1) AS ownedby,
                  coalesce((SELECT f.prosecdef FROM pg_proc f WHERE y.ocls = 'pg_proc'::regclass AND f.oid = y.ooid), false) AS secdef,
                  -- (a table's row type: its table's owner owns it)
                  coalesce((SELECT (SELECT c.relkind <> 'c' FROM pg_class c WHERE c.oid = t.typrelid)
                              FROM pg_type t WHERE y.ocls = 'pg_type'::regclass AND t.oid = y.ooid), false) AS rowtype) o
     -- (a lookup per object in pg_depend's index, not an anti join: with
     -- nested loops off that read all of pg_depend for a few objects)
     WHERE (SELECT count(*) FROM pg_depend e
             WHERE e.classid = y.ocls AND e.objid = y.ooid AND e.deptype = 'e') = 0),
-- dependency_owned_by_other_role: the uses of those objects by tables of
-- another owner
uown AS MATERIALIZED (
    SELECT y.*
      FROM (SELECT x.*,
                   -- (tables of several owners use it: no one owner to give
                   -- it to; review rev51a: those of the object's owner and
                   -- of its members counted, left out below: after the fix
                   -- they would use an object of another owner)
                   count(*) FILTER (WHERE x.owner <> x.first_owner) OVER (PARTITION BY x.ocls, x.ooid) > 0 AS owners
              FROM (SELECT u.*, o.oowner, o.rolname, o.level, o.name, o.kind, o.secdef, o.rowtype, o.ownedby,
                           first_value(u.owner) OVER (PARTITION BY u.ocls, u.ooid) AS first_owner
                      FROM uuse u JOIN uobj o ON o.ocls = u.ocls AND o.ooid = u.ooid) x) y
     WHERE y.oowner <> y.owner
       -- (review rev50h) not a role with the privileges of the table's
       -- owner, a member of it (it may alter, truncate or drop the table
       -- anyway, as for tenant_sequence_privilege) (review rev51a: of a
       -- function, domain, type or operator as of a sequence: it may give
       -- the table triggers, checks and defaults of its own code as well); a
       -- role whose privileges the owner has is reported: its other members
       -- may change the object (or setval()) too
       AND NOT pg_has_role(y.oowner, y.owner, 'MEMBER')),
-- the settings that turn a safeguard of tenant_rls off, how bad that is,
-- the values that do (lower case, unquoted), and what it does (after "In
-- those sessions" / "In every session")
weakset(name, level, weak, what) AS (
    VALUES ('tenant_rls.strict', 'error', '^(f|fa|fal|fals|false|n|no|of|off|0)$', 'strict mode is off: any of them, or any SQL injection into them, can SET app.current_tenant_id to another tenant, whatever lint() run in another session says about strict mode.'),
           ('tenant_rls.drift_action', 'warning', '^(?!error$)', 'the drift guard only warns: DISABLE ROW LEVEL SECURITY, NO FORCE, ALTER POLICY and DROP POLICY on protected tables go through.'),
           ('tenant_rls.auto_protect', 'warning', '^(f|fa|fal|fals|false|n|no|of|off|0)$', 'tables created in the managed schemas are not protected automatically: they stay readable by every tenant until somebody runs protect().'),
           ('tenant_rls.hide_statistics', 'warning', '^(f|fa|fal|fals|false|n|no|of|off|0)$', 'queries on protected tables are planned with the columns'' most common values and histograms, computed over every tenant''s rows: EXPLAIN estimates show other tenants'' values and row counts. Keep it off only for roles trusted with every tenant''s data.'),
           ('tenant_rls.audit', 'warning', '^(f|fa|fal|fals|false|n|no|of|off|0)$', 'tables that protect() protects get no audit trigger: their changes are not recorded.'),
           ('lo_compat_privileges', 'warning', '^(t|tr|tru|true|y|ye|yes|on|1)$', 'PostgreSQL checks no privilege on large objects: every role reads, changes and unlinks every large object, whoever owns it and whatever tenant''s file it holds (large objects have no row-level security).'),
           ('row_security', 'warning', '^(f|fa|fal|fals|false|n|no|of|off|0)$', 'row_security is off: a query of a role that row-level security applies to fails instead of being filtered, and where check_function_bodies is off as well (what the output of pg_dump sets) tenant_rls takes the session for a restore: tables it creates in the managed schemas are not protected automatically.')),
-- session_replication_role = replica as a stored default
-- stored defaults (ALTER ROLE / ALTER DATABASE ... SET) of the settings
-- findings look at: the setting, the entry, whom it applies to and the
-- statement that stored it (the fix is that statement's RESET)
roledef AS (
    SELECT lower(split_part(c.c, '=', 1)) AS name, c.c, s.setdatabase, s.setrole,
           -- the name as stored, for RESET, which matches it exactly
           -- (review rev40e: "App.Current_Tenant_Id" stayed after RESET
           -- app.current_tenant_id)
           (SELECT string_agg(quote_ident(u.part), '.' ORDER BY u.i) FROM unnest(string_to_array(split_part(c.c, '=', 1), '.')) WITH ORDINALITY u(part, i)) AS reset_name,
           CASE WHEN s.setrole = 0 AND s.setdatabase = 0 THEN 'all roles'
                WHEN s.setrole = 0 THEN format('database %I', db.datname)
                WHEN s.setdatabase = 0 THEN format('role %I', pg_get_userbyid(s.setrole))
                ELSE format('role %I in database %I', pg_get_userbyid(s.setrole), db.datname) END AS object,
           CASE WHEN s.setrole = 0 AND s.setdatabase = 0 THEN 'ALTER ROLE ALL'
                WHEN s.setrole = 0 THEN format('ALTER DATABASE %I', db.datname)
                WHEN s.setdatabase = 0 THEN format('ALTER ROLE %I', pg_get_userbyid(s.setrole))
                ELSE format('ALTER ROLE %I IN DATABASE %I', pg_get_userbyid(s.setrole), db.datname) END AS stmt
      FROM pg_db_role_setting s
      LEFT JOIN pg_database db ON db.oid = s.setdatabase
     CROSS JOIN LATERAL unnest(s.setconfig) c(c)
     WHERE lower(split_part(c.c, '=', 1)) IN ('app.current_tenant_id', 'session_replication_role',
                                               'tenant_rls.audit_delivery', 'tenant_rls.admin_role',
                                               'tenant_rls.strict', 'tenant_rls.drift_action',
                                               'tenant_rls.auto_protect', 'tenant_rls.audit',
                                               'tenant_rls.hide_statistics',
                                               'tenant_rls.mask_activity_values', 'track_activities',
                                               'row_security', 'tenant_rls.signing_key',
                                               'tenant_rls.signing_key_previous', 'lo_compat_privileges')),
-- the same settings in the configuration files (ALTER SYSTEM writes
-- postgresql.auto.conf; read from the files, so also before a reload;
-- pg_file_settings needs pg_read_all_settings): who set it, where, and how
-- to undo it
filedef AS (
    SELECT lower(f.name) AS name, lower(f.setting) AS setting,
           format('configuration file %s', f.sourcefile) AS object,
           format('%s, line %s', f.sourcefile, f.sourceline) AS place,
           f.sourcefile LIKE '%postgresql.auto.conf' AS auto,
           CASE WHEN f.sourcefile LIKE '%postgresql.auto.conf' THEN 'ALTER SYSTEM' ELSE 'The configuration file' END AS who,
           CASE WHEN f.sourcefile LIKE '%postgresql.auto.conf'
                THEN 'After ALTER SYSTEM RESET (a statement of its own, outside a transaction block), run SELECT pg_reload_conf() so that new sessions no longer get it.'
                ELSE 'Remove the line from the file and run SELECT pg_reload_conf().' END AS undo,
           -- the line that wins (the last one of that name)
           f.seqno = max(f.seqno) OVER (PARTITION BY lower(f.name)) AS wins
      FROM tenant_rls._file_settings() f
     WHERE lower(f.name) IN ('app.current_tenant_id', 'session_replication_role', 'tenant_rls.audit_delivery',
                             'tenant_rls.admin_role', 'tenant_rls.hide_statistics', 'track_activities',
                             'tenant_rls.drift_action', 'tenant_rls.auto_protect', 'tenant_rls.audit',
                             'row_security', 'lo_compat_privileges')
       AND f.error IS NULL),
-- the roles tenant_rls.admin_role names where sessions of this database get
-- it: this session, a stored default (all roles, this database, a role), the
-- configuration files
admins AS MATERIALIZED (
    SELECT DISTINCT ar.oid, ar.rolname
      FROM (SELECT nullif(current_setting('tenant_rls.admin_role', true), '') AS role
            UNION ALL
            SELECT btrim(substr(r.c, strpos(r.c, '=') + 1), ' ''"')
              FROM roledef r
             WHERE r.name = 'tenant_rls.admin_role'
               AND (r.setdatabase = 0
                    OR r.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
            UNION ALL
            SELECT fd.setting FROM filedef fd WHERE fd.name = 'tenant_rls.admin_role') a
      JOIN pg_roles ar ON ar.rolname = a.role),
-- the user mappings of postgres_fdw and dblink servers that log in as a role
-- that bypasses row-level security (superuser, BYPASSRLS, the admin role):
-- the role the mapping names, else libpq's default, the server's
-- operating-system user, whom initdb names the bootstrap superuser (review
-- rev40e: such a mapping logged in as postgres unreported); dbname: the
-- database the server names
umaps AS MATERIALIZED (
    SELECT um.umuser, s.oid AS srvid, s.srvname, w.fdwname, o.named_user, o.dbname, r.rolname, r.rolsuper, r.rolbypassrls
      FROM tenant_rls._user_mappings() um
      JOIN pg_foreign_server s ON s.oid = um.umserver
      JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname IN ('postgres_fdw', 'dblink_fdw')
     CROSS JOIN LATERAL (
           SELECT (SELECT substr(o, strpos(o, '=') + 1) FROM unnest(um.umoptions) o WHERE split_part(o, '=', 1) = 'user') AS named_user,
                  (SELECT substr(o, strpos(o, '=') + 1) FROM unnest(s.srvoptions) o WHERE split_part(o, '=', 1) = 'dbname') AS dbname) o
      JOIN pg_roles r ON r.rolname = coalesce(o.named_user, (SELECT b.rolname FROM pg_roles b WHERE b.oid = 10))
     WHERE r.rolsuper OR r.rolbypassrls OR EXISTS (SELECT 1 FROM admins a WHERE pg_has_role(r.oid, a.oid, 'USAGE'))),
-- SET / ALTER SYSTEM ON PARAMETER granted to PUBLIC or a role that is not a
-- superuser on a setting tenant_rls relies on (its own, the keys included,
-- and session_replication_role): one row per setting, grantee and grantor,
-- with its words for the message and its fix.  CASCADE: what the grantee
-- granted on with a grant option goes too; a privilege another role
-- granted it (holding a grant option) has no fix of its own: that role's
-- finding's fix removes it.
pargrants AS (
    SELECT p.is_key, p.parname, p.who,
           p.privs || ' ON PARAMETER ' || p.parname
           || CASE WHEN NOT p.by_super THEN format(' (granted by %s: revoke it from that role)', p.grantor) ELSE '' END AS what,
           CASE WHEN p.by_super
                THEN format('REVOKE SET, ALTER SYSTEM ON PARAMETER %s FROM %s CASCADE;', p.parname, p.who) END AS fix
      FROM (SELECT pa.parname IN ('tenant_rls.signing_key', 'tenant_rls.signing_key_previous') AS is_key,
                   pa.parname, CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS who,
                   string_agg(x.privilege_type, ' and ' ORDER BY x.privilege_type) AS privs,
                   quote_ident(g.rolname) AS grantor, g.rolsuper AS by_super
              FROM pg_parameter_acl pa
             CROSS JOIN LATERAL aclexplode(pa.paracl) x
              LEFT JOIN pg_roles r ON r.oid = x.grantee
              JOIN pg_roles g ON g.oid = x.grantor
             WHERE (pa.parname LIKE 'tenant\_rls.%'
                    OR pa.parname IN ('session_replication_role', 'shared_preload_libraries', 'session_preload_libraries')
                    -- everybody may SET the tenant; ALTER SYSTEM sets it for
                    -- every session, as a superuser would (review rev46b)
                    OR (pa.parname = 'app.current_tenant_id' AND x.privilege_type = 'ALTER SYSTEM'))
               AND x.privilege_type IN ('SET', 'ALTER SYSTEM')
               AND (x.grantee = 0 OR NOT r.rolsuper)
             GROUP BY pa.parname, x.grantee, r.rolname, g.rolname, g.rolsuper) p),
-- the relations of schema tenant_rls: the extension's members and the
-- audit log's partitions (not members: audit_maintain() or a restore
-- creates them), looked up by OID
xrel AS MATERIALIZED (
    SELECT (x.c).oid, (x.c).relname, (x.c).relkind, (x.c).relowner, (x.c).relacl
      FROM (SELECT (SELECT c FROM pg_class c WHERE c.oid = r.relid) AS c
              FROM (SELECT e.objid AS relid FROM extrels e
                    UNION
                    SELECT i.inhrelid FROM pg_inherits i
                     WHERE i.inhparent = to_regclass('tenant_rls.audit_batch')) r
            OFFSET 0) x
     WHERE (x.c).relnamespace = 'tenant_rls'::regnamespace
       AND (x.c).relkind IN ('r', 'p', 'v', 'm', 'S', 'f')),
-- their privileges (and column privileges) held by a role other than the
-- owner and not given by a plain install: pg_init_privs keeps what CREATE
-- EXTENSION (and ALTER EXTENSION UPDATE) left, for the members; the
-- partitions are their owner's only.  A privilege PUBLIC has there anyway
-- gives nothing more.
xacl AS MATERIALIZED (
    SELECT a.oid, a.relname, a.relkind, a.grantee, a.privilege_type, a.is_grantable
      FROM (SELECT x.oid, x.relname, x.relkind, x.relowner, e.grantee, e.privilege_type, e.is_grantable
              FROM xrel x CROSS JOIN LATERAL aclexplode(x.relacl) e
            UNION ALL
            SELECT x.oid, x.relname, x.relkind, x.relowner, e.grantee, e.privilege_type, e.is_grantable
              FROM colacl ca JOIN xrel x ON x.oid = ca.attrelid
             CROSS JOIN LATERAL aclexplode(ca.attacl) e) a
      LEFT JOIN pg_roles gr ON gr.oid = a.grantee
     WHERE a.grantee <> a.relowner AND NOT coalesce(gr.rolsuper, false)
       AND NOT EXISTS (SELECT 1 FROM pg_init_privs ip CROSS JOIN LATERAL aclexplode(ip.initprivs) i
                        WHERE ip.objoid = a.oid AND ip.classoid = 'pg_class'::regclass AND ip.objsubid = 0
                          AND i.grantee IN (a.grantee, 0) AND i.privilege_type = a.privilege_type)),
-- EXECUTE on the extension's functions that a plain install leaves to the
-- owner (PUBLIC has not got it in pg_init_privs)
xexec AS MATERIALIZED (
    SELECT p.oid, e.grantee, e.is_grantable
      FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) e
      LEFT JOIN pg_roles gr ON gr.oid = e.grantee
     WHERE p.pronamespace = 'tenant_rls'::regnamespace AND p.proacl IS NOT NULL
       AND e.privilege_type = 'EXECUTE' AND e.grantee <> p.proowner AND NOT coalesce(gr.rolsuper, false)
       AND NOT EXISTS (SELECT 1 FROM pg_init_privs ip CROSS JOIN LATERAL aclexplode(ip.initprivs) i
                        WHERE ip.objoid = p.oid AND ip.classoid = 'pg_proc'::regclass AND ip.objsubid = 0
                          AND i.grantee IN (e.grantee, 0) AND i.privilege_type = 'EXECUTE'))
-- ==== tables
SELECT 'table_unprotected', 'error', t.qname, 'table',
       format('%s %s has the tenant column %I but tenant_rls does not protect it.',
              CASE WHEN t.relkind = 'f' THEN 'Foreign table' ELSE 'Table' END, t.qname, t.tenant_column),
       CASE WHEN t.relkind = 'f'
            THEN 'A foreign table cannot have row-level security: every role that can query it sees the rows of every tenant. Keep tenant rows out of foreign tables, or grant no privilege on it to tenant roles and accept the finding.'
            ELSE 'Without row-level security every role that can read the table sees the rows of every tenant.'
                 || coalesce(' ' || r.why, '')
                 -- (review rev49c: the fix left a worker that sets no
                 -- tenant with no rows, and nothing said so)
                 || CASE WHEN r.why IS NULL THEN ' Once it is protected, a session that sets no tenant (a background job, a report) reads none of its rows: have it set the tenant, or run it as a member of tenant_rls.admin_role.' ELSE '' END END,
       -- the tenant column when it is not the setting's (a partition of a
       -- table protected by another column); none for a foreign table, nor
       -- for a column protect() refuses
       CASE WHEN t.relkind <> 'f' AND r.why IS NULL
            THEN format('SELECT tenant_rls.protect(%L%s);', t.qname,
                        CASE WHEN t.tenant_column <> cfg.tenant_column THEN format(', %L', t.tenant_column) ELSE '' END) END,
       t.relid
  FROM ten t CROSS JOIN cfg LEFT JOIN tt p ON p.relid = t.parent_relid
  -- (OFFSET 0: one call a table, not one for each use of why)
  CROSS JOIN LATERAL (SELECT tenant_rls._protect_refusal(t.relid, t.tenant_column) AS why OFFSET 0) r
 WHERE t.status = 'unprotected' AND t.tenant_attnum IS NOT NULL
   AND (p.relid IS NULL OR p.status <> 'protected')
UNION ALL
SELECT 'child_unprotected', 'error', t.qname, 'table',
       format('%s %s of protected table %s is not protected.',
              CASE WHEN t.relkind = 'f' THEN 'Foreign table' ELSE initcap(t.kind) END, t.qname, p.qname),
       CASE WHEN t.relkind = 'f'
            THEN 'A foreign table cannot have row-level security: queried directly it shows the rows of every tenant in it (queried through the parent, the parent''s policies apply). Grant no privilege on it to tenant roles and accept the finding, or detach it.'
            ELSE 'Queried directly, a partition or inheritance child applies only its own policies; the parent''s do not apply.'
                 || coalesce(' ' || r.why, '') END,
       CASE WHEN t.relkind <> 'f' AND r.why IS NULL
            THEN format('SELECT tenant_rls.protect(%L%s);', t.qname,
                        CASE WHEN t.tenant_column <> cfg.tenant_column THEN format(', %L', t.tenant_column) ELSE '' END) END,
       t.relid
  FROM ten t CROSS JOIN cfg JOIN tt p ON p.relid = t.parent_relid
  -- (OFFSET 0: one call a table, not one for each use of why)
  CROSS JOIN LATERAL (SELECT tenant_rls._protect_refusal(t.relid, t.tenant_column) AS why OFFSET 0) r
 WHERE t.status = 'unprotected' AND p.status = 'protected'
UNION ALL
SELECT 'ancestor_unprotected', 'error', t.qname, 'table',
       format('Protected table %s is below unprotected table%s %s.', t.qname,
              CASE WHEN b.n > 1 THEN 's' ELSE '' END, b.anames),
       'A query on a partitioned table or an inheritance parent applies only that table''s policies, also to the rows of its partitions and children: every tenant reads and changes this table''s rows through the unprotected one.',
       b.fix, t.relid
  FROM (SELECT g.relid, count(DISTINCT g.aname) AS n,
               string_agg(DISTINCT g.aname, ', ' ORDER BY g.aname) AS anames,
               -- the highest first: protect() of a parent protects what is below it
               string_agg(g.fix, ' ' ORDER BY g.depth DESC, g.fix) AS fix
          FROM (SELECT ab.relid, ab.aname, ab.fix, max(ab.depth) AS depth
                  FROM ancbad ab GROUP BY ab.relid, ab.aname, ab.fix) g
         GROUP BY g.relid) b
  JOIN tt t ON t.relid = b.relid
UNION ALL
-- a global table, or one protected by another column, below a protected
-- table (the drift guard and protect() refuse both; drift_action = warning
-- or a restore lets them through)
SELECT 'hierarchy_mismatch', 'error', t.qname, 'table',
       CASE WHEN x.status = 'global'
            THEN format('Global table %s is below protected table %s.', t.qname, x.aname)
            ELSE format('Table %s, protected by column %I, is below table %s, protected by column %I.',
                        t.qname, x.tenant_column, x.aname, x.atenant_column) END,
       CASE WHEN x.status = 'global'
            THEN format('A global table has no tenant policies: whoever may query %s directly reads and writes every tenant''s rows in it, and a query on %s returns them to the tenant they name.', t.qname, x.aname)
            ELSE format('A query on %s checks %I on this table''s rows, a query on this table checks %I: a row written through either for one tenant can be read and changed by another tenant through the other.',
                        x.aname, x.atenant_column, x.tenant_column) END,
       -- the link just below the ancestor goes (a person may instead
       -- re-protect the table by the ancestor's column)
       CASE WHEN x.via_is_partition THEN format('ALTER TABLE %s DETACH PARTITION %s;', x.aname, x.vname)
            ELSE format('ALTER TABLE %s NO INHERIT %s;', x.vname, x.aname) END,
       t.relid
  FROM (SELECT DISTINCT ON (a.relid, a.anc) a.relid, a.status, a.tenant_column, ap.tenant_column AS atenant_column,
               ap.qname AS aname, v.qname AS vname,
               (SELECT c.relispartition FROM pg_class c WHERE c.oid = a.via) AS via_is_partition
          FROM anc a
          JOIN tt ap ON ap.relid = a.anc AND ap.status = 'protected'
          JOIN tt v ON v.relid = a.via
         WHERE a.status = 'global' OR a.tenant_column <> ap.tenant_column
         ORDER BY a.relid, a.anc, a.depth) x
  JOIN tt t ON t.relid = x.relid
UNION ALL
SELECT 'rls_disabled', 'error', t.qname, 'table',
       format('Row-level security is disabled on protected table %s.', t.qname),
       'Its policies are ignored: every role that can read the table sees every tenant''s rows.',
       format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.qname), t.relid
  FROM ten t WHERE t.status = 'protected' AND NOT t.rls_enabled
UNION ALL
SELECT 'rls_not_forced', 'error', t.qname, 'table',
       format('Row-level security is not forced on protected table %s.', t.qname),
       format('The owner %s bypasses every policy of the table; applications often connect as the owner.',
              quote_ident(pg_get_userbyid(t.owner))),
       format('ALTER TABLE %s FORCE ROW LEVEL SECURITY;', t.qname), t.relid
  FROM ten t WHERE t.status = 'protected' AND NOT t.rls_forced
UNION ALL
-- the registered tenant column is gone: renamed (the managed guard policy
-- still compares the column by number; the fix renames it back, on the
-- table where it was renamed: an inherited column follows its parent's) or
-- dropped (the policies went with it: nothing to rename back)
SELECT 'tenant_column_missing', 'error', t.qname, 'table',
       CASE WHEN t.tenant_attnum IS NULL
            THEN format('Protected table %s has no column %I, its registered tenant column.', t.qname, t.tenant_column)
            ELSE format('Column %I of protected table %s, its registered tenant column, is not the column its tenant_rls policies compare (%I).',
                        t.tenant_column, t.qname, c.attname) END,
       CASE WHEN t.tenant_attnum IS NOT NULL
            THEN format('The tenant column was renamed to %I and another column took its name: the audit trigger and this report take the tenant from that column, which no policy checks (a tenant''s changes are recorded in the chain of whichever tenant it writes there). Rename that column away, then rename %I back to %I.',
                        c.attname, c.attname, t.tenant_column)
            WHEN c.attname IS NOT NULL
            THEN format('Column %I, which its tenant_rls policies compare, was renamed from %I. ', c.attname, t.tenant_column)
                 || 'Its audit entries are recorded without a tenant (no tenant can read them), its new partitions and children cannot be protected, and this report cannot check its tenant index and foreign keys.'
                 || CASE WHEN c.attinhcount > 0
                         THEN ' The column is inherited: the fix of the table it was renamed on renames it here too.' ELSE '' END
            ELSE 'Its audit entries are recorded without a tenant (no tenant can read them), its new partitions and children cannot be protected, and this report cannot check its tenant index and foreign keys.'
                 || format(' Unprotect it, then protect it by the column that holds the tenant: SELECT tenant_rls.unprotect(%L); SELECT tenant_rls.protect(%L, ''...'');', t.qname, t.qname) END,
       CASE WHEN t.tenant_attnum IS NULL AND c.attname IS NOT NULL AND c.attinhcount = 0
            -- (a typed table's columns are renamed through its type)
            THEN CASE WHEN c.reloftype <> 0
                      THEN format('ALTER TYPE %s RENAME ATTRIBUTE %I TO %I CASCADE;', c.reloftype::regtype, c.attname, t.tenant_column)
                      ELSE format('ALTER TABLE %s RENAME COLUMN %I TO %I;', t.qname, c.attname, t.tenant_column) END END,
       t.relid
  FROM ten t
  LEFT JOIN gcol g ON g.relid = t.relid AND g.n = 1
  -- (by subqueries: a join would hash all of pg_attribute for a few rows)
  CROSS JOIN LATERAL (
       SELECT (SELECT a.attname FROM pg_attribute a
                WHERE a.attrelid = t.relid AND a.attnum = g.attnum AND NOT a.attisdropped) AS attname,
              (SELECT a.attinhcount FROM pg_attribute a
                WHERE a.attrelid = t.relid AND a.attnum = g.attnum) AS attinhcount,
              (SELECT rc.reloftype FROM pg_class rc WHERE rc.oid = t.relid) AS reloftype) c
 WHERE t.status = 'protected' AND t.relkind <> 'f'
   AND (t.tenant_attnum IS NULL OR g.attnum <> t.tenant_attnum)
UNION ALL
SELECT 'isolation_policy_missing', 'error', t.qname, 'table',
       format('Protected table %s has no policy that compares the tenant column %I.', t.qname, t.tenant_column),
       'No SELECT policy restricts the rows by tenant, so the table is not isolated.'
       || CASE WHEN tk.tenant_attnum IS NULL
               THEN ' Its registered tenant column is missing: see tenant_column_missing first.'
               WHEN a.n > 0
               THEN format(' The fixes of its %s finding%s put the registered policies back.',
                           a.codes, CASE WHEN a.n > 1 THEN 's' ELSE '' END)
               ELSE '' END,
       -- where managed_policy_* findings of the table give the policies
       -- back, theirs are the fix: the same CREATE POLICY here too made
       -- every fix of the report, run in turn (\gexec), fail on the second
       -- (review rev46d)
       CASE WHEN a.n IS NULL AND tk.tenant_attnum IS NOT NULL
            THEN format('SELECT tenant_rls.unprotect(%L); SELECT tenant_rls.protect(%L%s);', t.qname, t.qname,
                        CASE WHEN t.tenant_column <> cfg.tenant_column THEN format(', %L', t.tenant_column) ELSE '' END) END,
       t.relid
  FROM isomiss t CROSS JOIN cfg
  JOIN tt tk ON tk.relid = t.relid
  LEFT JOIN (SELECT d.relid, count(*) AS n,
                    string_agg(DISTINCT CASE WHEN d.dropped THEN 'managed_policy_dropped'
                                             ELSE 'managed_policy_modified' END, ' and ') AS codes
               FROM mpdiff d GROUP BY d.relid) a ON a.relid = t.relid
UNION ALL
SELECT 'managed_policy_dropped', 'error', format('%I ON %s', d.polname, d.qname), 'policy',
       format('Managed policy %I on %s was dropped.', d.polname, d.qname),
       'The registry lists it as created by tenant_rls.protect(); it no longer exists.'
       || CASE WHEN t.tenant_attnum IS NULL
               THEN format(' Its registered tenant column %I is missing (tenant_column_missing): the registered definition names it, so it is given back once the column is.', t.tenant_column)
               ELSE '' END,
       CASE WHEN t.tenant_attnum IS NOT NULL THEN d.fix END, d.relid
  FROM mpdiff d JOIN tt t ON t.relid = d.relid WHERE d.dropped
UNION ALL
SELECT 'managed_policy_modified', 'error', format('%I ON %s', d.polname, d.qname), 'policy',
       format('Managed policy %I on %s differs from its registered definition.', d.polname, d.qname),
       format('Changed: %s.', array_to_string(d.diffs, ', '))
       || CASE WHEN t.tenant_attnum IS NULL
               THEN format(' Its registered tenant column %I is missing (tenant_column_missing): the registered definition names it, so it is given back once the column is.', t.tenant_column)
               ELSE '' END,
       -- (withheld while the tenant column is missing: the ALTER POLICY
       -- names it, and failed, review rev47e)
       CASE WHEN t.tenant_attnum IS NOT NULL THEN d.fix END, d.relid
  FROM mpdiff d JOIN tt t ON t.relid = d.relid WHERE NOT d.dropped
UNION ALL
SELECT 'extra_permissive_policy', CASE WHEN g.relid IS NULL THEN 'error' ELSE 'warning' END,
       format('%I ON %s', p.polname, p.qname), 'policy',
       format('Permissive policy %I on protected table %s was not created by tenant_rls.', p.polname, p.qname),
       CASE WHEN g.relid IS NULL
            THEN 'Permissive policies are OR-ed together and no restrictive tenant guard limits them: this policy can open other tenants'' rows.'
            -- (review rev46d: it said the policy widened access; next to
            -- the managed permissive policies, which let every row of the
            -- tenant through, it does nothing at all)
            WHEN i.relid IS NOT NULL
            THEN 'Permissive policies are OR-ed together, and tenant_rls''s own permissive policies let every row of the tenant through (the restrictive tenant guard does the isolating): this policy has no effect. If it should narrow what a role sees within its tenant, it must be restrictive (CREATE POLICY ... AS RESTRICTIVE). If it was meant to share rows across tenants (a public document, say), that stopped when the table was protected: share them with tenant_rls.grant_access() or as global rows (tenant_rls.allow_global_rows()).'
            ELSE 'Permissive policies are OR-ed together; the restrictive tenant guard still applies, but the policy widens access within the tenant.' END,
       -- (the drift guard refuses to drop any tenant_rls_* policy of a
       -- protected table, an owner's own of that name too)
       CASE WHEN starts_with(p.polname, 'tenant_rls_')
            THEN tenant_rls._drift_allowed(format('DROP POLICY %I ON %s;', p.polname, p.qname))
            ELSE format('DROP POLICY %I ON %s;', p.polname, p.qname) END, p.relid
  FROM pol p LEFT JOIN guard g ON g.relid = p.relid
  LEFT JOIN isotrue i ON i.relid = p.relid
 WHERE p.status = 'protected' AND NOT p.is_managed AND p.polpermissive
UNION ALL
SELECT 'policy_casts_tenant_column', 'warning', format('%I ON %s', p.polname, p.qname), 'policy',
       format('Policy %I on %s applies a cast or function to the tenant column %I.', p.polname, p.qname, p.tenant_column),
       'An expression over the column cannot use the tenant index: every query scans the table. Compare the column itself with the typed accessor, e.g. tenant_id = tenant_rls.current_tenant_uuid().',
       NULL, p.relid
  FROM pol p WHERE p.casts_tenant
UNION ALL
SELECT 'policy_calls_current_setting', 'warning', format('%I ON %s', p.polname, p.qname), 'policy',
       format('Policy %I on %s calls current_setting().', p.polname, p.qname),
       'Use the tenant_rls.current_tenant*() accessors: they read the context once per statement and read an empty or RESET value as NULL (zero rows) instead of failing a cast.',
       NULL, p.relid
  FROM pol p WHERE p.calls_setting
UNION ALL
SELECT 'policy_setting_without_missing_ok', 'warning', format('%I ON %s', p.polname, p.qname), 'policy',
       format('Policy %I on %s reads app.current_tenant_id without missing_ok.', p.polname, p.qname),
       'current_setting(''app.current_tenant_id'') raises an error in a session that never set it; current_setting(name, true) or the tenant_rls accessors return NULL and the policy fails closed.',
       NULL, p.relid
  FROM pol p WHERE p.not_missing_ok
UNION ALL
-- (review rev49c: a warning for a user's policy on a protected table whose
-- restrictive guard is in place, checked as extra_permissive_policy does:
-- the guard ANDs the tenant into every row, so the setting opens rows within
-- the tenant at most)
SELECT 'policy_reads_other_setting', CASE WHEN x.guarded THEN 'warning' ELSE 'error' END,
       format('%I ON %s', x.polname, x.qname), 'policy',
       format('Policy %I on %s consults the setting(s) %s besides the tenant.', x.polname, x.qname,
              array_to_string(x.settings, ', ')),
       CASE WHEN x.guarded
            THEN 'Any session can SET a custom setting, so a policy that trusts one (for example app.is_admin) lets any session choose what it passes. On this table the restrictive tenant guard of tenant_rls is in place and every row must pass it too, so the setting cannot open other tenants'' rows; it decides what a session sees within its own tenant'
                 || CASE WHEN x.polpermissive AND x.isotrue
                         THEN ' (as a permissive policy next to tenant_rls''s own, which let every row of the tenant through, it has no effect at all: extra_permissive_policy)'
                         ELSE '' END
                 || '. Use tenant_rls exceptions (admin role, grants) or roles instead of a setting.'
            ELSE 'Any session can SET a custom setting, so a policy that trusts one (for example app.is_admin) is a backdoor to every tenant''s rows. Use tenant_rls exceptions (admin role, grants) instead.' END,
       NULL, x.relid
  FROM (SELECT p.relid, p.qname, p.polname, p.polpermissive,
               p.other_settings || coalesce(fs.via, '{}') AS settings,
               -- (review rev49g) the guard of each command the policy
               -- applies to: a permissive UPDATE or DELETE policy opens
               -- every tenant's rows to a blind UPDATE/DELETE (no WHERE:
               -- the SELECT policies do not apply) when the guard of that
               -- command is gone, even with the SELECT guard in place
               p.status = 'protected' AND NOT p.is_managed
                 AND (tr.relid IS NOT NULL
                      OR NOT EXISTS (SELECT 1
                                       FROM unnest(CASE WHEN p.polcmd = '*' THEN '{r,a,w,d}'::"char"[]
                                                        ELSE ARRAY[p.polcmd] END) c(cmd)
                                      WHERE NOT EXISTS (SELECT 1 FROM pol q
                                                         WHERE q.relid = p.relid AND q.is_managed
                                                           AND NOT q.polpermissive AND q.polcmd IN (c.cmd, '*')))) AS guarded,
               i.relid IS NOT NULL AS isotrue
          FROM pol p LEFT JOIN polfset fs ON fs.relid = p.relid AND fs.polname = p.polname
          LEFT JOIN trusted tr ON tr.relid = p.relid AND tr.has_guard
          LEFT JOIN isotrue i ON i.relid = p.relid
         WHERE cardinality(p.other_settings) > 0 OR fs.relid IS NOT NULL) x
UNION ALL
SELECT 'policy_function_search_path', 'warning',
       format('%I.%I(%s)', n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid)), 'function',
       format('Function %I.%I(%s), called by %s policies (e.g. %s), has no locked search_path.',
              n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid), x.npol, x.example),
       'Unqualified names in its body resolve through the caller''s search_path, where a schema the caller controls can shadow them. Qualify every name in the body and lock the path.',
       -- a SECURITY DEFINER function gets the path security_definer_search_path
       -- gives it (its own schema, pg_temp last): run together, the two fixes
       -- set the same path (review rev46d)
       format('ALTER FUNCTION %I.%I(%s) SET search_path = %s;',
              n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid),
              CASE WHEN pr.prosecdef THEN quote_ident(n.nspname) || ', pg_temp'
                   ELSE 'pg_catalog, pg_temp' END), NULL::oid
  FROM (SELECT f.fid, count(*) AS npol, min(format('%I ON %s', p.polname, p.qname)) AS example
          FROM pol p, unnest(p.funcs) f(fid) GROUP BY f.fid) x
  JOIN pg_proc pr ON pr.oid = x.fid
  JOIN pg_namespace n ON n.oid = pr.pronamespace
  JOIN pg_language lg ON lg.oid = pr.prolang
  LEFT JOIN extfuncs e ON e.objid = pr.oid
 WHERE e.objid IS NULL AND pr.oid >= 16384
   AND lg.lanname NOT IN ('internal', 'c')
   AND NOT EXISTS (SELECT 1 FROM unnest(pr.proconfig) c WHERE c LIKE 'search_path=%')
UNION ALL
-- tenant_type_mismatch (review rev49c): the tenant column's type (its base
-- type, under domains) cannot hold every tenant tenant_rls.tenant_type
-- admits: text holds anything, bigint holds integers; the policies call the
-- accessor of the column's type, which refuses the others (22P02, 22003)
SELECT 'tenant_type_mismatch', CASE WHEN x.status = 'protected' THEN 'error' ELSE 'warning' END, x.qname, 'table',
       format('Tenant column %I of %s is of type %s, which cannot hold the tenants of tenant_rls.tenant_type = %s.',
              x.tenant_column, x.qname, x.base, string_agg(format('%s (%s)', x.want, x.places), ', ' ORDER BY x.want)),
       format('tenant_rls.set_tenant() admits the tenants of tenant_rls.tenant_type there, and the policies read the tenant as %s (tenant_rls.%s()), which refuses any other (22P02; 22003 for a bigint beyond the range of integer): ', x.base,
              CASE x.base WHEN 'uuid' THEN 'current_tenant_uuid' WHEN 'bigint' THEN 'current_tenant_bigint' ELSE 'current_tenant_int' END)
       || CASE WHEN x.status = 'protected'
               THEN 'every query of a tenant on the table fails. '
               ELSE 'once it is protected, every query of a tenant on the table fails. ' END
       || 'Change the column''s type (unprotect() first, ALTER TABLE ... ALTER COLUMN ... TYPE, then protect() again), or, if the setting is wrong for this database, correct it where it is stored (ALTER DATABASE ... SET tenant_rls.tenant_type).',
       NULL, x.relid
  FROM (SELECT t.relid, t.qname, t.status, t.tenant_column, w.want, w.places,
               CASE WHEN t.tenant_type IN ('uuid', 'bigint', 'integer', 'text') THEN t.tenant_type
                    WHEN t.tenant_type LIKE 'character varying%' THEN 'text'
                    -- a domain (or another type): its base type, by oid
                    ELSE (WITH RECURSIVE b(typid, typtype, basetype) AS (
                              SELECT y.oid, y.typtype, y.typbasetype FROM pg_attribute a JOIN pg_type y ON y.oid = a.atttypid
                               WHERE a.attrelid = t.relid AND a.attnum = t.tenant_attnum
                              UNION ALL
                              SELECT y.oid, y.typtype, y.typbasetype FROM b JOIN pg_type y ON y.oid = b.basetype
                               WHERE b.typtype = 'd')
                          SELECT CASE b.typid WHEN 'uuid'::regtype THEN 'uuid' WHEN 'int8'::regtype THEN 'bigint'
                                              WHEN 'int4'::regtype THEN 'integer' WHEN 'text'::regtype THEN 'text'
                                              WHEN 'varchar'::regtype THEN 'text' END
                            FROM b WHERE b.typtype <> 'd') END AS base
          -- the setting in this session, and as stored for this database
          -- and for roles (ALTER DATABASE / ALTER ROLE ... SET)
          FROM (SELECT v.want, string_agg(v.place, '; ' ORDER BY v.place) AS places
                  FROM (SELECT lower(current_setting('tenant_rls.tenant_type', true)) AS want, 'this session' AS place
                        UNION ALL
                        SELECT lower(btrim(substr(c.c, strpos(c.c, '=') + 1), ' ''"')),
                               CASE WHEN s.setrole = 0 AND s.setdatabase = 0 THEN 'all roles'
                                    WHEN s.setrole = 0 THEN format('database %I', current_database())
                                    WHEN s.setdatabase = 0 THEN format('role %I', pg_get_userbyid(s.setrole))
                                    ELSE format('role %I in database %I', pg_get_userbyid(s.setrole), current_database()) END
                          FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c(c)
                         WHERE lower(split_part(c.c, '=', 1)) = 'tenant_rls.tenant_type'
                           AND (s.setdatabase = 0
                                OR s.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))) v
                 WHERE v.want IN ('uuid', 'bigint', 'integer')
                 GROUP BY v.want) w
          JOIN ten t ON t.tenant_attnum IS NOT NULL
        OFFSET 0) x
 WHERE x.base IS NOT NULL AND x.base <> 'text' AND x.base <> x.want
   AND NOT (x.base = 'bigint' AND x.want = 'integer')
 GROUP BY x.relid, x.qname, x.status, x.tenant_column, x.base
UNION ALL
SELECT 'tenant_column_nullable', 'warning', t.qname, 'table',
       format('Tenant column %I of %s allows NULL.', t.tenant_column, t.qname),
       'A row without a tenant belongs to nobody: the isolation policy hides it from every tenant, and a bug that loses the tenant goes unnoticed.'
       -- (review rev49c: the fix fails while such rows exist, pass after
       -- pass, and the detail did not say what to do instead)
       || ' The fix fails (23502) while rows without a tenant exist: give them their tenant first, or, if they are shared rows every tenant should read, run tenant_rls.allow_global_rows() instead, which ends the finding.',
       format('SELECT tenant_rls.set_tenant_not_null(%L, %L);', t.qname, t.tenant_column), t.relid
  FROM ten t
 WHERE t.tenant_attnum IS NOT NULL AND NOT t.tenant_notnull AND NOT t.global_rows AND t.relkind <> 'f'
   AND t.relid NOT IN (SELECT r.relid FROM reused r)
UNION ALL
SELECT 'tenant_index_missing', 'warning', t.qname, 'table',
       format('No index of %s starts with the tenant column %I.', t.qname, t.tenant_column),
       'Every query filtered by the isolation policy scans the whole table.'
       || CASE WHEN p.relid IS NOT NULL
               THEN format(' The fix of its partitioned table %s creates the index on it too.', p.qname) ELSE '' END,
       -- a partition whose partitioned table is reported too gets its index
       -- from the parent's fix (CREATE INDEX recurses): no second one
       CASE WHEN p.relid IS NULL THEN format('CREATE INDEX ON %s (%I);', t.qname, t.tenant_column) END, t.relid
  FROM ten t LEFT JOIN lead l ON l.indrelid = t.relid AND l.first = t.tenant_attnum
  LEFT JOIN (SELECT p.relid, p.qname FROM ten p
               LEFT JOIN lead pl ON pl.indrelid = p.relid AND pl.first = p.tenant_attnum
              WHERE p.relkind = 'p' AND p.tenant_attnum IS NOT NULL AND pl.indrelid IS NULL) p
         ON p.relid = t.parent_relid
 WHERE t.tenant_attnum IS NOT NULL AND l.indrelid IS NULL AND t.relkind <> 'f'
   AND t.relid NOT IN (SELECT r.relid FROM reused r)
UNION ALL
SELECT CASE WHEN i.oracle THEN 'unique_not_leading_tenant' ELSE 'index_not_leading_tenant' END,
       CASE WHEN i.oracle THEN 'warning' ELSE 'info' END,
       i.iname, 'index',
       CASE WHEN i.indisexclusion AND i.oracle
            THEN format('Exclusion constraint index %s on %s does not require the tenant column %I to be equal (WITH =).',
                        i.iname, i.qname, i.tenant_column)
            ELSE format('%s %s on %s does not start with the tenant column %I.',
                        CASE WHEN i.indisprimary THEN 'Primary key index' WHEN i.indisunique THEN 'Unique index'
                             ELSE 'Index' END,
                        i.iname, i.qname, i.tenant_column) END,
       CASE WHEN i.indisunique AND i.oracle
            THEN 'A unique violation on INSERT tells a tenant that another tenant already has that value. Make the key (tenant column, ...) if values are per tenant.'
            WHEN i.oracle
            THEN 'An exclusion violation on INSERT tells a tenant that another tenant has a conflicting row (the same room at the same time, say). Add the tenant column to the constraint (tenant column WITH =, ...) if values are per tenant.'
            ELSE 'Scans of this index visit other tenants'' entries; EXPLAIN ANALYZE row counts and timing reveal how many. Lead with the tenant column if queries are per tenant.' END,
       NULL, i.relid
  FROM (SELECT i.*, i.indexrelid::regclass::text AS iname,
               -- an existence oracle: unique, or an exclusion constraint
               -- that does not require the tenant column to be equal (WITH
               -- PostgreSQL's own =; WITH <> or an operator of a user
               -- conflicts across tenants).  A unique key with the tenant
               -- column among its columns, not first, conflicts only within
               -- a tenant (review rev35b)
               (i.indisunique AND NOT i.tenant_attnum = ANY (i.keys))
               OR CASE WHEN i.indisexclusion
                       THEN NOT coalesce((SELECT bool_or(k.attnum = i.tenant_attnum
                                                         AND (SELECT o.oprname = '=' AND o.oprnamespace = 'pg_catalog'::regnamespace
                                                                FROM pg_operator o WHERE o.oid = k.op))
                                            FROM pg_constraint c, unnest(c.conkey, c.conexclop) k(attnum, op)
                                           WHERE c.conrelid = i.relid AND c.conindid = i.indexrelid
                                             AND c.contype = 'x'), false)
                       ELSE false END AS oracle
          FROM (SELECT t.relid, t.qname, t.tenant_column, t.tenant_attnum, i.indexrelid, i.indisunique,
                       i.indisprimary, i.indisexclusion, (i.indkey::int2[])[0:i.indnkeyatts - 1] AS keys,
                       i.indkey[0] = t.tenant_attnum AS leads
                  FROM ten t
                  JOIN pg_index i ON i.indrelid = t.relid
                  LEFT JOIN pg_inherits ih ON ih.inhrelid = i.indexrelid
                 -- (an exclusion constraint may lead with the tenant column
                 -- and still compare it with <>)
                 WHERE t.tenant_attnum IS NOT NULL AND (i.indkey[0] <> t.tenant_attnum OR i.indisexclusion)
                   AND ih.inhrelid IS NULL
                   AND t.relid NOT IN (SELECT r.relid FROM reused r)
                   AND NOT (i.indisunique
                            AND tenant_rls._key_is_generated(t.relid, (i.indkey::int2[])[0:i.indnkeyatts - 1]))
                OFFSET 0) i) i
 WHERE NOT (i.leads AND NOT i.oracle)
UNION ALL
SELECT 'audit_missing', 'warning', t.qname, 'table',
       CASE WHEN aud.tgrelid IS NULL
            THEN format('Protected table %s has no tenant_rls audit trigger.', t.qname)
            WHEN aud.exact
            THEN format('The tenant_rls audit trigger of protected table %s does not fire (DISABLE TRIGGER or ENABLE REPLICA TRIGGER).', t.qname)
            ELSE format('The tenant_rls audit trigger of protected table %s is not the one tenant_rls.enable_audit() creates (see audit_trigger_altered).', t.qname) END,
       'tenant_rls.audit is on, but changes to this table are not recorded in the audit log.',
       -- the trigger there but not firing: enabled again (a partition's
       -- clone too, which enable_audit() of the partition leaves alone);
       -- otherwise enable_audit() with the table's column lists, which a
       -- call without them would drop (review rev35b)
       -- (with the TRUNCATE trigger when it does not fire either: DISABLE
       -- TRIGGER USER or ALL stops both)
       CASE WHEN aud.exact
            THEN format('ALTER TABLE %s ENABLE TRIGGER tenant_rls_audit%s;', t.qname,
                        (SELECT ', ENABLE TRIGGER tenant_rls_audit_truncate' FROM pg_trigger tg
                          WHERE tg.tgrelid = t.relid AND tg.tgname = 'tenant_rls_audit_truncate'
                            AND tg.tgenabled NOT IN ('O', 'A')))
            WHEN h.yes THEN format('SELECT tenant_rls.enable_audit(%L%s%s);', t.qname,
                                   ', columns => ' || quote_literal(ac.columns), ', exclude => ' || quote_literal(ac.exclude)) END,
       t.relid
  FROM ten t CROSS JOIN cfg CROSS JOIN has_enable_audit h LEFT JOIN aud ON aud.tgrelid = t.relid
  LEFT JOIN tenant_rls.audit_config ac ON ac.table_oid = t.relid
 WHERE cfg.audit AND t.status = 'protected' AND NOT coalesce(aud.fires, false)
UNION ALL
-- ... or the audit TRUNCATE trigger of an audited table (its row trigger
-- fires) or of a partition of one is missing, DISABLEd or ENABLE REPLICA
SELECT 'audit_missing', 'warning', a.qname, 'table',
       CASE WHEN a.trunc_name IS NULL
            THEN format('Audited table %s has no tenant_rls TRUNCATE audit trigger.', a.qname)
            ELSE format('The tenant_rls TRUNCATE audit trigger %I of audited table %s does not fire (DISABLE TRIGGER or ENABLE REPLICA TRIGGER).',
                        a.trunc_name, a.qname) END,
       'Its INSERT, UPDATE and DELETE are recorded, but a TRUNCATE of it, which empties every tenant''s rows, is not (statement triggers are not cloned to partitions: each partition has its own).',
       CASE WHEN a.trunc_name IS NOT NULL THEN format('ALTER TABLE %s ENABLE TRIGGER %I;', a.qname, a.trunc_name)
            ELSE format('SELECT tenant_rls.audit_sync_truncate_triggers(%L);', a.qname) END,
       a.relid
  FROM audtrunc a
UNION ALL
-- a row trigger of audit_trigger() that is not the one enable_audit() makes
-- (CREATE OR REPLACE TRIGGER with a WHEN clause, UPDATE OF, fewer events), or
-- a second one: the table's owner can make either, and lint() reports it for
-- every table, protected or not
SELECT 'audit_trigger_altered', 'warning', x.qname, 'table',
       format('Table %s has %s calling tenant_rls.audit_trigger() that %s not the one tenant_rls.enable_audit() creates: %s.',
              x.qname, CASE WHEN cardinality(x.odd) = 1 THEN 'a row trigger' ELSE 'row triggers' END,
              CASE WHEN cardinality(x.odd) = 1 THEN 'is' ELSE 'are' END,
              (SELECT string_agg(quote_ident(n), ', ') FROM unnest(x.odd) n)),
       'The audit trigger must be AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, named tenant_rls_audit, without WHEN, column list (UPDATE OF) or arguments. One defined otherwise never fires for some changes, which go unrecorded (when it fires, tenant_rls.audit_trigger() refuses to run and the change fails); a second one would record each change twice.',
       concat_ws(' ',
                 (SELECT string_agg(format('DROP TRIGGER %I ON %s;', n, x.qname), ' ' ORDER BY n)
                    FROM unnest(x.odd) n WHERE n <> 'tenant_rls_audit' OR NOT x.configured),
                 CASE WHEN x.configured AND ('tenant_rls_audit' = ANY (x.odd) OR NOT x.exact)
                      THEN format('SELECT tenant_rls.enable_audit(%L, %L, %L);', x.qname, x.columns, x.exclude) END),
       x.relid
  FROM (SELECT aud.tgrelid AS relid, aud.odd, aud.exact, ac.columns, ac.exclude,
               ac.table_oid IS NOT NULL AS configured,
               (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = aud.tgrelid) AS qname
          FROM aud
          LEFT JOIN tenant_rls.audit_config ac ON ac.table_oid = aud.tgrelid
         WHERE aud.odd IS NOT NULL OFFSET 0) x
UNION ALL
-- audit_json_cast: a cast with a function from a user type to json, the
-- type of a column the log records (its lists' columns and the primary key)
-- as to_json() sees it: under every level of domain, an array's element,
-- a composite type's attributes (to_json() shows those, not the composite
-- type's own cast), at any depth.  to_json(), which the trigger runs on the
-- values it does not record as bytes, calls it (review rev40d: a type's
-- owner made the log record 'new' for every status, and set app_user).  Not
-- the casts of a superuser or of an extension.
SELECT 'audit_json_cast', 'warning', format('(%s AS json)', format_type(x.castsource, NULL)),
       'cast',
       format('Cast (%s AS json) runs function %s, owned by %s, whenever the audit log records column(s) %s.',
              format_type(x.castsource, NULL), x.castfunc::regprocedure,
              quote_ident(pg_get_userbyid(x.owner)), x.cols),
       'The audit trigger records a value of this type as to_json(value), and to_json() calls the cast: the function, not the row, decides what the log shows for these columns, and it runs in the writer''s session (it could also change the setting recorded as app_user). audit_verify() cannot tell: the chain seals what was recorded. Keep the cast only if its function is one you trust to return the value faithfully; otherwise drop it.',
       format('DROP CAST (%s AS json);', format_type(x.castsource, NULL)),
       NULL::oid
  FROM (WITH RECURSIVE
        -- the casts this reports (none on most installations: then no
        -- column is looked at)
        ajcast AS MATERIALIZED (
            SELECT c.castsource, c.castfunc, p.proowner
              FROM pg_cast c
              JOIN pg_proc p ON p.oid = c.castfunc
              JOIN pg_roles o ON o.oid = p.proowner AND NOT o.rolsuper
             WHERE c.castsource >= 16384 AND c.casttarget = 'json'::regtype AND c.castmethod = 'f'
               AND NOT EXISTS (SELECT 1 FROM pg_depend e
                                WHERE e.classid = 'pg_cast'::regclass AND e.objid = c.oid AND e.deptype = 'e')),
        -- the audited tables with a column of a user type: only their lists
        -- are looked up
        ajr AS (SELECT DISTINCT a0.attrelid AS relid
                  FROM pg_attribute a0 JOIN aud ON aud.tgrelid = a0.attrelid AND aud.fires
                 WHERE a0.attnum > 0 AND NOT a0.attisdropped AND a0.atttypid >= 16384
                   AND EXISTS (SELECT FROM ajcast)),
        -- each one and its ancestors (inheritance parents, partitioned
        -- tables), with their distance: one walk for all of them
        ajup(root, relid, depth) AS (
            SELECT r.relid, r.relid, 0 FROM ajr r
            UNION
            SELECT up.root, i.inhparent, up.depth + 1
              FROM ajup up JOIN pg_inherits i ON i.inhrelid = up.relid),
        -- the column lists that apply: _audit_lists()'s, set-based (those
        -- of the table's own audit_config row, or else of its nearest
        -- ancestor's that has one; none: NULL, NULL)
        ajlists AS (SELECT DISTINCT ON (up.root) up.root, c.columns, c.exclude
                      FROM ajup up
                      JOIN pg_class k ON k.oid = up.relid
                      JOIN pg_namespace n ON n.oid = k.relnamespace
                      JOIN tenant_rls.audit_config c ON c.schema_name = n.nspname AND c.table_name = k.relname
                     ORDER BY up.root, up.depth),
        -- (an inheritance child audited on its own does not record what an
        -- audited ancestor does not either: audit.c, read_config())
        -- (the function called only for a table that has such parents)
        ajunrec AS (SELECT x.root, ARRAY(SELECT tenant_rls._audit_unrecorded(x.ancestors)) AS names
                      FROM (SELECT up.root, array_agg(up.relid) AS ancestors
                              FROM ajup up JOIN pg_class k ON k.oid = up.root AND NOT k.relispartition
                             WHERE up.depth > 0
                             GROUP BY up.root) x),
        seen(attrelid, attname, typ) AS (
            SELECT a.attrelid, a.attname, a.atttypid
              FROM ajr r
              LEFT JOIN ajlists l ON l.root = r.relid
              LEFT JOIN ajunrec u ON u.root = r.relid
              JOIN pg_attribute a ON a.attrelid = r.relid
             WHERE a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= 16384
               -- the columns recorded: those of the lists, and the primary key
               AND ((l.columns IS NULL OR a.attname::text = ANY (l.columns))
                    AND NOT coalesce(a.attname::text = ANY (l.exclude), false)
                    AND NOT a.attname::text = ANY (coalesce(u.names, '{}'))
                    OR EXISTS (SELECT 1 FROM pg_index i
                                WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY (i.indkey)))
            UNION
            SELECT s.attrelid, s.attname, x.typ
              FROM seen s JOIN pg_type t ON t.oid = s.typ
             CROSS JOIN LATERAL (SELECT t.typbasetype WHERE t.typtype = 'd'
                                 UNION ALL
                                 SELECT t.typelem WHERE t.typtype <> 'd' AND t.typcategory = 'A' AND t.typelem <> 0
                                 UNION ALL
                                 SELECT ca.atttypid FROM pg_attribute ca
                                  WHERE t.typtype = 'c' AND ca.attrelid = t.typrelid
                                    AND ca.attnum > 0 AND NOT ca.attisdropped) x(typ))
        SELECT c.castsource, c.castfunc, c.proowner AS owner,
               array_to_string((array_agg(DISTINCT format('%s.%I', s.attrelid::regclass, s.attname)))[1:10], ', ') AS cols
          FROM seen s
          JOIN pg_type t ON t.oid = s.typ AND t.typtype NOT IN ('d', 'c') AND NOT (t.typcategory = 'A' AND t.typelem <> 0)
          JOIN ajcast c ON c.castsource = t.oid
         GROUP BY 1, 2, 3) x
UNION ALL
-- an audited table (its row trigger fires) with policies of its own: the log's
-- read policy checks the tenant and table-level SELECT only (doc/audit.md,
-- "Who can read and change the log"); one pass over pg_policy
SELECT 'audit_log_ignores_policies', 'warning', t.qname, 'table',
       format('Audited table %s has row-level security policies of its own (%s); the audit log does not apply them.',
              t.qname, t.names),
       'The log shows a batch to every session of its tenant whose role may SELECT the table: a policy that hides rows from some users inside a tenant does not hide their history (old and new row images, deleted rows too). Keep the columns it protects out of the log (enable_audit(exclude => ...)), or keep SELECT on the table from roles that must not read that history (a view for them), then accept the finding.',
       NULL, t.relid
  -- (a join and one aggregate, not a lookup per audited table)
  FROM (SELECT t.qname, t.relid, string_agg(format('%I', p.polname), ', ' ORDER BY p.polname) AS names
          FROM tt t
          JOIN aud ON aud.tgrelid = t.relid AND aud.fires
          JOIN pg_policy p ON p.polrelid = t.relid AND NOT starts_with(p.polname, 'tenant_rls_')
          -- the policies that hide rows: restrictive ones, and permissive ones
          -- where tenant_rls's own permissive policies (which let every row of the
          -- tenant through) are not in place (review rev46d)
          LEFT JOIN isotrue i ON i.relid = t.relid
         WHERE NOT p.polpermissive OR i.relid IS NULL
         GROUP BY t.qname, t.relid) t
UNION ALL
-- triggers (user ones) on tenant tables that copy rows into tables no tenant
-- isolation covers
-- (review rev49c: an error when a role other than the owner, not a
-- superuser, or PUBLIC may read a table written, directly or through a view
-- that is not security_invoker: tenants read each other's rows there)
SELECT 'trigger_writes_unprotected_table', CASE WHEN x.readers IS NOT NULL THEN 'error' ELSE 'warning' END,
       x.object, x.kind,
       format('%s on tenant table %s writes to %s, which isolate%s no tenant (%s).',
              x.what, x.qname, x.targets, CASE WHEN x.ntargets = 1 THEN 's' ELSE '' END, x.how)
       -- (review rev50e) who reads it, in the message: an acceptance (its
       -- fingerprint; the detail offers one for a table only service roles
       -- read) does not cover a reader granted afterwards
       || CASE WHEN x.readers IS NOT NULL THEN format(' Read there: %s.', x.readers) ELSE '' END,
       'What it writes there from a tenant''s row is not protected by row-level security: every role that may read that table reads it, whichever tenant it came from. '
       || CASE WHEN x.readers IS NOT NULL
               THEN format('These roles may read it: %s; each of their tenants reads the rows of the others there. ', x.readers)
               ELSE 'No role other than its owner (and superusers) may read it now, so no tenant reads it; a grant of SELECT on it, or on a view over it, would open every tenant''s rows. ' END
       || 'Write to a table protected by tenant_rls (with the tenant column), or accept the finding if what it writes is not per tenant (a counter, a key).'
       -- (review rev50a: the fix broke a service that reads across tenants)
       || CASE WHEN x.readers IS NOT NULL
               THEN format(' Once the rows go to a protected table, a role reads there those of the tenant it sets, or none (unless it is a member of tenant_rls.admin_role): if the roles named read it across tenants on purpose (a service role''s reports or exports) and no tenant''s session reads it, accept the finding instead: SELECT tenant_rls.accept_finding(''trigger_writes_unprotected_table'', %L, ''read by the service role only'');',
                           x.object)
               ELSE '' END,
       NULL, x.relid
  FROM (SELECT format('%I ON %s', tg.tgname, t.qname) AS object, 'trigger' AS kind, format('Trigger %I', tg.tgname) AS what,
               t.qname, t.relid, u.targets, u.ntargets, format('function %s', tg.tgfoid::regprocedure) AS how,
               u.readers
          FROM ten t
          JOIN pg_trigger tg ON tg.tgrelid = t.relid AND NOT tg.tgisinternal AND tg.tgparentid = 0
          JOIN (SELECT w.fid, count(DISTINCT w.target) AS ntargets,
                       string_agg(DISTINCT w.target::regclass::text, ', ') AS targets,
                       string_agg(DISTINCT format('%s%s by %s', m.rel::regclass,
                                                  CASE WHEN m.rel <> w.target
                                                       THEN format(' (written through %s)', w.target::regclass) ELSE '' END,
                                                  rd.who), '; ')
                           FILTER (WHERE rd.who IS NOT NULL) AS readers
                  FROM twup w
                  -- (review rev50a: through a view, the readers of the tables it writes into)
                  LEFT JOIN twmap m ON m.target = w.target
                  LEFT JOIN readers rd ON rd.relid = m.rel GROUP BY w.fid) u ON u.fid = tg.tgfoid
        UNION ALL
        -- the other code of tenant tables that writes: a rule's action; a
        -- WHEN clause, CHECK constraint, column default, index or policy
        -- (or a domain or operator they use) that calls such a function
        SELECT p.object, p.kind, p.what, y.qname, y.relid,
               string_agg(DISTINCT y.target::regclass::text, ', '), count(DISTINCT y.target),
               string_agg(DISTINCT y.how, '; '),
               string_agg(DISTINCT format('%s%s by %s', m.rel::regclass,
                                          CASE WHEN m.rel <> y.target
                                               THEN format(' (written through %s)', y.target::regclass) ELSE '' END,
                                          rd.who), '; ') FILTER (WHERE rd.who IS NOT NULL)
          FROM (SELECT o.relid, o.qname, o.classid, o.objid, o.objsubid, w.target,
                       format('%s %s', coalesce(o.via || ' calls', 'it calls'), o.fid::regprocedure) AS how
                  FROM tother o JOIN twup w ON w.fid = o.fid
                UNION ALL
                SELECT t.relid, t.qname, 'pg_rewrite'::regclass, s.id, 0, s.target, 'its action'
                  FROM twsrc s
                  JOIN pg_rewrite rw ON rw.oid = s.id
                  JOIN ten t ON t.relid = rw.ev_class
                 WHERE s.kind = 'rule') y
          LEFT JOIN twmap m ON m.target = y.target
          LEFT JOIN readers rd ON rd.relid = m.rel
         CROSS JOIN LATERAL tenant_rls._table_part(y.classid, y.objid, y.objsubid, y.qname) p
         GROUP BY p.object, p.kind, p.what, y.qname, y.relid) x
UNION ALL
-- triggers (user ones) and rules on tenant tables that send notifications
SELECT 'trigger_notifies', 'warning', x.object, x.kind,
       format('%s on tenant table %s sends notifications (%s).', x.what, x.qname, x.how),
       'LISTEN needs no privilege and notifications have no row-level security: every session of any tenant that listens on the channel receives the payload, another tenant''s new row included. Send only keys on a channel per tenant, or drop it.',
       NULL, x.relid
  FROM (SELECT format('%I ON %s', tg.tgname, t.qname) AS object, 'trigger' AS kind,
               format('Trigger %I', tg.tgname) AS what, t.qname, t.relid,
               CASE WHEN n.direct THEN format('its function %s calls pg_notify() or NOTIFY', n.fid::regprocedure)
                    ELSE format('its function %s calls %s, which calls pg_notify() or NOTIFY', n.fid::regprocedure, n.via) END AS how
          FROM ten t
          JOIN pg_trigger tg ON tg.tgrelid = t.relid AND NOT tg.tgisinternal AND tg.tgparentid = 0
          JOIN tnotify n ON n.fid = tg.tgfoid
        UNION ALL
        -- contrib tcn's trigger function (C: no body to read) notifies the
        -- changed row's key (review rev32b)
        SELECT format('%I ON %s', tg.tgname, t.qname), 'trigger', format('Trigger %I', tg.tgname), t.qname, t.relid,
               format('its function %s is contrib tcn''s triggered_change_notification(), which sends the key of every changed row',
                      tg.tgfoid::regprocedure)
          FROM ten t
          JOIN pg_trigger tg ON tg.tgrelid = t.relid AND NOT tg.tgisinternal AND tg.tgparentid = 0
         WHERE tg.tgfoid IN (SELECT p.oid FROM pg_proc p
                              WHERE p.prolang = 13 AND p.prosrc = 'triggered_change_notification')
        UNION ALL
        SELECT format('%I ON %s', rw.rulename, t.qname), 'rule', format('Rule %I', rw.rulename), t.qname, t.relid,
               'a NOTIFY action'
          FROM ten t
          JOIN pg_rewrite rw ON rw.ev_class = t.relid AND rw.rulename <> '_RETURN'
         WHERE pg_get_ruledef(rw.oid) ~* '\mNOTIFY\M'
        UNION ALL
        -- the other code of tenant tables: a WHEN clause, a CHECK constraint,
        -- a column default, an index, a policy or a rule (or a domain or
        -- operator they use) that calls pg_notify() or a function that does
        SELECT p.object, p.kind, p.what, y.qname, y.relid, y.how
          FROM (SELECT DISTINCT o.relid, o.qname, o.classid, o.objid, o.objsubid,
                       format('%s %s, which %s', coalesce(o.via || ' calls', 'it calls'), o.fid::regprocedure,
                              CASE WHEN n.direct THEN 'calls pg_notify() or NOTIFY'
                                   ELSE format('calls %s, which calls pg_notify() or NOTIFY', n.via) END) AS how
                  FROM tother o JOIN tnotify n ON n.fid = o.fid
                UNION ALL
                SELECT e.relid, e.qname, e.classid, e.objid, 0, 'it calls pg_notify()' FROM texpr e) y
         CROSS JOIN LATERAL tenant_rls._table_part(y.classid, y.objid, y.objsubid, y.qname) p
       ) x
UNION ALL
-- functions, types, operators, operator classes and (review rev50h) the
-- sequences of their INSERTs that tenant tables use
-- (or call through their functions), owned by a role other than the table's
-- owner and not a superuser
SELECT 'dependency_owned_by_other_role', x.level, x.name, x.kind,
       format('%s on tenant table %s uses %s %s%s, which role %I owns.',
              p.what, x.qname, x.kind, x.name, CASE WHEN x.via IS NOT NULL THEN format(' (through %s)', x.via) ELSE '' END, x.rolname),
       CASE WHEN x.kind = 'sequence'
            -- (review rev50h) a sequence's owner needs no grant to set it
            THEN format('Role %I may setval() it or ALTER SEQUENCE ... RESTART it at any time, without any grant, and every tenant''s INSERTs take their ids from it: set back, the INSERTs of every other tenant fail with unique violations until someone repairs it, and setval() followed by an INSERT tells whether another tenant''s row has a given key (as UPDATE granted on it does: tenant_sequence_privilege). %s',
                        x.rolname,
                        CASE WHEN x.owners
                             THEN 'Tables of several owners use it: give each owner a sequence of its own, or give it to one role that owns them all.'
                             WHEN x.ownedby IS NOT NULL
                             THEN format('It belongs to column %s (OWNED BY), whose table''s owner it must keep: give the tenant table a sequence of its owner''s own (CREATE SEQUENCE, then ALTER TABLE ... ALTER COLUMN ... SET DEFAULT nextval(...) from its current value).', x.ownedby)
                             ELSE format('Give it to the table''s owner (the fix; run by a superuser): the fix then grants USAGE on it to %I, whose INSERTs call nextval() with its own privileges, which owning the sequence gave until now (USAGE draws ids and cannot set them back; revoke it if neither that role nor its members insert). A schema that role owns still lets it drop the sequence (and the default with it), or, for a default that names it in text, put another of that name in its place: move it to a schema of the owner''s (ALTER SEQUENCE ... SET SCHEMA; a default in text must then name the new schema).',
                                         x.rolname) END)
            ELSE
       format('Role %I may change it at any time (CREATE OR REPLACE FUNCTION, ALTER DOMAIN ... ADD CONSTRAINT, ALTER TYPE ... RENAME VALUE), and the table runs it on every tenant''s rows, before or without the tenant filter: a notice, an error or a failing check shows that role other tenants'' values, and a changed type or function changes what they read and write. Read its definition first: it is that role''s code. %s',
              x.rolname,
              CASE WHEN x.secdef
                   THEN 'It is SECURITY DEFINER, so owned by the table''s owner it would run with the owner''s rights: replace it with a function the owner writes.'
                   WHEN x.owners
                   THEN 'Tables of several owners use it: give each owner a copy of its own, or give it to one role that owns them all.'
                   WHEN x.rowtype
                   THEN 'It is the row type of a table of that role: use a type of the owner''s own.'
                   ELSE 'Then give it to the table''s owner (the fix; run by a superuser), or replace it with one the owner writes, in a schema that role does not own.' END) END,
       CASE WHEN x.kind = 'sequence' AND NOT x.owners AND x.ownedby IS NULL
            THEN format('ALTER SEQUENCE %s OWNER TO %I; GRANT USAGE ON SEQUENCE %s TO %I;', x.name, w.rolname, x.name, x.rolname)
            WHEN x.kind <> 'sequence' AND NOT x.secdef AND NOT x.owners AND NOT x.rowtype
            THEN format('ALTER %s %s OWNER TO %I;', upper(x.kind), x.name, w.rolname) END,
       x.relid
  FROM uown x
  LEFT JOIN pg_roles w ON w.oid = x.owner
 CROSS JOIN LATERAL tenant_rls._table_part(x.classid, x.objid, x.objsubid, x.qname) p
-- ==== views and functions
UNION ALL
SELECT 'view_not_security_invoker',
       -- an error when the owner's rights open other tenants' rows; a
       -- warning when the policies bind the owner as they bind the caller
       -- (they compare with the session's tenant, not with a role)
       -- (not an owner with the admin role: is_admin() in the policies
       -- checks the user running the query, which a view does not change)
       CASE WHEN v.weak OR o.rolsuper OR o.rolbypassrls THEN 'error' ELSE 'warning' END,
       v.vname, 'view',
       format('View %s reads tenant table(s) %s but is not security_invoker.', v.vname, v.tables),
       format('The view runs with the rights of its owner %s: the owner''s row-level security applies, not the caller''s%s.',
              quote_ident(v.owner),
              CASE WHEN v.weak OR o.rolsuper OR o.rolbypassrls
                   THEN ', and it reads rows of other tenants'
                   ELSE ' (the tenant guard still applies to it, but policies written for roles and the owner''s privileges do)' END),
       format('ALTER VIEW %s SET (security_invoker = true);', v.vname), NULL::oid
  FROM vrel v
  JOIN pg_roles o ON o.oid = v.owner_oid
 WHERE v.relkind = 'v'
   AND NOT EXISTS (SELECT 1 FROM unnest(v.reloptions) o
                    WHERE lower(split_part(o, '=', 1)) = 'security_invoker'
                      AND lower(split_part(o, '=', 2)) IN ('true', 'on', '1', 'yes', 't', 'y'))
UNION ALL
-- a view (not security_invoker) or materialized view over the catalogs that
-- hold every tenant's values outside row-level security (review rev45c: a
-- superuser's "column statistics" view showed every tenant's most common
-- values): a view reads the relations it names with its owner's rights, a
-- materialized view stores what its owner read.  (pg_stats, pg_stats_ext and
-- pg_stat_activity filter by the user running the query, which a view does
-- not change: not these.)  Only views some other role may read.
SELECT 'view_reads_catalog', 'error', x.vname, 'view',
       format('%s %s reads %s with the rights of its owner %s; %s may read it.',
              CASE x.relkind WHEN 'm' THEN 'Materialized view' ELSE 'View' END,
              x.vname, x.what, quote_ident(x.owner), x.who),
       'pg_statistic and pg_statistic_ext_data hold sample values (most common values, histogram bounds) of every column of every table, every tenant''s included, and pg_largeobject the contents of every large object; row-level security guards none of them. Make the view security_invoker (then only roles that may read those catalogs themselves can use it), or read pg_stats instead, which shows a role only the columns it may read.',
       CASE x.relkind WHEN 'v' THEN format('ALTER VIEW %s SET (security_invoker = true);', x.vname)
                      ELSE format('DROP MATERIALIZED VIEW %s;', x.vname) END,
       x.oid
  FROM (SELECT y.*,
               -- (read from the rules' query trees: a dependency on a
               -- catalog, a pinned object, is not recorded in pg_depend)
               (SELECT string_agg(DISTINCT format('%I.%I', 'pg_catalog', b.relname), ', ')
                  FROM tenant_rls._view_reach(y.oid) v
                  JOIN pg_rewrite rw ON rw.ev_class = v.relid AND rw.rulename = '_RETURN'
                  JOIN pg_class b ON b.oid IN ('pg_catalog.pg_statistic'::regclass, 'pg_catalog.pg_statistic_ext_data'::regclass,
                                               'pg_catalog.pg_largeobject'::regclass)
                 WHERE v.relkind = 'v' AND v.relid >= 16384	-- (pg_stats filters by the reader)
                   AND strpos(rw.ev_action::text, format(':relid %s ', b.oid)) > 0
                   AND has_table_privilege(y.relowner, b.oid, 'SELECT')) AS what
          FROM (SELECT c.oid, c.relkind, c.relowner, format('%I.%I', n.nspname, c.relname) AS vname,
                       o.rolname AS owner,
                       (SELECT string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                                        ELSE quote_ident(pg_get_userbyid(a.grantee)) END, ', ')
                          FROM aclexplode(c.relacl) a
                         WHERE a.grantee <> c.relowner AND a.privilege_type = 'SELECT') AS who
                  FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  JOIN pg_roles o ON o.oid = c.relowner
                 WHERE c.relkind IN ('v', 'm') AND c.oid >= 16384 AND c.relacl IS NOT NULL
                   AND c.oid NOT IN (SELECT e.objid FROM extrels e)
                   AND (c.relkind = 'm'
                        OR NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) ro
                                        WHERE lower(split_part(ro, '=', 1)) = 'security_invoker'
                                          AND lower(split_part(ro, '=', 2)) IN ('true', 'on', '1', 'yes', 't', 'y')))
                OFFSET 0) y
         WHERE y.who IS NOT NULL
        OFFSET 0) x
 WHERE x.what IS NOT NULL
UNION ALL
SELECT 'materialized_view_over_tenant_table', 'error', v.vname, 'materialized view',
       format('Materialized view %s stores rows of tenant table(s) %s.', v.vname, v.tables),
       'A materialized view has no row-level security: whoever can read it sees the rows of every tenant captured at refresh (by its owner). Replace it by a security_invoker view or a per-tenant summary table protected by tenant_rls.',
       NULL, NULL::oid
  FROM vrel v WHERE v.relkind = 'm'
UNION ALL
-- a materialized view that runs SQL given as text (query_to_xml(),
-- crosstab(), a user function with EXECUTE) as an owner who bypasses
-- row-level security: which tables it stores is not in the catalog, as for
-- such SECURITY DEFINER functions (review rev32b)
SELECT 'materialized_view_over_tenant_table', 'error', m.vname, 'materialized view',
       format('Materialized view %s runs SQL given as text (%s) as its owner %s, who %s.', m.vname,
              CASE WHEN m.dyn_text THEN 'query_to_xml(), crosstab() and the like' ELSE 'through a function it calls' END,
              quote_ident(r.rolname),
              CASE WHEN r.rolsuper OR r.rolbypassrls THEN 'bypasses row-level security'
                   ELSE format('has the privileges of %s, the tenant_rls admin role', adm.name) END),
       'A materialized view has no row-level security, and the tables such SQL reads are named only at run time: at refresh it can store the rows of every tenant of any tenant table, and every reader sees them. Replace it by a security_invoker view or a per-tenant summary table protected by tenant_rls, or give it an owner subject to row-level security.',
       NULL, NULL::oid
  FROM (SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS vname, c.relowner,
               tenant_rls._runs_dynamic_sql('sql', pg_get_viewdef(c.oid)) AS dyn_text,
               EXISTS (SELECT 1 FROM callee0 k JOIN cdynup d ON d.fid = k.fid
                        WHERE k.kind = 'm' AND k.caller = c.oid) AS dyn_call
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'm' AND c.oid >= 16384
           AND c.oid NOT IN (SELECT e.objid FROM extrels e)
           AND c.oid NOT IN (SELECT v.oid FROM vrel v)) m
  JOIN pg_roles r ON r.oid = m.relowner
  LEFT JOIN LATERAL (SELECT min(quote_ident(a.rolname)) AS name FROM admins a
                      WHERE pg_has_role(r.oid, a.oid, 'USAGE')) adm ON true
 WHERE (m.dyn_text OR m.dyn_call) AND (r.rolsuper OR r.rolbypassrls OR adm.name IS NOT NULL)
UNION ALL
SELECT 'security_definer_reads_tenant_table',
       CASE WHEN r.rolsuper OR r.rolbypassrls OR adm.name IS NOT NULL OR x.unprotected OR tr.tables IS NOT NULL
                 OR x.oid IS NULL
                 -- (review rev50a) a table of tenant rows without a tenant
                 -- column, and a role other than the owner may call it
                 OR (x.nttables IS NOT NULL AND ex.callers IS NOT NULL)
            THEN 'error' ELSE 'warning' END,
       s.ident, 'function',
       CASE WHEN x.tables IS NOT NULL AND x.nttables IS NOT NULL
            THEN format('SECURITY DEFINER function %s reads tenant table(s) %s, and table(s) %s, which hold tenant rows without a tenant column.',
                        s.ident, x.tables, x.nttables)
            WHEN x.nttables IS NOT NULL
            THEN format('SECURITY DEFINER function %s reads table(s) %s, which hold tenant rows without a tenant column.',
                        s.ident, x.nttables)
            WHEN x.oid IS NOT NULL
            THEN format('SECURITY DEFINER function %s reads tenant table(s) %s.', s.ident, x.tables)
            WHEN r.rolsuper OR r.rolbypassrls OR adm.name IS NOT NULL
            THEN format('SECURITY DEFINER function %s runs dynamic SQL (EXECUTE, query_to_xml() and the like) as a role that bypasses row-level security: it can read any tenant table.', s.ident)
            ELSE format('SECURITY DEFINER function %s runs dynamic SQL (EXECUTE, query_to_xml() and the like) as the owner of tenant tables: it can truncate them, or undo their isolation (tenant_rls.unprotect(), grant_access()).', s.ident) END,
       format('It runs as its owner %s%s.', quote_ident(r.rolname),
              CASE WHEN r.rolsuper OR r.rolbypassrls THEN ', who bypasses row-level security: callers see every tenant''s rows'
                   WHEN adm.name IS NOT NULL
                   THEN format(', who has the privileges of %s, the tenant_rls admin role: the policies let it read and change every tenant''s rows, and so may every caller', adm.name)
                   WHEN x.unprotected
                   THEN '; no row-level security policy limits what it reads of ' || x.unprotected_tables
                   WHEN tr.tables IS NOT NULL
                   THEN '; it truncates ' || tr.tables || ', which row-level security does not limit: any caller empties every tenant''s rows'
                   ELSE '; the owner''s rights, not the caller''s, decide what it may read and change' END)
       || CASE WHEN x.nttables IS NULL THEN ''
               ELSE format(' No row-level security limits what it reads of %s (table_without_tenant_column: a foreign key to the table of tenants or to a tenant table, no tenant column): %s Give the table its tenant column and protect() it (or protect it by the column that references the table of tenants), or let only administrators execute the function.',
                           x.nttables,
                           CASE WHEN ex.callers IS NOT NULL
                                THEN format('whoever may call it (%s) reads every tenant''s rows there through it, without any privilege on the table.', ex.callers)
                                ELSE 'no role but its owner (and superusers) may call it now; a grant of EXECUTE would open every tenant''s rows there.' END)
                    -- (review rev50h) what SECURITY INVOKER does there: the
                    -- callers read the table with their own privileges,
                    -- which no row-level security limits either
                    || CASE WHEN ntr.who IS NOT NULL
                            THEN format(' SECURITY INVOKER (the fix) alone ends this finding, not the leak: roles may read %s themselves (%s), and read every tenant''s rows there without the function (table_without_tenant_column, an error). Protect the table first (its fix), then make the function SECURITY INVOKER.',
                                        x.nttables, ntr.who)
                            ELSE ' SECURITY INVOKER (the fix) makes its callers read the table with their own privileges: no role but its owner (and superusers) may read it now, so their calls fail (permission denied for table) until it is protected and SELECT granted; protect it first (table_without_tenant_column''s fix) if they must keep working. A grant of SELECT on it while it is unprotected opens every tenant''s rows to the grantees (table_without_tenant_column, an error).' END END,
       format('ALTER ROUTINE %s SECURITY INVOKER;', s.ident), NULL::oid
  FROM sdf s
  LEFT JOIN (SELECT sdhit.oid,
                    array_to_string((array_agg(DISTINCT sdhit.qname) FILTER (WHERE NOT sdhit.nt))[1:10], ', ') AS tables,
                    coalesce(bool_or(NOT sdhit.t_ok) FILTER (WHERE NOT sdhit.nt), false) AS unprotected,
                    array_to_string((array_agg(DISTINCT sdhit.qname) FILTER (WHERE NOT sdhit.t_ok AND NOT sdhit.nt))[1:10], ', ')
                        AS unprotected_tables,
                    -- (review rev50a) the tables of tenant rows without a
                    -- tenant column it reads
                    array_to_string((array_agg(DISTINCT sdhit.qname) FILTER (WHERE sdhit.nt))[1:10], ', ') AS nttables,
                    array_agg(DISTINCT sdhit.qname) FILTER (WHERE sdhit.nt) AS ntnames
               FROM sdhit GROUP BY sdhit.oid) x ON x.oid = s.oid
  JOIN pg_roles r ON r.oid = s.proowner
  -- who other than its owner (not a superuser) may call it, for these few
  -- functions only: PUBLIC (the default) or the grantees of EXECUTE
  LEFT JOIN LATERAL (SELECT CASE WHEN p.proacl IS NULL THEN 'PUBLIC'
                                 ELSE (SELECT string_agg(DISTINCT CASE WHEN e.grantee = 0 THEN 'PUBLIC'
                                                                      ELSE quote_ident(pg_get_userbyid(e.grantee)) END, ', ')
                                         FROM aclexplode(p.proacl) e
                                         LEFT JOIN pg_roles gr ON gr.oid = e.grantee
                                        WHERE e.privilege_type = 'EXECUTE' AND e.grantee <> p.proowner
                                          AND NOT coalesce(gr.rolsuper, false)) END AS callers
                       FROM pg_proc p WHERE p.oid = s.oid AND x.nttables IS NOT NULL) ex ON true
  -- (review rev50h) who may read those tables themselves (the readers of
  -- table_without_tenant_column), for these few functions only
  LEFT JOIN LATERAL (SELECT string_agg(format('%s by %s', rd.relid::regclass, rd.who), '; ' ORDER BY rd.relid) AS who
                       FROM readers rd
                      WHERE x.ntnames IS NOT NULL
                        AND rd.relid IN (SELECT to_regclass(q.q) FROM unnest(x.ntnames) q(q))) ntr ON true
  -- an owner with the admin role's privileges: as strong as BYPASSRLS for
  -- tenant tables (inside the function current_user is the owner)
  LEFT JOIN LATERAL (SELECT min(quote_ident(a.rolname)) AS name FROM admins a
                      WHERE pg_has_role(r.oid, a.oid, 'USAGE')) adm ON true
  -- the tenant tables it TRUNCATEs (review rev47f: a warning, "the guard
  -- still applies", while TRUNCATE ignores row-level security; a TRUNCATE
  -- grant on the table is an error)
  LEFT JOIN LATERAL (SELECT string_agg(DISTINCT t.qname, ', ') AS tables
                       FROM tenant_rls._written_names(s.rawsrc) w
                       JOIN ten t ON t.table_name = w.rel_name AND (w.schema_name IS NULL OR t.schema_name = w.schema_name)
                      WHERE x.oid IS NOT NULL AND w.verb = 'truncate') tr ON true
 -- names built at run time are not in the body: a function that runs
 -- dynamic SQL as a role that bypasses row-level security is reported too
 -- (also through a function it calls: it runs with the same rights)
 WHERE x.oid IS NOT NULL
    OR ((s.dynamic OR EXISTS (SELECT 1 FROM callee0 c JOIN cdynup d ON d.fid = c.fid
                               WHERE c.kind = 'f' AND c.caller = s.oid))
        -- (or owns tenant tables, a member of their owner: review rev47f)
        AND (r.rolsuper OR r.rolbypassrls OR adm.name IS NOT NULL
             OR EXISTS (SELECT 1 FROM owners o WHERE pg_has_role(r.oid, o.owner, 'MEMBER'))))
UNION ALL
-- a SECURITY DEFINER function whose owner may undo isolation (a superuser,
-- the owner of tenant tables or a member of one, a member of
-- pg_write_all_data) and that calls what does (sdiso): every caller may
SELECT 'security_definer_changes_isolation',
       CASE WHEN x.public_exec OR x.app_exec IS NOT NULL THEN 'error' ELSE 'warning' END,
       s.ident, 'function',
       format('SECURITY DEFINER function %s changes tenant isolation with its owner''s rights (%s).', s.ident, w.words),
       format('It runs as its owner %s, who %s: whoever may call it (%s) grants one tenant''s rows to another, unprotects tables or marks them global, or accepts findings, from any tenant''s session. Make it SECURITY INVOKER, or let only administrators execute it.',
              quote_ident(r.rolname),
              CASE WHEN r.rolsuper THEN 'is a superuser'
                   WHEN x.owns THEN 'owns tenant tables or is a member of their owner'
                   ELSE 'is a member of pg_write_all_data' END,
              CASE WHEN x.public_exec THEN 'PUBLIC' ELSE coalesce(x.app_exec, 'roles granted EXECUTE') END),
       format('ALTER ROUTINE %s SECURITY INVOKER;', s.ident), NULL::oid
  FROM sdf s
  JOIN (SELECT i.oid, string_agg(DISTINCT i.word, ', ') AS words FROM sdiso i GROUP BY i.oid) w ON w.oid = s.oid
  JOIN pg_roles r ON r.oid = s.proowner
  CROSS JOIN LATERAL (
                SELECT EXISTS (SELECT 1 FROM owners o WHERE pg_has_role(s.proowner, o.owner, 'USAGE')) AS owns,
                       pg_has_role(s.proowner, 'pg_write_all_data', 'USAGE') AS write_all,
                       (SELECT p.proacl IS NULL
                               OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) e
                                           WHERE e.grantee = 0 AND e.privilege_type = 'EXECUTE')
                          FROM pg_proc p WHERE p.oid = s.oid) AS public_exec,
                       (SELECT string_agg(quote_ident(l.rolname), ', ' ORDER BY l.rolname)
                          FROM logins l
                         WHERE NOT pg_has_role(l.oid, s.proowner, 'MEMBER')
                           AND has_function_privilege(l.oid, s.oid, 'EXECUTE')) AS app_exec) x
 WHERE r.rolsuper OR x.owns OR x.write_all
UNION ALL
-- user functions marked LEAKPROOF (a warning), and built-ins marked so that
-- PostgreSQL 15 does not ship so (an error: ALTER FUNCTION
-- pg_catalog.int8div(bigint, bigint) LEAKPROOF "to tune RLS plans"; an
-- error such as division by zero then tells one tenant that another's row
-- exists, review rev34f).  The list is the LEAKPROOF functions of a fresh
-- PostgreSQL 15 cluster (built-in OIDs are fixed for a major version).
SELECT 'leakproof_function', CASE WHEN x.builtin THEN 'error' ELSE 'warning' END,
       x.ident, 'function',
       CASE WHEN x.builtin THEN format('Built-in function %s is marked LEAKPROOF; PostgreSQL does not ship it so.', x.ident)
            ELSE format('User function %s is marked LEAKPROOF.', x.ident) END,
       'The planner may run a LEAKPROOF function on rows before the row-level security policy filters them; any error message (division by zero, out of range, invalid input) or side effect then reveals other tenants'' values.',
       format('ALTER FUNCTION %s NOT LEAKPROOF;', x.ident),
       NULL::oid
  FROM (SELECT format('%I.%I(%s)', n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid)) AS ident,
               n.nspname IN ('pg_catalog', 'information_schema') AS builtin
          FROM pg_proc pr
          JOIN pg_namespace n ON n.oid = pr.pronamespace
          LEFT JOIN extfuncs e ON e.objid = pr.oid
         WHERE pr.proleakproof AND e.objid IS NULL
           AND (n.nspname NOT IN ('pg_catalog', 'information_schema')
                OR pr.oid >= 16384
                OR (current_setting('server_version_num')::integer / 10000 = 15
                    AND pr.oid <> ALL ('{56,57,60,61,62,63,64,65,66,67,68,69,70,72,73,74,84,144,145,146,147,148,149,150,151,157,158,159,160,161,162,163,164,165,166,167,168,169,184,185,235,236,240,241,242,243,244,245,246,247,248,249,250,251,252,253,287,288,289,290,291,292,293,294,295,296,297,298,299,300,301,302,303,304,305,306,307,308,309,310,311,313,316,318,350,351,354,355,356,358,359,360,377,404,406,407,409,458,459,467,468,469,470,471,472,474,475,476,477,478,479,481,482,619,652,655,656,657,658,659,677,678,679,680,681,716,717,740,741,742,743,754,830,831,832,833,834,835,836,842,852,853,854,855,856,857,888,889,890,891,892,893,920,921,922,923,924,925,926,999,1048,1049,1050,1051,1052,1053,1063,1064,1078,1086,1087,1088,1089,1090,1091,1092,1102,1103,1104,1105,1106,1107,1145,1152,1153,1154,1155,1156,1157,1162,1163,1164,1165,1166,1167,1246,1265,1288,1292,1314,1315,1319,1352,1353,1354,1355,1356,1357,1358,1370,1400,1401,1462,1463,1464,1465,1466,1467,1482,1483,1484,1485,1486,1581,1582,1592,1593,1594,1595,1596,1638,1639,1666,1667,1668,1669,1670,1671,1672,1691,1692,1693,1740,1742,1743,1781,1782,1850,1851,1852,1853,1854,1855,1856,1857,1858,1859,1860,1861,1948,1949,1950,1951,1952,1953,1954,2045,2052,2053,2054,2055,2056,2057,2160,2161,2163,2164,2166,2174,2175,2177,2178,2180,2188,2189,2190,2191,2192,2193,2194,2195,2311,2321,2557,2558,2790,2791,2792,2793,2794,2954,2955,2956,2957,2958,2959,2960,3231,3232,3233,3234,3235,3236,3251,3308,3309,3419,3420,3421,3422,3432,3696,4113,4114,4115,4116,4117,4118,4119,4123,5034,5035,5036,5037,5084,5085,5096}'::oid[])))) x
UNION ALL
-- a SECURITY DEFINER function of a privileged owner (superuser, or a member
-- of tenant_rls.admin_role: strict mode lets them set the tenant) that sets
-- the tenant: by name in the body, or by dependency (BEGIN ATOMIC)
-- ... or that signs a token itself (sign_tenant(): its owner is a
-- superuser or may run it, the key's holder) and so sets any tenant through
-- set_tenant_signed() (review rev34f)
SELECT 'security_definer_sets_tenant', 'error', s.ident, 'function',
       format('SECURITY DEFINER function %s sets the tenant (%s).', s.ident,
              CASE WHEN x.signs THEN 'it signs a token with tenant_rls.sign_tenant()'
                   WHEN st.how = 'set' THEN 'tenant_rls.set_tenant() or app.current_tenant_id'
                   WHEN st.how = 'config' THEN 'set_config() of a setting it does not name: app.current_tenant_id too'
                   ELSE format('%s, in %s, which it calls',
                               CASE WHEN st.how LIKE 'set %' THEN 'tenant_rls.set_tenant() or app.current_tenant_id'
                                    ELSE 'set_config() of a setting it does not name: app.current_tenant_id too' END,
                               (SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
                                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                 WHERE p.oid = split_part(st.how, ' ', 2)::oid)) END),
       format('It runs as its owner %s, %s: whoever may call it chooses a tenant without a signed token. Let it take a token and call tenant_rls.set_tenant_signed(), or make it SECURITY INVOKER.',
              quote_ident(r.rolname),
              CASE WHEN x.signs THEN 'who may sign tokens for any tenant' ELSE 'whom strict mode lets set any tenant' END),
       format('ALTER ROUTINE %s SECURITY INVOKER;', s.ident), NULL::oid
  FROM sdf s
  JOIN pg_roles r ON r.oid = s.proowner
  LEFT JOIN pg_roles adm ON adm.rolname = nullif(current_setting('tenant_rls.admin_role', true), '')
  CROSS JOIN LATERAL (
        SELECT (s.src ~ '\msign_tenant\s*\('
                OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_proc f ON f.oid = d.refobjid
                            WHERE d.classid = 'pg_proc'::regclass AND d.objid = s.oid
                              AND d.refclassid = 'pg_proc'::regclass
                              AND f.pronamespace = 'tenant_rls'::regnamespace AND f.proname = 'sign_tenant'))
               AND has_function_privilege(r.oid, 'tenant_rls.sign_tenant(text, interval)', 'EXECUTE') AS signs) x
  -- how it sets the tenant (sdset): in its own body (set, then config),
  -- else in a function it calls (the first by name)
  LEFT JOIN LATERAL (
        SELECT CASE WHEN d.via IS NULL THEN d.kind ELSE d.kind || ' ' || d.via::text END AS how
          FROM sdset d
         WHERE d.oid = s.oid
         ORDER BY d.via IS NOT NULL, d.kind DESC, d.via::regproc::text, d.via
         LIMIT 1) st ON true
 WHERE x.signs
    OR ((r.rolsuper OR (adm.oid IS NOT NULL AND pg_has_role(r.oid, adm.oid, 'USAGE')))
        AND st.how IS NOT NULL)
UNION ALL
-- SECURITY DEFINER functions of a privileged owner that any role may run,
-- whose search_path does not end with pg_temp (review rev34f): PostgreSQL
-- looks up tables and views in pg_temp first unless the path names it, so a
-- caller's temporary table named like one the body uses (and a trigger the
-- caller puts on it) runs with the owner's rights.  Trigger functions are
-- run by whoever fires the trigger, whatever EXECUTE says.
SELECT 'security_definer_search_path', 'error', s.ident, 'function',
       format('SECURITY DEFINER function %s does not end its search_path with pg_temp.', s.ident),
       format('It runs as %s, %s, and %s may run it; %s PostgreSQL looks up tables and views in pg_temp first unless the path names it, so a temporary table of the caller named like one the body uses (and a trigger of the caller''s on it) runs with the owner''s rights.',
              quote_ident(r.rolname), x.why, x.who,
              CASE WHEN x.sp IS NULL THEN 'it has no search_path of its own (names resolve through the caller''s);'
                   ELSE format('its search_path is %s;', CASE WHEN x.sp = '' THEN '''''' ELSE x.sp END) END),
       format('ALTER ROUTINE %s SET search_path = %s;', s.ident,  -- (a procedure too: review rev47f)
              CASE WHEN x.sp IS NULL THEN quote_ident(x.nsp) || ', pg_temp'
                   WHEN x.rest = '' THEN 'pg_temp'
                   ELSE x.rest || ', pg_temp' END), NULL::oid
  FROM sdf s
  JOIN pg_proc p ON p.oid = s.oid
  JOIN sdwho w ON w.oid = s.oid
  JOIN pg_roles r ON r.oid = s.proowner
  LEFT JOIN LATERAL (SELECT min(quote_ident(a.rolname)) AS name FROM admins a
                      WHERE pg_has_role(r.oid, a.oid, 'USAGE')) adm ON true
  CROSS JOIN LATERAL (
        SELECT (SELECT substr(c, 13) FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%' LIMIT 1) AS sp,
               (SELECT n.nspname FROM pg_namespace n WHERE n.oid = p.pronamespace) AS nsp,
               CASE WHEN r.rolsuper THEN 'a superuser'
                    WHEN r.rolbypassrls THEN 'who bypasses row-level security'
                    WHEN adm.name IS NOT NULL THEN format('who has the privileges of %s, the tenant_rls admin role', adm.name)
                    WHEN EXISTS (SELECT 1 FROM owners o WHERE pg_has_role(r.oid, o.owner, 'USAGE'))
                    THEN 'who owns tenant tables (or is a member of their owner)'
                    WHEN pg_has_role(r.oid, 'pg_write_all_data', 'USAGE') OR pg_has_role(r.oid, 'pg_read_all_data', 'USAGE')
                    THEN 'who reads or writes all data' END AS why,
               w.who) x0
  -- the path as PostgreSQL reads it: "PG_TEMP" is not pg_temp, "a,b" is one
  -- schema (review rev46d); the fix quotes what needs it
  CROSS JOIN LATERAL (SELECT tenant_rls._split_identifiers(x0.sp) AS names) sl
  CROSS JOIN LATERAL (
        SELECT x0.sp, x0.nsp, x0.why, x0.who,
               coalesce(sl.names[cardinality(sl.names)] = 'pg_temp', false) AS locked,
               coalesce((SELECT string_agg(quote_ident(e), ', ' ORDER BY i) FROM unnest(sl.names) WITH ORDINALITY u(e, i)
                          WHERE e <> 'pg_temp' AND e <> ''), '') AS rest) x
 WHERE x.why IS NOT NULL AND x.who IS NOT NULL AND NOT x.locked
UNION ALL
-- SECURITY DEFINER functions that read, with a privileged owner's rights,
-- what row-level security does not guard (review rev34f): other sessions'
-- statements, statistics' sample values, large objects, server files
SELECT 'security_definer_reads_server_data', 'error', s.ident, 'function',
       format('SECURITY DEFINER function %s reads %s as %s.', s.ident, x.what, quote_ident(r.rolname)),
       format('Whoever may run it (%s) reads them with its owner''s rights: other tenants'' statements with their values (pg_stat_activity, pg_stat_statements), sample values of every column (pg_statistic, pg_stats), large objects, every change in the WAL (logical decoding), or server files (the configuration, also through pg_file_settings, holds tenant_rls.signing_key: a forged token for any tenant). Make it SECURITY INVOKER, or let only administrators run it.',
              x.who),
       format('ALTER ROUTINE %s SECURITY INVOKER;', s.ident), NULL::oid
  FROM sdf s
  JOIN pg_proc p ON p.oid = s.oid
  JOIN sdwho w ON w.oid = s.oid
  JOIN pg_roles r ON r.oid = s.proowner
  CROSS JOIN LATERAL (
        -- (sdsrv: named in its body or in a user function it calls, at any
        -- depth; COPY from or to a server file or a program)
        SELECT (SELECT string_agg(DISTINCT bw.word, ', ') FROM sdsrv bw WHERE bw.oid = s.oid) AS what,
               EXISTS (SELECT 1 FROM sdsrv bw WHERE bw.oid = s.oid AND bw.word LIKE '%(COPY ...%') AS copies,
               w.app_who AS who) x
 WHERE x.what IS NOT NULL AND x.who IS NOT NULL
   AND (r.rolsuper OR pg_has_role(r.oid, 'pg_read_all_stats', 'USAGE') OR pg_has_role(r.oid, 'pg_read_server_files', 'USAGE')
        OR pg_has_role(r.oid, 'pg_read_all_data', 'USAGE')
        OR (r.rolreplication AND x.what LIKE '%pg_logical_slot_%')
        OR (x.copies AND (pg_has_role(r.oid, 'pg_write_server_files', 'USAGE')
                          OR pg_has_role(r.oid, 'pg_execute_server_program', 'USAGE'))))
UNION ALL
-- rules (not a view's own ON SELECT rule) whose actions name tenant tables,
-- on relations owned by a role that bypasses row-level security: rule
-- actions run with the rights of the owner of the rule's relation
SELECT 'rule_bypasses_rls', 'error', format('%I ON %s', x.rulename, x.rel), 'rule',
       format('Rule %I on %s acts on tenant table(s) %s as %s, who bypasses row-level security.',
              x.rulename, x.rel, x.tables, quote_ident(x.owner)),
       'Rule actions run with the rights of the owner of the relation the rule is on, whether or not a view is security_invoker: every role that may run the command the rule rewrites reads and changes every tenant''s rows through it. Drop the rule, or give its relation an owner that is subject to row-level security and re-create it.',
       format('DROP RULE %I ON %s;', x.rulename, x.rel), NULL::oid
  FROM (SELECT rw.rulename, format('%I.%I', n.nspname, c.relname) AS rel, o.rolname AS owner,
               array_to_string((array_agg(DISTINCT t.qname))[1:10], ', ') AS tables
          FROM rdep rw
          JOIN ten t ON t.relid = rw.base
          JOIN pg_class c ON c.oid = rw.ev_class
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_roles o ON o.oid = c.relowner
         WHERE rw.rulename <> '_RETURN' AND (o.rolsuper OR o.rolbypassrls)
         GROUP BY rw.ruleid, rw.rulename, n.nspname, c.relname, o.rolname) x
-- ==== roles and privileges
UNION ALL
SELECT 'role_bypassrls', 'error', quote_ident(r.rolname), 'role',
       format('Login role %s has BYPASSRLS.', quote_ident(r.rolname)),
       'Row-level security is not applied to any of its queries: it sees and changes every tenant''s rows.'
       -- (review rev50a: the fix silently broke a service role's jobs)
       || format(' If it is a service role whose jobs read or change several tenants'' rows on purpose (billing, exports, a sync), NOBYPASSRLS silently leaves them the rows of the tenant they set, or none: first make it a member of tenant_rls.admin_role (the policies'' own exception, for the protected tables: role_tenant_admin, a warning)%s, or have each job set the tenant it works for; or, if bypassing row-level security is what it is for, accept the finding: SELECT tenant_rls.accept_finding(''role_bypassrls'', %L, ''service role'');',
                 -- (review rev50e) is_admin() is has_privs_of_role(): a
                 -- NOINHERIT member is no administrator until SET ROLE
                 CASE WHEN r.rolinherit THEN ''
                      ELSE format(' and have its jobs SET ROLE to the admin role (%I is NOINHERIT: a NOINHERIT member has the admin role''s privileges, which the policies check, only after SET ROLE)', r.rolname) END,
                 quote_ident(r.rolname)),
       format('ALTER ROLE %I NOBYPASSRLS;', r.rolname), NULL::oid
  FROM pg_roles r WHERE r.rolcanlogin AND r.rolbypassrls AND NOT r.rolsuper
UNION ALL
-- a login role that can SET ROLE to a role with BYPASSRLS or superuser
-- (membership: in PostgreSQL 15 every member may), one finding per pair;
-- the fix revokes a direct membership (an indirect one: the detail says
-- through which role)
SELECT CASE WHEN b.rolsuper THEN 'role_superuser_login' ELSE 'role_bypassrls' END,
       -- (an application role that can become a superuser: an error, as a
       -- membership in a BYPASSRLS role is; review rev47f)
       CASE WHEN b.rolsuper AND NOT EXISTS (SELECT 1 FROM approles a WHERE a.oid = r.oid) THEN 'warning' ELSE 'error' END,
       quote_ident(r.rolname), 'role',
       format('Login role %s can SET ROLE to %s, which %s%s.', quote_ident(r.rolname), quote_ident(b.rolname),
              CASE WHEN b.rolsuper THEN 'is a superuser' ELSE 'has BYPASSRLS' END,
              CASE WHEN NOT pg_has_role(r.oid, b.oid, 'MEMBER')
                   THEN ' (it has CREATEROLE: it can grant itself membership in that role)' ELSE '' END),
       format('Row-level security is not applied to its queries after SET ROLE %s: it sees and changes every tenant''s rows%s.',
              quote_ident(b.rolname),
              CASE WHEN NOT pg_has_role(r.oid, b.oid, 'MEMBER') THEN ''
                   WHEN m.roleid IS NULL THEN ' (it is an indirect member: revoke the membership that leads to it)' ELSE '' END)
       -- (review rev50a: the fix silently broke a service's cross-tenant work)
       || CASE WHEN b.rolsuper OR NOT pg_has_role(r.oid, b.oid, 'MEMBER') THEN ''
               ELSE format(' If it becomes %s to work across tenants on purpose (a service role: billing, exports, a sync), the fix silently leaves that work the rows of the tenant it sets, or none: first give it tenant_rls.admin_role (the policies'' own exception, for the protected tables: role_tenant_admin, a warning)%s, or have each job set the tenant it works for; or, if bypassing row-level security is what it is for, accept the finding: SELECT tenant_rls.accept_finding(''role_bypassrls'', %L, ''service role'');',
                           quote_ident(b.rolname),
                           -- (review rev50e) as above: NOINHERIT
                           CASE WHEN r.rolinherit THEN ''
                                ELSE format(' and have its jobs SET ROLE to the admin role (%I is NOINHERIT: a NOINHERIT member has the admin role''s privileges, which the policies check, only after SET ROLE)', r.rolname) END,
                           quote_ident(r.rolname)) END,
       CASE WHEN NOT pg_has_role(r.oid, b.oid, 'MEMBER') AND lc.crvia IS NULL THEN format('ALTER ROLE %I NOCREATEROLE;', r.rolname)
            WHEN NOT pg_has_role(r.oid, b.oid, 'MEMBER') THEN NULL
            WHEN m.roleid IS NOT NULL THEN format('REVOKE %I FROM %I;', b.rolname, r.rolname) END, NULL::oid
  FROM pg_roles r
  JOIN logins lc ON lc.oid = r.oid
  -- in PostgreSQL 15 every member may SET ROLE, and a CREATEROLE role (or a
  -- member of one) can GRANT itself any role that is not a superuser
  JOIN pg_roles b ON b.oid <> r.oid AND (b.rolbypassrls OR b.rolsuper)
                 AND (pg_has_role(r.oid, b.oid, 'MEMBER') OR (lc.rolcreaterole AND NOT b.rolsuper))
  LEFT JOIN pg_auth_members m ON m.member = r.oid AND m.roleid = b.oid
 WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
UNION ALL
-- CREATEROLE: in PostgreSQL 15 it grants itself any role that is not a
-- superuser (role_bypassrls and role_owns_tenant_table name what it reaches
-- through that too; the predefined roles and the admin role are named here
-- only, once per role)
SELECT 'role_createrole', 'error', quote_ident(l.rolname), 'role',
       CASE WHEN l.crvia IS NULL THEN format('Login role %s has CREATEROLE.', quote_ident(l.rolname))
            ELSE format('Login role %s can SET ROLE to %s, which has CREATEROLE.', quote_ident(l.rolname),
                        quote_ident(pg_get_userbyid(l.crvia))) END,
       'In PostgreSQL 15 a role with CREATEROLE can grant itself any role that is not a superuser: pg_read_server_files (it reads tenant_rls.signing_key from the configuration and signs tokens for any tenant), pg_write_all_data (an INSERT into tenant_rls.tenant_grant gives its tenant another tenant''s rows), the role tenant_rls.admin_role names (or create that role if it does not exist yet), any BYPASSRLS role and the owners of tenant tables. Keep CREATEROLE for administrators who never log in for tenants, and accept the finding for them.',
       CASE WHEN l.crvia IS NULL THEN format('ALTER ROLE %I NOCREATEROLE;', l.rolname)
            WHEN EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = l.oid AND m.roleid = l.crvia)
            THEN format('REVOKE %I FROM %I;', pg_get_userbyid(l.crvia), l.rolname) END, NULL::oid
  FROM logins l WHERE l.rolcreaterole
UNION ALL
SELECT 'role_superuser_login', 'warning', quote_ident(r.rolname), 'role',
       format('Login role %s is a superuser.', quote_ident(r.rolname)),
       'Superusers bypass row-level security. Keep superuser for the bootstrap administrator; applications and people should log in as ordinary roles.'
       -- (review rev46d: the fix made extension_owner_not_superuser, an
       -- error whose fix is SUPERUSER back)
       || CASE WHEN r.oid = x.extowner
               THEN ' It owns extension tenant_rls, which must stay a superuser''s (extension_owner_not_superuser): make it NOLOGIN (ALTER ROLE ... NOLOGIN) and log in as another role, or move the extension to another superuser by dropping it and creating it again as that one (its tables go with it: dump them first).'
               ELSE '' END,
       CASE WHEN r.oid IS DISTINCT FROM x.extowner THEN format('ALTER ROLE %I NOSUPERUSER;', r.rolname) END, NULL::oid
  FROM pg_roles r
  LEFT JOIN pg_extension x ON x.extname = 'tenant_rls'
 WHERE r.rolcanlogin AND r.rolsuper AND r.oid <> 10
UNION ALL
SELECT 'role_owns_tenant_table',
       CASE WHEN bool_or(pg_has_role(l.oid, t.owner, 'MEMBER')) THEN 'error' ELSE 'warning' END,
       quote_ident(l.rolname), 'role',
       format('Login role %s owns %s tenant table(s)%s.', quote_ident(l.rolname), count(*),
              CASE WHEN bool_or(t.owner = l.oid) THEN ''
                   WHEN bool_or(pg_has_role(l.oid, t.owner, 'MEMBER')) THEN ' through role membership'
                   ELSE ' through CREATEROLE (it can grant itself membership in the owner role)' END),
       format('The owner of a tenant table can undo its isolation with one call that the drift guard does not refuse: tenant_rls.unprotect(), or tenant_rls.grant_access() of another tenant''s rows to its own tenant; it can also attach triggers that see every tenant''s rows. Log in as a role that does not own tenant tables (the owner role NOLOGIN). Tables: %s%s.',
              array_to_string((array_agg(t.qname ORDER BY t.qname))[1:10], ', '),
              CASE WHEN count(*) > 10 THEN format(' and %s more', count(*) - 10) ELSE '' END),
       CASE WHEN NOT bool_or(pg_has_role(l.oid, t.owner, 'MEMBER')) AND l.crvia IS NULL
            THEN format('ALTER ROLE %I NOCREATEROLE;', l.rolname) END, NULL::oid
  FROM logins l
  -- MEMBER, not USAGE: a NOINHERIT member still becomes the owner by SET
  -- ROLE; in PostgreSQL 15 a CREATEROLE role can GRANT itself any role that
  -- is not a superuser
  JOIN owners o ON pg_has_role(l.oid, o.owner, 'MEMBER') OR (l.rolcreaterole AND NOT o.owner_super)
  JOIN ten t ON t.owner = o.owner
 GROUP BY l.oid, l.rolname, l.crvia
UNION ALL
-- a login role that owns (or is a member of the owner of) a schema that
-- holds tenant tables it does not own: a schema's owner drops any table in
-- it, and creates its own copy, which it owns (review rev47f: a database
-- owner, through pg_database_owner on public, was not reported)
SELECT 'role_owns_tenant_table', 'error', quote_ident(l.rolname) || ' SCHEMA ' || quote_ident(n.nspname), 'role',
       format('Login role %s owns schema %s%s, which holds %s tenant table(s) it does not own.', quote_ident(l.rolname),
              quote_ident(n.nspname),
              CASE WHEN n.nspowner = l.oid THEN '' ELSE format(' through %s', quote_ident(pg_get_userbyid(n.nspowner))) END,
              sum(t.n)),
       'The owner of a schema may drop any table in it (DROP TABLE ... CASCADE), every tenant''s rows with it, and create in its place a table of its own, which it owns and so may unprotect. Give the schema to the tables'' owner, or to a role no login role is a member of.',
       -- (to an owner of its tables no login role is a member of, the one
       -- of the most tables: another would make the finding move to it;
       -- none when every owner has login members: review rev48d)
       (SELECT format('ALTER SCHEMA %I OWNER TO %I;', n.nspname, pg_get_userbyid(o.owner))
          FROM (SELECT t2.owner, count(*) AS n FROM ten t2 WHERE t2.schema_name = n.nspname GROUP BY t2.owner) o
         WHERE NOT EXISTS (SELECT 1 FROM logins l2 WHERE pg_has_role(l2.oid, o.owner, 'MEMBER'))
         ORDER BY o.n DESC, o.owner LIMIT 1),
       NULL::oid
  -- (the few pairs of schema and owner, not every table, times the login
  -- roles: review rev48b measured 540 ms for 2,000 tables and 300 logins)
  FROM (SELECT t.schema_name, t.owner, count(*) AS n FROM ten t GROUP BY t.schema_name, t.owner) t
  JOIN pg_namespace n ON n.nspname = t.schema_name
  JOIN logins l ON pg_has_role(l.oid, n.nspowner, 'MEMBER')
 WHERE NOT pg_has_role(l.oid, t.owner, 'MEMBER')
 GROUP BY l.oid, l.rolname, n.oid, n.nspname, n.nspowner
UNION ALL
-- REPLICATION: its own, or of a role it can SET ROLE to (the SQL functions
-- of logical decoding check the current role); an application role (it has
-- privileges on some tenant table) is an error, a dedicated replication role
-- a warning
SELECT 'role_replication',
       CASE WHEN l.oid IN (SELECT a.oid FROM approles a) THEN 'error' ELSE 'warning' END,
       quote_ident(l.rolname), 'role',
       CASE WHEN b.oid = l.oid THEN format('Login role %s has REPLICATION.', quote_ident(l.rolname))
            ELSE format('Login role %s can SET ROLE to %s, which has REPLICATION.', quote_ident(l.rolname), quote_ident(b.rolname)) END,
       'Logical decoding (pg_create_logical_replication_slot(), pg_logical_slot_get_changes()) and pg_basebackup read every tenant''s rows and the audit log without row-level security, and a base backup carries postgresql.conf (tenant_rls.signing_key) and the audit key. Keep REPLICATION for a dedicated role that standbys and backups use and applications never log in as.',
       -- NOREPLICATION ends none of the role's replication connections
       CASE WHEN b.oid = l.oid THEN format('ALTER ROLE %I NOREPLICATION; SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = %L AND backend_type = ''walsender'';', l.rolname, l.rolname)
            WHEN EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = l.oid AND m.roleid = b.oid)
            THEN format('REVOKE %I FROM %I;', b.rolname, l.rolname) END,
       NULL::oid
  FROM logins l
  JOIN pg_roles b ON b.rolreplication AND NOT b.rolsuper AND pg_has_role(l.oid, b.oid, 'MEMBER')
UNION ALL
-- the predefined roles that reach the server's files and programs
SELECT 'role_server_files', 'error', quote_ident(l.rolname), 'role',
       format('Login role %s is a member of %s%s.', quote_ident(l.rolname), b.rolname,
              CASE WHEN m.roleid IS NULL THEN ' (through another role)' ELSE '' END),
       CASE b.rolname
            WHEN 'pg_read_server_files' THEN 'It reads any file the server can: postgresql.conf and postgresql.auto.conf (tenant_rls.signing_key: it forges tenant tokens for any tenant), the audit key (it forges deferred audit entries) and the data files of every table, row-level security or not.'
            WHEN 'pg_write_server_files' THEN 'It writes any file the server can: the configuration (it turns strict mode off or sets a signing key it knows) and the data directory.'
            ELSE 'It runs programs as the operating system user of the server (COPY ... PROGRAM): it reads and changes everything, the keys included.' END,
       CASE WHEN m.roleid IS NOT NULL THEN format('REVOKE %I FROM %I;', b.rolname, l.rolname) END,
       NULL::oid
  FROM logins l
  JOIN pg_roles b ON b.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program')
                 AND pg_has_role(l.oid, b.oid, 'MEMBER')
  LEFT JOIN pg_auth_members m ON m.member = l.oid AND m.roleid = b.oid
UNION ALL
-- privileges (table, column, schema, function) on built-in objects beyond
-- initdb's (pg_init_privs) that read
-- around row-level security (review rev34f): the catalogs and TOAST tables
-- (pg_statistic's sample values, every tenant's wide values), schema
-- pg_toast, the functions that read or import server files (the data files,
-- the configuration with the signing key)
SELECT 'catalog_privilege', 'error', x.obj || ' TO ' || x.who, x.kind,
       format('%s holds %s on %s, which PostgreSQL does not grant.', x.who, x.privs, x.obj),
       CASE x.kind
            WHEN 'function' THEN CASE WHEN x.obj LIKE 'pg_catalog.pg_show_all_file_settings(%'
                                      THEN 'It returns every setting of the configuration files (what pg_file_settings shows), tenant_rls.signing_key included (a token for any tenant).'
                                      ELSE 'It reads any file the server can (or imports it as a large object): every table''s data files, row-level security or not, and postgresql.conf with tenant_rls.signing_key (a token for any tenant).' END
            WHEN 'schema' THEN 'With it a role names the TOAST tables, which hold the wide values of every tenant''s rows without row-level security (with a privilege on them).'
            ELSE 'The catalogs and TOAST tables have no row-level security: pg_statistic holds sample values of every column of every tenant table, a TOAST table the wide values of every tenant''s rows.' END
       -- (review rev46d: a grant made through a grant option stayed, and a
       -- role that had granted on made the REVOKE fail without CASCADE)
       || CASE WHEN x.others IS NOT NULL
               THEN format(' Granted (also) by %s through a grant option: the REVOKE of the owner does not take that grant away; the fix of %s''s own finding (REVOKE ... CASCADE) does.', x.others, x.others)
               ELSE '' END
       || CASE WHEN x.grantable THEN ' It may grant them on (WITH GRANT OPTION): CASCADE takes away what it granted.' ELSE '' END,
       CASE WHEN x.ownprivs IS NOT NULL
            THEN format('REVOKE %s ON %s%s FROM %s%s;', x.ownprivs,
                        CASE x.kind WHEN 'function' THEN 'FUNCTION ' WHEN 'schema' THEN 'SCHEMA ' ELSE '' END, x.obj, x.who,
                        CASE WHEN x.grantable THEN ' CASCADE' ELSE '' END) END,
       NULL::oid
  FROM (SELECT g.obj, g.kind, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(gr.rolname) END AS who,
               string_agg(DISTINCT g.priv, ', ') AS privs,
               -- the owner's grants: a superuser's REVOKE is the owner's
               string_agg(DISTINCT g.priv, ', ') FILTER (WHERE g.grantor = g.owner) AS ownprivs,
               string_agg(DISTINCT quote_ident(pg_get_userbyid(g.grantor)), ', ') FILTER (WHERE g.grantor <> g.owner) AS others,
               bool_or(g.grantable) AS grantable
          FROM (SELECT format('pg_catalog.%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid)) AS obj,
                       'function' AS kind, a.grantee, a.privilege_type AS priv, p.oid AS objoid,
                       'pg_proc'::regclass AS classoid, a.privilege_type AS rawpriv, 0 AS subid,
                       a.grantor, p.proowner AS owner, a.is_grantable AS grantable
                  FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a
                 WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proacl IS NOT NULL
                   AND p.proname IN ('pg_read_file', 'pg_read_binary_file', 'lo_import', 'lo_export',
                                     'pg_show_all_file_settings')
                   AND a.grantee <> p.proowner
                UNION ALL
                SELECT format('%I.%I', n.nspname, c.relname), 'table', a.grantee, a.privilege_type, c.oid,
                       'pg_class'::regclass, a.privilege_type, 0, a.grantor, c.relowner, a.is_grantable
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL aclexplode(c.relacl) a
                 WHERE n.nspname IN ('pg_catalog', 'pg_toast') AND c.relacl IS NOT NULL AND a.grantee <> c.relowner
                UNION ALL
                -- column privileges (GRANT SELECT (stavalues1) ON pg_statistic):
                -- the built-in relations only, which initdb numbers below 16384
                -- (an index range scan; a user table's TOAST table is reached
                -- only through USAGE on schema pg_toast, the branch below)
                SELECT format('%I.%I', n.nspname, c.relname), 'table', a.grantee,
                       format('%s (%I)', a.privilege_type, att.attname), c.oid, 'pg_class'::regclass,
                       a.privilege_type, att.attnum, a.grantor, c.relowner, a.is_grantable
                  FROM pg_attribute att
                  JOIN pg_class c ON c.oid = att.attrelid
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL aclexplode(att.attacl) a
                 WHERE att.attrelid < 16384 AND att.attacl IS NOT NULL
                   AND n.nspname IN ('pg_catalog', 'pg_toast') AND a.grantee <> c.relowner
                UNION ALL
                SELECT 'pg_toast', 'schema', a.grantee, a.privilege_type, n.oid, 'pg_namespace'::regclass,
                       a.privilege_type, 0, a.grantor, n.nspowner, a.is_grantable
                  FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
                 WHERE n.nspname = 'pg_toast' AND n.nspacl IS NOT NULL AND a.grantee <> n.nspowner) g
          LEFT JOIN pg_roles gr ON gr.oid = g.grantee
         WHERE NOT coalesce(gr.rolsuper, false)
           AND NOT EXISTS (SELECT 1 FROM pg_init_privs ip CROSS JOIN LATERAL aclexplode(ip.initprivs) i
                            WHERE ip.objoid = g.objoid AND ip.classoid = g.classoid AND ip.objsubid = g.subid
                              AND i.grantee = g.grantee AND i.privilege_type = g.rawpriv)
         GROUP BY g.obj, g.kind, g.grantee, gr.rolname) x
UNION ALL
-- application roles with the privileges of pg_read_all_stats (pg_monitor
-- has them): pg_stat_activity shows them every role's statements, values
-- and all (review rev32b); a monitoring role that reads no tenant table is
-- not reported
SELECT 'role_reads_all_stats', 'error', quote_ident(l.rolname), 'role',
       format('Application role %s is a member of pg_read_all_stats%s.', quote_ident(l.rolname),
              CASE WHEN EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = l.oid AND m.roleid = b.oid) THEN ''
                   WHEN EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                 WHERE m.member = l.oid AND g.rolname = 'pg_monitor') THEN ' (through pg_monitor)'
                   ELSE ' (through another role)' END),
       'pg_stat_activity shows it the text of every other session''s current or last statement, with the values written in it (the rows other tenants insert, the values they look up): one login role per tenant no longer keeps tenants apart. Give monitoring to a role that reads no tenant table, or, for the tenant roles, ALTER ROLE ... SET tenant_rls.mask_activity_values = on and track_activities = off (doc/context_security.md).',
       (SELECT format('REVOKE %s FROM %I;', string_agg(quote_ident(g.rolname), ', ' ORDER BY g.rolname), l.rolname)
          FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
         WHERE m.member = l.oid AND g.rolname IN ('pg_read_all_stats', 'pg_monitor')
        HAVING count(*) > 0
           -- (no fix when another membership leads there as well)
           AND NOT EXISTS (SELECT 1 FROM pg_auth_members m2 JOIN pg_roles g2 ON g2.oid = m2.roleid
                            WHERE m2.member = l.oid AND g2.rolname NOT IN ('pg_read_all_stats', 'pg_monitor')
                              AND pg_has_role(g2.oid, b.oid, 'MEMBER'))),
       NULL::oid
  FROM logins l
  JOIN approles a ON a.oid = l.oid
  JOIN pg_roles b ON b.rolname = 'pg_read_all_stats' AND pg_has_role(l.oid, b.oid, 'MEMBER')
UNION ALL
-- members of pg_read_all_data / pg_write_all_data: they do not bypass
-- row-level security, but the extension's own tables (tenant_grant, the
-- registry, accepted_finding, the audit log's partitions) have none.  One
-- finding per login role; the fix revokes the direct memberships.  A role
-- that also has BYPASSRLS and only reads is the documented dump role
-- (doc/operations.md): a warning, role_bypassrls reports it anyway.
SELECT 'role_all_data',
       CASE WHEN x.rolbypassrls AND NOT x.writes THEN 'warning' ELSE 'error' END,
       quote_ident(x.rolname), 'role',
       format('Login role %s is a member of %s%s.', quote_ident(x.rolname), array_to_string(x.roles, ' and '),
              CASE WHEN x.indirect THEN ' (through another role)' ELSE '' END),
       CASE WHEN x.writes
            THEN 'pg_write_all_data gives INSERT, UPDATE and DELETE on every table, the extension''s included, which have no row-level security: an INSERT into tenant_rls.tenant_grant gives its tenant another tenant''s rows, and the registry and tenant_rls.accepted_finding decide what is protected and reported. '
            ELSE '' END
       || CASE WHEN x.reads
               THEN 'pg_read_all_data gives SELECT on every table: the partitions of the audit log (tenant_rls.audit_batch_*) have no row-level security and hold every tenant''s changes, old and new row data included. '
               ELSE '' END
       || 'Grant such roles to nobody who logs in for tenants; a dump role reads as a superuser or with BYPASSRLS.'
       || CASE WHEN x.indirect THEN ' Revoke the membership that leads to it.' ELSE '' END,
       CASE WHEN x.direct IS NOT NULL THEN format('REVOKE %s FROM %I;', x.direct, x.rolname) END,
       NULL::oid
  FROM (SELECT l.rolname, r.rolbypassrls,
               array_agg(b.rolname::text ORDER BY b.rolname) AS roles,
               bool_or(b.rolname = 'pg_read_all_data') AS reads,
               bool_or(b.rolname = 'pg_write_all_data') AS writes,
               bool_or(m.roleid IS NULL) AS indirect,
               string_agg(b.rolname::text, ', ' ORDER BY b.rolname) FILTER (WHERE m.roleid IS NOT NULL) AS direct
          FROM logins l
          JOIN pg_roles r ON r.oid = l.oid
          JOIN pg_roles b ON b.rolname IN ('pg_read_all_data', 'pg_write_all_data')
                         AND pg_has_role(l.oid, b.oid, 'MEMBER')
          LEFT JOIN pg_auth_members m ON m.member = l.oid AND m.roleid = b.oid
         GROUP BY l.oid, l.rolname, r.rolbypassrls) x
UNION ALL
-- SET or ALTER SYSTEM granted on a key setting (pg_parameter_acl), to any
-- role that is not a superuser (members inherit it): ALTER SYSTEM writes a
-- key the grantee knows, trusted after the next reload (a key it sets with
-- SET is refused, but it may still choose one)
SELECT 'key_setting_privilege', 'error', k.who, 'role',
       format('%s may set the tenant_rls signing key: %s.', k.who, string_agg(k.what, ', ' ORDER BY k.parname)),
       'With ALTER SYSTEM it writes a key of its choice into postgresql.auto.conf; the next reload (any reload) puts that key in force, and it signs tokens for any tenant in every database. Only superusers should set the key.',
       string_agg(k.fix, ' ' ORDER BY k.parname),
       NULL::oid
  FROM pargrants k
 WHERE k.is_key
 GROUP BY k.who
UNION ALL
-- SET or ALTER SYSTEM granted on the other settings tenant_rls relies on:
-- the admin role, strict mode, the drift guard, replica mode, the tenant
-- (ALTER SYSTEM only), the libraries preloaded (errors), the other
-- tenant_rls settings (warnings)
SELECT 'setting_privilege',
       CASE WHEN bool_or(k.parname IN ('tenant_rls.admin_role', 'tenant_rls.strict', 'tenant_rls.drift_action',
                                       'session_replication_role', 'app.current_tenant_id',
                                       'shared_preload_libraries', 'session_preload_libraries'))
            THEN 'error' ELSE 'warning' END,
       k.who, 'role',
       format('%s may change settings tenant_rls relies on: %s.', k.who, string_agg(k.what, ', ' ORDER BY k.parname)),
       'With SET it changes them for its own sessions, with ALTER SYSTEM for every session after the next reload: tenant_rls.admin_role names a role whose members read and change every tenant''s rows, tenant_rls.strict = off lets a session set any tenant, tenant_rls.drift_action = warning lets DDL switch isolation off, session_replication_role = replica silences the audit triggers and the event triggers, app.current_tenant_id written with ALTER SYSTEM puts every session of every database in the tenant it chose (strict mode trusts the configuration files), and shared_preload_libraries or session_preload_libraries without tenant_rls turn strict mode off after the next restart. Only superusers should change them.',
       string_agg(k.fix, ' ' ORDER BY k.parname),
       NULL::oid
  FROM pargrants k
 WHERE NOT k.is_key
 GROUP BY k.who
UNION ALL
-- the admin override: login roles that have the privileges of the role
-- tenant_rls.admin_role names, where it is named (this session; stored for
-- a role, this database or all; the configuration files)
SELECT 'role_tenant_admin', 'warning', quote_ident(l.rolname), 'role',
       format('Login role %s can act as %s, the tenant_rls admin role (%s).', quote_ident(l.rolname),
              quote_ident(ar.rolname), string_agg(DISTINCT a.place, '; ')),
       'Policies let the admin role read and change every tenant''s rows of protected tables, and strict mode lets it set any tenant: an explicit exception, as strong as BYPASSRLS for tenant tables. Keep it for the people who need it (accept this finding for them), never for an application role.',
       CASE WHEN bool_or(a.setrole = l.oid AND ar.oid = l.oid)
            THEN min(a.stmt) FILTER (WHERE a.setrole = l.oid AND ar.oid = l.oid) || ' RESET tenant_rls.admin_role;'
            WHEN bool_or(m.roleid IS NOT NULL) THEN format('REVOKE %I FROM %I;', ar.rolname, l.rolname) END,
       NULL::oid
  FROM (SELECT nullif(current_setting('tenant_rls.admin_role', true), '') AS role, 0::oid AS setrole,
               'tenant_rls.admin_role of this session' AS place, NULL::text AS stmt
        UNION ALL
        SELECT btrim(substr(r.c, strpos(r.c, '=') + 1), ' ''"'), r.setrole, r.stmt || ' SET ' || r.c, r.stmt
          FROM roledef r
         WHERE r.name = 'tenant_rls.admin_role'
           AND (r.setdatabase = 0
                OR r.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
        UNION ALL
        SELECT fd.setting, 0::oid, fd.place, NULL FROM filedef fd WHERE fd.name = 'tenant_rls.admin_role') a
  JOIN pg_roles ar ON ar.rolname = a.role
  JOIN logins l ON (a.setrole = 0 OR a.setrole = l.oid) AND pg_has_role(l.oid, ar.oid, 'MEMBER')
  LEFT JOIN pg_auth_members m ON m.member = l.oid AND m.roleid = ar.oid
 GROUP BY l.oid, l.rolname, ar.oid, ar.rolname
UNION ALL
SELECT 'tenant_table_privilege',
       CASE WHEN 'TRUNCATE' = ANY (x.privs) OR 'TRIGGER' = ANY (x.privs) THEN 'error' ELSE 'warning' END,
       format('%s TO %s', x.qname, x.grantee), 'privilege',
       format('%s holds %s on tenant table %s.', x.grantee, array_to_string(x.privs, ', '), x.qname),
       'TRUNCATE empties the table for every tenant (row-level security does not apply to it); TRIGGER lets the role attach a trigger that sees every tenant''s new rows; REFERENCES lets it probe other tenants'' keys with a foreign key.'
       || CASE WHEN x.others IS NOT NULL
               THEN format(' Granted (also) by %s through a grant option: the REVOKE of the owner does not take that grant away; the fix of %s''s own finding (REVOKE ... CASCADE) does.', x.others, x.others)
               ELSE '' END
       || CASE WHEN x.grantable THEN ' It may grant them on (WITH GRANT OPTION): CASCADE takes away what it granted.' ELSE '' END,
       x.fix, x.relid
  FROM (SELECT g.relid, g.qname, g.grantee,
               -- the privileges, whoever granted them
               (SELECT array_agg(DISTINCT p ORDER BY p) FROM unnest(array_agg(g.privs_text)) u(t),
                       unnest(string_to_array(u.t, ', ')) p) AS privs,
               bool_or(g.grantable) AS grantable,
               string_agg(g.grantor_name, ', ' ORDER BY g.grantor_name) FILTER (WHERE g.grantor <> g.owner) AS others,
               -- the owner's grants (PostgreSQL 15 revokes only the current
               -- user's; a grant made through a grant option goes with the
               -- CASCADE of its grantor's finding); CASCADE when the role
               -- may grant them on
               string_agg(format('REVOKE %s ON %s FROM %s%s;', g.privs_text, g.qname, g.grantee,
                                 CASE WHEN g.grantable THEN ' CASCADE' ELSE '' END), ' ')
                   FILTER (WHERE g.grantor = g.owner) AS fix
          FROM (SELECT a.relid, a.qname, a.owner, a.grantor, quote_ident(pg_get_userbyid(a.grantor)) AS grantor_name,
                       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
                       array_to_string(array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type), ', ') AS privs_text,
                       bool_or(a.is_grantable) AS grantable
                  -- table privileges, and REFERENCES granted on columns (enough
                  -- for a foreign key on them; REVOKE on the table revokes both)
                  FROM (SELECT t.relid, t.qname, t.owner, e.grantor, e.grantee, e.privilege_type, e.is_grantable
                          FROM ten t CROSS JOIN LATERAL aclexplode(t.relacl) e
                        UNION ALL
                        SELECT t.relid, t.qname, t.owner, e.grantor, e.grantee, e.privilege_type, e.is_grantable
                          FROM colacl c JOIN ten t ON t.relid = c.attrelid
                         CROSS JOIN LATERAL aclexplode(c.attacl) e) a
                  LEFT JOIN pg_roles gr ON gr.oid = a.grantee
                 WHERE a.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER')
                   AND a.grantee <> a.owner AND NOT coalesce(gr.rolsuper, false)
                 GROUP BY a.relid, a.qname, a.owner, a.grantor, a.grantee) g
         GROUP BY g.relid, g.qname, g.grantee) x
UNION ALL
-- the same privileges in default privileges (ALTER DEFAULT PRIVILEGES ...
-- ON TABLES) of a role that may create tables in a managed schema, for that
-- schema or for every schema: each tenant table the role creates starts with
-- the grant, and protect() does not revoke it
SELECT 'tenant_table_privilege',
       CASE WHEN 'TRUNCATE' = ANY (x.privs) OR 'TRIGGER' = ANY (x.privs) THEN 'error' ELSE 'warning' END,
       format('DEFAULT PRIVILEGES FOR ROLE %s%s TO %s', x.creator, coalesce(' IN SCHEMA ' || x.nsp, ''), x.grantee),
       'default privilege',
       format('Default privileges give %s %s on the tables %s creates %s.', x.grantee, array_to_string(x.privs, ', '),
              x.creator, coalesce('in schema ' || x.nsp, 'in any schema')),
       'Each table the role creates there starts with these privileges, tenant tables included, and protect() does not revoke them: TRUNCATE empties the table for every tenant (row-level security does not apply to it); TRIGGER lets the grantee attach a trigger that sees every tenant''s new rows; REFERENCES lets it probe other tenants'' keys with a foreign key. Revoke them from the tables that have them as well (their findings).',
       format('ALTER DEFAULT PRIVILEGES FOR ROLE %s%s REVOKE %s ON TABLES FROM %s;', x.creator,
              coalesce(' IN SCHEMA ' || x.nsp, ''), array_to_string(x.privs, ', '), x.grantee),
       NULL::oid
  FROM (SELECT quote_ident(pg_get_userbyid(d.defaclrole)) AS creator,
               (SELECT quote_ident(n.nspname) FROM pg_namespace n WHERE n.oid = d.defaclnamespace) AS nsp,
               CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END AS grantee,
               array_agg(DISTINCT e.privilege_type ORDER BY e.privilege_type) AS privs
          FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) e
          LEFT JOIN pg_roles gr ON gr.oid = e.grantee
         WHERE d.defaclobjtype = 'r'
           AND e.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER')
           AND e.grantee <> d.defaclrole AND NOT coalesce(gr.rolsuper, false)
           -- a managed schema (existing) the role may create tables in: this
           -- one, or any of them for an entry of every schema
           AND EXISTS (SELECT 1 FROM cfg CROSS JOIN LATERAL unnest(cfg.managed_schemas) m(name)
                         JOIN pg_namespace n ON n.nspname = m.name
                        WHERE (d.defaclnamespace = 0 OR n.oid = d.defaclnamespace)
                          AND has_schema_privilege(d.defaclrole, n.oid, 'CREATE'))
         GROUP BY d.defaclrole, d.defaclnamespace, e.grantee) x
UNION ALL
-- tenant_sequence_privilege (review rev49c): UPDATE on a sequence a tenant
-- table uses (owned by one of its columns: serial, identity; or named in a
-- column default's nextval()) held by a role other than the owner (not a
-- superuser) or PUBLIC: setval() moves it for every tenant.  The sequences
-- with such a grant first (few: one pass over pg_class), then the tables
-- that use them (pg_depend, by hash against those few)
SELECT 'tenant_sequence_privilege', 'warning',
       format('%s TO %s', x.sname, x.grantee), 'privilege',
       format('%s holds UPDATE on sequence %s of tenant table %s.', x.grantee, x.sname, x.tables),
       'setval() sets the sequence for every tenant: set back, the INSERTs of every other tenant fail with unique violations until someone repairs it, and setval() followed by an INSERT tells a tenant whether a row of another tenant has a given key. nextval() needs only USAGE (an identity column needs no privilege on its sequence).'
       || CASE WHEN x.others IS NOT NULL
               THEN format(' Granted (also) by %s through a grant option: the REVOKE of the owner does not take that grant away; the fix of %s''s own finding (REVOKE ... CASCADE) does.', x.others, x.others)
               ELSE '' END
       || CASE WHEN x.grantable THEN ' It may grant it on (WITH GRANT OPTION): CASCADE takes away what it granted (the fix first gives USAGE to the roles holding UPDATE from a grantor other than the owner without USAGE, so that their INSERTs still get ids).' ELSE '' END
       || CASE WHEN x.needs_usage THEN ' The role has no USAGE on it: the fix grants USAGE first, so that its INSERTs still get ids.' ELSE '' END,
       CASE WHEN x.fix IS NOT NULL
            THEN CASE WHEN x.needs_usage THEN format('GRANT USAGE ON SEQUENCE %s TO %s; ', x.sname, x.grantee) ELSE '' END
                 -- (review rev49g) REVOKE ... CASCADE also takes UPDATE from
                 -- the roles this one granted it to: USAGE for them first
                 -- where they have none, or their INSERTs lose their ids
                 || CASE WHEN x.grantable AND x.by_default AND x.dependents IS NOT NULL
                         THEN format('GRANT USAGE ON SEQUENCE %s TO %s; ', x.sname, x.dependents) ELSE '' END
                 || x.fix END,
       x.relid
  FROM (SELECT g.seq, g.sname, g.grantee, min(st.relid) AS relid,
               string_agg(DISTINCT st.qname, ', ') AS tables,
               bool_or(g.grantable) AS grantable,
               string_agg(DISTINCT g.grantor_name, ', ') FILTER (WHERE g.grantor <> g.owner) AS others,
               min(g.fix) AS fix,
               -- a column default calls nextval(): USAGE (or UPDATE) needed
               bool_or(st.by_default) AND NOT bool_or(g.has_usage) AS needs_usage,
               bool_or(st.by_default) AS by_default,
               -- the roles holding UPDATE from a grantor other than the
               -- owner, without USAGE (those a CASCADE may reach)
               -- (review rev50e: only where the fix uses them; a scan of
               -- seqpriv for every finding took 30 s for 400 tables whose
               -- sequences 29 roles hold)
               CASE WHEN bool_or(g.grantable) AND bool_or(st.by_default)
                    THEN (SELECT string_agg(DISTINCT q.grantee, ', ') FROM seqpriv q
                           WHERE q.seq = g.seq AND q.grantor <> q.owner AND NOT q.has_usage
                             AND q.grantee <> g.grantee) END AS dependents
          FROM (SELECT q.seq, q.sname, q.owner, q.grantor, quote_ident(pg_get_userbyid(q.grantor)) AS grantor_name,
                       q.grantee, q.grantable, q.has_usage, q.grantee_oid, q.bypass,
                       CASE WHEN q.grantor = q.owner
                            THEN format('REVOKE UPDATE ON SEQUENCE %s FROM %s%s;', q.sname, q.grantee,
                                        CASE WHEN q.grantable THEN ' CASCADE' ELSE '' END) END AS fix
                  FROM seqpriv q) g
          JOIN (SELECT d.objid AS seq, t.qname, t.relid, t.owner, false AS by_default
                  FROM pg_depend d JOIN ten t ON t.relid = d.refobjid
                 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                   AND d.deptype IN ('a', 'i') AND d.objid IN (SELECT q.seq FROM seqpriv q)
                UNION ALL
                -- a column default's nextval() (also in text, review rev50a)
                -- and (review rev50e) the DEFAULT nextval() of the domain of
                -- a column that has no default of its own (an INSERT uses
                -- it): tseq
                SELECT s.seq, s.qname, s.relid, s.owner, true
                  FROM tseq s
                 WHERE s.seq IN (SELECT q.seq FROM seqpriv q)) st ON st.seq = g.seq
         -- (review rev50a) not a grantee that may change the table anyway:
         -- the table's owner or a role with its privileges (it may ALTER,
         -- TRUNCATE or drop it), nor a BYPASSRLS role no member of which
         -- inherits the grant without bypassing row-level security too
         -- (Supabase's service_role: one finding per sequence), as for
         -- the readers of trigger_writes_unprotected_table
         -- (a CASE: no pg_has_role() of PUBLIC)
         -- (review rev50e) but one that granted it on (WITH GRANT OPTION)
         -- is reported: its REVOKE ... CASCADE is the fix that the finding
         -- of the role it granted it to names
         WHERE CASE WHEN g.grantee_oid = 0 THEN true
                    -- (uncorrelated: one hash, not a scan of seqpriv a row)
                    WHEN (g.seq, g.grantee_oid) IN (SELECT q2.seq, q2.grantor FROM seqpriv q2) THEN true
                    ELSE NOT ((g.bypass AND g.grantee_oid NOT IN (SELECT n.r FROM nbinherit n))
                              OR pg_has_role(g.grantee_oid, st.owner, 'MEMBER')) END
         GROUP BY g.seq, g.sname, g.grantee) x
UNION ALL
-- ... and in default privileges (ALTER DEFAULT PRIVILEGES ... ON SEQUENCES)
-- of a role that may create tables in a managed schema, as for
-- tenant_table_privilege: each serial or identity column of a tenant table
-- it creates there gets a sequence with the grant
SELECT 'tenant_sequence_privilege', 'warning',
       format('DEFAULT PRIVILEGES FOR ROLE %s%s TO %s', x.creator, coalesce(' IN SCHEMA ' || x.nsp, ''), x.grantee),
       'default privilege',
       format('Default privileges give %s UPDATE on the sequences %s creates %s.', x.grantee,
              x.creator, coalesce('in schema ' || x.nsp, 'in any schema')),
       'Each sequence the role creates there starts with UPDATE for it, those of the serial and identity columns of tenant tables included: setval() sets such a sequence for every tenant, so one tenant makes the INSERTs of every other fail with unique violations, and uses setval() and an INSERT to learn whether another tenant''s row has a given key. nextval() needs only USAGE. Revoke it from the sequences that have it as well (their findings).'
       || CASE WHEN NOT x.has_usage THEN ' They give it no USAGE: the fix gives USAGE first, so that the INSERTs of the role still get ids.' ELSE '' END,
       CASE WHEN NOT x.has_usage
            THEN format('ALTER DEFAULT PRIVILEGES FOR ROLE %s%s GRANT USAGE ON SEQUENCES TO %s; ', x.creator,
                        coalesce(' IN SCHEMA ' || x.nsp, ''), x.grantee) ELSE '' END
       || format('ALTER DEFAULT PRIVILEGES FOR ROLE %s%s REVOKE UPDATE ON SEQUENCES FROM %s;', x.creator,
                 coalesce(' IN SCHEMA ' || x.nsp, ''), x.grantee),
       NULL::oid
  FROM (SELECT quote_ident(pg_get_userbyid(d.defaclrole)) AS creator,
               (SELECT quote_ident(n.nspname) FROM pg_namespace n WHERE n.oid = d.defaclnamespace) AS nsp,
               CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END AS grantee,
               bool_or(e.privilege_type = 'USAGE') AS has_usage
          FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) e
          LEFT JOIN pg_roles gr ON gr.oid = e.grantee
         WHERE d.defaclobjtype = 'S'
           AND e.privilege_type IN ('UPDATE', 'USAGE')
           AND e.grantee <> d.defaclrole AND NOT coalesce(gr.rolsuper, false)
           -- (review rev50a) as for the sequences: not a role with the
           -- privileges of the creator (who owns what it creates), nor a
           -- BYPASSRLS role no member of which inherits the grant
           AND CASE WHEN e.grantee = 0 THEN true
                    ELSE NOT ((gr.rolbypassrls AND e.grantee NOT IN (SELECT n.r FROM nbinherit n))
                              OR pg_has_role(e.grantee, d.defaclrole, 'MEMBER')) END
           AND EXISTS (SELECT 1 FROM cfg CROSS JOIN LATERAL unnest(cfg.managed_schemas) m(name)
                         JOIN pg_namespace n ON n.nspname = m.name
                        WHERE (d.defaclnamespace = 0 OR n.oid = d.defaclnamespace)
                          AND has_schema_privilege(d.defaclrole, n.oid, 'CREATE'))
         GROUP BY d.defaclrole, d.defaclnamespace, e.grantee
        HAVING bool_or(e.privilege_type = 'UPDATE')) x
UNION ALL
SELECT 'foreign_key_without_tenant', 'error', format('%I ON %s', co.conname, s.qname), 'constraint',
       format('Foreign key %I from %s to %s does not pair the tenant columns.', co.conname, s.qname, d.qname),
       format('A row of %s may reference a row of another tenant in %s, and ON DELETE/UPDATE actions then change that tenant''s rows. Reference (%I, ...) with a unique key (%I, ...) on the target.',
              s.qname, d.qname, s.tenant_column, d.tenant_column),
       NULL, s.relid
  FROM pg_constraint co
  JOIN ten s ON s.relid = co.conrelid
  JOIN ten d ON d.relid = co.confrelid
 WHERE co.contype = 'f' AND co.conparentid = 0
   AND s.tenant_attnum IS NOT NULL AND d.tenant_attnum IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM generate_subscripts(co.conkey, 1) k
                    WHERE co.conkey[k] = s.tenant_attnum AND co.confkey[k] = d.tenant_attnum)
UNION ALL
-- a foreign key between tenant tables that pairs the tenant columns, but
-- whose ON DELETE / ON UPDATE SET NULL or SET DEFAULT sets the tenant column
-- too (no column list, or one that names it; ON UPDATE always sets every
-- column): the action ignores row-level security, so another tenant's
-- delete moves the rows out of their tenant -- to no tenant (readable by
-- all with global rows) or, SET DEFAULT, into the deleting session's tenant
SELECT 'foreign_key_resets_tenant',
       CASE WHEN x.sets_default OR NOT s.tenant_notnull THEN 'error' ELSE 'warning' END,
       format('%I ON %s', co.conname, s.qname), 'constraint',
       format('Foreign key %I from %s to %s sets the tenant column %I with %s.', co.conname, s.qname, d.qname,
              s.tenant_column, x.actions),
       CASE WHEN x.sets_default
            THEN 'SET DEFAULT puts the default of the tenant column, the tenant of the session that deletes or updates the referenced row, into rows of another tenant: with a cross-tenant write grant one tenant moves another''s rows into its own; the action ignores row-level security. '
            WHEN NOT s.tenant_notnull
            THEN 'SET NULL takes the rows out of their tenant: they belong to nobody, and with global rows (allow_global_rows()) every tenant reads them; the action ignores row-level security. '
            ELSE 'SET NULL on the tenant column fails (it is NOT NULL): deleting or updating a referenced row raises an error instead of detaching the referencing rows. ' END
       || 'Name the columns to set, without the tenant column: ON DELETE SET NULL (customer_id) (PostgreSQL 15); an ON UPDATE action, or a MATCH FULL key, cannot name columns: use NO ACTION or RESTRICT (CASCADE carries a new tenant into the rows: foreign_key_cascades_tenant).',
       -- (none for MATCH FULL: a column list of SET NULL mixes null and
       -- non-null key values, which it refuses on every delete)
       CASE WHEN co.confupdtype NOT IN ('n', 'd') AND x.others IS NOT NULL AND co.confmatchtype <> 'f'
            -- the definition built from the catalog, every name quoted
            -- (an edit of pg_get_constraintdef()'s text matched inside a
            -- quoted column name and let it end the identifier: review
            -- rev24b)
            THEN format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES %I.%I(%s)%s ON DELETE SET %s (%s)%s%s;',
                        s.qname, co.conname, co.conname, x.cols, rn.nspname, rc.relname, x.refcols,
                        -- (ON UPDATE CASCADE becomes NO ACTION: review rev47c)
                        CASE co.confupdtype WHEN 'r' THEN ' ON UPDATE RESTRICT' ELSE '' END,
                        CASE co.confdeltype WHEN 'd' THEN 'DEFAULT' ELSE 'NULL' END, x.others,
                        CASE WHEN co.condeferrable THEN ' DEFERRABLE' ELSE '' END
                        || CASE WHEN co.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END,
                        CASE WHEN co.convalidated THEN '' ELSE ' NOT VALID' END) END,
       s.relid
  FROM pg_constraint co
  JOIN ten s ON s.relid = co.conrelid
  JOIN ten d ON d.relid = co.confrelid
  JOIN pg_class rc ON rc.oid = co.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  CROSS JOIN LATERAL (
      SELECT concat_ws(' and ',
                       CASE co.confdeltype WHEN 'n' THEN 'ON DELETE SET NULL' WHEN 'd' THEN 'ON DELETE SET DEFAULT' END,
                       CASE co.confupdtype WHEN 'n' THEN 'ON UPDATE SET NULL' WHEN 'd' THEN 'ON UPDATE SET DEFAULT' END) AS actions,
             'd' IN (co.confdeltype, co.confupdtype) AS sets_default,
             tenant_rls._column_list(co.conrelid, co.conkey, s.tenant_attnum) AS others,
             tenant_rls._column_list(co.conrelid, co.conkey) AS cols,
             tenant_rls._column_list(co.confrelid, co.confkey) AS refcols) x
 WHERE co.contype = 'f' AND co.conparentid = 0
   AND s.tenant_attnum IS NOT NULL AND d.tenant_attnum IS NOT NULL
   AND EXISTS (SELECT 1 FROM generate_subscripts(co.conkey, 1) k
                WHERE co.conkey[k] = s.tenant_attnum AND co.confkey[k] = d.tenant_attnum)
   AND ((co.confdeltype IN ('n', 'd')
         AND (coalesce(cardinality(co.confdelsetcols), 0) = 0 OR s.tenant_attnum = ANY (co.confdelsetcols)))
        OR co.confupdtype IN ('n', 'd'))
UNION ALL
-- a foreign key between tenant tables that pairs the tenant columns with ON
-- UPDATE CASCADE (review rev47c): the action ignores row-level security and
-- copies a referenced row's new tenant into the referencing rows, so a
-- 'write' grantee on the referenced table that takes a granted row over
-- (which the policies allow) takes the owner tenant's referencing rows, in a
-- table it holds no grant on, with it.  The fix keeps everything else of the
-- key; one that foreign_key_resets_tenant reports gets its fix there.
SELECT 'foreign_key_cascades_tenant', 'error', format('%I ON %s', co.conname, s.qname), 'constraint',
       format('Foreign key %I from %s to %s carries a change of the tenant column %I with ON UPDATE CASCADE.',
              co.conname, s.qname, d.qname, s.tenant_column),
       format('The action ignores row-level security: a tenant holding a ''write'' grant on %s (grant_access(), which a tenant may give), whose UPDATE may set a granted row''s tenant to its own, moves the rows of %s that reference that row, on which it holds no grant, into its own tenant with it. Use ON UPDATE NO ACTION or RESTRICT (an application that changes the other key columns of a referenced row then updates the referencing rows itself, in the same transaction with the key DEFERRABLE INITIALLY DEFERRED).',
              d.qname, s.qname),
       format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES %I.%I(%s)%s%s%s%s;',
              s.qname, co.conname, co.conname, x.cols, rn.nspname, rc.relname, x.refcols,
              CASE WHEN co.confmatchtype = 'f' THEN ' MATCH FULL' ELSE '' END,
              CASE co.confdeltype WHEN 'r' THEN ' ON DELETE RESTRICT' WHEN 'c' THEN ' ON DELETE CASCADE'
                                  WHEN 'n' THEN ' ON DELETE SET NULL' || x.setcols
                                  WHEN 'd' THEN ' ON DELETE SET DEFAULT' || x.setcols ELSE '' END,
              CASE WHEN co.condeferrable THEN ' DEFERRABLE' ELSE '' END
              || CASE WHEN co.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END,
              CASE WHEN co.convalidated THEN '' ELSE ' NOT VALID' END),
       s.relid
  FROM pg_constraint co
  JOIN ten s ON s.relid = co.conrelid
  JOIN ten d ON d.relid = co.confrelid
  JOIN pg_class rc ON rc.oid = co.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  CROSS JOIN LATERAL (
      SELECT tenant_rls._column_list(co.conrelid, co.conkey) AS cols,
             tenant_rls._column_list(co.confrelid, co.confkey) AS refcols,
             coalesce(' (' || tenant_rls._column_list(co.conrelid, co.confdelsetcols) || ')', '') AS setcols) x
 WHERE co.contype = 'f' AND co.conparentid = 0 AND co.confupdtype = 'c'
   AND s.tenant_attnum IS NOT NULL AND d.tenant_attnum IS NOT NULL
   AND EXISTS (SELECT 1 FROM generate_subscripts(co.conkey, 1) k
                WHERE co.conkey[k] = s.tenant_attnum AND co.confkey[k] = d.tenant_attnum)
   -- (a key foreign_key_resets_tenant reports with a fix: that fix drops the
   -- CASCADE too; one it gives none, MATCH FULL or the tenant column alone,
   -- is reported here: review rev47e)
   AND NOT (co.confdeltype IN ('n', 'd')
            AND (coalesce(cardinality(co.confdelsetcols), 0) = 0 OR s.tenant_attnum = ANY (co.confdelsetcols))
            AND co.confmatchtype <> 'f' AND cardinality(co.conkey) > 1)
UNION ALL
-- a foreign key into a tenant table from a table that is not one (no tenant
-- column, marked global, or outside the managed schemas and the registry)
SELECT 'foreign_key_without_tenant', 'error', format('%I ON %I.%I', co.conname, n.nspname, c.relname), 'constraint',
       format('Foreign key %I from %I.%I, which is not a tenant table, references tenant table %s.',
              co.conname, n.nspname, c.relname, d.qname),
       format('The foreign key check ignores row-level security: a row of %I.%I may reference any tenant''s row of %s, so inserting one tells whether a key exists in another tenant, and ON DELETE/UPDATE actions of one tenant change rows that other tenants reference. Give the table the tenant column and reference (%I, ...) with a unique key on the target, or drop the foreign key.',
              n.nspname, c.relname, d.qname, d.tenant_column),
       NULL, co.conrelid
  FROM pg_constraint co
  JOIN ten d ON d.relid = co.confrelid
  JOIN pg_class c ON c.oid = co.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN ten s ON s.relid = co.conrelid
  LEFT JOIN extrels e ON e.objid = co.conrelid
 WHERE co.contype = 'f' AND co.conparentid = 0 AND d.tenant_attnum IS NOT NULL
   AND s.relid IS NULL AND e.objid IS NULL
UNION ALL
-- a foreign key from a tenant table to a table that is not one (a global
-- table such as plans) whose ON UPDATE / ON DELETE action changes the
-- referencing rows: the action ignores row-level security, so whoever may
-- update or delete a row of the referenced table changes or deletes the rows
-- of every tenant that reference it (error when a role other than the owner
-- may; warning otherwise).  Not reported: the tenant column alone
-- referencing a registry of tenants ON DELETE CASCADE (without an ON UPDATE
-- action) that only its owner may change -- deleting a tenant off-boards
-- that tenant's rows only.
SELECT 'foreign_key_without_tenant',
       CASE WHEN w.writable THEN 'error' ELSE 'warning' END,
       format('%I ON %s', co.conname, s.qname), 'constraint',
       format('Foreign key %I from tenant table %s to %I.%I, which is not a tenant table, has %s.',
              co.conname, s.qname, n.nspname, c.relname,
              concat_ws(' and ',
                        CASE co.confupdtype WHEN 'c' THEN 'ON UPDATE CASCADE' WHEN 'n' THEN 'ON UPDATE SET NULL'
                                            WHEN 'd' THEN 'ON UPDATE SET DEFAULT' END,
                        CASE co.confdeltype WHEN 'c' THEN 'ON DELETE CASCADE' WHEN 'n' THEN 'ON DELETE SET NULL'
                                            WHEN 'd' THEN 'ON DELETE SET DEFAULT' END)),
       format('The action ignores row-level security: whoever may update or delete a row of %I.%I changes or deletes the rows of every tenant of %s that reference it. Use ON UPDATE / ON DELETE NO ACTION (or RESTRICT), and let application roles only read %I.%I.',
              n.nspname, c.relname, s.qname, n.nspname, c.relname),
       NULL, s.relid
  FROM pg_constraint co
  JOIN ten s ON s.relid = co.conrelid
  JOIN pg_class c ON c.oid = co.confrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN ten d ON d.relid = co.confrelid
  CROSS JOIN LATERAL (
      SELECT EXISTS (SELECT 1 FROM aclexplode(c.relacl) e LEFT JOIN pg_roles gr ON gr.oid = e.grantee
                      WHERE e.privilege_type IN ('UPDATE', 'DELETE') AND e.grantee <> c.relowner
                        AND NOT coalesce(gr.rolsuper, false))
          OR EXISTS (SELECT 1 FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) e
                       LEFT JOIN pg_roles gr ON gr.oid = e.grantee
                      WHERE a.attrelid = c.oid AND a.attnum = ANY (co.confkey) AND a.attacl IS NOT NULL
                        AND e.privilege_type = 'UPDATE' AND e.grantee <> c.relowner
                        AND NOT coalesce(gr.rolsuper, false)) AS writable) w
 WHERE co.contype = 'f' AND co.conparentid = 0
   AND s.tenant_attnum IS NOT NULL AND (d.relid IS NULL OR d.tenant_attnum IS NULL)
   AND (co.confupdtype IN ('c', 'n', 'd') OR co.confdeltype IN ('c', 'n', 'd'))
   AND NOT (co.conkey = ARRAY[s.tenant_attnum]::int2[] AND co.confdeltype = 'c'
            AND co.confupdtype NOT IN ('c', 'n', 'd') AND NOT w.writable)
UNION ALL
SELECT 'tenant_setting_default', 'error', r.object, 'setting',
       format('%s sets a default for app.current_tenant_id (%s).', r.stmt, r.c),
       'Sessions then start inside a tenant without the application choosing one, and a pooled connection carries it to the next client.',
       format('%s RESET %s;', r.stmt, r.reset_name),
       NULL::oid
  FROM roledef r
 WHERE r.name = 'app.current_tenant_id'
   -- (a default of another database applies there: reported by its report,
   -- review rev46d)
   AND (r.setdatabase = 0
        OR r.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
UNION ALL
-- ... or a policy's COALESCE(<the tenant>, 'acme'): a session without a
-- tenant reads and writes that tenant's rows
SELECT 'tenant_setting_default', 'error', format('%I ON %s', p.polname, p.qname), 'policy',
       format('Policy %I on %s falls back to another value when no tenant is set (COALESCE).', p.polname, p.qname),
       'A session that set no tenant (or RESET it) gets the rows of the fallback value instead of none: the policy must fail closed. Compare with the tenant_rls accessor alone (NULL when unset).',
       NULL, p.relid
  FROM pol p WHERE p.tenant_fallback
UNION ALL
-- ... or a function's SET clause: whoever may call it runs its queries in that tenant
SELECT 'tenant_setting_default', 'error',
       format('%I.%I(%s)', n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid)), 'function',
       format('Function %I.%I(%s) sets app.current_tenant_id (%s) while it runs.',
              n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid), c.c),
       'Whoever may call it runs its queries inside that tenant, whatever tenant the session chose: a way into that tenant''s rows.',
       format('ALTER ROUTINE %I.%I(%s) RESET %s;',
              n.nspname, pr.proname, pg_get_function_identity_arguments(pr.oid),
              (SELECT string_agg(quote_ident(u.part), '.' ORDER BY u.i) FROM unnest(string_to_array(split_part(c.c, '=', 1), '.')) WITH ORDINALITY u(part, i))),
       NULL::oid
  FROM pg_proc pr
  JOIN pg_namespace n ON n.oid = pr.pronamespace
  CROSS JOIN LATERAL unnest(pr.proconfig) c(c)
  LEFT JOIN extfuncs e ON e.objid = pr.oid
 WHERE pr.proconfig IS NOT NULL AND e.objid IS NULL
   AND lower(split_part(c.c, '=', 1)) = 'app.current_tenant_id'
UNION ALL
-- ... or the configuration files (ALTER SYSTEM writes postgresql.auto.conf):
-- every session of every database starts with it (read from the files, so
-- also before a reload; pg_file_settings needs pg_read_all_settings)
SELECT 'tenant_setting_default', 'error', fd.object, 'setting',
       format('%s sets a default for app.current_tenant_id (%s).', fd.who, fd.place),
       'Every session of every database then starts inside a tenant without the application choosing one, and a pooled connection carries it to the next client. '
       || fd.undo,
       CASE WHEN fd.auto THEN 'ALTER SYSTEM RESET app.current_tenant_id;' END,
       NULL::oid
  FROM filedef fd
 WHERE fd.name = 'app.current_tenant_id'
UNION ALL
-- application roles (login, with a privilege on some tenant table) that may
-- create objects in a schema: the traps of doc/context_security.md
SELECT 'schema_create_privilege', 'warning', format('schema %I TO %s', x.nspname, x.gname), 'privilege',
       format('Application role %s may create objects in schema %I (%s).', x.gname, x.nspname, x.how),
       'A statement injected into a tenant session can plant a function or operator there (an overload of lower(), say) that a session of another tenant finds through its search_path and runs with that tenant''s rights, sending it its rows. Give application roles no CREATE on any schema, and let a NOLOGIN role own the schemas.'
       -- (review rev46d: a grant made through a grant option stayed, and a
       -- role that had granted on made the REVOKE fail without CASCADE)
       || CASE WHEN g.others IS NOT NULL
               THEN format(' Granted (also) by %s through a grant option: the REVOKE of the owner does not take that grant away; the fix of %s''s own finding (REVOKE ... CASCADE) does.', g.others, g.others)
               ELSE '' END
       || CASE WHEN g.grantable THEN ' It may grant it on (WITH GRANT OPTION): CASCADE takes away what it granted.' ELSE '' END,
       CASE WHEN x.how IN ('granted to PUBLIC', 'granted to it') AND g.own
            THEN format('REVOKE CREATE ON SCHEMA %I FROM %s%s;', x.nspname,
                        CASE x.how WHEN 'granted to PUBLIC' THEN 'PUBLIC' ELSE x.gname END,
                        CASE WHEN g.grantable THEN ' CASCADE' ELSE '' END) END,
       NULL::oid
  FROM (SELECT n.nspname, n.nspacl, n.nspowner, l.oid AS roleid, quote_ident(l.rolname) AS gname,
               CASE WHEN n.nspowner = l.oid THEN 'it owns the schema'
                    WHEN EXISTS (SELECT 1 FROM aclexplode(n.nspacl) e
                                  WHERE e.grantee = 0 AND e.privilege_type = 'CREATE') THEN 'granted to PUBLIC'
                    WHEN EXISTS (SELECT 1 FROM aclexplode(n.nspacl) e
                                  WHERE e.grantee = l.oid AND e.privilege_type = 'CREATE') THEN 'granted to it'
                    ELSE 'through role membership' END AS how
          FROM logins l
          JOIN approles a ON a.oid = l.oid
          JOIN pg_namespace n ON has_schema_privilege(l.oid, n.oid, 'CREATE')
         -- (tenant_rls: extension_privilege; pg_catalog and
         -- information_schema count, review rev45c)
         WHERE n.nspname <> 'tenant_rls' AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)') x
  -- the grants the fix is about: who made them, with a grant option or not
  CROSS JOIN LATERAL (
        SELECT coalesce(bool_or(e.grantor = x.nspowner), false) AS own,
               coalesce(bool_or(e.is_grantable), false) AS grantable,
               string_agg(DISTINCT quote_ident(pg_get_userbyid(e.grantor)), ', ') FILTER (WHERE e.grantor <> x.nspowner) AS others
          FROM aclexplode(x.nspacl) e
         WHERE e.privilege_type = 'CREATE'
           AND e.grantee = CASE x.how WHEN 'granted to PUBLIC' THEN 0 WHEN 'granted to it' THEN x.roleid END) g
UNION ALL
-- tables with the tenant column outside the managed schemas (and not
-- registered): reported when a role other than the owner may use them, or
-- when the owner is a login role or has login members (the application's
-- own copy: every tenant's session runs as that role).  A partition too,
-- for what it grants itself (review rev40b: default privileges granted
-- each new partition, never the parent, and neither was reported); its
-- owner's logins are its root's, reported there when they own the root
SELECT 'table_outside_managed_schemas', 'warning', format('%I.%I', c.nspname, c.relname), 'table',
       -- who may read it is in the message: an acceptance (its fingerprint)
       -- does not cover a grant made afterwards
       format('%s %I.%I%s has the tenant column %I but is outside tenant_rls.managed_schemas: nothing protects its rows, and %s may read or change them.',
              CASE WHEN c.relkind = 'f' THEN 'Foreign table' WHEN c.root <> c.oid THEN 'Partition' ELSE 'Table' END,
              c.nspname, c.relname,
              CASE WHEN c.root <> c.oid THEN format(' (of %s)', c.root::regclass) ELSE '' END,
              cfg.tenant_column, c.who),
       format('Every tenant''s rows of it are open to them. Protect %s, or add its schema to tenant_rls.managed_schemas, or revoke what others hold on it%s.',
              CASE WHEN c.root <> c.oid THEN 'its partitioned table (which protects its partitions)' ELSE 'it' END,
              CASE WHEN c.login_owner THEN ' and give it to a NOLOGIN owner role' ELSE '' END)
       || CASE WHEN c.relkind = 'f' THEN ' A foreign table cannot have row-level security: grant no privilege on it to tenant roles.'
               ELSE coalesce(' ' || r.why, '')
                    || CASE WHEN r.why IS NULL THEN ' Once it is protected, a session that sets no tenant (a background job, a report) reads none of its rows: have it set the tenant, or run it as a member of tenant_rls.admin_role.' ELSE '' END END,
       -- protect() refuses a foreign table, and a column of a type or
       -- collation it does not support; a partition is protected with its
       -- root
       CASE WHEN c.relkind <> 'f' AND r.why IS NULL
            THEN format('SELECT tenant_rls.protect(%L);', c.root::regclass::text) END,
       c.oid
  -- who: the roles other than its owner that hold SELECT, INSERT, UPDATE or
  -- DELETE on it, or on columns of it (GRANT SELECT (col) reads rows as
  -- well), and the login roles that are or are members of its owner
  FROM (SELECT y.*,
               (SELECT string_agg(DISTINCT w.who, ', ')
                  FROM (SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END
                          FROM aclexplode(y.relacl) e
                         WHERE e.grantee <> y.relowner AND e.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
                        UNION ALL
                        SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END
                               || ' (columns)'
                          FROM colacl ca, aclexplode(ca.attacl) e
                         WHERE ca.attrelid = y.oid AND e.grantee <> y.relowner
                           AND e.privilege_type IN ('SELECT', 'INSERT', 'UPDATE')
                        UNION ALL
                        SELECT format('%s (%s)', quote_ident(l.rolname),
                                      CASE WHEN l.oid = y.relowner THEN 'its owner' ELSE 'a member of its owner' END)
                          FROM logins l
                         WHERE y.login_owner AND pg_has_role(l.oid, y.relowner, 'MEMBER')
                        UNION ALL
                        -- an inheritance child: who may read or change an
                        -- ancestor without the tenant column reaches its
                        -- rows there (review rev40e); an ancestor with it is
                        -- reported itself
                        SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END
                               || format(' (through %s)', ac.oid::regclass)
                          FROM (WITH RECURSIVE anc(oid) AS (
                                    SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = y.oid AND NOT y.relispartition
                                    UNION
                                    SELECT i.inhparent FROM pg_inherits i JOIN anc ON i.inhrelid = anc.oid)
                                SELECT anc.oid FROM anc) a
                          JOIN pg_class ac ON ac.oid = a.oid
                         CROSS JOIN LATERAL aclexplode(ac.relacl) e
                         WHERE e.grantee <> ac.relowner AND e.privilege_type IN ('SELECT', 'UPDATE', 'DELETE')
                           AND NOT EXISTS (SELECT 1 FROM pg_attribute at
                                            WHERE at.attrelid = ac.oid AND at.attname = (SELECT cf.tenant_column FROM cfg cf)
                                              AND at.attnum > 0 AND NOT at.attisdropped)) w(who)) AS who
          FROM (SELECT x.relid AS oid, x.relname, x.relkind, x.relacl, x.relowner, x.nspname, x.root, x.relispartition,
                       (NOT x.relispartition
                        OR x.relowner <> (SELECT rc.relowner FROM pg_class rc WHERE rc.oid = x.root))
                       AND EXISTS (SELECT 1 FROM logins l WHERE pg_has_role(l.oid, x.relowner, 'MEMBER')) AS login_owner
                  FROM (SELECT x.*, CASE WHEN x.relispartition THEN pg_partition_root(x.relid) ELSE x.relid END AS root
                          FROM xten x WHERE NOT x.audit) x
                OFFSET 0) y) c
  CROSS JOIN cfg
  CROSS JOIN LATERAL (SELECT tenant_rls._protect_refusal(c.root, cfg.tenant_column) AS why OFFSET 0) r
 WHERE c.who IS NOT NULL
UNION ALL
-- user mappings of postgres_fdw / dblink servers that log in as a role that
-- bypasses row-level security (superuser, BYPASSRLS, the admin role), for
-- any local role: a loopback foreign table, or dblink(), then reads every
-- tenant's rows (error when the server names this database).  Not only login
-- roles: the mapping is chosen by the current user, which is the owner of a
-- view over the foreign table, or a role the application may SET ROLE to.
SELECT 'user_mapping_bypasses_rls',
       CASE WHEN x.dbname = current_database() THEN 'error' ELSE 'warning' END,
       format('user mapping for %s server %I', x.who, x.srvname), 'user mapping',
       format('User mapping for %s on server %I (%s) logs in as %s, %s.', x.who, x.srvname, x.fdwname,
              CASE WHEN x.named_user IS NULL
                   THEN format('the operating-system user of the server, normally %s (it names no user, and libpq then takes that one)',
                               quote_ident(x.rolname))
                   ELSE quote_ident(x.rolname) END,
              CASE WHEN x.rolsuper THEN 'a superuser' WHEN x.rolbypassrls THEN 'a role with BYPASSRLS'
                   ELSE 'a role with the privileges of the tenant_rls admin role' END),
       format('Through a foreign table of the server or dblink(), %s read%s the remote tables as %s: if the server is this cluster%s, every tenant''s rows, row-level security or not. Map to a role that is subject to row-level security and has no admin role, or drop the mapping.',
              CASE WHEN x.umuser = 0 THEN 'all roles' ELSE x.who END, CASE WHEN x.umuser = 0 THEN '' ELSE 's' END,
              quote_ident(x.rolname),
              CASE WHEN x.dbname = current_database() THEN format(' (it names database %I)', x.dbname) ELSE '' END),
       NULL, NULL::oid
  FROM (SELECT m.*, CASE WHEN m.umuser = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(m.umuser)) END AS who
          FROM umaps m
          -- a mapping of a role that bypasses row security anyway gives it nothing
         WHERE m.umuser = 0 OR NOT EXISTS (SELECT 1 FROM pg_roles lr
                                            WHERE lr.oid = m.umuser AND (lr.rolsuper OR lr.rolbypassrls))) x
UNION ALL
-- ... and a superuser's or BYPASSRLS role's own mapping, which gives that
-- role nothing, but is the mapping of the views and materialized views it
-- owns over the server's foreign tables: whoever may read such a view reads
-- the remote tables as the role the mapping logs in as (review rev40e)
SELECT 'user_mapping_bypasses_rls',
       CASE WHEN x.dbname = current_database() THEN 'error' ELSE 'warning' END,
       format('%s %s over server %I', CASE WHEN x.relkind = 'm' THEN 'materialized view' ELSE 'view' END,
              x.view, x.srvname), 'view',
       format('%s %s reads foreign table(s) %s of server %I (%s) with the user mapping of its owner %s, which logs in as %s, a role that bypasses row-level security, and %s may read it.',
              CASE WHEN x.relkind = 'm' THEN 'Materialized view' ELSE 'View' END, x.view, x.ftables, x.srvname, x.fdwname,
              quote_ident(pg_get_userbyid(x.relowner)), quote_ident(x.rolname), x.readers),
       format('A view runs with its owner''s rights and user mappings: whoever may read it reads the remote tables as %s%s. Make it security_invoker (a materialized view: drop it, or revoke what others hold on it), or map its owner to a role that is subject to row-level security.',
              quote_ident(x.rolname),
              CASE WHEN x.dbname = current_database() THEN format(', and the server names this database (%I): every tenant''s rows', x.dbname) ELSE '' END),
       CASE WHEN x.relkind = 'v' THEN format('ALTER VIEW %s SET (security_invoker = true);', x.view) END,
       NULL::oid
  FROM (SELECT v.oid, v.oid::regclass::text AS view, v.relkind, v.relowner, m.srvname, m.fdwname, m.dbname, m.rolname,
               string_agg(DISTINCT ft.ftrelid::regclass::text, ', ') AS ftables,
               -- (who may read it, also through a view over it: review
               -- rev40g)
               (SELECT string_agg(DISTINCT r.who, ', ')
                  FROM (SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END AS who
                          FROM aclexplode(v.relacl) e
                         WHERE e.grantee <> v.relowner AND e.privilege_type = 'SELECT'
                        UNION ALL
                        SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END
                               || format(' (through %s)', ov.oid::regclass)
                          FROM pg_class ov CROSS JOIN LATERAL aclexplode(ov.relacl) e
                         WHERE ov.relkind IN ('v', 'm') AND ov.oid <> v.oid
                           AND e.grantee <> ov.relowner AND e.privilege_type = 'SELECT'
                           AND EXISTS (SELECT 1 FROM tenant_rls._view_reach(ov.oid) vr WHERE vr.relid = v.oid)) r) AS readers
          FROM pg_rewrite rw
          JOIN pg_class v ON v.oid = rw.ev_class AND v.relkind IN ('v', 'm')
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                          AND d.refclassid = 'pg_class'::regclass
          JOIN pg_foreign_table ft ON ft.ftrelid = d.refobjid
          JOIN umaps m ON m.srvid = ft.ftserver AND m.umuser = v.relowner
          JOIN pg_roles lr ON lr.oid = v.relowner AND (lr.rolsuper OR lr.rolbypassrls)
         WHERE v.relkind = 'm'
            OR NOT EXISTS (SELECT 1 FROM unnest(v.reloptions) o
                            WHERE lower(split_part(o, '=', 1)) = 'security_invoker'
                              AND lower(split_part(o, '=', 2)) IN ('true', 'on', '1', 'yes', 't', 'y'))
         GROUP BY v.oid, v.relkind, v.relowner, v.relacl, m.srvname, m.fdwname, m.dbname, m.rolname) x
 WHERE x.readers IS NOT NULL
-- ==== the extension itself: replica mode, its event triggers, its privileges
UNION ALL
SELECT 'replication_role_default', 'error', r.object, 'setting',
       format('%s makes sessions start with session_replication_role = replica (%s).', r.stmt, r.c),
       'In replica mode ordinary triggers and event triggers do not fire: the tenant_rls audit triggers record nothing, new tables are not protected automatically, the drift guard does not stop DISABLE ROW LEVEL SECURITY, NO FORCE or DROP POLICY, and foreign keys are not checked.',
       r.stmt || ' RESET session_replication_role;',
       NULL::oid
  FROM roledef r
 WHERE r.name = 'session_replication_role'
   AND lower(btrim(substr(r.c, strpos(r.c, '=') + 1), ' ''"')) = 'replica'
   -- (a default of another database applies there: reported by its report,
   -- review rev46d)
   AND (r.setdatabase = 0
        OR r.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
UNION ALL
SELECT 'replication_role_default', 'error', fd.object, 'setting',
       format('%s sets session_replication_role = replica (%s).', fd.who, fd.place),
       'Every session of every database then runs in replica mode: ordinary triggers and event triggers do not fire, so the tenant_rls audit triggers record nothing, new tables are not protected automatically and the drift guard is off. '
       || fd.undo,
       CASE WHEN fd.auto THEN 'ALTER SYSTEM RESET session_replication_role;' END,
       NULL::oid
  FROM filedef fd
 WHERE fd.name = 'session_replication_role' AND fd.setting = 'replica'
UNION ALL
-- a stored default (ALTER ROLE / ALTER DATABASE ... SET) that applies in this
-- database and turns a safeguard of tenant_rls off for those sessions:
-- strict mode (error), the drift guard, auto-protection, the audit trigger
-- of protect() (warnings).  The report's own session does not show them.
SELECT 'weakened_setting_default', w.level,
       -- one role may have several: the setting is part of the object
       format('%s for %s', x.name, x.object), 'setting',
       format('%s sets %s for the sessions it applies to.', x.stmt, x.c),
       'In those sessions ' || w.what,
       format('%s RESET %s;', x.stmt, x.reset_name),
       NULL::oid
  FROM (SELECT r.*, lower(btrim(substr(r.c, strpos(r.c, '=') + 1), ' ''"')) AS val FROM roledef r) x
  JOIN weakset w ON w.name = x.name
 WHERE (x.setdatabase = 0
        OR x.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
   AND x.val ~ w.weak
UNION ALL
-- the same for every session, from the configuration files (strict mode off
-- there is what the report's own session sees: strict_mode_off)
SELECT 'weakened_setting_default', 'warning',
       format('%s for %s', fd.name, fd.object), 'setting',
       format('%s sets %s = %s (%s).', fd.who, fd.name, btrim(fd.setting, ' ''"'), fd.place),
       'In every session ' || w.what || ' ' || fd.undo,
       CASE WHEN fd.auto THEN format('ALTER SYSTEM RESET %s;', fd.name) END,
       NULL::oid
  FROM filedef fd
  JOIN weakset w ON w.name = fd.name
 WHERE fd.wins
   AND btrim(fd.setting, ' ''"') ~ w.weak
UNION ALL
-- values masking without track_activities = off for the same sessions (a
-- default of the role or database, or of all, or the configuration files)
SELECT 'activity_values_window', 'warning',
       format('tenant_rls.mask_activity_values for %s', x.object), 'setting',
       format('%s sets %s, but track_activities is on for those sessions.', x.stmt, x.c),
       'PostgreSQL shows each of their statements in pg_stat_activity as it arrives, values and all, until tenant_rls masks it at parse analysis: a statement that waits for a lock before then (another session of the role can hold the table with LOCK TABLE) shows its values to the role''s other sessions for as long as it waits. With track_activities off PostgreSQL reports no text, and tenant_rls reports the masked statement while it runs.',
       format('%s SET track_activities = off;', x.stmt),
       NULL::oid
  FROM (SELECT r.*, lower(btrim(substr(r.c, strpos(r.c, '=') + 1), ' ''"')) AS val FROM roledef r) x
 WHERE x.name = 'tenant_rls.mask_activity_values'
   AND x.val ~ '^(t|tr|tru|true|y|ye|yes|on|1)$'
   AND (x.setdatabase = 0
        OR x.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
   AND NOT EXISTS (SELECT 1 FROM roledef t
                    WHERE t.name = 'track_activities'
                      AND lower(btrim(substr(t.c, strpos(t.c, '=') + 1), ' ''"')) ~ '^(f|fa|fal|fals|false|n|no|of|off|0)$'
                      AND t.setrole IN (x.setrole, 0) AND t.setdatabase IN (x.setdatabase, 0))
   AND NOT EXISTS (SELECT 1 FROM filedef f
                    WHERE f.name = 'track_activities'
                      AND btrim(f.setting, ' ''"') ~ '^(f|fa|fal|fals|false|n|no|of|off|0)$')
UNION ALL
-- the signing key stored where every role reads it: pg_db_role_setting
-- (ALTER ROLE / DATABASE ... SET, any database: the catalog is shared) and
-- functions' SET clauses (pg_proc.proconfig).  The check hook of the setting
-- refuses both, but only in a session that has loaded the library.  The
-- value is never shown.
SELECT 'signing_key_stored', 'error', format('%s for %s', x.name, x.object), 'setting',
       format('%s stores %s in the catalog.', x.stmt, x.name),
       'Every role can read pg_db_role_setting (pg_roles.rolconfig): whoever reads this key signs tokens for any tenant. Remove it; if it is or was a key in use, replace the key (in postgresql.conf or the key file) and issue new tokens.',
       format('%s RESET %s;', x.stmt, x.reset_name), NULL::oid
  FROM roledef x
 WHERE x.name IN ('tenant_rls.signing_key', 'tenant_rls.signing_key_previous')
UNION ALL
SELECT 'signing_key_stored', 'error', format('%s for function %s', x.name, x.ident), 'setting',
       format('Function %s sets %s (SET clause).', x.ident, x.name),
       'Every role can read pg_proc.proconfig: whoever reads this key signs tokens for any tenant. Remove it; if it is or was a key in use, replace the key (in postgresql.conf or the key file) and issue new tokens.',
       format('ALTER ROUTINE %s RESET %s;', x.ident, x.reset_name), NULL::oid
  FROM (SELECT lower(split_part(c.c, '=', 1)) AS name,
               (SELECT string_agg(quote_ident(u.part), '.' ORDER BY u.i) FROM unnest(string_to_array(split_part(c.c, '=', 1), '.')) WITH ORDINALITY u(part, i)) AS reset_name,
               format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS ident
          FROM pg_proc p
          JOIN pg_namespace n ON n.oid = p.pronamespace
         CROSS JOIN LATERAL unnest(p.proconfig) c(c)
         WHERE p.proconfig IS NOT NULL) x
 WHERE x.name IN ('tenant_rls.signing_key', 'tenant_rls.signing_key_previous')
UNION ALL
-- the extension's owner demoted: it still owns the registry, the grants, the
-- accepted findings and the audit tables, and the report runs as it
SELECT 'extension_owner_not_superuser', 'error', 'tenant_rls', 'extension',
       format('The owner of extension tenant_rls, %s, is not a superuser.', quote_ident(r.rolname)),
       'It owns tenant_rls''s tables and may write them directly: a cross-tenant grant in tenant_rls.tenant_grant, a table taken out of the registry, an accepted finding, rows added to the audit log; and lint() and coverage() run with its rights (they do not read the configuration files without pg_read_all_settings). Give it SUPERUSER back, or drop the extension and create it again as a superuser (its tables and the audit log go with it: dump them first).',
       NULL, NULL::oid
  FROM pg_extension x JOIN pg_roles r ON r.oid = x.extowner
 WHERE x.extname = 'tenant_rls' AND NOT r.rolsuper
UNION ALL
SELECT 'event_trigger_disabled', 'error', quote_ident(e.evtname), 'event trigger',
       format('Event trigger %I of tenant_rls %s.', e.evtname,
              CASE e.evtenabled WHEN 'D' THEN 'is disabled' ELSE 'fires only in replica mode (ENABLE REPLICA)' END),
       CASE e.evtevent
            WHEN 'ddl_command_end' THEN 'It protects new tenant tables (auto-protection) and refuses DISABLE ROW LEVEL SECURITY, NO FORCE and ALTER POLICY on protected tables (drift guard): without it they go through.'
            WHEN 'sql_drop' THEN 'It refuses dropping a managed policy or the tenant column of a protected table (drift guard) and removes dropped tables from the registry: without it they go through.'
            ELSE 'It prepares ATTACH PARTITION of audited tables: without it the audit trigger of the attached table collides with its new parent''s.' END,
       format('ALTER EVENT TRIGGER %I ENABLE;', e.evtname), NULL::oid
  FROM pg_event_trigger e
 WHERE e.evtenabled IN ('D', 'R') AND starts_with(e.evtname, 'tenant_rls_')
   AND (SELECT true FROM pg_depend d
         WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.objsubid = 0
           AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND d.refobjid = (SELECT x.oid FROM pg_extension x WHERE x.extname = 'tenant_rls')
         LIMIT 1)
UNION ALL
-- ... or gone: dropped (after ALTER EXTENSION ... DROP EVENT TRIGGER), or
-- replaced by an event trigger of the same name that is not the extension's
SELECT 'event_trigger_disabled', 'error', quote_ident(w.name), 'event trigger',
       format('Event trigger %I of tenant_rls is missing%s.', w.name,
              CASE WHEN e.oid IS NOT NULL THEN ' (an event trigger of that name exists, but it is not the extension''s)' ELSE '' END),
       'Without it new tenant tables are not protected automatically and the drift guard does not refuse DISABLE ROW LEVEL SECURITY, NO FORCE or policy changes. Re-create it as the extension defines it and make it a member of the extension again (a superuser).',
       CASE WHEN e.oid IS NULL
            THEN format('CREATE EVENT TRIGGER %I ON %s%s EXECUTE FUNCTION tenant_rls.%I(); ALTER EXTENSION tenant_rls ADD EVENT TRIGGER %I;',
                        w.name, w.event, w.tagclause, w.func, w.name) END,
       NULL::oid
  FROM evtdef w
  LEFT JOIN pg_event_trigger e ON e.evtname = w.name
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.objsubid = 0
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                      AND d.refobjid = (SELECT x.oid FROM pg_extension x WHERE x.extname = 'tenant_rls'))
UNION ALL
-- ... or the extension's, but not as it defines it: another event, another
-- function, or other tags (review rev46d: re-created by an older fix of this
-- finding without REFRESH MATERIALIZED VIEW, DDL run below a refresh went
-- through again, and nothing was reported)
SELECT 'event_trigger_disabled', 'error', quote_ident(w.name), 'event trigger',
       format('Event trigger %I of tenant_rls is not defined as the extension defines it (%s).', w.name,
              concat_ws('; ',
                        CASE WHEN e.evtevent <> w.event THEN format('it fires on %s, not on %s', e.evtevent, w.event) END,
                        CASE WHEN e.evtfoid IS DISTINCT FROM to_regprocedure(format('tenant_rls.%I()', w.func))
                             THEN format('it runs %s, not tenant_rls.%I()', e.evtfoid::regprocedure, w.func) END,
                        CASE WHEN e.evttags IS DISTINCT FROM w.tags
                                  AND NOT coalesce(e.evttags @> w.tags AND e.evttags <@ w.tags, false)
                             THEN format('it fires for %s, not for %s',
                                         coalesce('the commands ' || array_to_string(e.evttags, ', '), 'every command'),
                                         coalesce(array_to_string(w.tags, ', '), 'every command')) END)),
       'The commands it does not fire for go through unchecked: below REFRESH MATERIALIZED VIEW, DISABLE ROW LEVEL SECURITY, NO FORCE and policy changes of protected tables, and new tenant tables left unprotected. Re-create it as the extension defines it (a superuser).',
       format('ALTER EXTENSION tenant_rls DROP EVENT TRIGGER %1$I; DROP EVENT TRIGGER %1$I; CREATE EVENT TRIGGER %1$I ON %2$s%3$s EXECUTE FUNCTION tenant_rls.%4$I(); ALTER EXTENSION tenant_rls ADD EVENT TRIGGER %1$I;',
              w.name, w.event, w.tagclause, w.func),
       NULL::oid
  FROM evtdef w
  JOIN pg_event_trigger e ON e.evtname = w.name
 WHERE (e.evtevent <> w.event
        OR e.evtfoid IS DISTINCT FROM to_regprocedure(format('tenant_rls.%I()', w.func))
        -- (NULL: every command; review rev46e: a filter on a trigger the
        -- extension defines without one compared as NULL, and was not reported)
        OR (e.evttags IS DISTINCT FROM w.tags AND NOT coalesce(e.evttags @> w.tags AND e.evttags <@ w.tags, false)))
   AND EXISTS (SELECT 1 FROM pg_depend d
                WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.objsubid = 0
                  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                  AND d.refobjid = (SELECT x.oid FROM pg_extension x WHERE x.extname = 'tenant_rls'))
UNION ALL
SELECT 'extension_privilege',
       -- SELECT on a health view granted to a monitoring role is what
       -- doc/operations.md describes: info, like EXECUTE on a function
       CASE WHEN y.health AND y.privs = ARRAY['SELECT'] AND y.gname <> 'PUBLIC' THEN 'info'
            WHEN y.relkind = 'S' OR (y.health AND y.privs = ARRAY['SELECT']) THEN 'warning' ELSE 'error' END,
       format('tenant_rls.%I TO %s', y.relname, y.gname), 'privilege',
       format('%s holds %s on %s tenant_rls.%I, which a plain install leaves to the extension owner.',
              y.gname, array_to_string(y.privs, ', '),
              CASE y.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                             WHEN 'p' THEN 'partitioned table' ELSE 'table' END, y.relname),
       CASE WHEN y.health AND y.privs = ARRAY['SELECT']
            THEN 'The health views show every tenant''s row and audit volumes. A deliberate grant to a monitoring role (doc/operations.md) is fine: check that this role may know them.'
            ELSE 'The extension''s tables decide who sees what: INSERT or UPDATE on tenant_grant grants a tenant another tenant''s rows, the registry, audit_config and accepted_finding decide what is protected, audited and reported, SELECT on a partition of the audit log shows every tenant''s entries (a partition has no row-level security of its own), and the audit chain tables can be forged. A partition re-created by pg_restore gets the restoring role''s default privileges.' END,
       format('REVOKE %s ON %s tenant_rls.%I FROM %s%s;', array_to_string(y.privs, ', '),
              CASE WHEN y.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, y.relname, y.gname,
              CASE WHEN y.grantable THEN ' CASCADE' ELSE '' END),
       NULL::oid
  FROM (SELECT a.oid, a.relname, a.relkind,
               a.relkind = 'v' AND a.relname IN ('table_health', 'tenant_audit_volume', 'tenant_row_volume') AS health,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS gname,
               array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type) AS privs,
               bool_or(a.is_grantable) AS grantable
          FROM xacl a GROUP BY a.oid, a.relname, a.relkind, a.grantee) y
UNION ALL
-- a view, materialized view or rule over the extension's own tables
-- (tenant_grant, the registry, the audit log, ...), of an owner who may
-- read or change them, that another role may use (review rev47f: a
-- superuser's writable view over tenant_grant let a tenant grant itself
-- another tenant's rows; a rule's action ran as the superuser).  Views over
-- the audit log are view_not_security_invoker's; their rules are here.
SELECT 'extension_privilege', 'error', x.obj, CASE WHEN x.rulename = '_RETURN' THEN 'view' ELSE 'rule' END,
       format('%s %s of %s %s the extension''s table(s) %s with its owner''s rights, and %s may use it.',
              CASE WHEN x.rulename <> '_RETURN' THEN 'Rule' WHEN x.relkind = 'm' THEN 'Materialized view' ELSE 'View' END,
              x.obj, quote_ident(pg_get_userbyid(x.relowner)),
              CASE WHEN x.rulename = '_RETURN' THEN 'reads' ELSE 'acts on' END, x.tables, x.users),
       'The extension''s tables decide who sees what: a write to tenant_grant grants a tenant another tenant''s rows, the registry and audit_config decide what is protected and audited, and the audit log holds every tenant''s entries. Through this object its users reach them with the owner''s rights.',
       CASE WHEN x.rulename <> '_RETURN' THEN format('DROP RULE %I ON %s;', x.rulename, x.rel)
            WHEN x.relkind = 'v' THEN format('ALTER VIEW %s SET (security_invoker = true);', x.rel) END,
       NULL::oid
  FROM (SELECT rw.rulename, v.relkind, v.relowner, format('%I.%I', vn.nspname, v.relname) AS rel,
               CASE WHEN rw.rulename = '_RETURN' THEN format('%I.%I', vn.nspname, v.relname)
                    ELSE format('%I ON %I.%I', rw.rulename, vn.nspname, v.relname) END AS obj,
               string_agg(DISTINCT format('tenant_rls.%I', b.relname), ', ') AS tables,
               (SELECT string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, ', ')
                  FROM aclexplode(v.relacl) a
                  LEFT JOIN pg_roles g ON g.oid = a.grantee
                 WHERE a.grantee <> v.relowner AND NOT coalesce(g.rolsuper, false)
                   AND (a.grantee = 0 OR NOT pg_has_role(a.grantee, v.relowner, 'MEMBER'))) AS users
          FROM rdep rw
          JOIN pg_class b ON b.oid = rw.base AND b.relnamespace = 'tenant_rls'::regnamespace AND b.relkind IN ('r', 'p')
          JOIN pg_class v ON v.oid = rw.ev_class AND v.relnamespace <> 'tenant_rls'::regnamespace
          JOIN pg_namespace vn ON vn.oid = v.relnamespace
          JOIN pg_roles o ON o.oid = v.relowner
         WHERE (o.rolsuper OR pg_has_role(o.oid, b.relowner, 'MEMBER')
                OR pg_has_role(o.oid, 'pg_write_all_data', 'USAGE') OR pg_has_role(o.oid, 'pg_read_all_data', 'USAGE'))
           -- a view of the caller's rights, or one over the audit log (above)
           AND NOT (rw.rulename = '_RETURN'
                    AND (coalesce(v.reloptions::text[] && ARRAY['security_invoker=true', 'security_invoker=on', 'security_invoker=1'], false)
                         OR b.relname = 'audit_batch'
                         OR b.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = to_regclass('tenant_rls.audit_batch'))))
         GROUP BY rw.ruleid, rw.rulename, v.oid, v.relkind, v.relowner, v.relacl, vn.nspname, v.relname) x
 WHERE x.users IS NOT NULL
UNION ALL
-- a user event trigger running a function a role other than a superuser
-- owns (review rev47f: the application role rewrote it, and the next
-- superuser migration ran it), or a function it calls at any depth (review
-- rev48b), or one in a schema such a role owns (it drops the function and
-- creates its own: review rev48d), or one whose search_path names a schema
-- such a role may create in, or create (it plants a function of the name
-- the body calls unqualified)
SELECT 'event_trigger_function_owner',
       CASE WHEN f.kind = 'owner'
            -- (replacing the body needs CREATE on its schema too)
            THEN CASE WHEN EXISTS (SELECT 1 FROM logins l WHERE pg_has_role(l.oid, p.proowner, 'MEMBER')
                                                           AND has_schema_privilege(l.oid, p.pronamespace, 'CREATE'))
                      THEN 'error' ELSE 'warning' END
            ELSE 'error' END,
       -- (one finding per event trigger, function and schema)
       CASE WHEN f.kind = 'owner' AND f.fid = e.evtfoid THEN quote_ident(e.evtname)
            WHEN f.kind = 'owner' THEN format('%s %s', quote_ident(e.evtname), f.fid::regprocedure)
            WHEN f.kind = 'schema' THEN format('%s %s schema %I', quote_ident(e.evtname), f.fid::regprocedure, f.nsp)
            ELSE format('%s %s search_path %I', quote_ident(e.evtname), f.fid::regprocedure, f.nsp) END,
       'event trigger',
       format('Event trigger %I runs %s%s', e.evtname, f.fid::regprocedure,
              CASE WHEN f.fid <> e.evtfoid THEN format(' (called by its function %s)', e.evtfoid::regprocedure) ELSE '' END)
       || CASE f.kind
               WHEN 'owner' THEN format(', owned by %s, who is not a superuser.', quote_ident(pg_get_userbyid(p.proowner)))
               WHEN 'schema' THEN format(', in schema %I, which %s owns%s.', f.nsp, quote_ident(f.who),
                                         CASE WHEN f.who <> pg_get_userbyid((SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = f.nsp))
                                              THEN ' (through its owner)' ELSE '' END)
               WHEN 'path' THEN format(' with search_path naming schema %I, in which %s may create objects.', f.nsp, quote_ident(f.who))
               ELSE format(' with search_path naming schema %I, which does not exist and %s may create.', f.nsp, quote_ident(f.who)) END,
       CASE f.kind
            WHEN 'owner'
            THEN 'An event trigger runs as whoever runs the DDL, often a superuser: the function''s owner, or a member of it, replaces its body (with CREATE on its schema; without, it may still change its settings) and runs code with that role''s rights at the next DDL. Give the function to a superuser.'
            WHEN 'schema'
            THEN 'An event trigger runs as whoever runs the DDL, often a superuser: the owner of a schema may drop any function in it and create its own under the same name, which the calling function then runs with that role''s rights at the next DDL. Give the schema to a superuser.'
            ELSE 'An event trigger runs as whoever runs the DDL, often a superuser: a function or operator created in that schema under a name the body uses unqualified runs instead of the one meant, with that role''s rights, at the next DDL. Schema-qualify the names the function uses and set its search_path to pg_catalog, pg_temp, or give the schema to a superuser and revoke CREATE on it (and on the database, for a schema not created yet).' END,
       CASE WHEN x.superowner IS NULL THEN NULL
            WHEN f.kind = 'owner' THEN format('ALTER FUNCTION %s OWNER TO %I;', f.fid::regprocedure, x.superowner)
            WHEN f.kind = 'schema' THEN format('ALTER SCHEMA %I OWNER TO %I;', f.nsp, x.superowner) END,
       NULL::oid
  FROM pg_event_trigger e
  -- (the fix gives the function to the event trigger's owner, or else to the
  -- extension's, whichever is a superuser: review rev48b)
  CROSS JOIN LATERAL (
        SELECT (SELECT r.rolname FROM pg_roles r
                 WHERE r.rolsuper AND r.oid IN (e.evtowner, (SELECT x.extowner FROM pg_extension x WHERE x.extname = 'tenant_rls'))
                 ORDER BY r.oid = e.evtowner DESC LIMIT 1) AS superowner) x
  CROSS JOIN LATERAL (
        SELECT c.fid, c.kind, c.nsp, c.who
          FROM (WITH RECURSIVE
                -- the calls, found by name in the bodies: kept where the
                -- caller reaches the callee, by dependency, by its schema
                -- written in the caller's body or named in the caller's
                -- search_path setting, or any schema when the caller has
                -- none (the DDL session's path then decides: review rev48d,
                -- an application's log() matched a RAISE LOG)
                edge AS MATERIALIZED (
                    SELECT g.caller, g.callee
                      FROM tenant_rls._call_edges(ARRAY[e.evtfoid], ARRAY(SELECT y.objid FROM extfuncs y)) g
                      JOIN pg_proc a ON a.oid = g.caller
                      JOIN pg_proc b ON b.oid = g.callee
                      JOIN pg_namespace bn ON bn.oid = b.pronamespace
                     CROSS JOIN LATERAL (SELECT (SELECT substr(c, 13) FROM unnest(a.proconfig) c
                                                  WHERE c LIKE 'search_path=%' LIMIT 1) AS sp) ap
                     WHERE ap.sp IS NULL
                        OR bn.nspname = ANY (tenant_rls._split_identifiers(ap.sp))
                        OR EXISTS (SELECT 1 FROM pg_depend d
                                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = a.oid
                                      AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = b.oid)
                        OR EXISTS (SELECT 1 FROM tenant_rls._body_words(CASE WHEN a.prosqlbody IS NOT NULL
                                                                             THEN pg_get_function_sqlbody(a.oid)
                                                                             ELSE a.prosrc END) w(word)
                                    WHERE w.word IN (bn.nspname, lower(bn.nspname)))),
                reach(fid) AS (SELECT e.evtfoid UNION SELECT g.callee FROM reach r JOIN edge g ON g.caller = r.fid)
                SELECT reach.fid FROM reach) r
          JOIN pg_proc p ON p.oid = r.fid
         CROSS JOIN LATERAL (
               SELECT r.fid, 'owner' AS kind, NULL::name AS nsp, NULL::name AS who
                WHERE NOT (SELECT o.rolsuper FROM pg_roles o WHERE o.oid = p.proowner)
               UNION ALL
               -- (not the event trigger's own function: it cannot be dropped
               -- while the trigger uses it)
               SELECT r.fid, 'schema', n.nspname, w.rolname
                 FROM pg_namespace n
                CROSS JOIN LATERAL (SELECT l.rolname FROM logins l WHERE pg_has_role(l.oid, n.nspowner, 'MEMBER')
                                     ORDER BY l.oid <> n.nspowner, l.rolname LIMIT 1) w
                WHERE n.oid = p.pronamespace AND r.fid <> e.evtfoid
               UNION ALL
               SELECT r.fid, CASE WHEN n.oid IS NULL THEN 'missing' ELSE 'path' END, sp.name::name, w.rolname
                 FROM unnest(tenant_rls._split_identifiers(
                          (SELECT substr(c, 13) FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%' LIMIT 1))) sp(name)
                 LEFT JOIN pg_namespace n ON n.nspname = sp.name
                CROSS JOIN LATERAL (SELECT l.rolname FROM logins l
                                     WHERE CASE WHEN n.oid IS NULL
                                                THEN has_database_privilege(l.oid, current_database(), 'CREATE')
                                                ELSE has_schema_privilege(l.oid, n.oid, 'CREATE') END
                                     ORDER BY l.rolname LIMIT 1) w
                WHERE sp.name NOT IN ('pg_catalog', 'pg_temp', '$user', '')) c) f
  JOIN pg_proc p ON p.oid = f.fid
 WHERE e.evtenabled <> 'D'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
UNION ALL
-- a partition of the audit log owned by another role than the log (review
-- rev40f: a superuser's partitions went to a login role with REASSIGN OWNED)
SELECT 'extension_privilege', 'error', format('tenant_rls.%I OWNER %s', c.relname, quote_ident(pg_get_userbyid(c.relowner))),
       'privilege',
       format('Partition tenant_rls.%I of the audit log is owned by %s, not by the log''s owner %s.',
              c.relname, quote_ident(pg_get_userbyid(c.relowner)), quote_ident(pg_get_userbyid(b.relowner))),
       'The owner of a partition reads every tenant''s entries (a partition has no row-level security of its own), may disable its guards, delete, truncate or drop it, and a DROP OWNED of that role drops it with its entries. audit_maintain() gives such partitions to the log''s owner.',
       format('ALTER TABLE tenant_rls.%I OWNER TO %I;', c.relname, pg_get_userbyid(b.relowner)),
       NULL::oid
  FROM pg_inherits i
  JOIN pg_class b ON b.oid = i.inhparent AND b.oid = to_regclass('tenant_rls.audit_batch')
  JOIN pg_class c ON c.oid = i.inhrelid AND c.relowner <> b.relowner
UNION ALL
-- the schema tenant_rls owned by a role a login role is a member of (review
-- rev48b: ALTER SCHEMA tenant_rls OWNER TO an application role)
SELECT 'extension_privilege', 'error', format('schema tenant_rls OWNER %s', quote_ident(pg_get_userbyid(n.nspowner))),
       'privilege',
       format('Schema tenant_rls is owned by %s, and login role %s %s.', quote_ident(pg_get_userbyid(n.nspowner)),
              quote_ident(l.rolname), CASE WHEN l.oid = n.nspowner THEN 'is that role' ELSE 'is a member of it' END),
       'The owner of the schema may drop any table in it (the audit log''s partitions with their entries, the grants, the registry of protected tables), and create tables and functions in their place, which the extension''s code then reads by name: its own grants, or a registry without the policies it checks.',
       CASE WHEN x.extowner_super THEN format('ALTER SCHEMA tenant_rls OWNER TO %I;', pg_get_userbyid(x.extowner)) END,
       NULL::oid
  FROM pg_namespace n
  JOIN (SELECT e.extnamespace, e.extowner,
               (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = e.extowner) AS extowner_super
          FROM pg_extension e WHERE e.extname = 'tenant_rls') x ON x.extnamespace = n.oid
  CROSS JOIN LATERAL (SELECT l.oid, l.rolname FROM logins l WHERE pg_has_role(l.oid, n.nspowner, 'MEMBER')
                       ORDER BY l.rolname LIMIT 1) l
UNION ALL
SELECT 'extension_privilege', 'error', format('schema tenant_rls TO %s', y.gname), 'privilege',
       format('%s holds CREATE on schema tenant_rls.', y.gname),
       'Whoever may create objects in the schema can add an overload of an extension function (a better match for the argument types) that captures the schema-qualified calls of policies, column defaults and applications, and runs as whoever calls it.',
       format('REVOKE CREATE ON SCHEMA tenant_rls FROM %s%s;', y.gname, CASE WHEN y.grantable THEN ' CASCADE' ELSE '' END),
       NULL::oid
  FROM (SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(e.grantee)) END AS gname,
               e.is_grantable AS grantable
          FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) e
          LEFT JOIN pg_roles gr ON gr.oid = e.grantee
         WHERE n.oid = 'tenant_rls'::regnamespace AND e.privilege_type = 'CREATE'
           AND e.grantee <> n.nspowner AND NOT coalesce(gr.rolsuper, false)) y
UNION ALL
SELECT 'extension_privilege', CASE WHEN y.grantee = 0 THEN 'error' ELSE 'info' END,
       format('%s TO %s', y.fname, y.gname), 'privilege',
       format('%s may run %s, which a plain install leaves to the extension owner.', y.gname, y.fname),
       CASE WHEN y.grantee = 0
            THEN 'Every role, tenant sessions included, may run it: sign_tenant() signs a token for any tenant, audit_purge() removes audit entries, the reports show every tenant''s tables and settings. Grant it to the roles that need it instead (doc/privileges.md).'
            ELSE 'A deliberate grant (an auditor running lint(), a token issuer running sign_tenant()) is fine: check that this role should have it.' END,
       format('REVOKE EXECUTE ON ROUTINE %s FROM %s%s;', y.fname, y.gname, CASE WHEN y.grantable THEN ' CASCADE' ELSE '' END),
       NULL::oid
  FROM (SELECT x.grantee, x.grantable,
               CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS gname,
               (SELECT format('tenant_rls.%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
                  FROM pg_proc p WHERE p.oid = x.oid) AS fname
          FROM (SELECT xe.oid, xe.grantee, bool_or(xe.is_grantable) AS grantable
                  FROM xexec xe GROUP BY xe.oid, xe.grantee) x) y
-- ==== database and server
UNION ALL
SELECT 'large_objects_present', 'warning', 'pg_largeobject', 'catalog',
       format('The database has %s large object(s).', x.n),
       'Large objects have no tenant and no row-level security: any role with access to one reads it regardless of tenant. Store tenant data in tables (bytea) instead.',
       NULL, NULL::oid
  FROM (SELECT count(*) AS n FROM pg_largeobject_metadata) x WHERE x.n > 0
UNION ALL
SELECT 'audit_guard_not_always', 'warning', format('%s %I', g.tgrelid::regclass, g.tgname), 'trigger',
       format('Trigger %I on %s is %s, not ENABLE ALWAYS.', g.tgname, g.tgrelid::regclass,
              CASE g.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE' END),
       'It does not fire in a session with session_replication_role = replica (or, disabled, in any session): such a session can change or delete audit log entries, or restore audit_config rows with stale oids, and a grant it revokes (a subscriber''s apply worker runs so) stays in force in backends that have it cached. ALTER TABLE ... ENABLE TRIGGER ALL (pg_restore --disable-triggers runs it) leaves it so. tenant_rls.audit_maintain() puts these triggers back, except disabled ones.',
       format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I;', g.tgrelid::regclass, g.tgname), NULL::oid
  FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
 WHERE c.relnamespace = 'tenant_rls'::regnamespace
   AND g.tgname IN ('audit_guard', 'audit_guard_truncate', 'audit_config_fix_oid',
                    'tenant_grant_replicated', 'tenant_grant_replicated_truncate')
   AND NOT g.tgisinternal AND g.tgenabled <> 'A'
UNION ALL
-- publications: logical replication ignores row-level security, a
-- subscriber receives every tenant's rows.  FOR TABLE members one finding
-- per table (fix: drop it from the publication); FOR ALL TABLES and FOR
-- TABLES IN SCHEMA one per publication (no fix: DROP PUBLICATION is not
-- offered blindly).  Tables of schema tenant_rls (the audit log, the grants,
-- the registry) make it an error.  Unlogged and temporary tables are never
-- published.
SELECT 'publication_includes_tenant_table', CASE WHEN x.ext THEN 'error' ELSE 'warning' END,
       format('%I ON %s', x.pubname, x.qname), 'publication',
       format('Publication %I includes %s %s.', x.pubname,
              CASE WHEN x.ext THEN 'table' ELSE 'tenant table' END, x.qname),
       'Logical replication does not apply row-level security: every subscriber of the publication receives every tenant''s rows of this table'
       || CASE WHEN x.ext THEN ' (a table of tenant_rls: the audit log, the cross-tenant grants, the registry)' ELSE '' END
       || '. Drop the table from the publication; if the subscriber is an intended replica of all tenants (a reporting copy under the same protection), accept the finding with tenant_rls.accept_finding().',
       format('ALTER PUBLICATION %I DROP TABLE %s;', x.pubname, x.qname), CASE WHEN NOT x.ext THEN x.relid END
  FROM (SELECT p.pubname, t.relid, t.qname, t.ext
          FROM pg_publication_rel pr
          JOIN pg_publication p ON p.oid = pr.prpubid
          JOIN pubtabs t ON t.relid = pr.prrelid) x
UNION ALL
SELECT 'publication_includes_tenant_table', CASE WHEN bool_or(x.ext) THEN 'error' ELSE 'warning' END,
       quote_ident(x.pubname), 'publication',
       format('Publication %I (%s) includes %s tenant table(s)%s.', x.pubname,
              CASE WHEN x.alltables THEN 'FOR ALL TABLES' ELSE 'FOR TABLES IN SCHEMA' END,
              count(*) FILTER (WHERE NOT x.ext),
              CASE WHEN bool_or(x.ext) THEN format(' and %s table(s) of tenant_rls', count(*) FILTER (WHERE x.ext)) ELSE '' END),
       format('Logical replication does not apply row-level security: every subscriber of the publication receives every tenant''s rows of these tables%s. Tables: %s%s. A publication FOR ALL TABLES or FOR TABLES IN SCHEMA cannot leave single tables out: recreate it FOR TABLE with the tables that hold no tenant rows (DROP PUBLICATION %I; CREATE PUBLICATION %I FOR TABLE ...;), which is not done for you, as dropping the publication breaks its subscribers. If the subscriber is an intended replica of all tenants, accept the finding with tenant_rls.accept_finding().',
              CASE WHEN bool_or(x.ext) THEN ' (tables of tenant_rls too: the audit log, the cross-tenant grants, the registry)' ELSE '' END,
              array_to_string((array_agg(x.qname ORDER BY x.qname))[1:10], ', '),
              CASE WHEN count(*) > 10 THEN format(' and %s more', count(*) - 10) ELSE '' END,
              x.pubname, x.pubname),
       NULL, NULL::oid
  FROM (SELECT p.pubname, true AS alltables, t.qname, t.ext
          FROM pg_publication p CROSS JOIN pubtabs t WHERE p.puballtables
        UNION ALL
        SELECT p.pubname, false, t.qname, t.ext
          FROM pg_publication_namespace pn
          JOIN pg_publication p ON p.oid = pn.pnpubid
          JOIN pubtabs t ON t.nspoid = pn.pnnspid) x
 GROUP BY x.pubname, x.alltables
UNION ALL
-- subscriptions of this database: the apply worker runs with
-- session_replication_role = replica, so audit triggers that are not ENABLE
-- ALWAYS do not fire on what it applies (the tables it writes: those of
-- pg_subscription_rel and their partitions)
SELECT 'subscription_audit_not_always', 'warning', x.qname, 'table',
       format('Table %s is replicated into by a subscription and its audit trigger(s) %s %s not ENABLE ALWAYS.',
              x.qname, x.names, CASE WHEN x.n = 1 THEN 'is' ELSE 'are' END),
       'The apply worker of a subscription runs with session_replication_role = replica: triggers that are only ENABLEd do not fire for the changes it applies, so they reach the table without being recorded in the audit log (and ENABLE REPLICA ones do not fire for the table''s other writers). tenant_rls.enable_audit() keeps an ENABLE ALWAYS state when it re-creates the triggers.',
       x.fix, x.relid
  FROM (SELECT tg.tgrelid AS relid,
               (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tg.tgrelid) AS qname,
               count(*) AS n,
               string_agg(quote_ident(tg.tgname), ', ' ORDER BY tg.tgname) AS names,
               string_agg(format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I;', tg.tgrelid::regclass, tg.tgname), ' '
                          ORDER BY tg.tgname) AS fix
          FROM pg_trigger tg
          JOIN subrels s ON s.relid = tg.tgrelid
         WHERE tg.tgfoid = (SELECT p.oid FROM pg_proc p
                             WHERE p.pronamespace = 'tenant_rls'::regnamespace
                               AND p.proname = 'audit_trigger' AND p.pronargs = 0)
           AND tg.tgenabled <> 'A'
         GROUP BY tg.tgrelid) x
UNION ALL
-- ... and a subscription whose owner row-level security binds: the PG15
-- apply worker refuses to write into a table with RLS enabled
SELECT 'subscription_owner_subject_to_rls', 'error', quote_ident(x.subname), 'subscription',
       format('Subscription %I is owned by %I, which is neither a superuser nor BYPASSRLS, and replicates into %s table(s) with row-level security.',
              x.subname, x.owner, x.n),
       format('The apply worker of PostgreSQL 15 runs as the subscription''s owner and stops on the first change to a table with row-level security ("cannot replicate into relation with row-level security enabled"), then retries for ever: nothing is replicated any more, and the publisher''s slot retains WAL. Tables: %s. Give the subscription to a superuser (only a superuser may own one; this owner lost it).', x.tables),
       format('ALTER SUBSCRIPTION %I OWNER TO %I;', x.subname, (SELECT r.rolname FROM pg_roles r WHERE r.oid = 10)),
       NULL::oid
  FROM (SELECT s.subname, o.rolname AS owner, count(*) AS n,
               string_agg(format('%s', c.oid::regclass), ', ' ORDER BY c.oid::regclass::text) AS tables
          FROM pg_subscription s
          JOIN pg_roles o ON o.oid = s.subowner
          JOIN pg_subscription_rel sr ON sr.srsubid = s.oid
          JOIN pg_class c ON c.oid = sr.srrelid
         WHERE s.subdbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
           AND NOT o.rolsuper AND NOT o.rolbypassrls AND c.relrowsecurity
         GROUP BY s.subname, o.rolname) x
UNION ALL
-- a walsender whose role lost REPLICATION (ALTER ROLE ... NOREPLICATION
-- ends no connection): it keeps streaming
SELECT 'walsender_without_replication', 'error', quote_ident(r.rolname), 'role',
       -- (the count and process ids in the detail: an acceptance is bound
       -- to the message)
       format('Role %s has replication connections (walsender) but no longer has REPLICATION.',
              quote_ident(r.rolname)),
       format('ALTER ROLE ... NOREPLICATION is checked when a replication connection starts; the ones the role already has keep streaming every tenant''s rows (%s connection(s), process ids %s). Terminate them.',
              count(*), string_agg(a.pid::text, ', ' ORDER BY a.pid)),
       format('SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = %L AND backend_type = ''walsender'';', r.rolname),
       NULL::oid
  FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
 WHERE a.backend_type = 'walsender' AND NOT r.rolreplication AND NOT r.rolsuper
 GROUP BY r.rolname
UNION ALL
-- an UNLOGGED tenant table: emptied by a crash, absent on standbys
SELECT 'tenant_table_unlogged', 'warning', t.qname, 'table',
       format('Tenant table %s is UNLOGGED.', t.qname),
       'An unlogged table is emptied after a crash while the audit log keeps the changes of its rows (audit_history() shows rows that no longer exist), a standby does not have its rows (a failover loses every tenant''s rows of it), and publications do not replicate it.'
       || CASE WHEN f.cycle
               THEN ' Its foreign keys reach a cycle of unlogged tables, which SET LOGGED refuses in any order: drop one of the keys, set the tables logged, and add the key back.'
               ELSE '' END,
       CASE WHEN NOT f.cycle THEN f.sql END,
       t.relid
  FROM ten t JOIN pg_class c ON c.oid = t.relid
  -- the unlogged tables it references first, the farthest first: SET LOGGED
  -- refuses a table that references an unlogged one, and run in the
  -- report's order (by name) the fixes failed (review rev46d); SET LOGGED of
  -- a table already logged does nothing.  No fix through a cycle of
  -- unlogged tables (review rev47e: each fix set the other logged first,
  -- which failed); a table's key to itself is no cycle (SET LOGGED skips it)
  CROSS JOIN LATERAL (
       SELECT coalesce(bool_or(r.cycle), false) AS cycle,
              string_agg(format('ALTER TABLE %s SET LOGGED;', r.q), ' ' ORDER BY r.depth DESC, r.q)
                  FILTER (WHERE NOT r.cycle) AS sql
         FROM (SELECT u.q, max(u.depth) AS depth, bool_or(u.cycle) AS cycle
                 FROM (WITH RECURSIVE refs(relid, depth, path, cycle) AS (
                           SELECT t.relid, 0, ARRAY[t.relid], false
                           UNION ALL
                           SELECT co.confrelid, refs.depth + 1, refs.path || co.confrelid,
                                  co.confrelid = ANY (refs.path)
                             FROM refs
                             JOIN pg_constraint co ON co.conrelid = refs.relid AND co.contype = 'f'
                             JOIN pg_class rc ON rc.oid = co.confrelid AND rc.relpersistence = 'u'
                            WHERE NOT refs.cycle AND co.confrelid <> refs.relid AND refs.depth < 100)
                       SELECT format('%I.%I', rn.nspname, rc.relname) AS q, refs.depth, refs.cycle
                         FROM refs JOIN pg_class rc ON rc.oid = refs.relid
                         JOIN pg_namespace rn ON rn.oid = rc.relnamespace) u
                GROUP BY u.q) r) f
 WHERE c.relpersistence = 'u'
UNION ALL
-- the log's partition of this month or the next missing while some table is
-- audited (not on a standby: nothing writes there)
SELECT 'audit_partition_missing', 'warning', format('tenant_rls.%I', m.part), 'table',
       format('The audit log has no partition for %s (UTC): %s',
              m.month,
              CASE WHEN m.squatted
                   THEN format('table tenant_rls.%I exists but is not a partition of the log (detached?), so audit_maintain() does not create it; batches of that month go to tenant_rls.audit_batch_default.', m.part)
                   WHEN m.renamed IS NOT NULL
                   THEN format('batches of that month go to tenant_rls.audit_batch_default; partition %s of the log covers that month but does not have the name audit_batch_pYYYYMM the writers look for (renamed?), so audit_maintain() cannot create it: rename it back.', m.renamed)
                   WHEN m.in_default > 0
                   THEN format('%s batch(es) of that month are in tenant_rls.audit_batch_default; audit_maintain() moves them into the partition when it creates it.', m.in_default)
                   WHEN m.offset_months = 0 THEN 'batches of this month go to tenant_rls.audit_batch_default.'
                   ELSE 'batches of that month will go to tenant_rls.audit_batch_default.' END),
       'A writer that finds the next month''s partition missing starts a background worker that runs tenant_rls.audit_maintain() (unless tenant_rls.audit_maintain_worker is off); the server log says why it did not create the partition (the log in use for 10 seconds by a long transaction that read it, no free worker slot, a table of the partition''s name that is not a partition). Batches in the default partition are verified like the others, but audit_purge() deletes them row by row instead of dropping whole months. Run the fix as the owner of the extension, or schedule it (doc/audit.md).',
       CASE WHEN NOT m.squatted AND m.renamed IS NULL THEN 'SELECT tenant_rls.audit_maintain();' END,
       NULL::oid
  FROM (SELECT o.offset_months, to_char(o.lo, 'YYYY-MM') AS month, 'audit_batch_p' || to_char(o.lo, 'YYYYMM') AS part,
               EXISTS (SELECT FROM pg_class k WHERE k.relnamespace = 'tenant_rls'::regnamespace
                          AND k.relname = 'audit_batch_p' || to_char(o.lo, 'YYYYMM')) AS squatted,
               (SELECT string_agg(i.inhrelid::regclass::text, ', ' ORDER BY i.inhrelid::regclass::text)
                  FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid
                 CROSS JOIN LATERAL (SELECT substring(pg_get_expr(k.relpartbound, k.oid) FROM 'FROM \(''([^'']*)''\)') AS f,
                                            substring(pg_get_expr(k.relpartbound, k.oid) FROM 'TO \(''([^'']*)''\)') AS t) b
                 WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass
                   AND k.relname !~ '^audit_batch_p[0-9]{6}$' AND k.relname <> 'audit_batch_default'
                   -- its range covers the month (bounds are timestamptz literals)
                   AND b.f::timestamptz <= (o.lo AT TIME ZONE 'UTC') AND b.t::timestamptz > (o.lo AT TIME ZONE 'UTC')) AS renamed,
               (SELECT count(*) FROM tenant_rls.audit_batch_default d
                 WHERE d.logged_at >= (o.lo AT TIME ZONE 'UTC')
                   AND d.logged_at < ((o.lo + interval '1 month') AT TIME ZONE 'UTC')) AS in_default
          FROM (SELECT g.i AS offset_months,
                       date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => g.i) AS lo
                  FROM generate_series(0, 1) g(i)) o) m
 WHERE NOT pg_is_in_recovery()
   AND EXISTS (SELECT FROM tenant_rls.audit_config)
   AND NOT EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass
                      AND c.relnamespace = 'tenant_rls'::regnamespace AND c.relname = m.part)
UNION ALL
-- tenant_rls.audit_delivery = deferred stored for a role or database that
-- applies here, or in the configuration files, while deferred delivery does
-- not run in this database: commits write immediately (not on a standby:
-- nothing writes there)
SELECT 'audit_delivery_inactive', 'warning', d.object, 'setting',
       format('%s sets tenant_rls.audit_delivery = deferred%s, but deferred delivery is not running in database %I.',
              d.who, coalesce(' (' || d.place || ')', ''), current_database()),
       'Audited changes are then written to the log in the committing transaction, as with immediate, at the full cost of a log row, its index entry and the chain head per commit. Deferring needs tenant_rls in shared_preload_libraries and SELECT tenant_rls.audit_delivery_start() in the database (doc/audit.md, Deferred delivery). '
       || CASE WHEN ds.delivery = 'immediate'
               THEN 'Run the fix in this database as a superuser or a role with REPLICATION'
               ELSE 'tenant_rls is not in shared_preload_libraries: add it, restart the server, then run SELECT tenant_rls.audit_delivery_start() in this database' END
       || format(', or, if immediate delivery is what you want, %s.', d.undo),
       CASE WHEN ds.delivery = 'immediate' THEN 'SELECT tenant_rls.audit_delivery_start();' END,
       NULL::oid
  FROM (SELECT r.object, r.stmt AS who, NULL AS place, r.stmt || ' RESET tenant_rls.audit_delivery' AS undo
          FROM roledef r
         WHERE r.name = 'tenant_rls.audit_delivery'
           AND lower(btrim(substr(r.c, strpos(r.c, '=') + 1), ' ''"')) = 'deferred'
           AND (r.setdatabase = 0
                OR r.setdatabase = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
        UNION ALL
        SELECT fd.object, fd.who, fd.place,
               CASE WHEN fd.auto THEN 'ALTER SYSTEM RESET tenant_rls.audit_delivery (then SELECT pg_reload_conf())'
                    ELSE 'remove the line from the file and reload' END
          FROM filedef fd
         WHERE fd.name = 'tenant_rls.audit_delivery' AND fd.setting = 'deferred') d
 CROSS JOIN tenant_rls.audit_delivery_status() ds
 WHERE ds.delivery <> 'deferred' AND NOT pg_is_in_recovery()
UNION ALL
-- the replication slot of this database's deferred delivery without a worker
-- reading it: WAL is retained, nothing is delivered
SELECT 'audit_delivery_stalled', 'warning', quote_ident(sl.slot_name), 'replication slot',
       format('Replication slot %I of deferred audit delivery %s.', sl.slot_name,
              CASE WHEN ds.delivery LIKE 'unavailable%'
                   THEN 'exists, but tenant_rls is not in shared_preload_libraries: no worker delivers from it'
                   WHEN ds.delivery = 'immediate (delivery failing)'
                   THEN 'is not delivered from: its delivery worker failed three times in a row (the writers of this database write immediately meanwhile)'
                   WHEN NOT ds.worker_running THEN 'has no delivery worker running'
                   ELSE 'is not in use by its delivery worker' END),
       'The slot keeps the WAL from the oldest audited change not yet delivered'
       || coalesce(format(' (%s so far)', pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), sl.restart_lsn))), '')
       || ', so pg_wal grows until the disk is full, and the changes committed since are not in the audit log (audit_history() and audit_verify() do not see them) until a worker delivers them. '
       || CASE WHEN sl.wal_status = 'lost'
               THEN 'The slot has lost WAL (max_slot_wal_keep_size): changes committed before that point never reach the log. ' ELSE '' END
       || CASE WHEN ds.delivery LIKE 'unavailable%'
               THEN 'Add tenant_rls to shared_preload_libraries and restart the server: the worker then delivers what the slot holds; call SELECT tenant_rls.audit_delivery_stop() afterwards to stop deferring.'
               WHEN ds.delivery = 'immediate (delivery failing)'
               THEN 'The server log says why the worker fails: a transaction that holds the audit chain of a tenant (a prepared transaction, or an open one that wrote audit entries immediately) names its lock; end it. The fix then delivers what the slot holds and drops the slot (immediate delivery); SELECT tenant_rls.audit_delivery_start() instead defers again.'
               ELSE 'The launcher starts a worker within seconds: if none runs, the server log says why (an error of the worker, or max_worker_processes too low: raise it and restart). The fix delivers what the slot holds (it needs a running worker) and drops the slot, switching this database back to immediate delivery.' END,
       CASE WHEN ds.delivery NOT LIKE 'unavailable%' THEN 'SELECT tenant_rls.audit_delivery_stop();' END,
       NULL::oid
  FROM pg_replication_slots sl
 CROSS JOIN tenant_rls.audit_delivery_status() ds
 WHERE sl.slot_type = 'physical' AND NOT pg_is_in_recovery()
   AND sl.slot_name = 'tenant_rls_audit_' || (SELECT db.oid FROM pg_database db WHERE db.datname = current_database())
   -- (a temporary slot: an audit_delivery_start() that has not committed)
   AND NOT sl.temporary
   AND (NOT ds.worker_running OR NOT sl.active OR ds.delivery = 'immediate (delivery failing)')
UNION ALL
-- an open (or prepared) transaction whose deferred messages the worker
-- keeps: the slot keeps the WAL from its first audited change until it ends
SELECT 'audit_delivery_held', 'warning', format('transaction %s', ds.oldest_pending_xid), 'transaction',
       format('Transaction %s%s wrote deferred audit messages %s ago and has not ended: the slot of deferred delivery keeps the WAL from its first audited change.',
              ds.oldest_pending_xid,
              CASE WHEN px.gid IS NOT NULL THEN format(' (prepared transaction %L)', px.gid)
                   WHEN lk.pid IS NOT NULL THEN format(' (the session of process %s)', lk.pid) ELSE '' END,
              date_trunc('second', now() - ds.oldest_pending_since)),
       format('pg_wal keeps %s for it so far and grows until it commits or rolls back; audit_delivery_stop() waits for it. %s',
              pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), sl.restart_lsn)),
              CASE WHEN px.gid IS NOT NULL THEN format('End it with COMMIT PREPARED %L or ROLLBACK PREPARED %L.', px.gid, px.gid)
                   WHEN lk.pid IS NOT NULL THEN format('Have the application end it, or SELECT pg_terminate_backend(%s).', lk.pid)
                   ELSE 'pg_locks (locktype transactionid) shows who holds it.' END),
       NULL, NULL::oid
  FROM tenant_rls.audit_delivery_status() ds
  JOIN pg_replication_slots sl ON sl.slot_name = ds.slot_name
  LEFT JOIN pg_prepared_xacts px ON px.transaction = ds.oldest_pending_xid
  LEFT JOIN pg_locks lk ON lk.locktype = 'transactionid' AND lk.transactionid = ds.oldest_pending_xid
                        AND lk.granted AND lk.mode = 'ExclusiveLock' AND lk.pid IS NOT NULL
 WHERE ds.oldest_pending_xid IS NOT NULL AND NOT pg_is_in_recovery()
   AND (ds.oldest_pending_since < now() - interval '5 minutes'
        OR pg_wal_lsn_diff(pg_current_wal_lsn(), sl.restart_lsn) > 64 * 1024 * 1024)
UNION ALL
-- delivery was started here (audit_delivery_state, replicated and backed up
-- with the database) but the slot is not (slots are neither)
SELECT 'audit_delivery_lost', 'error', quote_ident('tenant_rls_audit_' || db.oid), 'replication slot',
       format('Deferred audit delivery was started in database %I, but its replication slot %I is not there.',
              current_database(), 'tenant_rls_audit_' || db.oid),
       format('A failover to a standby, a restored base backup, a copy made with CREATE DATABASE ... TEMPLATE or pg_drop_replication_slot() leaves no slot behind: changes committed after %s that were not delivered then are not in the audit log, and this database''s writers now write immediately. After a promotion the server resumes delivery by itself where that loses nothing (the WAL from where the lost slot stood is in pg_wal, the key is the old primary''s); its server log says why it did not here. ', st.applied_lsn)
       || 'The fix creates the slot and, if the WAL from where the lost slot stood is still in pg_wal, delivers those changes from it (it says so; otherwise it warns that they are lost) and defers again; SELECT tenant_rls.audit_delivery_stop() instead acknowledges the loss and stays with immediate delivery.',
       'SELECT tenant_rls.audit_delivery_start();',
       NULL::oid
  FROM tenant_rls.audit_delivery_state st
 CROSS JOIN pg_database db
 WHERE st.started AND db.datname = current_database() AND NOT pg_is_in_recovery()
   AND NOT EXISTS (SELECT 1 FROM pg_replication_slots sl
                    WHERE sl.slot_name = 'tenant_rls_audit_' || db.oid AND sl.slot_type = 'physical')
UNION ALL
-- the key this server would check the messages with is not the one they
-- are signed with (review rev49a: a standby with a key of its own rejected
-- its primary's undelivered messages after a failover, silently)
SELECT 'audit_delivery_key_mismatch', 'error', 'tenant_rls_audit.key', 'file',
       CASE WHEN pg_is_in_recovery()
            THEN format('This standby''s deferred audit delivery key is not the key of the server where delivery of database %I was started.', current_database())
            ELSE format('This server''s deferred audit delivery key is not the key deferred delivery of database %I was started with.', current_database()) END,
       CASE WHEN pg_is_in_recovery()
            THEN 'After a failover to this standby, the changes committed on the primary and not delivered yet are rejected as forged (the server log says so; audit_delivery_status() counts them) and never reach the audit log. Stop this standby, copy $PGDATA/tenant_rls_audit.key from the primary into its data directory (owner postgres, mode 0600) and start it again.'
            ELSE 'The key file $PGDATA/tenant_rls_audit.key was replaced or lost and created anew (or this server was promoted with a key of its own): messages signed with the old key and not delivered yet are rejected as forged. Put the old key file back and restart if you have it; the fix records this server''s key, and messages written from now on are delivered.' END,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE 'SELECT tenant_rls.audit_delivery_start();' END,
       NULL::oid
  FROM tenant_rls.audit_delivery_state st
 CROSS JOIN LATERAL (SELECT tenant_rls._audit_delivery_key_id() AS key_id) k
 WHERE st.started AND st.key_id IS NOT NULL AND k.key_id IS NOT NULL AND k.key_id <> st.key_id
UNION ALL
-- a standby whose pg_wal no longer holds the WAL from where its primary's
-- deferred delivery reads (audit_delivery_state.restart_lsn): the slot that
-- keeps it is the primary's, nothing keeps it here, and restartpoints remove
-- it, and so does the checkpoint at the end of a promotion (down to
-- wal_keep_size before the promotion's segment), before anything can make a
-- slot there.  A failover then loses the changes the primary committed and had not
-- delivered (review rev50d: audit_delivery_start() on the promoted standby
-- warned that they were gone, and nothing had said so before)
SELECT 'audit_delivery_wal_missing', 'error', 'pg_wal', 'file',
       CASE WHEN w.present < w.needed
            THEN format('This standby no longer holds the WAL from %s, where deferred audit delivery of database %I on the primary reads from: %s of the %s WAL segments from there to the replay position are gone.',
                        st.restart_lsn, current_database(), w.needed - w.present, w.needed)
            ELSE format('This standby holds the WAL from %s, where deferred audit delivery of database %I on the primary reads from, but a promotion would remove it: the checkpoint at the end of recovery keeps %s WAL segment(s) before the replay position (wal_keep_size = %s), and %s are needed.',
                        st.restart_lsn, current_database(), w.keep_segs, current_setting('wal_keep_size'), w.needed - 1) END,
       'The replication slot of deferred delivery keeps that WAL on the primary only; on a standby, restartpoints remove it like any other, and so does the checkpoint at the end of a promotion, down to wal_keep_size before the position it was promoted at. '
       || 'After a failover to this standby, the changes the primary committed and had not delivered yet (its worker stalled or behind, or a transaction whose audited changes began before the oldest WAL here) cannot be delivered: delivery does not resume by itself, the server log warns that they are lost, and audit_verify() cannot see entries that were never written. '
       || 'On the primary, find why delivery is behind (audit_delivery_status(); lint() there reports audit_delivery_stalled or audit_delivery_held) and SELECT tenant_rls.audit_delivery_wait(); on this standby, set wal_keep_size (then SELECT pg_reload_conf()) above the WAL that delivery may lag behind. '
       || 'The finding goes once the primary''s delivery has moved on and that is replayed here.',
       NULL, NULL::oid
  FROM tenant_rls.audit_delivery_state st
 CROSS JOIN LATERAL (
       SELECT s.first_seg, s.last_seg, s.last_seg - s.first_seg + 1 AS needed, s.keep_segs,
              -- (NULL without the privilege to list pg_wal: no finding)
              tenant_rls._wal_segments_present(s.first_seg, s.last_seg, s.seg_size) AS present
         FROM (SELECT z.seg_size,
                      floor(pg_wal_lsn_diff(st.restart_lsn, '0/0') / z.seg_size)::bigint AS first_seg,
                      floor(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0') / z.seg_size)::bigint AS last_seg,
                      -- (what the checkpoint of a promotion keeps before its own segment: KeepLogSeg())
                      (SELECT floor(setting::numeric * 1048576 / z.seg_size)::bigint
                         FROM pg_settings WHERE name = 'wal_keep_size') AS keep_segs
                 FROM (SELECT setting::bigint AS seg_size FROM pg_settings WHERE name = 'wal_segment_size') z) s) w
 WHERE pg_is_in_recovery() AND st.started AND st.restart_lsn IS NOT NULL
   AND pg_last_wal_replay_lsn() IS NOT NULL
   -- (a copy made with CREATE DATABASE ... TEMPLATE resumes nothing)
   AND (st.started_in IS NULL
        OR st.started_in = (SELECT db.oid FROM pg_database db WHERE db.datname = current_database()))
   -- (gone, or gone with the checkpoint of a promotion, review rev51d: it
   -- recycles what the last restartpoint kept, before any session can run)
   AND (w.present < w.needed OR w.first_seg < w.last_seg - w.keep_segs)
UNION ALL
SELECT 'strict_mode_off', 'warning', 'tenant_rls.strict', 'setting',
       'tenant_rls strict mode is not in force.',
       'Without it any session, or any SQL injection, can SET app.current_tenant_id to another tenant'
       || coalesce(' (' || s.reason || ')', '') || '.'
       || CASE WHEN s.preloaded
               THEN ' Set tenant_rls.strict = on (ALTER SYSTEM SET tenant_rls.strict = on, then SELECT pg_reload_conf()), and RESET a stored off (weakened_setting_default names it).'
               WHEN s.strict_setting THEN ''
               ELSE ' Add tenant_rls to shared_preload_libraries (session_preload_libraries is enough), set tenant_rls.strict = on and restart.' END,
       NULL, NULL::oid
  FROM tenant_rls.strict_status() s
 WHERE NOT s.in_force
UNION ALL
SELECT 'managed_schema_missing', 'warning', m.name, 'setting',
       format('tenant_rls.managed_schemas names %s, but no schema has that name.', quote_ident(m.name)),
       'Tables of the schema it was meant to name are not protected automatically'
       || coalesce(' (schema ' || (SELECT string_agg(quote_ident(n.nspname), ', ' ORDER BY n.nspname)
                                     FROM pg_namespace n WHERE lower(n.nspname) = lower(m.name))
                   || ' exists: a mixed-case name needs double quotes in the list, as in ''public, "Sales"'')', '')
       || '. Correct the setting where it is stored (ALTER DATABASE ... SET tenant_rls.managed_schemas, ALTER SYSTEM or the configuration file), or create the schema.',
       NULL, NULL::oid
  FROM tenant_rls._coverage_config() c CROSS JOIN LATERAL unnest(c.managed_schemas) AS m(name)
 WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = m.name)
UNION ALL
-- a reserved schema named in the setting, which is left out (review rev47d)
SELECT 'managed_schema_missing', 'warning', m.name, 'setting',
       format('tenant_rls.managed_schemas names %s, a reserved schema, which is left out.', quote_ident(m.name)),
       'The tables of pg_catalog, information_schema, the other pg_ schemas and tenant_rls are not tenant tables: tenant_rls neither protects nor reports them. Take the name out of the setting where it is stored (ALTER DATABASE ... SET tenant_rls.managed_schemas, ALTER SYSTEM or the configuration file).',
       NULL, NULL::oid
  FROM tenant_rls._coverage_config() c CROSS JOIN LATERAL unnest(c.managed_schemas) AS m(name)
 WHERE EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = m.name)
   AND (starts_with(m.name, 'pg_') OR m.name IN ('information_schema', 'tenant_rls'))
UNION ALL
SELECT 'server_version_cve', 'error', 'server', 'server',
       format('PostgreSQL %s has known row-security vulnerabilities.', current_setting('server_version')),
       tenant_rls._server_version_cve(current_setting('server_version_num')::integer)
       || ' Install the latest minor release (binaries only, no dump needed).',
       NULL, NULL::oid
 WHERE tenant_rls._server_version_cve(current_setting('server_version_num')::integer) IS NOT NULL
UNION ALL
-- (review rev49c: a table with a foreign key to the table of tenants or to
-- a tenant table holds tenant rows; an error when roles other than its
-- owner may read it, and mark_global() is not offered for it)
SELECT 'table_without_tenant_column',
       CASE WHEN n.relid IS NOT NULL AND rd.who IS NOT NULL THEN 'error' ELSE 'warning' END, t.qname, 'table',
       format('Table %s in a managed schema has no tenant column %I and is not marked global.', t.qname, t.tenant_column)
       || CASE WHEN n.dircol IS NOT NULL
               THEN format(' Its column %I references the table the tenant columns reference: it holds tenant rows.', n.dircol)
               WHEN n.relid IS NOT NULL
               THEN format(' It references tenant table %s: it holds tenant rows.', n.parent)
               ELSE '' END
       -- (review rev50e) who reads it, in the message: an acceptance (its
       -- fingerprint; the detail offers one for a table only service roles
       -- read) does not cover a reader granted afterwards
       || CASE WHEN n.relid IS NOT NULL AND rd.who IS NOT NULL THEN format(' Read by %s.', rd.who) ELSE '' END,
       CASE WHEN n.relid IS NULL
            THEN 'Decide: if its rows belong to tenants, add the tenant column and protect it; if they are shared reference data, mark it global with tenant_rls.mark_global().'
            ELSE CASE WHEN rd.who IS NOT NULL
                      THEN format('Roles other than its owner may read it: %s; each of their tenants reads every tenant''s rows there. ', rd.who)
                      ELSE 'No role other than its owner (and superusers) may read it now; a grant of SELECT on it would open every tenant''s rows. ' END
                 || CASE WHEN n.dircol IS NOT NULL
                         THEN format('Protect it by that column: SELECT tenant_rls.protect(%L, tenant_column => %L);',
                                     t.qname, n.dircol)
                         ELSE format('Give it the tenant column (ALTER TABLE %s ADD COLUMN %I ...; fill it from %s), pair its foreign key with the tenant column and protect it.',
                                     t.qname, t.tenant_column, n.parent) END
                 -- (review rev50a: the fix broke a service that reads across tenants)
                 || CASE WHEN rd.who IS NOT NULL
                         THEN format(' Protected, the table shows a role the rows of the tenant it sets, or none (unless it is a member of tenant_rls.admin_role): if the roles named read it across tenants on purpose (a service role''s reports or exports) and no tenant''s session reads it, accept the finding instead: SELECT tenant_rls.accept_finding(''table_without_tenant_column'', %L, ''read by the service role only'');',
                                     t.qname)
                         ELSE '' END END,
       NULL, t.relid
  FROM tt t LEFT JOIN extrels e ON e.objid = t.relid
  LEFT JOIN ntrow n ON n.relid = t.relid
  LEFT JOIN readers rd ON rd.relid = t.relid
 WHERE t.in_managed_schema AND t.status = 'unprotected' AND t.tenant_attnum IS NULL
   AND t.parent_relid IS NULL AND e.objid IS NULL
UNION ALL
-- a column holding whole rows of a tenant table, in a table tenant_rls does
-- not protect (a snapshot or archive of rows): row-level security cannot see
-- the tenant inside the value
SELECT 'tenant_row_type_column', 'error', x.qname, 'table',
       format('Column %I of %s holds rows of tenant table %s (type %s).', x.attname, x.qname,
              x.tname, format_type(x.atttypid, x.atttypmod)),
       format('Row-level security filters a table by its own columns: whoever can read %s reads the stored rows of every tenant, tenant column and all. Give it a tenant column of its own (ALTER TABLE ... ADD COLUMN, then UPDATE ... SET tenant_id = (%I).tenant_id) and protect it, or grant no privilege on it to tenant roles; marking it global does not help.',
              x.qname, x.attname),
       NULL, x.relid
  FROM (SELECT c.oid AS relid, format('%I.%I', n.nspname, c.relname) AS qname, u.attname, u.atttypid, u.atttypmod,
               (SELECT format('%I.%I', tn.nspname, tc.relname) FROM pg_class tc
                  JOIN pg_namespace tn ON tn.oid = tc.relnamespace WHERE tc.oid = h.trelid) AS tname
          FROM ucol u
          JOIN (SELECT r.typid, min(r.trelid) AS trelid FROM rowtype r GROUP BY r.typid) h ON h.typid = u.atttypid
          JOIN pg_class c ON c.oid = u.attrelid AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN tt ON tt.relid = c.oid
         WHERE coalesce(tt.status, 'unprotected') <> 'protected'
           AND n.nspname !~ '^pg_' AND c.oid >= 16384
           AND c.oid NOT IN (SELECT e.objid FROM extrels e)
        OFFSET 0) x
UNION ALL
SELECT 'global_table_has_tenant_column', 'warning', t.qname, 'table',
       format('Table %s is marked global but has the tenant column %I.', t.qname, t.tenant_column),
       'Every tenant reads and changes every row of a global table, and a tenant column says its rows belong to tenants '
       || '(unprotect() followed by mark_global() leaves a table of tenant rows like this; so does a table of one row of '
       || 'settings or secrets per tenant). Decide: if the rows belong to tenants, unmark it with tenant_rls.unmark_global() '
       || 'and protect it; if they are shared, drop the column; if this is the table of tenants itself, whose rows every '
       || 'tenant may read, accept the finding (tenant_rls.accept_finding()).',
       NULL, t.relid
  FROM tt t LEFT JOIN extrels e ON e.objid = t.relid
  LEFT JOIN tt p ON p.relid = t.parent_relid
 WHERE t.status = 'global' AND t.tenant_attnum IS NOT NULL AND e.objid IS NULL
   -- a partition or child: unless its parent is reported for it (global
   -- itself) or it is hierarchy_mismatch (below a protected table); review
   -- rev46d: a global child of an unprotected parent had no finding
   AND (t.parent_relid IS NULL OR p.relid IS NULL OR p.status NOT IN ('global', 'protected'))
UNION ALL
SELECT 'registry_stale', 'warning', format('%I.%I', r.schema_name, r.table_name), 'table',
       format('The registry lists %I.%I, which does not exist.', r.schema_name, r.table_name),
       'The table was dropped or renamed while the event triggers were not active.',
       format('DELETE FROM tenant_rls.protected_table WHERE schema_name = %L AND table_name = %L;',
              r.schema_name, r.table_name), NULL::oid
  FROM tenant_rls.protected_table r
  LEFT JOIN tt ON tt.schema_name = r.schema_name AND tt.table_name = r.table_name
 WHERE tt.relid IS NULL
$$;
REVOKE ALL ON FUNCTION tenant_rls._findings() FROM PUBLIC;

-- ---- public interface

CREATE FUNCTION tenant_rls._level_rank(level text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT CASE lower(level) WHEN 'error' THEN 1 WHEN 'warning' THEN 2 WHEN 'info' THEN 3 END $$;

-- ---- what an acceptance is bound to
-- A fingerprint of one finding: its message (the privileges, the tables, the
-- roles it names) and, for a function, its owner, SECURITY DEFINER and body.
-- NULL for the codes whose message counts or times something that changes
-- on its own: their acceptance is bound to the level alone.
CREATE FUNCTION tenant_rls._finding_fingerprint(code text, object text, object_kind text, message text)
    RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
    SELECT CASE WHEN code IN ('audit_delivery_held', 'audit_delivery_stalled', 'audit_partition_missing',
                              'large_objects_present') THEN NULL
                -- the number of tables a role owns changes with every
                -- migration that creates one: an accepted migration role
                -- stays accepted, the kind of ownership (own, through a
                -- role, CREATEROLE, which schema) still binds (review rev49c)
                WHEN code = 'role_owns_tenant_table'
                -- (the count only: a number in a quoted role name, the
                -- schema owner's of "through ...", still binds)
                THEN md5(regexp_replace(coalesce(message, ''), '[0-9]+( tenant table\(s\)[^"]*)$', 'N\1'))
                ELSE md5(coalesce(message, '') || coalesce(
                         -- (the owner by name: a restore into a new cluster
                         -- gives the roles new OIDs, review rev40f)
                         (SELECT string_agg(md5(concat_ws(E'\x1f', pg_get_userbyid(p.proowner), p.prosecdef, p.prosrc,
                                                          CASE WHEN p.prosqlbody IS NOT NULL
                                                               THEN pg_get_function_sqlbody(p.oid) END,
                                                          p.proconfig::text)), ',')
                            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                           WHERE object_kind = 'function'
                             AND format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) = object),
                         '')) END
$$;
REVOKE ALL ON FUNCTION tenant_rls._finding_fingerprint(text, text, text, text) FROM PUBLIC;

-- Does an acceptance (its stored level and fingerprints) still cover this
-- finding?  Not when the level rose or the finding changed.  A row without a
-- level (written by hand with one) holds.
CREATE FUNCTION tenant_rls._acceptance_holds(acc_level text, acc_fingerprints text[],
                                             code text, level text, object text, object_kind text, message text)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT acc_level IS NULL
        OR (tenant_rls._level_rank(level) >= tenant_rls._level_rank(acc_level)
            AND (acc_fingerprints IS NULL
                 OR coalesce(tenant_rls._finding_fingerprint(code, object, object_kind, message) = ANY (acc_fingerprints),
                             true)))
$$;
REVOKE ALL ON FUNCTION tenant_rls._acceptance_holds(text, text[], text, text, text, text, text) FROM PUBLIC;

-- Binds an acceptance to the finding as the report shows it now: its level
-- and fingerprints, when they are not given (accept_finding() leaves them
-- NULL; a restore brings them along).  A finding that does not exist yet (a
-- migration will create it) is bound to its code's default level.
-- SECURITY DEFINER: the report reads the registry with the owner's rights;
-- who may write the row is decided by the privileges on the table.
CREATE FUNCTION tenant_rls._accepted_finding_bind() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.level IS NULL THEN
        SELECT (array_agg(f.level ORDER BY tenant_rls._level_rank(f.level)))[1],
               array_agg(DISTINCT tenant_rls._finding_fingerprint(f.code, f.object, f.object_kind, f.message))
          INTO NEW.level, NEW.fingerprints
          FROM tenant_rls._findings() f
         WHERE f.code = NEW.code AND f.object = NEW.object;
        IF NEW.level IS NULL THEN
            NEW.level := (SELECT c.level FROM tenant_rls.finding_codes() c WHERE c.code = NEW.code);
            NEW.fingerprints := NULL;
        ELSIF array_position(NEW.fingerprints, NULL) IS NOT NULL THEN
            NEW.fingerprints := NULL;   -- a code bound to its level alone
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER accepted_finding_bind BEFORE INSERT OR UPDATE ON tenant_rls.accepted_finding
    FOR EACH ROW EXECUTE FUNCTION tenant_rls._accepted_finding_bind();
REVOKE ALL ON FUNCTION tenant_rls._accepted_finding_bind() FROM PUBLIC;

-- Runs first (triggers fire in name order), as the role that writes the
-- row: one that is not a superuser (an auditor granted INSERT or UPDATE on
-- the table) records itself as accepted_by, now as accepted_at, and gets
-- the level and fingerprints accepted_finding_bind computes -- never values
-- of its own (an acceptance at level error with no fingerprints held
-- whatever the finding became).  A superuser's values stay (pg_restore of
-- the table's rows).
CREATE FUNCTION tenant_rls._accepted_finding_caller() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        NEW.accepted_by := CURRENT_USER;
        NEW.accepted_at := pg_catalog.now();
        NEW.level := NULL;
        NEW.fingerprints := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER accepted_finding_a_caller BEFORE INSERT OR UPDATE ON tenant_rls.accepted_finding
    FOR EACH ROW EXECUTE FUNCTION tenant_rls._accepted_finding_caller();
REVOKE ALL ON FUNCTION tenant_rls._accepted_finding_caller() FROM PUBLIC;


CREATE FUNCTION tenant_rls.lint()
    RETURNS TABLE(code text, level text, object text, message text, detail text, fix text, accepted boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT f.code, f.level, f.object, f.message,
           -- an acceptance that no longer holds: say so, it is not counted
           CASE WHEN f.acc_code IS NOT NULL AND NOT f.holds
                THEN concat_ws(' ', f.detail,
                               format('(Accepted on %s by %s at level %s: the finding has changed since, or its level rose. Check it, and accept it again if it is still fine.)',
                                      f.accepted_at::date, quote_ident(f.accepted_by), f.acc_level))
                ELSE f.detail END,
           -- (the extension's own objects are reported while its owner is
           -- not a superuser, extension_owner_not_superuser: not to be
           -- changed by a fix)
           CASE WHEN f.object_kind IN ('function', 'view', 'materialized view', 'table')
                     AND starts_with(f.object, 'tenant_rls.')
                     AND NOT (SELECT r.rolsuper FROM pg_extension x JOIN pg_roles r ON r.oid = x.extowner
                               WHERE x.extname = 'tenant_rls')
                THEN NULL ELSE f.fix END,
           coalesce(f.holds, false)
      -- (a join, and _acceptance_holds() only where there is an acceptance:
      -- a lookup per finding cost 30 ms on 31,000 findings)
      FROM (SELECT f.*, a.code AS acc_code, a.accepted_at, a.accepted_by, a.level AS acc_level,
                   a.code IS NOT NULL
                   AND tenant_rls._acceptance_holds(a.level, a.fingerprints, f.code, f.level, f.object,
                                                    f.object_kind, f.message) AS holds
              FROM tenant_rls._findings() f
              LEFT JOIN tenant_rls.accepted_finding a ON a.code = f.code AND a.object = f.object
            OFFSET 0) f
     -- (the order of _level_rank(), written out: a call per finding cost
     -- 40 ms on 31,000)
     ORDER BY CASE f.level WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, f.code, f.object
$$;
COMMENT ON FUNCTION tenant_rls.lint() IS
    'one row per way a tenant table can still leak: code, level, object, message, detail, the SQL that fixes it, and whether a DBA accepted it';

CREATE FUNCTION tenant_rls.coverage()
    RETURNS TABLE(table_name text, kind text, parent text, status text,
                  tenant_column name, tenant_type text,
                  rls_enabled boolean, rls_forced boolean, policies_ok boolean,
                  audit boolean, tenant_index boolean,
                  errors integer, warnings integer, infos integer, accepted integer,
                  exceptions text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
WITH tt AS MATERIALIZED (SELECT * FROM tenant_rls._tables()),
f AS (SELECT f.relid, f.code, f.level,
             a.code IS NOT NULL
             AND tenant_rls._acceptance_holds(a.level, a.fingerprints, f.code, f.level, f.object,
                                              f.object_kind, f.message) AS acc
        FROM tenant_rls._findings() f
        LEFT JOIN tenant_rls.accepted_finding a ON a.code = f.code AND a.object = f.object
       WHERE f.relid IS NOT NULL),
fc AS (SELECT f.relid,
              count(*) FILTER (WHERE f.level = 'error' AND NOT f.acc) AS e,
              count(*) FILTER (WHERE f.level = 'warning' AND NOT f.acc) AS w,
              count(*) FILTER (WHERE f.level = 'info' AND NOT f.acc) AS i,
              count(*) FILTER (WHERE f.acc) AS a,
              bool_or(f.code IN ('managed_policy_dropped', 'managed_policy_modified',
                                 'isolation_policy_missing')) AS pol_bad
         FROM f GROUP BY f.relid),
-- (as in _findings(): the trigger enable_audit() makes, firing)
aud AS (SELECT t.tgrelid, bool_or(t.tgenabled IN ('O', 'A') AND t.exact) AS fires
          FROM tenant_rls._audit_row_triggers() t
         GROUP BY t.tgrelid),
lead AS (SELECT DISTINCT i.indrelid, i.indkey[0] AS first FROM pg_index i WHERE i.indisvalid),
-- controlled exceptions (DESIGN P4), so they are visible in the report
gr AS (SELECT g.schema_name, g.table_name, count(*) AS n
         FROM tenant_rls.tenant_grant g
        WHERE g.valid_until IS NULL OR g.valid_until > now()
        GROUP BY g.schema_name, g.table_name),
adm AS (SELECT nullif(current_setting('tenant_rls.admin_role', true), '') AS role)
SELECT t.qname, t.kind, t.parent_qname,
       CASE WHEN t.status = 'unprotected' AND t.tenant_attnum IS NULL THEN 'no tenant column' ELSE t.status END,
       CASE WHEN t.tenant_attnum IS NOT NULL THEN t.tenant_column END, t.tenant_type,
       t.rls_enabled, t.rls_forced,
       CASE WHEN t.status = 'protected' THEN NOT coalesce(fc.pol_bad, false) END,
       coalesce(aud.fires, false),
       CASE WHEN t.tenant_attnum IS NOT NULL AND t.relkind <> 'f' THEN l.indrelid IS NOT NULL END,
       coalesce(fc.e, 0)::integer, coalesce(fc.w, 0)::integer, coalesce(fc.i, 0)::integer,
       coalesce(fc.a, 0)::integer,
       nullif(concat_ws(', ',
           CASE WHEN t.global_rows THEN 'rows without tenant readable by all' END,
           CASE WHEN t.status = 'protected' AND adm.role IS NOT NULL
                THEN format('admin role %s sees all tenants', adm.role) END,
           CASE WHEN gr.n > 0 THEN format('%s cross-tenant grant(s)', gr.n) END), '')
  FROM tt t
  CROSS JOIN adm
  LEFT JOIN gr ON gr.schema_name = t.schema_name AND gr.table_name = t.table_name
  LEFT JOIN fc ON fc.relid = t.relid
  LEFT JOIN aud ON aud.tgrelid = t.relid
  LEFT JOIN lead l ON l.indrelid = t.relid AND l.first = t.tenant_attnum
 ORDER BY t.schema_name, t.table_name
$$;
COMMENT ON FUNCTION tenant_rls.coverage() IS
    'one row per table of the managed schemas (and every partition or child): tenant column, RLS, FORCE, policies, audit, index, status and finding counts';

CREATE FUNCTION tenant_rls.lint_json() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
WITH f AS (SELECT f.*,
                  CASE WHEN a.code IS NOT NULL
                            AND tenant_rls._acceptance_holds(a.level, a.fingerprints, f.code, f.level, f.object,
                                                             f.object_kind, f.message) THEN a.reason END AS reason
             FROM tenant_rls._findings() f
             LEFT JOIN tenant_rls.accepted_finding a ON a.code = f.code AND a.object = f.object)
SELECT jsonb_build_object(
    'tool', 'tenant_rls',
    'version', tenant_rls.version(),
    'database', current_database(),
    'server_version', current_setting('server_version'),
    'generated_at', now(),
    'summary', jsonb_build_object(
        'error', count(*) FILTER (WHERE f.level = 'error' AND f.reason IS NULL),
        'warning', count(*) FILTER (WHERE f.level = 'warning' AND f.reason IS NULL),
        'info', count(*) FILTER (WHERE f.level = 'info' AND f.reason IS NULL),
        'accepted', count(*) FILTER (WHERE f.reason IS NOT NULL)),
    'findings', coalesce(jsonb_agg(jsonb_build_object(
        'code', f.code, 'level', f.level, 'object', f.object, 'object_kind', f.object_kind,
        'message', f.message, 'detail', f.detail, 'fix', f.fix,
        'accepted', f.reason IS NOT NULL, 'accepted_reason', f.reason)
        ORDER BY CASE f.level WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, f.code, f.object) FILTER (WHERE f.code IS NOT NULL),
        '[]'::jsonb))
  FROM f
$$;
COMMENT ON FUNCTION tenant_rls.lint_json() IS 'the findings of lint() as one JSON document with a summary';

CREATE FUNCTION tenant_rls.lint_sarif() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
WITH codes AS (SELECT c.*, (row_number() OVER (ORDER BY c.code) - 1)::integer AS idx
                 FROM tenant_rls.finding_codes() c),
f AS (SELECT f.*,
             CASE WHEN a.code IS NOT NULL
                       AND tenant_rls._acceptance_holds(a.level, a.fingerprints, f.code, f.level, f.object,
                                                        f.object_kind, f.message) THEN a.reason END AS reason
        FROM tenant_rls._findings() f
        LEFT JOIN tenant_rls.accepted_finding a ON a.code = f.code AND a.object = f.object)
SELECT jsonb_build_object(
    '$schema', 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    'version', '2.1.0',
    'runs', jsonb_build_array(jsonb_build_object(
        'tool', jsonb_build_object('driver', jsonb_build_object(
            'name', 'tenant_rls',
            'version', tenant_rls.version(),
            'rules', (SELECT jsonb_agg(jsonb_build_object(
                          'id', c.code,
                          'shortDescription', jsonb_build_object('text', c.title),
                          'fullDescription', jsonb_build_object('text', c.description),
                          'defaultConfiguration', jsonb_build_object(
                              'level', CASE c.level WHEN 'info' THEN 'note' ELSE c.level END))
                          ORDER BY c.idx)
                        FROM codes c))),
        'results', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'ruleId', f.code,
                       'ruleIndex', c.idx,
                       'level', CASE f.level WHEN 'info' THEN 'note' ELSE f.level END,
                       'message', jsonb_build_object('text', f.message),
                       'locations', jsonb_build_array(jsonb_build_object(
                           'logicalLocations', jsonb_build_array(jsonb_build_object(
                               'fullyQualifiedName', f.object,
                               'kind', f.object_kind)))),
                       'suppressions', CASE WHEN f.reason IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
                           'kind', 'external', 'status', 'accepted', 'justification', f.reason)) END,
                       'properties', jsonb_build_object('detail', f.detail, 'fix', f.fix)))
                       ORDER BY CASE f.level WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, f.code, f.object)
              FROM f JOIN codes c ON c.code = f.code), '[]'::jsonb)))
)
$$;
COMMENT ON FUNCTION tenant_rls.lint_sarif() IS 'the findings of lint() as a SARIF 2.1.0 log, for CI code-scanning annotations';

CREATE FUNCTION tenant_rls.assert_coverage(min_level text DEFAULT 'error') RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- (its body's regular expressions are read with backslashes as written,
    -- whatever the caller's setting: review rev47a)
    SET standard_conforming_strings = on
    AS $$
DECLARE
    max_rank integer := tenant_rls._level_rank(min_level);
    n        bigint;
    lines    text;
BEGIN
    IF min_level IS NULL THEN
        RAISE EXCEPTION 'min_level must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Use error, warning or info.';
    END IF;
    IF max_rank IS NULL THEN
        RAISE EXCEPTION 'invalid finding level "%"', min_level
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use error, warning or info.';
    END IF;
    SELECT count(*),
           string_agg(format('%s %s %s: %s', l.level, l.code, l.object, l.message), E'\n'
                      ORDER BY l.rn) FILTER (WHERE l.rn <= 50)
      INTO n, lines
      FROM (SELECT x.*, row_number() OVER () AS rn
              FROM tenant_rls.lint() x
             WHERE NOT x.accepted AND x.level = ANY ((ARRAY['error', 'warning', 'info'])[1:max_rank])) l;
    IF n > 0 THEN
        IF n > 50 THEN
            lines := lines || format(E'\n... and %s more', n - 50);
        END IF;
        RAISE EXCEPTION 'tenant_rls coverage check failed: % finding(s) at level % or above', n, lower(min_level)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = lines,
                  HINT = 'Run SELECT * FROM tenant_rls.lint() and apply the fix column, or record a deliberate exception with tenant_rls.accept_finding(code, object, reason).';
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_rls.assert_coverage(text) IS
    'raises an error listing the findings at or above min_level that are not accepted (CI and migration gate)';

CREATE FUNCTION tenant_rls.accept_finding(code text, object text, reason text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    IF accept_finding.code IS NULL THEN
        RAISE EXCEPTION 'the code of an accepted finding must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Copy the code column of tenant_rls.lint().';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tenant_rls.finding_codes() c WHERE c.code = accept_finding.code) THEN
        RAISE EXCEPTION 'unknown finding code "%"', accept_finding.code
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'SELECT code FROM tenant_rls.finding_codes() lists the codes.';
    END IF;
    IF accept_finding.object IS NULL OR accept_finding.object = '' THEN
        RAISE EXCEPTION 'the object of an accepted finding must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Copy the object column of tenant_rls.lint().';
    END IF;
    IF accept_finding.reason IS NULL OR btrim(accept_finding.reason) = '' THEN
        RAISE EXCEPTION 'an accepted finding needs a reason'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Say why the finding is acceptable; the reason is shown with the finding.';
    END IF;
    INSERT INTO tenant_rls.accepted_finding AS a (code, object, reason)
    VALUES (accept_finding.code, accept_finding.object, accept_finding.reason)
    ON CONFLICT ON CONSTRAINT accepted_finding_pkey
    -- bound again to the finding as it is now (the trigger fills them in)
    DO UPDATE SET reason = EXCLUDED.reason, accepted_at = now(), accepted_by = CURRENT_USER,
                  level = NULL, fingerprints = NULL;
END
$$;
COMMENT ON FUNCTION tenant_rls.accept_finding(text, text, text) IS
    'records that a finding (code, object) is accepted, with the reason; it stays in the report, marked accepted';

CREATE FUNCTION tenant_rls.unaccept_finding(code text, object text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    DELETE FROM tenant_rls.accepted_finding a
     WHERE a.code = unaccept_finding.code AND a.object = unaccept_finding.object;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION tenant_rls.unaccept_finding(text, text) IS
    'withdraws an accepted finding; returns false when it was not accepted';

-- Reports read the registry and the catalogs with the owner's rights; grant
-- EXECUTE to the roles (CI, DBAs) that may see them.
REVOKE ALL ON FUNCTION tenant_rls._tables() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.lint() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.coverage() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.lint_json() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.lint_sarif() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.assert_coverage(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.accept_finding(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_rls.unaccept_finding(text, text) FROM PUBLIC;
