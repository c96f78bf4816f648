"""The admin: stored generations to inspect, retry, export and delete — never to edit.

Over 350 lines because Django's admin is declared, not composed: the two model admins, their
columns, fieldsets, previews and actions each take a few lines, and all of it is one screen."""

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from generations import actions, selectors, services, transfer
from generations.access import Requester
from generations.errors import AppError
from generations.models import ACTIVE_GENERATION_STATUSES, Generation, Variant

# What the list needs of each variant; their page-sized columns (text, HTML) stay unread.
LIST_VARIANT_FIELDS = ("id", "generation_id", "index", "status", "model", "cost_usd")
# Long free text (instructions) folds away past this many characters.
FOLD_CHARS = 300

# The list and the pages fit a 1280 px screen: the app's own navigation sidebar would take a
# quarter of it, and its one link is on the admin's home page anyway.
admin.site.enable_nav_sidebar = False


class ReadOnlyMixin:
    """Stored results are evidence of what a model produced: nobody edits them here. Deleting
    is the `delete_generations` action's alone, which takes the files along."""

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
        '<details><summary>{} ({} characters)</summary><pre class="clonegen-code">{}</pre>'
        "</details>",
        summary,
        len(code),
        code,
    )


class VariantInline(ReadOnlyMixin, admin.StackedInline):
    model = Variant
    extra = 0
    can_delete = False
    # What one looks at first is open; the run's details and the code are folded.
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("index", "status", "model", "requested_model"),
                    ("cost_usd", "duration_ms", "finish_reason"),
                    ("error", "error_message"),
                    "preview",
                ]
            },
        ),
        (
            "Run details",
            {
                "classes": ["collapse"],
                "fields": [
                    "model_chain",
                    ("prompt_tokens", "completion_tokens", "max_tokens", "attempts"),
                    ("started_at", "first_token_at", "finished_at"),
                ],
            },
        ),
        (
            "Code",
            {"classes": ["collapse"], "fields": ["html_code", "raw_html_code", "text_code"]},
        ),
    ]
    readonly_fields = [
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
        # and the endpoint adds its own `sandbox allow-scripts` policy. The page is laid out
        # 1280 px wide and scaled down (generations/admin.css), so all its width shows.
        url = f"/api/generations/{variant.generation_id}/variants/{variant.index}/html"
        return format_html(
            '<div class="clonegen-preview"><iframe sandbox="allow-scripts" src="{}"'
            ' loading="lazy" title="{}"></iframe></div>'
            '<a href="{}" target="_blank" rel="noopener">Open full size</a>',
            url,
            f"variant {variant.index} preview",
            url,
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
        "list_thumbnail",
        "short_id",
        "created_at",
        "status",
        "demo",
        "chosen_model",
        "duration",
        "total_cost",
    ]
    list_display_links = ["short_id"]
    list_filter = ["status", "demo", "kind", ModelUsedFilter, "created_at"]
    search_fields = ["id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    # A second COUNT over the whole history on every page is not worth its cost.
    show_full_result_count = False
    inlines = [VariantInline]
    actions = ["retry_selected", "export_selected", "delete_generations"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("id", "status", "demo"),
                    ("kind", "parent", "parent_index", "root"),
                    "source_url",
                    "screenshot_preview",
                    ("stack", "chosen_index", "total_cost"),
                    "instructions_folded",
                    ("created_at", "duration_ms"),
                ]
            },
        ),
        (
            "Details",
            {
                "classes": ["collapse"],
                "fields": [
                    ("owner", "client_key"),
                    "prompt_version",
                    "screenshot_name",
                    (
                        "screenshot_type",
                        "screenshot_bytes",
                        "screenshot_width",
                        "screenshot_height",
                    ),
                    ("run_started_at", "finished_at"),
                    ("runner_id", "heartbeat_at"),
                ],
            },
        ),
    ]
    readonly_fields = [
        "id",
        "status",
        "demo",
        "screenshot_preview",
        "owner",
        "client_key",
        "stack",
        "instructions_folded",
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

    @admin.display(description="id", ordering="id")
    def short_id(self, generation: Generation) -> str:
        # The whole id wraps over four lines; its first 8 characters find it (search, /g/<id>).
        return str(generation.id)[:8]

    @admin.display(description="instructions")
    def instructions_folded(self, generation: Generation):
        text = generation.instructions
        if not text:
            return "—"
        if len(text) <= FOLD_CHARS:
            return text
        return format_html(
            '<details><summary>{}… ({} characters)</summary><div class="clonegen-text">{}</div>'
            "</details>",
            text[:FOLD_CHARS],
            len(text),
            text,
        )

    @admin.display(description="chosen model")
    def chosen_model(self, generation: Generation) -> str:
        # Only a user's choice: the fallback page a generation shows was chosen by nobody.
        if generation.chosen_index is None:
            return "—"
        variant = selectors.chosen_variant(generation)
        if variant is None:
            return "—"
        return f"demo stand-in (for {variant.model})" if generation.demo else variant.model

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
    def list_thumbnail(self, generation: Generation):
        return format_html(
            '<img src="{}" alt="screenshot" loading="lazy" width="64" height="40"'
            ' class="clonegen-thumb">',
            f"/g/{generation.id}/thumbnail",
        )

    @admin.display(description="screenshot")
    def screenshot_preview(self, generation: Generation):
        src = f"/g/{generation.id}/screenshot"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="screenshot"'
            ' class="clonegen-shot"></a>',
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

    def has_delete_generations_permission(self, request) -> bool:
        return request.user.has_perm(
            f"{Generation._meta.app_label}.delete_{Generation._meta.model_name}"
        )

    @admin.action(description="Delete selected generations…", permissions=["delete_generations"])
    def delete_generations(self, request, queryset):
        """Ask first, then delete each one through the service the API uses (files included);
        a running one is refused and stays."""
        generations = list(
            queryset.prefetch_related(None).select_related(None).only("id", "status", "demo")
        )
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/generations/generation/delete_generations.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Delete generations?",
                    "opts": self.model._meta,
                    "generations": generations,
                    "running": [g for g in generations if g.status in ACTIVE_GENERATION_STATUSES],
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        deleted = 0
        for generation in generations:
            try:
                services.generation_delete(generation_id=generation.id)
            except AppError as error:
                self.message_user(
                    request,
                    f"{generation.id}: refused ({error.code}): {error.message}",
                    messages.WARNING,
                )
            else:
                deleted += 1
        self.message_user(request, f"Deleted {deleted} generation(s) and their files.")
        return None
