"""Reading a phone's or Briefcase's folder: each layout, what is sent with each instance, and what
is skipped and why."""

from __future__ import annotations

import shutil

import pytest

from sync.instance_folders import NotAnInstanceFolder, fingerprint, read_folder
from tests.support.instances import instance, new_id
from tests.support.phone_folders import (
    Filled,
    briefcase_storage,
    collect_folder,
    collect_instance,
)
from tests.support.programme_meetings import forum_meeting, jpeg


def meeting_with_photos(*names: str, instance_id: str | None = None) -> Filled:
    return Filled(forum_meeting(photos=names, instance_id=instance_id or new_id()),
                  {name: jpeg(color) for name, color in zip(names, ("red", "blue", "green"),
                                                             strict=False)})


def names(contents) -> list[str]:
    return [i.name for i in contents.instances]


def test_collect_s_instances_folder_gives_each_instance_with_the_files_beside_it(tmp_path):
    instances = collect_folder(tmp_path, {
        "forum_meeting_2026-11-20_09-00-00": meeting_with_photos("1.jpg", "2.jpg"),
        "forum_meeting_2026-11-20_10-00-00": meeting_with_photos(),
    })
    contents = read_folder(instances)

    assert contents.layout == "Collect instances folder"
    assert names(contents) == ["forum_meeting_2026-11-20_09-00-00",
                               "forum_meeting_2026-11-20_10-00-00"]
    first, second = contents.instances
    assert [m.name for m in first.media] == ["1.jpg", "2.jpg"]
    assert first.media[0].size == (instances / first.name / "1.jpg").stat().st_size
    assert first.xml_path.name == f"{first.name}.xml" and not first.encrypted
    assert (first.form_id, first.version) == ("forum_meeting", "2026120201")
    assert first.instance_id.startswith("uuid:") and second.media == ()
    assert contents.skipped == []


def test_the_folder_above_instances_and_a_single_instance_folder_are_recognised(tmp_path):
    instances = collect_folder(tmp_path, {"a_1": meeting_with_photos("x.jpg"),
                                          "a_2": meeting_with_photos()})
    assert names(read_folder(tmp_path)) == ["a_1", "a_2"]
    single = read_folder(instances / "a_1")
    assert single.layout == "Collect instance" and names(single) == ["a_1"]
    assert [m.name for m in single.instances[0].media] == ["x.jpg"]


def test_savepoints_temporary_and_hidden_files_are_neither_instances_nor_attachments(tmp_path):
    instances = collect_folder(tmp_path, {"a_1": meeting_with_photos("x.jpg")})
    folder = instances / "a_1"
    (folder / "a_1.xml.save").write_bytes(b"<data/>")
    (folder / "x.jpg.tmp").write_bytes(b"half a photo")
    (folder / ".nomedia").write_bytes(b"")
    never_saved = instances / "a_2"
    never_saved.mkdir()
    (never_saved / "a_2.xml.save").write_bytes(b"<data/>")
    (instances / ".cache").mkdir()
    (instances / "not-an-instance").mkdir()

    contents = read_folder(instances)

    assert names(contents) == ["a_1"]
    assert [m.name for m in contents.instances[0].media] == ["x.jpg"]
    assert [(s.name, s.reason) for s in contents.skipped] == [
        ("a_2", "only a savepoint: the form was never saved on the phone")]


def test_drafts_are_skipped_when_collect_s_database_is_in_the_copy(tmp_path):
    draft = meeting_with_photos()
    draft.status = "incomplete"
    saved_draft = meeting_with_photos()
    saved_draft.status = "valid"  # Collect 2023.2+: saved, not finalised
    instances = collect_folder(tmp_path, {"a_1": meeting_with_photos(), "a_2": draft,
                                          "a_3": saved_draft}, with_database=True)
    sent = meeting_with_photos()
    sent.status = "submitted"
    collect_instance(instances, "a_4", sent)  # not in the database: sent

    contents = read_folder(instances)

    assert names(contents) == ["a_1", "a_4"]
    assert {s.name: s.reason for s in contents.skipped} == {
        "a_2": "not finalised on the phone (Collect's status: incomplete); finalise it in "
               "Collect and copy the folder again",
        "a_3": "not finalised on the phone (Collect's status: valid); finalise it in Collect and "
               "copy the folder again"}


def test_briefcase_storage(tmp_path):
    storage = briefcase_storage(tmp_path, [
        ("Forum meeting", meeting_with_photos("1.jpg")),
        ("Forum meeting", meeting_with_photos()),
        ("Incident referral", Filled(instance("incident_referral", "1", "<x>1</x>"))),
    ])
    contents = read_folder(storage)
    assert contents.layout == "Briefcase storage"
    assert len(contents.instances) == 3
    assert all(i.name.startswith("forms/") and "/instances/uuid" in i.name
               for i in contents.instances)
    assert all(i.xml_path.name == "submission.xml" for i in contents.instances)
    assert sorted(len(i.media) for i in contents.instances) == [0, 0, 1]
    # the folder above it, one form's instances, and one instance are read too
    assert len(read_folder(tmp_path).instances) == 3
    one_form = read_folder(storage / "forms" / "Forum meeting" / "instances")
    assert one_form.layout == "Briefcase instances folder" and len(one_form.instances) == 2
    single = read_folder(contents.instances[0].xml_path.parent)
    assert single.layout == "Briefcase instance" and len(single.instances) == 1


