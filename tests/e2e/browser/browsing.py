"""What a person does in the pages, as steps a test reads like a story: sign in, choose a
language, open a page, read a table. Each step waits for the page it leads to and checks its
status, so a test states only what it is about."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from babel.messages.pofile import read_po

ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
TRANSLATIONS = Path(__file__).parents[3] / "server" / "kernel" / "translations"


def goto(page, site, path: str, *, status: int = 200):
    """Open `path` (following redirects); fail unless the page that ends up shown has `status`."""
    response = page.goto(site.url(path))
    assert response is not None and response.status == status, (
        f"{path}: {response.status if response else 'no response'} at {page.url}")
    return response


def submit(page, button, *, status: int | None = 200):
    """Click a submit button and wait for the page it leads to; check its status (unless None)."""
    with page.expect_navigation() as navigation:
        button.click()
    response = navigation.value
    assert response is not None and status in (None, response.status), (
        f"{response.status if response else 'no response'} at {page.url}")
    return response


def sign_in(page, site, person, *, identifier: str | None = None, password: str | None = None,
            status: int | None = 200, next_path: str | None = None):
    """Sign in through the login form with the person's user name (or `identifier`, e.g. their
    e-mail in other case). A 401 or 429 leaves the page on the login form with its error."""
    goto(page, site, "/login" + (f"?next={next_path}" if next_path else ""))
    form = page.locator("main form")
    form.locator("input[name=username]").fill(identifier or person.username)
    form.locator("input[name=password]").fill(password or person.password)
    response = submit(page, form.locator("button[type=submit]"), status=status)
    if status == 200:
        assert signed_in_as(page) == person.username, page.url
    return response


def signed_in_as(page) -> str | None:
    """The user name the header shows, or None when nobody is signed in."""
    who = page.locator("header .who bdi")
    return who.inner_text() if who.count() else None


def sign_out(page) -> None:
    submit(page, page.locator("header form[action$='/logout'] button"))
    assert path_of(page) == "/login" and signed_in_as(page) is None


def choose_language(page, code: str) -> None:
    """Press the language's button in the header; the same page comes back in that language."""
    before = path_of(page)
    submit(page, page.locator(f"header button[name=lang][value={code}]"))
    assert page.locator("html").get_attribute("lang") == code
    assert path_of(page) == before


def language(page) -> tuple[str, str]:
    """(lang, dir) of the page's <html>."""
    html = page.locator("html")
    return html.get_attribute("lang"), html.get_attribute("dir")


def path_of(page) -> str:
    return urlsplit(page.url).path


def nav_link(page, path: str):
    """The header's link to `path` (its text is in the reader's language)."""
    return page.locator(f"header nav a[href='{path}']")


def table_rows(page, selector: str = "main table") -> list[list[str]]:
    """The body rows of a table as text, digits read as ASCII (Arabic-Indic digits included)."""
    return [[cell.translate(ARABIC_DIGITS).strip() for cell in row]
            for row in page.locator(f"{selector} tbody tr").evaluate_all(
                "rows => rows.map(r => [...r.cells].map(c => c.innerText))")]


def box(page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def scrolls_sideways(page) -> bool:
    """True when the page itself is wider than the window (a table may scroll in its own box)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth > document.documentElement.clientWidth")


def screenshot(page, name: str, *, clip: dict[str, float] | None = None) -> None:
    """Save `name`.png in the MUNTADA_SCREENSHOTS folder when it is set (the README's pictures:
    `MUNTADA_SCREENSHOTS=docs/screenshots make screenshots`): the window, or the part of it in
    `clip` (x, y, width, height as `box` gives them)."""
    folder = os.environ.get("MUNTADA_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(folder) / f"{name}.png"), animations="disabled", caret="hide",
                    clip=clip)


def translated(code: str, msgid: str) -> str:
    """What the pages say for `msgid` in language `code`, read from the project's catalogues (so
    a test names the English text and checks the reader saw the translation)."""
    for catalogue in sorted((TRANSLATIONS / code / "LC_MESSAGES").glob("*.po")):
        with catalogue.open("rb") as file:
            message = read_po(file).get(msgid)
        if message is not None and message.string:
            return message.string
    raise KeyError(f"{msgid!r} is not translated into {code}")


# The review workspace: a form's list of submissions and one submission.

def listed(page) -> list[str]:
    """The instanceIDs of the submissions list's rows, top to bottom."""
    return page.locator("#submissions tbody tr[data-instance-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.instanceId)")


