# audit_verify() while audit_purge() drops a partition of the log (review
# rev48e).  A purge drops whole monthly partitions, which no snapshot hides;
# audit_verify() read with its statement's snapshot, taken before it waited
# for the purge's lock, so it saw the anchors from before the purge and the
# batches from after it, and reported every purged chain as deleted: a false
# tamper alarm, gone on the next call.  Now it locks the log first and reads
# with a snapshot taken after the wait (READ COMMITTED), or refuses with
# 40001 in a REPEATABLE READ transaction whose snapshot predates the purge.
# The batches to purge are written with the server's clock moved back
# (an LD_PRELOAD gettimeofday() shim), into the partitions of those months.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw(clock_shift_shim);

my $dir = PostgreSQL::Test::Utils::tempdir;
my $shim = clock_shift_shim($dir);
plan skip_all => "no C compiler to build the clock shim" unless defined $shim;

my $node = PostgreSQL::Test::Cluster->new('verify_purge');
$node->init;
$node->append_conf('postgresql.conf', "tenant_rls.audit_maintain_worker = off\n");

# writes at three earlier times (more than a month apart: three months' partitions)
my %cut;
for my $days (130, 90, 50)
{
	local $ENV{LD_PRELOAD} = $shim;
	local $ENV{TR_CLOCK_SHIFT} = -$days * 86400;
	$node->start;
	if ($days == 130)
	{
		$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.items (id integer PRIMARY KEY, tenant_id text NOT NULL, v integer);
SELECT tenant_rls.enable_audit('public.items');
});
	}
	$node->safe_psql('postgres', qq{
SELECT tenant_rls.audit_maintain(0);
INSERT INTO public.items VALUES ($days, 'a', 1), ($days + 1, 'b', 1);
UPDATE public.items SET v = v + 1 WHERE id >= $days;
});
	# the start of the next month: a purge up to it drops this month's partition
	$cut{$days} = $node->safe_psql('postgres',
		q{SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'});
	$node->stop;
}
$node->start;
$node->safe_psql('postgres', q{SELECT tenant_rls.audit_maintain(0); INSERT INTO public.items VALUES (1, 'a', 1), (2, 'b', 1)});
my $verify = q{SELECT string_agg(tenant || ':' || ok, ',' ORDER BY tenant) FROM tenant_rls.audit_verify() WHERE tenant IN ('a', 'b')};
is($node->safe_psql('postgres', $verify), 'a:true,b:true', 'before: every chain verifies');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT tableoid) FROM tenant_rls.audit_batch WHERE tenant IN ('a', 'b')}),
	'4', 'the batches are in four monthly partitions');

# a head exported before the purge: tenant a's last batch of the oldest month
my ($hseq, $hhash) = split /\|/, $node->safe_psql('postgres', q{
SELECT seq || '|' || encode(hash, 'hex') FROM tenant_rls.audit_batch
 WHERE tenant = 'a' AND tableoid = (SELECT tableoid FROM tenant_rls.audit_batch WHERE tenant = 'a' ORDER BY seq LIMIT 1)
 ORDER BY seq DESC LIMIT 1});
my $verify_head = qq{SELECT 'head:' || ok FROM tenant_rls.audit_verify_head('a', $hseq, decode('$hhash', 'hex'))};

# READ COMMITTED: audit_verify() waits for the purge, then reads after it
my $purger = $node->background_psql('postgres');
$purger->query_safe(q{BEGIN});
$purger->query(qq{SELECT tenant_rls.audit_purge('$cut{130}')});
my $verifier = $node->background_psql('postgres');
$verifier->query_until(qr/started/, qq{\\echo started\n$verify;\n\\echo verified\n});
my $head_verifier = $node->background_psql('postgres');
$head_verifier->query_until(qr/started/, qq{\\echo started\n$verify_head;\n\\echo verified\n});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%audit_verify%'}),
	'audit_verify() and audit_verify_head() wait for the purge');
$purger->query_safe(q{COMMIT});
my $out = $verifier->query_until(qr/verified/, '');
like($out, qr/^a:true,b:true$/m, 'audit_verify() during the purge: every chain verifies (no batch reported deleted)');
$out = $head_verifier->query_until(qr/verified/, '');
like($out, qr/^head:true$/m, 'audit_verify_head() of a batch the purge removed, during the purge: the anchor has its hash');
$verifier->quit;
$head_verifier->quit;
is($node->safe_psql('postgres', q{SELECT count(DISTINCT tableoid) FROM tenant_rls.audit_batch WHERE tenant IN ('a', 'b')}),
	'3', 'the purge dropped the oldest month');

# REPEATABLE READ: a snapshot from before a purge is refused
my $rr = $node->background_psql('postgres', on_error_stop => 0);
$rr->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ});
$rr->query_safe(q{SELECT 1});	# (the snapshot; no lock on the log, which would hold up the purge)
$node->safe_psql('postgres', qq{SELECT tenant_rls.audit_purge('$cut{90}')});
my ($rr_out, $rr_ret) = $rr->query(qq{$verify});
like($rr->{stderr}, qr/could not verify the audit log: tenant_rls\.audit_purge\(\) committed after this transaction's snapshot/,
	'REPEATABLE READ from before a purge: refused (40001), not a false alarm');
$rr->query(q{ROLLBACK});
$rr->{stderr} = '';
$rr->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ});
$rr->query_safe(q{SELECT 1});
$node->safe_psql('postgres', qq{SELECT tenant_rls.audit_purge('$cut{50}')});
($rr_out, $rr_ret) = $rr->query(qq{$verify_head});
like($rr->{stderr}, qr/could not verify the audit log/, '... audit_verify_head() too');
$rr->query(q{ROLLBACK});
$rr->quit;
is($node->safe_psql('postgres', $verify), 'a:true,b:true', 'after: every chain verifies');
is($node->safe_psql('postgres', qq{BEGIN ISOLATION LEVEL REPEATABLE READ; $verify; COMMIT}), 'a:true,b:true',
	'REPEATABLE READ from after the purges: verifies');

$node->stop;
done_testing();
