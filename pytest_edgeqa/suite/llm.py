"""A suite's language-model checks (``checks.kld``, ``checks.generation``, ``checks.llm_latency``) and the text files they name:
validated as the kld and generation markers are, read as UTF-8 relative to the suite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .fields import SuiteError, expect, mapping, positive_int, short

TEXT_SUFFIX = ".txt"
MIN_CONTEXT = 4  # tokens of a window: its second half is scored
KLD_OWN = ("text", "context", "windows")  # the rest of checks.kld are the kld marker's keys
GENERATION_OWN = ("prompts",)  # the rest of checks.generation are the generation marker's keys
LLM_LATENCY_OWN = ("prompt",)  # the rest of checks.llm_latency are the llm_latency marker's keys


def text_file(value: Any, path: Path, key: str, what: str) -> Path:
    """The .txt file ``value`` names (relative to the suite file), which must be readable UTF-8 text."""
    expect(
        isinstance(value, str) and value.strip().endswith(TEXT_SUFFIX),
        path,
        key,
        f"a {TEXT_SUFFIX} file relative to the suite ({what})",
        value,
    )
    file = path.parent / value.strip()
    if not file.is_file():
        raise SuiteError(f"{path.name}: {key}: {short(value)} is not a file (looked for {file})")
    return file


def read_text_file(file: Path, path: Path, key: str) -> str:
    """The text of a file a suite names, or a SuiteError that names the key and why it cannot be read."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"{path.name}: {key}: {file.name} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise SuiteError(f"{path.name}: {key}: {file} cannot be read: {exc.strerror or exc}") from None
    if not text.strip():
        raise SuiteError(
            f"{path.name}: {key}: {file.name} is empty; expected {'prompts' if 'prompts' in key else 'text'}"
        )
    return text


def kld_options(value: dict[str, Any], path: Path, data: Any = None) -> None:
    """``checks.kld``: ``text`` (a .txt file), ``context``, ``windows`` and the kld marker's budget keys."""
    from ..kld_budget import MARKER_KEYS, budget_from_marker

    opts = mapping(value, path, "checks.kld", (*KLD_OWN, *MARKER_KEYS))
    if "text" not in opts:
        raise SuiteError(
            f"{path.name}: checks.kld.text: missing; expected a {TEXT_SUFFIX} file relative to the suite with the "
            "text to score (e.g. text: data/eval.txt)"
        )
    read_text_file(text_file(opts["text"], path, "checks.kld.text", "the text to score"), path, "checks.kld.text")
    context = opts.get("context", 256)
    expect(
        isinstance(context, int) and not isinstance(context, bool) and context >= MIN_CONTEXT,
        path,
        "checks.kld.context",
        f"an integer of at least {MIN_CONTEXT} (tokens per window, e.g. 256)",
        context,
    )
    if opts.get("windows") is not None:
        positive_int(opts["windows"], path, "checks.kld.windows")
    budget_from_marker((), {k: v for k, v in opts.items() if k not in KLD_OWN})


def generation_options(value: dict[str, Any], path: Path, data: Any = None) -> None:
    """``checks.generation``: ``prompts`` (a list of strings, or a .txt file of one prompt a line) and the
    generation marker's keys."""
    from ..generation import MARKER_KEYS, budget_from_marker

    opts = mapping(value, path, "checks.generation", (*GENERATION_OWN, *MARKER_KEYS))
    if "prompts" not in opts:
        raise SuiteError(
            f"{path.name}: checks.generation.prompts: missing; expected a list of prompts or a {TEXT_SUFFIX} file "
            "with one prompt per line"
        )
    prompts(opts["prompts"], path)
    budget_from_marker((), {k: v for k, v in opts.items() if k not in GENERATION_OWN})


def llm_latency_options(value: dict[str, Any], path: Path, data: Any = None) -> None:
    """``checks.llm_latency``: ``prompt`` (a .txt file, cut or repeated to prompt_tokens; default the built-in
    prompt) and the llm_latency marker's keys."""
    from ..llm_latency_budget import MARKER_KEYS, budget_from_marker

    opts = mapping(value, path, "checks.llm_latency", (*LLM_LATENCY_OWN, *MARKER_KEYS))
    if opts.get("prompt") is not None:
        latency_prompt(opts["prompt"], path)
    budget_from_marker((), {k: v for k, v in opts.items() if k not in LLM_LATENCY_OWN})


def latency_prompt(value: Any, path: Path) -> str | None:
    """The prompt text ``checks.llm_latency.prompt`` names (None: the built-in prompt)."""
    if value is None:
        return None
    key = "checks.llm_latency.prompt"
    return read_text_file(text_file(value, path, key, "the prompt, cut or repeated to prompt_tokens"), path, key)


def prompts(value: Any, path: Path) -> list[str]:
    """The prompts ``checks.generation.prompts`` gives: its list, or the non-blank lines of its file."""
    key = "checks.generation.prompts"
    if isinstance(value, str):
        text = read_text_file(text_file(value, path, key, "one prompt per line, or a list of prompts"), path, key)
        return [line for line in text.splitlines() if line.strip()]
    if value == []:
        raise SuiteError(f"{path.name}: {key}: is an empty list; expected one or more prompts")
    expect(
        isinstance(value, list), path, key, f"a list of prompts or a {TEXT_SUFFIX} file (one prompt per line)", value
    )
    for i, p in enumerate(value):
        expect(isinstance(p, str) and p.strip() != "", path, f"{key}[{i}]", "a non-empty string (a prompt)", p)
    return list(value)
