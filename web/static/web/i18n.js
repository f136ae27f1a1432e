// Chinese (zh-CN) and English UI text. Elements carry data-i18n="key"
// (text), data-i18n-placeholder, data-i18n-aria (aria-label); scripts call
// t(key, vars). The language defaults to the browser's, can be switched
// with a [data-lang-toggle] button, and is remembered in localStorage.
const dict = {
  en: {
    "app.wallet": "Virtual ID wallet",
    "app.verifier": "Front-desk ID check",
    "app.admin": "Identity authority console",
    "lang.switch": "中文",
    "nav.card": "Card", "nav.scan": "Scan", "nav.history": "History", "nav.settings": "Settings",
    "home.none": "No card on this phone yet.",
    "home.enroll": "Get my virtual ID card",
    "enroll.title": "Enroll",
    "enroll.intro": "Enter your ID number and name as printed on your ID card. Then look at the camera and read four digits aloud.",
    "enroll.id": "ID number (18 characters)",
    "enroll.name": "Name",
    "enroll.start": "Start",
    "enroll.camera": "Camera preview",
    "enroll.read": "Read these digits aloud:",
    "enroll.record": "I'm ready: record",
    "enroll.recording": "Recording… read the digits now",
    "enroll.sending": "Checking your identity…",
    "enroll.collect": "Approved. Collecting your card…",
    "enroll.expires": "The digits expire at {t}.",
    "enroll.retry": "Try again",
    "enroll.step.still": "Hold the phone still at eye level, your face in the middle of the picture.",
    "enroll.step.read": "When you press record, read the digits aloud, clearly.",
    "enroll.step.light": "The screen will change colour while you read: that is normal, keep looking at it.",
    "enroll.light.say": "Read aloud:",
    "enroll.light.note": "Hold still and keep looking at the screen while it changes colour.",
    "err.enrollment-refused": "The identity could not be confirmed. Check your ID number and name, and face the camera in good light.",
    "err.speech-mismatch": "We could not hear the four digits. Speak clearly and read them again.",
    "err.liveness-failed": "The video did not show you speaking. Keep your face in view while you read.",
    "err.challenge-expired": "The digits expired. Start again.",
    "err.challenge-used": "These digits were already used. Start again.",
    "err.rate-limited": "Too many attempts. Wait a moment and try again.",
    "err.bad-signature": "This phone's key was not accepted. Start again.",
    "err.unsupported-media": "The camera or microphone recording could not be read.",
    "err.camera": "The camera or microphone is not available: allow access and try again.",
    "err.network": "The service cannot be reached. Check the connection.",
    "err.generic": "Something went wrong: {m}",
    "card.title": "Resident identity card",
    "card.name": "Name", "card.id": "ID number", "card.valid": "Valid until", "card.birth": "Date of birth",
    "card.status": "Status",
    "card.qr": "Show this code at the counter. It refreshes every {s} seconds.",
    "card.qr.none": "This card has no offline code; scan the counter's code instead.",
    "scan.title": "Scan a code",
    "scan.intro": "Scan the QR code of a front desk or of a login page.",
    "scan.paste": "Or paste the link",
    "scan.open": "Open",
    "scan.camera": "Start camera",
    "consent.title": "Share your data?",
    "consent.who": "{rp} asks for:",
    "consent.approve": "Share",
    "consent.deny": "Cancel",
    "consent.done": "Shared with {rp}.",
    "consent.failed": "The presentation was refused: {m}",
    "history.title": "Who saw my data",
    "history.none": "No disclosures yet.",
    "history.when": "When", "history.who": "Who", "history.what": "Which data",
    "settings.title": "Settings",
    "settings.lost": "Lost your phone? Suspend the card from the new phone by enrolling again there: enrolling on a new phone revokes the old card.",
    "settings.suspend": "Suspend this card",
    "settings.suspended": "The card is suspended.",
    "settings.reenroll": "Enroll again on this phone",
    "settings.confirm": "Suspend the card? Verifiers will refuse it until it is reinstated.",
    "claim.family_name": "Family name", "claim.given_name": "Given name", "claim.name": "Name",
    "claim.birth_date": "Date of birth", "claim.birthdate": "Date of birth", "claim.portrait": "Portrait",
    "claim.id_number": "ID number", "claim.personal_administrative_number": "ID number",
    "claim.sex": "Sex", "claim.address": "Address", "claim.nationality": "Nationality",
    "claim.age_over_18": "Over 18", "claim.age_equal_or_over": "Age over", "claim.ethnicity": "Ethnicity",
    "claim.expiry_date": "Valid until", "claim.issuing_authority": "Issuing authority",
    "claim.date_of_expiry": "Valid until", "claim.name_original": "Name (original script)", "claim.picture": "Portrait",
    "verifier.intro": "Check a guest's virtual ID card.",
    "verifier.request": "Show a request code",
    "verifier.scan": "Scan the guest's code",
    "verifier.waiting": "Waiting for the guest to scan and approve…",
    "verifier.ok": "Verified",
    "verifier.fail": "Not valid",
    "verifier.reason": "Reason: {r}",
    "verifier.fresh": "Status list fetched {m} minutes ago.",
    "verifier.fresh.none": "Status list not cached yet.",
    "verifier.offline": "Offline: using the cached trust list and status list.",
    "verifier.checkin": "Record check-in",
    "verifier.room": "Room",
    "verifier.checkedin": "Check-in recorded for room {room}.",
    "verifier.checkins": "Today's check-ins",
    "verifier.again": "Next guest",
    "reason.malformed": "the code is damaged", "reason.signature": "forged signature",
    "reason.untrusted": "not issued by a trusted authority", "reason.expired": "card expired",
    "reason.holder-binding": "not presented by the card's phone", "reason.nonce": "answer to another request",
    "reason.replay": "a replayed presentation", "reason.revoked": "card revoked", "reason.suspended": "card suspended",
    "reason.status": "status unknown", "reason.missing-claims": "data missing", "reason.timeout": "no answer in time",
    "admin.signin": "Sign in", "admin.token": "Admin token", "admin.signout": "Sign out",
    "admin.registry": "Registry", "admin.search": "Search", "admin.idnumber": "ID number",
    "admin.status": "Status", "admin.setstatus": "Change status", "admin.notfound": "No record for this ID number.",
    "admin.cards": "Cards", "admin.card.uri": "Status list URI", "admin.card.idx": "Index",
    "admin.card.set": "Set card status",
    "admin.rps": "Relying parties", "admin.rp.id": "Client id", "admin.rp.name": "Name",
    "admin.rp.name.zh": "Name in Chinese", "admin.rp.name.en": "Name in English",
    "admin.rp.purpose.zh": "Purpose in Chinese (optional)", "admin.rp.purpose.en": "Purpose in English (optional)",
    "admin.rp.redirect": "Redirect URIs (one per line)", "admin.rp.claims": "Entitled claims (comma separated)",
    "admin.rp.add": "Register",
    "admin.stats": "Enrollment statistics", "admin.stats.approved": "Approved", "admin.stats.refused": "Refused",
    "admin.stats.latency": "Decision latency (ms)", "admin.stats.none": "No enrollment statistics available.",
    "admin.saved": "Saved.",
  },
  zh: {
    "app.wallet": "虚拟身份证", "app.verifier": "前台身份核验", "app.admin": "身份管理机关控制台",
    "lang.switch": "English",
    "nav.card": "证件", "nav.scan": "扫一扫", "nav.history": "记录", "nav.settings": "设置",
    "home.none": "本机还没有虚拟身份证。",
    "home.enroll": "申领虚拟身份证",
    "enroll.title": "申领",
    "enroll.intro": "请输入身份证上的公民身份号码和姓名，然后面对摄像头朗读四位数字。",
    "enroll.id": "公民身份号码（18位）", "enroll.name": "姓名", "enroll.start": "开始",
    "enroll.camera": "摄像头预览",
    "enroll.read": "请大声朗读下列数字：",
    "enroll.record": "准备好了，开始录制",
    "enroll.recording": "正在录制……请现在朗读数字",
    "enroll.sending": "正在核验身份……",
    "enroll.collect": "核验通过，正在领取证件……",
    "enroll.expires": "数字在 {t} 失效。",
    "enroll.retry": "重试",
    "enroll.step.still": "请将手机稳定地举在与眼睛平齐的位置，脸部位于画面中央。",
    "enroll.step.read": "点击录制后，请清晰地大声朗读数字。",
    "enroll.step.light": "朗读时屏幕会变换颜色，这是正常的，请继续注视屏幕。",
    "enroll.light.say": "请大声朗读：",
    "enroll.light.note": "屏幕变换颜色时请保持不动，并注视屏幕。",
    "err.enrollment-refused": "无法确认身份。请核对身份号码和姓名，并在光线充足处正对摄像头。",
    "err.speech-mismatch": "没有听清这四位数字，请清晰地再读一遍。",
    "err.liveness-failed": "视频中未能确认是您本人在朗读，请朗读时保持面部在画面中。",
    "err.challenge-expired": "数字已失效，请重新开始。",
    "err.challenge-used": "这组数字已使用，请重新开始。",
    "err.rate-limited": "尝试次数过多，请稍后再试。",
    "err.bad-signature": "本机密钥未被接受，请重新开始。",
    "err.unsupported-media": "无法读取摄像头或麦克风的录制内容。",
    "err.camera": "无法使用摄像头或麦克风，请允许访问后重试。",
    "err.network": "无法连接服务，请检查网络。",
    "err.generic": "出错了：{m}",
    "card.title": "居民身份证", "card.name": "姓名", "card.id": "公民身份号码", "card.valid": "有效期至",
    "card.birth": "出生日期", "card.status": "状态",
    "card.qr": "请在柜台出示此码，每 {s} 秒自动刷新。",
    "card.qr.none": "此证件没有离线码，请扫描柜台的二维码。",
    "scan.title": "扫一扫", "scan.intro": "扫描前台或登录页面上的二维码。",
    "scan.paste": "或粘贴链接", "scan.open": "打开", "scan.camera": "打开摄像头",
    "consent.title": "是否提供您的信息？", "consent.who": "{rp} 请求：",
    "consent.approve": "同意提供", "consent.deny": "取消",
    "consent.done": "已提供给 {rp}。", "consent.failed": "出示被拒绝：{m}",
    "history.title": "谁查看了我的信息", "history.none": "暂无记录。",
    "history.when": "时间", "history.who": "查看方", "history.what": "信息项",
    "settings.title": "设置",
    "settings.lost": "手机丢失？在新手机上重新申领即可：新手机申领后旧证件自动作废。",
    "settings.suspend": "挂失此证件", "settings.suspended": "证件已挂失。",
    "settings.reenroll": "在本机重新申领",
    "settings.confirm": "确定挂失？恢复前核验方将拒绝此证件。",
    "claim.family_name": "姓", "claim.given_name": "名", "claim.name": "姓名",
    "claim.birth_date": "出生日期", "claim.birthdate": "出生日期", "claim.portrait": "照片",
    "claim.id_number": "公民身份号码", "claim.personal_administrative_number": "公民身份号码",
    "claim.sex": "性别", "claim.address": "住址", "claim.nationality": "国籍",
    "claim.age_over_18": "已满18岁", "claim.age_equal_or_over": "年龄已满", "claim.ethnicity": "民族",
    "claim.expiry_date": "有效期至", "claim.issuing_authority": "签发机关",
    "claim.date_of_expiry": "有效期至", "claim.name_original": "姓名（原文）", "claim.picture": "照片",
    "verifier.intro": "核验客人的虚拟身份证。",
    "verifier.request": "出示请求二维码", "verifier.scan": "扫描客人的二维码",
    "verifier.waiting": "等待客人扫码并同意……",
    "verifier.ok": "核验通过", "verifier.fail": "核验未通过", "verifier.reason": "原因：{r}",
    "verifier.fresh": "状态列表于 {m} 分钟前更新。", "verifier.fresh.none": "尚未缓存状态列表。",
    "verifier.offline": "离线：使用缓存的信任列表和状态列表。",
    "verifier.checkin": "登记入住", "verifier.room": "房间号",
    "verifier.checkedin": "已登记 {room} 房间入住。", "verifier.checkins": "今日入住登记",
    "verifier.again": "下一位客人",
    "reason.malformed": "二维码损坏", "reason.signature": "签名伪造", "reason.untrusted": "非可信机关签发",
    "reason.expired": "证件已过期", "reason.holder-binding": "非证件所属手机出示", "reason.nonce": "对应其他请求",
    "reason.replay": "重放的出示", "reason.revoked": "证件已作废", "reason.suspended": "证件已挂失",
    "reason.status": "状态未知", "reason.missing-claims": "信息缺失", "reason.timeout": "未在时限内应答",
    "admin.signin": "登录", "admin.token": "管理令牌", "admin.signout": "退出",
    "admin.registry": "人口登记库", "admin.search": "查询", "admin.idnumber": "公民身份号码",
    "admin.status": "状态", "admin.setstatus": "变更状态", "admin.notfound": "未找到该身份号码的记录。",
    "admin.cards": "证件", "admin.card.uri": "状态列表地址", "admin.card.idx": "序号",
    "admin.card.set": "设置证件状态",
    "admin.rps": "依赖方", "admin.rp.id": "客户端标识", "admin.rp.name": "名称",
    "admin.rp.name.zh": "中文名称", "admin.rp.name.en": "英文名称",
    "admin.rp.purpose.zh": "中文用途（可选）", "admin.rp.purpose.en": "英文用途（可选）",
    "admin.rp.redirect": "回调地址（每行一个）", "admin.rp.claims": "授权信息项（逗号分隔）",
    "admin.rp.add": "登记",
    "admin.stats": "申领统计", "admin.stats.approved": "通过", "admin.stats.refused": "拒绝",
    "admin.stats.latency": "判定耗时（毫秒）", "admin.stats.none": "暂无申领统计。",
    "admin.saved": "已保存。",
  },
};

