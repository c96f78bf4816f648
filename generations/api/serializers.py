"""The generation object of contract §7, and the request bodies the API accepts."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from generations.models import Generation, Stack, Variant
from generations.selectors import chosen_variant


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class VariantSerializer(serializers.ModelSerializer):
    model = serializers.SerializerMethodField()
    finish_reason = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = Variant
        fields = [
            "index",
            "requested_model",
            "model",
            "status",
            "html",
            "raw_html",
            "text",
            "duration_ms",
            "finish_reason",
            "max_tokens",
            "prompt_tokens",
            "completion_tokens",
            "error",
        ]

    def get_model(self, variant: Variant) -> str | None:
        return variant.model or None

    def get_finish_reason(self, variant: Variant) -> str | None:
        return variant.finish_reason or None

    def get_error(self, variant: Variant) -> ErrorSerializer | None:
        if not variant.error_code:
            return None
        return {"code": variant.error_code, "message": variant.error_message}


class GenerationSerializer(serializers.ModelSerializer):
    html = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Generation
        fields = ["id", "status", "html", "model", "created_at", "duration_ms", "variants"]

    def get_html(self, generation: Generation) -> str | None:
        chosen = chosen_variant(generation)
        return chosen.html if chosen else None

    def get_model(self, generation: Generation) -> str | None:
        chosen = chosen_variant(generation)
        return chosen.model if chosen else None


class GenerateRequestSerializer(serializers.Serializer):
    """Documents the POST body; validation itself is shared with the socket in `actions`."""

    image = serializers.CharField(help_text="A data URL of a PNG, JPEG or WebP screenshot.")
    instructions = serializers.CharField(required=False, allow_blank=True)
    stack = serializers.ChoiceField(choices=Stack.values, required=False)


class ChooseRequestSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)


class HealthSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["demo", "live"])
    database = serializers.CharField()
    channel_layer = serializers.CharField()


def envelope(name: str, data) -> serializers.Serializer:
    """The success envelope around `data`, for the schema."""
    return inline_serializer(
        name=f"{name}Envelope", fields={"success": serializers.BooleanField(), "data": data}
    )


ERROR_ENVELOPE = inline_serializer(
    name="ErrorEnvelope",
    fields={"success": serializers.BooleanField(), "error": ErrorSerializer()},
)

GENERATION_PAGE = inline_serializer(
    name="GenerationPage",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": GenerationSerializer(many=True),
    },
)
