"""API keys and tokens: in the OS keyring, or in environment variables; nowhere else.

Keys never go into the database, settings, logs or exports. Where no keyring backend
exists (a headless Linux box), :class:`NoKeyringError` says so plainly and environment
variables still work.
"""

from __future__ import annotations

import logging
import os
import re
import threading

SERVICE = "dataelan-desktop"

#: environment variables the official SDKs read; honoured the same way here
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


class NoKeyringError(RuntimeError):
    def __init__(self, provider: str, env_var: str):
        super().__init__(
            "No system keyring is available to store keys safely "
            "(install and unlock GNOME Keyring or KWallet, or use the macOS/Windows keychain). "
            f"Set the environment variable {env_var} instead."
        )
        self.env_var = env_var
        self.provider = provider


def env_var_for(provider: str, configured: str | None = None) -> str:
    """The environment variable that holds ``provider``'s key."""
    if configured:
        return configured
    if provider in DEFAULT_KEY_ENV:
        return DEFAULT_KEY_ENV[provider]
    return "DATAELAN_" + re.sub(r"[^A-Z0-9]", "_", provider.upper()) + "_API_KEY"


def keyring_available() -> bool:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False
    # the chainer with nothing inside behaves like the fail backend
    backends = getattr(backend, "backends", None)
    return backends is None or len(backends) > 0


class SecretStore:
    """Reads keys from the environment first, then the keyring; writes to the keyring only."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def _remember(self, secret: str | None) -> str | None:
        if secret:
            with self._lock:
                self._known.add(secret)
        return secret

    def get(self, provider: str, env_var: str | None = None) -> str | None:
        value = os.environ.get(env_var_for(provider, env_var))
        if value:
            return self._remember(value)
        if not keyring_available():
            return None
        import keyring
        from keyring.errors import KeyringError

        try:
            return self._remember(keyring.get_password(SERVICE, provider))
        except KeyringError:
            return None

    def stored(self, name: str) -> str | None:
        """The keyring's value under ``name`` alone (no environment variable comes first)."""
        if not keyring_available():
            return None
        import keyring
        from keyring.errors import KeyringError

        try:
            return self._remember(keyring.get_password(SERVICE, name))
        except KeyringError:
            return None

    def set(self, provider: str, secret: str, env_var: str | None = None) -> None:
        secret = secret.strip()
        if not secret:
            raise ValueError("The key is empty.")
        if not keyring_available():
            raise NoKeyringError(provider, env_var_for(provider, env_var))
        import keyring

        keyring.set_password(SERVICE, provider, secret)
        self._remember(secret)

    def delete(self, provider: str) -> bool:
        if not keyring_available():
            return False
        import keyring
        from keyring.errors import PasswordDeleteError

        try:
            keyring.delete_password(SERVICE, provider)
            return True
        except PasswordDeleteError:
            return False

    def has_stored(self, provider: str) -> bool:
        """Whether a key is stored (the UI shows that, never the key itself)."""
        return self.get(provider) is not None

    def known_secrets(self) -> set[str]:
        with self._lock:
            return set(self._known)

    def redact(self, text: str, *, patterns: bool = True) -> str:
        """``text`` without any key this store has read, nor a password written into a URL; with
        ``patterns`` also without anything shaped like a key (``Bearer …``, ``sk-…``, ``api_key=…``)
        that a server may echo back although the app never saw it."""
        for secret in self.known_secrets():
            if len(secret) >= 6 and secret in text:
                text = text.replace(secret, "[redacted]")
        if "@" in text:
            text = URL_CREDENTIALS.sub(r"\1[redacted]@", text)
        if patterns:
            text = redact_key_shapes(text)
        return text


#: ``scheme://user:password@`` in a URL
URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_KEY_SHAPES = (
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1 [redacted]"),
    # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), OpenRouter (sk-or-), and the like
    (re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{16,}"), "[redacted]"),
    (
        re.compile(
            r"""\b((?:x-)?api[_-]?key|access[_-]?token|auth[_-]?token|secret|password)(["']?\s*[:=]\s*["']?)"""
            r"[^\s\"'&,;}]{6,}",
            re.IGNORECASE,
        ),
        r"\1\2[redacted]",
    ),
)


def redact_key_shapes(text: str) -> str:
    """Scrub what looks like a key even when the app does not know it (e.g. echoed by a server)."""
    for pattern, replacement in _KEY_SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Scrubs every key the store has seen out of log records before they are written."""

    def __init__(self, store: SecretStore):
        super().__init__()
        self.store = store

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.store.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_default_store: SecretStore | None = None


def default_store() -> SecretStore:
    global _default_store
    if _default_store is None:
        _default_store = SecretStore()
    return _default_store
