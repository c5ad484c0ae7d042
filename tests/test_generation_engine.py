"""The generation-parity engine: token comparison, its figures, the budgets' verdicts and the text a user reads."""

from __future__ import annotations

import json

import pytest

from pytest_edgeqa.errors import ConfigError
from pytest_edgeqa.generation import GenerationBudget, budget_from_marker, compare, judge


def one(a, b, text_a="", text_b="", prompt="p", decode=None):
    return compare([prompt], [a], [b], [text_a], [text_b], decode=decode)


def direct(a, b):
    """An independent count: pad the shorter with a value no token has, then compare position by position."""
    n = max(len(a), len(b))
    pa, pb = list(a) + [None] * (n - len(a)), list(b) + [None] * (n - len(b))
    diffs = [k for k in range(n) if pa[k] != pb[k]]
    return (diffs[0] if diffs else None), len(diffs)


# ------------------------------------------------------------------------------------------ comparison


def test_a_planted_divergence_is_caught_at_its_position():
    a = list(range(100, 132))
    b = list(a)
    b[7] = 5
    b[20] = 6
    r = one(a, b).prompts[0]
    assert (r.first_divergence, r.divergent) == (7, 2) == direct(a, b)
    assert r.divergent_fraction == 2 / 32
    assert r.original_ids == tuple(a) and r.optimized_ids == tuple(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1, 2, 3, 4, 5], [1, 2, 3]),  # EOS early in the optimized model
        ([1, 2], [1, 2, 9, 9, 9, 9]),  # EOS early in the original
        ([], [4, 5]),
        ([1, 2, 3], [7, 2, 3, 4]),
        ([3, 3, 3], [3, 3, 3]),
        ([], []),
    ],
)
def test_different_lengths_count_beyond_the_shorter_as_divergent(a, b):
    r = one(a, b).prompts[0]
    assert (r.first_divergence, r.divergent) == direct(a, b)
    assert r.divergent_fraction == (direct(a, b)[1] / max(len(a), len(b)) if a or b else 0.0)


def test_exact_rate_and_the_summary_figures():
    pairs = [([1, 2, 3], [1, 2, 3]), ([1, 2, 3], [1, 9, 3]), ([5] * 8, [5] * 8), ([1, 2, 3, 4], [1, 2, 3]), ([2], [2])]
    r = compare(["p"] * 5, [a for a, _ in pairs], [b for _, b in pairs], [""] * 5, [""] * 5)
    assert r.exact == 3 and r.exact_rate == 3 / 5
    assert r.min_first_divergence == 1
    fractions = [direct(a, b)[1] / max(len(a), len(b)) for a, b in pairs]
    assert r.mean_divergent_fraction == pytest.approx(sum(fractions) / 5)
    assert [i for i, _ in r.earliest()] == [1, 3]
    none = compare(["a", "b"], [[1], [2]], [[1], [2]], ["x", "y"], ["x", "y"])
    assert (none.exact_rate, none.min_first_divergence, none.mean_divergent_fraction) == (1.0, None, 0.0)


def test_numpy_like_integers_are_taken_and_other_things_refused():
    class Int(int):
        pass

    assert one([Int(1), Int(2)], [1, 3]).prompts[0].original_ids == (1, 2)
    with pytest.raises(ValueError, match=r"integers, got 1\.5"):
        one([1.5], [1])
    with pytest.raises(ValueError, match="one of each per prompt"):
        compare(["a", "b"], [[1]], [[1]], ["x"], ["x"])
    with pytest.raises(ConfigError, match="no prompts"):
        compare([], [], [], [], [])


def test_decode_places_the_divergence_where_the_differing_token_starts():
    vocab = {1: "The", 2: " cat", 3: " sat", 4: " sang"}

    def decode(ids):
        return "".join(vocab[i] for i in ids)

    r = one([1, 2, 3], [1, 2, 4], decode([1, 2, 3]), decode([1, 2, 4]), decode=decode).prompts[0]
    assert r.divergence_char == len("The cat")  # the token " sat"/" sang" starts there
    plain = one([1, 2, 3], [1, 2, 4], decode([1, 2, 3]), decode([1, 2, 4])).prompts[0]
    assert plain.divergence_char == len("The cat sa")  # without decode: the first differing character


# ------------------------------------------------------------------------------------------ judge


def five(exact: int, first: int = 3, length: int = 10):
    """Five prompts, ``exact`` of them identical; the others differ from token ``first`` to the end."""
    a = [list(range(length)) for _ in range(5)]
    b = [list(range(length)) if k < exact else list(range(first)) + [-1] * (length - first) for k in range(5)]
    return compare([f"prompt {k}" for k in range(5)], a, b, [""] * 5, [""] * 5)


