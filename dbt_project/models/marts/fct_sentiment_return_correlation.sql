-- Does news sentiment move with prices? Per coin and day: the day's mean sentiment, the
-- consensus daily return of the same day and of the next day, and their rolling Pearson
-- correlations over the last `correlation_window_days` days (null until at least
-- `correlation_min_days` days have both values).
with days as (
    select
        bars.coin_id,
        cast(bars.bar_start as date) as day,
        sentiment.mean_score,
        sentiment.articles,
        bars.simple_return as same_day_return,
        lead(bars.simple_return) over (partition by bars.coin_id order by bars.bar_start)
            as next_day_return_raw,
        lead(bars.bar_start) over (partition by bars.coin_id order by bars.bar_start)
            as next_bar_start,
        bars.bar_start
    from {{ ref('fct_price_bars_daily') }} as bars
    left join {{ ref('fct_sentiment_daily_coin') }} as sentiment
        on
            bars.coin_id = sentiment.coin_id
            and cast(bars.bar_start as date) = sentiment.day
    where bars.source = 'consensus'
),

aligned as (
    select
        coin_id,
        day,
        mean_score,
        coalesce(articles, 0) as articles,
        same_day_return,
        case when next_bar_start = bar_start + interval 1 day then next_day_return_raw end
            as next_day_return
    from days
)

select
    coin_id,
    day,
    mean_score,
    articles,
    same_day_return,
    next_day_return,
    case
        when regr_count(same_day_return, mean_score) over w >= {{ var('correlation_min_days') }}
            then corr(same_day_return, mean_score) over w
    end as corr_same_day,
    case
        when regr_count(next_day_return, mean_score) over w >= {{ var('correlation_min_days') }}
            then corr(next_day_return, mean_score) over w
    end as corr_next_day,
    regr_count(same_day_return, mean_score) over w as days_same_day,
    regr_count(next_day_return, mean_score) over w as days_next_day
from aligned
window w as (
    partition by coin_id order by day
    range between interval {{ var('correlation_window_days') - 1 }} days preceding and current row
)
