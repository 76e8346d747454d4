"""The address a staff request really came from, behind a known number of proxies.

Behind a load balancer or an ingress every request arrives from the proxy, so limiting failed
logins by ``request.remote`` would let one attacker lock out every member of staff, and the
audit log would record the proxy. Each trusted proxy appends the address it saw to
``X-Forwarded-For``, so with N trusted proxies the client is the N-th entry from the right;
entries further left are whatever the client chose to send and are never trusted.

Written here rather than taken from aiohttp-remotes: its relaxed middleware answers a header
shorter than the configured hop count with an IndexError (a 500), and rewrites host and scheme,
which this service does not want.
"""

from __future__ import annotations

from ipaddress import IPv6Address, ip_address, ip_network

from aiohttp import hdrs, web


def client_address(request: web.Request, trusted_hops: int) -> str:
    """The client's address; the peer itself when no proxy is trusted or the header is unusable."""
    peer = request.remote or "unknown"
    if trusted_hops <= 0:
        return peer
    entries = [
        part.strip()
        for header in request.headers.getall(hdrs.X_FORWARDED_FOR, [])
        for part in header.split(",")
    ]
    if len(entries) < trusted_hops:
        return peer  # the request did not pass through all the proxies we were told about
    candidate = entries[-trusted_hops]
    try:
        return str(ip_address(candidate))
    except ValueError:
        return peer


def limit_key(address: str) -> str:
    """IPv6 clients usually own a whole /64, so they are limited per /64, not per address."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
