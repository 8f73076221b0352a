{#- For an incremental model: the first day number (`day`, an expression over the
    upstream's columns: day_number by default) among the rows of `upstream` written since
    this table last took rows in (by the dbt_loaded_at build mark); none when nothing is
    new, or outside an incremental run. Models write it into their SQL with day_bound, as
    a literal every engine can prune on (DuckDB's zone maps, Trino's and Athena's
    partitions and row-group statistics), where a bound given as a subquery makes them
    read the whole table. -#}
{% macro first_new_day(upstream, day='day_number') -%}
  {%- if not (is_incremental() and execute) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if not energy.has_column(this, 'dbt_loaded_at') -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set query -%}
    select min({{ day }})
    from {{ upstream }}
    where {{ energy.loaded_since_this() }}
  {%- endset -%}
  {{ return(energy.query_value(query)) }}
{%- endmacro %}

{#- For an incremental model: its rows' build mark is older than the upstream row's, as
    a filter on the upstream. An empty table (a first build that had nothing to write,
    e.g. no meter had a complete day yet) has no mark: every upstream row is new to it.
    The newest mark is looked up while compiling (energy.column_max: on Trino and Athena
    from the table's metadata) and written as a literal: as a subquery it read the whole
    dbt_loaded_at column of this table on every build, and on Athena every file of it.
    A unit test (whose `this` is a fixture) keeps the subquery. -#}
{% macro loaded_since_this(column='dbt_loaded_at') -%}
  {%- if execute and model.resource_type != 'unit_test' -%}
    {%- set newest = energy.column_max(this, 'dbt_loaded_at') -%}
    {{ column }} > cast(timestamp '{{ newest if newest is not none else '1970-01-01 00:00:00' }}' as timestamp(6))
  {%- else -%}
    {{ column }} > coalesce((select max(dbt_loaded_at) from {{ this }}), cast('1970-01-01 00:00:00' as timestamp(6)))
  {%- endif -%}
{%- endmacro %}

{#- The first day whose daily total is new or changed, complete or not (int_daily_flows):
    for the forecast chain, which reads only complete days (int_daily_series) but must
    also see a day that a later upload made incomplete, whose origin and errors then go. -#}
{% macro first_changed_daily_total() -%}
  {{ return(energy.first_new_day(ref('int_daily_flows'), energy.day_number('reading_date'))) }}
{%- endmacro %}

{#- A pre-hook of an incremental model that computes all its rows again from a day on
    (int_forecast_origins, int_forecast_errors: `days_before` days before
    first_changed_daily_total) and appends them: it deletes the table's rows from that
    day (`day_column`, with the same bound on the partition column `date_column`, which
    the engines prune on), so that rows of a day no longer upstream go too. A delete by
    unique key, as delete+insert and MERGE do, keeps them: a complete day that a later
    upload made incomplete left its forecast origin and its backtest errors behind, and
    an incremental build then differed from a full refresh. Nothing outside an
    incremental run or when nothing is new. -#}
{% macro delete_from_first_changed_day(day_column, date_column, days_before=0) -%}
  {%- if not (is_incremental() and execute) -%}
    {{ return('') }}
  {%- endif -%}
  {%- set first_new_day = energy.first_changed_daily_total() -%}
  {%- if first_new_day is none -%}
    {{ return('') }}
  {%- endif -%}
  {%- set bound = (first_new_day | int) - days_before -%}
  delete from {{ this }}
  where {{ day_column }} >= {{ bound }}
    and {{ date_column }} >= date '{{ energy.date_of_day_number(bound) }}'
{%- endmacro %}

{#- `days_before` days before first_new_day's answer, as SQL: null (no rows pass a
    comparison with it) when nothing is new. -#}
{% macro day_bound(first_new_day, days_before=0) -%}
  {{ return('null' if first_new_day is none else (first_new_day | int) - days_before) }}
{%- endmacro %}

{#- The date of a day number (days since 1970-01-01, as energy.day_number gives). -#}
{% macro date_of_day_number(day_number) -%}
  {{ return(modules.datetime.date(1970, 1, 1) + modules.datetime.timedelta(days=day_number | int)) }}
{%- endmacro %}

{#- Rows of the int_readings_local view (`relation` names it in the query) from
    `days_before` days before first_new_day's answer on: by day_number, exact, and by a
    reading_start (UTC) literal, which engines prune on where the view's computed
    day_number cannot prune. A local day starts at most 14 hours before UTC midnight,
    so the UTC bound is one day earlier still. -#}
{% macro from_local_day(first_new_day, days_before=0, relation=none) -%}
  {%- set prefix = relation ~ '.' if relation else '' -%}
  {%- if first_new_day is none -%}
    {{ return(prefix ~ 'day_number >= null') }}
  {%- endif -%}
  {%- set day = energy.date_of_day_number((first_new_day | int) - days_before - 1) -%}
  {#- the literal in the column's own type: DuckDB pushes a comparison with a timestamp
      of another precision into the scan only after the cast -#}
  {{ return(prefix ~ 'day_number >= ' ~ energy.day_bound(first_new_day, days_before)
      ~ ' and ' ~ prefix ~ "reading_start >= cast(timestamp '" ~ day.isoformat() ~ " 00:00:00' as "
      ~ energy.stored_timestamp() ~ ')') }}
{%- endmacro %}

{#- In stg_readings' incremental run: the lake rows of uploads this table has not seen
    (by ingest id, so an upload that started early and landed late is not missed), from
    the lake partitions of `cutoff` on (an ISO date; none reads every partition). -#}
{% macro unseen_ingests(cutoff) -%}
    ingest_id not in (
        select distinct ingest_id from {{ this }}
        {% if cutoff %}where ingested_at >= cast(date '{{ cutoff }}' as timestamp(3)){% endif %}
    )
    {% if cutoff %}and ingest_date >= date '{{ cutoff }}'{% endif %}
{%- endmacro %}


{#- For a singular test on an incremental `energy build` (var test_new_rows_only): the
    first day number among the readings this build staged (int_readings_local rows
    marked at or after the build's start), none when it staged none. Tests compare only
    the days from there on: the older ones were compared when they were written. -#}
{% macro first_day_staged_by_this_build() -%}
  {{ return(energy.query_value(
      "select min(day_number) from " ~ ref('int_readings_local')
      ~ " where dbt_loaded_at >= " ~ energy.build_started_at())) }}
{%- endmacro %}
