{#- For an incremental model: the first day number (`day`, an expression over the
    upstream's columns: day_number by default) among the rows of `upstream` written since
    this table last took rows in (by the dbt_loaded_at build mark); none when nothing is
    new, or outside an incremental run. Models write it into their SQL with incremental_window, as
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
  delete from {{ this }}
  where {{ energy.incremental_window(first_new_day, days_before, day_column=day_column, date_column=date_column) }}
{%- endmacro %}

{#- THE incremental window, the one way every incremental model and test bounds what it
    reads again: a predicate of literals from `days_before` days before `first_new_day`
    (first_new_day's or first_changed_daily_total's answer, a day number) on:

      day_column        >= N                                  (exact)
      date_column       >= date 'yyyy-mm-dd' of day N         (a partition column)
      utc_start_column  >= the UTC midnight a day before day N (a local day starts at
                           most 14 hours before its UTC midnight; in the column's type,
                           as DuckDB pushes a comparison into the scan only after a cast)

    each column optional, prefixed with `relation.` when given. Literals, because every
    engine prunes on them (DuckDB's zone maps, Trino's and Athena's partitions and row
    group statistics), where a bound given as a subquery makes them read the whole
    table. When nothing is new (`first_new_day` is none) it is `false /* nothing new */`
    (energy.nothing_new), whatever the columns: the compiled SQL says so, and a test
    checks every incremental model's. -#}
{% macro incremental_window(first_new_day, days_before=0, day_column=none, date_column=none, utc_start_column=none, relation=none) -%}
  {%- if first_new_day is none -%}
    {{ return(energy.nothing_new()) }}
  {%- endif -%}
  {%- set prefix = relation ~ '.' if relation else '' -%}
  {%- set first = (first_new_day | int) - days_before -%}
  {%- set bounds = [] -%}
  {%- if day_column -%}
    {%- do bounds.append(prefix ~ day_column ~ ' >= ' ~ first) -%}
  {%- endif -%}
  {%- if date_column -%}
    {%- do bounds.append(prefix ~ date_column ~ " >= date '" ~ energy.date_of_day_number(first) ~ "'") -%}
  {%- endif -%}
  {%- if utc_start_column -%}
    {%- do bounds.append(prefix ~ utc_start_column ~ " >= cast(timestamp '" ~ energy.date_of_day_number(first - 1)
        ~ " 00:00:00' as " ~ energy.stored_timestamp() ~ ')') -%}
  {%- endif -%}
  {%- if not bounds -%}
    {{ exceptions.raise_compiler_error('incremental_window needs at least one column to bound') }}
  {%- endif -%}
  {{ return(bounds | join(' and ')) }}
{%- endmacro %}

{#- The predicate of an incremental read when nothing is new: the one rendering. -#}
{% macro nothing_new() -%}
  {{ return('false /* nothing new */') }}
{%- endmacro %}

{#- The date of a day number (days since 1970-01-01, as energy.day_number gives). -#}
{% macro date_of_day_number(day_number) -%}
  {{ return(modules.datetime.date(1970, 1, 1) + modules.datetime.timedelta(days=day_number | int)) }}
{%- endmacro %}

{#- In stg_lake__readings' incremental run: the lake rows of uploads this table has not seen
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
