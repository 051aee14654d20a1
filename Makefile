# renkei: plain make, pkg-config for every library.
#   make            build/renkei and build/renkei-sandbox
#   make check      every test (unit tests under ASan/UBSan, sandbox and terminal tests)
#   make demo       the whole flow for a newcomer
#   make install PREFIX=/usr/local DESTDIR=
#   make deb        Debian packages in build/deb/ (dpkg-buildpackage, lintian)
#   make bench      speed and memory figures
#   make fuzz       fuzz targets (clang libFuzzer), a short run each

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
B         ?= build
PKG_CONFIG ?= pkg-config
PYTHON    ?= /usr/bin/python3

CLIENT_PKGS  := ncursesw libcurl libcjson libp11 libssl libcrypto libcrypt
SANDBOX_PKGS := libmicrohttpd gnutls sqlite3 libcjson libcrypt

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_GNU_SOURCE
OPT      ?= -O2 -g
SAN      ?=
# Header directories: the client sees include/; the sandbox (its objects, unit tests and fuzz targets)
# sees only include/neutral/, the headers both sides share (hexdigit.h, embedded.h), so an include of
# client code in sandbox/ fails to build.
NEUTRAL_INC := -Iinclude/neutral
CLIENT_INC  := -Iinclude $(NEUTRAL_INC)
SANDBOX_INC := $(NEUTRAL_INC) -Isandbox
CFLAGS_BASE = $(CSTD) $(WARN) $(OPT) $(SAN) -DRENKEI_VERSION=\"$(VERSION)\" \
             -DLOCALEDIR=\"$(PREFIX)/share/locale\" $(CFLAGS)
CFLAGS_ALL = $(CFLAGS_BASE) $(CLIENT_INC)
CFLAGS_SB  = $(CFLAGS_BASE) $(SANDBOX_INC)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)

CLIENT_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(CLIENT_PKGS))
CLIENT_LIBS    = $(shell $(PKG_CONFIG) --libs $(CLIENT_PKGS))
SANDBOX_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(SANDBOX_PKGS))
SANDBOX_LIBS   = $(shell $(PKG_CONFIG) --libs $(SANDBOX_PKGS)) -lpthread
CMOCKA_LIBS    = $(shell $(PKG_CONFIG) --libs cmocka)

