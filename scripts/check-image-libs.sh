#!/usr/bin/env bash
# Checks that the shared libraries a release binary needs (its ELF NEEDED entries) are exactly those
# the Dockerfile's runtime stage installs, plus the C runtime that debian:bookworm-slim already has.
# Usage: scripts/check-image-libs.sh BINARY [DOCKERFILE]
set -euo pipefail
bin=${1:?usage: check-image-libs.sh BINARY [DOCKERFILE]}
dockerfile=${2:-Dockerfile}
# In debian:bookworm-slim already (apt and dpkg depend on them).
base="libc6 libgcc-s1 libstdc++6 zlib1g"

# Packages installed by the last stage's apt-get install lines.
runtime=$(awk '/^FROM /{stage++} {lines[stage]=lines[stage] "\n" $0} END{print lines[stage]}' "$dockerfile" \
  | tr '\\' '\n' | grep -o 'apt-get install[^&]*' | sed 's/apt-get install//' | tr ' ' '\n' | grep -v -e '^$' -e '^-' | sort -u)
[ -n "$runtime" ] || { echo "no apt-get install found in the runtime stage of $dockerfile" >&2; exit 1; }

needed_pkgs=""
for lib in $(readelf -d "$bin" | awk -F'[][]' '/NEEDED/{print $2}'); do
  # (The readers consume all their input: one that stops early would kill the writer with SIGPIPE, and
  # pipefail would turn that into a failure.)
  path=$(ldconfig -p | awk -v l="$lib" '$1==l && !found {print $NF; found=1}')
  [ -n "$path" ] || { echo "FAIL: $bin needs $lib, which is not installed here" >&2; exit 1; }
  pkg=$(dpkg -S "*/$(basename "$path")" 2>/dev/null | awk -F: 'NR==1 {print $1}')
  [ -n "$pkg" ] || { echo "FAIL: no Debian package owns $path" >&2; exit 1; }
  echo "  $lib <- $pkg"
  needed_pkgs="$needed_pkgs $pkg"
done
needed_pkgs=$(echo "$needed_pkgs" | tr ' ' '\n' | grep -v '^$' | sort -u)

status=0
for pkg in $needed_pkgs; do
  if ! grep -qx "$pkg" <<<"$runtime" && ! grep -qw "$pkg" <<<"$base"; then
    echo "FAIL: the binary needs $pkg, which the runtime stage does not install" >&2; status=1
  fi
done
for pkg in $runtime; do
  [ "$pkg" = ca-certificates ] && continue      # data, not a library
  if ! grep -qx "$pkg" <<<"$needed_pkgs"; then
    echo "FAIL: the runtime stage installs $pkg, which the binary does not need" >&2; status=1
  fi
done
[ $status = 0 ] && echo "ok: $(basename "$bin") needs exactly the runtime stage's libraries ($(echo $runtime | tr '\n' ' ')) and the base C runtime"
exit $status
