# ecaptureq - capture TLS plaintext with eBPF, stream it as eCaptureQ protobuf over WebSocket.
#   make            build ./ecaptureq (installs missing build packages when run as root)
#   sudo make run   build and start capturing on $(URL)
#   make test       ./test.sh
#   make bench      ecaptureq against the limits (tests/bench.sh; tables in tests/out/bench.md)
#   make install PREFIX=/usr/local DESTDIR=
#   make static     ./ecaptureq-static, one self-contained binary
#   make symbols    build the stream server alone (no libbpf, no main) and check its exports
#   make ARCH=arm64 cross-compile (from x86-64; ARCH=x86 from arm64) the agent, the static
#                   binary and the BPF object into build/arm64/ (Debian's cross gcc, the
#                   target's libbpf/libelf/zlib from multiarch: installed when run as root)
#   make image      the static binary for amd64 and arm64 and one image of both, as archives
#                   in build/ (no container engine needed); IMAGE=name:tag; PUSH=1 builds
#                   and pushes it with docker buildx instead
#   V=1             show the full commands

CLANG     ?= clang
CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra
PREFIX    ?= /usr/local
URL       ?= ws://127.0.0.1:28257/
# the kernel's names for the two architectures (what -D__TARGET_ARCH_ takes), with
# Debian's names and GNU triplets
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH      := $(HOST_ARCH)
override ARCH := $(patsubst x86_64,x86,$(patsubst amd64,x86,$(patsubst aarch64,arm64,$(ARCH))))
DEB_x86   := amd64
DEB_arm64 := arm64
GNU_x86   := x86_64-linux-gnu
GNU_arm64 := aarch64-linux-gnu
DEB_ARCH  := $(DEB_$(ARCH))
ifeq ($(DEB_ARCH),)
$(error ARCH=$(ARCH): ecaptureq builds for ARCH=x86 or ARCH=arm64)
endif
ifeq ($(ARCH),$(HOST_ARCH))
CC        ?= cc
O         :=
BUILD_PKGS := gcc make clang libbpf-dev libelf-dev zlib1g-dev linux-libc-dev
else
# Cross: the outputs go to build/DEB_ARCH/, the native ones stay where they are.
ifeq ($(origin CC),default)
CC        := $(GNU_$(ARCH))-gcc
endif
O         := build/$(DEB_ARCH)/
BUILD_PKGS := make clang gcc-$(subst _,-,$(GNU_$(ARCH))) libbpf-dev:$(DEB_ARCH) libelf-dev:$(DEB_ARCH) \
              zlib1g-dev:$(DEB_ARCH) linux-libc-dev:$(DEB_ARCH)
endif
BPF_OBJ   := $(if $(O),$(O)ecaptureq.bpf.o,bpf/ecaptureq.bpf.o)
VIEWER    := web/viewer.html
EMBED     := -DECQ_BPF_OBJ='"$(BPF_OBJ)"' -DECQ_VIEWER='"$(VIEWER)"'
LIBS      := -lbpf -lelf -lz
IMAGE     ?= ecaptureq:latest
TEST_PKGS  := curl openssl file protobuf-compiler python3 python3-websockets python3-protobuf gnutls-bin \
              libnss3-tools valgrind libclang-rt-14-dev iproute2 procps psmisc golang-go binutils nginx-light libssl-dev bc python3-yaml jq \
              chromium debian-archive-keyring tshark nghttp2-server lighttpd lighttpd-mod-mbedtls lighttpd-mod-wolfssl python3-pygit2 libwolfssl-dev \
              cargo rustc librust-rustls-dev

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-6s %s\n' '$(1)' '$(2)';
endif

# Installs what is missing (as root, with apt-get) or prints the exact line to run.
define need
	@command -v dpkg-query >/dev/null 2>&1 || exit 0; \
	missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "  APT    installing$$missing"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	    || { echo "ecaptureq: apt-get install$$missing failed" >&2; exit 1; }; \
	else \
	  echo "ecaptureq: missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	fi
endef

.PHONY: all deps deps-test deps-cross-test run test bench valgrind fuzz clean install symbols static image image-bins
all: $(O)ecaptureq

