"""Train and export the example models and datasets under suites/ (development only: needs torch).

Everything comes from data that ships inside scikit-learn, so the script runs offline and
its outputs are deterministic for a given torch build:

    pip install torch==2.13.0 scikit-learn onnx openvino datasets
    python scripts/build_assets.py

Outputs (all committed):
    suites/data/digits/{train,test}.parquet     8x8 handwritten digits, stratified 75/25 split
    suites/data/diabetes/{train,test}.parquet   scikit-learn's diabetes regression data, 80/20 split
    suites/models/digits_cnn.onnx               small CNN, raw pixels (0..16) in, logits out
    suites/models/digits_cnn_fp16.xml/.bin      the same CNN as OpenVINO IR with FP16 weights
    suites/models/digits_cnn_int8.xml/.bin      the same CNN quantized to INT8 by NNCF (300 calibration images)
    suites/models/diabetes_mlp.onnx             MLP regressor, 10 features in, disease progression out
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1] / "suites"
SEED = 0
# ONNX Runtime 1.2x reads IR version <= 10 reliably; newer onnx writers default higher.
ONNX_IR_VERSION = 10
OPSET = 17


def _save_split(name: str, columns: dict[str, dict[str, np.ndarray]], features) -> None:
    import datasets

    out = ROOT / "data" / name
    out.mkdir(parents=True, exist_ok=True)
    for split, cols in columns.items():
        ds = datasets.Dataset.from_dict({k: v.tolist() for k, v in cols.items()}, features=features)
        ds.to_parquet(str(out / f"{split}.parquet"))
        print(f"  {out / f'{split}.parquet'}: {len(ds)} rows")


def _export(model, example, path: Path, input_name: str, output_name: str) -> None:
    import onnx
    import torch

    model.eval()
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=[input_name],
        output_names=[output_name],
        dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    proto.ir_version = ONNX_IR_VERSION
    proto.producer_name = "pytest-edgeqa scripts/build_assets.py"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    print(f"  {path}: {path.stat().st_size // 1024} KiB")


def build_digits() -> None:
    import datasets
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch import nn

    print("digits")
    bunch = load_digits()
    images = bunch.images.astype(np.float32)  # (1797, 8, 8), values 0..16
    labels = bunch.target.astype(np.int64)
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.25, random_state=SEED, stratify=labels)
    features = datasets.Features(
        {
            "image": datasets.Array2D(shape=(8, 8), dtype="float32"),
            "label": datasets.ClassLabel(names=[str(i) for i in range(10)]),
        }
    )
    _save_split(
        "digits",
        {
            "train": {"image": images[idx_train], "label": labels[idx_train]},
            "test": {"image": images[idx_test], "label": labels[idx_test]},
        },
        features,
    )

    class DigitsCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Raw 0..16 pixel values in: the scaling lives in the graph, so data feeds as stored.
            return self.head(self.features(x.unsqueeze(1) / 16.0))

    torch.manual_seed(SEED)
    model = DigitsCNN()
    x = torch.from_numpy(images[idx_train])
    y = torch.from_numpy(labels[idx_train])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(40):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            b = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(images[idx_test])).argmax(1).numpy() == labels[idx_test]).mean()
    print(f"  test accuracy (torch): {acc:.4f}")

    models = ROOT / "models"
    models.mkdir(parents=True, exist_ok=True)
    onnx_path = models / "digits_cnn.onnx"
    _export(model, x[:1], onnx_path, "image", "logits")

    import openvino as ov

    ov_model = ov.convert_model(str(onnx_path))
    ov.save_model(ov_model, str(models / "digits_cnn_fp16.xml"), compress_to_fp16=True)
    print(f"  {models / 'digits_cnn_fp16.xml'} (+.bin, FP16 weights)")


def build_digits_int8() -> None:
    """NNCF post-training INT8 quantization of the digits CNN, calibrated on 300 training images."""
    import nncf
    import openvino as ov

    from pytest_edgeqa import data

    print("digits int8")
    images = data.columns(data.load(str(ROOT / "data" / "digits"), split="train"), ["image"])["image"][:300]
    model = ov.Core().read_model(str(ROOT / "models" / "digits_cnn.onnx"))
    dataset = nncf.Dataset([images[i : i + 1] for i in range(len(images))])
    quantized = nncf.quantize(model, dataset, subset_size=len(images))
    ov.save_model(quantized, str(ROOT / "models" / "digits_cnn_int8.xml"), compress_to_fp16=False)
    print(f"  {ROOT / 'models' / 'digits_cnn_int8.xml'} (+.bin, INT8)")


def build_diabetes() -> None:
    import datasets
    import torch
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from torch import nn

    print("diabetes")
    bunch = load_diabetes()
    feats = bunch.data.astype(np.float32)  # (442, 10), already centred and scaled
    target = bunch.target.astype(np.float32)
    idx_train, idx_test = train_test_split(np.arange(len(target)), test_size=0.2, random_state=SEED)
    features = datasets.Features(
        {
            "features": datasets.Sequence(datasets.Value("float32"), length=10),
            "target": datasets.Value("float32"),
        }
    )
    _save_split(
        "diabetes",
        {
            "train": {"features": feats[idx_train], "target": target[idx_train]},
            "test": {"features": feats[idx_test], "target": target[idx_test]},
        },
        features,
    )

    mean, std = float(target[idx_train].mean()), float(target[idx_train].std())
    scale = torch.from_numpy(1.0 / feats[idx_train].std(axis=0))

    class DiabetesMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Feature and target scaling live in the graph: data feeds as stored and the output
            # is disease progression itself.
            return self.body(x * scale) * std + mean

    torch.manual_seed(SEED)
    model = DiabetesMLP()
    x = torch.from_numpy(feats[idx_train])
    y = torch.from_numpy(target[idx_train]).unsqueeze(1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-3)
    # 353 samples overfit fast: 60 full-batch steps is where held-out error bottoms out.
    for _ in range(60):
        opt.zero_grad()
        nn.functional.mse_loss((model(x) - mean) / std, (y - mean) / std).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(feats[idx_test])).squeeze(1).numpy()
    mse = float(((pred - target[idx_test]) ** 2).mean())
    baseline = float(((target[idx_train].mean() - target[idx_test]) ** 2).mean())
    print(f"  test MSE (torch): {mse:.1f} (predicting the mean: {baseline:.1f})")
    _export(model, x[:1], ROOT / "models" / "diabetes_mlp.onnx", "features", "progression")


if __name__ == "__main__":
    build_digits()
    build_digits_int8()
    build_diabetes()
    print(json.dumps({"seed": SEED, "opset": OPSET, "ir_version": ONNX_IR_VERSION}))
