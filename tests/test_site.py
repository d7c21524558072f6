"""The website, as learners see it.

The site is built by ``python -m scripts.build_book`` (what ``make book`` runs) when ``_build/html`` is missing or
older than any of its sources; a failed build fails every test here. Then:

* checks on the files: an API page for every gdlib module, no script or style sheet from another host (MathJax is
  served from the site), nothing from ``solutions/`` published, exercise notebooks offered only as unexecuted
  copies of the release;
* a real browser (Debian's Chromium, headless, driven by Playwright) opens every page, served from 127.0.0.1, and
  checks that no traceback or error output shows, every image loads, the maths is rendered by MathJax, no
  request leaves the machine or fails, and that searching for "Adam" finds it;
* on every page, every figure image has real alt text (not empty, not its file name) and sits in a ``<figure>``
  with a non-empty ``<figcaption>``; nothing scrolls sideways in a 390 px wide window (a phone); and clicking a
  solution's title opens the solution instead of following the link to its exercise.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
STAMP = BUILD / "book-stamp.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
]

# The modules the API reference must document, whether or not they exist yet; any other public module found in
# gdlib/ must have a page too.
REQUIRED_MODULES = [
    "layers", "models", "activations", "losses", "metrics", "optimizers", "schedules", "callbacks",
    "gradcheck", "tuning", "functions", "datasets", "viz",
]

# Folders that are not sources of the site (the build reads gdlib/, chapters/, exercises/ and the root pages).
_NOT_SOURCES = {".git", ".venv", "_build", "tests", "solutions", "grading", "course_grading", "benchmarks",
                "node_modules", ".pytest_cache", ".hypothesis", "__pycache__", ".ipynb_checkpoints", ".ci"}
_SOURCE_SUFFIXES = {".md", ".ipynb", ".yml", ".yaml", ".bib", ".py", ".css", ".png", ".svg", ".jpg", ".csv"}


def _gdlib_modules():
    found = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "gdlib").iterdir()
        if not path.name.startswith("_")
        and ((path.is_file() and path.suffix == ".py") or (path / "__init__.py").is_file())
    }
    return sorted(found | set(REQUIRED_MODULES))


def _newest_source_mtime():
    newest = 0.0
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in _NOT_SOURCES and not name.endswith(".egg-info")]
        for name in files:
            if Path(name).suffix in _SOURCE_SUFFIXES:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def _pages():
    return sorted(
        path for path in HTML.rglob("*.html")
        if not path.relative_to(HTML).parts[0].startswith(("_static", "_sources", "_images", "_downloads"))
    )


def _content_pages():
    """The pages, less redirects (``index.html`` only sends the browser on to ``intro.html``)."""
    return [path for path in _pages()
            if not re.search(r'<meta http-equiv="refresh"', path.read_text(encoding="utf-8")[:500], re.I)]


@pytest.fixture(scope="session")
def site():
    """``_build/html``, built by scripts.build_book unless it is newer than every source of the site."""
    fresh = STAMP.is_file() and (HTML / "intro.html").is_file() and STAMP.stat().st_mtime >= _newest_source_mtime()
    if not fresh:
        result = subprocess.run(
            [sys.executable, "-m", "scripts.build_book"], cwd=ROOT, capture_output=True, text=True,
        )
        if result.returncode != 0:
            output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
            problems = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line or "rror:" in line]
            pytest.fail(
                "`python -m scripts.build_book` failed (warnings are errors):\n"
                + "\n".join(problems[:40] or output.splitlines()[-40:]),
                pytrace=False,
            )
    return HTML


# ---------------------------------------------------------------------------------------------------------------
# The built files


@pytest.mark.parametrize("module", _gdlib_modules())
def test_api_page_documents_module(site, module):
    page = site / "api" / f"{module}.html"
    assert page.is_file(), f"no API page for gdlib.{module}: add api/{module}.md and list it in _toc.yml"
    html = page.read_text(encoding="utf-8")
    assert f'id="module-gdlib.{module}"' in html, f"api/{module}.html does not document the module gdlib.{module}"
    documented = re.findall(r'<dt class="sig sig-object py" id="(gdlib\.[\w.]+)"', html)
    assert documented, f"api/{module}.html documents no function or class of gdlib.{module}"


def test_every_page_loads_scripts_and_styles_from_the_site_only(site):
    remote = []
    for page in _pages():
        html = page.read_text(encoding="utf-8")
        for tag, element in re.findall(r'<(script|link)\b([^>]*)>', html):
            address = re.search(r'\b(?:src|href)="([^"]*)"', element)
            # A <link> loads nothing unless it is a style sheet (or a preload); rel="canonical" names the page's
            # published address (html.baseurl) and is not fetched.
            if address is None or (tag == "link" and not re.search(r'\brel="(stylesheet|preload|modulepreload)"',
                                                                   element)):
                continue
            if re.match(r"(https?:)?//", address.group(1)):
                remote.append(f"{page.relative_to(site)}: <{tag}> {address.group(1)}")
        for address in re.findall(r"https?://[^\"' )<]*(?:cdn|unpkg|jsdelivr|mathjax)[^\"' )<]*", html, re.I):
            remote.append(f"{page.relative_to(site)}: {address}")
    assert not remote, "pages refer to other hosts for scripts or styles:\n" + "\n".join(remote[:20])


def test_mathjax_is_served_from_the_site(site):
    pages_with_mathjax = 0
    for page in _pages():
        html = page.read_text(encoding="utf-8")
        sources = re.findall(r'<script[^>]*src="([^"?]*tex-mml-chtml\.js)[^"]*"', html)
        if not sources:
            continue
        pages_with_mathjax += 1
        script = (page.parent / sources[0]).resolve()
        assert script == (site / "_static" / "mathjax" / "es5" / "tex-mml-chtml.js").resolve(), (
            f"{page.relative_to(site)} loads MathJax from {sources[0]}"
        )
        assert script.is_file(), f"{page.relative_to(site)} loads {sources[0]}, which is not in the site"
    assert pages_with_mathjax > 0, "no page loads MathJax, yet the introduction has an equation"
    fonts = list((site / "_static" / "mathjax" / "es5" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert fonts, "MathJax's CHTML fonts are missing from the site"


def test_nothing_from_solutions_is_published(site):
    leaked = []
    for path in site.rglob("*"):
        relative = path.relative_to(site)
        if "solutions" in relative.parts:
            leaked.append(str(relative))
        elif path.is_file() and relative.parts[:2] != ("_static", "mathjax") and path.suffix in {
            ".html", ".ipynb", ".md", ".txt", ".js", ".py",
        }:
            text = path.read_text(encoding="utf-8", errors="replace")
            if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text:
                leaked.append(f"{relative} (contains solution or hidden-test markers)")
    assert not leaked, "solution material in the site:\n" + "\n".join(leaked)


def test_exercises_are_offered_as_unexecuted_release_copies(site):
    exercises = ROOT / "exercises"
    release = {path.name: path for path in exercises.rglob("*.ipynb")} if exercises.is_dir() else {}
    built_as_pages = [str(path.relative_to(site)) for path in site.rglob("*.html")
                      if {"exercises", "solutions"} & set(path.relative_to(site).parts)]
    assert not built_as_pages, f"exercise or solution notebooks were built as pages: {built_as_pages}"
    # Only the chapters were executed: the execution cache holds no exercise or solution notebook.
    cache = BUILD / ".jupyter_cache" / "global.db"
    if cache.is_file():
        with contextlib.closing(sqlite3.connect(cache)) as database:
            executed = [uri for (uri,) in database.execute("SELECT uri FROM nbcache UNION SELECT uri FROM nbproject")]
        assert not [uri for uri in executed if "/exercises/" in uri or "/solutions/" in uri], executed
    downloads = list((site / "_downloads").rglob("*.ipynb")) if (site / "_downloads").is_dir() else []
    for download in downloads:
        if download.name in release:
            assert download.read_bytes() == release[download.name].read_bytes(), (
                f"{download.relative_to(site)} differs from exercises/: the release is offered as it is, unexecuted"
            )


def test_downloaded_exercises_link_to_their_published_chapter(site):
    from scripts import exercise_links

    downloads = sorted((site / "_downloads").rglob("*.ipynb")) if (site / "_downloads").is_dir() else []
    assert downloads, "the chapters offer no exercise notebook for download"
    base = exercise_links.site_url()
    for download in downloads:
        source = "".join(json.loads(download.read_text(encoding="utf-8"))["cells"][0]["source"])
        targets = re.findall(r"\]\(([^)\s]+)\)", source)
        chapters = [target for target in targets if "/chapters/" in target]
        assert len(chapters) == 1 and chapters[0].startswith(base), (
            f"{download.name}: its first cell should link once to its chapter under {base}; links: {targets}")
        page = site / chapters[0].removeprefix(base)
        assert page.is_file(), f"{download.name} links to {chapters[0]}, which is not a page of the site"


# ---------------------------------------------------------------------------------------------------------------
# In a browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium not installed at /usr/bin/chromium: browser test skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def tab(browser, server):
    """A fresh page that records failed requests, and refuses (and records) any request to another host."""
    context = browser.new_context()
    page = context.new_page()
    page.failures = []

    def local_only(route):
        if route.request.url.startswith(server) or route.request.url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            page.failures.append(f"request to another host: {route.request.url}")
            route.abort()

    context.route("**/*", local_only)
    page.on("requestfailed", lambda request: page.failures.append(f"failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400 and page.failures.append(
        f"HTTP {response.status}: {response.url}"))
    page.on("pageerror", lambda error: page.failures.append(f"JavaScript error: {error}"))
    yield page
    context.close()


_WAIT_FOR_IMAGES = """async () => {
    const images = Array.from(document.images);
    images.forEach(image => { image.loading = "eager"; });
    await Promise.all(images.map(image => image.complete ? null : new Promise(done => {
        image.addEventListener("load", done); image.addEventListener("error", done); setTimeout(done, 10000);
    })));
    return images.filter(image => !(image.naturalWidth > 0)).map(image => image.getAttribute("src"));
}"""

_WAIT_FOR_MATHJAX = """async () => {
    const math = document.querySelectorAll("span.math, div.math, .math-display, .math-inline").length;
    if (math === 0) { return {math: 0, rendered: 0, errors: 0}; }
    const deadline = Date.now() + 20000;
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline) {
        await new Promise(done => setTimeout(done, 50));
    }
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
    return {
        math: math,
        rendered: document.querySelectorAll("mjx-container").length,
        errors: document.querySelectorAll("mjx-merror").length,
    };
}"""

_PROSE_TEXT = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach(node => node.remove());
    return body.textContent;
}"""

