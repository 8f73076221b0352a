{#-
  Engine differences that change results silently live here, one macro each, with a
  default__ version and an engine version where the engine needs one.
-#}

{#- UTC timestamp (naive, meaning UTC) -> local wall-clock timestamp in the IANA zone `tz`. -#}
{% macro to_local_timestamp(utc_ts, tz) -%}
  -- UTC meters need no zone arithmetic (the costly part at scale)
  case
      when {{ tz }} = 'UTC' then {{ utc_ts }}
      else {{ adapter.dispatch('to_local_timestamp', 'energy')(utc_ts, tz) }}
  end
{%- endmacro %}

{% macro default__to_local_timestamp(utc_ts, tz) -%}
  cast(at_timezone(with_timezone({{ utc_ts }}, 'UTC'), {{ tz }}) as {{ energy.stored_timestamp() }})
{%- endmacro %}

{% macro duckdb__to_local_timestamp(utc_ts, tz) -%}
  cast(timezone({{ tz }}, timezone('UTC', {{ utc_ts }})) as timestamp)
{%- endmacro %}

{#- Length in minutes of local day `day` in zone `tz`: 1380 or 1500 on DST change days. -#}
{% macro local_day_minutes(day, tz) -%}
  case
      when {{ tz }} = 'UTC' then 1440
      else {{ adapter.dispatch('local_day_minutes', 'energy')(day, tz) }}
  end
{%- endmacro %}

{% macro default__local_day_minutes(day, tz) -%}
  cast(date_diff('minute',
      with_timezone(cast({{ day }} as timestamp(3)), {{ tz }}),
      with_timezone(cast({{ energy.add_days(day, 1) }} as timestamp(3)), {{ tz }})) as integer)
{%- endmacro %}

{% macro duckdb__local_day_minutes(day, tz) -%}
  cast((epoch(timezone({{ tz }}, cast({{ energy.add_days(day, 1) }} as timestamp)))
      - epoch(timezone({{ tz }}, cast({{ day }} as timestamp)))) / 60 as integer)
{%- endmacro %}

{#- date + n days, always a DATE (DuckDB's date + interval is a TIMESTAMP). -#}
{% macro add_days(day, n) -%}
  {{ return(adapter.dispatch('add_days', 'energy')(day, n)) }}
{%- endmacro %}

{% macro default__add_days(day, n) -%}
  date_add('day', {{ n }}, {{ day }})
{%- endmacro %}

{% macro duckdb__add_days(day, n) -%}
  cast({{ day }} + to_days(cast({{ n }} as integer)) as date)
{%- endmacro %}

{#- Whole days since 1970-01-01: an integer key for day-based RANGE window frames. -#}
{% macro day_number(day) -%}
  {{ return(adapter.dispatch('day_number', 'energy')(day)) }}
{%- endmacro %}

{% macro default__day_number(day) -%}
  cast(date_diff('day', date '1970-01-01', {{ day }}) as integer)
{%- endmacro %}

{#- Division that is always floating point (Trino divides integers as integers). -#}
{% macro fdiv(numerator, denominator) -%}
  (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{#- Minutes since local midnight of a local timestamp: the time-of-day slot. -#}
{% macro minute_of_day(local_ts) -%}
  cast(extract(hour from {{ local_ts }}) * 60 + extract(minute from {{ local_ts }}) as integer)
{%- endmacro %}

{#- ISO day of week, Monday = 1 ... Sunday = 7 (engines number days differently). -#}
{% macro iso_day_of_week(day) -%}
  {{ return(adapter.dispatch('iso_day_of_week', 'energy')(day)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(day) -%}
  cast(day_of_week({{ day }}) as integer)
{%- endmacro %}

{% macro duckdb__iso_day_of_week(day) -%}
  cast(isodow({{ day }}) as integer)
{%- endmacro %}

{#- The p-quantile (linear interpolation, as numpy and quantile_cont) of `value` in a
    group, from columns `rank0` (0-based rank of value in its group) and `group_size`.
    Plain aggregates, so the same exact answer on every engine (Trino and Athena only
    have an approximate percentile). Use inside GROUP BY of the group. -#}
{% macro quantile_from_ranks(value, p, rank0='rank0', group_size='group_size') -%}
  {%- set position = p ~ ' * (max(' ~ group_size ~ ') - 1)' -%}
  (
    max(case when {{ rank0 }} = floor({{ p }} * ({{ group_size }} - 1)) then {{ value }} end)
    + ({{ position }} - floor({{ position }}))
      * coalesce(
          max(case when {{ rank0 }} = floor({{ p }} * ({{ group_size }} - 1)) + 1 then {{ value }} end)
          - max(case when {{ rank0 }} = floor({{ p }} * ({{ group_size }} - 1)) then {{ value }} end),
          0)
  )
{%- endmacro %}

{#- Exact p-quantiles per group: a CTE body that prepares `relation` (rows of
    `value` grouped by `group_by`), then exact_quantile(value, p) inside the GROUP BY.
    Null values are in no quantile (ranked last, not counted).
    DuckDB has an exact quantile aggregate; elsewhere the ranks come from a window
    (quantile_from_ranks), the costly part at scale, so DuckDB skips it. -#}
{% macro rank_for_quantiles(relation, group_by, value) -%}
  {{ return(adapter.dispatch('rank_for_quantiles', 'energy')(relation, group_by, value)) }}
{%- endmacro %}

{% macro default__rank_for_quantiles(relation, group_by, value) -%}
  select
      *,
      row_number() over (partition by {{ group_by }} order by {{ value }} nulls last) - 1 as rank0,
      count({{ value }}) over (partition by {{ group_by }}) as group_size
  from {{ relation }}
{%- endmacro %}

{% macro duckdb__rank_for_quantiles(relation, group_by, value) -%}
  select * from {{ relation }}
{%- endmacro %}

{% macro exact_quantile(value, p) -%}
  {{ return(adapter.dispatch('exact_quantile', 'energy')(value, p)) }}
{%- endmacro %}

{% macro default__exact_quantile(value, p) -%}
  {{ energy.quantile_from_ranks(value, p) }}
{%- endmacro %}

{#- Over a list rather than quantile_cont as an aggregate: at 25 million errors beside a
    concurrent model, that holistic aggregate spilled tens of GB to disk; a list is an
    ordinary aggregate state, shared by both quantiles of a group. -#}
{% macro duckdb__exact_quantile(value, p) -%}
  list_aggregate(list({{ value }}), 'quantile_cont', {{ p }})
{%- endmacro %}

{#- When this build started, as a timestamp: marks the rows an incremental run wrote,
    so the next model (or the next run, after a failure) knows what is new to it. -#}
{% macro build_started_at() -%}
  cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp(6))
{%- endmacro %}

{#- greatest / least of two values, NULL when either is NULL (DuckDB's own skip NULLs,
    Trino's and Athena's return NULL: a missing band edge must stay missing). -#}
{% macro greatest_of(a, b) -%}
  {{ return(adapter.dispatch('null_strict_extreme', 'energy')('greatest', a, b)) }}
{%- endmacro %}

{% macro least_of(a, b) -%}
  {{ return(adapter.dispatch('null_strict_extreme', 'energy')('least', a, b)) }}
{%- endmacro %}

{% macro default__null_strict_extreme(function, a, b) -%}
  {{ function }}({{ a }}, {{ b }})
{%- endmacro %}

{% macro duckdb__null_strict_extreme(function, a, b) -%}
  case when ({{ a }}) is not null and ({{ b }}) is not null then {{ function }}({{ a }}, {{ b }}) end
{%- endmacro %}

{#- The type of stored timestamp columns. Iceberg tables (the models on Trino and
    Athena) hold microseconds, timestamp(6); DuckDB keeps the lake's milliseconds. -#}
{% macro stored_timestamp() -%}
  {{ return(adapter.dispatch('stored_timestamp', 'energy')()) }}
{%- endmacro %}

{% macro default__stored_timestamp() -%}
  timestamp(6)
{%- endmacro %}

{% macro duckdb__stored_timestamp() -%}
  timestamp(3)
{%- endmacro %}

{#- The type of a stored code column (flow, quality) of the reading-grain tables, whose
    values are `values`. DuckDB: an ENUM of them, a byte per row; as text it made writing
    the two columns cost 8% of fct_reading_anomalies at 35M readings. Comparisons with
    text work as with varchar (flow = 'export'; a value outside the list matches
    nothing), and the values are declared in text order, so ORDER BY, min and max give
    what they give on varchar. Elsewhere varchar (Iceberg has no enum). -#}
{% macro code_type(values) -%}
  {{ return(adapter.dispatch('code_type', 'energy')(values)) }}
{%- endmacro %}

{% macro default__code_type(values) -%}
  varchar
{%- endmacro %}

{% macro duckdb__code_type(values) -%}
  enum({% for value in values | sort %}'{{ value }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- The stored types of flow and quality (code_type of their codes). -#}
{% macro flow_type() -%}
  {{ return(energy.code_type(['import', 'export'])) }}
{%- endmacro %}

{% macro quality_type() -%}
  {{ return(energy.code_type(['measured', 'estimated', 'missing'])) }}
{%- endmacro %}

{#- Partitioning of the large tables by month of `column` (reading_start for the
    reading-grain tables, origin_date for the forecast origins and backtest errors):
    monthly Iceberg partitions on Athena and on Trino, so a query bounded by a literal
    on that column (every incremental build's reads of a window of history, and the
    delete of the rows it replaces) opens only the months it needs. Without them a full
    refresh writes files that each span the whole history, and no file statistic can
    skip one: the daily build read those tables in full. One write stays far below
    Athena's limit of 100 partitions per write (over 8 years of history fit in one load).
    DuckDB: none, its zone maps skip row groups already. dbt-athena takes the transform
    as partitioned_by, dbt-trino as the table property partitioning. `identity_columns`
    partition further by their values (the backtest errors by calibration phase); a
    write of more than Athena's 100 partitions, dbt-athena splits into batches. -#}
{% macro monthly_partitions(column, identity_columns=[]) -%}
  {{ return(['month(' ~ column ~ ')'] + identity_columns if target.type == 'athena' else none) }}
{%- endmacro %}

{% macro monthly_partition_properties(column, identity_columns=[]) -%}
  {%- set fields = ["'month(" ~ column ~ ")'"] -%}
  {%- for identity in identity_columns -%}
    {%- do fields.append("'" ~ identity ~ "'") -%}
  {%- endfor -%}
  {{ return({'partitioning': 'ARRAY[' ~ fields | join(', ') ~ ']'} if target.type == 'trino' else none) }}
{%- endmacro %}

{#- Before a CTE's body: read it again for each use rather than materialize it. DuckDB
    may hold a CTE used twice in memory (all 35M readings in stg_readings, slower than
    scanning the Parquet twice); Trino and Athena always inline CTEs. -#}
{% macro inline_cte() -%}
  {{ return(adapter.dispatch('inline_cte', 'energy')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
  not materialized
{%- endmacro %}

{#- Every row of `relation` with the smallest and the largest `value` of its group
    (`group_by`, a column list) beside it, as `first_name` and `last_name`: windows
    without an order, one read of `relation` on every engine. Trino and Athena inline a
    CTE at each use, so an aggregate joined back read it twice (and Athena bills each
    read). On DuckDB 2 the windows are also faster than the aggregate joined back (0.12 s
    against 0.31 s over 3.6M backtest errors), and a filter on a `group_by` column
    reaches the read below them; the join did not take it into the aggregate's side. -#}
{% macro with_group_span(relation, group_by, value, first_name, last_name) -%}
    select
        {{ relation }}.*,
        min({{ value }}) over (partition by {{ group_by }}) as {{ first_name }},
        max({{ value }}) over (partition by {{ group_by }}) as {{ last_name }}
    from {{ relation }}
{%- endmacro %}
