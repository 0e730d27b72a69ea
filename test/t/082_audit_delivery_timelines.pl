# Deferred audit delivery resumed across timelines (review rev51f: only a
# first promotion was tested end to end).  One primary (timeline 1, WAL
# archived), with the delivery worker held up while changes are committed:
#   1. its standby s1 is promoted (timeline 2): delivery resumes by itself.
#   2. s1's own standby s2 is promoted after s1 dies with changes held up
#      (timeline 3): delivery resumes again, every change is in the log
#      once, the chains verify.
#   3. s1's standby s3, whose WAL segment that delivery needs is in pg_wal
#      only under another timeline's name (review rev51f: a file of any
#      timeline counted, and the worker then failed on the file it reads),
#      is promoted: a warning that the WAL is gone, nothing started;
#      audit_delivery_start() by hand says the same, after a checkpoint of
#      its own (before it trusts the files it finds: a checkpoint under way
#      may have read the slots' minimum before the slot was lowered; review
#      rev51f).
#   4. a base backup of s3 (timeline 3, never resumed) restored: the warning
#      says it is a restored base backup, not a promotion (review rev51f).
#   5. point-in-time recovery of the primary's base backup to an LSN between
#      the held-up commits (recovery_target_action = promote): delivery
#      resumes, the commits before the target are in the log once, those
#      after it are not in the recovered database at all.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw(start_deferring write_ids logged chains_ok hold_worker);

my $conf = qq{
shared_preload_libraries = 'tenant_rls'
checkpoint_timeout = 1h
max_wal_size = 4GB
log_checkpoints = on
};
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1, has_archiving => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
ok(start_deferring($primary), 'primary: the delivery worker runs');
write_ids($primary, 1, 5);
is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'primary: ids 1-5 delivered');
$primary->backup('b0');
# delivered after the backup: audit_delivery_state.restart_lsn moves into
# WAL the backup's servers have
write_ids($primary, 6, 10);
is($primary->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'primary: ids 6-10 delivered');

# a standby of $from made from its backup $backup: streaming, WAL kept, not archiving
sub standby_of
{
	my ($from, $backup, $name) = @_;
	my $s = PostgreSQL::Test::Cluster->new($name);
	$s->init_from_backup($from, $backup, has_streaming => 1);
	$s->append_conf('postgresql.conf', "wal_keep_size = '1GB'\narchive_mode = off");
	$s->start;
	return $s;
}

# the server log of $node from $offset on
sub log_from
{
	my ($node, $offset) = @_;
	return slurp_file($node->logfile, $offset // 0);
}

sub timeline
{
	my ($node) = @_;
	$node->safe_psql('postgres', 'CHECKPOINT');
	return $node->safe_psql('postgres', 'SELECT timeline_id FROM pg_control_checkpoint()');
}

my $s1 = standby_of($primary, 'b0', 's1');
my $holder = hold_worker($primary);
write_ids($primary, 11, 20);
# the target of the point-in-time recovery (5.): after id 20's commit
my $target = $primary->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
write_ids($primary, 21, 25);
is(logged($primary, 11, 25), '0 0', 'primary: with the worker held up, ids 11-25 are not in the log');
my $last_seg = $primary->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$primary->safe_psql('postgres', 'SELECT pg_switch_wal()');
ok($primary->poll_query_until('postgres', qq{SELECT last_archived_wal >= '$last_seg' FROM pg_stat_archiver}),
	'primary: its WAL up to the held-up commits is archived');
$primary->wait_for_catchup($s1);
$primary->stop('immediate');
$holder->kill_kill;

# ---------------------------------------------------------------- 1. timeline 2
{
	my $offset = -s $s1->logfile;
	$s1->promote;
	ok($s1->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at [0-9A-F]+\/[0-9A-F]+ after a promotion/, $offset),
		's1 promoted: delivery resumes by itself');
	is($s1->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 's1: delivered');
	is(logged($s1, 1, 25), '25 25', 's1: ids 1-25 in the log, once each');
	is(chains_ok($s1), 't', 's1: every chain verifies');
	is(timeline($s1), '2', 's1: on timeline 2');
}

# ---------------------------------------------------------------- 2. timeline 3
$s1->backup('b1');
my $s2 = standby_of($s1, 'b1', 's2');
my $s3 = standby_of($s1, 'b1', 's3');
write_ids($s1, 26, 30);
is($s1->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 's1: ids 26-30 delivered');
$holder = hold_worker($s1);
write_ids($s1, 31, 50);
is(logged($s1, 31, 50), '0 0', 's1: with the worker held up, ids 31-50 are not in the log');
$s1->safe_psql('postgres', 'CHECKPOINT; SELECT pg_switch_wal();') for 1 .. 3;
$s1->wait_for_catchup($_) for ($s2, $s3);
my $restart = $s3->safe_psql('postgres', 'SELECT restart_lsn FROM tenant_rls.audit_delivery_state');
$s1->stop('immediate');
$holder->kill_kill;
{
	my $offset = -s $s2->logfile;
	$s2->promote;
	ok($s2->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at $restart after a promotion/, $offset),
		"s2 promoted (a standby of the promoted s1): delivery resumes from $restart");
	is($s2->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 's2: delivered');
	is(logged($s2, 31, 50), '20 20', 's2: every change held up on s1 is in the log, once');
	is(logged($s2, 1, 30), '30 30', '... nothing delivered before written twice');
	is($s2->safe_psql('postgres', q{SELECT messages_rejected FROM tenant_rls.audit_delivery_status()}), '0', '... none rejected');
	is(chains_ok($s2), 't', 's2: every chain verifies');
	is(timeline($s2), '3', 's2: on timeline 3');
	write_ids($s2, 51, 52);
	is($s2->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 's2: new changes');
	is(logged($s2, 51, 52), '2 2', '... are in the log');
	is($s2->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'deferred', 's2: writers defer');
	$s2->stop;
}

