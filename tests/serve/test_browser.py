"""The web UI in a real browser: Debian's Chromium driven by Playwright (never `playwright install`,
which downloads a browser and fails offline). Type a query, drop a file, see ranked results;
upload a file and find it."""

from __future__ import annotations

import base64
import shutil

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None,
                                reason="Debian's chromium is not installed (make system-deps installs it as root)")  # fmt: skip


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(server.url + "/")
        pg.wait_for_function("document.getElementById('status').textContent.startsWith('model ')")
        yield pg
        browser.close()


def test_text_query_shows_ranked_results(page):
    page.fill("#query", "a passage about cats")
    page.click("#go")
    page.wait_for_selector("#results .hit")
    cards = page.locator("#results .hit")
    assert cards.count() >= 6  # every indexed item of the 6-file library comes back (k=12)
    names = cards.locator(".name").all_text_contents()
    assert names[0].startswith("1. ") and names[1].startswith("2. ")
    assert page.locator("#results img").count() >= 3  # image thumbnails
    assert page.locator("#results audio").count() >= 1
    video = page.locator("#results video").first
    assert video.get_attribute("src").split("#t=")[1].startswith(video.get_attribute("data-t0"))
    assert "results in" in page.text_content("#message")


def test_dropped_image_is_a_composed_query_and_finds_itself(page, library):
    data = base64.b64encode((library / "img1.png").read_bytes()).decode()
    transfer = page.evaluate_handle(
        """(b64) => { const bin = atob(b64); const bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
            const dt = new DataTransfer(); dt.items.add(new File([bytes], 'query.png', {type: 'image/png'}));
            return dt; }""",
        data,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    assert page.text_content("#attached") == "image: query.png"
    page.fill("#query", "")
    page.select_option("#modality", "image")
    page.click("#go")
    page.wait_for_function("document.querySelector('#results .hit .name')?.textContent === '1. img1.png'")
    modalities = page.locator("#results .hit").evaluate_all("cards => cards.map(c => c.dataset.modality)")
    assert set(modalities) == {"image"}
    page.click("#clear")
    page.select_option("#modality", "")


def test_upload_then_find(page, server, tmp_path):
    picture = tmp_path / "browser upload.png"
    rng = np.random.default_rng(123)
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(picture)
    page.click("#upload-panel summary")
    page.set_input_files("#upload-files", str(picture))
    page.click("#upload-go")
    page.wait_for_function("document.getElementById('upload-status').textContent.startsWith('indexed:')")
    assert "1 added" in page.text_content("#upload-status")
    page.set_input_files("#file", str(picture))
    page.select_option("#modality", "image")
    page.click("#go")
    page.wait_for_function(
        "document.querySelector('#results .hit .name')?.textContent === '1. browser upload.png'"
    )
    page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
    assert (tmp_path / "ui.png").stat().st_size > 10_000


def test_keyword_mode_finds_the_word_and_refuses_a_query_without_words(page):
    if page.is_visible("#clear"):  # an earlier test's attached file
        page.click("#clear")
    page.select_option("#modality", "")
    page.select_option("#mode", "keyword")
    page.fill("#query", "windowsill")
    page.click("#go")
    page.wait_for_function("document.querySelector('#results .hit .name')?.textContent === '1. notes.md'")
    assert page.locator("#results .hit").count() == 1  # only the note has the word
    page.select_option("#mode", "hybrid")
    page.click("#go")
    page.wait_for_function("document.getElementById('message').textContent.includes('hybrid (rrf k=60)')")
    page.fill("#query", "")
    page.click("#go")
    assert "Type a query" in page.text_content("#message")
    page.select_option("#mode", "dense")