# Client: every src/*.c and src/ui/*.c; main.c is the only one left out of the library.
CLIENT_SRC   := $(filter-out src/main.c,$(wildcard src/*.c src/ui/*.c))
CLIENT_OBJ   := $(CLIENT_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/forms_data.o
# Sandbox: every sandbox/*.c; sandbox/main.c is left out of the library.
SANDBOX_SRC  := $(filter-out sandbox/main.c,$(wildcard sandbox/*.c))
SANDBOX_OBJ  := $(SANDBOX_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/scenario_data.o
FORMS        := $(sort $(wildcard forms/*.form))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
PO           := $(wildcard po/*.po)
MO           := $(PO:po/%.po=$(B)/locale/%/LC_MESSAGES/renkei.mo)
P11SHIM      := $(B)/tests/libp11shim.so

.PHONY: all check unit check-unit check-po check-sandbox check-e2e demo install clean bench fuzz \
        pot golden certs token programs deb
all: $(B)/renkei $(B)/renkei-sandbox $(MO) $(P11SHIM)

$(B)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/obj/sandbox/%.o: sandbox/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SB) $(SANDBOX_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(NEUTRAL_INC) -c -o $@ $<

# Files embedded in the binaries at build time (forms, the demo scenario).
$(B)/embed: scripts/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -o $@ $<
$(B)/gen/forms_data.c: $(B)/embed $(FORMS)
	@mkdir -p $(dir $@)
	$(B)/embed embedded_forms $(FORMS) > $@.tmp && mv $@.tmp $@
$(B)/gen/scenario_data.c: $(B)/embed sandbox/scenarios/demo.json
	@mkdir -p $(dir $@)
	$(B)/embed embedded_scenarios sandbox/scenarios/demo.json > $@.tmp && mv $@.tmp $@

$(B)/librenkei.a: $(CLIENT_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/libsandbox.a: $(SANDBOX_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/renkei: $(B)/obj/src/main.o $(B)/librenkei.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS)
$(B)/renkei-sandbox: $(B)/obj/sandbox/main.o $(B)/libsandbox.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(SANDBOX_LIBS)

# Unit tests: tests/unit/test_sb_*.c link with the sandbox library, the others with the client's.
$(B)/tests/test_sb_%: tests/unit/test_sb_%.c $(B)/libsandbox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SB) $(SANDBOX_CFLAGS) -o $@ $< $(B)/libsandbox.a $(LDFLAGS_ALL) $(SANDBOX_LIBS) $(CMOCKA_LIBS)
$(B)/tests/test_%: tests/unit/test_%.c $(B)/librenkei.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -o $@ $< $(B)/librenkei.a $(LDFLAGS_ALL) $(CLIENT_LIBS) $(CMOCKA_LIBS)

# TEST-ONLY PKCS#11 module for the terminal tests (tests/e2e/test_reader.py): wraps SoftHSM2 and
# simulates a PIN pad reader and the token PIN states SoftHSM2 cannot produce. Part of all because
# make check's pytest step runs against the tree all builds; never installed.
$(P11SHIM): tests/p11shim/shim.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(SAN) -fPIC -shared $(shell $(PKG_CONFIG) --cflags p11-kit-1) $(CFLAGS) \
	  -o $@ $< $(LDFLAGS_ALL) -ldl -lpthread

$(B)/locale/%/LC_MESSAGES/renkei.mo: po/%.po
	@mkdir -p $(dir $@)
	msgfmt --check -o $@ $<

unit: $(UNIT_BIN)

# Terminal demo of the forms, not part of all: build/ui-demo [FORM | --all]
$(B)/ui-demo: tests/ui_demo.c $(B)/librenkei.a
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -o $@ $< $(B)/librenkei.a $(LDFLAGS_ALL) $(CLIENT_LIBS)

# libFuzzer targets: every tests/fuzz/fuzz_*.c, built with clang -fsanitize=fuzzer,address,undefined
# against the library objects compiled for fuzzing in $(B)/fuzz/lib (clang, -fsanitize=fuzzer-no-link,
# address,undefined): fuzz_scenario and fuzz_sb_* link the sandbox's library, the others the client's.
# Run one by hand: build/fuzz/fuzz_forms -max_total_time=30 build/fuzz/corpus/fuzz_forms forms
FUZZ_LIB_B := $(B)/fuzz/lib
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SB    := $(B)/fuzz/fuzz_scenario $(filter $(B)/fuzz/fuzz_sb_%,$(FUZZ_BIN))
fuzz_libs   = $(if $(filter $1,$(FUZZ_SB)),$(FUZZ_LIB_B)/libsandbox.a $(SANDBOX_LIBS),$(FUZZ_LIB_B)/librenkei.a $(CLIENT_LIBS))
fuzz_flags  = $(if $(filter $1,$(FUZZ_SB)),$(SANDBOX_INC) $(SANDBOX_CFLAGS),$(CLIENT_INC) $(CLIENT_CFLAGS))
$(FUZZ_LIB_B)/librenkei.a $(FUZZ_LIB_B)/libsandbox.a &: FORCE
	@$(MAKE) --no-print-directory CC=clang B=$(FUZZ_LIB_B) SAN="-fsanitize=fuzzer-no-link,address,undefined" \
	  $(FUZZ_LIB_B)/librenkei.a $(FUZZ_LIB_B)/libsandbox.a
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_B)/librenkei.a $(FUZZ_LIB_B)/libsandbox.a
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined $(call fuzz_flags,$@) \
	  -o $@ $< $(call fuzz_libs,$@)
FORCE:

# make fuzz [FUZZ_SECONDS=20]: build every fuzz target and run each for FUZZ_SECONDS on its seeds
# (scripts/fuzz.sh: tests/fuzz/corpus/NAME, forms/, the scenario files); one line per target; a
# finding prints the log's end, keeps the input as $(B)/fuzz/fuzz_NAME-crash-*, and fails.
FUZZ_SECONDS ?= 20
fuzz: $(FUZZ_BIN)
	@sh scripts/fuzz.sh $(B)/fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

# --- tests ------------------------------------------------------------------------------------
# Unit tests run in a separate ASan/UBSan build tree; the terminal and sandbox tests use build/.
ASAN_B := $(B)/asan
check:
	@$(PYTHON) scripts/check.py

check-unit: unit
	@$(PYTHON) scripts/run-unit.py $(UNIT_BIN)

# Catalogs: complete, in sync with the sources, msgfmt --check-format clean (tests/test_po.py).
check-po:
	@for p in $(PO); do msgfmt --check --check-format -o /dev/null $$p || exit 1; done
	@$(PYTHON) -m pytest -q -p no:cacheprovider tests/test_po.py
	@echo "po: $(words $(PO)) catalogs checked"

# Regenerate tests/golden/*.txt (every screen, ja and en, captured at 80x24); review the diff.
golden: all
	RENKEI_GOLDEN_UPDATE=1 RENKEI_BUILD=$(B) $(PYTHON) -m pytest -q -p no:cacheprovider \
	  --import-mode=importlib tests/e2e/test_golden.py tests/e2e/test_links.py::test_sato02_lists_both_and_stops_kakeibo

# Speed and memory figures beside their alternatives, as ratios measured in the same run, with the
# targets beside them (scripts/bench.py); no thresholds. `dialog` is installed for the bench only
# (install-deps.sh --bench; without it dialog's rows say so). width and certlogin link librenkei.a;
# flowload (libcurl multi load generator and floor), relay (counting TCP relay with a latency) and
# cursesfloor (bare ncursesw start-up) link only their libraries (cursesfloor-libs: the same
# program with every library renkei links); rusage (wait4 of a program) none.
BENCH_BIN := $(B)/bench/width $(B)/bench/certlogin $(B)/bench/flowload $(B)/bench/relay $(B)/bench/cursesfloor \
             $(B)/bench/rusage $(B)/bench/cursesfloor-libs
bench: all $(BENCH_BIN)
	@sh scripts/install-deps.sh --bench || echo "bench: could not install dialog; its rows are skipped"
	RENKEI_BUILD=$(B) $(PYTHON) scripts/bench.py
$(B)/bench/%: tests/bench/%.c $(B)/librenkei.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -o $@ $< $(B)/librenkei.a $(LDFLAGS_ALL) $(CLIENT_LIBS)
BENCH_CFLAGS = $(CSTD) $(WARN) $(OPT) $(SAN) $(CFLAGS)
$(B)/bench/flowload: tests/bench/flowload.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(shell $(PKG_CONFIG) --cflags libcurl libcjson) -o $@ $< $(LDFLAGS_ALL) \
	  $(shell $(PKG_CONFIG) --libs libcurl libcjson)
$(B)/bench/relay $(B)/bench/rusage: $(B)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(LDFLAGS_ALL)
$(B)/bench/cursesfloor: tests/bench/cursesfloor.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(shell $(PKG_CONFIG) --cflags ncursesw) -o $@ $< $(LDFLAGS_ALL) \
	  $(shell $(PKG_CONFIG) --libs ncursesw)
# the same program loading every library renkei links (what the dynamic loader costs before main)
$(B)/bench/cursesfloor-libs: tests/bench/cursesfloor.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(CLIENT_CFLAGS) -o $@ $< $(LDFLAGS_ALL) -Wl,--no-as-needed $(CLIENT_LIBS)

# Regenerate po/renkei.pot and merge it into every catalog (new or changed msgids come out
# untranslated or fuzzy: translate them, then make check-po).
pot:
	xgettext --from-code=UTF-8 -L C -k_ -kN_ -c'TRANSLATORS:' --package-name=renkei \
	  --package-version=$(VERSION) -f po/POTFILES.in -o po/renkei.pot
	@for p in $(PO); do msgmerge --quiet --update --backup=none --previous $$p po/renkei.pot && \
	  msgattrib --no-obsolete -o $$p $$p || exit 1; done

# --- demo, install ----------------------------------------------------------------------------
demo: all
	sh scripts/demo.sh

# What is installed and packaged: the two programs and the catalogs (not the test-only shim of all).
programs: $(B)/renkei $(B)/renkei-sandbox $(MO)

# Manual pages: man/manN/*.N and man/LANG/manN/*.N, installed under share/man as they are laid out.
MANPAGES := $(sort $(wildcard man/man[1-8]/*.[1-8] man/*/man[1-8]/*.[1-8]))
install: programs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/renkei/forms \
	  $(DESTDIR)$(PREFIX)/share/renkei-sandbox/scenarios
	install -m 755 $(B)/renkei $(B)/renkei-sandbox $(DESTDIR)$(PREFIX)/bin/
	for m in $(MANPAGES); do d=$(DESTDIR)$(PREFIX)/share/$$(dirname $$m); install -d $$d && \
	  install -m 644 $$m $$d/ || exit 1; done
	install -m 644 $(FORMS) $(DESTDIR)$(PREFIX)/share/renkei/forms/
	install -m 644 sandbox/scenarios/demo.json $(DESTDIR)$(PREFIX)/share/renkei-sandbox/scenarios/
	for mo in $(MO); do l=$${mo#$(B)/locale/}; install -d $(DESTDIR)$(PREFIX)/share/locale/$$(dirname $$l); \
	  install -m 644 $$mo $(DESTDIR)$(PREFIX)/share/locale/$$l || exit 1; done

# Debian packages (debian/): dpkg-buildpackage -b on a copy of the tree in $(B)/deb/renkei-$(VERSION)
# (the files git knows or would add, without node_modules/), so nothing is left in the tree; with
# DEB_BUILD_OPTIONS=nocheck (make check runs the tests). Then lintian, which must report no error
# (its output also in $(B)/deb/lintian.txt). The .deb files land in $(B)/deb/. DEB_JOBS: parallel
# jobs of that build.
DEB_B    := $(B)/deb
DEB_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
deb:
	rm -rf $(DEB_B) && mkdir -p $(DEB_B)/renkei-$(VERSION)
	if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git ls-files -z --cached --others --exclude-standard | grep -zvE '(^|/)node_modules/' | \
	    tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(DEB_B)/renkei-$(VERSION); \
	else tar --exclude=./$(B) --exclude=./build -cf - . | tar -xf - -C $(DEB_B)/renkei-$(VERSION); fi
	cd $(DEB_B)/renkei-$(VERSION) && DEB_BUILD_OPTIONS="nocheck parallel=$(DEB_JOBS)" \
	  dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info $(DEB_B)/renkei_$(VERSION)_*.changes > $(DEB_B)/lintian.txt 2>&1; \
	  rc=$$?; sed 's/^/lintian: /' $(DEB_B)/lintian.txt; exit $$rc
	@ls $(DEB_B)/*.deb

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
