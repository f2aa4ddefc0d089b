"""The Great Expectations suites (cryptoviz_assets.quality) as blocking asset checks."""
