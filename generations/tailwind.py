"""The vendored Tailwind v3 play script, and the rule that points a page's CDN tag at it.

Models load Tailwind from `cdn.tailwindcss.com`; previews and server renders load the copy under
`static/generations/vendor/tailwindcss/` instead, so a page renders styled with no outside
network. Only what is shown is rewritten: the stored HTML and the download keep the CDN tag.
"""

import re
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "generations" / "vendor" / "tailwindcss"
VERSION = (VENDOR_DIR / "VERSION").read_text().strip()
# Relative to the static root, as `{% static %}` and whitenoise know it.
STATIC_PREFIX = f"generations/vendor/tailwindcss/{VERSION}/"
PLAIN = "tailwindcss.js"
ALL_PLUGINS = "tailwindcss-with-all-plugins.js"

# A <script> start tag, its attributes captured (the tag ends at the first '>' outside quotes).
_SCRIPT_TAG = re.compile(r"<script\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.IGNORECASE)
# Its src attribute when it names the play CDN, whatever the scheme (or none), path and query.
_CDN_SRC = re.compile(
    r"""(?P<lead>\ssrc\s*=\s*)
        (?P<quote>["']?)
        (?P<url>(?:https?:)?//cdn\.tailwindcss\.com(?:[/?#][^"'\s>]*)?)
        (?P=quote)""",
    re.IGNORECASE | re.VERBOSE,
)


def vendored_file(url: str) -> str:
    """Return the vendored file's name for a CDN URL: with all plugins when it asks for any."""
    query = url.partition("?")[2]
    return ALL_PLUGINS if re.search(r"(?:^|[&;])plugins=", query, re.IGNORECASE) else PLAIN


def vendored_path(name: str) -> Path:
    """Return the vendored script `name` (PLAIN or ALL_PLUGINS) on disk."""
    if name not in (PLAIN, ALL_PLUGINS):
        raise ValueError(f"not a vendored Tailwind script: {name!r}")
    return VENDOR_DIR / VERSION / name


def static_base_url() -> str:
    """Return the URL the app serves the vendored scripts under (for previews), ending in '/'."""
    from django.templatetags.static import static

    return static(STATIC_PREFIX)


def use_vendored_tailwind(html: str, *, base_url: str) -> str:
    """Return `html` with every play-CDN script tag loading the vendored script instead.

    `base_url` is where the vendored files are served, ending in '/' (the app's
    `static(STATIC_PREFIX)`, or the renderer's own origin). Every other tag, attribute and byte is
    kept, so a page that does not use the CDN comes back unchanged.
    """

    def script_tag(tag: re.Match) -> str:
        def src(attribute: re.Match) -> str:
            url = base_url + vendored_file(attribute["url"])
            return f'{attribute["lead"]}"{url}"'

        return tag[0][:7] + _CDN_SRC.sub(src, tag[1], count=1) + ">"

    return _SCRIPT_TAG.sub(script_tag, html)
