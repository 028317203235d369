#!/usr/bin/env bash
# Builds libnginx-mod-http-compensation_<version>_<arch>.deb from debian/.
#
#   scripts/build-deb.sh [OUT_DIR]     (make deb; OUT_DIR defaults to build/deb)
#
# dpkg-buildpackage writes into the source tree (debian/<package>/, the
# out-of-tree nginx build directory obj-*/) and puts the .deb in the parent
# directory, so the build runs on a copy: OUT_DIR/src holds the files git
# tracks or would track (ignored files such as build/ are left out), and the
# packages land in OUT_DIR. Nothing is written into the source tree.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$out/src

rm -rf "$src"
mkdir -p "$src"

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked and untracked-but-not-ignored files that exist (a file deleted
    # in the work tree but still tracked is skipped)
    git -C "$root" ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do
              [ -e "$root/$f" ] && printf '%s\0' "$f"
          done \
        | tar -C "$root" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$root" --exclude=./build --exclude=./t/servroot --exclude=./var \
        -cf - . | tar -C "$src" -xf -
fi

version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -q DEB_HOST_ARCH)
deb=libnginx-mod-http-compensation_${version}_${arch}.deb

rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
echo "building $out/$deb (log: $out/build.log)"
if ! (cd "$src" && dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    echo "error: dpkg-buildpackage failed, full log: $out/build.log" >&2
    exit 1
fi

# the packages and their .changes/.buildinfo are written next to src/
test -f "$out/$deb" || { echo "error: $out/$deb was not built" >&2; exit 1; }
echo "built $out/$deb"
