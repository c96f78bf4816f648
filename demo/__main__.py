"""The command line: `python -m demo` serves a stand-in in the foreground (bench/load.py runs it
with --bench)."""

import argparse

from aiohttp import web

from demo.bench import bench_page
from demo.server import Standin


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="An OpenAI-compatible chat-completions server, for demo mode and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--pace", type=float, default=None, help="chunks per second")
    parser.add_argument(
        "--chunk-chars", type=int, default=None, help="characters per chunk (40; 100 in bench mode)"
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="serve bench pages whose chunks carry their emission time; log streams at "
        "GET /bench/streams",
    )
    parser.add_argument("--chunks", type=int, default=240, help="content chunks per bench page")
    args = parser.parse_args(argv)
    chunk_chars = args.chunk_chars or (100 if args.bench else 40)
    standin = Standin(chunks_per_second=args.pace, chunk_chars=chunk_chars, bench=args.bench)
    if args.bench:
        standin.text_for = lambda model: bench_page(
            model, chunks=args.chunks, chunk_chars=chunk_chars
        )
    print(f"clonegen stand-in: base_url http://{args.host}:{args.port}/v1", flush=True)  # noqa: T201
    # A bench streams thousands of requests: no access log line for each.
    quiet = {"access_log": None} if args.bench else {}
    web.run_app(standin.app(), host=args.host, port=args.port, print=None, **quiet)


if __name__ == "__main__":
    main()