def state_counts(page) -> dict[str, int]:
    """The list's count per review state, '' for all of them (digits read as ASCII)."""
    return {item.get_attribute("data-state"):
            int(item.locator(".count").inner_text().translate(ARABIC_DIGITS).strip())
            for item in page.locator("#state-counts li").all()}


def row_states(page) -> dict[str, str]:
    """instanceID → the review state its row shows (the class names the state, the text is in
    the reader's language)."""
    return dict(page.locator("#submissions tbody tr[data-instance-id]").evaluate_all(
        """rows => rows.map(r => [r.dataset.instanceId,
            [...r.querySelector('.state').classList].find(c => c.startsWith('state-')).slice(6)])"""))


def filter_list(page, values: dict[str, str]) -> None:
    """Open the list's filters, set each one (a select's value, a date, a text) and press the
    filter button; the list comes back filtered."""
    filters = page.locator("details.filters-box")
    if filters.get_attribute("open") is None:
        filters.locator("summary").click()
    form = page.locator("form#filters")
    for name, value in values.items():
        field = form.locator(f"[name='{name}']")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    submit(page, form.locator("button[type=submit]"))


def answer(page, path: str):
    """The answer at `path` (`/governorate`, `/issue[1]/issue_priority`) on a submission page."""
    return page.locator(f"#answers .answer[data-path='{path}']")


def review(page, state: str, comment: str = "", *, status: int = 200):
    """Fill the review form's comment and press the button for `state`."""
    form = page.locator("form#review")
    form.locator("textarea[name=comment]").fill(comment)
    return submit(page, form.locator(f"button[name=state][value={state}]"), status=status)


def comments(page) -> list[tuple[str, str, str]]:
    """The submission's comment thread, oldest first: (user, review state or '', text)."""
    return [tuple(entry) for entry in page.locator("#comments li:not(.empty)").evaluate_all(
        """items => items.map(li => [
            li.querySelector('.meta bdi').innerText,
            [...(li.querySelector('.state')?.classList || [])]
                .find(c => c.startsWith('state-'))?.slice(6) || '',
            li.querySelector('p')?.innerText || ''])""")]


def misaligned_text(page, selector: str) -> list[str]:
    """The elements matching `selector` whose text (or image) does not start at the start side
    of their own box: the right edge in a right-to-left page, the left one otherwise. Text in
    another direction (a number, an ID) is isolated inside; it must not pull the whole value to
    the far side."""
    return page.locator(selector).evaluate_all("""elements => {
        const rtl = document.documentElement.dir === 'rtl';
        return elements.filter(e => e.textContent.trim() || e.querySelector('img')).filter(e => {
            const range = document.createRange();
            range.selectNodeContents(e);
            const text = range.getBoundingClientRect(), own = e.getBoundingClientRect();
            return rtl ? own.right - text.right > 2 : text.left - own.left > 2;
        }).map(e => (e.closest('[data-path]')?.dataset.path || e.previousElementSibling?.innerText
                     || e.tagName) + ': ' + e.innerText);
    }""")


MAP_OUTLINE_COLOUR, MAP_POINT_COLOUR = "#0b6e4f", "#a4262c"  # server/surfaces/pages/static/review.js


def wait_for_map(page) -> None:
    """Wait until the submission's map has drawn Iraq's outline (fetched after the point) and
    has stopped zooming to fit it."""
    page.locator(f"#map.leaflet-container path[stroke='{MAP_OUTLINE_COLOUR}']").wait_for()
    page.wait_for_function(
        "() => !document.querySelector('#map .leaflet-zoom-anim, #map .leaflet-pan-anim')")
