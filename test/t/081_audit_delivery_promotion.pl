# Deferred audit delivery resumed by itself after a promotion (review
# rev51d: after a failover nothing resumed it, the server log said nothing,
# and the promoted server's restartpoints went on removing the WAL that
# audit_delivery_start() needed to deliver the old primary's undelivered
# changes).  The launcher of a server that has finished recovery has a
# short-lived worker look at each database without a delivery slot; it
# resumes only what it can resume losing nothing, and says in the server log
# what it did or why it did not.  One primary, three standbys:
#   1. the primary itself, delivery's slot dropped by hand, then restarted
#      (same timeline: not a promotion): a warning naming the database, no
#      automatic start, lint() reports audit_delivery_lost; the start by hand
#      works.
#   2. a standby that keeps the WAL, promoted while the primary's worker
#      holds changes back: LOG line for each deferring database (one closed
#      to connections too), every held change delivered once, chains verify,
#      later writes deferred again; a database with the extension that never
#      deferred, and one without it, are not mentioned; a copy of a deferring
#      database (CREATE DATABASE ... TEMPLATE) is warned about, not resumed;
#      a restart of the promoted server resumes nothing again.
#   3. a standby whose restartpoints removed that WAL: a warning that the
#      changes are lost, nothing started (lint() still reports it, writers
#      write immediately); audit_delivery_start() by hand defers again.
#   4. a standby with a delivery key of its own: a warning, nothing started;
#      with the primary's key copied over and a restart, delivery resumes by
#      itself and every held change is delivered.
#   5. no worker slot free (max_worker_processes): the launcher warns, and
#      looks at the database once a slot is free; an error of the resume
#      worker is a warning naming the database, also with exit_on_error set
#      for it.
#   6. a resume worker that waits to connect (a statement holds its
#      database) does not hold up the databases after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;
use TenantRlsTest qw(write_ids logged chains_ok hold_worker);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
checkpoint_timeout = 1h
max_wal_size = 4GB
max_worker_processes = 16
});
$primary->start;
$primary->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.f (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.audit_delivery_start();
ALTER DATABASE postgres SET tenant_rls.audit_delivery = deferred;
CREATE DATABASE quiet;
CREATE DATABASE noext;
CREATE DATABASE closed;
CREATE DATABASE tpl;
});
$primary->safe_psql('quiet', 'SET client_min_messages = warning; CREATE EXTENSION tenant_rls');
for my $db ('closed', 'tpl')
{
	$primary->safe_psql($db, q{SET client_min_messages = warning; CREATE EXTENSION tenant_rls;
CREATE TABLE public.f (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.audit_delivery_start();});
	$primary->safe_psql('postgres', "ALTER DATABASE $db SET tenant_rls.audit_delivery = deferred");
}
# a copy of a deferring database carries its state (started_in: tpl)
$primary->safe_psql('postgres', 'CREATE DATABASE copyx TEMPLATE tpl');
$primary->safe_psql('closed', q{BEGIN; SELECT tenant_rls.set_tenant('c') \g /dev/null
INSERT INTO public.f VALUES (1, 'c', 'closed'); COMMIT; SELECT tenant_rls.audit_delivery_wait('60 s');});
$primary->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS false');
ok($primary->poll_query_until('postgres', q{SELECT count(*) = 3 FROM pg_replication_slots WHERE slot_name LIKE 'tenant_rls_audit_%' AND active}),
	'primary: three databases defer, their workers run');

sub lint_lost
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT string_agg(level, ',') FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'});
}

sub status
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()});
}

# the lines of the server log of $node about resuming, from offset $from
sub resume_lines
{
	my ($node, $from) = @_;
	my $log = slurp_file($node->logfile, $from // 0);
	return join("\n", grep { /tenant_rls: .*(resume|replication slot is not here)/ } split /\n/, $log);
}

write_ids($primary, 1, 10);
is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'primary: delivered');
is(resume_lines($primary), '', 'primary: its server log says nothing of resuming');

