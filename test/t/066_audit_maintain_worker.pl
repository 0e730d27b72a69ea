# The audit log's partitions are created ahead automatically (issue 5, A4):
# a writer (or enable_audit() in the session of a role that is not a
# superuser) that finds this or next month's partition missing starts the
# "tenant_rls audit maintenance" background worker, which runs
# audit_maintain() in a transaction of its own.  Neither the user's
# transaction nor the worker makes readers of the log or writers wait: the
# worker takes the log's locks without queueing, and gives up after 10
# seconds if the log stays in use.  Works with and without preloading; with
# tenant_rls.audit_maintain_worker = off nothing is started and lint()
# reports the missing partitions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('maintain_worker');
$node->init;
$node->start;

my $month = $node->safe_psql('postgres', q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMM')});
my $next = $node->safe_psql('postgres',
	q{SELECT to_char((clock_timestamp() AT TIME ZONE 'UTC') + interval '1 month', 'YYYYMM')});
my $nparts = q{SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass AND c.relname ~ '^audit_batch_p[0-9]{6}$'};

# The extension is installed; no superuser enables audit, so no partition
# exists.  app (not a superuser) may create tables in public.
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE ROLE app LOGIN;
GRANT CREATE ON SCHEMA public TO app;
CREATE EXTENSION tenant_rls;
});
is($node->safe_psql('postgres', $nparts), '0', 'a fresh install has no monthly partition');

# 1. app's CREATE TABLE is protected and audited automatically: its
#    transaction creates no partition (no lock on the log), the worker does
my $log_offset = -s $node->logfile;
is($node->safe_psql('postgres', q{
SET client_min_messages = warning;
BEGIN;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT count(*) FROM pg_locks WHERE relation = 'tenant_rls.audit_batch'::regclass AND pid = pg_backend_pid();
COMMIT;
}, extra_params => [ '-U', 'app' ]), '0', "app's CREATE TABLE takes no lock on the log");
ok($node->poll_query_until('postgres', $nparts, '4'),
	"app's CREATE TABLE: the worker creates the partitions of this month and the next three");
ok($node->wait_for_log(qr/tenant_rls: created 4 partition\(s\) of the audit log ahead in database "postgres"/, $log_offset),
	'... and the server log says so');
is($node->safe_psql('postgres', qq{SELECT has_table_privilege('app', 'tenant_rls.audit_batch_p$month', 'SELECT')}),
	'f', '... they are not readable by app');
is($node->safe_psql('postgres', qq{SELECT c.relowner::regrole FROM pg_class c WHERE c.oid = 'tenant_rls.audit_batch_p$month'::regclass}),
	$node->safe_psql('postgres', q{SELECT e.extowner::regrole FROM pg_extension e WHERE e.extname = 'tenant_rls'}),
	'... and owned by the bootstrap superuser, the owner of the extension');

$node->safe_psql('postgres', q{
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (1, 'a', 'one'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
is($node->safe_psql('postgres', qq{SELECT count(*) FROM tenant_rls.audit_batch_p$month}), '1',
	"app's write goes to the month's partition");
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_batch_default}), '0',
	'... not to the default partition');

# 2. the worker is off (for app's sessions): nothing is started, lint()
#    reports next month missing, with the fix
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$next});
$node->safe_psql('postgres', q{ALTER ROLE app SET tenant_rls.audit_maintain_worker = off});
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (2, 'a', 'two'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
sleep 2;
is($node->safe_psql('postgres', $nparts), '3', 'audit_maintain_worker = off: no worker recreates the partition');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s', level, object, fix), '; ') FROM tenant_rls.lint() WHERE code = 'audit_partition_missing'}),
	"warning tenant_rls.audit_batch_p$next SELECT tenant_rls.audit_maintain();",
	'lint() reports the missing partition of next month');
$node->safe_psql('postgres', q{SELECT tenant_rls.audit_maintain()});
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'audit_partition_missing'}),
	'0', '... and not after its fix');
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$next});
$node->safe_psql('postgres', q{ALTER ROLE app RESET tenant_rls.audit_maintain_worker});

# 3. a transaction that read the log stays open: the worker does not queue
#    behind it (readers and writers do not wait for the worker), and creates
#    the partition once the reader has ended
my $reader = $node->background_psql('postgres', on_error_stop => 1);
$reader->query_safe(q{BEGIN});
$reader->query_safe(q{SELECT count(*) FROM tenant_rls.audit_log});
# a burst of new connections that write (pgbench -C) starts the worker; one
# asked for before the first was seen running exits at once
my $burst = $node->basedir . '/burst.sql';
PostgreSQL::Test::Utils::append_to_file($burst, q{BEGIN;
SELECT tenant_rls.set_tenant('burst');
INSERT INTO public.t VALUES (1000 + (random() * 1000000000)::int, 'burst', 'b');
COMMIT;
});
$node->command_ok([ 'pgbench', '-n', '-C', '-c', '10', '-t', '3', '-f', $burst,
		'-h', $node->host, '-p', $node->port, '-U', 'app', 'postgres' ],
	'a burst of 10 x 3 new connections writes while a reader holds the log');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'tenant_rls audit maintenance'}),
	'... it starts the worker');
