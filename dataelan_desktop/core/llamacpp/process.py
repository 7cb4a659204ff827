"""The model-host process: loads one GGUF with llama-cpp-python and generates on request.

Protocol over a ``multiprocessing`` pipe (plain dicts, pickled):

parent → host   ``{"op": "generate", "messages": [...], "params": {...}}`` · ``{"op": "quit"}``
host → parent   ``{"ev": "loaded", "n_ctx", "template_source"}`` · ``{"ev": "load_failed", "error"}``
                ``{"ev": "started", "prompt_tokens"}`` · ``{"ev": "text", "text"}``
                ``{"ev": "done", "finish", "prompt_tokens", "completion_tokens", "first_token_at",
                "last_token_at"}`` (this process's perf_counter) · ``{"ev": "error", "error"}``

Cancellation is a shared ``Event`` checked between tokens, so a stop lands within one token.
"""

from __future__ import annotations

import codecs
import os
import time
from typing import Any

SEND_INTERVAL = 0.004  # seconds; below a display frame, above the pipe's per-message cost

FALLBACK_TEMPLATE = (  # ChatML, for models whose GGUF carries no template
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _load(model_path: str, settings: dict[str, Any]):
    from llama_cpp import Llama

    return Llama(
        model_path=model_path,
        n_ctx=int(settings.get("context_length") or 0) or 4096,
        n_gpu_layers=int(settings.get("gpu_layers") or 0),
        n_threads=settings.get("threads") or None,
        n_batch=int(settings.get("batch_size") or 512),
        seed=int(settings["seed"]) if settings.get("seed") is not None else 0xFFFFFFFF,
        verbose=False,
    )


def _formatter(llm, settings: dict[str, Any]):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = settings.get("chat_template") or llm.metadata.get("tokenizer.chat_template")
    source = "override" if settings.get("chat_template") else ("model" if template else "fallback")
    eos_id, bos_id = llm.token_eos(), llm.token_bos()

    def piece(token_id: int) -> str:
        return llm.detokenize([token_id], special=True).decode("utf-8", "ignore") if token_id >= 0 else ""

    fmt = Jinja2ChatFormatter(
        template=template or FALLBACK_TEMPLATE,
        eos_token=piece(eos_id),
        bos_token=piece(bos_id),
        stop_token_ids=[eos_id],
    )
    return fmt, source


def generate(llm, fmt, request: dict[str, Any], send, cancelled) -> None:
    params = request.get("params") or {}
    rendered = fmt(messages=request["messages"])
    tokens = llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
    n_ctx = llm.n_ctx()
    if len(tokens) >= n_ctx:
        send(
            {
                "ev": "error",
                "kind": "context",
                "error": f"The conversation needs {len(tokens)} tokens but the model's context is {n_ctx}.",
            }
        )
        return
    room = n_ctx - len(tokens)
    max_tokens = min(int(params.get("max_tokens") or room), room)
    stops = [s for s in [*(params.get("stop") or []), *(rendered.stop or [])] if s]
    if params.get("seed") is not None:
        llm.set_seed(int(params["seed"]))
    send({"ev": "started", "prompt_tokens": len(tokens)})
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text, emitted, count, finish, cut_at_stop = "", 0, 0, "length", False
    is_end = getattr(llm._model, "token_is_eog", None) or (lambda t: t == llm.token_eos())
    hold = max((len(s) - 1 for s in stops), default=0)  # a tail that could still become a stop string
    last_send = 0.0
    first_at = last_at = None  # when the first and the last counted token were made: the speed shown
    generator = llm.generate(
        tokens,
        temp=float(params["temperature"]) if params.get("temperature") is not None else 0.8,
        top_p=float(params.get("top_p") or 0.95),
        top_k=int(params.get("top_k") or 40),
        min_p=float(params.get("min_p") or 0.05),
        repeat_penalty=float(params.get("repeat_penalty") or 1.0),
    )
    try:
        for token in generator:
            if cancelled.is_set():
                finish = "cancelled"
                break
            if is_end(token):
                finish = "stop"
                break
            count += 1
            last_at = time.perf_counter()
            first_at = first_at or last_at
            text += decoder.decode(llm.detokenize([token]))
            found = [i for s in stops if (i := text.find(s, max(0, emitted - len(s)))) >= 0]
            if found:
                text, finish, cut_at_stop = text[: min(found)], "stop", True
                break
            now = time.perf_counter()
            # coalesce: one pipe message per few milliseconds, not per token (the first goes at once)
            if len(text) - hold > emitted and (emitted == 0 or now - last_send >= SEND_INTERVAL):
                send({"ev": "text", "text": text[emitted : len(text) - hold]})
                emitted, last_send = len(text) - hold, now
            if count >= max_tokens:
                finish = "length"
                break
            if cancelled.is_set():  # checked again so a stop never waits for another token
                finish = "cancelled"
                break
    finally:
        generator.close()
    del cut_at_stop
    if len(text) > emitted:
        send({"ev": "text", "text": text[emitted:]})
    send({"ev": "done", "finish": finish, "prompt_tokens": len(tokens), "completion_tokens": count,
          "first_token_at": first_at, "last_token_at": last_at})  # fmt: skip


def _redirect_native_output() -> None:
    """llama.cpp writes diagnostics straight to fd 2; keep them in a log, off the user's terminal."""
    try:
        from ..paths import logs_dir

        log = os.open(logs_dir() / "model-host.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 2)
        os.close(log)
    except OSError:
        pass


def host_main(conn, cancelled, model_path: str, settings: dict[str, Any]) -> None:
    """Entry point of the host process."""
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.get("threads") or os.cpu_count() or 1))
    _redirect_native_output()
    try:
        llm = _load(model_path, settings)
        fmt, source = _formatter(llm, settings)
    except Exception as exc:  # reported to the parent, which raises ModelFileError
        conn.send({"ev": "load_failed", "error": f"{type(exc).__name__}: {exc}"})
        return
    conn.send({"ev": "loaded", "n_ctx": llm.n_ctx(), "template_source": source, "pid": os.getpid()})
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if request.get("op") == "quit":
            return
        if request.get("op") == "generate":
            cancelled.clear()
            try:
                generate(llm, fmt, request, conn.send, cancelled)
            except Exception as exc:
                conn.send({"ev": "error", "error": f"{type(exc).__name__}: {exc}"})
