# Signed tokens are bound to the database they are signed for (DESIGN C3):
# the signing key is one for the whole cluster, but a token's MAC covers the
# database name, so a token for tenant 42 of one database is refused in every
# other database of the cluster, and accepted in its own.  Also runs the
# "Signing outside the database" Python example of doc/context_security.md
# literally (extracted from the file) and checks the server accepts what it
# makes, in the database it names only.  Everything is tried as a role that
# is not superuser, not BYPASSRLS and not the table owner, with strict mode
# in force.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $key = 'tap-database-key-0123456789abcdef0123456789';
my $node = PostgreSQL::Test::Cluster->new('tokdb');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tenant_rls'
tenant_rls.strict = on
tenant_rls.signing_key = '$key'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE ROLE owner_role NOLOGIN;
	CREATE DATABASE appdb;
	CREATE DATABASE otherdb;
	SET client_min_messages = warning;
	CREATE EXTENSION tenant_rls;
});
for my $db ('appdb', 'otherdb')
{
	$node->safe_psql($db, qq{
		SET client_min_messages = warning;
		CREATE EXTENSION tenant_rls;
		SET tenant_rls.auto_protect = off;
		CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text NOT NULL, body text);
		ALTER TABLE public.docs OWNER TO owner_role;
		ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
		ALTER TABLE public.docs FORCE ROW LEVEL SECURITY;
		CREATE POLICY iso ON public.docs USING (tenant_id = tenant_rls.current_tenant());
		GRANT SELECT ON public.docs TO app;
		INSERT INTO public.docs VALUES (1, '42', '$db 42'), (2, '7', '$db 7');
	});
}
is($node->safe_psql('postgres', q{SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'app'}),
	'f', 'app is neither superuser nor BYPASSRLS');
is($node->safe_psql('appdb', 'SELECT in_force FROM tenant_rls.strict_status()'),
	't', 'strict mode is in force');

# as app in a database: set the tenant from a token, read what it sees
sub use_token
{
	my ($db, $token) = @_;
	my ($ret, $out, $err) = $node->psql($db,
		qq{BEGIN; SELECT tenant_rls.set_tenant_signed('$token'); SELECT string_agg(body, ',' ORDER BY id) FROM public.docs; COMMIT;},
		extra_params => [ '-U', 'app' ], on_error_stop => 1);
	return ($ret, $out, $err);
}

sub accepted
{
	my ($db, $token, $rows, $name) = @_;
	my ($ret, $out, $err) = use_token($db, $token);
	is($ret, 0, "$name: no error") or diag($err);
	is($out, "42\n$rows", "$name: tenant 42 set, its rows read");
}

sub refused
{
	my ($db, $token, $name) = @_;
	my ($ret, $out, $err) = use_token($db, $token);
	isnt($ret, 0, "$name: refused");
	like($err, qr/ERROR:  token signature does not match/, "$name: signature mismatch error");
	like($err, qr/DETAIL:  .*signed for another database/, "$name: the detail names the possible cause");
	unlike($err, qr/\Q$key\E/, "$name: the error does not contain the key");
	is($out, '', "$name: nothing read");
}

# --- tokens made by sign_tenant() in each database
my $tok_app = $node->safe_psql('appdb', q{SELECT tenant_rls.sign_tenant('42')});
my $tok_other = $node->safe_psql('otherdb', q{SELECT tenant_rls.sign_tenant('42')});
isnt($tok_app, $tok_other, 'the same tenant signed in two databases gives two different tokens');

accepted('appdb', $tok_app, 'appdb 42', 'token of appdb in appdb');
accepted('otherdb', $tok_other, 'otherdb 42', 'token of otherdb in otherdb');
refused('otherdb', $tok_app, 'token of appdb in otherdb');
refused('appdb', $tok_other, 'token of otherdb in appdb');
refused('postgres', $tok_app, 'token of appdb in postgres (no table needed to refuse)');

# --- the Python example of the documentation, run as it stands there
my $doc = slurp_file("$ENV{TR_SRC}/doc/context_security.md");
my ($example) = $doc =~ /^### Signing outside the database\n.*?^```python\n(.*?)^```$/ms;
ok(defined $example && $example =~ /def sign_tenant/, 'the Python example was found in the doc');
$example //= '';

