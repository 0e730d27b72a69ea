# audit_purge() drops whole partitions of the log, which takes ACCESS
# EXCLUSIVE on tenant_rls.audit_batch.  Queued for that lock behind one open
# transaction that read the log, it made every other tenant's reads of its
# own log wait behind it (review rev24c).  Now it takes the lock only when it
# is free, so tenant b reads while the purge waits for tenant a's reader;
# lock_timeout bounds the wait (55P03).  Nor do writers whose batches go to
# the default partition (no partition of this month here) wait behind it
# (rev24f).  The readers and writers are an application role:
# not superuser, not BYPASSRLS, not the owner.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw($drop_audit_partitions);

my $node = PostgreSQL::Test::Cluster->new('purge_lock');
$node->init;
$node->append_conf('postgresql.conf', "tenant_rls.audit_maintain_worker = off\nmax_prepared_transactions = 2\n");
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE ROLE app LOGIN;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL, v text);
GRANT SELECT, INSERT ON public.t TO app;
GRANT USAGE ON SCHEMA tenant_rls TO app;
GRANT SELECT ON tenant_rls.audit_log TO app;
} . $drop_audit_partitions . q{
CREATE TABLE tenant_rls.audit_batch_p202001 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00');
});
for my $t ('a', 'b')
{
	$node->safe_psql('postgres',
		"BEGIN; SELECT tenant_rls.set_tenant('$t'); INSERT INTO public.t VALUES (" . ord($t) . ", '$t', 'x'); COMMIT;",
		extra_params => [ '-U', 'app' ]);
}
my $old_part = q{SELECT count(*) FROM pg_class WHERE relname = 'audit_batch_p202001'};
is($node->safe_psql('postgres', $old_part), '1', 'an old partition to purge');

# tenant a's reader keeps its transaction open
my $reader = $node->background_psql('postgres', on_error_stop => 1, extra_params => [ '-U', 'app' ]);
$reader->query_safe(q{BEGIN});
$reader->query_safe(q{SELECT tenant_rls.set_tenant('a')});
$reader->query_safe(q{SELECT count(*) FROM tenant_rls.audit_log});

# with lock_timeout the purge gives up, and nothing is purged
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '300ms'; SELECT tenant_rls.audit_purge(now() - interval '1 day')});
like($err, qr/could not lock the audit log to purge it within lock_timeout \(300 ms\)/,
	'lock_timeout bounds the wait');
is($node->safe_psql('postgres', $old_part), '1', '... and nothing was purged');

# without it the purge waits ...
my $purger = $node->background_psql('postgres', on_error_stop => 1);
$purger->query_until(qr/purging/, q{\echo purging
SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0 AS purged;
});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%audit_purge(now()%' AND state = 'active' AND pid <> pg_backend_pid()}, '1'),
	'the purge waits for the reader');
# ... but tenant b's reads of its log do not wait behind it
($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('b'); SELECT count(*) FROM tenant_rls.audit_log; COMMIT;},
	extra_params => [ '-U', 'app' ]);
is($ret, 0, "another tenant reads its log while the purge waits") or diag($err);
like($out, qr/^b\n1$/m, '... and sees its entry');
# ... nor do audited writes that go to the default partition
($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '5s'; SET lock_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO public.t VALUES (1000, 'b', 'y'); COMMIT;},
	extra_params => [ '-U', 'app' ]);
is($ret, 0, "an audited write to the default partition does not wait for the purge") or diag($err);
is($node->safe_psql('postgres', $old_part), '1', 'the purge has not run yet');

# the reader ends: the purge goes through
$reader->query_safe(q{COMMIT});
$reader->quit;
ok($node->poll_query_until('postgres', $old_part, '0'), 'then the purge drops the partition');
$purger->quit;
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}),
	't', 'the chains verify after the purge');

