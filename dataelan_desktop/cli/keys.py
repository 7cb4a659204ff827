"""`dataelan keys set|rm|status`: API keys in the OS keyring, read without echo."""

from __future__ import annotations

import getpass
import sys

from ..core.secrets import env_var_for, keyring_available
from .common import fail, out, services


def register(sub) -> None:
    p = sub.add_parser("keys", help="store API keys in the system keyring")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    st = ksub.add_parser("set", help="store a provider's key (asked without echo, or piped on stdin)")
    st.add_argument("provider")
    st.set_defaults(func=cmd_set)
    rm = ksub.add_parser("rm", help="forget a provider's key")
    rm.add_argument("provider")
    rm.set_defaults(func=cmd_rm)
    status = ksub.add_parser("status", help="which providers have a key (never shows the key)")
    status.set_defaults(func=cmd_status)


def cmd_set(args) -> int:
    s = services()
    provider = args.provider.lower()
    cfg = s.registry.config(provider)
    env_var = env_var_for(provider, cfg.api_key_env if cfg else None)
    if not keyring_available():
        fail(
            "no system keyring is available to store keys safely "
            f"(install and unlock GNOME Keyring or KWallet); set {env_var} instead"
        )
    if sys.stdin.isatty():
        key = getpass.getpass(f"API key for {provider} (not shown): ")
    else:
        key = sys.stdin.readline()
    if not key.strip():
        fail("no key given; nothing was stored")
    s.secrets.set(provider, key, env_var)
    s.registry.invalidate(provider)
    out(f"stored the key for {provider} in the system keyring")
    return 0


def cmd_rm(args) -> int:
    s = services()
    if not s.secrets.delete(args.provider.lower()):
        fail(f"no stored key for {args.provider}")
    s.registry.invalidate(args.provider.lower())
    out(f"removed the key for {args.provider}")
    return 0


def cmd_status(_args) -> int:
    s = services()
    if not keyring_available():
        out("no system keyring available: keys are read from environment variables only")
    names = [
        "openai",
        "anthropic",
        *(c.name for c in s.registry.configs() if c.name not in ("openai", "anthropic")),
    ]
    for name in names:
        cfg = s.registry.config(name)
        env = env_var_for(name, cfg.api_key_env if cfg else None)
        out(f"{name:<16} {'key set' if s.secrets.get(name, env) else 'no key'}  (env: {env})")
    return 0
