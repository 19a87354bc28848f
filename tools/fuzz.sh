#!/usr/bin/env bash
# Builds build-fuzz (Clang, -Dfuzz=true, ASan+UBSan) and runs each libFuzzer harness in
# tests/fuzz on a copy of its seed corpus in build-fuzz/corpus/NAME (the checked-in corpus is
# never written), then prints one line per harness: executions, time, coverage (libFuzzer's
# final cov:), exec/s.
#   tools/fuzz.sh time SECONDS   `make fuzz` (FUZZ_SECONDS, default 60, per harness)
#   tools/fuzz.sh runs N         CI (tools/check.sh): N executions per harness
# A crash stops that harness, leaves the input in build-fuzz/artifacts/ and fails the script.
set -u
cd "$(dirname "$0")/.."
mode=${1:-time}
n=${2:-60}
case $mode in
time) limit=(-max_total_time="$n") ;;
runs) limit=(-runs="$n") ;;
*) echo "usage: tools/fuzz.sh time SECONDS | runs N" >&2; exit 2 ;;
esac
if [ -f build-fuzz/build.ninja ]; then
	CC=clang meson setup --reconfigure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null || exit 1
else
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-fuzz || exit 1
mkdir -p build-fuzz/artifacts build-fuzz/corpus
status=0
summary=""
for h in tests/fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	name=${name#fuzz_}
	corpus=build-fuzz/corpus/$name
	rm -rf "$corpus"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp tests/fuzz/corpus/"$name"/* "$corpus"/
	fi
	# The CPUID parser is also seeded with every real dump the tests use (tests/data), which
	# its corpus directory does not copy.
	if [ "$name" = cpuid_parse ]; then
		cp tests/data/*.cpuid tests/data/firecracker/*.json tests/data/pvm-host/*.txt "$corpus"/
	fi
	log=build-fuzz/fuzz_$name.log
	t0=$(date +%s%N)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		build-fuzz/tests/fuzz/fuzz_"$name" "${limit[@]}" -print_final_stats=1 \
		-artifact_prefix=build-fuzz/artifacts/"$name"- "$corpus" >"$log" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000 + 1))
	# libFuzzer's last status line ("#RUNS DONE cov: C ft: F ...") and its final stats
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	line="$name: ${runs:-?} executions in ${ms} ms, cov: ${cov:-?}"
	[ -n "$runs" ] && line+=", exec/s: $((runs * 1000 / ms))"
	if [ "$rc" -ne 0 ]; then
		status=1
		line="$line: FAILED (exit $rc; $log, input in build-fuzz/artifacts/)"
		grep -E 'ERROR|SUMMARY|round trip|runtime error' "$log" | head -3 >&2
	fi
	summary+="$line"$'\n'
done
printf 'fuzz summary:\n%s' "$summary"
exit "$status"
