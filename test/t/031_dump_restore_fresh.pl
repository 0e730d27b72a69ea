# pg_dump / pg_restore into a fresh database on a FRESH cluster (DESIGN O2),
# with everything a deployment has in use: audit with column lists and hash
# chains, updated_at, global rows, a cross-tenant grant, an accepted finding,
# a global table, a partitioned table, a signing key in postgresql.conf.
# Checked after each of: custom format, plain format, and schema-only followed
# by data-only (--disable-triggers):
#   - RLS flags, policies, triggers, column defaults, the registry and every
#     configuration table are what they were; the chains verify;
#   - new writes continue the chains; updated_at, global rows, the grant and
#     isolation work for a tenant role (not owner, not superuser);
#   - the signing key is in no dump and not readable by a tenant role;
#   - the restored audit configuration names the restored tables, not the
#     old cluster's oids: a new table that happens to get such an old oid is
#     audited with its own column lists, and disable_audit() on it leaves the
#     restored table's configuration alone (it used to take both);
#   - after the data-only restore with --disable-triggers, lint() reports the
#     log's guards that came back as ENABLE, and audit_maintain() puts them
#     back to ENABLE ALWAYS and repairs the stale audit_config oids.
# And pg_dump -n public (no configuration rows) restored into a database with
# the extension: lint()'s fix, protect(), adopts the restored policies.
# And pg_upgrade (--check, then the upgrade) of a cluster with all that in use.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $key = 'dump-restore-key-0123456789abcdef0123456789';
my $conf = qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.signing_key = '$key'
};

my $src = PostgreSQL::Test::Cluster->new('dr_src');
$src->init;
$src->append_conf('postgresql.conf', $conf);
$src->start;

# the old cluster's oids of the restored tables are higher than anything the
# fresh cluster has used, so the collision below can be provoked
$src->safe_psql('postgres', join('', map { "CREATE TABLE pad_$_ (a int); " } 1 .. 40));
$src->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE ROLE owner_role NOLOGIN;
CREATE DATABASE src;
});
$src->safe_psql('src', 'CREATE EXTENSION tenant_rls');
$src->safe_psql('src', q{
GRANT CREATE ON SCHEMA public TO owner_role;
SET ROLE owner_role;
CREATE TABLE orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL,
                     item text, note text, updated_at timestamptz);
CREATE INDEX ON orders (tenant_id);
CREATE TABLE plans (id serial PRIMARY KEY, tenant_id text, name text);
CREATE TABLE shared_cfg (k text PRIMARY KEY, v text);
CREATE TABLE events (tenant_id text NOT NULL, id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
GRANT SELECT, INSERT, UPDATE, DELETE ON orders, plans, events, shared_cfg TO app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app;
RESET ROLE;
SELECT tenant_rls.enable_updated_at('orders');
SELECT tenant_rls.enable_audit('orders', exclude => '{note}');
SELECT tenant_rls.allow_global_rows('plans');
SELECT tenant_rls.mark_global('shared_cfg');
SELECT tenant_rls.grant_access('orders', 'a', 'b', 'read');
SELECT tenant_rls.accept_finding('tenant_index_missing', 'public.plans', 'small table');
INSERT INTO plans (tenant_id, name) VALUES (NULL, 'free'), ('a', 'custom');
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO orders (item, note) VALUES ('apple', 'n1'), ('apricot', 'n2'); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO orders (item) VALUES ('bread'); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant('a'); UPDATE orders SET item = 'avocado' WHERE item = 'apple'; COMMIT;
INSERT INTO events VALUES ('a', 1, '2024-03-01'), ('b', 2, '2024-04-01');
});

