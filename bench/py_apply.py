"""Apply the AWQ folder's chat() and config.json patches the way a short user script would.

Reference for the benchmark of `minicpm-patch apply --only chat-stream-single-beam --only
chat-stream-return --only awq-modules-not-converted`. It inserts the same two blocks with the
same marker comments into modeling_minicpmo.py by searching lines, and rewrites config.json
with json.dump. Unlike the tool, it keeps no backup, records no state, and checks nothing
about the code around the anchors beyond finding them.

Usage: py_apply.py MODEL_DIR. Exits 0 on success, 1 when an anchor is not found.
"""

import json
import os
import sys

SINGLE_BEAM = [
    "# PATCH: chat-stream-single-beam: stream with one beam; beam search never feeds the streamer",
    "if stream:",
    '    kwargs["num_beams"] = 1',
]
STREAM_RETURN = [
    "# PATCH: chat-stream-return: return the streamer; stream=True has no sequences for TTS",
    "if stream:",
    "    return {target}",
]
MODULES_NOT_CONVERTED = ["vpm", "resampler", "apm", "audio_projection_layer", "audio_avg_pooler",
                         "tts", "llm.model.embed_tokens", "llm.lm_head", "llm.model.norm"]


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def find_line(lines: list, start: int, needle: str) -> int:
    for index in range(start, len(lines)):
        if needle in lines[index]:
            return index
    raise LookupError(f"{needle!r} not found after line {start + 1}")


def patch_modeling(path: str) -> None:
    with open(path, encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines(keepends=True)

    chat = find_line(lines, 0, "    def chat(")
    prepare = find_line(lines, chat, "self.prepare_generation_config(")
    indent = indentation(lines[prepare])
    lines[prepare:prepare] = [indent + text + "\n" for text in SINGLE_BEAM]

    # The block goes after the whole `... = self.generate(...)` statement, at the indentation
    # of the `with` block that contains it, and returns the statement's first target.
    call = find_line(lines, prepare + len(SINGLE_BEAM), "self.generate(")
    depth = 0
    end = call
    for end in range(call, len(lines)):
        depth += lines[end].count("(") - lines[end].count(")")
        if depth <= 0:
            break
    call_indent = indentation(lines[call])
    block = call
    while block > 0 and len(indentation(lines[block])) >= len(call_indent):
        block -= 1
    target = lines[call].split("=", 1)[0].split(",")[0].strip()
    outer = indentation(lines[block])
    lines[end + 1 : end + 1] = [outer + text.format(target=target) + "\n" for text in STREAM_RETURN]

    write_atomically(path, "".join(lines))


def patch_config(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    config = json.loads(text)
    config["quantization_config"]["modules_to_not_convert"] = MODULES_NOT_CONVERTED
    output = json.dumps(config, indent=2, ensure_ascii=False)
    write_atomically(path, output + ("\n" if text.endswith("\n") else ""))


def write_atomically(path: str, text: str) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(temporary, path)


def main() -> int:
    model_dir = sys.argv[1]
    try:
        patch_modeling(os.path.join(model_dir, "modeling_minicpmo.py"))
    except LookupError as error:
        print(f"py_apply: modeling_minicpmo.py: {error}", file=sys.stderr)
        return 1
    patch_config(os.path.join(model_dir, "config.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
