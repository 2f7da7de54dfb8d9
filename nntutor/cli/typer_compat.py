"""The one place nntutor adapts Typer: plain options skip pydantic, help shows no Python types.

Why it exists: Typer 0.29 coerces every option value through a pydantic
``TypeAdapter`` built on first use (``typer._coercion``). That imports pydantic
and builds a schema, about 0.2 s of CPU and 10 MB on every start, before any
lesson runs. nntutor's options are all plain strings (``nntutor.catalog.inputs``
parses them) or flags, so that coercion has nothing to do: :func:`plain_coercion`
gives each ``str`` option and each flag (``--help`` included) a coercion that
passes a value of that type through as it is.

Tested with Typer 0.29.0, 0.29.1 and 0.29.2; ``pyproject.toml`` pins
``typer>=0.29,<0.30`` for that reason. ``typer._coercion`` is private, so a new
Typer minor version must be checked before the pin moves:
``tests/test_typer_compat.py`` fails (it does not skip) when the bypass no longer
applies. With a Typer whose internals differ the parameters are left as they are
(:data:`ACTIVE` is false): everything still works, only start-up is slower.
No other module may import ``typer._coercion`` (a test checks that too).

:func:`plain_help` is the other adaptation: Typer 0.29's help labels every parameter with its
Python type (``--causal <bool>``, ``--help <bool>``, ``LESSON <list[str]>``), which means
nothing to a learner. Flags get an empty ``metavar`` (Click's public attribute, which Typer shows
in place of the type); arguments, whose type Typer shows even when they have a metavar, get
no type column. ``tests/test_typer_compat.py`` renders every command's help and fails when a
type label comes back.
"""

from __future__ import annotations

from typing import Any

try:  # Typer 0.29: option values are coerced through pydantic TypeAdapters
    from typer._coercion import RuntimeParam as _RuntimeParam
    from typer._coercion import build_runtime_param as _build_runtime_param
except ImportError:  # pragma: no cover - another Typer: nothing to skip
    _RuntimeParam = None

#: True when the installed Typer has the internals :func:`plain_coercion` replaces.
ACTIVE = _RuntimeParam is not None

if _RuntimeParam is not None:

    class PassThrough(_RuntimeParam):
        """Coercion of a ``str`` option or a flag: a value of that type passes as it is.

        Anything else (never produced by our command line) goes through Typer's own path.
        """

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, self.annotation):
                return value
            return _build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

else:  # pragma: no cover - another Typer
    PassThrough = None


def plain_coercion(params: list) -> list:
    """Give ``str`` options and flags of a command (its ``get_params``) the pass-through coercion.

    Returns ``params`` (changed in place); with another Typer, unchanged.
    """
    if PassThrough is None:
        return params
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if (
            descriptor is not None
            and descriptor.annotation in (str, bool)
            and descriptor.file_annotation is None
            and getattr(param, "_runtime_param", False) is None
        ):
            param._runtime_param = PassThrough(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
    return params


def passes_through(param: Any) -> bool:
    """True when ``param`` (after :func:`plain_coercion`) will skip Typer's pydantic coercion."""
    return PassThrough is not None and isinstance(getattr(param, "_runtime_param", None), PassThrough)


def _no_type(ctx: Any = None) -> None:
    """The type column of an argument's help row: empty (its metavar already names it)."""
    return None


def plain_help(params: list) -> list:
    """Help rows without Python type names: ``--causal``, not ``--causal <bool>``.

    Returns ``params`` (changed in place): each flag (``--help`` included) gets an empty
    metavar and each argument with a metavar (``LESSON``) no type label.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif getattr(param, "param_type_name", "") == "argument" and param.metavar:
            param.display_type_rich = _no_type  # Typer's help asks each parameter for its type label
    return params
