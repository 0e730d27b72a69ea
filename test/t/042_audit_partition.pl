# The audit log's partitions (issue 5, A4): a missing partition never fails
# or blocks a user's write.  The trigger creates the month's partition itself
# when it can do so without waiting; when it cannot (the log is locked, or the
# default partition already holds entries of that month), the entry goes to
# the default partition.  Either way the chain verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit_partition');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 2\n");
$node->start;

my $month = $node->safe_psql('postgres', q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMM')});

# A database whose log has no partition yet (the trigger is attached by hand,
# so audit_maintain() never ran).
for my $db ('fresh', 'locked')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;  -- the trigger is attached by hand below
CREATE TABLE public.t (id integer PRIMARY KEY, tenant_id text NOT NULL);
CREATE TRIGGER tenant_rls_audit AFTER INSERT OR UPDATE OR DELETE ON public.t
    FOR EACH ROW EXECUTE FUNCTION tenant_rls.audit_trigger();
});
	is($node->safe_psql($db, q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'tenant_rls.audit_log'::regclass}),
		'1', "$db: only the default partition at first");
}

# 1. nothing in the way: the first write creates the month's partition
$node->safe_psql('fresh', q{INSERT INTO public.t VALUES (1, 'a')});
is($node->safe_psql('fresh', qq{SELECT count(*) FROM tenant_rls.audit_log_p$month}),
	'1', 'the trigger created the partition of this month and wrote there');
is($node->safe_psql('fresh', q{SELECT count(*) FROM tenant_rls.audit_log_default}), '0', 'nothing in the default partition');
is($node->safe_psql('fresh', qq{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tenant_rls.audit_log_p$month'::regclass AND tgname = 'audit_guard_truncate'}),
	'1', 'the new partition has its TRUNCATE guard');
is($node->safe_psql('fresh', qq{SELECT has_table_privilege('public', 'tenant_rls.audit_log_p$month', 'SELECT')}),
	'f', 'the new partition is not readable directly');

# 2. another session holds a lock on the log (a prepared transaction, so it
#    cannot go away): the write neither waits nor fails, it uses the default
$node->safe_psql('locked', q{
BEGIN;
LOCK TABLE tenant_rls.audit_log IN ACCESS SHARE MODE;
PREPARE TRANSACTION 'hold_log';
});
my ($ret, $out, $err) = $node->psql('locked', q{
SET statement_timeout = '10s';
INSERT INTO public.t VALUES (1, 'a');
});
is($ret, 0, 'the write succeeds while the log is locked') or diag($err);
is($node->safe_psql('locked', q{SELECT count(*) FROM tenant_rls.audit_log_default}), '1', 'the entry went to the default partition');
$node->safe_psql('locked', q{COMMIT PREPARED 'hold_log'});

# 3. the default partition now holds an entry of this month, so the month's
#    partition cannot be created: writes keep going to the default partition
$node->safe_psql('locked', q{INSERT INTO public.t VALUES (2, 'a'), (3, 'b')});
is($node->safe_psql('locked', q{SELECT count(*) FROM tenant_rls.audit_log_default}), '3', 'later entries go to the default partition too');
is($node->safe_psql('locked', qq{SELECT to_regclass('tenant_rls.audit_log_p$month') IS NULL}), 't', 'no partition was half-created');
($ret, $out, $err) = $node->psql('locked', q{SELECT tenant_rls.audit_maintain()});
like($err, qr/WARNING:  audit_log partition of \d{4}-\d\d not created: the default partition holds entries of that month/,
	'audit_maintain() warns why this month cannot get its partition');
is($out, '3', 'and still creates the partitions of the next three months');
is($node->safe_psql('locked', q{SELECT count(*) FROM tenant_rls.audit_log WHERE tenant = 'a'}), '2', 'entries readable through the parent');

for my $db ('fresh', 'locked')
{
	is($node->safe_psql($db, q{SELECT string_agg(coalesce(tenant, '-') || ':' || ok, ' ' ORDER BY tenant) FROM tenant_rls.audit_verify()}),
		$db eq 'fresh' ? 'a:true' : 'a:true b:true', "$db: chains verify");
}

$node->stop;
done_testing();
