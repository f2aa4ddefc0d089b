{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['coin_id', 'source', 'bar_start'],
) }}
-- Hourly bars per coin and source (and source = 'consensus') with returns, 7- and 30-hour
-- moving averages and the 24-hour volatility of hourly log returns (annualised x sqrt(8760)).
{{ price_bar_metrics('int_price_bars_hourly', 'hour', 24, 8760, 'volatility_24h') }}
