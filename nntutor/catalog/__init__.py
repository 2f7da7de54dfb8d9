"""Lesson files and the code they name: schema, folders, flag parsing, the registry, running."""
