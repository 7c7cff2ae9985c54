"""The WebSocket liveness check, split like websockets' sans-I/O core beside its I/O.

- :mod:`liveness.checks`: one pure function per check of one stream (measurements in,
  a status, a detail and a finding out);
- :mod:`liveness.diagnosis`: the run's checks, verdict, diagnosis, next steps and notes;
  every advice text lives here;
- :mod:`liveness.report`: the :class:`~liveness.report.LivenessReport` value and its
  Markdown;
- :mod:`liveness.probe`: the I/O: sampling the streams, the REST cross-check, the
  exchange clock.

No Prefect here (``tasks/liveness.py`` and ``flows/liveness.py`` compose these), and no
exchange-specific URL: the route rule and the stream names come from the caller.
"""