my $state_sql = q{
SELECT 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
       || ' force=' || c.relforcerowsecurity || ' owner=' || c.relowner::regrole::text
       || CASE WHEN c.relnamespace = 'public'::regnamespace THEN ' acl=' || coalesce(c.relacl::text, '-') ELSE '' END
  FROM pg_class c WHERE c.relnamespace IN ('public'::regnamespace, 'tenant_rls'::regnamespace)
   AND c.relkind IN ('r', 'p', 'v', 'S')
UNION ALL
SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive || ' '
       || roles::text || ' ' || cmd || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-') FROM pg_policies
UNION ALL
SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t WHERE NOT t.tgisinternal
UNION ALL
SELECT 'attr ' || a.attrelid::regclass::text || '.' || a.attname || ' notnull=' || a.attnotnull
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped
   AND a.attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p'))
UNION ALL SELECT 'registry ' || row(p.*)::text FROM tenant_rls.protected_table p
UNION ALL SELECT 'grant ' || row(g.*)::text FROM tenant_rls.tenant_grant g
UNION ALL SELECT 'auditcfg ' || row(g.schema_name, g.table_name, g.columns, g.exclude, g.enabled_at)::text
  FROM tenant_rls.audit_config g
UNION ALL SELECT 'accepted ' || row(g.*)::text FROM tenant_rls.accepted_finding g
UNION ALL SELECT 'chain ' || row(g.*)::text FROM tenant_rls.audit_chain g
UNION ALL SELECT 'anchor ' || row(g.*)::text FROM tenant_rls.audit_anchor g
UNION ALL SELECT 'evt ' || evtname || ' ' || evtenabled::text FROM pg_event_trigger
UNION ALL SELECT 'lint ' || code || ' ' || level || ' ' || object || ' ' || accepted FROM tenant_rls.lint()
UNION ALL SELECT 'rows ' || (SELECT count(*) FROM orders) || ' ' || (SELECT count(*) FROM plans)
       || ' ' || (SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM tenant_rls.audit_batch)
       || ' ' || (SELECT count(*) FROM tenant_rls.audit_log)
ORDER BY 1};
my $verify_sql = q{SELECT string_agg(coalesce(tenant, '-') || ':' || ok::int || ':' || entries, ' ' ORDER BY tenant NULLS FIRST)
  FROM tenant_rls.audit_verify()};

my $state_src = $src->safe_psql('src', $state_sql);
my $verify_src = $src->safe_psql('src', $verify_sql);
is($verify_src, '-:1:1 a:1:5 b:1:2', 'source: chains verify');
like($state_src, qr/^trigger orders O CREATE TRIGGER tenant_rls_updated_at /m, 'source: updated_at trigger');
like($state_src, qr/^trigger tenant_rls\.audit_batch A CREATE TRIGGER audit_guard /m,
	'source: the log guard fires always (ENABLE ALWAYS)');
my $plans_old_oid = $src->safe_psql('src', q{SELECT 'plans'::regclass::oid});

my $tmp = PostgreSQL::Test::Utils::tempdir;
$src->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/src.dump", '-d', $src->connstr('src') ], 'pg_dump -Fc');
$src->command_ok([ 'pg_dump', '-Fp', '-f', "$tmp/src.sql", '-d', $src->connstr('src') ], 'pg_dump -Fp');
$src->command_ok([ 'pg_dump', '-Fc', '--schema-only', '-f', "$tmp/schema.dump", '-d', $src->connstr('src') ],
	'pg_dump --schema-only');
$src->command_ok([ 'pg_dump', '-Fc', '--data-only', '-f', "$tmp/data.dump", '-d', $src->connstr('src') ],
	'pg_dump --data-only');
$src->command_ok([ 'pg_dumpall', '-f', "$tmp/all.sql", '-d', $src->connstr('postgres') ], 'pg_dumpall');
my $all = slurp_file("$tmp/all.sql") . slurp_file("$tmp/src.sql");
unlike($all, qr/\Q$key\E/, 'the signing key is in no dump');
unlike($all, qr/signing_key/, 'no dump even names the key setting');

# a fresh cluster with the same configuration
my $dst = PostgreSQL::Test::Cluster->new('dr_dst');
$dst->init;
$dst->append_conf('postgresql.conf', $conf);
$dst->start;
$dst->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE ROLE owner_role NOLOGIN;
CREATE DATABASE dst_c;
CREATE DATABASE dst_p;
CREATE DATABASE dst_sd;
});

sub run_ok
{
	my ($cmd, $name) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run($cmd, '>', \$out, '2>', \$err);
	ok($ok, "$name exits 0");
	is($err, '', "$name reports no error");
}

