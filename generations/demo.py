"""Demo mode: without OPENAI_API_KEY, the real SDK talks to a stand-in inside this process."""

import threading

from generations.standin import Standin, StandinThread

# Slow enough that a person sees four panels fill, fast enough to finish in seconds.
DEMO_CHUNKS_PER_SECOND = 40
_lock = threading.Lock()
_thread: StandinThread | None = None


def standin_base_url() -> str:
    """Return the base URL of this process's stand-in, starting it on first use."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = StandinThread(Standin(chunks_per_second=DEMO_CHUNKS_PER_SECOND))
            _thread.start()
        return _thread.base_url
