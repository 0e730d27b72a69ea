# Pooler safety (DESIGN C4) through a real pgbouncer in transaction pooling
# mode with ONE server connection, so two clients of different tenants
# provably share a backend:
#   - a transaction-scoped tenant never reaches the other client;
#   - a session-scoped set_tenant(..., false) DOES (documented), and strict
#     mode refuses it for roles that are not privileged;
#   - DISCARD ALL (explicitly, or as pgbouncer's server_reset_query with
#     server_reset_query_always = 1) clears it.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw(start_pgbouncer);

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => "pgbouncer not installed ($pgbouncer)" unless -x $pgbouncer;

my $key = 'tap-bouncer-key-0123456789abcdef0123456789';
my $node = PostgreSQL::Test::Cluster->new('bouncer');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.signing_key = '$key'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE owner NOLOGIN;
	CREATE ROLE app LOGIN;
	CREATE DATABASE appdb;
});
$node->safe_psql('appdb', q{
	CREATE EXTENSION tenant_rls;
	SET tenant_rls.auto_protect = off;
	CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text NOT NULL);
	ALTER TABLE public.docs OWNER TO owner;
	ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
	ALTER TABLE public.docs FORCE ROW LEVEL SECURITY;
	CREATE POLICY iso ON public.docs USING (tenant_id = tenant_rls.current_tenant());
	GRANT SELECT ON public.docs TO app;
	INSERT INTO public.docs SELECT i, CASE WHEN i <= 3 THEN 'acme' ELSE 'globex' END FROM generate_series(1, 10) i;
});
my $tok_acme = $node->safe_psql('appdb', q{SELECT tenant_rls.sign_tenant('acme', '1 hour')});
my $tok_globex = $node->safe_psql('appdb', q{SELECT tenant_rls.sign_tenant('globex', '1 hour')});

# --- pgbouncer, started by us and stopped by its handle (pid)
my $bdir = PostgreSQL::Test::Utils::tempdir();
# pgbouncer listens on a unix socket in a directory of mode 0700 (trust: no
# TCP port another local user could reach)
my $bsock = PostgreSQL::Test::Utils::tempdir_short();
my $bport = PostgreSQL::Test::Cluster::get_free_port();
my $bouncer;

sub start_bouncer
{
	my ($reset_always) = @_;
	$bouncer = start_pgbouncer(node => $node, dir => $bdir, sock => $bsock, port => $bport,
		pgbouncer => $pgbouncer, users => ['app'], reset_always => $reset_always);
}

sub stop_bouncer
{
	$bouncer->signal('INT');
	$bouncer->finish;
	undef $bouncer;
}

# never leave a pgbouncer behind, even when a test dies half-way
END
{
	if ($bouncer)
	{
		$bouncer->signal('KILL');
		eval { $bouncer->finish; };
	}
}

# A client session through pgbouncer: a psql reading commands from a pipe.
sub client
{
	my ($user) = @_;
	my $s = { in => '', out => '', err => '' };
	$s->{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $bsock, '-p', $bport, '-U', $user, '-d', 'appdb', '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return $s;
}

# Run SQL in a client and return (stdout, stderr) once psql is done with it.
sub run_in
{
	my ($s, $sql) = @_;
	$s->{out} = '';
	$s->{err} = '';
	$sql .= ';' unless $sql =~ /;\s*$/;
	$s->{in} .= "$sql\n\\echo __done__\n\\warn __done__\n";
	$s->{h}->pump until $s->{out} =~ /__done__\n/ && $s->{err} =~ /__done__\n/;
	(my $out = $s->{out}) =~ s/__done__\n//;
	(my $err = $s->{err}) =~ s/__done__\n//;
	chomp $out;
	return ($out, $err);
}

sub quit
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}

my $who = q{SELECT coalesce(tenant_rls.current_tenant(), '<none>') || ' ' || count(*) || ' ' || pg_backend_pid() FROM public.docs};

