"""The container image's HEALTHCHECK: ``GET /health/live`` on this container's gunicorn.

Django answers 400 to a Host it does not serve, and production's
``ALLOWED_HOSTS`` names the public host, not 127.0.0.1, so the probe sends the
first allowed host as its Host header. A redirect is a failure, never
followed (it would leave the container). Standard library only: the slim image
has no curl. Exit status 0 when the web process answers 200, else 1.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4


def probe_host(allowed_hosts: str) -> str:
    """The Host header to send: the first entry of ``ALLOWED_HOSTS`` Django will accept."""
    for entry in allowed_hosts.split(","):
        host = entry.strip()
        if host and host != "*":
            # ".example.com" allows example.com itself and every subdomain.
            return host.lstrip(".")
    # Unset (debug: localhost is allowed) or "*" (anything is).
    return "localhost"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live"
    request = urllib.request.Request(
        url, headers={"Host": probe_host(os.environ.get("ALLOWED_HOSTS", ""))}
    )
    try:
        opener = urllib.request.build_opener(_NoRedirect)
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
