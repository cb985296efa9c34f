# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The fuzz harnesses, included by the Makefile (after CORE_SRCS and the flags).
#
#   make fuzz   libFuzzer harnesses (clang, ASan + UBSan) under build/fuzz/, each run
#               for FUZZ_SECONDS (default 60) by tests/fuzz/run; never part of make check
#
# make check replays every kept input through the same harness code, built by $(CC)
# without libFuzzer (test_fuzz_replay, a unit test).

FUZZ_OUT := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_CORE_OBJS := $(patsubst agent/%.c,$(FUZZ_OUT)/agent/%.o,$(CORE_SRCS))
# the harness sources' coverage is the fuzzer's guide too: agent code and harnesses
# are built alike, only the link adds libFuzzer's main
FUZZ_CFLAGS := -O1 -g $(WARNINGS) -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -std=gnu11 -D_GNU_SOURCE -MMD -MP -Iinclude -Iagent \
	-Itests/fuzz -DXTAP_VERSION='"$(VERSION)"' \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)

.PHONY: fuzz fuzz-bins
fuzz: fuzz-bins
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_OUT)

fuzz-bins: $(FUZZ_BINS)

$(FUZZ_OUT)/agent/%.o: agent/%.c | $(FUZZ_OUT)/agent
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/fuzz_%.o: tests/fuzz/fuzz_%.c | $(FUZZ_OUT)/agent
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/fuzz_%.o $(FUZZ_CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

$(FUZZ_OUT)/agent:
	$(Q)mkdir -p $@

# The replay: each harness once more, its entry point renamed so that one
# test binary holds them all.
FUZZ_REPLAY_OBJS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/tests/%.o,$(FUZZ_SRCS))

$(OUTPUT)/tests/fuzz_%.o: tests/fuzz/fuzz_%.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/fuzz -DLLVMFuzzerTestOneInput=fuzz_one_$* -c $< -o $@

$(OUTPUT)/tests/test_fuzz_replay: $(FUZZ_REPLAY_OBJS)

-include $(wildcard $(FUZZ_OUT)/*.d $(FUZZ_OUT)/agent/*.d)
