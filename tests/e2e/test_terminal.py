"""The terminal side: English, the language switch, resize, the too-small screen, TERM=vt100,
NO_COLOR, help, focus rendering."""

import re

import pytest

from e2e.helpers import (KAKEIBO, wait_partner, ANSWER, answer_to_scopes, EXIT_ALLOWED, EXIT_DENIED, JA, PASSWORDS,
                         assert_texts, cancel_yes, checkbox_state, choose_password, cjk_in, cursor, demo_scenario, en,
                         field_row, fill_pin_rows, has, has_button, key_bar, lines, login,
                         scroll_terms_to_end, start_client, start_flow, subtitle, table_row, to_partner, typ,
                         wait_screen, yamada_to_pins, yamada_to_question)

KAKEIBO_EN = "Demo Kakeibo Inc."
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def en_t(msgid, partner=KAKEIBO_EN):
    return en(msgid).replace("{partner}", partner)


def en_account(branch_en, code, number):
    return en("%s(%s) %s %s") % (branch_en, code, en("普通"), number)


def wait_en(t, *msgids, title_msgid=None, timeout=5.0):
    return wait_screen(t, *[en_t(m) for m in msgids],
                       title_is=en(title_msgid) if title_msgid else None, timeout=timeout)


def no_japanese_but(screen, allowed=()):
    """CJK characters in the frame, the title and the key bar, except customer data in allowed."""
    text = screen
    for a in allowed:
        text = text.replace(a, "")
    return cjk_in(text)


def test_english_flow(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term, lang="en")
    s = wait_en(t, "コード", title_msgid=JA["title"])
    assert_texts(s, [en_t("連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。")])
    assert has_button(s, en("次へ")), s
    assert en("ヘルプ") in key_bar(s) and "F2 日本語" in key_bar(s), s
    assert not no_japanese_but(s, ["F2 日本語"]), "untranslated text:\n" + s
    typ(t, partner.user_code)
    t.send("Enter")

    s = wait_partner(t, KAKEIBO_EN, "en")
    for b in ("ID・パスワード方式", "電子証明書方式", "中止"):
        assert has_button(s, en(b)), (b, s)
    assert not no_japanese_but(s, ["F2 日本語"]), "untranslated text:\n" + s
    t.send("Enter")

    s = wait_en(t, "ログインID", "ログインパスワード", title_msgid=JA["title"])
    assert subtitle(s) == en_t("連携先：{partner}"), s
    assert has_button(s, en("API連携")), s
    login(t, "yamada01", PASSWORDS["yamada01"])

    s = wait_en(t, "追加認証", title_msgid=JA["title_question"])
    assert has(s, "Enter the name of your securities company"), "the question in English:\n" + s
    assert not no_japanese_but(s, ["F2 日本語"]), "untranslated text:\n" + s
    typ(t, ANSWER)
    t.send("Enter")

    s = wait_en(t, "認可対象", title_msgid=JA["title_scopes"])
    assert checkbox_state(s, en("残高照会")) is True and checkbox_state(s, en("入金出金照会")) is True, s
    assert not no_japanese_but(s, ["F2 日本語"]), "untranslated text:\n" + s
    t.send("Enter")

    s = wait_en(t, "口座一覧", title_msgid=JA["title_pins"])
    assert_texts(s, [en_t("API連携を行う場合は、現在の照会用暗証番号の登録が必要です。"),
                     en_t("※登録した照会用暗証番号は、API連携にのみ使用されます。")])
    assert not no_japanese_but(s, ["F2 日本語", "生活費", "給与"]), "untranslated text:\n" + s
    fill_pin_rows(t, ["1234", "5678"])
    t.wait_for(lambda x: sum(ln.count("●●●●") for ln in lines(x)) == 2)
    t.send("Enter")

    s = wait_en(t, "口座一覧", title_msgid=JA["title_pin_result"])
    assert has_button(s, en("照会用暗証番号の追加登録")) and has_button(s, en("確認")), s
    assert not no_japanese_but(s, ["F2 日本語", "生活費", "給与"]), "untranslated text:\n" + s
    t.send("Enter")

    s = wait_en(t, "※認可期間", title_msgid=JA["title_permission"])
    assert_texts(s, [en_account("Internet Branch", "001", "2000002"),
                     en_account("Internet Branch", "001", "1111111"),
                     en_account("Toyosu Branch", "454", "1000014"),
                     en("残高照会") + en("、") + en("入金出金照会")])
    assert re.search(r"\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}", s) or \
        re.search(r"\d{4}-\d{2}-\d{2}.{1,6}\d{4}-\d{2}-\d{2}", s), "no period:\n" + s
    assert not no_japanese_but(s, ["F2 日本語"]), "untranslated text:\n" + s
    s = scroll_terms_to_end(t)
    assert has(s, demo_scenario()["terms"]["en"][-1][-30:]), "the English terms' end:\n" + s
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, en("許可手続きを継続する")) is True)
    t.send("Enter")
    s = wait_en(t, "API連携の利用登録が完了しました。")
    assert has(s, en("{partner}の画面（API連携先の画面）にお戻りになり、操作を続けてください。").replace(
        "{partner}", KAKEIBO_EN)), s
    assert not no_japanese_but(s, ["F2 日本語"]), "untranslated text:\n" + s
    t.send("Enter")
    assert t.wait_exit() == EXIT_ALLOWED
    partner.get_token()
    assert len(partner.accounts()) == 3


