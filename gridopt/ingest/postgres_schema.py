"""The PostgreSQL schema of gridopt's readings and forecasts (SQL text; see docs/store.md).

``readings`` is narrow (one row per meter, channel and interval), partitioned by month of
``interval_start``; the primary key ``(meter, channel, interval_start)`` serves one meter's
window and makes appends idempotent; the index on ``interval_start`` serves a window of every
meter (each month partition has its own copy of both). ``channel`` is a :class:`Channel`
code. ``gridopt_meta`` holds the interval (``freq``) and the first and last interval start.
"""

from __future__ import annotations

import enum


class Channel(enum.IntEnum):
    """``readings.channel``: which energy a row holds (kWh per interval)."""

    CONSUMPTION = 1
    PRODUCTION = 2


SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS gridopt_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS readings (
    meter          text             NOT NULL,
    channel        smallint         NOT NULL,   -- 1 consumption_kwh, 2 production_kwh
    interval_start timestamptz      NOT NULL,   -- interval start, UTC
    value          double precision,            -- kWh in the interval, NULL = no value
    quality        smallint         NOT NULL,   -- gridopt.ingest.Quality of the cell
    PRIMARY KEY (meter, channel, interval_start)
) PARTITION BY RANGE (interval_start);

CREATE INDEX IF NOT EXISTS readings_interval_start ON readings (interval_start);

CREATE TABLE IF NOT EXISTS forecasts (
    run_id         text             NOT NULL,   -- one forecast run (model@origin by default)
    model          text             NOT NULL,
    origin         timestamptz      NOT NULL,
    series         text             NOT NULL,   -- meter or bus
    interval_start timestamptz      NOT NULL,
    quantile       real             NOT NULL,
    value_kwh      double precision,
    created_at     timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, series, interval_start, quantile)
);
"""

#: One month partition of ``readings`` (``{name}``, ``{lo}``, ``{hi}`` are filled by gridopt
#: from computed month starts, never from user text).
PARTITION_SQL = ("CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings "
                 "FOR VALUES FROM ('{lo}') TO ('{hi}')")

#: A window of readings: what every reader of :func:`gridopt.ingest.postgres.read_window` runs.
WINDOW_SQL = ("SELECT meter, channel, interval_start, value, quality FROM readings "
              "WHERE interval_start >= '{lo}' AND interval_start <= '{hi}'{meters}")
