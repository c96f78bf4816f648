"""A small pool that decodes screenshots away from the thread Django's async code shares.

`database_sync_to_async` runs every socket's database calls on one thread; a screenshot at the
pixel limit takes about half a second to decode, and another user's `subscribe` waited behind
it. Pillow releases the GIL while it decodes, so a separate thread really runs beside it; two
threads bound the CPU and memory that simultaneous uploads can take.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async

DECODE_THREADS = 2
_pool = ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="clonegen-decode")


async def off_shared_thread(func: Callable, /, *args, **kwargs):
    """Run `func(*args, **kwargs)` (it must not touch the database) on the decoding pool."""
    return await sync_to_async(func, thread_sensitive=False, executor=_pool)(*args, **kwargs)
