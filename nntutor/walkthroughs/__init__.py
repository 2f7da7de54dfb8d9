"""Walkthroughs: one module per lesson, each ending in its ``WALKTHROUGH`` declaration.

A lesson module owns the teaching: ``check(args) -> inputs`` checks the flags
together, ``build(ctx, inputs) -> Trace`` calls :mod:`nntutor.core` for the numbers
and decides which steps to show, in which order, with which words; next to them it
declares what the quiz may ask and which mistakes it recognises
(:mod:`nntutor.walkthroughs._declare`). It never prints. Modules whose names start
with ``_`` are shared helpers, not lessons.
"""