# a cross build's libraries come from Debian's multiarch: the architecture is added once
deps:
	@if [ -n "$(O)" ] && command -v dpkg >/dev/null 2>&1 && [ "$$(dpkg --print-architecture)" != $(DEB_ARCH) ] && \
	  ! dpkg --print-foreign-architectures | grep -qx $(DEB_ARCH); then \
	  if [ "$$(id -u)" = 0 ]; then echo "  DPKG   --add-architecture $(DEB_ARCH)"; dpkg --add-architecture $(DEB_ARCH); \
	  else echo "ecaptureq: run: sudo dpkg --add-architecture $(DEB_ARCH)" >&2; exit 1; fi; \
	fi
	$(call need,$(BUILD_PKGS))

deps-test: deps
	$(call need,$(TEST_PKGS))

# ./test.sh arm64: the cross build's packages, the emulator its tests run under, and
# skopeo, which reads the image back
deps-cross-test: deps
	$(call need,qemu-user skopeo)

# clang -target bpf does not search the multiarch directory (asm/types.h lives there):
# ask for it when the recipe runs, after deps installed the compilers, not when make
# read this file (on a fresh machine there was no compiler to ask then)
$(BPF_OBJ): bpf/ecaptureq.bpf.c bpf/ecaptureq.bpf.h bpf/kernel.h | deps
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)ma=$$($(CC) -print-multiarch 2>/dev/null); [ -n "$$ma" ] || ma=$(GNU_$(ARCH)); \
	$(CLANG) -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -idirafter /usr/include/$$ma -Wall -c $< -o $@

$(O)ecaptureq: ecaptureq.c ecaptureq.h bpf/ecaptureq.bpf.h $(BPF_OBJ) $(VIEWER)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) $(EMBED) -o $@ ecaptureq.c $(LDFLAGS) $(LIBS)

# One self-contained, stripped binary for minimal containers (FROM scratch). localhost,
# *.localhost and ip6-localhost resolve without NSS; other names need the container's
# resolver files, numeric addresses need nothing.
static: ecaptureq.c ecaptureq.h bpf/ecaptureq.bpf.h $(BPF_OBJ) $(VIEWER)
	$(call msg,CC,$(O)ecaptureq-static)
	$(Q)rm -f $(O)ecaptureq-static
	$(Q)$(CC) $(CFLAGS) $(WARN) -static -s $(EMBED) -o $(O)ecaptureq-static ecaptureq.c $(LDFLAGS) $(LIBS) 2>&1 \
	  | grep -v 'statically linked applications requires at runtime' | grep -v 'in function .ecq__' || true
	$(Q)test -x $(O)ecaptureq-static

# The image: each architecture's static binary at build/DEB_ARCH/ecaptureq-static, then
# one image of both, written without a container engine (deploy/oci-image.sh) to
# build/ecaptureq-image.tar (OCI, every architecture) and build/ecaptureq-image-ARCH.tar
# (docker save's format too). PUSH=1: docker buildx builds it from the Dockerfile, which
# picks the binary by TARGETARCH, and pushes it as IMAGE.
IMAGE_ARCHS := x86 arm64
image-bins:
	$(Q)for a in $(IMAGE_ARCHS); do \
	  $(MAKE) --no-print-directory ARCH=$$a static || exit 1; \
	  if [ $$a = $(HOST_ARCH) ]; then mkdir -p build/$(DEB_$(HOST_ARCH)) && cp ecaptureq-static build/$(DEB_$(HOST_ARCH))/; fi; \
	done

image: image-bins
	$(call msg,IMAGE,$(IMAGE))
	$(Q)if [ "$(PUSH)" = 1 ]; then \
	  docker buildx build --platform $$(echo $(foreach a,$(IMAGE_ARCHS),linux/$(DEB_$(a))) | tr ' ' ,) -t $(IMAGE) --push .; \
	else \
	  deploy/oci-image.sh $(IMAGE) build $(foreach a,$(IMAGE_ARCHS),$(DEB_$(a))=build/$(DEB_$(a))/ecaptureq-static); \
	fi

