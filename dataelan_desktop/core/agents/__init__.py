"""Agents: a model calling tools in a loop, with limits and approvals (see tools.py for the vocabulary)."""
