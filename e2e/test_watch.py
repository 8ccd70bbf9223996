"""The guards of every journey can fail: a console error, an uncaught exception and a request for another
host are all caught (and the request never leaves)."""

import pytest

from .conftest import Watch


def test_watch_catches_console_errors_page_errors_and_external_requests(browser, live_url):
    watch = Watch()
    context = browser.new_context(base_url=live_url)
    watch.attach(context)
    page = context.new_page()
    page.goto("/accounts/login/")
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("console.error('测试错误')")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('未捕获'); }, 0)")
    failed = page.evaluate("fetch('http://cdn.example.com/x.js').then(() => 'loaded', () => 'blocked')")
    context.close()
    assert failed == "blocked"
    assert watch.external_requests == ["http://cdn.example.com/x.js"]
    assert any("测试错误" in e for e in watch.console_errors)
    assert any("未捕获" in e for e in watch.page_errors)
    with pytest.raises(AssertionError):
        watch.assert_clean()
