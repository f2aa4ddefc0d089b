-- Daily news sentiment per coin (UTC days of publication): how many articles mentioned
-- the coin, their mean score, and the shares labelled positive and negative.
select
    coin_id,
    published_date as day,
    count(*) as articles,
    avg(sentiment_score) as mean_score,
    avg(case when sentiment_label = 'positive' then 1.0 else 0.0 end) as share_positive,
    avg(case when sentiment_label = 'negative' then 1.0 else 0.0 end) as share_negative
from {{ ref('int_article_coins') }}
group by all
