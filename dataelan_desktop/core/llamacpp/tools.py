"""Tool calling for local GGUF models: tools into the prompt, calls out of the generated text.

Runs in the model process, around llama.cpp's plain generation (``process.generate``), and avoids
the traps of llama-cpp-python's own function-calling handlers: tools are used whatever
``tool_choice`` says (``"none"`` aside), text before a call streams token by token, and tool
results are put into the prompt.

Two ways in:

* the model's chat template mentions ``tools`` (Qwen 2.5, Llama 3.1, Hermes, Mistral...): the
  template gets the tools and the messages with their ``tool_calls`` and ``role: tool`` results in
  Hugging Face's shape and writes the prompt the model was trained on;
* otherwise the tools are described in the system prompt (Hermes' ``<tools>`` convention) and the
  earlier calls and results are written into the messages as text.

Out: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks (what Hermes-style and
Qwen models write), or a reply that is one bare JSON object with a name and arguments (Llama 3.1).
When a call is required (``tool_choice`` "required" or a tool's name) a JSON-Schema grammar makes
the model write exactly such a call, whatever the model.
"""

from __future__ import annotations

import json
import re
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(re.escape(OPEN) + r"\s*(.*?)\s*(?:" + re.escape(CLOSE) + r"|$)", re.S)


def template_takes_tools(template: str | None) -> bool:
    return bool(template) and "tools" in template


def _arguments_object(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {}  # (broken JSON was answered with an error result; the prompt keeps a valid object)


def openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tools as chat templates expect them (Hugging Face's convention, OpenAI's shape)."""
    return [{"type": "function", "function": t} for t in tools]


def template_messages(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], native: bool
) -> list[dict[str, Any]]:
    """The messages for the chat template. ``messages`` are plain dicts: role, content, and for an
    assistant ``tool_calls`` [{id, name, arguments}], for a result ``tool_call_id``, ``name``, ``is_error``."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        calls = m.get("tool_calls") or []
        if native:
            entry: dict[str, Any] = {"role": role, "content": content}
            if calls:
                entry["tool_calls"] = [
                    {"id": c["id"], "type": "function",
                     "function": {"name": c["name"], "arguments": _arguments_object(c["arguments"])}}
                    for c in calls
                ]  # fmt: skip
            if role == "tool":
                entry.update(tool_call_id=m.get("tool_call_id"), name=m.get("name"))
                if m.get("is_error"):
                    entry["content"] = f"Error: {content}"
            out.append(entry)
            continue
        if calls:
            written = "".join(
                f"{OPEN}{json.dumps({'name': c['name'], 'arguments': _arguments_object(c['arguments'])})}{CLOSE}"
                for c in calls
            )
            content = f"{content}\n{written}" if content else written
        if role == "tool":  # (as the person's turn: not every template knows a "tool" role)
            error = "error: " if m.get("is_error") else ""
            role, content = "user", f"<tool_response>\n{error}{content}\n</tool_response>"
        out.append({"role": role, "content": content})
    if tools and not native:
        out = _with_tool_system_prompt(out, tools)
    return out


def _with_tool_system_prompt(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    listed = "\n".join(json.dumps(openai_tools([t])[0]) for t in tools)
    said = (
        "You may call functions to help answer. The functions are listed within <tools></tools>:\n"
        f"<tools>\n{listed}\n</tools>\n"
        "To call one, write a JSON object with its name and arguments within tool_call tags:\n"
        f'{OPEN}{{"name": <function-name>, "arguments": <arguments-object>}}{CLOSE}\n'
        "Results come back within <tool_response></tool_response> tags."
    )
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0], content=f"{messages[0]['content']}\n\n{said}")
        return [first, *messages[1:]]
    return [{"role": "system", "content": said}, *messages]


def forced_schema(tools: list[dict[str, Any]], choice: str | None) -> dict[str, Any] | None:
    """The JSON Schema a call must follow when one is required (None when the model may answer freely)."""
    if not tools or choice in (None, "auto", "none"):
        return None
    chosen = [t for t in tools if choice == "required" or t["name"] == choice] or tools

    def one(tool: dict[str, Any]) -> dict[str, Any]:
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
        return {
            "type": "object",
            "properties": {"name": {"const": tool["name"]}, "arguments": parameters},
            "required": ["name", "arguments"],
        }

    return one(chosen[0]) if len(chosen) == 1 else {"anyOf": [one(t) for t in chosen]}


def calls_in(text: str) -> tuple[str, list[dict[str, Any]]]:
    """(text before the first call, [{name, arguments}]) of what the model wrote. Arguments stay the
    JSON text the model wrote: the loop checks them and answers broken ones with an error."""
    calls = []
    at = text.find(OPEN)
    if at >= 0:
        for body in _BLOCK.findall(text[at:]):
            calls.append(call_of(body))
        return text[:at].rstrip(), calls
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            value = json.loads(stripped)
        except ValueError:
            return text, []
        if (
            isinstance(value, dict)
            and isinstance(value.get("name"), str)
            and ("arguments" in value or "parameters" in value)
        ):
            return "", [call_of(stripped)]
    return text, []


def call_of(body: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        match = re.search(r'"name"\s*:\s*"([^"]+)"', body)
        return {"name": match.group(1) if match else "", "arguments": body}
    if not isinstance(value, dict):
        return {"name": "", "arguments": body}
    arguments = value.get("arguments", value.get("parameters", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"name": str(value.get("name") or ""), "arguments": text}
