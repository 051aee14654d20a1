"""The consent flow end to end in a real terminal (tmux, 80x24, LANG=C.UTF-8) against the sandbox
over HTTPS, the partner played with curl. Labels are checked exactly as shared/design/screens.md
(white space and line wrapping aside)."""

import re

from e2e.helpers import (KAKEIBO, wait_partner, ANSWER, answer_to_scopes, demo_scenario, scroll_terms_to_end,
                         EXIT_ALLOWED, EXIT_DENIED, EXIT_LOCKED, JA, PASSWORDS, allow, assert_texts, button,
                         cancel_yes, checkbox_state, choose_password, cursor, error_line, exit_denied, fill_pin_rows,
                         focus_row_of, has, has_button, key_bar, lines, password_login, start_flow, subtitle,
                         squash, table_row, title, wait_error, wait_screen, yamada_to_pins, yamada_to_question, typ)

MIERU = "ミエル会計株式会社"
PIN_NOTE_1 = "※登録状態欄に*が表示されている口座の暗証番号は、認可完了後に有効となります。"
PIN_NOTE_2 = "※登録した照会用暗証番号は、API連携にのみ使用されます。"
RESULT_NOTE = "※登録状況欄に「※」が表示されている口座の暗証番号は、認可完了後に有効となります。"
ACC_2000002 = "インターネット支店(001) 普通 2000002"
ACC_1111111 = "インターネット支店(001) 普通 1111111"
ACC_1000014 = "豊洲支店(454) 普通 1000014"



