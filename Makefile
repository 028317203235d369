# ngx_compensation: build, run and test.
#
#   make run     install what is missing, build, start nginx on 127.0.0.1:8080
#   make stop    stop it
#   make test    install what is missing, build, run every test
#                (unit, Test::Nginx, the command suites again with the store
#                thread, and the short crash / bad-input runs)
#   make crash   SIGKILL workers and the master under a write load, then
#                check every acknowledged command (CRASH_ROUNDS=50 for long)
#   make badinput  thousands of hostile requests beside valid traffic
#                (BADINPUT_REQUESTS=50000 for long)
#   make check-memory  the Test::Nginx suites under valgrind
#   make prove-asan  the Test::Nginx suites with the module built with
#                ASan and UBSan (build-asan/), loaded into Debian's nginx
#   make bench   benchmarks against their ceilings (docs/benchmarks.md)
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

.PHONY: all build deps run stop test unit prove prove-threads clean check-memory \
        build-asan prove-asan \
        crash badinput hardening bench check-generator \
        fuzz fuzz-deps fuzz-build

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

# the OpenAPI asset, compiled in as a string (ngx_http_compensation_openapi.c)
OPENAPI_JSON := src/ngx_http_compensation_openapi.json
OPENAPI_H    := src/ngx_http_compensation_openapi_json.h

$(OPENAPI_H): $(OPENAPI_JSON) scripts/json2c.pl
	perl scripts/json2c.pl ngx_http_compensation_openapi_json \
	    < $(OPENAPI_JSON) > $@.tmp && mv $@.tmp $@

$(MODULE): $(BUILD)/.configured $(SOURCES) $(OPENAPI_H)
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
ASAN_THREAD_FILES ?= $(THREAD_FILES)

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

$(ASAN_MODULE): $(ASAN_BUILD)/.configured $(SOURCES) $(OPENAPI_H)
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

run: deps build
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

unit:
	$(MAKE) -C test/unit check

prove: build
	PERL5LIB=$(CURDIR)/t/lib prove $(PROVE_ARGS) $(TEST_FILES)

# the command suites again, every command in the store thread
# (compensation_thread_pool default; t/lib/Compensation/Commands.pm)
THREAD_FILES ?= t/001-create.t t/002-commands.t t/003-state-machine.t \
                t/004-headers.t t/006-workers.t

prove-threads: build
	TEST_COMPENSATION_THREAD_POOL=1 PERL5LIB=$(CURDIR)/t/lib \
	    prove $(PROVE_ARGS) $(THREAD_FILES)

test: deps build unit prove prove-threads prove-asan hardening

fuzz-deps:
	@scripts/install-deps.sh fuzz

fuzz-build: fuzz-deps
	$(MAKE) -C fuzz

FUZZ_TIME ?= 600

fuzz: fuzz-build
	$(MAKE) -C fuzz run FUZZ_TIME=$(FUZZ_TIME)

hardening: crash badinput

# both run twice: commands on the event loop, then in the store thread
crash: build
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/crash/crash.pl \
	    --rounds $(CRASH_ROUNDS) --clients $(CRASH_CLIENTS)
	NGINX_BIN=$(NGINX) MODULE=$(MODULE) perl test/crash/crash.pl \
	    --rounds $(CRASH_ROUNDS) --clients $(CRASH_CLIENTS) --thread-pool

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
	rm -rf $(BUILD) $(ASAN_BUILD) t/servroot $(OPENAPI_H)
	-$(MAKE) -C test/unit clean
	-$(MAKE) -C fuzz clean