// Lost phone (revocation code, /wallet/lost.html) and the console's cards.
Object.assign(dict.en, {
  "lost.title": "Lost phone: suspend my card",
  "lost.link": "Lost your phone? Suspend your card",
  "lost.intro": "Enter your ID number and the revocation code you wrote down when you collected the card. Every active virtual ID card of yours is suspended at once; verifiers refuse it from then on.",
  "lost.id": "ID number (18 characters)",
  "lost.code": "Revocation code",
  "lost.code.hint": "20 letters and digits in five groups of four, as written down at card pickup. Case, spaces and hyphens do not matter.",
  "lost.submit": "Suspend my card",
  "lost.sending": "Suspending…",
  "lost.missing": "Enter the 18-character ID number and the revocation code.",
  "lost.done": "Done: {n} card(s) suspended. The code is now used up.",
  "lost.after": "Found the phone? A suspended card is reinstated at a public security counter after an identity check. On a new phone, simply enroll again: that revokes the old card.",
  "lost.back": "Back to the wallet",
  "lost.err.revocation-refused": "Not suspended: the ID number and revocation code do not match an active card. Check both and try again, or go to a counter.",
  "lost.err.invalid-id-number": "This is not a valid 18-character ID number.",
  "lost.err.rate-limited": "Too many attempts. Wait a while and try again, or go to a counter.",
  "revocation.title": "Write down your revocation code",
  "revocation.intro": "If you lose this phone, this code and your ID number suspend the card from any browser (on the lost-phone page). It is shown only this once and is not stored on the server: keep it on paper, away from the phone.",
  "revocation.ack": "I have written it down",
  "revocation.settings": "The revocation code is shown once per card. If it was not shown when you collected the card, get it here.",
  "revocation.get": "Show my revocation code",
  "err.revocation-code-issued": "This card's revocation code was shown already. If you lost it, you can still suspend the card from this phone; enrolling again gives a new card and a new code.",
  "err.no-active-card": "This card is not active.",
  "admin.cards.none": "No cards issued for this ID number.",
  "admin.card.id": "Card", "admin.card.state": "Record", "admin.card.status": "Status",
  "admin.card.issued": "Issued", "admin.card.device": "Device key", "admin.card.actions": "Actions",
  "admin.card.suspend": "Suspend", "admin.card.revoke": "Revoke", "admin.card.reinstate": "Reinstate",
  "admin.card.confirm.revoke": "Revoke this card for good? This cannot be undone; the citizen must enroll again.",
  "admin.card.confirm.reinstate": "Reinstate this card? Only after checking the citizen's identity in person.",
  "admin.card.raw": "By status-list entry",
  "admin.card.done": "Card {id}: {prev} → {status}.",
});
Object.assign(dict.zh, {
  "lost.title": "手机丢失：挂失证件",
  "lost.link": "手机丢了？挂失证件",
  "lost.intro": "请输入公民身份号码和领取证件时抄下的挂失码。您名下所有有效的虚拟身份证将立即挂失，核验方此后将拒绝。",
  "lost.id": "公民身份号码（18位）",
  "lost.code": "挂失码",
  "lost.code.hint": "20位字母和数字，分五组、每组四位，即领卡时抄下的代码。不区分大小写，空格和连字符可省略。",
  "lost.submit": "挂失证件",
  "lost.sending": "正在挂失……",
  "lost.missing": "请输入18位公民身份号码和挂失码。",
  "lost.done": "已完成：{n} 张证件已挂失。此挂失码已失效。",
  "lost.after": "找回了手机？挂失的证件须到公安窗口核验身份后恢复。换了新手机，直接重新申领即可，旧证件会自动作废。",
  "lost.back": "返回证件",
  "lost.err.revocation-refused": "未能挂失：身份号码与挂失码不对应任何有效证件。请核对后重试，或到窗口办理。",
  "lost.err.invalid-id-number": "这不是有效的18位公民身份号码。",
  "lost.err.rate-limited": "尝试次数过多，请稍后再试，或到窗口办理。",
  "revocation.title": "请抄下您的挂失码",
  "revocation.intro": "手机丢失时，凭此挂失码和身份号码即可在任何浏览器上（挂失页面）挂失证件。此码仅显示这一次，服务器不保存明文：请抄在纸上，与手机分开保管。",
  "revocation.ack": "我已抄好",
  "revocation.settings": "每张证件的挂失码只显示一次。如果领取证件时没有显示，可在此获取。",
  "revocation.get": "显示我的挂失码",
  "err.revocation-code-issued": "此证件的挂失码已显示过。若遗失挂失码，仍可在本机挂失；重新申领可获得新证件和新挂失码。",
  "err.no-active-card": "此证件已失效。",
  "admin.cards.none": "该身份号码名下没有签发的证件。",
  "admin.card.id": "证件", "admin.card.state": "记录", "admin.card.status": "状态",
  "admin.card.issued": "签发时间", "admin.card.device": "设备密钥", "admin.card.actions": "操作",
  "admin.card.suspend": "挂失", "admin.card.revoke": "作废", "admin.card.reinstate": "恢复",
  "admin.card.confirm.revoke": "确定永久作废此证件？此操作不可撤销，公民须重新申领。",
  "admin.card.confirm.reinstate": "确定恢复此证件？请先当面核验公民身份。",
  "admin.card.raw": "按状态列表条目",
  "admin.card.done": "证件 {id}：{prev} → {status}。",
});

