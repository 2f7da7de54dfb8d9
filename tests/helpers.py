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