def test_min_exact_at_its_edge():
    assert judge(five(4), GenerationBudget(min_exact=0.8)) == []
    failed = judge(five(3), GenerationBudget(min_exact=0.8))
    assert failed == [
        "min_exact=0.8: 3 of 5 prompts (0.6) generate the same tokens, 0.2 short (4 of 5 needed); "
        "the first to diverge: prompts[3] 'prompt 3' at token 3"
    ]


def test_min_first_divergence_at_its_edge():
    assert judge(five(2, first=16, length=32), GenerationBudget(min_first_divergence=16)) == []
    failed = judge(five(2, first=15, length=32), GenerationBudget(min_first_divergence=16))
    assert failed == [
        "min_first_divergence=16: prompts[2] 'prompt 2' diverges at token 15, 1 before the budget; "
        "3 of 5 prompts diverge before token 16"
    ]
    # identical prompts never fail it, however short they are
    assert judge(one([1], [1]), GenerationBudget(min_first_divergence=30)) == []


def test_max_divergent_at_its_edge():
    r = five(3, first=5, length=10)  # two prompts with half their tokens divergent: mean 0.2
    assert r.mean_divergent_fraction == pytest.approx(0.2)
    assert judge(r, GenerationBudget(max_divergent=0.2)) == []
    failed = judge(r, GenerationBudget(max_divergent=0.15))
    assert failed == [
        "max_divergent=0.15: 0.2 of generated tokens differ on average over 5 prompts, 0.05 above the budget; "
        "the most: prompts[3] with 5 of 10; the first to diverge: prompts[3] 'prompt 3' at token 5"
    ]


def test_every_failing_budget_is_listed():
    budget = GenerationBudget(min_exact=1.0, min_first_divergence=8, max_divergent=0.0)
    failed = judge(five(4, first=2), budget)
    assert [f.split("=")[0] for f in failed] == ["min_exact", "min_first_divergence", "max_divergent"]
    assert judge(five(5), budget) == []


# ------------------------------------------------------------------------------------------ render


def test_render_shows_both_texts_the_position_and_escapes_newlines():
    text_a = "Paris is the capital.\nIt is the largest city\tof France."
    text_b = "Paris is the capital.\nIt is the biggest city\tof France."
    r = compare(
        ["What is\nthe capital?", "same"],
        [[1, 2, 3, 4, 5, 6, 7, 8, 9], [1]],
        [[1, 2, 3, 4, 5, 6, 7, 0, 9], [1]],
        [text_a, "x"],
        [text_b, "x"],
    )
    out = r.render()
    lines = out.splitlines()
    assert (
        lines[0]
        == "  1 of 2 prompts identical (exact rate 0.5), 1 diverges; on average 5.6% of the generated tokens differ"
    )  # (1/9 + 0) / 2
    assert "prompts[0] 'What is\\nthe capital?' diverges at token 7: 1 of 9 tokens differ (lengths 9 | 9)" in out
    original = next(line for line in lines if line.lstrip().startswith("original :"))
    optimized = next(line for line in lines if line.lstrip().startswith("optimized:"))
    assert "capital.\\nIt is the largest city\\tof France. [end]" in original
    assert "capital.\\nIt is the biggest city\\tof France. [end]" in optimized
    caret = lines[lines.index(optimized) + 1]
    col = caret.index("^")
    assert caret.endswith("^ token 7")
    assert original[col:].startswith("largest") and optimized[col:].startswith("biggest")
    assert all(len(line) <= 120 for line in lines)
    assert len(lines) == 5  # a newline in a text never breaks the layout


def test_render_of_long_texts_keeps_the_divergence_in_view_and_the_width():
    base = "word " * 200
    a, b = list(range(300)), list(range(150)) + [0] * 150
    r = one(a, b, base + "A" + base, base + "B" + base, prompt="Tell me\n" * 30)
    lines = r.render().splitlines()
    assert lines[1].startswith("  prompts[0] 'Tell me\\nTell me\\n")
    assert all(len(line) <= 120 for line in lines)
    caret = lines[-1]
    original = lines[-3]
    assert original[caret.index("^")] == "A" and lines[-2][caret.index("^")] == "B"
    assert original.endswith("...") and "[end]" not in original


def test_render_limits_the_prompts_shown_earliest_first():
    n = 8
    a = [list(range(20)) for _ in range(n)]
    b = [list(range(k + 1)) + [-1] * (19 - k) for k in reversed(range(n))]  # prompt k diverges at 8 - k
    r = compare([f"q{k}" for k in range(n)], a, b, ["t"] * n, ["u"] * n)
    out = r.render(limit=3)
    shown = [line.split()[0] for line in out.splitlines() if line.startswith("  prompts[")]
    assert shown == ["prompts[7]", "prompts[6]", "prompts[5]"]
    assert "... and 5 more diverging prompts" in out