def envelope(instance_id: str, *files: str) -> bytes:
    media = "".join(f"<media><file>{f}</file></media>" for f in files)
    return (f'<data xmlns="http://www.opendatakit.org/xforms/encrypted" id="forum_meeting" '
            f'version="1" encrypted="yes"><base64EncryptedKey>a2V5</base64EncryptedKey>'
            f'<meta xmlns="http://openrosa.org/xforms"><instanceID>{instance_id}</instanceID>'
            f"</meta>{media}<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
            f"<base64EncryptedElementSignature>c2ln</base64EncryptedElementSignature>"
            f"</data>").encode()


def test_an_encrypted_instance_is_its_envelope_and_the_enc_files_never_the_plaintext(tmp_path):
    instance_id = new_id()
    instances = tmp_path / "instances"
    folder = collect_instance(instances, "enc_1", Filled(
        forum_meeting(photos=("1.jpg",), instance_id=instance_id),
        {"1.jpg": b"plaintext photo", "1.jpg.enc": b"cipher", "submission.xml.enc": b"cipher",
         "submission.xml": envelope(instance_id, "1.jpg.enc")}))

    (found,) = read_folder(instances).instances

    assert found.encrypted and found.xml_path == folder / "submission.xml"
    assert found.instance_id == instance_id
    assert [m.name for m in found.media] == ["1.jpg.enc", "submission.xml.enc"]


def test_unfinished_encryption_is_skipped_with_the_reason(tmp_path):
    instances = tmp_path / "instances"
    missing_id = new_id()
    collect_instance(instances, "enc_1", Filled(
        forum_meeting(instance_id=missing_id),
        {"submission.xml": envelope(missing_id, "1.jpg.enc"), "submission.xml.enc": b"c"}))
    collect_instance(instances, "enc_2", Filled(
        forum_meeting(), {"enc_2.xml.enc": b"cipher", "1.jpg.enc": b"cipher"}))

    contents = read_folder(instances)

    assert contents.instances == []
    assert {s.name: s.reason for s in contents.skipped} == {
        "enc_1": "encrypted, but 1.jpg.enc is missing: the encryption did not finish on the "
                 "phone; open and finalise it there again",
        "enc_2": "encrypted files without their envelope (submission.xml): the encryption did "
                 "not finish on the phone; finalise it there again"}


def test_an_unreadable_xml_is_skipped_and_the_others_are_read(tmp_path):
    instances = collect_folder(tmp_path, {"a_1": meeting_with_photos(),
                                          "a_2": Filled(b"<data id='forum_meeting'><meta>")})
    contents = read_folder(instances)
    assert names(contents) == ["a_1"]
    ((name, reason),) = [(s.name, s.reason) for s in contents.skipped]
    assert name == "a_2" and reason.startswith("a_2.xml is not a readable instance (")
    assert reason.endswith("the copy may be cut short: copy it off the phone again")


def test_an_edit_comes_after_what_it_edits_whatever_the_names(tmp_path):
    original = new_id()
    edit = new_id()
    instances = collect_folder(tmp_path, {
        "a_1": Filled(forum_meeting(instance_id=edit, deprecated_id=original)),
        "b_1": Filled(forum_meeting(instance_id=original)),
        "c_1": Filled(forum_meeting()),
    })
    assert names(read_folder(instances)) == ["b_1", "c_1", "a_1"]


def test_a_folder_with_nothing_of_collect_or_briefcase_is_refused_with_what_to_point_at(
        tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "x.jpg").write_bytes(b"x")
    with pytest.raises(NotAnInstanceFolder, match=r"instances/<name>/<name>\.xml"):
        read_folder(tmp_path)
    with pytest.raises(NotAnInstanceFolder, match="is not a folder"):
        read_folder(tmp_path / "photos" / "x.jpg")


def test_the_fingerprint_follows_the_content_not_the_place(tmp_path):
    instances = collect_folder(tmp_path / "one", {"a_1": meeting_with_photos("1.jpg")})
    copy = tmp_path / "two" / "instances"
    shutil.copytree(instances, copy)
    (first,) = read_folder(instances).instances
    (same,) = read_folder(copy).instances
    assert fingerprint(first) == fingerprint(same)

    (copy / "a_1" / "1.jpg").write_bytes(jpeg("black"))
    (changed_photo,) = read_folder(copy).instances
    changed = fingerprint(changed_photo)
    assert changed != fingerprint(first)
    (copy / "a_1" / "1.jpg").rename(copy / "a_1" / "2.jpg")
    (renamed,) = read_folder(copy).instances
    assert fingerprint(renamed) not in (fingerprint(first), changed)