def test_yamada01_every_screen_ja(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)

    # 0. the partner's code
    s = wait_screen(t, "コード", title_is=JA["title"])
    assert_texts(s, ["連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。",
                     "コード※", "例：WDJB-MJHT（大文字・小文字、ハイフンは区別しません）"])
    assert has_button(s, "次へ"), s
    assert "F1 ヘルプ" in key_bar(s) and "Esc 終了" in key_bar(s) and "Tab 移動" in key_bar(s), s
    typ(t, partner.user_code)
    t.send("Enter")

    # partner confirmation: which partner is asking
    s = wait_partner(t, KAKEIBO)
    assert title(s) == JA["title"], s
    for b in ("ID・パスワード方式", "電子証明書方式", "中止"):
        assert has_button(s, b), (b, s)
    s = choose_password(t)

    # 1-2. login with ID and password
    assert title(s) == JA["title"], s
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    assert_texts(s, ["ID・パスワード方式",
                     "「ログインID」、「ログインパスワード」を入力して、「API連携」ボタンを押してください。",
                     "ログインID※", "ログインパスワード※"])
    assert has_button(s, "API連携"), s
    typ(t, "yamada01")
    t.send("Enter")
    typ(t, PASSWORDS["yamada01"])
    s = t.wait_for("●" * len(PASSWORDS["yamada01"]))
    assert PASSWORDS["yamada01"] not in s, "the password is shown:\n" + s
    t.send("Enter")

    # 2. additional authentication
    s = wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    assert_texts(s, ["業務に対する回答を入力の上、「認証」ボタンを押してください。",
                     "※は必須入力項目です。", "追加認証", "質問", "回答※"])
    assert has_button(s, "認証"), s
    typ(t, ANSWER)
    t.wait_for(ANSWER)  # the demo question is not masked
    t.send("Enter")

    # 3. scopes
    s = wait_screen(t, "認可対象", title_is=JA["title_scopes"])
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    assert_texts(s, [KAKEIBO + "にてご利用の対象業務を選択の上、「次へ」ボタンを押してください。"])
    assert checkbox_state(s, "残高照会") is True, s
    assert checkbox_state(s, "入金出金照会") is True, s
    assert has_button(s, "次へ"), s
    t.send("Enter")

    # 4. inquiry PINs: the table
    s = wait_screen(t, "口座一覧", title_is=JA["title_pins"])
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    assert_texts(s, ["API連携を行う場合は、現在の照会用暗証番号の登録が必要です。",
                     "口座を選択し、現在の照会用暗証番号を入力の上、「登録」ボタンを押してください。",
                     PIN_NOTE_1, PIN_NOTE_2])
    heading = table_row(s, "照会用口座")
    assert heading and re.search(r"選択\s+登録状態\s+照会用口座\s+口座メモ\s+照会用暗証番号", heading), s
    assert re.search(r"\[x\]\s+未登録\s+" + re.escape(ACC_2000002) + r"\s+生活費", s), s
    assert re.search(r"\[x\]\s+未登録\s+" + re.escape(ACC_1111111) + r"\s+-", s), s
    assert re.search(r"登録済み\s+" + re.escape(ACC_1000014) + r"\s+給与", s), s
    assert has_button(s, "登録"), s
    fill_pin_rows(t, ["1234", "5678"])
    s = t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    for n in ("2000002", "1111111"):
        ln = table_row(s, n)
        assert ln.lstrip("x│| ").startswith("[x]") and "●●●●" in ln, s
    assert "1234" not in s and "5678" not in s, "a PIN is shown:\n" + s
    t.send("Enter")

    # 5. registration result
    s = wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    assert_texts(s, ["以下の内容で照会用暗証番号を登録しました。内容を確認の上、「確認」ボタンをクリックしてください。",
                     "照会用暗証番号を追加登録するには、「照会用暗証番号の追加登録」ボタンをクリックしてください。",
                     "※口座一覧", RESULT_NOTE])
    heading = table_row(s, "照会用口座")
    assert heading and re.search(r"登録状況\s+照会用口座\s+口座メモ\s+照会用暗証番号\(仮\)", heading), s
    assert re.search(r"※登録済み\s+" + re.escape(ACC_2000002) + r"\s+生活費\s+●●●●", s), s
    assert re.search(r"※登録済み\s+" + re.escape(ACC_1111111) + r"\s+-\s+●●●●", s), s
    assert re.search(r"登録済み\s+" + re.escape(ACC_1000014) + r"\s+給与\s+-", s), s
    assert has_button(s, "照会用暗証番号の追加登録") and has_button(s, "確認"), s
    t.send("Enter")  # 確認 is the main button

    # 6. permission
    s = wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    assert subtitle(s) == "連携先：" + KAKEIBO, s
    assert_texts(s, [KAKEIBO + "がお客様のインターネットバンキングの口座情報・明細情報へのアクセスを求めます。",
                     "それぞれの利用規約とプライバシーポリシーに従って、この情報を使用します。",
                     "以下の認可対象・認可期間を確認の上、「許可」ボタンをクリックしてください。",
                     "※認可対象", "対象業務残高照会、入金出金照会", "対象口座" + ACC_2000002, ACC_1111111,
                     ACC_1000014, "※認可期間"])
    m = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})日 〜 (\d{4})年(\d{1,2})月(\d{1,2})日", s)
    assert m, "no period on the permission screen:\n" + s
    assert int(m.group(4)) == int(m.group(1)) + 1, "kakeibo-demo's period is 365 days:\n" + s
    assert checkbox_state(s, "許可手続きを継続する") is False, s
    assert has_button(s, "戻る") and has_button(s, "許可"), s
    # the terms are scrollable: the focus starts on them; PgDn shows later text
    first_terms = [ln for ln in lines(s) if "意思確認】" in ln]
    assert first_terms, "the terms' first line is not shown:\n" + s
    assert "PgDn 続き" in key_bar(s), s
    t.send("NPage")
    s = t.wait_for(lambda x: "意思確認】" not in x)
    s = scroll_terms_to_end(t)
    assert has(s, demo_scenario()["terms"]["ja"][-1][-30:]), "the terms' end is not shown:\n" + s
    t.send("Tab")  # to 許可手続きを継続する
    s = t.wait_for(lambda x: "Space" in key_bar(x))
    t.send("Space")
    s = t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True)
    t.send("Enter")  # Enter on the checkbox presses the main button 許可

    # completion
    s = wait_screen(t, "API連携の利用登録が完了しました。",
                    KAKEIBO + "の画面（API連携先の画面）にお戻りになり、操作を続けてください。")
    assert title(s) == JA["title"], s
    assert has_button(s, "終了"), s
    t.send("Enter")
    assert t.wait_exit() == EXIT_ALLOWED

    # the partner receives its token and reads the consented accounts' balances
    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
    accts = partner.accounts()
    assert sorted(a["number"] for a in accts) == ["1000014", "1111111", "2000002"], accts
    for a in accts:
        b = partner.balances(a["id"])
        assert b["account"] == a["id"] and b["balances"], b
        assert all(x["currency"] == "JPY" and re.fullmatch(r"-?\d+", x["amount"]) for x in b["balances"]), b


