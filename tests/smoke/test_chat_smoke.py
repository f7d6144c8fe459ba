#!/usr/bin/env python3
"""Tests of scripts/minicpm_chat_smoke.py that run on a CPU without torch.

Stub models reproduce each failure of MiniCPM-o 4.5 chat(stream=True). Each stub
class is written as modeling_minicpmo.py into a temporary model folder and imported
from a file, so the module source check reads a real file, as with transformers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "minicpm_chat_smoke.py"


def import_script():
    spec = importlib.util.spec_from_file_location("minicpm_chat_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = import_script()

TORCH_IMPORTABLE = importlib.util.find_spec("torch") is not None

# Text of transformers' ValueError for a streamer with num_beams > 1, reworded.
BEAM_SEARCH_MESSAGE = "`streamer` cannot be used with beam search. Set `num_beams` to 1."

# The stub model's remote code. mode selects the behaviour of chat(stream=True):
#   "fall-through"  raises the AttributeError of the missing chat-stream-return patch;
#   "beam"          defaults num_beams to 3 like the real chat(); with more than one
#                   beam the generation thread raises ValueError and the streamer
#                   never yields, as without chat-stream-single-beam;
#   "patched"       sets num_beams to 1 for stream=True, like the fixed upstream
#                   revision, then streams CHUNKS and ends.
STUB_MODELING_SOURCE = '''\
import queue
import threading

BEAM_SEARCH_MESSAGE = {beam_message!r}
CHUNKS = ["Sun", "rise ", "over ", "the sea."]


class StubStreamer:
    """Queue-backed iterator, like transformers' TextIteratorStreamer without timeout."""

    _END = object()

    def __init__(self):
        self.chunks = queue.Queue()

    def put(self, text):
        self.chunks.put(text)

    def end(self):
        self.chunks.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        value = self.chunks.get()
        if value is self._END:
            raise StopIteration
        return value


class MiniCPMO:
    def __init__(self, mode):
        self.mode = mode
        self.calls = []

    def chat(self, msgs, tokenizer, stream=False, max_new_tokens=2048, **kwargs):
        self.calls.append(dict(kwargs, msgs=msgs, tokenizer=tokenizer, stream=stream,
                               max_new_tokens=max_new_tokens))
        if self.mode == "fall-through":
            outputs = {{}}
            return outputs.sequences[0]

        if stream and self.mode == "patched":
            kwargs["num_beams"] = 1
        num_beams = kwargs.get("num_beams", 3)
        streamer = StubStreamer()

        def generate():
            if stream and num_beams > 1:
                raise ValueError(BEAM_SEARCH_MESSAGE)
            for chunk in CHUNKS:
                streamer.put(chunk)
            streamer.end()

        threading.Thread(target=generate, name="stub-generate").start()
        return streamer
