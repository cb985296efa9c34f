# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# xtap build. Everything lands under $(OUTPUT); V=1 shows the commands.
#   make            the agent (build/xtap)
#   make test       tests/run: install what is missing (Debian), build, run all tests (root)
#   make check      build and run the tests, installing nothing
#   make asan       the agent and tests with ASan + UBSan (build/asan/)
#   make bpf-arm64  the BPF objects for arm64, to prove they compile
#   make soak       tests/soak/run: the agent under steady load for SOAK_SECONDS (600)
#   make fuzz       run each libFuzzer harness for FUZZ_SECONDS (tests/fuzz/fuzz.mk)
#   make vmlinux    regenerate vmlinux/x86/vmlinux.h from the running kernel
#   make install    xtap, its man page and bash completion under DESTDIR/PREFIX

.DELETE_ON_ERROR:
# keep BPF objects: bpf-arm64 and debugging use them
.SECONDARY:
.DEFAULT_GOAL := all

SAN ?=
ifeq ($(SAN),1)
OUTPUT ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
OUTPUT ?= build
SANFLAGS :=
endif

ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ifeq ($(filter x86 arm64,$(ARCH)),)
$(error unsupported architecture '$(ARCH)': xtap ships vmlinux.h for x86 and arm64)
endif

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
PKGS := libbpf libelf zlib libcurl jansson
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) $(WARNINGS) $(SANFLAGS) -std=gnu11 -D_GNU_SOURCE -MMD -MP \
	-Iinclude -Iagent -I$(OUTPUT) -DXTAP_VERSION='"$(VERSION)"' \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -Iinclude
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# Files that include a BPF skeleton or drive the loader; everything else in agent/ is plain C
# that the unit tests link without BPF.
AGENT_BPF_SRCS := $(wildcard agent/main.c agent/loader.c agent/run.c agent/capture.c \
	agent/endpoint.c agent/cmd_*.c)
AGENT_SRCS := $(wildcard agent/*.c)
CORE_SRCS := $(filter-out $(AGENT_BPF_SRCS),$(AGENT_SRCS))
CORE_OBJS := $(patsubst agent/%.c,$(OUTPUT)/agent/%.o,$(CORE_SRCS))
AGENT_OBJS := $(patsubst agent/%.c,$(OUTPUT)/agent/%.o,$(AGENT_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
E2E_SRCS := $(wildcard tests/e2e/test_*.c)
E2E_BINS := $(patsubst tests/e2e/%.c,$(OUTPUT)/tests/%,$(E2E_SRCS))
E2E_LIB := $(patsubst tests/e2e/%.c,$(OUTPUT)/tests/%.o,$(filter-out $(E2E_SRCS),$(wildcard tests/e2e/*.c)))

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# where bash-completion loads a command's completion from on first use
# (it searches $XDG_DATA_DIRS, /usr/local/share included)
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

.PHONY: all asan test check test-bins test-unit bpf-arm64 vmlinux clean bench soak install uninstall
all: $(OUTPUT)/xtap

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/xtap.h | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -c $< -o $@

$(OUTPUT)/arm64/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/xtap.h | $(OUTPUT)/arm64
	$(call msg,BPF-A64,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_arm64 -Ivmlinux/arm64 -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(patsubst agent/%.c,$(OUTPUT)/agent/%.o,$(AGENT_BPF_SRCS)): | $(SKELS)
$(OUTPUT)/agent/%.o: agent/%.c | $(OUTPUT)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/xtap: $(AGENT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%.o: tests/e2e/%.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/e2e -c $< -o $@

$(OUTPUT)/tests/test_%.o: tests/unit/test_%.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(UNIT_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/%.o $(CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(E2E_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/%.o $(E2E_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

asan:
	$(Q)$(MAKE) --no-print-directory SAN=1 all test-bins

test-bins: $(UNIT_BINS) $(E2E_BINS)

test:
	$(Q)tests/run

# The whole suite: unit tests (plain and sanitized), then end-to-end tests
# against the sanitized agent. tests/run prints the summary CI reads.
check: all asan $(UNIT_BINS) $(E2E_BINS)
	$(Q)tests/run-suite $(OUTPUT)

test-unit: asan $(UNIT_BINS)
	$(Q)tests/run-suite --unit-only $(OUTPUT)

bpf-arm64: $(patsubst bpf/%.bpf.c,$(OUTPUT)/arm64/%.bpf.o,$(BPF_SRCS))

vmlinux:
	$(call msg,GEN,vmlinux/x86/vmlinux.h)
	$(Q)test "$$(uname -m)" = x86_64 || { echo "make vmlinux regenerates the x86 header and must run on x86_64" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/x86/vmlinux.h

bench: all $(OUTPUT)/bench/naive $(OUTPUT)/bench/naive.bpf.o
	$(Q)tests/bench/run $(OUTPUT)

# make bench's yardstick, the naive tracer (tests/bench/naive): not part of all
$(OUTPUT)/bench/naive.bpf.o: tests/bench/naive/naive.bpf.c | $(OUTPUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -c $< -o $@

$(OUTPUT)/bench/naive: tests/bench/naive/naive.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LDLIBS) -o $@

soak: all
	$(Q)tests/soak/run $(OUTPUT)

install: all
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/xtap)
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	$(Q)install -m 0755 $(OUTPUT)/xtap $(DESTDIR)$(BINDIR)/xtap
	$(Q)install -m 0644 docs/xtap.8 $(DESTDIR)$(MANDIR)/man8/xtap.8
	$(Q)install -m 0644 deploy/bash-completion/xtap $(DESTDIR)$(BASHCOMPDIR)/xtap

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/xtap $(DESTDIR)$(MANDIR)/man8/xtap.8 \
		$(DESTDIR)$(BASHCOMPDIR)/xtap

$(OUTPUT)/bpf $(OUTPUT)/arm64 $(OUTPUT)/agent $(OUTPUT)/tests $(OUTPUT)/bench:
	$(Q)mkdir -p $@

clean:
	$(call msg,CLEAN,build)
	$(Q)rm -rf build

# optional: a build from the sources alone (deploy/Dockerfile) has no tests/
-include tests/fuzz/fuzz.mk

-include $(wildcard $(OUTPUT)/agent/*.d $(OUTPUT)/tests/*.d)
