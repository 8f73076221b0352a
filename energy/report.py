"""`energy report`: one self-contained HTML file for the people who read pictures first.

Everything comes from the warehouse tables analysts query (and the ingest run records
for the uploads table); plotly draws the charts and its JavaScript is inlined once, so
the file opens offline and sends no request anywhere.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader
from plotly.offline import get_plotlyjs

from .status import run_records, upload_totals
from .warehouse import query
from .workspace import Workspace

COLOURS = {
    "actual": "#1f4e79",
    "anomaly": "#c0392b",
    "forecast": "#e67e22",
    "band": "rgba(230,126,34,0.18)",
    "export": "#2e8b57",
    "net": "#6c3483",
    "estimated": "#7f8c8d",
}


@dataclass
class ReportOptions:
    max_meters: int = 12  # charts for the largest meters; the tables cover them all
    largest_anomalies: int = 15


def _rows(workspace: Workspace, sql: str) -> list[dict]:
    return query(workspace, sql).to_pylist()


def _chart(days: list[dict], forecast: list[dict], title: str) -> str:
    """Daily consumption (import) with anomalies marked, export below the axis and the
    net line when the meters feed in, days with estimated reads marked, then the
    forecast and its band."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[d["reading_date"] for d in days],
            y=[d["total_kwh"] for d in days],
            mode="lines",
            name="daily kWh (import)",
            line={"color": COLOURS["actual"], "width": 2},
            hovertemplate="%{x|%a %d %b %Y}<br>%{y:,.1f} kWh<extra></extra>",
        )
    )
    if any(d.get("export_kwh") for d in days):
        figure.add_trace(
            go.Bar(
                x=[d["reading_date"] for d in days],
                y=[-(d.get("export_kwh") or 0.0) for d in days],
                name="export (fed in)",
                marker={"color": COLOURS["export"]},
                opacity=0.6,
                customdata=[d.get("export_kwh") or 0.0 for d in days],
                hovertemplate="%{x|%a %d %b %Y}<br>%{customdata:,.1f} kWh fed in<extra>export</extra>",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=[d["reading_date"] for d in days],
                y=[d.get("net_kwh") for d in days],
                mode="lines",
                name="net (import − export)",
                line={"color": COLOURS["net"], "width": 1.5, "dash": "dot"},
                hovertemplate="%{x|%a %d %b %Y}<br>net %{y:,.1f} kWh<extra></extra>",
            )
        )
    estimated = [d for d in days if d.get("estimated_reading_count")]
    if estimated:
        figure.add_trace(
            go.Scatter(
                x=[d["reading_date"] for d in estimated],
                y=[d["total_kwh"] for d in estimated],
                mode="markers",
                name="estimated reads",
                marker={"color": COLOURS["estimated"], "size": 8, "symbol": "x"},
                customdata=[d["estimated_reading_count"] for d in estimated],
                hovertemplate="%{x|%a %d %b %Y}<br>%{customdata} estimated reading(s)<extra>estimated</extra>",
            )
        )
    flagged = [d for d in days if d["is_anomaly"]]
    if flagged:
        figure.add_trace(
            go.Scatter(
                x=[d["reading_date"] for d in flagged],
                y=[d["total_kwh"] for d in flagged],
                mode="markers",
                name="anomaly",
                marker={"color": COLOURS["anomaly"], "size": 10, "symbol": "circle-open", "line": {"width": 2.5}},
                text=[d["note"] for d in flagged],
                hovertemplate="%{x|%a %d %b %Y}<br>%{text}<extra>anomaly</extra>",
            )
        )
    if forecast:
        dates = [f["forecast_date"] for f in forecast]
        figure.add_trace(
            go.Scatter(
                x=dates + dates[::-1],
                y=[f["upper_kwh"] for f in forecast] + [f["lower_kwh"] for f in forecast][::-1],
                fill="toself",
                fillcolor=COLOURS["band"],
                line={"width": 0},
                mode="lines",
                name="95% band",
                hoverinfo="skip",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=[f["forecast_kwh"] for f in forecast],
                mode="lines+markers",
                name="forecast",
                line={"color": COLOURS["forecast"], "dash": "dash", "width": 2},
                customdata=[[f["lower_kwh"], f["upper_kwh"]] for f in forecast],
                hovertemplate="%{x|%a %d %b}<br>%{y:,.1f} kWh (%{customdata[0]:,.1f} – %{customdata[1]:,.1f})<extra>forecast</extra>",
            )
        )
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
        hovermode="closest",
        legend={"orientation": "h", "y": -0.18},
        yaxis={"title": "kWh per day", "rangemode": "tozero", "zeroline": True},
        barmode="relative",
    )
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _plotly_text(text: str) -> str:
    """Text from the data as plotly.js shows it literally: it reads titles and hover
    text as HTML-like markup (tags, links) and decodes numeric entities and a few named
    ones (not &quot;)."""
    return html.escape(text, quote=False).replace('"', "&#34;").replace("'", "&#39;")


