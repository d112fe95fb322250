"""One sync of a field office with its headquarters, as the office runs it: its changes up from
where headquarters says it has them (files first, each resumed where a cut left it; then the
items), then headquarters' changes down from where the office has them. Every step is safe to
cut: what was applied is known to both ends by its number, what was not is sent again and
recognised. `loop` runs it on its own, retrying with backoff while the link is down.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy.orm import Session

from server import database
from server.database import Database
from server.database.models import SyncPeer, utcnow
from server.database.queries import field_offices as field_office_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services.field_office import feed, registry, transfer
from server.services.field_office.client import Headquarters, LinkDown, Refused
from sync import bundles, field_sync

log = logging.getLogger(__name__)

# progress(stage, done, total): stage is "up", "files up", "down" or "files down"
Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    pass


@dataclass
class Report:
    sent: int = 0  # items headquarters applied
    sent_held: int = 0  # items it already had
    refused_up: list[tuple[int, str]] = field(default_factory=list)
    received: int = 0
    received_held: int = 0
    refused_down: list[tuple[int, str]] = field(default_factory=list)
    conflicts: int = 0
    files_up: int = 0
    files_down: int = 0

    def lines(self) -> list[str]:
        out = [f"up: {self.sent} applied at headquarters, {self.sent_held} already there, "
               f"{len(self.refused_up)} refused, {self.files_up} files sent",
               f"down: {self.received} applied here, {self.received_held} already here, "
               f"{len(self.refused_down)} refused, {self.files_down} files received"]
        if self.conflicts:
            out.append(f"{self.conflicts} review conflicts for a supervisor")
        out += [f"refused at headquarters: change {seq}: {why}" for seq, why in self.refused_up]
        out += [f"refused here: change {seq}: {why}" for seq, why in self.refused_down]
        return out


class Syncing:
    def __init__(self, db: Database, store: BlobStore, data_dir: str,
                 progress: Progress = _quiet, *, timeout: float = 60.0):
        self.db, self.store, self.data_dir, self.progress = db, store, data_dir, progress
        self.timeout = timeout

    def _session(self) -> Session:
        # reads freely; each write takes its turn (write_after_reading) when it comes
        return self.db.session(writing=False)

    def headquarters(self, session: Session) -> SyncPeer:
        peer = field_office_queries.headquarters(session)
        if peer is None:
            raise Problem(problems.NOT_JOINED)
        return peer

    def link(self, session: Session) -> Headquarters:
        peer = self.headquarters(session)
        return Headquarters(peer.url, peer.token, timeout=self.timeout,
                            last_seq=lambda: field_office_queries.last_seq(session))

    def join(self, url: str, token: str) -> dict:
        """Join the headquarters at `url` with the token it gave; tell it this office's key."""
        hq = Headquarters(url, token, timeout=self.timeout)
        try:
            greeting = _refusals_as_problems(hq.hello)
            _refusals_as_problems(partial(hq.send_key, bundles.public_key_of(
                registry.signing_key(self.data_dir))))
        finally:
            hq.close()
        with self.db.writing() as session:
            registry.join(session, url, token, greeting)
        return greeting

    def sync(self) -> Report:
        """One sync, both ways; one at a time on this server (the loop and a sync run by hand
        would otherwise send the same changes together)."""
        lock = Path(self.data_dir) / "field-office.sync.lock"
        with open(lock, "a") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise Problem(problems.SYNC_RUNNING) from error
            try:
                return self._sync()
            finally:
                fcntl.flock(held, fcntl.LOCK_UN)

    def _sync(self) -> Report:
        report = Report()
        session = self._session()
        try:
            hq = self.link(session)
            try:
                greeting = _refusals_as_problems(hq.hello)
                if greeting.get("protocol") != field_sync.PROTOCOL:
                    raise Problem(problems.SYNC_PROTOCOL, theirs=greeting.get("protocol"),
                                  ours=field_sync.PROTOCOL)
                self._heard(session, greeting)
                self._up(session, hq, int(greeting.get("up_seq") or 0), report)
                self._down(session, hq, report)
            finally:
                hq.close()
            self._done(session, None)
        except LinkDown as error:
            session.rollback()
            self._done(session, f"headquarters could not be reached: {error}")
            raise
        except Problem as problem:
            session.rollback()
            self._done(session, problem.message)
            raise
        finally:
            session.close()
        return report

    def _heard(self, session: Session, greeting: dict) -> None:
        database.write_after_reading(session)
        peer = field_office_queries.lock_peer(session, self.headquarters(session).id)
        peer.up_seq = int(greeting.get("up_seq") or 0)  # headquarters' word: what it holds
        peer.their_seq = int(greeting.get("last_seq") or 0)
        peer.places = json.dumps(greeting.get("places") or [], ensure_ascii=False)
        peer.last_contact_at = utcnow()
        session.commit()

    def _done(self, session: Session, error: str | None) -> None:
        database.write_after_reading(session)
        peer = field_office_queries.headquarters(session)
        if peer is not None:
            peer.last_error = error
            if error:
                peer.last_error_at = utcnow()
            else:
                peer.last_contact_at = utcnow()
        session.commit()

    # Up ----------------------------------------------------------------------------------------

    def _up(self, session: Session, hq: Headquarters, after: int, report: Report) -> None:
        """Pages of changes, each sent once headquarters has applied the one before; while it
        applies one, the next is read here and its files sent (two cores, two ends at work)."""
        peer = self.headquarters(session)
        total, done = feed.waiting(session, peer, after), 0
        page = self._page(session, peer, after)
        if page is None:
            return
        self._send_files(hq, page.items, report)
        # the items go on a connection of their own, from a thread that never reads the database
        poster = Headquarters(hq.base, hq.token, timeout=self.timeout, last_seq=lambda: last)
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="sync-up") as thread:
                while page is not None:
                    last = field_office_queries.last_seq(session)
                    session.commit()
                    items = [i.as_json() for i in page.items]
                    send = partial(poster.send, items, through=page.next_after)
                    answered = thread.submit(_refusals_as_problems, send)
                    following = self._page(session, peer, page.next_after) if page.more \
                        else None
                    if following is not None:
                        self._send_files(hq, following.items, report)
                    answer = answered.result()
                    if answer.get("missing"):  # a file lost on headquarters' side since: again
                        self._send_files(hq, page.items, report, only=set(answer["missing"]))
                        answer = _refusals_as_problems(send)
                    report.sent += int(answer.get("applied", 0))
                    report.sent_held += int(answer.get("held", 0))
                    report.conflicts += int(answer.get("conflicts", 0))
                    report.refused_up += [(r["seq"], r["reason"])
                                          for r in answer.get("refused", [])]
                    if int(answer.get("cursor", after)) < page.next_after:
                        raise LinkDown("headquarters did not take every change; trying again "
                                       "later")
                    after = page.next_after
                    done += len(page.items)
                    self.progress("up", done, max(total, done))
                    self._record(session, up_seq=after)
                    page = following
        finally:
            poster.close()

    def _page(self, session: Session, peer: SyncPeer, after: int) -> feed.Page | None:
        """The office's next page of changes after `after`, or None when there are none."""
        page = feed.page(session, peer, after)
        session.commit()
        return page if page.next_after > after else None

    def _send_files(self, hq: Headquarters, items, report: Report,
                    only: set[str] | None = None) -> None:
        shas = sorted({sha for item in items for sha in item.blobs}
                      if only is None else only)
        sizes = {sha: self.store.path(sha).stat().st_size for sha in shas}
        total, sent = sum(sizes.values()), 0

        def moved(n: int) -> None:
            nonlocal sent
            sent += n
            self.progress("files up", sent, total)
        for sha in shas:
            if _refusals_as_problems(partial(hq.upload, sha, self.store.path(sha), moved)):
                report.files_up += 1  # not one headquarters already had

    # Down --------------------------------------------------------------------------------------

    def _down(self, session: Session, hq: Headquarters, report: Report) -> None:
        peer = self.headquarters(session)
        after, done = peer.down_seq, 0
        session.commit()
        while True:
            answer = _refusals_as_problems(partial(hq.changes, after, feed.BATCH))
            told = after  # asking for changes after it says the office has applied up to there
            try:
                items = [field_sync.read_item(raw, field_sync.DOWN)
                         for raw in answer.get("items", [])]
            except field_sync.ItemInvalid as error:
                raise Problem(problems.SYNC_ITEM_INVALID, reason=str(error)) from error
            cursor = self._apply(session, hq, peer.id, items, report) if items else after
            after = max(cursor, int(answer.get("next_after", after)))
            if after != told:
                self._record(session, down_seq=after)
            done += len(items)
            self.progress("down", done, max(done, int(answer.get("last_seq", 0)) - peer.down_seq))
            if not answer.get("more"):
                break
        if after != told:
            _refusals_as_problems(partial(hq.changes, after, 0))  # says where the office is

    def _apply(self, session: Session, hq: Headquarters, peer_id: int, items,
               report: Report) -> int:
        """Headquarters' changes, their files first; where the office's cursor is after them."""
        # here, not at the top: applying imports what every kind of change needs, which a sync
        # with nothing to receive (most of them) should not wait for
        from server.services.field_office import applying

        self._fetch_files(hq, items, report)
        applied = applying.apply(session, self.store, peer_id, items)
        report.received += applied.applied
        report.received_held += applied.held
        report.conflicts += applied.conflicts
        report.refused_down += applied.refused
        if applied.missing:
            raise LinkDown("a file of headquarters' changes did not arrive whole")
        return applied.cursor

    def _fetch_files(self, hq: Headquarters, items, report: Report) -> None:
        partials = transfer.Partials(self.data_dir, "headquarters")
        wanted = sorted({sha for item in items for sha in item.blobs
                         if not self.store.path(sha).is_file()})
        got = 0

        def moved(n: int) -> None:
            nonlocal got
            got += n
            self.progress("files down", got, 0)
        for sha in wanted:
            _refusals_as_problems(partial(hq.download, sha, partials.path(sha), moved))
            partials.take(self.store, sha)
            report.files_down += 1

    def _record(self, session: Session, *, up_seq: int | None = None,
                down_seq: int | None = None) -> None:
        database.write_after_reading(session)
        peer = field_office_queries.lock_peer(session, self.headquarters(session).id)
        if up_seq is not None:
            peer.up_seq = max(peer.up_seq, up_seq)
        if down_seq is not None:
            peer.down_seq = max(peer.down_seq, down_seq)
        peer.last_contact_at = utcnow()
        session.commit()


