#!/usr/bin/env bash
# Installs what ngx_compensation needs to build, run and test, when missing.
# Debian 12 (bookworm); run as root (or with sudo available).
#
#   scripts/install-deps.sh         build, run and test (make test)
#   scripts/install-deps.sh fuzz    clang and libFuzzer (make fuzz)
#   scripts/install-deps.sh bench   wrk and the sqlite3 shell (make bench)
#   scripts/install-deps.sh deb     debhelper, nginx-dev's dh_nginx, lintian
#                                   (make deb, make test-deb)
#   scripts/install-deps.sh real-test-nginx
#                                   the Perl modules openresty's Test::Nginx
#                                   loads beyond the project harness's, and
#                                   the OpenAPI validator of t/023
#                                   (make test-real-test-nginx; optional)
set -euo pipefail

# `install-deps.sh fuzz`: only what the libFuzzer targets need (make fuzz);
# the default set (make test) never needs clang
if [ "${1:-}" = fuzz ]; then
    packages=(clang libclang-rt-14-dev libjansson-dev libsqlite3-dev make
              perl)
elif [ "${1:-}" = bench ]; then
    packages=(wrk sqlite3 curl gcc libsqlite3-dev libpq-dev postgresql-15)
elif [ "${1:-}" = deb ]; then
    packages=(debhelper dpkg-dev lintian nginx nginx-dev libjansson-dev
              libsqlite3-dev libpq-dev curl)
elif [ "${1:-}" = real-test-nginx ]; then
    packages=(libtest-base-perl libtext-diff-perl libtest-longstring-perl
              liblist-moreutils-perl liburi-perl libhttp-message-perl
              libclone-perl libipc-run-perl)
else
packages=(
    nginx nginx-dev libjansson-dev libsqlite3-dev sqlite3
    gcc make perl
    libtest-base-perl libtext-diff-perl libtest-longstring-perl
    liblist-moreutils-perl liburi-perl libhttp-message-perl
    prometheus      # promtool: t/025-metrics.t checks /actuator/prometheus
    # the PostgreSQL store (docs/postgresql.md): libpq to build, and a
    # server for the throwaway cluster of its tests (scripts/pg-cluster.sh)
    libpq-dev postgresql-15
)
fi

# the OpenAPI validator of t/023-openapi.t (test/openapi/validate.mjs): an npm
# package pinned by test/openapi/package-lock.json, installed beside it (the
# directory's node_modules is git-ignored); node and npm from Debian when the
# machine has none
openapi_validator() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/test/openapi"

    [ -d "$dir/node_modules/@seriousme/openapi-schema-validator" ] && return 0

    if ! command -v npm >/dev/null; then
        echo "installing: nodejs npm"
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq --no-install-recommends nodejs npm
    fi

    echo "installing the OpenAPI validator into $dir/node_modules"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

# not root: sudo when there is one (apt-get fails without either)
sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
    sudo=sudo
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# t/023-openapi.t runs the validator under either Test::Nginx
needs_validator() {
    [ -z "${1:-}" ] || [ "${1:-}" = real-test-nginx ]
}

if [ ${#missing[@]} -eq 0 ]; then
    needs_validator "${1:-}" && openapi_validator
    exit 0
fi

echo "installing: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

needs_validator "${1:-}" && openapi_validator
exit 0