def test_sato02_mieru_login_goes_to_permission(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term, "mieru-demo")
    password_login(t, partner.user_code, "sato02", partner=MIERU)
    # no question, no scope choice, no PIN table: straight to the permission screen
    s = wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    assert subtitle(s) == "連携先：" + MIERU, s
    assert_texts(s, ["残高照会、入金出金照会", "インターネット支店(002) 普通 2222222"])
    m = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})日 〜 (\d{4})年(\d{1,2})月(\d{1,2})日", s)
    assert m, s
    allow(t)
    assert t.wait_exit() == EXIT_ALLOWED
    partner.get_token()
    assert [a["number"] for a in partner.accounts()] == ["2222222"]


def _wrong_password(t, n_left):
    focus_row_of(t, "ログインパスワード")
    typ(t, "Wrong-%d" % n_left)
    t.send("Enter")
    return wait_error(t, "ログインIDまたはログインパスワードが正しくありません。 あと%d回" % n_left)


def test_two_wrong_passwords_then_right(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    password_login(t, partner.user_code, "yamada01", "not-it")
    s = wait_error(t, "ログインIDまたはログインパスワードが正しくありません。 あと2回")
    assert title(s) == JA["title"] and has(s, "ログインパスワード"), s
    assert "yamada01" in s, "the login ID was not kept:\n" + s
    s = _wrong_password(t, 1)
    assert "yamada01" in s, s
    focus_row_of(t, "ログインパスワード")
    typ(t, PASSWORDS["yamada01"])
    t.send("Enter")
    s = wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])
    assert error_line(s) == "", s


