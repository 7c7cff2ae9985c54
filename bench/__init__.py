"""Benchmarks (``python -m bench.<name>``, all of them: ``python -m bench.run_all``).

The flow runs of a benchmark use Prefect's own temporary API in-process, with the settings
the ``klines`` command chooses for its users (nothing phones home).
"""

import os

from cli.prefect_api import QUIET

for _name, _value in QUIET.items():
    os.environ.setdefault(_name, _value)
