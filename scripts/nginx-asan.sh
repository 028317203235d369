#!/bin/sh
# Debian's nginx with the ASan and UBSan runtimes preloaded, for the module
# built with -fsanitize=address,undefined (make prove-asan, build-asan/).
# nginx itself is not instrumented: the runtimes must come first in the
# process, which LD_PRELOAD does.  nginx sends its stderr to error.log once
# it runs, so a report lands in the block's error.log, where the harness
# fails the block (t/lib: "AddressSanitizer", "runtime error:").
#
# detect_leaks=0: LeakSanitizer needs ptrace, which containers often refuse,
# and nginx keeps its cycle's memory until exit by design; leaks are
# `make check-memory`'s job (valgrind, with nginx's allocations suppressed).
# abort_on_error=0 / exitcode: a worker that hits an error exits with code 23
# after the report, which nginx logs as an [alert] too.

NGINX=${NGINX_BIN:-/usr/sbin/nginx}
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:exitcode=23:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0:check_initialization_order=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=0}
export ASAN_OPTIONS UBSAN_OPTIONS

LD_PRELOAD="$ASAN_LIB $UBSAN_LIB${LD_PRELOAD:+ $LD_PRELOAD}" exec "$NGINX" "$@"
