"""`dataelan models list|inspect|add|scan|rm|settings`: cloud models and the local GGUF library."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import fail, out, run_async, services


def register(sub) -> None:
    p = sub.add_parser("models", help="list, inspect and manage models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="models of every configured provider, or of one")
    ls.add_argument("provider", nargs="?")
    ls.set_defaults(func=cmd_list)
    inspect = msub.add_parser("inspect", help="what a GGUF file is, from its header (weights are not loaded)")
    inspect.add_argument("path")
    inspect.add_argument("--context", type=int, help="estimate memory at this context length")
    inspect.set_defaults(func=cmd_inspect)
    add = msub.add_parser("add", help="add a GGUF file to the local models")
    add.add_argument("path")
    add.add_argument("--name", help="the name to use after local: (default: from the file name)")
    add.add_argument(
        "--copy", action="store_true", help="copy it into the models folder instead of referencing it"
    )
    add.set_defaults(func=cmd_add)
    scan = msub.add_parser("scan", help="add every GGUF file found in a folder")
    scan.add_argument("folder")
    scan.set_defaults(func=cmd_scan)
    rm = msub.add_parser("rm", help="forget a local model (--delete also removes a copied file)")
    rm.add_argument("name")
    rm.add_argument("--delete", action="store_true")
    rm.set_defaults(func=cmd_rm)
    cat = msub.add_parser("catalog", help="recommended small models to download")
    cat.set_defaults(func=cmd_catalog)
    dl = msub.add_parser(
        "download", help="download a catalog model, or --repo R --file F (honours HF_ENDPOINT, HF_TOKEN)"
    )
    dl.add_argument("catalog_id", nargs="?")
    dl.add_argument("--repo")
    dl.add_argument("--file")
    dl.add_argument("--name")
    dl.set_defaults(func=cmd_download)
    st = msub.add_parser("settings", help="show or change a local model's settings")
    st.add_argument("name")
    for option, kind in (
        ("--context-length", int), ("--gpu-layers", int), ("--threads", int), ("--batch-size", int),
        ("--temperature", float), ("--top-p", float), ("--top-k", int), ("--repeat-penalty", float), ("--seed", int),
        ("--max-tokens", int), ("--system-prompt", str),
    ):  # fmt: skip
        st.add_argument(option, type=kind)
    st.add_argument(
        "--template", help="a file holding a Jinja chat template to use instead of the model's own"
    )
    st.set_defaults(func=cmd_settings)


def _library():
    from ..core.gguf.library import ModelLibrary

    s = services()
    return ModelLibrary(s.db, s.bus)


def cmd_list(args) -> int:
    s = services()

    async def collect():
        if args.provider:
            return await s.registry.get(args.provider.lower()).list_models(), {}
        return await s.registry.list_all_models(fresh=True)  # asked for on purpose: the lists as they are now

    models, errors = run_async(collect())
    for model in models:
        out(model.ref if not model.display_name else f"{model.ref}  ({model.display_name})")
    for provider, error in errors.items():  # stderr passes the key redactor (a server may echo the key)
        print(f"error: {provider}: {error}", file=sys.stderr)
    if not models and not errors:
        out("no models: add a provider, a key, or a GGUF file (`dataelan models add PATH`)")
    return 1 if errors else 0


def cmd_inspect(args) -> int:
    from ..core.gguf.info import estimate_memory, human_bytes, validate_gguf

    info = validate_gguf(Path(args.path))
    n_ctx = args.context or min(info.context_length or 4096, 4096)
    rows = [
        ("file", str(info.path)),
        ("name", info.name or "-"),
        ("architecture", info.architecture),
        ("parameters", f"{info.parameters_label} ({info.parameter_count:,})"),
        ("quantisation", f"{info.quantization}" + (f" ({info.file_type})" if info.file_type else "")),
        ("context length", str(info.context_length or "-")),
        ("embedding size", str(info.embedding_length or "-")),
        ("layers", str(info.block_count or "-")),
        ("chat template", "yes" if info.has_chat_template else "no (a generic ChatML format will be used)"),
        ("file size", human_bytes(info.file_size)),
        ("split parts", str(info.split_count)),
        (f"memory at {n_ctx} ctx", "about " + human_bytes(estimate_memory(info, n_ctx))),
    ]
    for key, value in rows:
        out(f"{key:<22} {value}")
    return 0


def cmd_add(args) -> int:
    row = _library().add(Path(args.path), name=args.name, copy=args.copy)
    out(f"added local:{row.name}  ({row.architecture}, {row.quantization}, {row.path})")
    return 0


def cmd_scan(args) -> int:
    result = _library().scan(Path(args.folder))
    for row in result.added:
        out(f"added local:{row.name}  ({row.path})")
    for path, why in result.refused.items():
        out(f"skipped {path}: {why}")
    if not result.added and not result.refused:
        out("no new GGUF files found")
    return 0


def cmd_rm(args) -> int:
    library = _library()
    current = library.get(args.name)
    sharing = library.users_of_files(current) if current is not None else []
    row = library.remove(args.name, delete_file=args.delete)
    if not args.delete or row.source == "referenced":
        out(f"removed local:{args.name}")
    elif sharing:
        out(
            f"removed local:{args.name}; its file is kept because {', '.join('local:' + n for n in sharing)} uses it"
        )
    else:
        out(f"removed local:{args.name} and its file")
    return 0


def cmd_settings(args) -> int:
    library = _library()
    values = {
        key: getattr(args, key)
        for key in (
            "context_length",
            "gpu_layers",
            "threads",
            "batch_size",
            "temperature",
            "top_p",
            "top_k",
            "repeat_penalty",
            "seed",
            "max_tokens",
            "system_prompt",
        )  # fmt: skip
        if getattr(args, key) is not None
    }
    if args.template:
        values["chat_template"] = Path(args.template).read_text(encoding="utf-8")
    settings = library.update_settings(args.name, **values) if values else library.settings(args.name)
    if library.get(args.name) is None:
        raise LookupError(f"No local model named '{args.name}'.")
    for key, value in sorted(settings.items()):
        shown = f"{len(value)} characters" if key == "chat_template" else value
        out(f"{key:<16} {shown}")
    if not settings:
        out("defaults (nothing set)")
    return 0


def cmd_catalog(_args) -> int:
    from ..core.gguf.catalog import load_catalog

    for e in load_catalog():
        memory = f"~{e.memory_gb:g} GB RAM" if e.memory_gb else ""
        out(f"{e.id:<28} {e.name:<36} {memory:<12} {e.license}")
        out(f"{'':<28} {e.repo_id}/{e.filename}")
    return 0


def cmd_download(args) -> int:
    from ..core.gguf.catalog import find
    from ..core.gguf.download import Download

    if args.catalog_id:
        entry = find(args.catalog_id)
        repo, filename, sha, size = entry.repo_id, entry.filename, entry.sha256, entry.size_bytes
    elif args.repo and args.file:
        repo, filename, sha, size = args.repo, args.file, None, None
    else:
        fail("give a catalog id (`dataelan models catalog`) or --repo OWNER/NAME --file FILE.gguf")
    last = [0.0]

    def progress(p) -> None:
        import time

        if time.monotonic() - last[0] > 0.5 or (p.total and p.done >= p.total):
            last[0] = time.monotonic()
            share = f"{p.fraction * 100:5.1f}%" if p.fraction is not None else f"{p.done / 1e6:.1f} MB"
            print(
                f"\r{filename}: {share}  {p.bytes_per_second / 1e6:.1f} MB/s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    job = Download(repo, filename, sha256=sha, size=size, on_progress=progress)
    try:
        path = job.run()
    except KeyboardInterrupt:
        print(
            f"\npaused: run the same command again to continue ({job.partial_path.name} is kept)",
            file=sys.stderr,
        )
        return 130
    print(file=sys.stderr)
    row = _library().add(path, name=args.name, origin="downloaded", sha256=sha)
    out(f"downloaded and verified: local:{row.name} ({path})")
    return 0
