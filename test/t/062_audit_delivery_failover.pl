# Deferred audit delivery across a failover and a restored base backup.
# Replication slots are neither replicated nor backed up, but
# tenant_rls.audit_delivery_state is: it says that delivery was started and
# from where the lost slot would have read (restart_lsn).
#   1. failover: the primary's worker is held up, changes are deferred and
#      replicated, the primary dies, the standby is promoted.  There the
#      launcher resumes delivery by itself (review rev51d: nothing did, the
#      server log said nothing, and the promoted server's restartpoints went
#      on removing the WAL it needed): it finds the WAL still in pg_wal, says
#      so in the server log, and delivers every held-up change exactly once
#      (nothing delivered before is written again); later commits are
#      deferred again, and audit_delivery_start() by hand changes nothing.
#   2. a base backup restored without the WAL the lost slot would have read:
#      the server log names the database, nothing resumes by itself (not a
#      promotion), lint() reports it, audit_delivery_start() warns that the changes are
#      lost (and does not pretend otherwise); audit_delivery_stop()
#      acknowledges the loss on another copy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;
use TenantRlsTest qw(start_deferring write_ids logged chains_ok hold_worker);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
checkpoint_timeout = 1h
max_wal_size = 4GB
});
$primary->start;
ok(start_deferring($primary), 'primary: the delivery worker runs');

sub lint_lost
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT level || ':' || coalesce(fix, '-') FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'});
}

write_ids($primary, 1, 10);
is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'primary: delivered');
is(logged($primary, 1, 10), '10 10', 'primary: ids 1-10 in the log');
is(lint_lost($primary), '', 'primary: no audit_delivery_lost');

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
ok(-e $standby->data_dir . '/tenant_rls_audit.key', 'the delivery key came with the base backup');

# ---------------------------------------------------------------- 1. failover
# delivery goes on after the standby was made (audit_delivery_state.restart_lsn
# then points into WAL the standby has), then the worker is held up
write_ids($primary, 11, 12);
is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'primary: ids 11-12 delivered');
my $holder = hold_worker($primary);
write_ids($primary, 13, 60);
is(logged($primary, 13, 60), '0 0', 'primary: with the worker held up, ids 13-60 are not in the log');
$primary->wait_for_catchup($standby);
is(lint_lost($standby), '', 'standby (in recovery): nothing reported');
$primary->stop('immediate');
$holder->kill_kill;
$standby->promote;
ok($standby->poll_query_until('postgres', q{SELECT NOT pg_is_in_recovery()}), 'the standby is promoted');

is($standby->safe_psql('postgres', q{SELECT count(*) FROM public.f WHERE id BETWEEN 13 AND 60}), '48',
	'promoted: the 48 held-up rows were replicated');
ok($standby->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at [0-9A-F]+\/[0-9A-F]+ after a promotion/),
	'promoted: the launcher resumed delivery by itself, and the server log says so');
ok($standby->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()}),
	'promoted: the worker runs');
is($standby->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'promoted: delivered');
is(logged($standby, 13, 60), '48 48', 'promoted: every held-up change is in the log now, once');
is(logged($standby, 1, 12), '12 12', '... and nothing delivered before the failover twice');
is($standby->safe_psql('postgres', q{SELECT messages_rejected FROM tenant_rls.audit_delivery_status()}), '0',
	'... every message verified (same key)');
is(chains_ok($standby), 't', 'promoted: every chain verifies');
is(lint_lost($standby), '', 'promoted: no audit_delivery_lost');
is($standby->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'deferred',
	'promoted: writers defer again');
{
	my ($ret, $out, $err) = $standby->psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
	is($ret, 0, 'promoted: audit_delivery_start() by hand afterwards works') or diag($err);
	unlike($err, qr/resumes|WARNING/, '... and resumes nothing again');
}
my $batches = $standby->safe_psql('postgres', q{SELECT batches_delivered FROM tenant_rls.audit_delivery_status()});
write_ids($standby, 101, 101);
is($standby->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'promoted: a new change of a deferring session');
is(logged($standby, 101, 101), '1 1', '... is in the log');
ok($standby->safe_psql('postgres', q{SELECT batches_delivered FROM tenant_rls.audit_delivery_status()}) > $batches,
	'... written by the worker: it was deferred');