def _href(path: str) -> str:
    """A relative link made from a file path: percent-encoded, so that no part of it
    (a ':' of a scheme, a '?', a '#') is read as anything but the path."""
    return urllib.parse.quote(path.replace(os.sep, "/"))


def _with_links(records: list[dict], workspace: Workspace, report_dir: Path) -> list[dict]:
    """Each run record with relative links to itself and to a rejected file's reason."""
    for record in records:
        record["record_link"] = os.path.relpath(workspace.dq / "ingests" / f"{record['ingest_id']}.json", report_dir)
        reason = workspace.quarantine / "files" / record["ingest_id"] / "reason.json"
        record["reason_link"] = os.path.relpath(reason, report_dir) if reason.exists() else None
    return records


def _with_notes(days: list[dict]) -> list[dict]:
    for day in days:
        if day["is_anomaly"]:
            day["note"] = f"{day['total_kwh']:,.1f} kWh, z = {day['z_score']:+.1f} (usual {day['baseline_center']:,.1f} kWh)"
    return days


def gather(workspace: Workspace, options: ReportOptions, report_dir: Path) -> dict:
    """Every number the report shows, straight from the warehouse."""
    summary = _rows(workspace, "select * from rpt_summary order by scope, total_kwh desc")
    overall = next((row for row in summary if row["scope"] == "all"), None)
    meters = [row for row in summary if row["scope"] == "meter"]
    charted = [row["meter_id"] for row in meters[: options.max_meters]]
    reasons = {row["meter_id"]: row.get("no_forecast_reason") for row in meters}

    daily = _rows(
        workspace,
        """
        select c.meter_id, c.reading_date, c.total_kwh, c.export_kwh, c.net_kwh, c.estimated_reading_count,
               c.is_complete, coalesce(a.is_anomaly, false) as is_anomaly, a.z_score, a.baseline_center, a.direction
        from fct_daily_consumption c
        left join fct_daily_anomalies a
            on a.meter_id = c.meter_id and a.reading_date = c.reading_date and a.flow = 'import'
        order by c.meter_id, c.reading_date""",
    )
    forecast = _rows(
        workspace,
        """
        select meter_id, method, forecast_date, horizon_days, forecast_kwh, lower_kwh, upper_kwh
        from fct_forecast where is_selected and flow = 'import' order by meter_id, forecast_date""",
    )

    charts = []
    by_day: dict = {}
    for day in daily:
        total = by_day.setdefault(
            day["reading_date"],
            {
                "reading_date": day["reading_date"],
                "total_kwh": 0.0,
                "export_kwh": 0.0,
                "net_kwh": 0.0,
                "estimated_reading_count": 0,
                "is_anomaly": False,
                "flagged": [],
            },
        )
        for key in ("total_kwh", "export_kwh", "net_kwh", "estimated_reading_count"):
            total[key] += day[key]
        if day["is_anomaly"]:
            total["is_anomaly"] = True
            total["flagged"].append(day["meter_id"])
    all_days = sorted(by_day.values(), key=lambda d: d["reading_date"])
    for day in all_days:
        day["note"] = "unusual day for " + ", ".join(map(_plotly_text, day["flagged"])) if day["flagged"] else ""
    all_forecast: dict = {}
    for point in forecast:
        total = all_forecast.setdefault(
            point["forecast_date"], {"forecast_date": point["forecast_date"], "forecast_kwh": 0.0, "lower_kwh": 0.0, "upper_kwh": 0.0}
        )
        for key in ("forecast_kwh", "lower_kwh", "upper_kwh"):
            total[key] += point[key] or 0.0
    charts.append(
        {
            "meter_id": None,
            "html": _chart(
                all_days,
                sorted(all_forecast.values(), key=lambda f: f["forecast_date"]),
                "All meters: daily consumption and the next 7 days",
            ),
        }
    )
    days_by_meter, points_by_meter = defaultdict(list), defaultdict(list)
    for day in daily:
        days_by_meter[day["meter_id"]].append(day)
    for point in forecast:
        points_by_meter[point["meter_id"]].append(point)
    for meter_id in charted:
        days = _with_notes(days_by_meter[meter_id])
        points = points_by_meter[meter_id]
        method = points[0]["method"].replace("_", " ") if points else "no forecast yet"
        title = (
            f"{_plotly_text(meter_id)}: daily consumption, forecast by {method}"
            if points
            else f"{_plotly_text(meter_id)}: daily consumption, no forecast ({_plotly_text(reasons.get(meter_id) or 'none yet')})"
        )
        charts.append({"meter_id": meter_id, "method": method, "html": _chart(days, points, title)})

    anomalies = _rows(
        workspace,
        f"""
        select meter_id, reading_start, kwh, baseline_center, z_score, direction
        from fct_reading_anomalies where is_anomaly
        order by abs(z_score) desc, meter_id, reading_start limit {int(options.largest_anomalies)}""",
    )
    daily_anomalies = _rows(
        workspace,
        f"""
        select meter_id, reading_date, total_kwh, baseline_center, z_score, direction
        from fct_daily_anomalies where is_anomaly
        order by abs(z_score) desc, meter_id, reading_date limit {int(options.largest_anomalies)}""",
    )
    # meters that need a visit: silent, stuck or at zero (fct_meter_health)
    meter_health = _rows(
        workspace,
        """
        select meter_id, flow, is_silent, is_stuck, is_sustained_zero, hours_behind_lake, days_behind_lake, last_reading_date,
               last_kwh, unchanged_hours
        from fct_meter_health where is_silent or is_stuck or is_sustained_zero
        order by meter_id, flow limit 100""",
    )
    # sustained changes of level, each meter and flow's latest (fct_level_shifts)
    level_shifts = _rows(
        workspace,
        """
        with flagged as (
            select *, row_number() over (partition by meter_id, flow order by reading_date desc) as rank_from_last
            from fct_level_shifts where is_level_shift
        )
        select meter_id, flow, level_shift_started, reading_date as last_flagged, direction,
               week_change_share, week_kwh, baseline_week_kwh
        from flagged where rank_from_last = 1
        order by last_flagged desc, meter_id, flow limit 50""",
    )
    # the threshold the build ran with (build_settings records it)
    recorded_share = _rows(workspace, "select setting_value from build_settings where setting = 'level_shift_share'")
    level_shift_share = float(recorded_share[0]["setting_value"]) if recorded_share else None
    accuracy = _rows(
        workspace,
        """
        with per_method as (
            select method, avg(mae) as mae, avg(mape) as mape, avg(mase) as mase,
                   sum(band_coverage * band_coverage_count) / nullif(sum(band_coverage_count), 0) as coverage,
                   sum(n) as forecasts, count(distinct meter_id) as meters,
                   min(calibrated_before) as calibrated_from, max(calibrated_before) as calibrated_before
            from fct_forecast_accuracy group by method
        ),
        selected as (
            select method, count(distinct meter_id) as selected_for
            from fct_forecast where is_selected group by method
        )
        select per_method.*, coalesce(selected.selected_for, 0) as selected_for
        from per_method left join selected using (method)
        order by mae""",
    )
    failed_checks = _rows(
        workspace,
        """
        select source_key, expectation, unexpected_count, unexpected_share, reason, evaluated_at
        from fct_data_quality where not success order by evaluated_at desc, source_key, expectation limit 30""",
    )
    uploads = run_records(workspace)
    return {
        "overall": overall,
        "meters": meters,
        "charts": charts,
        "anomalies": anomalies,
        "daily_anomalies": daily_anomalies,
        "meter_health": meter_health,
        "level_shifts": level_shifts,
        "level_shift_share": level_shift_share,
        "accuracy": accuracy,
        "failed_checks": failed_checks,
        "uploads": _with_links(uploads[:50], workspace, report_dir),
        "upload_totals": upload_totals(uploads),
        "charted_meters": len(charted),
    }


def write_report(workspace: Workspace, output: Path | None = None, options: ReportOptions | None = None) -> Path:
    options = options or ReportOptions()
    output = output or workspace.reports / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    data = gather(workspace, options, output.parent)
    # Every value is escaped. (select_autoescape(["html"]) did not match the template's
    # ".html.j2" name, so autoescape was off and a meter id or file name became markup.)
    environment = Environment(loader=PackageLoader("energy", "templates"), autoescape=True)
    environment.filters["href"] = _href
    environment.filters["kwh"] = lambda v: "–" if v is None else f"{v:,.1f}"
    environment.filters["number"] = lambda v, digits=2: "–" if v is None else f"{v:,.{digits}f}"
    environment.filters["percent"] = lambda v: "–" if v is None else f"{v:.0%}"
    html = environment.get_template("report.html.j2").render(
        **data,
        plotly_js=get_plotlyjs(),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        lineage_link=os.path.relpath(workspace.reports / "docs" / "lineage.html", output.parent),
        data_docs_link=os.path.relpath(workspace.dq / "data_docs" / "index.html", output.parent),
        options=options,
    )
    output.write_text(html, encoding="utf-8")
    return output
