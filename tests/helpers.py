"""Small helpers shared by the CLI tests."""

from __future__ import annotations


def flags_to_argv(flags: dict) -> list[str]:
    """``{"seq_len": "3", "causal": True}`` -> ``["--seq-len", "3", "--causal"]``."""
    out: list[str] = []
    for key, value in flags.items():
        name = "--" + key.replace("_", "-")
        out += [name] if value is True else [name, value]
    return out


def assert_refused(result, *fragments: str) -> str:
    """Exit code 2, nothing on stdout, one line on stderr holding every fragment; returns the line."""
    assert result.exit_code == 2, (result.exit_code, result.stdout[-500:], result.stderr[-500:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


def record_notices_and_passes(monkeypatch) -> list[str]:
    """From now on, each message nntutor says (``"said MESSAGE"``) and each model pass
    (``"forward"``) is appended, in order, to the list returned: to check that a GGUF
    lesson's cost is said before the weights are read."""
    from nntutor.core import llama
    from nntutor.render import console

    events: list[str] = []
    said, forward = console.print_message, llama.forward
    monkeypatch.setattr(console, "print_message", lambda message, **kw: (events.append(f"said {message}"), said(message, **kw)))
    monkeypatch.setattr(llama, "forward", lambda *a, **kw: (events.append("forward"), forward(*a, **kw))[1])
    return events
