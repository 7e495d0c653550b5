"""The built-in chat page at `/`, driven in headless Chromium (Debian's `chromium` through Playwright; no
browser download) against real `taskchat api` and `taskchat worker` processes with a slow model, so that
the answer visibly streams. Skips without Chromium, except in CI."""

import os
import re
import shutil

import pytest
from sqlmodel import select

from common.models import Task

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
async def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is required in CI (apt-get install -y chromium); not found at {CHROMIUM}")
        pytest.skip("No Chromium on this machine (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        await browser.close()


async def test_chat_streams_the_answer_with_tool_activity_and_survives_a_reload(
    browser, slow_stack, sessions, user_id
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1200, "height": 800})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    chats: list[dict[str, str]] = []
    page.on("request", lambda r: chats.append(r.headers) if r.url.endswith(f"/api/{user_id}/chat") else None)

    await page.goto(f"{slow_stack}/")
    await page.fill("#dev-user", user_id)
    await page.click("#get-token")
    await expect(page.locator("#who")).to_have_text(user_id)
    await expect(page.locator("#title")).to_have_text("New conversation")

    # Record the answer's text as the page renders it while the stream is open.
    await page.evaluate(
        """() => { window.streamed = []; new MutationObserver(() => {
             const text = document.querySelector(".msg.assistant.streaming .text");
             if (text && text.textContent) window.streamed.push(text.textContent);
           }).observe(document.getElementById("messages"),
                      {subtree: true, childList: true, characterData: true}); }"""
    )
    await page.fill("#input", "add a task to buy milk")
    await page.press("#input", "Enter")
    answer = page.locator(".msg.assistant")
    tool = answer.locator('.tool[data-name="add_task"]')
    await expect(tool).to_be_visible()
    await expect(answer).not_to_have_class(re.compile("streaming"), timeout=15_000)
    await expect(answer.locator(".text")).to_contain_text("Buy milk")
    final = await answer.locator(".text").text_content()
    streamed = await page.evaluate("window.streamed")
    assert streamed and final.startswith(streamed[0])  # text arrived in deltas before the stream's end
    await expect(tool).to_have_attribute("data-status", "ok")
    await expect(tool.locator(".detail")).to_contain_text("Added “Buy milk”")
    (headers,) = chats
    assert headers["accept"] == "text/event-stream" and headers["idempotency-key"]

    # A reload keeps the token and reopens the conversation from the URL; on a phone-sized screen the
    # conversation list is one tap away.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(page.locator(".msg.user .text")).to_have_text("add a task to buy milk")
    await expect(page.locator(".msg.assistant .text")).to_contain_text("Buy milk")
    await expect(page.locator('.msg.assistant .tool[data-name="add_task"]')).to_have_attribute(
        "data-status", "ok"
    )
    await page.click("#menu")
    conversation = page.locator("#conversations button")
    await expect(conversation).to_have_count(1)
    await expect(conversation).to_be_visible()
    await expect(conversation).to_have_attribute("aria-current", "true")
    assert problems == []
    async with sessions() as s:
        assert [t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()] == [
            "Buy milk"
        ]


async def test_in_production_the_page_asks_for_a_token_and_signs_in_with_one(
    browser, settings, user_id, tmp_path
) -> None:
    """No development tokens in production: the page offers only to paste a token, and one works."""
    from playwright.async_api import expect

    from api.main import create_app
    from common.devkeys import ensure_keyset, mint_token
    from tests.helpers import ServerThread, free_port

    key_file = tmp_path / "jwks.json"
    ensure_keyset(key_file)
    deployed = settings.model_copy(update={"taskchat_env": "production", "auth_jwks_file": key_file})
    port = free_port()
    with ServerThread(create_app(deployed), port):
        page = await browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await page.goto(f"http://127.0.0.1:{port}/")
        await expect(page.locator("#dev-card")).to_be_hidden()
        await expect(page.locator("#paste-title")).to_have_text("Sign in with a token")
        await expect(page.locator("#paste")).to_be_focused()
        await page.fill("#paste", mint_token(deployed, user_id))
        await page.click("#use-token")
        await expect(page.locator("#who")).to_have_text(user_id)
        await expect(page.locator("#title")).to_have_text("New conversation")
        await page.close()
    assert problems == []


