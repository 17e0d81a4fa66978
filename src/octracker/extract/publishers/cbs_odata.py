"""Statistics Netherlands (CBS StatLine) tables over OData v3 and v4 as publisher rows.

One CBS table is several HTTP answers, so the file this reader takes is a bundle: a zip archive holding each
answer's body unchanged, one member per endpoint, named after the endpoint (`TableInfos.json`,
`DataProperties.json`, `Perioden.json`, `TypedDataSet.json`, ...); the pages that follow an answer's
`odata.nextLink` are `<endpoint>.2.json`, `<endpoint>.3.json`, ... in order. `bundle_answers` writes it
(the feed assembles the same form from the answers it fetched), and the same answers always give the same
bytes, so the bundle's hash says whether anything changed.

- v3 (`opendata.cbs.nl/ODataFeed/odata/<table>/`): the rows of `TypedDataSet` (or `UntypedDataSet`, whose
  values are right-aligned strings) hold one column per dimension and per topic; `DataProperties` says which
  is which (without it: `Perioden` is time, `Regio...` is the region, keys ending in `_<n>` are topics),
  `TableInfos.Modified` is the vintage and `Perioden` gives each period's Status.
- v4 (`odata4.cbs.nl/CBS/<table>/`): `Observations` has one row per value (`Measure`, the dimensions,
  `Value`, `ValueAttribute`); `MeasureCodes` gives units, `Dimensions` the order and kinds,
  `<time dimension>Codes` each period's Status and `Properties.Modified` the vintage.

The native id is `cbs.<table>.<dimension codes...>.<topic or measure>`: the dimensions other than region and
time in the table's order, then the topic key (v3) or measure code (v4), padding removed, lower case. The
table's order is what `DataProperties` (v3) or `Dimensions` (v4) says, not the order of a row's keys (CBS
writes those in any order): a bundle without it is read only when it has at most one such dimension. A lone
answer (a `TypedDataSet` page saved on its own) is refused with the answers to fetch and how to bundle them.
A table without a region dimension is about the Netherlands (`NL`). A period whose Status is `Voorlopig`
(provisional) or `Nader voorlopig` gives its values the flag `p`; an untyped `x` (secret) the flag `c`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from octracker.extract.publishers.codes import cbs_geo, dataset_from_name, native_id
from octracker.extract.publishers.periods import parse_publisher_period
from octracker.extract.publishers.table import (
    PUBLISHER_SCHEMA,
    ImpossibleNumber,
    PublisherTable,
    empty_publisher_rows,
    published_float,
)
from octracker.extract.table_files import ZIP_MAGIC
from octracker.extracts import Problem

PROVIDER = "cbs"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: The uncompressed size a bundle may reach (the largest CBS tables are a few hundred MB as JSON).
MAX_BUNDLE_BYTES = 2_000_000_000
PROVISIONAL_STATUSES = frozenset({"voorlopig", "nader voorlopig"})
V3_DATA = ("TypedDataSet", "UntypedDataSet")
V4_RESERVED = frozenset({"Id", "Measure", "Value", "ValueAttribute", "StringValue"})
_PAGE = re.compile(r"(?P<endpoint>[^/\\]+?)(?:\.(?P<page>\d+))?\.json$", re.I)
#: Where a CBS answer says what it answers: v3 `odata.metadata` (at the end of the body), v4 `@odata.context`.
_CONTEXT = re.compile(
    rb'"(?:odata\.metadata|@odata\.context)"\s*:\s*"(?P<base>https?://[^"/]*cbs\.nl/[^"]*?/(?P<table>[^"/$]+)/)'
    rb"\$metadata#(?:Cbs\.OData\.WebAPI\.)?(?P<endpoint>[A-Za-z0-9_]+)",
    re.I,
)
_TOPIC_KEY = re.compile(r".+_\d+$")


class _Refused(ValueError):
    pass


def bundle_answers(answers: Mapping[str, list[bytes]]) -> bytes:
    """The bundle of a table's answers: endpoint → its pages' bodies in order, each stored unchanged."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for endpoint in sorted(answers):
            for number, body in enumerate(answers[endpoint], start=1):
                member = f"{endpoint}.json" if number == 1 else f"{endpoint}.{number}.json"
                # A fixed date so that the same answers always make the same bytes (and the same hash).
                archive.writestr(
                    zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), body, compress_type=zipfile.ZIP_DEFLATED
                )
    return out.getvalue()


