# Helpers shared by the TAP tests of test/t (prove -I test/t).
package TenantRlsTest;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw($drop_audit_partitions);

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

1;