_ERROR_OUTPUTS = ".output.stderr, .output.traceback, .output.error, .system-message, .cell_output .traceback"


def test_every_page_renders_cleanly(tab, server, site):
    problems = []
    pages = _pages()
    assert len(pages) >= 5, f"only {len(pages)} pages were built"
    for path in pages:
        name = path.relative_to(site).as_posix()
        tab.failures.clear()
        tab.goto(server + name, wait_until="load")
        text = tab.inner_text("body")
        if "Traceback (most recent call last)" in text:
            problems.append(f"{name}: shows a Python traceback")
        error_outputs = tab.locator(_ERROR_OUTPUTS).count()
        if error_outputs:
            problems.append(f"{name}: {error_outputs} error or stderr output(s)")
        broken = tab.evaluate(_WAIT_FOR_IMAGES)
        if broken:
            problems.append(f"{name}: images not loaded: {broken}")
        maths = tab.evaluate(_WAIT_FOR_MATHJAX)
        if maths["math"] and maths["rendered"] < maths["math"]:
            problems.append(f"{name}: {maths['math']} formulas but {maths['rendered']} rendered by MathJax")
        if maths["errors"]:
            problems.append(f"{name}: {maths['errors']} MathJax errors (unknown macro or bad TeX)")
        prose = tab.evaluate(_PROSE_TEXT)
        if "$$" in prose or re.search(r"\\\(|\\\[|\\begin\{", prose):
            problems.append(f"{name}: raw TeX left in the text")
        tab.wait_for_load_state("networkidle")
        problems.extend(f"{name}: {failure}" for failure in tab.failures)
    assert not problems, "\n".join(problems)


