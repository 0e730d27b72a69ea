# tenant_rls.audit_delivery_start() is transactional (review rev33b): a start
# that is rolled back, or fails after creating its replication slot, leaves
# no slot, no worker and no deferring writers; one that commits, also in a
# transaction block or a released savepoint, starts delivery and records the
# start (which lint() needs to report a slot lost later).  Before, the slot
# was created persistent and the writers switched at once: a rolled-back
# start left a slot holding WAL and a running worker, with no record of it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('delivery_start_xact');
$node->init(allows_streaming => 1);    # wal_level = replica
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
max_prepared_transactions = 2
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = error;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.o (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, v int);
});
my $dboid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'postgres'});
my $slot = "tenant_rls_audit_$dboid";

# nothing left behind: no slot, writers immediate, no worker, no start recorded
my $state = qq{SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot')
                      || ':' || d.delivery || ':' || d.worker_running
                      || ':' || (SELECT started FROM tenant_rls.audit_delivery_state)
                 FROM tenant_rls.audit_delivery_status() d};
sub nothing_left
{
	my ($what) = @_;
	is($node->safe_psql('postgres', $state), '0:immediate:false:false', "$what: no slot, no worker, nothing recorded");
}

# --- rolled back; while it is open the slot is temporary and the launcher
# (which scans every second) starts no worker for it
my $open = $node->safe_psql('postgres', qq{
BEGIN;
SELECT tenant_rls.audit_delivery_start();
SELECT pg_sleep(2.5);
SELECT temporary FROM pg_replication_slots WHERE slot_name = '$slot';
SELECT worker_running FROM tenant_rls.audit_delivery_status();
ROLLBACK;
});
is($open, "\n\nt\nf", 'open start: a temporary slot, no worker adopted it');
sleep(2);
nothing_left('BEGIN; start(); ROLLBACK');

# stop() while a start has not committed (review rev48c: it waited out its
# timeout, then said committed changes were not all in the log): in the
# start's own transaction, and from another session, it refuses at once
my $t0 = time();
my ($sret, $sout, $serr) = $node->psql('postgres', q{
BEGIN;
SELECT tenant_rls.audit_delivery_start();
SELECT tenant_rls.audit_delivery_stop(interval '20 seconds');
}, on_error_stop => 1);
like($serr, qr/ERROR:  cannot stop deferred audit delivery in the transaction that started it/,
	'stop() in the transaction of an uncommitted start: refused');
ok(time() - $t0 < 15, '... at once, not at its timeout');
nothing_left('BEGIN; start(); stop() refused');
my ($stdin, $stdout, $stderr) = ('', '', '');
my $starter = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$stdin, '>', \$stdout, '2>', \$stderr, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$stdin .= "BEGIN;\nSELECT tenant_rls.audit_delivery_start();\nSELECT 'started';\n";
$starter->pump until $stdout =~ /started/;
$t0 = time();
($sret, $sout, $serr) = $node->psql('postgres', q{SELECT tenant_rls.audit_delivery_stop(interval '20 seconds')});
like($serr, qr/ERROR:  deferred audit delivery of this database is being started by another transaction/,
	'stop() from another session while a start has not committed: refused');
ok(time() - $t0 < 15, '... at once');
$stdin .= "ROLLBACK;\n";
$starter->finish;
nothing_left('the other session rolled back');

my ($ret, $out, $err) = $node->psql('postgres', q{
BEGIN READ ONLY;
SELECT tenant_rls.audit_delivery_start();
}, on_error_stop => 1);
like($err, qr/cannot execute tenant_rls\.audit_delivery_start\(\) in a read-only transaction/,
	'read-only transaction: refused before anything');
nothing_left('read-only transaction');

($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.audit_delivery_start(), 1/0;});
like($err, qr/division by zero/, 'the statement fails after start()');
nothing_left('start() in a failing statement');

$node->safe_psql('postgres', q{
BEGIN;
SAVEPOINT s;
SELECT tenant_rls.audit_delivery_start();
ROLLBACK TO SAVEPOINT s;
COMMIT;
});
nothing_left('start() in a savepoint rolled back, then COMMIT');

$node->safe_psql('postgres', q{
DO $$
BEGIN
  PERFORM tenant_rls.audit_delivery_start();
  RAISE EXCEPTION 'changed my mind';
EXCEPTION WHEN raise_exception THEN NULL;
END $$;
});
nothing_left('start() in a PL/pgSQL exception block that caught an error');

