"""`dataelan providers add|list|rm`: named OpenAI-compatible endpoints (and overrides)."""

from __future__ import annotations

from ..core.connections.kinds import ProviderKind
from ..core.connections.registry import BUILTIN
from ..core.connections.store import normalise_base_url
from ..core.secrets import env_var_for
from .common import fail, out, services


def register(sub) -> None:
    p = sub.add_parser("providers", help="add, list and remove providers")
    psub = p.add_subparsers(dest="providers_command", metavar="ACTION", required=True)
    add = psub.add_parser("add", help="add or update a provider")
    add.add_argument("name", help="the name you will write before the colon, e.g. ollama")
    add.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:11434/v1")
    add.add_argument("--api-key-env", help="environment variable holding the key (optional)")
    add.add_argument(
        "--kind", choices=[k.value for k in ProviderKind], default=ProviderKind.OPENAI_COMPATIBLE.value
    )
    add.set_defaults(func=cmd_add)
    ls = psub.add_parser("list", help="list providers")
    ls.set_defaults(func=cmd_list)
    rm = psub.add_parser("rm", help="remove a provider")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_rm)


def cmd_add(args) -> int:
    s = services()
    created = s.connections.save(
        args.name, base_url=args.base_url, kind=args.kind, api_key_env=args.api_key_env
    )
    name = args.name.strip().lower()
    out(f"{'added' if created else 'updated'} provider {name} → {normalise_base_url(args.base_url)}")
    return 0


def cmd_list(_args) -> int:
    s = services()
    configs = {c.name: c for c in s.registry.configs()}
    rows = []
    for name in BUILTIN:
        if name not in configs:
            env = env_var_for(name)
            rows.append(
                (name, name, "(SDK default)", "key set" if s.secrets.get(name) else f"no key ({env})")
            )
    for c in configs.values():
        env = env_var_for(c.name, c.api_key_env)
        state = (
            "key set"
            if s.secrets.get(c.name, c.api_key_env)
            else ("no key" if c.kind != "openai_compatible" else f"no key (optional, {env})")
        )
        rows.append((c.name, c.kind, c.base_url or "(SDK default)", state))
    rows.append(("local", "gguf", "this machine", "no key needed"))
    width = max(len(r[0]) for r in rows)
    for name, kind, url, state in rows:
        out(f"{name:<{width}}  {kind:<18} {url:<40} {state}")
    return 0


def cmd_rm(args) -> int:
    s = services()
    name = args.name.lower()
    if not s.connections.remove(name):
        fail(f"no provider named {name}")
    out(f"removed provider {name} (its key, if any, stays in the keyring: `dataelan keys rm {name}`)")
    return 0
