# Values too large to show (review rev40d): a tenant wrote one row of 270 MB;
# its image in the log was more than a jsonb object holds (256 MB), so
# reading its batch failed ("total size of jsonb object elements exceeds the
# maximum"), and with it audit_history() of the other rows the transaction
# changed, and every read of audit_log that reached the batch.  Now an image
# shows at most 128 MB of values: the values beyond are shown as
# {"tenant_rls": "value too large to show", "bytes": n}, the others as they
# are, and the batch, its hash and the chain are unchanged.
# Here: two columns of 70 MB each in one row (the second is beyond the
# allowance), and a change of another row in the same transaction.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('large_value');
$node->init;
$node->append_conf('postgresql.conf', q{
max_wal_size = 1GB
});
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text NOT NULL, a text, b text, n int);
SELECT tenant_rls.enable_audit('public.docs');
INSERT INTO public.docs (id, tenant_id, a, n) VALUES (1, 'acme', 'small', 1);
});

my ($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
UPDATE public.docs SET n = 2 WHERE id = 1;
INSERT INTO public.docs VALUES (2, 'acme', repeat('a', 70000000), repeat('b', 70000000), 0);
COMMIT;
});
is($ret, 0, 'the large row is written and audited') or diag($err);

($ret, $out, $err) = $node->psql('postgres', q{
SELECT operation, new_row ->> 'n' FROM tenant_rls.audit_history('public.docs', '{"id": 1}') ORDER BY seq, entry});
is($ret, 0, 'audit_history() of the other row of that transaction reads') or diag($err);
is($out, "INSERT|1\nUPDATE|2", '... its entries');

($ret, $out, $err) = $node->psql('postgres', q{
SELECT length(new_row ->> 'a'), new_row -> 'b', new_row ->> 'n', new_row ->> 'id'
  FROM tenant_rls.audit_history('public.docs', '{"id": 2}')});
is($ret, 0, 'audit_history() of the large row reads') or diag($err);
is($out, '70000000|{"bytes": 70000000, "tenant_rls": "value too large to show"}|0|2',
	'... the value within the allowance in full, the one beyond it as a marker with its size');

# 30 MB of control characters: 180 MB as JSON text (\u0001 each), beyond
# the allowance too (review rev40g: 90 MB of them in an UPDATE's two images
# made a row of the view more than 1 GB of text)
($ret, $out, $err) = $node->psql('postgres', q{
INSERT INTO public.docs VALUES (3, 'acme', repeat(chr(1), 30000000), 'small', 0)});
is($ret, 0, 'a row of control characters is written') or diag($err);
($ret, $out, $err) = $node->psql('postgres', q{
SELECT new_row -> 'a', new_row ->> 'b' FROM tenant_rls.audit_history('public.docs', '{"id": 3}')});
is($out, '{"bytes": 30000000, "tenant_rls": "value too large to show"}|small',
	'... its value is counted as the JSON text a client receives');

($ret, $out, $err) = $node->psql('postgres', q{SELECT count(*), sum(length(l::text)) < 400000000 FROM tenant_rls.audit_log l});
is($ret, 0, 'audit_log reads past the batches') or diag($err);
is($out, '4|t', '... all their entries, each row a bounded text');

is($node->safe_psql('postgres', q{SELECT ok FROM tenant_rls.audit_verify('acme')}), 't',
	'the chain verifies');

$node->stop;
done_testing();
