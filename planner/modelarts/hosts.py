"""Which hosts are loopback hosts: the only ones poolshift talks to over plain http (the local emulator).

Owns: that one rule, for the settings (endpoint check), the credential chain (local metadata seams), the client
(no proxy for loopback) and the emulator (its control paths answer loopback clients only).
"""

from __future__ import annotations

import ipaddress

_LOOPBACK_NAMES = {"localhost"}


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts that may be reached over plain http."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
