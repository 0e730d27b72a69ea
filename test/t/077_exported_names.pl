# The library exports only names of its own prefix (src/exports.map): what
# PostgreSQL looks up in it by name (the SQL-callable functions and the
# background worker entry points, tenant_rls_*; their pg_finfo_* records, the
# magic block, _PG_init) and a few variables and functions named tenant_rls_*.
# Any other name exported on PostgreSQL 15 (modules are loaded with
# RTLD_GLOBAL) could be called by, or bound for, another library loaded into
# the same server; tenant_context_get() decides which rows a session sees.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;

my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
my $so = "$libdir/tenant_rls.so";
ok(-f $so, "the library is installed ($so)");

my $nm = `nm -D --defined-only '$so' 2>&1`;
plan skip_all => 'nm is not available' if $? == -1 || $nm =~ /not found/;
is($?, 0, 'nm reads the library') or diag($nm);

my @names = map { (split ' ')[-1] } grep { /^\S+\s+[A-Za-z]\s+\S+$/ } split /\n/, $nm;
my @other = grep { !/^(tenant_rls_\w+|pg_finfo_tenant_rls_\w+|Pg_magic_func|_PG_init)$/ } @names;
is(join(' ', sort @other), '', 'nothing else is exported');
# the functions PostgreSQL calls by name: every SQL one (it has a pg_finfo_
# record) and the background workers' entry points
my %have = map { $_ => 1 } @names;
my @finfo = map { s/^pg_finfo_//r } grep { /^pg_finfo_/ } @names;
cmp_ok(scalar @finfo, '>', 50, 'the SQL-callable functions have their pg_finfo_ records (' . scalar(@finfo) . ')');
is(join(' ', grep { !$have{$_} } @finfo), '', 'each of them is exported');
for my $f (qw(tenant_rls_audit_maintain_main tenant_rls_delivery_launcher_main tenant_rls_delivery_worker_main))
{
	ok($have{$f}, "the background worker entry point $f is exported");
}

done_testing();
