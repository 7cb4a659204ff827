"""The one provider interface and its implementations.

Nothing above this package knows which SDK it talks to: callers build a
:class:`~.types.ChatRequest`, iterate :meth:`~.base.Provider.stream`, and catch
:class:`~.errors.ProviderError`. SDK modules are imported lazily so that the GUI's
first paint never waits for them.
"""
