"""The model process: loads one GGUF with llama-cpp-python and generates on request.

Requests (the pipe, cancelling and ending are ``helper_process``'s):

``("load", id, model_path, settings)``  → ``{"n_ctx", "template_source"}``; a bad file fails with
                                          ModelFileError
``("count", id, messages)``  → how many tokens the messages take through the chat template
``("generate", id, {"model", "messages", "params", "tools", "tool_choice"})``  → the reply's events (Started, TextDelta…,
                                          Usage, Finished), then ``None``; ContextTooLongError when
                                          the conversation does not fit

llama.cpp's calls block, so requests run one at a time on the process's loop; a cancel sets the
request's flag from the pipe's reader thread and lands between two tokens.
"""

from __future__ import annotations

import codecs
import json
import os
import time
import uuid
from typing import Any

from ..helper_process import Request, serve
from ..providers.errors import ContextTooLongError, ModelFileError, UnavailableError
from ..providers.types import Finished, Started, StopReason, TextDelta, ToolCall, Usage
from . import tools as tool_calls

WHERE = "the model process"
#: at most one message per reply this often (the first text at once). Longer than the network
#: process's 4 ms: each message wakes the window's process, which on a busy 2-core machine takes the
#: core llama.cpp is generating on; a model fast enough to be batched at all (over 100 tokens/s) is
#: shown at 30 frames a second anyway
SEND_INTERVAL = 0.010

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


def _stop_prefix(text: str, stops: list[str], start: int) -> int:
    """How many characters at the end of ``text`` (after ``start``) could still begin a stop string:
    held back until the next token says. Holding a stop string's whole length instead held the
    first words of every reply for several tokens."""
    held = 0
    for stop in stops:
        # (per token: a search for the stop's first character, which is seldom there, is the cost)
        at = text.find(stop[0], max(start, len(text) - len(stop) + 1))
        while at != -1 and len(text) - at > held:
            if stop.startswith(text[at:]):
                held = len(text) - at
                break
            at = text.find(stop[0], at + 1)
    return held


def prompt_tokens(llm, fmt, messages: list[dict[str, Any]], tools: list[dict[str, Any]] = ()):
    """The messages (and tools) through the chat template, as the model's tokens (what a reply starts
    from); tool calls and results are written as ``llamacpp/tools.py`` says."""
    native = tool_calls.template_takes_tools(getattr(fmt, "template", None))
    messages = tool_calls.template_messages(messages, list(tools), native)
    rendered = fmt(
        messages=messages, tools=tool_calls.openai_tools(list(tools)) if native and tools else None
    )
    tokens = llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
    return rendered, tokens


class TokenPieces(dict):
    """Each token's bytes, asked of llama.cpp once per token id for the model's life: its
    ``detokenize`` makes a buffer and two native calls for every token, about 1% of a small
    model's time per token."""

    def __init__(self, llm) -> None:
        super().__init__()
        self.llm = llm

    def __missing__(self, token: int) -> bytes:
        piece = self[token] = self.llm.detokenize([token])
        return piece


