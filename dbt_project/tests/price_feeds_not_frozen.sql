{{ config(severity='warn') }}
-- Fails (as a warning: the marts and the other feeds go on) while any price feed has a frozen
-- span; each row names the coin, source and span (see int_frozen_price_spans).
select * from {{ ref('int_frozen_price_spans') }}
