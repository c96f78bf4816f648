"""The HTML extraction rule (contract §4) and the post-processing of a saved page."""

import random
import re

import pytest

from generations.extraction import extract_html, postprocess_html

PAGE = (
    "<!DOCTYPE html>\n"
    '<html lang="en">\n'
    "<head><title>Shop</title></head>\n"
    "<body><p>Hello</p></body>\n"
    "</html>"
)
FENCE = "```"

EXTRACTION_CASES = [
    pytest.param(
        f"Here is the page you asked for:\n\n{FENCE}html\n{PAGE}\n{FENCE}\n\nLet me know!",
        PAGE,
        id="prose-fence-page-fence-prose",
    ),
    pytest.param(PAGE, PAGE, id="bare-page"),
    pytest.param(
        f"Sure!\n{FENCE}html\n<html><body>x</body></html>\n{FENCE}\nDone.",
        "<html><body>x</body></html>",
        id="html-without-doctype",
    ),
    pytest.param(
        f"{FENCE}HTML\n<!doctype HTML>\n<HTML><BODY>x</BODY></HTML>\n{FENCE}",
        "<!doctype HTML>\n<HTML><BODY>x</BODY></HTML>",
        id="upper-and-lower-case-tags",
    ),
    pytest.param(
        "Result: <!DocType Html><Html><body>x</body></Html> -- enjoy",
        "<!DocType Html><Html><body>x</body></Html>",
        id="mixed-case-tags",
    ),
    pytest.param(
        f"{FENCE}html\n<!DOCTYPE html><html><body>"
        "<script>const end = '</html>';</script></body></html>\n"
        f"{FENCE}\nThat's it.",
        "<!DOCTYPE html><html><body><script>const end = '</html>';</script></body></html>",
        id="several-close-tags-up-to-the-last",
    ),
    pytest.param(
        "Version A:\n<!DOCTYPE html><html>A</html>\nVersion B:\n<html>B</html>\nPick one.",
        "<!DOCTYPE html><html>A</html>\nVersion B:\n<html>B</html>",
        id="two-documents-first-start-to-last-end",
    ),
    pytest.param(
        f"I set the `<html>` element's lang attribute.\n\n{FENCE}html\n{PAGE}\n{FENCE}",
        PAGE,
        id="doctype-wins-over-earlier-html-mention",
    ),
    pytest.param(
        f"{FENCE}html\n<!DOCTYPE html>\n<html><body><div>Half a pa",
        "<!DOCTYPE html>\n<html><body><div>Half a pa",
        id="cut-off-no-close-tag",
    ),
    pytest.param(
        f"{FENCE}html\n<!DOCTYPE html>\n<html><body><p>x</p>\n{FENCE}",
        "<!DOCTYPE html>\n<html><body><p>x</p>",
        id="cut-off-minus-trailing-fence",
    ),
    pytest.param(
        f"{FENCE}html\n<!DOCTYPE html>\n<html><body><p>x</p>\n{FENCE}\n\n",
        "<!DOCTYPE html>\n<html><body><p>x</p>",
        id="cut-off-minus-trailing-fence-and-blank-lines",
    ),
    pytest.param(
        "The page must end with </html>.\n<!DOCTYPE html><html><body>cut",
        "<!DOCTYPE html><html><body>cut",
        id="close-tag-only-before-the-start-is-a-cut-off",
    ),
    pytest.param(
        f'{FENCE}html\n<div class="card">Hi</div>\n{FENCE}',
        '<div class="card">Hi</div>',
        id="no-html-fenced-fragment",
    ),
    pytest.param(
        "I cannot reproduce this screenshot.",
        "I cannot reproduce this screenshot.",
        id="no-html-plain-text",
    ),
    pytest.param("", "", id="empty"),
    pytest.param(
        f"{FENCE}html\r\n<!DOCTYPE html>\r\n<html><body>x</body></html>\r\n{FENCE}\r\n",
        "<!DOCTYPE html>\r\n<html><body>x</body></html>",
        id="crlf-line-endings",
    ),
    pytest.param(
        f"Voilà la page :\n{FENCE}html\n"
        '<!DOCTYPE html><html lang="fr"><body><h1>Café — 東京 🚀 Ünïcödé</h1></body></html>\n'
        f"{FENCE}\nBonne journée !",
        '<!DOCTYPE html><html lang="fr"><body><h1>Café — 東京 🚀 Ünïcödé</h1></body></html>',
        id="non-ascii-preserved",
    ),
    pytest.param(
        f"Buyurun:\n{FENCE}html\n"
        '<!DOCTYPE html><html lang="tr"><body><h1>İstanbul ve İzmir</h1></body></html>\n'
        f"{FENCE}\nİyi günler!",
        '<!DOCTYPE html><html lang="tr"><body><h1>İstanbul ve İzmir</h1></body></html>',
        id="non-ascii-dotted-capital-i",
    ),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTION_CASES)