# ---------------------------------------------------------------- 3. a file of another timeline
{
	# the segment of $restart, on timeline 2, renamed to timeline 1's name
	my ($hi, $lo) = map { hex } split m{/}, $restart;
	my $segno = ($hi * 2**32 + $lo) / (16 * 1024 * 1024);
	$segno = int($segno);
	my $tail = sprintf('%08X%08X', int($segno / 256), $segno % 256);
	$s3->safe_psql('postgres', 'CHECKPOINT');    # (a restartpoint past it)
	$s3->stop;
	my $wal = $s3->data_dir . '/pg_wal';
	ok(-f "$wal/00000002$tail", "s3: the segment 00000002$tail of $restart is there");
	rename("$wal/00000002$tail", "$wal/00000001$tail") or die $!;
	$s3->start;
	my $offset = -s $s3->logfile;
	$s3->promote;
	ok($s3->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery of database "postgres" cannot resume after a promotion: the WAL since $restart is gone/, $offset),
		's3 promoted, the segment there only as 00000001...: the server log says the WAL is gone (review rev51f: it resumed, and the worker could not read it)');
	unlike(log_from($s3, $offset), qr/resumes from the WAL/, '... and does not claim to resume');
	is($s3->safe_psql('postgres', q{SELECT delivery FROM tenant_rls.audit_delivery_status()}), 'immediate', '... nothing started');
	is($s3->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}), '0', '... no slot left behind');
	# (for 4.: the state as it is, started, restart_lsn before timeline 3)
	$s3->backup('b3');
	$offset = -s $s3->logfile;
	my ($ret, $out, $err) = $s3->psql('postgres', 'SELECT tenant_rls.audit_delivery_start()');
	# (a CHECKPOINT by hand or a base backup's is "immediate force wait"; one
	# after nothing was written since the last is skipped, and not logged)
	like(log_from($s3, $offset), qr/statement: SELECT tenant_rls.audit_delivery_start\(\)\n.*LOG:  checkpoint starting: immediate wait\n.*LOG:  checkpoint complete: .*\n.*WARNING:  deferred audit delivery was started in this database/,
		'... after a checkpoint of its own: one under way may have read the slots\' minimum before the slot was lowered (review rev51f)');
	like($err, qr/WARNING:  deferred audit delivery was started in this database, but its replication slot and the WAL since $restart are gone/,
		'... audit_delivery_start() by hand says the same (it checks the same file)');
	unlike($err, qr/resumes/, '... and does not claim to resume');
	$s3->stop;
}

# ---------------------------------------------------------------- 4. a restored base backup of timeline 3
{
	my $r = PostgreSQL::Test::Cluster->new('restored');
	$r->init_from_backup($s3, 'b3');
	$r->start;
	ok($r->wait_for_log(qr/WARNING:  tenant_rls: deferred audit delivery of database "postgres" cannot resume at the start from a restored base backup: the WAL since $restart is gone\n.*DETAIL:  Delivery was started there before timeline 3 began at [0-9A-F]+\/[0-9A-F]+, on the server the base backup was taken from/),
		'restored base backup of timeline 3: the warning says so, not "after a promotion" (review rev51f)');
	unlike(log_from($r), qr/promotion: the WAL/, '... and does not speak of a promotion');
	$r->stop;
}

# ---------------------------------------------------------------- 5. point-in-time recovery
{
	my $p = PostgreSQL::Test::Cluster->new('pitr');
	$p->init_from_backup($primary, 'b0', has_restoring => 1, standby => 0);
	$p->append_conf('postgresql.conf', qq{
recovery_target_lsn = '$target'
recovery_target_action = 'promote'
recovery_target_timeline = '1'
wal_keep_size = '1GB'
archive_mode = off
});
	$p->start;
	ok($p->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'pitr: recovered to the target and promoted');
	ok($p->wait_for_log(qr/LOG:  tenant_rls: deferred audit delivery of database "postgres" resumes from the WAL at [0-9A-F]+\/[0-9A-F]+ at the end of a point-in-time recovery/),
		'pitr: delivery resumes by itself, and the server log says after what');
	is($p->safe_psql('postgres', q{SELECT tenant_rls.audit_delivery_wait('60 s')}), 't', 'pitr: delivered');
	is($p->safe_psql('postgres', q{SELECT count(*) FROM public.f}), '20', 'pitr: the rows of ids 1-20 are there, 21-25 (after the target) are not');
	is(logged($p, 1, 20), '20 20', 'pitr: every change before the target is in the log, once');
	is(logged($p, 21, 25), '0 0', '... none after it');
	is(chains_ok($p), 't', 'pitr: every chain verifies');
	is($p->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_delivery_lost'}), '0', 'pitr: no audit_delivery_lost');
	$p->stop;
}

done_testing();
