"""The web page: a screenshot in, four variants streaming side by side."""

from django.conf import settings
from django.shortcuts import render

from generations.model_client import is_demo_mode
from generations.standin import DEMO_NOTICE


def index(request):
    return render(
        request,
        "generations/index.html",
        {
            "mode": "demo" if is_demo_mode() else "live",
            "demo_notice": DEMO_NOTICE,
            "max_image_mb": settings.CLONEGEN_MAX_IMAGE_MB,
        },
    )
