# test/lib.sh -- shared by `make test`, `make demo` and `make bench`.
#
# What it does, in order, so that both README commands work on a fresh
# Debian 12 machine, as root or as a normal user who has the packages:
#   tr_ensure_packages  install what is missing through apt (PostgreSQL 15 >= 15.19);
#                       its argument: the packages needed (default: the tests')
#   tr_setup            copy PostgreSQL 15 into a private, relocatable tree in a
#                       temporary directory, build the extension with -Werror and
#                       install it there -- the system installation and the
#                       system cluster are never touched
#   tr_start_cluster    a throwaway cluster on a unix socket in that directory
#                       (listen_addresses = ''), run as `postgres` when we are root
#   tr_cleanup          stop what we started, by PID, and remove the directory
# shellcheck shell=bash

TR_PG_MAJOR=15
TR_PG_MIN_VERSION=15.19
# what building and running a cluster needs (make demo), and what the tests add
TR_PACKAGES_BUILD="postgresql-$TR_PG_MAJOR postgresql-server-dev-$TR_PG_MAJOR libssl-dev make gcc"
TR_PACKAGES="$TR_PACKAGES_BUILD libipc-run-perl pgbouncer python3"
TR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TR_SYS_BINDIR=/usr/lib/postgresql/$TR_PG_MAJOR/bin
TR_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare"

# One locale for every throwaway cluster, whatever the caller's: the expected
# outputs are those of a UTF-8 database with code-point collation.  Under the
# POSIX locale (no LANG, e.g. a fresh Debian container) initdb made SQL_ASCII
# databases and the audit and policy_security suites failed; another UTF-8
# locale sorts differently.  C.UTF-8 is part of Debian's libc.  LANG as well as
# LC_ALL: PostgreSQL's TAP modules delete LC_ALL.
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset LANGUAGE LC_CTYPE LC_COLLATE LC_MESSAGES LC_MONETARY LC_NUMERIC LC_TIME

# No connection setting of the caller may reach our clients: libpq reads
# PGSERVICE (and a service file), PGDATABASE, PGOPTIONS, ... over what we set,
# and a demo run with PGSERVICE pointing at the caller's own server wrote
# there.  (PG_CONFIG is not libpq's; the harness does not read it either.
# PG_TEST_*, such as PG_TEST_TIMEOUT_DEFAULT, are the TAP modules' own, and
# PGISOLATIONTIMEOUT isolationtester's (seconds a step may take, 300 by
# default): a slow build, e.g. with assertions and debug_discard_caches,
# raises them.)
for tr_v in $(compgen -e); do
	case $tr_v in
	PG_CONFIG | PG_TEST_* | PGISOLATIONTIMEOUT) ;;
	PG*) unset "$tr_v" ;;
	esac
done
unset tr_v

tr_log() { printf '== %s\n' "$*" >&2; }
tr_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

tr_is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the user that owns the throwaway clusters.
tr_as_pg() {
	if tr_is_root; then
		runuser -u postgres -- env "PATH=$PATH" "$@"
	else
		"$@"
	fi
}

tr_pkg_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '/install ok installed/ {print $4}'
}

