#!/usr/bin/env bash
# trixie-openssl.sh DIR: OpenSSL 3.5 from Debian 13 (trixie), for the capture tests to
# run on a newer OpenSSL than Debian 12 ships (3.0). libssl3t64 and libssl-dev are
# fetched with a private apt configuration under DIR (the system's sources and
# installed packages are not touched; apt checks the archive's signatures with
# debian-archive-keyring) and unpacked under DIR/root, with trixie's libc6 and
# libzstd1, which that libcrypto needs (glibc 2.38+). Prints the unpacked root and
# the OpenSSL version ("DIR/root 3.5.9-1~deb13u1"); exits 1, saying why on stderr,
# if the archive cannot be reached or a package does not unpack. A second run with
# everything unpacked fetches nothing.
set -u
dir=$1
pkgs=(libssl3t64 libssl-dev libc6 libzstd1)
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs" "$dir/root"
dir=$(cd "$dir" && pwd)
if [ ! -f "$dir/root/.done" ]; then
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n' >"$dir/sources.list"
  apt=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Debug::NoLocking=1
       -o APT::Sandbox::User=root -qq)
  apt-get "${apt[@]}" update >"$dir/update.log" 2>&1 ||
    { echo "trixie-openssl: apt-get update against deb.debian.org trixie failed (see $dir/update.log)" >&2; exit 1; }
  (cd "$dir/debs" && rm -f ./*.deb && apt-get "${apt[@]}" download "${pkgs[@]}") >"$dir/download.log" 2>&1 ||
    { echo "trixie-openssl: ${pkgs[*]} did not download (see $dir/download.log)" >&2; exit 1; }
  for deb in "$dir"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dir/root" || { echo "trixie-openssl: $deb does not unpack" >&2; exit 1; }
  done
  dpkg-deb -f "$dir"/debs/libssl3t64_*.deb Version >"$dir/root/.done"
  rm -f "$dir"/debs/*.deb
fi
echo "$dir/root $(cat "$dir/root/.done")"