# a steady stream of short reads (each holds the log 50 ms, three readers
# overlapping): the lock is never free at the instant of a try, but a brief
# queued try gets it (rev24e: polling alone waited out lock_timeout)
$node->safe_psql('postgres', q{
CREATE TABLE tenant_rls.audit_batch_p202002 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2020-02-01 00:00+00') TO ('2020-03-01 00:00+00');
});
my $part2 = q{SELECT count(*) FROM pg_class WHERE relname = 'audit_batch_p202002'};
my @readers;
for my $r (1 .. 3)
{
	my $bg = $node->background_psql('postgres', on_error_stop => 1, extra_params => [ '-U', 'app' ]);
	$bg->query_until(qr/reading/, "\\echo reading\n"
		  . join('', map { "BEGIN; SELECT tenant_rls.set_tenant('a'); SELECT count(*) FROM tenant_rls.audit_log; SELECT pg_sleep(0.05); COMMIT;\n" } 1 .. 300));
	push @readers, $bg;
}
($ret, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '8s'; SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0});
is($ret, 0, 'under a steady stream of short reads the purge gets its lock') or diag($err);
is($node->safe_psql('postgres', $part2), '0', '... and drops the partition');
$_->quit for @readers;

# Review rev31a: two waits outside those tries, in a database of their own
# (pl2: no partition of this month, none to drop).
$node->safe_psql('postgres', q{CREATE DATABASE pl2});
$node->safe_psql('pl2', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL, v text);
GRANT SELECT, INSERT ON public.t TO app;
GRANT USAGE ON SCHEMA tenant_rls TO app;
GRANT SELECT ON tenant_rls.audit_log TO app;
} . $drop_audit_partitions);
my $ahead = q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'tenant_rls.audit_batch'::regclass AND inhrelid <> 'tenant_rls.audit_batch_default'::regclass};
# (a) At its end the purge created the partitions ahead (audit_maintain()),
# queued for ACCESS EXCLUSIVE on the log behind any open transaction that
# had read it: every tenant's reads of its log waited until that one ended.
# Now it creates them only when the locks are free, else warns.
$reader = $node->background_psql('pl2', on_error_stop => 1, extra_params => [ '-U', 'app' ]);
$reader->query_safe(q{BEGIN});
$reader->query_safe(q{SELECT tenant_rls.set_tenant('a')});
$reader->query_safe(q{SELECT count(*) FROM tenant_rls.audit_log});
($ret, $out, $err) = $node->psql('pl2',
	q{SET statement_timeout = '5s'; SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0});
is($ret, 0, 'a purge does not wait to create the partitions ahead while the log is read') or diag($err);
like($err, qr/WARNING:  audit_batch partitions ahead not created: the audit log is in use/, '... and says so');
($ret, $out, $err) = $node->psql('pl2',
	q{SET statement_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('b'); SELECT count(*) FROM tenant_rls.audit_log; COMMIT;},
	extra_params => [ '-U', 'app' ]);
is($ret, 0, '... nor do other tenants wait to read their log') or diag($err);
is($node->safe_psql('pl2', $ahead), '0', '... and it creates none');
$reader->query_safe(q{COMMIT});
$reader->quit;

# (b) With no partition to drop, the purge locked the default partition
# with a plain LOCK TABLE: queued behind a prepared transaction that wrote to
# it, it made every audited commit that goes there wait until COMMIT
# PREPARED.  (The log is free: this purge creates the partitions ahead.)
my $purging = q{SELECT count(*) FROM pg_stat_activity WHERE datname = 'pl2' AND query LIKE '%audit_purge(now()%' AND state = 'active' AND pid <> pg_backend_pid()};
$node->safe_psql('pl2',
	q{BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (2000, 'a', 'p'); PREPARE TRANSACTION 'px';},
	extra_params => [ '-U', 'app' ]);
$purger = $node->background_psql('pl2', on_error_stop => 1);
$purger->query_until(qr/purging/, q{\echo purging
SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0 AS purged;
});
ok($node->poll_query_until('postgres', $purging, '1'), 'the purge waits for the prepared transaction');
($ret, $out, $err) = $node->psql('pl2',
	q{SET statement_timeout = '5s'; SET lock_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO public.t VALUES (2001, 'b', 'y'); COMMIT;},
	extra_params => [ '-U', 'app' ]);
is($ret, 0, "an audited write to the default partition does not wait behind a purge with nothing to drop") or diag($err);
$node->safe_psql('pl2', q{COMMIT PREPARED 'px'});
ok($node->poll_query_until('postgres', $purging, '0'), '... and the purge ends after COMMIT PREPARED');
$purger->quit;

