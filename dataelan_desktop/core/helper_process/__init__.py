"""A helper process and its client: the plumbing written once for every process the app starts.

The app runs work that may be slow, crash, or hold the GIL in processes of its own: the network
process (the cloud SDKs) and one model process per loaded GGUF model. Each is a pair: the
*process* (the child) and its *client* (the app's side). This package is everything the pairs
share; each pair's own modules only say what its requests do.

Both ends speak tuples over a ``multiprocessing`` pipe:

client → process   ``(op, id, *payload)`` · ``("cancel", id)`` · ``("quit", 0)``
process → client   ``("events", id, [event, …])`` any number of times, then one final answer:
                   ``("result", id, value)`` or ``("error", id, fields)``

Every request gets exactly one final answer; a cancelled one answers ``result`` (``None``) once
it has let go of what it held (a connection, llama.cpp's context). The process ends when its
client says ``quit`` or its end of the pipe closes, so a killed app leaves nothing behind.

The client (:mod:`.client`, :class:`ProcessClient`) spawns the process, reads its pipe on one
thread, routes each message to the request that asked (so several can be in flight), notices its
death and says why, cancels (tell the process, wait a bounded time for its final answer, else kill
it) and stops it. The process (:mod:`.process`) runs :func:`serve`; its streams send events
through an :class:`EventBatcher`. What crosses the pipe besides requests (failures, the reason of
a death) is in :mod:`.wire`.
"""

from .client import ProcessClient
from .process import SEND_INTERVAL, ClientPipe, EventBatcher, Request, Server, coalesce, serve
from .wire import NoAnswerError, ProcessDied, error_fields, error_from_fields, exit_reason

__all__ = [
    "SEND_INTERVAL",
    "ClientPipe",
    "EventBatcher",
    "NoAnswerError",
    "ProcessClient",
    "ProcessDied",
    "Request",
    "Server",
    "coalesce",
    "error_fields",
    "error_from_fields",
    "exit_reason",
    "serve",
]
