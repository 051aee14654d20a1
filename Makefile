# renkei: plain make, pkg-config for every library.
#   make            build/renkei and build/renkei-sandbox
#   make check      every test (unit tests under ASan/UBSan, sandbox and terminal tests)
#   make demo       the whole flow for a newcomer
#   make install PREFIX=/usr/local DESTDIR=
#   make bench      speed and memory figures
#   make fuzz       fuzz targets (clang libFuzzer), a short run each

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
B         ?= build
PKG_CONFIG ?= pkg-config
PYTHON    ?= /usr/bin/python3

CLIENT_PKGS  := ncursesw libcurl libcjson libp11 libssl libcrypto
SANDBOX_PKGS := libmicrohttpd gnutls sqlite3 libcjson

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_GNU_SOURCE
OPT      ?= -O2 -g
SAN      ?=
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SAN) -Iinclude -I$(B)/gen -DRENKEI_VERSION=\"$(VERSION)\" \
             -DLOCALEDIR=\"$(PREFIX)/share/locale\" $(CFLAGS)
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

.PHONY: all check unit check-unit check-po check-sandbox check-e2e demo install clean bench fuzz \
        pot golden certs token
all: $(B)/renkei $(B)/renkei-sandbox $(MO)

$(B)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/obj/sandbox/%.o: sandbox/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SANDBOX_CFLAGS) -Isandbox -MMD -MP -c -o $@ $<
$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

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
	$(CC) $(CFLAGS_ALL) $(SANDBOX_CFLAGS) -Isandbox -o $@ $< $(B)/libsandbox.a $(LDFLAGS_ALL) $(SANDBOX_LIBS) $(CMOCKA_LIBS)
$(B)/tests/test_%: tests/unit/test_%.c $(B)/librenkei.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -o $@ $< $(B)/librenkei.a $(LDFLAGS_ALL) $(CLIENT_LIBS) $(CMOCKA_LIBS)

$(B)/locale/%/LC_MESSAGES/renkei.mo: po/%.po
	@mkdir -p $(dir $@)
	msgfmt --check -o $@ $<

unit: $(UNIT_BIN)

# Terminal demo of the forms, not part of all: build/ui-demo [FORM | --all]
$(B)/ui-demo: tests/ui_demo.c $(B)/librenkei.a
	$(CC) $(CFLAGS_ALL) $(CLIENT_CFLAGS) -o $@ $< $(B)/librenkei.a $(LDFLAGS_ALL) $(CLIENT_LIBS)

# libFuzzer target for the forms parser (clang only; run: build/fuzz/fuzz_forms -max_total_time=30)
$(B)/fuzz/fuzz_forms: tests/fuzz/fuzz_forms.c src/forms.c $(B)/gen/forms_data.c include/forms.h
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -o $@ \
	  tests/fuzz/fuzz_forms.c src/forms.c $(B)/gen/forms_data.c

# libFuzzer target for server answers through flow_apply (clang only; run:
# build/fuzz/fuzz_envelope -max_total_time=30)
$(B)/fuzz/fuzz_envelope: tests/fuzz/fuzz_envelope.c src/flow.c src/problem.c src/secret.c include/flow.h
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
	  $(shell $(PKG_CONFIG) --cflags libcjson) -o $@ tests/fuzz/fuzz_envelope.c src/flow.c \
	  src/problem.c src/secret.c $(shell $(PKG_CONFIG) --libs libcjson)

# libFuzzer target for the sandbox's scenario files (clang only; run:
# build/fuzz/fuzz_scenario -max_total_time=60 DIR sandbox/scenarios tests/sandbox/scenarios)
$(B)/fuzz/fuzz_scenario: tests/fuzz/fuzz_scenario.c sandbox/scenario.c sandbox/scenario.h $(B)/gen/scenario_data.c
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isandbox \
	  $(shell $(PKG_CONFIG) --cflags libcjson) -o $@ tests/fuzz/fuzz_scenario.c sandbox/scenario.c \
	  $(B)/gen/scenario_data.c $(shell $(PKG_CONFIG) --libs libcjson)

# Any other tests/fuzz/fuzz_*.c without a rule of its own: linked with both libraries, built for
# fuzzing in $(B)/fuzz/lib (clang, -fsanitize=fuzzer-no-link,address,undefined).
FUZZ_LIB_B := $(B)/fuzz/lib
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c FORCE
	@$(MAKE) --no-print-directory CC=clang B=$(FUZZ_LIB_B) SAN="-fsanitize=fuzzer-no-link,address,undefined" \
	  $(FUZZ_LIB_B)/librenkei.a $(FUZZ_LIB_B)/libsandbox.a
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isandbox -I$(FUZZ_LIB_B)/gen \
	  $(CLIENT_CFLAGS) $(SANDBOX_CFLAGS) -o $@ $< $(FUZZ_LIB_B)/librenkei.a $(FUZZ_LIB_B)/libsandbox.a \
	  $(CLIENT_LIBS) $(SANDBOX_LIBS)
FORCE:

# make fuzz: build every tests/fuzz/fuzz_*.c and run each for FUZZ_TIME seconds on its corpus
# $(B)/fuzz/corpus/NAME, seeded from the directories in FUZZ_SEEDS_NAME; a finding shows the end of
# the log ($(B)/fuzz/NAME.log), saves the input as $(B)/fuzz/NAME-crash-*, and fails make fuzz
# after the other targets ran.
FUZZ_TIME ?= 20
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SEEDS_fuzz_forms    := forms
FUZZ_SEEDS_fuzz_scenario := sandbox/scenarios tests/sandbox/scenarios
fuzz_run = mkdir -p $(B)/fuzz/corpus/$2 && echo "fuzz: $2, $(FUZZ_TIME) s" && \
  if $1 -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(B)/fuzz/$2- $(B)/fuzz/corpus/$2 $(FUZZ_SEEDS_$2) \
     >$(B)/fuzz/$2.log 2>&1; then grep '^Done' $(B)/fuzz/$2.log; \
  else tail -40 $(B)/fuzz/$2.log; echo "fuzz: $2 FAILED (log: $(B)/fuzz/$2.log)"; false; fi
fuzz: $(FUZZ_BIN)
	@st=0; $(foreach f,$(FUZZ_BIN),{ $(call fuzz_run,$(f),$(notdir $(f))); } || st=1;) exit $$st

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
	  --import-mode=importlib tests/e2e/test_golden.py

# Speed and memory figures (sandbox requests and flows, client start-up, RSS, connections); no thresholds.
bench: all
	RENKEI_BUILD=$(B) $(PYTHON) scripts/bench.py

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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/renkei $(B)/renkei-sandbox $(DESTDIR)$(PREFIX)/bin/
	for m in man/*.1; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/ || true; done
	for mo in $(MO); do l=$${mo#$(B)/locale/}; install -d $(DESTDIR)$(PREFIX)/share/locale/$$(dirname $$l); \
	  install -m 644 $$mo $(DESTDIR)$(PREFIX)/share/locale/$$l; done

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
