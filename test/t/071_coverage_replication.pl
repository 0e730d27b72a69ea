# Coverage report and replication on a real cluster (sql/coverage_replication.sql
# covers what needs no live replication):
# walsender_without_replication: ALTER ROLE ... NOREPLICATION ends none of the
# role's replication connections, the report names them and its fix (also
# role_replication's) terminates them; subscription_audit_not_always: the
# apply worker (session_replication_role = replica) applies changes that the
# plain ENABLE audit trigger does not record, after the fix it records them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('coverage_replication');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', qq{
tenant_rls.managed_schemas = 'app'
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = error;
CREATE EXTENSION tenant_rls;
CREATE ROLE covr_repl LOGIN REPLICATION;
CREATE SCHEMA app;
CREATE TABLE app.orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text);
CREATE INDEX ON app.orders (tenant_id);
SELECT count(*) FROM tenant_rls.protect('app.orders');
SELECT tenant_rls.enable_audit('app.orders');
});

my $finding = sub {
	my ($code) = @_;
	return $node->safe_psql('postgres', qq{
SELECT coalesce(string_agg(level || ':' || object || ':' || coalesce(fix, '-'), ',' ORDER BY object), '')
  FROM tenant_rls.lint() WHERE code = '$code'});
};

# --- walsender_without_replication
my ($in, $out, $err) = ('', '', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres') . ' replication=database user=covr_repl' ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "IDENTIFY_SYSTEM;\n";
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'covr_repl' AND backend_type = 'walsender'}),
	'a replication connection of covr_repl');
is($finding->('walsender_without_replication'), '', 'role with REPLICATION: no walsender finding');
$node->safe_psql('postgres', q{ALTER ROLE covr_repl NOREPLICATION});
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'covr_repl' AND backend_type = 'walsender'}),
	'1', 'NOREPLICATION leaves the walsender running');
is($finding->('walsender_without_replication'),
	q{error:covr_repl:SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = 'covr_repl' AND backend_type = 'walsender';},
	'walsender_without_replication reported, with its fix');
$node->safe_psql('postgres', q{
DO $$ BEGIN
    EXECUTE (SELECT fix FROM tenant_rls.lint() WHERE code = 'walsender_without_replication' AND object = 'covr_repl');
END $$});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'covr_repl' AND backend_type = 'walsender'}),
	'the fix ends the walsender');
is($finding->('walsender_without_replication'), '', 'no finding after the fix');
$in .= "\\q\n";
eval { $h->finish; };

# role_replication's fix ends the walsender too
$node->safe_psql('postgres', q{ALTER ROLE covr_repl REPLICATION});
($in, $out, $err) = ('', '', '');
$h = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres') . ' replication=database user=covr_repl' ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "IDENTIFY_SYSTEM;\n";
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'covr_repl' AND backend_type = 'walsender'}),
	'a replication connection of covr_repl again');
$node->safe_psql('postgres', q{
DO $$ BEGIN
    EXECUTE (SELECT fix FROM tenant_rls.lint() WHERE code = 'role_replication' AND object = 'covr_repl');
END $$});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'covr_repl' AND backend_type = 'walsender'}),
	"role_replication's fix ends the walsender");
is($finding->('role_replication') . $finding->('walsender_without_replication'), '',
	'neither finding after the fix');
eval { $in .= "\\q\n"; $h->finish; };

# --- subscription_audit_not_always: a subscription of a publication of
# another database of this cluster
$node->safe_psql('postgres', q{CREATE DATABASE pubdb});
$node->safe_psql('pubdb', q{
CREATE SCHEMA app;
CREATE TABLE app.orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text);
CREATE PUBLICATION covr_pub FOR TABLE app.orders;
SELECT pg_create_logical_replication_slot('covr_slot', 'pgoutput');
});
my $pubconn = $node->connstr('pubdb');
$pubconn =~ s/'/''/g;
$node->safe_psql('postgres', qq{
CREATE SUBSCRIPTION covr_sub CONNECTION '$pubconn' PUBLICATION covr_pub
  WITH (create_slot = false, slot_name = 'covr_slot', copy_data = false);
});
my $entries = q{SELECT count(*) FROM tenant_rls.audit_log WHERE row_pk->>'id' = '%s'};
$node->safe_psql('pubdb', q{INSERT INTO app.orders VALUES (1, 'acme', 'one')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM app.orders WHERE id = 1}), 'row 1 replicated');
is($node->safe_psql('postgres', sprintf($entries, 1)), '0', 'plain ENABLE: the applied insert is not audited');
is($finding->('subscription_audit_not_always'),
	'warning:app.orders:ALTER TABLE app.orders ENABLE ALWAYS TRIGGER tenant_rls_audit; ALTER TABLE app.orders ENABLE ALWAYS TRIGGER tenant_rls_audit_truncate;',
	'subscription_audit_not_always reported');
$node->safe_psql('postgres', q{
DO $$ BEGIN
    EXECUTE (SELECT fix FROM tenant_rls.lint() WHERE code = 'subscription_audit_not_always' AND object = 'app.orders');
END $$});
$node->safe_psql('pubdb', q{INSERT INTO app.orders VALUES (2, 'acme', 'two')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM app.orders WHERE id = 2}), 'row 2 replicated');
is($node->safe_psql('postgres', sprintf($entries, 2)), '1', 'ENABLE ALWAYS: the applied insert is audited');
# enable_audit() again keeps ENABLE ALWAYS
$node->safe_psql('postgres', q{SELECT tenant_rls.enable_audit('app.orders')});
is($finding->('subscription_audit_not_always'), '', 'enable_audit() keeps ENABLE ALWAYS');
$node->safe_psql('pubdb', q{INSERT INTO app.orders VALUES (3, 'acme', 'three')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM app.orders WHERE id = 3}), 'row 3 replicated');
is($node->safe_psql('postgres', sprintf($entries, 3)), '1', 'still audited after enable_audit()');

$node->safe_psql('postgres', q{DROP SUBSCRIPTION covr_sub});
$node->stop;
done_testing();
