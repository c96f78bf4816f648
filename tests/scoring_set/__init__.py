"""A labelled set for the visual scorer: reference pages and candidates a person would rank.

Each folder holds a reference page and the same content in another layout (`different.html`).
The other candidates are made from the reference here, so what changed is plain to read:
- identical: the reference itself;
- close: small colour, spacing and wording changes;
- shifted: pushed down by a 48 px banner;
- resized: laid out a little narrower;
- different: the folder's `different.html`;
- unrelated: the next reference page.
The screenshot is the reference rendered by Chromium at test time, either the full page or only
its first screen (1280 x 800), as users send both.
"""

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
KINDS = ("identical", "close", "shifted", "resized", "different", "unrelated")
BANNER = (
    '<div class="h-12 flex items-center justify-center bg-amber-300 text-amber-950 text-sm'
    ' font-medium">Black Friday: 30% off every plan until Sunday</div>'
)


@dataclass(frozen=True)
class Reference:
    name: str
    screenshot: str  # "full" page or "top" (the first 1280 x 800)
    close: tuple[tuple[str, str], ...]
    resized: tuple[tuple[str, str], ...]

    def html(self, kind: str = "identical") -> str:
        """Return the candidate page of `kind` for this reference."""
        page = (HERE / self.name / "reference.html").read_text()
        if kind == "identical":
            return page
        if kind == "close":
            return _replace(page, self.close)
        if kind == "resized":
            return _replace(page, self.resized)
        if kind == "shifted":
            head, body, rest = page.partition("<body")
            tag, end, content = rest.partition(">")
            return head + body + tag + end + "\n  " + BANNER + content
        if kind == "different":
            return (HERE / self.name / "different.html").read_text()
        if kind == "unrelated":
            following = REFERENCES[(REFERENCES.index(self) + 1) % len(REFERENCES)]
            return following.html()
        raise ValueError(f"unknown candidate kind {kind!r}")


def _replace(page: str, changes: tuple[tuple[str, str], ...]) -> str:
    for old, new in changes:
        if old not in page:
            raise ValueError(f"{old!r} is not in the page")
        page = page.replace(old, new)
    return page


REFERENCES = [
    Reference(
        "saas",
        screenshot="top",
        close=(
            ("indigo-600", "indigo-500"),
            ("py-24", "py-20"),
            ("Ship your product faster", "Ship your product quicker"),
            ("Start building today", "Start for free"),
        ),
        resized=(("max-w-6xl", "max-w-5xl"),),
    ),
    Reference(
        "blog",
        screenshot="full",
        close=(
            ("bg-emerald-800", "bg-emerald-700"),
            ("gap-10", "gap-8"),
            ("space-y-8", "space-y-6"),
            ("Three days on the ridge line", "Three days along the ridge"),
        ),
        resized=(("max-w-6xl", "max-w-5xl"),),
    ),
    Reference(
        "dashboard",
        screenshot="top",
        close=(
            ("bg-teal-500", "bg-teal-600"),
            ("gap-6", "gap-5"),
            ("Recent orders", "Latest orders"),
            ("$48,210", "$48,120"),
        ),
        resized=(
            ('<div class="flex min-h-screen">', '<div class="flex min-h-screen max-w-[1160px]">'),
        ),
    ),
    Reference(
        "signin",
        screenshot="full",
        close=(
            ("bg-sky-700", "bg-sky-600"),
            ("p-10", "p-8"),
            ("mt-16", "mt-12"),
            ("Welcome back", "Welcome aboard"),
        ),
        resized=(("max-w-6xl", "max-w-5xl"), ("max-w-md", "max-w-sm")),
    ),
    Reference(
        "docs",
        screenshot="top",
        close=(
            ("text-rose-600", "text-pink-600"),
            ("mt-10 text-2xl", "mt-8 text-2xl"),
            ("Introduction to Quill", "An introduction to Quill"),
            ("fast, good looking website", "quick, handsome website"),
        ),
        resized=(("max-w-3xl", "max-w-2xl"), ("w-60", "w-56")),
    ),
]


def screenshot_of(reference: Reference, png: bytes) -> bytes:
    """The screenshot a user would send of `reference`, from its render's PNG."""
    if reference.screenshot == "full":
        return png
    with Image.open(io.BytesIO(png)) as image:
        top = image.crop((0, 0, image.width, min(image.height, 800)))
        buffer = io.BytesIO()
        top.save(buffer, format="PNG")
        return buffer.getvalue()


def score_set(browser) -> dict[str, dict[str, dict]]:
    """Render every candidate with `browser` and score it: {reference: {kind: score}}."""
    from generations.rendering import render_page
    from generations.scoring import score

    renders = {
        (reference.name, kind): render_page(reference.html(kind), browser)
        for reference in REFERENCES
        for kind in KINDS
        if kind != "unrelated"
    }
    table = {}
    for index, reference in enumerate(REFERENCES):
        shot = screenshot_of(reference, renders[reference.name, "identical"].png)
        following = REFERENCES[(index + 1) % len(REFERENCES)]
        candidates = {kind: renders.get((reference.name, kind)) for kind in KINDS}
        candidates["unrelated"] = renders[following.name, "identical"]
        table[reference.name] = {
            kind: score(shot, render.png, render.text_boxes) for kind, render in candidates.items()
        }
    return table
