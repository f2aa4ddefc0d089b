"""The CryptoViz code location: the definitions of every domain folder under defs/.

Loading reads no settings at import; each module of defs/ builds its definitions in a
`@dg.definitions` function when Dagster loads the location. Heavy libraries (Spark, Great
Expectations) are imported inside the code that needs them, so the location loads fast.
"""

from pathlib import Path

import dagster as dg

from cryptoviz_assets import defs as defs_folder


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(defs_folder.__file__).parent),
        # Every step in its run's own process: the default multiprocess executor would start
        # a second interpreter per step, importing the whole location again (~4 s of CPU on 2
        # cores), for jobs whose steps run one after the other anyway.
        dg.Definitions(executor=dg.in_process_executor),
    )
