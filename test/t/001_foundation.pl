# The library works loaded by CREATE EXTENSION only, and preloaded
# (shared_preload_libraries, session_preload_libraries); its settings prefix is
# reserved once loaded; the tenant context behaves the same in each case.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('foundation');
$node->init;
$node->start;

sub check_context
{
	my ($how) = @_;
	$node->safe_psql('postgres', q{
		DROP EXTENSION IF EXISTS tenant_rls CASCADE;
		CREATE EXTENSION tenant_rls;
	});
	is($node->safe_psql('postgres', q{
		BEGIN;
		SELECT tenant_rls.set_tenant('acme');
		SELECT tenant_rls.current_tenant();
		COMMIT;
		SELECT coalesce(tenant_rls.current_tenant(), '<null>');
	}), "acme\nacme\n<null>", "$how: transaction-scoped tenant, NULL after commit");
	# without preload the settings exist once the library is loaded in the session
	is($node->safe_psql('postgres', 'SELECT tenant_rls.version() IS NOT NULL; SHOW tenant_rls.tenant_column'),
		"t\ntenant_id", "$how: settings defined once loaded");
}

check_context('not preloaded');

# Without preload, a fresh session has not loaded the library: setting an
# unknown tenant_rls.* parameter is accepted as a placeholder until it loads.
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT tenant_rls.version(); SET tenant_rls.no_such_setting = 1;});
isnt($ret, 0, 'not preloaded: once loaded, the tenant_rls prefix is reserved');
like($err, qr/invalid configuration parameter name "tenant_rls.no_such_setting"/,
	'not preloaded: reserved-prefix error names the parameter');

$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tenant_rls'");
$node->restart;
check_context('shared_preload_libraries');
($ret, $out, $err) = $node->psql('postgres', q{SET tenant_rls.no_such_setting = 1;});
isnt($ret, 0, 'preloaded: unknown tenant_rls.* parameter refused');

$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->append_conf('postgresql.conf', "session_preload_libraries = 'tenant_rls'");
$node->restart;
check_context('session_preload_libraries');

is($node->safe_psql('postgres', 'SELECT tenant_rls.version() = extversion FROM pg_extension WHERE extname = \'tenant_rls\''),
	't', 'library version matches the installed SQL version');

$node->stop;
done_testing();
