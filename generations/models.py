"""Stored generations and their variants; the status names every other module uses."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class GenerationStatus(models.TextChoices):
    STARTED = "started"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class VariantStatus(models.TextChoices):
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class RenderStatus(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class VariantErrorCode(models.TextChoices):
    """Why a variant failed (contract §3, `variant.failed`); each label is the hint a person
    reads next to the code."""

    MODEL_UNAVAILABLE = (
        "model_unavailable",
        "None of this variant's models is available to the API key.",
    )
    RATE_LIMITED = "rate_limited", "The model API is rate-limiting requests."
    QUOTA_EXCEEDED = "quota_exceeded", "The API key's quota is used up."
    AUTH_FAILED = "auth_failed", "The model API refused the API key."
    BAD_REQUEST = "bad_request", "The model API refused the request."
    UPSTREAM_ERROR = "upstream_error", "The model API had an error."
    TIMEOUT = "timeout", "The model did not finish in time."
    STREAM_BROKEN = "stream_broken", "The model's answer kept breaking off midway."
    # Not one of the contract's model failures: clonegen itself could not run the variant (its
    # stored screenshot is gone, say). docs/decisions.md, "Durability".
    INTERNAL_ERROR = "internal_error", "clonegen could not run this variant."


# A process is taken for dead once it missed this many heartbeats.
MISSED_HEARTBEATS = 3
# A generation in these states may still change; every other status is final until a retry.
ACTIVE_GENERATION_STATUSES = (GenerationStatus.STARTED, GenerationStatus.RUNNING)
ENDED_VARIANT_STATUSES = (
    VariantStatus.COMPLETED,
    VariantStatus.FAILED,
    VariantStatus.CANCELLED,
    VariantStatus.INTERRUPTED,
)
# A variant in these states still waits for, or reads, a model's answer.
ACTIVE_VARIANT_STATUSES = (VariantStatus.PENDING, VariantStatus.STREAMING)
# The model itself settled these: a result or a refusal. A cancelled or interrupted variant was
# stopped from outside, so it says nothing about the model, and a cancel may still end it.
SETTLED_VARIANT_STATUSES = (VariantStatus.COMPLETED, VariantStatus.FAILED)
# A retry re-runs whatever did not complete: any ended generation but a completed one.
RETRYABLE_GENERATION_STATUSES = (
    GenerationStatus.PARTIAL,
    GenerationStatus.FAILED,
    GenerationStatus.CANCELLED,
    GenerationStatus.INTERRUPTED,
)


class GenerationKind(models.TextChoices):
    """A clone turns a screenshot into pages; an edit changes one completed variant of its
    parent as the user asked (contract §8)."""

    CLONE = "clone"
    EDIT = "edit"


class Stack(models.TextChoices):
    HTML_TAILWIND = "html_tailwind", "HTML + Tailwind"
    HTML_CSS = "html_css", "HTML + CSS"


def screenshot_path(generation: "Generation", filename: str) -> str:
    # Named by the server's UUID only: nothing the user sent ends up in a path.
    extension = filename.rsplit(".", 1)[-1]
    return f"screenshots/{generation.id}.{extension}"


def thumbnail_path(generation: "Generation", filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1]
    return f"thumbnails/{generation.id}.{extension}"


class Generation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Who asked, without login: a keyed hash of the client address (for the rate limit), so
    # the address itself is never stored.
    client_key = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=GenerationStatus.choices, default=GenerationStatus.STARTED
    )
    stack = models.CharField(max_length=16, choices=Stack.choices, default=Stack.HTML_TAILWIND)
    instructions = models.TextField(blank=True)
    prompt_version = models.CharField(max_length=32)
    screenshot = models.FileField(upload_to=screenshot_path)
    screenshot_type = models.CharField(max_length=32)
    screenshot_bytes = models.PositiveIntegerField()
    screenshot_width = models.PositiveIntegerField()
    screenshot_height = models.PositiveIntegerField()
    # A small image of the screenshot's top for lists (history, admin); derived, so never
    # exported, and made on first request when missing (generations.thumbnails).
    thumbnail = models.FileField(upload_to=thumbnail_path, blank=True)
    # Made in demo mode (no OPENAI_API_KEY): its text is the local stand-in's, not a model's,
    # so it is labelled everywhere, costs nothing and never counts in the model stats.
    demo = models.BooleanField(default=False)
    # Asked for generated images in place of placeholders (contract §11).
    images = models.BooleanField(default=False)
    chosen_index = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # The lineage (contract §8). `root` is the lineage's first generation, its own id for a
    # root, so `?root=` is one indexed lookup. PROTECT: a parent that children point at (their
    # prompt and screenshot came from it) cannot vanish under them (docs/decisions.md, Lineage).
    kind = models.CharField(
        max_length=8, choices=GenerationKind.choices, default=GenerationKind.CLONE
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    parent_index = models.PositiveSmallIntegerField(null=True, blank=True)
    # DO_NOTHING: a root refers to itself, and PROTECT would refuse to delete even a lone one.
    # `parent`'s PROTECT already keeps a root with descendants (they descend through its
    # children), and the database's own foreign key backs it.
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="descendants"
    )
    # The page the screenshot was captured from (contract §10); "" for an uploaded one.
    source_url = models.CharField(max_length=2048, blank=True)
    # Which process runs the generation and when it last said it was alive, so a restarted
    # server can tell work that died with its process from work another process still runs.
    runner_id = models.CharField(max_length=128, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="clone", parent__isnull=True, parent_index__isnull=True)
                    | models.Q(kind="edit", parent__isnull=False, parent_index__isnull=False)
                ),
                name="edit_has_parent_variant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def lineage_root_id(self):
        """The root of this generation's lineage (its own id for a root)."""
        return self.root_id or self.id

    @property
    def total_cost_usd(self) -> Decimal | None:
        """The variants' summed cost, or None while no variant has one. Reads
        `variants.all()`, so a prefetch (selectors.variants_prefetch) makes it free."""
        costs = [v.cost_usd for v in self.variants.all() if v.cost_usd is not None]
        return sum(costs, Decimal("0")) if costs else None


