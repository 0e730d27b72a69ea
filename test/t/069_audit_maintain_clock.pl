# audit_maintain() counts the months ahead in UTC, from one reading of the
# clock.  It added months to clock_timestamp() in the session's TimeZone:
# at 2027-01-31 03:00 UTC (January 30, 22:00 in New York) "+ 1 month" was
# 2027-03-02 UTC, and February's partition was never created (review
# rev20b).  The server runs with its clock moved to that time by an
# LD_PRELOAD gettimeofday() shim, which the test builds itself.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw($drop_audit_partitions clock_shift_shim);
use Time::Local qw(timegm);

my $dir = PostgreSQL::Test::Utils::tempdir;
my $shim = clock_shift_shim($dir);
plan skip_all => "no C compiler to build the clock shim" unless defined $shim;

my $node = PostgreSQL::Test::Cluster->new('maintain_clock');
$node->init;
$node->append_conf('postgresql.conf', "tenant_rls.audit_maintain_worker = off\n");
{
	local $ENV{LD_PRELOAD} = $shim;
	local $ENV{TR_CLOCK_SHIFT} = timegm(0, 0, 3, 31, 0, 2027) - time;
	$node->start;
}
is($node->safe_psql('postgres', q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')}),
	'2027-01-31 03', 'the server clock reads 2027-01-31 03:00 UTC');

my $parts = q{SELECT string_agg(substr(c.relname, 14), ',' ORDER BY c.relname)
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass AND c.relname ~ '^audit_batch_p[0-9]{6}$'};
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
} . $drop_audit_partitions);
is($node->safe_psql('postgres', $parts), '', 'no monthly partition to start with');

is($node->safe_psql('postgres', q{SET TimeZone = 'America/New_York'; SELECT tenant_rls.audit_maintain(3)}),
	'4', 'audit_maintain(3) in New York time creates four partitions');
is($node->safe_psql('postgres', $parts), '202701,202702,202703,202704',
	'... this month and the next three, February included');
is($node->safe_psql('postgres', q{SET TimeZone = 'Pacific/Kiritimati'; SELECT tenant_rls.audit_maintain(3)}),
	'0', 'again in UTC+14 (already February there): nothing more to create');

$node->stop;
done_testing();
