"""Generation parity: the generation marker's budgets, and the greedy tokens of two models compared prompt by prompt."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from .config import number
from .errors import ConfigError

MARKER_KEYS = ("max_new_tokens", "min_exact", "min_first_divergence", "max_divergent")
BUDGET_KEYS = ("min_exact", "min_first_divergence", "max_divergent")
MAX_NEW_TOKENS = 4096
EXAMPLE = "generation(max_new_tokens=32, min_exact=0.8, min_first_divergence=16)"
WIDTH = 120  # the terminal a failure is written for
_EPS = 1e-12  # fractions of counts compared at their edge: 0.1 + 0.2 must meet a budget of 0.3


@dataclass(frozen=True)
class GenerationBudget:
    max_new_tokens: int = 32
    min_exact: float | None = None  # fraction of prompts whose generated tokens all match
    min_first_divergence: int | None = None  # every diverging prompt's first differing token index
    max_divergent: float | None = None  # mean over prompts of the fraction of positions that differ


def budget_from_marker(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str = "generation marker"
) -> GenerationBudget:
    """Validate the marker's arguments (``where`` names their source in errors): keywords only, each in
    range, at least one budget, and none that no generation of ``max_new_tokens`` tokens could meet."""
    if args:
        raise ConfigError(f"{where}: takes keyword arguments only, e.g. {EXAMPLE}")
    unknown = sorted(set(kwargs) - set(MARKER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(MARKER_KEYS)})"
        )
    values: dict[str, Any] = {}
    if kwargs.get("max_new_tokens") is not None:
        values["max_new_tokens"] = number(
            kwargs["max_new_tokens"], where, "max_new_tokens", integer=True, low=1, high=MAX_NEW_TOKENS
        )
    for key, why in (("min_exact", "(a fraction of prompts)"), ("max_divergent", "(a fraction of tokens)")):
        if kwargs.get(key) is not None:
            values[key] = number(kwargs[key], where, key, low=0, high=1, why=why)
    if kwargs.get("min_first_divergence") is not None:
        values["min_first_divergence"] = number(
            kwargs["min_first_divergence"],
            where,
            "min_first_divergence",
            integer=True,
            low=1,
            why="(a generated token's index, 0-based)",
        )
    budget = GenerationBudget(**values)
    if all(getattr(budget, k) is None for k in BUDGET_KEYS):
        raise ConfigError(f"{where}: no budget: give {', '.join(BUDGET_KEYS)}, e.g. {EXAMPLE}")
    mfd = budget.min_first_divergence
    if mfd is not None and mfd > budget.max_new_tokens:
        raise ConfigError(
            f"{where}: min_first_divergence={mfd} is beyond max_new_tokens={budget.max_new_tokens}: no "
            f"generated token has that index; raise max_new_tokens to at least {mfd} or lower min_first_divergence"
        )
    return budget


# ------------------------------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class PromptResult:
    prompt: str
    original_ids: tuple[int, ...]
    optimized_ids: tuple[int, ...]
    original_text: str
    optimized_text: str
    first_divergence: int | None  # index of the first differing generated token; None: identical
    divergent: int  # positions that differ; those beyond the shorter sequence count as differing
    divergence_char: int | None = None  # where the texts part, in characters (None: identical texts)

    @property
    def positions(self) -> int:
        """The positions compared: the longer of the two generations."""
        return max(len(self.original_ids), len(self.optimized_ids))

    @property
    def divergent_fraction(self) -> float:
        return self.divergent / self.positions if self.positions else 0.0


@dataclass(frozen=True)
class GenerationResult:
    prompts: tuple[PromptResult, ...]
    exact_rate: float
    min_first_divergence: int | None  # over the prompts that diverge; None when none does
    mean_divergent_fraction: float

    @property
    def exact(self) -> int:
        return sum(p.first_divergence is None for p in self.prompts)

    def earliest(self) -> list[tuple[int, PromptResult]]:
        """The diverging prompts with their index in the list given, the earliest divergence first."""
        rows = [(i, p) for i, p in enumerate(self.prompts) if p.first_divergence is not None]
        return sorted(rows, key=lambda row: (row[1].first_divergence, row[0]))

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for i, p in enumerate(self.prompts):
            rows.append(
                {
                    "index": i,
                    "prompt": _clip(p.prompt, 0, 200),
                    "first_divergence": p.first_divergence,
                    "divergent": p.divergent,
                    "divergent_fraction": p.divergent_fraction,
                    "original_tokens": len(p.original_ids),
                    "optimized_tokens": len(p.optimized_ids),
                    "original_ids": list(p.original_ids[:256]),
                    "optimized_ids": list(p.optimized_ids[:256]),
                    "original_text": _clip(p.original_text, p.divergence_char or 0, 400),
                    "optimized_text": _clip(p.optimized_text, p.divergence_char or 0, 400),
                }
            )
        return {
            "prompt_count": len(self.prompts),
            "exact": self.exact,
            "exact_rate": self.exact_rate,
            "min_first_divergence": self.min_first_divergence,
            "mean_divergent_fraction": self.mean_divergent_fraction,
            "prompts": rows,
        }

    def render(self, limit: int = 5) -> str:
        """A summary line, then the earliest ``limit`` divergences: the two texts one above the other,
        newlines escaped, a caret where they part."""
        n, diverging = len(self.prompts), self.earliest()
        head = f"  {self.exact} of {n} prompt{'s' if n != 1 else ''} identical (exact rate {self.exact_rate:.3g})"
        if diverging:
            head += (
                f", {len(diverging)} diverge{'s' if len(diverging) == 1 else ''}; on average "
                f"{self.mean_divergent_fraction:.1%} of the generated tokens differ"
            )
        lines = [head]
        for i, p in diverging[:limit]:
            lines += _side_by_side(i, p)
        if len(diverging) > limit:
            lines.append(f"  ... and {len(diverging) - limit} more diverging prompts (all of them in the JSON report)")
        return "\n".join(lines)


def compare(
    prompts: Sequence[str],
    original_ids: Sequence[Sequence[int]],
    optimized_ids: Sequence[Sequence[int]],
    original_texts: Sequence[str],
    optimized_texts: Sequence[str],
    decode: Callable[[Sequence[int]], str] | None = None,
) -> GenerationResult:
    """Compare the generated tokens position by position. ``decode`` (optional) turns the tokens both
    share into text, so the caret in ``render`` stands where the first differing token starts."""
    sizes = {len(x) for x in (prompts, original_ids, optimized_ids, original_texts, optimized_texts)}
    if len(sizes) != 1:
        raise ValueError(
            f"compare: {len(prompts)} prompts, {len(original_ids)}/{len(optimized_ids)} token lists and "
            f"{len(original_texts)}/{len(optimized_texts)} texts; expected one of each per prompt"
        )
    if not prompts:
        raise ConfigError("generation_check: no prompts; expected one or more prompts to generate from")
    rows = tuple(
        _prompt_result(p, _ids(a), _ids(b), ta, tb, decode)
        for p, a, b, ta, tb in zip(prompts, original_ids, optimized_ids, original_texts, optimized_texts, strict=True)
    )
    firsts = [r.first_divergence for r in rows if r.first_divergence is not None]
    return GenerationResult(
        prompts=rows,
        exact_rate=(len(rows) - len(firsts)) / len(rows),
        min_first_divergence=min(firsts) if firsts else None,
        mean_divergent_fraction=sum(r.divergent_fraction for r in rows) / len(rows),
    )


def _ids(tokens: Sequence[int]) -> tuple[int, ...]:
    bad = [t for t in tokens if not isinstance(t, Integral) or isinstance(t, bool)]
    if bad:
        raise ValueError(f"compare: token ids must be integers, got {bad[0]!r}")
    return tuple(int(t) for t in tokens)


def _prompt_result(
    prompt: str, a: tuple[int, ...], b: tuple[int, ...], text_a: str, text_b: str, decode: Any
) -> PromptResult:
    shared = min(len(a), len(b))
    differ = [k for k in range(shared) if a[k] != b[k]]
    first = differ[0] if differ else (shared if len(a) != len(b) else None)
    char = _first_difference(text_a, text_b)
    if first is not None and decode is not None:
        before = decode(a[:first])
        if text_a.startswith(before) and text_b.startswith(before):
            char = len(before)
    return PromptResult(
        prompt=prompt,
        original_ids=a,
        optimized_ids=b,
        original_text=text_a,
        optimized_text=text_b,
        first_divergence=first,
        divergent=len(differ) + abs(len(a) - len(b)),
        divergence_char=char,
    )


def _first_difference(a: str, b: str) -> int | None:
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return k
    return None if len(a) == len(b) else min(len(a), len(b))


# -------------------------------------------------------------------------------------------- verdict


def judge(result: GenerationResult, budget: GenerationBudget) -> list[str]:
    """Each budget that does not hold, in words: the figure, the budget, by how much, and the prompt
    that diverged first, at which token."""
    failed = []
    n, diverging = len(result.prompts), result.earliest()
    where = ""
    if diverging:
        i, p = diverging[0]
        where = f"; the first to diverge: prompts[{i}] {_show(p.prompt, 40)} at token {p.first_divergence}"
    if budget.min_exact is not None and result.exact_rate < budget.min_exact - _EPS:
        needed = next(k for k in range(n + 1) if k / n >= budget.min_exact - _EPS)
        failed.append(
            f"min_exact={budget.min_exact:g}: {result.exact} of {n} prompts ({result.exact_rate:.3g}) generate the "
            f"same tokens, {budget.min_exact - result.exact_rate:.3g} short ({needed} of {n} needed){where}"
        )
    mfd = budget.min_first_divergence
    early = [(i, p.first_divergence or 0) for i, p in diverging if (p.first_divergence or 0) < (mfd or 0)]
    if mfd is not None and early:
        i, at = early[0]
        failed.append(
            f"min_first_divergence={mfd}: prompts[{i}] {_show(result.prompts[i].prompt, 40)} diverges at token {at}"
            f", {mfd - at} before the budget; {len(early)} of {n} prompts diverge before token {mfd}"
        )
    if budget.max_divergent is not None and result.mean_divergent_fraction > budget.max_divergent + _EPS:
        worst_i, worst = max(enumerate(result.prompts), key=lambda row: row[1].divergent_fraction)
        failed.append(
            f"max_divergent={budget.max_divergent:g}: {result.mean_divergent_fraction:.3g} of generated tokens "
            f"differ on average over {n} prompts, {result.mean_divergent_fraction - budget.max_divergent:.3g} above "
            f"the budget; the most: prompts[{worst_i}] with {worst.divergent} of {worst.positions}{where}"
        )
    return failed


# ---------------------------------------------------------------------------------------------- display


def _escape(text: str) -> str:
    """Newlines, tabs and other control characters made visible, one line whatever the text."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: wide East Asian characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _show(text: str, limit: int) -> str:
    """A prompt as a message quotes it: escaped, at most ``limit`` characters, quoted."""
    shown = _escape(text)
    return "'" + (shown if len(shown) <= limit else shown[: limit - 3] + "...") + "'"


