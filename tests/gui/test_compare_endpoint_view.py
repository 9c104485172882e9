"""Compare view: a loaded model against a saved endpoint (the Endpoints list) on the model's rows, through
core.compare.compare_model_with_endpoint (the flow of `workbench compare MODEL URL`), against the
TF-Serving-compatible test server on 127.0.0.1 serving the model's own SavedModel export."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLES_DIR

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    from workbench.testing.tfserving_server import TFServingTestServer

    base = tmp_path_factory.mktemp("served") / "iris"
    shutil.copytree(SAMPLES_DIR / "keras_mlp_savedmodel", base / "1")
    # the server wants the saved endpoint's header: the comparison passes only when the view sends it
    with TFServingTestServer({"iris": base}, require_headers={"X-Team": "ml"}) as server:
        yield server


def test_loaded_model_against_a_saved_endpoint_passes(qtbot, window, samples, wait_loaded, served) -> None:
    from workbench.core.compare import compare_model_with_endpoint
    from workbench.gui.settings import Endpoint

    window.settings.save_endpoint(Endpoint(name="served iris", url=served.rest_url, model="iris",
                                           headers={"X-Team": "ml"}, timeout_s=30.0))
    window.open_paths([str(samples / "keras_mlp.keras")])
    wait_loaded(window, 1)
    view = window.show_page("compare")
    doc = window.documents()[0]
    labels = [view.model_b.itemText(i) for i in range(view.model_b.count())]
    assert labels == ["keras_mlp.keras  (keras)", f"endpoint: served iris  ({served.rest_url}, model iris)"]
    assert view.model_a.count() == 1                       # an endpoint is never the reference
    view.set_pair(doc, "served iris")
    assert not view.runtime_b.isEnabled() and view.runtime_a.currentData() == "native"
    with qtbot.waitSignal(view.sig_compared, timeout=120_000) as blocker:
        worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done, timeout=30_000)
    got = blocker.args[0]
    expected = compare_model_with_endpoint(doc.path, served.rest_url, doc.rows, model_name="iris",
                                           headers={"X-Team": "ml"}, worst=10).report
    assert got.report.passed and got.report.rows == expected.rows == len(doc.rows) == 30
    assert got.report.max_abs_diff == pytest.approx(expected.max_abs_diff) and got.report.max_abs_diff < 1e-6
    assert got.sides["b"]["endpoint"] == served.rest_url and got.sides["b"]["served_model"] == "iris"
    assert view.verdict.text().startswith("✓ PASS: 30 rows, labels agree on 100%")
    assert f"B endpoint {served.rest_url} (model iris, tfserving over rest)" in view.verdict.text()
    assert [view.roles.item(r, 0).text() for r in range(view.roles.rowCount())] == ["label", "probabilities"]
    assert all(view.roles.item(r, 5).text() == "ok" for r in range(view.roles.rowCount()))
    assert view.worst.rowCount() == len(got.report.worst_rows) > 0
    assert "sepal_length=" in view.worst.item(0, 5).text()
    assert "'output_0' read as probabilities" in view.notes.text()


def test_an_unreachable_endpoint_says_so_in_the_verdict(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui.settings import Endpoint
    from workbench.testing.endpoints import refused_port

    url = f"http://127.0.0.1:{refused_port()}"
    window.settings.save_endpoint(Endpoint(name="down", url=url, model="iris", timeout_s=5.0))
    window.open_paths([str(samples / "keras_mlp.keras")])
    wait_loaded(window, 1)
    view = window.show_page("compare")
    view.set_pair(window.documents()[0], "down")
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done, timeout=60_000)
    assert view.verdict.text().startswith(f"✗ endpoint {url}: ")
    assert view.run_button.isEnabled()
