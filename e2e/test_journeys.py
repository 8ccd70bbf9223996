"""The three journeys users make, in a real Chromium: the secretary on a phone, the township office on a
desktop. Each main step leaves a screenshot in e2e-artifacts/."""

import json
import re
import uuid

import openpyxl
from playwright.sync_api import expect

PHONE = (375, 812)
DESKTOP = (1440, 900)
BRANCH = "幸福里社区第一党支部"
COMMUNITY = "幸福里社区党委"
BRANCH_SHEETS = ["党员名册", "三会一课记录", "主题党日", "组织生活会", "谈心谈话", "民主评议", "党费收缴", "思想汇报",
                 "学习培训", "发展党员", "合规情况"]  # fmt: skip


def checklist_item(page, rule_name):
    """The 本期事项 row of a branch-level rule (not a group's row)."""
    return page.locator("section[aria-labelledby=h-checklist] li.list-group-item").filter(
        has=page.locator("span.fw-semibold", has_text=re.compile(f"^{rule_name}$"))
    ).filter(has_not_text="党小组")  # fmt: skip


def test_secretary_records_theme_day_on_phone(open_browser, login, shot):
    page = open_browser(PHONE, phone=True)
    login(page, "secretary")
    expect(page).to_have_url(re.compile(r"/dashboard/branch/\d+/$"))
    expect(page.locator("h1")).to_have_text(BRANCH)
    for rule in ("主题党日", "党课"):
        expect(checklist_item(page, rule).locator(".badge").first).to_contain_text("待完成")
    shot(page, "checklist-before")

    # From the 主题党日 card; then the same record also carries 党课.
    page.get_by_role("link", name="记录主题党日").tap()
    expect(page.locator("h1")).to_have_text(re.compile("记录"))
    expect(page.get_by_role("checkbox", name="主题党日")).to_be_checked()
    page.get_by_role("checkbox", name="党课", exact=True).check()
    topic = f"学习党章 主题党日暨党课 {uuid.uuid4().hex[:6]}"
    page.get_by_role("textbox", name=re.compile(r"^主题\*?$")).fill(topic)
    page.get_by_label("主讲人（党课）").fill("王书记")
    page.get_by_label("地点").fill("社区党群服务中心")
    # Someone who cannot come: 请假, with the reason the form asks for.
    first = page.locator("#meeting-form [role=group][aria-label$=出勤]").first
    name = first.get_attribute("aria-label").removesuffix("出勤")
    first.locator("label", has_text="请假").tap()
    reason = page.get_by_label(f"{name}请假事由")
    expect(reason).to_be_visible()
    reason.fill("在外地照顾病人")
    shot(page, "form-filled")

    # Two quick taps on 提交: the first sends the form, the second must not make a second record.
    submit = page.locator("#meeting-form button[type=submit]:not([name])")
    submit.scroll_into_view_if_needed()
    box = submit.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with (
        page.expect_request(lambda r: r.method == "POST" and "/meetings/new/" in r.url) as posted,
        page.expect_navigation(url=re.compile(r"/meetings/\d+/$")),
    ):
        page.touchscreen.tap(x, y)
        page.touchscreen.tap(x, y)
    expect(page.locator("h1")).to_contain_text(topic)
    expect(page.get_by_text("在外地照顾病人")).to_be_visible()
    shot(page, "record-saved")

    # The same form posted again (a replay over a flaky connection) records nothing new.
    replay = page.request.post(posted.value.url, headers={"Content-Type": posted.value.headers["content-type"],
                                                          "Referer": posted.value.url},
                               data=posted.value.post_data_buffer)  # fmt: skip
    assert replay.ok
    page.goto(f"/meetings/?q={topic}")
    expect(page.get_by_text(topic)).to_have_count(1)
    shot(page, "one-record")

    page.goto("/")
    for rule in ("主题党日", "党课"):
        item = checklist_item(page, rule)
        expect(item.locator(".badge").first).to_contain_text("已完成")
        expect(item).to_contain_text(topic)
    shot(page, "checklist-met")


