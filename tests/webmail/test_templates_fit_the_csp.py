"""Our own templates keep to the page policy: no inline script, event handler or style attribute."""

import re
from pathlib import Path

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "templates" / "webmail").glob("*.html"))


def test_there_are_templates():
    assert len(TEMPLATES) >= 7


def test_no_inline_script_handler_or_style_in_webmail_templates():
    for template in TEMPLATES:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), template.name
        assert not re.search(r"\sstyle\s*=|<style", text, re.I), template.name
        assert "javascript:" not in text.lower(), template.name
