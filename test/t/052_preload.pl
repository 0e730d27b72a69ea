# Signed tokens and strict mode with and without preloading (DESIGN O3):
# nothing crashes either way; without preload strict mode says plainly that it
# is not in force, and a signing key from postgresql.conf (readable by anyone
# as a placeholder until the library is loaded) is refused rather than used --
# also with session_preload_libraries only, which can leave the sessions of
# other databases or roles without the library (review revctx #1).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $key = 'tap-preload-key-0123456789abcdef0123456789';
my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', qq{
tenant_rls.strict = on
tenant_rls.signing_key = '$key'
});
$node->start;

sub as_user
{
	my ($user, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		extra_params => [ '-U', $user ], on_error_stop => 1);
	return ($ret, $out, $err);
}

# --- not preloaded
my ($ret, $out, $err) = as_user('postgres', 'CREATE EXTENSION tenant_rls; CREATE ROLE app LOGIN;');
is($ret, 0, 'not preloaded: CREATE EXTENSION works');
like($err, qr/WARNING:  tenant_rls\.strict is on but strict mode is not in force/,
	'not preloaded: CREATE EXTENSION warns that strict mode is not in force');
is($node->safe_psql('postgres', 'SELECT in_force, strict_setting, preloaded FROM tenant_rls.strict_status()'),
	'f|t|f', 'not preloaded: strict_status() says strict mode is not in force');
like($node->safe_psql('postgres', 'SELECT reason FROM tenant_rls.strict_status()'),
	qr/not preloaded/, 'not preloaded: ... and why');

# the danger that makes tokens refuse: a fresh session of any role reads the
# key as a placeholder before the library is loaded
($ret, $out, $err) = as_user('app', q{SELECT current_setting('tenant_rls.signing_key', true) = '} . $key . q{'});
is($out, 't', 'not preloaded: a key from postgresql.conf is readable by any role (placeholder)');
# strict_status() says so (review rev40c: it did only with session preloading)
like($node->safe_psql('postgres', 'SELECT reason FROM tenant_rls.strict_status()'),
	qr/^tenant_rls\.strict is on but not in force: tenant_rls is not preloaded.*; tenant_rls\.signing_key from the server configuration is not used: tenant_rls is not preloaded, and until a session loads it any user can read the key$/,
	'not preloaded: strict_status() says the key is not used, and readable');
($ret, $out, $err) = as_user('postgres', q{SELECT tenant_rls.sign_tenant('acme')});
like($err, qr/tenant_rls\.signing_key is set in the server configuration but tenant_rls is not preloaded/,
	'not preloaded: sign_tenant() refuses a key from the server configuration');
($ret, $out, $err) = as_user('app', q{SELECT tenant_rls.set_tenant_signed('AAAA')});
like($err, qr/tenant_rls\.signing_key is set in the server configuration but tenant_rls is not preloaded/,
	'not preloaded: set_tenant_signed() refuses it too');
# a key a superuser sets in the session only is nobody else's to read: fine
($ret, $out, $err) = as_user('postgres', qq{SET tenant_rls.signing_key = 'session-key-0123456789abcdef0123456789';
	SELECT tenant_rls.set_tenant_signed(tenant_rls.sign_tenant('acme'));});
is($out, 'acme', 'not preloaded: a session key set by a superuser works');
# strict mode is not in force: the old paths still work (nothing crashes)
($ret, $out, $err) = as_user('app', q{BEGIN; SET LOCAL app.current_tenant_id = 'x'; SELECT tenant_rls.set_tenant('acme'); SELECT tenant_rls.current_tenant(); COMMIT;});
is($out, "acme\nacme", 'not preloaded: SET and set_tenant() work (strict not in force)');
# ... in parallel workers too: they follow the leader (not preloaded: strict
# mode not in force), also when the library is first loaded by that query
($ret, $out, $err) = as_user('app', q{SET app.current_tenant_id = 'x';
	SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET parallel_leader_participation = off;
	SELECT tenant_rls.current_tenant(); SELECT tenant_rls.current_tenant();});
is($out, "x\nx", 'not preloaded: parallel workers follow the leader (strict not in force)')
  or diag("err=$err");
($ret, $out, $err) = as_user('postgres', q{LOAD 'tenant_rls'; SELECT preloaded FROM tenant_rls.strict_status()});
is($out, 'f', 'LOAD in a session does not count as preloading');

# --- shared_preload_libraries
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tenant_rls'");
$node->restart;
is($node->safe_psql('postgres', 'SELECT in_force, preloaded FROM tenant_rls.strict_status()'),
	't|t', 'shared_preload_libraries: strict mode in force');