def test_same_text_from_different_tokens_is_said_so():
    out = one([1, 2], [3], "ab", "ab").render()
    assert "the same text: the tokens differ in how they split it" in out


def test_to_dict_is_json_and_clips_long_texts_around_the_divergence():
    long_a, long_b = "x" * 1000 + "A" + "y" * 1000, "x" * 1000 + "B" + "y" * 1000
    r = compare(["p", "q"], [[1, 2], [3]], [[1, 4], [3]], [long_a, "t"], [long_b, "t"])
    d = json.loads(json.dumps(r.to_dict()))
    assert (d["prompt_count"], d["exact"], d["exact_rate"], d["min_first_divergence"]) == (2, 1, 0.5, 1)
    row = d["prompts"][0]
    assert (row["first_divergence"], row["divergent"], row["original_ids"], row["optimized_ids"]) == (
        1,
        1,
        [1, 2],
        [1, 4],
    )
    assert len(row["original_text"]) <= 406 and "A" in row["original_text"] and "B" in row["optimized_text"]
    assert d["prompts"][1]["original_text"] == "t"


# ------------------------------------------------------------------------------------------ the marker


def test_marker_defaults_and_values():
    assert budget_from_marker((), {"min_exact": 0.8}) == GenerationBudget(max_new_tokens=32, min_exact=0.8)
    b = budget_from_marker((), {"max_new_tokens": 64, "min_first_divergence": 64, "max_divergent": 0, "min_exact": 1})
    assert (b.max_new_tokens, b.min_first_divergence, b.max_divergent, b.min_exact) == (64, 64, 0.0, 1.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0.8,), {}, "generation marker: takes keyword arguments only, e.g. generation(max_new_tokens=32"),
        (
            (),
            {"min_exatc": 0.8},
            "generation marker: unknown argument 'min_exatc' (expected: max_new_tokens, min_exact, ",
        ),
        ((), {}, "generation marker: no budget: give min_exact, min_first_divergence, max_divergent, e.g. generation("),
        ((), {"max_new_tokens": 32}, "generation marker: no budget"),
        (
            (),
            {"min_exact": 0.8, "max_new_tokens": 0},
            "generation marker: max_new_tokens=0; expected a positive integer",
        ),
        ((), {"min_exact": 0.8, "max_new_tokens": 2.5}, "max_new_tokens=2.5; expected a positive integer"),
        ((), {"min_exact": 0.8, "max_new_tokens": True}, "max_new_tokens=True; expected a positive integer"),
        (
            (),
            {"min_exact": 0.8, "max_new_tokens": 10**6},
            "max_new_tokens=1000000; expected a positive integer of at most 4096",
        ),
        ((), {"min_exact": 1.5}, "min_exact=1.5; expected a number at least 0 and at most 1 (a fraction of prompts)"),
        ((), {"min_exact": -0.1}, "min_exact=-0.1; expected a number at least 0"),
        ((), {"min_exact": "0.8"}, "min_exact='0.8'; expected a number"),
        ((), {"min_exact": float("nan")}, "min_exact=nan; expected a finite number"),
        (
            (),
            {"max_divergent": 2},
            "max_divergent=2; expected a number at least 0 and at most 1 (a fraction of tokens)",
        ),
        ((), {"max_divergent": "a"}, "max_divergent='a'; expected a number"),
        ((), {"min_first_divergence": 0}, "min_first_divergence=0; expected a positive integer (a generated token's"),
        ((), {"min_first_divergence": 4.0}, "min_first_divergence=4.0; expected a positive integer"),
        (
            (),
            {"min_first_divergence": 33},
            "generation marker: min_first_divergence=33 is beyond max_new_tokens=32: no generated token has that "
            "index; raise max_new_tokens to at least 33",
        ),
    ],
)
def test_every_bad_marker_argument_is_refused_by_name(args, kwargs, message):
    with pytest.raises(ConfigError) as info:
        budget_from_marker(args, kwargs)
    assert message in str(info.value)


def test_the_source_is_named():
    with pytest.raises(ConfigError, match=r"^suite.yaml checks.generation: min_exact=2"):
        budget_from_marker((), {"min_exact": 2}, where="suite.yaml checks.generation")


def test_the_caret_stays_under_the_divergence_with_wide_characters():
    r = one([1, 2, 3], [1, 2, 4], "日本語のテキストです", "日本語のテキストだ", prompt="ja")
    lines = r.render().splitlines()
    original, optimized, caret = lines[-3], lines[-2], lines[-1]
    label = len("    original : ")
    assert original[label:].startswith("日本語のテキストで") and optimized[label:].startswith("日本語のテキストだ")
    # eight double-width characters before the divergence: the caret is 16 columns in
    assert caret.index("^") == label + 2 * len("日本語のテキスト")