def looks_like(content: bytes) -> bool:
    """True for a zip whose members include a CBS data endpoint (used to detect a file given without a kind), and
    for one CBS answer saved alone, so that it is refused with what to hand instead."""
    if not content.startswith(ZIP_MAGIC):
        return lone_answer(content) is not None
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = {m["endpoint"] for n in archive.namelist() if (m := _PAGE.match(n.split("/")[-1]))}
    except zipfile.BadZipFile:
        return False
    return bool(names & {*V3_DATA, "Observations"})


def read(content: bytes, *, name: str) -> PublisherTable:
    """The table's values as publisher rows, or problems saying which answer is missing or wrong."""
    try:
        answers = _answers(content, name)
        if "Observations" in answers:
            return _read_v4(answers, name)
        if set(V3_DATA) & answers.keys():
            return _read_v3(answers, name)
        raise _Refused(
            f"the bundle holds {', '.join(sorted(answers)) or 'nothing'} but no data: a v3 "
            "TypedDataSet or UntypedDataSet, or a v4 Observations answer, is needed"
        )
    except _Refused as refused:
        return PublisherTable(
            PROVIDER, dataset_from_name(name), empty_publisher_rows(), problems=[Problem("cbs_odata", str(refused), "")]
        )


def lone_answer(content: bytes) -> dict[str, str] | None:
    """What one CBS OData answer saved on its own says it is (`endpoint`, `table`, `base` address, `version`), read
    from its `odata.metadata` / `@odata.context`; None for anything else."""
    if not content.lstrip()[:1] == b"{":
        return None
    found = _CONTEXT.search(content[:4096]) or _CONTEXT.search(content[-4096:])
    if found is None:
        return None
    base = found["base"].decode("utf-8", "replace")
    v4 = "/odata/" not in base.lower()
    return {
        "endpoint": found["endpoint"].decode(),
        "table": found["table"].decode(),
        "base": base,
        "version": "v4" if v4 else "v3",
        "next": "yes" if re.search(rb'"@?odata\.nextLink"', content[-4096:]) else "",
    }


def _lone_answer_refusal(content: bytes, name: str) -> str:
    """Why a file that is not a bundle is refused, and what to hand instead (the answers, the zip, the command)."""
    lone = lone_answer(content)
    if lone is None:
        return (
            "not a zip archive: a CBS table is read from a bundle of its OData answers, a zip with each answer "
            "saved unchanged and named after its endpoint (v3: TableInfos.json, DataProperties.json, Perioden.json, "
            "TypedDataSet.json; v4: Properties.json, Dimensions.json, MeasureCodes.json, PeriodenCodes.json, "
            "Observations.json; a page odata.nextLink points to as TypedDataSet.2.json, ...)"
        )
    table, base, endpoint = lone["table"], lone["base"], lone["endpoint"]
    if lone["version"] == "v3":
        members = ["TableInfos", "DataProperties", "Perioden", endpoint if endpoint in V3_DATA else "TypedDataSet"]
        address = f"{base}<endpoint>?$format=json"
    else:
        members = ["Properties", "Dimensions", "MeasureCodes", "PeriodenCodes", "Observations"]
        address = f"{base}<endpoint>"
    data = members[-1]
    following = "; this page has one" if lone["next"] else ""
    return (
        f"{name} is one CBS OData answer ({endpoint} of table {table}), not a table: alone it does not say the "
        "order of the table's dimensions (which the native ids follow), their units, or which periods are "
        f"provisional. Hand the table as a zip of its answers: fetch {', '.join(members)} from {address}, save "
        f"each body unchanged as <endpoint>.json (a page that odata.nextLink points to as {data}.2.json, "
        f"{data}.3.json, ...{following}), then `zip {table}.zip {' '.join(f'{m}.json' for m in members)}` and "
        f"`octracker ingest {table}.zip --kind cbs_odata`. Or follow the table with a pipeline spec ([feed] "
        f'url = "{base}", format = "cbs_odata"), which fetches and bundles them itself'
    )


