"""A request id on every request: taken from ``X-Request-ID`` when it is sane, made up otherwise.

The id is returned in the response's ``X-Request-ID`` header and kept in a context variable,
so ``config.logging.RequestIdFilter`` can put it on every log line written while the request
is handled (sync or async: asgiref copies the context into the threads it runs sync code on).
"""

from __future__ import annotations

import contextvars
import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# What a proxy (nginx's $request_id, Caddy's {http.request.uuid}, a load balancer) sends:
# letters, digits and a few separators, at most 64 of them. Anything else is replaced.
VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")
NO_REQUEST = "-"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default=NO_REQUEST
)


def request_id_current() -> str:
    """The id of the request being handled, ``-`` outside a request."""
    return request_id_var.get()


def request_id_choose(proposed: str | None) -> str:
    """``proposed`` if it looks like an id, a new random one otherwise."""
    if proposed and VALID_ID.match(proposed):
        return proposed
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets ``request.request_id`` and the response's ``X-Request-ID``; works sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        token = self._start(request)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request.request_id
        return response

    async def __acall__(self, request):
        token = self._start(request)
        try:
            response = await self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request.request_id
        return response

    @staticmethod
    def _start(request) -> contextvars.Token:
        request.request_id = request_id_choose(request.META.get(META_KEY))
        return request_id_var.set(request.request_id)
