"""API access: with CLONEGEN_REQUIRE_LOGIN on, only logged-in users (401 `login_required`)."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class LoginRequiredWhenConfigured(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not settings.CLONEGEN_REQUIRE_LOGIN:
            return True
        return bool(request.user and request.user.is_authenticated)