# The copy-me part alone: must build with nothing but libc.
tests/bin/server.o: ecaptureq.c ecaptureq.h
	$(call msg,CC,$@)
	$(Q)mkdir -p tests/bin && $(CC) $(CFLAGS) $(WARN) -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -c ecaptureq.c -o $@

# Every exported symbol carries the ecq_ prefix.
symbols: tests/bin/server.o
	$(Q)bad=$$(nm -g --defined-only $< | awk '{print $$3}' | grep -v '^ecq_'); \
	if [ -n "$$bad" ]; then echo "unprefixed exported symbols: $$bad" >&2; exit 1; fi; echo "  OK     exported symbols all ecq_"

run: ecaptureq
	./ecaptureq tls --ecaptureq $(URL)

test:
	./test.sh

bench: ecaptureq
	./tests/bench.sh

# the long-running server scenarios under valgrind memcheck (test.sh runs it)
valgrind: ecaptureq
	./tests/valgrind.sh

# libFuzzer targets for the parsers and the probe planner: make fuzz FUZZ_SECONDS=3600;
# an input that takes over 10 s fails (each parser bounds its work per input). One
# binary holds every target (tests/bin/fuzz-NAME links to it and runs NAME); it is built
# with capture, as the planner needs (libbpf, the BPF object embedded, never loaded).
# The targets run two at a time on a machine of two CPUs or more; the planner starts
# from the ELF corpus.
FUZZ_SECONDS ?= 15
FUZZERS := handshake frames protobuf url x86 elf plan pcapng http
fuzz: $(BPF_OBJ)
	$(Q)mkdir -p tests/bin tests/out; rm -f tests/bin/fuzz tests/bin/fuzz-*; \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DECQ_BPF_OBJ='"$(BPF_OBJ)"' -DECQ_HAVE_ZLIB \
	  -DECAPTUREQ_NO_MAIN -o tests/bin/fuzz tests/fuzz.c ecaptureq.c $(LIBS) >tests/out/fuzz.build 2>&1 \
	  || { cat tests/out/fuzz.build >&2; echo "not ok - fuzz: the fuzzers did not build"; exit 0; }; \
	par=$$(nproc); [ $$par -gt 2 ] && par=2; n=0; \
	for f in $(FUZZERS); do \
	  ln -s fuzz tests/bin/fuzz-$$f; \
	  seeds=tests/corpus/$$f; case $$f in plan) seeds=tests/corpus/elf ;; esac; \
	  rm -rf tests/out/fuzz-$$f && mkdir -p tests/out/fuzz-$$f; \
	  case $$f in elf|plan) head -c 4096 tests/bin/fuzz >tests/out/fuzz-$$f/self ;; esac; \
	  { tests/bin/fuzz-$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 -artifact_prefix=tests/out/fuzz-$$f- \
	      tests/out/fuzz-$$f $$seeds >tests/out/fuzz-$$f.log 2>&1; echo $$? >tests/out/fuzz-$$f.rc; } & \
	  n=$$((n + 1)); [ $$((n % par)) = 0 ] && wait; \
	done; wait; \
	for f in $(FUZZERS); do \
	  rc=$$(cat tests/out/fuzz-$$f.rc); \
	  runs=$$(grep -o 'number_of_executed_units: [0-9]*' tests/out/fuzz-$$f.log | grep -o '[0-9]*$$'); \
	  if [ "$$rc" = 0 ]; then echo "ok - fuzz $$f: $$runs runs in $(FUZZ_SECONDS) s, no crash, leak or UB"; \
	  else echo "not ok - fuzz $$f: exit $$rc (tests/out/fuzz-$$f.log)"; fi; \
	done

install: $(O)ecaptureq
	install -D -m 0755 $(O)ecaptureq $(DESTDIR)$(PREFIX)/bin/ecaptureq
	install -D -m 0644 ecaptureq.h $(DESTDIR)$(PREFIX)/include/ecaptureq.h
	install -D -m 0644 ecaptureq.proto $(DESTDIR)$(PREFIX)/share/ecaptureq/ecaptureq.proto

clean:
	rm -f ecaptureq ecaptureq-static bpf/ecaptureq.bpf.o
	rm -rf build
	rm -rf tests/bin tests/out
