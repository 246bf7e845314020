"""daphne's access log through ``logging``, with the client address the trusted proxy saw.

daphne writes its access lines (``GET /path 200``, ``WSCONNECT /ws/...``) straight to stdout,
past the logging setup: a password-reset or invitation link in a path went out in plain
text. ``access_log_install`` (called by ``config.asgi`` when daphne loads the app, before
daphne builds its access logger) makes those lines records of the ``daphne.access`` logger,
so they get the configured format and ``config.logging.redact`` like every other line.

With ``--proxy-headers`` daphne takes the client address from the *leftmost*
``X-Forwarded-For`` entry, which the client itself can write. Each proxy appends the address
it saw, so the right one is the ``TRUSTED_PROXY_COUNT``-th from the right: the same rule
allauth uses for its rate limits (``ALLAUTH_TRUSTED_PROXY_COUNT``). With a count of 0 the
header is not trusted at all and the socket's peer is kept. The address chosen here is the
scope's ``client`` too, so Django's ``REMOTE_ADDR`` agrees with the access log.
"""

from __future__ import annotations

import logging

from daphne import access, cli, http_protocol, utils, ws_protocol
from django.conf import settings
from twisted.web.http_headers import Headers

logger = logging.getLogger("daphne.access")
_daphne_parse = utils.parse_x_forwarded_for


class AccessLog(access.AccessLogGenerator):
    """daphne's action logger, writing to ``daphne.access`` instead of a stream."""

    def __init__(self, stream=None) -> None:
        super().__init__(stream)

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
        logger.info('%s "%s" %s %s', host or "-", request, status or "-", length or "-")


def trusted_client(forwarded_for: str, *, proxies: int) -> str | None:
    """The address the outermost trusted proxy saw, or None if the header cannot say."""
    entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    if proxies <= 0 or len(entries) < proxies:
        return None
    return entries[-proxies]


def _forwarded_for(headers, name: str) -> str:
    if isinstance(headers, Headers):
        headers = dict(headers.getAllRawHeaders())
    wanted = name.lower().encode()
    values: list[bytes] = []
    for key, value in headers.items():
        if key.lower() == wanted:
            values.extend(value if isinstance(value, list) else [value])
    return ",".join(value.decode("latin1") for value in values)


def parse_x_forwarded_for(
    headers,
    address_header_name="X-Forwarded-For",
    port_header_name="X-Forwarded-Port",
    proto_header_name="X-Forwarded-Proto",
    original_addr=None,
    original_scheme=None,
):
    """daphne's ``parse_x_forwarded_for``, but the address counted from the right."""
    address, scheme = _daphne_parse(
        headers, address_header_name, port_header_name, proto_header_name, original_addr, original_scheme
    )
    if not address_header_name or address is original_addr:
        return address, scheme
    client = trusted_client(
        _forwarded_for(headers, address_header_name), proxies=settings.ALLAUTH_TRUSTED_PROXY_COUNT
    )
    if client is None:
        return original_addr, scheme
    return [client, address[1]], scheme


def access_log_install() -> None:
    cli.AccessLogGenerator = AccessLog
    http_protocol.parse_x_forwarded_for = parse_x_forwarded_for
    ws_protocol.parse_x_forwarded_for = parse_x_forwarded_for
