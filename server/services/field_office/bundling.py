"""No link at all: the office writes its changes since a cursor into a signed bundle
(`sync.bundles`) that someone carries to headquarters, which imports it with the same rules as
a sync: each item applied in order, recognised if held. A bundle that was changed, or signed by
another key, is refused whole; one imported before is refused as a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from server import database
from server.database.models import SyncBundle
from server.database.queries import field_offices as field_office_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import audit
from server.services.field_office import applying, feed, registry
from server.services.field_office.applying import Applied
from sync import bundles, field_sync


@dataclass
class Written:
    path: Path
    items: int
    files: int
    first_seq: int
    last_seq: int


def write(session: Session, store: BlobStore, data_dir: str, path: Path,
          since: int | None = None) -> Written:
    """The office's changes after `since` (by default, what headquarters last said it had)."""
    hq = field_office_queries.headquarters(session)
    if hq is None or not hq.own_name:
        raise Problem(problems.NOT_JOINED)
    after = hq.up_seq if since is None else since
    items, last = [], after
    while True:
        page = feed.page(session, hq, after)
        items += page.items
        after = page.next_after
        last = max(last, page.next_after)
        if not page.more:
            break
    session.commit()
    blobs = {sha: store.path(sha) for item in items for sha in item.blobs}
    manifest = bundles.write(path, office=hq.own_name, items=[i.as_json() for i in items],
                             blobs=blobs, private_key=registry.signing_key(data_dir),
                             last_seq=last)
    return Written(path, len(items), len(blobs), manifest["first_seq"], last)


def import_(session: Session, store: BlobStore, path: Path, *,
            address: str | None = None) -> tuple[bundles.Bundle, Applied]:
    """Headquarters: apply a bundle an office wrote, once."""
    def key_of(office: str) -> str | None:
        peer = field_office_queries.peer_by_name(session, office)
        return peer.public_key if peer is not None and peer.role == "office" \
            and peer.revoked_at is None else None
    try:
        bundle = bundles.read(path, key_of)
    except bundles.BundleInvalid as error:
        raise Problem(problems.BUNDLE_INVALID, reason=str(error)) from error
    peer = field_office_queries.peer_by_name(session, bundle.office)
    earlier = field_office_queries.bundle(session, bundle.bundle_id)
    if earlier is not None:
        raise Problem(problems.BUNDLE_REPLAYED, bundle_id=bundle.bundle_id,
                      imported_at=earlier.imported_at.strftime("%Y-%m-%d %H:%M"))
    try:
        items = [field_sync.read_item(raw, field_sync.UP) for raw in bundle.items]
    except field_sync.ItemInvalid as error:
        raise Problem(problems.BUNDLE_INVALID, reason=str(error)) from error
    peer_id = peer.id
    session.commit()
    for _sha, file in bundle.blobs():  # checked when read: each is its name
        store.put_stream(iter(lambda f=file: f.read(1 << 16), b""))
    done = applying.apply(session, store, peer_id, items,
                          through=int(bundle.manifest.get("last_seq") or 0))
    database.write_after_reading(session)
    session.add(SyncBundle(id=bundle.bundle_id, peer_id=peer_id, sha256=bundle.sha256,
                           first_seq=int(bundle.manifest.get("first_seq") or 0),
                           last_seq=int(bundle.manifest.get("last_seq") or 0),
                           items=len(items)))
    audit.record(session, "field_office.bundle_imported", user=None, address=address,
                 username=bundle.office, office=bundle.office, bundle=bundle.bundle_id,
                 items=len(items), applied=done.applied, refused=len(done.refused))
    session.commit()
    return bundle, done
