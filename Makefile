# sealbox - one non-recursive Makefile.
#
#   make            build sealbox and sealbox-relay into build/
#   make check      install missing packages, build, run every test
#   make check SANITIZE=1   the same with ASan+UBSan (objects in build-san/)
#   make demo       the README's demo
#   make install    programs, units, man pages into $(DESTDIR)$(PREFIX)
#
# Each source folder is one module archive; a folder's main.c is its
# program's entry point and stays out of the archive, so unit tests can link
# every module.  New .c files are picked up by wildcard.

# `make` alone builds the programs (a rule below names an object first).
.DEFAULT_GOAL := all

ifeq ($(origin CC),default)
CC = gcc
endif
# libpq: the relay's PostgreSQL store (relay/store_pg.c, a cluster of nodes).
PKGS     = fuse3 openssl libsecret-1 libevent_openssl libevent_pthreads sqlite3 libpq
TESTPKGS = cmocka

ifeq ($(SANITIZE),1)
BUILD   := build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT      = -O1 -g
else
BUILD   := build
SANFLAGS =
OPT     ?= -O2 -g
endif

WARN     = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror \
           -Werror=deprecated-declarations
DEFS     = -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
           -DFUSE_USE_VERSION=312
# FUZZER=1 (scripts/fuzz.sh, CC=clang BUILD=build-fuzz): every object gets
# libFuzzer's coverage hooks plus ASan+UBSan.  -Wno-error: gcc's -Werror
# gates the code; a clang-only warning must not stop a fuzzing run.
ifeq ($(FUZZER),1)
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
WARN    += -Wno-error
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TESTPKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TESTPKGS) 2>/dev/null)
CFLAGS  += $(OPT) $(WARN) $(DEFS) $(SANFLAGS) $(PKG_CFLAGS) -I. -MMD -MP
LDFLAGS += $(SANFLAGS)