($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
SELECT tenant_rls.audit_delivery_start();
PREPARE TRANSACTION 'p';
});
like($err, qr/cannot prepare a transaction that called tenant_rls\.audit_delivery_start\(\)/,
	'PREPARE TRANSACTION refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'no prepared transaction');
nothing_left('start() then PREPARE TRANSACTION');

# --- committed in a transaction block, through a released savepoint
$node->safe_psql('postgres', q{
BEGIN;
SAVEPOINT s;
SELECT tenant_rls.audit_delivery_start();
SELECT tenant_rls.audit_delivery_start();  -- twice: once
RELEASE SAVEPOINT s;
COMMIT;
});
ok($node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()'),
	'committed: the worker runs');
is($node->safe_psql('postgres', qq{
SELECT temporary || ':' || (SELECT started FROM tenant_rls.audit_delivery_state)
  FROM pg_replication_slots WHERE slot_name = '$slot'}), 'false:true',
	'committed: the slot is persistent and the start recorded');
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
SELECT tenant_rls.set_tenant('a', false);
INSERT INTO public.o (tenant_id, v) VALUES ('a', 1), ('a', 2);
});
is($node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_wait()'), 't', 'deferred entries delivered');
is($node->safe_psql('postgres', q{SELECT count(*) || ':' || bool_and(ok) FROM tenant_rls.audit_verify()}),
	'1:true', 'the chain verifies');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE table_name = 'o'}),
	'2', 'both entries are in the log');

# it survives a restart (a persistent slot; temporary ones do not)
$node->restart;
ok($node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()'),
	'after a restart the worker runs again');

$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
nothing_left('stopped');

# --- review rev34d
# (1) an error caught by a savepoint after start(): PostgreSQL's error
# cleanup dropped the temporary slot and the COMMIT failed ("does not
# exist"); the slot is made again at the commit
($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
SELECT tenant_rls.audit_delivery_start();
SAVEPOINT s;
SELECT 1/0;
ROLLBACK TO SAVEPOINT s;
COMMIT;
}, on_error_stop => 0);
unlike($err, qr/does not exist/, 'the commit finds the slot');
ok($node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()'),
	'an error rolled back to a savepoint after start(): the commit starts delivery');
is($node->safe_psql('postgres', qq{
SELECT temporary || ':' || (SELECT started FROM tenant_rls.audit_delivery_state)
  FROM pg_replication_slots WHERE slot_name = '$slot'}), 'false:true', '... persistent slot, start recorded');
$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
nothing_left('stopped again');

# (2) a commit that waits for a tenant's chain after the slot was made
# persistent (a prepared transaction holds the chain), then fails: the
# launcher must not adopt the slot meanwhile, and nothing is left
$node->safe_psql('postgres', q{
SELECT tenant_rls.set_tenant('a', false);
BEGIN; INSERT INTO public.o (tenant_id, v) VALUES ('a', 100); PREPARE TRANSACTION 'hold_a';
});
($ret, $out, $err) = $node->psql('postgres', q{
SET lock_timeout = '3s';
BEGIN;
SELECT tenant_rls.set_tenant('a', false);
INSERT INTO public.o (tenant_id, v) VALUES ('a', 101);
SELECT tenant_rls.audit_delivery_start();
COMMIT;
});
like($err, qr/lock timeout/, 'the commit of the start waited for the chain, then failed');
unlike($err, qr/could not drop replication slot/, '... and the slot could be dropped');
sleep(2);
nothing_left('a start whose commit failed after the slot was made persistent');
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'hold_a'});

# (3) a stop while a start is open: the start's commit enables nothing (the
# slot is gone), and the next stop() and audit_purge() work
$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
ok($node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()'),
	'delivery runs');
my $starter = $node->background_psql('postgres', on_error_stop => 0);
$starter->query_until(qr/starting/, q{\echo starting
BEGIN;
SELECT tenant_rls.audit_delivery_start();
SELECT pg_sleep(3);
COMMIT;
\echo committed
});
$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()}),
	'the open start committed after the stop');
$starter->quit;
sleep(2);
is($node->safe_psql('postgres', $state), '0:immediate:false:false',
	'a start committed after a stop: no slot, nothing enabled, nothing recorded');
($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.audit_delivery_stop('2 s')});
is($ret, 0, '... stop() works') or diag($err);
($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0});
is($ret, 0, '... and audit_purge()') or diag($err);

# (4) the slot dropped behind the worker's back (a failover): stop()
# acknowledges it at once, and audit_purge() works afterwards
$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
ok($node->poll_query_until('postgres', 'SELECT worker_running FROM tenant_rls.audit_delivery_status()'),
	'delivery runs again');
$node->safe_psql('postgres', qq{
SELECT pg_terminate_backend(worker_pid) FROM tenant_rls.audit_delivery_status();
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot('$slot');
});
ok($node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'}),
	'lint() reports the lost slot');
($ret, $out, $err) = $node->psql('postgres', q{SET statement_timeout = '10s'; SELECT tenant_rls.audit_delivery_stop('2 s')});
is($ret, 0, 'stop() acknowledges the loss without waiting') or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code LIKE 'audit_delivery%'}), '0',
	'... no finding left');
($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0});
is($ret, 0, '... and audit_purge() works') or diag($err);
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}), 't', 'the chains verify');

$node->stop;
done_testing();
