"""The admin: every stored generation and variant, readable and never editable by accident."""

from django.contrib import admin

from generations.models import Generation, Variant


class ReadOnlyMixin:
    """Stored results are evidence of what a model produced: nobody edits them here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class VariantInline(ReadOnlyMixin, admin.StackedInline):
    model = Variant
    extra = 0
    can_delete = False
    fields = [
        "index",
        "requested_model",
        "model",
        "status",
        "finish_reason",
        "max_tokens",
        "prompt_tokens",
        "completion_tokens",
        "attempts",
        "started_at",
        "first_token_at",
        "finished_at",
        "duration_ms",
        "error_code",
        "error_message",
        "raw_html",
        "html",
        "text",
    ]
    readonly_fields = fields


@admin.register(Generation)
class GenerationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "status", "models", "duration_ms"]
    list_filter = ["status", "stack", "variants__model", "created_at"]
    search_fields = ["id", "instructions", "variants__model"]
    date_hierarchy = "created_at"
    inlines = [VariantInline]
    readonly_fields = [
        "id",
        "owner",
        "status",
        "stack",
        "instructions",
        "prompt_version",
        "screenshot",
        "screenshot_type",
        "screenshot_bytes",
        "screenshot_width",
        "screenshot_height",
        "chosen_index",
        "created_at",
        "run_started_at",
        "finished_at",
        "duration_ms",
        "runner_id",
        "heartbeat_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("variants")

    @admin.display(description="models")
    def models(self, generation: Generation) -> str:
        return ", ".join(v.model or v.requested_model for v in generation.variants.all())