// The offline QR code (wallet card view, verifier page).
Object.assign(dict.en, {
  "card.qr.answer": "Answer to the counter's request: show this code now.",
  "reason.stale": "code too old (signed more than a minute ago)", "reason.not-yet-valid": "card not yet valid",
  "reason.disclosure": "data altered", "reason.too-large": "code too large", "reason.unsupported": "unsupported card",
  "verifier.nonce": "Request code, then scan",
  "verifier.nonce.intro": "Let the guest's wallet scan this code, then scan the code it shows.",
  "verifier.scan.answer": "Scan the answer",
  "verifier.code": "Or read the code with a desk barcode reader:", "verifier.code.check": "Check",
  "verifier.offline.ok": "Checked on this device with the cached trust list and status list.",
  "verifier.signed": "Code signed {s} s ago.",
  "verifier.trust": "Trust list: {n} document signer(s) under root {fp}…, fetched {m} minutes ago.",
  "verifier.trust.none": "No trust list cached yet: connect once to fetch it.",
  "verifier.trust.changed": "The trust list's root certificate changed: keeping the cached one. Contact the authority.",
});
Object.assign(dict.zh, {
  "card.qr.answer": "这是对柜台请求的应答：请立即出示此码。",
  "reason.stale": "二维码已过时（签名超过一分钟）", "reason.not-yet-valid": "证件尚未生效",
  "reason.disclosure": "信息被篡改", "reason.too-large": "二维码过大", "reason.unsupported": "不支持的证件",
  "verifier.nonce": "出示请求码后扫码",
  "verifier.nonce.intro": "请客人用钱包扫描此码，然后扫描钱包显示的二维码。",
  "verifier.scan.answer": "扫描应答码",
  "verifier.code": "或用柜台扫码枪读取二维码：", "verifier.code.check": "核验",
  "verifier.offline.ok": "已在本机使用缓存的信任列表和状态列表核验。",
  "verifier.signed": "二维码于 {s} 秒前签名。",
  "verifier.trust": "信任列表：根证书 {fp}… 下的 {n} 个签发证书，{m} 分钟前更新。",
  "verifier.trust.none": "尚未缓存信任列表：请联网一次以获取。",
  "verifier.trust.changed": "信任列表的根证书已变更：继续使用缓存的版本。请联系发证机关。",
});