start_bouncer(0);
my $a = client('app');
my $b = client('app');

# the same backend serves both clients
my ($out_a) = run_in($a, 'SELECT pg_backend_pid()');
my ($out_b) = run_in($b, 'SELECT pg_backend_pid()');
is($out_a, $out_b, 'one server connection serves both clients');
my $pid = $out_a;

# --- transaction scope: never reaches the other client
my ($o, $e) = run_in($a, "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); $who;");
is($o, "acme\nacme 3 $pid", 'client A in a transaction as acme sees its 3 rows');
# (B would wait for the server connection now; A commits first)
($o) = run_in($a, 'COMMIT');
($o) = run_in($b, $who);
is($o, "<none> 0 $pid", 'client B on the same backend after A committed: no tenant, no rows');
($o) = run_in($b, "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_globex'); $who; COMMIT;");
is($o, "globex\nglobex 7 $pid", 'client B as globex sees its 7 rows');
($o) = run_in($a, $who);
is($o, "<none> 0 $pid", 'client A afterwards: nothing of B');
# a rolled back transaction too
run_in($a, "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); ROLLBACK;");
($o) = run_in($b, $who);
is($o, "<none> 0 $pid", 'after a rollback: nothing reaches B');
# set outside a transaction block: one statement only
($o, $e) = run_in($a, "SELECT tenant_rls.set_tenant_signed('$tok_acme')");
like($e, qr/lasts only for this statement/, 'set outside a transaction block warns');
($o) = run_in($b, $who);
is($o, "<none> 0 $pid", '... and does not reach B');

# --- session scope leaks through a transaction pooler (documented)
run_in($a, q{SELECT tenant_rls.set_tenant('acme', false)});
($o) = run_in($b, $who);
is($o, "acme 3 $pid", 'session-scope set_tenant(..., false) LEAKS to the next client (why it is not the default)');
# DISCARD ALL clears it
run_in($a, 'DISCARD ALL');
($o) = run_in($b, $who);
is($o, "<none> 0 $pid", 'DISCARD ALL clears it');
quit($a);
quit($b);
stop_bouncer();

# --- pgbouncer running DISCARD ALL after every transaction
start_bouncer(1);
$a = client('app');
$b = client('app');
run_in($a, q{SELECT tenant_rls.set_tenant('acme', false)});
($o) = run_in($b, $who);
like($o, qr/^<none> 0 /, 'server_reset_query = DISCARD ALL (server_reset_query_always = 1) clears a session tenant');
quit($a);
quit($b);
stop_bouncer();

# --- strict mode: session scope and unsigned tenants refused for app
$node->append_conf('postgresql.conf', 'tenant_rls.strict = on');
$node->reload;
$node->poll_query_until('appdb', q{SELECT in_force FROM tenant_rls.strict_status()})
  or die 'reload not seen';
start_bouncer(0);
$a = client('app');
$b = client('app');
($o, $e) = run_in($a, q{SELECT tenant_rls.set_tenant('acme', false)});
like($e, qr/session-wide tenant context is not allowed in strict mode/, 'strict: session scope refused');
($o, $e) = run_in($a, q{SET app.current_tenant_id = 'acme'});
like($e, qr/can only be changed through tenant_rls\.set_tenant_signed\(\) in strict mode/, 'strict: SET refused');
($o) = run_in($b, $who);
like($o, qr/^<none> 0 /, 'strict: nothing reached B');
($o) = run_in($a, "BEGIN; SELECT tenant_rls.set_tenant_signed('$tok_acme'); $who; COMMIT;");
like($o, qr/^acme\nacme 3 /, 'strict: set_tenant_signed() works through the pooler');
($o) = run_in($b, $who);
like($o, qr/^<none> 0 /, 'strict: and does not reach B');
quit($a);
quit($b);
stop_bouncer();

$node->stop;
done_testing();
