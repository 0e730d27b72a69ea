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
#   - a prepared transaction that wrote deferred messages keeps the slot's
#     WAL: lint() names it (audit_delivery_held) and stop() says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

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

# three failures in a row: the writers write immediately, lint() reports it
ok($node->poll_query_until('postgres',
		q{SELECT delivery = 'immediate (delivery failing)' FROM tenant_rls.audit_delivery_status()}),
	'after three failures: immediate (delivery failing)');
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
is($node->safe_psql('postgres', q{SELECT string_agg(new_row->>'v', ', ' ORDER BY new_row->>'v') FROM tenant_rls.audit_log}),
	'deferred a, deferred b, now immediate b', 'every committed row has exactly one entry, the rolled back one none');
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

$node->stop;
done_testing();