def test_office_drills_from_heatmap_and_returns_a_record(open_browser, login, shot):
    page = open_browser(DESKTOP)
    login(page, "office")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    chart = page.locator("#heat-chart")
    expect(chart).to_be_visible()
    # ECharts draws the heatmap (SVG renderer): one filled rectangle per cell, not an empty canvas.
    heat = json.loads(page.locator("#heat-data").text_content())
    expect(chart.locator("svg path[fill='#d55e00']").first).to_be_attached()
    assert chart.locator("svg path").count() >= len(heat["cells"])
    shot(page, "dashboard")

    # An overdue month of 幸福里社区党委 in which 幸福里社区第一党支部 missed something.
    row = heat["rows"].index(COMMUNITY)
    cell = next(
        c for c in heat["cells"]
        if c["y"] == row and c["s"] == "overdue"
        and BRANCH in page.request.get(c["url"] + "&state=overdue").text()
    )  # fmt: skip
    x, y = page.evaluate(
        "([x, y]) => echarts.getInstanceByDom(document.getElementById('heat-chart'))"
        ".convertToPixel({seriesIndex: 0}, [x, y])",
        [cell["x"], cell["y"]],
    )
    # Bring the cell to the middle of the window, then click it like a user would.
    box = chart.bounding_box()
    page.evaluate("d => window.scrollBy(0, d)", box["y"] + y - DESKTOP[1] / 2)
    box = chart.bounding_box()
    assert 0 < box["y"] + y < DESKTOP[1]
    with page.expect_navigation(url=re.compile(r"/dashboard/obligations/")):
        page.mouse.click(box["x"] + x, box["y"] + y)
    assert page.url.endswith(cell["url"])

    # Only what is overdue.
    page.get_by_label("状态").select_option("overdue")
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    missing = page.locator(".list-group-item").filter(has_text=BRANCH).filter(has_text="逾期未完成").first
    expect(missing).to_be_visible()
    rule_name = missing.locator("span.fw-semibold").inner_text()
    heading = missing.locator("span").first.inner_text()
    unit = heading.split(f"{BRANCH} · ", 1)[1].strip() if f"{BRANCH} · " in heading else None
    shot(page, "overdue-obligations")

    with page.expect_navigation(url=re.compile(r"/todo/")):
        missing.get_by_role("link", name="查看").click()
    expect(page.get_by_role("heading", name=re.compile(BRANCH))).to_be_visible()
    # The missing obligation, not met (the page judges it as of its period's last day: see the report).
    row = page.locator(".list-group-item").filter(has=page.locator("span.fw-semibold", has_text=rule_name))
    if unit:
        row = row.filter(has_text=unit)
    expect(row).to_have_count(1)
    expect(row.locator(".badge").first).not_to_contain_text("已完成")
    expect(row).to_contain_text("已 0 次")
    shot(page, "branch-checklist")

    # A record of that branch (one of those that met another obligation), returned for correction.
    record = page.locator(".list-group-item a").filter(has_text=re.compile(r"^\d\d-\d\d ")).first
    with page.expect_navigation(url=re.compile(r"/meetings/\d+/$")):
        record.click()
    topic = page.locator("h1").inner_text()
    page.get_by_label("退回修改").check()
    comment = f"出勤人数与签到表不符，请核对后修改（{uuid.uuid4().hex[:4]}）"
    page.get_by_label("审核意见").fill(comment)
    with page.expect_navigation():
        page.get_by_role("button", name="提交审核").click()
    expect(page.locator(".alert-danger", has_text=comment)).to_be_visible()
    shot(page, "record-returned")

    # The secretary, on a phone, finds it on the home page.
    phone = open_browser(PHONE, phone=True)
    login(phone, "secretary")
    returned = phone.locator("section[aria-labelledby=h-returned]")
    expect(returned).to_contain_text(comment)
    expect(returned.get_by_role("link")).to_contain_text([topic.split()[-1]])
    shot(phone, "secretary-sees-return")


def test_office_exports_branch_ledger(open_browser, login, shot, tmp_path):
    page = open_browser(DESKTOP)
    login(page, "office")
    page.goto("/orgs/")
    page.get_by_role("link", name=BRANCH, exact=True).first.click()
    expect(page.locator("h1")).to_contain_text(BRANCH)
    year = page.get_by_label("台账年度")
    year_value = year.locator("option").first.get_attribute("value")
    year.select_option(year_value)
    shot(page, "branch-page")

    with page.expect_navigation(url=re.compile(r"/ledgers/\d+/$")):
        page.get_by_role("button", name="导出台账").click()
    progress = page.get_by_role("progressbar", name="导出进度")
    expect(progress).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#ledger-bar")).not_to_have_class(re.compile("progress-bar-animated"))
    download_link = page.locator("#ledger-download")
    expect(download_link).to_be_visible()
    shot(page, "export-ready")

    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    assert BRANCH in download.suggested_filename
    target = tmp_path / download.suggested_filename
    download.save_as(target)

    workbook = openpyxl.load_workbook(target, read_only=True)
    sheets = workbook.sheetnames
    assert sheets[1:] == BRANCH_SHEETS
    cover = [[v for v in row if v is not None] for row in workbook[sheets[0]].iter_rows(values_only=True)]
    assert any(BRANCH in str(v) for row in cover for v in row)
    assert any(f"{year_value}年" in str(v) for row in cover for v in row)
    meetings = list(workbook["三会一课记录"].iter_rows(values_only=True))
    assert len(meetings) > 1, "the year's meetings are listed under the header"
    workbook.close()
    page.goto("/ledgers/")
    logged = page.get_by_role("row").filter(has_text=BRANCH).filter(has_text=f"{year_value}").first
    expect(logged).to_contain_text("已完成")
    shot(page, "export-log")


def test_office_reads_who_was_granted_which_role(open_browser, login, shot):
    page = open_browser(DESKTOP)
    login(page, "office")
    page.goto("/audit/")
    page.get_by_label("记录类别").select_option(label="角色授权")
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    # The demo's grants were made when it loaded: the secretary's, on her branch, among them.
    grant = page.locator(".list-group-item").filter(has_text=f"陈红梅 · {BRANCH} · 支部书记")
    expect(grant.first).to_be_visible()
    expect(grant.first).to_contain_text("新增")
    shot(page, "role-grants")


