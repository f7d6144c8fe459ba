"""Build the benchmark's model folders once and reuse them from a cache folder.

The cache holds, for each scale (see SCALES):

    <cache>/<scale>/inputs/MiniCPM-o-4_5/      BF16 folder with assets/
    <cache>/<scale>/inputs/MiniCPM-o-4_5-awq/  unpatched AWQ folder, no assets/
    <cache>/<scale>/assets.json                manifest of the generated assets

At full scale both folders get a modeling_minicpmo.py of about 210 KiB: the sample fixture
padded with generated methods and classes outside MiniCPMO.chat(). The assets are random
bytes with roughly the sizes of the real MiniCPM-o 4.5 files (about 1.2 GB in all).
"""

import ast
import json
import os
import random
import shutil
import string
import struct
from dataclasses import dataclass
from pathlib import Path

# Bump when the generated files change, so that old caches are rebuilt.
GENERATOR_VERSION = 1

MODELING_SEED = 45

# Approximate sizes of the files under assets/ of openbmb/MiniCPM-o-4_5, in bytes. The WAV
# sizes include the 44-byte header. flow.yaml is text and keeps at least a few lines.
FULL_ASSET_SIZES = {
    "ref_voice_female.wav": 44 + 441_000,
    "ref_voice_male.wav": 44 + 352_000,
    "token2wav/campplus.onnx": 28_000_000,
    "token2wav/flow.pt": 620_000_000,
    "token2wav/flow.yaml": 1_000,
    "token2wav/hift.pt": 83_000_000,
    "token2wav/speech_tokenizer_v2_25hz.onnx": 500_000_000,
}
WAV_HEADER_BYTES = 44
MIN_YAML_BYTES = 120

BF16_NAME = "MiniCPM-o-4_5"
AWQ_NAME = "MiniCPM-o-4_5-awq"
MODEL_FILES = ("config.json", "configuration_minicpm.py", "modeling_minicpmo.py")
WRITE_CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class Scale:
    """Sizes of one set of inputs."""

    name: str
    modeling_bytes: int  # Target size of modeling_minicpmo.py; 0 keeps the sample's size.
    asset_divisor: int  # Every asset size is divided by this.


# "tiny" is for CI. "small-assets" differs from "full" only in the assets' size, for the
# comparison of apply's peak memory.
SCALES = {
    "full": Scale("full", 210 * 1024, 1),
    "tiny": Scale("tiny", 0, 1000),
    "small-assets": Scale("small-assets", 210 * 1024, 1000),
}


class InputError(Exception):
    """An input cannot be built: a sample file is missing or the disk is too small."""


@dataclass
class InputSet:
    """Paths and sizes of one scale's cached inputs."""

    scale: str
    root: Path
    bf16_dir: Path
    awq_dir: Path
    asset_sizes: dict

    @property
    def assets_bytes(self) -> int:
        return sum(self.asset_sizes.values())

    def asset_paths(self, model_dir: Path) -> list:
        return [model_dir / "assets" / relative for relative in sorted(self.asset_sizes)]


def asset_sizes_for(scale: Scale) -> dict:
    divisor = scale.asset_divisor
    sizes = {}
    for relative, size in FULL_ASSET_SIZES.items():
        scaled = size // divisor
        if relative.endswith(".wav"):
            scaled = WAV_HEADER_BYTES + (size - WAV_HEADER_BYTES) // divisor
        if relative.endswith(".yaml"):
            scaled = max(scaled, MIN_YAML_BYTES)
        sizes[relative] = scaled
    return sizes


# ---------------------------------------------------------------------------------------------
# modeling_minicpmo.py padding

VERBS = ["merge", "split", "normalize", "pool", "project", "pad", "trim", "encode", "collect",
         "build", "cache", "select", "gather", "scale", "mask", "align", "chunk", "flatten"]
NOUNS = ["audio_chunks", "vision_tokens", "slice_images", "speech_tokens", "position_ids",
         "attention_mask", "tts_hidden", "spk_embeds", "text_segments", "mel_features",
         "past_key_values", "image_bounds"]
CLASS_PREFIXES = ["Audio", "Vision", "Speech", "Text", "Slice", "Token", "Mel", "Speaker"]
CLASS_SUFFIXES = ["ChunkEncoder", "FeatureMixer", "StreamBuffer", "GatedBlock", "PosEmbedding",
                  "CrossAttnPool"]

