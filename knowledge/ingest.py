"""Import knowledge from Markdown, HTML, FAQ JSONL and URLs; validate a whole file before writing."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from knowledge.errors import KnowledgeError
from knowledge.lint import lint_article
from knowledge.models import Article
from knowledge.store import ArticleDraft, KnowledgeBase

MARKDOWN = {".md", ".markdown"}
HTML = {".html", ".htm"}
JSONL = {".jsonl"}
SUPPORTED = MARKDOWN | HTML | JSONL
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    """What an import did: article counts plus one `path:line: message` per rejected file."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    files: int = 0
    errors: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # held back by the safety lint (no --force)
    assumed: list[str] = field(default_factory=list)  # `path: what was guessed` (no front matter)

    @property
    def ok(self) -> bool:
        """True when every file was imported."""
        return not self.errors and not self.flagged

    def summary(self) -> str:
        """One line for humans."""
        text = (
            f"{self.files} file(s): {self.added} added, {self.updated} updated, "
            f"{self.skipped} unchanged"
        )
        text += f", {len(self.errors)} file(s) rejected" if self.errors else ""
        text += (
            f", {len(self.assumed)} file(s) without front matter (defaults assumed, listed below)"
            if self.assumed
            else ""
        )
        return text + (
            f", {len(self.flagged)} article(s) held by the safety lint (re-run with --force)"
            if self.flagged
            else ""
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for `--json` output."""
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "files": self.files,
            "errors": list(self.errors),
            "flagged": list(self.flagged),
            "assumed": list(self.assumed),
        }


class ParseError(Exception):
    """A problem at one line of one file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# -- parsing ----------------------------------------------------------------------------------------
def _decode(data: bytes) -> str:
    """UTF-8 text (BOM tolerated), or ParseError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})") from None


def _tag_list(value: Any, line: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list) and all(isinstance(t, str | int | float) for t in value):
        return tuple(str(t).strip() for t in value if str(t).strip())
    raise ParseError(line, "tags must be a list or a comma-separated string")


def _text_field(meta: dict[str, Any], key: str, line: int, default: str = "") -> str:
    value = meta.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str | int | float):
        raise ParseError(line, f"{key} must be text")
    return str(value).strip()


def parse_markdown(text: str, source: str, stem: str) -> list[ArticleDraft]:
    """One article from Markdown with optional YAML front matter (title, url, topic, tags, owner, id)."""
    lines = text.splitlines()
    meta: dict[str, Any] = {}
    body_start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            raise ParseError(1, "front matter opened with '---' is never closed")
        try:
            loaded = yaml.safe_load("\n".join(lines[1:end]))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ParseError(line, f"bad YAML front matter: {problem}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ParseError(2, "front matter must be a mapping of keys to values")
        meta = loaded or {}
        body_start = end + 1
    body_lines = lines[body_start:]
    title = _text_field(meta, "title", 2)
    title_from = ""
    if not title:
        for i, line in enumerate(body_lines):
            match = re.match(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", line)
            if match:
                title, title_from = match.group(1), "the first heading"
                del body_lines[i]
                break
            if line.strip():
                break
    if not title:
        title, title_from = (
            stem.replace("-", " ").replace("_", " ").strip().capitalize(),
            "the file name",
        )
    assumed = (
        f"no front matter: title {title!r} (from {title_from}), topic 'general', no URL, no tags; "
        "add a '---' block with title, url, topic, tags to set them"
        if body_start == 0
        else ""
    )
    body = "\n".join(body_lines).strip()
    if not body:
        raise ParseError(body_start + 1, "empty body")
    return [
        ArticleDraft(
            title=title,
            body=body,
            url=_text_field(meta, "url", 2),
            topic=_text_field(meta, "topic", 2, "general") or "general",
            tags=_tag_list(meta.get("tags"), 2),
            owner=_text_field(meta, "owner", 2),
            source=source,
            external_id=_text_field(meta, "id", 2) or stem,
            assumed=assumed,
        )
    ]


def parse_faq_jsonl(text: str, source: str) -> list[ArticleDraft]:
    """FAQ lines {"id", "question", "answer"} (+ optional url, topic, tags) into articles."""
    drafts: list[ArticleDraft] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ParseError(n, f"bad JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(item, dict):
            raise ParseError(n, "expected a JSON object")
        for key in ("question", "answer"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ParseError(n, f'missing or empty "{key}"')
        ext = _text_field(item, "id", n) or f"line-{n}"
        if ext in seen:
            raise ParseError(n, f'duplicate id "{ext}" (first on line {seen[ext]})')
        seen[ext] = n
        drafts.append(
            ArticleDraft(
                title=" ".join(item["question"].split()),
                body=item["answer"].strip(),
                url=_text_field(item, "url", n),
                topic=_text_field(item, "topic", n, "general") or "general",
                tags=_tag_list(item.get("tags"), n),
                source=source,
                external_id=ext,
            )
        )
    if not drafts:
        raise ParseError(1, "no FAQ entries")
    return drafts


class _HtmlText(HTMLParser):
    """Collect readable text, keeping headings as Markdown so chunking can split on them."""

    SKIP = {"script", "style", "noscript", "nav", "footer", "header", "svg", "form", "template"}
    BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "pre", "blockquote", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self._skip = 0
        self._in_title = False
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = tag
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCK:
            self.parts.append("\n\n" if tag in ("p", "div", "section", "article") else "\n")
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == self._heading:
            self._heading = None
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            if self._heading == "h1":
                self.h1 += data
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        raw = "".join(self.parts)
        lines = [line.strip() for line in raw.splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_html(text: str, source: str, stem: str, url: str = "") -> list[ArticleDraft]:
    """One article from an HTML page: <title> or first <h1>, readable text as Markdown-ish body."""
    parser = _HtmlText()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; this is a safety net
        raise ParseError(1, f"unreadable HTML: {exc}") from None
    title = " ".join((parser.h1 or parser.title).split()) or stem
    body = parser.text()
    first = f"# {title}"
    if body.startswith(first):
        body = body[len(first) :].strip()
    if not body:
        raise ParseError(1, "no readable text in the page")
    return [ArticleDraft(title=title, body=body, url=url, source=source, external_id=stem)]


def parse_file(path: Path) -> list[ArticleDraft]:
    """Parse one supported file completely (raises ParseError on the first problem)."""
    text = _decode(path.read_bytes())
    source = str(path.resolve())
    suffix = path.suffix.lower()
    if suffix in JSONL:
        return parse_faq_jsonl(text, source)
    if suffix in HTML:
        return parse_html(text, source, path.stem)
    if suffix in MARKDOWN:
        return parse_markdown(text, source, path.stem)
    raise ParseError(1, f"unsupported file type {suffix or '(none)'}")


# -- writing ----------------------------------------------------------------------------------------
def write_drafts(
    kb: KnowledgeBase,
    drafts: list[ArticleDraft],
    report: ImportReport,
    allowed_domains: list[str] | None = None,
    force: bool = False,
) -> None:
    """Add new drafts in one batch; update those matching (source, external_id); skip unchanged.

    Drafts the safety lint flags are held back (listed in report.flagged) unless `force`.
    """
    new: list[ArticleDraft] = []
    for draft in drafts:
        findings = lint_article(draft.title, draft.body, draft.url, allowed_domains)
        if findings and not force:
            report.flagged += [f"{draft.source}: {draft.title}: {f}" for f in findings]
            continue
        existing = kb.find(draft.source, draft.external_id) if draft.external_id else None
        if existing is None:
            new.append(draft)
            continue
        changes = {
            "title": draft.title,
            "body": draft.body,
            "url": draft.url,
            "topic": draft.topic,
            "tags": ",".join(draft.tags),
            "owner": draft.owner or existing.owner,
        }
        if all(getattr(existing, k) == v for k, v in changes.items()):
            report.skipped += 1
            continue
        assert existing.id is not None
        kb.edit_article(existing.id, actor="import", **changes)
        report.updated += 1
    if new:
        kb.add_articles(new, actor="import")
        report.added += len(new)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
    if path.is_file():
        return [path]
    raise KnowledgeError(f"{path}: no such file or directory")


def import_path(
    kb: KnowledgeBase,
    path: Path | str,
    progress: Progress | None = None,
    allowed_domains: list[str] | None = None,
    force: bool = False,
) -> ImportReport:
    """Import a file or a folder (Markdown, HTML, FAQ JSONL); bad files are reported, not written."""
    files = _files(Path(path))
    report = ImportReport()
    if progress:
        progress(0, len(files))
    for done, file in enumerate(files, start=1):
        try:
            drafts = parse_file(file)
        except ParseError as exc:
            report.errors.append(f"{file}:{exc.line}: {exc.message}")
        except OSError as exc:
            report.errors.append(f"{file}:0: cannot read: {exc.strerror or exc}")
        else:
            report.assumed += [f"{file}: {d.assumed}" for d in drafts if d.assumed]
            try:
                write_drafts(kb, drafts, report, allowed_domains, force)
                report.files += 1
            except KnowledgeError as exc:
                report.errors.append(f"{file}:0: {exc.message}")
        if progress:
            progress(done, len(files))
    return report


def fetch_url(url: str, timeout: float = 10.0, max_bytes: int = 5_000_000) -> tuple[bytes, str]:
    """GET a page: (body, content type); KnowledgeError with a plain reason on any failure."""
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise KnowledgeError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(
        url, headers={"User-Agent": "Deskhand/0.1 (+knowledge import)"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            data = resp.read(max_bytes + 1)
            ctype = resp.headers.get_content_type() or ""
    except urllib.error.HTTPError as exc:
        raise KnowledgeError(f"could not fetch {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise KnowledgeError(
            f"could not fetch {url}: {exc.reason} (is the network available?)"
        ) from None
    except TimeoutError:
        raise KnowledgeError(f"could not fetch {url}: timed out after {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"could not fetch {url}: {exc}") from None
    if len(data) > max_bytes:
        raise KnowledgeError(f"{url}: page is larger than {max_bytes // 1_000_000} MB")
    return data, ctype


def import_url(
    kb: KnowledgeBase,
    url: str,
    timeout: float = 10.0,
    allowed_domains: list[str] | None = None,
    force: bool = False,
) -> Article:
    """Fetch one page (HTML, Markdown or plain text), add or update it, and return the article."""
    data, ctype = fetch_url(url, timeout)
    stem = url.rstrip("/").rsplit("/", 1)[-1] or url
    try:
        text = _decode(data)
        if "html" in ctype or re.search(rb"<html|<body|<p[ >]", data[:2048], re.IGNORECASE):
            drafts = parse_html(text, url, url, url=url)
        else:
            drafts = [
                ArticleDraft(**{**d.__dict__, "url": d.url or url, "external_id": url})
                for d in parse_markdown(text, url, stem)
            ]
    except ParseError as exc:
        raise KnowledgeError(f"{url}:{exc.line}: {exc.message}") from None
    report = ImportReport()
    write_drafts(kb, drafts, report, allowed_domains, force)
    if report.flagged:
        raise KnowledgeError(
            "Not imported: the safety lint found "
            + "; ".join(report.flagged)
            + ". Check the page; an admin can import it anyway with --force."
        )
    article = kb.find(url, drafts[0].external_id)
    assert article is not None
    return article
