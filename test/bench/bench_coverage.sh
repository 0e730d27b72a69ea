# bench_coverage.sh -- R3: coverage() and lint() on large catalogs (sourced by run.sh).
#
# Builds catalogs of N = 2,500, 5,000 and 10,000 tables, one database each:
#   40 % protected tables (ENABLE + FORCE RLS, isolation policies, tenant
#        index, registry row: tenant_rls.protect() when it exists, else the
#        same objects built by hand), with a unique index not leading with
#        the tenant column,
#   30 % unprotected tenant tables, 10 % tables without a tenant column,
#   20 % partitioned: protected partitioned tables with 4 partitions each.
# Every protected and unprotected table has a column of a domain that another
# role owns, whose CHECK calls that role's function: two findings
# dependency_owned_by_other_role each (the report's cost with many findings).
# Times coverage() and lint() (best of 3 in one session: wall-clock ms and the
# backend's CPU ms) and prints CPU ms per 1,000 tables, so the growth can be
# checked for linearity.  Target: <= 1 s each at 10,000 tables.
#
# COVERAGE_BENCH_SIZES overrides the sizes (e.g. "1000 2000").
# COVERAGE_BENCH_AUDIT=on builds the catalog with tenant_rls.audit on (the
# default of a real install): protect() then audits each protected table,
# and the report's audit checks have every protected table to look at; off
# (the default here, as the figures in README.md were measured) leaves the
# tables unaudited.

cov_sizes=${COVERAGE_BENCH_SIZES:-"2500 5000 10000"}

cov_build() {	# cov_build DB N
	local db=$1 n=$2
	bench_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
	bench_psql -d "$db" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
SET tenant_rls.audit = ${COVERAGE_BENCH_AUDIT:-off};
SET tenant_rls.auto_protect = off;   -- the unprotected tables stay unprotected
DO \$\$ BEGIN CREATE ROLE covbench_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
DO \$\$ BEGIN CREATE ROLE covbench_dev NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
CREATE SCHEMA covbench_dev AUTHORIZATION covbench_dev;
SET ROLE covbench_dev;
CREATE FUNCTION covbench_dev.ok(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE DOMAIN covbench_dev.code_t AS text CHECK (covbench_dev.ok(VALUE));
RESET ROLE;
CREATE FUNCTION pg_temp.prot(t text) RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE
    pol text;
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
    FOREACH pol IN ARRAY ARRAY['select', 'insert', 'update', 'delete'] LOOP
        EXECUTE format('CREATE POLICY %I ON %s FOR %s %s', 'tenant_rls_' || pol, t, pol,
                       CASE pol WHEN 'insert' THEN 'WITH CHECK (tenant_id = tenant_rls.current_tenant_uuid())'
                                WHEN 'update' THEN 'USING (tenant_id = tenant_rls.current_tenant_uuid()) WITH CHECK (tenant_id = tenant_rls.current_tenant_uuid())'
                                ELSE 'USING (tenant_id = tenant_rls.current_tenant_uuid())' END);
    END LOOP;
    INSERT INTO tenant_rls.protected_table (schema_name, table_name, status, tenant_column, tenant_type, managed)
    SELECT n.nspname, c.relname, 'protected', 'tenant_id', 'uuid',
           jsonb_build_object('enabled_rls', true, 'forced_rls', true, 'policies',
               jsonb_object_agg(p.polname, jsonb_build_object('cmd', p.polcmd, 'permissive', p.polpermissive,
                   'roles', '["public"]'::jsonb, 'qual', pg_get_expr(p.polqual, p.polrelid),
                   'with_check', pg_get_expr(p.polwithcheck, p.polrelid))))
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE p.polrelid = t::regclass
     GROUP BY n.nspname, c.relname;
END
\$f\$;
CREATE FUNCTION pg_temp.mk(i int, kind text) RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE
    t text := format('public.%I', kind || i);
BEGIN
    IF kind = 'plain' THEN
        EXECUTE format('CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)', t);
        RETURN;
    END IF;
    IF kind = 'part' THEN
        EXECUTE format('CREATE TABLE %s (id bigint NOT NULL, tenant_id uuid NOT NULL, body text) PARTITION BY HASH (id)', t);
        EXECUTE format('CREATE INDEX ON %s (tenant_id)', t);
        FOR p IN 0..3 LOOP
            EXECUTE format('CREATE TABLE public.%I PARTITION OF %s FOR VALUES WITH (MODULUS 4, REMAINDER %s)', kind || i || '_' || p, t, p);
            IF to_regproc('tenant_rls.protect') IS NULL THEN
                PERFORM pg_temp.prot(format('public.%I', kind || i || '_' || p));
            END IF;
        END LOOP;
        -- protect() protects the partitions with their parent
        IF to_regproc('tenant_rls.protect') IS NOT NULL THEN
            PERFORM tenant_rls.protect(t::regclass);
        ELSE
            PERFORM pg_temp.prot(t);
        END IF;
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, email text, body text, code covbench_dev.code_t)', t);
    EXECUTE format('CREATE UNIQUE INDEX ON %s (email)', t);
    EXECUTE format('CREATE INDEX ON %s (tenant_id)', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO covbench_app', t);
    IF kind = 'prot' THEN
        IF to_regproc('tenant_rls.protect') IS NOT NULL THEN
            PERFORM tenant_rls.protect(t::regclass);
        ELSE
            PERFORM pg_temp.prot(t);
        END IF;
    END IF;
END
\$f\$;
-- per 50: 20 protected, 15 unprotected, 5 without tenant column, 2 x (1 + 4) partitioned;
-- 250 at a time (one transaction each: the lock table would not hold them all)
SELECT format('SELECT count(pg_temp.mk(i, CASE WHEN i %% 10 < 4 THEN %L WHEN i %% 10 < 7 THEN %L
                                         WHEN i %% 10 = 7 THEN %L ELSE %L END))
                 FROM generate_series(%s, %s) i WHERE i %% 10 < 8 OR i %% 50 IN (8, 9)',
              'prot', 'unprot', 'plain', 'part', b, least(b + 249, $n))
  FROM generate_series(1, $n, 250) b
