"""Walkthroughs: one module per lesson builder, ``build(ctx, args) -> Trace``.

A walkthrough owns the teaching: it calls ``nntutor.core`` for the numbers and
decides which steps to show, in which order, with which words. It never prints.
"""
