#!/bin/sh
# ngx_compensation: source rules no compiler checks (run by `make unit`).
# Each rule names the issue that made it; a match fails with the lines.

cd "$(dirname "$0")/.." || exit 1

fail=0

rule() {
    # rule <why> <extended regex> <files...>
    why=$1; re=$2; shift 2
    hits=$(grep -nE "$re" "$@" 2>/dev/null)
    if [ -n "$hits" ]; then
        echo "lint: $why:"
        echo "$hits" | sed 's/^/    /'
        fail=1
    fi
}

# issue 20: a handler must not move nginx's cached time and the timers'
# base under the event loop; read a clock of its own
rule "ngx_time_update() outside nginx's core" 'ngx_time_update[[:space:]]*\(' \
     src/*.c src/*.h

# issue 20: time zones come from the zone's rules (cf_tz.c), never from
# process-wide state that nginx's log times and the store thread read
rule "process-wide time-zone state" \
     '(setenv|unsetenv|putenv|tzset|localtime(_r)?|mktime)[[:space:]]*\(' \
     src/*.c

# issue 15: the store is an interface (cf_store.h); SQLite's API and codes
# stay in its backend (cf_sqlite_*, the checkpointer of its WAL)
rule "SQLite outside the SQLite store backend" '\<sqlite3|\<SQLITE_' \
     $(ls src/*.c src/*.h | grep -v -e '^src/cf_sqlite_' \
           -e '^src/cf_checkpoint\.c$')

if [ $fail -eq 0 ]; then
    echo "lint: ok"
fi

exit $fail
