{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['coin_id', 'source', 'bar_start'],
) }}
-- Daily bars per coin and source (and source = 'consensus') with returns, 7- and 30-day
-- moving averages and the 30-day volatility of daily log returns (annualised x sqrt(365):
-- crypto trades every day).
{{ price_bar_metrics('int_price_bars_daily', 'day', 30, 365, 'volatility_30d') }}
