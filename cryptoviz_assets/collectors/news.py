"""News RSS feeds (CoinDesk, Cointelegraph, ...): one article event per item.

Feeds are untrusted XML. The body is size-limited by the HTTP layer; here defusedxml
refuses entity declarations and external entities (billion laughs, XXE) before feedparser
sees a byte, and feedparser gets the bytes themselves, never a URL or a file name.
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import ParseError

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from cryptoviz_assets.collectors.base import Collector, Event, PayloadError, Rejection, records
from cryptoviz_assets.collectors.budget import Limits
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import envelope

_DANGEROUS = re.compile(rb"<!\s*(ENTITY|DOCTYPE)", re.IGNORECASE)


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment, dropping tags, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "br", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment, entities decoded, whitespace collapsed."""
    parser = _TextOnly()
    parser.feed(fragment or "")
    parser.close()
    return " ".join(unescape("".join(parser.parts)).split())


def check_xml_is_safe(body: bytes) -> Any:
    """The parsed XML root; refuses entity declarations and external entities."""
    try:
        return safe_fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise PayloadError(
            f"unsafe XML refused ({type(exc).__name__}: {exc}); entity declarations and "
            "external entities are never expanded"
        ) from exc
    except ParseError as exc:
        # Malformed before the parser reached a declaration: refuse anything declaring one.
        if _DANGEROUS.search(body):
            raise PayloadError(f"malformed XML with a DTD refused: {exc}") from exc
        raise PayloadError(f"malformed XML: {exc}") from exc


def parse_feed(body: bytes, content_type: str = "application/rss+xml") -> Any:
    """feedparser's view of a feed that passed the safety check.

    feedparser lets an empty `<dc:description/>` (CoinDesk sends one in every item) wipe
    the RSS `<description>`; the plain RSS descriptions are kept to fill that gap.
    """
    root = check_xml_is_safe(body)
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-type": content_type})
    if parsed.bozo and not parsed.entries:
        raise PayloadError(f"not a readable feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version"):
        raise PayloadError("not a readable feed: no RSS or Atom document element")
    descriptions = _rss_descriptions(root)
    for entry in parsed.entries:
        if not entry.get("summary"):
            entry["summary"] = descriptions.get(entry.get("id") or entry.get("link") or "", "")
    return parsed


def _rss_descriptions(root: Any) -> dict[str, str]:
    """guid (or link) -> <description> text of every RSS 2.0 item."""
    found: dict[str, str] = {}
    for item in root.iter("item"):
        key = (item.findtext("guid") or item.findtext("link") or "").strip()
        text = (item.findtext("description") or "").strip()
        if key and text:
            found[key] = text
    return found


class NewsCollector(Collector):
    name = "news"
    record_type = "news_article"
    topic_role = "news"

    def requests(self) -> list[Request]:
        settings = self.settings
        limits = Limits(settings.news_calls_per_minute, settings.news_calls_per_month)
        return [
            Request(source=source, url=url, expect="xml", limits=limits)
            for source, url in settings.news_feed_urls.items()
        ]

    def parse(self, response: Response, ingest_time: datetime) -> Iterable[Event | Rejection]:
        parsed = parse_feed(response.body, response.content_type)
        source = response.request.source
        return records(
            parsed.entries, lambda entry: article(entry, source, ingest_time, response.replayed)
        )


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def article(entry: Any, source: str, ingest_time: datetime, replayed: bool) -> Event:
    guid = str(entry.get("id") or entry.get("link") or "").strip()
    if not guid:
        raise ValueError("item has neither guid nor link")
    title = strip_html(entry.get("title", ""))
    if not title:
        raise ValueError(f"item {guid!r} has no title")
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp is None:
        raise ValueError(f"item {guid!r} has no readable published or updated time")
    published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
    authors = [strip_html(str(a.get("name", ""))) for a in entry.get("authors", []) or []]
    if not any(authors) and entry.get("author"):
        authors = [strip_html(str(entry["author"]))]
    value = envelope(
        "news_article",
        (source, guid),
        source,
        event_time=published,
        ingest_time=ingest_time,
        replayed=replayed,
    )
    value |= {
        "guid": guid,
        "url": str(entry.get("link") or ""),
        "title": title,
        "summary": strip_html(entry.get("summary", "")),
        "authors": _unique(authors),
        "categories": _unique(
            strip_html(str(tag.get("term") or "")) for tag in entry.get("tags", []) or []
        ),
    }
    return Event(source, value)
