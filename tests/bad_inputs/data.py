"""Malformed data for accuracy checks and suites: empty, ragged, mistyped, misnamed or missing; each ends in one
message naming the data, what was expected and what was found, and a mistyped path is never a Hub lookup."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bad_inputs import Case

ACC = "accuracy_check"


def scalar_model(root: Path, name: str = "m.onnx") -> None:
    """A real ONNX model y = x on x: float[n]: each row of a dataset is one number, so CSV files can feed it."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "scalar",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, str(root / name))


def test_file(call: str, prelude: str = "", metric: str = "mse") -> str:
    """A test module: the scalar model as original and optimized, and ``accuracy_check(<call>)``."""
    return textwrap.dedent(
        """\
        import numpy as np
        import pytest

        pytestmark = pytest.mark.edge_model(original="m.onnx", optimized="m.onnx")
        {prelude}

        @pytest.mark.accuracy(metric={metric!r}, max_drop=1.0)
        def test_data(accuracy_check):
            accuracy_check({call})
        """
    ).format(prelude=textwrap.dedent(prelude), call=call, metric=metric)


def _parquet(*rels: str, x: tuple[float, ...] = (1.0, 2.0), y: tuple[float, ...] = (1.0, 2.0)) -> object:
    """A setup: the scalar model, and parquet files at ``rels`` holding columns x and y."""

    def setup(root: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        scalar_model(root)
        for rel in rels:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            table = pa.table({"x": pa.array(x, pa.float32()), "y": pa.array(y, pa.float32())})
            pq.write_table(table, str(path))

    return setup


def _save_to_disk_corrupt(root: Path) -> None:
    scalar_model(root)
    (root / "d").mkdir()
    (root / "d" / "dataset_dict.json").write_text('{"splits": ["test"]}')
    (root / "d" / "test").mkdir()
    (root / "d" / "test" / "state.json").write_text("{not json")


def case(what: str, call: str, message: str | tuple[str, ...], *, prelude: str = "", **kwargs: object) -> Case:
    """A test module calling ``accuracy_check(<call>)`` on the scalar model fails with ``message``."""
    files = {"test_d.py": test_file(call, prelude, str(kwargs.pop("metric", "mse"))), **kwargs.pop("files", {})}  # type: ignore[dict-item]
    return Case(
        id=f"data-{what}",
        files=files,
        setup=kwargs.pop("setup", scalar_model),  # type: ignore[arg-type]
        args=("--edge-device=CPU", *kwargs.pop("args", ())),  # type: ignore[misc]
        expect=(message,) if isinstance(message, str) else message,
        outcomes={"failed": 1},
        **kwargs,  # type: ignore[arg-type]
    )


SUITE = """\
name: s
model: {{original: m.onnx, optimized: m.onnx}}
data: {{path: {path}, inputs: {{x: x}}, label: y}}
devices: [CPU]
checks:
  {checks}
"""

OFFLINE = """\
import datasets.config
import huggingface_hub.constants
import pytest


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    # The Hub is never reached from this test, online or not: the answer is the same everywhere.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
"""

RAGGED_LISTS = '{"x": [1.0, 2.0], "y": 1.0}\n{"x": [1.0, 2.0, 3.0], "y": 2.0}\n'

CASES: list[Case] = [
    # --- files that hold no rows, or no table
    case(
        "empty-parquet",
        '"d.parquet", label="y"',
        f"{ACC}: the dataset d.parquet (split 'test') is empty (0 rows); there is nothing to evaluate",
        setup=_parquet("d.parquet", x=(), y=()),
        note="a parquet file with columns and no rows",
    ),
    case(
        "zero-byte-csv",
        '"d.csv", label="y"',
        f"{ACC}: data d.csv: the file is empty (0 bytes); expected csv data",
        files={"d.csv": ""},
        note="DatasetGenerationError from inside datasets",
    ),
    case(
        "csv-header-only",
        '"d.csv", label="y"',
        f"{ACC}: the dataset d.csv (split 'test') is empty (0 rows); there is nothing to evaluate",
        files={"d.csv": "x,y\n"},
    ),
    case(
        "ragged-csv",
        '"d.csv", label="y"',
        f"{ACC}: data d.csv could not be read as csv: ParserError: Error tokenizing data. C error: Expected 2 fields "
        "in line 3, saw 3",
        files={"d.csv": "x,y\n1,2\n3,4,5\n6,7\n"},
        note="DatasetGenerationError: a traceback through datasets and the plugin",
    ),
    case(
        "corrupt-parquet",
        '"d.parquet", label="y"',
        f"{ACC}: data d.parquet could not be read as parquet: ArrowInvalid:",
        files={"d.parquet": "PAR1 this is not a parquet file PAR1"},
        note="DatasetGenerationError: a traceback through datasets and the plugin",
    ),
    case(
        "unknown-file-type",
        '"d.xlsx", label="y"',
        f"{ACC}: data d.xlsx: unknown file type '.xlsx' (expected .parquet, .csv, .json, .jsonl, .arrow, .txt)",
        files={"d.xlsx": "x,y\n1,2\n"},
        note="already right: the file type was checked",
    ),
    case(
        "corrupt-save-to-disk",
        '"d", label="y"',
        f"{ACC}: data d: the save_to_disk directory could not be read: ",
        setup=_save_to_disk_corrupt,
        note="a raw error from datasets.load_from_disk",
    ),
    # --- directories: no data, no such split
    case(
        "directory-without-data-files",
        '"d", label="y"',
        f"{ACC}: data d: the directory holds no data files (.parquet, .csv, .json, .jsonl, .arrow, .txt) and is not "
        "a save_to_disk directory (it holds: README.md, model.onnx)",
        files={"d/README.md": "# my data\n", "d/model.onnx": "not data"},
        note="EmptyDatasetError wrapped as 'could not be loaded: The directory at ... doesn't contain any data files'",
    ),
    case(
        "split-missing",
        '"d", label="y", split="validation"',
        f"{ACC}: data d has no split 'validation' (splits: train, test)",
        setup=_parquet("d/train.parquet", "d/test.parquet"),
        note="'could not be loaded: Bad split: validation. Available splits: [...]'",
    ),
    # --- paths: a typo is 'not found', never the Hub; the Hub only when asked for
    case(
        "typo-path-is-not-a-hub-id",
        '"data/diabetez", label="y"',
        (
            f"{ACC}: data not found: data/diabetez (relative to ",
            "); a dataset on the Hugging Face Hub is named 'hub:owner/name'",
        ),
        files={"conftest.py": OFFLINE},
        subprocess=True,
        timeout=90,
        note="a Hub lookup: ConnectionError after 39 s online, or someone else's data 'data/diabetez' evaluated",
    ),
    case(
        "hub-only-when-asked",
        '"hub:edgeqa-nobody/no-such-dataset", label="y"',
        (
            f"{ACC}: data 'hub:edgeqa-nobody/no-such-dataset' (split 'test') could not be loaded from the Hugging "
            "Face Hub: ",
            "edgeqa-nobody/no-such-dataset",
        ),
        files={"conftest.py": OFFLINE},
        note="'hub:' was no spelling: 'could not be loaded: Couldn't find any data file at .../hub:...'",
    ),
    case(
        "hub-id-malformed",
        '"hub:a/b/c", label="y"',
        f"{ACC}: data 'hub:a/b/c': expected 'hub:owner/name' (a dataset id on the Hugging Face Hub)",
        note="a local path 'hub:a/b/c' not found",
    ),
    Case(
        id="data-suite-typo-path",
        files={
            "s.edgeqa.yaml": SUITE.format(path="data/diabetez", checks="accuracy: {metric: mse, max_drop: 1.0}"),
            "conftest.py": OFFLINE,
        },
        setup=scalar_model,
        args=("--edge-device=CPU",),
        expect=(f"{ACC}: data not found: data/diabetez (relative to ",),
        outcomes={"failed": 1},
        note="a Hub lookup for 'data/diabetez'",
    ),
    # --- columns: missing, or holding what no model reads
    case(
        "missing-label-column",
        '"d.parquet", label="target"',
        f"{ACC}: dataset d.parquet (split 'test') has no column 'target' (columns: x, y)",
        setup=_parquet("d.parquet"),
        note="the message did not say which data",
    ),
    case(
        "strings-where-numbers-are-needed",
        '"d.csv", label="y"',
        f"{ACC}: column 'y' holds strings (first: 'high'); a model input or label must be numbers: convert it "
        "with preprocess=",
        files={"d.csv": "x,y\n1.5,high\n2.5,low\n"},
        note="ValueError: could not convert string to float, from inside the metric",
    ),
    case(
        "rows-of-different-lengths",
        '"d.jsonl", label="y"',
        f"{ACC}: column 'x' holds rows of different shapes ((2,), (3,)); a model input or label must be numbers",
        files={"d.jsonl": RAGGED_LISTS},
        note="an object array handed to the runtime",
    ),
    # --- preprocess: the wrong type, the wrong lengths, the user's own error
    case(
        "preprocess-returns-none",
        '"d.csv", label="y", preprocess=prep',
        f"{ACC}: preprocess=prep returned NoneType; expected a dict of column name -> array (the columns it was "
        "given, changed or added to)",
        prelude="""
        def prep(cols):
            cols["y"] = cols["y"] * 2  # no return
        """,
        files={"d.csv": "x,y\n1,2\n3,4\n"},
        note="TypeError: 'NoneType' object is not iterable, from inside the plugin",
    ),
    case(
        "preprocess-lengths-differ",
        '"d.csv", label="y", preprocess=prep',
        f"{ACC}: preprocess=prep returned columns of different lengths (x: 1 rows, y: 2 rows); expected one row per "
        "sample in each",
        prelude="""
        def prep(cols):
            return {"x": cols["x"][:1], "y": cols["y"]}
        """,
        files={"d.csv": "x,y\n1,2\n3,4\n"},
        note="the metric's '1 predictions but 2 labels'",
    ),
    case(
        "preprocess-raises-shows-the-users-frame",
        '"d.csv", label="y", preprocess=prep',
        ("def prep(cols):", "KeyError: 'pixels'"),
        prelude="""
        def prep(cols):
            return {"x": cols["pixels"], "y": cols["y"]}
        """,
        files={"d.csv": "x,y\n1,2\n3,4\n"},
        note="the traceback went through pytest_edgeqa/data.py",
    ),
    case(
        "samples-zero-is-not-an-empty-dataset",
        '"d.csv", label="y", samples=0',
        "samples=0",
        files={"d.csv": "x,y\n1,2\n3,4\n"},
        absent=("is empty",),
        note="'the dataset is empty (0 rows)' for a dataset of 2 rows",
    ),
    Case(
        id="data-golden-inputs-is-a-path",
        files={
            "test_g.py": "import pytest\n\n\n"
            "@pytest.mark.edge_model(original='m.onnx', optimized='m.onnx')\n"
            "def test_g(golden_check):\n    golden_check(inputs='d.csv')\n",
            "d.csv": "x\n1\n2\n",
        },
        setup=scalar_model,
        args=("--edge-device=CPU",),
        expect=(
            "inputs='d.csv' is a string; expected arrays, a dict of arrays keyed by input name, a datasets.Dataset "
            "(e.g. pytest_edgeqa.data.load(path, split=...)) or None (generated)",
        ),
        outcomes={"failed": 1},
        note="the path's characters taken as a 0-d array: 'expects shape [n] (float32), got ()'",
    ),
    # --- sizes: a YAML parity check asking for absurd numbers of rows
    Case(
        id="data-suite-parity-samples-absurd",
        files={
            "s.edgeqa.yaml": "name: s\nmodel: {original: m.onnx, optimized: m.onnx}\ndevices: [CPU]\n"
            "checks:\n  parity: {samples: 9999999999, atol: 0.1}\n"
        },
        setup=scalar_model,
        args=("--edge-device=CPU",),
        expect=("s.edgeqa.yaml: checks.parity.samples", "9999999999"),
        exit_code=1,
        subprocess=True,
        timeout=90,
        note="MemoryError generating 9999999999 rows of inputs",
    ),
]