def test_mathjax_renders_the_introduction(tab, server):
    tab.goto(server + "intro.html", wait_until="load")
    maths = tab.evaluate(_WAIT_FOR_MATHJAX)
    assert maths["math"] >= 3 and maths["rendered"] >= maths["math"], maths
    # The labelled update rule is display maths, rendered as a block.
    assert tab.locator("mjx-container[display='true']").count() >= 1


def test_search_finds_adam(tab, server):
    tab.goto(server + "search.html?q=Adam", wait_until="load")
    tab.wait_for_function("() => document.querySelectorAll('#search-results ul.search li').length > 0", timeout=30000)
    results = tab.locator("#search-results ul.search li").all_inner_texts()
    assert any("adam" in result.lower() for result in results), results
    assert not tab.failures, tab.failures


# ---------------------------------------------------------------------------------------------------------------
# Readable for everyone: alt text and captions, phones, solutions that open

_FIGURES = """() => {
    const article = document.querySelector("article") || document.body;
    // Content images: figures of the chapters and pages. The theme's own icons (_static/) are decoration.
    const images = Array.from(article.querySelectorAll("img")).filter(
        image => !(image.getAttribute("src") || "").includes("_static/"));
    return images.map(image => {
        const figure = image.closest("figure");
        const caption = figure ? figure.querySelector("figcaption") : null;
        return {
            src: image.getAttribute("src") || "",
            alt: image.getAttribute("alt"),
            figure: figure !== null,
            caption: caption ? caption.textContent.replace(/[#¶]\\s*$/, "").trim() : "",
        };
    });
}"""