# ---------------------------------------------------------------- 1. same timeline
{
	my $slot = $primary->safe_psql('postgres', q{SELECT 'tenant_rls_audit_' || oid FROM pg_database WHERE datname = 'postgres'});
	$primary->safe_psql('postgres', qq{
SELECT pg_terminate_backend(worker_pid) FROM tenant_rls.audit_delivery_status();
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot('$slot');});
	my $offset = -s $primary->logfile;
	$primary->restart;
	ok($primary->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery was started in database "postgres", but its replication slot is not here/, $offset),
		'slot dropped, server restarted: the server log names the database');
	like(slurp_file($primary->logfile, $offset), qr/DETAIL:  A restored base backup, or a slot dropped or lost on this server \(not a promotion\).*\n.*HINT:  Run SELECT tenant_rls.audit_delivery_start\(\); in that database: it delivers those changes if the WAL is still here/,
		'... says why it does not resume, and what to run');
	sleep(2);
	is(status($primary), 'immediate', '... and starts nothing by itself: writers write immediately');
	is(lint_lost($primary), 'error', '... lint() reports audit_delivery_lost');
	unlike(slurp_file($primary->logfile, $offset), qr/database "(quiet|noext|closed|tpl)"/, '... nothing about the other databases');
	my ($ret, $out, $err) = $primary->psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
	is($ret, 0, '... audit_delivery_start() by hand works') or diag($err);
	ok($primary->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
		'... and its worker runs');
	is(lint_lost($primary), '', '... no finding left');
}

# ---------------------------------------------------------------- the standbys
$primary->backup('b');
my %standby;
for my $name ('keeps', 'lost', 'otherkey')
{
	my $s = PostgreSQL::Test::Cluster->new($name);
	$s->init_from_backup($primary, 'b', has_streaming => 1);
	$s->append_conf('postgresql.conf', "wal_keep_size = '1GB'") unless $name eq 'lost';
	if ($name eq 'otherkey')
	{
		open my $kf, '>:raw', $s->data_dir . '/tenant_rls_audit.key' or die $!;
		print $kf 'k' x 32;
		close $kf;
	}
	$s->start;
	$standby{$name} = $s;
}

write_ids($primary, 11, 12);
is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'primary: ids 11-12 delivered');
my $holder = hold_worker($primary);
write_ids($primary, 13, 40);
is(logged($primary, 13, 40), '0 0', 'primary: with the worker held up, ids 13-40 are not in the log');
# the WAL moves on; the standby "lost" removes it at its restartpoint
$primary->safe_psql('postgres', 'CHECKPOINT; SELECT pg_switch_wal();') for 1 .. 3;
$primary->wait_for_catchup($_) for values %standby;
like($standby{lost}->safe_psql('postgres', q{SELECT message FROM tenant_rls.lint() WHERE code = 'audit_delivery_wal_missing'}),
	qr/^This standby holds the WAL from [0-9A-F]+\/[0-9A-F]+, where deferred audit delivery of database postgres on the primary reads from, but a promotion would remove it: the checkpoint at the end of recovery keeps 0 WAL segment\(s\) before the replay position \(wal_keep_size = 0\), and [3-9] are needed\.$/,
	'standby "lost", its restartpoint not made yet: lint() says that a promotion would remove the WAL (review rev51d: it said nothing)');
$standby{lost}->safe_psql('postgres', 'CHECKPOINT');
like($standby{lost}->safe_psql('postgres', q{SELECT message FROM tenant_rls.lint() WHERE code = 'audit_delivery_wal_missing'}),
	qr/^This standby no longer holds the WAL from .* WAL segments from there to the replay position are gone\.$/,
	'standby "lost", after its restartpoint: lint() says the WAL is gone');
is($standby{keeps}->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_delivery_wal_missing'}),
	'0', 'standby "keeps": holds the WAL');
$primary->stop('immediate');
$holder->kill_kill;

