# The server log and the statements that name the key setting, for a role
# that cannot set a key (review rev52b).  The log hook leaves out the
# STATEMENT line of an error in a statement that names
# tenant_rls.signing_key only for a role that can set a key, and it must not
# read the catalogs to find out (it runs while the error is reported): it
# used the answer cached by earlier statements.  That answer was empty at a
# session's first statement (log_statement off: the "statement:" line, where
# it may be looked up, is not written) and after every change of roles, so a
# role that cannot set a key kept the STATEMENT line of a statement that
# failed while it was parsed or analysed out of the log with a comment
# naming the setting.  Now it is looked up before each commit (the
# connection's own transaction too) and in every statement's hooks; where it
# is still unknown (a change of roles since), the statement is logged
# masked as a DETAIL, so that no key can be in it, but the rest is there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('strict_log_role');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'tenant_rls'
tenant_rls.strict = on
log_statement = 'none'
log_min_error_statement = error
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION tenant_rls;
	CREATE ROLE app LOGIN;
	CREATE ROLE other NOLOGIN;
});
is($node->safe_psql('postgres', q{SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'app'}),
	'f', 'app is neither superuser nor BYPASSRLS');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_parameter_acl}),
	'0', 'no role was granted anything on a setting: app cannot set a key');

# the log written since $from
sub log_since
{
	my ($from) = @_;
	return substr(slurp_file($node->logfile), $from);
}

sub as_app
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		extra_params => [ '-U', 'app' ], on_error_stop => 0);
	return $err;
}

# each in a new session, as its first statement
my $from = -s $node->logfile;
like(as_app(q{/* tenant_rls.signing_key */ SELECT * FROM no_such_table_first;}),
	qr/relation "no_such_table_first" does not exist/, '(first statement: an error of parse analysis)');
like(as_app(q{/* tenant_rls.signing_key */ SELEC 'first_syntax';}),
	qr/syntax error/, '(first statement: a syntax error)');
my $log = log_since($from);
like($log, qr{STATEMENT:  /\* tenant_rls\.signing_key \*/ SELECT \* FROM no_such_table_first;},
	'the STATEMENT line of a session\'s first statement, which names the key setting in a comment and fails at parse analysis, is logged');
like($log, qr{STATEMENT:  /\* tenant_rls\.signing_key \*/ SELEC 'first_syntax';},
	'... and that of one that is a syntax error');

# after a change of the role's own row (which empties the cached answer;
# another session's GRANT or ALTER ROLE does the same): not known when
# the next statement fails while it is parsed: logged masked as a DETAIL
$from = -s $node->logfile;
as_app(q{SELECT 1;
ALTER ROLE app PASSWORD 'x';
/* tenant_rls.signing_key */ SELECT * FROM no_such_table_after_reset WHERE 'v' = 'constant';
/* tenant_rls.signing_key */ SELECT * FROM no_such_table_still;
SELECT 2;
/* tenant_rls.signing_key */ SELECT * FROM no_such_table_known;});
$log = log_since($from);
like($log, qr{DETAIL:  statement, masked \(the role was not checked\): /\* \*+ \*/ SELECT \* FROM no_such_table_after_reset WHERE '\*' = '\*+';},
	'after the role changed its own row: the statement is logged masked (constants and comments), the rest readable');
like($log, qr{statement, masked \(the role was not checked\): /\* \*+ \*/ SELECT \* FROM no_such_table_still;},
	'... so is the next one (a failed statement reaches no point where the answer may be looked up)');
like($log, qr{STATEMENT:  /\* tenant_rls\.signing_key \*/ SELECT \* FROM no_such_table_known;},
	'... and after a statement that ran, the answer looked up there, the STATEMENT line');

# another session changes app's row: the same
$from = -s $node->logfile;
as_app(q{SELECT 1;
\! psql -X -q -U postgres -d postgres -c "ALTER ROLE app PASSWORD 'y'"
/* tenant_rls.signing_key */ SELECT * FROM no_such_table_other_session;});
$log = log_since($from);
like($log, qr{statement, masked \(the role was not checked\): /\* \*+ \*/ SELECT \* FROM no_such_table_other_session;},
	'after another session changed the role\'s row: logged masked');

# ... but not another role's, nor a membership, while no role has a
# privilege on a key setting: they cannot change the answer
$from = -s $node->logfile;
as_app(q{SELECT 1;
\! psql -X -q -U postgres -d postgres -c "ALTER ROLE other PASSWORD 'y'; GRANT other TO app; REVOKE other FROM app"
/* tenant_rls.signing_key */ SELECT * FROM no_such_table_other_role;});
$log = log_since($from);
like($log, qr{STATEMENT:  /\* tenant_rls\.signing_key \*/ SELECT \* FROM no_such_table_other_role;},
	'after another session changed another role and a membership: the STATEMENT line');

