"""The screens as the seed and a customer at a kiosk expect them (issue: each seed step one entry in
one table, and every screen as the seed and a customer expect): one test per behaviour, against the
real sandbox, the real client in tmux at 80x24.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_screens.py
"""

import json
import re

from e2e.helpers import (ANSWER, EXIT_ALLOWED, JA, KAKEIBO, Partner, checkbox_state, choose_password,
                         demo_scenario, en, fill_pin_rows, has, key_bar, lines, scroll_terms_to_end,
                         start_client, start_flow, table_row, to_partner, typ, wait_error,
                         wait_screen, yamada_to_pins, yamada_to_question)

ACC_2000002 = "インターネット支店(001) 普通 2000002"
ACC_1111111 = "インターネット支店(001) 普通 1111111"


def _to_scopes(t, user_code):
    yamada_to_question(t, user_code)
    typ(t, ANSWER)
    t.send("Enter")
    return wait_screen(t, "認可対象", title_is=JA["title_scopes"])


def _boxes(screen):
    """The scope checkboxes on the scopes screen: [(label, ticked)] in screen order."""
    out = []
    for ln in lines(screen):
        m = re.search(r"\[([x ])\]\s+(\S.*?)\s*[│|x]?\s*$", ln)
        if m and "許可手続" not in ln:
            out.append((m.group(2).strip(" │|"), m.group(1) == "x"))
    return out


def _to_permission(t, user_code, pins=("1234", "5678")):
    yamada_to_pins(t, user_code)
    fill_pin_rows(t, list(pins))
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    t.send("Enter")
    return wait_screen(t, "※意思確認", title_is=JA["title_permission"])


# ---- scopes: built from the server's list -----------------------------------------------------

def test_one_scope_partner_shows_one_box(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb, "kakeibo-demo", scope="balance")
    t = start_client(term, sb)
    s = _to_scopes(t, partner.user_code)
    assert _boxes(s) == [("残高照会", True)], s
    assert "入金出金照会" not in s, "a scope the partner never asked for is offered:\n" + s


def _three_scope_scenario(tmp_path):
    sc = demo_scenario()
    sc["scopes"].append({"id": "statements", "name": {"ja": "取引明細照会", "en": "Statement inquiry"}})
    for p in sc["partners"]:
        if p["client_id"] == "kakeibo-demo":
            p["scopes"] = ["balance", "transactions", "statements"]
    path = tmp_path / "three-scopes.json"
    path.write_text(json.dumps(sc, ensure_ascii=False), encoding="utf-8")
    return path


def test_three_scopes_and_the_token_carries_what_was_ticked(sandbox, curl, term, tmp_path):
    sb = sandbox(scenario=_three_scope_scenario(tmp_path))
    partner = Partner(curl, sb, "kakeibo-demo", scope="balance transactions statements")
    t = start_client(term, sb)
    s = _to_scopes(t, partner.user_code)
    assert _boxes(s) == [("残高照会", True), ("入金出金照会", True), ("取引明細照会", True)], s
    # in English: the scenario's own English names
    t.send("F2")
    s = t.wait_for(lambda x: "Statement inquiry" in x)
    assert [b[0] for b in _boxes(s)] == [en("残高照会"), en("入金出金照会"), "Statement inquiry"], s
    t.send("F2")
    # the focus starts on the first box (Space there does not skip the screen); Down, Space
    # unticks 入金出金照会
    t.send("Down", "Space")
    s = t.wait_for(lambda x: checkbox_state(x, "入金出金照会") is False)
    assert checkbox_state(s, "残高照会") is True and checkbox_state(s, "取引明細照会") is True, s
    t.send("Tab", "Tab", "Enter")  # past 取引明細照会 to 次へ
    s = wait_screen(t, "口座一覧", title_is=JA["title_pins"])
    fill_pin_rows(t, ["1234", "5678"])
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    t.send("Enter")
    s = wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    assert has(s, "残高照会、取引明細照会"), s
    scroll_terms_to_end(t)
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True)
    t.send("Enter")
    wait_screen(t, "API連携の利用登録が完了しました。")
    t.send("Enter")
    assert t.wait_exit() == EXIT_ALLOWED
    assert set(partner.get_token()["scope"].split()) == {"balance", "statements"}


