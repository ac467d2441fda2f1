"""Who may use the staff APIs (the runs API, monitoring): a staff session, or a request carrying
`Authorization: Bearer <RETRAIN_API_TOKEN>`, the shared token scripts and CI use.

It lives in predictor because both apps' APIs use it and predictor never imports retraining.
No credentials (or a wrong token) is 401; a signed-in user who is not staff is 403.
"""

import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class RetrainTokenAuthentication(BaseAuthentication):
    """The shared token from settings: enough for CI, and no user table to manage."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith(f"{self.keyword} "):
            return None
        token = header[len(self.keyword) + 1 :].strip()
        expected = settings.RETRAIN_API_TOKEN
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise AuthenticationFailed("invalid token: send RETRAIN_API_TOKEN as the bearer token")
        return AnonymousUser(), "token"

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class RetrainTokenScheme(OpenApiAuthenticationExtension):
    target_class = RetrainTokenAuthentication
    name = "retrainToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "the RETRAIN_API_TOKEN setting"}


class StaffOrToken(BasePermission):
    message = "only staff or a holder of RETRAIN_API_TOKEN may use this API"

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.auth == "token" or bool(request.user and request.user.is_staff)
