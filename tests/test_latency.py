"""Latency budgets in real pytest sessions: absolute and relative, refusals, modes, throughput, errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_clean

from pytest_edgeqa.errors import ConfigError
from pytest_edgeqa.latency import (
    LatencyBudget,
    LatencyResult,
    Schedule,
    Stats,
    budget_from_marker,
    judge,
    nearest_rank,
    samples_needed,
)
from pytest_edgeqa.synthetic import matmul_chain


@pytest.fixture
def chains(pytester: pytest.Pytester) -> pytest.Pytester:
    """MatMul chains of 4 and 6 layers: at batch 64 the second is ~1.5x slower (measured here: 0.145 vs 0.219 ms)."""
    matmul_chain(pytester.path / "chain4.onnx", 4)
    matmul_chain(pytester.path / "chain6.onnx", 6)
    return pytester


FAST = "seconds=0.3, warmup_s=0.1, batch=64"


def test_absolute_budgets_pass_and_fail_with_the_statistics(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_abs=f"""
        import pytest
        pytestmark = pytest.mark.edge_model(original="chain4.onnx")

        @pytest.mark.latency(p50_ms=50, p95_ms=100, {FAST})
        def test_generous(latency_check):
            r = latency_check()
            assert r.optimized.count >= 300 and r.optimized.median <= r.optimized.p90 <= r.optimized.p95
            assert r.setup["original"]["precision"] and r.setup["original"]["execution_devices"]

        @pytest.mark.latency(p90_ms=0.0001, mean_ms=0.0001, {FAST})
        def test_impossible(latency_check):
            latency_check()
        """
    )
    result = chains.runpytest("--edge-device=CPU,ort:cpu")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "latency FAILED (latency, nearest-rank percentiles, ms)",
            "  original  min *  mean *  median *  p90 *  p95 *  p99 *  std *  cv *  n *  [[]CPU, f32, streams 1, threads *[]]",
            "  failed: p90_ms=0.0001: measured * ms (*x the budget)",
            "  failed: mean_ms=0.0001: measured * ms",
            "  original compile * ms cold*; first inference * ms",
        ]
    )
    result.stdout.fnmatch_lines(["  original  min * [[]ort:cpu, f32, streams 1, threads default[]]"])
    assert_clean(result)


def test_relative_budgets_a_a_passes_and_a_slower_variant_is_caught(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_rel=f"""
        import pytest

        @pytest.mark.edge_model(original="chain4.onnx", optimized="chain4.onnx")
        @pytest.mark.latency(max_ratio=1.25, {FAST})
        def test_a_a(latency_check):
            r = latency_check()
            assert r.ratio_interval[0] <= r.ratio <= r.ratio_interval[1]

        @pytest.mark.edge_model(original="chain4.onnx", optimized="chain6.onnx")
        @pytest.mark.latency(max_ratio=1.25, {FAST})
        def test_slower(latency_check):
            latency_check()

        @pytest.mark.edge_model(original="chain6.onnx", optimized="chain4.onnx")
        @pytest.mark.latency(min_speedup=1.15, {FAST})
        def test_faster(latency_check):
            assert latency_check().speedup > 1.25
        """
    )
    result = chains.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "  ratio optimized/original 1.* (95% CI [[]1.*, 1.*[]], interleaved blocks), speedup 0.* (95% CI [[]0.*, 0.*[]])",
            "  failed: max_ratio=1.25: the 95% upper bound of optimized/original is 1.* (point 1.*)",
        ]
    )


def test_a_percentile_is_not_judged_on_too_few_samples(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_few="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="chain4.onnx")

        @pytest.mark.latency(p99_ms=100, iterations=20, seconds=0.0001, warmup_s=0.01, batch=64)
        def test_p99(latency_check):
            latency_check()

        @pytest.mark.latency(p99_ms=100, seconds=0.0001, warmup_s=0.01, batch=64)
        def test_p99_default_count(latency_check):
            assert latency_check().optimized.count >= 500  # without iterations=, the count is raised for p99
        """
    )
    result = chains.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "latency NOT JUDGED (latency, nearest-rank percentiles, ms)",
            "  not judged: p99 needs at least 500 samples (5 beyond it), got *: raise iterations= or seconds=",
        ]
    )


def test_warn_and_off_modes(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_modes=f"""
        import pytest
        pytestmark = pytest.mark.edge_model(original="chain4.onnx")

        @pytest.mark.latency(p50_ms=0.0001, {FAST})
        def test_impossible(latency_check):
            assert not latency_check().ok
        """
    )
    warned = chains.runpytest("--edge-latency=warn")
    warned.assert_outcomes(passed=1, warnings=1)
    warned.stdout.fnmatch_lines(["*LatencyWarning: latency FAILED*", "*(--edge-latency=warn: reported, not failed)*"])
    off = chains.runpytest("--edge-latency=off", "-rs")
    off.assert_outcomes(skipped=1)
    off.stdout.fnmatch_lines(["SKIPPED * latency checks are off (--edge-latency=off)"])
    chains.makeini("[pytest]\nedge_latency = warn\n")
    chains.runpytest().assert_outcomes(passed=1, warnings=1)
    assert chains.runpytest("--edge-latency=enforce").ret == pytest.ExitCode.TESTS_FAILED


