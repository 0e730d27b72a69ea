# Loaded into every TAP test (PERL5OPT=-MTenantRlsUser) when the suites run
# as a user other than root or postgres (test/lib.sh): the clusters'
# bootstrap superuser is then named postgres (initdb -U postgres), and the
# clients must connect as that role.  PostgreSQL::Test::Utils clears PGUSER
# as it loads; an INIT block runs after every module of the test is loaded.
package TenantRlsUser;

use strict;
use warnings;

INIT
{
	$ENV{PGUSER} = 'postgres';
}

1;
