"""Models over time (contract §12): which configured models the API still offers and when each
shuts down, from `GET /v1/models`, fetched in the background and read without I/O."""

import asyncio
import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import openai

logger = logging.getLogger(__name__)

# The contract asks for at least every 6 hours; shutdown dates are announced months ahead.
REFRESH_SECONDS = 6 * 60 * 60
FETCH_TIMEOUT_SECONDS = 30.0
WARN_DAYS = 60


@dataclass(frozen=True)
class ModelState:
    """One configured model as the API last described it; None where that is unknown."""

    model: str
    available: bool | None
    shutdown_date: datetime.date | None

    def as_health(self) -> dict:
        """Return the contract's `/api/health` entry for this model."""
        return {
            "model": self.model,
            "available": self.available,
            "shutdown_date": self.shutdown_date.isoformat() if self.shutdown_date else None,
        }


def _parse_date(value: object) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def configured_models() -> list[str]:
    """Return every model of every configured chain, each once, in the order configured."""
    from generations.catalog import configured_variants

    return list(dict.fromkeys(model for spec in configured_variants() for model in spec.chain))


def _default_client() -> openai.AsyncOpenAI:
    from generations import model_client

    return model_client.client()


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def _shutdown_message(model: str, date: datetime.date, today: datetime.date) -> str:
    left = (date - today).days
    if left > 1:
        return f"{model} shuts down on {date} (in {left} days)."
    if left == 1:
        return f"{model} shuts down tomorrow, {date}."
    if left == 0:
        return f"{model} shuts down today, {date}."
    return f"{model} was shut down on {date}."


class ModelStatus:
    """The API's model listing as last fetched, and what it says of the configured models.

    Readers (the health view, the admin, the page) never wait: they see the last listing, or
    unknown (None) before the first fetch and after a fetch that failed.
    """

    def __init__(
        self,
        *,
        models: Callable[[], Iterable[str]] = configured_models,
        client: Callable[[], openai.AsyncOpenAI] = _default_client,
        today: Callable[[], datetime.date] = _today,
    ) -> None:
        self.models = models
        self.client = client
        self.today = today
        # Model id -> its shutdown date; None while unknown. Replaced whole, never mutated, so
        # a reader on another thread sees one listing or the next, never half of one.
        self._listing: dict[str, datetime.date | None] | None = None

    async def refresh(self) -> bool:
        """Fetch the listing; return True if it came. A failure is logged, never raised."""
        try:
            page = await self.client().models.list(timeout=FETCH_TIMEOUT_SECONDS)
            listing = {
                entry.id: _parse_date(getattr(entry, "shutdown_date", None)) for entry in page.data
            }
        except (openai.OpenAIError, ValueError, TypeError) as exc:
            status = getattr(exc, "status_code", None)
            detail = f"HTTP {status}" if status else type(exc).__name__
            logger.warning("Could not fetch the model list (GET /v1/models): %s", detail)
            self._listing = None
            return False
        self._listing = listing
        return True

    async def run(self, *, interval: float = REFRESH_SECONDS) -> None:
        """Refresh now and then every `interval` seconds, until cancelled."""
        while True:
            try:
                await self.refresh()
            except Exception:  # the loop must outlive a surprise; the next round tries again
                logger.exception("Model list refresh failed")
            await asyncio.sleep(interval)

    def states(self) -> list[ModelState]:
        """Return the state of every configured model."""
        listing = self._listing
        if listing is None:
            return [ModelState(model, None, None) for model in self.models()]
        return [ModelState(model, model in listing, listing.get(model)) for model in self.models()]

    def health(self) -> list[dict]:
        """Return `/api/health`'s `models` list (contract §12)."""
        return [state.as_health() for state in self.states()]

    def warnings(self, *, days: int = WARN_DAYS) -> list[dict]:
        """Return the configured models to warn about: unavailable, or shutting down within
        `days` days (or already past their date), each with a sentence naming it and the date.
        """
        today, found = self.today(), []
        for state in self.states():
            if state.available is False:
                message = f"{state.model} is not offered by the model API any more."
            elif state.shutdown_date and (state.shutdown_date - today).days <= days:
                message = _shutdown_message(state.model, state.shutdown_date, today)
            else:
                continue
            found.append(state.as_health() | {"message": message})
        return found


status = ModelStatus()
