# pg_dump / pg_restore with tenant_rls's event triggers in place (DESIGN O2, E1).
#
# The restore replays CREATE TABLE (which would fire auto-protection), then the
# registry rows (extension config data), then ENABLE ROW LEVEL SECURITY and
# CREATE POLICY.  Auto-protection must not create the policies and registry
# rows a second time, the drift guard must not refuse the replay, and after the
# restore the policies, registry and isolation must be what they were.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init;
# tenant_rls.audit is on (the default): the audit triggers must survive the round trip too
$node->start;

$node->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE ROLE owner_role NOLOGIN;
CREATE DATABASE src;
});
$node->safe_psql('src', 'CREATE EXTENSION tenant_rls');
$node->safe_psql('src', q{
GRANT CREATE ON SCHEMA public TO owner_role;
CREATE SCHEMA side AUTHORIZATION owner_role;
GRANT USAGE ON SCHEMA side TO app;
SET ROLE owner_role;
CREATE TABLE public.orders (id int PRIMARY KEY, tenant_id text, item text);
CREATE TABLE public.events (tenant_id text NOT NULL, id int) PARTITION BY LIST (tenant_id);
CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES IN ('a');
CREATE TABLE side.events_b PARTITION OF public.events FOR VALUES IN ('b');
CREATE TABLE side.events_c (tenant_id text NOT NULL, id int);
ALTER TABLE public.events ATTACH PARTITION side.events_c FOR VALUES IN ('c');
-- audited on its own (auto-protection), then attached: gets the parent's audit instead
CREATE TABLE public.events_d (LIKE public.events);
ALTER TABLE public.events ATTACH PARTITION public.events_d FOR VALUES IN ('d');
CREATE TABLE side.orders_archive (archived date) INHERITS (public.orders);
CREATE TABLE public.countries (code text PRIMARY KEY);
-- (its rows are written before it is protected: they must be the current tenant's)
BEGIN;
SELECT tenant_rls.set_tenant('a');
CREATE TABLE public.later AS SELECT 1 AS id, 'a'::text AS tenant_id;
COMMIT;
GRANT SELECT, INSERT ON public.orders, public.events, public.events_a, side.events_b,
    side.events_c, side.orders_archive, public.later TO app;
RESET ROLE;
INSERT INTO public.orders VALUES (1, 'a', 'apple'), (2, 'b', 'bread'), (3, 'a', 'apricot');
INSERT INTO side.orders_archive VALUES (4, 'b', 'beans', '2020-01-01');
INSERT INTO public.events VALUES ('a', 1), ('b', 2), ('b', 3), ('c', 4);
INSERT INTO public.countries VALUES ('fr');
});

# What must survive the round trip.
my $state_sql = q{
SELECT 'rel ' || n.nspname || '.' || c.relname || ' rls=' || c.relrowsecurity
       || ' force=' || c.relforcerowsecurity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('public', 'side') AND c.relkind IN ('r', 'p')
UNION ALL
SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive
       || ' ' || roles::text || ' ' || cmd || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-')
  FROM pg_policies
UNION ALL
SELECT 'registry ' || schema_name || '.' || table_name || ' ' || status || ' '
       || coalesce(tenant_column, '-') || ' ' || coalesce(tenant_type, '-') || ' ' || managed::text
       || ' ' || coalesce(parent_schema || '.' || parent_table, '-')
  FROM tenant_rls.protected_table
UNION ALL
SELECT 'trigger ' || n.nspname || '.' || c.relname || ' ' || t.tgname || ' ' || t.tgfoid::regproc::text
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal
UNION ALL
SELECT 'column ' || attrelid::regclass::text || '.' || attname || ' notnull=' || attnotnull
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attname = 'tenant_id' AND NOT a.attisdropped
   AND a.attrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'side'::regnamespace))
ORDER BY 1};

# What tenant 'a' sees as app (not superuser, not owner, not BYPASSRLS).
my $isolation_sql = q{
SET ROLE app;
SELECT tenant_rls.set_tenant('a', false) IS NOT NULL;
SELECT (SELECT count(*) FROM public.orders) || ',' || (SELECT count(*) FROM side.orders_archive)
    || ',' || (SELECT count(*) FROM public.events) || ',' || (SELECT count(*) FROM side.events_b)
    || ',' || (SELECT count(*) FROM side.events_c) || ',' || (SELECT count(*) FROM public.later);
};