class Variant(models.Model):
    generation = models.ForeignKey(Generation, related_name="variants", on_delete=models.CASCADE)
    index = models.PositiveSmallIntegerField()
    requested_model = models.CharField(max_length=100)
    # The fallback chain as configured when the generation was created, "|"-separated.
    model_chain = models.CharField(max_length=500)
    model = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=VariantStatus.choices, default=VariantStatus.PENDING
    )
    text = models.TextField(blank=True)
    # NULL means "no result yet", which an empty answer ("") must not be confused with.
    raw_html = models.TextField(null=True, blank=True)  # noqa: DJ001
    html = models.TextField(null=True, blank=True)  # noqa: DJ001
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True, choices=VariantErrorCode.choices)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # USD, from usage and the price table when the variant ends; null when usage is unknown.
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    # Post-processing after the save (contract §9, §11): the server's render and its score, and
    # the images generated for the page's placeholders. None of it changes the result above.
    render_status = models.CharField(
        max_length=16, choices=RenderStatus.choices, default=RenderStatus.PENDING
    )
    render_error = models.TextField(blank=True)
    score = models.JSONField(null=True, blank=True)
    images = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="unique_variant_index")
        ]

    def __str__(self) -> str:
        return f"{self.generation_id}#{self.index} {self.model or self.requested_model}"

    @property
    def shown_html(self) -> str | None:
        """The page a person sees: the post-processed HTML, else the HTML as extracted (a
        variant whose post-processing has not been saved yet, or failed)."""
        return self.html if self.html is not None else self.raw_html

    @property
    def chain(self) -> tuple[str, ...]:
        return tuple(self.model_chain.split("|"))
