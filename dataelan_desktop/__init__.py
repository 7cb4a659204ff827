"""Dataelan Desktop: a desktop AI chat app for cloud and local models."""

__version__ = "0.1.0"
