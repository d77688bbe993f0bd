"""Security headers on every response, and the hosts the app answers for.

- ``Content-Security-Policy``: scripts, styles, images and fonts from the catalog itself
  only, no inline script, no plugins, no framing (``frame-ancestors 'none'``), forms post
  back to the catalog only. Inline *style* attributes are allowed: the lineage graph is an
  inline SVG whose shapes carry them (they cannot run code).
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``X-Frame-Options: DENY`` (for browsers without ``frame-ancestors``),
  ``Cross-Origin-Opener-Policy: same-origin``; ``Strict-Transport-Security`` when the
  request came over TLS.
- **Trusted hosts** (``CATALOG_TRUSTED_HOSTS``): a request whose ``Host`` is not one of them
  is refused with 400 before any view runs, so a page on another site that rebinds its DNS
  name to 127.0.0.1 cannot read the catalog through the victim's browser. The default is
  the loopback names; ``*`` trusts any host (behind a proxy that checks it).

Flask-Talisman does the headers too, but it is unmaintained since 2023 and its defaults
(a CSP that blocks the styles) would be overridden line by line; these few lines are the
policy itself. ``TRUSTED_HOSTS`` is Flask's own (3.1+).
"""

from __future__ import annotations

from flask import Flask, Response, request

__all__ = ["CSP", "init_app"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _headers(response: Response) -> Response:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask, trusted_hosts: str) -> None:
    hosts = [h.strip() for h in trusted_hosts.split(",") if h.strip()]
    if "*" not in hosts:
        app.config["TRUSTED_HOSTS"] = hosts
    app.after_request(_headers)
