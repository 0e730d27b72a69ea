# Helpers shared by the TAP tests of test/t (prove -I test/t).
package TenantRlsTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Utils ();
use IPC::Run ();

our @EXPORT_OK = qw($drop_audit_partitions create_audit_default_db $versioned_table clock_shift_shim start_pgbouncer
  start_deferring write_ids logged chains_ok hold_worker);

# SQL that drops every monthly partition of the audit log (the default one
# stays): the tests that need a month without its partition start so.
our $drop_audit_partitions = q{DO $$
DECLARE p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_inherits
              WHERE inhparent = 'tenant_rls.audit_batch'::regclass
                AND inhrelid <> 'tenant_rls.audit_batch_default'::regclass LOOP
        EXECUTE format('DROP TABLE %s', p);
    END LOOP;
END $$;
};

# SQL that makes an audited table public.ver of versioned rows: a BEFORE
# INSERT trigger closes the current row of the new row's tenant and group
# (cur = false), so a multi-row INSERT changes rows it wrote itself, by
# commands after its own (the audit order tests of 064 and 068).
our $versioned_table = q{
SET tenant_rls.auto_protect = off;
CREATE TABLE public.ver (id bigint PRIMARY KEY, tenant_id text NOT NULL, grp int NOT NULL,
                         cur boolean NOT NULL DEFAULT true, v text);
CREATE INDEX ON public.ver (tenant_id, grp) WHERE cur;
CREATE FUNCTION public.ver_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE public.ver SET cur = false WHERE tenant_id = NEW.tenant_id AND grp = NEW.grp AND cur;
    RETURN NEW;
END $$;
CREATE TRIGGER ver_close BEFORE INSERT ON public.ver FOR EACH ROW EXECUTE FUNCTION public.ver_close();
SELECT tenant_rls.enable_audit('public.ver');
};

# A database DB on NODE with tenant_rls and an audited table public.p (id
# integer PRIMARY KEY, tenant_id text NOT NULL, v text) whose batches land in
# the log's default partition (the monthly partitions dropped, the
# maintenance worker off), where audit_purge() cuts at any time: the tests
# purge batches written before a cut.
sub create_audit_default_db
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql('postgres', "ALTER DATABASE $db SET tenant_rls.audit_maintain_worker = off");
	$node->safe_psql($db, q{
CREATE EXTENSION tenant_rls;
CREATE TABLE public.p (id integer PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.enable_audit('public.p');
} . $drop_audit_partitions);
}

# An LD_PRELOAD shim whose gettimeofday() is moved by TR_CLOCK_SHIFT seconds
# (the environment of the server it is preloaded into), built in $dir: its
# path, or undef without a C compiler.  For the tests that need the server's
# clock at another time (months, partitions of the audit log).
sub clock_shift_shim
{
	my ($dir) = @_;
	my $cc = $ENV{CC} // 'cc';
	PostgreSQL::Test::Utils::append_to_file("$dir/shift.c", <<'EOC');
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

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

/* time() too: pg_ctl compares the postmaster's start time with its own */
time_t
time(time_t *t)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	if (t != NULL)
		*t = tv.tv_sec;
	return tv.tv_sec;
}
EOC
	# (no compiler at all: IPC::Run dies, and the caller skips its tests)
	my $ok = eval {
		PostgreSQL::Test::Utils::run_log(
			[ $cc, '-shared', '-fPIC', '-O2', '-o', "$dir/shift.so", "$dir/shift.c", '-ldl' ]);
	};
	return $ok ? "$dir/shift.so" : undef;
}

