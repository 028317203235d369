# ngx_compensation: build, run and test.
#
#   make run     install what is missing, build, start nginx on 127.0.0.1:8080
#   make stop    stop it
#   make test    install what is missing, build, run every test
#                (unit, unit-pg, Test::Nginx on SQLite and PostgreSQL, the
#                command suites again with the store thread, the short
#                crash / bad-input runs, three nginx and crash on
#                PostgreSQL)
#   make unit-pg the PostgreSQL store's unit tests on a throwaway cluster
#                (scripts/pg-cluster.sh) on PG_PORT (5499) and a socket
#   make prove-pg  the t/ suite with every block's store in PostgreSQL
#                (a throwaway cluster, a fresh schema per block)
#   make three-pg  three nginx on one PostgreSQL database: dispatch once,
#                concurrent commands (test/multi/three.pl)
#   make crash-pg  make crash on PostgreSQL, restarting it under the load
#   make crash   SIGKILL workers and the master under a write load, then
#                check every acknowledged command (CRASH_ROUNDS=50 for long)
#   make badinput  thousands of hostile requests beside valid traffic
#                (BADINPUT_REQUESTS=50000 for long)
#   make check-memory  the Test::Nginx suites under valgrind
#   make prove-asan  the Test::Nginx suites with the module built with
#                ASan and UBSan (build-asan/), loaded into Debian's nginx
#   make memory  a worker's peak RSS under concurrent large reads, within
#                64 MB of idle (test/memory/reads.pl; part of make test)
#   make bench   benchmarks against their ceilings (docs/benchmarks.md)
#   make deb     the Debian package libnginx-mod-http-compensation into
#                build/deb (docs/packaging.md); make test-deb installs it,
#                runs nginx from it and purges it (part of make test)
#   make test-real-test-nginx TEST_NGINX_LIB=<test-nginx>/lib
#                the t/ suite under openresty's Test::Nginx (docs/testing.md)
#   make check-generator  Wow's client generator (built from its source,
#                FETCHER_GENERATOR=.../dist/cli.js) on GET /v3/api-docs
#   make fuzz    install clang, run each libFuzzer target FUZZ_TIME seconds
#                (fuzz/; not part of make test, whose `make unit` replays
#                the seed corpora and the crash regressions with gcc)
#
# The module is built out of tree against Debian's nginx-dev with Debian's own
# configure flags (binary compatibility), into build/.

