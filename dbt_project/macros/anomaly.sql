{#- Z-score baselines, shared by the interval and the daily anomaly models.

  anomaly_window  trailing (default): the var anomaly_baseline_days days before the
                  scored point, never the point itself nor anything later, so a flag
                  never changes once raised.
                  centered: the days on both sides (half the window each), still without
                  the point itself. For retrospective analysis of a short history, where
                  a trailing window cannot score the first week; flags can change as
                  later data arrives.
  anomaly_method  iqr (default): median and interquartile range (exact quantiles on
                  every engine); flagged beyond var anomaly_iqr_k IQRs of the median.
                  Past incidents neither shift nor widen later thresholds.
                  zscore: mean and sample standard deviation, flagged beyond var
                  anomaly_z_threshold standard deviations.
                  robust: median and 1.4826 x MAD (the modified z-score), exact on
                  every engine. Needs a self-join.
-#}

{#- The baseline's days relative to the scored point's day_key, as [first, last]
    offsets: the one definition the window frame and the join forms share. -#}
{% macro anomaly_frame_offsets(days) -%}
  {%- if var('anomaly_window') == 'trailing' -%}
    {{ return([-days, -1]) }}
  {%- elif var('anomaly_window') == 'centered' -%}
    {{ return([-(days // 2), days // 2]) }}
  {%- else -%}
    {{ exceptions.raise_compiler_error("var anomaly_window must be trailing or centered, not " ~ var('anomaly_window')) }}
  {%- endif -%}
{%- endmacro %}

{% macro anomaly_frame(days) -%}
  {%- set first, last = energy.anomaly_frame_offsets(days) -%}
  range between {{ -first }} preceding and {{ last | abs }} {{ 'preceding' if last < 0 else 'following' }}
{%- endmacro %}

{#- In the window, does a point other than the scored one fall in its baseline?
    (trailing frames end the day before; centered frames must drop the point itself) -#}
{% macro anomaly_window_includes_point() -%}
  {{ return(var('anomaly_window') == 'centered') }}
{%- endmacro %}

{#- Columns baseline_center, baseline_scale, baseline_count for every row of `relation`
    (a CTE with `value`, `day_key` and the partition columns), from one pass of the
    engines' own window aggregates (numerically stable: no sums of squares).
    A centered frame holds the scored point too; it is taken back out of the frame's
    mean and variance with the inverse of Welford's update, because Trino and Athena
    have no EXCLUDE CURRENT ROW. -#}
{% macro window_baseline(relation, partition_by, key_columns, length) -%}
  window_stats as (
    select
        {{ relation }}.*,
        count(value) over baseline_frame as frame_n,
        avg(value) over baseline_frame as frame_mean,
        var_samp(value) over baseline_frame as frame_variance
    from {{ relation }}
    window baseline_frame as (partition by {{ partition_by }} order by day_key {{ energy.anomaly_frame(length) }})
  ),
  {%- if anomaly_window_includes_point() %}
  without_point as (
    {#- a row whose value is null (kept out of baselines) is not in its own frame -#}
    select
        window_stats.*,
        frame_n - case when value is null then 0 else 1 end as baseline_n_,
        case
            when value is null then frame_mean
            when frame_n > 1 then (frame_n * frame_mean - value) / (frame_n - 1)
        end as mean_
    from window_stats
  ),
  baselines as (
    select
        {{ key_columns }},
        value,
        mean_ as baseline_center,
        case
            when value is null then sqrt(frame_variance)
            when baseline_n_ > 1 then sqrt(greatest(
            (coalesce(frame_variance, 0) * (frame_n - 1) - (value - frame_mean) * (value - mean_)) / (baseline_n_ - 1),
            0))
        end as baseline_scale,
        cast(baseline_n_ as integer) as baseline_count
    from without_point
  )
  {%- else %}
  baselines as (
    select
        {{ key_columns }},
        value,
        frame_mean as baseline_center,
        sqrt(frame_variance) as baseline_scale,
        cast(frame_n as integer) as baseline_count
    from window_stats
  )
  {%- endif %}
{%- endmacro %}

{#- The join forms' pairs: each `scored` row beside every `history` row of its
    partition within its baseline days (the days of anomaly_frame), one row with a null
    history_value when there is none. A centered frame leaves out the history rows whose
    `point_column` equals the scored row's. -#}
{% macro baseline_pairs(scored, history, partition_columns, key_columns, days, point_column) -%}
  {%- set first, last = energy.anomaly_frame_offsets(days) -%}
    select
        {% for column in key_columns.split(',') %}scored.{{ column.strip() }}, {% endfor %}
        scored.value,
        history.value as history_value
    from {{ scored }} as scored
    left join {{ history }} as history
        on {% for column in partition_columns %}history.{{ column }} = scored.{{ column }} and {% endfor %}
        history.day_key between scored.day_key - {{ -first }} and scored.day_key {{ '+' if last >= 0 else '-' }} {{ last | abs }}
        {%- if anomaly_window_includes_point() %}
        and history.{{ point_column }} <> scored.{{ point_column }}
        {%- endif %}
{%- endmacro %}

{#- window_baseline's columns for the rows of `scored` only, by joining each to its
    baseline rows in `history` (which must hold the frame's days before and after them).
    For incremental runs: a window would compute every row of the history it reads, 29
    days of it for one new day (1.5 s against 0.5 s for 96,000 new readings). The
    scored point itself (told apart by `identity`) is left out of a centered frame, as
    window_baseline takes it out. -#}
{% macro joined_baseline(scored, history, partition_columns, key_columns, length, identity) -%}
  baseline_pairs as (
    {{ energy.baseline_pairs(scored, history, partition_columns, key_columns, length, identity) }}
  ),
  baselines as (
    select
        {{ key_columns }},
        value,
        avg(history_value) as baseline_center,
        stddev_samp(history_value) as baseline_scale,
        cast(count(history_value) as integer) as baseline_count
    from baseline_pairs
    group by {{ key_columns }}, value
  )
{%- endmacro %}

{#- The same three columns from the median and MAD of the baseline points (self-join of
    the `scored` rows to `history`; a centered frame leaves out the scored day). Both
    medians are exact on every engine (exact_quantile). -#}
{% macro robust_baseline(scored, history, partition_columns, key_columns, days) -%}
  pairs as (
    {{ energy.baseline_pairs(scored, history, partition_columns, key_columns, days, 'day_key') }}
  ),
  medians as (
    select {{ key_columns }}, value, {{ energy.exact_quantile('history_value', 0.5) }} as baseline_median, count(history_value) as baseline_count
    from ({{ energy.rank_for_quantiles('pairs', key_columns, 'history_value') }}) as ranked_pairs
    group by {{ key_columns }}, value
  ),
  deviations as (
    {#- the columns of a USING join unqualified: Trino refuses them qualified -#}
    select {{ key_columns }}, abs(pairs.history_value - medians.baseline_median) as deviation
    from pairs
    join medians using ({{ key_columns }})
  ),
  baselines as (
    select
        {{ key_columns }},
        medians.value,
        medians.baseline_median as baseline_center,
        1.4826 * {{ energy.exact_quantile('ranked_deviations.deviation', 0.5) }} as baseline_scale,
        cast(medians.baseline_count as integer) as baseline_count
    from medians
    left join ({{ energy.rank_for_quantiles('deviations', key_columns, 'deviation') }}) as ranked_deviations using ({{ key_columns }})
    group by {{ key_columns }}, medians.value, medians.baseline_median, medians.baseline_count
  )
{%- endmacro %}

{#- The IQR of a normal distribution in standard deviations (2 x the 0.75 quantile of
    the standard normal, 0.6745): IQR / 1.349 estimates sigma, so the iqr method's
    baseline_scale and z_score are on the z-score method's scale. -#}
{% macro iqr_per_sigma() -%}1.349{%- endmacro %}

{#- The iqr method's baseline: median, interquartile range and count of the baseline
    points, as baseline_center (the median), baseline_scale (IQR / 1.349) and baseline_count,
    from exact quantiles (linear interpolation, as numpy and quantile_cont) on every
    engine. The second reading of a repeated autumn hour (a second row of one partition
    on one day_key) is scored against the first's baseline and is in no baseline itself,
    so a baseline always holds at most one point per day. -#}
{% macro iqr_baseline(relation, partition_columns, key_columns, length, scored, identity) -%}
  {{ return(adapter.dispatch('iqr_baseline', 'energy')(relation, partition_columns, key_columns, length, scored, identity)) }}
{%- endmacro %}

{#- Trino and Athena. A trailing full build: each row's baseline values gathered by one
    window (array_agg over the day range, a repeated autumn hour's second reading left
    out as null), sorted, and the quartiles read off the sorted array
    (sorted_array_quantile). Joining every row to its 28 baseline rows and ranking them
    held 28 times the readings in one window and exceeded Trino's per-node memory at
    100 meters x a year. Incremental and centered builds join each scored row to its
    baseline rows (baseline_pairs), the quantiles from ranks (quantile_from_ranks: no
    exact percentile there). -#}
{% macro default__iqr_baseline(relation, partition_columns, key_columns, length, scored, identity) -%}
  {%- if scored is none and var('anomaly_window') == 'trailing' -%}
  {%- set partition_by = partition_columns | join(', ') -%}
  iqr_numbered as (
    select
        {{ relation }}.*,
        row_number() over (partition by {{ partition_by }}, day_key order by {{ identity }}) as occurrence
    from {{ relation }}
  ),
  iqr_frames as (
    select
        *,
        array_sort(filter(
            array_agg(case when occurrence = 1 then value end) over baseline_frame,
            baseline_value -> baseline_value is not null
        )) as baseline_values
    from iqr_numbered
    window baseline_frame as (partition by {{ partition_by }} order by day_key {{ energy.anomaly_frame(length) }})
  ),
  baselines as (
    select
        {{ key_columns }},
        value,
        {{ energy.sorted_array_quantile('baseline_values', 0.5) }} as baseline_center,
        ({{ energy.sorted_array_quantile('baseline_values', 0.75) }} - {{ energy.sorted_array_quantile('baseline_values', 0.25) }})
            / {{ energy.iqr_per_sigma() }} as baseline_scale,
        cast(coalesce(cardinality(baseline_values), 0) as integer) as baseline_count
    from iqr_frames
  )
  {%- else -%}
  {{ energy.iqr_history(relation, partition_columns, identity) }},
  iqr_pairs as (
    {{ energy.baseline_pairs(scored or relation, 'iqr_history', partition_columns, key_columns, length, identity) }}
  ),
  iqr_ranked as (
    select
        iqr_pairs.*,
        row_number() over (partition by {{ key_columns }} order by history_value nulls last) - 1 as rank0,
        count(history_value) over (partition by {{ key_columns }}) as group_size
    from iqr_pairs
  ),
  baselines as (
    select
        {{ key_columns }},
        value,
        {{ energy.quantile_from_ranks('history_value', 0.5) }} as baseline_center,
        ({{ energy.quantile_from_ranks('history_value', 0.75) }} - {{ energy.quantile_from_ranks('history_value', 0.25) }})
            / {{ energy.iqr_per_sigma() }} as baseline_scale,
        cast(count(history_value) as integer) as baseline_count
    from iqr_ranked
    group by {{ key_columns }}, value
  )
  {%- endif -%}
{%- endmacro %}

{#- The p-quantile (linear interpolation, as numpy and quantile_cont) of a sorted array
    without nulls (`values`); null when it is empty or null. -#}
{% macro sorted_array_quantile(values, p) -%}
  {%- set position = p ~ ' * (cardinality(' ~ values ~ ') - 1)' -%}
  {%- set below = 'cast(floor(' ~ position ~ ') as integer) + 1' -%}
  case
      when cardinality({{ values }}) > 0 then
          element_at({{ values }}, {{ below }})
          + ({{ position }} - floor({{ position }}))
          * coalesce(element_at({{ values }}, {{ below }} + 1) - element_at({{ values }}, {{ below }}), 0)
  end
{%- endmacro %}

{#- DuckDB: a trailing full build from window quantiles over ROWS frames (a RANGE frame
    costs 5 times as much there: 14.7 s against 2.6 s for three quartiles of 3.5 million
    readings), made equal to the day range by a null filler row for every missing day
    (at most `length` of them per gap). Incremental and centered builds join each scored
    row to its baseline rows and take quantile_cont of the group, the same quantiles. -#}
{% macro duckdb__iqr_baseline(relation, partition_columns, key_columns, length, scored, identity) -%}
  {%- if scored is none and var('anomaly_window') == 'trailing' -%}
  {%- set partition_by = partition_columns | join(', ') -%}
  iqr_ordered as (
    select
        {{ relation }}.*,
        lag(day_key) over iqr_order as previous_day_key,
        lead(day_key) over iqr_order as next_day_key
    from {{ relation }}
    window iqr_order as (partition by {{ partition_by }} order by day_key, {{ identity }})
  ),
  iqr_frame_rows as (
    select *, false as is_filler
    from iqr_ordered
    where previous_day_key is null or previous_day_key <> day_key
    union all by name
    select
        {% for column in partition_columns %}{{ column }}, {% endfor %}
        day_key + steps.k as day_key,
        cast(null as double) as value,
        true as is_filler
    from iqr_ordered
    cross join range(1, {{ length + 1 }}) as steps(k)
    where steps.k < next_day_key - day_key
  ),
  iqr_quartiles as (
    {#- the three quartiles from one windowed quantile over a list of fractions: one
        frame state for all three (25 s against 35 s for three separate ones at 35
        million readings, the same values) -#}
    select
        *,
        cast(count(value) over baseline_frame as integer) as baseline_count,
        quantile_cont(value, [0.25, 0.5, 0.75]) over baseline_frame as quartiles
    from iqr_frame_rows
    window baseline_frame as (partition by {{ partition_by }} order by day_key rows between {{ length }} preceding and 1 preceding)
  ),
  iqr_windowed as (
    select
        * exclude (quartiles),
        quartiles[2] as baseline_median,
        quartiles[3] - quartiles[1] as baseline_iqr
    from iqr_quartiles
  ),
  baselines as (
    select {{ key_columns }}, value, baseline_median as baseline_center, baseline_iqr / {{ energy.iqr_per_sigma() }} as baseline_scale, baseline_count
    from iqr_windowed
    where not is_filler
    union all
    -- a repeated autumn hour's second reading: the first one's baseline
    select
        {% for column in key_columns.split(',') %}repeats.{{ column.strip() }}, {% endfor %}
        repeats.value,
        first_reading.baseline_median,
        first_reading.baseline_iqr / {{ energy.iqr_per_sigma() }},
        first_reading.baseline_count
    from iqr_ordered as repeats
    inner join iqr_windowed as first_reading
        on {% for column in partition_columns %}first_reading.{{ column }} = repeats.{{ column }} and {% endfor %}first_reading.day_key = repeats.day_key
        and not first_reading.is_filler
    where repeats.previous_day_key = repeats.day_key
  )
  {%- else -%}
  {{ energy.iqr_history(relation, partition_columns, identity) }},
  iqr_pairs as (
    {{ energy.baseline_pairs(scored or relation, 'iqr_history', partition_columns, key_columns, length, identity) }}
  ),
  baselines as (
    select
        {{ key_columns }},
        value,
        quantile_cont(history_value, 0.5) as baseline_center,
        (quantile_cont(history_value, 0.75) - quantile_cont(history_value, 0.25)) / {{ energy.iqr_per_sigma() }} as baseline_scale,
        cast(count(history_value) as integer) as baseline_count
    from iqr_pairs
    group by {{ key_columns }}, value
  )
  {%- endif -%}
{%- endmacro %}

{#- The CTE iqr_history: the rows of `relation` that enter baselines, the first row of
    each partition and day_key (a repeated autumn hour's second reading is in none). -#}
{% macro iqr_history(relation, partition_columns, identity) -%}
  iqr_history as (
    select *
    from (
        select
            {{ relation }}.*,
            row_number() over (partition by {{ partition_columns | join(', ') }}, day_key order by {{ identity }}) as occurrence
        from {{ relation }}
    ) as numbered
    where occurrence = 1
  )
{%- endmacro %}

{#- The CTEs ending in `baselines`: baseline_center, baseline_scale and baseline_count for
    the rows of `relation`, or with `scored` for those rows only, `relation` then holding
    their history (`identity` tells rows of a partition apart). `length` is the window in
    units of day_key (days, or weeks for same-weekday). -#}
{% macro baseline_ctes(relation, partition_columns, key_columns, length, scored=none, identity='day_key') -%}
  {%- if var('anomaly_method') == 'zscore' and scored is none -%}
    {{ energy.window_baseline(relation, partition_columns | join(', '), key_columns, length) }}
  {%- elif var('anomaly_method') == 'zscore' -%}
    {{ energy.joined_baseline(scored, relation, partition_columns, key_columns, length, identity) }}
  {%- elif var('anomaly_method') == 'iqr' -%}
    {{ energy.iqr_baseline(relation, partition_columns, key_columns, length, scored, identity) }}
  {%- elif var('anomaly_method') == 'robust' -%}
    {{ energy.robust_baseline(scored or relation, relation, partition_columns, key_columns, length) }}
  {%- else -%}
    {{ exceptions.raise_compiler_error("var anomaly_method must be iqr, zscore or robust, not " ~ var('anomaly_method')) }}
  {%- endif -%}
{%- endmacro %}

{#- The value a point brings to the baselines and is scored with: null (in no
    baseline, never flagged) for an estimated one, unless var anomaly_include_estimated.
    `is_estimated` is the SQL condition that tells it. A missing reading's kwh is null
    already. -#}
{% macro baseline_value(value, is_estimated) -%}
  {%- if var('anomaly_include_estimated') -%}
    {{ value }}
  {%- else -%}
    case when not ({{ is_estimated }}) then {{ value }} end
  {%- endif -%}
{%- endmacro %}

{#- z = (value - baseline_center) / baseline_scale, with the minimum baseline size. -#}
{% macro z_score(value) -%}
  case
      when baseline_count >= {{ var('anomaly_min_baseline') }} and baseline_scale > 0
          then ({{ value }} - baseline_center) / baseline_scale
  end
{%- endmacro %}

{#- True when the z-score passes the threshold in the configured direction
    (var anomaly_direction: both, high or low); false when there is no z-score. -#}
{% macro is_anomaly(z) -%}
  {#- MAD-based (robust) z-scores run on another scale: the usual cut-off for them is 3.5. -#}
  {#- iqr: beyond k interquartile ranges of the median is beyond k x 1.349 of its z-score. -#}
  {%- if var('anomaly_method') == 'iqr' -%}
    {%- set threshold = '(' ~ var('anomaly_iqr_k') ~ ' * ' ~ energy.iqr_per_sigma() ~ ')' -%}
  {%- elif var('anomaly_method') == 'robust' -%}
    {%- set threshold = var('anomaly_robust_z_threshold') -%}
  {%- else -%}
    {%- set threshold = var('anomaly_z_threshold') -%}
  {%- endif -%}
  {%- set direction = var('anomaly_direction') -%}
  {%- if direction == 'high' -%}
    coalesce({{ z }} > {{ threshold }}, false)
  {%- elif direction == 'low' -%}
    coalesce({{ z }} < -{{ threshold }}, false)
  {%- elif direction == 'both' -%}
    coalesce(abs({{ z }}) > {{ threshold }}, false)
  {%- else -%}
    {{ exceptions.raise_compiler_error("var anomaly_direction must be both, high or low, not " ~ direction) }}
  {%- endif -%}
{%- endmacro %}

{% macro direction(z) -%}
  case when {{ energy.is_anomaly(z) }} then (case when {{ z }} > 0 then 'high' else 'low' end) end
{%- endmacro %}
