"""The benchmark runs on a tiny generated county and prints every line of its table."""

import json
from datetime import date

from scale import bench, databases
from scale.generate import generate

TODAY = date(2026, 12, 1)


def test_every_line_is_printed(db, tmp_path):
    generate(scale="T", seed=5, today=TODAY)
    ctx = bench.Context(
        scale="T",
        today=TODAY,
        requests=2,
        import_rows=30,
        load=False,
        ledger_rows=300,
        ledger_memory_rows=500,
    )
    lines = bench.run(ctx)
    printed = bench.table(lines)
    for figure in (
        "合规：下限",
        "合规：全量重建",
        "合规：夜间刷新",
        "合规：重跑写入行数",
        "合规：写入后单支部刷新 查询数",
        "乡镇看板",
        "支部首页",
        "会议列表",
        "党员列表",
        "空页面",
        "台账导出",
        "名册导入 30 行",
        "并发录入",
    ):
        assert figure in printed, figure
    # Nothing invented for what does not exist yet.
    assert "未实现" not in printed
    rerun = next(line for line in lines if line.figure.startswith("合规：重跑"))
    assert rerun.ok, rerun
    pages = [line for line in lines if "查询数 / p50" in line.figure]
    assert len(pages) == 4 and all(not line.value.startswith("0 /") for line in pages)
    results = tmp_path / "results.json"
    bench.write_results(results, scale="T", seed=5, lines=lines, generation={"seconds": 1})
    saved = json.loads(results.read_text(encoding="utf-8"))["T"]
    assert saved["machine"]["cores"] and len(saved["lines"]) == len(lines)


def test_benchmark_database_is_never_the_product_database(settings):
    assert databases.bench_url("M", "postgres://u:p@db:5432/zhibu") == "postgres://u:p@db:5432/zhibu_bench_m"
    assert databases.bench_url("S", "").endswith("var/bench-S.sqlite3")
