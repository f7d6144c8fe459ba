#!/usr/bin/env python3
"""Smoke-test chat(stream=True) of a MiniCPM-o 4.5 model folder.

The script loads the folder with transformers, streams one text response and checks
that text arrives and the stream ends. A failure names the fault and, where one
applies, the minicpm-patch patch that fixes it. Only TorchRuntime imports torch and
transformers, so every other function runs and is tested without them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import inspect
import json
import os
import queue
import re
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

PROG = "minicpm_chat_smoke.py"

PATCH_STREAM_RETURN = "chat-stream-return"
PATCH_SINGLE_BEAM = "chat-stream-single-beam"

MODELING_FILE = "modeling_minicpmo.py"
CONFIG_FILE = "config.json"

EXIT_PASS = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # argparse exits with 2 on invalid options.
DEFAULT_SKIP_CODE = 77  # The skip code of Automake tests, used with CTest's SKIP_RETURN_CODE.

DEFAULT_PROMPT = "Describe a sunrise over the sea in three sentences."
DEFAULT_MAX_NEW_TOKENS = 128
DEFAULT_FIRST_TOKEN_TIMEOUT = 120.0
DEFAULT_NEXT_TOKEN_TIMEOUT = 60.0

STATUS_PASS = "pass"
STATUS_FAIL = "fail"
STATUS_SKIP = "skip"

# Values of Failure.fault, also printed in the JSON output.
FAULT_INVALID_INPUT = "invalid-input"
FAULT_HUB_AUTO_MAP = "hub-auto-map"
FAULT_NO_WEIGHTS = "no-weights"
FAULT_LOAD_ERROR = "load-error"
FAULT_MODULE_SOURCE_UNKNOWN = "module-source-unknown"
FAULT_STALE_MODULE = "stale-module"
FAULT_STREAM_FALL_THROUGH = "stream-fall-through"
FAULT_NO_FIRST_TOKEN = "no-first-token"
FAULT_GENERATION_THREAD_ERROR = "generation-thread-error"
FAULT_STREAM_STALLED = "stream-stalled"
FAULT_NOT_A_STREAM = "not-a-stream"
FAULT_INVALID_CHUNK = "invalid-chunk"
FAULT_EMPTY_OUTPUT = "empty-output"
FAULT_CHAT_ERROR = "chat-error"


# ---------------------------------------------------------------------------
# Results


@dataclasses.dataclass
class Failure:
    """A failed check: a fault id, a message for the user and the patch that fixes it."""

    fault: str
    message: str
    patch: Optional[str] = None
    details: Optional[str] = None


@dataclasses.dataclass
class ThreadException:
    """An exception that ended a thread other than the one running the smoke test."""

    thread_name: str
    type_name: str
    message: str
    traceback_text: str

    def describe(self) -> str:
        return f"{self.type_name}: {self.message} (in thread {self.thread_name!r})"


@dataclasses.dataclass
class SmokeResult:
    """Outcome of one smoke run, with the figures measured so far."""

    status: str
    model_dir: str
    failure: Optional[Failure] = None
    skip_reason: Optional[str] = None
    figures: Dict[str, Any] = dataclasses.field(default_factory=dict)
    text: Optional[str] = None
    thread_exceptions: List[ThreadException] = dataclasses.field(default_factory=list)

    def to_json_object(self, exit_code: int) -> Dict[str, Any]:
        failure = self.failure
        return {
            "status": self.status,
            "exit_code": exit_code,
            "model_dir": self.model_dir,
            "fault": failure.fault if failure else None,
            "patch": failure.patch if failure else None,
            "message": failure.message if failure else self.skip_reason,
            "details": failure.details if failure else None,
            "figures": self.figures,
            "text": self.text,
            "thread_exceptions": [dataclasses.asdict(item) for item in self.thread_exceptions],
        }


def exit_code_for(result: SmokeResult, skip_code: int = DEFAULT_SKIP_CODE) -> int:
    """Map a result status to the process exit code."""
    if result.status == STATUS_PASS:
        return EXIT_PASS
    if result.status == STATUS_SKIP:
        return skip_code
    return EXIT_FAILURE


# ---------------------------------------------------------------------------
# Model folder checks that need no torch


class InvalidModelFolder(Exception):
    """The model folder or one of its files is missing or unreadable."""


def read_model_config(model_dir: Path) -> Dict[str, Any]:
    """Validate the model folder and return its parsed config.json.

    Raises InvalidModelFolder, naming the path and what was expected, when the folder,
    config.json or modeling_minicpmo.py is missing or config.json is not a JSON object.
    """
    if not model_dir.exists():
        raise InvalidModelFolder(
            f"{model_dir}: model folder not found, expected a downloaded MiniCPM-o 4.5 folder"
        )
    if not model_dir.is_dir():
        raise InvalidModelFolder(
            f"{model_dir}: not a folder, expected a downloaded MiniCPM-o 4.5 folder"
        )

    modeling_path = model_dir / MODELING_FILE
    if not modeling_path.is_file():
        raise InvalidModelFolder(
            f"{modeling_path}: file not found, expected the model's remote code, "
            "which minicpm-patch edits"
        )

    config_path = model_dir / CONFIG_FILE
    if not config_path.is_file():
        raise InvalidModelFolder(f"{config_path}: file not found, expected the model's config")
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidModelFolder(f"{config_path}: cannot read the file: {error}") from error
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidModelFolder(
            f"{config_path}:{error.lineno}: invalid JSON ({error.msg}), expected a JSON object"
        ) from error
    if not isinstance(config, dict):
        raise InvalidModelFolder(
            f"{config_path}: top-level value is a {type(config).__name__}, "
            "expected a JSON object"
        )
    return config


def is_awq_config(config: Mapping[str, Any]) -> bool:
    """Return whether config.json declares AWQ quantization."""
    quantization = config.get("quantization_config")
    if not isinstance(quantization, dict):
        return False
    method = quantization.get("quant_method")
    return isinstance(method, str) and method.lower() == "awq"


def find_hub_auto_map_entries(config: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """Return the auto_map entries that name a Hub repository, as (key, value) pairs.

    transformers reads a class reference of the form "org/repo--module.Class" as code
    to fetch from the Hub repository org/repo. Values may be strings or lists of
    strings and nulls, as for AutoTokenizer.
    """
    auto_map = config.get("auto_map")
    if not isinstance(auto_map, dict):
        return []

    entries = []
    for key, value in auto_map.items():
        references = value if isinstance(value, list) else [value]
        for reference in references:
            if isinstance(reference, str) and "--" in reference:
                entries.append((str(key), reference))
    return entries


def check_auto_map(config: Mapping[str, Any], config_path: Path) -> Optional[Failure]:
    """Fail when config.json makes transformers load model code from the Hub."""
    entries = find_hub_auto_map_entries(config)
    if not entries:
        return None

    listed = ", ".join(f"{key} = {value!r}" for key, value in entries)
    prefixes = sorted({value.split("--", 1)[0] + "--" for _, value in entries})
    message = (
        f"{config_path}: auto_map names Hub code ({listed}). transformers loads that code "
        f"from the Hub and ignores the patched {MODELING_FILE} in the model folder, so "
        "this run would not test the patches. Remove the prefix "
        + " and ".join(repr(prefix) for prefix in prefixes)
        + " from these auto_map values."
    )
    return Failure(fault=FAULT_HUB_AUTO_MAP, message=message)


def find_weight_files(model_dir: Path) -> List[Path]:
    """Return the top-level weight files (*.safetensors, *.bin) of the model folder."""
    found = []
    for pattern in ("*.safetensors", "*.bin"):
        found.extend(sorted(model_dir.glob(pattern)))
    return found


# ---------------------------------------------------------------------------
# Module source check


def modules_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Return the folder where transformers copies remote code modules.

    transformers uses $HF_MODULES_CACHE, else $HF_HOME/modules. HF_HOME defaults to
    $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface, as the huggingface_hub
    documentation of its environment variables states.
    """
    if environ.get("HF_MODULES_CACHE"):
        return Path(environ["HF_MODULES_CACHE"]).expanduser()
    if environ.get("HF_HOME"):
        hf_home = Path(environ["HF_HOME"]).expanduser()
    elif environ.get("XDG_CACHE_HOME"):
        hf_home = Path(environ["XDG_CACHE_HOME"]).expanduser() / "huggingface"
    else:
        hf_home = Path.home() / ".cache" / "huggingface"
    return hf_home / "modules"


