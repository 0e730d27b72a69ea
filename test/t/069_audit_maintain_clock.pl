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
use TenantRlsTest qw($drop_audit_partitions);
use Time::Local qw(timegm);

my $cc = $ENV{CC} // 'cc';
my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/shift.c", <<'EOC');
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>

/* gettimeofday() moved by TR_CLOCK_SHIFT seconds */
int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	static int	(*real) (struct timeval *restrict, void *restrict) = NULL;
	static long shift = 0;
	int			r;

	if (real == NULL)
	{
		const char *s = getenv("TR_CLOCK_SHIFT");

		real = (int (*) (struct timeval *restrict, void *restrict)) dlsym(RTLD_NEXT, "gettimeofday");
		shift = s ? atol(s) : 0;
	}
	r = real(tv, tz);
	if (r == 0 && tv != NULL)
		tv->tv_sec += shift;
	return r;
}
EOC
my ($cc_ok) = PostgreSQL::Test::Utils::run_log(
	[ $cc, '-shared', '-fPIC', '-O2', '-o', "$dir/shift.so", "$dir/shift.c", '-ldl' ]);
plan skip_all => "no C compiler ($cc) to build the clock shim" unless $cc_ok;

my $node = PostgreSQL::Test::Cluster->new('maintain_clock');
$node->init;
$node->append_conf('postgresql.conf', "tenant_rls.audit_maintain_worker = off\n");
{
	local $ENV{LD_PRELOAD} = "$dir/shift.so";
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