# within a statement: a DO block that changes the role's row, then fails
$from = -s $node->logfile;
as_app(q{DO $$BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', current_user, 'z'); PERFORM 1/0; END$$ /* tenant_rls.signing_key */;});
$log = log_since($from);
like($log, qr{(STATEMENT:  |statement, masked \(the role was not checked\): )DO \$\$BEGIN EXECUTE format\(},
	'a DO block that changes the role\'s row and then fails is in the log');

# a role that can set a key, when it is not known (after a change of its
# own row): nothing of the key
my $key = 'rev52b-unknown-key-0123456789abcdef0123456789';
$from = -s $node->logfile;
$node->psql('postgres', qq{SELECT 1;
ALTER ROLE CURRENT_USER PASSWORD NULL;
SELECT set_config('tenant_rls.signing_key', '$key', false) FROM no_such_table_su;
ALTER ROLE CURRENT_USER PASSWORD NULL;
DO \$\$DECLARE k text := '$key'; BEGIN PERFORM set_config('tenant_rls.signing_key', k, false); END\$\$ syntax_error;
ALTER ROLE CURRENT_USER PASSWORD NULL;
/* a comment */ SELECT set_config('tenant_rls.signing_key', k, false) FROM (VALUES ('$key')) v(k), no_such_table_su;},
	on_error_stop => 0);
$log = log_since($from);
like($log, qr{statement, masked \(the role was not checked\): SELECT set_config\('[* ]+$}m,
	'a superuser\'s failing statement that sets a key, not known: its constants and all after the setting\'s name masked');
like($log, qr{statement, masked \(the role was not checked\): DO \$\$DECLARE k text := '\*+'; BEGIN PERFORM set_config\('[* ]+$}m,
	'... a DO block: the constant before the name too');
like($log, qr{statement, masked \(the role was not checked\): /\* [* ]+ \*/ SELECT set_config\('[* ]+$}m,
	'... with a comment before it');
unlike($log, qr/\Q$key\E/, 'the key is not in the log');
is(scalar(() = $log =~ /ERROR:  relation "\*+" does not exist/g), 2, '(the statements failed; their errors\' quotes masked too)');

# a role that is granted the right to set a key while its session is open:
# its next failing statement is masked, not logged with the key; and once a
# key setting has a grant, a membership that passes it on counts too
$node->safe_psql('postgres', q{CREATE ROLE keyadm LOGIN; CREATE ROLE keygroup NOLOGIN; CREATE ROLE keymember LOGIN});
my $key2 = 'rev52b-granted-key-0123456789abcdef0123456789';
my $key3 = 'rev52b-member-key-0123456789abcdef0123456789';
$from = -s $node->logfile;
$node->psql('postgres', qq{SELECT 1;
\\! psql -X -q -U postgres -d postgres -c "GRANT ALTER SYSTEM ON PARAMETER tenant_rls.signing_key TO keyadm"
SELECT set_config('tenant_rls.signing_key', '$key2', false) FROM no_such_table_granted;
SELECT 2;
SELECT set_config('tenant_rls.signing_key', '$key2', false) FROM no_such_table_granted_known;},
	extra_params => [ '-U', 'keyadm' ], on_error_stop => 0);
$node->psql('postgres', qq{SELECT 1;
\\! psql -X -q -U postgres -d postgres -c "GRANT SET ON PARAMETER tenant_rls.signing_key TO keygroup; GRANT keygroup TO keymember"
SELECT set_config('tenant_rls.signing_key', '$key3', false) FROM no_such_table_member;},
	extra_params => [ '-U', 'keymember' ], on_error_stop => 0);
$log = log_since($from);
like($log, qr{statement, masked \(the role was not checked\): SELECT set_config\('[* ]+$}m,
	'a role granted ALTER SYSTEM on the key meanwhile: its failing statement masked');
unlike($log, qr/STATEMENT: .*no_such_table_(granted|member)/, '... none of them with a STATEMENT line');
unlike($log, qr/\Q$key2\E/, 'the key of the role granted meanwhile is not in the log');
unlike($log, qr/\Q$key3\E/, 'nor that of the role made a member of a role that may set it');
is(scalar(() = $log =~ /ERROR:  relation "\*+" does not exist/g), 3, '(the three statements failed, their errors\' quotes masked)');

# an error raised in a superuser's SECURITY DEFINER function is reported as
# its owner (the role is set back after): the statement that called it is
# the session role's, and logged as such
$node->safe_psql('postgres', q{CREATE FUNCTION public.definer_fails(d int) RETURNS int
	LANGUAGE plpgsql SECURITY DEFINER AS $$BEGIN RETURN 1/d; END$$;
	GRANT EXECUTE ON FUNCTION public.definer_fails(int) TO app});
$from = -s $node->logfile;
as_app(q{SELECT public.definer_fails(0) AS from_definer /* tenant_rls.signing_key */;});
$log = log_since($from);
like($log, qr{STATEMENT:  SELECT public\.definer_fails\(0\) AS from_definer /\* tenant_rls\.signing_key \*/;},
	'an error in a superuser\'s SECURITY DEFINER function: the STATEMENT line of the call is logged');

# the error messages of a statement that names the setting, from a role
# that can set a key, quote parts of its text: a key-setting statement with
# a typo logged the new key in its ERROR line (the answer is known here)
my $key4 = 'rev52b-typo-key-0123456789abcdef0123456789';
my $key5 = 'rev52b_unquoted_key_0123456789abcdef0123456789';
$from = -s $node->logfile;
my (undef, undef, $err) = $node->psql('postgres', qq{SELECT 1;
ALTER SYSTEM SET tenant_rls.signing_key '$key4';
SELECT set_config('tenant_rls.signing_key', $key5, false);},
	on_error_stop => 0);
$log = log_since($from);
like($err, qr/syntax error at or near "\*+".*column "\*+" does not exist/s,
	'a superuser\'s key-setting statements with a typo: what their errors quote is masked');
unlike($log, qr/\Q$key4\E/, 'the key of a statement with a syntax error is not in the log');
unlike($log, qr/\Q$key5\E/i, 'nor an unquoted key read as a column name');
$log = slurp_file($node->logfile);
like($log, qr/ERROR:  relation "no_such_table_first" does not exist/,
	'(what the errors of a role that cannot set a key quote is not masked)');

$node->stop;
done_testing();