run_ok([ 'pg_restore', '-d', $dst->connstr('dst_c'), "$tmp/src.dump" ], 'pg_restore (custom format)');
run_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $dst->connstr('dst_p'), '-f', "$tmp/src.sql" ],
	'psql (plain format)');
run_ok([ 'pg_restore', '-d', $dst->connstr('dst_sd'), "$tmp/schema.dump" ], 'pg_restore --schema-only dump');
# the data of a data-only restore would fire the audit triggers (a second
# entry for every restored row; refused before the audit configuration is
# in): restore it with --disable-triggers, as pg_restore advises
run_ok([ 'pg_restore', '--disable-triggers', '-d', $dst->connstr('dst_sd'), "$tmp/data.dump" ],
	'pg_restore --data-only dump with --disable-triggers');
# ... which also disables the trigger that gives restored audit_config rows the
# new oids: the documented repair
my $stale_sql = q{SELECT count(*) FROM tenant_rls.audit_config c
	 WHERE c.table_oid IS DISTINCT FROM to_regclass(quote_ident(c.schema_name) || '.' || quote_ident(c.table_name))};
is($dst->safe_psql('dst_sd', $stale_sql), '3', 'data-only with --disable-triggers: audit_config has the old oids');
# ... and its closing ALTER TABLE ... ENABLE TRIGGER ALL brings the
# extension's ENABLE ALWAYS triggers back as ENABLE: lint() reports them
my $not_always_sql = q{SELECT string_agg(c.oid::regclass::text || ' ' || g.tgname, ', ' ORDER BY c.oid::regclass::text || ' ' || g.tgname) FROM pg_trigger g
	JOIN pg_class c ON c.oid = g.tgrelid
	WHERE c.relnamespace = 'tenant_rls'::regnamespace
	  AND g.tgname IN ('audit_guard', 'audit_guard_truncate', 'audit_config_fix_oid', 'tenant_grant_replicated', 'tenant_grant_replicated_truncate')
	  AND g.tgenabled <> 'A'};
my $not_always = $dst->safe_psql('dst_sd', $not_always_sql);
like($not_always, qr/tenant_rls\.audit_chain audit_guard, .*tenant_rls\.audit_config audit_config_fix_oid/,
	'data-only with --disable-triggers: the guards come back as ENABLE, not ENABLE ALWAYS');
is($dst->safe_psql('dst_sd', q{SELECT string_agg(object, ', ' ORDER BY object) FROM tenant_rls.lint()
	WHERE code = 'audit_guard_not_always'}), $not_always,
	'data-only with --disable-triggers: lint() reports each of them');
# the documented repair: audit_maintain(), which operators run regularly anyway
$dst->safe_psql('dst_sd', 'SELECT tenant_rls.audit_maintain()');
is($dst->safe_psql('dst_sd', $stale_sql), '0', 'audit_maintain() repairs the stale oids');
is($dst->safe_psql('dst_sd', $not_always_sql), '', 'audit_maintain() puts the guards back to ENABLE ALWAYS');