# ---------------------------------------------------------------- 2. the WAL is there
{
	my $s = $standby{keeps};
	$s->promote;
	ok($s->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at [0-9A-F]+\/[0-9A-F]+ after a promotion/),
		'promoted: the server log says that delivery of "postgres" resumes');
	ok($s->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "closed" resumes from the WAL/),
		'... and of "closed" (closed to connections)');
	ok($s->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery was started in database "copyx", but its replication slot is not here\n.*DETAIL:  The database is a copy of database \d+ .*\n.*HINT:  Run SELECT tenant_rls.audit_delivery_start\(\); in that database to defer there/),
		'... the copy "copyx" is warned about, not resumed');
	ok($s->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "tpl" resumes from the WAL/),
		'... "tpl" resumes');
	like(slurp_file($s->logfile), qr/DETAIL:  Delivery was started there on the server this one was promoted from, whose replication slot is not here: the changes committed after [0-9A-F]+\/[0-9A-F]+ that are not in the audit log yet are delivered now/,
		'... with a detail that says what it does');
	unlike(resume_lines($s), qr/"(quiet|noext)"/, '... nothing about the database that never deferred, nor the one without the extension');
	ok($s->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), 'promoted: the worker runs');
	is($s->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'promoted: delivered');
	is(logged($s, 13, 40), '28 28', 'promoted: every held-up change is in the log, once');
	is(logged($s, 1, 12), '12 12', '... nothing delivered before written twice');
	is($s->safe_psql('postgres', q{SELECT messages_rejected FROM tenant_rls.audit_delivery_status()}), '0', '... no message rejected');
	is(chains_ok($s), 't', 'promoted: every chain verifies');
	is(lint_lost($s), '', 'promoted: no audit_delivery_lost');
	is(status($s), 'deferred', 'promoted: writers defer again');
	my $batches = $s->safe_psql('postgres', q{SELECT batches_delivered FROM tenant_rls.audit_delivery_status()});
	write_ids($s, 100, 101);
	is($s->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'promoted: new changes');
	is(logged($s, 100, 101), '2 2', '... are in the log');
	ok($s->safe_psql('postgres', q{SELECT batches_delivered FROM tenant_rls.audit_delivery_status()}) >= $batches + 2,
		'... written by the worker: deferred');
	is(chains_ok($s), 't', '... every chain verifies');
	is($s->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tenant_rls_audit_%' AND active}),
		'3', 'promoted: a slot and a running worker for each of the three deferring databases');
	is($s->safe_psql('copyx', q{SELECT string_agg(level, ',') FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'}),
		'error', 'promoted: lint() in the copy still reports audit_delivery_lost');
	my $offset = -s $s->logfile;
	$s->restart;
	ok($s->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), 'promoted, restarted: the worker runs');
	sleep(2);
	is(resume_lines($s, $offset) =~ s/.*"copyx".*\n?//gr, '', '... nothing resumed again (the slots are there)');
	$s->stop;
}

# ---------------------------------------------------------------- 3. the WAL is gone
{
	my $s = $standby{lost};
	$s->promote;
	ok($s->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery of database "postgres" cannot resume after a promotion: the WAL since [0-9A-F]+\/[0-9A-F]+ is gone/),
		'promoted without the WAL: the server log warns, naming the database');
	like(slurp_file($s->logfile), qr/DETAIL:  Delivery was started there on the server this one was promoted from, whose replication slot is not here: changes committed after [0-9A-F]+\/[0-9A-F]+ and not delivered before, if there were any, are missing from the audit log.*\n.*HINT:  Run SELECT tenant_rls.audit_delivery_start\(\); in that database to defer again/,
		'... says what is missing and what to run');
	sleep(2);
	is(status($s), 'immediate', '... nothing started: writers write immediately');
	is(lint_lost($s), 'error', '... lint() still reports audit_delivery_lost');
	is($s->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tenant_rls_audit_' || (SELECT oid FROM pg_database WHERE datname = 'postgres')}),
		'0', '... no slot left behind');
	my ($ret, $out, $err) = $s->psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
	is($ret, 0, '... audit_delivery_start() by hand works') or diag($err);
	like($err, qr/WARNING:  deferred audit delivery was started in this database, but its replication slot and the WAL since/, '... and warns that the WAL is gone');
	ok($s->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), '... the worker runs');
	is(logged($s, 13, 40), '0 0', '... the lost entries are not made up');
	is(chains_ok($s), 't', '... every chain verifies');
	$s->stop;
}

