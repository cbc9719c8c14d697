"""A corpus of hostile HTML mails runs no script in Chromium, neither in the reading page nor opened directly."""

from __future__ import annotations

import pytest

from tests.browser import screenshot
from tests.conftest import PASSWORD
from tests.webmail.conftest import html_message

pytestmark = pytest.mark.browser

SVG_B64 = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iYWxlcnQoMTkpIi8+"
CORPUS = [
    "<script>alert(1)</script><p>script tag</p>",
    '<img src="x" onerror="alert(2)"><p>onerror</p>',
    '<a href="javascript:alert(3)">javascript link</a>',
    "<svg><script>alert(4)</script></svg><svg onload=alert(5)></svg><p>svg</p>",
    "<style>@import 'http://127.0.0.1:9/x.css'; body{background:url(javascript:alert(6))}</style>"
    '<div style="background-image:url(javascript:alert(7));width:expression(alert(8));position:fixed;top:0">css</div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(9)"><p>meta refresh</p>',
    '<base href="javascript:alert(10)//"><a href="x">relative under base</a>',
    '<iframe src="data:text/html,<script>alert(11)</script>"></iframe>'
    '<object data="data:text/html,<script>alert(11)</script>"></object><embed src="javascript:alert(11)">',
    '<a href="data:text/html,<script>alert(12)</script>">data link</a>',
    '<form action="javascript:alert(13)"><button>go</button></form><input autofocus onfocus="alert(14)">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(15)></style></mglyph></table></mtext></math>",
    '<noscript><p title="</noscript><img src=x onerror=alert(16)>"></p></noscript>',
    "<details open ontoggle=alert(17)><summary>s</summary></details>",
    "<body onload=alert(18)><p>body onload</p></body>",
    f'<img src="data:image/svg+xml;base64,{SVG_B64}"><p>svg data url</p>',
    '<a href="  JaVaScRiPt:alert(20)">mixed case</a><a href="java&#x09;script:alert(21)">tab</a>',
    '<video><source onerror="alert(22)"></video><audio src="x" onerror="alert(23)"></audio>',
    '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
    '<table background="javascript:alert(24)"><tr><td>t</td></tr></table>',
    "<p>text/<b>html</b> with <!-- <script>alert(25)</script> --> a comment</p>",
    '<img src="https://127.0.0.1:9/track.gif" onload="alert(26)"><p>remote image</p>',
    "<![CDATA[<script>alert(27)</script>]]><p>cdata</p>",
    "<xmp><script>alert(28)</script></xmp><plaintext><script>alert(29)</script>",
]


def _click(link) -> None:
    """Click if the element is still there (a broken sanitiser may navigate away; the dialogs tell)."""
    from playwright.sync_api import Error

    try:
        link.click(timeout=2000)
    except Error:
        pass


def _sign_in(page, url: str) -> None:
    page.goto(f"{url}/mail/login/")
    page.fill("#address", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("table.messages")


def test_hostile_html_runs_no_script(live_server, page, transactional_db, example_com, alice_store):
    uids = [alice_store.deliver(html_message(html, subject=f"hostile {n}"))[1] for n, html in enumerate(CORPUS, 1)]
    # The subject and a plain-text body are hostile too.
    uids.append(
        alice_store.deliver(
            b"From: m@example.org\r\nTo: alice@example.com\r\nSubject: <script>alert(30)</script>\r\n\r\n"
            b"<script>alert(31)</script><img src=x onerror=alert(32)>\r\n"
        )[1]
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    popups: list[object] = []
    page.context.on("page", lambda new: popups.append(new))
    _sign_in(page, live_server.url)
    for uid in uids:
        message_url = f"{live_server.url}/mail/message/{uid}/?folder=INBOX"
        page.goto(message_url)
        page.wait_for_load_state("load")
        if page.locator("iframe.body-frame").count():
            for link in page.frame_locator("iframe.body-frame").locator("a").all():
                _click(link)  # what is left of a hostile link must do nothing
        page.wait_for_timeout(50)
        assert page.url == message_url, dialogs
    # Opened directly (as an attacker's link would), a body holding the whole corpus still runs nothing.
    _, everything = alice_store.deliver(html_message("".join(CORPUS), subject="all at once"))
    page.goto(f"{live_server.url}/mail/message/{everything}/body/?folder=INBOX")
    page.wait_for_load_state("load")
    for link in page.locator("a").all():
        _click(link)
    page.wait_for_timeout(100)
    page.goto(f"{live_server.url}/mail/message/{uids[0]}/?folder=INBOX")
    screenshot(page, "webmail-hostile-html")
    for popup in popups:
        assert not str(popup.url).lower().startswith(("javascript:", "data:"))  # type: ignore[attr-defined]
    assert dialogs == []
    assert page.console_errors == []
