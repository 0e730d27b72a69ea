# audit_purge() cuts by logged_at, and must remove a prefix of every chain
# (review revaudit #2).  With deferred delivery a batch carries the time of
# its writer's commit or PREPARE, and is chained when it is delivered: a
# prepared transaction committed after a later immediate commit of the same
# tenant was chained after it with an earlier logged_at.  A purge whose cut
# fell between the two removed batch n+1, kept batch n, and audit_verify()
# then reported the chain as tampered with, for good.  Now logged_at never
# goes back along a chain (the chain head keeps the last one): the delivered
# batch gets its predecessor's logged_at, the purge keeps it, and the chain
# verifies.  The batches are in the default partition (the month's partition
# is dropped), where the purge cuts at any time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TenantRlsTest qw($drop_audit_partitions);
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('purge_order');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
wal_level = replica
max_prepared_transactions = 5
tenant_rls.audit_maintain_worker = off
});
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.orders (tenant_id text NOT NULL, id integer PRIMARY KEY, v text);
SELECT tenant_rls.enable_audit('public.orders');
} . $drop_audit_partitions . q{
SELECT tenant_rls.audit_delivery_start();
});

# seq 1: immediate
$node->safe_psql('postgres', q{INSERT INTO public.orders VALUES ('acme', 1, 'first')});
# a deferred transaction prepared now (its batch carries this time) ...
$node->safe_psql('postgres', q{
SET tenant_rls.audit_delivery = deferred;
BEGIN;
INSERT INTO public.orders VALUES ('acme', 2, 'prepared');
PREPARE TRANSACTION 't1';
});
usleep(200_000);
my $cut = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
usleep(200_000);
# ... seq 2: an immediate commit after it, seq 3: the prepared one, delivered
$node->safe_psql('postgres', q{INSERT INTO public.orders VALUES ('acme', 3, 'immediate')});
is($node->safe_psql('postgres', q{COMMIT PREPARED 't1'; SELECT tenant_rls.audit_delivery_wait()}),
	't', 'the prepared transaction is delivered');

is($node->safe_psql('postgres', q{SELECT string_agg(seq || ':' || (new_row->>'v'), ',' ORDER BY seq)
	FROM tenant_rls.audit_log WHERE tenant = 'acme'}),
	'1:first,2:immediate,3:prepared', 'the prepared transaction is chained after the later immediate commit');
is($node->safe_psql('postgres', q{SELECT count(*) FROM (
	SELECT logged_at < lag(logged_at) OVER (ORDER BY seq) AS back
	  FROM tenant_rls.audit_batch WHERE tenant = 'acme') s WHERE back}),
	'0', 'logged_at does not go back along the chain');
is($node->safe_psql('postgres', qq{SELECT b.logged_at = (SELECT logged_at FROM tenant_rls.audit_batch WHERE tenant = 'acme' AND seq = 2)
	AND b.logged_at > '$cut'
	FROM tenant_rls.audit_batch b WHERE b.tenant = 'acme' AND b.seq = 3}),
	't', 'the delivered batch has its predecessor\'s logged_at, not its earlier PREPARE time');
is($node->safe_psql('postgres', q{SELECT h.logged_at = b.logged_at
	FROM tenant_rls.audit_chain h JOIN tenant_rls.audit_batch b ON b.tenant = h.tenant AND b.seq = h.seq
	WHERE h.tenant = 'acme'}),
	't', 'the chain head keeps the logged_at of the last batch');
is($node->safe_psql('postgres', q{SELECT ok FROM tenant_rls.audit_verify('acme')}), 't', 'the chain verifies');

# a retention run whose cut falls between the PREPARE and the later commit
is($node->safe_psql('postgres', qq{SELECT tenant_rls.audit_purge('$cut')}), '1', 'the purge removes batch 1 only');
is($node->safe_psql('postgres', q{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM tenant_rls.audit_batch WHERE tenant = 'acme'}),
	'2,3', 'batches 2 and 3 stay');
is($node->safe_psql('postgres', q{SELECT seq FROM tenant_rls.audit_anchor WHERE tenant = 'acme'}), '1', 'the anchor is batch 1');
is($node->safe_psql('postgres', q{SELECT string_agg(coalesce(tenant, '-') || ' ' || ok || ' ' || coalesce(reason, ''), '; ' ORDER BY tenant NULLS FIRST)
	FROM tenant_rls.audit_verify()}),
	'- true ; acme true ', 'audit_verify() passes after the purge');

# The first purge ran audit_maintain(), which moved batches 2 and 3 from the
# default partition into this month's new partition: a later cut within the
# month keeps them (a month's partition goes whole)
is($node->safe_psql('postgres', qq{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM tenant_rls.audit_batch_default WHERE tenant = 'acme'}),
	'', 'batches 2 and 3 left the default partition');
$node->safe_psql('postgres', q{SELECT tenant_rls.audit_purge(now())});
is($node->safe_psql('postgres', q{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM tenant_rls.audit_batch WHERE tenant = 'acme'}),
	'2,3', 'a later purge within the month keeps batches 2 and 3');
is($node->safe_psql('postgres', q{SELECT string_agg(coalesce(tenant, '-') || ' ' || ok, '; ' ORDER BY tenant NULLS FIRST)
	FROM tenant_rls.audit_verify()}),
	'- true; acme true', 'audit_verify() passes');

$node->safe_psql('postgres', 'SELECT tenant_rls.audit_delivery_stop()');
$node->stop;
done_testing();