# Modules, in link order (a module may use only those after it).  A
# module's subfolders are parts of its one archive (agent/send, agent/recv,
# agent/msgstore, agent/view); scripts/check-layers.sh keeps their order.
MODULES = fs mail watch agent client relay proto tlog keyring crypto common
define module_vars
$(1)_SRC := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c $(1)/*/*.c))
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/%.o)
$(1)_LIB := $$(if $$($(1)_SRC),$(BUILD)/lib$(1).a)
endef
$(foreach m,$(MODULES) cli,$(eval $(call module_vars,$(m))))
LIBS := $(foreach m,$(MODULES),$($(m)_LIB))
LINK_LIBS = -Wl,--start-group $(LIBS) -Wl,--end-group $(PKG_LIBS) -lm

SEALBOX = $(BUILD)/sealbox
RELAY   = $(BUILD)/sealbox-relay
# `make` alone builds both programs: the per-object rules below come first.
.DEFAULT_GOAL := all

# The one version both programs print (`sealbox --version`,
# `sealbox-relay --version`); only their main.c see it.
VERSION = 0.9.0
$(BUILD)/cli/main.o $(BUILD)/relay/main.o: CFLAGS += -DSB_VERSION='"$(VERSION)"'
$(BUILD)/cli/main.o $(BUILD)/relay/main.o: Makefile

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

.PHONY: all check unit integration deps demo clean bench fuzz lint
all: $(SEALBOX) $(RELAY)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/lib%.a: $$($$*_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SEALBOX): $(BUILD)/cli/main.o $(cli_LIB) $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/cli/main.o $(cli_LIB) $(LINK_LIBS)

$(RELAY): $(BUILD)/relay/main.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/relay/main.o $(LINK_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_LIBS) $(TEST_LIBS)

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_LIBS)

# Fuzzing (docs/SECURITY.md section 5).  fuzz/ is no module: each
# fuzz/fuzz_<target>.c is one LLVMFuzzerTestOneInput.  Linked by gcc with
# fuzz/replay.c it is $(BUILD)/fuzz/replay_<target>, which `make check` runs
# over fuzz/corpus/<target> and fuzz/crashes/<target>
# (tests/integration/fuzz_replay.sh); `make fuzz` has scripts/fuzz.sh build
# the libFuzzer binaries ($(BUILD)/fuzz/fuzz_<target>, FUZZER=1, clang).
FUZZ_SRC    := $(wildcard fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
FUZZ_BINS   := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%.o: CFLAGS += -DFUZZ_KEYS='"$(CURDIR)/tests/vectors/keys"'

$(FUZZ_REPLAY): $(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/fuzz/replay.o $(LINK_LIBS)

$(FUZZ_BINS): $(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(LIBS)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LINK_LIBS)

.PHONY: fuzz-bins fuzz-replay
fuzz-bins: $(FUZZ_BINS)
fuzz-replay: $(FUZZ_REPLAY)

fuzz:
	@scripts/fuzz.sh build

deps:
	@scripts/deps.sh

# The build under check uses every core (a fresh clone compiles ~150 files).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# deps runs first and alone: the flags above are computed from pkg-config,
# so a fresh machine re-enters make once the packages are there.
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=$(SANITIZE) run-tests

.PHONY: run-tests
run-tests: all $(UNIT_BINS) $(HELPER_BINS) $(FUZZ_REPLAY)
	@scripts/run-tests.sh $(BUILD)

unit: all $(UNIT_BINS)
	@scripts/run-tests.sh $(BUILD) unit

integration: all $(HELPER_BINS) $(FUZZ_REPLAY)
	@scripts/run-tests.sh $(BUILD) integration

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

lint:
	@scripts/lint.sh

# The whole integration suite with every project program under valgrind
# memcheck (scripts/valgrind.sh; slow, so not part of check).
.PHONY: valgrind
valgrind: all $(HELPER_BINS) $(FUZZ_REPLAY)
	@scripts/valgrind.sh $(BUILD)

clean:
	rm -rf build build-san

# make install [PREFIX=/usr/local] [DESTDIR=]: the two programs, the
# headless keyring wrapper (as sealbox-with-keyring), the systemd units
# with their ExecStart rewritten to $(PREFIX)/bin, a sysusers.d entry for
# the relay's user, and the man pages.  Tested by
# tests/integration/install_destdir.sh.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install
UNITS_SED = sed 's|/usr/local/bin/|$(PREFIX)/bin/|g'
.PHONY: install
install: all
	$(INSTALL) -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/user \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	$(INSTALL) -m 0755 $(SEALBOX) $(DESTDIR)$(PREFIX)/bin/sealbox
	$(INSTALL) -m 0755 $(RELAY) $(DESTDIR)$(PREFIX)/bin/sealbox-relay
	$(INSTALL) -m 0755 scripts/with-keyring $(DESTDIR)$(PREFIX)/bin/sealbox-with-keyring
	$(UNITS_SED) scripts/systemd/sealbox-mount@.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/user/sealbox-mount@.service
	$(UNITS_SED) scripts/systemd/sealbox-relay.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/sealbox-relay.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/user/sealbox-mount@.service \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/sealbox-relay.service
	$(INSTALL) -m 0644 scripts/systemd/sealbox-relay.sysusers \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/sealbox-relay.conf
	$(INSTALL) -m 0644 docs/man/sealbox.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	$(INSTALL) -m 0644 docs/man/sealbox-relay.8 $(DESTDIR)$(PREFIX)/share/man/man8/

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make bench (docs/BENCHMARKS.md): an optimised build in build-bench/, then
# scripts/bench.sh.  bench/ is no module: each bench/bench_*.c is one program
# linked with every module.  Not part of `make check`.
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
$(BENCH_BINS): $(BUILD)/bench/%: bench/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LINK_LIBS)

.PHONY: bench-bins
bench-bins: all $(BENCH_BINS) $(HELPER_BINS)

bench: deps
	@$(MAKE) --no-print-directory BUILD=build-bench SANITIZE= OPT='-O2 -g' bench-bins
	@scripts/bench.sh build-bench
