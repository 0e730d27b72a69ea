# tenant_rls -- PGXS build.  The version lives in tenant_rls.control only.

EXTENSION   = tenant_rls
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big  = tenant_rls
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
SHLIB_LINK  = -lcrypto
PG_CPPFLAGS = -I$(srcdir)/src -DTENANT_RLS_VERSION=\"$(EXTVERSION)\"

# The install script of the current version is assembled from one fragment per
# concern (src/sql/NN_concern.sql), so each concern keeps its SQL next to its C.
# Upgrade scripts (src/tenant_rls--A--B.sql) are written by hand.
SQL_FRAGMENTS = $(sort $(wildcard src/sql/*.sql))
DATA_built  = src/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard src/$(EXTENSION)--*--*.sql))

# The suites a caller asked `make test` for (REGRESS="context policy" make
# test), taken before REGRESS becomes PGXS's list of every suite below: make
# would pass that list down instead.  Empty: all of them.
TR_REGRESS := $(if $(filter environment command line,$(origin REGRESS)),$(REGRESS))

# pg_regress suites: every sql/*.sql, in name order.  Run them with `make test`
# (throwaway cluster), not `make installcheck` against a server you care about.
REGRESS      = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql

PG_CONFIG  ?= pg_config
# `make test|demo|bench` only run scripts that install what is missing
# (pg_config included): do not need PGXS, which may not be installed yet.
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out test demo bench,$(MAKECMDGOALS)),)
TR_SCRIPTS_ONLY = 1
endif
endif
ifndef TR_SCRIPTS_ONLY
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
endif

# The library's calls to its own functions bind to its own definitions: on
# PostgreSQL 15 every function that is not static is exported, and modules
# are loaded with RTLD_GLOBAL, so a same-named function of a library loaded
# before this one would otherwise be called instead (a security boundary:
# tenant_context_get() decides which rows a session sees).
# src/exports.map keeps every other name of the library to itself.
ifeq ($(PORTNAME), linux)
SHLIB_LINK += -Wl,-Bsymbolic -Wl,--version-script=$(srcdir)/src/exports.map
$(shlib): $(srcdir)/src/exports.map
endif

# PGXS does not track headers: every object depends on every header of src/
# (an inline function or a struct changed in one must rebuild its users).
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h)

src/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_FRAGMENTS) $(EXTENSION).control
	@{ echo '-- tenant_rls $(EXTVERSION) install script, assembled from src/sql/*.sql by the Makefile.'; \
	   printf '%s\n' '\echo Use "CREATE EXTENSION tenant_rls" to load this file. \quit'; \
	   for f in $(SQL_FRAGMENTS); do echo; echo "-- ==== $$f"; cat $$f; done; } > $@

.PHONY: test demo bench
# The two commands README gives a new user.  Both install what is missing,
# build, install into a private copy of PostgreSQL, use a throwaway cluster.
# (run_tests.sh gets the caller's REGRESS, taken above, not PGXS's list)
test:
	REGRESS='$(TR_REGRESS)' bash test/run_tests.sh
demo:
	bash test/demo.sh
bench:
	bash test/bench/run.sh
