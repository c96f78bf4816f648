"""The HTML extraction rule (contract §4) and the modest post-processing applied after saving."""

import re

_DOCTYPE = re.compile(r"<!doctype\s+html", re.IGNORECASE)
_HTML_OPEN = re.compile(r"<html", re.IGNORECASE)
_HTML_CLOSE = re.compile(r"</html>", re.IGNORECASE)
_FENCE_LINE = re.compile(r"^[ \t]*```[\w+-]*[ \t]*$", re.MULTILINE)
_TRAILING_FENCE = re.compile(r"\n?[ \t]*```[ \t]*\Z")
# HTML's own whitespace; Python's str.strip() would also eat visible characters such as U+00A0.
HTML_WHITESPACE = " \t\n\r\f"


def extract_html(text: str) -> str:
    """Return the HTML a model's answer contains.

    From the first `<!DOCTYPE html` (else the first `<html`) to the end of the last `</html>`,
    case-insensitive. Without `</html>` (a cut-off answer) it runs to the end, minus a trailing
    fence. Without `<html` at all, the text with its fence lines removed.
    """
    start_match = _DOCTYPE.search(text) or _HTML_OPEN.search(text)
    if start_match is None:
        return _FENCE_LINE.sub("", text).strip("\n")
    start = start_match.start()
    # Matched on the text itself: lowercasing first can change lengths (e.g. "İ").
    closes = [match.end() for match in _HTML_CLOSE.finditer(text, start)]
    if closes:
        return text[start : closes[-1]]
    return _TRAILING_FENCE.sub("", text[start:].rstrip(HTML_WHITESPACE))


def postprocess_html(raw_html: str) -> str:
    """Return `raw_html` tidied for display: a doctype, no trailing blanks, one final newline.

    It only adds or trims HTML whitespace and the doctype, so no content can be lost.
    """
    text = raw_html.replace("\r\n", "\n").strip(HTML_WHITESPACE)
    html = "\n".join(line.rstrip(" \t\r\f") for line in text.split("\n"))
    if html and not _DOCTYPE.match(html) and _HTML_OPEN.match(html):
        html = "<!DOCTYPE html>\n" + html
    return html + "\n" if html else html