def test_focus_starts_on_the_first_box(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    _to_scopes(t, partner.user_code)
    t.send("Space")  # on 残高照会, not on 次へ
    s = t.wait_for(lambda x: checkbox_state(x, "残高照会") is False)
    assert JA["title_scopes"] in s, "Space left the scopes screen:\n" + s
    assert "Space" in key_bar(s), s


# ---- the PIN table ----------------------------------------------------------------------------

def test_pin_rows_start_ticked_and_typing_ticks_unticking_clears(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = yamada_to_pins(t, partner.user_code)
    # as in the seed: the unregistered rows start ticked, the registered one cannot be
    assert (table_row(s, "2000002") or "").lstrip("│| ").startswith("[x]"), s
    assert (table_row(s, "1111111") or "").lstrip("│| ").startswith("[x]"), s
    assert (table_row(s, "1000014") or "").lstrip("│| ").startswith("[ ]"), s
    # row 2: a PIN, then unticked: the PIN goes
    t.send("Down")
    typ(t, "5678")
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("BTab", "Space")
    s = t.wait_for(lambda x: (table_row(x, "1111111") or "").lstrip("│| ").startswith("[ ]"))
    assert (table_row(s, "1111111") or "").count("●") == 0, "unticking kept the PIN:\n" + s
    # typing in the unticked row ticks it, visibly
    t.send("Tab")
    typ(t, "9")
    s = t.wait_for(lambda x: (table_row(x, "1111111") or "").lstrip("│| ").startswith("[x]"))
    # untick it again, register row 1 only: exactly what is ticked is sent
    t.send("BTab", "Space", "BTab")  # row 2's box (unticked), row 1's PIN
    s = t.wait_for(lambda x: (table_row(x, "1111111") or "").lstrip("│| ").startswith("[ ]"))
    typ(t, "1234")
    t.wait_for(lambda x: (table_row(x, "2000002") or "").count("●") == 4)
    t.send("Enter", "Enter")  # to row 2's PIN (the last entry), then 登録
    s = wait_screen(t, "※口座一覧", title_is=JA["title_pin_result"])
    assert re.search(r"※登録済み\s+" + re.escape(ACC_2000002), s), s
    assert re.search(r"未登録\s+" + re.escape(ACC_1111111), s), s


def test_down_moves_to_the_next_pin_cell(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_pins(t, partner.user_code)
    typ(t, "1234")
    t.send("Down")
    typ(t, "5678")  # not lost: it lands in row 2's PIN
    s = t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    assert (table_row(s, "2000002") or "").count("●") == 4, s
    t.send("Up")
    typ(t, "9")  # back in row 1's PIN: a fifth digit there
    s = t.wait_for(lambda x: (table_row(x, "2000002") or "").count("●") == 5)
    assert (table_row(s, "1111111") or "").count("●") == 4, s


def test_status_column_keeps_its_width(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = yamada_to_pins(t, partner.user_code)
    head = [ln for ln in lines(s) if "照会用口座" in ln][0]
    x_before = head.index("照会用口座")
    fill_pin_rows(t, ["1234", "9999"])  # 9999 is wrong: 誤り 残2回
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    s = wait_error(t, "照会用暗証番号が正しくない口座があります。")
    assert "誤り 残2回" in (table_row(s, "1111111") or ""), s
    head = [ln for ln in lines(s) if "照会用口座" in ln][0]
    assert head.index("照会用口座") == x_before, "the table's columns moved:\n" + s


# ---- keys that tell the truth -----------------------------------------------------------------

def test_escape_backs_where_it_says_so_and_f9_cancels(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    to_partner(t, partner.user_code, KAKEIBO)
    s = choose_password(t)
    assert "Esc 戻る" in key_bar(s) and "F9 中止" in key_bar(s), s
    t.send("F9")
    s = wait_screen(t, "API連携の手続きを中止しますか？")
    t.send("Enter")  # いいえ (the default)
    s = wait_screen(t, "ログインID", "ログインパスワード")
    t.send("Escape")  # 戻る: the partner screen
    s = wait_screen(t, "ID・パスワード方式", "電子証明書方式")
    assert "Esc 中止" in key_bar(s), s


def test_escape_on_pins_says_cancel(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = yamada_to_pins(t, partner.user_code)
    assert "Esc 中止" in key_bar(s) and "Esc 戻る" not in key_bar(s), s
    t.send("Escape")
    wait_screen(t, "API連携の手続きを中止しますか？")


def test_escape_on_permission_goes_back_a_step(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = _to_permission(t, partner.user_code)
    assert "Esc 戻る" in key_bar(s) and "F9 中止" in key_bar(s), s
    t.send("Escape")
    # kakeibo-demo: back to the last step the customer saw (protocol §4.9)
    s = t.wait_for(lambda x: JA["title_permission"] not in x and "決定" in key_bar(x))
    assert JA["title_pin_result"] in s or JA["title_scopes"] in s or JA["title_pins"] in s, s
    assert "中止しますか" not in s, s


# ---- 意思確認 read to its end -------------------------------------------------------------------

def test_intent_can_be_ticked_only_after_the_terms_were_read(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = _to_permission(t, partner.user_code)
    assert re.search(r"\[ \] 許可手続きを継続する\s+（意思確認を最後までお読みください）", s), s
    assert "PgDn 続き" in key_bar(s), s
    t.send("Tab", "Space")  # to the checkbox, before reading
    s = wait_error(t, "意思確認を最後までお読みになってから、チェックを入れてください")
    assert checkbox_state(s, "許可手続きを継続する") is False, s
    t.send("BTab")
    s = scroll_terms_to_end(t)
    s = t.wait_for(lambda x: not has(x, "（意思確認を最後までお読みください）"))
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True)
    r = partner.poll()
    assert r.error == "authorization_pending", r


def test_terms_page_with_space(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = _to_permission(t, partner.user_code)
    first = [ln for ln in lines(s) if "意思確認】" in ln]
    assert first, s
    t.send("Space")
    t.wait_for(lambda x: "意思確認】" not in x and "決定" in key_bar(x))


def test_permission_accounts_are_labelled(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = _to_permission(t, partner.user_code)
    ln = table_row(s, ACC_2000002) or ""
    assert re.search(r"対象口座\s+" + re.escape(ACC_2000002), ln), s
    assert re.search(r"対象業務\s+残高照会、入金出金照会", table_row(s, "残高照会") or ""), s


# ---- wording against the seed -----------------------------------------------------------------

def test_seed_wording(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = _to_scopes(t, partner.user_code)
    assert has(s, KAKEIBO + "にてご利用の対象業務を選択の上"), s  # no space after the name
    t.send("Tab", "Tab", "Enter")
    wait_screen(t, "口座一覧", title_is=JA["title_pins"])
    fill_pin_rows(t, ["1234", "5678"])
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    s = wait_screen(t, "※口座一覧", title_is=JA["title_pin_result"])
    head = [ln for ln in lines(s) if "照会用口座" in ln][0]
    assert re.search(r"登録状況\s+照会用口座\s+口座メモ\s+照会用暗証番号\(仮\)", head), s
    assert has(s, "※登録状況欄に「※」が表示されている口座の暗証番号は、認可完了後に有効となります。"), s
    assert "登録状態" not in s, s
    t.send("Enter")
    wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    scroll_terms_to_end(t)
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True)
    t.send("Enter")
    s = wait_screen(t, "API連携の利用登録が完了しました。")
    assert has(s, KAKEIBO + "の画面（API連携先の画面）にお戻りになり、操作を続けてください。"), s
    assert "遷移" not in s, "nothing moves in a terminal:\n" + s


# ---- dialogs and focus ----------------------------------------------------------------------

def test_dialog_leaves_nothing_at_its_edges(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    _to_permission(t, partner.user_code)
    t.send("F9")
    s = wait_screen(t, "API連携の手続きを中止しますか？")
    ls = lines(s)
    top = [i for i, ln in enumerate(ls) if "手続きの中止" in ln][0]
    bottom = [i for i, ln in enumerate(ls) if i > top and "┘" in ln and "└" in ln][0]
    left = ls[top].index("┌")
    for i in range(top, bottom + 1):
        ln = ls[i]
        right = ln.rindex("┐" if i == top else "┘" if i == bottom else "│", 0, len(ln) - 1)
        # one blank column each side, then the screen's frame or its text, never half of a glyph
        assert ln[left - 1] == " ", "stray character left of the dialog, row %d:\n%s" % (i, s)
        assert ln[right + 1] == " ", "stray character right of the dialog, row %d:\n%s" % (i, s)
    t.send("Enter")  # いいえ
    s = t.wait_for(lambda x: "中止しますか" not in x and "決定" in key_bar(x))
    assert "」" not in "".join(ln[-3:] for ln in lines(s)[2:20]), s


def test_focus_is_reverse_video_and_fields_are_boxed(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    to_partner(t, partner.user_code, KAKEIBO)
    raw = t.tmux("capture-pane", "-p", "-e", "-t", "t")
    row = [ln for ln in raw.split("\n") if "ID・パスワード方式 ]" in ln][0]
    # the focused button is drawn in reverse video (SGR 7), not grey on cyan
    m = re.search(r"\x1b\[([0-9;]*)m\[ ID・パスワード方式 \]", row)
    assert m and "7" in m.group(1).split(";"), repr(row)
    t.send("Enter")
    s = wait_screen(t, "ログインID", "ログインパスワード")
    assert re.search(r"ログインID ※\s+\[\s+\]", s), s


def test_fields_are_boxed_under_vt100(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, term_type="vt100")
    to_partner(t, partner.user_code, KAKEIBO)
    s = choose_password(t)
    assert re.search(r"ログインパスワード ※\s+\[\s+\]", s), s
