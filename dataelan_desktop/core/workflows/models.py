"""Is a model a workflow names one that exists? Checked at save time, against the configured providers
and the local model library (a key that is missing is said at run time, like in chat)."""

from __future__ import annotations

from pathlib import Path

from ..connections.registry import BUILTIN, LOCAL, ProviderRegistry, parse_model_ref
from ..providers.errors import ConfigurationError


def model_checker(registry: ProviderRegistry):
    """``check(ref) -> None`` when usable, else one sentence saying why not."""

    def check(ref: str) -> str | None:
        if "{{" in ref:  # chosen per run from an input ({{inputs.model}}): checked when the run starts
            return None
        try:
            parsed = parse_model_ref(ref)
        except ConfigurationError as exc:
            return str(exc)
        if parsed.provider == LOCAL:
            from ..gguf.library import ModelLibrary

            if (
                ModelLibrary(registry.db).get(parsed.model) is None
                and not Path(parsed.model).expanduser().is_file()
            ):
                return (
                    f"unknown model '{ref}': no local model named '{parsed.model}' and no such .gguf file "
                    "(add it with `dataelan models add PATH`)"
                )
            return None
        known = [*BUILTIN, *(c.name for c in registry.configs())]
        if parsed.provider not in known:
            return f"unknown model '{ref}': there is no provider '{parsed.provider}' (known: {', '.join([*known, LOCAL])})"
        return None

    return check


def template_checker(templates):
    """``check(name) -> None`` when the template library has a template of that name, else one
    sentence saying why not (a `template:` step naming one is checked at save time, like a model)."""

    def check(name: str) -> str | None:
        if "{{" in name:
            return None
        try:
            templates.get(name)
        except LookupError as exc:
            return f"names a library template that does not exist. {exc}"
        return None

    return check