tr_ensure_packages() {
	local missing="" p v upgrade=""
	for p in ${1:-$TR_PACKAGES}; do
		v=$(tr_pkg_version "$p")
		[ -n "$v" ] || missing="$missing $p"
	done
	v=$(tr_pkg_version "postgresql-$TR_PG_MAJOR")
	if [ -n "$v" ] && ! dpkg --compare-versions "${v%%-*}" ge "$TR_PG_MIN_VERSION"; then
		upgrade="postgresql-$TR_PG_MAJOR postgresql-server-dev-$TR_PG_MAJOR postgresql-client-$TR_PG_MAJOR libpq5"
		tr_log "PostgreSQL $v is older than $TR_PG_MIN_VERSION (row-security CVEs)"
	fi
	[ -n "$missing$upgrade" ] || return 0

	local sudo=""
	if ! tr_is_root; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo="sudo -n"
		else
			[ -z "$missing" ] || tr_die "missing packages:$missing -- install them as root: apt-get install$missing $upgrade"
			tr_die "PostgreSQL $v is older than $TR_PG_MIN_VERSION -- upgrade it as root: apt-get update && apt-get install $upgrade"
		fi
	fi
	tr_log "installing:$missing $upgrade"
	# the system cluster that postgresql-15 creates (and starts, where services
	# run) is left alone: everything here uses private clusters
	# (without the caller's TMPDIR: postgresql-15's postinst fails when it
	# names a directory that does not exist)
	$sudo env -u TMPDIR DEBIAN_FRONTEND=noninteractive apt-get update -qq || tr_die "apt-get update failed"
	$sudo env -u TMPDIR DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing $upgrade >/dev/null \
		|| tr_die "apt-get install failed"
	v=$(tr_pkg_version "postgresql-$TR_PG_MAJOR")
	dpkg --compare-versions "${v%%-*}" ge "$TR_PG_MIN_VERSION" \
		|| tr_die "PostgreSQL $v is older than $TR_PG_MIN_VERSION and no newer package is available"
}