($ret, $out, $err) = as_user('app', q{SELECT current_setting('tenant_rls.signing_key', true)});
like($err, qr/must be superuser/, 'shared_preload_libraries: the key is not readable by app');
my $tok = $node->safe_psql('postgres', q{SELECT tenant_rls.sign_tenant('acme')});
($ret, $out, $err) = as_user('app', qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok'); COMMIT;});
is($out, 'acme', 'shared_preload_libraries: tokens work');
($ret, $out, $err) = as_user('app', q{SET app.current_tenant_id = 'acme'});
like($err, qr/in strict mode/, 'shared_preload_libraries: SET refused');

# --- session_preload_libraries
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->append_conf('postgresql.conf', "session_preload_libraries = 'tenant_rls'");
$node->restart;
is($node->safe_psql('postgres', 'SELECT in_force, preloaded FROM tenant_rls.strict_status()'),
	't|t', 'session_preload_libraries: strict mode in force');
($ret, $out, $err) = as_user('app', q{SELECT current_setting('tenant_rls.signing_key', true)});
like($err, qr/must be superuser/, 'session_preload_libraries: the key is not readable by app');
# ... but a key from postgresql.conf is not used: with session preloading
# only, a session that does not load the library (another database or role,
# where session_preload_libraries may be set otherwise) can read it
($ret, $out, $err) = as_user('postgres', q{SELECT tenant_rls.sign_tenant('acme')});
like($err, qr/ERROR:  tenant_rls\.signing_key is set in the server configuration but tenant_rls is not in shared_preload_libraries/,
	'session_preload_libraries: sign_tenant() refuses a key from the server configuration');
$tok = $node->safe_psql('postgres', qq{SET tenant_rls.signing_key = '$key'; SELECT tenant_rls.sign_tenant('acme')});
($ret, $out, $err) = as_user('app', qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok'); COMMIT;});
like($err, qr/ERROR:  tenant_rls\.signing_key is set in the server configuration but tenant_rls is not in shared_preload_libraries/,
	'session_preload_libraries: set_tenant_signed() refuses it too');
like($node->safe_psql('postgres', 'SELECT reason FROM tenant_rls.strict_status()'),
	qr/^strict mode is in force, but tenant_rls\.signing_key from the server configuration is not used: tenant_rls is loaded by session_preload_libraries.*add tenant_rls to shared_preload_libraries/,
	'session_preload_libraries: strict_status() says why the key is not used');
($ret, $out, $err) = as_user('postgres', q{SET tenant_rls.signing_key = 'session-key-0123456789abcdef0123456789';
	SELECT tenant_rls.set_tenant_signed(tenant_rls.sign_tenant('acme'));});
is($out, 'acme', 'session_preload_libraries: a session key set by a superuser works');
($ret, $out, $err) = as_user('app', q{SET app.current_tenant_id = 'acme'});
like($err, qr/in strict mode/, 'session_preload_libraries: SET refused');
# review #9: the parallel workers of a session_preload_libraries leader do
# not count as preloaded themselves; they follow the leader's strict mode.
# A tenant SET before strict mode came on (reload) is refused in them too.
$node->safe_psql('postgres', q{ALTER SYSTEM SET tenant_rls.strict = off});
$node->safe_psql('postgres', q{SELECT pg_reload_conf()});
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'off'})
  or die 'reload not seen';
($ret, $out, $err) = $node->psql('postgres', q{
	SET app.current_tenant_id = 'acme';
	\! psql -XAtq -U postgres -d postgres -c 'ALTER SYSTEM RESET tenant_rls.strict' -c 'SELECT pg_reload_conf()' >/dev/null
	SELECT 'slept' FROM pg_sleep(1);
	SELECT 'strict=' || current_setting('tenant_rls.strict');
	SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET parallel_leader_participation = off;
	SELECT 'worker=' || tenant_rls.current_tenant();
}, extra_params => [ '-U', 'app' ], on_error_stop => 0);
$node->poll_query_until('postgres', q{SELECT current_setting('tenant_rls.strict') = 'on'})
  or die 'reload not seen';
is($out, "slept\nstrict=on", 'session_preload_libraries: a parallel worker does not hand out a tenant SET before strict mode')
  or diag("out=$out err=$err");
like($err, qr/ERROR:  tenant context was not set through tenant_rls in strict mode\nDETAIL:  [^\n]*\nHINT:  [^\n]*\nCONTEXT:  parallel worker/,
	'session_preload_libraries: ... the worker refuses it');
($ret, $out, $err) = as_user('app', q{SET force_parallel_mode = on; SET parallel_setup_cost = 0;
	SET parallel_leader_participation = off;
	EXPLAIN (COSTS OFF) SELECT in_force, preloaded FROM tenant_rls.strict_status();
	SELECT in_force, preloaded FROM tenant_rls.strict_status();});
