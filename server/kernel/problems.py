"""The numbered catalogue of every problem the server reports.

A code's first part is its HTTP status. Each surface renders the same problem in its caller's
format: OpenRosa XML for phones (Collect shows the message to the officer), JSON for the API, HTML
for pages. Messages say what happened and what to do; they never carry a stack trace, SQL or a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProblemType:
    code: str
    message: str  # str.format template over the details

    @property
    def status(self) -> int:
        return int(self.code.split(".")[0])


class Problem(Exception):
    def __init__(self, problem_type: ProblemType,
                 headers: list[tuple[str, str]] | None = None, **details: Any):
        self.type = problem_type
        self.details = details
        self.headers = headers or []
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return self.type.code

    @property
    def status(self) -> int:
        return self.type.status

    @property
    def message(self) -> str:
        return self.type.message.format(**self.details)

    def as_json(self) -> dict:
        """The problem as scripts and servers read it (the API's shape, locked by a test)."""
        body = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = {k: str(v) for k, v in self.details.items()}
        return body


def _p(code: str, message: str) -> ProblemType:
    return ProblemType(code, message)


BAD_REQUEST = _p("400.1", "The request could not be understood: {reason}")
OPENROSA_VERSION_MISSING = _p(
    "400.2", "This address is for ODK Collect: the request must carry the header "
             "X-OpenRosa-Version: 1.0.")
FORM_INVALID = _p("400.3", "The form could not be loaded: {reason}")
MEDIA_NOT_IN_FORM = _p(
    "400.4", "The form does not reference a media file named '{name}'. It references: {expected}.")
INVALID_FIELD = _p("400.5", "The value of '{field}' is not valid: {reason}")
SUBMISSION_INVALID = _p("400.6", "The submission could not be read: {reason}")
NO_XML_PART = _p(
    "400.7", "The request has no xml_submission_file part: send the form as "
             "multipart/form-data with the instance in a part named xml_submission_file.")
ATTACHMENT_NAME_UNSAFE = _p(
    "400.8", "A file of this submission has {reason} in its name, which ODK Collect never "
             "writes; nothing was kept. Send the form from ODK Collect, or rename the file.")
NUL_CHARACTER = _p(
    "400.9", "The address or a value sent contains a NUL character (%00), which no field can "
             "hold: remove it and try again.")
COMMENT_REQUIRED = _p(
    "400.10", "A comment is required to mark a submission as having issues or to reject it: "
              "say what is wrong. Nothing was changed.")
COMMENT_EMPTY = _p("400.11", "The comment is empty: write something before sending it.")
REVIEW_STATE_UNKNOWN = _p(
    "400.12", "'{state}' is not a review decision: choose approve, has issues or reject.")
NOTHING_SELECTED = _p("400.13", "No submission was selected: tick at least one.")
EXPORT_FILTER_FIELD = _p(
    "400.20", "There is no field '{name}' in this form's table to filter on. Use a column name "
              "of the export or a field name of the form.")
EXPORT_FILTER_VALUE = _p("400.21", "The filter on '{name}' is not valid: {reason}")
EXPORT_FILTER_PERSONAL = _p(
    "400.22", "'{name}' is personal data: it can only be filtered on by equality, and only by "
              "users allowed to see personal data.")
EXPORT_TABLE_UNKNOWN = _p(
    "400.23", "The form '{form_id}' has no table '{table}'. Its tables are: {tables}.")
EXPORT_OPTION_INVALID = _p("400.24", "The export option '{option}' is not valid: {reason}")
RESOLUTION_INVALID = _p(
    "400.30", "Choose, for each property in conflict, one of the values the case page offers, "
              "then send again. Nothing was changed.")
AUTHENTICATION_REQUIRED = _p("401.1", "Please log in with your user name and password.")
AUTHENTICATION_FAILED = _p("401.2", "The user name or password is not correct.")
API_TOKEN_INVALID = _p(
    "401.20", "This API token is not valid or has been revoked. Ask for a new one with "
              "`muntada api-tokens create`.")
API_TOKEN_REQUIRED = _p(
    "401.21", "This API takes an API token: send the header Authorization: Bearer <token> (or, "
              "over HTTPS, Basic with your user name and the token as the password). Ask an "
              "administrator for one (`muntada api-tokens create`).")
TOKEN_INVALID = _p(
    "403.1", "This phone's access has been revoked or is not valid. Ask your administrator "
             "for a new QR code.")
FORBIDDEN = _p("403.2", "You are not allowed to do this.")
CSRF_FAILED = _p(
    "403.4", "This form has expired or did not come from this site. Go back, reload the page "
    "and try again.")
OWN_RIGHTS = _p(
    "403.5", "You cannot change your own role or permissions; ask another administrator.")
EXPORT_RIGHTS_LOST = _p(
    "403.21", "This export was made with rights your account no longer has (to download data, "
              "for these places, or to see personal data), so the file has been deleted. "
              "Prepare a new download if you still may.")
FORM_NOT_ALLOWED = _p(
    "403.3", "This phone may not send the form '{form_id}'. Ask your administrator for access.")
PERSONAL_DATA_FORBIDDEN = _p(
    "403.10", "This file is personal data, which your account is not allowed to see.")
NOT_FOUND = _p("404.1", "Nothing was found at this address.")
FORM_NOT_FOUND = _p("404.2", "The form '{form_id}' does not exist or is not available to you.")
MEDIA_NOT_FOUND = _p("404.3", "The form '{form_id}' has no media file named '{name}'.")
APP_USER_NOT_FOUND = _p("404.4", "There is no app user named '{name}'.")
FORM_VERSION_UNKNOWN = _p(
    "404.5", "The form '{form_id}' has no version '{version}' on this server. Get blank forms "
             "again on the phone, then send.")
EDIT_TARGET_UNKNOWN = _p(
    "404.6", "This is an edit of a submission the server does not have ({deprecated_id}). "
             "Send the original first.")
SUBMISSION_NOT_FOUND = _p(
    "404.10", "There is no such submission, or it is not available to you.")
ATTACHMENT_NOT_FOUND = _p("404.11", "This submission has no file named '{name}'.")
VERSION_NOT_FOUND = _p("404.12", "This submission has no version '{instance_id}'.")
EXPORT_NOT_FOUND = _p("404.20", "There is no export {job_id} of yours.")
LIST_NOT_FOUND = _p("404.30", "There is no entity list named '{name}'.")
CASE_NOT_FOUND = _p("404.31", "There is no such case, or it is not available to you.")
METHOD_NOT_ALLOWED = _p("405.1", "This address does not accept {method} requests.")
FORM_VERSION_CONFLICT = _p(
    "409.1", "Form '{form_id}' version '{version}' is already loaded with different content. "
             "Change the version in the settings sheet and load it again.")
APP_USER_EXISTS = _p("409.2", "An app user named '{name}' already exists.")
USER_EXISTS = _p("409.3", "A user named '{name}' already exists.")
FORM_CLOSED = _p("409.4", "The form '{form_id}' is closed and no longer accepts submissions.")
SUBMISSION_CONFLICT = _p(
    "409.5", "A different submission with the same ID ({instance_id}) was already received, so "
             "this one was not saved. Keep it on the phone and tell your supervisor.")
EDIT_STALE = _p(
    "409.6", "This edit replaces a version that has since been edited again; it was not saved. "
             "Tell your supervisor.")
SUBMISSION_DELETED = _p(
    "409.7", "This submission was deleted on the server and is not accepted again.")
ATTACHMENT_CONFLICT = _p(
    "409.8", "The file '{name}' was already received for this submission with different "
             "content; the new file was not saved.")
RESTORE_TOO_LATE = _p(
    "409.10", "This submission was deleted more than {days} days ago and can no longer be "
              "restored.")
EXPORT_NOT_READY = _p(
    "409.20", "Export {job_id} is not ready ({state}); wait until it is, then download it.")
API_TOKEN_EXISTS = _p("409.21", "{username} already has an API token named '{name}'.")
CASE_NOT_IN_CONFLICT = _p(
    "409.30", "This case is not in conflict: there is nothing to resolve. Nothing was changed.")
LIST_TOKEN_UNKNOWN = _p(
    "412.1", "The token of the list '{name}' is not known (its cases were rebuilt, or it is "
             "not one this server gave): load the whole list again, without `since`.")
SYNC_ITEM_INVALID = _p(
    "400.40", "A change sent by the other server could not be read: {reason}. Nothing of it was "
              "applied; the sender tries again from where it stopped.")
SYNC_PROTOCOL = _p(
    "400.41", "The other server speaks version {theirs} of field-office sync and this one "
              "version {ours}: update the older one, then sync again.")
SYNC_TOKEN_INVALID = _p(
    "401.40", "This field office's token is not valid or has been revoked. An administrator at "
              "headquarters registers the office again (muntada field-office register) and "
              "the office joins with the new token (muntada field-office join).")
SYNC_BLOB_NOT_OFFERED = _p("404.40", "No file with that SHA-256 is offered to this office.")
FIELD_OFFICE_NOT_FOUND = _p("404.41", "There is no field office named '{name}'.")
FIELD_OFFICE_EXISTS = _p("409.40", "A field office named '{name}' is already registered.")
SYNC_BLOB_OFFSET = _p(
    "409.41", "This part of the file starts at byte {offset} but {held} bytes are held: send "
              "from byte {held}.")
SYNC_BLOB_MISMATCH = _p(
    "409.42", "The file sent does not have the SHA-256 it was sent under (its bytes changed "
              "on the way); it was not kept. Send it again.")
BUNDLE_INVALID = _p(
    "409.43", "This bundle cannot be imported: {reason}. Nothing of it was applied.")
BUNDLE_REPLAYED = _p(
    "409.44", "This bundle ({bundle_id}) was already imported on {imported_at}; it was not "
              "applied again.")
SYNC_RUNNING = _p(
    "409.46", "Another sync with headquarters is running on this server (the loop beside "
              "muntada serve, or a sync run by hand); it sends everything there is: wait for it.")
NOT_JOINED = _p(
    "409.45", "This server has not joined a headquarters: run "
              "muntada field-office join URL TOKEN with the token headquarters gave.")
TOO_LARGE = _p("413.1", "The upload is larger than the {limit} bytes this server accepts.")
INTERNAL = _p("500.1", "Something went wrong on the server; it has been logged. Please try again.")
DATABASE_UNAVAILABLE = _p(
    "503.1", "The server lost its connection to the database for a moment. Please try again "
    "shortly: anything already received is kept, and a resend is recognised.")

# `muntada push`: what stops sending a phone's folder to another server (the command line says it)
PUSH_FOLDER_UNKNOWN = _p("400.50", "Nothing to send in {folder}: {reason}")
PUSH_URL_INVALID = _p(
    "400.51", "'{url}' is not an OpenRosa server address: {reason}. Use an app user's address "
              "(http://host:port/collect/key/<token>, or /collect with --user), or ODK Central's "
              "(https://host/v1/key/<token>/projects/<id>, or /v1/projects/<id> with --user).")
PUSH_BASIC_OVER_HTTP = _p(
    "400.52", "The server at {url} asks for Basic login over plain HTTP, which would send the "
              "password readable by anyone on the network: use its https:// address, or an app "
              "user's token address.")
PUSH_LOGIN_REFUSED = _p(
    "401.50", "The server at {url} refused the login (HTTP {status}: {message}). Check --user and "
              "--password, or that the token in the address is still valid.")
PUSH_STATE_LOCKED = _p(
    "409.50", "Another `muntada push` is using the state file {path}; wait for it to end, or give "
              "this one its own with --state.")
PUSH_STATE_UNREADABLE = _p(
    "500.50", "The push state file {path} cannot be read ({reason}). Move it aside and push again: "
              "the server recognises what it already holds.")
PUSH_NOT_OPENROSA = _p(
    "502.50", "{url} did not answer as an OpenRosa server (HTTP {status}: {message}). Check the "
              "address: it is the one Collect is configured with.")
PUSH_UNREACHABLE = _p(
    "503.50", "Could not reach {url} ({reason}). Nothing is lost: run the same command again when "
              "the link is back, and it goes on from where it stopped.")

# Encrypted forms' keys (`muntada keys`, `muntada forms encrypt`)
KEY_PASSPHRASE_TOO_SHORT = _p(
    "400.60", "The passphrase is too short: use at least {minimum} characters (a few unrelated "
              "words are easier to remember and harder to guess).")
NOT_KEY_HOLDER = _p(
    "403.60", "{username} is not a key holder: an administrator makes them one with `muntada "
              "users grant-keys {username}`.")
KEY_NOT_FOUND = _p("404.60", "There is no key named '{name}'; `muntada keys list` shows them.")
KEY_EXISTS = _p("409.60", "A key named '{name}' already exists: choose another name.")
FORM_HAS_OWN_KEY = _p(
    "409.61", "The form '{form_id}' carries a public key of its own (its settings' public_key), "
              "whose private key this server does not hold. Load it without that setting, then "
              "encrypt it with a key of this server.")
FORM_ALREADY_ENCRYPTED = _p(
    "409.62", "The form '{form_id}' is already published with the key '{name}' (version "
              "{version}).")
KEY_PASSPHRASE_WRONG = _p(
    "403.61", "That passphrase does not open the key '{name}'. Check the keyboard's language "
              "and Caps Lock; after several tries the key waits a while before the next.")
KEY_UNLOCK_AT_FIELD_OFFICE = _p(
    "403.62", "Keys are not unlocked on a field office's server: it holds ciphertext only, "
              "so that a lost or seized laptop reveals nothing. Decrypt at headquarters.")
KEY_LOCKED = _p(
    "403.63", "The key '{name}' is not unlocked for you, or its unlock expired: a key holder "
              "unlocks it on the Keys page with its passphrase.")
KEY_NOT_HELD = _p(
    "404.61", "This submission was encrypted for a key this server does not hold: it cannot be "
              "decrypted here.")
ATTACHMENT_NOT_DECRYPTED = _p(
    "409.63", "The file '{name}' does not decrypt with the key '{key}' ({outcome}): it was kept "
              "as received, and the submission's page says what went wrong.")
KEY_UNLOCK_THROTTLED = _p(
    "429.60", "Too many wrong passphrases for the key '{name}': try again after {until}.")

# The programme's indicators
INDICATOR_NOT_FOUND = _p("404.70", "There is no indicator '{indicator}'.")
INDICATOR_UNAVAILABLE = _p(
    "409.70", "The indicator '{indicator}' cannot be computed on this server: {reason}.")
INDICATOR_OPTION_INVALID = _p("400.70", "The indicators' option '{option}' is invalid: {reason}.")

CATALOGUE: tuple[ProblemType, ...] = tuple(
    value for value in globals().values() if isinstance(value, ProblemType))
