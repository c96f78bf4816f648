"""The admin: stored generations to inspect, retry and export — never to edit."""

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.utils.html import format_html

from generations import actions, selectors, transfer
from generations.access import Requester
from generations.errors import AppError
from generations.models import Generation, Variant

# What the list needs of each variant; their page-sized columns (text, HTML) stay unread.
LIST_VARIANT_FIELDS = ("id", "generation_id", "index", "status", "model", "cost_usd")
PREVIEW_STYLE = "width:100%;max-width:1200px;height:480px;border:1px solid #ccc;background:#fff"


class ReadOnlyMixin:
    """Stored results are evidence of what a model produced: nobody edits them here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ModelUsedFilter(admin.SimpleListFilter):
    """Generations in which some variant's result came from the chosen model."""

    title = "model used"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        return [(model, model) for model in selectors.models_used().distinct()]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return selectors.generations_using_model(queryset, self.value())


def code_block(summary: str, code: str | None):
    """Code, escaped, folded away until asked for."""
    if code is None:
        return "—"
    return format_html(
        '<details><summary>{} ({} characters)</summary><pre style="{}">{}</pre></details>',
        summary,
        len(code),
        "white-space:pre-wrap;max-height:480px;overflow:auto",
        code,
    )


class VariantInline(ReadOnlyMixin, admin.StackedInline):
    model = Variant
    extra = 0
    can_delete = False
    fields = [
        "index",
        "requested_model",
        "model_chain",
        "model",
        "status",
        "finish_reason",
        "max_tokens",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "attempts",
        "started_at",
        "first_token_at",
        "finished_at",
        "duration_ms",
        "error",
        "error_message",
        "preview",
        "html_code",
        "raw_html_code",
        "text_code",
    ]
    readonly_fields = fields

    @admin.display(description="error code")
    def error(self, variant: Variant) -> str:
        # The code itself, which logs and the API carry, with the hint its choice label gives.
        if not variant.error_code:
            return "—"
        return f"{variant.error_code}: {variant.get_error_code_display()}"

    @admin.display(description="preview")
    def preview(self, variant: Variant):
        if variant.shown_html is None:
            return "—"
        # Untrusted markup: scripts may run, but never with this origin (no allow-same-origin),
        # and the endpoint adds its own `sandbox allow-scripts` policy.
        return format_html(
            '<iframe sandbox="allow-scripts" src="{}" loading="lazy" title="{}" style="{}">'
            "</iframe>",
            f"/api/generations/{variant.generation_id}/variants/{variant.index}/html",
            f"variant {variant.index} preview",
            PREVIEW_STYLE,
        )

    @admin.display(description="HTML")
    def html_code(self, variant: Variant):
        return code_block("post-processed HTML", variant.html)

    @admin.display(description="raw HTML")
    def raw_html_code(self, variant: Variant):
        return code_block("HTML as extracted", variant.raw_html)

    @admin.display(description="model text")
    def text_code(self, variant: Variant):
        return code_block("text as streamed", variant.text)


@admin.register(Generation)
class GenerationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "status",
        "chosen_model",
        "duration",
        "total_cost",
        "thumbnail",
    ]
    list_filter = ["status", "kind", ModelUsedFilter, "created_at"]
    search_fields = ["id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    # A second COUNT over the whole history on every page is not worth its cost.
    show_full_result_count = False
    inlines = [VariantInline]
    actions = ["retry_selected", "export_selected"]
    fields = [
        "id",
        "status",
        "screenshot_preview",
        "owner",
        "client_key",
        "stack",
        "instructions",
        "kind",
        "parent",
        "parent_index",
        "root",
        "source_url",
        "prompt_version",
        "screenshot_name",
        "screenshot_type",
        "screenshot_bytes",
        "screenshot_width",
        "screenshot_height",
        "chosen_index",
        "total_cost",
        "created_at",
        "run_started_at",
        "finished_at",
        "duration_ms",
        "runner_id",
        "heartbeat_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .prefetch_related(selectors.variants_prefetch(*LIST_VARIANT_FIELDS))
        )

    def get_search_results(self, request, queryset, search_term):
        # A whole id is one indexed lookup; anything else falls back to a partial match.
        try:
            return queryset.filter(id=selectors.parse_generation_id(search_term.strip())), False
        except AppError:
            return super().get_search_results(request, queryset, search_term)

    # ------------------------------------------------------------------------- columns

    @admin.display(description="chosen model")
    def chosen_model(self, generation: Generation) -> str:
        variant = selectors.chosen_variant(generation)
        return variant.model if variant else "—"

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, generation: Generation) -> str:
        if generation.duration_ms is None:
            return "—"
        return f"{generation.duration_ms / 1000:.1f} s"

    @admin.display(description="total cost")
    def total_cost(self, generation: Generation) -> str:
        total = generation.total_cost_usd
        return "—" if total is None else f"${total:.4f}"

    @admin.display(description="screenshot")
    def thumbnail(self, generation: Generation):
        return format_html(
            '<img src="{}" alt="screenshot" loading="lazy" width="96" '
            'style="max-height:72px;object-fit:cover;object-position:top">',
            f"/g/{generation.id}/screenshot",
        )

    @admin.display(description="screenshot")
    def screenshot_preview(self, generation: Generation):
        src = f"/g/{generation.id}/screenshot"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="screenshot" '
            'style="max-width:480px;max-height:360px;border:1px solid #ccc"></a>',
            src,
            src,
        )

    @admin.display(description="stored file")
    def screenshot_name(self, generation: Generation) -> str:
        return generation.screenshot.name

    # ------------------------------------------------------------------------- actions

    @admin.action(description="Retry selected generations", permissions=["view"])
    def retry_selected(self, request, queryset):
        requester = Requester(user=request.user, client_key="admin")
        for generation_id in queryset.prefetch_related(None).values_list("id", flat=True):
            try:
                # Under daphne this runs on the server's event loop, where the run lives on.
                async_to_sync(actions.retry_generation)(generation_id, requester)
            except AppError as error:
                self.message_user(
                    request,
                    f"{generation_id}: refused ({error.code}): {error.message}",
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"{generation_id}: retried, now running.")

    @admin.action(description="Export selected (JSON Lines)", permissions=["view"])
    def export_selected(self, request, queryset):
        # An ASGI server would read a sync iterator whole into memory before sending it.
        if isinstance(request, ASGIRequest):
            lines = transfer.aexport_lines(queryset)
        else:
            lines = transfer.export_lines(queryset)
        response = StreamingHttpResponse(lines, content_type=transfer.CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{transfer.export_filename()}"'
        return response
