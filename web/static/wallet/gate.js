// The gate before every presentation: the citizen proves to be the phone's
// owner before the wallet shares anything (the offline code, an online
// presentation). With a platform authenticator (fingerprint, face, the
// phone's screen lock) through WebAuthn with user verification required;
// where the browser has none, with an app PIN of 6 to 12 digits, kept as a
// PBKDF2-SHA-256 hash, 5 wrong tries locking it for 5 minutes.
//
// The gate is local: nothing is sent to the server. It stops someone who
// holds the unlocked phone; it cannot stop someone who controls the
// browser (the device key is non-extractable, not gated by the OS).
import * as i18n from "/web/i18n.js";
import * as kv from "/web/idb.js";
import { b64u, unb64u, utf8 } from "/web/b64.js";
import { focusHeading } from "/web/focus.js";

const t = i18n.t;
const KEY = "gate";
const ITER = 210000;
const MAX_FAILS = 5;
const LOCK_MS = 5 * 60 * 1000;

i18n.add({
  "gate.title": "Confirm it's you",
  "gate.why.code": "Before the code is shown, confirm that you are this phone's owner.",
  "gate.why.share": "Before {rp} receives your data, confirm that you are this phone's owner.",
  "gate.bio": "Use fingerprint, face or screen lock",
  "gate.pin.new": "Choose an app PIN (6 to 12 digits): this phone has no fingerprint, face or screen lock the browser can use.",
  "gate.pin.again": "Enter the PIN again",
  "gate.pin": "App PIN",
  "gate.pin.ok": "Confirm",
  "gate.pin.short": "The PIN has 6 to 12 digits.",
  "gate.pin.mismatch": "The two PINs differ. Enter them again.",
  "gate.pin.wrong": "Wrong PIN. {n} tries left.",
  "gate.pin.locked": "Too many wrong PINs. Try again after {t}.",
  "gate.failed": "Not confirmed: {m}",
  "gate.cancel": "Cancel",
}, {
  "gate.title": "确认是您本人",
  "gate.why.code": "显示二维码前，请确认您是本机的主人。",
  "gate.why.share": "向 {rp} 提供信息前，请确认您是本机的主人。",
  "gate.bio": "使用指纹、面容或锁屏密码",
  "gate.pin.new": "请设置 6 至 12 位数字的应用密码：本机没有浏览器可用的指纹、面容或锁屏密码。",
  "gate.pin.again": "再次输入密码",
  "gate.pin": "应用密码",
  "gate.pin.ok": "确认",
  "gate.pin.short": "密码为 6 至 12 位数字。",
  "gate.pin.mismatch": "两次输入的密码不一致，请重新输入。",
  "gate.pin.wrong": "密码错误，还可尝试 {n} 次。",
  "gate.pin.locked": "密码错误次数过多，请在 {t} 后再试。",
  "gate.failed": "未能确认：{m}",
  "gate.cancel": "取消",
});

const $ = (id) => document.getElementById(id);
const random = (n) => crypto.getRandomValues(new Uint8Array(n));

// platform reports whether the browser has a user-verifying platform
// authenticator (and a context where WebAuthn works).
async function platform() {
  try {
    return !!(window.PublicKeyCredential && await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable());
  } catch (e) {
    return false;
  }
}

// verified reports whether authenticator data carry the UV (user
// verified, 0x04) and UP (user present, 0x01) flags.
const verified = (authData) => authData.length > 32 && (authData[32] & 0x05) === 0x05;

function checkClient(clientDataJSON, type, challenge) {
  const c = JSON.parse(new TextDecoder().decode(clientDataJSON));
  if (c.type !== type || c.challenge !== b64u(challenge) || c.origin !== location.origin) throw new Error("client data");
}

async function webauthnCreate() {
  const challenge = random(32);
  const cred = await navigator.credentials.create({ publicKey: {
    rp: { name: t("app.wallet") },
    user: { id: random(16), name: "wallet", displayName: t("app.wallet") },
    challenge,
    pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
    authenticatorSelection: { authenticatorAttachment: "platform", userVerification: "required", residentKey: "discouraged" },
    timeout: 120000, attestation: "none",
  } });
  checkClient(cred.response.clientDataJSON, "webauthn.create", challenge);
  if (!verified(new Uint8Array(cred.response.getAuthenticatorData()))) throw new Error("no user verification");
  return { kind: "webauthn", id: b64u(new Uint8Array(cred.rawId)) };
}

async function webauthnGet(g) {
  const challenge = random(32);
  const a = await navigator.credentials.get({ publicKey: {
    challenge, allowCredentials: [{ type: "public-key", id: unb64u(g.id) }], userVerification: "required", timeout: 120000,
  } });
  checkClient(a.response.clientDataJSON, "webauthn.get", challenge);
  if (!verified(new Uint8Array(a.response.authenticatorData))) throw new Error("no user verification");
}

async function pinHash(pin, salt) {
  const k = await crypto.subtle.importKey("raw", utf8(pin), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: ITER }, k, 256));
}

