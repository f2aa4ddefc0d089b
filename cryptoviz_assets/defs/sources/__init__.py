"""Group "sources": one collector asset per source, its job and its schedule."""