def test_english_pin_tables_readable(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term, lang="en")
    wait_en(t, "コード", title_msgid=JA["title"])
    typ(t, partner.user_code)
    t.send("Enter")
    wait_partner(t, KAKEIBO_EN, "en")
    t.send("Enter")
    wait_en(t, "ログインID", title_msgid=JA["title"])
    login(t, "yamada01", PASSWORDS["yamada01"])
    wait_en(t, "追加認証", title_msgid=JA["title_question"])
    typ(t, ANSWER)
    t.send("Enter")
    wait_en(t, "認可対象", title_msgid=JA["title_scopes"])
    t.send("Enter")
    s = wait_en(t, "口座一覧", title_msgid=JA["title_pins"])
    fill_pin_rows(t, ["1234", "5678"])
    t.wait_for(lambda x: sum(ln.count("●●●●") for ln in lines(x)) == 2)
    problems = []
    heading = [ln for ln in lines(s) if en("登録状態") in ln and en("口座メモ") in ln]
    heading = heading[0] if heading else ""
    for word in ("選択", "登録状態", "照会用口座", "口座メモ", "照会用暗証番号"):
        if not re.search(r"(^|\s)" + re.escape(en(word)) + r"(\s|$)", heading):
            problems.append("PIN table heading %r cut" % en(word))
    for n in ("2000002", "1111111", "1000014"):
        if not table_row(s, n):
            problems.append("PIN table: account number %s not shown" % n)
    if not re.search(re.escape(en("未登録")) + r"\s+Internet", s):
        problems.append("PIN table: %r cut" % en("未登録"))
    t.send("Enter")
    s = wait_en(t, "口座一覧", title_msgid=JA["title_pin_result"])
    if s.count(en("※登録済み")) != 2:
        problems.append("result table: %r (pending) not shown on both new rows" % en("※登録済み"))
    assert not problems, "\n".join(problems) + "\n" + s


def test_f2_switch_keeps_what_was_typed(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    s = wait_screen(t, "コード", title_is=JA["title"])
    assert "F2 English" in key_bar(s), s
    half = partner.user_code[:4]
    typ(t, half)
    t.wait_for(half)
    t.send("F2")
    s = wait_en(t, "コード", title_msgid=JA["title"])
    assert half in s, "the typed code was lost:\n" + s
    assert "F2 日本語" in key_bar(s), s
    typ(t, partner.user_code[4:])
    t.send("Enter")
    s = wait_partner(t, KAKEIBO_EN, "en")
    t.send("F2")
    s = wait_partner(t, KAKEIBO)
    s = choose_password(t)
    typ(t, "yamada01")
    t.send("Enter")
    typ(t, "Saku")
    s = t.wait_for("●●●●")
    pos = cursor(t)
    assert pos[1] == field_row(s, "ログインパスワード"), (pos, s)
    t.send("F2")
    s = wait_en(t, "ログインID", "ログインパスワード", title_msgid=JA["title"])
    assert "yamada01" in s and "●●●●" in s and "●●●●●" not in s, s
    assert cursor(t)[1] == field_row(s, en("ログインパスワード")), "the focus left the password field: %r\n%s" % (cursor(t), s)
    t.send("F2")
    s = wait_screen(t, "ログインID", "ログインパスワード", title_is=JA["title"])
    typ(t, "ra-2026")  # the rest of the password: the first part was kept in the buffer
    t.send("Enter")
    wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])


