"""Load benchmark: N concurrent generations (4 variants each) through real sockets.

    .venv/bin/python bench/load.py --n 10 25 50
    .venv/bin/python bench/load.py --n 50 --processes 2 --stack postgres-redis

For each N it starts, on 127.0.0.1 only: the OpenAI stand-in in bench mode in its own process
(`python -m demo --bench`: every chunk carries its emission time, every stream is
logged), one or more real daphne processes (the contract's flags, a test API key, the stand-in
as OPENAI_BASE_URL), then drives N `generate`s over N WebSocket clients and measures what
`docs/benchmarks.md` reports. Nothing here is a test: it prints a table (and, with --json, the
raw figures) and exits non-zero only if a result was lost or a run did not finish.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import websockets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from demo.bench import BENCH_STAMP_PATTERN, BENCH_STREAM_PATTERN  # noqa: E402
from tests.support import (  # noqa: E402
    POSTGRES_URL,
    REDIS_URL,
    TEST_API_KEY,
    DaphneProcess,
    data_url,
    free_port,
    fresh_postgres_database,
    screenshot_bytes,
)

ORIGIN = "http://127.0.0.1"
VARIANTS = 4
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- process counters


def proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system, all threads) of `pid`, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # waited-for children: exited backends
    return ticks / CLOCK_TICKS


def proc_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pids_named(comm: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == comm:
                    found.append(int(entry.name))
    return found


def service_cpu(comm: str) -> float:
    """CPU of every process named `comm` (PostgreSQL: the postmaster counts its exited
    backends as children, so connections that came and went are included)."""
    return sum(proc_cpu(pid, children=True) for pid in pids_named(comm))


def all_cpu() -> dict[int, float]:
    return {
        int(entry.name): proc_cpu(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    }


def busiest_others(before: dict[int, float], after: dict[int, float], ours: set[int]):
    """The processes outside the bench that used the most CPU during the run."""
    used = sorted(
        ((cpu - before.get(pid, 0.0), pid) for pid, cpu in after.items() if pid not in ours),
        reverse=True,
    )
    named = []
    for seconds, pid in used[:4]:
        with contextlib.suppress(OSError):
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            named.append(f"{seconds:.1f}s {args[:80]}")
    return named


def machine_busy() -> tuple[float, float]:
    """(busy seconds, total seconds) over all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


# --------------------------------------------------------------------------- the stand-in


class Fake:
    """The stand-in in bench mode, in its own process."""

    def __init__(self, pace: float, chunks: int, chunk_chars: int):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "demo", "--bench"),
                *("--port", str(self.port), "--pace", str(pace)),
                *("--chunks", str(chunks), "--chunk-chars", str(chunk_chars)),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{self.port}/bench/streams", timeout=1)
                return
            time.sleep(0.1)  # waiting for a port to open: there is no event to await
        raise RuntimeError("the stand-in did not start")

    @property
    def pid(self) -> int:
        return self.process.pid

    def streams(self) -> dict[int, dict]:
        logged = httpx.get(f"http://127.0.0.1:{self.port}/bench/streams", timeout=30).json()
        return {log["stream"]: log for log in logged}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# --------------------------------------------------------------------------- one client


@dataclass
class VariantSeen:
    parts: list[str] = field(default_factory=list)
    length: int = 0
    completed_at: float | None = None
    restarts: int = 0


@dataclass
class GenerationSeen:
    number: int
    server: int
    generation_id: str = ""
    sent_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    status: str = ""
    variants: dict[int, VariantSeen] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    gaps: int = 0
    awaiting_snapshot: bool = False
    errors: list[dict] = field(default_factory=list)

    def text(self, index: int) -> str:
        return "".join(self.variants[index].parts)


