"""A phone that speaks to the server as ODK Collect does: the same headers, the same download path
(form list → each form → its manifest → each media file), checking every hash as Collect does.

It runs over any transport: the Flask test client in integration tests, real HTTP in end-to-end
tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml import etree

FORM_LIST_NS = {"x": "http://openrosa.org/xforms/xformsList"}
MANIFEST_NS = {"m": "http://openrosa.org/xforms/xformsManifest"}
XML_PART = "xml_submission_file"
COLLECT_HEADERS = {
    "X-OpenRosa-Version": "1.0",
    "User-Agent": "org.odk.collect.android/v2025.2.3 (muntada tests)",
    "Accept-Encoding": "gzip",
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)


# (method, url, headers, body) -> Reply
Transport = Callable[..., Reply]


@dataclass
class DownloadedForm:
    form_id: str
    version: str
    xform: bytes
    media: dict[str, bytes] = field(default_factory=dict)


class Phone:
    def __init__(self, transport: Transport, server_url: str):
        self.transport = transport
        self.server_url = server_url.rstrip("/")

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Reply:
        if not urlsplit(url).scheme:
            url = f"{self.server_url}/{url.lstrip('/')}"
        return self.transport(method, url, {**COLLECT_HEADERS, **(headers or {})})

    def get(self, url: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", url, headers)

    def submit(self, xml: bytes, attachments: dict[str, bytes] | None = None, *,
               incomplete: bool = False, headers: dict[str, str] | None = None,
               device_id: str | None = "collect:muntada-test") -> Reply:
        """POST an instance as Collect does: multipart, the XML in xml_submission_file; with
        `device_id=None`, no ?deviceID= in the URL (as clients other than Collect send)."""
        boundary = "----muntada-phone-boundary"
        parts = [(XML_PART, "submission.xml", "text/xml", xml)]
        parts += [(name, name, "application/octet-stream", body)
                  for name, body in (attachments or {}).items()]
        if incomplete:
            parts.append(("*isIncomplete*", None, None, b"yes"))
        body = b""
        for name, filename, content_type, data in parts:
            disposition = f'form-data; name="{name}"' + (
                f'; filename="{filename}"' if filename else "")
            body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
            if content_type:
                body += f"Content-Type: {content_type}\r\n".encode()
            body += b"\r\n" + data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        query = f"?deviceID={device_id}" if device_id is not None else ""
        return self.post(f"submission{query}", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})})

    def post(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        if not urlsplit(url).scheme:
            url = f"{self.server_url}/{url.lstrip('/')}"
        return self.transport("POST", url, {**COLLECT_HEADERS, **(headers or {})}, body)

    def form_list(self, form_id: str | None = None) -> list[dict[str, str]]:
        query = "?deviceID=collect:muntada-test" + (f"&formID={form_id}" if form_id else "")
        reply = self.get("formList" + query)
        assert reply.status == 200, reply.body
        assert reply.headers["Content-Type"].startswith("text/xml")
        assert reply.headers["X-OpenRosa-Version"] == "1.0"
        entries = []
        for xform in reply.xml().findall("x:xform", FORM_LIST_NS):
            entry = {etree.QName(child).localname: (child.text or "") for child in xform}
            # Collect drops the whole list when one entry lacks one of these.
            assert {"formID", "name", "downloadUrl"} <= entry.keys(), entry
            entries.append(entry)
        return entries

    def download_form(self, entry: dict[str, str]) -> bytes:
        reply = self.get(entry["downloadUrl"])
        assert reply.status == 200, reply.body
        assert entry["hash"] == "md5:" + hashlib.md5(reply.body).hexdigest(), entry["formID"]
        return reply.body

    def manifest(self, entry: dict[str, str]) -> list[dict[str, str]]:
        reply = self.get(entry["manifestUrl"])
        assert reply.status == 200, reply.body
        assert reply.headers["X-OpenRosa-Version"] == "1.0"
        return [{**{etree.QName(child).localname: (child.text or "") for child in media},
                 **({"type": media.get("type")} if media.get("type") else {})}
                for media in reply.xml().findall("m:mediaFile", MANIFEST_NS)]

    def deleted_states(self, media: dict[str, str], ids: list[str]) -> dict[str, bool]:
        """Ask an entity list's integrityUrl which of `ids` are gone, as Collect does for its
        offline cases (`deleted` must be exactly true or false)."""
        reply = self.get(f"{media['integrityUrl']}?id={','.join(ids)}")
        assert reply.status == 200, reply.body
        assert reply.headers["X-OpenRosa-Version"] == "1.0"
        root = reply.xml()
        assert root.tag == "data" and root[0].tag == "entities"
        states = {}
        for entity in root[0]:
            text = entity.findtext("deleted")
            assert text in ("true", "false"), text
            states[entity.get("id")] = text == "true"
        return states

    def download_media(self, media: dict[str, str]) -> bytes:
        reply = self.get(media["downloadUrl"])
        assert reply.status == 200, reply.body
        assert media["hash"] == "md5:" + hashlib.md5(reply.body).hexdigest(), media["filename"]
        return reply.body

    def download_everything(self) -> dict[str, DownloadedForm]:
        """Collect's whole 'Get blank forms' path; every hash checked on the way."""
        downloaded = {}
        for entry in self.form_list():
            form = DownloadedForm(entry["formID"], entry.get("version", ""),
                                  self.download_form(entry))
            if entry.get("manifestUrl"):
                for media in self.manifest(entry):
                    form.media[media["filename"]] = self.download_media(media)
            downloaded[form.form_id] = form
        return downloaded


def flask_transport(client, base_headers: dict[str, str] | None = None) -> Transport:
    """Requests through the Flask test client (real HTTP semantics, no socket)."""
    def send(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        parts = urlsplit(url)
        response = client.open(parts.path + (f"?{parts.query}" if parts.query else ""),
                               method=method, headers={**(base_headers or {}), **headers},
                               base_url=f"{parts.scheme}://{parts.netloc}", data=body)
        try:
            return Reply(response.status_code, dict(response.headers), response.get_data())
        finally:
            response.close()
    return send


def http_transport(session, timeout: float = 30) -> Transport:
    """Requests over a real socket with a `requests.Session`."""
    def send(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        response = session.request(method, url, headers=headers, data=body, timeout=timeout)
        return Reply(response.status_code, dict(response.headers), response.content)
    return send
