"""Check a patched MiniCPM-o 4.5 AWQ folder the way a short user script would.

Reference for the benchmark of `minicpm-patch verify`. It runs json.load on config.json and
searches modeling_minicpmo.py for both marker comments. When given the file's copy in the
transformers modules cache, it compares the two. Then it runs stat on every file under the
source's assets/ and on its copy. Like verify without --deep, it reads no asset contents.

Usage: py_verify.py MODEL_DIR BF16_DIR [MODULES_CACHE_COPY_DIR]. Exits 0 when every check
passes, else 1.
"""

import json
import os
import sys

MARKERS = ("# PATCH: chat-stream-single-beam", "# PATCH: chat-stream-return")


def main() -> int:
    model_dir, source_dir = sys.argv[1], sys.argv[2]
    problems = []

    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    modules = config.get("quantization_config", {}).get("modules_to_not_convert")
    if not isinstance(modules, list) or "tts" not in modules:
        problems.append(f"config.json: modules_to_not_convert is {modules!r}, expected a list with 'tts'")

    with open(os.path.join(model_dir, "modeling_minicpmo.py"), encoding="utf-8") as handle:
        text = handle.read()
    for marker in MARKERS:
        if marker not in text:
            problems.append(f"modeling_minicpmo.py: marker {marker!r} not found")
    if len(sys.argv) > 3:
        copy = os.path.join(sys.argv[3], "modeling_minicpmo.py")
        with open(copy, encoding="utf-8") as handle:
            if handle.read() != text:
                problems.append(f"{copy}: stale copy, differs from the patched modeling_minicpmo.py")

    source_assets = os.path.join(source_dir, "assets")
    target_assets = os.path.join(model_dir, "assets")
    for folder, _, files in os.walk(source_assets):
        for name in files:
            source = os.path.join(folder, name)
            target = os.path.join(target_assets, os.path.relpath(source, source_assets))
            try:
                target_size = os.stat(target).st_size
            except FileNotFoundError:
                problems.append(f"{target}: missing")
                continue
            if target_size != os.stat(source).st_size:
                problems.append(f"{target}: size differs from {source}")

    for problem in problems:
        print(f"py_verify: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
