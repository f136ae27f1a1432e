package oidc

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/shenfen/shenfen/verifier"
)

// The provider's pages speak Chinese and English.
const (
	langZH = "zh"
	langEN = "en"
)

// langTag is each language's tag on the pages (html lang,
// Content-Language): the Chinese text is Simplified Chinese as written in
// mainland China, which also picks the right glyphs.
var langTag = map[string]string{langZH: "zh-CN", langEN: "en"}

// pageLocales are the language tags of the provider's pages, as discovery
// announces them (ui_locales_supported): Simplified Chinese and English.
// A request's ui_locales may name any Chinese or English tag (zh, zh-TW,
// en-GB): the pages have one Chinese and one English text.
var pageLocales = []string{langTag[langZH], langTag[langEN]}

// pageLang picks the pages' language: the first tag of the authorization
// request's ui_locales (space-separated, OpenID Connect Core 3.1.2.1) that
// is Chinese or English, else the browser's Accept-Language (the preferred
// of zh* and en* by q-value), else English.
func pageLang(uiLocales string, r *http.Request) string {
	for _, t := range strings.Fields(uiLocales) {
		if l := primaryLang(t); l != "" {
			return l
		}
	}
	type pref struct {
		lang string
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l := primaryLang(tag); l != "" && q > 0 {
			prefs = append(prefs, pref{l, q, i})
		}
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	if len(prefs) > 0 {
		return prefs[0].lang
	}
	return langEN
}

// primaryLang maps a language tag to langZH or langEN by its primary
// subtag, or "" for any other language.
func primaryLang(tag string) string {
	p, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	p, _, _ = strings.Cut(p, "_")
	switch p {
	case "zh":
		return langZH
	case "en":
		return langEN
	}
	return ""
}

// text holds the pages' words, by key, in each language.
var text = map[string]map[string]string{
	langEN: {
		"login_title":             "Sign in with your virtual ID",
		"login_h1_pre":            "Sign in to ",
		"login_h1_post":           " with your virtual ID",
		"asks_for":                " asks for:",
		"optional":                "(optional)",
		"no_personal_data":        "Only that you are a holder of a valid card (no personal data)",
		"refused_login":           "Also asked, but this site is not entitled to it and will not get it: ",
		"other_device":            "On another device",
		"scan":                    "Scan this code with the shenfen wallet on your phone and approve there.",
		"qr_label":                "QR code for the wallet",
		"this_device":             "On this device",
		"open_wallet":             "Open the wallet on this device",
		"waiting":                 "Waiting for your wallet…",
		"no_longer_valid":         "This sign-in is no longer valid. Go back to the site and start again.",
		"error_title":             "Sign-in problem",
		"error_back":              "Go back to the site you came from and start again.",
		"error_code":              "Error code:",
		"logged_out_title":        "Sign-out",
		"logged_out":              "The site has sent you here after signing you out. This service keeps no sign-in of its own: the next sign-in asks your wallet again. You can close this page.",
		"error_back_link":         "Go back to the site and start the sign-in again.",
		"try_again":               "Try again",
		"back_to":                 "Back to ",
		"err_request_unknown":     "This sign-in request is unknown or has expired.",
		"err_request_expired":     "This sign-in request has expired.",
		"err_request_in_use":      "This sign-in request is already in use.",
		"err_other_browser":       "This sign-in was started in another browser.",
		"err_finished":            "This sign-in request is already finished.",
		"err_client_unknown":      "The site asking is not registered with this sign-in service.",
		"err_unavailable":         "The sign-in is not available right now.",
		"err_qr":                  "Could not draw the QR code.",
		"err_session":             "This sign-in is unknown or was started in another browser.",
		"err_unreadable":          "Could not read your answer.",
		"err_bad_form":            "Unreadable form.",
		"err_grant":               "Could not record the grant; nothing was shared.",
		"err_invalid_request":     "The site sent a sign-in request that cannot be accepted.",
		"err_invalid_request_uri": "The site's pushed sign-in request is unknown, used or expired.",
		"err_rate_limited":        "Too many sign-in attempts come from your network right now.",
		"err_logout":              "The site's sign-out request cannot be accepted.",
		"err_not_found":           "There is no sign-in page at this address.",
		"purpose":                 "Purpose: ",
		"list_sep":                ", ",
	},
	langZH: {
		"login_title":             "使用虚拟身份证登录",
		"login_h1_pre":            "使用虚拟身份证登录",
		"login_h1_post":           "",
		"asks_for":                "请求获取：",
		"optional":                "（可选）",
		"no_personal_data":        "仅确认您持有有效证件（不含个人信息）",
		"refused_login":           "该网站还请求了以下信息，但无权获取，将不会得到：",
		"other_device":            "使用另一台设备",
		"scan":                    "用手机上的身份钱包扫描此二维码，并在钱包中确认。",
		"qr_label":                "钱包二维码",
		"this_device":             "使用本设备",
		"open_wallet":             "在本设备上打开钱包",
		"waiting":                 "正在等待钱包确认…",
		"no_longer_valid":         "此次登录已失效。请返回原网站重新开始。",
		"error_title":             "登录出现问题",
		"error_back":              "请返回您来自的网站，重新开始。",
		"error_code":              "错误代码：",
		"logged_out_title":        "退出登录",
		"logged_out":              "该网站在退出登录后将您转到此页。本服务不保留登录状态：下次登录仍需在钱包中确认。您可以关闭此页面。",
		"error_back_link":         "请返回该网站，重新开始登录。",
		"try_again":               "重试",
		"back_to":                 "返回",
		"err_request_unknown":     "此登录请求不存在或已过期。",
		"err_request_expired":     "此登录请求已过期。",
		"err_request_in_use":      "此登录请求已在使用中。",
		"err_other_browser":       "此次登录是在另一个浏览器中开始的。",
		"err_finished":            "此登录请求已结束。",
		"err_client_unknown":      "发出请求的网站未在本登录服务注册。",
		"err_unavailable":         "登录服务暂时不可用。",
		"err_qr":                  "无法生成二维码。",
		"err_session":             "此次登录不存在，或是在另一个浏览器中开始的。",
		"err_unreadable":          "无法读取您的答复。",
		"err_bad_form":            "表单无法读取。",
		"err_grant":               "无法记录本次授权；未提供任何信息。",
		"err_invalid_request":     "该网站发来的登录请求无法受理。",
		"err_invalid_request_uri": "该网站预先提交的登录请求不存在、已使用或已过期。",
		"err_rate_limited":        "您所在网络目前的登录尝试过多。",
		"err_logout":              "该网站发来的退出登录请求无法受理。",
		"err_not_found":           "此地址没有登录页面。",
		"purpose":                 "用途：",
		"list_sep":                "、",
	},
}

// claimLabelsZH are the Chinese words for each claim (claimLabels in
// English).
var claimLabelsZH = map[string]string{
	"name": "姓名", "family_name": "姓", "given_name": "名",
	"birthdate": "出生日期", "age_over_18": "是否年满 18 周岁",
	"id_number": "公民身份号码", "picture": "证件照片", "address": "住址",
}

// claimLabel is the claim's label in the language.
func claimLabel(lang, claim string) string {
	if lang == langZH {
		return claimLabelsZH[claim]
	}
	return claimLabels[claim]
}

// rpName is a relying party's name as the pages put it in a sentence: in
// the page's language, else the other; Chinese sentences have no spaces,
// so a name without Chinese characters gets one on each side there.
func rpName(lang string, t verifier.Text) string {
	n := localized(lang, t)
	if lang == langZH && !strings.ContainsFunc(n, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		return " " + n + " "
	}
	return n
}

// otherLang is the language tag of localized(lang, t) when it fell back to
// the other language (for the lang attribute of the name's element:
// WCAG 3.1.2, language of parts), else "".
func otherLang(lang string, t verifier.Text) string {
	if lang == langZH && t.Zh == "" && t.En != "" {
		return langTag[langEN]
	}
	if lang == langEN && t.En == "" && t.Zh != "" {
		return langTag[langZH]
	}
	return ""
}

// localized is t in the page's language, else in the other one.
func localized(lang string, t verifier.Text) string {
	if lang == langZH && t.Zh != "" || t.En == "" {
		return t.Zh
	}
	return t.En
}
