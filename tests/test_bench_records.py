"""bench/job_records.py: the benchmarks' reader of a finished run's job logs and benchmark files."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from job_records import benchmark_seconds, job_logs, startup_seconds  # noqa: E402


def _bench(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t1\n")


def test_every_job_log_finds_its_benchmark_whatever_its_name(tmp_path):
    # The three layouts of a stage's benchmarks, and an evaluation batch whose name carries a digest
    # after a dot (cutting the name at that dot once lost those jobs from the roofline's sums).
    logs, store = tmp_path / "logs", tmp_path / "store"
    cases = {
        ("train_base", "a1b2"): (store / "train_base/a1b2/benchmark.tsv", 73.1),
        ("retrain", "c3d4/test-0001"): (store / "retrain/c3d4/test-0001/benchmark.tsv", 64.5),
        ("behaviour", "e5f6/test-0000-0009.a06d2d33"): (
            store / "behaviour/e5f6/benchmarks/test-0000-0009.a06d2d33.tsv",
            33.9,
        ),
    }
    for (stage, rel), (bench, seconds) in cases.items():
        log = logs / stage / f"{rel}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("12:00:00 start-up (interpreter + imports): 4.80s\n12:00:00 compute: device cpu\n")
        _bench(bench, seconds)
    # a decoy: the name cut at its dot must not be what is read
    _bench(store / "behaviour/e5f6/benchmarks/test-0000-0009.tsv", 999.0)
    found = {(stage, str(rel)): benchmark_seconds(store, stage, rel) for stage, rel, _ in job_logs(tmp_path)}
    assert found == {key: seconds for key, (_, seconds) in cases.items()}
    assert startup_seconds("x start-up (interpreter + imports): 4.80s") == 4.8
    assert startup_seconds("no such line") is None
