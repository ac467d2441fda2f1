"""django-csp's middleware with the policy built once per process instead of twice per response.

Building the policy (the policy and its report-only twin, from the settings) is most of what the
middleware costs, and a response that no view decorated and that used no nonce always gets the
same text: the prediction API's answers, every refusal, most pages. Those responses get the text
built the first time; a response with its own policy parts, or whose page used the nonce, goes
through django-csp as before. A settings change (tests) drops what was built.
"""

from __future__ import annotations

from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

# What a view may set on its response to change its policy (django-csp's decorators).
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_built: dict[bool, str] = {}


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    _built.clear()


def _policy(report_only: bool) -> str:
    text = _built.get(report_only)
    if text is None:
        text = _built[report_only] = build_policy(report_only=report_only)
    return text


class CSPMiddleware(LibraryCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        own_parts = any(getattr(response, name, None) is not None for name in _PER_RESPONSE)
        if own_parts or getattr(request, "_csp_nonce", None) is not None:
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        # As django-csp sets them: not over a header a view set, nor on an exempt or excluded path.
        for header, report_only, exempt, setting in (
            (HEADER, False, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, True, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            text = _policy(report_only)
            if not text or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = text
        # django-csp's guard: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
