"""Response headers that every page shares."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware

# Only our own scripts, styles and sockets: no inline code, nothing from other hosts.
# 'self' in connect-src also covers ws:// and wss:// to this host (CSP Level 3).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # blob: previews of images decrypted in the page
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Add the Content-Security-Policy header unless a view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class PageLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware for the pages people read, in their browser's language; not for
    the widget's files and API, whose answers are the same in every language (the widget picks
    its own strings): they keep one cached copy, without Vary: Accept-Language."""

    NOT_PAGES = ("/widget/", "/api/widget/")

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith(self.NOT_PAGES):
            super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(self.NOT_PAGES):
            return response
        return super().process_response(request, response)
