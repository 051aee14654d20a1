/* problem.c: the problem-type table (see include/problem.h): per kind its protocol name and
 * status, whether a retry makes sense, the field it is about and the message the customer reads. */
#include "problem.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"

#define URN "urn:renkei:problem:"

/* The message for the server's own failures (and answers that are not of this protocol). */
#define SERVER_FAULT N_("銀行のサーバーで問題が発生しました。しばらく待ってからもう一度お試しください。")

#define P(kind, nm, st, rt, fld, msg) [kind] = {nm, st, rt, fld, msg, NULL, PROBLEM_ARG_NONE}
#define PA(kind, nm, st, rt, fld, msg, alt, arg_) [kind] = {nm, st, rt, fld, msg, alt, arg_}

static const struct problem_info table[PROBLEM__COUNT] = {
	[PROBLEM_NONE] = {"none", 0, false, FLOW_FIELD_NONE, NULL, NULL, PROBLEM_ARG_NONE},
	P(PROBLEM_BAD_REQUEST, "bad-request", 400, false, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", 415, false, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_PAYLOAD_TOO_LARGE, "payload-too-large", 413, false, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_METHOD_NOT_ALLOWED, "method-not-allowed", 405, false, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_NOT_FOUND, "not-found", 404, false, FLOW_FIELD_NONE, SERVER_FAULT),
	PA(PROBLEM_RATE_LIMITED, "rate-limited", 429, true, FLOW_FIELD_USER_CODE,
	   N_("コードの入力誤りが続いたため、受付を一時停止しています。%ld秒後にもう一度お試しください。"),
	   N_("コードの入力誤りが続いたため、受付を一時停止しています。しばらく待ってからお試しください。"),
	   PROBLEM_ARG_SECONDS),
	P(PROBLEM_USER_CODE_UNKNOWN, "user-code-unknown", 404, false, FLOW_FIELD_USER_CODE,
	  N_("コードが正しくありません。連携先の画面に表示されたコードを確かめて、もう一度入力してください。")),
	P(PROBLEM_USER_CODE_EXPIRED, "user-code-expired", 410, false, FLOW_FIELD_USER_CODE,
	  N_("このコードは有効期限が切れています。連携先の画面で新しいコードを表示してください。")),
	P(PROBLEM_USER_CODE_USED, "user-code-used", 409, false, FLOW_FIELD_USER_CODE,
	  N_("このコードはすでに使われています。連携先の画面で新しいコードを表示してください。")),
	P(PROBLEM_USER_CODE_BUSY, "user-code-busy", 409, false, FLOW_FIELD_USER_CODE,
	  N_("このコードは別の端末で手続き中です。しばらく待ってから、もう一度お試しください。")),
	P(PROBLEM_SESSION_UNKNOWN, "session-unknown", 401, false, FLOW_FIELD_NONE,
	  N_("銀行のサーバーに手続きの記録が見つかりませんでした。お手数ですが、最初からやり直してください。")),
	P(PROBLEM_SESSION_EXPIRED, "session-expired", 401, false, FLOW_FIELD_NONE,
	  N_("一定時間操作がなかったため、手続きが終了しました。最初からやり直してください。")),
	P(PROBLEM_WRONG_STEP, "wrong-step", 409, false, FLOW_FIELD_NONE,
	  N_("手続きの状態が変わりました。画面を更新しました。")),
	P(PROBLEM_METHOD_UNAVAILABLE, "method-unavailable", 400, false, FLOW_FIELD_NONE,
	  N_("この金融機関では電子証明書方式をご利用いただけません。")),
	PA(PROBLEM_WRONG_CREDENTIALS, "wrong-credentials", 401, false, FLOW_FIELD_PASSWORD,
	   N_("ログインIDまたはログインパスワードが正しくありません。"), NULL, PROBLEM_ARG_TRIES),
	P(PROBLEM_LOGIN_LOCKED, "login-locked", 403, false, FLOW_FIELD_NONE, N_("ログインがロックされています。")),
	P(PROBLEM_CERTIFICATE_REQUIRED, "certificate-required", 401, false, FLOW_FIELD_NONE,
	  N_("電子証明書が送られませんでした。証明書を選び直してください。")),
	P(PROBLEM_CERTIFICATE_UNKNOWN, "certificate-unknown", 401, false, FLOW_FIELD_NONE,
	  N_("この電子証明書はご登録がありません。別の証明書を選ぶか、ID・パスワード方式をご利用ください。")),
	P(PROBLEM_CERTIFICATE_MISMATCH, "certificate-mismatch", 403, false, FLOW_FIELD_NONE,
	  N_("ログインに使った電子証明書と異なる証明書で接続されました。最初からやり直してください。")),
	P(PROBLEM_CERTIFICATE_INVALID, "certificate-invalid", 401, false, FLOW_FIELD_NONE,
	  N_("この電子証明書は有効期間外か、当金融機関が発行したものではありません。別の証明書を選んでください。")),
	PA(PROBLEM_WRONG_ANSWER, "wrong-answer", 401, false, FLOW_FIELD_ANSWER, N_("回答が正しくありません。"),
	   NULL, PROBLEM_ARG_TRIES),
	P(PROBLEM_SCOPE_REQUIRED, "scope-required", 422, false, FLOW_FIELD_SCOPES,
	  N_("認可対象を1つ以上選択してください。")),
	P(PROBLEM_SCOPE_UNKNOWN, "scope-unknown", 422, false, FLOW_FIELD_SCOPES,
	  N_("選択できない認可対象が含まれています。")),
	P(PROBLEM_PIN_REQUIRED, "pin-required", 422, false, FLOW_FIELD_PINS,
	  N_("登録する口座を選択し（スペースキー）、照会用暗証番号を入力してください。")),
	P(PROBLEM_PIN_WRONG, "pin-wrong", 422, false, FLOW_FIELD_PINS,
	  N_("照会用暗証番号が正しくない口座があります。表の登録状態欄をご確認ください。")),
	PA(PROBLEM_PIN_FORMAT, "pin-format", 422, false, FLOW_FIELD_PINS,
	   N_("照会用暗証番号は%d桁の数字で入力してください。"), NULL, PROBLEM_ARG_PIN_LENGTH),
	P(PROBLEM_INTENT_REQUIRED, "intent-required", 422, false, FLOW_FIELD_INTENT,
	  N_("「許可手続きを継続する」にチェックを入れてから「許可」ボタンを押してください。")),
	P(PROBLEM_LINK_UNKNOWN, "link-unknown", 404, false, FLOW_FIELD_LINKS,
	  N_("このサービスとの連携はすでに停止されているか、期限が切れています。一覧を更新しました。")),
	P(PROBLEM_TOKEN_INVALID, "token-invalid", 401, false, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_SCOPE_INSUFFICIENT, "scope-insufficient", 403, false, FLOW_FIELD_SCOPES, SERVER_FAULT),
	P(PROBLEM_INTERNAL, "internal", 500, true, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_REPLAY_DIVERGED, "replay-diverged", 409, false, FLOW_FIELD_NONE,
	  N_("再生中のサーバーです。記録と異なる操作のため応答できません。記録どおりに操作してください。")),
	P(PROBLEM_UNKNOWN_TYPE, "unknown-type", 0, false, FLOW_FIELD_NONE, SERVER_FAULT),
	P(PROBLEM_NET_CONNECT, "net-connect", 0, true, FLOW_FIELD_NONE,
	  N_("銀行のサーバーに接続できませんでした。入力内容はそのままです。")),
	P(PROBLEM_NET_TIMEOUT, "net-timeout", 0, true, FLOW_FIELD_NONE,
	  N_("銀行のサーバーから応答がありませんでした。入力内容はそのままです。")),
	P(PROBLEM_TLS_SERVER, "tls-server", 0, true, FLOW_FIELD_NONE,
	  N_("銀行のサーバーの証明書を確認できませんでした。安全のため接続を中止しました。係員にお知らせください。")),
	P(PROBLEM_TLS_CLIENT, "tls-client", 0, true, FLOW_FIELD_NONE,
	  N_("銀行のサーバーがこの電子証明書を受け付けませんでした（有効期限や発行元をご確認ください）。")),
	P(PROBLEM_NET_OTHER, "net-other", 0, true, FLOW_FIELD_NONE,
	  N_("通信が途中で切れました。入力内容はそのままです。")),
	P(PROBLEM_BAD_ANSWER, "bad-answer", 0, true, FLOW_FIELD_NONE, SERVER_FAULT),
	PA(PROBLEM_INPUT_REQUIRED, "input-required", 0, false, FLOW_FIELD_NONE, N_("必須項目を入力してください。"),
	   NULL, PROBLEM_ARG_FIELD),
	PA(PROBLEM_INPUT_FORMAT, "input-format", 0, false, FLOW_FIELD_NONE, N_("入力内容を確認してください。"),
	   NULL, PROBLEM_ARG_FIELD),
	P(PROBLEM_NO_MEMORY, "no-memory", 0, false, FLOW_FIELD_NONE, N_("メモリが足りません。")),
};

/* Local input problems: the message per field (NULL: the row's own message). */
static const char *const required_msgs[FLOW_FIELD__COUNT] = {
	[FLOW_FIELD_USER_CODE] = N_("連携先の画面に表示されたコードを入力してください。"),
	[FLOW_FIELD_LOGIN_ID] = N_("ログインIDを入力してください。"),
	[FLOW_FIELD_PASSWORD] = N_("ログインパスワードを入力してください。"),
	[FLOW_FIELD_ANSWER] = N_("回答を入力してください。"),
	[FLOW_FIELD_LINKS] = N_("一覧の「選択」欄で連携中のサービスを選んでください（スペースキー）。"),
};
static const char *const format_msgs[FLOW_FIELD__COUNT] = {
	[FLOW_FIELD_USER_CODE] = N_("コードは英字8文字です（例 WDJB-MJHT）。"),
	[FLOW_FIELD_PINS] = N_("照会用暗証番号は%d桁の数字で入力してください。"),
};

const struct problem_info *problem_info(enum problem p)
{
	if ((int)p < 0 || p >= PROBLEM__COUNT)
		return &table[PROBLEM_NONE];
	return &table[p];
}

const char *problem_field_msgid(enum problem p, enum flow_field field)
{
	const char *const *v = p == PROBLEM_INPUT_REQUIRED ? required_msgs
			       : p == PROBLEM_INPUT_FORMAT ? format_msgs : NULL;
	if (v && (unsigned)field < FLOW_FIELD__COUNT && v[field])
		return v[field];
	return problem_info(p)->msgid;
}

const char *problem_table_check(void)
{
	static char msg[96];
	for (int p = PROBLEM_NONE + 1; p < PROBLEM__COUNT; p++) {
		const struct problem_info *r = &table[p];
		if (!r->name || !r->msgid || (r->arg == PROBLEM_ARG_SECONDS && !r->msgid_alt)) {
			snprintf(msg, sizeof msg, "problem %d has no name or message in the table", p);
			return msg;
		}
	}
	return NULL;
}

enum problem problem_from_type(const char *type)
{
	if (!type)
		return PROBLEM_UNKNOWN_TYPE;
	if (strncmp(type, URN, sizeof URN - 1) != 0)
		return PROBLEM_UNKNOWN_TYPE;
	type += sizeof URN - 1;
	/* Only the protocol's own types (those with a status) are looked up. */
	for (int p = PROBLEM_NONE + 1; p < PROBLEM__COUNT; p++)
		if (table[p].status && strcmp(table[p].name, type) == 0)
			return (enum problem)p;
	return PROBLEM_UNKNOWN_TYPE;
}

const char *problem_name(enum problem p)
{
	if ((int)p < 0 || p >= PROBLEM__COUNT || !table[p].name)
		return "unknown-type";
	return table[p].name;
}

int problem_status(enum problem p)
{
	if ((int)p < 0 || p >= PROBLEM__COUNT)
		return 0;
	return table[p].status;
}

bool problem_is_transport(enum problem p)
{
	return p >= PROBLEM_NET_CONNECT && p <= PROBLEM_BAD_ANSWER;
}