# ---------------------------------------------------------------- 4. another key
{
	my $s = $standby{otherkey};
	$s->promote;
	ok($s->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery of database "postgres" did not resume after a promotion: this server's delivery key is not the one delivery was started with/),
		'promoted with a key of its own: the server log warns');
	like(slurp_file($s->logfile), qr/HINT:  Copy \$PGDATA\/tenant_rls_audit.key of the server delivery was started on into this server's data directory/,
		'... and says to copy the key file');
	sleep(2);
	is(status($s), 'immediate', '... nothing started');
	is(logged($s, 13, 40), '0 0', '... the held-up changes are not in the log');
	$s->stop;
	my $primary_key = slurp_file($primary->data_dir . '/tenant_rls_audit.key');
	open my $kf, '>:raw', $s->data_dir . '/tenant_rls_audit.key' or die $!;
	print $kf $primary_key;
	close $kf;
	my $offset = -s $s->logfile;
	$s->start;
	ok($s->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at/, $offset),
		'with the primary\'s key and a restart: delivery resumes by itself');
	like(slurp_file($s->logfile, $offset), qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at [0-9A-F]+\/[0-9A-F]+ after an earlier promotion or point-in-time recovery\n.*DETAIL:  Delivery was started there before this server's timeline 2 began at [0-9A-F]+\/[0-9A-F]+ \(a promotion or a point-in-time recovery before the server's last start\)/,
		'... and says it is not a promotion at this start (review rev51f: "after a promotion")');
	ok($s->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), '... the worker runs');
	is($s->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', '... delivered');
	is(logged($s, 13, 40), '28 28', '... every held-up change is in the log, once');
	is($s->safe_psql('postgres', q{SELECT messages_rejected FROM tenant_rls.audit_delivery_status()}), '0', '... none rejected');
	is(chains_ok($s), 't', '... every chain verifies');
	$s->stop;
}

