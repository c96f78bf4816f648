"""The floor under the server's CPU per chunk: only reading the model streams, on this machine.

    .venv/bin/python bench/read_floor.py --streams 40 100

Starts the stand-in in bench mode in its own process (as bench/load.py does), then reads
`--streams` concurrent streams in this process, twice each way:

- `raw`: clonegen's `model_client.stream_completion` (the SDK request, the raw SSE body parsed
  with jiter), the code the server runs;
- `sdk`: the SDK's own chunk objects (`chat.completions.create(stream=True)`), for comparison.

It prints this process's CPU per chunk beside the stand-in's for the same chunks, so a figure
from `bench/load.py` can be read against what this machine costs for the reading alone. No
socket, no database, no relay: everything else the server does costs on top of this.
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clonegen.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")

from bench.load import Fake, proc_cpu  # noqa: E402


async def read_raw(model_client, n: int, messages) -> int:
    chunks = [0]

    def count(_delta: str) -> None:
        chunks[0] += 1

    async def one(i: int) -> None:
        await model_client.stream_completion(
            model=f"bench-{i}",
            messages=messages,
            max_tokens=1000,
            on_delta=count,
            on_request=lambda: None,
        )

    await asyncio.gather(*(one(i) for i in range(n)))
    return chunks[0]


async def read_sdk(client, n: int, messages) -> int:
    chunks = [0]

    async def one(i: int) -> None:
        stream = await client.chat.completions.create(
            model=f"bench-{i}", messages=messages, max_tokens=1000, stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                chunks[0] += 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return chunks[0]


def measure(label: str, fake: Fake, reader) -> None:
    fake_before, own_before = proc_cpu(fake.process.pid), time.process_time()
    started = time.monotonic()
    chunks = reader()
    wall = time.monotonic() - started
    own = time.process_time() - own_before
    fake_cpu = proc_cpu(fake.process.pid) - fake_before
    print(
        f"| {label} | {chunks} | {wall:.2f} | {own * 1e6 / chunks:.0f} | "
        f"{fake_cpu * 1e6 / chunks:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, nargs="+", default=[40, 100])
    parser.add_argument("--pace", type=float, default=60.0)
    parser.add_argument("--chunks", type=int, default=240)
    args = parser.parse_args()

    fake = Fake(pace=args.pace, chunks=args.chunks, chunk_chars=100)
    os.environ["OPENAI_API_KEY"] = "sk-bench-floor"
    os.environ["OPENAI_BASE_URL"] = fake.base_url
    import django

    django.setup()
    import openai

    from generations import model_client

    messages = [{"role": "user", "content": "Make the page."}]
    encoded = model_client.encode_messages(messages)
    try:
        print("| reader | chunks | wall s | reader µs/chunk | fake µs/chunk |")
        print("| --- | --: | --: | --: | --: |")
        for n in args.streams:
            for _ in range(2):
                measure(
                    f"raw + jiter, {n} streams",
                    fake,
                    lambda n=n: asyncio.run(read_raw(model_client, n, encoded)),
                )

                async def sdk(n=n) -> int:
                    client = openai.AsyncOpenAI(
                        api_key="sk-bench-floor", base_url=fake.base_url, max_retries=0
                    )
                    async with client:
                        return await read_sdk(client, n, messages)

                measure(f"SDK chunk objects, {n} streams", fake, lambda sdk=sdk: asyncio.run(sdk()))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