# tr_setup: make $TR_TMP with a private PostgreSQL and the extension installed in it.
# Sets TR_TMP, TR_BINDIR, TR_PG_CONFIG, TR_PGXS_DIR, TR_SRC (build copy of the tree).
tr_setup() {
	if [ -n "${TMPDIR:-}" ] && [ ! -d "$TMPDIR" ]; then
		mkdir -p "$TMPDIR" || tr_die "TMPDIR=$TMPDIR does not exist and cannot be created"
	fi
	# (mode 0700, owned by the user that runs the servers: their unix
	# sockets are in it, and they trust every local connection)
	TR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tenant_rls.XXXXXX")
	chmod 700 "$TR_TMP"
	TR_PIDS=""
	trap tr_cleanup EXIT
	trap 'exit 130' INT TERM

	# TR_PG_PREFIX: test against another PostgreSQL 15 build instead of the
	# system's, e.g. one configured with --enable-cassert (README.md, "Two
	# commands"); its prefix must hold pg_regress, pg_isolation_regress and
	# the TAP modules (make -C src/test/{regress,isolation,perl} install).
	if [ -n "${TR_PG_PREFIX:-}" ]; then
		[ -x "$TR_PG_PREFIX/bin/pg_config" ] || tr_die "TR_PG_PREFIX=$TR_PG_PREFIX has no bin/pg_config"
		# (the suites expect a release without the row-security CVEs: an
		# older one runs, with the failures that says)
		local v
		v=$("$TR_PG_PREFIX/bin/pg_config" --version | sed -n 's/^PostgreSQL \([0-9][0-9.]*\).*/\1/p')
		case $v in
		"$TR_PG_MAJOR".*) dpkg --compare-versions "$v" ge "$TR_PG_MIN_VERSION" \
			|| tr_log "warning: TR_PG_PREFIX=$TR_PG_PREFIX is PostgreSQL $v, older than $TR_PG_MIN_VERSION: expect the server_version_cve finding in the coverage suites, TAP 060, 073 and 080, and policy_attack (its psql runs the inline data of a failed COPY FROM STDIN as SQL) to fail" ;;
		*) tr_die "TR_PG_PREFIX=$TR_PG_PREFIX is PostgreSQL ${v:-of an unknown version}: the suites need $TR_PG_MAJOR" ;;
		esac
		mkdir -p "$TR_TMP/pg"
		cp -a "$TR_PG_PREFIX"/. "$TR_TMP/pg/"
		TR_BINDIR=$TR_TMP/pg/bin
		TR_PG_CONFIG=$TR_BINDIR/pg_config
		TR_PGXS_DIR=$("$TR_PG_CONFIG" --pgxs)
		TR_PGXS_DIR=${TR_PGXS_DIR%/src/makefiles/pgxs.mk}
		rm -rf "$("$TR_PG_CONFIG" --sharedir)/extension"/tenant_rls[.-]* \
			"$("$TR_PG_CONFIG" --pkglibdir)/tenant_rls.so"
	else
	# A relocatable copy: PostgreSQL finds share/ and lib/ relative to its binary.
	mkdir -p "$TR_TMP/pg/usr/lib/postgresql" "$TR_TMP/pg/usr/share/postgresql"
	cp -a "/usr/lib/postgresql/$TR_PG_MAJOR" "$TR_TMP/pg/usr/lib/postgresql/"
	cp -a "/usr/share/postgresql/$TR_PG_MAJOR" "$TR_TMP/pg/usr/share/postgresql/"
	ln -s /usr/include "$TR_TMP/pg/usr/include"
	# a tenant_rls installed into the system earlier (make install) would come
	# along: its old install or upgrade scripts and library must not be tested
	rm -rf "$TR_TMP/pg/usr/share/postgresql/$TR_PG_MAJOR/extension"/tenant_rls[.-]* \
		"$TR_TMP/pg/usr/lib/postgresql/$TR_PG_MAJOR/lib/tenant_rls.so" \
		"$TR_TMP/pg/usr/lib/postgresql/$TR_PG_MAJOR/lib/bitcode/tenant_rls" \
		"$TR_TMP/pg/usr/lib/postgresql/$TR_PG_MAJOR/lib/bitcode/tenant_rls.index.bc"
	TR_BINDIR=$TR_TMP/pg/usr/lib/postgresql/$TR_PG_MAJOR/bin
	TR_PG_CONFIG=$TR_BINDIR/pg_config
	TR_PGXS_DIR=$TR_TMP/pg/usr/lib/postgresql/$TR_PG_MAJOR/lib/pgxs
	fi

	# Build from a copy of the tree, so the checkout stays clean and the
	# `postgres` user can write results next to the tests.
	# A temporary directory inside the tree (./tmp, or $TMPDIR when it lies in
	# the tree) is not copied: it holds this run's own directory and those kept
	# by earlier runs (TR_KEEP), with their data directories.
	TR_SRC=$TR_TMP/src
	mkdir -p "$TR_SRC"
	local tmp_excl=(--exclude=./tmp) root_p tmpdir_p
	root_p=$(cd "$TR_ROOT" && pwd -P)
	tmpdir_p=$(cd "$(dirname "$TR_TMP")" && pwd -P)
	case $tmpdir_p in
	"$root_p"/*) tmp_excl+=("--exclude=./${tmpdir_p#"$root_p"/}") ;;
	esac
	(cd "$TR_ROOT" && tar --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=results --exclude=tmp_check --exclude=output_iso "${tmp_excl[@]}" -cf - .) \
		| (cd "$TR_SRC" && tar -xf -)
	rm -f "$TR_SRC"/src/tenant_rls--*.*.sql.tmp
	if tr_is_root; then
		chown -R postgres "$TR_TMP"
		runuser -u postgres -- test -w "$TR_TMP" \
			|| tr_die "the postgres user cannot write to $TR_TMP (a directory on its path is closed to it): set TMPDIR to a directory it can reach, such as /tmp"
	fi
	# The tests name the bootstrap superuser postgres, as it is when root runs
	# them (as the postgres user).  Another user's TAP clusters get that name
	# too: initdb through a wrapper first in PATH that adds -U postgres, and
	# the clients connect as postgres (PGUSER: the TAP modules clear it as they
	# load, test/t/TenantRlsUser.pm sets it again).  pg_regress runs against a
	# cluster of tr_start_cluster's, which is made so.
	TR_WRAP_BINDIR=$TR_TMP/bin
	mkdir -p "$TR_WRAP_BINDIR"
	if [ "$(id -un)" != postgres ] && ! tr_is_root; then
		printf '#!/bin/sh\nexec "%s/initdb" -U postgres "$@"\n' "$TR_BINDIR" >"$TR_WRAP_BINDIR/initdb"
		chmod 755 "$TR_WRAP_BINDIR/initdb"
		export PGUSER=postgres PERL5LIB="$TR_SRC/test/t${PERL5LIB:+:$PERL5LIB}" \
			PERL5OPT="${PERL5OPT:+$PERL5OPT }-MTenantRlsUser"
	fi
	# the tools we run as postgres (pg_regress, initdb) make their own
	# temporary files: where that user can write, and cleaned up with the rest
	export TMPDIR=$TR_TMP

	export PATH="$TR_WRAP_BINDIR:$TR_BINDIR:$PATH"
	tr_log "building tenant_rls ($TR_CFLAGS) and installing it into $TR_TMP/pg"
	tr_as_pg make -s -C "$TR_SRC" PG_CONFIG="$TR_PG_CONFIG" PG_CFLAGS="$TR_CFLAGS" >"$TR_TMP/build.log" 2>&1 \
		|| { cat "$TR_TMP/build.log"; tr_die "build failed"; }
	tr_as_pg make -s -C "$TR_SRC" PG_CONFIG="$TR_PG_CONFIG" install >>"$TR_TMP/build.log" 2>&1 \
		|| { cat "$TR_TMP/build.log"; tr_die "install failed"; }
	# the tests' own extension (test/ext), into the private installation only
	tr_as_pg cp "$TR_SRC"/test/ext/tenant_rls_testext* "$("$TR_PG_CONFIG" --sharedir)/extension/" \
		|| tr_die "cannot install test/ext"
}

# tr_start_cluster NAME [extra postgresql.conf lines...]
# Starts a throwaway cluster in $TR_TMP/NAME; sets PGHOST, PGPORT, PGDATA, PGUSER.
tr_start_cluster() {
	local name=$1; shift
	local data=$TR_TMP/$name
	tr_as_pg "$TR_BINDIR/initdb" -A trust -U postgres -D "$data" >"$TR_TMP/$name.initdb.log" 2>&1 \
		|| { cat "$TR_TMP/$name.initdb.log"; tr_die "initdb failed"; }
	PGPORT=$(( 20000 + RANDOM % 20000 ))
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$TR_TMP'"
		echo "port = $PGPORT"
		echo "fsync = off"
		for line in "$@"; do echo "$line"; done
	} >>"$data/postgresql.conf"
	tr_as_pg "$TR_BINDIR/pg_ctl" -D "$data" -l "$TR_TMP/$name.log" -w start >/dev/null \
		|| { cat "$TR_TMP/$name.log"; tr_die "could not start the throwaway cluster"; }
	TR_PIDS="$TR_PIDS $(head -1 "$data/postmaster.pid")"
	export PGHOST=$TR_TMP PGPORT PGDATA=$data PGUSER=postgres
}

# tr_stop_cluster: stops the cluster tr_start_cluster started last.
tr_stop_cluster() {
	local pid
	pid=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null)
	tr_as_pg "$TR_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
	TR_PIDS=$(echo " $TR_PIDS " | sed "s/ $pid / /")
}

tr_cleanup() {
	local pid f pids=${TR_PIDS:-}
	# Also every server still running from a data directory in $TR_TMP (a
	# cluster whose start timed out, pg_regress and TAP clusters left behind
	# when we are stopped half-way): its pid is in its postmaster.pid.
	if [ -n "${TR_TMP:-}" ] && [ -d "$TR_TMP" ]; then
		while IFS= read -r f; do
			pid=$(head -1 "$f" 2>/dev/null)
			case $pid in '' | *[!0-9]*) continue ;; esac
			# only a postgres server whose data directory is that one
			[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(cd "$(dirname "$f")" && pwd -P)" ] || continue
			pids="$pids $pid"
		done < <(find "$TR_TMP" -name postmaster.pid 2>/dev/null)
	fi
	for pid in $pids; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -INT "$pid" 2>/dev/null
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	if [ -n "${TR_KEEP:-}" ]; then
		tr_log "kept $TR_TMP (TR_KEEP is set)"
	elif [ -n "${TR_TMP:-}" ] && [ -d "$TR_TMP" ]; then
		rm -rf "$TR_TMP"
	fi
}
