"""Project middleware: the page login requirement, switched by CLONEGEN_REQUIRE_LOGIN."""

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredWhenConfiguredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, active only while CLONEGEN_REQUIRE_LOGIN is on.

    The API is exempt here: it answers 401 `login_required` itself rather than redirecting.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.CLONEGEN_REQUIRE_LOGIN or request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
