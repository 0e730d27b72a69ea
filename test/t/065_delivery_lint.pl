# Coverage report: the findings of deferred audit delivery on a preloaded
# server (sql/coverage_delivery.sql covers the server without preloading):
# audit_delivery_inactive and its fix audit_delivery_start();
# audit_delivery_stalled while no worker can start (max_worker_processes
# too low), delivery after raising it, and its fix audit_delivery_stop().
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('delivery_lint');
$node->init(allows_streaming => 1);    # wal_level = replica
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.managed_schemas = 'app'
max_logical_replication_workers = 0
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = error;
CREATE EXTENSION tenant_rls;
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, v int);
CREATE INDEX ON app.orders (tenant_id);
});
my $dboid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'postgres'});
my $slot = "tenant_rls_audit_$dboid";

my $mine = q{SELECT coalesce(string_agg(code || ':' || level || ':' || object || ':' || coalesce(fix, '-'), ',' ORDER BY code, object), '')
               FROM tenant_rls.lint() WHERE code LIKE 'audit_delivery%'};
sub write_rows
{
	my ($n) = @_;
	$node->safe_psql('postgres',
		join('', map { "SELECT tenant_rls.set_tenant('t$_', false); INSERT INTO app.orders (tenant_id, v) VALUES ('t$_', $_);\n" } 1 .. $n));
}
my $entries = q{SELECT count(*) FROM tenant_rls.audit_batch};

# --- configured, not started: inactive, the fix starts it
is($node->safe_psql('postgres', $mine), '', 'nothing configured: no finding');
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET tenant_rls.audit_delivery = deferred');
is($node->safe_psql('postgres', $mine),
	'audit_delivery_inactive:warning:database postgres:SELECT tenant_rls.audit_delivery_start();',
	'deferred for the database, not started: inactive, fix audit_delivery_start()');
$node->safe_psql('postgres', q{SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'audit_delivery_inactive' \gexec});
$node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()')
	or die 'the worker did not start';
is($node->safe_psql('postgres', $mine), '', 'after the fix: no finding');
is($node->safe_psql('postgres', 'SELECT delivery FROM tenant_rls.audit_delivery_status()'), 'deferred', 'status: deferred');
write_rows(5);
is($node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_wait()'), 't', 'delivered');
is($node->safe_psql('postgres', $entries), '5', 'five batches in the log');

# --- no worker can start: stalled, with the WAL kept; deferred writes wait
$node->append_conf('postgresql.conf', 'max_worker_processes = 1');    # the launcher only
$node->restart;
$node->poll_query_until('postgres', q{SELECT delivery = 'deferred' FROM tenant_rls.audit_delivery_status()})
	or die 'the launcher did not find the slot';
write_rows(3);
is($node->safe_psql('postgres', $mine),
	"audit_delivery_stalled:warning:$slot:SELECT tenant_rls.audit_delivery_stop();",
	'no worker: stalled (not inactive: delivery is started), fix audit_delivery_stop()');
like($node->safe_psql('postgres', q{SELECT message || ' ' || detail FROM tenant_rls.lint() WHERE code = 'audit_delivery_stalled'}),
	qr/has no delivery worker running.*so far\).*max_worker_processes/, 'the detail says how much WAL and why');
is($node->safe_psql('postgres', $entries), '5', 'the three deferred writes are not delivered');
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('200 ms')}), 'f', 'wait() times out');
like(slurp_file($node->logfile), qr/could not start the audit delivery worker/, 'the server log says why');

# --- a worker can start again: it delivers what the slot kept
$node->append_conf('postgresql.conf', 'max_worker_processes = 8');
$node->restart;
$node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()')
	or die 'the worker did not start';
is($node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_wait()'), 't', 'delivered after the restart');
is($node->safe_psql('postgres', $entries), '8', 'the three kept writes are in the log');
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}), 't', 'every chain verifies');
is($node->safe_psql('postgres', $mine), '', 'running: no finding');

# --- the stalled fix: audit_delivery_stop() delivers, drops the slot; the
# database default then makes it inactive again
$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'"), '0', 'slot dropped');
is($node->safe_psql('postgres', $mine),
	'audit_delivery_inactive:warning:database postgres:SELECT tenant_rls.audit_delivery_start();',
	'stopped, still configured: inactive');
$node->safe_psql('postgres', 'ALTER DATABASE postgres RESET tenant_rls.audit_delivery');
is($node->safe_psql('postgres', $mine), '', 'the default reset: no finding');

# --- DROP DATABASE of a deferring database (doc/audit.md): the worker steps
# aside for its owner's plain DROP DATABASE; also after audit_delivery_stop(),
# and WITH (FORCE).  No slot is left behind either way.
for my $how ('plain', 'stop', 'force')
{
	$node->safe_psql('postgres', "CREATE DATABASE d_$how");
	$node->safe_psql("d_$how", q{SET client_min_messages = error; CREATE EXTENSION tenant_rls; SELECT tenant_rls.audit_delivery_start();});
	$node->poll_query_until("d_$how", 'SELECT worker_running FROM tenant_rls.audit_delivery_status()')
		or die 'the worker did not start';
	$node->safe_psql("d_$how", 'SELECT tenant_rls.audit_delivery_stop()') if $how eq 'stop';
	my ($ret, $out, $err) = $node->psql('postgres', "DROP DATABASE d_$how" . ($how eq 'force' ? ' WITH (FORCE)' : ''));
	is($ret, 0, "$how: DROP DATABASE works") or diag($err);
	$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name LIKE 'tenant_rls_audit_%'})
		or die 'the slot was not dropped';
	pass("$how: database dropped, no slot left");
}

$node->stop;
done_testing();