def stale_module_folder(module_file: Path) -> Optional[Path]:
    """Return the transformers_modules/<name> folder that contains module_file, if any.

    Newer transformers versions add a content-hash folder below <name>. Deleting
    <name> removes every copy of that model's code.
    """
    parts = module_file.parts
    if "transformers_modules" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("transformers_modules")
    if index + 2 >= len(parts):
        return None
    return Path(*parts[: index + 2])


def find_class_source_file(cls: type) -> Optional[Path]:
    """Return the source file of the module that defines cls, or None."""
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if path is None:
        module = sys.modules.get(cls.__module__)
        path = getattr(module, "__file__", None)
    return Path(path) if path else None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_module_source(
    model_class_file: Optional[Path],
    model_dir: Path,
    environ: Mapping[str, str] = os.environ,
) -> Optional[Failure]:
    """Fail unless the model class was imported from a copy of <model_dir>/modeling_minicpmo.py.

    transformers imports remote code from a copy in its modules cache, not from the
    model folder. When the copy's bytes differ from the folder's file, the patches
    under test are not the code that runs.
    """
    expected = model_dir / MODELING_FILE
    if model_class_file is None:
        return Failure(
            fault=FAULT_MODULE_SOURCE_UNKNOWN,
            message=(
                "cannot find the source file of the model class, so the run cannot "
                f"confirm that transformers imported {expected}"
            ),
        )

    try:
        loaded_hash = sha256_of(model_class_file)
    except OSError as error:
        return Failure(
            fault=FAULT_MODULE_SOURCE_UNKNOWN,
            message=f"{model_class_file}: cannot read the imported model code: {error}",
        )
    try:
        expected_hash = sha256_of(expected)
    except OSError as error:
        return Failure(
            fault=FAULT_MODULE_SOURCE_UNKNOWN,
            message=f"{expected}: cannot read the model folder's code: {error}",
        )
    if loaded_hash == expected_hash:
        return None

    folder = stale_module_folder(model_class_file)
    if folder is not None:
        next_step = (
            f"Delete the folder {folder} and run again, so that transformers copies "
            "the current file from the model folder."
        )
    else:
        next_step = (
            f"Delete or replace {model_class_file}. transformers normally imports remote "
            f"code from its modules cache, {modules_cache_dir(environ)}."
        )
    message = (
        f"stale model code: transformers imported the model class from {model_class_file} "
        f"(SHA-256 {loaded_hash[:12]}), which differs from {expected} "
        f"(SHA-256 {expected_hash[:12]}), so the run would not test the patched file. "
        + next_step
    )
    return Failure(fault=FAULT_STALE_MODULE, message=message)