# Method bodies, indented for a class body. string.Template keeps the braces of the generated
# dicts and f-strings literal.
METHOD_TEMPLATES = [
    '''
    def $name(self, chunks, lengths=None, drop_last=False):
        """Concatenate the $noun chunks along the time axis, dropping padded frames."""
        if not chunks:
            return None
        if lengths is None:
            lengths = [chunk.shape[1] for chunk in chunks]
        trimmed = [chunk[:, :length] for chunk, length in zip(chunks, lengths)]
        merged = torch.cat(trimmed, dim=1)
        if drop_last and merged.shape[1] > $k:
            merged = merged[:, :-$k]
        return merged
''',
    '''
    def $name(self, hidden, mask=None, eps=$eps):
        # Masked positions count toward neither the mean nor the variance of the $noun.
        if mask is None:
            mask = torch.ones(hidden.shape[:-1], dtype=torch.bool, device=hidden.device)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        count = weights.sum(dim=$axis, keepdim=True).clamp(min=1.0)
        mean = (hidden * weights).sum(dim=$axis, keepdim=True) / count
        var = ((hidden - mean) ** 2 * weights).sum(dim=$axis, keepdim=True) / count
        normed = (hidden - mean) / torch.sqrt(var + eps)
        logger.debug("normalized %s $noun rows of width %d", hidden.shape[0], hidden.shape[-1])
        return normed * weights
''',
    '''
    def $name(self, batch_size, device=None, **overrides):
        """Build the default $noun settings for a batch, then apply the overrides."""
        settings = {
            "batch_size": batch_size,
            "max_length": getattr(self.config, "max_${noun}_length", $dim),
            "chunk_size": $k,
            "device": device or self.device,
        }
        for key, value in overrides.items():
            if key not in settings:
                raise KeyError(f"unknown $noun setting {key!r}; expected one of {sorted(settings)}")
            settings[key] = value
        return settings
''',
    '''
    def $name(self, sequence, window=$dim, stride=None):
        """Split the $noun into windows of `window` steps that overlap by window - stride."""
        stride = stride or window // 2
        if sequence.shape[0] <= window:
            return [sequence]
        windows = []
        start = 0
        while start < sequence.shape[0]:
            end = min(start + window, sequence.shape[0])
            windows.append(sequence[start:end])
            if end == sequence.shape[0]:
                break
            start += stride
        return windows
''',
    '''
    def $name(self, key, compute, refresh=False):
        # Each model instance keeps its own $noun cache of at most $k entries.
        cache = self.__dict__.setdefault("_${noun}_cache", {})
        if refresh or key not in cache:
            try:
                cache[key] = compute()
            except (RuntimeError, ValueError) as error:
                logger.warning("could not compute $noun for %s: %s", key, error)
                return None
            if len(cache) > $k:
                oldest = next(iter(cache))
                del cache[oldest]
        return cache[key]
''',
    '''
    @torch.inference_mode()
    def $name(self, input_ids, tokenizer, max_new_tokens=$dim, **kwargs):
        """Greedy-decode a short $noun continuation for the examples (chat() does not call it)."""
        generation_config = self.prepare_generation_config(do_sample=False, max_new_tokens=max_new_tokens)
        attention_mask = torch.ones_like(input_ids)
        outputs = self.llm.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,  # (batch, seq) of ones: no padding (here)
            pad_token_id=tokenizer.pad_token_id,
            **generation_config,
            **kwargs,
        )
        return tokenizer.batch_decode(outputs[:, input_ids.shape[1]:], skip_special_tokens=True)
''',
    '''
    def $name(self, lengths, max_length=None):
        """Return a boolean mask that is True on the real $noun positions."""

        def to_tensor(values):
            if isinstance(values, torch.Tensor):
                return values.long()
            return torch.tensor(list(values), dtype=torch.long)

        lengths = to_tensor(lengths)
        if max_length is None:
            max_length = int(lengths.max().item()) if lengths.numel() else 0
        positions = torch.arange(max_length, device=lengths.device)
        return positions.unsqueeze(0) < lengths.unsqueeze(1)
''',
    '''
    def $name(self, text, placeholder="<$noun>"):
        # Drop each bracketed span such as "(<$noun> 3)" from the text; an unmatched ")" stays.
        pieces = []
        depth = 0
        for char in text:
            if char == "(":
                depth += 1
                continue
            if char == ")" and depth > 0:
                depth -= 1
                continue
            if depth == 0:
                pieces.append(char)
        cleaned = "".join(pieces).strip()
        return cleaned or placeholder
''',
]

CLASS_TEMPLATE = '''

class $name(nn.Module):
    """Residual MLP stack for the $noun, $layers layers of width $dim."""

    def __init__(self, hidden_size=$dim, num_layers=$layers, dropout=0.$drop):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(hidden_size, hidden_size) for _ in range(num_layers)])
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden):
        for layer in self.layers:
            hidden = hidden + self.dropout(F.gelu(layer(hidden)))
        return self.norm(hidden)
'''