async def drive_one(
    seen: GenerationSeen, ws_url: str, payload: str, delay: float, limit: float
) -> None:
    """Start one generation and follow it to the end (or `limit` seconds), timing every
    stamped chunk."""
    await asyncio.sleep(delay)
    async with (
        websockets.connect(ws_url, origin=ORIGIN, max_size=None) as ws,
        asyncio.timeout(limit),
    ):
        seen.sent_at = time.time()
        await ws.send(payload)
        async for raw in ws:
            now = time.time()
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "variant.chunk":
                variant = seen.variants.setdefault(frame["index"], VariantSeen())
                offset, delta = frame["offset"], frame["delta"]
                if offset > variant.length:
                    # A dropped frame (a full channel-layer queue): ask for a snapshot, as a
                    # browser does, and count it.
                    seen.gaps += 1
                    if not seen.awaiting_snapshot:
                        seen.awaiting_snapshot = True
                        request = {"type": "subscribe", "generation_id": frame["generation_id"]}
                        await ws.send(json.dumps(request))
                    continue
                if offset < variant.length:
                    delta = delta[variant.length - offset :]
                variant.parts.append(delta)
                variant.length += len(delta)
                seen.latencies.extend(
                    now - float(stamp) for stamp in BENCH_STAMP_PATTERN.findall(delta)
                )
            elif kind == "generation.snapshot":
                seen.awaiting_snapshot = False
                for snapshot in frame["variants"]:
                    variant = seen.variants.setdefault(snapshot["index"], VariantSeen())
                    variant.parts, variant.length = [snapshot["text"]], len(snapshot["text"])
            elif kind == "generation.started":
                seen.started_at = now
                seen.generation_id = frame["generation_id"]
            elif kind == "variant.completed":
                seen.variants.setdefault(frame["index"], VariantSeen()).completed_at = now
            elif kind == "variant.restarted":
                variant = seen.variants.setdefault(frame["index"], VariantSeen())
                variant.parts, variant.length = [], 0
                variant.restarts += 1
            elif kind == "generation.finished":
                seen.finished_at, seen.status = now, frame["status"]
                return
            elif kind in ("error", "variant.failed"):
                seen.errors.append(frame)
                if kind == "error":
                    return


