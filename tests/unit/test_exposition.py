"""The multiprocess scrape (workers/metrics/exposition.py) over prometheus_client's own
value files: one that another process is creating does not fail the scrape."""

from __future__ import annotations

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from workers.metrics.exposition import exposition, process_registry
from workers.metrics.multiprocess import MULTIPROC_ENV


def test_a_value_file_being_created_is_left_out_and_the_rest_is_served(tmp_path, monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    written = MmapedDict(str(tmp_path / "counter_101.db"))
    key = mmap_key("hookrelay_demo", "hookrelay_demo_total", ["platform"], ["crm"], "Demo.")
    written.write_value(key, 3.0, 0.0)
    written.close()
    (tmp_path / "counter_102.db").touch()  # opened by its process, not yet sized

    text = exposition(process_registry()).decode()

    samples = [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
    assert ("hookrelay_demo_total", {"platform": "crm"}, 3.0) in samples
