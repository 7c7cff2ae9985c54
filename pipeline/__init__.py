"""The pipeline core: plan → fetch → parse → validate → write, in plain Python.

- :mod:`pipeline.plan`: which range of each series to fetch and from which source (pure).
- :mod:`pipeline.series`: one series (or a group of one-page series) over REST: fetch
  pages (:mod:`exchange.paging`), parse (:mod:`warehouse.parse`), validate
  (:mod:`warehouse.schema`), write (:mod:`warehouse.store`) with the gap ledger.
- :mod:`pipeline.archive`: the same from the bulk archive's files, REST for the rest.
- :mod:`pipeline.results`: one result per series, merged, and the run's verdict (pure).
- :mod:`pipeline.progress`: the candles accounted for, for a progress line and artifact.

No Prefect here: :mod:`tasks` wraps these as tasks and :mod:`flows` composes them.
"""