def _refusals_as_problems(call):
    try:
        return call()
    except Refused as refused:
        if refused.status == 401:
            raise Problem(problems.SYNC_TOKEN_INVALID) from refused
        raise Problem(problems.SYNC_ITEM_INVALID, reason=refused.message) from refused


BACKOFF = field_sync.Backoff()


def loop(syncing: Syncing, stop: threading.Event, *, every: float = 60.0,
         backoff: field_sync.Backoff = BACKOFF) -> None:
    """Sync every `every` seconds while the link is up; after a failure, wait longer each time
    (`backoff`), so a link down for weeks costs little and a link back is used soon."""
    failures = 0
    while not stop.is_set():
        try:
            report = syncing.sync()
            failures = 0
            log.info("field-office sync: %s", "; ".join(report.lines()))
            wait = every
        except LinkDown as error:
            failures += 1
            wait = backoff.delay(failures)
            log.warning("field-office sync: link down (%s); next try in %.0f s", error, wait)
        except Problem as problem:
            if problem.type in (problems.NOT_JOINED, problems.SYNC_RUNNING):
                # not (yet) an office, or a sync run by hand is under way: look again later
                wait = every
            else:
                failures += 1
                wait = max(every, backoff.delay(failures))
                log.warning("field-office sync: %s; next try in %.0f s", problem.message, wait)
        stop.wait(wait)
