"""Group "lake": the Delta tables the streams write, and their scheduled maintenance."""
