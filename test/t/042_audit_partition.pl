# The audit log's partitions (issue 5, A4; security review #4): a missing
# partition never fails or blocks a user's write.  The trigger never creates
# partitions (that would lock the whole log until the writer commits, and
# every audited writer of every tenant would wait): when the month's partition
# is missing, entries go to the default partition.  Partitions are created by
# audit_maintain() (enable_audit() and audit_purge() call it; a monthly cron
# job should too).  Either way the chain verifies.  The audit maintenance
# worker, which writers start when a partition is missing, is off here: this
# test is about the log without it (066_audit_maintain_worker.pl tests it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw($drop_audit_partitions);

my $node = PostgreSQL::Test::Cluster->new('audit_partition');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 2\ntenant_rls.audit_maintain_worker = off\n");
$node->start;

my $month = $node->safe_psql('postgres', q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMM')});
my $nparts = q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'tenant_rls.audit_batch'::regclass};

# 1. the usual path: enable_audit() ran audit_maintain(), entries go to the
#    partition of the month
$node->safe_psql('postgres', 'CREATE DATABASE maintained');
$node->safe_psql('maintained', q{
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL);
SELECT tenant_rls.enable_audit('public.t');
INSERT INTO public.t VALUES (1, 'a');
});
is($node->safe_psql('maintained', qq{SELECT count(*) FROM tenant_rls.audit_batch_p$month}),
	'1', 'the entry is in the partition of this month');