sleep 1;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_rls audit maintenance'}),
	'1', '... and one worker runs');
# (after its first queued try timed out, about 1 s in) it still holds its claim
sleep 1;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'object' AND l.classid = 'pg_extension'::regclass AND l.objsubid = 1 AND l.granted
	  AND a.backend_type = 'tenant_rls audit maintenance'}),
	'1', '... which keeps its claim after a queued try timed out');
$node->safe_psql('postgres', q{
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (3, 'a', 'three'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
my $t0 = time();
is($node->safe_psql('postgres', q{SET lock_timeout = '1s'; SELECT count(*) > 30 FROM tenant_rls.audit_log}), 't',
	'another reader of the log does not wait for the worker');
$node->safe_psql('postgres', q{
SET lock_timeout = '1s';
BEGIN; SELECT tenant_rls.set_tenant('b'); INSERT INTO public.t VALUES (4, 'b', 'four'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
ok(time() - $t0 < 3, '... nor does a writer');
for my $i (1 .. 5)
{
	$node->safe_psql('postgres', qq{
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (40 + $i, 'a', 'more'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_rls audit maintenance'}),
	'1', 'five more sessions that write start no second worker while one runs');
is($node->safe_psql('postgres', $nparts), '3', 'the partition is not created while the reader is open');
$reader->query_safe(q{COMMIT});
ok($node->poll_query_until('postgres', $nparts, '4'), 'once the reader has ended, the worker creates it');

# 3b. a steady stream of short reads (two sessions, one 20 ms transaction
#     after the other): the log's lock is never free at the instant of a
#     try, but a queued try (at most 200 ms) gets it between two reads
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$next});
my @readers;
for my $i (1 .. 2)
{
	my $r = $node->background_psql('postgres', on_error_stop => 1);
	$r->query_until(qr/reading/, q{\echo reading
DO $$ BEGIN
  FOR i IN 1 .. 400 LOOP
    PERFORM count(*) FROM tenant_rls.audit_log;
    PERFORM pg_sleep(0.02);
    COMMIT;
  END LOOP;
END $$;
});
	push @readers, $r;
}
sleep 1;
$t0 = time();
$node->safe_psql('postgres', q{
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (50, 'a', 'steady'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
ok($node->poll_query_until('postgres', $nparts, '4'), 'steady short reads: the worker creates the partition');
ok(time() - $t0 < 8, '... while the reads go on (within 8 seconds)');
$_->quit for @readers;

# lock waits of 100 ms or more are logged: what the worker queued for, and
# who waited behind it, counted from the log (not from read latencies, which
# CPU load on a shared machine also stretches)
$node->append_conf('postgresql.conf', "log_lock_waits = on\ndeadlock_timeout = '100ms'\n");
$node->reload;
my $log_oid = $node->safe_psql('postgres', q{SELECT 'tenant_rls.audit_batch'::regclass::oid});

# 4. the log stays in use for longer than the worker tries: it gives up and
#    says so; the same (pooled) session, writing on, asks again a minute
#    later, and that worker creates the partition
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$next});
$reader->query_safe(q{BEGIN});
$reader->query_safe(q{SELECT count(*) FROM tenant_rls.audit_log});
$log_offset = -s $node->logfile;
my $pooled = $node->background_psql('postgres', on_error_stop => 1, extra_params => [ '-U', 'app' ]);
my $t_first = time();
$pooled->query_safe(q{BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (5, 'a', 'five'); COMMIT;});
# meanwhile, short reads of the log go on
$node->safe_psql('postgres', q{
DO $$
BEGIN
  FOR i IN 1 .. 250 LOOP
    PERFORM count(*) FROM tenant_rls.audit_log;
    PERFORM pg_sleep(0.02);
    COMMIT;
  END LOOP;
END $$});
ok($node->wait_for_log(qr/could not create the audit log's partitions ahead in database "postgres": the log was in use for 10 seconds/, $log_offset),
	'the log in use for 10 seconds: the worker gives up and the server log says so');
{
	my $seg = slurp_file($node->logfile, $log_offset);
	my $queued = () = $seg =~ /still waiting for AccessExclusiveLock on relation $log_oid of database/g;
	is($queued, 1, '... having queued behind the open transaction once') or diag($seg);
	my $held = () = $seg =~ /still waiting for AccessShareLock on relation $log_oid of database/g;
	ok($held <= 2, '... and reads waited behind it twice at most') or diag($held);
	unlike($seg, qr/you don't own a lock/, '... and it released its claim cleanly');
}
$reader->query_safe(q{COMMIT});
$reader->quit;
is($node->safe_psql('postgres', $nparts), '3', '... the partition is still missing');
$pooled->query_safe(q{BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (6, 'a', 'six'); COMMIT;});
sleep 1;
is($node->safe_psql('postgres', $nparts), '3', '... a write of the same session within the minute asks for no worker');
sleep 1 while time() - $t_first < 62;
$pooled->query_safe(q{BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (7, 'a', 'seven'); COMMIT;});
ok($node->poll_query_until('postgres', $nparts, '4'), 'a minute later, its next write starts a worker that creates it');
$pooled->quit;

# 4b. a table named like next month's partition that is not one (detached
#     to archive it): audit_maintain() leaves it and says so, writers start
#     no worker for it, lint() explains and offers no fix
$node->safe_psql('postgres', qq{ALTER TABLE tenant_rls.audit_batch DETACH PARTITION tenant_rls.audit_batch_p$next});
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
BEGIN; SELECT tenant_rls.set_tenant('a'); INSERT INTO public.t VALUES (8, 'a', 'eight'); COMMIT;
}, extra_params => [ '-U', 'app' ]);
sleep 2;
unlike(slurp_file($node->logfile, $log_offset), qr/audit maintenance/, 'a detached partition of that name: no worker is started');
{
	my ($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.audit_maintain()});
	like($err, qr/WARNING:  audit_batch partition of \d{4}-\d\d not created: table tenant_rls.audit_batch_p$next exists and is not a partition of the audit log/,
		'audit_maintain() says why it does not create it');
}
is($node->safe_psql('postgres', q{SELECT coalesce(fix, '(no fix)') || ' ' || (message LIKE '%is not a partition of the log%') FROM tenant_rls.lint() WHERE code = 'audit_partition_missing'}),
	'(no fix) true', 'lint() explains, without a fix');
$node->safe_psql('postgres', qq{ALTER TABLE tenant_rls.audit_batch_p$next RENAME TO archived_$next; SELECT tenant_rls.audit_maintain()});
is($node->safe_psql('postgres', $nparts), '4', 'renamed away, audit_maintain() creates the partition');

# 5. preloaded, many sessions at once: one worker creates the partitions,
#    nothing fails, every chain verifies
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tenant_rls'\n");
$node->restart;
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$next});
$log_offset = -s $node->logfile;
my @writers;
for my $i (1 .. 6)
{
	my $w = $node->background_psql('postgres', on_error_stop => 1, extra_params => [ '-U', 'app' ]);
	push @writers, $w;
}
my $id = 100;
for my $w (@writers)
{
	$id++;
	$w->query_safe(qq{BEGIN; SELECT tenant_rls.set_tenant('t$id'); INSERT INTO public.t VALUES ($id, 't$id', 'x'); COMMIT;});
}
ok($node->poll_query_until('postgres', $nparts, '4'), 'preloaded: six writing sessions, the partition is back');
$_->quit for @writers;
sleep 1;
my $log = slurp_file($node->logfile, $log_offset);
my @created = ($log =~ /created \d+ partition\(s\) of the audit log ahead/g);
is(scalar(@created), 1, '... created once');
unlike($log, qr/ERROR/, '... and nothing failed');
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM tenant_rls.audit_verify()}), 't',
	'every chain verifies');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_rls.audit_batch_default}), '0',
	'no batch went to the default partition');

