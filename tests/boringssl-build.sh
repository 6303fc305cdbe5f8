#!/usr/bin/env bash
# boringssl-build.sh DIR: BoringSSL built from Debian's own source package
# (android-platform-external-boringssl 13.0.0+r24, BoringSSL of 2021, fetched with a
# private apt configuration under DIR as tests/go-toolchains.sh fetches Go), compiled by
# clang -O2 as Debian compiles it (no assembly: OPENSSL_NO_ASM) into DIR/lib/libcrypto.a
# and two libssl builds: libssl-unwind.a (unwind tables: an FDE per function) and
# libssl-nounwind.a (-fno-asynchronous-unwind-tables, as Chromium builds: no FDEs), with
# headers in DIR/include. Prints DIR on stdout; built once (some 2 minutes on 2 cores),
# reused after. Exit 1 on a failed step.
set -u
dir=$1
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/src"
dir=$(cd "$dir" && pwd)
if [ -f "$dir/lib/libssl-unwind.a" ] && [ -f "$dir/lib/libssl-nounwind.a" ] && [ -f "$dir/lib/libcrypto.a" ]; then
  echo "$dir"; exit 0
fi
printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n' \
  >"$dir/sources.list"
apt=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Debug::NoLocking=1
     -o APT::Sandbox::User=root -qq)
fail() { echo "boringssl-build: $1 (see $dir/build.log)" >&2; exit 1; }
{ apt-get "${apt[@]}" update && (cd "$dir/src" && apt-get "${apt[@]}" --download-only source android-platform-external-boringssl); } \
  >"$dir/build.log" 2>&1 || fail "the source did not download"
tree=$dir/src/tree
rm -rf "$tree" && mkdir -p "$tree"
tar -xJf "$dir"/src/android-platform-external-boringssl_*.orig.tar.xz -C "$tree" --strip-components=1 &&
  tar -xJf "$dir"/src/android-platform-external-boringssl_*.debian.tar.xz -C "$tree" || fail "the source did not unpack"
# the file lists Debian's own build uses: crypto_sources and ssl_sources
list() { sed -n "/^$1 := /,/^\$/p" "$tree/debian/sources.mk" | grep -o '[^ \\]*\.c[c]*' ; }
flags=(-O2 -fPIC -DNDEBUG -DOPENSSL_NO_ASM -DOPENSSL_SMALL -DBORINGSSL_IMPLEMENTATION -fno-strict-aliasing
       -I"$tree/src/include" -I"$tree/src/crypto" -w)
mkdir -p "$dir/lib"
build() { # LIB COMPILER FLAGS SOURCES...: each source compiled once, $(nproc) at a time
  local lib=$1; export ECQ_CC="$2 $3 ${flags[*]}" ECQ_OBJ=$dir/obj/$1; shift 3
  mkdir -p "$ECQ_OBJ"
  printf '%s\n' "$@" | xargs -P "$(nproc)" -n 1 sh -c \
    'o="$ECQ_OBJ/$(echo "$0" | tr / _).o"; [ -f "$o" ] || $ECQ_CC -c "$0" -o "$o"' >>"$dir/build.log" 2>&1 || return 1
  rm -f "$dir/lib/lib$lib.a" && ar rcs "$dir/lib/lib$lib.a" "$dir/obj/$lib"/*.o
}
cd "$tree" || exit 1
build crypto clang -std=gnu11 $(list crypto_sources) || fail "libcrypto did not build"
build ssl-unwind clang++ -std=gnu++2a $(list ssl_sources) || fail "libssl did not build"
build ssl-nounwind clang++ "-std=gnu++2a -fno-asynchronous-unwind-tables -fno-unwind-tables" $(list ssl_sources) ||
  fail "libssl without unwind tables did not build"
rm -rf "$dir/include" && cp -r "$tree/src/include" "$dir/include"
echo "$dir"