// Single-use credentials (wallet card view, /wallet/batch.js).
Object.assign(dict.en, {
  "card.batch": "Single-use credentials left: {n}. Each verifier gets a fresh one, so verifiers cannot link your visits; more are fetched when online.",
});
Object.assign(dict.zh, {
  "card.batch": "剩余一次性凭证：{n} 张。每个核验方收到的都是新的一张，核验方无法关联您的各次出示；联网时自动补充。",
});

let lang = (() => {
  try {
    const saved = localStorage.getItem("shenfen.lang");
    if (saved === "zh" || saved === "en") return saved;
  } catch (e) { /* storage blocked */ }
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
})();

export const current = () => lang;

// add merges a page module's own strings (en and zh dictionaries).
export function add(en, zh) {
  Object.assign(dict.en, en);
  Object.assign(dict.zh, zh);
}

export function t(key, vars) {
  let s = (dict[lang] && dict[lang][key]) || dict.en[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
  return s;
}

const listeners = [];
export const onChange = (fn) => listeners.push(fn);

export function apply(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-aria]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nAria)); });
}

export function setLang(l) {
  lang = l;
  try { localStorage.setItem("shenfen.lang", l); } catch (e) { /* ignore */ }
  apply();
  listeners.forEach((fn) => fn(l));
}

// init applies the language and wires the toggle button(s).
export function init() {
  apply();
  document.querySelectorAll("[data-lang-toggle]").forEach((b) =>
    b.addEventListener("click", () => setLang(lang === "zh" ? "en" : "zh")));
}

// claimLabel is the localised name of a claim path.
export const claimLabel = (path) => {
  const top = String(path).split(".")[0];
  const k = "claim." + top;
  const s = t(k);
  return s === k ? String(path) : s + (String(path).includes(".") ? " " + String(path).split(".").slice(1).join(".") : "");
};
