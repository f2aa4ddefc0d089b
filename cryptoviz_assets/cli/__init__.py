"""The `cryptoviz` command (commands.py) and the offline demo it runs (demo.py)."""
