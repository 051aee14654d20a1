#!/usr/bin/python3
"""What `make check` runs: every build and every test, each step with a header, all steps even when
one fails. The last line is `check: N passed, N failed` (`, N skipped` when some were skipped);
exit status 1 when anything failed.

Steps
  build-gcc     make all                                   (a build counts as one check)
  build-clang   make CC=clang B=build/clang all
  unit-asan     make B=build/asan SAN=... unit, then scripts/run-unit.py on build/asan/tests/test_*
  po            make check-po                              (one check per catalog)
  deb           make deb (dpkg-buildpackage -b on a copy of the tree in build/deb, DEB_BUILD_OPTIONS=nocheck,
                then lintian: an error fails it), then tests/test_deb.py on those packages (installed
                into a fresh root with dpkg --root, run from there; then left out of the pytest step)
  pytest        /usr/bin/python3 -m pytest -q tests/       (sandbox and terminal tests, against build/)
  pytest-asan   make B=build/asan SAN=... all, then the same pytest run against build/asan (the client and the
                sandbox under ASan+UBSan; valgrind, install and package tests left to the pytest and deb
                steps): any sanitizer report (build/asan/san-logs/) is a failure of its own
  fuzz-smoke    make B=build build/fuzz/fuzz_NAME..., then each libFuzzer target once over its committed
                seeds (-runs=0: no mutation; seeds as scripts/fuzz.sh picks them)  (one check per target)

Environment: MAKE (default make), JOBS (default: number of CPUs), CHECK_STEPS=a,b (run only those).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAKE = os.environ.get("MAKE", "make")
JOBS = os.environ.get("JOBS", str(os.cpu_count() or 2))
PYTHON = "/usr/bin/python3"
SAN = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
TAIL = 150

totals = {"passed": 0, "failed": 0, "skipped": 0}
summary = []


def header(title):
    print("\n=== %s %s" % (title, "=" * max(3, 90 - len(title))), flush=True)


def run(argv, show="on-failure", env=None):
    """Run argv from the repository root with no stdin. show: "always" streams the output,
    "on-failure" prints its last lines only when it fails. Returns (status, output)."""
    print("$ " + " ".join(argv), flush=True)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen(argv, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=e)
    lines = []
    for raw in p.stdout:
        ln = raw.decode("utf-8", "replace").rstrip("\n")
        lines.append(ln)
        if show == "always":
            print(ln, flush=True)
    rc = p.wait()
    if show == "on-failure" and rc != 0:
        shown = lines[-TAIL:]
        if len(lines) > TAIL:
            print("... (%d lines before)" % (len(lines) - TAIL))
        print("\n".join(shown), flush=True)
    return rc, "\n".join(lines)


def record(step, passed, failed, skipped=0, note=""):
    totals["passed"] += passed
    totals["failed"] += failed
    totals["skipped"] += skipped
    s = "%d passed, %d failed" % (passed, failed)
    if skipped:
        s += ", %d skipped" % skipped
    summary.append((step, s + (" (%s)" % note if note else ""), failed == 0))
    print("--- %s: %s%s" % (step, s, " (%s)" % note if note else ""), flush=True)


def counts(text, prefix=None):
    """Parse the last 'N passed, N failed[, N skipped]' line (optionally 'prefix: ...')."""
    found = None
    for ln in text.splitlines():
        m = re.match(r"^\s*(?:(\w+): )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$", ln)
        if m and (prefix is None or m.group(1) == prefix):
            found = (int(m.group(2)), int(m.group(3)), int(m.group(4) or 0))
    return found


def step_build(name, extra):
    header("%s: make %s all" % (name, " ".join(extra)))
    rc, _ = run([MAKE, "-j" + JOBS] + extra + ["all"])
    record(name, 1 if rc == 0 else 0, 0 if rc == 0 else 1, note="" if rc == 0 else "build failed")


def step_unit():
    name = "unit-asan"
    header("%s: unit tests under ASan+UBSan in build/asan" % name)
    # -k: a unit test that does not build fails alone; the ones that built still run.
    rc, _ = run([MAKE, "-k", "-j" + JOBS, "B=build/asan", "SAN=" + SAN, "unit"])
    build_failed = 1 if rc != 0 else 0
    bins = []
    for src in sorted((ROOT / "tests/unit").glob("test_*.c")):
        b = ROOT / "build/asan/tests" / src.stem
        # Only binaries built from the current source (a failed build leaves the old one behind).
        if b.is_file() and os.access(b, os.X_OK) and b.stat().st_mtime >= src.stat().st_mtime:
            bins.append(str(b.relative_to(ROOT)))
        elif build_failed:
            print("not built: %s" % b.relative_to(ROOT))
    if not bins:
        print("(no unit test binary to run)")
        record(name, 0, build_failed, note="build failed" if build_failed else "")
        return
    rc, out = run([PYTHON, "scripts/run-unit.py"] + bins, show="always",
                  env={"ASAN_OPTIONS": "detect_leaks=1",
                       "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"})
    c = counts(out, "unit")
    if c is None:
        record(name, 0, 1 + build_failed, note="run-unit.py printed no total (exit %d)" % rc)
        return
    p, f, s = c
    if rc != 0 and f == 0:
        f = 1
    record(name, p, f + build_failed, s, note="build failed" if build_failed else "")


PO_PYTEST = "tests/test_po.py"
po_pytest_counted = False


def pytest_summary(out):
    """Counts from pytest's last summary line ('3 passed, 1 failed, 2 skipped in 0.5s'), or None."""
    last = None
    for ln in out.splitlines():
        if re.search(r"\b\d+ (passed|failed|skipped|errors?|xfailed|xpassed|deselected)\b", ln) and \
                re.search(r"\bin [\d.]+s\b", ln):
            last = ln
    if last is None:
        return None
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", last):
        n = int(n)
        if word in ("passed", "xpassed"):
            c["passed"] += n
        elif word in ("failed", "error", "errors"):
            c["failed"] += n
        else:
            c["skipped"] += n
    return c


