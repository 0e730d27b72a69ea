# pg_dump / pg_restore into a database whose restoring role has default
# privileges (ALTER DEFAULT PRIVILEGES ... TO app): the extension's objects
# must come back with the privileges of the source (CREATE EXTENSION fixes
# them; the grants made after it come from the dump), and the audit log's
# partitions -- ordinary tables in the dump, re-created by the restoring role
# with its default privileges -- lose them with audit_maintain()
# (doc/privileges.md).  app is not superuser, not BYPASSRLS, owns nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restore_defprivs');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE ROLE auditor NOLOGIN;
CREATE DATABASE src;
CREATE DATABASE dst;
});
$node->safe_psql('src', q{
CREATE EXTENSION tenant_rls;
CREATE TABLE public.docs (id int PRIMARY KEY, tenant_id text NOT NULL, body text);
GRANT SELECT, INSERT ON public.docs TO app;
-- a grant made after CREATE EXTENSION: the dump must carry it
GRANT EXECUTE ON FUNCTION tenant_rls.lint() TO auditor;
});
$node->safe_psql('src', q{
SET ROLE app;
BEGIN; SELECT tenant_rls.set_tenant('globex'); INSERT INTO public.docs VALUES (1, DEFAULT, 'GLOBEX SECRET'); COMMIT;
BEGIN; SELECT tenant_rls.set_tenant('acme'); INSERT INTO public.docs VALUES (2, DEFAULT, 'acme doc'); COMMIT;
});
my $parts = $node->safe_psql('src',
	q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'tenant_rls.audit_batch'::regclass});
cmp_ok($parts, '>=', 2, "source has $parts partitions of the audit log (the default one and monthly ones)");

# every privilege of every object in schema tenant_rls (owner written OWNER)
my $acl_sql = q{
WITH o AS (
    SELECT 'schema' AS kind, n.nspname::text AS obj, n.nspowner AS owner,
           coalesce(n.nspacl, acldefault('n', n.nspowner)) AS acl
      FROM pg_namespace n WHERE n.nspname = 'tenant_rls'
    UNION ALL
    SELECT 'relation', c.relname::text, c.relowner,
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))
      FROM pg_class c
     WHERE c.relnamespace = 'tenant_rls'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p WHERE p.pronamespace = 'tenant_rls'::regnamespace
    UNION ALL
    SELECT 'type', t.oid::regtype::text, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
      FROM pg_type t WHERE t.typnamespace = 'tenant_rls'::regnamespace
)
SELECT string_agg(line, E'\n' ORDER BY line)
  FROM (SELECT format('%s %s %s %s', o.kind, o.obj,
                      CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = o.owner THEN 'OWNER'
                           ELSE a.grantee::regrole::text END, a.privilege_type) AS line
          FROM o CROSS JOIN LATERAL aclexplode(o.acl) a) l;
};
my $src_acl = $node->safe_psql('src', $acl_sql);
like($src_acl, qr/^function tenant_rls\.lint\(\) auditor EXECUTE$/m, 'source: lint() granted to auditor');
unlike($src_acl, qr/ app /, 'source: app holds nothing in schema tenant_rls');

# the restoring role (the superuser) has default privileges in the target
$node->safe_psql('dst', q{
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON FUNCTIONS TO app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TYPES TO app;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
});
my $dump = $PostgreSQL::Test::Utils::tmp_check . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

# the extension's own objects: as in the source
my $dst_acl = $node->safe_psql('dst', $acl_sql);
my @src_lines = grep { !/^relation audit_batch_p\d+ / } split /\n/, $src_acl;
my @dst_lines = grep { !/^relation audit_batch_p\d+ / } split /\n/, $dst_acl;
is_deeply(\@dst_lines, \@src_lines,
	'restored extension objects have the privileges of the source (default privileges of the restoring role ignored)');

# the restored partitions: the restoring role's default privileges applied ...
my $part_app = q{
SELECT count(*) FROM pg_inherits i, pg_class c, aclexplode(c.relacl) a
 WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass AND c.oid = i.inhrelid
   AND a.grantee <> c.relowner};
cmp_ok($node->safe_psql('dst', $part_app), '>', 0,
	'restored partitions picked up default privileges of the restoring role');
# ... until audit_maintain(), run after the restore as documented
$node->safe_psql('dst', 'SELECT tenant_rls.audit_maintain()');
is($node->safe_psql('dst', $part_app), '0', 'audit_maintain(): no privilege on any partition but the owner\'s');
is($node->safe_psql('dst', $acl_sql), $src_acl, 'after audit_maintain(): every privilege as in the source');

# app in the restored database: isolated, cannot write the grants, cannot read a partition
my $first_part = $node->safe_psql('dst', q{
SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'tenant_rls.audit_batch'::regclass AND c.relname ~ '_p[0-9]+$' ORDER BY c.relname LIMIT 1});
my ($ret, $out, $err) = $node->psql('dst', "SET ROLE app; SELECT count(*) FROM $first_part");
like($err, qr/permission denied for table/, "app cannot read partition $first_part");
($ret, $out, $err) = $node->psql('dst', q{
SET ROLE app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
INSERT INTO tenant_rls.tenant_grant (schema_name, table_name, owner_tenant, grantee_tenant, privilege)
VALUES ('public', 'docs', 'globex', 'acme', 'read');
COMMIT;
});
like($err, qr/permission denied for table tenant_grant/, 'app cannot write tenant_rls.tenant_grant');
is($node->safe_psql('dst', q{
SET ROLE app;
BEGIN;
DO $$BEGIN PERFORM tenant_rls.set_tenant('acme'); END$$;
SELECT string_agg(body, ',' ORDER BY id) FROM public.docs;
COMMIT;
}), 'acme doc', 'app in tenant acme sees its own row only');

$node->stop;
done_testing();
