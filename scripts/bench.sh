#!/usr/bin/env bash
# Runs every benchmark in the module and prints the results against Molar's
# performance targets (internal/benchtable/targets.go), PASS or FAIL.
#
#   scripts/bench.sh            everything, as `make bench` runs it
#   scripts/bench.sh -short     skips the 1,000,000-instance query store
#   scripts/bench.sh -bench Query -count 1   any other go test flags
#
# Environment:
#   MOLAR_BENCH_DATA  where benchmark stores live (default: bench-data at
#                     the repository root, gitignored). The query stores are
#                     built on the first run (1M instances take several
#                     minutes) and reused afterwards.
#   MOLAR_BENCH_BINARY  a molar binary to run instead of building
#                     ./cmd/molar, to compare two builds side by side
#                     (internal/benchpeer.MolarBinary)
#   BENCHTIME         go test -benchtime (default 1s)
#   COUNT             go test -count (default 3: the table shows medians,
#                     which the disk-bound results need on a shared VM)
#
# Raw go test output is kept in $MOLAR_BENCH_DATA/bench-raw.txt. The exit
# status is non-zero if a benchmark failed or a target was missed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

export MOLAR_BENCH_DATA=${MOLAR_BENCH_DATA:-$root/bench-data}
mkdir -p "$MOLAR_BENCH_DATA"
raw=$MOLAR_BENCH_DATA/bench-raw.txt

# Packages whose test files declare benchmarks.
pkgs=()
while read -r pkg files; do
	# shellcheck disable=SC2086 # files is a space-separated list
	if [[ -n $files ]] && grep -qs '^func Benchmark' $files; then
		pkgs+=("$pkg")
	fi
done < <(go list -e -f '{{.ImportPath}}{{range .TestGoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$.Dir}}/{{.}}{{end}}' ./...)
if ((${#pkgs[@]} == 0)); then
	echo "bench: no benchmarks found" >&2
	exit 1
fi
echo "bench: ${pkgs[*]}" >&2

# -timeout 0: building the 1M store can outlast go test's default 10m.
status=0
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" -count "${COUNT:-3}" -timeout 0 \
	"$@" "${pkgs[@]}" 2>&1 | tee "$raw" || status=$?

echo
go run ./internal/benchtable <"$raw" || status=$((status ? status : $?))
exit "$status"
