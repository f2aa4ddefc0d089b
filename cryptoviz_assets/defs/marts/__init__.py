"""Group "marts": dbt models, the published warehouse snapshot, the market report."""