def test_extract_html(text, expected):
    assert extract_html(text) == expected, (
        f"extract_html kept {extract_html(text)!r}; contract §4 keeps {expected!r}"
    )


def test_extract_html_without_html_keeps_prose_and_drops_only_fence_lines():
    text = f"Here:\n{FENCE}html\n<div>a</div>\n  {FENCE}  \nThanks, `code` stays"
    kept = [line for line in extract_html(text).splitlines() if line.strip()]
    assert kept == ["Here:", "<div>a</div>", "Thanks, `code` stays"]


POSTPROCESS_CASES = [
    pytest.param(
        "<html><body>x</body></html>",
        "<!DOCTYPE html>\n<html><body>x</body></html>\n",
        id="adds-missing-doctype",
    ),
    pytest.param(
        "<HTML><BODY>x</BODY></HTML>",
        "<!DOCTYPE html>\n<HTML><BODY>x</BODY></HTML>\n",
        id="adds-doctype-upper-case-html",
    ),
    pytest.param(
        "<!doctype html>\n<html></html>",
        "<!doctype html>\n<html></html>\n",
        id="keeps-existing-lower-case-doctype",
    ),
    pytest.param(
        "<!DOCTYPE html>  \n<html>\t\n<body>x</body>   \n</html>   \n\n\n",
        "<!DOCTYPE html>\n<html>\n<body>x</body>\n</html>\n",
        id="trims-trailing-whitespace",
    ),
    pytest.param(
        "<!DOCTYPE html>\r\n<html>\r\n</html>\r\n",
        "<!DOCTYPE html>\n<html>\n</html>\n",
        id="crlf-to-lf",
    ),
    pytest.param(
        "\n\n  <html><body>x</body></html>",
        "<!DOCTYPE html>\n<html><body>x</body></html>\n",
        id="leading-blank-lines-then-html",
    ),
    pytest.param(
        "<!DOCTYPE html>\n<html>\n  <body>\n    <p>indented</p>\n  </body>\n</html>",
        "<!DOCTYPE html>\n<html>\n  <body>\n    <p>indented</p>\n  </body>\n</html>\n",
        id="keeps-indentation",
    ),
    pytest.param(
        '<div class="card">Hi</div>',
        '<div class="card">Hi</div>\n',
        id="fragment-saved-as-it-is",
    ),
    pytest.param("", "", id="empty"),
    pytest.param(" \n\t\n ", "", id="whitespace-only"),
]


@pytest.mark.parametrize(("raw", "expected"), POSTPROCESS_CASES)
def test_postprocess_html(raw, expected):
    assert postprocess_html(raw) == expected


# Only these are whitespace in HTML; any other character (U+00A0 included) is content.
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_FRAGMENTS = [
    "<html>",
    '<HTML lang="en">',
    "<!DOCTYPE html>",
    "<!doctype html>",
    "</html>",
    "<p>",
    "</p>",
    "text",
    "Café",
    "東京",
    "🚀",
    "İ",
    "```",
    "&nbsp;",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\n\n",
    " \n",
    "\t\r\n",
]


def _random_inputs(count: int = 400, seed: int = 20261126) -> list[str]:
    rng = random.Random(seed)
    inputs = []
    for _ in range(count):
        pieces = rng.choices(_FRAGMENTS, k=rng.randint(0, 25))
        if rng.random() < 0.3:  # often start like a model's page, to exercise the doctype path
            pieces.insert(0, rng.choice(["<html>", "<HTML>", " \n<html>", "<!DOCTYPE html>\n"]))
        inputs.append("".join(pieces))
    return inputs


def _content(text: str) -> str:
    return _HTML_WHITESPACE.sub("", text)


@pytest.mark.parametrize("raw", _random_inputs())
def test_postprocess_never_drops_content(raw):
    out = postprocess_html(raw)
    added_doctype = bool(re.match(r"\s*<html", raw, re.I))
    expected = ("<!DOCTYPEhtml>" if added_doctype else "") + _content(raw)
    assert _content(out) == expected, f"content changed: {raw!r} -> {out!r}"
    assert not re.search(r"[ \t]$", out, re.M), f"trailing blanks left: {out!r}"
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n"))
    assert postprocess_html(out) == out, "post-processing a saved page again must not change it"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("<table><tr><td>\u00a0\n</td></tr></table>", id="no-break-space"),
        pytest.param("<p>東京\u3000\n大阪</p>", id="ideographic-space"),
    ],
)
def test_postprocess_keeps_non_ascii_spaces_that_render(raw):
    # U+00A0 and U+3000 are not whitespace in HTML: they render as visible space, so they are
    # content (an empty-looking table cell keeps its height only thanks to its no-break space).
    out = postprocess_html(raw)
    assert _content(out) == _content(raw), (
        f"postprocess_html dropped a rendered non-ASCII space: {raw!r} -> {out!r}"
    )
