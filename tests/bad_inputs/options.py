"""Bad command-line options and ini keys: each is a usage error (exit 4) at configure time that names the
option or ini key, the value and what is wrong, before any test runs; a report file that cannot be written
at session end is one line after the summary, and the session ends non-zero."""

from __future__ import annotations

from . import Case

PASSING = {"test_a.py": "def test_a():\n    pass\n"}


def _ini(**keys: str) -> dict[str, str]:
    return {"tox.ini": "[pytest]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()), **PASSING}


CASES: list[Case] = [
    # Report files: what can be known at configure time is a usage error naming the option and the path.
    Case(
        id="options-report-md-parent-is-a-file",
        files={"afile": "not a folder\n", **PASSING},
        args=("--edge-report-md=afile/r.md",),
        expect=("--edge-report-md=afile/r.md: cannot write a file there: afile is a file, not a directory",),
        exit_code=4,
        note="the test passed, then FileExistsError at session end and no summary",
    ),
    Case(
        id="options-report-md-is-a-directory",
        files={"out/keep.txt": "", **PASSING},
        args=("--edge-report-md=out",),
        expect=("--edge-report-md=out: out is a directory; give a file path, e.g. out/report.md",),
        exit_code=4,
        note="IsADirectoryError at session end",
    ),
    Case(
        id="options-report-md-under-proc",
        files=PASSING,
        args=("--edge-report-md=/proc/edgeqa/r.md",),
        expect=(
            "--edge-report-md=/proc/edgeqa/r.md: cannot write a file there: cannot create a file in /proc "
            "(No such file or directory)",
        ),
        exit_code=4,
        note="a place even root cannot write: FileNotFoundError at session end",
    ),
    Case(
        id="options-report-json-parent-is-a-file",
        files={"afile": "not a folder\n", **PASSING},
        args=("--edge-report=afile/sub/r.json",),
        expect=("--edge-report=afile/sub/r.json: cannot write a file there: afile is a file, not a directory",),
        exit_code=4,
        note="FileExistsError at session end",
    ),
    Case(
        id="options-report-json-is-a-directory",
        files={"reports/keep.txt": "", **PASSING},
        args=("--edge-report=reports",),
        expect=("--edge-report=reports: reports is a directory; give a file path, e.g. reports/report.json",),
        exit_code=4,
        note="IsADirectoryError at session end",
    ),
    Case(
        id="options-report-json-under-read-only-proc",
        files=PASSING,
        args=("--edge-report=/proc/self/report.json",),
        expect=("--edge-report=/proc/self/report.json: cannot write a file there: cannot create a file in /proc/self",),
        exit_code=4,
        note="an existing folder no one can create files in: an error at session end",
    ),
    Case(
        id="options-report-md-ini-parent-is-a-file",
        files={**_ini(edge_report_md="afile/r.md"), "afile": "x\n"},
        expect=(
            "ini edge_report_md=afile/r.md (",
            "tox.ini): cannot write a file there: afile is a file, not a directory",
        ),
        exit_code=4,
        note="FileExistsError at session end",
    ),
    Case(
        id="options-report-write-fails-at-session-end",
        # Nothing was wrong at configure time; the test puts a file where the report's folder goes.
        files={"test_a.py": "from pathlib import Path\n\ndef test_a():\n    Path('out').write_text('x')\n"},
        args=("--edge-report-md=out/r.md",),
        expect=(
            "1 passed",
            "edgeqa: could not write the Markdown summary (out/r.md): cannot write a file there: out is a file, "
            "not a directory",
        ),
        outcomes={"passed": 1},
        exit_code=1,
        note="FileExistsError traceback at session end, no summary, exit status 0",
    ),
    # Folders: a file where a folder must be is a usage error naming the option or ini key.
    Case(
        id="options-cache-dir-is-a-file",
        files={"cachefile": "x\n", **PASSING},
        args=("--edge-cache-dir=cachefile",),
        expect=("--edge-cache-dir=cachefile: cachefile is a file, not a directory",),
        exit_code=4,
        note="accepted; the first recipe build failed inside the cache code",
    ),
    Case(
        id="options-cache-dir-ini-under-a-file",
        files={**_ini(edge_cache_dir="afile/cache"), "afile": "x\n"},
        expect=(
            "ini edge_cache_dir=afile/cache (",
            "tox.ini): cannot create the directory: afile is a file, not a directory",
        ),
        exit_code=4,
        note="accepted silently",
    ),
    Case(
        id="options-golden-dir-is-a-file",
        files={**_ini(edge_golden_dir="goldens.txt"), "goldens.txt": "x\n"},
        expect=("ini edge_golden_dir=goldens.txt (", "tox.ini): goldens.txt is a file, not a directory"),
        exit_code=4,
        note="accepted silently; golden reads and writes failed later",
    ),
    Case(
        id="options-golden-dir-under-a-file-when-recording",
        files={**_ini(edge_golden_dir="afile/golden"), "afile": "x\n"},
        args=("--update-golden",),
        expect=("ini edge_golden_dir=afile/golden (", "cannot create the directory: afile is a file, not a directory"),
        exit_code=4,
        note="accepted silently; recording failed with FileExistsError",
    ),
    # Numbers: finite, in range, named with their source.
    Case(
        id="options-latency-seconds-inf",
        files=PASSING,
        args=("--edge-latency-seconds=inf",),
        expect=("argument --edge-latency-seconds: 'inf' is not a finite positive number of at most 3600 seconds",),
        exit_code=4,
        subprocess=True,
        timeout=60,
        note="accepted: a latency check never ended",
    ),
    Case(
        id="options-latency-seconds-ini-inf",
        files=_ini(edge_latency_seconds="inf"),
        expect=("ini edge_latency_seconds (", "'inf' is not a finite positive number of at most 3600 seconds"),
        exit_code=4,
        subprocess=True,
        timeout=60,
        note="accepted: a latency check never ended",
    ),
    Case(
        id="options-latency-warmup-a-day",
        files=PASSING,
        args=("--edge-latency-warmup=86400",),
        expect=("argument --edge-latency-warmup: '86400' is not a positive number of at most 3600 seconds",),
        exit_code=4,
        note="accepted: a day of warm-up per model",
    ),
    Case(
        id="options-latency-iterations-a-billion",
        files=PASSING,
        args=("--edge-latency-iterations=1000000000",),
        expect=("argument --edge-latency-iterations: '1000000000' is not a positive integer of at most 10000000",),
        exit_code=4,
        note="accepted",
    ),
    Case(
        id="options-latency-seconds-nan",
        files=PASSING,
        args=("--edge-latency-seconds=nan",),
        expect=("argument --edge-latency-seconds: 'nan' is not a finite positive number",),
        exit_code=4,
        note="already refused before, as 'is not a positive number'",
    ),
    Case(
        id="options-latency-iterations-ini-fraction",
        files=_ini(edge_latency_iterations="2.5"),
        expect=("ini edge_latency_iterations (", "'2.5' is not a positive integer"),
        exit_code=4,
        note="already right before",
    ),
    Case(
        id="options-require-devices-ini-not-a-bool",
        files=_ini(edge_require_devices="maybe"),
        expect=("ini edge_require_devices (", "invalid truth value 'maybe'; expected true or false"),
        exit_code=4,
        note="pytest's own 'ERROR: invalid truth value' named no ini key",
    ),
    Case(
        id="options-latency-mode-unknown",
        files=PASSING,
        args=("--edge-latency=loose",),
        expect=("argument --edge-latency: invalid choice: 'loose'", "enforce", "strict", "warn", "off"),
        exit_code=4,
        note="already right before (argparse choices)",
    ),
    Case(
        id="options-latency-mode-ini-unknown",
        files=_ini(edge_latency="loose"),
        expect=("ini edge_latency (", "'loose'; expected enforce, strict, warn or off"),
        exit_code=4,
        note="already right before",
    ),
]
