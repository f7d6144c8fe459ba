#!/usr/bin/env bash
# Benchmark minicpm-patch against the commands it replaces; see BENCHMARKS.md.
# Usage: run_bench.sh [--tiny] [--runs N] [--tool PATH] [--python PATH] [--cache DIR]
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
  echo "run_bench.sh: error: python3 not found on PATH; the benchmark driver needs Python 3.9 or later" >&2
  exit 2
fi
exec python3 "$bench_dir/run_bench.py" "$@"