is($node->safe_psql('pl2', $ahead), '4', 'with the log free, that purge created the partitions of this and the next three months');
is($node->safe_psql('pl2', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}),
	't', 'the chains verify after these purges');

# (c) Review rev33a: the PURGE entry goes into the chain of the entries
# without tenant at commit.  A prepared transaction that wrote such an entry
# (an application role writing an audited global table with no tenant set)
# holds that chain: the purge used to wait for it at commit while holding
# ACCESS EXCLUSIVE on the log, and every tenant's reads of its log waited
# until COMMIT PREPARED.  Now it takes the chain with its other locks,
# without waiting while holding any of them.
$node->safe_psql('pl2', q{
SET client_min_messages = warning;
CREATE TABLE public.g (id integer PRIMARY KEY, v text);
SELECT tenant_rls.enable_audit('public.g');
GRANT INSERT ON public.g TO app;
CREATE TABLE tenant_rls.audit_batch_p202003 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2020-03-01 00:00+00') TO ('2020-04-01 00:00+00');
});
my $part3 = q{SELECT count(*) FROM pg_class WHERE relname = 'audit_batch_p202003'};
# A purge held up by another session (release ends that): with lock_timeout
# it fails and names what is in use; without, it waits while every tenant
# reads its log (and meanwhile runs), and drops the partition once released.
sub purge_behind
{
	my ($what, $holder, $part, $release, $meanwhile) = @_;
	my ($ret, $out, $err) = $node->psql('pl2',
		q{SET lock_timeout = '500ms'; SELECT tenant_rls.audit_purge(now() - interval '1 day')});
	like($err, qr/could not lock the audit log to purge it within lock_timeout \(500 ms\).*\n.*DETAIL:  Open transactions use \Q$what\E/,
		"a purge behind $holder: lock_timeout, naming $what");
	is($node->safe_psql('pl2', $part), '1', '... and nothing was purged');
	my $bg = $node->background_psql('pl2', on_error_stop => 1);
	$bg->query_until(qr/purging/, q{\echo purging
SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0 AS purged;
});
	ok($node->poll_query_until('postgres', $purging, '1'), "without lock_timeout the purge waits for $holder");
	($ret, $out, $err) = $node->psql('pl2',
		q{SET statement_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('b'); SELECT count(*) FROM tenant_rls.audit_log; COMMIT;},
		extra_params => [ '-U', 'app' ]);
	is($ret, 0, '... while every tenant reads its log') or diag($err);
	$meanwhile->() if $meanwhile;
	$release->();
	ok($node->poll_query_until('postgres', $purging, '0'), "... and the purge ends after $holder");
	$bg->quit;
	is($node->safe_psql('pl2', $part), '0', 'the purge dropped the partition');
}

$node->safe_psql('pl2', q{BEGIN; INSERT INTO public.g VALUES (1, 'no tenant'); PREPARE TRANSACTION 'pg';},
	extra_params => [ '-U', 'app' ]);
purge_behind('the audit chain of the entries without tenant', 'a prepared transaction holding the chain without tenant',
	$part3, sub { $node->safe_psql('pl2', q{COMMIT PREPARED 'pg'}) });
is($node->safe_psql('pl2', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}),
	't', 'the chains verify, the one without tenant included');

# (d) Review rev41b: a session that reads a partition the purge drops
# directly (a COPY of an old month for an archive) holds it without holding
# the log.  The purge queued for the partition with a plain LOCK TABLE while
# it held the log, its default partition and the chain without tenant:
# every tenant's reads of its log, and every commit of an entry without
# tenant, waited until that session ended.  Now it takes the partitions
# with its other locks, without waiting while holding any of them.
$node->safe_psql('pl2', q{
CREATE TABLE tenant_rls.audit_batch_p202004 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2020-04-01 00:00+00') TO ('2020-05-01 00:00+00');
});
my $part4 = q{SELECT count(*) FROM pg_class WHERE relname = 'audit_batch_p202004'};
my $archiver = $node->background_psql('pl2', on_error_stop => 1);
$archiver->query_safe(q{BEGIN});
$archiver->query_safe(q{SELECT count(*) FROM tenant_rls.audit_batch_p202004});
purge_behind('a partition of the audit log that it drops', 'a reader of a partition it drops', $part4,
	sub { $archiver->query_safe(q{COMMIT}); $archiver->quit; },
	sub {
		my ($ret, $out, $err) = $node->psql('pl2',
			q{SET statement_timeout = '5s'; SET lock_timeout = '5s'; INSERT INTO public.g VALUES (2, 'no tenant')},
			extra_params => [ '-U', 'app' ]);
		is($ret, 0, '... and entries without tenant are committed') or diag($err);
	});
