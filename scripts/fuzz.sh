#!/bin/sh
# fuzz.sh: run libFuzzer targets for a bounded time each; one result line per target.
#   sh scripts/fuzz.sh OUTDIR SECONDS TARGET...      (make fuzz: OUTDIR=build/fuzz, SECONDS=$FUZZ_SECONDS)
# TARGET is a built libFuzzer binary named fuzz_NAME. Its seeds: tests/fuzz/corpus/NAME/ (if any),
# plus forms/ for fuzz_forms, sandbox/scenarios/ and tests/sandbox/scenarios/ for fuzz_scenario.
# New inputs go to OUTDIR/corpus/fuzz_NAME/, the log to OUTDIR/fuzz_NAME.log, a crashing input to
# OUTDIR/fuzz_NAME-crash-* (or -leak-, -timeout-, -oom-). Up to FUZZ_JOBS targets (default: the
# number of CPUs) run at once. Exit status 1 when any target found something (or did not run).
set -u
if [ $# -lt 3 ]; then
	echo "usage: sh scripts/fuzz.sh OUTDIR SECONDS TARGET..." >&2
	exit 2
fi
out=$1
secs=$2
shift 2
case $secs in '' | *[!0-9]*) echo "fuzz: SECONDS must be a number: $secs" >&2; exit 2 ;; esac
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac
mkdir -p "$out" || exit 1
# UBSan stops at the first finding (clang's -fsanitize=undefined only reports by default)
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS

seeds() { # NAME -> seed directories
	d=tests/fuzz/corpus/${1#fuzz_}
	[ -d "$d" ] && printf '%s\n' "$d"
	case $1 in
	fuzz_forms) printf '%s\n' forms ;;
	fuzz_scenario) printf '%s\n' sandbox/scenarios tests/sandbox/scenarios ;;
	esac
}

pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; exit 130' INT TERM

start() { # BIN: start it in the background; sets pid
	n=$(basename "$1")
	mkdir -p "$out/corpus/$n"
	rm -f "$out/$n.log"
	# shellcheck disable=SC2046 # seed directory names have no spaces
	"$1" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/$n-" "$out/corpus/$n" $(seeds "$n") >"$out/$n.log" 2>&1 &
	pid=$!
}

report() { # BIN STATUS: print the result line; return 1 on a finding
	n=$(basename "$1")
	log=$out/$n.log
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	seeds_n=$(sed -n 's/.*INFO: seed corpus: files: \([0-9]*\).*/\1/p' "$log" | head -1)
	if [ "$2" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
		printf 'fuzz: %-18s ok  %4ss  %10s runs  %7s exec/s  cov %-5s ft %-6s corpus %s (%s files read)  0 crashes\n' \
			"$n" "$secs" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${seeds_n:-?}"
		return 0
	fi
	what=$(grep -m1 -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|ERROR: libFuzzer|deadly signal' "$log" |
		sed 's/^==[0-9]*==//' | cut -c1-120)
	art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
	printf 'fuzz: %-16s FAILED  exit %s: %s\n' "$n" "$2" "${what:-see the log}"
	printf '      input: %s  log: %s\n' "${art:-none}" "$log"
	# the sanitizer's report (its first lines and stack), else the log's end
	if grep -q -E '^==[0-9]+==ERROR|runtime error:' "$log"; then
		sed -n -E '/^==[0-9]+==ERROR|runtime error:/,$p' "$log" | grep -E '^==|runtime error:|^ +#[0-9]+ |^SUMMARY' |
			head -n 16 | cut -c1-160 | sed 's/^/      | /'
	else
		tail -n 24 "$log" | sed 's/^/      | /'
	fi
	return 1
}

status=0
set -- "$@" # targets
while [ $# -gt 0 ]; do
	batch=""
	pids=""
	i=0
	while [ $# -gt 0 ] && [ "$i" -lt "$jobs" ]; do
		if [ ! -x "$1" ]; then
			printf 'fuzz: %-16s FAILED  not built (%s)\n' "$(basename "$1")" "$1"
			status=1
		else
			start "$1"
			batch="$batch $1:$pid"
			pids="$pids $pid"
			i=$((i + 1))
		fi
		shift
	done
	for bp in $batch; do
		b=${bp%:*}
		p=${bp##*:}
		wait "$p"
		st=$?
		report "$b" "$st" || status=1
	done
done
exit $status
