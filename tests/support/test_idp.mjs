// A local OpenID Connect identity provider for tests (node:crypto and
// node:http only). It listens on 127.0.0.1 and prints one JSON line,
// {"port": N, "issuer": "http://127.0.0.1:N"}, once it accepts connections.
//
//   node tests/support/test_idp.mjs [--port N] [--audience aegis]
//        [--client-id aegis-console] [--client-secret S]
//        [--user '{"sub":"...","email":"...","name":"...","groups":[...]}']
//
// Standard endpoints:
//   GET  /.well-known/openid-configuration   discovery (issuer, jwks_uri, endpoints)
//   GET  /jwks                                the published public keys (counted)
//   GET  /authorize                           authorization-code flow with PKCE S256:
//        auto-approves the configured user and redirects to redirect_uri with
//        code and state (client_id must match; code_challenge_method must be S256)
//   POST /token                               grant_type=authorization_code: one-time
//        code (60 s), same client_id and redirect_uri, code_verifier checked
//        against the challenge (S256), client_secret when one is configured;
//        returns access_token (aud: the audience) and id_token (aud: client id
//        and audience, nonce), both RS256 with the user's groups
// Test-only control endpoints (never part of a real provider):
//   POST /test/rotate  {"alg": "RS256", "keep_old": false}  new key (new kid) for alg
//   POST /test/sign    {"claims": {...}, "header": {...}, "alg": "RS256", "kid": "...",
//                       "unpublished": false}
//        claims are merged over iss/aud/sub/iat/exp defaults (null removes one);
//        alg none: empty signature; alg HS256: HMAC keyed with the current RS256
//        public key's PEM (the classic key-confusion attack); unpublished: a
//        throwaway key whose kid the JWKS never holds
//   POST /test/user    the user /authorize approves (same shape as --user)
//   GET  /test/stats   {"jwks_fetches": n, "discovery_fetches": n, "token_exchanges": n}
import crypto from "node:crypto";
import http from "node:http";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const settings = {
  port: Number(arg("port", "0")),
  audience: arg("audience", "aegis"),
  clientId: arg("client-id", "aegis-console"),
  clientSecret: arg("client-secret", ""),
};
let user = JSON.parse(arg("user", '{"sub":"test-user","email":"test@example.com","name":"Test User","groups":[]}'));
let issuer = "";
const stats = { jwks_fetches: 0, discovery_fetches: 0, token_exchanges: 0 };

const b64url = (buf) => Buffer.from(buf).toString("base64url");

// kid -> {alg, privateKey, publicKey, published}
const keys = new Map();
const generation = { RS256: 0, PS256: 0, ES256: 0, EdDSA: 0 };
const current = {};  // alg -> kid

function generate(alg) {
  switch (alg) {
    case "RS256":
    case "PS256": return crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    case "ES256": return crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    case "EdDSA": return crypto.generateKeyPairSync("ed25519");
    default: throw new Error(`unsupported alg ${alg}`);
  }
}

function addKey(alg, published) {
  const pair = generate(alg);
  const kid = published ? `${alg.toLowerCase()}-${++generation[alg]}` : `unpublished-${crypto.randomUUID()}`;
  keys.set(kid, { alg, ...pair, published });
  return kid;
}

function rotate(alg, keepOld) {
  if (!(alg in generation)) throw new Error(`unsupported alg ${alg}`);
  if (!keepOld && current[alg]) keys.get(current[alg]).published = false;
  current[alg] = addKey(alg, true);
  return current[alg];
}

for (const alg of Object.keys(generation)) rotate(alg, false);

function jwk(kid) {
  const k = keys.get(kid);
  return { ...k.publicKey.export({ format: "jwk" }), kid, alg: k.alg, use: "sig" };
}

function signWith(header, claims, kid) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const alg = header.alg;
  if (alg === "none") return `${input}.`;
  if (alg === "HS256") {
    const pem = keys.get(current.RS256).publicKey.export({ type: "spki", format: "pem" });
    return `${input}.${b64url(crypto.createHmac("sha256", pem).update(input).digest())}`;
  }
  const k = keys.get(kid);
  let signature;
  switch (k.alg) {
    case "RS256": signature = crypto.sign("sha256", Buffer.from(input), k.privateKey); break;
    case "PS256":
      signature = crypto.sign("sha256", Buffer.from(input), {
        key: k.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
      });
      break;
    case "ES256": signature = crypto.sign("sha256", Buffer.from(input), { key: k.privateKey, dsaEncoding: "ieee-p1363" }); break;
    case "EdDSA": signature = crypto.sign(null, Buffer.from(input), k.privateKey); break;
  }
  return `${input}.${b64url(signature)}`;
}

function defaultClaims() {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer, aud: settings.audience, sub: user.sub, iat: now, exp: now + 300 };
}

