"""The generation object of contract §7, and the request bodies the API accepts."""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from generations.models import Generation, RenderStatus, Stack, Variant
from generations.selectors import chosen_variant


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ScoreSerializer(serializers.Serializer):
    """The visual score of a variant's server render against the screenshot (docs/scoring.md)."""

    visual = serializers.FloatField(help_text="0 to 1; higher is closer to the screenshot.")
    structure = serializers.FloatField(allow_null=True)
    color = serializers.FloatField(allow_null=True)
    layout = serializers.FloatField(allow_null=True)
    text = serializers.FloatField(allow_null=True)
    coverage = serializers.FloatField()
    offset_px = serializers.IntegerField()


class ImageSerializer(serializers.Serializer):
    alt = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["generated", "failed", "skipped"])
    error = serializers.CharField(allow_null=True, required=False)


class VariantSummarySerializer(serializers.ModelSerializer):
    """A variant in the history list: everything but its page-sized text and HTML."""

    model = serializers.SerializerMethodField()
    finish_reason = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    score = ScoreSerializer(allow_null=True, read_only=True)

    class Meta:
        model = Variant
        fields = [
            "index",
            "requested_model",
            "model",
            "status",
            "duration_ms",
            "finish_reason",
            "max_tokens",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "attempts",
            "error",
            "render_status",
            "score",
        ]

    def get_model(self, variant: Variant) -> str | None:
        return variant.model or None

    def get_finish_reason(self, variant: Variant) -> str | None:
        return variant.finish_reason or None

    @extend_schema_field(ErrorSerializer(allow_null=True))
    def get_error(self, variant: Variant) -> dict | None:
        if not variant.error_code:
            return None
        return {"code": variant.error_code, "message": variant.error_message}


class VariantSerializer(VariantSummarySerializer):
    # The page as shown, like the socket's snapshot: post-processed, else as extracted.
    html = serializers.CharField(source="shown_html", read_only=True, allow_null=True)
    render_url = serializers.SerializerMethodField()
    images = ImageSerializer(many=True, read_only=True)

    class Meta(VariantSummarySerializer.Meta):
        fields = [
            *VariantSummarySerializer.Meta.fields[:4],
            "html",
            "raw_html",
            "text",
            *VariantSummarySerializer.Meta.fields[4:],
            "render_error",
            "render_url",
            "images",
        ]

    def get_render_url(self, variant: Variant) -> str | None:
        if variant.render_status != RenderStatus.DONE:
            return None
        return f"/api/generations/{variant.generation_id}/variants/{variant.index}/render.png"


class ParentSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The generation this one edits.")
    index = serializers.IntegerField(help_text="Which of its variants was edited.")


class GenerationSerializer(serializers.ModelSerializer):
    html = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    total_cost_usd = serializers.SerializerMethodField()
    # The lineage, contract §8.
    parent = serializers.SerializerMethodField()
    root_id = serializers.UUIDField(source="lineage_root_id", read_only=True)
    source_url = serializers.SerializerMethodField()
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Generation
        fields = [
            "id",
            "status",
            "html",
            "model",
            "chosen_index",
            "demo",
            "images",
            "stack",
            "prompt_version",
            "created_at",
            "finished_at",
            "duration_ms",
            "total_cost_usd",
            "kind",
            "parent",
            "root_id",
            "source_url",
            "variants",
        ]
        extra_kwargs = {
            "chosen_index": {"help_text": "The variant a user chose; null until one does."},
            "demo": {"help_text": "Made in demo mode: the local stand-in wrote it, no model."},
            "images": {"help_text": "Asked for generated images in place of placeholders."},
        }

    @extend_schema_field(ParentSerializer(allow_null=True))
    def get_parent(self, generation: Generation) -> dict | None:
        if generation.parent_id is None:
            return None
        return {"id": str(generation.parent_id), "index": generation.parent_index}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_source_url(self, generation: Generation) -> str | None:
        return generation.source_url or None

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True))
    def get_total_cost_usd(self, generation: Generation) -> str | None:
        total = generation.total_cost_usd
        return None if total is None else str(total)

    def get_html(self, generation: Generation) -> str | None:
        chosen = chosen_variant(generation)
        return chosen.shown_html if chosen else None

    def get_model(self, generation: Generation) -> str | None:
        chosen = chosen_variant(generation)
        return chosen.model if chosen else None


class GenerationSummarySerializer(GenerationSerializer):
    """A generation in the history list (contract §13): its variants without text and HTML.
    Expects `selectors.generation_summaries(with_shown_html=True)`."""

    variants = VariantSummarySerializer(many=True, read_only=True)

    def get_html(self, generation: Generation) -> str | None:
        return generation.shown_html


class GenerateRequestSerializer(serializers.Serializer):
    """Documents the POST body; validation itself is shared with the socket in `actions`.
    Exactly one of `image`, `url` and `screenshot_of`."""

    image = serializers.CharField(
        required=False, help_text="A data URL of a PNG, JPEG or WebP screenshot."
    )
    url = serializers.URLField(
        required=False, help_text="An http(s) page to capture as the screenshot (contract §10)."
    )
    screenshot_of = serializers.UUIDField(
        required=False, help_text="A generation whose stored screenshot to reuse (a re-run)."
    )
    instructions = serializers.CharField(required=False, allow_blank=True)
    stack = serializers.ChoiceField(choices=Stack.values, required=False)
    images = serializers.BooleanField(
        required=False,
        help_text="Generate images for the pages' placeholders (default: CLONEGEN_IMAGES).",
    )


class EditRequestSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0, help_text="The completed variant to change.")
    instructions = serializers.CharField(help_text="What to change; must not be empty.")


class ChooseRequestSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)


class ModelStatsSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The model that produced the variants.")
    runs = serializers.IntegerField(help_text="Variants that ended completed or failed.")
    completed_share = serializers.FloatField()
    median_duration_ms = serializers.IntegerField(allow_null=True)
    p95_duration_ms = serializers.IntegerField(allow_null=True)
    median_first_token_ms = serializers.IntegerField(allow_null=True)
    mean_completion_tokens = serializers.FloatField(allow_null=True)
    total_cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6)
    truncations = serializers.IntegerField(help_text="Completed with finish_reason=length.")
    fallbacks = serializers.IntegerField(help_text="Runs where it stood in for another model.")
    median_visual_score = serializers.FloatField(
        allow_null=True, help_text="Median visual score of its scored renders (0 to 1)."
    )


class ModelHealthSerializer(serializers.Serializer):
    model = serializers.CharField()
    available = serializers.BooleanField(allow_null=True)
    shutdown_date = serializers.DateField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["demo", "live"])
    database = serializers.CharField()
    channel_layer = serializers.CharField()
    models = ModelHealthSerializer(many=True)
    renderer = serializers.CharField(
        help_text='"ready", "idle" (starts on first use), "off", or "unavailable: <reason>".'
    )


def envelope(name: str, data) -> serializers.Serializer:
    """The success envelope around `data`, for the schema."""
    return inline_serializer(
        name=f"{name}Envelope", fields={"success": serializers.BooleanField(), "data": data}
    )


ERROR_ENVELOPE = inline_serializer(
    name="ErrorEnvelope",
    fields={"success": serializers.BooleanField(), "error": ErrorSerializer()},
)
