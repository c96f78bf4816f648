"""Whether the PostgreSQL and Redis the production-stack tests use answer, and why not.

`make test-stack` runs it as a script (exit 0 when both answer); the fixtures that need both
call `skip_unless_reachable` so a machine without them skips those tests with the reason,
while CI (CI=true), where `.ci/run` starts them, fails instead.
"""

import os
import sys

import pytest


def unreachable_reason(postgres_url: str, redis_url: str) -> str | None:
    """None if both servers answer within a second, else a sentence saying which does not."""
    import psycopg
    import redis

    base = postgres_url.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1)
    try:
        psycopg.connect(f"{base}/postgres", connect_timeout=1).close()
    except Exception as error:
        return f"PostgreSQL at {postgres_url} does not answer ({type(error).__name__})"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except Exception as error:
        return f"Redis at {redis_url} does not answer ({type(error).__name__})"
    return None


def skip_unless_reachable(postgres_url: str, redis_url: str) -> None:
    reason = unreachable_reason(postgres_url, redis_url)
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs PostgreSQL and Redis: {reason}")
    pytest.skip(reason)


if __name__ == "__main__":
    problem = unreachable_reason(sys.argv[1], sys.argv[2])
    if problem:
        sys.stdout.write(problem + "\n")
    sys.exit(1 if problem else 0)
