"""Test settings: clonegen's own settings with a throwaway data folder and a file-backed test DB."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ["DJANGO_HTTPS"] = "0"  # the test client and test servers speak plain HTTP
os.environ["CLONEGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="clonegen-test-")
# Tests choose the model server themselves; a developer's real key must never be used.
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)
os.environ.pop("CLONEGEN_MODELS", None)

from clonegen.settings import *  # noqa: F403
from clonegen.settings import DATA_DIR, DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: WAL and IMMEDIATE behave as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

CLONEGEN_CHUNK_INTERVAL_SECONDS = 0.02
CLONEGEN_BACKGROUND_SERVICES = False
# A render costs a second of CPU: only the tests of renders and scores turn it on.
CLONEGEN_RENDERS = False
# Tests of the limit set their own; the others must not run into it by accident.
CLONEGEN_RATE_LIMIT = "1000/hour"
