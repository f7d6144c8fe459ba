"""Check a patched MiniCPM-o 4.5 AWQ folder the way a short user script would.

Reference for the benchmark of `minicpm-patch verify`: json.load of config.json, a text
search of modeling_minicpmo.py for both marker comments, and a stat of every file under the
source's assets/ and its copy. It reads no asset contents, like verify without --deep.

Usage: py_verify.py MODEL_DIR BF16_DIR. Exits 0 when every check passes, else 1.
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
