"""Uploads whose meter id, cell values and file name are markup: ingested from the corpus,
built, and rendered into the report and the Data Docs, which headless Chromium opens.
Nothing of it may run, and all of it must show as the text it is."""

from __future__ import annotations

import json

import pytest

from ingest_lambda.pipeline import ingest_bytes
from sampledata.generator import generate_seed_format

from .conftest import CORPUS, energy_home, run_cli

EXPECTED = json.loads((CORPUS / "expected.json").read_text())
HOSTILE_METER = "m\"'><img src=x onerror=alert('meter')></script><script>alert('script')</script>"
HOSTILE_FILE = "\"><img src=x onerror=alert('file')>.csv"
HOSTILE_VALUE = "<img src=x onerror=alert('value')>"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A workspace holding the sample and both hostile uploads, built, with its report
    (every meter charted) and both doc sites."""
    from energy.workspace import Workspace
    from ingest_lambda.storage import Lakehouse

    home = tmp_path_factory.mktemp("hostile") / "home"
    workspace = Workspace(home).ensure()
    lakehouse = Lakehouse.local(str(home))
    sample = generate_seed_format(workspace.raw / "sample.csv", days=10)
    assert ingest_bytes(sample.data_path.read_bytes(), "raw/sample.csv", lakehouse).accepted
    for name in ("hostile_meter_id.csv", HOSTILE_FILE):
        assert name in EXPECTED  # the corpus test checks the ingest outcome of both
        report = ingest_bytes((CORPUS / name).read_bytes(), f"raw/{name}", lakehouse)
        assert report.accepted and report.rows_quarantined == 1, report.message
    with energy_home(home):
        for command in (["build"], ["report", "--max-meters", "10"], ["docs"]):
            result = run_cli(*command)
            assert result.exit_code == 0, result.output
    return workspace


def open_page(browser, path):
    """The page, with every dialog (what alert() opens) recorded and dismissed, and the
    failed image loads an injected <img src=x> would cause."""
    page = browser.new_page()
    dialogs: list[str] = []
    images: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("requestfailed", lambda request: images.append(request.url) if request.url.endswith("/x") else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(700)
    return page, dialogs, images


def test_the_report_shows_hostile_text_as_text(rendered, browser):
    page, dialogs, images = open_page(browser, rendered.reports / "report.html")
    assert dialogs == [] and images == []
    assert page.locator("img").count() == 0
    text = page.inner_text("body")
    assert HOSTILE_METER in text  # the meters table, as written in the file
    assert f"raw/{HOSTILE_FILE}" in text  # the uploads table and the failed checks
    # The meter's chart: its id attribute holds the id, and plotly's title shows it as text.
    assert page.evaluate("id => document.getElementById('meter-' + id) !== null", HOSTILE_METER)
    titles = page.locator(".gtitle").all_text_contents()
    assert any(title.startswith(HOSTILE_METER + ":") for title in titles), titles
    page.close()


def test_the_report_links_are_relative_paths(rendered):
    html = (rendered.reports / "report.html").read_text()
    assert "<img src=x" not in html and "<script>alert(" not in html
    assert 'href="../dq/data_docs/index.html"' in html and 'href="docs/lineage.html"' in html


def test_the_data_docs_show_hostile_text_as_text(rendered, browser):
    site = rendered.dq / "data_docs"
    pages = [site / "index.html", *sorted((site / "validations").rglob("*.html"))]
    assert len(pages) == 4  # the index and one page per upload
    shown = ""
    for path in pages:
        page, dialogs, images = open_page(browser, path)
        assert dialogs == [] and images == [], (path.name, dialogs, images)
        assert page.locator("img[src='x']").count() == 0
        shown += page.inner_text("body")
        page.close()
    assert f"value '{HOSTILE_VALUE}' is not a number" in shown
    for path in pages:
        assert "<img src=x" not in path.read_text(encoding="utf-8")
