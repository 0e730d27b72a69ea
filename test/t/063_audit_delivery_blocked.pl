# Deferred audit delivery when a transaction holds the audit chain of one
# tenant: a prepared transaction whose entries were written immediately
# keeps that tenant's chain locked until COMMIT / ROLLBACK PREPARED.  The
# delivery worker, which writes every tenant's commits in commit order,
# used to wait for it without end and without a word: one tenant held up
# every tenant's delivery, and status and lint() looked healthy.  Now:
#   - the worker waits a bounded time, then fails with an error that says
#     which lock (pg_locks) and what to do;
#   - after three failures in a row the writers of the database write
#     immediately (new commits of other tenants are logged at once), and
#     lint() reports audit_delivery_stalled;
#   - once the prepared transaction ends, everything deferred is delivered,
#     exactly once, and every chain verifies;
#   - a transaction that deferred entries (an early flush) before the
#     failures goes on deferring after them: its entries keep their order;
#   - a prepared transaction that wrote deferred messages keeps the slot's
#     WAL: lint() names it (audit_delivery_held) and stop() says so;
#   - the last WAL record ending at a page boundary (pg_switch_wal()) does
#     not keep audit_delivery_wait() waiting;
#   - a commit that writes its batches itself waits until the worker has
#     written the same session's last deferred commit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('delivery_blocked');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_level = replica
shared_preload_libraries = 'tenant_rls'
max_prepared_transactions = 2
});
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.b (id bigserial PRIMARY KEY, tenant_id text NOT NULL, v text);
CREATE TABLE public.y (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.audit_delivery_start();
});
ok($node->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'the delivery worker runs');

# tenant a: a prepared transaction whose entries were written immediately
# (PREPARE writes them, and the chain of a stays locked until it ends)
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = immediate;
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO public.b (v) VALUES ('prepared');
PREPARE TRANSACTION 'hold_a';
});
my $log_offset = -s $node->logfile;
# deferred commits of tenant a and of tenant b
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.b (v) VALUES ('deferred a'); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO public.b (v) VALUES ('deferred b'); COMMIT;
});
ok($node->wait_for_log(qr/audit delivery could not lock the audit chain of a tenant within 10 seconds/, $log_offset),
	'the worker gives up waiting for the chain of a, with an error');
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/locktype advisory, classid \d+, objid \d+, objsubid \d+/, '... that names the lock in pg_locks');
like($log, qr/End that transaction \(COMMIT PREPARED or ROLLBACK PREPARED/, '... and says what to do');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' LIKE 'deferred%'}),
	'0', 'the deferred commits wait (nothing lost: they are in the WAL)');

# three failures in a row: the writers write immediately, lint() reports it.
# A transaction that deferred entries before (an early flush: more than
# 32 MB) goes on deferring (review rev22a): written immediately at its
# commit, its UPDATE was chained before the INSERT of its early flush.
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN;
SELECT tenant_rls.set_tenant('y');
INSERT INTO public.y SELECT g, 'y', repeat('x', 1000000) FROM generate_series(1, 40) g;
DO $$
BEGIN
    WHILE (SELECT delivery FROM tenant_rls.audit_delivery_status()) <> 'immediate (delivery failing)' LOOP
        PERFORM pg_sleep(0.2);
    END LOOP;
END
$$;
UPDATE public.y SET v = 'updated' WHERE id = 1;
COMMIT;
}, timeout => 180);
ok($node->poll_query_until('postgres',
		q{SELECT delivery = 'immediate (delivery failing)' FROM tenant_rls.audit_delivery_status()}),
	'after three failures: immediate (delivery failing)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE table_name = 'y'}), '0',
	'the transaction that deferred before the failures deferred its commit too');
like($node->safe_psql('postgres', q{SELECT message FROM tenant_rls.lint() WHERE code = 'audit_delivery_stalled'}),
	qr/failed three times in a row/, 'lint() reports audit_delivery_stalled');
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO public.b (v) VALUES ('now immediate b'); COMMIT;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' = 'now immediate b'}),
	'1', 'meanwhile a new commit of b is in the log at once');

# the prepared transaction ends: everything is delivered, once
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'hold_a'});
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't',
	'after ROLLBACK PREPARED, audit_delivery_wait() returns true');
is($node->safe_psql('postgres', q{SELECT string_agg(new_row->>'v', ', ' ORDER BY new_row->>'v') FROM tenant_rls.audit_log WHERE table_name = 'b'}),
	'deferred a, deferred b, now immediate b', 'every committed row has exactly one entry, the rolled back one none');
is($node->safe_psql('postgres', q{SELECT string_agg(operation, ', ' ORDER BY seq, entry) FROM tenant_rls.audit_log WHERE table_name = 'y' AND row_pk->>'id' = '1'}),
	'INSERT, UPDATE', '... and the early-flushed INSERT comes before the UPDATE of the same transaction');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE table_name = 'y' AND operation = 'INSERT'}),
	'40', '... every INSERT of it once');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain verifies');
$node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_start()});
is($node->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'deferred',
	'audit_delivery_start() defers again');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code LIKE 'audit_delivery%'}), '0',
	'... and lint() reports nothing about delivery');

# A prepared transaction that wrote deferred messages: the worker keeps them
# until it ends, and the slot keeps the WAL from there.  lint() names it once
# it is old or the WAL kept for it passes 64 MB; stop() says why it waits.
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN;
SELECT tenant_rls.set_tenant('c');
INSERT INTO public.b (v) VALUES ('prepared c');
PREPARE TRANSACTION 'held_c';
});
my $xid = $node->safe_psql('postgres', q{SELECT transaction FROM pg_prepared_xacts WHERE gid = 'held_c'});
ok($node->poll_query_until('postgres', qq{SELECT oldest_pending_xid = '$xid' FROM tenant_rls.audit_delivery_status()}),
	'status: the prepared transaction is the oldest pending one');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_delivery_held'}), '0',
	'not reported while it is young and keeps little WAL');