class CodeGenerator:
    """Plausible, unique, deterministic methods and classes for the padding."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.method_names = [(verb, noun) for verb in VERBS for noun in NOUNS]
        self.rng.shuffle(self.method_names)
        self.class_names = [prefix + suffix for prefix in CLASS_PREFIXES for suffix in CLASS_SUFFIXES]
        self.rng.shuffle(self.class_names)
        self.used = 0
        self.classes_used = 0

    def _next_method_name(self) -> tuple:
        """Return the next unused method name and the noun it is about."""
        verb, noun = self.method_names[self.used % len(self.method_names)]
        round_number = self.used // len(self.method_names)
        self.used += 1
        suffix = "" if round_number == 0 else f"_v{round_number + 1}"
        return f"_{verb}_{noun}{suffix}", noun

    def _next_class_name(self) -> str:
        base = self.class_names[self.classes_used % len(self.class_names)]
        round_number = self.classes_used // len(self.class_names)
        self.classes_used += 1
        return base if round_number == 0 else f"{base}V{round_number + 1}"

    def method(self) -> str:
        template = string.Template(self.rng.choice(METHOD_TEMPLATES))
        name, noun = self._next_method_name()
        return template.substitute(
            name=name,
            noun=noun,
            k=self.rng.choice([2, 4, 8, 16, 25, 32]),
            eps=self.rng.choice(["1e-5", "1e-6", "1e-8"]),
            axis=self.rng.choice([1, -2]),
            dim=self.rng.choice([256, 512, 768, 1024, 1152, 4096]),
        )

    def helper_class(self, method_count: int) -> str:
        template = string.Template(CLASS_TEMPLATE)
        name = self._next_class_name()
        text = template.substitute(
            name=name,
            noun=self.rng.choice(NOUNS).replace("_", " "),
            layers=self.rng.choice([2, 3, 4, 6]),
            dim=self.rng.choice([256, 512, 768, 1024]),
            drop=self.rng.choice([0, 1, 2]),
        )
        return text + "".join(self.method() for _ in range(method_count))


def find_chat_region(tree: ast.Module) -> tuple:
    """Return the 1-based lines of class MiniCPMO (start, end) and of its chat() (start, end)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "MiniCPMO":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "chat":
                    chat_start = min([item.lineno] + [d.lineno for d in item.decorator_list])
                    return (node.lineno, node.end_lineno), (chat_start, item.end_lineno)
    raise InputError("the sample modeling_minicpmo.py has no class MiniCPMO with a chat() method")


def pad_modeling_file(text: str, target_bytes: int, seed: int) -> str:
    """Return text padded to about target_bytes with generated code outside MiniCPMO.chat().

    Returns text unchanged when it is not smaller than target_bytes.
    About 30% goes into helper classes before class MiniCPMO, 20% into MiniCPMO methods
    before chat(), 25% into MiniCPMO methods after chat(), and 25% into classes after
    MiniCPMO. The result must parse, and chat() must be unchanged.
    """
    padding = target_bytes - len(text.encode("utf-8"))
    if padding <= 0:
        return text
    tree = ast.parse(text)
    (class_start, class_end), (chat_start, chat_end) = find_chat_region(tree)
    lines = text.splitlines(keepends=True)
    chat_text = "".join(lines[chat_start - 1 : chat_end])

    generator = CodeGenerator(seed)

    def fill(share: float, make) -> str:
        budget = int(padding * share)
        parts = []
        size = 0
        while size < budget:
            part = make()
            parts.append(part)
            size += len(part.encode("utf-8"))
        return "".join(parts)

    classes_before = fill(0.30, lambda: generator.helper_class(3))
    methods_before_chat = fill(0.20, generator.method)
    methods_after_chat = fill(0.25, generator.method)
    classes_after = fill(0.25, lambda: generator.helper_class(3))

    before_class = "".join(lines[: class_start - 1])
    class_head = "".join(lines[class_start - 1 : chat_start - 1])
    class_tail = "".join(lines[chat_start - 1 : class_end])
    after_class = "".join(lines[class_end:])
    if not class_tail.endswith("\n"):
        class_tail += "\n"

    padded = (
        before_class.rstrip("\n") + "\n" + classes_before + "\n\n"
        + class_head.rstrip("\n") + "\n" + methods_before_chat + "\n"
        + class_tail + methods_after_chat
        + classes_after + ("\n\n" + after_class.lstrip("\n") if after_class.strip() else "")
    )

    padded_tree = ast.parse(padded)
    _, (new_chat_start, new_chat_end) = find_chat_region(padded_tree)
    new_lines = padded.splitlines(keepends=True)
    if "".join(new_lines[new_chat_start - 1 : new_chat_end]) != chat_text:
        raise InputError("padding modeling_minicpmo.py changed chat(); fix pad_modeling_file()")
    return padded


# ---------------------------------------------------------------------------------------------
# Assets


