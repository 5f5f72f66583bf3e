"""Generated Green Button files with the structure of the real OpenESPI sample.

``tests/data/formats/test_usage_data.xml`` (Green Button Alliance) is an Atom feed: a
UsagePoint entry, a LocalTimeParameters entry, a MeterReading entry linking its ReadingType and
IntervalBlocks, the ReadingType entry, then one IntervalBlock entry per day of IntervalReadings
(``cost``, optional ``ReadingQuality``, ``timePeriod`` and ``value``). :func:`write_year` writes
the same structure for any number of 15-minute readings, with a default namespace or with
``espi:`` prefixes, so the reader and the benchmark can be run on a year (35,040 readings).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

BASE = "/espi/1_1/resource/RetailCustomer/9B6C7066/UsagePoint/5446AF3F"
START_S = 1293868800  # 2011-01-01T08:00:00Z, local midnight in Pacific standard time


def _entry(self_href: str, up: str, body: str, related: tuple[str, ...] = ()) -> str:
    links = "".join(f'<link rel="related" href="{r}"/>' for r in related)
    return (f"<entry><id>urn:uuid:{zlib.crc32(self_href.encode()):010d}</id>"
            f'<link rel="self" href="{self_href}"/><link rel="up" href="{up}"/>{links}'
            f"<title/><content>{body}</content></entry>\n")


def write_year(path: Path, n_readings: int = 35_040, *, prefixed: bool = False,
               flow_direction: int = 1, uom: int = 72, power_of_ten: int = 0,
               estimated_every: int = 97, seed: int = 3) -> dict[str, float]:
    """Write a Green Button feed of ``n_readings`` 15-minute readings of one meter.

    Returns the values written (sum in Wh, count, estimated readings) for cross-checks.
    """
    rng = np.random.default_rng(seed)
    values = rng.integers(50, 900, n_readings)
    ns = "espi:" if prefixed else ""
    xmlns = ' xmlns:espi="http://naesb.org/espi"' if prefixed else ""
    own = "" if prefixed else ' xmlns="http://naesb.org/espi"'
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             f'<feed xmlns="http://www.w3.org/2005/Atom"{xmlns}>\n'
             "<id>urn:uuid:feed</id><title>Green Button Subscription Feed</title>\n"]
    parts.append(_entry(BASE, BASE.rsplit("/", 1)[0],
                        f"<{ns}UsagePoint{own}><{ns}ServiceCategory><{ns}kind>0</{ns}kind>"
                        f"</{ns}ServiceCategory></{ns}UsagePoint>",
                        (f"{BASE}/MeterReading", "/espi/1_1/resource/LocalTimeParameters/01")))
    parts.append(_entry("/espi/1_1/resource/LocalTimeParameters/01",
                        "/espi/1_1/resource/LocalTimeParameters",
                        f"<{ns}LocalTimeParameters{own}><{ns}dstEndRule>B40E2000</{ns}dstEndRule>"
                        f"<{ns}dstOffset>3600</{ns}dstOffset><{ns}dstStartRule>360E2000"
                        f"</{ns}dstStartRule><{ns}tzOffset>-28800</{ns}tzOffset>"
                        f"</{ns}LocalTimeParameters>"))
    parts.append(_entry(f"{BASE}/MeterReading/01", f"{BASE}/MeterReading",
                        f"<{ns}MeterReading{own}/>",
                        (f"{BASE}/MeterReading/01/IntervalBlock",
                         "/espi/1_1/resource/ReadingType/07")))
    parts.append(_entry("/espi/1_1/resource/ReadingType/07", "/espi/1_1/resource/ReadingType",
                        f"<{ns}ReadingType{own}><{ns}accumulationBehaviour>4"
                        f"</{ns}accumulationBehaviour><{ns}commodity>1</{ns}commodity>"
                        f"<{ns}flowDirection>{flow_direction}</{ns}flowDirection>"
                        f"<{ns}intervalLength>900</{ns}intervalLength><{ns}kind>12</{ns}kind>"
                        f"<{ns}powerOfTenMultiplier>{power_of_ten}</{ns}powerOfTenMultiplier>"
                        f"<{ns}uom>{uom}</{ns}uom></{ns}ReadingType>"))
    per_day = 96
    n_est = 0
    for day, first in enumerate(range(0, n_readings, per_day)):
        block = [f"<{ns}IntervalBlock{own}>\n<{ns}interval><{ns}duration>86400</{ns}duration>"
                 f"<{ns}start>{START_S + first * 900}</{ns}start></{ns}interval>\n"]
        for k in range(first, min(first + per_day, n_readings)):
            quality = ""
            if estimated_every and k % estimated_every == 5:
                quality = (f"<{ns}ReadingQuality><{ns}quality>8</{ns}quality>"
                           f"</{ns}ReadingQuality>")
                n_est += 1
            block.append(
                f"<{ns}IntervalReading>\n<{ns}cost>{int(values[k]) * 3}</{ns}cost>{quality}\n"
                f"<{ns}timePeriod><{ns}duration>900</{ns}duration><{ns}start>"
                f"{START_S + k * 900}</{ns}start></{ns}timePeriod>\n"
                f"<{ns}value>{int(values[k])}</{ns}value>\n</{ns}IntervalReading>\n")
        block.append(f"</{ns}IntervalBlock>")
        parts.append(_entry(f"{BASE}/MeterReading/01/IntervalBlock/{day + 1}",
                            f"{BASE}/MeterReading/01/IntervalBlock", "".join(block)))
    parts.append("</feed>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return {"sum_wh": float(values.sum()), "readings": float(n_readings),
            "estimated": float(n_est)}