def _alt_text_problem(alt, src):
    """Why ``alt`` is not real alt text for the image at ``src`` (None if it is)."""
    if alt is None or not alt.strip():
        return "no alt text"
    alt = alt.strip()
    name = src.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    if alt in (src, name, stem) or alt.endswith(name) or re.search(r"\.(png|svg|jpe?g|gif|webp)$", alt, re.I):
        return f"alt text is the file path or name ({alt!r})"
    if re.fullmatch(r"[0-9a-f]{16,}", alt) or len(alt.split()) < 3:
        return f"alt text does not say what the image shows ({alt!r})"
    return None


@pytest.mark.parametrize("alt, src, problem", [
    (None, "_images/a1b2.png", "no alt text"),
    ("  ", "_images/a1b2.png", "no alt text"),
    ("_images/a1b2c3.png", "_images/a1b2c3.png", "file path or name"),
    ("a1b2c3.png", "_images/a1b2c3.png", "file path or name"),
    ("a1b2c3", "_images/a1b2c3.png", "file path or name"),
    ("../_images/loss.svg", "../_images/other.svg", "file path or name"),
    ("0123456789abcdef0123", "_images/x.png", "does not say what the image shows"),
    ("figure", "_images/x.png", "does not say what the image shows"),
    ("Loss against step, falling for three rates", "_images/x.png", None),
])
def test_what_counts_as_real_alt_text(alt, src, problem):
    found = _alt_text_problem(alt, src)
    assert (found is None) if problem is None else (problem in found), found


def test_every_figure_has_alt_text_and_a_caption(tab, server, site):
    problems = []
    figures = 0
    for path in _content_pages():
        name = path.relative_to(site).as_posix()
        tab.goto(server + name, wait_until="load")
        for image in tab.evaluate(_FIGURES):
            figures += 1
            short = image["src"].rsplit("/", 1)[-1][:24]
            problem = _alt_text_problem(image["alt"], image["src"])
            if problem:
                problems.append(f"{name}: image {short}: {problem}")
            if not image["figure"]:
                problems.append(f"{name}: image {short} is not in a <figure> (give its cell a mystnb figure caption)")
            elif not image["caption"]:
                problems.append(f"{name}: image {short} has an empty or missing <figcaption>")
    assert figures > 0, "no page has a figure: the check above checked nothing"
    assert not problems, f"{len(problems)} problems with figures:\n" + "\n".join(problems)


