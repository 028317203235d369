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
#                                   loads beyond the project harness's
#                                   (make test-real-test-nginx; optional)
set -euo pipefail

# `install-deps.sh fuzz`: only what the libFuzzer targets need (make fuzz);
# the default set (make test) never needs clang
if [ "${1:-}" = fuzz ]; then
    packages=(clang libclang-rt-14-dev libjansson-dev libsqlite3-dev make
              perl)
elif [ "${1:-}" = bench ]; then
    packages=(wrk sqlite3 curl gcc libsqlite3-dev)
elif [ "${1:-}" = deb ]; then
    packages=(debhelper dpkg-dev lintian nginx nginx-dev libjansson-dev
              libsqlite3-dev curl)
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
)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "error: run as root to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
