"""Layout at the minimum size (80x24) when a screen holds more than usual: the permission screen of a
customer with many accounts, in both languages. The terms text (the one item that scrolls) gives up
rows first, so 「戻る」「許可」 stay on the screen; when even that is not enough the screen scrolls
and the focus brings the buttons into view."""

import copy
import json

import pytest

from e2e.helpers import (EXIT_ALLOWED, JA, PASSWORDS, Partner, allow, button, demo_scenario, en, login,
                         password_login, start_client, typ, wait_partner, wait_screen)

MIERU = "ミエル会計株式会社"
MIERU_EN = "Mieru Accounting Inc."


def _many_accounts(path, n):
    """The demo scenario with sato02 (mieru-demo: straight to the permission screen) holding n
    registered accounts."""
    sc = demo_scenario()
    sato = next(c for c in sc["customers"] if c["login_id"] == "sato02")
    base = sato["accounts"][0]
    accts = []
    for i in range(n):
        a = copy.deepcopy(base)
        a["id"] = "acc-002-%07d" % (2222222 + i)
        a["number"] = "%07d" % (2222222 + i)
        accts.append(a)
    sato["accounts"] = accts
    path.write_text(json.dumps(sc, ensure_ascii=False), encoding="utf-8")
    return path


def _terms_rows(s):
    """Rows of the terms text block: the rows between ※意思確認 (or its English) and the checkbox."""
    rows = s.split("\n")
    start = next(i for i, r in enumerate(rows) if "※意思確認" in r or en("※意思確認") in r)
    end = next(i for i, r in enumerate(rows) if "[ ]" in r or "[x]" in r)
    return end - start - 1


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_permission_buttons_visible_with_five_accounts(sandbox, curl, term, tmp_path, lang):
    sb = sandbox(scenario=_many_accounts(tmp_path / "five.json", 5))
    partner = Partner(curl, sb, "mieru-demo")
    t = start_client(term, sb, lang=lang)
    if lang == "ja":
        password_login(t, partner.user_code, "sato02", partner=MIERU)
        s = wait_screen(t, "※意思確認", "普通 2222226", title_is=JA["title_permission"])
        back, ok = button("戻る"), button("許可")
    else:
        typ(t, partner.user_code)
        t.send("Enter")
        wait_partner(t, MIERU_EN, "en")
        t.send("Enter")
        wait_screen(t, en("ログインID"))
        login(t, "sato02", PASSWORDS["sato02"])
        s = wait_screen(t, en("※意思確認"), "2222226", title_is=en(JA["title_permission"]))
        back, ok = button(en("戻る")), button(en("許可"))
    assert back in s and ok in s, "the buttons are off the screen:\n" + s
    assert _terms_rows(s) >= 2, "the terms text has fewer than 2 rows:\n" + s
    for i in range(5):
        assert "%07d" % (2222222 + i) in s, s


def test_permission_with_ten_accounts_scrolls_to_the_buttons(sandbox, curl, term, tmp_path):
    sb = sandbox(scenario=_many_accounts(tmp_path / "ten.json", 10))
    partner = Partner(curl, sb, "mieru-demo")
    t = start_client(term, sb)
    password_login(t, partner.user_code, "sato02", partner=MIERU)
    s = wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    assert button("許可") not in s  # more than a screen: the buttons are below
    # the focus walks to the checkbox and the buttons: the screen follows it
    allow(t)
    assert t.wait_exit() == EXIT_ALLOWED
    partner.get_token()
    assert len(partner.accounts()) == 10
