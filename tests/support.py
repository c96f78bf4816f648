"""Shared test helpers: screenshots, real daphne processes, a socket client's view of frames."""

import base64
import contextlib
import io
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx2 as httpx
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
# Looks like a real key so a leak would be obvious; it is only ever sent to the stand-in.
TEST_API_KEY = "sk-test-0123456789abcdefghijKLMNOPQRSTUV"
DEFAULT_CHAINS = (
    ("gpt-4o-2024-11-20", "gpt-4o"),
    ("gpt-4.1-2025-04-14", "gpt-4.1"),
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
)
DEFAULT_MODELS = tuple(chain[0] for chain in DEFAULT_CHAINS)
# The machine's services (CI starts them when missing); used by the multi-process tests.
POSTGRES_URL = os.environ.get(
    "CLONEGEN_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CLONEGEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.contextmanager
def fresh_postgres_database(server_url: str):
    """Create an empty database on the server of `server_url`; yield its URL; drop it."""
    import psycopg

    name = f"clonegen_e2e_{uuid.uuid4().hex[:12]}"
    base = server_url.rsplit("/", 1)[0]
    admin_url = base.replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def png_bytes(width: int = 320, height: int = 200, colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def screenshot_bytes(target_bytes: int = 3 * 1024 * 1024, seed: int = 7) -> bytes:
    """A PNG of about `target_bytes`; its noisy half resists compression like a real screenshot."""
    rng = random.Random(seed)
    width = 1440
    height = max(200, target_bytes // (width * 2))
    image = Image.new("RGB", (width, height), "white")
    noise = bytes(rng.getrandbits(8) for _ in range(width * height * 3 // 2))
    image.paste(Image.frombytes("RGB", (width, height // 2), noise[: width * (height // 2) * 3]))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_url(content: bytes, mime_type: str = "image/png") -> str:
    return f"data:{mime_type};base64,{base64.b64encode(content).decode('ascii')}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def html_inside(text: str) -> str:
    """What the contract's extraction rule keeps of a stand-in answer."""
    start = text.index("<!DOCTYPE html")
    end = text.rindex("</html>") + len("</html>")
    return text[start:end]


class DaphneProcess:
    """A real clonegen server: `manage.py migrate`, then daphne with the contract's flags."""

    def __init__(self, data_dir: Path, env: dict[str, str]):
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/generations/"
        self.log_path = data_dir / f"daphne-{self.port}.log"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("OPENAI_", "CLONEGEN_", "DATABASE_URL", "REDIS_URL"))
            },
            "DJANGO_SETTINGS_MODULE": "clonegen.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "0",
            "DJANGO_SECRET_KEY": "e2e-secret-key-for-tests-only-0123456789",
            "CLONEGEN_DATA_DIR": str(data_dir),
            # The end-to-end clients say they come from http://127.0.0.1, whatever the port.
            "CLONEGEN_ALLOWED_ORIGINS": "http://127.0.0.1",
            # A render costs a second of CPU: the tests of renders turn them on themselves.
            "CLONEGEN_RENDERS": "0",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=REPO,
            env=self.env,
            check=True,
        )

    def start(self, wait: bool = True) -> "DaphneProcess":
        """Spawn daphne; unless `wait` is False, return once it answers."""
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "--websocket-max-message-size",
                "16777216",
                "--websocket-max-frame-size",
                "16777216",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "clonegen.asgi:application",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{self.read_log()}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)  # polling a port that is not open yet: there is no event to await
        raise RuntimeError(f"daphne did not answer in {timeout}s:\n{self.read_log()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.base_url + path, timeout=60, **kwargs)


class Follower:
    """A socket client's view of a generation, rebuilt by the contract's offset rules."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}
        self.statuses: dict[int, str] = {}
        self.restarts: list[dict] = []
        self.failures: dict[int, dict] = {}
        self.status: str | None = None
        self.needs_snapshot = False
        self.gaps = 0  # chunks that arrived beyond the text held: each cost a re-subscribe

    def apply(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "generation.snapshot":
            self.needs_snapshot = False
            self.status = frame["status"]
            for variant in frame["variants"]:
                self.texts[variant["index"]] = variant["text"]
                self.statuses[variant["index"]] = variant["status"]
        elif kind == "variant.chunk":
            self._chunk(frame["index"], frame["offset"], frame["delta"])
        elif kind == "variant.restarted":
            self.restarts.append(frame)
            self.texts[frame["index"]] = ""
        elif kind == "variant.completed":
            self.statuses[frame["index"]] = "completed"
        elif kind == "variant.failed":
            self.statuses[frame["index"]] = "failed"
            self.failures[frame["index"]] = frame["error"]
        elif kind == "generation.finished":
            self.status = frame["status"]

    def _chunk(self, index: int, offset: int, delta: str) -> None:
        held = self.texts.setdefault(index, "")
        if offset > len(held):
            self.gaps += 1
            self.needs_snapshot = True  # a gap: the contract says ask for a fresh snapshot
        elif offset + len(delta) > len(held):
            self.texts[index] = held + delta[len(held) - offset :]

    @property
    def finished(self) -> bool:
        # A client that found a gap waits for the snapshot it asked for, even after the end.
        return self.status not in (None, "started", "running") and not self.needs_snapshot


def rebuild_texts(frames: list[dict]) -> dict[int, str]:
    """Each variant's text from the chunk frames of one socket, which must each arrive exactly
    once and in order."""
    texts: dict[int, str] = {}
    for frame in frames:
        if frame["type"] == "variant.chunk":
            held = texts.setdefault(frame["index"], "")
            assert frame["offset"] == len(held), "chunks must arrive in order, without gaps"
            texts[frame["index"]] = held + frame["delta"]
    return texts