MEASURE = """() => { const input = document.getElementById("input");
    return {page: document.documentElement.scrollWidth, hint: input.scrollHeight - input.clientHeight,
            send: document.getElementById("send").getBoundingClientRect().right}; }"""


async def test_a_phone_sized_screen_shows_the_whole_page(browser, slow_stack, user_id, tmp_path) -> None:
    """390 px wide (a current phone): nothing scrolls sideways, the input's hint shows whole, and a chat
    with its tool activity fits the width."""
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(f"{slow_stack}/")
    await page.fill("#dev-user", user_id)
    await page.click("#get-token")
    await expect(page.locator("#who")).to_have_text(user_id)

    empty = await page.evaluate(MEASURE)
    # Chromium counts the wrapped placeholder in scrollHeight: a positive difference means a cut-off hint.
    assert empty == {"page": 390, "hint": 0, "send": empty["send"]} and empty["send"] <= 390, empty

    await page.fill("#input", "add a task to call the plumber about the leaking kitchen tap tomorrow")
    await page.press("#input", "Enter")
    answer = page.locator(".msg.assistant")
    await expect(answer).not_to_have_class(re.compile("streaming"), timeout=15_000)
    await expect(answer.locator('.tool[data-name="add_task"]')).to_have_attribute("data-status", "ok")
    after = await page.evaluate(MEASURE)
    assert after["page"] == 390 and after["hint"] == 0 and after["send"] <= 390, after
    boxes = await page.evaluate(
        """() => [...document.querySelectorAll(".msg, .tool, .msg .text")]
                   .map((node) => node.getBoundingClientRect().right)"""
    )
    assert boxes and max(boxes) <= 390, boxes
    await page.screenshot(path=tmp_path / "chat-390.png")  # kept with the test's temp files, to look at


SHOTS = os.environ.get("TASKCHAT_SCREENSHOTS")  # a folder to keep screenshots in, to look at