# ---------------------------------------------------------------------------
# Stream reading


@dataclasses.dataclass
class StreamTimeout:
    """No chunk arrived within the timeout.

    phase is "first" while no chunk has arrived yet and "next" afterwards. seconds
    is None when the stream's own timeout expired, whose length is unknown here.
    """

    phase: str
    seconds: Optional[float]
    chunks_received: int

    def describe_wait(self) -> str:
        if self.seconds is None:
            return "before the streamer's own timeout expired"
        return f"within {self.seconds:g} s"


@dataclasses.dataclass
class StreamReading:
    """Chunks read from a stream and how the reading ended.

    Exactly one of ended, timeout and error is set. chunk_times are seconds since
    the reading started.
    """

    chunks: List[Any] = dataclasses.field(default_factory=list)
    chunk_times: List[float] = dataclasses.field(default_factory=list)
    ended: bool = False
    timeout: Optional[StreamTimeout] = None
    error: Optional[BaseException] = None
    elapsed: float = 0.0


def read_stream(
    iterable: Iterable[Any],
    first_timeout: float,
    next_timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> StreamReading:
    """Read every chunk of a stream, giving up when a chunk takes longer than its timeout.

    A daemon thread iterates the stream and passes chunks through a queue, so a
    stream that blocks forever costs only that thread and never blocks process
    exit. The first chunk may take first_timeout seconds and each later chunk
    next_timeout seconds after the previous one. An exception raised by the stream
    is returned in StreamReading.error.
    """
    events: "queue.Queue[Tuple[str, Any, float]]" = queue.Queue()

    def pump() -> None:
        try:
            for chunk in iterable:
                events.put(("chunk", chunk, clock()))
        except BaseException as error:  # The caller gets it in StreamReading.error.
            events.put(("error", error, clock()))
        else:
            events.put(("end", None, clock()))

    started = clock()
    reader = threading.Thread(target=pump, name="smoke-stream-reader", daemon=True)
    reader.start()

    reading = StreamReading()
    while True:
        timeout = next_timeout if reading.chunks else first_timeout
        try:
            kind, value, arrived = events.get(timeout=timeout)
        except queue.Empty:
            phase = "next" if reading.chunks else "first"
            reading.timeout = StreamTimeout(phase, timeout, len(reading.chunks))
            break

        if kind == "chunk":
            reading.chunks.append(value)
            reading.chunk_times.append(arrived - started)
        elif kind == "error":
            reading.error = value
            break
        else:
            reading.ended = True
            break

    reading.elapsed = clock() - started
    return reading


class ThreadExceptionRecorder:
    """Context manager that records exceptions ending other threads.

    MiniCPM-o's remote code runs the language model's generate() in a background
    Thread while chat(stream=True) returns the streamer, so an exception there never
    reaches the caller. While installed as threading.excepthook, the recorder keeps
    each exception for the result instead of the default hook printing it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exceptions: List[ThreadException] = []
        self._previous_hook: Optional[Callable[[Any], Any]] = None

    def __enter__(self) -> "ThreadExceptionRecorder":
        self._previous_hook = threading.excepthook
        threading.excepthook = self._record
        return self

    def __exit__(self, *exc_info: Any) -> None:
        threading.excepthook = self._previous_hook

    def _record(self, args: Any) -> None:
        if args.exc_type is SystemExit:
            return
        text = "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        )
        thread_name = args.thread.name if args.thread is not None else "unknown"
        item = ThreadException(
            thread_name=thread_name,
            type_name=args.exc_type.__name__,
            message=str(args.exc_value),
            traceback_text=text,
        )
        with self._lock:
            self._exceptions.append(item)

    @property
    def exceptions(self) -> List[ThreadException]:
        with self._lock:
            return list(self._exceptions)


# ---------------------------------------------------------------------------
# Diagnosis


def is_beam_search_error(item: ThreadException) -> bool:
    """Return whether a thread exception is transformers' ValueError for a streamer with beams."""
    text = item.message.lower()
    return item.type_name == "ValueError" and "beam" in text


def describe_thread_exceptions(thread_exceptions: List[ThreadException]) -> str:
    return "; ".join(item.describe() for item in thread_exceptions)


def diagnose(
    cause: Any,
    thread_exceptions: List[ThreadException],
    model_dir: str = "MODEL_DIR",
) -> Failure:
    """Name the fault behind a failed stream and the patch that fixes it.

    cause is the exception raised by chat() or by the stream, or a StreamTimeout.
    thread_exceptions are the exceptions recorded from other threads meanwhile.
    """
    apply_hint = f"run minicpm-patch apply {model_dir}"
    status_hint = f"minicpm-patch status {model_dir}"
    thread_text = describe_thread_exceptions(thread_exceptions)
    thread_details = "\n".join(item.traceback_text for item in thread_exceptions) or None

    if isinstance(cause, AttributeError) and "sequences" in str(cause):
        return Failure(
            fault=FAULT_STREAM_FALL_THROUGH,
            patch=PATCH_STREAM_RETURN,
            message=(
                "chat(stream=True) did not return the streamer and went on to the "
                f"post-processing that reads outputs.sequences (AttributeError: {cause}). "
                f"{PATCH_STREAM_RETURN} is missing; {apply_hint}."
            ),
            details="".join(traceback.format_exception(type(cause), cause, cause.__traceback__)),
        )

    if isinstance(cause, ValueError) and "beam" in str(cause).lower():
        # The same rejection, raised in the calling thread when generation is not threaded.
        return Failure(
            fault=FAULT_CHAT_ERROR,
            patch=PATCH_SINGLE_BEAM,
            message=(
                f"chat(stream=True) raised ValueError: {cause}. chat() defaults num_beams "
                f"to 3, which transformers rejects with a streamer. {PATCH_SINGLE_BEAM} "
                f"is missing; {apply_hint}."
            ),
            details="".join(traceback.format_exception(type(cause), cause, cause.__traceback__)),
        )

    if isinstance(cause, StreamTimeout) and cause.phase == "first":
        other_errors = [item for item in thread_exceptions if not is_beam_search_error(item)]
        if thread_exceptions and len(other_errors) == len(thread_exceptions):
            return Failure(
                fault=FAULT_GENERATION_THREAD_ERROR,
                message=(
                    f"no token arrived {cause.describe_wait()} because the generation "
                    f"thread failed: {thread_text}"
                ),
                details=thread_details,
            )
        if thread_exceptions:
            evidence = f"The generation thread raised {thread_text}."
        else:
            evidence = (
                "No exception from another thread was captured. If "
                f"`{status_hint}` shows {PATCH_SINGLE_BEAM} applied, generation may "
                "only be slow: raise --timeout."
            )
        return Failure(
            fault=FAULT_NO_FIRST_TOKEN,
            patch=PATCH_SINGLE_BEAM,
            message=(
                f"no token arrived {cause.describe_wait()}: the generation thread "
                "failed, most likely because chat() defaults num_beams to 3 and "
                "transformers raises ValueError for a streamer with beam search. "
                f"{evidence} {PATCH_SINGLE_BEAM} is missing; {apply_hint}."
            ),
            details=thread_details,
        )

    if isinstance(cause, StreamTimeout):
        message = (
            f"the stream stalled: no chunk arrived {cause.describe_wait()} after "
            f"{cause.chunks_received} chunks. Raise --next-timeout if generation is slow."
        )
        if thread_exceptions:
            message += f" Exceptions in other threads: {thread_text}"
        return Failure(fault=FAULT_STREAM_STALLED, message=message, details=thread_details)

    message = f"chat(stream=True) failed with {type(cause).__name__}: {cause}"
    if thread_exceptions:
        message += f". Exceptions in other threads: {thread_text}"
    message += f". Run `{status_hint}` to see which patches are pending."
    details = None
    if isinstance(cause, BaseException):
        details = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    return Failure(fault=FAULT_CHAT_ERROR, message=message, details=details)


# ---------------------------------------------------------------------------
# The smoke run


@dataclasses.dataclass
class SmokeOptions:
    """Settings of one smoke run. Timeouts are in seconds."""

    model_dir: Path
    prompt: str = DEFAULT_PROMPT
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    first_token_timeout: float = DEFAULT_FIRST_TOKEN_TIMEOUT
    next_token_timeout: float = DEFAULT_NEXT_TOKEN_TIMEOUT
    # Callable that returns the peak GPU memory in bytes, or None when no GPU is in use.
    peak_memory_bytes: Optional[Callable[[], Optional[int]]] = None
    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)