# ---------------------------------------------------------------- 5. no worker slot free
# db2's slot is dropped; after a restart with every worker slot taken (the
# logical replication launcher, ours, and the delivery worker of postgres),
# the launcher warns that it cannot look at db2, and does once a slot is free
{
	my $n = PostgreSQL::Test::Cluster->new('small');
	$n->init(allows_streaming => 1);
	$n->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
max_parallel_workers_per_gather = 0
});
	$n->start;
	$n->safe_psql('postgres', q{SET client_min_messages = warning; CREATE EXTENSION tenant_rls;
SELECT tenant_rls.audit_delivery_start(); CREATE DATABASE db2;});
	$n->safe_psql('db2', q{SET client_min_messages = warning; CREATE EXTENSION tenant_rls; SELECT tenant_rls.audit_delivery_start();});
	ok($n->poll_query_until('db2', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), 'small: db2 defers');
	my $db2 = $n->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'db2'});
	$n->safe_psql('db2', qq{
SELECT pg_terminate_backend(worker_pid) FROM tenant_rls.audit_delivery_status();
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot('tenant_rls_audit_$db2');});
	$n->append_conf('postgresql.conf', 'max_worker_processes = 3');
	my $offset = -s $n->logfile;
	$n->restart;
	ok($n->wait_for_log(qr/WARNING:  tenant_rls: could not start a worker to resume deferred audit delivery in database $db2\n.*DETAIL:  At each start of the server \(after a promotion too\), a worker looks at each database whose deferred delivery may have lost its replication slot.*\n.*HINT:  Raise max_worker_processes/, $offset),
		'small, no worker slot free: the launcher says it cannot look at db2 (and not "after a promotion": this is a restart; review rev51f)');
	ok($n->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), '... (the delivery worker of postgres runs)');
	unlike(slurp_file($n->logfile, $offset), qr/database "db2"/, '... and has not looked at db2 yet');
	$n->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
	ok($n->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery was started in database "db2", but its replication slot is not here/, $offset),
		'... once the delivery worker of postgres has stopped, it looks at db2');
	is($n->safe_psql('db2', q{SELECT string_agg(level, ',') FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'}), 'error',
		'... where lint() reports audit_delivery_lost (same timeline: not resumed)');

	# an error in the resume worker (no replication slots allowed) is a
	# warning naming the database, also where the database's owner set
	# exit_on_error for it (review rev51f: a FATAL, without the database)
	$n->safe_psql('postgres', 'ALTER DATABASE db2 SET exit_on_error = on');
	$n->append_conf('postgresql.conf', 'max_replication_slots = 0');
	$offset = -s $n->logfile;
	$n->restart;
	ok($n->wait_for_log(qr/WARNING:  tenant_rls: could not resume deferred audit delivery in database "db2": replication slots can only be used if max_replication_slots > 0/, $offset),
		'small, exit_on_error set for db2: an error of its resume worker is a warning naming db2');
	unlike(slurp_file($n->logfile, $offset), qr/FATAL:  replication slots can only be used/, '... not a FATAL');
	like(slurp_file($n->logfile, $offset), qr/could not resume deferred audit delivery in database "db2": .*\n.*DETAIL:  Delivery was started there, and its replication slot is not here \(not lost to a promotion: a restored base backup, or a slot dropped or lost on this server\)/,
		'... whose detail does not speak of a promotion: same timeline (review rev51f)');
	$n->stop;
}

# ---------------------------------------------------------------- 6. a resume worker held up while it connects
# (review rev51f) The resume worker of a database that a statement holds
# (ALTER DATABASE ... RENAME in an open transaction here; CREATE DATABASE ...
# TEMPLATE copying it, or ALTER DATABASE ... SET TABLESPACE) waits to
# connect, without a timeout.  The databases after it are looked at all the
# same (before: none was until that statement ended, while checkpoints went on
# removing the WAL their resumption needs).
{
	my $n = PostgreSQL::Test::Cluster->new('held');
	$n->init(allows_streaming => 1);
	$n->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
max_parallel_workers_per_gather = 0
});
	$n->start;
	$n->safe_psql('postgres', q{SET client_min_messages = warning; CREATE EXTENSION tenant_rls;
SELECT tenant_rls.audit_delivery_start(); CREATE DATABASE blk; CREATE DATABASE app; CREATE DATABASE occ;});
	for my $db ('app', 'occ')
	{
		$n->safe_psql($db, q{SET client_min_messages = warning; CREATE EXTENSION tenant_rls; SELECT tenant_rls.audit_delivery_start();});
		ok($n->poll_query_until($db, q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}), "held: $db defers");
	}
	my $app = $n->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'app'});
	$n->safe_psql('app', qq{
SELECT pg_terminate_backend(worker_pid) FROM tenant_rls.audit_delivery_status();
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot('tenant_rls_audit_$app');});
	# (the launcher looks at the databases in the order of pg_database: blk first)
	is($n->safe_psql('postgres', q{SELECT string_agg(datname, ',' ORDER BY ctid) FROM pg_database WHERE datname IN ('blk', 'app')}),
		'blk,app', 'held: blk comes before app');
	# every worker slot taken (the logical replication launcher, ours, the
	# delivery workers of postgres and occ) until the lock on blk is held
	$n->append_conf('postgresql.conf', 'max_worker_processes = 4');
	my $offset = -s $n->logfile;
	$n->restart;
	ok($n->wait_for_log(qr/WARNING:  tenant_rls: could not start a worker to resume deferred audit delivery/, $offset),
		'held: no worker slot free yet');
	my $holder = $n->background_psql('postgres', on_error_stop => 1);
	$holder->query_safe('BEGIN; ALTER DATABASE blk RENAME TO blk2');
	$n->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
	$n->safe_psql('occ', 'SELECT tenant_rls.audit_delivery_stop()');
	my $seen = 0;
	for (1 .. 60)
	{
		if (slurp_file($n->logfile, $offset) =~ /WARNING:  tenant_rls: deferred audit delivery was started in database "app", but its replication slot is not here/)
		{
			$seen = 1;
			last;
		}
		sleep 1;
	}
	ok($seen, 'held: while the resume worker of blk waits to connect, app is looked at (its slot is not here)');
	$holder->query_safe('ROLLBACK');
	$holder->quit;
	is($n->safe_psql('app', q{SELECT string_agg(level, ',') FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'}), 'error',
		'held: app: lint() reports audit_delivery_lost (same timeline: not resumed)');
	$n->stop;
}

done_testing();
