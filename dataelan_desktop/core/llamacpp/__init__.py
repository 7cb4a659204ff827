"""Running llama.cpp out of the UI's way: one model-host process per loaded model.

A crash or out-of-memory in llama.cpp ends only the host; the window survives and the
next message starts a fresh host. Unloading ends the process, which returns all of
its memory to the system.
"""