def _schema_grammar(schema: str):
    """A grammar that makes the model write JSON matching ``schema``; None for a schema llama.cpp's
    converter cannot express (the reply is then checked afterwards, as for a cloud model)."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema, verbose=False)
    except Exception:  # noqa: BLE001 - its converter raises plain ValueError/KeyError/RuntimeError
        return None


def generate(llm, fmt, request: dict[str, Any], out: Request, pieces: TokenPieces | None = None) -> None:
    """One reply, its events sent through ``out`` as they are made; stops between two tokens when
    ``out.cancelled`` is set."""
    pieces = pieces if pieces is not None else TokenPieces(llm)
    params = request.get("params") or {}
    choice = request.get("tool_choice")
    tools = [] if choice == "none" else list(request.get("tools") or [])
    rendered, tokens = prompt_tokens(llm, fmt, request["messages"], tools)
    native = tool_calls.template_takes_tools(getattr(fmt, "template", None))
    forced = tool_calls.forced_schema(tools, choice)
    grammar = None
    if forced is not None:  # a call is required: a grammar makes any model write one, and only one
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(json.dumps(forced), verbose=False)
    elif params.get("json_schema") and not tools:  # a reply that must be JSON of this schema
        grammar = _schema_grammar(params["json_schema"])
    n_ctx = llm.n_ctx()
    if len(tokens) >= n_ctx:
        raise ContextTooLongError(
            f"The conversation needs {len(tokens)} tokens but the model's context is {n_ctx}."
        )
    room = n_ctx - len(tokens)
    max_tokens = min(int(params.get("max_tokens") or room), room)
    stops = [s for s in [*(params.get("stop") or []), *(rendered.stop or [])] if s]
    if params.get("seed") is not None:
        llm.set_seed(int(params["seed"]))
    out.emit(Started(model=request["model"]))
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text, emitted, count, finish = "", 0, 0, StopReason.LENGTH
    # text is shown as it comes until a call begins (a "<tool_call>" tag, or a reply that opens as
    # a bare JSON object): the call itself is sent as a ToolCall when it is complete
    holds = [*stops, tool_calls.OPEN] if tools else stops
    calling = forced is not None
    first_at = last_at = None  # when the first and the last counted token were made: the speed shown
    is_end = getattr(llm._model, "token_is_eog", None) or (lambda t: t == llm.token_eos())
    cancelled = out.cancelled
    generator = llm.generate(
        tokens,
        temp=float(params["temperature"]) if params.get("temperature") is not None else 0.8,
        top_p=float(params.get("top_p") or 0.95),
        top_k=int(params.get("top_k") or 40),
        min_p=float(params.get("min_p") or 0.05),
        repeat_penalty=float(params.get("repeat_penalty") or 1.0),
        grammar=grammar,
    )
    try:
        for token in generator:
            if cancelled.is_set():
                finish = StopReason.CANCELLED
                break
            if is_end(token):
                finish = StopReason.END
                break
            count += 1
            last_at = time.perf_counter()
            first_at = first_at or last_at
            text += decoder.decode(pieces[token])
            found = [i for s in stops if (i := text.find(s, max(0, emitted - len(s)))) >= 0]
            if found:
                text, finish = text[: min(found)], StopReason.END
                break
            if tools and not calling:
                calling = tool_calls.OPEN in text or (
                    native and not emitted and text.lstrip().startswith("{")
                )
            ready = len(text) - _stop_prefix(text, holds, emitted)
            if ready > emitted and not calling:  # (batched on the way: the first goes at once)
                out.emit(TextDelta(text[emitted:ready]))
                emitted = ready
            if count >= max_tokens:
                finish = StopReason.LENGTH
                break
            if cancelled.is_set():  # checked again so a stop never waits for another token
                finish = StopReason.CANCELLED
                break
    finally:
        generator.close()
    calls: list[dict[str, Any]] = []
    if forced is not None and finish != StopReason.CANCELLED:
        text, calls = "", [tool_calls.call_of(text)]
    elif tools:
        text, calls = tool_calls.calls_in(text)
    if len(text) > emitted:
        out.emit(TextDelta(text[emitted:]))
    for n, call in enumerate(calls):
        out.emit(
            ToolCall(id=f"call_{uuid.uuid4().hex[:12]}_{n}", name=call["name"], arguments=call["arguments"])
        )
    if calls and finish != StopReason.CANCELLED:
        finish = StopReason.TOOL_CALLS
    # how the reply ended, and how long its tokens took to make (the rate shown is taken from it)
    seconds = last_at - first_at if first_at is not None and last_at is not None else None
    out.emit(Usage(input_tokens=len(tokens), output_tokens=count, generating_seconds=seconds))
    out.emit(Finished(finish))


def _redirect_native_output() -> None:
    """llama.cpp writes diagnostics straight to fd 2; keep them in a log, off the user's terminal."""
    try:
        from ..paths import logs_dir

        log = os.open(logs_dir() / "model-process.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 2)
        os.close(log)
    except OSError:
        pass


class ModelProcess:
    """The one model this process holds, and the requests for it."""

    def __init__(self) -> None:
        self.llm: Any = None
        self.fmt: Any = None
        self.pieces: TokenPieces | None = None

    def handle(self, request: Request) -> Any:
        if request.op == "load":
            return self.load(*request.payload)
        if request.op == "generate":
            if self.llm is None:
                raise UnavailableError("No model is loaded in this model process.")
            try:
                generate(self.llm, self.fmt, request.payload[0], request, self.pieces)
            except ContextTooLongError:
                raise
            except Exception as exc:  # llama.cpp's own failure, said as such
                raise UnavailableError(
                    f"llama.cpp failed while generating: {type(exc).__name__}: {exc}"
                ) from exc
            return None
        if request.op == "count":  # the prompt's length in this model's tokens (the context meter, fitting)
            if self.llm is None:
                raise UnavailableError("No model is loaded in this model process.")
            return len(prompt_tokens(self.llm, self.fmt, request.payload[0])[1])
        raise ValueError(f"unknown request {request.op!r}")

    def load(self, model_path: str, settings: dict[str, Any]) -> dict[str, Any]:
        # before llama.cpp is imported: it reads this once
        os.environ.setdefault("OMP_NUM_THREADS", str(settings.get("threads") or os.cpu_count() or 1))
        try:
            self.llm = _load(model_path, settings)
            self.fmt, source = _formatter(self.llm, settings)
            self.pieces = TokenPieces(self.llm)
        except Exception as exc:  # the client says which file, and that llama.cpp refused it
            self.llm = None
            raise ModelFileError(f"{type(exc).__name__}: {exc}") from exc
        return {"n_ctx": self.llm.n_ctx(), "template_source": source}


def model_main(conn) -> None:
    """The process's entry point (``multiprocessing`` spawn target)."""
    _redirect_native_output()
    serve(conn, ModelProcess().handle, where=WHERE, send_interval=SEND_INTERVAL)
