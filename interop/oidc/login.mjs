// Full OpenID Connect logins against shenfen's provider with openid-client
// (an independent, OpenID-certified relying-party library): discovery,
// authorization code + PKCE (plain redirect and PAR), client_secret_basic
// and private_key_jwt (ES256), ID token validation (ES256, nonce, state),
// userinfo and refresh. The browser part (cookies, login page, the login's
// finish) is scripted with fetch; the wallet approval (the one consent,
// leaving out the optional claims in withhold) is the Go test wallet.
import { readFileSync } from "node:fs";
import * as client from "openid-client";

const s = JSON.parse(readFileSync(process.argv[2], "utf8"));
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };
const assert = (ok, msg) => { if (!ok) fail(msg); };

// A tiny browser: a cookie jar and manual redirects.
function browser() {
  const jar = new Map();
  return async function go(url, init = {}) {
    const u = new URL(url);
    const cookie = [...jar].filter(([k]) => k.startsWith(u.host + "|")).map(([k, v]) => k.split("|")[1] + "=" + v).join("; ");
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers || {}), ...(cookie ? { cookie } : {}) } });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(";");
      const i = kv.indexOf("=");
      jar.set(u.host + "|" + kv.slice(0, i), kv.slice(i + 1));
    }
    return res;
  };
}

const unescape = (s) => s.replace(/&amp;/g, "&").replace(/&#43;/g, "+").replace(/&#34;/g, '"').replace(/&#39;/g, "'");

async function login(authURL, withhold) {
  const go = browser();
  let res = await go(authURL.href);
  assert(res.status === 302 || res.status === 303, "authorize status " + res.status + " " + (await res.text()));
  const loginURL = new URL(res.headers.get("location"), authURL).href;
  res = await go(loginURL);
  assert(res.status === 200, "login page " + res.status);
  const page = await res.text();
  const m = page.match(/#\/approve\?client_id=([^&"]*)&amp;request_uri=([^"]+)"/);
  assert(m, "no wallet link on the login page");
  const requestURI = decodeURIComponent(unescape(m[2]));
  const w = await fetch(s.wallet, { method: "POST", body: JSON.stringify({ request_uri: requestURI, withhold }) });
  assert(w.status === 200, "wallet approval " + w.status + " " + (await w.text()));
  // No second consent: the login page's next step finishes the login.
  res = await go(loginURL.replace("/login?", "/finish?"));
  assert(res.status === 302, "finish " + res.status);
  return new URL(res.headers.get("location"));
}

async function run(name, config, usePAR, redirectURI) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState(), nonce = client.randomNonce();
  const params = {
    redirect_uri: redirectURI, scope: "openid profile id_number picture age_over_18 offline_access",
    code_challenge: challenge, code_challenge_method: "S256", state, nonce,
  };
  const authURL = usePAR ? await client.buildAuthorizationUrlWithPAR(config, params) : client.buildAuthorizationUrl(config, params);
  if (usePAR) assert(authURL.searchParams.get("request_uri")?.startsWith("urn:ietf:params:oauth:request_uri:"), "PAR request_uri");
  const cb = await login(authURL, ["picture"]);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims();
  assert(claims.acr === "urn:shenfen:loa:high", "acr " + claims.acr);
  assert(claims.sub && claims.sub !== s.id_number, "pairwise sub");
  assert(claims.id_number === s.id_number, "id_number claim");
  assert(claims.name === "张三", "name claim " + claims.name);
  assert(claims.age_over_18 === undefined, "age_over_18 released beyond entitlement");
  assert(claims.picture === undefined, "declined optional picture released");
  const ui = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert(ui.id_number === s.id_number && ui.sub === claims.sub, "userinfo");
  assert(tokens.refresh_token, "refresh token");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert(refreshed.access_token && refreshed.refresh_token !== tokens.refresh_token, "refresh rotation");
  let replay = false;
  try { await client.refreshTokenGrant(config, tokens.refresh_token); replay = true; } catch { /* expected */ }
  assert(!replay, "used refresh token accepted");
  console.log(`ok  ${name}: sub ${claims.sub.slice(0, 10)}…, claims ${Object.keys(claims).filter((k) => ["name", "id_number"].includes(k)).join(",")}, acr ${claims.acr}`);
  return claims.sub;
}

const issuer = new URL(s.issuer);
const opts = { execute: [client.allowInsecureRequests] };
const hotel = await client.discovery(issuer, s.hotel.client_id, undefined, client.ClientSecretBasic(s.hotel.client_secret), opts);
const md = hotel.serverMetadata();
assert(md.issuer === s.issuer, "discovery issuer");
assert(md.id_token_signing_alg_values_supported.includes("ES256"), "ES256 advertised");
assert(md.pushed_authorization_request_endpoint === s.issuer + "/par", "PAR endpoint advertised");
assert(md.subject_types_supported.includes("pairwise"), "pairwise advertised");
console.log("ok  discovery validated by openid-client " + JSON.stringify({ issuer: md.issuer, acr: md.acr_values_supported }));

const key = await crypto.subtle.importKey("jwk", s.bank.jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
const bank = await client.discovery(issuer, s.bank.client_id, { id_token_signed_response_alg: "ES256" }, client.PrivateKeyJwt({ key, kid: s.bank.jwk.kid }), opts);

const a = await run("hotel, client_secret_basic, redirect", hotel, false, s.redirect_uri);
const b = await run("hotel, client_secret_basic, PAR", hotel, true, s.redirect_uri);
assert(a === b, "sub not stable across logins");
const c = await run("bank, private_key_jwt ES256, PAR", bank, true, s.bank_redirect_uri);
assert(c !== a, "two sectors share a sub");
console.log("openid-client interop: all passed");
