# The demonstration README's first command runs (`make demo`: test/demo.sql on
# a cluster that preloads the library and has a signing key), run here on such
# a cluster so that a change that breaks it fails the suite.  The demo runs as
# a superuser and sets app_user (not superuser, not BYPASSRLS, not the owner)
# for the tenant's statements.  Each error it provokes on purpose must still
# come, with its SQLSTATE, and what it shows must still be true.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $key = 'tap-demo-key-0123456789abcdef0123456789abcdef';
my $node = PostgreSQL::Test::Cluster->new('demo');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.signing_key = '$key'
});
$node->start;

# verbose: the errors show their SQLSTATE
my $demo = slurp_file("$ENV{TR_SRC}/test/demo.sql");
ok($demo =~ s/^\\set VERBOSITY default$/\\set VERBOSITY verbose/m, 'the demo sets its verbosity');
my ($stdout, $stderr);
my $ret = $node->psql('postgres', $demo, stdout => \$stdout, stderr => \$stderr,
	on_error_stop => 1);
note "stdout:\n$stdout";
note "stderr:\n$stderr";
is($ret, 0, 'the demo runs to its end');

# the errors it provokes, in order, and no other
my @errors = ($stderr =~ /^psql:<stdin>:\d+: ERROR:  (.*)$/mg);
my @expected = (
	[ '42501', qr/^new row violates row-level security policy "tenant_rls_guard_insert" for table "orders"$/,
	  'a tenant cannot write a row for another tenant' ],
	[ '22P02', qr/^invalid tenant value for type uuid: "1 OR true"$/, 'a malformed tenant value is refused' ],
	[ '42501', qr/^cannot disable row level security on protected table public\.orders$/,
	  'the drift guard refuses DISABLE ROW LEVEL SECURITY' ],
	[ '42501', qr/^cannot turn off FORCE ROW LEVEL SECURITY on protected table public\.orders$/,
	  'the drift guard refuses NO FORCE ROW LEVEL SECURITY' ],
	[ '42501', qr/^cannot drop policy "tenant_rls_guard_select" of protected table public\.orders$/,
	  'the drift guard refuses DROP POLICY' ],
	[ '42501', qr/^UPDATE of tenant_rls\.audit_batch is not allowed$/, 'a superuser cannot edit the audit log' ],
	[ '42501', qr/^app\.current_tenant_id can only be changed through tenant_rls\.set_tenant_signed\(\) in strict mode$/,
	  'strict mode: SET app.current_tenant_id is refused' ],
	[ '42501', qr/^tenant_rls\.set_tenant\(\) is not allowed in strict mode$/, 'strict mode: set_tenant() is refused' ],
	[ '28000', qr/^token signature does not match$/, 'strict mode: a forged token is refused' ],
	[ '42501', qr/^app\.current_tenant_id can only be changed through tenant_rls\.set_tenant_signed\(\) in strict mode$/,
	  'strict mode: set_config() inside the transaction is refused' ],
	[ '55000', qr/^tenant_rls coverage check failed: 1 finding\(s\) at level error or above$/,
	  'assert_coverage() fails on the unprotected table' ]);
is(scalar(@errors), scalar(@expected), 'the demo raises the errors it provokes, and no other')
  or diag(join("\n", @errors));
for my $i (0 .. $#expected)
{
	my ($code, $re, $name) = @{ $expected[$i] };
	my $e = $errors[$i] // '';
	ok($e =~ /^\Q$code\E: (.*)$/ && $1 =~ $re, $name) or diag("got: $e");
}

# what it shows
my $acme = '11111111-1111-1111-1111-111111111111';
my $globex = '22222222-2222-2222-2222-222222222222';
like($stdout, qr/^public\|orders\|protected\|tenant_id\|uuid$/m, 'the new table is protected automatically');
is(scalar(() = $stdout =~ /^tenant_rls_(?:guard|isolation)_(?:select|insert|update|delete)\|/mg), 8,
	'with eight policies');
like($stdout, qr/^$globex\n3\|$globex\|globex: doomsday device\n--- globex can neither/m,
	'globex reads its row only');
like($stdout, qr/^--- the transaction ended.*\n\|0$/m, 'no tenant after the transaction: no rows');
like($stdout, qr/^$acme\n1\|INSERT\|orders\|acme: anvil\|app_user\n1\|INSERT\|orders\|acme: rocket skates\|app_user\n/m,
	'acme reads its own audit entries only');
like($stdout, qr/^$acme\|t\|2\n$globex\|t\|1\n/m, 'both chains verify');
like($stdout, qr/^$acme\|f\|1\|batch 1 was modified: its hash does not match its contents\n$globex\|t\|\|\n/m,
	"the superuser's edit is named, the other chain still verifies");
like($stdout, qr/^--- the real token.*\n$acme\n1\|acme: anvil\n2\|acme: rocket skates\n/m,
	"the signed token sets acme, whose rows globex did not change");
like($stdout, qr/^--- nor can the session switch.*\n$acme\n/m, 'the tenant stays after the refused change');
like($stdout, qr/^error\|table_unprotected\|public\.invoices\|SELECT tenant_rls\.protect\('public\.invoices'\);$/m,
	'lint() reports the unprotected table with its fix');
like($stdout, qr/^public\.invoices\|protected\|t\|t\|t\|t\|t\|0\|1$/m, 'the fix protects and audits it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'shop'}), '0',
	'the demo removes its database');

done_testing();
