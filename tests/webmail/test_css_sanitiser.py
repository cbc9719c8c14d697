"""Style attributes keep presentation and lose anything a browser could run or load."""

import pytest

from webadmin.webmail import render
from webadmin.webmail.render import sanitize_html


@pytest.mark.parametrize("style", [
    "width: expression(alert(1))",
    "color: EXPRESSION (alert(1))",
    "width: ex/**/pression(alert(1))",
    r"font: 12px expr\65ssion(alert(1))",
    r"font: 12px expr\000065 ssion(alert(1))",
    "width: ｅｘｐｒｅｓｓｉｏｎ(alert(1))",  # fullwidth letters, folded by NFKC
    "behavior: url(x.htc)",
    "-moz-binding: url(http://evil.test/x.xml#xss)",
    "background-color: url(javascript:alert(1))",
    "background-color: url( 'JavaScript:alert(1)' )",
    r"background-color: url(java\73 cript:alert(1))",
    "color: red; @import 'http://evil.test/x.css'",
])
def test_script_and_urls_in_a_style_are_removed(style):
    html, _ = sanitize_html(f'<p style="{style}">x</p>')
    lowered = html.lower()
    for word in ("expression", "behavior", "binding", "javascript", "url(", "@import"):
        assert word not in lowered
    assert ">x</p>" in html


def test_the_harmless_declarations_beside_them_stay():
    html, _ = sanitize_html('<p style="width: expression(alert(1)); color: red; font-size: 14px">x</p>')
    assert html == '<p style="color:red;font-size:14px">x</p>'


def test_ordinary_newsletter_styles_pass_unchanged():
    style = 'font-family: "Helvetica Neue", Arial, sans-serif; color: #333; padding: 4px 8px; border: 1px solid #ccc'
    assert render.safe_style(style) == style