def test_office_finds_an_organisation_by_typing_when_granting_a_role(open_browser, login, shot):
    page = open_browser(PHONE)
    login(page, "office")
    page.goto("/orgs/accounts/new/")
    organisation = page.locator("select[name=organisation]")
    everything = organisation.locator("option").count()
    assert everything > 15  # the township's tree: long enough to need the box
    page.get_by_label("输入名称筛选").fill("幸福里 第一党支部")
    expect(page.get_by_text(re.compile(r"^匹配 \d+ 项$"))).to_be_visible()
    names = [n for n in organisation.locator("option").all_inner_texts() if n != "---------"]
    assert names and len(names) < everything
    assert all("幸福里" in n and "第一党支部" in n for n in names), names
    organisation.select_option(label=BRANCH)
    username = f"e2e{uuid.uuid4().hex[:8]}"
    page.get_by_label("用户名").fill(username)
    page.get_by_label("姓名").fill("测试支委")
    page.get_by_label("角色").select_option(label="支委")
    shot(page, "account-filtered")
    with page.expect_navigation():
        page.get_by_role("button", name="确定").click()
    expect(page.locator("body")).to_contain_text(f"{BRANCH} · 支委")


def test_secretary_saves_and_closes_the_review_with_one_button(open_browser, login, shot):
    """保存并完成评议 is a named submit button: the form is sent with it (not as a plain 保存) although the
    page disables its buttons against a second tap."""
    page = open_browser(PHONE, phone=True)
    login(page, "secretary")
    branch_pk = re.search(r"/dashboard/branch/(\d+)/", page.url).group(1)
    page.goto(f"/reviews/branch/{branch_pk}/")
    under_way = page.locator(".list-group-item").filter(has_text="进行中").first
    with page.expect_navigation(url=re.compile(r"/reviews/\d+/$")):
        under_way.click()
    campaign_url = page.url
    # Closing needs the dates of 民主测评 and 组织评定 (held today, as the ballots are entered).
    page.get_by_role("link", name="步骤和日期").click()
    today = page.evaluate("new Date().toLocaleDateString('sv-SE', {timeZone: 'Asia/Shanghai'})")
    page.get_by_label("民主测评日期").fill(today)
    page.get_by_label("组织评定日期").fill(today)
    with page.expect_navigation(url=campaign_url):
        page.get_by_role("button", name="确定").click()
    expect(page.get_by_text("已保存民主评议的步骤和日期。")).to_be_visible()
    with page.expect_navigation(url=re.compile(r"/reviews/\d+/results/$")):
        page.get_by_role("link", name="录入测评和评定").click()
    grades = page.locator("select[name$='-grade']")
    assert grades.count() > 0
    for i in range(grades.count()):
        grades.nth(i).select_option("qualified")
    shot(page, "graded")
    with page.expect_navigation(url=re.compile(r"/reviews/\d+/$")):
        page.get_by_role("button", name="保存并完成评议").click()
    expect(page.get_by_text(re.compile("民主评议已完成。请公示评议结果"))).to_be_visible()
    expect(page.locator("h1 ~ span.badge")).to_have_text("已完成")
    shot(page, "closed")


def test_office_menu_stays_on_one_line_at_every_width(open_browser, login):
    """The township office has the longest menu. From 1200 px it is spread out on one line (without icons
    below 1400 px); narrower screens fold it behind the menu button, with what is due kept in sight."""
    for width in (768, 1024, 1200, 1280, 1440):
        page = open_browser((width, 900))
        login(page, "office")
        navbar = page.locator("nav.zb-navbar")
        assert navbar.bounding_box()["height"] < 70, width  # one row, no entry broken over two lines
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        menu_button = page.locator("button.navbar-toggler")
        if width < 1200:
            expect(menu_button).to_be_visible()
            expect(
                navbar.get_by_role("link", name=re.compile("^待办：逾期和即将到期 \\d+ 项$"))
            ).to_be_visible()
            menu_button.click()
            expect(navbar.get_by_role("link", name="账号管理")).to_be_visible()
        else:
            expect(menu_button).to_be_hidden()
            expect(navbar.get_by_role("link", name="账号管理")).to_be_visible()
        page.close()


def test_office_is_asked_before_a_password_reset_and_can_decline(open_browser, login):
    page = open_browser(DESKTOP)
    login(page, "office")
    page.goto("/orgs/accounts/")
    page.get_by_role("link", name=re.compile("陈红梅")).first.click()
    account_url = page.url
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="重置密码").click()
    page.wait_for_timeout(300)
    assert asked and "原密码将立即失效" in asked[0]
    expect(page.get_by_text("新密码（只显示这一次）")).to_have_count(0)
    assert page.url == account_url
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="重置密码").click()  # declined once, the button still works
    expect(page.get_by_text("新密码（只显示这一次）")).to_be_visible()