# A pgbouncer in transaction mode in front of database appdb of $node, on a
# unix socket in $sock (port $port), its files in $dir, trusting the users
# named: the TAP tests of the pooler path (051, 079).  Options: pool_size
# (server connections, default 1), max_client_conn (default 20),
# reset_always (server_reset_query_always, default 0).  Returns the
# IPC::Run handle once it accepts connections (as the first user); kills it
# and dies if it does not.  The caller kills it (an END block, so that a test
# that dies half-way leaves none behind).
sub start_pgbouncer
{
	my (%o) = @_;
	my ($node, $dir, $sock, $port) = @o{qw(node dir sock port)};
	my $pool = $o{pool_size} // 1;
	my $maxc = $o{max_client_conn} // 20;
	my $reset = $o{reset_always} // 0;
	open my $fh, '>', "$dir/userlist.txt" or die "$dir/userlist.txt: $!";
	print $fh qq{"$_" ""\n} for @{ $o{users} };
	close $fh;
	open $fh, '>', "$dir/pgbouncer.ini" or die "$dir/pgbouncer.ini: $!";
	print $fh qq{[databases]
appdb = host=@{[ $node->host ]} port=@{[ $node->port ]} dbname=appdb

[pgbouncer]
listen_port = $port
unix_socket_dir = $sock
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = $maxc
server_reset_query = DISCARD ALL
server_reset_query_always = $reset
logfile = $dir/pgbouncer.log
ignore_startup_parameters = extra_float_digits
};
	close $fh;
	my $h = IPC::Run::start([ $o{pgbouncer}, "$dir/pgbouncer.ini" ], '>', "$dir/pgbouncer.out", '2>&1');
	for (1 .. 100)
	{
		return $h
		  if system("psql -XAtq -h $sock -p $port -U $o{users}[0] -d appdb -c 'SELECT 1' >/dev/null 2>&1") == 0;
		# (review rev49i) exited already (a bad setting, the port taken):
		# no use waiting 10 s more
		last unless $h->pumpable;
		select(undef, undef, undef, 0.1);
	}
	$h->signal('KILL') if $h->pumpable;
	eval { $h->finish; };
	# (review rev49i) an error in the configuration goes to stderr, before
	# the log file exists: slurp_file() of the log alone died with "could
	# not read" and hid it
	die 'pgbouncer did not start: '
	  . join('', map { -e $_ ? "$_:\n" . PostgreSQL::Test::Utils::slurp_file($_) : '' }
		  "$dir/pgbouncer.out", "$dir/pgbouncer.log");
}

# The deferred-delivery failover tests (062, 081, 082): in database postgres
# of the started $node, the extension, the table public.f (id, tenant_id, v),
# deferred delivery started and the database's writers deferring (then the
# SQL $more, if given); true once the delivery worker runs
sub start_deferring
{
	my ($node, $more) = @_;
	$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.f (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
SELECT tenant_rls.audit_delivery_start();
ALTER DATABASE postgres SET tenant_rls.audit_delivery = deferred;
} . ($more // ''));
	return $node->poll_query_until('postgres', q{SELECT worker_running FROM tenant_rls.audit_delivery_status()});
}

# The deferred-delivery failover tests (062, 081, 082), in database postgres on a
# table public.f (id, v) of tenants t0..t2: one deferred transaction per id
# from..to, as tenant t<id mod 3>
sub write_ids
{
	my ($node, $from, $to) = @_;
	my $sql = '';
	$sql .= "BEGIN; SELECT tenant_rls.set_tenant('t" . ($_ % 3) . "') \\g /dev/null\n"
	  . "INSERT INTO public.f (id, v) VALUES ($_, 'v$_'); COMMIT;\n"
	  for ($from .. $to);
	$node->safe_psql('postgres', $sql);
}

# "n m": INSERT entries for ids from..to, and distinct ids among them
sub logged
{
	my ($node, $from, $to) = @_;
	return $node->safe_psql('postgres', qq{SELECT count(*) || ' ' || count(DISTINCT row_pk->>'id')
		FROM tenant_rls.audit_log WHERE (row_pk->>'id')::int BETWEEN $from AND $to AND operation = 'INSERT'});
}

# every chain of database postgres verifies (and there is one)
sub chains_ok
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT count(*) > 0 AND bool_and(ok) FROM tenant_rls.audit_verify()});
}

# the delivery worker of $node waits for a lock on the row of database
# postgres it updates with every delivery, until the handle is killed
sub hold_worker
{
	my ($node) = @_;
	my ($stdin, $stdout, $stderr) = ('', '', '');
	my $h = IPC::Run::start([ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', '-' ],
		'<', \$stdin, '>', \$stdout, '2>', \$stderr, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$stdin .= "BEGIN;\nSELECT 'locked' FROM tenant_rls.audit_delivery_state FOR UPDATE;\n";
	$h->pump until $stdout =~ /locked/;
	return $h;
}

1;
