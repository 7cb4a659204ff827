"""`dataelan models list [PROVIDER]`: the models each provider offers."""

from __future__ import annotations

import sys

from .common import out, run_async, services


def register(sub) -> None:
    p = sub.add_parser("models", help="list models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="models of every configured provider, or of one")
    ls.add_argument("provider", nargs="?")
    ls.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    s = services()

    async def collect():
        if args.provider:
            return await s.registry.get(args.provider.lower()).list_models(), {}
        return await s.registry.list_all_models()

    models, errors = run_async(collect())
    for model in models:
        out(model.ref if not model.display_name else f"{model.ref}  ({model.display_name})")
    for provider, error in errors.items():
        print(f"{provider}: {error}", file=sys.stderr)
    if not models and not errors:
        out("no models: add a provider, a key, or a GGUF file")
    return 0
