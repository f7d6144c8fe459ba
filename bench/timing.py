"""Whole-process timing with hyperfine and peak RSS with GNU time, for run_bench.py."""

import json
import os
import shlex
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

# A command whose checked run takes less than this gets FAST_RUN_FACTOR times more timed
# runs (except with --tiny), because its median is noisier.
FAST_COMMAND_SECONDS = 0.05
FAST_RUN_FACTOR = 10
FAST_WARMUP_RUNS = 3
MAX_RSS_RUNS = 5
ERROR_TAIL_LINES = 20


class BenchError(Exception):
    """A timed command or its preparation failed; the message names the command."""


@dataclass
class Measurement:
    """Medians of one command: wall time from hyperfine and peak RSS from RssMeter."""

    label: str
    command: list
    median_s: float
    runs: int
    stddev_s: float = 0.0
    min_s: float = 0.0
    max_s: float = 0.0
    rss_kib: Optional[float] = None
    rss_runs: int = 0
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "command": shlex.join(str(part) for part in self.command),
            "median_s": self.median_s,
            "stddev_s": self.stddev_s,
            "min_s": self.min_s,
            "max_s": self.max_s,
            "runs": self.runs,
            "peak_rss_kib": self.rss_kib,
            "rss_runs": self.rss_runs,
            **self.extra,
        }


def describe_failure(command: list, code: int, stderr: str) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-ERROR_TAIL_LINES:])
    message = f"command failed with exit code {code}: {shlex.join(str(part) for part in command)}"
    return message + ("\n" + tail if tail else "")


def run_checked(command: list) -> float:
    """Run command once with stdout discarded; return its wall time in seconds.

    Raises BenchError with the exit code and the end of stderr if it fails, or if it cannot
    be started.
    """
    start = time.perf_counter()
    try:
        completed = subprocess.run([str(part) for part in command], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as error:
        raise BenchError(f"cannot start {shlex.join(str(part) for part in command)}: {error}") from error
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise BenchError(describe_failure(command, completed.returncode, completed.stderr))
    return elapsed


GNU_TIME = "/usr/bin/time"

# Fallback when GNU time is missing: a small Python process that spawns the command and prints
# ru_maxrss in KiB from wait4().
RSS_WRAPPER = (
    "import os, sys\n"
    "pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss, file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def gnu_time_available() -> bool:
    try:
        completed = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True)
    except OSError:
        return False
    return "GNU" in completed.stdout + completed.stderr


class RssMeter:
    """Measures a command's peak RSS in KiB, through GNU time or a Python wrapper.

    Linux starts a process's ru_maxrss at the RSS of the process that forked it (exec records
    the old address space's high-water mark), so the measuring process must be small: this
    driver's own RSS would hide the command's. GNU time adds about 2 MiB; the Python wrapper
    adds its interpreter's RSS. floor_kib is the value measured for `true`, the method's floor.
    """

    def __init__(self, python: str):
        self.python = python
        self.method = "GNU time (%M)" if gnu_time_available() else "Python wrapper (wait4)"
        self.floor_kib = self.peak_kib(["true"])

    def peak_kib(self, command: list) -> float:
        argv = [str(part) for part in command]
        with tempfile.TemporaryDirectory(prefix="minicpm-bench-") as scratch:
            report = os.path.join(scratch, "rss.txt")
            if self.method.startswith("GNU"):
                wrapped = [GNU_TIME, "-q", "-f", "%M", "-o", report, *argv]
            else:
                wrapped = [self.python, "-S", "-c", RSS_WRAPPER, *argv]
            completed = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True, errors="replace")
            if completed.returncode != 0:
                raise BenchError(describe_failure(command, completed.returncode, completed.stderr))
            if self.method.startswith("GNU"):
                with open(report, encoding="utf-8") as handle:
                    text = handle.read()
            else:
                text = completed.stderr
            return float(text.strip().splitlines()[-1])


class Timer:
    """Measures commands the same way: a checked run, hyperfine, then peak RSS runs."""

    def __init__(self, runs: int, tiny: bool, rss_meter: RssMeter, log):
        self.runs = runs
        self.tiny = tiny
        self.rss_meter = rss_meter
        self.log = log

    def measure(self, label: str, command: list, prepare: Optional[list] = None,
                rss: bool = True) -> Measurement:
        """Time command and return its medians; prepare runs before every run, untimed.

        The checked run fails fast with the command's own error output and warms the page
        cache. Raises BenchError when the command or prepare fails in any run.
        """
        if prepare:
            run_checked(prepare)
        checked_s = run_checked(command)

        fast = checked_s < FAST_COMMAND_SECONDS
        runs = self.runs * FAST_RUN_FACTOR if fast and not self.tiny else self.runs
        warmup = 0
        if fast:
            warmup = 1 if self.tiny else FAST_WARMUP_RUNS
        stats = self._hyperfine(command, prepare, runs, warmup)

        measurement = Measurement(label, command, stats["median"], runs, stats.get("stddev") or 0.0,
                                  stats["min"], stats["max"])
        if rss:
            measurement.rss_runs = min(self.runs, MAX_RSS_RUNS)
            samples = []
            for _ in range(measurement.rss_runs):
                if prepare:
                    run_checked(prepare)
                samples.append(self.rss_meter.peak_kib(command))
            measurement.rss_kib = statistics.median(samples)
        self.log(f"{label}: median {format_seconds(measurement.median_s)} over {runs} runs"
                 + (f", peak RSS {measurement.rss_kib / 1024:.1f} MiB" if rss else ""))
        return measurement

    def _hyperfine(self, command: list, prepare: Optional[list], runs: int, warmup: int) -> dict:
        with tempfile.TemporaryDirectory(prefix="minicpm-bench-") as scratch:
            export = os.path.join(scratch, "hyperfine.json")
            argv = ["hyperfine", "-N", "--style", "none", "--runs", str(runs),
                    "--warmup", str(warmup), "--export-json", export]
            if prepare:
                argv += ["--prepare", shlex.join(str(part) for part in prepare)]
            argv.append(shlex.join(str(part) for part in command))
            completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, errors="replace")
            if completed.returncode != 0:
                raise BenchError("hyperfine failed on a timed command:\n"
                                 + describe_failure(argv, completed.returncode, completed.stdout))
            with open(export, encoding="utf-8") as handle:
                return json.load(handle)["results"][0]


def format_seconds(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds:.3f} s"
