"""History filters and ordering for `GET /api/generations`."""

import datetime

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef
from django_filters.widgets import BooleanWidget
from rest_framework.exceptions import ValidationError

from generations.models import Generation, GenerationStatus, Variant, VariantStatus
from generations.selectors import generations_using_model


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 bound, compared in UTC: PostgreSQL refuses offsets past ±15:59, which ISO
    allows, and a bound that leaves the calendar in UTC is not a date at all."""

    def filter(self, queryset, value):
        if value is not None:
            try:
                value = value.astimezone(datetime.UTC)
            except OverflowError:
                raise ValidationError({self.field_name: "Not a representable date."}) from None
        return super().filter(queryset, value)


class _KeepUnknownBooleanWidget(BooleanWidget):
    """django-filter's widget turns any word but true/false/1/0 into "no filter"; this one hands
    the word on, so the field can refuse it."""

    def value_from_datadict(self, data, files, name):
        parsed = super().value_from_datadict(data, files, name)
        raw = data.get(name)
        return raw if parsed is None and raw not in (None, "") else parsed


class StrictBooleanField(forms.NullBooleanField):
    widget = _KeepUnknownBooleanWidget

    def to_python(self, value):
        if value is True or value is False:
            return value
        if value in (None, ""):
            return None
        raise forms.ValidationError("Must be true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """`true` or `false` (or 1/0); anything else is a 400 `invalid_field`, never ignored."""

    field_class = StrictBooleanField


class NullsLastOrderingFilter(django_filters.OrderingFilter):
    """Orders with empty values (a generation still running has no duration) always last."""

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        field = F(self.param_map[param.lstrip("-")])
        return field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)


class GenerationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=GenerationStatus.choices)
    model = django_filters.CharFilter(
        method="filter_model", help_text="A model that produced one of the variants."
    )
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    has_failed_variant = StrictBooleanFilter(method="filter_has_failed_variant")
    root = django_filters.UUIDFilter(
        method="filter_root", help_text="A lineage: its root and every generation descending."
    )
    ordering = NullsLastOrderingFilter(
        fields=(("created_at", "created"), ("duration_ms", "duration")),
        help_text="created, -created (default), duration or -duration.",
    )

    class Meta:
        model = Generation
        fields = ["status"]

    def filter_model(self, queryset, name, value):
        return generations_using_model(queryset, value)

    def filter_root(self, queryset, name, value):
        return queryset.filter(root_id=value) if value else queryset

    def filter_has_failed_variant(self, queryset, name, value):
        failed = Variant.objects.filter(generation=OuterRef("pk"), status=VariantStatus.FAILED)
        return queryset.filter(Exists(failed)) if value else queryset.exclude(Exists(failed))