'''.format(beam_message=BEAM_SEARCH_MESSAGE)

MINIMAL_CONFIG = {"architectures": ["MiniCPMO"], "model_type": "minicpmo"}
CACHED_COPY = "modules/transformers_modules/MiniCPM-o-4_5/modeling_minicpmo.py"
HUB_MODEL_REFERENCE = "openbmb/MiniCPM-o-4_5--modeling_minicpmo.MiniCPMO"
HUB_TOKENIZER_REFERENCE = "openbmb/MiniCPM-o-4_5--tokenization.Fast"


def write_model_folder(folder: Path, config=None, modeling_source=STUB_MODELING_SOURCE):
    folder.mkdir(parents=True, exist_ok=True)
    config_text = json.dumps(MINIMAL_CONFIG if config is None else config, indent=2)
    (folder / "config.json").write_text(config_text + "\n", encoding="utf-8")
    (folder / "modeling_minicpmo.py").write_text(modeling_source, encoding="utf-8")
    return folder


class StubRuntime:
    """Stand-in for TorchRuntime that loads a stub model from a module file."""

    def __init__(self, test, mode="patched", skip_reason=None, module_file=None):
        self.test = test
        self.mode = mode
        self.skip_reason = skip_reason
        self.module_file = module_file
        self.loaded = []

    def find_skip_reason(self, device):
        return self.skip_reason

    def load_model(self, model_dir, device, awq):
        self.loaded.append((model_dir, device, awq))
        module_file = self.module_file or (model_dir / "modeling_minicpmo.py")
        module = self.test.import_stub_module(module_file)
        return module.MiniCPMO(self.mode), object()

    def peak_memory_bytes(self, device):
        return 123456789


class SmokeTestCase(unittest.TestCase):
    """Base class with a temporary folder and stub-module import helpers."""

    def setUp(self):
        self._temp = tempfile.TemporaryDirectory()
        self.temp = Path(self._temp.name)
        self.model_dir = write_model_folder(self.temp / "MiniCPM-o-4_5")
        self._module_names = []

    def tearDown(self):
        for name in self._module_names:
            sys.modules.pop(name, None)
        self._temp.cleanup()

    def import_stub_module(self, path: Path):
        name = f"stub_modeling_{id(self)}_{len(self._module_names)}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        self._module_names.append(name)
        spec.loader.exec_module(module)
        return module

    def load_stub_model(self, mode, module_file=None):
        module = self.import_stub_module(module_file or self.model_dir / "modeling_minicpmo.py")
        return module.MiniCPMO(mode)

    def options(self, first_timeout=5.0, next_timeout=5.0):
        return smoke.SmokeOptions(
            model_dir=self.model_dir,
            prompt="hello",
            max_new_tokens=16,
            first_token_timeout=first_timeout,
            next_token_timeout=next_timeout,
            environ={},
        )

    def run_main(self, argv, runtime):
        stdout = io.StringIO()
        stderr = io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = smoke.main(argv, runtime=runtime)
        return code, stdout.getvalue(), stderr.getvalue()


# ---------------------------------------------------------------------------


class ReadStreamTest(unittest.TestCase):
    def test_reads_all_chunks_until_end(self):
        reading = smoke.read_stream(iter(["a", "b", "c"]), 1.0, 1.0)

        self.assertTrue(reading.ended)
        self.assertIsNone(reading.timeout)
        self.assertIsNone(reading.error)
        self.assertEqual(reading.chunks, ["a", "b", "c"])
        self.assertEqual(len(reading.chunk_times), 3)

    def test_first_chunk_timeout(self):
        blocked = threading.Event()

        def never_yields():
            blocked.wait()
            yield "late"

        started = time.monotonic()
        reading = smoke.read_stream(never_yields(), 0.2, 5.0)
        elapsed = time.monotonic() - started
        blocked.set()

        self.assertFalse(reading.ended)
        self.assertEqual(reading.timeout.phase, "first")
        self.assertEqual(reading.timeout.seconds, 0.2)
        self.assertEqual(reading.chunks, [])
        self.assertLess(elapsed, 3.0)

    def test_timeout_between_chunks(self):
        blocked = threading.Event()

        def stalls_after_two():
            yield "a"
            yield "b"
            blocked.wait()

        reading = smoke.read_stream(stalls_after_two(), 5.0, 0.2)
        blocked.set()

        self.assertEqual(reading.timeout.phase, "next")
        self.assertEqual(reading.timeout.chunks_received, 2)
        self.assertEqual(reading.chunks, ["a", "b"])

    def test_iterator_error_is_returned(self):
        def fails_after_one():
            yield "a"
            raise RuntimeError("stream broke")

        reading = smoke.read_stream(fails_after_one(), 1.0, 1.0)

        self.assertIsInstance(reading.error, RuntimeError)
        self.assertEqual(str(reading.error), "stream broke")
        self.assertEqual(reading.chunks, ["a"])
        self.assertFalse(reading.ended)


class ThreadExceptionRecorderTest(unittest.TestCase):
    def test_records_exception_of_other_thread(self):
        def fail():
            raise ValueError("boom")

        previous_hook = threading.excepthook
        with smoke.ThreadExceptionRecorder() as recorder:
            worker = threading.Thread(target=fail, name="worker")
            worker.start()
            worker.join()

        self.assertIs(threading.excepthook, previous_hook)
        self.assertEqual(len(recorder.exceptions), 1)
        self.assertEqual(recorder.exceptions[0].type_name, "ValueError")
        self.assertEqual(recorder.exceptions[0].message, "boom")
        self.assertEqual(recorder.exceptions[0].thread_name, "worker")
        self.assertIn("Traceback", recorder.exceptions[0].traceback_text)


class DiagnoseTest(unittest.TestCase):
    def beam_exception(self):
        return smoke.ThreadException("Thread-7 (generate)", "ValueError", BEAM_SEARCH_MESSAGE, "")

    def test_sequences_attribute_error_names_stream_return(self):
        error = AttributeError("'dict' object has no attribute 'sequences'")

        failure = smoke.diagnose(error, [], "/models/o45")

        self.assertEqual(failure.fault, smoke.FAULT_STREAM_FALL_THROUGH)
        self.assertEqual(failure.patch, "chat-stream-return")
        self.assertIn("chat-stream-return is missing", failure.message)
        self.assertIn("minicpm-patch apply /models/o45", failure.message)

    def test_first_token_timeout_names_single_beam(self):
        cause = smoke.StreamTimeout("first", 0.5, 0)

        failure = smoke.diagnose(cause, [self.beam_exception()], "/models/o45")

        self.assertEqual(failure.fault, smoke.FAULT_NO_FIRST_TOKEN)
        self.assertEqual(failure.patch, "chat-stream-single-beam")
        self.assertIn(BEAM_SEARCH_MESSAGE, failure.message)
        self.assertIn("minicpm-patch apply /models/o45", failure.message)

    def test_beam_error_in_calling_thread(self):
        failure = smoke.diagnose(ValueError(BEAM_SEARCH_MESSAGE), [], "/models/o45")

        self.assertEqual(failure.fault, smoke.FAULT_CHAT_ERROR)
        self.assertEqual(failure.patch, "chat-stream-single-beam")
        self.assertIn(BEAM_SEARCH_MESSAGE, failure.message)
        self.assertIn("minicpm-patch apply /models/o45", failure.message)

    def test_first_token_timeout_without_thread_error(self):
        cause = smoke.StreamTimeout("first", 0.5, 0)

        failure = smoke.diagnose(cause, [], "/models/o45")

        self.assertEqual(failure.patch, "chat-stream-single-beam")
        self.assertIn("No exception from another thread was captured", failure.message)
        self.assertIn("--timeout", failure.message)

    def test_first_token_timeout_with_other_thread_error(self):
        cause = smoke.StreamTimeout("first", 0.5, 0)
        other = smoke.ThreadException("Thread-3", "RuntimeError", "CUDA out of memory", "")

        failure = smoke.diagnose(cause, [other], "/models/o45")

        self.assertEqual(failure.fault, smoke.FAULT_GENERATION_THREAD_ERROR)
        self.assertIsNone(failure.patch)
        self.assertIn("RuntimeError: CUDA out of memory", failure.message)

    def test_streamer_own_timeout_is_described(self):
        cause = smoke.StreamTimeout("first", None, 0)

        failure = smoke.diagnose(cause, [], "/models/o45")

        self.assertEqual(failure.patch, "chat-stream-single-beam")
        self.assertIn("streamer's own timeout", failure.message)

    def test_stall_after_chunks_names_no_patch(self):
        cause = smoke.StreamTimeout("next", 0.5, 4)

        failure = smoke.diagnose(cause, [], "/models/o45")

        self.assertEqual(failure.fault, smoke.FAULT_STREAM_STALLED)
        self.assertIsNone(failure.patch)
        self.assertIn("after 4 chunks", failure.message)

    def test_other_exception_names_status_command(self):
        failure = smoke.diagnose(KeyError("pixel_values"), [], "/models/o45")

        self.assertEqual(failure.fault, smoke.FAULT_CHAT_ERROR)
        self.assertIsNone(failure.patch)
        self.assertIn("KeyError", failure.message)
        self.assertIn("minicpm-patch status /models/o45", failure.message)


class ModuleSourceTest(unittest.TestCase):
    def setUp(self):
        self._temp = tempfile.TemporaryDirectory()
        self.temp = Path(self._temp.name)
        self.model_dir = write_model_folder(self.temp / "MiniCPM-o-4_5", modeling_source="new\n")

    def tearDown(self):
        self._temp.cleanup()

    def write_copy(self, relative, text):
        path = self.temp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def test_identical_copy_passes(self):
        copy = self.write_copy(CACHED_COPY, "new\n")

        self.assertIsNone(smoke.check_module_source(copy, self.model_dir, {}))

    def test_stale_copy_names_folder_to_delete(self):
        copy = self.write_copy(CACHED_COPY, "old\n")

        failure = smoke.check_module_source(copy, self.model_dir, {})

        self.assertEqual(failure.fault, smoke.FAULT_STALE_MODULE)
        self.assertIn(str(copy), failure.message)
        folder = self.temp / "modules" / "transformers_modules" / "MiniCPM-o-4_5"
        self.assertIn(f"Delete the folder {folder} and run again", failure.message)

    def test_stale_copy_in_hash_folder(self):
        copy = self.write_copy(
            "modules/transformers_modules/MiniCPM_hyphen_o_hyphen_4_5/0a1b2c/modeling_minicpmo.py",
            "old\n",
        )

        failure = smoke.check_module_source(copy, self.model_dir, {})

        folder = self.temp / "modules" / "transformers_modules" / "MiniCPM_hyphen_o_hyphen_4_5"
        self.assertIn(f"Delete the folder {folder} and run again", failure.message)

    def test_differing_file_outside_cache_names_cache_dir(self):
        copy = self.write_copy("elsewhere/modeling_minicpmo.py", "old\n")

        environ = {"HF_MODULES_CACHE": "/hf/modules"}

        failure = smoke.check_module_source(copy, self.model_dir, environ)

        self.assertEqual(failure.fault, smoke.FAULT_STALE_MODULE)
        self.assertIn(f"Delete or replace {copy}", failure.message)
        self.assertIn("/hf/modules", failure.message)

    def test_unknown_source_file_fails(self):
        failure = smoke.check_module_source(None, self.model_dir, {})

        self.assertEqual(failure.fault, smoke.FAULT_MODULE_SOURCE_UNKNOWN)


class ModulesCacheDirTest(unittest.TestCase):
    def test_hf_modules_cache_wins(self):
        environ = {"HF_MODULES_CACHE": "/a/modules", "HF_HOME": "/b"}

        self.assertEqual(smoke.modules_cache_dir(environ), Path("/a/modules"))

    def test_hf_home(self):
        self.assertEqual(smoke.modules_cache_dir({"HF_HOME": "/b"}), Path("/b/modules"))

    def test_xdg_cache_home(self):
        environ = {"XDG_CACHE_HOME": "/xdg"}

        self.assertEqual(smoke.modules_cache_dir(environ), Path("/xdg/huggingface/modules"))

    def test_default(self):
        expected = Path.home() / ".cache" / "huggingface" / "modules"

        self.assertEqual(smoke.modules_cache_dir({}), expected)


class AutoMapTest(unittest.TestCase):
    def test_local_entries_pass(self):
        config = {
            "auto_map": {
                "AutoConfig": "configuration_minicpm.MiniCPMOConfig",
                "AutoModel": "modeling_minicpmo.MiniCPMO",
                "AutoTokenizer": [None, "tokenization_minicpmo_fast.MiniCPMOTokenizerFast"],
            }
        }

        self.assertIsNone(smoke.check_auto_map(config, Path("config.json")))

    def test_hub_entry_fails(self):
        config = {
            "auto_map": {
                "AutoModel": HUB_MODEL_REFERENCE,
                "AutoTokenizer": [None, HUB_TOKENIZER_REFERENCE],
            }
        }

        failure = smoke.check_auto_map(config, Path("/m/config.json"))

        self.assertEqual(failure.fault, smoke.FAULT_HUB_AUTO_MAP)
        self.assertIn("/m/config.json", failure.message)
        self.assertIn(f"AutoModel = {HUB_MODEL_REFERENCE!r}", failure.message)
        self.assertIn(f"AutoTokenizer = {HUB_TOKENIZER_REFERENCE!r}", failure.message)
        self.assertIn("Remove the prefix 'openbmb/MiniCPM-o-4_5--'", failure.message)

    def test_no_auto_map_passes(self):
        self.assertIsNone(smoke.check_auto_map({}, Path("config.json")))


class ConfigTest(unittest.TestCase):
    def test_awq_detection(self):
        awq = {"quantization_config": {"bits": 4, "quant_method": "awq", "version": "gemm"}}

        self.assertTrue(smoke.is_awq_config(awq))
        self.assertFalse(smoke.is_awq_config({"quantization_config": {"quant_method": "gptq"}}))
        self.assertFalse(smoke.is_awq_config({}))


# ---------------------------------------------------------------------------


class RunSmokeTest(SmokeTestCase):
    def test_fall_through_names_stream_return(self):
        model = self.load_stub_model("fall-through")

        result = smoke.run_smoke(model, object(), self.options())

        self.assertEqual(result.status, smoke.STATUS_FAIL)
        self.assertEqual(result.failure.patch, "chat-stream-return")
        self.assertIn("chat-stream-return is missing", result.failure.message)
        self.assertIn(f"minicpm-patch apply {self.model_dir}", result.failure.message)
        self.assertEqual(smoke.exit_code_for(result), 1)

    def test_dead_generation_thread_names_single_beam(self):
        model = self.load_stub_model("beam")

        started = time.monotonic()
        result = smoke.run_smoke(model, object(), self.options(first_timeout=0.5))
        elapsed = time.monotonic() - started

        self.assertLess(elapsed, 5.0)
        self.assertEqual(result.status, smoke.STATUS_FAIL)
        self.assertEqual(result.failure.fault, smoke.FAULT_NO_FIRST_TOKEN)
        self.assertEqual(result.failure.patch, "chat-stream-single-beam")
        self.assertIn("chat-stream-single-beam is missing", result.failure.message)
        self.assertIn(f"ValueError: {BEAM_SEARCH_MESSAGE}", result.failure.message)
        self.assertEqual(len(result.thread_exceptions), 1)
        self.assertEqual(result.thread_exceptions[0].thread_name, "stub-generate")
        self.assertEqual(smoke.exit_code_for(result), 1)

    def test_chat_gets_no_num_beams(self):
        model = self.load_stub_model("patched")

        smoke.run_smoke(model, "tokenizer", self.options())

        self.assertEqual(len(model.calls), 1)
        call = model.calls[0]
        self.assertNotIn("num_beams", call)
        self.assertIs(call["stream"], True)
        self.assertEqual(call["max_new_tokens"], 16)
        self.assertEqual(call["tokenizer"], "tokenizer")
        self.assertEqual(call["msgs"], [{"role": "user", "content": ["hello"]}])

    def test_stale_module_fails_before_chat(self):
        stale = self.temp / CACHED_COPY
        stale.parent.mkdir(parents=True)
        stale.write_text(STUB_MODELING_SOURCE, encoding="utf-8")
        patched = STUB_MODELING_SOURCE + "\n# patched by minicpm-patch\n"
        (self.model_dir / "modeling_minicpmo.py").write_text(patched, encoding="utf-8")
        model = self.load_stub_model("patched", module_file=stale)

        result = smoke.run_smoke(model, object(), self.options())

        self.assertEqual(result.status, smoke.STATUS_FAIL)
        self.assertEqual(result.failure.fault, smoke.FAULT_STALE_MODULE)
        self.assertIn(str(stale), result.failure.message)
        self.assertIn(f"Delete the folder {stale.parent} and run again", result.failure.message)
        self.assertEqual(model.calls, [])

    def test_streaming_stub_passes_with_figures(self):
        model = self.load_stub_model("patched")
        options = self.options()
        options.peak_memory_bytes = lambda: 4096

        result = smoke.run_smoke(model, object(), options)

        self.assertIsNone(result.failure)
        self.assertEqual(result.status, smoke.STATUS_PASS)
        self.assertEqual(result.text, "Sunrise over the sea.")
        self.assertEqual(result.figures["chunks"], 4)
        self.assertEqual(result.figures["text_length"], len("Sunrise over the sea."))
        self.assertIsNotNone(result.figures["time_to_first_token_seconds"])
        self.assertIn("chunks_per_second", result.figures)
        self.assertEqual(result.figures["peak_gpu_memory_bytes"], 4096)
        self.assertEqual(smoke.exit_code_for(result), 0)

    def test_string_instead_of_stream_fails(self):
        class ReturnsText:
            def chat(self, **kwargs):
                return "whole answer"

        (self.model_dir / "modeling_minicpmo.py").write_text(
            Path(__file__).read_text(encoding="utf-8"), encoding="utf-8"
        )

        result = smoke.run_smoke(ReturnsText(), object(), self.options())

        self.assertEqual(result.failure.fault, smoke.FAULT_NOT_A_STREAM)
        self.assertIn("returned a str", result.failure.message)

    def test_empty_stream_fails(self):
        class EmptyStream:
            def chat(self, **kwargs):
                return iter(["", ""])

        (self.model_dir / "modeling_minicpmo.py").write_text(
            Path(__file__).read_text(encoding="utf-8"), encoding="utf-8"
        )

        result = smoke.run_smoke(EmptyStream(), object(), self.options())

        self.assertEqual(result.failure.fault, smoke.FAULT_EMPTY_OUTPUT)
        self.assertEqual(smoke.exit_code_for(result), 1)


class ExitCodeTest(unittest.TestCase):
    def test_status_mapping(self):
        self.assertEqual(smoke.exit_code_for(smoke.SmokeResult("pass", "m")), 0)
        self.assertEqual(smoke.exit_code_for(smoke.SmokeResult("fail", "m")), 1)
        self.assertEqual(smoke.exit_code_for(smoke.SmokeResult("skip", "m")), 77)
        self.assertEqual(smoke.exit_code_for(smoke.SmokeResult("skip", "m"), 99), 99)


class ExitProcessTest(unittest.TestCase):
    def test_exits_despite_blocked_non_daemon_thread(self):
        program = (
            "import importlib.util, sys, threading\n"
            f"spec = importlib.util.spec_from_file_location('smoke', {str(SCRIPT)!r})\n"
            "smoke = importlib.util.module_from_spec(spec)\n"
            "sys.modules['smoke'] = smoke\n"
            "spec.loader.exec_module(smoke)\n"
            "threading.Thread(target=threading.Event().wait, daemon=False).start()\n"
            "print('exiting', flush=True)\n"
            "smoke.exit_process(1)\n"
        )

        completed = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
        )

        self.assertEqual(completed.returncode, 1, completed.stderr)
        self.assertEqual(completed.stdout, "exiting\n")


class MainTest(SmokeTestCase):
    def setUp(self):
        super().setUp()
        (self.model_dir / "model-00001-of-00001.safetensors").write_bytes(b"")

    def main_argv(self, *extra):
        """Return the arguments for the model folder, with timeouts that bound a failing run."""
        timeouts = ["--timeout", "5", "--next-timeout", "5"]
        return ["--model-dir", str(self.model_dir), *timeouts, *extra]

    def test_pass_exits_0(self):
        runtime = StubRuntime(self, mode="patched")

        code, out, _ = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 0)
        self.assertIn("PASS", out)
        self.assertIn("time to first token:", out)
        self.assertIn("chunks per second:", out)
        self.assertIn("text length: 21 characters", out)
        self.assertIn("peak GPU memory: 0.11 GiB (123456789 bytes)", out)
        self.assertEqual(runtime.loaded, [(self.model_dir, "cuda", False)])

    def test_fall_through_exits_1(self):
        runtime = StubRuntime(self, mode="fall-through")

        code, out, _ = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 1)
        self.assertIn("FAIL [chat-stream-return]", out)

    def test_dead_generation_thread_exits_1(self):
        runtime = StubRuntime(self, mode="beam")
        argv = ["--model-dir", str(self.model_dir), "--timeout", "0.5", "--json"]

        code, out, _ = self.run_main(argv, runtime)

        report = json.loads(out)
        self.assertEqual(code, 1)
        self.assertEqual(report["exit_code"], 1)
        self.assertEqual(report["patch"], "chat-stream-single-beam")
        self.assertIn(BEAM_SEARCH_MESSAGE, report["message"])

    def test_json_report_of_pass(self):
        runtime = StubRuntime(self, mode="patched")
        argv = self.main_argv("--json")

        code, out, _ = self.run_main(argv, runtime)

        report = json.loads(out)
        self.assertEqual(code, 0)
        self.assertEqual(report["status"], "pass")
        self.assertEqual(report["exit_code"], 0)
        self.assertEqual(report["figures"]["chunks"], 4)
        self.assertEqual(report["figures"]["peak_gpu_memory_bytes"], 123456789)
        self.assertEqual(report["figures"]["dtype"], "bfloat16")
        self.assertEqual(report["text"], "Sunrise over the sea.")

    def test_awq_config_loads_float16(self):
        config = dict(MINIMAL_CONFIG, quantization_config={"bits": 4, "quant_method": "awq"})
        write_model_folder(self.model_dir, config=config)
        runtime = StubRuntime(self, mode="patched")

        code, _, _ = self.run_main(self.main_argv("--device", "cpu"), runtime)

        self.assertEqual(code, 0)
        self.assertEqual(runtime.loaded, [(self.model_dir, "cpu", True)])

    def test_skip_exits_77(self):
        runtime = StubRuntime(self, skip_reason="torch is not installed")

        code, out, _ = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 77)
        self.assertIn("SKIP: torch is not installed", out)
        self.assertEqual(runtime.loaded, [])

    def test_skip_code_option(self):
        runtime = StubRuntime(self, skip_reason="no CUDA device is available")
        argv = self.main_argv("--skip-code", "99")

        code, _, _ = self.run_main(argv, runtime)

        self.assertEqual(code, 99)

    def test_stale_module_exits_1(self):
        stale = self.temp / CACHED_COPY
        stale.parent.mkdir(parents=True)
        stale.write_text(STUB_MODELING_SOURCE + "# old copy\n", encoding="utf-8")
        runtime = StubRuntime(self, mode="patched", module_file=stale)

        code, out, _ = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 1)
        self.assertIn("stale model code", out)
        self.assertIn(str(stale.parent), out)

    def test_hub_auto_map_exits_1_before_skip(self):
        config = dict(MINIMAL_CONFIG, auto_map={"AutoModel": HUB_MODEL_REFERENCE})
        write_model_folder(self.model_dir, config=config)
        runtime = StubRuntime(self, skip_reason="torch is not installed")

        code, out, _ = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 1)
        self.assertIn("auto_map names Hub code", out)
        self.assertEqual(runtime.loaded, [])

    def test_missing_weights_exits_1(self):
        (self.model_dir / "model-00001-of-00001.safetensors").unlink()
        runtime = StubRuntime(self, mode="patched")

        code, out, _ = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 1)
        self.assertIn("no *.safetensors or *.bin weight files", out)
        self.assertEqual(runtime.loaded, [])

    def test_load_error_exits_1(self):
        runtime = StubRuntime(self, mode="patched")

        def fail_to_load(model_dir, device, awq):
            raise AssertionError("intermediate_size must be divisible by group_size")

        runtime.load_model = fail_to_load

        code, out, err = self.run_main(self.main_argv(), runtime)

        self.assertEqual(code, 1)
        self.assertIn("AssertionError: intermediate_size must be divisible", out)
        self.assertIn(f"minicpm-patch status {self.model_dir}", out)
        self.assertIn("Traceback", err)

    def test_missing_model_folder_exits_1(self):
        missing = self.temp / "absent"

        code, _, err = self.run_main(["--model-dir", str(missing)], StubRuntime(self))

        self.assertEqual(code, 1)
        self.assertIn(f"error: {missing}: model folder not found", err)

    def test_missing_config_exits_1(self):
        (self.model_dir / "config.json").unlink()

        code, _, err = self.run_main(self.main_argv(), StubRuntime(self))

        self.assertEqual(code, 1)
        self.assertIn(f"{self.model_dir / 'config.json'}: file not found", err)

    def test_missing_modeling_file_exits_1(self):
        (self.model_dir / "modeling_minicpmo.py").unlink()

        code, _, err = self.run_main(self.main_argv(), StubRuntime(self))

        self.assertEqual(code, 1)
        self.assertIn(f"{self.model_dir / 'modeling_minicpmo.py'}: file not found", err)

    def test_invalid_config_json_exits_1(self):
        (self.model_dir / "config.json").write_text("{\n  \"a\": 1,\n}\n", encoding="utf-8")

        code, _, err = self.run_main(self.main_argv(), StubRuntime(self))

        self.assertEqual(code, 1)
        self.assertIn("config.json:3: invalid JSON", err)

    def test_usage_errors_exit_2(self):
        cases = [
            [],
            ["--model-dir", str(self.model_dir), "--skip-code", "0"],
            ["--model-dir", str(self.model_dir), "--timeout", "0"],
            ["--model-dir", str(self.model_dir), "--device", "gpu"],
        ]
        for argv in cases:
            with self.subTest(argv=argv):
                with self.assertRaises(SystemExit) as raised:
                    self.run_main(argv, StubRuntime(self))
                self.assertEqual(raised.exception.code, 2)


@unittest.skipIf(TORCH_IMPORTABLE, "torch is importable, so the script would not skip")
class ScriptWithoutTorchTest(SmokeTestCase):
    """Runs the script as a process on a machine without torch."""

    def run_script(self, *arguments):
        return subprocess.run(
            [sys.executable, str(SCRIPT), *arguments],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_skips_with_77(self):
        completed = self.run_script("--model-dir", str(self.model_dir))

        self.assertEqual(completed.returncode, 77, completed.stderr)
        self.assertIn("SKIP: torch", completed.stdout)
        self.assertIn("not installed", completed.stdout)

    def test_skip_code_99(self):
        completed = self.run_script("--model-dir", str(self.model_dir), "--skip-code", "99")

        self.assertEqual(completed.returncode, 99, completed.stderr)
        self.assertIn("not installed", completed.stdout)

    def test_help_lists_exit_codes(self):
        completed = self.run_script("--help")

        self.assertEqual(completed.returncode, 0, completed.stderr)
        self.assertIn("exit codes:", completed.stdout)
        self.assertIn("chat-stream-return", completed.stdout)
        self.assertIn("chat-stream-single-beam", completed.stdout)


if __name__ == "__main__":
    unittest.main()
