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
    suites/data/charlm/{train,test}.parquet     64-character windows of CPython's pydoc_data/topics.py (90/10 split)
    suites/models/charlm.onnx                   character-level transformer LM (2 layers, d=128), token ids in, logits out
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


CONTEXT = 64
VOCAB = ["\n"] + [chr(c) for c in range(32, 127)]  # printable ASCII; anything else becomes "?"


def build_charlm() -> None:
    """A character-level transformer language model on the reference text that ships with CPython."""
    from pydoc_data.topics import topics

    import datasets
    import torch
    from torch import nn

    print("charlm")
    index = {ch: i for i, ch in enumerate(VOCAB)}
    text = "".join(topics[k] for k in sorted(topics))
    ids = np.array([index.get(ch, index["?"]) for ch in text], dtype=np.int64)
    split = int(len(ids) * 0.9)
    train_ids, test_ids = ids[:split], ids[split:]

    def windows(arr: np.ndarray, count: int) -> np.ndarray:
        starts = np.arange(0, len(arr) - CONTEXT, CONTEXT)[:count]
        return np.stack([arr[s : s + CONTEXT] for s in starts])

    features = datasets.Features({"input_ids": datasets.Sequence(datasets.Value("int64"), length=CONTEXT)})
    _save_split(
        "charlm",
        {"train": {"input_ids": windows(train_ids, 512)}, "test": {"input_ids": windows(test_ids, 256)}},
        features,
    )

    class Block(nn.Module):
        def __init__(self, d: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            self.register_buffer("mask", torch.triu(torch.full((CONTEXT, CONTEXT), float("-inf")), diagonal=1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            # Plain MatMul attention (no fused kernel) so the exported graph is MatMul-heavy and portable.
            att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5 + self.mask[:t, :t], dim=-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
            return x + self.mlp(self.ln2(x))

    class CharLM(nn.Module):
        def __init__(self, d: int = 128, layers: int = 2, heads: int = 4) -> None:
            super().__init__()
            self.tok, self.pos = nn.Embedding(len(VOCAB), d), nn.Embedding(CONTEXT, d)
            self.blocks = nn.Sequential(*[Block(d, heads) for _ in range(layers)])
            self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, len(VOCAB))

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            pos = torch.arange(input_ids.shape[1])
            return self.head(self.ln(self.blocks(self.tok(input_ids) + self.pos(pos))))

    torch.manual_seed(SEED)
    model = CharLM()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    data = torch.from_numpy(train_ids)
    gen = torch.Generator().manual_seed(SEED)
    steps = 1500
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for _ in range(steps):
        starts = torch.randint(0, len(data) - CONTEXT - 1, (64,), generator=gen)
        x = torch.stack([data[s : s + CONTEXT] for s in starts])
        y = torch.stack([data[s + 1 : s + CONTEXT + 1] for s in starts])
        loss = nn.functional.cross_entropy(model(x).reshape(-1, len(VOCAB)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    test = torch.from_numpy(windows(test_ids, 256))
    with torch.no_grad():
        logits = model(test)
        nll = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, len(VOCAB)), test[:, 1:].reshape(-1))
    print(
        f"  held-out perplexity (torch): {float(torch.exp(nll)):.3f} (uniform over {len(VOCAB)} characters: {len(VOCAB)})"
    )
    _export(model, test[:1], ROOT / "models" / "charlm.onnx", "input_ids", "logits")


if __name__ == "__main__":
    build_digits()
    build_digits_int8()
    build_diabetes()
    build_charlm()
    print(json.dumps({"seed": SEED, "opset": OPSET, "ir_version": ONNX_IR_VERSION}))
