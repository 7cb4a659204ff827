"""Running llama.cpp out of the UI's way: one model process per loaded model.

A crash or out-of-memory in llama.cpp ends only that process; the window survives and the
next message starts a fresh one. Unloading ends the process, which returns all of its
memory to the system.
"""