function same(a, b) { // constant time over equal lengths
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// returnFocus gives the keyboard focus back to the control that opened
// the gate, once the opener's own handler has run (it may be disabled while
// the gate is open, so the dialog's closing cannot restore it), or to the
// heading of its view when it is no longer there (the code shown in place
// of its button), or to the heading of the view shown when the opener's
// view is gone too (a scanned request answered on the card view). A focus
// the handler moved elsewhere is kept (a focus still in the closed dialog
// is not: it is lost at the next rendering).
function returnFocus(dlg, opener) {
  const at = document.activeElement;
  if (at && at !== document.body && !dlg.contains(at)) return;
  const there = opener && opener !== document.body && opener.isConnected;
  if (there) {
    opener.focus();
    if (document.activeElement === opener) return;
  }
  for (const view of [there && opener.closest('[id^="view-"]'), ...document.querySelectorAll('[id^="view-"]')]) {
    if (!view) continue;
    focusHeading(view); // a hidden view has no heading shown: no focus
    if (view.contains(document.activeElement)) return;
  }
}

// verify opens the gate's dialog and resolves true once the citizen is
// verified, false if cancelled. why is the sentence that says what for;
// opener is the control that asked (the focused one if not given), which
// gets the focus back when the dialog closes.
export async function verify(why, opener = document.activeElement) {
  let g = await kv.get(KEY);
  if (!g && !(await platform())) g = { kind: "pin-new" };
  const dlg = $("gate");
  $("gate-why").textContent = why;
  $("gate-msg").textContent = "";
  $("gate-bio-row").hidden = g && g.kind !== "webauthn";
  const pinMode = g && g.kind !== "webauthn";
  $("gate-pin-form").hidden = !pinMode;
  const fresh = g && g.kind === "pin-new";
  $("gate-pin-label").textContent = fresh ? t("gate.pin.new") : t("gate.pin");
  $("gate-pin2-label").hidden = $("gate-pin2").hidden = !fresh;
  $("gate-pin").value = $("gate-pin2").value = "";
  dlg.showModal();
  (pinMode ? $("gate-pin") : $("gate-bio")).focus();
  return new Promise((resolve) => {
    const ac = new AbortController();
    const done = (ok) => { ac.abort(); dlg.close(); resolve(ok); setTimeout(() => returnFocus(dlg, opener)); };
    const msg = (s) => { $("gate-msg").textContent = s; };
    $("gate-cancel").addEventListener("click", () => done(false), { signal: ac.signal });
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); done(false); }, { signal: ac.signal });
    $("gate-bio").addEventListener("click", async () => {
      msg("");
      try {
        if (!g) {
          try {
            g = await webauthnCreate();
          } catch (e) {
            if (e.name === "NotAllowedError") throw e; // the citizen said no
            // No usable platform credential here (an IP-address origin, a
            // policy): fall back to the app PIN.
            g = { kind: "pin-new" };
            $("gate-bio-row").hidden = true;
            $("gate-pin-form").hidden = false;
            $("gate-pin-label").textContent = t("gate.pin.new");
            $("gate-pin2-label").hidden = $("gate-pin2").hidden = false;
            $("gate-pin").focus();
            return;
          }
          await kv.set(KEY, g);
        } else {
          await webauthnGet(g);
        }
        done(true);
      } catch (e) {
        msg(t("gate.failed", { m: e.name === "NotAllowedError" ? t("gate.cancel") : e.message }));
      }
    }, { signal: ac.signal });
    $("gate-pin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const pin = $("gate-pin").value.trim();
      if (!/^[0-9]{6,12}$/.test(pin)) { msg(t("gate.pin.short")); return; }
      if (g.kind === "pin-new") {
        if (pin !== $("gate-pin2").value.trim()) { msg(t("gate.pin.mismatch")); $("gate-pin").value = $("gate-pin2").value = ""; $("gate-pin").focus(); return; }
        const salt = random(16);
        g = { kind: "pin", salt: b64u(salt), hash: b64u(await pinHash(pin, salt)), fails: 0, until: 0 };
        await kv.set(KEY, g);
        return done(true);
      }
      if (g.until > Date.now()) { msg(t("gate.pin.locked", { t: new Date(g.until).toLocaleTimeString() })); return; }
      const ok = same(await pinHash(pin, unb64u(g.salt)), unb64u(g.hash));
      g.fails = ok ? 0 : g.fails + 1;
      if (g.fails >= MAX_FAILS) { g.fails = 0; g.until = Date.now() + LOCK_MS; }
      else g.until = 0;
      await kv.set(KEY, g);
      if (ok) return done(true);
      $("gate-pin").value = "";
      msg(g.until ? t("gate.pin.locked", { t: new Date(g.until).toLocaleTimeString() }) : t("gate.pin.wrong", { n: MAX_FAILS - g.fails }));
    }, { signal: ac.signal });
  });
}

// forget drops the gate's credential or PIN (enrolling again).
export const forget = () => kv.del(KEY);
