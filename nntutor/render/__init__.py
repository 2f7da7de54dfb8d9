"""Renderers: a Trace in, text out. They never compute a number, only format it."""