like($out, qr/Gather.*\nt\|t$/s, 'session_preload_libraries: strict_status() in a parallel worker reports the leader\'s state');
{
	local $ENV{PGOPTIONS} = '-c app.current_tenant_id=acme';
	($ret, $out, $err) = as_user('app', q{SELECT coalesce(nullif(current_setting('app.current_tenant_id'), ''), '<none>')});
	is($out, '<none>', 'session_preload_libraries: a startup option is not applied ...');
	like($err, qr/WARNING:  app\.current_tenant_id cannot be set at connection start in strict mode/,
		'... with a warning');
}

# --- session_preload_libraries per database (review revctx #1): the usual
# way, no restart needed.  Sessions of the other databases never load the
# library, and there any role reads the key from postgresql.conf; with it
# app could sign a token for any tenant.  So the key must not be used.
$node->adjust_conf('postgresql.conf', 'session_preload_libraries', "''");
$node->restart;
$node->safe_psql('postgres', q{CREATE DATABASE appdb});
$node->safe_psql('postgres', q{ALTER DATABASE appdb SET session_preload_libraries = 'tenant_rls'});
$node->safe_psql('appdb', q{CREATE EXTENSION tenant_rls});
($ret, $out, $err) = $node->psql('postgres', qq{SELECT current_setting('tenant_rls.signing_key') = '$key'},
	extra_params => [ '-U', 'app' ]);
is($out, 't', 'per-database session preload: app reads the key in another database');
is($node->safe_psql('appdb', 'SELECT in_force, preloaded, key_configured FROM tenant_rls.strict_status()'),
	't|t|t', 'per-database session preload: strict mode in force in appdb');
like($node->safe_psql('appdb', 'SELECT reason FROM tenant_rls.strict_status()'),
	qr/the server configuration is not used: tenant_rls is loaded by session_preload_libraries, not shared_preload_libraries, and sessions that do not load it \(another database or role\) can read the key; add tenant_rls to shared_preload_libraries/,
	'per-database session preload: strict_status() says the key is not used, and why');
# a token made with the key app read (signed here by a superuser's session key,
# which is the same key)
$tok = $node->safe_psql('appdb', qq{SET tenant_rls.signing_key = '$key'; SELECT tenant_rls.sign_tenant('other')});
($ret, $out, $err) = $node->psql('appdb', qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$tok'); SELECT tenant_rls.current_tenant(); COMMIT;},
	extra_params => [ '-U', 'app' ], on_error_stop => 1);
isnt($out, "other\nother", 'per-database session preload: a token forged with the key read elsewhere is refused');
like($err, qr/ERROR:  tenant_rls\.signing_key is set in the server configuration but tenant_rls is not in shared_preload_libraries\nDETAIL:  [^\n]*\nHINT:  Add tenant_rls to shared_preload_libraries/,
	'... because the key comes from the server configuration and the library is not in shared_preload_libraries');
$node->safe_psql('postgres', q{ALTER DATABASE appdb RESET session_preload_libraries});

# --- a tenant in postgresql.conf (a superuser's choice) never breaks server start
$node->append_conf('postgresql.conf', "app.current_tenant_id = 'acme'");
$node->restart;
is($node->safe_psql('postgres', q{SELECT current_setting('app.current_tenant_id')}), 'acme',
	'a tenant in postgresql.conf with strict mode on: the server starts');

# --- pg_upgrade --check with the library preloaded and strict mode on in both
$node->adjust_conf('postgresql.conf', 'session_preload_libraries', "''");
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tenant_rls'");
$node->restart;
$node->stop;
my $new = PostgreSQL::Test::Cluster->new('preload_new');
$new->init;
$new->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.strict = on
tenant_rls.signing_key = '$key'
});
my $bindir = $node->config_data('--bindir');
my $cwd = PostgreSQL::Test::Utils::tempdir();
chdir $cwd;
command_ok(
	[ 'pg_upgrade', '--check', '-b', $bindir, '-B', $bindir,
	  '-d', $node->data_dir, '-D', $new->data_dir,
	  '-p', $node->port, '-P', $new->port, '-s', $cwd ],
	'pg_upgrade --check passes with tenant_rls preloaded and strict mode on');
# the library binds its calls to its own functions (-Bsymbolic, Makefile): a
# same-named function of a library preloaded before it is never called
# instead (PostgreSQL 15 exports every function that is not static)
SKIP:
{
	skip 'readelf is not installed', 1
	  unless system('readelf --version >/dev/null 2>&1') == 0;
	my $lib = $node->config_data('--pkglibdir') . '/tenant_rls.so';
	like(scalar `readelf -d '$lib'`, qr/\(FLAGS\).*\bSYMBOLIC\b/,
		'the library is linked with -Bsymbolic');
}

done_testing();
