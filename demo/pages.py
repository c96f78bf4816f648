"""Sample pages: the deterministic Tailwind landing page each model "answers" in demo mode."""

import hashlib
import html

DEMO_NOTICE = "Demo output from the clonegen local stand-in, not the work of a model."

_THEMES = (
    ("indigo", "Northwind", "Ship landing pages before the coffee gets cold."),
    ("emerald", "Greenleaf", "Analytics that grow with your garden of products."),
    ("rose", "Petalform", "Forms your customers actually enjoy filling in."),
    ("amber", "Brightdesk", "One inbox for every conversation your team has."),
    ("sky", "Cloudline", "Deploy on Friday and still sleep at night."),
    ("violet", "Nightowl", "Dashboards tuned for people who work late."),
)

_FEATURES = (
    ("Fast setup", "Connect your stack in minutes with guided onboarding."),
    ("Team spaces", "Share work across projects with fine-grained roles."),
    ("Clear billing", "Plain monthly pricing, no surprises at renewal time."),
)


def _theme_for(model: str) -> tuple[str, str, str]:
    # hashlib, not hash(): the page must be identical across processes.
    digest = hashlib.sha256(model.encode("utf-8")).digest()
    return _THEMES[digest[0] % len(_THEMES)]


def escaped(value: str) -> str:
    # quote=False keeps apostrophes literal so callers can search the page for plain strings.
    return html.escape(value, quote=False)


def _feature_cards(colour: str) -> str:
    return "\n".join(
        f'        <div class="rounded-xl border border-gray-200 bg-white p-6 shadow-sm">\n'
        f'          <h3 class="text-lg font-semibold text-{colour}-700">{title}</h3>\n'
        f'          <p class="mt-2 text-sm text-gray-600">{body}</p>\n'
        f"        </div>"
        for title, body in _FEATURES
    )


def sample_page(model: str) -> str:
    """Return a small, deterministic Tailwind landing page whose <h1> names `model`."""
    colour, brand, tagline = _theme_for(model)
    name = escaped(model)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{brand} - {name}</title>
  <script src="https://cdn.tailwindcss.com"></script>
</head>
<body class="min-h-screen bg-gray-50 font-sans text-gray-900">
  <header class="border-b border-gray-200 bg-white">
    <nav class="mx-auto flex max-w-5xl items-center justify-between px-6 py-4">
      <a href="#" class="text-xl font-bold text-{colour}-600">{brand}</a>
      <ul class="flex gap-6 text-sm text-gray-600">
        <li><a href="#features" class="hover:text-{colour}-600">Features</a></li>
        <li><a href="#pricing" class="hover:text-{colour}-600">Pricing</a></li>
        <li><a href="#contact" class="hover:text-{colour}-600">Contact</a></li>
      </ul>
    </nav>
  </header>
  <main>
    <section class="mx-auto max-w-5xl px-6 py-20 text-center">
      <h1 class="text-4xl font-extrabold tracking-tight sm:text-5xl">{brand} by {name}</h1>
      <p class="mx-auto mt-4 max-w-2xl text-lg text-gray-600">{tagline}</p>
      <img src="" alt="A laptop on a desk showing the {brand} dashboard" width="960" height="400"
           class="mx-auto mt-10 w-full max-w-3xl rounded-xl bg-gray-200">
      <div class="mt-8 flex justify-center gap-4">
        <a href="#"
           class="rounded-lg bg-{colour}-600 px-5 py-3 font-medium text-white
                  hover:bg-{colour}-700">Get started</a>
        <a href="#"
           class="rounded-lg border border-gray-300 px-5 py-3 font-medium text-gray-700
                  hover:bg-gray-100">Book a demo</a>
      </div>
    </section>
    <section id="features" class="mx-auto max-w-5xl px-6 pb-20">
      <div class="grid gap-6 sm:grid-cols-3">
{_feature_cards(colour)}
      </div>
    </section>
  </main>
  <footer class="border-t border-gray-200 bg-white">
    <div class="mx-auto max-w-5xl px-6 py-6 text-center text-sm text-gray-500">
      <p>&copy; 2025 {brand}. All rights reserved.</p>
      <p class="mt-1 font-medium text-{colour}-700">{escaped(DEMO_NOTICE)}</p>
    </div>
  </footer>
</body>
</html>"""


def wrap_in_prose(page: str) -> str:
    """Return `page` inside an html fence between two prose sentences, the way models answer."""
    return (
        "Here is the HTML page recreated from your screenshot.\n\n"
        f"```html\n{page}\n```\n\n"
        "It uses Tailwind CSS from the CDN, so it renders without a build step.\n"
    )


def default_text_for(model: str) -> str:
    """Return the answer the stand-in streams for `model` unless a test scripts another."""
    return wrap_in_prose(sample_page(model))
