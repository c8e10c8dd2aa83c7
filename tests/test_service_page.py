"""The service's page (``GET /``) in a real browser: text typed into the box and Extract pressed in headless
chromium shows what ``POST /v1/extract`` answers for that text (each entity highlighted at its offsets with
its label, each relation a table row), and the API's own message when the API refuses the text.

The browser is driven over the DevTools protocol on a pipe (``chromium --remote-debugging-pipe``): nothing to
install beyond Debian's chromium, no driver binary to keep at the browser's version, no port to race for.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ie.inference.results import Entity, Prediction, Relation
from ie.serving.app import Limits, create_app

# Fixed chromium descriptors: it reads commands on fd 3 and writes answers and events on fd 4, each a JSON
# text ended by a NUL byte. pass_fds keeps a descriptor's number, and preexec_fn is unsafe while the
# server's threads run, so this launcher (a fresh interpreter) moves the two into place and execs chromium.
LAUNCHER = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]

# What the page shows, read in the page: the result box as text pieces and marks in reading order (a mark's
# visible text without its label's <sub>), the relation table's rows, the status line and the legend.
READ_PAGE = """(() => {
  const $ = (id) => document.getElementById(id);
  const shown = (mark) => [...mark.childNodes].filter((n) => n.nodeName !== "SUB").map((n) => n.textContent).join("");
  const entity = (mark) => ({label: mark.dataset.label, text: shown(mark), sub: mark.querySelector("sub").textContent,
                             classes: mark.className});
  return {
    pieces: [...$("text").childNodes].map((n) => n.nodeName === "MARK" ? {mark: entity(n)} : {text: n.textContent}),
    rows: [...document.querySelectorAll("#relations tbody tr")].map((tr) => ({
      head: entity(tr.cells[0].querySelector("mark")), label: tr.cells[1].textContent,
      tail: entity(tr.cells[2].querySelector("mark")), score: tr.cells[3].textContent})),
    table_shown: $("relations").checkVisibility(),
    status: $("status").textContent, status_class: $("status").className,
    legend: [...$("legend").children].map((span) => span.textContent),
    typed: $("input").value,
  };
})()"""
# How many answers from /v1/extract the page has received (the browser's resource timing records each).
ANSWERS = "performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/v1/extract')).length"


class Chromium:
    """One headless chromium; :meth:`tab` opens a page in it."""

    def __init__(self, exe: str, profile: Path, timeout: float = 30):
        profile.mkdir(parents=True, exist_ok=True)
        commands_in, self._commands = map(_above_stdio, os.pipe())
        self._answers, answers_out = map(_above_stdio, os.pipe())
        self._log = open(profile / "chromium.log", "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                str(commands_in),
                str(answers_out),
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(commands_in, answers_out),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(commands_in)
        os.close(answers_out)
        self.timeout, self.profile, self._buffer, self._last_id = timeout, profile, b"", 0
        try:
            self.call("Browser.getVersion")  # answers once the browser is up
        except AssertionError:
            self.proc.kill()
            self.proc.wait()
            raise

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data) :]
        deadline = time.monotonic() + self.timeout
        while True:  # events (no id) and late answers are skipped
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([self._answers], [], [], max(left, 0))
                chunk = os.read(self._answers, 1 << 20) if ready else b""
                if not chunk:
                    why = "timed out" if not ready else "closed"
                    log = (self.profile / "chromium.log").read_text()[-2000:]
                    raise AssertionError(f"chromium gave no answer to {method} ({why}); its log: {log}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._last_id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer["result"]

    @contextmanager
    def tab(self, width: int = 1200, height: int = 900):
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tab = Tab(self, session)
        tab.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        try:
            yield tab
        finally:
            self.call("Target.closeTarget", targetId=target)

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.proc.wait(timeout=15)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._commands)
            os.close(self._answers)
            self._log.close()


class Tab:
    """A page, driven as a person would: a click where the element is drawn, text typed where the caret is."""

    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def call(self, method: str, **params) -> dict:
        return self.browser.call(method, self.session, **params)

    def evaluate(self, expression: str):
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"not true after {timeout} s: {expression}"
            time.sleep(0.05)
        return value

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def click(self, selector: str) -> None:
        x, y = self.evaluate(f"""(() => {{ const node = document.querySelector({json.dumps(selector)});
            node.scrollIntoView({{block: "center"}}); const box = node.getBoundingClientRect();
            return [box.x + box.width / 2, box.y + box.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):  # answered once the page's handlers have run
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type_into(self, selector: str, text: str) -> None:
        """Click into the box, select what it holds, and type ``text`` over it."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        if text:
            self.call("Input.insertText", text=text)
        else:
            for kind in ("keyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", type=kind, key="Delete", code="Delete", windowsVirtualKeyCode=46)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


def _above_stdio(fd: int) -> int:
    """The descriptor moved to 5 or above, so that the launcher's dup2 onto 3 and 4 cannot overwrite its other one."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


@contextmanager
def served(app):
    """``app`` on uvicorn in a thread, on a port bound here first (no race for a free one); yields its URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        assert httpx.get(url + "v1/health", timeout=10).json()["status"] == "ok"
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def extract_on_page(tab: Tab, url: str, text: str, fresh: bool = True) -> dict:
    """Type ``text`` into the page, press Extract, wait for the answer to be shown; what the page shows."""
    if fresh:
        tab.open(url)
    answered = tab.evaluate(ANSWERS)
    tab.type_into("#input", text)
    tab.click("#extract")
    # one more answer arrived, and the status no longer says the one the press wrote: the page has shown it
    tab.wait_for(f"{ANSWERS} > {answered} && document.getElementById('status').textContent !== 'extracting…'")
    return tab.evaluate(READ_PAGE)


def check_page_shows(view: dict, answer: dict, typed: str) -> None:
    """The page shows exactly ``answer`` (the API's JSON for ``typed``): the text in full, each entity marked at
    its character offsets with its label, one table row per relation, and the counts in the status line."""
    assert view["typed"] == typed and answer["text"] == typed
    shown, marks = "", []
    for piece in view["pieces"]:
        if "mark" in piece:
            mark = piece["mark"]
            assert mark["sub"] == mark["label"]
            marks.append((mark["label"], len(shown), len(shown) + len(mark["text"]), mark["text"]))
            shown += mark["text"]
        else:
            shown += piece["text"]
    assert shown == typed  # no text lost, doubled or moved around the marks
    entities = sorted(answer["entities"], key=lambda e: e["start"])
    assert marks == [(e["label"], e["start"], e["end"], e["text"]) for e in entities]
    assert all(typed[start:end] == text for _, start, end, text in marks)

    def side(mark: dict) -> tuple:
        return mark["text"], mark["label"]

    assert [(side(r["head"]), r["label"], side(r["tail"])) for r in view["rows"]] == [
        ((r["head"]["text"], r["head"]["label"]), r["label"], (r["tail"]["text"], r["tail"]["label"]))
        for r in answer["relations"]
    ]
    for row, relation in zip(view["rows"], answer["relations"]):
        assert abs(float(row["score"]) - relation["score"]) <= 0.0005 + 1e-9, (row["score"], relation["score"])
    assert view["table_shown"] == bool(answer["relations"])
    assert view["status_class"] == ""
    assert view["status"] == f"{len(answer['entities'])} entities, {len(answer['relations'])} relations"


def api_extract(url: str, text: str) -> httpx.Response:
    return httpx.post(url + "v1/extract", json={"text": text}, timeout=60)


class ChosenAnswers:
    """A Predictor that answers chosen predictions (the run's own Predictor for the rest: schema, backends), so
    that the page is checked on as many entities and relations as wanted, whatever the tiny model finds."""

    def __init__(
        self, predictor, answers: dict[str, Prediction], release: threading.Event | None = None, held: str | None = None
    ):
        self.predictor, self.answers, self.release, self.held = predictor, answers, release, held

    def predict(self, texts):
        if self.held in texts:
            assert self.release.wait(30), "the held text was never released"
        if "boom" in texts:
            raise RuntimeError("the model broke")  # the service answers 500, not its JSON error
        return [self.answers.get(text, Prediction(text)) for text in texts]

    def __getattr__(self, name):
        return getattr(self.predictor, name)


def chosen(text: str, entities: list[tuple[str, str]], relations: list[tuple[int, str, int, float]]) -> Prediction:
    """A prediction for ``text``: each entity (label, its first occurrence), each relation (head index, label,
    tail index, score)."""
    found = [Entity(label, text.index(words), text.index(words) + len(words), words, 0.9) for label, words in entities]
    return Prediction(text, found, [Relation(label, found[h], found[t], score) for h, label, t, score in relations])


# Characters outside the Basic Multilingual Plane before and among the entities (a JavaScript string counts each
# as two), markup and an ampersand to be shown as typed, a line break, and a label the page has no colour for.
RICH = chosen(
    "🇷🇺🤝🇹🇯 Denis Manturov met Emomali Rahmon in Dushanbe on July 15.\n"
    "The 𝐋𝐢𝐩𝐞𝐭𝐬𝐤 region signed the <b>Roadmap 2030</b> & a plan with Khujand.",
    [
        ("PER", "Denis Manturov"),
        ("PER", "Emomali Rahmon"),
        ("LOC", "Dushanbe"),
        ("DATE", "July 15"),
        ("LOC", "𝐋𝐢𝐩𝐞𝐭𝐬𝐤"),
        ("AGREEMENT", "<b>Roadmap 2030</b>"),
        ("MISC", "Khujand"),
    ],
    [(0, "met_with", 1, 0.912), (4, "party_to", 5, 0.4321), (5, "held_on", 3, 0.07)],
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from tests.test_html_report import _chromium

    chromium = Chromium(_chromium(), tmp_path_factory.mktemp("chromium"))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def predictor(run_dir):
    from ie.inference.predictor import Predictor

    return Predictor.from_pretrained(run_dir)


@pytest.fixture(scope="module")
def tiny_service(predictor, run_dir):
    """The tiny run's Predictor served with a small max_chars, so that a refused text is quick to type."""
    with served(create_app(predictor, Limits(max_chars=300), run_dir)) as url:
        yield url


@pytest.mark.parametrize(
    "text",
    [
        "Denis Manturov met Emomali Rahmon in Dushanbe on July 15. The Lipetsk region signed a memorandum with Khujand.",
        "🇷🇺 Alexei Overchuk opened the forum in <i>Tashkent</i> & Samarkand on 3 May.\nIt ends on 5 May.",
        "",
    ],
)
def test_typed_text_shows_what_the_api_answers_for_it(browser, tiny_service, text):
    with browser.tab() as tab:
        view = extract_on_page(tab, tiny_service, text)
    answer = api_extract(tiny_service, text)
    assert answer.status_code == 200
    check_page_shows(view, answer.json(), text)


def test_chosen_entities_and_relations_are_marked_at_their_offsets_and_listed(browser, predictor, run_dir):
    """The tiny model may find little: this service answers :data:`RICH`, seven entities and three relations."""
    with served(create_app(ChosenAnswers(predictor, {RICH.text: RICH}), run_dir=run_dir)) as url:
        with browser.tab() as tab:
            view = extract_on_page(tab, url, RICH.text)
        answer = api_extract(url, RICH.text).json()
        labels = [e["label"] for e in httpx.get(url + "v1/schema").json()["schema"]["entities"]]
    assert answer == RICH.to_dict()
    check_page_shows(view, answer, RICH.text)
    assert len(view["rows"]) == 3 and sum("mark" in piece for piece in view["pieces"]) == 7
    assert [piece["mark"]["classes"] for piece in view["pieces"] if "mark" in piece] == [
        "entity PER",
        "entity PER",
        "entity LOC",
        "entity DATE",
        "entity LOC",
        "entity AGREEMENT",
        "entity other",
    ]
    assert view["legend"] == labels


def test_a_refused_text_shows_the_apis_message_in_place_of_the_last_result(browser, tiny_service):
    too_long = "Tashkent hosted the forum. " * 12  # 324 characters, over the service's max_chars=300
    with browser.tab() as tab:
        extract_on_page(tab, tiny_service, "Denis Manturov met Emomali Rahmon in Dushanbe on July 15.")
        view = extract_on_page(tab, tiny_service, too_long, fresh=False)
    answer = api_extract(tiny_service, too_long)
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert view["status"] == f"{error['field']}: {error['message']}" and "max_chars=300" in view["status"]
    assert view["status_class"] == "error"
    assert view["typed"] == too_long  # kept, to be shortened
    assert view["pieces"] == [] and view["rows"] == [] and not view["table_shown"]  # the last text's result is gone


def test_an_answer_that_is_not_json_shows_its_http_status(browser, predictor, run_dir):
    with served(create_app(ChosenAnswers(predictor, {}), run_dir=run_dir)) as url:
        assert api_extract(url, "boom").status_code == 500
        with browser.tab() as tab:
            view = extract_on_page(tab, url, "boom")
    assert view["status"] == "HTTP 500 Internal Server Error" and view["status_class"] == "error"


def test_an_earlier_press_answered_late_does_not_replace_the_latest_result(browser, predictor, run_dir):
    """Two predict workers answer out of order: the page shows the answer to the last press, whatever comes after."""
    held, latest = chosen("Rahmon met Manturov.", [("PER", "Rahmon"), ("PER", "Manturov")], []), RICH
    release = threading.Event()
    fake = ChosenAnswers(predictor, {held.text: held, latest.text: latest}, release, held.text)
    app = create_app(fake, Limits(predict_workers=2, max_wait_ms=0), run_dir)
    try:
        with served(app) as url, browser.tab() as tab:
            tab.open(url)
            tab.type_into("#input", held.text)
            tab.click("#extract")  # its answer waits for `release`
            view = extract_on_page(tab, url, latest.text, fresh=False)
            check_page_shows(view, latest.to_dict(), latest.text)
            release.set()
            tab.wait_for(f"{ANSWERS} === 2")  # the held answer arrived too
            view = tab.evaluate(f"new Promise((done) => setTimeout(() => done({READ_PAGE}), 300))")
            check_page_shows(view, latest.to_dict(), latest.text)
    finally:
        release.set()