\\gexec
ANALYZE;
SQL
}

cov_time() {	# cov_time DB QUERY -> "best_wall_ms best_cpu_ms" of 3 runs in one backend
	# Wall time is what a user waits; the backend's CPU time (utime + stime
	# from /proc, 10 ms ticks) is what the report costs when other processes
	# load the machine.
	local db=$1 q=$2 pid t0 t1 c0 c1 n i best_w=999999 best_c=999999 w c
	coproc COV_PSQL { bench_psql -d "$db" -At 2>&1; }
	echo "SELECT pg_backend_pid();" >&"${COV_PSQL[1]}"
	read -r pid <&"${COV_PSQL[0]}"
	for i in 1 2 3; do
		c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s%N)
		echo "SELECT count(*) FROM ($q) x;" >&"${COV_PSQL[1]}"
		read -r n <&"${COV_PSQL[0]}"
		t1=$(date +%s%N); c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		w=$(( (t1 - t0) / 1000000 )); c=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))
		[ "$w" -lt "$best_w" ] && best_w=$w
		[ "$c" -lt "$best_c" ] && best_c=$c
	done
	echo "\\q" >&"${COV_PSQL[1]}"
	wait "$COV_PSQL_PID" 2>/dev/null
	echo "$best_w $best_c"
}

printf '%8s %8s %9s %10s %10s %10s %10s %12s %12s\n' tables rows findings cov_ms cov_cpu lint_ms lint_cpu cov_cpu/1k lint_cpu/1k
for n in $cov_sizes; do
	db=cov_$n
	cov_build "$db" "$n" || { echo "building $n tables failed"; return 1; }
	rows=$(bench_psql -d "$db" -At -c "SELECT count(*) FROM tenant_rls.coverage()")
	findings=$(bench_psql -d "$db" -At -c "SELECT count(*) FROM tenant_rls.lint()")
	read -r cov cov_cpu <<<"$(cov_time "$db" "SELECT * FROM tenant_rls.coverage()")"
	read -r lint lint_cpu <<<"$(cov_time "$db" "SELECT * FROM tenant_rls.lint()")"
	printf '%8s %8s %9s %10s %10s %10s %10s %12s %12s\n' "$n" "$rows" "$findings" "$cov" "$cov_cpu" "$lint" "$lint_cpu" \
		"$(awk -v a="$cov_cpu" -v n="$n" 'BEGIN { printf "%.1f", a * 1000 / n }')" \
		"$(awk -v a="$lint_cpu" -v n="$n" 'BEGIN { printf "%.1f", a * 1000 / n }')"
	bench_psql -d "$db" -At -c "SELECT code, level, count(*) FROM tenant_rls.lint() GROUP BY 1, 2 ORDER BY 1" | sed 's/^/    /'
	bench_psql -d postgres -c "DROP DATABASE $db" >/dev/null
done
