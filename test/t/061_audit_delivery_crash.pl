# Deferred audit delivery through crashes: pgbench writes audited one-row
# transactions with tenant_rls.audit_delivery = deferred while the server
# crashes, twice:
#   1. kill -9 of a writing backend (the postmaster resets every process and
#      shared memory -- the delivery state with it -- and recovers from WAL)
#   2. kill -9 of the postmaster itself (backends may still commit until
#      they notice; then a restart with crash recovery)
# After each restart, once audit_delivery_wait() returns true: every row that
# survived (a committed transaction) has exactly one INSERT entry in the log,
# no entry exists for a row that did not survive (a transaction the crash
# interrupted), and every chain verifies.  A prepared transaction is
# outstanding across both crashes and committed at the end.  The slot's
# restart_lsn on disk is older than what the worker delivered (no checkpoint
# during the run), so the worker re-reads delivered commits after each crash
# and must skip them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Time::HiRes qw(usleep);
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('delivery_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_level = replica
restart_after_crash = on
shared_preload_libraries = 'tenant_rls'
max_prepared_transactions = 2
checkpoint_timeout = 1h
max_wal_size = 4GB
});
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.c (id bigserial PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.audit_delivery_start();
ALTER DATABASE postgres SET tenant_rls.audit_delivery = deferred;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.c'::regclass AND tgname LIKE '%audit%'}) > 0 ? 'audited' : 'not audited',
	'audited', 'the table is audited');
ok($node->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'the delivery worker runs');

# a prepared transaction outstanding across both crashes
$node->safe_psql('postgres', q{BEGIN; INSERT INTO public.c (tenant_id, v) VALUES ('t1', 'prepared'); PREPARE TRANSACTION 'p_crash';});

my $dir = $node->basedir;
open(my $fh, '>', "$dir/one.sql") or die;
print $fh "\\set t random(1, 10)\nINSERT INTO public.c (tenant_id, v) VALUES ('t' || :t, repeat('x', 100));\n";
close $fh;

sub start_writers
{
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[
			'pgbench', '-n', '-c', '6', '-j', '3', '-T', '60',
			'-h', $node->host, '-p', $node->port, '-f', "$dir/one.sql", 'postgres'
		],
		'>', \$out, '2>', \$err);
}

sub wait_for_rows
{
	my ($min) = @_;
	$node->poll_query_until('postgres', "SELECT count(*) >= $min FROM public.c")
	  or die "writers did not write";
}

sub check_consistent
{
	my ($label) = @_;
	is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('90 s')}), 't',
		"$label: audit_delivery_wait() returns true");
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM public.c');
	cmp_ok($rows, '>', 0, "$label: rows were written ($rows)");
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM public.c r
 WHERE NOT EXISTS (SELECT FROM tenant_rls.audit_log l
                    WHERE l.table_name = 'c' AND l.operation = 'INSERT'
                      AND l.row_pk = jsonb_build_object('id', r.id))}),
		'0', "$label: no committed row lacks its audit entry");
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT row_pk FROM tenant_rls.audit_log WHERE table_name = 'c' AND operation = 'INSERT'
                       GROUP BY row_pk HAVING count(*) > 1) d}),
		'0', "$label: no row has two INSERT entries");
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM tenant_rls.audit_log l
 WHERE l.table_name = 'c'
   AND NOT EXISTS (SELECT FROM public.c r WHERE jsonb_build_object('id', r.id) = l.row_pk)}),
		'0', "$label: no audit entry without its committed row");
	is( $node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE table_name = 'c'}),
		$rows, "$label: as many entries as rows");
	my $verify = $node->safe_psql('postgres',
			q{SELECT count(*) FILTER (WHERE NOT ok) || ' broken of ' || count(*) FROM tenant_rls.audit_verify()});
	like($verify, qr/^0 broken of \d+$/, "$label: every chain verifies ($verify)");
	is($node->safe_psql('postgres', q{SELECT delivery || ' ' || messages_rejected FROM tenant_rls.audit_delivery_status()}),
		'deferred 0', "$label: still deferred, nothing rejected");
}

# ---- 1. kill -9 of a writing backend
my $log_offset = -s $node->logfile;
my $h = start_writers();
wait_for_rows(1500);
is($node->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'deferred',
	'writers run in deferred mode');
cmp_ok($node->safe_psql('postgres', q{SELECT batches_delivered FROM tenant_rls.audit_delivery_status()}), '>', 0,
	'... and the worker delivers their batches');
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'INSERT INTO public.c%' AND pid <> pg_backend_pid() LIMIT 1});
like($pid, qr/^\d+$/, 'found a writing backend');
kill 'KILL', $pid;
$h->finish;
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'no restart after crash';
ok($node->log_contains('terminated by signal 9', $log_offset), 'the server went through crash recovery');
ok($node->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'after the crash: the launcher starts the worker again');
check_consistent('after kill -9 of a backend');

# ---- 2. kill -9 of the postmaster
# the worker is held up (a lock on the row it updates with every delivery),
# so thousands of commits are in the WAL only when the server dies
my ($stdin, $stdout, $stderr) = ('', '', '');
my $holder = IPC::Run::start([ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', '-' ],
	'<', \$stdin, '>', \$stdout, '2>', \$stderr, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$stdin .= "BEGIN;\nSELECT 'locked' FROM tenant_rls.audit_delivery_state FOR UPDATE;\n";
$holder->pump until $stdout =~ /locked/;
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM public.c');
my $logged_before = $node->safe_psql('postgres', 'SELECT count(*) FROM tenant_rls.audit_log');
$h = start_writers();
wait_for_rows($before + 1500);
is($node->safe_psql('postgres', 'SELECT count(*) FROM tenant_rls.audit_log'), $logged_before,
	'while the worker is held up, the new commits are not in the log');
my @pids = split /\n/, $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()');
$node->kill9;
$h->finish;
$holder->kill_kill;
# every process of the old server must be gone before the new one starts
for my $p (@pids)
{
	my $tries = 0;
	while (kill(0, $p) && $tries++ < 300)
	{
		usleep(100_000);
	}
	ok(!kill(0, $p), "process $p of the killed server has exited") if kill(0, $p);
}
$node->start;
ok($node->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'after kill -9 of the postmaster: the worker runs again');
check_consistent('after kill -9 of the postmaster');

# the prepared transaction, outstanding across both crashes
$node->safe_psql('postgres', q{COMMIT PREPARED 'p_crash'});
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'the prepared transaction: delivered');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' = 'prepared'}), '1',
	'... exactly once, after two crashes');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'chains verify at the end');

$node->stop;
done_testing();
