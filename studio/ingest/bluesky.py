"""Bluesky repository exports (`.car`, Settings > Account > Export my data).

A CAR file holds the whole repository as content-addressed blocks: the signed commit, the
Merkle search tree (MST) of record keys, and the records. The tree is walked from the commit so
only records still in the repository are read, and of those only `app.bsky.feed.post/...`:
likes, reposts, follows and blocks are not the person's words. Blocks are decoded with
`libipld` (Rust, no other dependencies), imported only when a CAR file is read.
"""

from __future__ import annotations

from studio.errors import InputError
from studio.ingest.base import Post

POST_COLLECTION = "app.bsky.feed.post/"
LINK_FACET = "app.bsky.richtext.facet#link"


def is_car(head: bytes) -> bool:
    """A CARv1 header: a varint length, then the DAG-CBOR map {"roots": [...], "version": 1}."""
    return b"\xa2eroots" in head[:12]


def parse_car(data: bytes, source: str) -> list[Post]:
    """Posts from the bytes of a Bluesky repository CAR file: the owner's own posts only."""
    try:
        import libipld
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise InputError("Reading Bluesky .car files needs the libipld package: pip install libipld==3.5.0. "
                         "Or export the posts as CSV/JSON.") from exc
    try:
        header, blocks = libipld.decode_car(data)
        commit = blocks.get(_cid(header["roots"][0]))
        if not isinstance(commit, dict) or "data" not in commit:
            raise ValueError("no repository commit at the root")
        entries = list(_walk(blocks, _cid(commit["data"]), set()))
    except InputError:
        raise
    except Exception as exc:  # libipld raises ValueError and others for any broken bytes
        raise InputError(f"{source} is not a readable Bluesky repository export ({exc}); "
                         "export it again (Settings > Account > Export my data).") from exc
    did = commit.get("did") or ""
    posts = []
    for key, cid in entries:
        record = blocks.get(cid)
        if key.startswith(POST_COLLECTION) and isinstance(record, dict) and record.get("$type", "app.bsky.feed.post") == "app.bsky.feed.post":
            posts.append(record_to_post(record, source, f"at://{did}/{key}" if did else key))
    return posts  # in key order: record keys are timestamps, so oldest first


def record_to_post(record: dict, source: str, uri: str | None = None) -> Post:
    """One `app.bsky.feed.post` record; link facets put back to their full URLs."""
    parent = ((record.get("reply") or {}).get("parent") or {}).get("uri") or ""
    langs = record.get("langs") or []
    return Post(
        text=expand_links(record.get("text") or "", record.get("facets") or []),
        source=source,
        created_at=record.get("createdAt"),
        lang=langs[0] if langs else None,
        id=uri,
        is_reply=bool(record.get("reply")),
        reply_to=parent.split("/")[2] if parent.startswith("at://") else None,  # the DID replied to
        reply_to_id=parent or None,
    )


def expand_links(text: str, facets: list) -> str:
    """Bluesky shows long links shortened (`example.com/abc...`); the facet holds the full URL.

    Facets index UTF-8 bytes, so the replacement is done on the bytes, last facet first.
    """
    data = text.encode("utf-8")
    spans = []
    for facet in facets:
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        uri = next((f.get("uri") for f in facet.get("features") or [] if f.get("$type") == LINK_FACET), None)
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data) and uri:
            spans.append((start, end, uri))
    for start, end, uri in sorted(spans, reverse=True):
        data = data[:start] + uri.encode("utf-8") + data[end:]
    return data.decode("utf-8", errors="replace")


def _cid(link) -> bytes:
    """A CID as the bytes `decode_car` keys its blocks by (links decode as bytes, header roots may be text)."""
    if isinstance(link, str):
        import libipld

        return libipld.decode_multibase(link)[1]
    return link


def _walk(blocks: dict, cid: bytes, seen: set):
    """(record key, record CID) pairs of an MST node and its subtrees, in key order."""
    if cid in seen:
        raise ValueError("the record tree loops")
    seen.add(cid)
    node = blocks.get(cid)
    if not isinstance(node, dict):
        return  # a partial export may leave subtrees out
    if node.get("l"):
        yield from _walk(blocks, _cid(node["l"]), seen)
    key = b""
    for entry in node.get("e") or []:
        key = key[: entry["p"]] + entry["k"]  # keys are stored as a shared prefix length + the rest
        yield key.decode("utf-8", errors="replace"), _cid(entry["v"])
        if entry.get("t"):
            yield from _walk(blocks, _cid(entry["t"]), seen)