def _answers(content: bytes, name: str) -> dict[str, list[dict[str, Any]]]:
    """Each endpoint's pages, parsed, in page order; the pages an answer's nextLink promises must be there."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise _Refused(_lone_answer_refusal(content, name)) from None
    with archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_BUNDLE_BYTES:
            raise _Refused(f"the bundle unpacks to more than {MAX_BUNDLE_BYTES:,} bytes")
        pages: dict[str, dict[int, dict[str, Any]]] = {}
        for member in archive.namelist():
            found = _PAGE.match(member.split("/")[-1])
            if member.endswith("/") or not found:
                continue
            try:
                body = json.loads(archive.read(member).decode("utf-8-sig"), parse_float=published_float)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise _Refused(f"member {member} is not JSON ({exc})") from None
            except ImpossibleNumber as exc:
                raise _Refused(f"member {member}: a value, {exc}") from None
            if isinstance(body, dict) and "error" in body:
                raise _Refused(f"member {member} is an error answer from CBS: {json.dumps(body['error'])[:500]}")
            pages.setdefault(found["endpoint"], {})[int(found["page"] or 1)] = body
    answers: dict[str, list[dict[str, Any]]] = {}
    for endpoint, numbered in pages.items():
        ordered = [numbered[n] for n in sorted(numbered)]
        if sorted(numbered) != list(range(1, len(numbered) + 1)):
            raise _Refused(
                f"{endpoint}: pages {sorted(numbered)} are not 1..{len(numbered)} (page 1 is "
                f"{endpoint}.json, page n is {endpoint}.n.json)"
            )
        last = ordered[-1]
        following = isinstance(last, dict) and (last.get("odata.nextLink") or last.get("@odata.nextLink"))
        if following:
            raise _Refused(
                f"{endpoint}: page {len(ordered)} links to a next page ({following}) that the bundle "
                f"lacks; fetch it and store it as {endpoint}.{len(ordered) + 1}.json"
            )
        answers[endpoint] = ordered
    return answers


def _rows_of(answers: dict[str, list[dict[str, Any]]], endpoint: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in answers.get(endpoint, []):
        value = page.get("value") if isinstance(page, dict) else page
        if not isinstance(value, list):
            raise _Refused(f"{endpoint}: the answer has no value list")
        rows.extend(value)
    return rows


def _single(answers: dict[str, list[dict[str, Any]]], endpoint: str) -> dict[str, Any]:
    """A singleton answer (v4 `Properties`) or the one row of a v3 `TableInfos`."""
    pages = answers.get(endpoint)
    if not pages:
        return {}
    first = pages[0]
    if isinstance(first.get("value"), list):
        return first["value"][0] if first["value"] else {}
    return first


def _table_id(answers: dict[str, list[dict[str, Any]]], info: dict[str, Any], name: str) -> str:
    if info.get("Identifier"):
        return str(info["Identifier"]).lower()
    for pages in answers.values():
        context = pages[0].get("odata.metadata") or pages[0].get("@odata.context") or ""
        found = re.search(r"/(?:odata|CBS)/([^/$]+)/\$metadata", str(context), re.I)
        if found:
            return found[1].lower()
    return dataset_from_name(name)


def parse_modified(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    # v3 writes the time in Amsterdam without an offset; v4 writes the offset.
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=AMSTERDAM)).astimezone(dt.UTC)


def _period_flags(codes: list[dict[str, Any]]) -> dict[str, str]:
    """Period key → `p` for every period CBS calls provisional."""
    return {
        str(c.get("Key", c.get("Identifier", ""))).strip(): "p"
        for c in codes
        if str(c.get("Status", "")).strip().lower() in PROVISIONAL_STATUSES
    }


def _period(code: str, where: str) -> Any:
    try:
        return parse_publisher_period(code)
    except ValueError as exc:
        raise _Refused(f"{where}: {exc}") from None


def _read_v3(answers: dict[str, list[dict[str, Any]]], name: str) -> PublisherTable:
    info = _single(answers, "TableInfos")
    table = _table_id(answers, info, name)
    data_endpoint = "TypedDataSet" if "TypedDataSet" in answers else "UntypedDataSet"
    data = _rows_of(answers, data_endpoint)
    properties = _rows_of(answers, "DataProperties")
    if properties:
        ordered = sorted((p for p in properties if p.get("Position") is not None), key=lambda p: p["Position"])
        dims = [p for p in ordered if p.get("Type") in ("Dimension", "GeoDimension", "TimeDimension")]
        topics = [p for p in ordered if p.get("Type") == "Topic" and p.get("Datatype", "Double") != "String"]
        time_key = next((p["Key"] for p in dims if p["Type"] == "TimeDimension"), None)
        geo_key = next((p["Key"] for p in dims if p["Type"] == "GeoDimension"), None) or next(
            (p["Key"] for p in dims if p["Key"].startswith("Regio")), None
        )
        dim_keys = [p["Key"] for p in dims]
        units = {p["Key"]: p.get("Unit") for p in topics}
    else:
        keys = list(data[0]) if data else []
        time_key = "Perioden" if "Perioden" in keys else None
        geo_key = next((k for k in keys if k.startswith("Regio")), None)
        dim_keys = [k for k in keys if k != "ID" and not _TOPIC_KEY.fullmatch(k)]
        topics = [{"Key": k} for k in keys if _TOPIC_KEY.fullmatch(k)]
        units = {}
        _one_order_only(dim_keys, (time_key, geo_key), data_endpoint, "DataProperties")
    if time_key is None:
        if data:
            raise _Refused(
                f"{data_endpoint}: no time dimension (DataProperties names no TimeDimension and there "
                "is no Perioden column)"
            )
        time_key = ""  # no rows: no period is read
    flags = _period_flags(_rows_of(answers, time_key)) if time_key and time_key in answers else {}
    kept = [k for k in dim_keys if k not in (time_key, geo_key)]
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(data, start=1):
        line_no = int(record.get("ID", number - 1))
        where = f"{data_endpoint} row ID {line_no}"
        missing = [k for k in [*dim_keys, *(t["Key"] for t in topics)] if k not in record]
        if missing:
            raise _Refused(f"{where}: no {', '.join(missing)}")
        time_code = str(record[time_key]).strip()
        period = _period(time_code, where)
        raw = json.dumps(record, ensure_ascii=False)
        geo = cbs_geo(str(record[geo_key])) if geo_key else "NL"
        codes = [str(record[k]) for k in kept]
        for topic in topics:
            value, flag = _v3_value(record[topic["Key"]], f"{where}, {topic['Key']}")
            flag = flag or flags.get(time_code)
            rows.append(
                {
                    "native_id": native_id(PROVIDER, table, [*codes, topic["Key"]]),
                    "geo": geo,
                    "period": period.code,
                    "period_start": period.start,
                    "period_end": period.end,
                    "year": period.year,
                    "value": value,
                    "unit": units.get(topic["Key"]),
                    "qualifier": "exact",
                    "flags": flag,
                    "_line_no": line_no,
                    "_raw": raw,
                }
            )
    frame = pl.DataFrame(rows, schema=PUBLISHER_SCHEMA) if rows else empty_publisher_rows()
    return PublisherTable(PROVIDER, table, frame, title=info.get("Title"), updated=parse_modified(info.get("Modified")))


def _one_order_only(dim_keys: list[str], region_and_time: tuple[str | None, ...], endpoint: str, declares: str) -> None:
    """Without the answer that declares the dimensions, their order is known only when there is one to order: a
    row's keys come in any order, and the native ids follow the table's."""
    kept = [k for k in dim_keys if k not in region_and_time]
    if len(kept) > 1:
        raise _Refused(
            f"{endpoint}: the bundle has no {declares} answer, and its rows have {len(kept)} dimensions besides region "
            f"and time ({', '.join(kept)}) whose order in the table, which the native ids follow, a row does not "
            f"say; add the table's {declares} answer to the bundle as {declares}.json"
        )


def _v3_value(cell: Any, where: str) -> tuple[float | None, str | None]:
    """A typed number, or an untyped right-aligned string: `.` or empty = not available, `x` = secret."""
    if cell is None or isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return (None if cell is None else float(cell)), None
    text = str(cell).strip()
    if text in ("", "."):
        return None, None
    if text.lower() == "x":
        return None, "c"
    try:
        return published_float(text), None
    except ImpossibleNumber as exc:
        raise _Refused(f"{where}: value {exc}") from None
    except ValueError:
        raise _Refused(f"{where}: value {cell!r} is neither a number nor a CBS symbol (. or x)") from None


def _read_v4(answers: dict[str, list[dict[str, Any]]], name: str) -> PublisherTable:
    info = _single(answers, "Properties")
    table = _table_id(answers, info, name)
    observations = _rows_of(answers, "Observations")
    declared = _rows_of(answers, "Dimensions")
    if declared:
        dim_keys = [str(d["Identifier"]) for d in declared]
        time_key = next((str(d["Identifier"]) for d in declared if d.get("Kind") == "TimeDimension"), None)
        geo_key = next((str(d["Identifier"]) for d in declared if d.get("Kind") == "GeoDimension"), None)
    else:
        dim_keys = [k for k in (observations[0] if observations else {}) if k not in V4_RESERVED]
        time_key = "Perioden" if "Perioden" in dim_keys else None
        geo_key = None
        _one_order_only(
            dim_keys,
            (time_key, next((k for k in dim_keys if k.startswith("Regio")), None)),
            "Observations",
            "Dimensions",
        )
    geo_key = geo_key or next((k for k in dim_keys if k.startswith("Regio")), None)
    if time_key is None:
        if observations:
            raise _Refused("Observations: no time dimension (Dimensions names no TimeDimension, no Perioden column)")
        time_key = ""  # no rows: no period is read
    units = {str(m["Identifier"]): m.get("Unit") for m in _rows_of(answers, "MeasureCodes")}
    flags = _period_flags(_rows_of(answers, f"{time_key}Codes")) if time_key else {}
    kept = [k for k in dim_keys if k not in (time_key, geo_key)]
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(observations, start=1):
        line_no = int(record.get("Id", number - 1))
        where = f"Observations row Id {line_no}"
        missing = [k for k in [*dim_keys, "Measure"] if k not in record]
        if missing:
            raise _Refused(f"{where}: no {', '.join(missing)}")
        time_code = str(record[time_key]).strip()
        period = _period(time_code, where)
        value = record.get("Value")
        if value is not None and not isinstance(value, (int, float)):
            raise _Refused(f"{where}: Value {value!r} is not a number")
        attribute = str(record.get("ValueAttribute") or "None")
        flag = "c" if "confidential" in attribute.lower() else flags.get(time_code)
        measure = str(record["Measure"])
        rows.append(
            {
                "native_id": native_id(PROVIDER, table, [*(str(record[k]) for k in kept), measure]),
                "geo": cbs_geo(str(record[geo_key])) if geo_key else "NL",
                "period": period.code,
                "period_start": period.start,
                "period_end": period.end,
                "year": period.year,
                "value": None if value is None else float(value),
                "unit": units.get(measure),
                "qualifier": "exact",
                "flags": flag,
                "_line_no": line_no,
                "_raw": json.dumps(record, ensure_ascii=False),
            }
        )
    frame = pl.DataFrame(rows, schema=PUBLISHER_SCHEMA) if rows else empty_publisher_rows()
    return PublisherTable(
        PROVIDER,
        table,
        frame,
        title=info.get("Title"),
        updated=parse_modified(info.get("ObservationsModified") or info.get("Modified")),
    )