def compute_figures(
    reading: StreamReading, chat_seconds: float, text: str
) -> Dict[str, Any]:
    """Compute the timing figures of a stream reading.

    Time to first token counts from the chat() call. Chunks per second counts the
    chunks after the first over the time between the first and the last chunk, so
    prompt processing does not lower it.
    """
    figures: Dict[str, Any] = {
        "chunks": len(reading.chunks),
        "text_length": len(text),
        "total_seconds": round(chat_seconds + reading.elapsed, 3),
        "time_to_first_token_seconds": None,
        "chunks_per_second": None,
    }
    if reading.chunk_times:
        figures["time_to_first_token_seconds"] = round(chat_seconds + reading.chunk_times[0], 3)
    if len(reading.chunk_times) > 1:
        span = reading.chunk_times[-1] - reading.chunk_times[0]
        if span > 0:
            figures["chunks_per_second"] = round((len(reading.chunk_times) - 1) / span, 2)
    return figures


def run_smoke(model: Any, tokenizer: Any, options: SmokeOptions) -> SmokeResult:
    """Check the model code's source, stream one chat response and return the result.

    The call passes only msgs, tokenizer, stream=True and max_new_tokens, as users
    do, so chat() keeps its own default num_beams.
    """
    model_dir_text = str(options.model_dir)
    result = SmokeResult(status=STATUS_FAIL, model_dir=model_dir_text)

    class_file = find_class_source_file(type(model))
    source_failure = check_module_source(class_file, options.model_dir, options.environ)
    if source_failure is not None:
        result.failure = source_failure
        return result

    msgs = [{"role": "user", "content": [options.prompt]}]
    with ThreadExceptionRecorder() as recorder:
        chat_started = time.monotonic()
        try:
            stream = model.chat(
                msgs=msgs,
                tokenizer=tokenizer,
                stream=True,
                max_new_tokens=options.max_new_tokens,
            )
        except Exception as error:  # Any exception from chat() is the finding to report.
            result.thread_exceptions = recorder.exceptions
            result.failure = diagnose(error, result.thread_exceptions, model_dir_text)
            return result
        chat_seconds = time.monotonic() - chat_started

        not_a_stream = check_stream_type(stream)
        if not_a_stream is not None:
            result.thread_exceptions = recorder.exceptions
            result.failure = not_a_stream
            return result

        reading = read_stream(stream, options.first_token_timeout, options.next_token_timeout)
        result.thread_exceptions = recorder.exceptions

    text_chunks = [chunk for chunk in reading.chunks if isinstance(chunk, str)]
    text = "".join(text_chunks)
    result.text = text
    result.figures = compute_figures(reading, chat_seconds, text)
    if options.peak_memory_bytes is not None:
        result.figures["peak_gpu_memory_bytes"] = options.peak_memory_bytes()

    if len(text_chunks) != len(reading.chunks):
        bad = next(chunk for chunk in reading.chunks if not isinstance(chunk, str))
        result.failure = Failure(
            fault=FAULT_INVALID_CHUNK,
            message=f"the stream yielded a {type(bad).__name__} chunk, expected str",
        )
        return result

    cause: Any = reading.timeout or reading.error
    if isinstance(reading.error, queue.Empty):
        # TextIteratorStreamer raises queue.Empty when its own timeout expires.
        phase = "next" if reading.chunks else "first"
        cause = StreamTimeout(phase, None, len(reading.chunks))
    if cause is not None:
        result.failure = diagnose(cause, result.thread_exceptions, model_dir_text)
        return result

    if not text:
        result.failure = Failure(
            fault=FAULT_EMPTY_OUTPUT,
            message=f"the stream ended after {len(reading.chunks)} chunks without any text",
        )
        return result

    result.status = STATUS_PASS
    return result


