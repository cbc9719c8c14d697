"""The store's MIME part tree: boundaries, digests, RFC 2231 parameters and the caps (pure, no I/O)."""

from agents.store import mimetree


def _shape(part: mimetree.Part) -> object:
    if part.kind == "multipart":
        return [_shape(c) for c in part.children]
    if part.kind == "message":
        return {"message": _shape(part.children[0])}
    return f"{part.maintype}/{part.subtype}"


def test_a_boundary_that_prefixes_another_is_not_confused_with_it():
    raw = (b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
           b"Content-Type: multipart/mixed; boundary=b10\r\n\r\n"
           b"--b10\r\n\r\ninner\r\n--b10\r\n\r\ninner 2\r\n--b10--\r\n"
           b"--b1\r\nContent-Type: text/html\r\n\r\nouter\r\n--b1--\r\n")
    assert _shape(mimetree.parse(raw)) == [["text/plain", "text/plain"], "text/html"]


def test_digest_parts_default_to_messages():
    raw = (b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\n1\r\n"
           b"--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n")
    assert _shape(mimetree.parse(raw)) == [{"message": "text/plain"}, "text/plain"]


def test_parameters_are_unfolded_and_continuations_joined():
    assert mimetree.content_type('multipart/mixed;\r\n\tboundary=\r\n "abc" (comment)') == (
        "multipart", "mixed", [("boundary", "abc")])
    assert mimetree.content_type("text/plain; name*0*=utf-8''a%20; name*1*=b; x*1=late; x*0=early") == (
        "text", "plain", [("name*", "utf-8''a%20b"), ("x", "earlylate")])
    assert mimetree.content_type("TEXT") == ("text", "", [])
    assert mimetree.content_type(None) == ("text", "plain", [])


def test_the_part_budget_leaves_the_rest_in_the_last_part():
    raw = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"--x\r\n\r\np\r\n" * 20_000 + b"--x--\r\n"
    root = mimetree.parse(raw)
    assert len(root.children) == mimetree.MAX_PARTS - 1
    assert sum(1 for _ in mimetree.walk(root)) == mimetree.MAX_PARTS
    assert root.children[-1].end == len(raw)


def test_a_message_part_at_the_depth_cap_is_an_opaque_leaf():
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 300 + b"Subject: x\r\n\r\nbody\r\n"
    deepest = list(mimetree.walk(mimetree.parse(raw)))[-1]
    assert deepest.depth == mimetree.MAX_DEPTH - 1
    assert (deepest.kind, deepest.maintype, deepest.subtype, deepest.children) == (
        "leaf", "application", "octet-stream", [])