def step_po():
    """make check-po: msgfmt --check on every catalog (one check each) and, when the Makefile runs
    them there, the catalog tests (tests/test_po.py, then left out of the pytest step)."""
    global po_pytest_counted
    name = "po"
    header("%s: make check-po" % name)
    rc, out = run([MAKE, "check-po"], show="always")
    m = re.search(r"po: (\d+) catalogs checked", out)
    n = int(m.group(1)) if m else 0
    c = pytest_summary(out)
    if c is not None:
        po_pytest_counted = True
        failed = c["failed"] + (1 if rc != 0 and c["failed"] == 0 else 0)
        record(name, n + c["passed"], failed, c["skipped"], note="" if rc == 0 else "make check-po failed")
    elif rc != 0:
        record(name, 0, 1, note="msgfmt --check failed")
    else:
        record(name, n, 0)


DEB_PYTEST = "tests/test_deb.py"
deb_pytest_counted = False


def step_deb():
    """make deb once; its lintian lines shown; tests/test_deb.py on the packages it made."""
    global deb_pytest_counted
    name = "deb"
    header("%s: make deb (dpkg-buildpackage, lintian), then %s on build/deb" % (name, DEB_PYTEST))
    rc, out = run([MAKE, "deb", "DEB_JOBS=" + JOBS])
    print("\n".join(ln for ln in out.splitlines() if ln.startswith("lintian: ")) or "lintian: (no output)",
          flush=True)
    if rc != 0:
        record(name, 0, 1, note="make deb failed")
        return
    deb_pytest_counted = True
    run_pytest(name, PYTEST + [DEB_PYTEST], {"PYTHONDONTWRITEBYTECODE": "1", "RENKEI_DEB_DIR": "build/deb"})


PYTEST = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "--import-mode=importlib", "-rfE"]


def step_pytest():
    name = "pytest"
    header("%s: sandbox and terminal tests against build/" % name)
    argv = list(PYTEST)
    if po_pytest_counted and (ROOT / PO_PYTEST).exists():
        argv.append("--ignore=" + PO_PYTEST)  # already run and counted by make check-po
    if deb_pytest_counted:
        argv.append("--ignore=" + DEB_PYTEST)  # already run and counted by the deb step
    run_pytest(name, argv + ["tests/"], {"PYTHONDONTWRITEBYTECODE": "1"})


def run_pytest(name, argv, env, after=None, what="more failure(s)"):
    """Run pytest and record its counts under name. after(), when given, runs once pytest is done and
    returns further failures found (each counts as one, noted as `what`)."""
    rc, out = run(argv, show="always", env=env)
    extra_failed = len(after()) if after else 0
    note = "%d %s" % (extra_failed, what) if extra_failed else ""
    if rc == 5:  # no tests collected
        record(name, 0, extra_failed, note="no tests collected")
        return
    c = pytest_summary(out)
    if c is None:
        record(name, 0, 1 + extra_failed, note="pytest exit %d and no summary line" % rc)
        return
    if rc != 0 and c["failed"] == 0:
        c["failed"] = 1
    if rc not in (0, 1):
        note = ("%s, " % note if note else "") + "pytest exit %d" % rc
    record(name, c["passed"], c["failed"] + extra_failed, c["skipped"], note=note)


