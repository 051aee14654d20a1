#!/usr/bin/python3
"""Run cmocka unit-test binaries and sum up their results.

    scripts/run-unit.py BIN...

Each binary runs with its output captured; a binary with a failure, a crash, a sanitizer report or
a non-zero exit status has its output printed. The last line is `unit: N passed, N failed` (with
`, N skipped` when some were skipped). Exit status 1 on any failure, 0 otherwise.
"""

import os
import re
import signal
import subprocess
import sys
import time

TIMEOUT = int(os.environ.get("RENKEI_UNIT_TIMEOUT", "300"))

RE_RUNNING = re.compile(r"^\[=+\] Running (\d+) test\(s\)\.", re.M)
RE_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
RE_FAILED_N = re.compile(r"^\[  FAILED  \] (\d+) test\(s\), listed below:", re.M)
RE_SKIPPED_N = re.compile(r"^\[  SKIPPED \] (\d+) test\(s\), listed below:", re.M)
RE_OK = re.compile(r"^\[       OK \] (\S+)", re.M)
RE_FAILED_ONE = re.compile(r"^\[  FAILED  \] (?!\d+ test\(s\))(\S+)", re.M)
RE_SKIPPED_ONE = re.compile(r"^\[  SKIPPED \] (?!\d+ test\(s\))(\S+)", re.M)
RE_SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|"
                          r"runtime error:")


def run_one(path):
    """Returns (passed, failed, skipped, problems[list of str], output, seconds)."""
    env = dict(os.environ)
    env["CMOCKA_MESSAGE_OUTPUT"] = "STDOUT"
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    start = time.monotonic()
    try:
        r = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=TIMEOUT)
        out = r.stdout.decode("utf-8", "replace")
        rc = r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        rc = None
    except OSError as e:
        return 0, 1, 0, ["cannot run: %s" % e], "", 0.0
    elapsed = time.monotonic() - start

    announced = sum(int(n) for n in RE_RUNNING.findall(out))
    passed = sum(int(n) for n in RE_PASSED.findall(out))
    failed = sum(int(n) for n in RE_FAILED_N.findall(out))
    skipped = sum(int(n) for n in RE_SKIPPED_N.findall(out))
    summaries = len(RE_PASSED.findall(out))
    groups = len(RE_RUNNING.findall(out))
    problems = []
    failed_names = []
    for name in RE_FAILED_ONE.findall(out):
        if name not in failed_names:
            failed_names.append(name)
    if failed_names:
        problems.append("failed: " + ", ".join(failed_names))

    if summaries < groups or (groups == 0 and rc != 0):
        # Died in the middle of a group (crash, sanitizer abort, timeout): count what was seen.
        oks = len(RE_OK.findall(out))
        skips = len(set(RE_SKIPPED_ONE.findall(out)))
        seen_failed = len(failed_names)
        passed, skipped = oks, skips
        failed = max(seen_failed, 1, announced - oks - skips)
        problems.append("did not finish (%s)" % describe(rc))
    elif rc is None:
        failed = max(failed, 1)
        problems.append("timed out after %ds" % TIMEOUT)
    elif rc != 0 and failed == 0:
        failed = 1
        problems.append("exit status %s with no failed test reported" % describe(rc))
    if RE_SANITIZER.search(out):
        problems.append("sanitizer report")
        if failed == 0:
            failed = 1
    if groups == 0 and rc == 0:
        problems.append("no cmocka output (ran no test)")
        failed = max(failed, 1)
    return passed, failed, skipped, problems, out, elapsed


def describe(rc):
    if rc is None:
        return "timeout"
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "exit %d" % rc


def main(argv):
    bins = argv[1:]
    tp = tf = ts = 0
    for b in bins:
        p, f, s, problems, out, elapsed = run_one(b)
        tp, tf, ts = tp + p, tf + f, ts + s
        name = os.path.basename(b)
        line = "%-32s %3d passed, %d failed" % (name, p, f)
        if s:
            line += ", %d skipped" % s
        line += "  (%.2fs)" % elapsed
        print(line, flush=True)
        if f or problems:
            for pr in problems:
                print("  %s: %s" % (name, pr))
            lines = out.splitlines()
            if len(lines) > 200:
                lines = ["..."] + lines[-200:]
            for ln in lines:
                print("  | " + ln)
            sys.stdout.flush()
    closing = "unit: %d passed, %d failed" % (tp, tf)
    if ts:
        closing += ", %d skipped" % ts
    print(closing, flush=True)
    return 1 if tf else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
