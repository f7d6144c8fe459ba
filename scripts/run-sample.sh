#!/usr/bin/env bash
# Builds minicpm-patch and patches fresh copies of the bundled sample models in
# build/sample-models/, printing the status table of each.
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh

work=build/sample-models
rm -rf "$work"
mkdir -p "$work"
cp -r fixtures/sample/MiniCPM-o-4_5 fixtures/sample/MiniCPM-o-4_5-awq "$work/"

echo "== minicpm-patch apply $work/MiniCPM-o-4_5"
build/minicpm-patch apply "$work/MiniCPM-o-4_5"
echo
echo "== minicpm-patch apply --assets-from $work/MiniCPM-o-4_5 $work/MiniCPM-o-4_5-awq"
build/minicpm-patch apply --assets-from "$work/MiniCPM-o-4_5" "$work/MiniCPM-o-4_5-awq"
echo
echo "== minicpm-patch verify --deep --assets-from $work/MiniCPM-o-4_5 $work/MiniCPM-o-4_5-awq"
build/minicpm-patch verify --deep --assets-from "$work/MiniCPM-o-4_5" "$work/MiniCPM-o-4_5-awq"