sub check_restored
{
	my ($db, $label) = @_;
	my $state = $dst->safe_psql($db, $state_sql);
	is($state, $state_src, "$label: RLS flags, policies, triggers, defaults, registry, configuration, data identical");
	is($dst->safe_psql($db, $verify_sql), $verify_src, "$label: chains verify");
	is($dst->safe_psql($db, $stale_sql), '0', "$label: audit_config names the restored tables' oids, not the old cluster's");

	# new writes, as a tenant role
	my $out = $dst->safe_psql($db, q{
SET ROLE app;
BEGIN; SELECT tenant_rls.set_tenant('a') IS NOT NULL;
INSERT INTO orders (item, note) VALUES ('almond', 'secret-note');
UPDATE orders SET item = 'apple2' WHERE item = 'avocado' RETURNING updated_at IS NOT NULL;
SELECT string_agg(name, ',' ORDER BY name) FROM plans;
COMMIT;
BEGIN; SELECT tenant_rls.set_tenant('b') IS NOT NULL;
SELECT string_agg(item, ',' ORDER BY item) FROM orders;
SELECT count(*) FROM events;
COMMIT;
});
	is($out, "t\nt\ncustom,free\nt\nalmond,apple2,apricot,bread\n1",
		"$label: tenant writes, updated_at, global rows, the grant and isolation work");
	is($dst->safe_psql($db, q{SET ROLE app; BEGIN; SELECT tenant_rls.set_tenant('a') IS NOT NULL;
		WITH u AS (UPDATE plans SET name = 'mine' WHERE name = 'free' RETURNING 1) SELECT count(*) FROM u; COMMIT;}),
		"t\n0", "$label: a global row is not writable by a tenant");
	my ($ret, $o, $err);
	is($dst->safe_psql($db, $verify_sql), '-:1:1 a:1:7 b:1:2', "$label: the new writes continue the chains and verify");
	is($dst->safe_psql($db, q{SELECT count(*) FROM tenant_rls.audit_log
		WHERE new_row::text LIKE '%secret-note%' OR old_row::text LIKE '%secret-note%'}),
		'0', "$label: the restored exclude list still applies");
	($ret, $o, $err) = $dst->psql($db, q{SET ROLE app; SELECT current_setting('tenant_rls.signing_key', true)});
	like($err, qr/must be superuser/, "$label: the signing key is not readable by a tenant role");
	# tokens are bound to the database name: the old server signs for a
	# database of the restored one's name
	$src->safe_psql('postgres', qq{CREATE DATABASE $db});
	$src->safe_psql($db, q{CREATE EXTENSION tenant_rls});
	my $tok = $src->safe_psql($db, q{SELECT tenant_rls.sign_tenant('b')});
	is($dst->safe_psql($db, qq{SET ROLE app; BEGIN; SELECT tenant_rls.set_tenant_signed('$tok');
		SELECT count(*) FROM orders; COMMIT;}), "b\n4", "$label: a token of the shared key works");
	my $tok_src = $src->safe_psql('src', q{SELECT tenant_rls.sign_tenant('b')});
	my ($rc, $out, $terr) = $dst->psql($db, qq{SET ROLE app; SELECT tenant_rls.set_tenant_signed('$tok_src')});
	like($terr, qr/token signature does not match/, "$label: a token signed for the old database's name is refused");
}

check_restored('dst_c', 'custom format');
check_restored('dst_p', 'plain format');
check_restored('dst_sd', 'schema-only + data-only');

# A dump without the extension's configuration rows (pg_dump -n public; the
# same for --schema-only restored alone) into a database that has the
# extension: the tables keep protect()'s policies but have no registry rows.
# lint()'s fix, protect(), adopts the policies of its own names.
$src->command_ok([ 'pg_dump', '-Fp', '-n', 'public', '-f', "$tmp/public.sql", '-d', $src->connstr('src') ],
	'pg_dump -n public');
$dst->safe_psql('postgres', 'CREATE DATABASE dst_pub');
# (the dump creates the schema public itself)
$dst->safe_psql('dst_pub', 'DROP SCHEMA public; CREATE EXTENSION tenant_rls');
run_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $dst->connstr('dst_pub'), '-f', "$tmp/public.sql" ],
	'psql (pg_dump -n public)');
is($dst->safe_psql('dst_pub', q{SELECT string_agg(object, ' ' ORDER BY object) FROM tenant_rls.lint()
	WHERE code = 'table_unprotected'}), 'public.events public.events_2024 public.orders public.plans',
	'pg_dump -n public: lint() reports the tables unprotected');
my ($pret, $pout, $perr) = $dst->psql('dst_pub', q{SELECT fix FROM tenant_rls.lint() WHERE code = 'table_unprotected' \gexec},
	on_error_stop => 1);
is($pret, 0, 'pg_dump -n public: lint()\'s fix protect() works on the restored policies');
unlike($perr, qr/ERROR/, 'pg_dump -n public: no error from the fix');
is($dst->safe_psql('dst_pub', q{SELECT count(*) FROM tenant_rls.lint() WHERE code IN
	('table_unprotected', 'child_unprotected', 'managed_policy_dropped', 'managed_policy_modified', 'isolation_policy_missing')}),
	'0', 'pg_dump -n public: afterwards no table is unprotected and the policies are the registry\'s');
is($dst->safe_psql('dst_pub', q{SELECT string_agg(table_name || ':' || status, ' ' ORDER BY table_name) FROM tenant_rls.protected_table}),
	'events:protected events_2024:protected orders:protected plans:protected', 'pg_dump -n public: registry rows are back');
