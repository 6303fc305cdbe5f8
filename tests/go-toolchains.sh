#!/usr/bin/env bash
# go-toolchains.sh DIR MINOR...: Go releases from Debian's own archive, for the Go
# capture tests to run on more than the one Go that Debian 12 ships (1.19).
#   tests/go-toolchains.sh tests/toolchains 1.21 1.22 1.23 1.24 1.25 1.26 1.27
# For each minor version, golang-MINOR-go and golang-MINOR-src are fetched from
# bookworm-backports, trixie or trixie-backports with a private apt configuration under
# DIR (the system's sources and installed packages are not touched; apt checks the
# archive's signatures with debian-archive-keyring) and unpacked under DIR/root, less Go's
# own tests. Prints
# "goVERSION PATH-OF-go" per toolchain on stdout; a version the archive does not carry
# is named on stderr and skipped (exit 0); a failed download or unpack exits 1.
set -u
dir=$1; shift
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs" "$dir/root"
dir=$(cd "$dir" && pwd)
# Debian's own keyring, named: on Ubuntu it is not among apt's trusted keys
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
  bookworm-backports trixie trixie-backports >"$dir/sources.list"
apt=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Debug::NoLocking=1
     -o APT::Sandbox::User=root -qq)
updated=
for minor in "$@"; do
  gobin=$dir/root/usr/lib/go-$minor/bin/go
  if [ ! -x "$gobin" ]; then
    if [ -z "$updated" ]; then
      apt-get "${apt[@]}" update >"$dir/update.log" 2>&1 || { echo "go-toolchains: apt-get update failed (see $dir/update.log)" >&2; exit 1; }
      updated=1
    fi
    if ! apt-cache "${apt[@]}" show "golang-$minor-go" >/dev/null 2>&1; then
      echo "go-toolchains: golang-$minor-go is not in the archive" >&2
      continue
    fi
    (cd "$dir/debs" && rm -f golang-"$minor"-* && apt-get "${apt[@]}" download "golang-$minor-go" "golang-$minor-src") >"$dir/download.log" 2>&1 &&
      for deb in "$dir/debs"/golang-"$minor"-*.deb; do
        # the toolchain and the standard library's sources, without Go's own tests
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/root" --exclude='*_test.go' \
          --exclude='*/testdata' --exclude="./usr/share/go-$minor/test" || exit 1
      done ||
      { echo "go-toolchains: golang-$minor-go did not download or unpack (see $dir/download.log)" >&2; exit 1; }
    rm -f "$dir/debs"/golang-"$minor"-*.deb
  fi
  v=$(GOTOOLCHAIN=local "$gobin" env GOVERSION 2>/dev/null) || { echo "go-toolchains: $gobin does not run" >&2; exit 1; }
  echo "$v $gobin"
done
