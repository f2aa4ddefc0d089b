"""The event contract: JSON Schemas (schemas/) and the code that builds and validates events."""