$node->safe_psql('postgres', 'CREATE TABLE public.filler (x int)');
$node->safe_psql('postgres', q{INSERT INTO public.filler VALUES (1); SELECT pg_switch_wal();}) for 1 .. 6;
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM tenant_rls.lint() WHERE code = 'audit_delivery_held' AND message LIKE '%prepared transaction ''held_c''%'}),
	'lint() reports audit_delivery_held, naming the prepared transaction');
like($node->safe_psql('postgres', q{SELECT detail FROM tenant_rls.lint() WHERE code = 'audit_delivery_held'}),
	qr/End it with COMMIT PREPARED 'held_c' or ROLLBACK PREPARED 'held_c'/, '... and how to end it');
{
	my ($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.audit_delivery_stop('2 s')});
	like($err, qr/transaction $xid wrote deferred audit messages and has not ended/,
		'audit_delivery_stop() says which transaction it waits for');
}
is($node->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'deferred',
	'... and the failed stop() leaves delivery deferred');
$node->safe_psql('postgres', q{COMMIT PREPARED 'held_c'});
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't',
	'after COMMIT PREPARED everything is delivered');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' = 'prepared c'}), '1',
	'... the prepared change once');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM tenant_rls.lint() WHERE code LIKE 'audit_delivery%'}),
	'... and lint() reports nothing about delivery');

# the last record before the end of the WAL ends at a page boundary (a
# segment switch): everything is delivered all the same (review rev22a: the
# worker did not advance there, and audit_delivery_wait() timed out)
# (5 s: within 15 s the background writer logs a snapshot, which ends the
# wait anyway)
$node->safe_psql('postgres', q{SELECT pg_switch_wal()});
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('5 s')}), 't',
	'after pg_switch_wal(), audit_delivery_wait() returns true');

# A commit that writes its batches itself (more than 16 batches: one per
# table here) after a deferred commit of the same session that the worker
# has not written yet waits for it (review rev22a: its UPDATE was chained
# before the INSERT of that earlier commit).  The worker is held up by
# SIGSTOP (a lock it waits for would not do: it takes the tenant's chain
# first, and the commit waits for that).
$node->safe_psql('postgres', join('', map { "CREATE TABLE public.m$_ (id int PRIMARY KEY, tenant_id text NOT NULL);\n" } 1 .. 17));
{
	my $timer = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	my $worker = $node->safe_psql('postgres', q{SELECT worker_pid FROM tenant_rls.audit_delivery_status()});
	kill 'STOP', $worker;

	my ($win, $wout, $werr) = ('', '', '');
	my $writer = IPC::Run::start([ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', '-' ],
		'<', \$win, '>', \$wout, '2>', \$werr, $timer);
	$win .= "SET tenant_rls.audit_delivery = deferred;\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant('z') \\g /dev/null\n"
	  . "INSERT INTO public.y VALUES (100, 'z', 'inserted'); COMMIT;\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant('w') \\g /dev/null\n"
	  . "INSERT INTO public.y VALUES (101, 'w', 'other tenant');\n"
	  . join('', map { "INSERT INTO public.m$_ VALUES (1, 'w');\n" } 1 .. 17)
	  . "COMMIT;\nSELECT 'other tenant done';\n"
	  . "BEGIN; SELECT tenant_rls.set_tenant('z') \\g /dev/null\n"
	  . "UPDATE public.y SET v = 'updated' WHERE id = 100;\n"
	  . join('', map { "INSERT INTO public.m$_ VALUES (2, 'z');\n" } 1 .. 17)
	  . "COMMIT;\nSELECT 'done';\n";
	# (IPC::Run feeds psql its input only while pumped)
	for (1 .. 40)
	{
		$writer->pump_nb;
		usleep(50_000);
	}
	like($wout, qr/other tenant done/, 'a commit of 18 batches of another tenant does not wait for the worker');
	unlike($wout, qr/^done/m, 'a commit of 18 batches waits for the same session\'s undelivered deferred commit of its tenant');
	kill 'CONT', $worker;
	$writer->pump until $wout =~ /^done/m;
	$win .= "\\q\n";
	$writer->finish;
	is($werr, '', '... and commits once the worker has written it');
}
is($node->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', '... which it has');
is($node->safe_psql('postgres', q{SELECT string_agg(operation, ', ' ORDER BY seq, entry) FROM tenant_rls.audit_log WHERE table_name = 'y' AND row_pk->>'id' = '100'}),
	'INSERT, UPDATE', '... so the INSERT comes before the UPDATE in the chain');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT ok) FROM tenant_rls.audit_verify()}), '0',
	'every chain verifies');

# a key file longer than 32 bytes is not the key (review rev22a: its first
# 32 bytes were taken)
$node->stop;
{
	my $keyfile = $node->data_dir . '/tenant_rls_audit.key';
	open(my $fh, '>>', $keyfile) or die "cannot append to $keyfile: $!";
	print $fh 'x' x 40;
	close($fh);
}
$log_offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/the audit delivery key file "tenant_rls_audit.key" is not 32 bytes long/, $log_offset),
	'a key file of 72 bytes is refused at start');
is($node->safe_psql('postgres', q{
	SET tenant_rls.audit_delivery = deferred;
	BEGIN; SELECT tenant_rls.set_tenant('k') \g /dev/null
	INSERT INTO public.b (v) VALUES ('without the key'); COMMIT;
	SELECT count(*) FROM tenant_rls.audit_log WHERE new_row->>'v' = 'without the key';}), '1',
	'... and a deferring session writes its commit immediately');

$node->stop;
done_testing();