def _clip(text: str, around: int, limit: int) -> str:
    """At most ``limit`` characters of ``text``, keeping position ``around`` in view."""
    if len(text) <= limit:
        return text
    start = max(0, min(around - limit // 3, len(text) - limit))
    head, tail = ("..." if start else ""), ("..." if start + limit < len(text) else "")
    return head + text[start : start + limit] + tail


def _side_by_side(index: int, p: PromptResult) -> list[str]:
    """The two texts one above the other from a little before where they part, a caret beneath."""
    lines = [
        f"  prompts[{index}] {_show(p.prompt, 32)} diverges at token {p.first_divergence}: {p.divergent} of "
        f"{p.positions} tokens differ (lengths {len(p.original_ids)} | {len(p.optimized_ids)})"
    ]
    label_a, label_b = "    original : ", "    optimized: "
    room = WIDTH - len(label_a)
    if p.divergence_char is None:
        lines.append(f"{label_a}{_escape(p.original_text)[:room]}")
        lines.append("    (the same text: the tokens differ in how they split it)")
        return lines
    before = _escape(p.original_text[: p.divergence_char])
    cut = ""
    if len(before) > 40:
        before, cut = before[-37:], "..."
    lead = cut + before
    rows = []
    for label, text in ((label_a, p.original_text), (label_b, p.optimized_text)):
        after = _escape(text[p.divergence_char :])
        space = room - _width(lead)
        shown, end = after, " [end]"  # [end]: the model stopped there
        if _width(after) + len(end) > space:
            shown, end = after[: max(space - 3, 0)], "..."
            while _width(shown) > space - 3:
                shown = shown[:-1]
        rows.append(f"{label}{lead}{shown}{end}")
    caret = " " * (len(label_a) + _width(lead)) + f"^ token {p.first_divergence}"
    return lines + rows + [caret]
