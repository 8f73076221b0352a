"""fct_level_shifts against pandas: generated meters, some of which change level for good
(every day up or down, or the weekends only: a plant left running), scored row by row
against the same rule computed here from the file's own daily totals, every labelled
shift found in its direction and no meter without one flagged; and the same rows from
an incremental build day by day as from a full refresh."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest

from energy.warehouse import build, query
from ingest_lambda.pipeline import ingest_file
from sampledata.generator import generate_long_format

from .tables import assert_same_rows, ordered_select

DAYS = 98
SHARE = 0.2  # dbt_project.yml: level_shift_share
WEEKS = 4  # level_shift_baseline_weeks
MIN_WEEKS = 3  # level_shift_min_baseline_weeks


def expected_rows(csv_path) -> pd.DataFrame:
    """The rule, from the readings: complete days (24 hourly readings, UTC as ingested),
    each day's baseline the median of the same weekday 1..4 weeks before (at least 3
    present), the week ending on a day compared when all 7 days are present, a shift when
    it and the week 7 days earlier are both beyond SHARE in the same direction."""
    frame = pd.read_csv(csv_path)
    frame["day"] = pd.to_datetime(frame["timestamp"].str.rstrip("Z")).dt.normalize()
    daily = frame.groupby(["meter_id", "day"])["value"].agg(["sum", "count"]).reset_index()
    daily = daily[daily["count"] == 24]
    out = []
    for meter, days in daily.groupby("meter_id"):
        totals = days.set_index("day")["sum"]
        dates = pd.date_range(totals.index.min(), totals.index.max())
        series = totals.reindex(dates)
        earlier = pd.concat([series.shift(7 * week) for week in range(1, WEEKS + 1)], axis=1)
        baseline = earlier.median(axis=1, skipna=True)
        baseline_weeks = earlier.notna().sum(axis=1)
        present = series.notna() & (baseline_weeks >= MIN_WEEKS)
        week_ok = present.astype(int).rolling(7).sum() == 7
        week = series.rolling(7).sum().where(week_ok)
        base_week = baseline.rolling(7).sum().where(week_ok)
        change = (week / base_week - 1).where(base_week > 0)
        before = change.shift(7)
        high = (change > SHARE) & (before > SHARE)
        low = (change < -SHARE) & (before < -SHARE)
        for day in totals.index:
            out.append(
                {
                    "meter_id": meter,
                    "reading_date": day.date(),
                    "week_change_share": None if pd.isna(change[day]) else float(change[day]),
                    "is_level_shift": bool(high[day] or low[day]),
                    "direction": "high" if high[day] else "low" if low[day] else None,
                }
            )
    return pd.DataFrame(out)


@pytest.fixture
def shifted(workspace, lakehouse, tmp_path):
    generated = generate_long_format(
        tmp_path / "meters.csv", meters=24, days=DAYS, interval_minutes=60, seed=17, spike_share=0.01, level_shift_share=0.5
    )
    report = ingest_file(generated.data_path, "raw/meters.csv", lakehouse)
    assert report.rows_landed == generated.rows
    assert build(workspace).success
    with generated.labels_path.open() as handle:
        labels = [r for r in csv.DictReader(handle) if r["kind"].startswith("level_shift")]
    return generated, labels


def test_every_row_is_the_rule_computed_by_pandas(workspace, shifted):
    generated, labels = shifted
    got = query(workspace, "select * from fct_level_shifts where flow = 'import' order by meter_id, reading_date").to_pandas()
    want = expected_rows(generated.data_path).sort_values(["meter_id", "reading_date"]).reset_index(drop=True)
    assert len(got) == len(want)
    assert list(got["meter_id"]) == list(want["meter_id"])
    assert list(got["reading_date"]) == list(want["reading_date"])
    compared = want["week_change_share"].notna()
    assert compared.sum() > 0.5 * len(want)
    assert got["week_change_share"].notna().tolist() == compared.tolist()
    assert got.loc[compared, "week_change_share"].to_numpy() == pytest.approx(want.loc[compared, "week_change_share"].to_numpy(), rel=1e-9)
    assert got["is_level_shift"].tolist() == want["is_level_shift"].tolist()
    assert got["direction"].tolist() == want["direction"].tolist()


def test_every_labelled_shift_is_found_and_no_other(workspace, shifted):
    _, labels = shifted
    assert len(labels) >= 6
    flagged = query(
        workspace, "select meter_id, reading_date, direction, level_shift_started from fct_level_shifts where is_level_shift"
    ).to_pylist()
    by_meter = {}
    for row in flagged:
        by_meter.setdefault(row["meter_id"], []).append(row)
    labelled = {r["meter_id"]: r for r in labels}
    assert set(by_meter) == set(labelled)  # every shift found, no meter without one flagged
    for meter, label in labelled.items():
        start = dt.date.fromisoformat(label["timestamp"][:10])
        direction = label["kind"].removeprefix("level_shift_")
        rows = by_meter[meter]
        assert {r["direction"] for r in rows} == {direction}, meter
        # flagged from two weeks into the shift, within the three weeks that follow it
        assert all(start + dt.timedelta(days=6) <= r["reading_date"] <= start + dt.timedelta(days=34) for r in rows), meter
        assert min(abs((r["level_shift_started"] - start).days) for r in rows) <= 6, meter
    # fct_meter_health carries each meter's last compared day
    health = {
        r["meter_id"]: r["is_level_shift"] for r in query(workspace, "select * from fct_meter_health where flow = 'import'").to_pylist()
    }
    last = query(
        workspace,
        "select meter_id, arg_max(is_level_shift, reading_date) as is_level_shift from fct_level_shifts where flow = 'import' group by meter_id",
    ).to_pylist()
    assert health == {r["meter_id"]: r["is_level_shift"] for r in last}
    assert len(health) == 24


def test_incremental_day_by_day_equals_full_refresh(workspace, lakehouse, tmp_path):
    """Ten days uploaded one at a time after the first 60, each followed by an
    incremental build: the same rows as one full refresh of it all."""
    generated = generate_long_format(
        tmp_path / "all.csv", meters=6, days=84, interval_minutes=60, seed=23, spike_share=0.0, level_shift_share=0.8
    )
    frame = pd.read_csv(generated.data_path)
    day = pd.to_datetime(frame["timestamp"].str.rstrip("Z")).dt.normalize()
    first = day.min()
    cut = first + pd.Timedelta(days=70)
    frame[day < cut].to_csv(tmp_path / "start.csv", index=False)
    ingest_file(tmp_path / "start.csv", "raw/start.csv", lakehouse)
    assert build(workspace).success
    for offset in range(70, 84, 2):
        part = frame[(day >= first + pd.Timedelta(days=offset)) & (day < first + pd.Timedelta(days=offset + 2))]
        path = tmp_path / f"day-{offset}.csv"
        part.to_csv(path, index=False)
        ingest_file(path, f"raw/day-{offset}.csv", lakehouse)
        assert build(workspace).success
    select = ordered_select("fct_level_shifts")
    incremental = query(workspace, select).to_pylist()
    assert any(r["is_level_shift"] for r in incremental)
    assert build(workspace, full_refresh=True).success
    assert_same_rows("fct_level_shifts", query(workspace, select).to_pylist(), incremental, rel_tol=1e-9)