def test_third_wrong_password_locks(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    password_login(t, partner.user_code, "yamada01", "not-it")
    wait_error(t, "あと2回")
    _wrong_password(t, 1)
    focus_row_of(t, "ログインパスワード")
    typ(t, "still-wrong")
    t.send("Enter")
    # protocol §4.5: the third wrong password locks the login but is answered like any wrong one
    # (tries_left 0, as for an unknown ID); the lock is told once the right password is given.
    t.wait_for(lambda x: squash("ログインIDまたはログインパスワードが正しくありません。") in squash(error_line(x))
               and "あと1回" not in error_line(x))
    focus_row_of(t, "ログインパスワード")
    typ(t, PASSWORDS["yamada01"])
    t.send("Enter")
    s = wait_screen(t, "ログインがロックされています。",
                    "ロックの解除は、お取引店またはヘルプデスクにお問い合わせください。")
    assert has_button(s, "終了"), s
    exit_denied(t, partner, EXIT_LOCKED)


def test_tanaka04_locked_from_start(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    password_login(t, partner.user_code, "tanaka04")
    s = wait_screen(t, "ログインがロックされています。",
                    "ロックの解除は、お取引店またはヘルプデスクにお問い合わせください。")
    assert not has_button(s, "再試行"), "a locked login offers no retry:\n" + s
    t.send("Enter")
    assert t.wait_exit() == EXIT_LOCKED
    r = partner.poll()
    assert r.error == "access_denied", r


def test_wrong_answer_shows_tries_left(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_question(t, partner.user_code)
    typ(t, "あさがお証券")
    t.send("Enter")
    s = wait_error(t, "回答が正しくありません。 あと2回")
    assert title(s) == JA["title_question"], s
    assert "あさがお証券" not in s, "the wrong answer should be wiped once answered:\n" + s
    answer_to_scopes(t)


def test_one_wrong_pin_of_two_rows(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_pins(t, partner.user_code)
    fill_pin_rows(t, ["1234", "9999"])
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    # each row gets its own result; the right one is registered, the wrong one is to retype
    s = t.wait_for(lambda x: re.search(r"登録済み\*\s+" + re.escape(ACC_2000002), x) is not None)
    assert title(s) == JA["title_pins"], s
    assert re.search(r"誤り\s*残2", table_row(s, "1111111")), s
    assert "●" not in table_row(s, "2000002"), "the registered row keeps no PIN entry:\n" + s
    assert "●" not in table_row(s, "1111111"), "the wrong PIN should be wiped:\n" + s
    assert has(s, "照会用暗証番号が正しくない口座があります。") or \
        "照会用暗証番号が正しくない口座があります。" in error_line(s), s
    # the cursor is on the wrong row's PIN entry; only that one is retyped
    row_y = [i for i, ln in enumerate(lines(s)) if "1111111" in ln][0]
    assert cursor(t)[1] == row_y, "the focus is not on the wrong row (cursor %r):\n%s" % (cursor(t), s)
    assert table_row(s, "1111111").lstrip("x│| ").startswith("[x]"), s
    typ(t, "5678")
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    assert re.search(r"※登録済み\s+" + re.escape(ACC_2000002), s), s
    assert re.search(r"※登録済み\s+" + re.escape(ACC_1111111), s), s


def test_add_registration_returns_to_table(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_pins(t, partner.user_code)
    fill_pin_rows(t, ["1234", None])  # only the first row: the second unticked
    t.wait_for(lambda x: (table_row(x, "2000002") or "").count("●") == 4 and
               (table_row(x, "1111111") or "").lstrip("│| ").startswith("[ ]"))
    t.send("Tab")  # from row 2's PIN to 登録
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    assert re.search(r"※登録済み\s+" + re.escape(ACC_2000002), s), s
    assert re.search(r"未登録\s+" + re.escape(ACC_1111111), s), s
    t.send("BTab")  # from 確認 to 照会用暗証番号の追加登録
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pins"])
    assert re.search(r"登録済み\*\s+" + re.escape(ACC_2000002), s), s
    assert re.search(r"\[x\]\s+未登録\s+" + re.escape(ACC_1111111), s), s  # ticked again, as in the seed
    # register the second one now (the focus is on its PIN); both pending on the result screen
    typ(t, "5678")
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    assert re.search(r"※登録済み\s+" + re.escape(ACC_1111111), s), s


def _yamada_to_permission(t, user_code):
    yamada_to_pins(t, user_code)
    fill_pin_rows(t, ["1234", "5678"])
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    t.send("Enter")
    return wait_screen(t, "※意思確認", title_is=JA["title_permission"])


def test_allow_refused_without_checkbox(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    _yamada_to_permission(t, partner.user_code)
    t.send("Tab", "Tab", "Tab")  # checkbox, 戻る, 許可
    t.send("Enter")
    msg = "「許可手続きを継続する」にチェックを入れてから「許可」ボタンを押してください。"
    s = wait_error(t, msg)
    assert title(s) == JA["title_permission"], s
    r = partner.poll()
    assert r.error == "authorization_pending", "許可 without the checkbox must grant nothing: %r" % (r,)
    # now read the terms, tick it and allow
    t.send("BTab", "BTab", "BTab")  # 戻る, the checkbox, the terms
    allow(t)
    assert t.wait_exit() == EXIT_ALLOWED


def test_escape_confirm_cancel_denies(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    yamada_to_pins(t, partner.user_code)
    fill_pin_rows(t, ["1234", "5678"])
    t.send("Escape")
    s = wait_screen(t, "API連携の手続きを中止しますか？")
    assert "手続きの中止" in s and button("はい") in s and button("いいえ") in s, s
    # いいえ (the default) keeps everything
    t.send("Enter")
    s = t.wait_for(lambda x: "中止しますか" not in x)
    assert (table_row(s, "1111111") or "").count("●") == 4, "the typed PINs were lost:\n" + s
    s = cancel_yes(t, KAKEIBO + " には何も許可されていません。")  # はい
    assert title(s) == JA["title"], s
    exit_denied(t, partner, EXIT_DENIED)