NGINX_SRC   ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
BUILD       := $(CURDIR)/build
MODULE      := $(BUILD)/ngx_http_compensation_module.so
SOURCES     := config $(wildcard src/*.c src/*.h)
PROVE_ARGS  ?= -r
TEST_FILES  ?= t/

export TEST_NGINX_BINARY       ?= $(NGINX)
export TEST_NGINX_LOAD_MODULES ?= $(MODULE)

CRASH_ROUNDS      ?= 3
CRASH_CLIENTS     ?= 6
BADINPUT_REQUESTS ?= 3000

.PHONY: all build deps run stop test unit unit-pg prove prove-pg prove-threads prove-read-thread \
        clean check-memory \
        build-asan prove-asan \
        crash crash-pg three-pg badinput hardening memory bench \
        check-generator \
        fuzz fuzz-deps fuzz-build deb deb-deps test-deb test-real-test-nginx

all: build

deps:
	@scripts/install-deps.sh

build: $(MODULE)

# configure is slow (feature checks): rerun it only when config or the set of
# sources changes; the stamp marks a configure that finished
$(BUILD)/.configured: config $(wildcard src/*.c)
	@mkdir -p $(BUILD)
	@rm -f $@
	cd $(NGINX_SRC) && bash -c '. ./conf_flags && ./configure \
	    --with-cc-opt="-g -O2 -fPIC" --with-ld-opt="-fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module="$$0" --builddir="$$1"' \
	    $(CURDIR) $(BUILD) > $(BUILD)/configure.log 2>&1 \
	    || { tail -n 20 $(BUILD)/configure.log; exit 1; }
	@touch $@

# the OpenAPI asset, compiled in as a string (ngx_http_compensation_openapi.c):
# config writes it into the build directory at configure time, this rewrites
# it when the asset changes
OPENAPI_JSON := src/ngx_http_compensation_openapi.json
OPENAPI_GEN   = perl scripts/json2c.pl ngx_http_compensation_openapi_json \
                    < $(OPENAPI_JSON) > $@.tmp && mv $@.tmp $@

$(BUILD)/ngx_http_compensation_openapi_json.h: $(OPENAPI_JSON) \
        scripts/json2c.pl $(BUILD)/.configured
	$(OPENAPI_GEN)

$(MODULE): $(BUILD)/.configured $(SOURCES) \
        $(BUILD)/ngx_http_compensation_openapi_json.h
	$(MAKE) -f $(BUILD)/Makefile -C $(NGINX_SRC) modules
	@test -f $(MODULE)

# the same module with AddressSanitizer and UBSan, in its own build dir;
# nginx runs it through scripts/nginx-asan.sh (runtimes preloaded)
ASAN_BUILD  := $(CURDIR)/build-asan
ASAN_MODULE := $(ASAN_BUILD)/ngx_http_compensation_module.so
ASAN_CC_OPT := -g -O1 -fPIC -fno-omit-frame-pointer -fsanitize=address,undefined
ASAN_LD_OPT := -fPIC -fsanitize=address,undefined
# every suite, then the command suites once more with the store thread
ASAN_FILES        ?= t/
# the other two places store work runs, under ASan, on the suites whose
# memory crosses threads there (commands and dispatch handed to nginx's
# pool; read answers built in a job's own pool): subsets, for CI's time
ASAN_THREAD_FILES ?= t/001-create.t t/006-workers.t t/050-scheduler.t \
                     t/051-dispatch-ops.t
ASAN_READ_THREAD_FILES ?= t/011-snapshot.t t/012-event-stream.t \
                          t/014-large-history.t t/025-metrics.t \
                          t/030-query.t t/051-dispatch-ops.t

$(ASAN_BUILD)/.configured: config $(wildcard src/*.c)
	@mkdir -p $(ASAN_BUILD)
	@rm -f $@
	cd $(NGINX_SRC) && bash -c '. ./conf_flags && ./configure \
	    --with-cc-opt="$$2" --with-ld-opt="$$3" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module="$$0" --builddir="$$1"' \
	    $(CURDIR) $(ASAN_BUILD) "$(ASAN_CC_OPT)" "$(ASAN_LD_OPT)" \
	    > $(ASAN_BUILD)/configure.log 2>&1 \
	    || { tail -n 20 $(ASAN_BUILD)/configure.log; exit 1; }
	@touch $@

$(ASAN_BUILD)/ngx_http_compensation_openapi_json.h: $(OPENAPI_JSON) \
        scripts/json2c.pl $(ASAN_BUILD)/.configured
	$(OPENAPI_GEN)

$(ASAN_MODULE): $(ASAN_BUILD)/.configured $(SOURCES) \
        $(ASAN_BUILD)/ngx_http_compensation_openapi_json.h
	$(MAKE) -f $(ASAN_BUILD)/Makefile -C $(NGINX_SRC) modules
	@test -f $(ASAN_MODULE)

build-asan: $(ASAN_MODULE)

prove-asan: build-asan
	TEST_NGINX_BINARY=$(CURDIR)/scripts/nginx-asan.sh \
	    TEST_NGINX_LOAD_MODULES=$(ASAN_MODULE) PERL5LIB=$(CURDIR)/t/lib \
	    prove $(PROVE_ARGS) $(ASAN_FILES)
	TEST_NGINX_BINARY=$(CURDIR)/scripts/nginx-asan.sh \
	    TEST_NGINX_LOAD_MODULES=$(ASAN_MODULE) PERL5LIB=$(CURDIR)/t/lib \
	    TEST_COMPENSATION_THREAD_POOL=1 prove $(PROVE_ARGS) $(ASAN_THREAD_FILES)
	TEST_NGINX_BINARY=$(CURDIR)/scripts/nginx-asan.sh \
	    TEST_NGINX_LOAD_MODULES=$(ASAN_MODULE) PERL5LIB=$(CURDIR)/t/lib \
	    TEST_COMPENSATION_READ_THREAD=1 prove $(PROVE_ARGS) \
	    $(ASAN_READ_THREAD_FILES)

run: deps build
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

unit:
	test/lint.sh
	$(MAKE) -C test/unit check

# the PostgreSQL store's unit tests (test/unit/test_pg.c) on a throwaway
# cluster of their own (scripts/pg-cluster.sh), over its Unix socket, then
# over TCP on PG_PORT; the cluster is stopped and removed after
PG_PORT ?= 5499

unit-pg:
	@dir=$$(mktemp -d /tmp/cf-pg-unit.XXXXXX) || exit 1; \
	trap 'scripts/pg-cluster.sh stop '"$$dir" EXIT; \
	dsn=$$(scripts/pg-cluster.sh start "$$dir" $(PG_PORT)) || exit 1; \
	export CF_TEST_PG_RESTART="$(CURDIR)/scripts/pg-cluster.sh restart $$dir"; \
	CF_TEST_PG_DSN="$$dsn" $(MAKE) -C test/unit check-pg || exit 1; \
	CF_TEST_PG_DSN=$$(scripts/pg-cluster.sh dsn "$$dir" tcp) \
	    $(MAKE) -C test/unit check-pg

prove: build
	PERL5LIB=$(CURDIR)/t/lib prove $(PROVE_ARGS) $(TEST_FILES)

# the t/ suite once more with every block's store in PostgreSQL: a throwaway
# cluster (scripts/pg-cluster.sh, fsync off: nothing in it outlives the run)
# on PG_PORT, a fresh schema per block (t/lib/Compensation/PgStore.pm, loaded
# through PERL5OPT; it skips the blocks about the SQLite file, with their
# reason); the cluster is stopped and removed whatever the result.  With
# TEST_NGINX_LIB=<test-nginx>/lib, under openresty's Test::Nginx
PG_TEST_FILES ?= $(TEST_FILES)

prove-pg: build
	@dir=$$(mktemp -d /tmp/cf-pg-prove.XXXXXX) || exit 1; \
	trap 'scripts/pg-cluster.sh stop '"$$dir" EXIT; \
	PG_CLUSTER_FSYNC=off scripts/pg-cluster.sh start "$$dir" $(PG_PORT) \
	    >/dev/null || exit 1; \
	TEST_COMPENSATION_STORE=$$(scripts/pg-cluster.sh dsn "$$dir" tcp) \
	PERL5OPT=-MCompensation::PgStore \
	PERL5LIB=$(if $(TEST_NGINX_LIB),$(TEST_NGINX_LIB):)$(CURDIR)/t/lib \
	    prove $(PROVE_ARGS) $(PG_TEST_FILES)

# the command and dispatch suites again in the two other places the store
# work can run (make prove runs the default, the module's store thread):
# a thread of nginx's pool "default" (TEST_COMPENSATION_THREAD_POOL=1), and
# the event loop (=off); t/lib/Compensation/Commands.pm, Dispatch.pm
THREAD_FILES ?= t/001-create.t t/002-commands.t t/003-state-machine.t \
                t/004-headers.t t/006-workers.t t/011-snapshot.t \
                t/043-store-health.t t/050-scheduler.t t/051-dispatch-ops.t \
                t/052-scheduler-workers.t

# the read suites with the reads on the read executor, the path of a server
# store's reads, forced on the SQLite file (TEST_COMPENSATION_READ_THREAD,
# read by the module at configuration: docs/testing.md): make prove-asan runs
# them (prove-pg runs that path on PostgreSQL itself); make prove-read-thread
# without ASan
READ_THREAD_FILES ?= t/010-state-history.t t/011-snapshot.t \
                     t/012-event-stream.t t/013-sink.t t/014-large-history.t \
                     t/025-metrics.t t/027-notify.t t/030-query.t \
                     t/031-query-routes.t t/051-dispatch-ops.t

prove-threads: build
	TEST_COMPENSATION_THREAD_POOL=1 PERL5LIB=$(CURDIR)/t/lib \
	    prove $(PROVE_ARGS) $(THREAD_FILES)
	TEST_COMPENSATION_THREAD_POOL=off PERL5LIB=$(CURDIR)/t/lib \
	    prove $(PROVE_ARGS) $(THREAD_FILES)

prove-read-thread: build
	TEST_COMPENSATION_READ_THREAD=1 PERL5LIB=$(CURDIR)/t/lib \
	    prove $(PROVE_ARGS) $(READ_THREAD_FILES)

test: deps build unit unit-pg prove prove-pg prove-threads prove-asan hardening \
      three-pg crash-pg memory test-deb

# the Debian package (debian/, docs/packaging.md): built with dpkg-buildpackage
# from a copy of the tracked and untracked-but-not-ignored files under
# $(DEB_DIR), so that the source tree gets no build artefact; the .deb, its
# .buildinfo and .changes land in $(DEB_DIR)
DEB_DIR ?= $(BUILD)/deb

deb-deps:
	@scripts/install-deps.sh deb

deb: deb-deps
	@scripts/build-deb.sh $(DEB_DIR)

# builds the package, installs it with dpkg -i, runs nginx from it, purges it
# (test/deb/test-deb.sh; the system's nginx package is left as it was)
test-deb: deb
	TEST_NGINX_PORT=$${TEST_NGINX_PORT:-1984} test/deb/test-deb.sh $(DEB_DIR)

# the t/ suite under openresty's Test::Nginx (docs/testing.md, "The real
# Test::Nginx"): make test-real-test-nginx TEST_NGINX_LIB=/path/to/test-nginx/lib
test-real-test-nginx: build
	@test -n "$(TEST_NGINX_LIB)" && test -f "$(TEST_NGINX_LIB)/Test/Nginx/Socket.pm" \
	    || { echo "TEST_NGINX_LIB=<test-nginx checkout>/lib is required" \
	              "(docs/testing.md)" >&2; exit 2; }
	@scripts/install-deps.sh real-test-nginx
	PERL5LIB=$(TEST_NGINX_LIB):$(CURDIR)/t/lib prove $(PROVE_ARGS) $(TEST_FILES)

fuzz-deps:
	@scripts/install-deps.sh fuzz

fuzz-build: fuzz-deps
	$(MAKE) -C fuzz

FUZZ_TIME ?= 600

fuzz: fuzz-build
	$(MAKE) -C fuzz run FUZZ_TIME=$(FUZZ_TIME)

hardening: crash badinput

# the crash run on a PostgreSQL store: a throwaway cluster on PG_PORT (fsync
# on), the same SIGKILLs, and each round a PostgreSQL restart (pg_ctl
# restart -m fast: every connection cut) under the load
crash-pg: build
	@dir=$$(mktemp -d /tmp/cf-pg-crash.XXXXXX) || exit 1; \
	trap 'scripts/pg-cluster.sh stop '"$$dir" EXIT; \
	scripts/pg-cluster.sh start "$$dir" $(PG_PORT) >/dev/null || exit 1; \
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/crash/crash.pl \
	    --rounds $(CRASH_ROUNDS) --clients $(CRASH_CLIENTS) \
	    --store "$$(scripts/pg-cluster.sh dsn "$$dir" tcp)" \
	    --pg-restart "$(CURDIR)/scripts/pg-cluster.sh restart $$dir"

# three nginx on one PostgreSQL database (test/multi/three.pl): each due
# execution dispatched once, concurrent commands on shared aggregates
three-pg: build
	@dir=$$(mktemp -d /tmp/cf-pg-three.XXXXXX) || exit 1; \
	trap 'scripts/pg-cluster.sh stop '"$$dir" EXIT; \
	PG_CLUSTER_FSYNC=off scripts/pg-cluster.sh start "$$dir" $(PG_PORT) \
	    >/dev/null || exit 1; \
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/multi/three.pl \
	    --store "$$(scripts/pg-cluster.sh dsn "$$dir" tcp)"

# both run twice: commands on the event loop, then in the store thread
crash: build
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/crash/crash.pl \
	    --rounds $(CRASH_ROUNDS) --clients $(CRASH_CLIENTS)
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/crash/crash.pl \
	    --rounds $(CRASH_ROUNDS) --clients $(CRASH_CLIENTS) --thread-pool

# 250 executions with 900 KB stack traces, concurrent reads of every large
# kind: each worker's VmHWM within 64 MB of its idle RSS (about 25 s)
memory: build
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/memory/reads.pl

badinput: build
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/badinput/badinput.pl \
	    --requests $(BADINPUT_REQUESTS)
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/badinput/badinput.pl \
	    --requests $(BADINPUT_REQUESTS) --thread-pool

# the suites with nginx under valgrind (see docs/testing.md), then the unit
# tests under valgrind (make unit already runs them under ASan/UBSan)
check-memory: deps build
	TEST_NGINX_USE_VALGRIND=1 PERL5LIB=$(CURDIR)/t/lib prove $(PROVE_ARGS) $(TEST_FILES)
	TEST_NGINX_USE_VALGRIND=1 TEST_COMPENSATION_THREAD_POOL=1 \
	    PERL5LIB=$(CURDIR)/t/lib prove $(PROVE_ARGS) $(THREAD_FILES)
	$(MAKE) -C test/unit valgrind

# benchmarks (issue 7): see docs/benchmarks.md for the knobs
bench: deps build
	@scripts/install-deps.sh bench
	bench/bench.sh

# optional: Wow's client generator, built from its source, on our document
# (docs/testing.md, "Wow's client generator"); not part of make test
check-generator: build
	test/check-generator.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) t/servroot
	-$(MAKE) -C test/unit clean
	-$(MAKE) -C fuzz clean
