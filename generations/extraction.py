"""The HTML extraction rule (contract §4) and the modest post-processing applied after saving."""

import re

_DOCTYPE = re.compile(r"<!doctype\s+html", re.IGNORECASE)
_HTML_OPEN = re.compile(r"<html", re.IGNORECASE)
_HTML_CLOSE = "</html>"
_FENCE_LINE = re.compile(r"^[ \t]*```[\w+-]*[ \t]*$", re.MULTILINE)
_TRAILING_FENCE = re.compile(r"\n?[ \t]*```[ \t]*\Z")


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
    end = text.lower().rfind(_HTML_CLOSE)
    if end >= start:
        return text[start : end + len(_HTML_CLOSE)]
    return _TRAILING_FENCE.sub("", text[start:].rstrip())


def postprocess_html(raw_html: str) -> str:
    """Return `raw_html` tidied for display: a doctype, no trailing blanks, one final newline.

    It only adds or trims whitespace and the doctype, so no content can be lost.
    """
    lines = [line.rstrip() for line in raw_html.replace("\r\n", "\n").strip().split("\n")]
    html = "\n".join(lines)
    if html and not _DOCTYPE.match(html) and _HTML_OPEN.match(html):
        html = "<!DOCTYPE html>\n" + html
    return html + "\n" if html else html
