"""Hostile inputs: a suite file, a marker or a fixture argument that would make the session run code nobody
wrote in a test. Each is refused with a message saying what was refused and how to allow it, and each case
checks afterwards that the hostile code did not run (it would have written the file PWNED)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bad_inputs import Case
from bad_inputs.data import scalar_model

PWNED = "PWNED"

# An evaluate metric script that, like any, runs when it is loaded: here it leaves a mark.
EVIL_METRIC = f"""\
import datasets
import evaluate

open({PWNED!r}, "w").write("evil_metric.py ran")


class EvilMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="", citation="", inputs_description="",
            features=datasets.Features({{"predictions": datasets.Value("float32"), "references": datasets.Value("float32")}}),
        )

    def _compute(self, predictions, references):
        return {{"evil": 0.0}}
"""
# A module whose import leaves a mark: naming 'evil_pre:fn' would import it.
EVIL_MODULE = f'open({PWNED!r}, "w").write("evil_pre imported")\n\n\ndef fn(cols):\n    return cols\n'
# subprocess.run(cols) runs the column names as a command: `touch PWNED`.
TOUCH_CSV = f"touch,{PWNED}\n1,2\n"
DATA_CSV = "x,y\n1,2\n3,4\n"
# A dataset directory with a loading script of its own name, as `datasets` once ran them.
DATASET_SCRIPT = f'open({PWNED!r}, "w").write("d/d.py ran")\n'


def no_code_ran(root: Path) -> None:
    mark = root / PWNED
    assert not mark.exists(), f"hostile code ran: {mark.read_text()}"


def suite(metric: str = "mse", preprocess: str | None = None, data: str = "d.csv") -> str:
    pre = f", preprocess: {preprocess!r}" if preprocess is not None else ""
    return (
        "name: s\nmodel: {original: m.onnx, optimized: m.onnx}\n"
        f"data: {{path: {data}, inputs: {{x: x}}, label: y{pre}}}\n"
        f"devices: [CPU]\nchecks:\n  accuracy: {{metric: {metric!r}, max_drop: 1.0}}\n"
    )


def test_file(call: str = '"d.csv", label="y"', metric: str = "mse", model: str = "") -> str:
    models = model or 'original="m.onnx", optimized="m.onnx"'
    return textwrap.dedent(
        f"""\
        import pytest

        pytestmark = pytest.mark.edge_model({models})

        @pytest.mark.accuracy(metric={metric!r}, max_drop=1.0)
        def test_data(accuracy_check):
            accuracy_check({call})
        """
    )


def refused_in_suite(what: str, text: str, message: tuple[str, ...], *, at_setup: bool, **kwargs: object) -> Case:
    files = {"s.edgeqa.yaml": text, "evil_metric.py": EVIL_METRIC, **kwargs.pop("files", {})}  # type: ignore[dict-item]
    files.setdefault("d.csv", DATA_CSV)
    return Case(
        id=f"security-{what}",
        files=files,
        setup=scalar_model,
        args=("--edge-device=CPU", *kwargs.pop("args", ())),  # type: ignore[misc]
        expect=message,
        outcomes={"errors": 1} if at_setup else {"failed": 1},
        check=no_code_ran,
        **kwargs,  # type: ignore[arg-type]
    )


def refused_in_test(what: str, module: str, message: tuple[str, ...], **kwargs: object) -> Case:
    files = {"test_d.py": module, "d.csv": DATA_CSV, "evil_metric.py": EVIL_METRIC, "evil_pre.py": EVIL_MODULE}
    files.update(kwargs.pop("files", {}))  # type: ignore[arg-type]
    return Case(
        id=f"security-{what}",
        files=files,
        setup=kwargs.pop("setup", scalar_model),  # type: ignore[arg-type]
        args=("--edge-device=CPU", *kwargs.pop("args", ())),  # type: ignore[misc]
        expect=message,
        outcomes=kwargs.pop("outcomes", {"failed": 1}),  # type: ignore[arg-type]
        check=no_code_ran,
        **kwargs,  # type: ignore[arg-type]
    )


SUITE_NAMES_ONLY = "A suite never loads a script or imports code, whatever --edge-trust-code says"
MARKER_OPT_IN = "pass --edge-trust-code (ini edge_trust_code = true) to allow that"
IMPORT_OPT_IN = (
    "is an import path: importing it runs that module's code, which pytest-edgeqa does only with --edge-trust-code "
    "(ini edge_trust_code = true)"
)

CASES: list[Case] = [
    # --- suites are data: a metric or preprocess is a registered name, never a script, a Hub id or an import
    refused_in_suite(
        "suite-metric-script",
        suite(metric="./evil_metric.py"),
        (
            "s.edgeqa.yaml: checks.accuracy.metric: './evil_metric.py' is a path to a script; a suite names a metric",
            SUITE_NAMES_ONLY,
        ),
        at_setup=True,
        note="evaluate.load ran ./evil_metric.py",
    ),
    refused_in_suite(
        "suite-metric-script-despite-trust-code",
        suite(metric="evil_metric.py"),
        ("s.edgeqa.yaml: checks.accuracy.metric: 'evil_metric.py' is a path to a script", SUITE_NAMES_ONLY),
        at_setup=True,
        args=("--edge-trust-code",),
        note="evaluate.load ran evil_metric.py",
    ),
    refused_in_suite(
        "suite-metric-hub-id",
        suite(metric="someone/evil-metric"),
        ("s.edgeqa.yaml: checks.accuracy.metric: 'someone/evil-metric' is a Hugging Face Hub id", SUITE_NAMES_ONLY),
        at_setup=True,
        note="evaluate.load asked the Hub for someone/evil-metric: online, its script would have run",
    ),
    refused_in_suite(
        "suite-metric-unregistered-name",
        suite(metric="bleu"),
        (
            "s.edgeqa.yaml: checks.accuracy.metric: 'bleu' is neither a built-in nor a registered metric (built in: "
            "accuracy, top_5_accuracy, ",
            "registered: none). A suite names metrics only: it never loads a metric script or a Hub metric, whatever "
            "--edge-trust-code says",
        ),
        at_setup=False,
        args=("--edge-trust-code",),
        note="evaluate.load('bleu') from the Hub",
    ),
    refused_in_suite(
        "suite-preprocess-subprocess-run",
        suite(preprocess="subprocess:run", data="touch.csv"),
        (
            "s.edgeqa.yaml: data.preprocess: 'subprocess:run' is an import path ('module:function'); a suite names a "
            "preprocess function",
            SUITE_NAMES_ONLY,
        ),
        at_setup=True,
        files={"touch.csv": TOUCH_CSV},
        note="subprocess.run({'touch': ..., 'PWNED': ...}) ran `touch PWNED`",
    ),
    refused_in_suite(
        "suite-preprocess-import-despite-trust-code",
        suite(preprocess="evil_pre:fn"),
        ("s.edgeqa.yaml: data.preprocess: 'evil_pre:fn' is an import path ('module:function')", SUITE_NAMES_ONLY),
        at_setup=True,
        args=("--edge-trust-code",),
        files={"evil_pre.py": EVIL_MODULE},
        note="evil_pre was imported",
    ),
    refused_in_suite(
        "suite-preprocess-unregistered-name",
        suite(preprocess="scale"),
        (
            "s.edgeqa.yaml: data.preprocess: 'scale' is not a registered preprocess function (registered: none). "
            "A suite names preprocess functions only",
        ),
        at_setup=False,
        note="a schema error asking for an import path 'package.module:function'",
    ),
    # --- markers and fixture arguments: code no test file shows needs --edge-trust-code
    refused_in_test(
        "marker-metric-script",
        test_file(metric="evil_metric.py"),
        (
            "accuracy marker: metric='evil_metric.py' is neither a built-in nor a registered metric (",
            "As a path to a script, it would be loaded with evaluate.load, which runs a metric script",
            MARKER_OPT_IN,
        ),
        note="evaluate.load ran evil_metric.py",
    ),
    refused_in_test(
        "marker-metric-hub-id",
        test_file(metric="someone/evil-metric"),
        ("accuracy marker: metric='someone/evil-metric' is neither", "As a Hugging Face Hub id", MARKER_OPT_IN),
        note="evaluate.load asked the Hub for someone/evil-metric: online, its script would have run",
        subprocess=True,
        timeout=90,
    ),
    refused_in_test(
        "marker-metric-typo",
        test_file(metric="accurcy"),
        ("accuracy marker: metric='accurcy' is neither", "did you mean 'accuracy'?"),
        note="evaluate.load('accurcy') from the Hub",
    ),
    refused_in_test(
        "fixture-preprocess-subprocess-run",
        test_file(call='"touch.csv", inputs={"x": "touch"}, label="PWNED", preprocess="subprocess:run"'),
        (f"accuracy_check: preprocess='subprocess:run' {IMPORT_OPT_IN}",),
        files={"touch.csv": TOUCH_CSV},
        note="subprocess.run ran `touch PWNED`",
    ),
    refused_in_test(
        "fixture-preprocess-import-side-effect",
        test_file(call='"d.csv", label="y", preprocess="evil_pre:fn"'),
        (f"accuracy_check: preprocess='evil_pre:fn' {IMPORT_OPT_IN}",),
        note="evil_pre was imported",
    ),
    refused_in_test(
        "recipe-validation-metric-script",
        textwrap.dedent(
            """\
            import pytest

            @pytest.mark.edge_model(
                original="m.onnx", optimized={"recipe": "nncf-int8-accuracy", "calibration": "d.csv"}
            )
            @pytest.mark.accuracy(metric="evil_metric.py", max_drop=0.01)
            def test_build(optimized_model):
                pass
            """
        ),
        (
            "recipe nncf-int8-accuracy: metric='evil_metric.py' is neither a built-in nor a registered metric",
            MARKER_OPT_IN,
        ),
        outcomes=None,
        note="evaluate.load ran evil_metric.py to validate the recipe",
    ),
    refused_in_test(
        "dataset-loading-script",
        test_file(call='"d", label="y"'),
        (
            "accuracy_check: data d: the directory holds a dataset loading script (d.py); pytest-edgeqa reads data "
            "files only and never runs a script",
        ),
        files={"d/d.py": DATASET_SCRIPT, "d/test.csv": DATA_CSV},
        note="RuntimeError 'Dataset scripts are no longer supported' as a traceback",
    ),
    # --- the opt-in itself, and the registration API, refuse what they cannot mean
    Case(
        id="security-trust-code-ini-malformed",
        files={"tox.ini": "[pytest]\nedge_trust_code = maybe\n", "test_a.py": "def test_a():\n    pass\n"},
        expect=("ini edge_trust_code (", "expected true or false"),
        exit_code=4,
        note="'unknown config option: edge_trust_code' and the run went on",
    ),
    refused_in_test(
        "register-a-path-as-a-name",
        test_file(metric="mine"),
        (
            "pytest_edgeqa_register: add_metric('evil_metric.py', ...): expected a name: letters, digits, '_' and "
            "'-', at most 64, starting with a letter or '_'",
        ),
        files={
            "conftest.py": "def pytest_edgeqa_register(registry):\n"
            "    registry.add_metric('evil_metric.py', lambda p, r: 0.0)\n"
        },
        note="pytest_edgeqa_register was an unknown hook",
    ),
    refused_in_test(
        "register-over-a-built-in",
        test_file(metric="accuracy"),
        (
            "pytest_edgeqa_register: add_metric('accuracy', ...): 'accuracy' is a built-in metric; give yours another name",
        ),
        files={
            "conftest.py": "def pytest_edgeqa_register(registry):\n"
            "    registry.add_metric('accuracy', lambda p, r: 1.0)\n"
        },
        note="pytest_edgeqa_register was an unknown hook",
    ),
]
