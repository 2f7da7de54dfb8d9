"""The compute core: pure NumPy, one topic a module, every intermediate returned as data.

Nothing here prints, renders or knows about lessons.
"""
