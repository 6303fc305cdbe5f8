# ecaptureq in an image with nothing else in it: the static, stripped binary, for amd64
# and arm64. make image builds both binaries (build/amd64/, build/arm64/) and writes the
# image as archives without a container engine; with an engine, from those binaries:
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/ecaptureq:TAG --push .
#   docker build -t ecaptureq .        (this machine's architecture; BuildKit sets TARGETARCH)
#   docker run --rm --pid=host --net=host --cap-add BPF --cap-add PERFMON \
#     --cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH ecaptureq
# (--pid=host: the host's processes are what it captures; the capabilities are the ones
# deploy/daemonset.yaml grants, which ./test.sh deploy checks are enough.) Nothing runs
# inside the build, so building for the other architecture needs no emulator.
FROM scratch
ARG TARGETARCH
COPY build/${TARGETARCH}/ecaptureq-static /ecaptureq
EXPOSE 28257
ENTRYPOINT ["/ecaptureq"]
CMD ["tls", "--ecaptureq", "ws://localhost:28257/"]
