#!/usr/bin/env bash
# oci-image.sh NAME OUTDIR ARCH=BINARY...: the image the Dockerfile describes (one file,
# /ecaptureq, FROM scratch) for each architecture, written without a container engine:
#   OUTDIR/ecaptureq-image.tar        every architecture in one OCI image layout archive
#                                     (an image index per platform): ctr -n k8s.io images
#                                     import --all-platforms, skopeo copy --all oci-archive:
#   OUTDIR/ecaptureq-image-ARCH.tar   one architecture, also in docker save's format:
#                                     docker load -i, ctr images import, podman load
# NAME is the image's name (ecaptureq:latest); ARCH is Debian's and the OCI's name
# (amd64, arm64). The archives are reproducible: the same binaries give the same bytes.
#   deploy/oci-image.sh ecaptureq:latest build amd64=build/amd64/ecaptureq-static arm64=build/arm64/ecaptureq-static
set -eu
name=$1 out=$2
shift 2
# the name as containerd stores it: docker.io/library/ecaptureq:latest
full=$name
case ${full%%/*} in *.*|*:*|localhost) ;; *) case $full in */*) full=docker.io/$full ;; *) full=docker.io/library/$full ;; esac ;; esac
case ${full##*/} in *:*) ;; *) full=$full:latest ;; esac
tag=${full##*:}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/all/blobs/sha256" "$out"

# blob FILE DIR: stores FILE under DIR/blobs/sha256/ by its digest; prints "DIGEST SIZE"
blob() {
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$2/blobs/sha256/$d"
  echo "sha256:$d $(stat -c %s "$1")"
}
# desc MEDIATYPE "DIGEST SIZE" [EXTRA]: a descriptor
desc() { set -- "$1" $2 "${3:-}"; printf '{"mediaType":"%s","digest":"%s","size":%s%s}' "$1" "$2" "$3" "$4"; }
ann="\"annotations\":{\"io.containerd.image.name\":\"$full\",\"org.opencontainers.image.ref.name\":\"$tag\"}"
oci_layout='{"imageLayoutVersion":"1.0.0"}'

manifests=
for spec; do
  arch=${spec%%=*} bin=${spec#*=}
  [ -x "$bin" ] || { echo "oci-image: $bin: no such executable" >&2; exit 1; }
  mkdir -p "$work/$arch/root" "$work/$arch/blobs/sha256"
  install -m 0755 "$bin" "$work/$arch/root/ecaptureq"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/$arch/root" -cf "$work/$arch/layer.tar" ecaptureq
  diff_id=sha256:$(sha256sum "$work/$arch/layer.tar" | cut -d' ' -f1)
  gzip -n -9 <"$work/$arch/layer.tar" >"$work/$arch/layer.tar.gz"
  variant=
  [ "$arch" = arm64 ] && variant=',"variant":"v8"'
  printf '{"architecture":"%s","os":"linux"%s,"config":{"Entrypoint":["/ecaptureq"],"Cmd":["tls","--ecaptureq","ws://localhost:28257/"],"ExposedPorts":{"28257/tcp":{}}},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created_by":"make image: COPY ecaptureq-static /ecaptureq"}]}' \
    "$arch" "$variant" "$diff_id" >"$work/$arch/config.json"
  for d in all "$arch"; do
    layer=$(blob "$work/$arch/layer.tar.gz" "$work/$d")
    config=$(blob "$work/$arch/config.json" "$work/$d")
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$(desc application/vnd.oci.image.config.v1+json "$config")" \
    "$(desc application/vnd.oci.image.layer.v1.tar+gzip "$layer")" >"$work/$arch/manifest.json"
  for d in all "$arch"; do man=$(blob "$work/$arch/manifest.json" "$work/$d"); done
  platform=",\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"${variant}}"
  manifests="$manifests${manifests:+,}$(desc application/vnd.oci.image.manifest.v1+json "$man" "$platform")"
  # one architecture: OCI layout and docker save's manifest.json in one archive
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
    "$(desc application/vnd.oci.image.manifest.v1+json "$man" ",$ann")" >"$work/$arch/index.json"
  c=${config%% *} l=${layer%% *}
  printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s"],"Layers":["blobs/sha256/%s"]}]' \
    "${c#sha256:}" "${full#docker.io/library/}" "${l#sha256:}" >"$work/$arch/manifest-docker.json"
  mkdir -p "$work/$arch/tar"
  cp -r "$work/$arch/blobs" "$work/$arch/tar/" && cp "$work/$arch/index.json" "$work/$arch/tar/index.json"
  cp "$work/$arch/manifest-docker.json" "$work/$arch/tar/manifest.json" && echo "$oci_layout" >"$work/$arch/tar/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/$arch/tar" -cf "$out/ecaptureq-image-$arch.tar" .
done

# every architecture: an image index of the platforms, named in index.json
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$manifests" >"$work/image-index.json"
idx=$(blob "$work/image-index.json" "$work/all")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
  "$(desc application/vnd.oci.image.index.v1+json "$idx" ",$ann")" >"$work/all/index.json"
echo "$oci_layout" >"$work/all/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/all" -cf "$out/ecaptureq-image.tar" .
echo "$out/ecaptureq-image.tar: $full for $(for s; do printf '%s ' "${s%%=*}"; done)"
