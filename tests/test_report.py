"""`energy report`, `energy docs` and `energy status` on the demo data: the numbers the
report shows are checked against the sample file itself, and the report and both doc
sites are opened in headless Chromium."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

from .conftest import energy_home, run_cli


@pytest.fixture(scope="module")
def published(demo_workspace):
    """The demo workspace with its report and both doc sites built by the CLI."""
    with energy_home(demo_workspace.home):
        for command in (["report"], ["docs"]):
            result = run_cli(*command)
            assert result.exit_code == 0, result.output
    return demo_workspace


def sample_daily_totals(path: Path) -> dict[str, float]:
    """Daily totals of all appliances, straight from the CSV (the sample is UTC)."""
    totals: dict[str, float] = defaultdict(float)
    with path.open() as handle:
        for row in csv.DictReader(handle):
            totals[row["timestamp"][:10]] += float(row["kwh"])
    return totals


def test_the_report_shows_the_sample_totals(published):
    html = (published.reports / "report.html").read_text()
    totals = sample_daily_totals(published.raw / "sample.csv")
    energy_used = re.search(r'Energy used</div><div class="value">([\d,.]+) kWh', html).group(1)
    assert float(energy_used.replace(",", "")) == pytest.approx(sum(totals.values()), abs=0.05)
    per_day = re.search(r'Average per day</div><div class="value">([\d,.]+) kWh', html).group(1)
    assert float(per_day.replace(",", "")) == pytest.approx(sum(totals.values()) / len(totals), abs=0.05)
    for meter in ("hvac", "lighting", "refrigerator", "water_heater"):
        assert f'id="meter-{meter}"' in html
    # The sample's last complete day is Tuesday 30 January. Each meter's week starts on its
    # calibration phase's weekday (hvac Thursday, lighting Friday, the others Tuesday), so
    # the calibration days run from Thursday the 25th to Tuesday the 30th.
    assert ("Scored, and the bands calibrated, on the days before each meter's calibration day, 2024-01-25 to 2024-01-30") in html
    # Self-contained: plotly inlined, no address the browser would fetch.
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)
    assert "../dq/data_docs/index.html" in html and "docs/lineage.html" in html


def open_offline(browser, path: Path, tmp_path: Path):
    """Open a file in a fresh page; return the page, its console errors, every request
    that left the machine, and the size of a full-page screenshot."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    remote: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def refuse_remote(route):
        remote.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(?!file:|data:|blob:|about:).*"), refuse_remote)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    shot = tmp_path / f"{path.stem}.png"
    page.screenshot(path=str(shot), full_page=True)
    return page, errors, remote, shot.stat().st_size


def test_the_report_renders_its_charts_offline(published, browser, tmp_path):
    page, errors, remote, screenshot = open_offline(browser, published.reports / "report.html", tmp_path)
    assert errors == [] and remote == []
    assert screenshot > 50_000
    # One chart for all meters and one per meter, each drawn (plotly's SVG present).
    assert page.locator(".js-plotly-plot").count() == 5
    assert page.locator(".js-plotly-plot .main-svg").count() >= 5
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() >= 5 * 3
    assert page.locator("#anomalies table tr").count() > 1
    page.close()


def test_the_lineage_site_renders_offline(published, browser, tmp_path):
    page, errors, remote, screenshot = open_offline(browser, published.reports / "docs" / "lineage.html", tmp_path)
    assert errors == [] and remote == []
    assert screenshot > 20_000
    assert page.get_by_text("Energy analytics lakehouse").count() >= 1
    # The lineage graph draws the models.
    page.goto(page.url.split("#")[0] + "#!/model/model.energy.fct_daily_consumption?g_v=1")
    page.wait_for_timeout(1500)
    assert page.locator("canvas").count() >= 1
    assert errors == [] and remote == []
    page.close()


def test_the_validation_reports_render_offline(published, browser, tmp_path):
    site = published.dq / "data_docs"
    pages = [site / "index.html", site / "expectations" / "readings.html", *sorted((site / "validations").rglob("*.html"))]
    assert len(pages) >= 3
    for path in pages:
        page, errors, remote, screenshot = open_offline(browser, path, tmp_path)
        assert errors == [] and remote == [], (path, errors, remote)
        assert screenshot > 20_000
        assert page.locator("table").count() >= 1
        # Bootstrap's styles came from the vendored copy: the navbar is laid out.
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""
        page.close()


def test_status_reports_the_lake_and_the_uploads(published, monkeypatch):
    monkeypatch.setenv("ENERGY_HOME", str(published.home))
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli("status")
    assert result.exit_code == 0, result.output
    assert "2,880 readings from 4 meters in 1 objects" in result.output
    assert "1 (1 accepted, 0 rejected)" in result.output
    assert "raw/sample.csv" in result.output and "no data-quality failures" in result.output