def step_pytest_asan():
    name = "pytest-asan"
    header("%s: sandbox and terminal tests against build/asan (ASan+UBSan)" % name)
    rc, _ = run([MAKE, "-j" + JOBS, "B=build/asan", "SAN=" + SAN, "all"])
    if rc != 0:
        record(name, 0, 1, note="build failed")
        return
    logs = ROOT / "build/asan/san-logs"
    shutil.rmtree(str(logs), ignore_errors=True)
    logs.mkdir(parents=True)
    argv = PYTEST + ["--ignore=" + PO_PYTEST, "--ignore=tests/e2e/test_valgrind.py", "--ignore=tests/test_install.py",
                     "--ignore=" + DEB_PYTEST]
    env = {
        "PYTHONDONTWRITEBYTECODE": "1",
        "RENKEI_BUILD": "build/asan",
        # Reports go to files: a client's stderr is its terminal, gone with tmux. Full stacks on
        # malloc so that tests/lsan.supp can name the libp11 engine's never-freed method tables.
        "ASAN_OPTIONS": "log_path=%s/asan:fast_unwind_on_malloc=0:detect_leaks=1" % logs,
        "LSAN_OPTIONS": "suppressions=%s:print_suppressions=0" % (ROOT / "tests/lsan.supp"),
        "UBSAN_OPTIONS": "log_path=%s/ubsan:print_stacktrace=1:halt_on_error=1" % logs,
    }

    def reports():
        found = [f for f in sorted(logs.iterdir())
                 if re.search(r"ERROR: |runtime error:", f.read_text(encoding="utf-8", errors="replace"))]
        for f in found:
            print("--- sanitizer report %s:" % f.relative_to(ROOT))
            print("\n".join(f.read_text(encoding="utf-8", errors="replace").splitlines()[:80]), flush=True)
        return found

    run_pytest(name, argv + ["tests/"], env, after=reports, what="sanitizer report(s)")


# Seeds of each fuzz target, as scripts/fuzz.sh picks them: tests/fuzz/corpus/NAME/ (NAME without
# "fuzz_") when it exists, plus these.
FUZZ_EXTRA_SEEDS = {
    "fuzz_forms": ["forms"],
    "fuzz_scenario": ["sandbox/scenarios", "tests/sandbox/scenarios"],
}


def step_fuzz_smoke():
    """Every tests/fuzz/fuzz_*.c built (clang, libFuzzer + ASan + UBSan) in build/fuzz and run once
    over its committed seeds, without mutation: a target that no longer builds, or a seed that now
    crashes, leaks or trips UBSan, fails here. New inputs go to a scratch directory, never to the seeds."""
    name = "fuzz-smoke"
    header("%s: fuzz targets in build/fuzz, each over its seed corpus (-runs=0)" % name)
    srcs = sorted((ROOT / "tests/fuzz").glob("fuzz_*.c"))
    if not srcs:
        record(name, 0, 0, note="no fuzz targets")
        return
    bins = ["build/fuzz/" + src.stem for src in srcs]
    # -k: a target that does not build fails alone; the ones that built still run.
    rc, _ = run([MAKE, "-k", "-j" + JOBS, "B=build"] + bins)
    build_failed = 1 if rc != 0 else 0
    passed = failed = 0
    for src, rel in zip(srcs, bins):
        b = ROOT / rel
        n = src.stem
        # Only binaries built from the current source (a failed build leaves the old one behind).
        if not (b.is_file() and os.access(b, os.X_OK) and b.stat().st_mtime >= src.stat().st_mtime):
            print("fuzz-smoke: %-18s FAILED  not built" % n, flush=True)
            failed += 1
            continue
        seeds = [d for d in ["tests/fuzz/corpus/" + n[len("fuzz_"):]] + FUZZ_EXTRA_SEEDS.get(n, [])
                 if (ROOT / d).is_dir()]
        scratch = ROOT / "build/fuzz/smoke" / n
        shutil.rmtree(str(scratch), ignore_errors=True)
        (scratch / "corpus").mkdir(parents=True)
        t0 = time.monotonic()
        frc, out = run([rel, "-runs=0", "-timeout=10", "-rss_limit_mb=2048",
                        "-artifact_prefix=%s/" % scratch.relative_to(ROOT),
                        str((scratch / "corpus").relative_to(ROOT))] + seeds,
                       env={"UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
        m = re.search(r"INFO: seed corpus: files: (\d+)", out)
        files = m.group(1) if m else "0"
        ok = frc == 0 and re.search(r"^Done \d+ runs", out, re.M) is not None
        print("fuzz-smoke: %-18s %s  %s seed files from %s, %.1fs" %
              (n, "ok    " if ok else "FAILED", files, " ".join(seeds) or "(none)", time.monotonic() - t0),
              flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
    record(name, passed, failed + build_failed, note="build failed" if build_failed else "")


STEPS = {
    "build-gcc": lambda: step_build("build-gcc", ["CC=gcc"]),
    "build-clang": lambda: step_build("build-clang", ["CC=clang", "B=build/clang"]),
    "unit-asan": step_unit,
    "po": step_po,
    "deb": step_deb,
    "pytest": step_pytest,
    "pytest-asan": step_pytest_asan,
    "fuzz-smoke": step_fuzz_smoke,
}


def main():
    only = [s for s in os.environ.get("CHECK_STEPS", "").split(",") if s]
    t0 = time.monotonic()
    for key, fn in STEPS.items():
        if only and key not in only:
            continue
        try:
            fn()
        except Exception as e:  # a broken step is a failure, the others still run
            record(key, 0, 1, note="check.py error: %r" % e)
    header("summary (%.0fs)" % (time.monotonic() - t0))
    for step, s, ok in summary:
        print("%-12s %s%s" % (step, s, "" if ok else "   <-- FAILED"))
    closing = "check: %d passed, %d failed" % (totals["passed"], totals["failed"])
    if totals["skipped"]:
        closing += ", %d skipped" % totals["skipped"]
    print(closing, flush=True)
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