async def rss_sampler(pids: list[int], peaks: dict[int, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(OSError):
                peaks[pid] = max(peaks.get(pid, 0), proc_status_kib(pid, "VmRSS"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def drive(servers, n: int, payload: str, ramp: float, limit: float):
    seen = [GenerationSeen(number=i, server=i % len(servers)) for i in range(n)]
    jobs = [
        drive_one(g, servers[g.server].ws_url, payload, ramp * i / max(n, 1), limit)
        for i, g in enumerate(seen)
    ]
    stop, peaks = asyncio.Event(), {}
    sampler = asyncio.create_task(rss_sampler([s.process.pid for s in servers], peaks, stop))
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    stop.set()
    await sampler
    for g, outcome in zip(seen, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            g.errors.append({"type": "client", "error": repr(outcome)})
    return seen, peaks


# --------------------------------------------------------------------------- one run


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def html_of(text: str) -> str:
    start = text.find("<!DOCTYPE html")
    end = text.rfind("</html>")
    return text[start : end + len("</html>")] if start >= 0 and end >= 0 else ""


@contextlib.contextmanager
def stack_env(stack: str, workdir: Path, redis_socket_timeout: float):
    if stack == "embedded":
        yield {"DATABASE_URL": f"sqlite:///{workdir / 'clonegen.sqlite3'}"}
        return
    redis_url = REDIS_URL
    if redis_socket_timeout:
        # redis-py 8 times a read out after 5 s by default, exactly channels-redis's blocking
        # receive timeout: an idle receiver then fails (see docs/benchmarks.md).
        redis_url += f"{'&' if '?' in redis_url else '?'}socket_timeout={redis_socket_timeout:g}"
    with fresh_postgres_database(POSTGRES_URL) as database_url:
        yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


def run_once(args, n: int, payload: str) -> dict:
    fake = Fake(args.pace, args.chunks, args.chunk_chars)
    servers: list[DaphneProcess] = []
    workdir = Path(tempfile.mkdtemp(prefix="clonegen-bench-"))
    profiler = None
    try:
        with stack_env(args.stack, workdir, args.redis_socket_timeout) as stack:
            env = {
                "OPENAI_API_KEY": TEST_API_KEY,
                "OPENAI_BASE_URL": fake.base_url,
                "CLONEGEN_RATE_LIMIT": "1000000/hour",
                "DJANGO_HTTPS": "0",  # plain HTTP on 127.0.0.1, as in the tests
                **stack,
            }
            for number in range(args.processes):
                server = DaphneProcess(workdir, env)
                if number == 0:
                    server.migrate()
                servers.append(server)  # stopped below even if it fails to start
                server.start()
            # Warm-up, not measured: one generation per process (imports, connections, caches).
            asyncio.run(drive(servers, len(servers), payload, 0.0, args.timeout))
            fake.streams()

            if args.profile:
                profiler = start_profiler(args.profile, servers[0].process.pid, n, args)
            pids = [s.process.pid for s in servers]
            rss_before = {pid: proc_status_kib(pid, "VmRSS") for pid in pids}
            cpu_before = {pid: proc_cpu(pid) for pid in pids}
            fake_before, client_before = proc_cpu(fake.pid), time.process_time()
            pg_before, redis_before = service_cpu("postgres"), service_cpu("redis-server")
            busy_before, total_before = machine_busy()
            everyone_before = all_cpu()
            watcher = CommitWatcher(stack["DATABASE_URL"])
            watcher.start()
            began = time.time()
            seen, rss_peaks = asyncio.run(drive(servers, n, payload, args.ramp, args.timeout))
            ended = time.time()
            committed = watcher.stop()
            cpu = {pid: proc_cpu(pid) - cpu_before[pid] for pid in pids}
            fake_cpu, client_cpu = proc_cpu(fake.pid) - fake_before, time.process_time()
            client_cpu -= client_before
            pg_cpu = service_cpu("postgres") - pg_before
            redis_cpu = service_cpu("redis-server") - redis_before
            busy_after, total_after = machine_busy()
            ours = {*pids, fake.pid, os.getpid()}
            others = busiest_others(everyone_before, all_cpu(), ours)
            hwm = {pid: proc_status_kib(pid, "VmHWM") for pid in pids}
            if profiler is not None:
                profiler.wait(60)
            streams = fake.streams()
            stored = {
                g.generation_id: servers[0].get(f"/api/generations/{g.generation_id}").json()
                for g in seen
                if g.generation_id
            }
            finished_at = stored_finish_times(stack["DATABASE_URL"])
    except BaseException:
        print(f"daphne logs kept in {workdir}", file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.stop()
        fake.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return summarise(
        args,
        n,
        seen,
        streams,
        stored,
        finished_at,
        committed,
        {
            "elapsed": ended - began,
            "server_cpu": cpu,
            "fake_cpu": fake_cpu,
            "client_cpu": client_cpu,
            "postgres_cpu": pg_cpu if args.stack != "embedded" else None,
            "redis_cpu": redis_cpu if args.stack != "embedded" else None,
            "machine_busy": busy_after - busy_before,
            "machine_total": total_after - total_before,
            "rss_before_kib": rss_before,
            "rss_peak_kib": rss_peaks,
            "hwm_kib": hwm,
            "others": others,
        },
    )


def start_profiler(directory: str, pid: int, n: int, args) -> subprocess.Popen:
    """py-spy on the first daphne for the length of the load (pip install py-spy)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{args.stack}-p{args.processes}-n{n}"
    seconds = int(args.chunks / args.pace + 3)
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            *(str(spy), "record", "--pid", str(pid), "--duration", str(seconds)),
            *("--rate", "250", "--format", "raw", "--nonblocking", "--gil"),
            *("-o", str(out / f"{name}.txt")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class CommitWatcher(threading.Thread):
    """Polls the database every `period` seconds from its own connection and records when each
    completed variant was first seen: the moment its result was durable, to within a period."""

    QUERY = "SELECT generation_id, \"index\" FROM generations_variant WHERE status = 'completed'"

    def __init__(self, database_url: str, period: float = 0.01):
        super().__init__(daemon=True)
        self.database_url, self.period = database_url, period
        self.seen: dict[tuple[str, int], float] = {}
        self.stopping = threading.Event()

    def connect(self):
        if self.database_url.startswith("sqlite:///"):
            import sqlite3

            return sqlite3.connect(self.database_url[len("sqlite:///") :], timeout=5)
        import psycopg

        return psycopg.connect(self.database_url, autocommit=True)

    def run(self) -> None:
        with contextlib.closing(self.connect()) as db:
            while not self.stopping.wait(self.period):
                now = time.time()
                for gid, index in db.execute(self.QUERY).fetchall():
                    self.seen.setdefault((str(uuid.UUID(str(gid))), index), now)

    def stop(self) -> dict[tuple[str, int], float]:
        self.stopping.set()
        self.join(10)
        return self.seen


def stored_finish_times(database_url: str) -> dict[tuple[str, int], float]:
    """Each variant's stored `finished_at` (not in the REST object), read from the database."""
    query = 'SELECT generation_id, "index", finished_at FROM generations_variant'
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///") :])) as db:
            rows = db.execute(query).fetchall()
        parsed = (
            (str(uuid.UUID(gid)), index, datetime.fromisoformat(at).replace(tzinfo=UTC))
            for gid, index, at in rows
            if at
        )
    else:
        import psycopg

        with psycopg.connect(database_url) as db:
            rows = db.execute(query).fetchall()
        parsed = ((str(gid), index, at) for gid, index, at in rows if at)
    return {(gid, index): at.timestamp() for gid, index, at in parsed}


def summarise(args, n, seen, streams, stored, finished_at, committed, counters) -> dict:
    lost, failed, relay_mismatch, unmatched = 0, 0, 0, 0
    saves, save_frames, save_lower, overheads, stream_times, walls = [], [], [], [], [], []
    latencies = [lat for g in seen for lat in g.latencies]
    for g in seen:
        body = stored.get(g.generation_id, {}).get("data") or {}
        variants = {v["index"]: v for v in body.get("variants", [])}
        used = []
        for index in range(VARIANTS):
            variant = variants.get(index)
            if variant is None or variant["status"] != "completed":
                failed += 1
            # The stream this variant's stored answer came from (else the one the client saw).
            mark = BENCH_STREAM_PATTERN.search((variant or {}).get("text") or "")
            if mark is None and index in g.variants:
                mark = BENCH_STREAM_PATTERN.search(g.text(index))
            log = streams.get(int(mark.group(1))) if mark else None
            if log is None or log["done"] is None:
                unmatched += 1
                lost += 1
                continue
            used.append(log)
            if variant is None or variant["raw_html"] != html_of(log["text"]):
                lost += 1
            if g.text(index) != log["text"]:
                relay_mismatch += 1
            completed_at = g.variants[index].completed_at if index in g.variants else None
            if completed_at is not None:
                save_frames.append(completed_at - log["finish"])
            if (g.generation_id, index) in committed:
                saves.append(committed[g.generation_id, index] - log["finish"])
            if (g.generation_id, index) in finished_at:
                save_lower.append(finished_at[g.generation_id, index] - log["finish"])
        stream_times.extend(log["done"] - log["opened"] for log in used)
        if g.finished_at and len(used) == VARIANTS:
            fake_time = max(log["done"] for log in used) - min(log["opened"] for log in used)
            walls.append(g.finished_at - g.sent_at)
            overheads.append((g.finished_at - g.sent_at) / fake_time)
    total_streams = n * VARIANTS
    chunks = total_streams * args.chunks
    server_cpu = sum(counters["server_cpu"].values())
    rss_growth = [
        (counters["rss_peak_kib"].get(pid, 0) - before) / 1024
        for pid, before in counters["rss_before_kib"].items()
    ]
    per_process = n / len(counters["server_cpu"])
    ours = server_cpu + counters["fake_cpu"] + counters["client_cpu"]
    ours += (counters["postgres_cpu"] or 0) + (counters["redis_cpu"] or 0)
    return {
        "stack": args.stack,
        "processes": args.processes,
        "n": n,
        "unfinished": sum(1 for g in seen if not g.finished_at),
        "statuses": sorted({g.status for g in seen}),
        "client_errors": [e for g in seen for e in g.errors][:5],
        "gaps": sum(g.gaps for g in seen),
        "lost": lost,
        "unmatched_streams": unmatched,
        "failed": failed,
        "relay_mismatch": relay_mismatch,
        "streams_logged": len(streams),
        "relay_ms": {"p50": pct(latencies, 0.5) * 1e3, "p99": pct(latencies, 0.99) * 1e3},
        "relay_samples": len(latencies),
        "save_ms": {"p50": pct(saves, 0.5) * 1e3, "p99": pct(saves, 0.99) * 1e3},
        "save_samples": len(saves),
        "completed_frame_ms": {
            "p50": pct(save_frames, 0.5) * 1e3,
            "p99": pct(save_frames, 0.99) * 1e3,
        },
        "save_seen_ms": {"p50": pct(save_lower, 0.5) * 1e3, "p99": pct(save_lower, 0.99) * 1e3},
        "overhead": {
            "p50": pct(overheads, 0.5),
            "mean": statistics.fmean(overheads) if overheads else float("nan"),
            "max": max(overheads, default=float("nan")),
        },
        "wall_s": {"p50": pct(walls, 0.5), "max": max(walls, default=float("nan"))},
        "fake_stream_s": {"p50": pct(stream_times, 0.5), "max": max(stream_times, default=0)},
        "elapsed_s": counters["elapsed"],
        "server_cpu_s": server_cpu,
        "server_cpu_per_process_s": list(counters["server_cpu"].values()),
        "server_cpu_per_generation_s": server_cpu / n,
        "server_cpu_per_chunk_us": server_cpu / chunks * 1e6,
        "fake_cpu_s": counters["fake_cpu"],
        "fake_cpu_per_chunk_us": counters["fake_cpu"] / chunks * 1e6,
        "client_cpu_s": counters["client_cpu"],
        "postgres_cpu_s": counters["postgres_cpu"],
        "redis_cpu_s": counters["redis_cpu"],
        "machine_busy_s": counters["machine_busy"],
        "machine_other_s": counters["machine_busy"] - ours,
        "machine_capacity_s": counters["machine_total"],
        "busiest_others": counters["others"],
        "peak_rss_mib": [kib / 1024 for kib in counters["hwm_kib"].values()],
        "rss_per_generation_mib": max(rss_growth, default=0) / per_process,
    }


# --------------------------------------------------------------------------- report


def row(r: dict) -> str:
    stack = "SQLite + in-memory" if r["stack"] == "embedded" else "PostgreSQL + Redis"
    peak = " + ".join(f"{mib:.0f}" for mib in r["peak_rss_mib"])
    return (
        f"| {stack} | {r['processes']} | {r['n']} | {r['lost']} | {r['failed']} "
        f"| {r['unfinished']} "
        f"| {r['relay_ms']['p50']:.0f} / {r['relay_ms']['p99']:.0f} "
        f"| {r['save_ms']['p50']:.0f} / {r['save_ms']['p99']:.0f} "
        f"| {r['overhead']['p50']:.3f} / {r['overhead']['max']:.3f} "
        f"| {r['fake_stream_s']['p50']:.2f} "
        f"| {r['server_cpu_per_generation_s']:.2f} | {r['server_cpu_per_chunk_us']:.0f} "
        f"| {r['fake_cpu_per_chunk_us']:.0f} | {peak} | {r['rss_per_generation_mib']:.2f} |"
    )


HEADER = (
    "| stack | procs | N | lost | failed | sockets unfinished "
    "| relay p50 / p99 ms | save p50 / p99 ms "
    "| overhead p50 / max | fake stream s | server CPU s/gen | server µs/chunk "
    "| fake µs/chunk | peak RSS MiB | RSS MiB/gen |\n"
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |"
)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    mem = proc_meminfo_gib()
    return f"{os.cpu_count()} x {cpu}, {mem:.1f} GiB RAM, Python {platform.python_version()}"


def proc_meminfo_gib() -> float:
    first = Path("/proc/meminfo").read_text().split("\n", 1)[0]
    return int(first.split()[1]) / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--stack", choices=("embedded", "postgres-redis"), default="embedded")
    parser.add_argument("--pace", type=float, default=60.0, help="chunks/s per variant")
    parser.add_argument("--chunks", type=int, default=240, help="content chunks per page")
    parser.add_argument("--chunk-chars", type=int, default=100)
    parser.add_argument("--image-kib", type=int, default=256, help="screenshot size")
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which to start")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds a client follows its generation"
    )
    parser.add_argument(
        "--redis-socket-timeout",
        type=float,
        default=30.0,
        help="socket_timeout added to REDIS_URL (0: REDIS_URL as it is)",
    )
    parser.add_argument("--json", help="append each run's figures to this JSON-lines file")
    parser.add_argument("--profile", help="py-spy the first server into this folder")
    args = parser.parse_args(argv)
    if args.processes > 1 and args.stack == "embedded":
        parser.error("several processes need --stack postgres-redis")
    if max(args.n) > 100 or args.processes > 4:
        parser.error("bounded on purpose: N ≤ 100, processes ≤ 4")

    image = screenshot_bytes(args.image_kib * 1024)
    payload = json.dumps(
        {"type": "generate", "image": data_url(image), "instructions": "benchmark"}
    )
    print(machine(), file=sys.stderr)
    print(HEADER)
    healthy = True
    for n in args.n:
        result = run_once(args, n, payload)
        print(row(result), flush=True)
        print(json.dumps(result), file=sys.stderr, flush=True)
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps(result) + "\n")
        healthy &= result["lost"] == 0 and result["unfinished"] == 0
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