is($dst->safe_psql('dst_pub', q{SELECT count(*) FROM pg_policy WHERE polrelid = 'orders'::regclass}), '8',
	'pg_dump -n public: orders has its eight policies, once');
# (the schema the dump created has not the default USAGE for PUBLIC)
$dst->safe_psql('dst_pub', 'GRANT USAGE ON SCHEMA public TO app');
is($dst->safe_psql('dst_pub', q{SET ROLE app;
BEGIN; SELECT tenant_rls.set_tenant('b') IS NOT NULL;
INSERT INTO orders (item) VALUES ('bagel');
SELECT string_agg(item, ',' ORDER BY item) FROM orders;
COMMIT;}), "t\nbagel,bread", 'pg_dump -n public: isolation and audited writes work after the fix');

# A new table that gets an oid the restored audit configuration carried from
# the old cluster.  pg_resetwal -o makes the next oid that one.
my $dst_state = $dst->safe_psql('dst_c', q{SELECT count(*) FROM pg_class WHERE oid = } . $plans_old_oid);
is($dst_state, '0', 'the old oid of plans is free in the restored database');
$dst->stop;
command_ok([ 'pg_resetwal', '-o', $plans_old_oid, $dst->data_dir ], 'pg_resetwal -o <old oid of plans>');
$dst->start;
$dst->safe_psql('dst_c', q{CREATE TABLE newt (id int PRIMARY KEY, tenant_id text, secret text, name text)});
is($dst->safe_psql('dst_c', q{SELECT 'newt'::regclass::oid}), $plans_old_oid,
	'the new table got the old oid of plans');
$dst->safe_psql('dst_c', q{SELECT tenant_rls.enable_audit('newt', exclude => '{secret}');
	INSERT INTO newt VALUES (1, 'a', 'TOPSECRET', 'visible');});
is($dst->safe_psql('dst_c', q{SELECT new_row FROM tenant_rls.audit_log WHERE table_name = 'newt'}),
	'{"id": 1, "name": "visible", "tenant_id": "a"}',
	'the new table is audited with its own exclude list (not the restored plans\' one)');
$dst->safe_psql('dst_c', q{SELECT tenant_rls.disable_audit('newt')});
is($dst->safe_psql('dst_c', q{SELECT table_name || ' ' || coalesce(exclude::text, '-') FROM tenant_rls.audit_config
	WHERE table_name IN ('plans', 'newt') ORDER BY 1}), 'plans -',
	'disable_audit() of the new table leaves the restored table\'s configuration');
is($dst->safe_psql('dst_c', q{BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO plans (name) VALUES ('p3');
	SELECT count(*) FROM plans; COMMIT;}), "a\n3", 'the restored table is still writable (and audited)');

$dst->stop;

# pg_upgrade of the source cluster, with all of this in use
$src->stop;
my $new = PostgreSQL::Test::Cluster->new('dr_upgraded');
$new->init;
$new->append_conf('postgresql.conf', $conf);
my $bindir = $src->config_data('--bindir');
my $cwd = PostgreSQL::Test::Utils::tempdir();
chdir $cwd;
my @upgrade = ('pg_upgrade', '-b', $bindir, '-B', $bindir, '-d', $src->data_dir, '-D', $new->data_dir,
	'-p', $src->port, '-P', $new->port, '-s', $cwd);
command_ok([ @upgrade, '--check' ], 'pg_upgrade --check with tenant_rls in use');
command_ok([@upgrade], 'pg_upgrade with tenant_rls in use');
$new->start;
is($new->safe_psql('src', $state_sql), $state_src, 'pg_upgrade: everything kept');
is($new->safe_psql('src', $verify_sql), $verify_src, 'pg_upgrade: chains verify');
is($new->safe_psql('src', $stale_sql), '0', 'pg_upgrade: audit_config oids still name the tables (pg_upgrade keeps oids)');
$new->safe_psql('src', q{BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO orders (item) VALUES ('bun'); COMMIT;});
is($new->safe_psql('src', $verify_sql), '-:1:1 a:1:5 b:1:3', 'pg_upgrade: new writes continue the chains');
$new->stop;
done_testing();