is(chains_ok($standby), 't', 'promoted: every chain verifies');

# between deliveries, restart_lsn follows the slot once it is a segment behind
my $r0 = $standby->safe_psql('postgres', q{SELECT restart_lsn FROM tenant_rls.audit_delivery_state});
$standby->safe_psql('postgres', q{CREATE TABLE public.unaudited (x int);
	SELECT tenant_rls.disable_audit('public.unaudited');});
for (1 .. 3)
{
	$standby->safe_psql('postgres', q{INSERT INTO public.unaudited VALUES (1); SELECT pg_switch_wal();});
}
ok($standby->poll_query_until('postgres', qq{SELECT restart_lsn - '$r0'::pg_lsn >= 16 * 1024 * 1024 FROM tenant_rls.audit_delivery_state}),
	'idle worker: audit_delivery_state.restart_lsn follows the slot across WAL segments');
# (once it has followed all three switches: on a loaded machine it was still
# on its way one second after the first, CI on 2026-11-24)
my $restart = q{SELECT restart_lsn FROM tenant_rls.audit_delivery_state};
my $r1 = $standby->safe_psql('postgres', $restart);
for (1 .. 60)
{
	sleep(2);
	my $r = $standby->safe_psql('postgres', $restart);
	last if $r eq $r1;
	$r1 = $r;
}
sleep(2);
is($standby->safe_psql('postgres', $restart), $r1,
	'... and does not write while nothing else does');

# ---------------------------------------------------------------- 2. the WAL is gone
# changes deferred while the worker is held up, then a new WAL segment, then
# a base backup: its pg_wal starts after the messages
$holder = hold_worker($standby);
write_ids($standby, 200, 209);
$standby->safe_psql('postgres', 'SELECT pg_switch_wal(); CHECKPOINT;');
$standby->backup('b2');
$holder->kill_kill;

my $restored = PostgreSQL::Test::Cluster->new('restored');
$restored->init_from_backup($standby, 'b2');
$restored->start;
ok($restored->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery was started in database "postgres", but its replication slot is not here/),
	'restored: the server log names the database whose slot is not there');
is($restored->safe_psql('postgres', q{SELECT count(*) FROM public.f WHERE id BETWEEN 200 AND 209}), '10',
	'restored: the 10 rows are there');
is(logged($restored, 200, 209), '0 0', 'restored: their entries are not');
is(lint_lost($restored), 'error:SELECT tenant_rls.audit_delivery_start();', 'restored: lint() reports audit_delivery_lost');
is($restored->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'immediate',
	'restored: a restored backup (no promotion) is not resumed by itself: writers write immediately');
{
	my ($ret, $out, $err) = $restored->psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
	is($ret, 0, 'restored: audit_delivery_start() works') or diag($err);
	like($err, qr/WARNING:  deferred audit delivery was started in this database, but its replication slot and the WAL since [0-9A-F]+\/[0-9A-F]+ are gone/,
		'... and warns that the WAL is gone');
	like($err, qr/are missing from the audit log/, '... and what that means');
	unlike($err, qr/resumes/, '... and does not claim to resume');
}
is($restored->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'restored: wait');
is(logged($restored, 200, 209), '0 0', 'restored: the lost entries are not made up');
is(lint_lost($restored), '', 'restored: after start(), audit_delivery_lost is gone');
write_ids($restored, 300, 300);
is($restored->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'restored: a new deferred change');
is(logged($restored, 300, 300), '1 1', '... is delivered');
is(chains_ok($restored), 't', 'restored: every chain verifies');
$restored->stop;

# the same backup restored once more: audit_delivery_stop() acknowledges the loss
my $acked = PostgreSQL::Test::Cluster->new('acked');
$acked->init_from_backup($standby, 'b2');
$acked->start;
is(lint_lost($acked), 'error:SELECT tenant_rls.audit_delivery_start();', 'second copy: audit_delivery_lost');
$acked->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
is(lint_lost($acked), '', 'second copy: after audit_delivery_stop(), no longer reported');
is($acked->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'immediate',
	'second copy: writers write immediately');
$acked->stop;
$standby->stop;

done_testing();