def check_stream_type(stream: Any) -> Optional[Failure]:
    """Fail when chat(stream=True) returned something other than an iterator of text."""
    if isinstance(stream, (str, bytes, dict, tuple, list)) or stream is None:
        return Failure(
            fault=FAULT_NOT_A_STREAM,
            message=(
                f"chat(stream=True) returned a {type(stream).__name__}, expected an "
                "iterator of text chunks such as TextIteratorStreamer"
            ),
        )
    if not hasattr(stream, "__iter__"):
        return Failure(
            fault=FAULT_NOT_A_STREAM,
            message=f"chat(stream=True) returned a {type(stream).__name__}, which is not iterable",
        )
    return None


# ---------------------------------------------------------------------------
# torch and transformers


class TorchRuntime:
    """Access to torch and transformers. No other code in this script imports them."""

    def find_skip_reason(self, device: str) -> Optional[str]:
        """Return why the smoke test cannot run here, or None when it can."""
        missing = [
            name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None
        ]
        if missing:
            return (
                " and ".join(missing)
                + (" is" if len(missing) == 1 else " are")
                + f" not installed for {sys.executable}; the smoke test needs both"
            )
        if device == "cpu":
            return None

        import torch

        if not torch.cuda.is_available():
            return "no CUDA device is available; pass --device cpu to run on the CPU"
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        count = torch.cuda.device_count()
        if index >= count:
            return f"CUDA device {index} not found; {count} CUDA devices are available"
        return None

    def load_model(self, model_dir: Path, device: str, awq: bool) -> Tuple[Any, Any]:
        """Load the model folder with transformers and return (model, tokenizer).

        AWQ weights load as float16 and the others as bfloat16.
        """
        import torch
        from transformers import AutoModel, AutoTokenizer

        dtype = torch.float16 if awq else torch.bfloat16
        # The MiniCPM-V 4.5 model card's example loads with attn_implementation="sdpa"
        # and states that eager attention is not supported.
        # NOTE: init_vision, init_audio and init_tts are not passed, so config.json
        # decides which modules load. Whether MiniCPM-o 4.5 text chat needs any of
        # them set, or an init_tts() call, has not been checked on a real model.
        model = AutoModel.from_pretrained(
            str(model_dir),
            trust_remote_code=True,
            local_files_only=True,
            torch_dtype=dtype,
            attn_implementation="sdpa",
        )
        model = model.to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(
            str(model_dir), trust_remote_code=True, local_files_only=True
        )
        return model, tokenizer

    def peak_memory_bytes(self, device: str) -> Optional[int]:
        """Return torch's peak allocated CUDA memory since process start, or None on CPU."""
        if not device.startswith("cuda"):
            return None
        import torch

        return int(torch.cuda.max_memory_allocated(device))


