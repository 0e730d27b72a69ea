# Coverage report (issue 6): the finding strict_mode_off needs a server
# restart to fix, so it is tested here rather than in sql/coverage.sql:
# reported when the library is not preloaded, gone once it is preloaded with
# tenant_rls.strict = on; assert_coverage('warning') fails, then passes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('coverage_strict');
$node->init;
$node->append_conf('postgresql.conf', qq{
tenant_rls.strict = on
tenant_rls.managed_schemas = 'app'
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = error;
CREATE EXTENSION tenant_rls;
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL);
CREATE INDEX ON app.orders (tenant_id);
SELECT count(*) FROM tenant_rls.protect('app.orders');
});

my $findings = q{SELECT string_agg(code || ':' || level || ':' || object, ',' ORDER BY code, object) FROM tenant_rls.lint()};

# --- not preloaded
is($node->safe_psql('postgres', $findings), 'strict_mode_off:warning:tenant_rls.strict',
	'not preloaded: the only finding is strict_mode_off');
like($node->safe_psql('postgres', q{SELECT detail FROM tenant_rls.lint() WHERE code = 'strict_mode_off'}),
	qr/not preloaded; add it to shared_preload_libraries and restart\)\.$/,
	'not preloaded: the detail says why');
is($node->safe_psql('postgres', q{SELECT fix IS NULL FROM tenant_rls.lint() WHERE code = 'strict_mode_off'}),
	't', 'the fix needs a restart: fix is NULL');
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT tenant_rls.assert_coverage('warning')});
isnt($ret, 0, 'not preloaded: assert_coverage(warning) fails');
like($err, qr/warning strict_mode_off tenant_rls\.strict/, '... and lists the finding');
is($node->safe_psql('postgres', q{SELECT tenant_rls.assert_coverage('error')}), '',
	'not preloaded: assert_coverage(error) passes');

# --- the fix: preload, restart
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tenant_rls'");
$node->restart;
is($node->safe_psql('postgres', $findings), '', 'preloaded with strict = on: no finding');
is($node->safe_psql('postgres', q{SELECT tenant_rls.assert_coverage('info')}), '',
	'preloaded: assert_coverage(info) passes');
is($node->safe_psql('postgres', q{SELECT status || ':' || rls_forced || ':' || policies_ok FROM tenant_rls.coverage()}),
	'protected:true:true', 'coverage() row of the protected table');

# --- strict off again: reported again
$node->append_conf('postgresql.conf', "tenant_rls.strict = off");
$node->restart;
is($node->safe_psql('postgres', $findings), 'strict_mode_off:warning:tenant_rls.strict',
	'preloaded with strict = off: strict_mode_off again');
like($node->safe_psql('postgres', q{SELECT detail FROM tenant_rls.lint() WHERE code = 'strict_mode_off'}),
	qr/directly\)\. Set tenant_rls\.strict = on \(ALTER SYSTEM/,
	'... and the detail says to set it, not to preload and restart');

$node->stop;
done_testing();