async def test_the_task_panel_shows_a_new_task_live_with_its_due_time_and_tag(
    browser, slow_stack, user_id, tmp_path
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{slow_stack}/")
    await page.fill("#dev-user", user_id)
    await page.click("#get-token")
    panel = page.locator("#tasks")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("Nothing to do")

    await page.fill("#input", "add buy milk tomorrow at 9am #errands")
    await page.press("#input", "Enter")
    task = panel.locator(".task", has_text="Buy milk")
    # Live, from the run's tool result, while the answer still streams (the slow model takes seconds).
    await expect(task).to_be_visible(timeout=15_000)
    assert await page.locator(".msg.assistant.streaming").count() == 1
    await expect(task.locator(".due")).to_have_text("due tomorrow 9:00 AM")
    await expect(task.locator(".tag")).to_have_text("#errands")
    await expect(page.locator(".msg.assistant")).not_to_have_class(re.compile("streaming"), timeout=15_000)
    await page.screenshot(path=f"{SHOTS or tmp_path}/tasks-panel-1280.png")

    # On a phone the panel is one tap away and fits the width.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(panel).not_to_be_in_viewport()
    await page.click("#tasks-toggle")
    await expect(task).to_be_in_viewport()
    # It slides in: wait for it to come to rest inside the screen.
    await page.wait_for_function(
        "() => document.getElementById('tasks').getBoundingClientRect().right <= 390"
    )
    assert await page.evaluate("document.documentElement.scrollWidth") == 390
    await page.screenshot(path=f"{SHOTS or tmp_path}/tasks-panel-390.png")
    assert problems == []


# The page's Notification, recorded: a headless browser shows no notifications, and no test can click a
# real permission prompt. The page asks for permission from its button and notifies once it has it.
FAKE_NOTIFICATIONS = """
window.shown = [];
class FakeNotification {
  constructor(title, options) { window.shown.push({ title, body: options.body, tag: options.tag }); }
  close() {}
}
FakeNotification.permission = "default";
FakeNotification.requestPermission = async () => (FakeNotification.permission = "granted");
window.Notification = FakeNotification;
"""


async def test_a_reminder_arrives_in_every_open_tab_and_changes_follow_from_tab_to_tab(
    browser, slow_stack, settings, db, sessions, user_id, tmp_path
) -> None:
    """Two tabs of one user: a task added by chatting in one shows up in the other; a reminder set a few
    seconds ahead (through the MCP tools, as any client could) arrives in both as a toast, lands in the
    open conversation, and becomes a browser notification where the user allowed them."""
    from datetime import UTC, datetime, timedelta

    from playwright.async_api import expect

    from tests.e2e.test_reminders import add, tools_of

    context = await browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin")
    await context.add_init_script(FAKE_NOTIFICATIONS)
    problems: list[str] = []
    first = await context.new_page()
    first.on("pageerror", lambda error: problems.append(str(error)))
    await first.goto(f"{slow_stack}/")
    await first.fill("#dev-user", user_id)
    await first.click("#get-token")
    await expect(first.locator("#who")).to_have_text(user_id)
    await expect(first.locator("#notify")).to_be_visible()
    await first.locator(".tasks-head").screenshot(path=f"{SHOTS or tmp_path}/notify-button.png")
    await first.click("#notify")
    await expect(first.locator("#notify")).to_be_hidden()  # allowed: no need to ask again

    second = await context.new_page()  # the same browser: signed in from the stored token
    second.on("pageerror", lambda error: problems.append(str(error)))
    await second.set_viewport_size({"width": 390, "height": 844})
    await second.goto(f"{slow_stack}/")
    await expect(second.locator("#who")).to_have_text(user_id)

    await first.fill("#input", "add buy milk")
    await first.press("#input", "Enter")
    await expect(first.locator(".msg.assistant")).not_to_have_class(re.compile("streaming"), timeout=15_000)
    await second.click("#tasks-toggle")
    await expect(second.locator("#tasks .task", has_text="Buy milk")).to_be_visible(timeout=5_000)

    env = {"REDIS_PREFIX": f"{settings.redis_prefix}-slow"}
    at = datetime.now(UTC) + timedelta(seconds=5)
    async with tools_of(db, settings, env) as tools:
        await add(tools, user_id, "Stretch", at)
    for page in (first, second):  # the new task and its reminder, in both panels
        await expect(page.locator("#tasks .task", has_text="Stretch")).to_contain_text("⏰", timeout=5_000)
    await second.keyboard.press("Escape")  # closes the drawer

    toasts = [page.locator(".toast", has_text="Stretch") for page in (first, second)]
    for toast in toasts:
        await expect(toast).to_be_visible(timeout=15_000)
    print(f"\nreminder on the page {(datetime.now(UTC) - at).total_seconds():.2f} s after its time")  # noqa: T201
    await expect(first.locator(".msg.assistant.reminder .text")).to_have_text("Reminder: Stretch")
    await expect(first.locator("#tasks .task", has_text="Stretch")).not_to_contain_text("⏰")
    assert await first.evaluate("window.shown") == [
        {"title": "Reminder", "body": "Stretch", "tag": await first.evaluate(
            "'reminder-' + document.querySelector('.toast').dataset.reminder"
        )}
    ]  # fmt: skip
    await first.screenshot(path=f"{SHOTS or tmp_path}/reminder-1280.png")
    await second.screenshot(path=f"{SHOTS or tmp_path}/reminder-390.png")

    await toasts[0].locator(".close").click()
    await expect(toasts[0]).to_have_count(0)
    await context.close()
    assert problems == []
    async with sessions() as s:
        from common.models import Message, Role

        (reminder,) = (
            await s.exec(
                select(Message).where(Message.user_id == user_id, Message.content == "Reminder: Stretch")
            )
        ).all()
    assert reminder.role == Role.assistant
