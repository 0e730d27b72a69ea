# The library works loaded by CREATE EXTENSION only, and preloaded
# (shared_preload_libraries, session_preload_libraries); its settings prefix is
# reserved once loaded; the tenant context behaves the same in each case.
# CREATE EXTENSION refuses a schema tenant_rls that someone else prepared.
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

# A schema named tenant_rls made before CREATE EXTENSION (review rev19c F1):
# owned by a role that is not a superuser, that role could rename it and put
# tables of its own in place of the registry; objects in it would come
# before ours; CREATE granted on it (default privileges) is taken back.
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE pre OWNER postgres;
	GRANT CREATE ON DATABASE pre TO mallory;
});
$node->safe_psql('pre', q{SET ROLE mallory; CREATE SCHEMA tenant_rls;});
($ret, $out, $err) = $node->psql('pre', 'CREATE EXTENSION tenant_rls');
isnt($ret, 0, 'pre-existing schema owned by a role that is not a superuser: CREATE EXTENSION refused');
like($err, qr/ERROR:  schema tenant_rls is owned by role mallory, which is not a superuser/,
	'... and the error names the owner') or diag($err);
like($err, qr/HINT:  Drop or rename the existing schema tenant_rls/, '... with a hint');
is($node->safe_psql('pre', q{SELECT count(*) FROM pg_extension WHERE extname = 'tenant_rls'}), '0',
	'... and nothing is installed');

$node->safe_psql('pre', q{DROP SCHEMA tenant_rls; CREATE SCHEMA tenant_rls; CREATE TABLE tenant_rls.protected_table (x int);});
($ret, $out, $err) = $node->psql('pre', 'CREATE EXTENSION tenant_rls');
isnt($ret, 0, 'pre-existing schema that holds objects: CREATE EXTENSION refused');
like($err, qr/ERROR:  schema tenant_rls already holds \d+ object\(s\)/, '... and the error says why') or diag($err);

$node->safe_psql('pre', q{
	DROP TABLE tenant_rls.protected_table;
	GRANT CREATE ON SCHEMA tenant_rls TO mallory;
	GRANT ALL ON SCHEMA tenant_rls TO PUBLIC;
});
($ret, $out, $err) = $node->psql('pre', 'CREATE EXTENSION tenant_rls');
is($ret, 0, 'an empty superuser-owned schema with CREATE granted: installed') or diag($err);
like($err, qr/WARNING:  revoking CREATE on schema tenant_rls from mallory/, '... CREATE taken back from mallory') or diag($err);
is($node->safe_psql('pre', q{
	SELECT has_schema_privilege('mallory', 'tenant_rls', 'CREATE')::text || ' ' ||
	       has_schema_privilege('mallory', 'tenant_rls', 'USAGE')::text}),
	'false true', '... mallory can no longer create objects in it (USAGE stays, as for everyone)');

# The extension's owner demoted from superuser (review rev22c): it still owns
# the registry, the grants and the audit tables, and the report runs with its
# rights.  lint() keeps working (pg_file_settings is read only by a role that
# may) and says so.
$node->safe_psql('postgres', q{
	CREATE DATABASE demoted;
	CREATE ROLE extadmin SUPERUSER;
});
$node->safe_psql('demoted', q{SET ROLE extadmin; CREATE EXTENSION tenant_rls;});
is($node->safe_psql('demoted', q{SELECT count(*) FROM tenant_rls.lint() WHERE code = 'extension_owner_not_superuser'}),
	'0', 'extension owner a superuser: not reported');
$node->safe_psql('postgres', q{ALTER ROLE extadmin NOSUPERUSER;});
($ret, $out, $err) = $node->psql('demoted',
	q{SELECT level || ' ' || message FROM tenant_rls.lint() WHERE code = 'extension_owner_not_superuser'});
is($ret, 0, 'extension owner demoted: lint() still runs') or diag($err);
is($out, 'error The owner of extension tenant_rls, extadmin, is not a superuser.',
	'... and reports it as an error');
($ret, $out, $err) = $node->psql('demoted', q{SELECT count(*) FROM tenant_rls.coverage()});
is($ret, 0, '... coverage() runs too') or diag($err);
is($node->safe_psql('demoted', q{SELECT count(*) FROM tenant_rls.lint() WHERE starts_with(object, 'tenant_rls.') AND fix IS NOT NULL}),
	'0', '... and gives no fix that would change the extension\'s own objects');

$node->stop;
done_testing();