function merge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over || {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function sign(request) {
  const alg = request.alg || "RS256";
  const keyAlg = alg === "none" || alg === "HS256" ? "RS256" : alg;
  let kid = request.kid || current[keyAlg];
  if (request.unpublished) kid = addKey(keyAlg, false);
  if (!keys.has(kid)) throw new Error("unknown kid");
  const header = merge({ alg, kid, typ: "JWT" }, request.header);
  return { token: signWith(header, merge(defaultClaims(), request.claims), kid), kid };
}

// code -> {clientId, redirectUri, challenge, nonce, expires, user}
const codes = new Map();

function send(res, status, body, headers = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain" : "application/json",
    "cache-control": "no-store", ...headers,
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
    req.on("error", reject);
  });
}

function authorize(url, res) {
  const q = url.searchParams;
  const redirect = q.get("redirect_uri");
  let target;
  try {
    target = new URL(redirect);
  } catch {
    return send(res, 400, { error: "invalid_request", error_description: "redirect_uri" });
  }
  if (q.get("client_id") !== settings.clientId) {
    return send(res, 400, { error: "unauthorized_client", error_description: "client_id" });
  }
  // Errors after the redirect URI is known go back to it, as RFC 6749 §4.1.2.1 says.
  const fail = (error) => {
    target.searchParams.set("error", error);
    if (q.has("state")) target.searchParams.set("state", q.get("state"));
    res.writeHead(302, { location: target.toString() });
    res.end();
  };
  if (q.get("response_type") !== "code") return fail("unsupported_response_type");
  if (q.get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge") || "")) {
    return fail("invalid_request");
  }
  const code = b64url(crypto.randomBytes(32));
  codes.set(code, {
    clientId: settings.clientId, redirectUri: redirect, challenge: q.get("code_challenge"),
    nonce: q.get("nonce"), expires: Date.now() + 60_000, user: { ...user },
  });
  target.searchParams.set("code", code);
  if (q.has("state")) target.searchParams.set("state", q.get("state"));
  res.writeHead(302, { location: target.toString() });
  res.end();
}

async function token(req, res) {
  const form = new URLSearchParams(await readBody(req));
  let clientId = form.get("client_id");
  let clientSecret = form.get("client_secret") || "";
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization || "");
  if (basic) {
    const [id, secret] = Buffer.from(basic[1], "base64").toString().split(":");
    clientId = decodeURIComponent(id);
    clientSecret = decodeURIComponent(secret || "");
  }
  const bad = (error) => send(res, 400, { error });
  if (form.get("grant_type") !== "authorization_code") return bad("unsupported_grant_type");
  if (clientId !== settings.clientId) return send(res, 401, { error: "invalid_client" });
  if (settings.clientSecret && clientSecret !== settings.clientSecret) return send(res, 401, { error: "invalid_client" });
  const code = form.get("code") || "";
  const grant = codes.get(code);
  codes.delete(code);  // one use, whatever happens next
  if (!grant || grant.expires < Date.now() || grant.clientId !== clientId) return bad("invalid_grant");
  if (form.get("redirect_uri") !== grant.redirectUri) return bad("invalid_grant");
  const verifier = form.get("code_verifier") || "";
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
      b64url(crypto.createHash("sha256").update(verifier).digest()) !== grant.challenge) {
    return bad("invalid_grant");
  }
  stats.token_exchanges++;
  const now = Math.floor(Date.now() / 1000);
  const u = grant.user;
  const common = { iss: issuer, sub: u.sub, iat: now, exp: now + 300, groups: u.groups || [] };
  if (u.email) common.email = u.email;
  if (u.name) common.name = u.name;
  const kid = current.RS256;
  const access = signWith({ alg: "RS256", kid, typ: "at+jwt" }, { ...common, aud: settings.audience, client_id: clientId }, kid);
  const idClaims = { ...common, aud: [clientId, settings.audience], azp: clientId };
  if (grant.nonce) idClaims.nonce = grant.nonce;
  const id = signWith({ alg: "RS256", kid, typ: "JWT" }, idClaims, kid);
  send(res, 200, { access_token: access, id_token: id, token_type: "Bearer", expires_in: 300 });
}

async function handle(req, res) {
  const url = new URL(req.url, issuer);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case "GET /.well-known/openid-configuration":
      stats.discovery_fetches++;
      return send(res, 200, {
        issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`, response_types_supported: ["code"],
        subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"], grant_types_supported: ["authorization_code"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
      });
    case "GET /jwks":
      stats.jwks_fetches++;
      return send(res, 200, { keys: [...keys.entries()].filter(([, k]) => k.published).map(([kid]) => jwk(kid)) });
    case "GET /authorize": return authorize(url, res);
    case "POST /token": return token(req, res);
    case "POST /test/rotate": {
      const body = JSON.parse((await readBody(req)) || "{}");
      return send(res, 200, { kid: rotate(body.alg || "RS256", Boolean(body.keep_old)) });
    }
    case "POST /test/sign": return send(res, 200, sign(JSON.parse((await readBody(req)) || "{}")));
    case "POST /test/user":
      user = JSON.parse(await readBody(req));
      return send(res, 200, user);
    case "GET /test/stats": return send(res, 200, stats);
    default: return send(res, 404, { error: "not_found" });
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => send(res, 400, { error: "invalid_request", error_description: String(e.message) }));
});
server.listen(settings.port, "127.0.0.1", () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
