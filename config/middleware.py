"""Read what a refused request sent, so its keep-alive connection can carry the next request.

A view that refuses a request (405, 401, 409, a CSRF 403...) answers without reading the body.
gunicorn then drains the body after the response has gone out; a client that got the response
already sends its next request, the drain reads that request's bytes together with the end of
the body, and the next request sits in gunicorn's buffer unanswered until the connection times
out. Reading the body before the response leaves gunicorn nothing to drain. A body larger than
DRAIN_LIMIT is not worth reading: the response closes the connection instead. (A chunked body
has no Content-Length for Django to read up to, and is left to gunicorn.)
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

DRAIN_LIMIT = 4 * 1024 * 1024
CHUNK = 64 * 1024


class DrainUnreadBody:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        # Django sets _read_started once anything (the view, DRF, CSRF's form parsing) read the body.
        unread = request.META.get("CONTENT_LENGTH") not in (None, "", "0") and not request._read_started
        if unread and not _drain(request):
            response["Connection"] = "close"
        return response


def _drain(request: HttpRequest) -> bool:
    """Read the body (Django stops at its Content-Length) and drop it; False past the limit."""
    read = 0
    while read <= DRAIN_LIMIT:
        chunk = request.read(CHUNK)
        if not chunk:
            return True
        read += len(chunk)
    return False
