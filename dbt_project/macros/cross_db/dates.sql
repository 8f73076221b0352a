{#- Local time and calendar days: the engines disagree on zones, date arithmetic and weekday numbers.
    Engine differences that change results silently: one macro each, a default__
    version and an engine version where the engine needs one. -#}

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
