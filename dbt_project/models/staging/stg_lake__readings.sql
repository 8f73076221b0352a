{{
    config(
        materialized='incremental',
        unique_key=['meter_id', 'flow', 'reading_start'],
        on_schema_change='fail',
        partitioned_by=energy.monthly_partitions('reading_start'),
        properties=energy.monthly_partition_properties('reading_start'),
    )
}}
{#- One row per meter, flow and interval: when several uploads carry the same meter,
    flow and interval, the latest upload wins (a corrected re-upload supersedes).

    flow is import (from the grid: what kwh has always meant) or export (fed in);
    quality is measured, estimated or missing. Lake files written before those columns
    existed read them as null here: they mean import and measured.

    A missing reading (quality missing, kwh null) is kept, with its null kwh: it is the
    latest word on its interval, so a later upload that reports a gap supersedes an
    earlier value as any correction does (and an incremental build replaces the row as
    a full refresh would). The models downstream leave it out of every sum, count and
    baseline: it is a gap, not a reading.

    Incremental: a run reads only the rows of uploads this table has not seen (by
    ingest id, so an upload that started early and landed late is not missed), and
    replaces a row only when the newcomer is later than what the table holds.
    dbt_loaded_at marks the rows each run wrote, for the models downstream.

    The lake is partitioned by the day an ingest started, so a run reads only the
    partitions from two days before the newest ingest it has seen: a literal date the
    engines prune partitions (files, S3 listings, Athena's bytes) with. Only an ingest
    that ran for more than two days could be missed; a Lambda ingest stops at 15 minutes.
    Each of the run's lookups reads little: the newest ingest from the table's metadata
    (energy.column_max), the ingests seen since the cutoff from the files Iceberg's
    column bounds leave (the ones the last days' runs wrote), and the time span the
    newcomers cover from the lake's newest partitions. That span, written as literals,
    is all of this table the run reads (monthly partitions on Trino and Athena): a daily
    build reads in proportion to its uploads, not to the history. -#}
{%- set cutoff = none -%}
{%- set span = none -%}
{%- if is_incremental() and execute -%}
    {%- set newest = energy.column_max(this, 'ingested_at') -%}
    {%- if newest is not none -%}
        {%- set newest_day = modules.datetime.date.fromisoformat((newest | string)[:10]) -%}
        {%- set cutoff = (newest_day - modules.datetime.timedelta(days=2)).isoformat() -%}
    {%- endif -%}
    {%- set span_query -%}
        select cast(min(reading_start) as varchar), cast(max(reading_start) as varchar)
        from {{ source('lake', 'readings') }}
        where {{ energy.unseen_ingests(cutoff) }}
    {%- endset -%}
    {%- set span = run_query(span_query).rows[0] -%}
{%- endif %}
with lake_readings as {{ energy.inline_cte() }} (

    select * from {{ source('lake', 'readings') }}
    {% if is_incremental() -%}
    where {{ energy.unseen_ingests(cutoff) }}
    {%- endif %}

),

-- An ingest quarantines repeated keys within an upload, so a meter, flow and interval
-- can repeat only across uploads, and only where two uploads of the meter overlap in time.
-- Only those rows are ranked: a window over every reading took a third of this model's
-- time. (Should a file break that rule, the uniqueness test on this table fails.)
upload_spans as (

    select ingest_id, meter_id, min(reading_start) as first_start, max(reading_start) as last_start
    from lake_readings
    group by ingest_id, meter_id

),

overlapping_uploads as (

    select distinct this_upload.ingest_id, this_upload.meter_id
    from upload_spans as this_upload
    inner join upload_spans as other_upload
        on other_upload.meter_id = this_upload.meter_id
        and other_upload.ingest_id <> this_upload.ingest_id
        and other_upload.first_start <= this_upload.last_start
        and this_upload.first_start <= other_upload.last_start

),

flagged as (

    select
        lake_readings.meter_id,
        coalesce(lake_readings.flow, 'import') as flow,
        lake_readings.reading_start,
        lake_readings.interval_minutes,
        lake_readings.kwh,
        lake_readings.timezone,
        coalesce(lake_readings.quality, 'measured') as quality,
        lake_readings.quality_code,
        lake_readings.source_key,
        lake_readings.ingest_id,
        lake_readings.ingested_at,
        overlapping_uploads.ingest_id is not null as may_repeat
    from lake_readings
    left join overlapping_uploads
        on overlapping_uploads.ingest_id = lake_readings.ingest_id
        and overlapping_uploads.meter_id = lake_readings.meter_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by meter_id, flow, reading_start
            order by ingested_at desc, ingest_id desc
        ) as version_rank
    from flagged
    where may_repeat

),

{%- set columns = 'meter_id, flow, reading_start, interval_minutes, kwh, timezone, quality, quality_code, source_key, ingest_id, ingested_at' %}

latest_versions as (

    select {{ columns }}
    from flagged
    where not may_repeat
    union all
    select {{ columns }}
    from ranked
    where version_rank = 1

),

latest as (

    select
        meter_id,
        cast(flow as {{ energy.flow_type() }}) as flow,
        cast(reading_start as {{ energy.stored_timestamp() }}) as reading_start,
        cast(interval_minutes as integer) as interval_minutes,
        cast(kwh as double) as kwh,
        timezone,
        cast(quality as {{ energy.quality_type() }}) as quality,
        quality_code,
        source_key,
        ingest_id,
        cast(ingested_at as {{ energy.stored_timestamp() }}) as ingested_at,
        {{ energy.build_started_at() }} as dbt_loaded_at
    from latest_versions

)

{% if is_incremental() -%}
, existing as (

    -- only the stretch of time the newcomers cover, as literals (partitions and zone
    -- maps skip the rest; a bound given as a subquery made Trino read every partition)
    select meter_id, flow, reading_start, ingested_at, ingest_id
    from {{ this }}
    {% if span is none or span[0] is none -%}
    where {{ energy.nothing_new() }}
    {%- else -%}
    where reading_start between cast(timestamp '{{ span[0][:19] }}' as {{ energy.stored_timestamp() }})
        and cast(timestamp '{{ span[1][:19] }}' as {{ energy.stored_timestamp() }})
    {%- endif %}

)
{%- endif %}

select latest.*
from latest
{% if is_incremental() -%}
left join existing
    on existing.meter_id = latest.meter_id
    and existing.flow = latest.flow
    and existing.reading_start = latest.reading_start
where existing.meter_id is null
    or latest.ingested_at > existing.ingested_at
    or (latest.ingested_at = existing.ingested_at and latest.ingest_id >= existing.ingest_id)
{%- endif %}
