"""The node-to-node door of a mailbox move: the source node streams the mailbox to the target.

Not part of ``/api/v1/`` (no token, no schema): the caller proves it is the move's target with a
key derived from the shared ``MAILAPP_SECRET_KEY`` and the move (``agents.cluster.move.pull_key``),
and only while that move, away from this node, is unfinished. The body lists the unique names of
the messages the target holds already (one a line, zlib-compressed: a big mailbox's list stays
under the request body limit), which are not sent again.
"""

from __future__ import annotations

import zlib

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.cluster import move

MAX_HAVE = 64 << 20  # bytes of unique names: some 1.5 million messages


@csrf_exempt  # no cookie, no session: a machine's request authenticated by its key
@require_POST
def move_archive(request: HttpRequest, move_id: int) -> HttpResponse | StreamingHttpResponse:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    found = move.authorised(move_id, key.strip()) if scheme == "Move" else None
    if found is None:
        return HttpResponse("no such move from this node, or a wrong key\n", status=403, content_type="text/plain")
    unpack = zlib.decompressobj()
    try:
        names = unpack.decompress(request.body, MAX_HAVE)
    except zlib.error:
        return HttpResponse("the list of names is not zlib data\n", status=400, content_type="text/plain")
    if unpack.unconsumed_tail:
        return HttpResponse("too many names\n", status=413, content_type="text/plain")
    have = {line for line in names.decode("utf-8", "replace").splitlines() if line}
    response = StreamingHttpResponse(move.export(found, have), content_type="application/x-tar")
    response["Cache-Control"] = "no-store"
    return response
