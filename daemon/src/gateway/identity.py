"""This machine's device identity as the config names it: where its key is kept, what it is
called in the owner's approval e-mail.

A module of its own, over the auth package and the config, rather than a part of the app's
assembly: ``mtgateway device`` and ``mtgateway setup`` read the identity without building a
daemon (importing the app costs a command most of a second of CPU).
"""

from __future__ import annotations

import socket

from .auth.device import DeviceIdentity, load_or_create_device
from .auth.secretstore import SecretStore, open_secret_store
from .config import GatewayConfig

__all__ = ["device_name", "open_device"]


def open_device(config: GatewayConfig, secret_store: SecretStore | None = None
                ) -> DeviceIdentity:
    """This machine's device identity, from ``secret_store`` or ``[device] key_storage``."""
    store = secret_store or open_secret_store(config.device.key_storage,
                                              config.resolved_data_dir())
    return load_or_create_device(store)


def device_name(config: GatewayConfig) -> str:
    """``[device] name``, else the host name: what the owner's approval e-mail shows."""
    return config.device.name or socket.gethostname() or "unnamed"
