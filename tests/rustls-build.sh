#!/usr/bin/env bash
# rustls-build.sh DIR: the capture tests' rustls program (tests/rustls, a client and a
# server on rustls 0.20) built the way Debian builds its Rust packages: Debian 12's
# cargo and rustc (1.63), offline, crates.io replaced by the crates packaged under
# /usr/share/cargo/registry (librust-rustls-dev; tests/rustls/.cargo/config.toml).
# The sources are copied to DIR/src (cargo writes Cargo.lock beside them) and built into
# DIR/target, so a second run rebuilds nothing. Two builds: release with legacy symbol
# names, and release with v0 names (-C symbol-mangling-version=v0); and a copy of the
# first with strip(1) run on it. Prints "legacy PATH", "v0 PATH", "stripped PATH";
# exits 1 (the build's output on stderr) if cargo fails.
set -u
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/src"
dir=$(cd "$dir" && pwd)
# only what changed is copied: cargo's freshness check sees the same times
cp -ru "$here/rustls/." "$dir/src/"
cargo=(env PATH=/usr/bin:/bin RUSTC=/usr/bin/rustc CARGO_HOME="$dir/cargo-home" /usr/bin/cargo build --release --quiet)
(cd "$dir/src" && "${cargo[@]}" --target-dir "$dir/target") >"$dir/build.log" 2>&1 &&
  (cd "$dir/src" && RUSTFLAGS="-C symbol-mangling-version=v0" "${cargo[@]}" --target-dir "$dir/target-v0") >>"$dir/build.log" 2>&1 ||
  { echo "rustls-build: cargo failed:" >&2; cat "$dir/build.log" >&2; exit 1; }
if [ ! -x "$dir/rustls-peer-stripped" ] || [ "$dir/target/release/rustls-peer" -nt "$dir/rustls-peer-stripped" ]; then
  strip -o "$dir/rustls-peer-stripped" "$dir/target/release/rustls-peer" || exit 1
fi
echo "legacy $dir/target/release/rustls-peer"
echo "v0 $dir/target-v0/release/rustls-peer"
echo "stripped $dir/rustls-peer-stripped"