is($node->safe_psql('maintained', q{SELECT count(*) FROM tenant_rls.audit_batch_default}), '0', 'nothing in the default partition');
is($node->safe_psql('maintained', qq{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tenant_rls.audit_batch_p$month'::regclass AND tgname = 'audit_guard_truncate'}),
	'1', 'the partition has its TRUNCATE guard');
is($node->safe_psql('maintained', qq{SELECT has_table_privilege('public', 'tenant_rls.audit_batch_p$month', 'SELECT')}),
	'f', 'the partition is not readable directly');

# 2. the partitions are missing (the cron job did not run): drop the ones
#    enable_audit() created
$node->safe_psql('postgres', 'CREATE DATABASE missing');
$node->safe_psql('missing', q{
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL);
SELECT tenant_rls.enable_audit('public.t');
} . $drop_audit_partitions);
is($node->safe_psql('missing', $nparts), '1', 'only the default partition is left');

# A writer of tenant a prepares its transaction: its entry is written and
# chained, and whatever locks it took stay until COMMIT PREPARED.
$node->safe_psql('missing', q{
BEGIN;
INSERT INTO public.t VALUES (1, 'a');
PREPARE TRANSACTION 'writer_a';
});
is($node->safe_psql('missing', q{
SELECT count(*) FROM pg_locks l
 WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
   AND l.relation IN ('tenant_rls.audit_batch'::regclass, 'tenant_rls.audit_batch_default'::regclass)}),
	'0', 'the prepared writer holds no exclusive lock on the log');

# A writer of tenant b neither waits nor fails.
my ($ret, $out, $err) = $node->psql('missing', q{
SET lock_timeout = '5s';
INSERT INTO public.t VALUES (2, 'b');
});
is($ret, 0, 'a writer of another tenant does not wait for the first one') or diag($err);
$node->safe_psql('missing', q{COMMIT PREPARED 'writer_a'});

is($node->safe_psql('missing', $nparts), '1', 'the trigger created no partition');
is($node->safe_psql('missing', q{SELECT string_agg(tenant, ' ' ORDER BY tenant) FROM tenant_rls.audit_batch_default}),
	'a b', 'both entries went to the default partition');

# audit_maintain() creates this month's partition anyway: PostgreSQL refuses
# a partition whose rows are in the default partition, so the batches move
# into the new table before it is attached (they stayed in the default
# partition for good, and every later partition's creation scanned them)
my $before = $node->safe_psql('missing', q{SELECT string_agg(format('%s/%s/%s', tenant, seq, encode(hash, 'hex')), ' ' ORDER BY tenant, seq) FROM tenant_rls.audit_batch});
($ret, $out, $err) = $node->psql('missing', q{SELECT tenant_rls.audit_maintain()});
like($err, qr/NOTICE:  2 batch\(es\) of \d{4}-\d\d moved from tenant_rls.audit_batch_default into its new partition tenant_rls.audit_batch_p$month/,
	'audit_maintain() says it moved the batches of this month') or diag($err);
unlike($err, qr/WARNING/, 'and warns of nothing');
is($out, '4', 'it creates this month\'s partition and those of the next three months');
is($node->safe_psql('missing', q{SELECT count(*) FROM tenant_rls.audit_batch_default}), '0', 'the default partition is empty');
is($node->safe_psql('missing', qq{SELECT string_agg(tenant, ' ' ORDER BY tenant) FROM tenant_rls.audit_batch_p$month}),
	'a b', 'the batches are in the partition of this month');
is($node->safe_psql('missing', q{SELECT string_agg(format('%s/%s/%s', tenant, seq, encode(hash, 'hex')), ' ' ORDER BY tenant, seq) FROM tenant_rls.audit_batch}),
	$before, 'unchanged');
is($node->safe_psql('missing', qq{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tenant_rls.audit_batch_p$month'::regclass AND tgname IN ('audit_guard', 'audit_guard_truncate') AND tgenabled = 'A'}),
	'2', 'the partition has the guards of the log');
is($node->safe_psql('missing', qq{SELECT has_table_privilege('public', 'tenant_rls.audit_batch_p$month', 'SELECT')}),
	'f', 'the partition is not readable directly');
is($node->safe_psql('missing', q{SELECT string_agg(operation || ':' || tenant, ' ') FROM tenant_rls.audit_history('public.t', '{"id": 1}')}),
	'INSERT:a', 'audit_history() finds the moved batch through the new partition\'s index');
$node->safe_psql('missing', q{INSERT INTO public.t VALUES (3, 'a')});
is($node->safe_psql('missing', qq{SELECT count(*) FROM tenant_rls.audit_batch_p$month}), '3',
	'entries of this month now go to its partition');
is($node->safe_psql('missing', q{SELECT count(*) FROM tenant_rls.audit_batch_default}), '0', 'and not to the default partition');
is($node->safe_psql('missing', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'a'}), '2', 'entries readable through the parent');
($ret, $out, $err) = $node->psql('missing', q{DELETE FROM tenant_rls.audit_batch_p} . $month);
like($err, qr/DELETE of tenant_rls.audit_batch is not allowed/, 'the guard refuses a DELETE again after the move') or diag($err);

# The mover is the extension's: not executable by others, and only for a
# table of a partition's name outside the log
$node->safe_psql('missing', q{CREATE ROLE intruder; CREATE TABLE tenant_rls.audit_batch_p209901 (LIKE tenant_rls.audit_batch)});
($ret, $out, $err) = $node->psql('missing', q{SET ROLE intruder; SELECT tenant_rls._audit_adopt_default_batches('tenant_rls.audit_batch_p209901')});
like($err, qr/permission denied for function _audit_adopt_default_batches/, 'not executable by other roles');
($ret, $out, $err) = $node->psql('missing', qq{SELECT tenant_rls._audit_adopt_default_batches('tenant_rls.audit_batch_p$month')});
like($err, qr/is not a table tenant_rls.audit_batch_pYYYYMM outside the log/, 'refused for a partition of the log');
($ret, $out, $err) = $node->psql('missing', q{SELECT tenant_rls._audit_adopt_default_batches('public.t')});
like($err, qr/is not a table tenant_rls.audit_batch_pYYYYMM outside the log/, 'refused for another table');
$node->safe_psql('missing', q{DROP TABLE tenant_rls.audit_batch_p209901});

is($node->safe_psql('maintained', q{SELECT string_agg(coalesce(tenant, '-') || ':' || ok, ' ' ORDER BY tenant) FROM tenant_rls.audit_verify()}),
	'a:true', 'maintained: chains verify');
is($node->safe_psql('missing', q{SELECT string_agg(coalesce(tenant, '-') || ':' || ok, ' ' ORDER BY tenant) FROM tenant_rls.audit_verify()}),
	'a:true b:true', 'missing: chains verify');

# 3. the month's partition detached from the log (to archive it, say): a
#    table of that name is no longer part of the log, and entries written
#    there would be outside it (unreadable through the log, unverified, gone
#    with the archive); they go to the default partition instead
$node->safe_psql('postgres', 'CREATE DATABASE detached');
$node->safe_psql('detached', q{
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL);
SELECT tenant_rls.enable_audit('public.t');
INSERT INTO public.t VALUES (1, 'a');
});
$node->safe_psql('detached', qq{ALTER TABLE tenant_rls.audit_batch DETACH PARTITION tenant_rls.audit_batch_p$month});
$node->safe_psql('detached', q{INSERT INTO public.t VALUES (2, 'b')});
is($node->safe_psql('detached', qq{SELECT count(*) FROM tenant_rls.audit_batch_p$month}), '1',
	'nothing is written into the detached partition');
is($node->safe_psql('detached', q{SELECT string_agg(tenant, ' ') FROM tenant_rls.audit_batch_default}), 'b',
	'the entry went to the default partition');
is($node->safe_psql('detached', q{SELECT ok FROM tenant_rls.audit_verify('b')}), 't', 'and its chain verifies');

# audit_verify() names the partition that took the missing batches with it
my $ym = substr($month, 0, 4) . '-' . substr($month, 4, 2);
is($node->safe_psql('detached', q{SELECT first_bad_seq || ': ' || reason FROM tenant_rls.audit_verify('a')}),
	"1: batch 1 (the last one) is missing: it was deleted; the log has no partition for $ym (tenant_rls.audit_batch_p$month is a table outside the log: it was detached)",
	'audit_verify() names the detached partition of the missing last batch');
$node->safe_psql('detached', q{INSERT INTO public.t VALUES (3, 'a')});
is($node->safe_psql('detached', q{SELECT first_bad_seq || ': ' || reason FROM tenant_rls.audit_verify('a')}),
	"1: batch 1 is missing: it was deleted; the log has no partition for $ym (tenant_rls.audit_batch_p$month is a table outside the log: it was detached)",
	'and of a missing batch before one that is there');
$node->safe_psql('detached', qq{DROP TABLE tenant_rls.audit_batch_p$month});
is($node->safe_psql('detached', q{SELECT first_bad_seq || ': ' || reason FROM tenant_rls.audit_verify('a')}),
	"1: batch 1 is missing: it was deleted; the log has no partition for $ym (tenant_rls.audit_batch_p$month does not exist: it was dropped)",
	'and the dropped partition');
is($node->safe_psql('detached', q{SELECT ok FROM tenant_rls.audit_verify('b')}), 't', 'the other chain still verifies');

$node->stop;
done_testing();
