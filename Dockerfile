# ecaptureq in an image with nothing else in it: the static, stripped binary.
#   make static && docker build -t ecaptureq .
#   docker run --rm --pid=host --net=host --cap-add BPF --cap-add PERFMON \
#     --cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH ecaptureq
# (--pid=host: the host's processes are what it captures; the capabilities are the ones
# deploy/daemonset.yaml grants, which ./test.sh deploy checks are enough.)
FROM scratch
COPY ecaptureq-static /ecaptureq
EXPOSE 28257
ENTRYPOINT ["/ecaptureq"]
CMD ["tls", "--ecaptureq", "ws://localhost:28257/"]