def test_resize_keeps_input_and_focus(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_question(t, partner.user_code)
    typ(t, "ひまわり")
    s = t.wait_for("ひまわり")
    before = cursor(t)
    assert before[1] == field_row(s, "回答"), "focus not on 回答: %r\n%s" % (before, s)
    t.resize(100, 30)
    s = t.wait_for(lambda x: len(lines(x)[0]) > 80 or x.count("\n") >= 29)
    s = wait_screen(t, "証券名を入力してください", "ひまわり", title_is=JA["title_question"], height=30)
    pos = cursor(t)
    assert pos[1] == field_row(s, "回答"), "focus moved at 100x30: %r\n%s" % (pos, s)
    assert pos[0] == before[0], "the cursor is not at the end of the answer: %r vs %r" % (pos, before)
    t.resize(80, 24)
    s = t.wait_for(lambda x: x.count("\n") <= 24 and "証券名を入力してください" in x)
    pos = cursor(t)
    assert pos == before, "focus/cursor changed after coming back to 80x24: %r vs %r\n%s" % (pos, before, s)
    answer_to_scopes(t, "証券")


def test_too_small_screen_and_back_intact(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_pins(t, partner.user_code)
    fill_pin_rows(t, ["1234", "56"])
    s = t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 2)
    before_screen, before = s, cursor(t)
    t.resize(79, 23)
    s = t.wait_for(lambda x: "端末の画面が小さすぎます。" in x, timeout=5)
    assert "80x24 以上に広げてください。" in s and "現在の大きさ：79x23" in s, s
    t.resize(80, 24)
    s = t.wait_for(lambda x: JA["title_pins"] in x and "小さすぎます" not in x)
    assert s == before_screen, "the screen changed across the too-small screen:\n%s\n---\n%s" % (
        before_screen, s)
    assert cursor(t) == before
    typ(t, "78")
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    assert re.search(r"※登録済み\s+インターネット支店\(001\) 普通 1111111", s), \
        "the PIN typed before the resize was not kept:\n" + s


def test_too_small_at_start(sandbox, term):
    sb = sandbox()
    t = start_client(term, sb, width=60, height=20)
    s = t.wait_for("端末の画面が小さすぎます。")
    assert "現在の大きさ：60x20" in s, s
    t.resize(80, 24)
    wait_screen(t, "コード", title_is=JA["title"])


def test_help_f1_and_back(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    typ(t, partner.user_code[:4])
    t.send("F1")
    s = t.wait_for("ヘルプ")
    assert has(s, "連携先アプリの画面に表示されている8文字のコード"), s
    t.send("Enter")
    s = t.wait_for(lambda x: "8文字のコード" not in x)
    assert partner.user_code[:4] in s, s
    typ(t, partner.user_code[4:])
    t.send("Enter")
    wait_partner(t, KAKEIBO)


def _first_screens(t, partner):
    s = wait_screen(t, "コード", title_is=JA["title"])
    assert_texts(s, ["連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。"])
    assert "F1 ヘルプ" in s, s
    typ(t, partner.user_code)
    t.send("Enter")
    wait_partner(t, KAKEIBO)
    s = choose_password(t)
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    login(t, "yamada01", PASSWORDS["yamada01"])
    s = wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])
    cancel_yes(t, yes=("Left", "Enter"))  # はい (Left: TERM=vt100 has no back-tab key, see below)
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED
    return s


def test_term_vt100(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term, term_type="vt100")
    _first_screens(t, partner)


def test_no_color(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term, env={"NO_COLOR": "1"})
    to_partner(t, partner.user_code, KAKEIBO)
    e = t.screen(escapes=True)
    colors = [m for m in SGR.findall(e) if any(p.startswith(("3", "4", "9", "10")) and p not in ("39", "49")
                                               for p in m.split(";"))]
    assert not colors, "NO_COLOR set but colors were sent: %r" % colors[:5]
    # the focus is still visible: the focused button (the first) in reverse video
    ln = [x for x in e.split("\n") if "ID・パスワード方式" in x][0]
    assert "7" in (_sgr_before(ln, "ID・パスワード方式") or "").split(";"), repr(ln)
    assert "7" not in (_sgr_before(ln, "中止") or "").split(";"), repr(ln)
    cancel_yes(t)
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED


def _sgr_before(line, label):
    """The SGR parameters in effect where '[ label ]' starts on an escaped capture line."""
    i = line.find("[ %s ]" % label)
    assert i >= 0, repr(line)
    last = None
    for m in SGR.finditer(line[:i]):
        last = m.group(1)
    return last


def test_vt100_shift_tab(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term, term_type="vt100")
    to_partner(t, partner.user_code, KAKEIBO)
    s = choose_password(t)
    typ(t, "yamada")
    t.send("Tab")
    t.wait_for(lambda x: cursor(t)[1] == field_row(x, "ログインパスワード"))
    t.send("BTab")  # back to ログインID
    typ(t, "01")
    s = t.wait_for("yamada01", timeout=2)
    assert "[Z" not in s and "●" not in s, s


def test_focus_visible_with_colors(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    to_partner(t, partner.user_code, KAKEIBO)
    e = t.screen(escapes=True)
    ln = [x for x in e.split("\n") if "ID・パスワード方式" in x][0]
    assert _sgr_before(ln, "ID・パスワード方式") != _sgr_before(ln, "中止"), \
        "the focused button is drawn like the others: %r" % ln