# ---------------------------------------------------------------------------
# Command line


def parse_positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}, expected seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text}, expected seconds above 0")
    return value


def parse_positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value}, expected 1 or more")
    return value


def parse_skip_code(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if not 3 <= value <= 255:
        raise argparse.ArgumentTypeError(
            f"invalid skip code {value}, expected 3-255 because 0, 1 and 2 mean "
            "pass, failure and usage error"
        )
    return value


def parse_device(text: str) -> str:
    if text == "cpu" or re.fullmatch(r"cuda(:[0-9]+)?", text):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid device {text!r}, expected cuda, cuda:N or cpu"
    )


HELP_EPILOG = f"""\
exit codes:
  0    pass: text streamed and the stream ended
  1    failure: invalid model folder or a failed check; the message names the
       fault and, where one applies, the patch that fixes it
  2    usage error: invalid options
  {DEFAULT_SKIP_CODE}   skipped (or the value of --skip-code): torch or transformers is not
       installed, or no CUDA device is present and --device cpu was not given

patches named in failures:
  {PATCH_STREAM_RETURN}       chat(stream=True) raises AttributeError about 'sequences'
  {PATCH_SINGLE_BEAM}  no token arrives because beam search rejected the streamer
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Load a MiniCPM-o 4.5 model folder with transformers, stream one\n"
            "chat(stream=True) answer and check that text arrives and the stream ends."
        ),
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model-dir", required=True, type=Path,
        help="model folder (openbmb/MiniCPM-o-4_5 or openbmb/MiniCPM-o-4_5-awq download)",
    )
    parser.add_argument(
        "--device", default="cuda", type=parse_device,
        help="torch device: cuda, cuda:N or cpu (default: cuda)",
    )
    parser.add_argument(
        "--prompt", default=DEFAULT_PROMPT, metavar="TEXT",
        help="user message sent to chat() (default: a short question)",
    )
    parser.add_argument(
        "--max-new-tokens", default=DEFAULT_MAX_NEW_TOKENS, type=parse_positive_int,
        metavar="N",
        help=f"max_new_tokens passed to chat() (default: {DEFAULT_MAX_NEW_TOKENS})",
    )
    parser.add_argument(
        "--timeout", default=DEFAULT_FIRST_TOKEN_TIMEOUT, type=parse_positive_float,
        metavar="SECONDS",
        help=(
            "maximum wait for the first chunk, counted from the start of reading "
            f"(default: {DEFAULT_FIRST_TOKEN_TIMEOUT:g})"
        ),
    )
    parser.add_argument(
        "--next-timeout", default=DEFAULT_NEXT_TOKEN_TIMEOUT, type=parse_positive_float,
        metavar="SECONDS",
        help=f"maximum wait between two chunks (default: {DEFAULT_NEXT_TOKEN_TIMEOUT:g})",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object with the result and figures instead of text",
    )
    parser.add_argument(
        "--skip-code", default=DEFAULT_SKIP_CODE, type=parse_skip_code, metavar="N",
        help=f"exit code for a skipped run, 3-255 (default: {DEFAULT_SKIP_CODE})",
    )
    return parser


def evaluate(args: argparse.Namespace, runtime: Any) -> SmokeResult:
    """Run every check in order and return the first failure, a skip or a pass."""
    model_dir: Path = args.model_dir
    result = SmokeResult(status=STATUS_FAIL, model_dir=str(model_dir))

    try:
        config = read_model_config(model_dir)
    except InvalidModelFolder as error:
        result.failure = Failure(fault=FAULT_INVALID_INPUT, message=str(error))
        return result

    # auto_map pointing at the Hub defeats the test on any machine, so it is
    # reported before the skip check.
    auto_map_failure = check_auto_map(config, model_dir / CONFIG_FILE)
    if auto_map_failure is not None:
        result.failure = auto_map_failure
        return result

    skip_reason = runtime.find_skip_reason(args.device)
    if skip_reason is not None:
        result.status = STATUS_SKIP
        result.skip_reason = skip_reason
        return result

    if not find_weight_files(model_dir):
        result.failure = Failure(
            fault=FAULT_NO_WEIGHTS,
            message=(
                f"{model_dir}: no *.safetensors or *.bin weight files, expected a "
                "complete model download"
            ),
        )
        return result

    awq = is_awq_config(config)
    try:
        model, tokenizer = runtime.load_model(model_dir, args.device, awq)
    except Exception as error:  # Loading raises many types, and the message is the finding.
        result.failure = Failure(
            fault=FAULT_LOAD_ERROR,
            message=(
                f"loading {model_dir} failed with {type(error).__name__}: {error}. "
                f"Run `minicpm-patch status {model_dir}` to see which patches are pending."
            ),
            details=traceback.format_exc(),
        )
        return result

    options = SmokeOptions(
        model_dir=model_dir,
        prompt=args.prompt,
        max_new_tokens=args.max_new_tokens,
        first_token_timeout=args.timeout,
        next_token_timeout=args.next_timeout,
        peak_memory_bytes=lambda: runtime.peak_memory_bytes(args.device),
    )
    result = run_smoke(model, tokenizer, options)
    result.figures["device"] = args.device
    result.figures["dtype"] = "float16 (AWQ)" if awq else "bfloat16"
    return result


def format_seconds(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_bytes(value: Optional[int]) -> str:
    if value is None:
        return "n/a (no CUDA device in use)"
    return f"{value / 2**30:.2f} GiB ({value} bytes)"


def print_text_report(result: SmokeResult) -> None:
    """Print the result for a person: status line, figures, then details on stderr."""
    if result.status == STATUS_SKIP:
        print(f"{PROG}: SKIP: {result.skip_reason}")
        return

    failure = result.failure
    if failure is not None and failure.fault == FAULT_INVALID_INPUT:
        print(f"{PROG}: error: {failure.message}", file=sys.stderr)
        return

    if failure is None:
        chunks = result.figures.get("chunks")
        print(f"{PROG}: PASS: chat(stream=True) streamed {chunks} chunks and ended")
    else:
        patch = f" [{failure.patch}]" if failure.patch else ""
        print(f"{PROG}: FAIL{patch}: {failure.message}")

    figures = result.figures
    print(f"  model folder: {result.model_dir}")
    if "device" in figures:
        print(f"  device: {figures['device']}, dtype: {figures.get('dtype')}")
    if "chunks" in figures:
        first_token = figures.get("time_to_first_token_seconds")
        print(f"  time to first token: {format_seconds(first_token)}")
        rate = figures.get("chunks_per_second")
        print(f"  chunks per second: {'n/a' if rate is None else rate}")
        print(f"  text length: {figures.get('text_length')} characters")
        if "peak_gpu_memory_bytes" in figures:
            print(f"  peak GPU memory: {format_bytes(figures.get('peak_gpu_memory_bytes'))}")
    if result.text:
        preview = result.text if len(result.text) <= 200 else result.text[:200] + "..."
        print(f"  text: {preview!r}")
    for item in result.thread_exceptions:
        print(f"  exception in another thread: {item.describe()}")

    if failure is not None and failure.details:
        print(failure.details.rstrip(), file=sys.stderr)


def main(argv: Optional[List[str]] = None, runtime: Any = None) -> int:
    """Run the smoke test and return the exit code. Tests pass a stub runtime."""
    args = build_parser().parse_args(argv)
    if runtime is None:
        runtime = TorchRuntime()

    result = evaluate(args, runtime)
    exit_code = exit_code_for(result, args.skip_code)

    if args.json:
        print(json.dumps(result.to_json_object(exit_code), indent=2, ensure_ascii=False))
    else:
        print_text_report(result)
    return exit_code


def exit_process(exit_code: int) -> None:
    """Exit, even when a non-daemon generation thread is still running.

    After a timeout the model's generation Thread may still be alive, and the
    interpreter would wait for it at exit, so the process ends with os._exit then.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    others = [
        thread for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    if others:
        os._exit(exit_code)
    sys.exit(exit_code)


if __name__ == "__main__":
    exit_process(main())
