#!/usr/bin/env bash
# `make demo`: tenant_rls on a throwaway cluster, start to finish.
# Installs what is missing, builds, installs into a private PostgreSQL copy,
# starts a cluster in a temporary directory, runs test/demo.sql, removes it all.
set -u
. "$(dirname "$0")/lib.sh"

tr_ensure_packages "$TR_PACKAGES_BUILD"
tr_setup
# a throwaway key: a real deployment keeps it in a file only the server can read
key=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
tr_start_cluster demo "shared_preload_libraries = 'tenant_rls'" "tenant_rls.signing_key = '$key'"
tr_log "running test/demo.sql on a throwaway cluster (socket $PGHOST, port $PGPORT)"
# from the copy's test/ directory: a directory the postgres user can enter
# (not a checkout in /root), and short file names in psql's messages
cd "$TR_SRC/test" || exit 1
tr_as_pg "$TR_BINDIR/psql" -X -v ON_ERROR_STOP=1 --echo-all -d postgres -f demo.sql
rc=$?
[ $rc = 0 ] && tr_log "demo finished; removing the throwaway cluster" || tr_log "demo failed (exit $rc)"
exit $rc
