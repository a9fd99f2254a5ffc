"""``python -m tests.benchmarks`` (``make bench``): run every benchmark module and print one table.

Each module in :data:`MODULES` exposes ``run() -> list[dict]``; a row has ``bench``, ``case``,
``value`` (a number), ``unit`` and optionally ``baseline`` (the same quantity measured or
extrapolated in the same run for a simpler method, or for the smaller size) and ``note``. The
ratio column is value / baseline. Add a module to the list to add a benchmark.
``python -m tests.benchmarks index`` runs only the modules whose name contains ``index``;
``--scale 10`` runs them on a federation ten times larger (see :func:`tests.benchmarks.scale`).
A complete run (no module filter) records its table in docs/benchmarks.md, between markers.
"""
from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from importlib import import_module
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
MARK_START, MARK_END = "<!-- results: written by make bench -->", "<!-- end of results -->"
MODULES = ["tests.benchmarks.bench_index", "tests.benchmarks.bench_validation", "tests.benchmarks.bench_harvest",
           "tests.benchmarks.bench_sparql", "tests.benchmarks.bench_http"]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = f" / load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} CPUs ({model}){load} · Python {platform.python_version()} · {platform.system()}"


def table(rows: list[dict]) -> str:
    head = ["bench", "case", "value", "unit", "baseline", "ratio", "note"]
    cells = []
    for r in rows:
        base = r.get("baseline")
        ratio = f"{r['value'] / base:.2f}" if base else ""
        cells.append([r["bench"], r["case"], f"{r['value']:.3g}", r.get("unit", ""),
                      f"{base:.3g}" if base else "", ratio, r.get("note", "")])
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    line = lambda c: "  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, cells)])


def main(argv: list[str]) -> int:
    if "--scale" in argv:
        i = argv.index("--scale")
        os.environ["S3FED_BENCH_SCALE"] = str(float(argv[i + 1]))
        argv = argv[:i] + argv[i + 2:]
    wanted = [m for m in MODULES if not argv or any(a in m for a in argv)]
    head = f"s3fed benchmarks on {machine()} · scale {os.environ.get('S3FED_BENCH_SCALE', '1.0')}"
    print(head + "\n", flush=True)
    rows, failed, started = [], [], time.perf_counter()
    for name in wanted:
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            rows += import_module(name).run()
        except Exception:  # one broken benchmark must not cost the others' figures
            traceback.print_exc()
            failed.append(name)
    result = table(rows) + f"\n\n{len(rows)} figures in {time.perf_counter() - started:.0f} s"
    result += "".join(f"\nFAILED: {name}" for name in failed)
    print(result)
    if not argv and not failed:  # a complete run: record it
        record(f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {head}\n\n{result}")
    return 1 if failed else 0


def record(text: str, path: Path = RESULTS) -> None:
    """Put the run's table between the markers of docs/benchmarks.md (the rest is prose)."""
    doc = path.read_text(encoding="utf-8")
    start, end = doc.index(MARK_START) + len(MARK_START), doc.index(MARK_END)
    path.write_text(doc[:start] + "\n```text\n" + text + "\n```\n" + doc[end:], encoding="utf-8")
    print(f"\nrecorded in {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
