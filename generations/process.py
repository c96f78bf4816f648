"""This server process's identity.

Stored on the generations it runs (`runner_id`), so another process can tell its work from
ours, and carried by the frames it sends through the channel layer, so its own sockets can
tell them from frames they already have.
"""

import os
import socket
import uuid

RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
