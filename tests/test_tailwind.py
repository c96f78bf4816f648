"""The rewrite that points a page's Tailwind CDN tag at the vendored play script."""

import pytest

from generations import tailwind

BASE = "/static/generations/vendor/tailwindcss/3.4.10/"
PLAIN = f'<script src="{BASE}tailwindcss.js"></script>'
PLUGINS = f'<script src="{BASE}tailwindcss-with-all-plugins.js"></script>'


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ('<script src="https://cdn.tailwindcss.com"></script>', PLAIN),
        ("<script src='https://cdn.tailwindcss.com/'></script>", PLAIN),
        ("<script src=https://cdn.tailwindcss.com></script>", PLAIN),
        ('<script src="//cdn.tailwindcss.com"></script>', PLAIN),
        ('<script src="http://cdn.tailwindcss.com/3.4.5"></script>', PLAIN),
        (
            '<SCRIPT SRC="https://CDN.TAILWINDCSS.COM"></SCRIPT>',
            f'<SCRIPT SRC="{BASE}tailwindcss.js"></SCRIPT>',
        ),
        ('<script src="https://cdn.tailwindcss.com?plugins=forms"></script>', PLUGINS),
        (
            '<script src="https://cdn.tailwindcss.com/?plugins=forms,typography,aspect-ratio">'
            "</script>",
            PLUGINS,
        ),
        (
            '<script src="https://cdn.tailwindcss.com/3.4.1?plugins=typography@0.5.9"></script>',
            PLUGINS,
        ),
    ],
)
def test_cdn_tags_load_the_vendored_script(tag, expected):
    html = f"<html><head>{tag}</head><body class='p-4'>x</body></html>"
    assert tailwind.use_vendored_tailwind(html, base_url=BASE) == html.replace(tag, expected)


def test_other_attributes_and_the_rest_of_the_page_are_kept():
    html = (
        '<!doctype html><html><head>\n  <meta charset="utf-8">\n'
        '  <script defer data-x=">" src="https://cdn.tailwindcss.com?plugins=forms"></script>\n'
        "  <script>tailwind.config = {theme: {extend: {}}}</script>\n"
        "</head><body><p>cdn.tailwindcss.com is named in text</p></body></html>"
    )
    rewritten = tailwind.use_vendored_tailwind(html, base_url=BASE)
    assert rewritten == html.replace(
        'src="https://cdn.tailwindcss.com?plugins=forms"',
        f'src="{BASE}tailwindcss-with-all-plugins.js"',
    )


@pytest.mark.parametrize(
    "html",
    [
        '<script src="https://cdn.jsdelivr.net/npm/tailwindcss-cdn@3.4.10/tailwindcss.js"></script>',
        '<script src="https://cdn.tailwindcss.com.evil.example/x.js"></script>',
        '<script src="https://notcdn.tailwindcss.com"></script>',
        '<link href="https://cdn.tailwindcss.com" rel="stylesheet">',
        '<img src="https://cdn.tailwindcss.com">',
        '<script data-src="https://cdn.tailwindcss.com"></script>',
        "<p>no scripts at all</p>",
    ],
)
def test_anything_else_is_left_alone(html):
    assert tailwind.use_vendored_tailwind(html, base_url=BASE) == html


def test_the_vendored_scripts_exist_under_the_static_prefix():
    assert tailwind.STATIC_PREFIX.endswith(f"/{tailwind.VERSION}/")
    for name in (tailwind.PLAIN, tailwind.ALL_PLUGINS):
        path = tailwind.vendored_path(name)
        assert path.stat().st_size > 300_000
        assert path.read_bytes().startswith(b"(()=>{")
    with pytest.raises(ValueError, match="not a vendored"):
        tailwind.vendored_path("../../settings.py")


def test_the_app_serves_the_vendored_scripts_as_static_files(client):
    base = tailwind.static_base_url()
    assert base.endswith(tailwind.STATIC_PREFIX)
    response = client.get(base + tailwind.PLAIN)
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert b"".join(response.streaming_content).startswith(b"(()=>{")
