"""Which attachment names the server keeps: what ODK Collect writes, and nothing that points
elsewhere, reads as another name or cannot be a file name on Windows."""

from __future__ import annotations

import pytest

from sync.attachments import unsafe_name


@pytest.mark.parametrize("name", [
    "1764662400000.jpg", "1764662400000.m4a", "submission.xml.enc", "u4cnPKejqTlUpQGn.png.enc",
    "صورة الاجتماع.jpg", "وێنە.png", "photo-10_23_45.jpg", "CON.jpg", "photo.jpg.",
])
def test_names_collect_and_enketo_write_are_kept(name):
    assert unsafe_name(name) is None


@pytest.mark.parametrize("name, reason", [
    ("../../etc/passwd", "'..'"),
    ("/etc/passwd", "separator"),
    ("media\\photo.jpg", "separator"),
    ("..", "'..'"),
    ("photo\x00.jpg", "control"),
    ("photo\n.jpg", "control"),
    ("photo\u202egpj.exe", "control"),  # shown as "photoexe.jpg"
    ("C:photo.jpg", '" < > : | ? *'),
    ('say "cheese".jpg', '" < > : | ? *'),
    ("what?.jpg", '" < > : | ? *'),
    ("a|b.jpg", '" < > : | ? *'),
    ("*.jpg", '" < > : | ? *'),
    ("<b>.jpg", '" < > : | ? *'),
])
def test_hostile_names_are_unsafe_and_say_why(name, reason):
    assert reason in unsafe_name(name)
