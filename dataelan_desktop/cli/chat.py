"""`dataelan chat`: stream one reply to stdout, saved like any conversation."""

from __future__ import annotations

import asyncio
import signal
import sys

from ..core.connections.registry import parse_model_ref
from ..core.db.tables import MessageStatus
from ..core.providers.types import GenerationParams, ReasoningDelta, TextDelta
from .common import fail, out, run_async, services
from .inputs import read_stdin
from .templates import add_var_option, fill, parse_vars


def register(sub) -> None:
    p = sub.add_parser("chat", help="send one message and stream the reply")
    p.add_argument(
        "prompt",
        nargs="?",
        help="the message; '-' reads it from standard input (with --template: its {{input}})",
    )
    p.add_argument("-m", "--model", help="openai:ID, anthropic:ID, local:PATH_OR_NAME or PROVIDER:ID")
    p.add_argument("-s", "--system", help="system prompt for a new conversation (overrides the template's)")
    p.add_argument("--template", metavar="NAME", help="send this prompt template, filled in with --var")
    add_var_option(p)
    p.add_argument(
        "--project",
        help="put a new conversation in this project (created if missing); its default model answers",
    )
    p.add_argument(
        "--continue", dest="continue_id", metavar="CONVERSATION_ID", help="continue a conversation"
    )
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--show-reasoning", action="store_true", help="print reasoning text to stderr")
    p.add_argument(
        "--stats", action="store_true", help="print the reply's tokens, speed and timing to stderr"
    )
    from .agents import add_chat_options  # (--agent, --tools, --yes: cli/agents.py)

    add_chat_options(p)
    p.set_defaults(func=cmd_chat)


def _read_prompt(prompt: str) -> str:
    text = read_stdin() if prompt == "-" else prompt  # strictly UTF-8 (cli/inputs.py)
    if not text.strip():
        fail("the message is empty")
    return text


def cmd_chat(args) -> int:
    values = parse_vars(args.var)
    if args.template is None:
        if values:
            fail("--var fills a template: add --template NAME")
        if args.prompt is None:
            fail("give a message, '-' to read it from standard input, or --template NAME")
        prompt = _read_prompt(args.prompt)
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        fail("--temperature must be between 0 and 2")
    if args.max_tokens is not None and args.max_tokens < 1:
        fail("--max-tokens must be at least 1")
    s = services()
    system = args.system
    if args.template is not None:
        rendered = fill(
            s.templates.get(args.template),
            values,
            _read_prompt(args.prompt) if args.prompt is not None else None,
        )
        prompt = rendered.prompt
        system = args.system if args.system is not None else rendered.system  # -s wins over the template's
        if not prompt.strip():
            fail(f"the template '{args.template}' gave an empty message")
    agent = None
    if args.agent:  # its model unless -m says otherwise; unknown: said before anything is saved
        from ..core.agents.service import agent_store

        agent = agent_store(s).agent(args.agent)
        args.model = args.model or agent.model
    model = str(parse_model_ref(args.model)) if args.model else None

    if args.continue_id:
        conversation = s.store.conversation(args.continue_id)
        if agent is None and not args.tools:  # the agent answering there (its own, or its project's)
            from ..core.agents.service import agent_store

            agent = agent_store(s).agent_for_conversation(conversation.id)
            args.agent = agent.name if agent is not None else None
        model = model or (agent.model if agent is not None else None) or conversation.model
    else:
        project = s.store.project_by_name(args.project) if args.project else None
        if project is not None and agent is None and not args.tools:  # the project's agent, if it has one
            from ..core.agents.service import agent_store

            agent = agent_store(s).agent_for_project(project.id)
            args.agent = agent.name if agent is not None else None
            model = model or (agent.model if agent is not None else None)
        model = model or (project.default_model if project is not None else None)  # the project's default
        if not model:
            fail("choose a model with -m, for example -m openai:gpt-4o-mini or -m local:model.gguf")
        project_id = None
        if args.project:
            project = project or s.store.create_project(args.project)
            project_id = project.id
        conversation = None
    if not model:
        fail("this conversation has no model yet; choose one with -m")
    ref = parse_model_ref(model)
    s.registry.get(ref.provider)  # unknown provider or missing key: fail before saving anything
    if ref.provider == "local":  # a missing or broken GGUF too, from its header alone
        from ..core.gguf.info import validate_gguf

        validate_gguf(s.registry.local().resolve(ref.model).path)
    params = GenerationParams(temperature=args.temperature, max_tokens=args.max_tokens)
    if agent is not None or args.tools:
        from .agents import prepare_agent_chat

        prepare_agent_chat(s, args, agent)  # bad --tools, or approvals without a terminal: refused now
    return run_async(
        _chat(
            s, conversation, project_id if conversation is None else None, args, prompt, system, model, params
        )
    )


async def _chat(s, conversation, project_id, args, prompt, system, model, params) -> int:
    if conversation is None:
        conversation = await s.chat.start_conversation(
            project_id=project_id, system_prompt=system, model=model
        )
    if args.agent or args.tools:
        from .agents import run_agent_chat

        return await run_agent_chat(s, conversation.id, prompt, model, params, args)
    generation = await s.chat.send(conversation.id, prompt, model=model, params=params)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, generation.stop)
    except (NotImplementedError, RuntimeError):  # Windows: KeyboardInterrupt still ends the run
        pass
    for stream in (sys.stdout, sys.stderr):
        # a terminal that cannot show a character gets "?", not a traceback that ends the reply
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    wrote_newline = True
    async for event in generation.events():
        if isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
            wrote_newline = event.text.endswith("\n")
        elif isinstance(event, ReasoningDelta) and args.show_reasoning:
            sys.stderr.write(event.text)
            sys.stderr.flush()
    await generation.wait()
    if not wrote_newline:
        out()
    if args.stats:
        print(generation.stats(), file=sys.stderr)
    if generation.save_error:
        fail(generation.save_error)  # one line; the text is kept in the recovery file it names
    if generation.status == MessageStatus.FAILED:
        fail(generation.error or "the reply failed")  # one line; the exchange is saved in history
    print(f"[conversation {conversation.id}]", file=sys.stderr)
    if generation.context is not None and generation.context.left_out:
        print(f"[{generation.context.describe()}]", file=sys.stderr)  # what was dropped or summarised
    if generation.status == MessageStatus.STOPPED:
        print("[stopped; the partial reply was saved]", file=sys.stderr)
        return 130
    return 0