SKIP:
{
	my $python;
	for my $p ('/usr/bin/python3', 'python3')
	{
		my ($out, $err);
		# run_command() chomps the output
		if (eval { ($out, $err) = run_command([ $p, '-c', 'print(1)' ]); 1 } && $out eq '1')
		{
			$python = $p;
			last;
		}
	}
	skip 'python3 is not installed', 22 unless defined $python;

	my $tmp = PostgreSQL::Test::Utils::tempdir;
	my $script = "$tmp/sign.py";
	open(my $fh, '>', $script) or die "cannot write $script: $!";
	# the example uses a variable "key" (bytes): define it, then the block
	# exactly as documented (it signs "token" for appdb), then sign more
	print $fh "key = " . "b'$key'\n" . $example
	  . "print(token)\n"
	  . "print(sign_tenant(key, '42', 'appdb'))\n"
	  . "print(sign_tenant(key, '42', 'otherdb'))\n"
	  . "print(sign_tenant(key, '42', 'otherdb2'))\n"
	  . "print(sign_tenant(key, '42', 'appdb', -1))\n"
	  . "print(sign_tenant(key, '\\u00e9t\\u00e9', 'latin1db'))\n";
	close($fh);
	my ($out, $err) = run_command([ $python, $script ]);
	is($err, '', 'the Python example runs without error');
	my ($py_doc, $py_app, $py_other, $py_renamed, $py_expired, $py_latin1) = split /\n/, $out;

	# the doc's own line signs tenant "acme" for appdb
	my ($ret, $o, $e) = $node->psql('appdb', qq{SELECT tenant_rls.set_tenant_signed('$py_doc')},
		extra_params => [ '-U', 'app' ]);
	is($o, 'acme', "the doc example's token (acme, appdb) is accepted in appdb") or diag($e);

	accepted('appdb', $py_app, 'appdb 42', 'Python token for appdb in appdb');
	refused('otherdb', $py_app, 'Python token for appdb in otherdb');
	accepted('otherdb', $py_other, 'otherdb 42', 'Python token for otherdb in otherdb');

	($ret, $o, $e) = use_token('appdb', $py_expired);
	like($e, qr/ERROR:  token has expired/, 'an expired Python token is refused as expired (its MAC matched)');

	# renaming a database invalidates its tokens; a backend's cached name
	# cannot go stale, because nobody may be connected during the rename
	$node->safe_psql('postgres', 'ALTER DATABASE otherdb RENAME TO otherdb2');
	refused('otherdb2', $tok_other, 'after a rename, a token signed under the old name');
	accepted('otherdb2', $py_renamed, 'otherdb 42', 'after a rename, a token for the new name');

	# the tenant in a token is UTF-8, whatever the database's encoding (review
	# rev36b: in a LATIN1 database the documented signer's "été" was taken
	# byte by byte, another tenant, and sign_tenant() signed LATIN1 bytes)
	$node->safe_psql('postgres',
		q{CREATE DATABASE latin1db ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
	$node->safe_psql('latin1db', q{SET client_min_messages = warning; CREATE EXTENSION tenant_rls;});
	($ret, $o, $e) = $node->psql('latin1db',
		qq{SET client_encoding = 'UTF8'; SELECT tenant_rls.set_tenant_signed('$py_latin1') = U&'\\00e9t\\00e9'},
		extra_params => [ '-U', 'app' ]);
	is($o, 't', 'LATIN1 database: the Python token for "été" sets tenant "été"') or diag($e);
	my $tok_latin1 = $node->safe_psql('latin1db',
		q{SET client_encoding = 'UTF8'; SELECT tenant_rls.sign_tenant(U&'\\00e9t\\00e9')});
	my $raw = decode_base64url($tok_latin1);
	is(unpack('H*', substr($raw, 15, unpack('n', substr($raw, 13, 2)))), 'c3a974c3a9',
		'LATIN1 database: sign_tenant() puts the tenant in the token as UTF-8');
	($ret, $o, $e) = $node->psql('latin1db',
		qq{SET client_encoding = 'UTF8'; SELECT tenant_rls.set_tenant_signed('$tok_latin1') = U&'\\00e9t\\00e9'},
		extra_params => [ '-U', 'app' ]);
	is($o, 't', 'LATIN1 database: and set_tenant_signed() takes it back') or diag($e);
}

sub decode_base64url
{
	my ($s) = @_;
	require MIME::Base64;
	$s =~ tr{-_}{+/};
	$s .= '=' x ((4 - length($s) % 4) % 4);
	return MIME::Base64::decode_base64($s);
}

# --- expiry within a long transaction: the review's reproduction.  A session
# opens a transaction; a token valid for 1 second is signed after its BEGIN
# (elsewhere); once the token has expired, the still open transaction refuses
# it (before, expiry was compared with the transaction's start and the token
# was accepted for as long as the transaction lasted).
{
	my $s = $node->background_psql('appdb', on_error_stop => 0, extra_params => [ '-U', 'app' ]);
	$s->query_safe('BEGIN');
	$s->query_safe('SELECT now()');		# the transaction has started
	usleep(50_000);
	my $tok_1s = $node->safe_psql('appdb', q{SELECT tenant_rls.sign_tenant('42', '1 second')});
	is($s->query_safe(qq{SELECT tenant_rls.set_tenant_signed('$tok_1s')}), '42',
		'long transaction: a token signed after BEGIN is accepted while valid');
	usleep(1_500_000);
	$s->query_safe('SAVEPOINT s');
	$s->{stderr} = '';
	my ($out, $failed) = $s->query(qq{SELECT tenant_rls.set_tenant_signed('$tok_1s')});
	ok($failed && $s->{stderr} =~ /ERROR:  token has expired/,
		'long transaction: the same token is refused once it has expired, in the same transaction')
	  or diag("out=$out stderr=$s->{stderr}");
	$s->{stderr} = '';
	$s->query_safe('ROLLBACK');
	$s->quit;
}

# --- the comparison of the MAC is still the constant-time one
my $core = slurp_file("$ENV{TR_SRC}/src/token_core.c");
like($core, qr/CRYPTO_memcmp\(mac, raw \+ signed_len, TOKEN_MAC_LEN\)/,
	'the MAC is compared with CRYPTO_memcmp over its full length');
unlike($core, qr/\b(?:memcmp|strncmp|strcmp)\(\s*mac\b/,
	'no variable-time comparison of the MAC');

$node->stop;
done_testing();
