"""The producer's model table in docs/models.md (and its Portuguese summary in docs/costs.md)
is what scripts/models_table.py makes from the registry and the quote: it cannot drift."""

from __future__ import annotations

import importlib.util

from conftest import REPO


def _script():
    spec = importlib.util.spec_from_file_location("models_table", REPO / "scripts/models_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_tables_are_the_scripts_output_from_the_quote():
    script = _script()
    costs = script.minute_costs()
    english = script.table_in_doc(script.DOC.read_text(encoding="utf-8"))
    portuguese = script.table_in_doc(script.DOC_PT.read_text(encoding="utf-8"))
    assert (english, portuguese) == script.tables(costs)
    # Every registry model has a row with both tiers quoted (or the scene model's limit).
    ltx2 = next(row for row in english.splitlines() if row.startswith("| `ltx_2` |"))
    assert "LTX-2 Community License: paid licence above US$10M annual revenue" in ltx2
    hunyuan = next(row for row in english.splitlines() if row.startswith("| `hunyuan_video` |"))
    assert "not in the EU, GB, KR" in hunyuan