def write_random_file(path: Path, size: int, prefix: bytes = b"") -> None:
    with open(path, "wb") as handle:
        handle.write(prefix)
        remaining = size - len(prefix)
        while remaining > 0:
            chunk = min(remaining, WRITE_CHUNK_BYTES)
            handle.write(os.urandom(chunk))
            remaining -= chunk


def wav_header(data_bytes: int, sample_rate: int = 16000) -> bytes:
    """Return the 44-byte RIFF header of a 16-bit mono PCM WAV file."""
    byte_rate = sample_rate * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, byte_rate, 2, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


def yaml_text(size: int) -> bytes:
    """Return YAML of exactly size bytes, shaped like a flow-matching model config."""
    lines = ["# Generated for the MiniCPMPatches benchmark; not a real model config.",
             "sample_rate: 24000", "token_frame_rate: 25", "flow:"]
    index = 0
    while len("\n".join(lines).encode()) < size:
        lines.append(f"  layer_{index}: {{dim: 512, heads: 8, dropout: 0.1}}")
        index += 1
    return "\n".join(lines).encode()[: size - 1] + b"\n"


def write_assets(assets_dir: Path, sizes: dict) -> None:
    for relative, size in sorted(sizes.items()):
        path = assets_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".wav"):
            write_random_file(path, size, wav_header(size - WAV_HEADER_BYTES))
        elif relative.endswith(".yaml"):
            path.write_bytes(yaml_text(size))
        else:
            write_random_file(path, size)


def assets_match(assets_dir: Path, manifest_path: Path, sizes: dict) -> bool:
    """Return whether the cached assets were built by this generator with these sizes."""
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    if manifest != {"generator": GENERATOR_VERSION, "sizes": sizes}:
        return False
    for relative, size in sizes.items():
        path = assets_dir / relative
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def free_bytes(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


# ---------------------------------------------------------------------------------------------
# Model folders


def write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    temporary = path.with_name(path.name + ".partial")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def build_model_files(sample_root: Path, inputs_dir: Path, modeling_bytes: int) -> None:
    """Write both model folders' files: the samples, with the modeling file padded."""
    for name in (BF16_NAME, AWQ_NAME):
        sample_dir = sample_root / name
        target_dir = inputs_dir / name
        target_dir.mkdir(parents=True, exist_ok=True)
        for file_name in MODEL_FILES:
            source = sample_dir / file_name
            if not source.is_file():
                raise InputError(f"{source}: sample file not found; is this a MiniCPMPatches checkout?")
            data = source.read_bytes()
            if file_name == "modeling_minicpmo.py":
                data = pad_modeling_file(data.decode("utf-8"), modeling_bytes,
                                         MODELING_SEED).encode("utf-8")
            write_if_changed(target_dir / file_name, data)


def ensure_inputs(cache_dir: Path, scale: Scale, sample_root: Path, work_bytes: int, log) -> InputSet:
    """Build or reuse the inputs of one scale and return their paths.

    work_bytes is the extra space the benchmark needs beside the inputs (copies of the
    assets); InputError is raised if the file system has less free space than that plus
    any assets still to generate.
    """
    root = cache_dir / scale.name
    inputs_dir = root / "inputs"
    sizes = asset_sizes_for(scale)
    inputs = InputSet(scale.name, root, inputs_dir / BF16_NAME, inputs_dir / AWQ_NAME, sizes)

    build_model_files(sample_root, inputs_dir, scale.modeling_bytes)

    assets_dir = inputs.bf16_dir / "assets"
    manifest_path = root / "assets.json"
    reuse = assets_match(assets_dir, manifest_path, sizes)
    needed = work_bytes + (0 if reuse else inputs.assets_bytes)
    available = free_bytes(root)
    if available < needed:
        hint = "free some space or pass --cache DIR on a larger file system"
        if scale.asset_divisor == 1:
            hint += ", or run with --tiny"
        raise InputError(f"{root}: {available / 1e9:.2f} GB free, the {scale.name} inputs need "
                         f"{needed / 1e9:.2f} GB; {hint}")
    if reuse:
        log(f"reusing the assets of the {scale.name} inputs in {assets_dir} ({inputs.assets_bytes / 1e6:.1f} MB)")
        return inputs

    log(f"generating the assets of the {scale.name} inputs in {assets_dir} ({inputs.assets_bytes / 1e6:.1f} MB "
        f"of random bytes; {available / 1e9:.1f} GB free)")
    manifest_path.unlink(missing_ok=True)
    partial_dir = inputs.bf16_dir / "assets.partial"
    shutil.rmtree(partial_dir, ignore_errors=True)
    shutil.rmtree(assets_dir, ignore_errors=True)
    write_assets(partial_dir, sizes)
    os.replace(partial_dir, assets_dir)
    manifest_path.write_text(json.dumps({"generator": GENERATOR_VERSION, "sizes": sizes}) + "\n")
    return inputs