is($node->safe_psql('pl2', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}),
	't', 'the chains verify after it');

# (e) Review rev41c: DROP TABLE of a partition takes ACCESS EXCLUSIVE on
# the default partition too.  The purge held SHARE ROW EXCLUSIVE there, so
# behind a session reading the default partition directly it waited at the
# DROP while holding the log: every tenant's reads of its log waited until
# that session ended.
$node->safe_psql('pl2', q{
CREATE TABLE tenant_rls.audit_batch_p202005 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2020-05-01 00:00+00') TO ('2020-06-01 00:00+00');
});
my $part5 = q{SELECT count(*) FROM pg_class WHERE relname = 'audit_batch_p202005'};
$archiver = $node->background_psql('pl2', on_error_stop => 1);
$archiver->query_safe(q{BEGIN});
$archiver->query_safe(q{SELECT count(*) FROM tenant_rls.audit_batch_default});
purge_behind('its default partition', 'a reader of the default partition', $part5,
	sub { $archiver->query_safe(q{COMMIT}); $archiver->quit; });

# (f) Review rev41d: a lock the purge won by queueing (in a subtransaction)
# belongs to the transaction, and letting it go as the statement did not
# release it ("you don't own a lock"): under a steady stream of reads the
# purge queued for the log and got it, could not get the default partition
# (read by an open transaction), and kept the log locked while it waited,
# so every reader waited too.
$node->safe_psql('pl2', q{
CREATE TABLE tenant_rls.audit_batch_p202006 PARTITION OF tenant_rls.audit_batch
    FOR VALUES FROM ('2020-06-01 00:00+00') TO ('2020-07-01 00:00+00');
});
my $part6 = q{SELECT count(*) FROM pg_class WHERE relname = 'audit_batch_p202006'};
my $log_offset = -s $node->logfile;
$archiver = $node->background_psql('pl2', on_error_stop => 1);
$archiver->query_safe(q{BEGIN});
$archiver->query_safe(q{SELECT count(*) FROM tenant_rls.audit_batch_default});
@readers = ();
for my $r (1 .. 3)
{
	my $bg = $node->background_psql('pl2', on_error_stop => 1, extra_params => [ '-U', 'app' ]);
	$bg->query_until(qr/reading/, "\\echo reading\n"
		  . join('', map { "BEGIN; SELECT tenant_rls.set_tenant('a'); SELECT count(*) FROM tenant_rls.audit_log; SELECT pg_sleep(0.05); COMMIT;\n" } 1 .. 200));
	push @readers, $bg;
}
$purger = $node->background_psql('pl2', on_error_stop => 1);
$purger->query_until(qr/purging/, q{\echo purging
SELECT tenant_rls.audit_purge(now() - interval '1 day') >= 0 AS purged;
});
sleep(3);	# past a few queued tries of the log
($ret, $out, $err) = $node->psql('pl2',
	q{SET statement_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('b'); SELECT count(*) FROM tenant_rls.audit_log; COMMIT;},
	extra_params => [ '-U', 'app' ]);
is($ret, 0, 'a purge that queued for the log and then waits for the default partition does not keep the log') or diag($err);
$archiver->query_safe(q{COMMIT});
$archiver->quit;
ok($node->poll_query_until('postgres', $purging, '0'), '... and the purge ends after the reader');
$purger->quit;
$_->quit for @readers;
is($node->safe_psql('pl2', $part6), '0', 'the purge dropped the partition');
unlike(slurp_file($node->logfile, $log_offset), qr/you don't own a lock/, '... and every lock it let go was released');

$node->stop;
done_testing();