my $state_src = $node->safe_psql('src', $state_sql);
like($state_src, qr/^registry public\.orders protected tenant_id/m, 'source: orders is registered');
like($state_src, qr/^trigger public\.orders /m, 'source: orders has its audit trigger');
like($state_src, qr/^trigger side\.events_c tenant_rls_audit_truncate /m,
	'source: an attached partition has its TRUNCATE audit trigger (restored like the others, not created twice)');
like($state_src, qr/^trigger public\.events_d tenant_rls_audit tenant_rls\.audit_trigger\ntrigger public\.events_d tenant_rls_audit_truncate /m,
	'source: a table audited on its own, then attached, has one audit trigger (the clone) and the TRUNCATE one');
is($node->safe_psql('src', q{SELECT count(*) FROM tenant_rls.audit_config WHERE table_name = 'events_d'}), '0',
	'source: the attached table has no audit configuration of its own');
like($state_src, qr/^registry side\.events_b protected/m, 'source: partition in an unmanaged schema is registered');
like($state_src, qr/^registry side\.events_c protected/m, 'source: attached partition is registered');
like($state_src, qr/^registry side\.orders_archive protected/m, 'source: inheritance child is registered');
unlike($state_src, qr/^registry public\.countries/m, 'source: table without tenant column is not registered');
is($node->safe_psql('src', $isolation_sql), "t\n2,0,1,0,0,1", 'source: tenant a sees only its rows');

sub restore_check
{
	my ($db, $label) = @_;
	is($node->safe_psql($db, $state_sql), $state_src, "$label: policies, RLS flags, registry, defaults identical");
	is($node->safe_psql($db, $isolation_sql), "t\n2,0,1,0,0,1", "$label: isolation holds");
	is($node->safe_psql($db, q{SELECT count(*) FROM public.orders}), '4', "$label: data restored");

	# the triggers work in the restored database
	$node->safe_psql($db, q{CREATE TABLE public.after_restore (id int, tenant_id text)});
	is($node->safe_psql($db, q{
		SELECT c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (SELECT 1 FROM tenant_rls.protected_table
		  WHERE schema_name = 'public' AND table_name = 'after_restore')
		  FROM pg_class c WHERE c.oid = 'public.after_restore'::regclass}),
		't', "$label: a new table is auto-protected after restore");
	my ($ret, $out, $err) = $node->psql($db, q{ALTER TABLE public.orders DISABLE ROW LEVEL SECURITY});
	like($err, qr/cannot disable row level security on protected table public\.orders/,
		"$label: drift guard active after restore");
}

# custom format, pg_restore
my $tmp = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/src.dump", '-d', $node->connstr('src') ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ 'pg_restore', '-d', $node->connstr('dst'), "$tmp/src.dump" ], '>', \$out, '2>', \$err);
ok($ok, 'pg_restore exits 0');
is($err, '', 'pg_restore reports no error');
restore_check('dst', 'pg_restore');

# plain format through psql, stopping at the first error
$node->command_ok([ 'pg_dump', '-Fp', '-f', "$tmp/src.sql", '-d', $node->connstr('src') ], 'pg_dump -Fp');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
$ok = IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst_plain'),
	'-f', "$tmp/src.sql" ], '>', \$out, '2>', \$err);
ok($ok, 'plain dump replays with ON_ERROR_STOP');
is($err, '', 'plain dump replays without error');
restore_check('dst_plain', 'psql replay');

# a parallel restore opens several sessions: same result
$node->command_ok([ 'pg_dump', '-Fd', '-f', "$tmp/src.dir", '-d', $node->connstr('src') ], 'pg_dump -Fd');
$node->safe_psql('postgres', 'CREATE DATABASE dst_parallel');
$ok = IPC::Run::run([ 'pg_restore', '-j', '3', '-d', $node->connstr('dst_parallel'), "$tmp/src.dir" ],
	'>', \$out, '2>', \$err);
ok($ok, 'pg_restore -j 3 exits 0');
is($err, '', 'pg_restore -j 3 reports no error');
restore_check('dst_parallel', 'parallel pg_restore');

$node->stop;
done_testing();