def test_xdist_workers_warn_that_the_cpu_is_shared(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_x=f"""
        import pytest
        pytestmark = pytest.mark.edge_model(original="chain4.onnx")

        @pytest.mark.latency(p50_ms=100, {FAST})
        def test_ok(latency_check):
            latency_check()
        """
    )
    result = chains.runpytest("-n", "2")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*latency measured under pytest-xdist (gw*): other workers share the CPU*--edge-latency=enforce decides*"]
    )


def test_throughput_mode(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_tput="""
        import pytest

        @pytest.mark.edge_model(original="chain6.onnx", optimized="chain4.onnx")
        @pytest.mark.latency(hint="THROUGHPUT", min_fps=100, min_speedup=1.1, batch=64, seconds=0.6, warmup_s=0.1)
        def test_tput(latency_check):
            r = latency_check()
            assert r.mode == "throughput" and r.fps["optimized"] > r.fps["original"]
            assert r.setup["optimized"]["hint"] == "THROUGHPUT"
            print("FPS", round(r.fps["optimized"]), "streams", r.setup["optimized"]["streams"])

        @pytest.mark.edge_model(original="chain4.onnx")
        @pytest.mark.latency(hint="THROUGHPUT", min_fps=1e12, batch=64, seconds=0.3, warmup_s=0.1)
        def test_impossible(latency_check):
            latency_check()
        """
    )
    result = chains.runpytest("-s")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FPS * streams *", "  failed: min_fps=1e+12: measured * samples/s"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p90_ms": -1}, "latency marker: p90_ms=-1; expected a positive number"),
        ({"p90_ms": 1, "p9_ms": 2}, "latency marker: unknown argument 'p9_ms' (expected: p50_ms, p90_ms"),
        (
            {"percentiles": {100: 5}},
            "latency marker: percentiles has 100; a percentile must be between 0 and 100 (exclusive)",
        ),
        ({"percentiles": {-5: 5}}, "a percentile must be between 0 and 100"),
        ({"percentiles": [99]}, "percentiles=[99]; expected {percentile: budget_ms}"),
        ({"min_fps": 10}, "min_fps is a throughput budget; add hint='THROUGHPUT'"),
        ({"max_ratio": 1.1, "min_speedup": 1.0}, "give max_ratio or min_speedup, not both"),
        ({"batch": 0, "p50_ms": 1}, "batch=0; expected a positive integer"),
        ({"hint": "FAST", "p50_ms": 1}, "hint='FAST'; expected 'LATENCY' or 'THROUGHPUT'"),
        ({"seconds": 0.5}, "no budget: give one of p50_ms"),
    ],
)
def test_bad_marker_arguments(kwargs, message) -> None:
    with pytest.raises(ConfigError) as info:
        budget_from_marker((), kwargs, Schedule())
    assert message in str(info.value)


def test_marker_errors_reach_the_user_cleanly(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_bad="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="chain4.onnx")

        @pytest.mark.latency(p95_ms=-3)
        def test_negative(latency_check):
            latency_check()

        def test_no_marker(latency_check):
            latency_check()
        """
    )
    result = chains.runpytest("--strict-markers")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "latency marker: p95_ms=-3; expected a positive number",
            "latency_check needs a latency marker, e.g. @pytest.mark.latency(p90_ms=1.0)",
        ]
    )
    assert_clean(result)


def test_schedule_from_command_line_and_ini(chains: pytest.Pytester) -> None:
    chains.makepyfile(
        test_sched="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="chain4.onnx")

        @pytest.mark.latency(p50_ms=100, batch=64)
        def test_default(latency_check):
            print("COUNT", latency_check().optimized.count)
        """
    )
    chains.makeini(
        "[pytest]\nedge_latency_iterations = 2000\nedge_latency_seconds = 0.05\nedge_latency_warmup = 0.05\n"
    )
    result = chains.runpytest("-s")
    count = int(next(ln for ln in result.stdout.lines if "COUNT" in ln).split("COUNT")[1])
    assert count >= 2000
    result = chains.runpytest("-s", "--edge-latency-iterations=50")
    count = int(next(ln for ln in result.stdout.lines if "COUNT" in ln).split("COUNT")[1])
    assert 50 <= count < 2000
    bad = chains.runpytest("--edge-latency-iterations=zero")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*argument --edge-latency-iterations: 'zero' is not a positive integer*"])


def test_statistics_are_nearest_rank() -> None:
    ms = np.arange(1, 101, dtype=float)  # 1..100
    s = Stats.of(ms, [99.9])
    assert (s.min, s.median, s.p90, s.p95, s.p99) == (1, 50, 90, 95, 99)
    assert s.extra["p99.9"] == 100 and nearest_rank(np.array([5.0]), 99) == 5
    assert s.count == 100 and s.cv == pytest.approx(s.std / s.mean)
    assert samples_needed(99) == 500 and samples_needed(90) == 50 and samples_needed(50) == 10
    result = LatencyResult(mode="latency", unit="ms", optimized=Stats.of(np.full(20, 1.0)))
    judge(LatencyBudget(p99_ms=5.0, p50_ms=0.5), result)
    assert result.refused and result.failed == ["p50_ms=0.5: measured 1 ms (2.00x the budget)"]