_OVERFLOW = """() => {
    const page = document.scrollingElement;
    const width = page.clientWidth;
    // An element makes the page scroll sideways if it sticks out to the right and no ancestor clips or scrolls it.
    const clipped = element => {
        for (let parent = element.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
            const style = getComputedStyle(parent);
            if (style.position === "fixed" || !["visible", ""].includes(style.overflowX)) { return true; }
        }
        return getComputedStyle(element).position === "fixed";
    };
    const culprits = [];
    for (const element of document.querySelectorAll("body *")) {
        const box = element.getBoundingClientRect();
        if (box.width === 0 || box.right <= width + 1 || clipped(element)) { continue; }
        const parent = element.parentElement;
        if (parent && parent.getBoundingClientRect().right > width + 1 && !clipped(parent)
            && parent !== document.body) { continue; }          // report the outermost one only
        const text = (element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 50);
        culprits.push(`<${element.tagName.toLowerCase()} class="${element.getAttribute("class") || ""}"> `
                      + `to ${Math.round(box.right)} px: ${text}`);
        if (culprits.length >= 4) { break; }
    }
    return {scrollWidth: page.scrollWidth, clientWidth: width, culprits: culprits};
}"""


@pytest.fixture()
def phone(browser, server):
    """A page in a 390 px wide window, the width of a phone."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    yield page
    context.close()


def test_no_page_scrolls_sideways_on_a_phone(phone, server, site):
    problems = []
    for path in _content_pages():
        name = path.relative_to(site).as_posix()
        phone.goto(server + name, wait_until="load")
        phone.evaluate(_WAIT_FOR_IMAGES)
        phone.evaluate(_WAIT_FOR_MATHJAX)
        width = phone.evaluate(_OVERFLOW)
        if width["scrollWidth"] > width["clientWidth"] + 1:
            problems.append(f"{name}: {width['scrollWidth']} px wide in a {width['clientWidth']} px window; "
                            + "; ".join(width["culprits"]))
    assert not problems, f"{len(problems)} pages scroll sideways at 390 px:\n" + "\n".join(problems)


_SOLUTION_STATE = """(id) => {
    const solution = document.getElementById(id);
    const content = solution.querySelector("section, p:not(.admonition-title), div.highlight");
    return {
        hidden: solution.classList.contains("toggle-hidden"),
        visible: content !== null && content.getBoundingClientRect().height > 0
            && getComputedStyle(content).visibility !== "hidden" && getComputedStyle(content).display !== "none",
        url: location.href,
    };
}"""


def test_clicking_a_solution_title_opens_the_solution(tab, server, site):
    checked, problems = 0, []
    for path in _content_pages():
        name = path.relative_to(site).as_posix()
        if 'class="solution' not in path.read_text(encoding="utf-8"):
            continue
        tab.goto(server + name, wait_until="load")
        tab.wait_for_function("() => document.querySelectorAll('div.solution .toggle-button').length > 0",
                              timeout=10000)
        ids = tab.evaluate("() => Array.from(document.querySelectorAll('div.solution.dropdown')).map(s => s.id)")
        for solution_id in ids:
            selector = f"[id='{solution_id}']"
            title = tab.locator(f"{selector} > .admonition-title")
            link = tab.locator(f"{selector} > .admonition-title a")
            before = tab.evaluate(_SOLUTION_STATE, solution_id)
            if not before["hidden"] or before["visible"]:
                problems.append(f"{name}#{solution_id}: the solution is shown before it is clicked")
                continue
            # Click where a reader clicks: on the title's text, which is mostly the link to the exercise.
            target = link if link.count() else title
            target.scroll_into_view_if_needed()
            box = target.bounding_box()
            tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            tab.wait_for_timeout(200)
            after = tab.evaluate(_SOLUTION_STATE, solution_id)
            if after["url"] != before["url"]:
                problems.append(f"{name}#{solution_id}: clicking the title jumped to {after['url']}")
                tab.goto(server + name, wait_until="load")
            elif after["hidden"] or not after["visible"]:
                problems.append(f"{name}#{solution_id}: clicking the title did not open the solution")
            checked += 1
    assert checked > 0, "no solution found on any page: the check above checked nothing"
    assert not problems, "\n".join(problems)