# 6. Review rev41b: a superuser's CREATE TABLE (or protect(), enable_audit())
#    creates partitions in its own transaction only when this month's or the
#    next one's is missing.  It created the third month ahead as well, which
#    the first such migration of every month found missing: the log stayed
#    locked until the migration committed, and every tenant's reads of its
#    log waited for it.
my $third = $node->safe_psql('postgres',
	q{SELECT to_char((clock_timestamp() AT TIME ZONE 'UTC') + interval '3 month', 'YYYYMM')});
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$third});
my $migration = $node->background_psql('postgres', on_error_stop => 1);
$migration->query_safe(q{SET client_min_messages = warning});
$migration->query_safe(q{BEGIN});
$migration->query_safe(q{CREATE TABLE public.mig1 (id integer PRIMARY KEY, tenant_id text NOT NULL, v text)});
is($migration->query_safe(q{SELECT count(*) FROM pg_locks WHERE relation = 'tenant_rls.audit_batch'::regclass AND pid = pg_backend_pid()}),
	'0', "a superuser's CREATE TABLE with this and next month's partitions there takes no lock on the log");
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '5s'; BEGIN; SELECT tenant_rls.set_tenant('a'); SELECT count(*) > 0 FROM tenant_rls.audit_log; COMMIT;},
	extra_params => [ '-U', 'app' ]);
is($ret, 0, '... tenants read their log while it stays open') or diag($err);
$migration->query_safe(q{COMMIT});
is($node->safe_psql('postgres', qq{SELECT to_regclass('tenant_rls.audit_batch_p$third') IS NULL}), 't',
	'... and it leaves the third month ahead to the worker');
# with next month's partition missing it creates them, as before
$node->safe_psql('postgres', qq{DROP TABLE tenant_rls.audit_batch_p$next});
$node->safe_psql('postgres', q{SET client_min_messages = warning;
	CREATE TABLE public.mig2 (id integer PRIMARY KEY, tenant_id text NOT NULL, v text)});
is($node->safe_psql('postgres', $nparts), '4',
	"with next month's partition missing, a superuser's CREATE TABLE creates this month's and the next three");
$migration->quit;

$node->stop;
done_testing();
