#!/usr/bin/env python3
"""Writes corpus.jsonl, the labelled classification corpus.

Cases are written with inline labels, [[TYPE|value]], which this script strips
while recording the UTF-8 byte offsets of each value. Every line of the output
is {"text", "entities":[{"type","start","end","level"}], "level", "tags"}; "level" is
the expected classification of the whole text (computed from the entities and
the marking rules unless a case states it). Only well-known TEST numbers are
used (card networks' published test PANs, SIN 046 454 286 and other
Luhn-valid made-up numbers, IBAN examples from the registry); secrets are
random strings made here, not real credentials.

Run from anywhere: python3 tests/classify/corpus/generate.py
"""
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
INTERNAL_DOMAINS = ["example-corp.com", "corp.example.org"]  # the corpus test configures these

LEVEL = {
    "CREDIT_CARD": "RESTRICTED", "CA_SIN": "RESTRICTED", "BANK_ACCOUNT": "RESTRICTED", "IBAN_CODE": "RESTRICTED",
    "API_KEY": "CONFIDENTIAL", "BEARER_TOKEN": "CONFIDENTIAL", "JWT": "CONFIDENTIAL", "PRIVATE_KEY": "CONFIDENTIAL",
    "EMAIL_ADDRESS": "INTERNAL", "PHONE_NUMBER": "INTERNAL", "US_SSN": "INTERNAL", "IP_ADDRESS": "INTERNAL",
    "CA_POSTAL_CODE": "INTERNAL",
}
ORDER = ["PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"]

rng = random.Random(20240515)
BANNED = ["your", "example", "placeholder", "changeme", "redacted", "dummy", "xxxx", "replace", "insert", "here",
          "notreal", "fake", "sample", "abcdef", "123456789", "0000000000"]


def rand(n, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"):
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        low = s.lower()
        if any(b in low for b in BANNED):
            continue
        if not (re.search(r"[A-Z]", s) or re.search(r"[a-z]", s)) or not re.search(r"\d", s):
            continue
        return s


def luhn_ok(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix):
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError


def luhn_break(number):
    last = number[-1]
    for d in "0123456789":
        if d != last and not luhn_ok(number[:-1] + d):
            return number[:-1] + d
    raise AssertionError


CASES = []
LABEL = re.compile(r"\[\[([A-Z_]+)\|(.*?)\]\]", re.S)


def case(marked, level=None, tags=(), public=False):
    text = ""
    entities = []
    pos = 0
    for m in LABEL.finditer(marked):
        text += marked[pos:m.start()]
        start = len(text.encode("utf-8"))
        text += m.group(2)
        end = len(text.encode("utf-8"))
        entities.append({"type": m.group(1), "start": start, "end": end, "_value": m.group(2)})
        pos = m.end()
    text += marked[pos:]
    lv = "PUBLIC" if public else "INTERNAL"
    for e in entities:
        t = e["type"]
        el = LEVEL.get(t, "INTERNAL")
        if t == "EMAIL_ADDRESS":
            domain = e["_value"].split("@")[-1].lower()
            if any(domain == d or domain.endswith("." + d) for d in INTERNAL_DOMAINS):
                el = "CONFIDENTIAL"
        e["level"] = el
        # A text marked public stays PUBLIC with values that are masked anyway
        # (external e-mail, phone, IP); any other finding raises it.
        if public and el == "INTERNAL" and t in ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS"):
            continue
        if ORDER.index(el) > ORDER.index(lv):
            lv = el
    if level is None:
        level = lv
    for e in entities:
        del e["_value"]
    CASES.append({"text": text, "entities": entities, "level": level, "tags": list(tags)})


def grp(number, sizes, sep):
    out, i = [], 0
    for s in sizes:
        out.append(number[i:i + s])
        i += s
    return sep.join(out)


# ---------------------------------------------------------------- cards
CARDS = [
    ("4111111111111111", (4, 4, 4, 4)), ("4012888888881881", (4, 4, 4, 4)), ("4222222222222", (4, 4, 5)),
    ("5555555555554444", (4, 4, 4, 4)), ("5105105105105100", (4, 4, 4, 4)), ("2223003122003222", (4, 4, 4, 4)),
    ("2221000000000009", (4, 4, 4, 4)), ("2720999999999996", (4, 4, 4, 4)), ("378282246310005", (4, 6, 5)),
    ("371449635398431", (4, 6, 5)), ("378734493671000", (4, 6, 5)), ("6011111111111117", (4, 4, 4, 4)),
    ("6011000990139424", (4, 4, 4, 4)), ("6445644564456445", (4, 4, 4, 4)), ("3530111333300000", (4, 4, 4, 4)),
    ("3566002020360505", (4, 4, 4, 4)), ("30569309025904", (4, 6, 4)), ("38520000023237", (4, 6, 4)),
    ("36227206271667", (4, 6, 4)), ("6200000000000005", (4, 4, 4, 4)), ("6205500000000000004", (4, 4, 4, 4, 3)),
    ("4000056655665556", (4, 4, 4, 4)), ("5200828282828210", (4, 4, 4, 4)),
]
for n, _ in CARDS:
    assert luhn_ok(n), n

card_templates = [
    "Please charge my card [[CREDIT_CARD|{v}]] for the renewal.",
    "Card number: [[CREDIT_CARD|{v}]], exp 12/27, CVV 123",
    '{{"customer_id": 48213, "payment": {{"pan": "[[CREDIT_CARD|{v}]]", "exp": "12/27"}}}}',
    "2024-05-14 10:22:01 ERROR payment failed pan=[[CREDIT_CARD|{v}]] amount=42.50 currency=CAD",
    "charge(card='[[CREDIT_CARD|{v}]]', amount=1999)",
    "Order number [[CREDIT_CARD|{v}]] has shipped.",
    "Hi team,\n\nthe client read me the number [[CREDIT_CARD|{v}]] over the phone.\n\nThanks,\nSam",
    "| name | card |\n|------|------|\n| J. Doe | [[CREDIT_CARD|{v}]] |",
]
for i, (n, sizes) in enumerate(CARDS):
    forms = [n, grp(n, sizes, " "), grp(n, sizes, "-")]
    for k, form in enumerate(forms):
        if k > 0 and i % 2 == 1 and k == 2:
            continue
        tpl = card_templates[(i + k) % len(card_templates)]
        case(tpl.format(v=form), tags=["card"])

# fail closed: Luhn-valid with a card prefix is a card whatever it is called
case("Your order #[[CREDIT_CARD|4111111111111111]] is confirmed.", tags=["card", "fail_closed"])
case("tracking id: [[CREDIT_CARD|5555555555554444]]", tags=["card", "fail_closed"])
case("Invoice [[CREDIT_CARD|6011000990139424]] was paid in full.", tags=["card", "fail_closed"])

# card hard negatives
for n, _ in CARDS[:10]:
    bad = luhn_break(n)
    case(f"Reference {bad} was not found in the ledger.", tags=["card", "negative", "luhn_fail"])
case("Order 1234567812345678 is in transit.", tags=["card", "negative"])
case("Serial numbers 9876543210123456 and 1111222233334444 are on the box.", tags=["card", "negative"])
# Mixed separators within one number are still one number (issue 12: any grouping a person writes).
case("The card [[CREDIT_CARD|4111 1111-1111 1111]] was typed with mixed separators.", tags=["card", "separators"])
case("Number [[CREDIT_CARD|5555-5555 5555-4444]] is not one consistent format.", tags=["card", "separators"])
case("Transaction 20240514093055123 completed.", tags=["card", "negative", "timestamp"])
case("Build 7395829104857362 passed on main.", tags=["card", "negative"])
case("epoch_ms=1715678400000 epoch_us=1715678400000000", tags=["card", "negative", "timestamp"])
case("IMEI 490154203237518 belongs to the test handset.", tags=["card", "negative"])
case("hash a3f5b41111111111111111c9 in the lockfile", tags=["card", "negative", "glued"])

# ---------------------------------------------------------------- SIN
def sin_like(first):
    while True:
        body = first + "".join(rng.choice("0123456789") for _ in range(7))
        full = luhn_complete(body)
        if len(full) == 9:
            return full


SINS_ASSIGNED = ["123456782", "130692544", "193456787"] + [sin_like(d) for d in "1234567" "9"]
SINS_UNASSIGNED = ["046454286", sin_like("0"), sin_like("8"), sin_like("8")]
for s in SINS_ASSIGNED + SINS_UNASSIGNED:
    assert luhn_ok(s)

sin_ctx = [
    "My SIN is [[CA_SIN|{v}]].",
    "Social insurance number: [[CA_SIN|{v}]]",
    "NAS : [[CA_SIN|{v}]]",
    "Numéro d'assurance sociale [[CA_SIN|{v}]] (confidentiel)",
    '{{"employee": "E-1042", "sin": "[[CA_SIN|{v}]]", "province": "ON"}}',
    "payroll.update(sin='[[CA_SIN|{v}]]')",
    "2024-05-14 WARN hr-sync field=SIN value=[[CA_SIN|{v}]] masked=false",
    "Employee record\nName: (on file)\nSIN:\n[[CA_SIN|{v}]]\nStart date: 2024-06-01",
]
for i, s in enumerate(SINS_ASSIGNED + SINS_UNASSIGNED):
    for k, form in enumerate([grp(s, (3, 3, 3), " "), grp(s, (3, 3, 3), "-"), s]):
        if (i + k) % 3 == 2 and k != 2:
            continue
        case(sin_ctx[(i + k) % len(sin_ctx)].format(v=form), tags=["sin"])

# grouped, assigned prefix: no context needed
for i, s in enumerate(SINS_ASSIGNED):
    form = grp(s, (3, 3, 3), " " if i % 2 else "-")
    case(f"Please update the file for [[CA_SIN|{form}]] before Friday.", tags=["sin", "no_context"])

# SIN hard negatives
for s in SINS_UNASSIGNED:
    case(f"Ticket {grp(s, (3, 3, 3), ' ')} was closed as a duplicate.", tags=["sin", "negative", "unassigned_no_context"])
for s in SINS_ASSIGNED[:6]:
    case(f"Order {s} will arrive on Monday.", tags=["sin", "negative", "plain_no_context"])
for s in ["123456789", "987654321", "123456783"]:
    case(f"My SIN is {grp(s, (3, 3, 3), ' ')} I think.", tags=["sin", "negative", "luhn_fail"])
case("Call me at 416-555-0199 tomorrow.".replace("416-555-0199", "[[PHONE_NUMBER|416-555-0199]]"), tags=["sin", "negative", "phone"])
case("The total came to $123 456 782 after tax.", tags=["sin", "negative", "amount"])
case("Population estimate: 130 692 544 CAD budget line", tags=["sin", "negative", "amount"])
case("tel 123 456 782 ext 4", tags=["sin", "negative", "phone_context"])
case("Amounts 1 234 567 890 and 12 345 678 are grouped numbers.", tags=["sin", "negative", "amount"])
case("Serial 123-456-782-001 printed on the label.", tags=["sin", "negative", "longer"])
case("Cosine and sin(x) = 0.841470984 for x = 1", tags=["sin", "negative"])

# ---------------------------------------------------------------- bank accounts
case("Direct deposit to [[BANK_ACCOUNT|12345-003-1234567]] please.", tags=["bank", "transit"])
case("Transit/institution/account: [[BANK_ACCOUNT|00012-003 1234567]]", tags=["bank", "transit"])
case("RBC [[BANK_ACCOUNT|04521-003-5551234]] and TD [[BANK_ACCOUNT|19842 004 9876543]]", tags=["bank", "transit"])
case('{"bank": {"route": "[[BANK_ACCOUNT|00123-010-12345678]]"}}', tags=["bank", "transit"])
case("cheque: [[BANK_ACCOUNT|003-12345-1234567]]", tags=["bank", "transit"])
acct = [
    "Please wire it to account [[BANK_ACCOUNT|{v}]] today.",
    "acct #: [[BANK_ACCOUNT|{v}]]",
    "Chequing [[BANK_ACCOUNT|{v}]] at the Main St branch",
    "checking account number [[BANK_ACCOUNT|{v}]]",
    "My savings account is [[BANK_ACCOUNT|{v}]].",
    "a/c no. [[BANK_ACCOUNT|{v}]]",
    "numéro de compte : [[BANK_ACCOUNT|{v}]]",
    '{{"account_number": "[[BANK_ACCOUNT|{v}]]", "currency": "CAD"}}',
]
accounts = ["1234567", "00123456789", "9876543210", "5550001234", "12345678901234", "7654321", "0012345678", "31415926"]
for i, tpl in enumerate(acct):
    case(tpl.format(v=accounts[i]), tags=["bank", "context"])
case("Account 2024 was created on 2024-05-14.", tags=["bank", "negative"])
case("Your account was locked after 3 attempts at 10:42.", tags=["bank", "negative"])
case("The accounting team closed 12 tickets.", tags=["bank", "negative"])
case("savings of 15 percent on 1200 units", tags=["bank", "negative"])

IBANS = ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300",
         "CH9300762011623852957", "ES9121000418450200051332", "IT60X0542811101000000123456", "BE68539007547034"]
iban_tpl = [
    "IBAN: [[IBAN_CODE|{v}]]",
    "Please send the refund to [[IBAN_CODE|{v}]] by Friday.",
    '{{"beneficiary": {{"iban": "[[IBAN_CODE|{v}]]"}}}}',
    "SEPA transfer to [[IBAN_CODE|{v}]] (ref INV-2024-0042)",
]
for i, ib in enumerate(IBANS):
    spaced = " ".join(ib[j:j + 4] for j in range(0, len(ib), 4))
    case(iban_tpl[i % 4].format(v=ib), tags=["iban"])
    case(iban_tpl[(i + 1) % 4].format(v=spaced), tags=["iban", "spaced"])
case("IBAN GB82WEST12345698765431 has a wrong check digit.", tags=["iban", "negative"])
case("IBAN DE89370400440532013001 fails mod 97.", tags=["iban", "negative"])
case("Part number GB82 WEST is not an IBAN.", tags=["iban", "negative"])
case("Codes like AB12CD34EF56 appear in SKUs.", tags=["iban", "negative"])

# ---------------------------------------------------------------- secrets
ant = "sk-ant-api03-" + rand(86, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-").replace("-", "x") + "-" + rand(6) + "AA"
oai = "sk-proj-" + rand(64)
oai_legacy = "sk-" + rand(48)
aws_id = "AKIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
aws_sts = "ASIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
aws_secret = rand(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
ghp = "ghp_" + rand(36)
gho = "gho_" + rand(36)
ghpat = "github_pat_" + rand(22) + "_" + rand(59)
slack = "xoxb-" + str(rng.randint(10**10, 10**11)) + "-" + str(rng.randint(10**12, 10**13)) + "-" + rand(24)
slack_user = "xoxp-" + str(rng.randint(10**10, 10**11)) + "-" + str(rng.randint(10**10, 10**11)) + "-" + rand(32)
stripe = "sk_live_" + rand(24)
stripe_rk = "rk_live_" + rand(24)
google = "AIza" + rand(35, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
import base64


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


jwt = (b64u(b'{"alg":"HS256","typ":"JWT"}') + "." +
       b64u(b'{"sub":"u-48213","name":"J","iat":1715678400,"exp":1715682000}') + "." + rand(43))
jwt2 = (b64u(b'{"alg":"RS256","kid":"k1"}') + "." + b64u(b'{"iss":"https://id.example.net","aud":"api"}') + "." + rand(86))
pem_body = "\n".join(rand(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(6))
pem = "-----BEGIN RSA PRIVATE KEY-----\n" + pem_body + "\n-----END RSA PRIVATE KEY-----"
pem8 = "-----BEGIN PRIVATE KEY-----\n" + pem_body[:200] + "\n-----END PRIVATE KEY-----"
pem_ec = "-----BEGIN EC PRIVATE KEY-----\n" + pem_body[:130] + "\n-----END EC PRIVATE KEY-----"
pem_ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + pem_body[:260] + "\n-----END OPENSSH PRIVATE KEY-----"
bearer = rand(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
generic = rand(32)
hexkey = "".join(rng.choice("0123456789abcdef") for _ in range(32))

case(f"export ANTHROPIC_API_KEY=[[API_KEY|{ant}]]", tags=["secret", "anthropic"])
case(f"client = Anthropic(api_key=\"[[API_KEY|{ant}]]\")", tags=["secret", "anthropic"])
case(f"Use this key: [[API_KEY|{oai}]] for the staging project.", tags=["secret", "openai"])
case(f'{{"openai": {{"key": "[[API_KEY|{oai_legacy}]]"}}}}', tags=["secret", "openai"])
case(f"OPENAI_API_KEY=[[API_KEY|{oai_legacy}]]", tags=["secret", "openai"])
case(f"aws_access_key_id = [[API_KEY|{aws_id}]]\naws_secret_access_key = [[API_KEY|{aws_secret}]]", tags=["secret", "aws"])
case(f"STS creds: [[API_KEY|{aws_sts}]]", tags=["secret", "aws"])
case(f'"AccessKeyId": "[[API_KEY|{aws_id}]]", "SecretAccessKey": "[[API_KEY|{aws_secret}]]"', tags=["secret", "aws"])
case(f"git clone https://[[API_KEY|{ghp}]]@github.com/org/repo.git", tags=["secret", "github"])
case(f"GITHUB_TOKEN=[[API_KEY|{gho}]]", tags=["secret", "github"])
case(f"token: [[API_KEY|{ghpat}]]", tags=["secret", "github"])
case(f"slack bot token [[API_KEY|{slack}]] posted to #ops", tags=["secret", "slack"])
case(f"SLACK_USER_TOKEN='[[API_KEY|{slack_user}]]'", tags=["secret", "slack"])
case(f"stripe.api_key = \"[[API_KEY|{stripe}]]\"", tags=["secret", "stripe"])
case(f"restricted key [[API_KEY|{stripe_rk}]] for the reporting job", tags=["secret", "stripe"])
case(f"maps key=[[API_KEY|{google}]]&callback=init", tags=["secret", "google"])
case(f"const GOOGLE_KEY = '[[API_KEY|{google}]]';", tags=["secret", "google"])
case(f"Authorization: Bearer [[JWT|{jwt}]]", tags=["secret", "jwt", "bearer"])
case(f"curl -H 'Authorization: Bearer [[BEARER_TOKEN|{bearer}]]' https://api.example.net/v1/me", tags=["secret", "bearer"])
case(f"id_token=[[JWT|{jwt2}]]", tags=["secret", "jwt"])
case(f'{{"access_token": "[[JWT|{jwt}]]", "token_type": "Bearer", "expires_in": 3600}}', tags=["secret", "jwt"])
case(f"Here is my key, please debug:\n[[PRIVATE_KEY|{pem}]]\nthanks", tags=["secret", "pem"])
case(f"[[PRIVATE_KEY|{pem8}]]", tags=["secret", "pem"])
case(f"key.pem:\n[[PRIVATE_KEY|{pem_ec}]]", tags=["secret", "pem"])
case(f"~/.ssh/id_ed25519\n[[PRIVATE_KEY|{pem_ssh}]]\n", tags=["secret", "pem"])
case(f"api_key=[[API_KEY|{generic}]]", tags=["secret", "generic"])
case(f'config = {{"client_secret": "[[API_KEY|{generic}]]"}}', tags=["secret", "generic"])
case(f"DB_PASSWORD=[[API_KEY|Tr0ub4dor#3x]]", tags=["secret", "password"])
case(f"password: [[API_KEY|hunter22]]", tags=["secret", "password"])
case(f"secret: [[API_KEY|{hexkey}]]", tags=["secret", "generic", "hex"])
case(f"DATABASE_URL=postgres://app:[[API_KEY|s3cr3tPa55w0rd]]@db.internal:5432/app", tags=["secret", "url"])
case(f"auth_token = \"[[API_KEY|{rand(40)}]]\"", tags=["secret", "generic"])
case(f"x-api-key: [[API_KEY|{rand(36)}]]".replace("x-api-key:", "api-key:"), tags=["secret", "generic"])

# secret hard negatives
case("export OPENAI_API_KEY=sk-...", tags=["secret", "negative", "placeholder"])
case("Set api_key to sk-xxxxxxxxxxxxxxxxxxxxxxxx in your environment.", tags=["secret", "negative", "placeholder"])
case("api_key=<your-key>", tags=["secret", "negative", "placeholder"])
case("ANTHROPIC_API_KEY=${API_KEY}", tags=["secret", "negative", "placeholder"])
case('{"api_key": "YOUR_API_KEY"}', tags=["secret", "negative", "placeholder"])
case("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     tags=["secret", "negative", "aws_example"])
case(f"Publishable key pk_live_{rand(24)} goes in the browser.", tags=["secret", "negative", "publishable"])
case(f"pk_test_{rand(24)} is fine to commit.", tags=["secret", "negative", "publishable"])
case("request_id: 550e8400-e29b-41d4-a716-446655440000", tags=["secret", "negative", "uuid"])
case("Trace 123e4567-e89b-12d3-a456-426614174000 failed after 3 retries.", tags=["secret", "negative", "uuid"])
case("commit e83c5163316f89bfbde7d9ab23ca2e25604af290 fixed it", tags=["secret", "negative", "sha"])
case("md5 d41d8cd98f00b204e9800998ecf8427e  empty.txt", tags=["secret", "negative", "md5"])
case("sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", tags=["secret", "negative", "sha256"])
case("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", tags=["secret", "negative", "sha1"])
case("The bearer of this letter is my colleague.", tags=["secret", "negative"])
case("Use a Bearer token in the Authorization header.", tags=["secret", "negative"])
case("password: required, min 12 chars", tags=["secret", "negative"])
case('password = getpass.getpass("Password: ")', tags=["secret", "negative"])
case("token = os.environ.get('API_TOKEN')", tags=["secret", "negative"])
case("max_tokens: 1024, temperature: 0.2", tags=["secret", "negative"])
case("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----", tags=["secret", "negative", "pem_placeholder"])
case("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQx7\n-----END CERTIFICATE-----", tags=["secret", "negative", "certificate"])
case("pip install scikit-learn; import sklearn; sk-learn is a nickname", tags=["secret", "negative"])
case("risk-free and task-based planning", tags=["secret", "negative"])
case("Authorization: Bearer <token>", tags=["secret", "negative", "placeholder"])
case("eyJ... is how every JWT starts", tags=["secret", "negative", "placeholder"])

# ---------------------------------------------------------------- e-mail
case("Contact [[EMAIL_ADDRESS|jane.smith@example.com]] for details.", tags=["email"])
case("Send it to [[EMAIL_ADDRESS|ops-team+alerts@mail.example.net]].", tags=["email"])
case("From: [[EMAIL_ADDRESS|j.doe@example-corp.com]]\nTo: [[EMAIL_ADDRESS|partner@vendor.io]]", tags=["email", "internal"])
case("cc [[EMAIL_ADDRESS|alice@eng.example-corp.com]]", tags=["email", "internal", "subdomain"])
case("reply to [[EMAIL_ADDRESS|bob@corp.example.org]]", tags=["email", "internal"])
case("phish from [[EMAIL_ADDRESS|admin@example-corp.com.evil.example.net]]", tags=["email", "not_internal"])
case("mail [[EMAIL_ADDRESS|x@notexample-corp.com]] is external", tags=["email", "not_internal"])
case('{"user": {"email": "[[EMAIL_ADDRESS|maria.garcia@example.org]]"}}', tags=["email", "json"])
case("2024-05-14 INFO login ok user=[[EMAIL_ADDRESS|li.wei@example.com]] ip=[[IP_ADDRESS|203.0.113.7]]", tags=["email", "log"])
case("Email: [[EMAIL_ADDRESS|JOHN.DOE@EXAMPLE-CORP.COM]]", tags=["email", "internal", "case"])
case("Use @decorators and user@localhost in code.", tags=["email", "negative"])
case("npm i @types/node and @anthropic-ai/sdk", tags=["email", "negative"])

# ---------------------------------------------------------------- phones
phones = [
    ("[[PHONE_NUMBER|416-555-0199]]", "nanp"), ("[[PHONE_NUMBER|(416) 555-0199]]", "paren"),
    ("[[PHONE_NUMBER|+1 416-555-0199]]", "plus1"), ("[[PHONE_NUMBER|+1 (613) 555-0142]]", "plus1paren"),
    ("[[PHONE_NUMBER|604.555.0173]]", "dots"), ("[[PHONE_NUMBER|1 800 555 0100]]", "tollfree"),
    ("[[PHONE_NUMBER|+442071838750]]", "e164"), ("[[PHONE_NUMBER|+44 20 7183 8750]]", "e164"),
    ("[[PHONE_NUMBER|+33 1 42 68 53 00]]", "e164"), ("[[PHONE_NUMBER|+81 3-1234-5678]]", "e164"),
    ("[[PHONE_NUMBER|+14165550199]]", "e164"), ("[[PHONE_NUMBER|+49 30 901820]]", "e164"),
]
phone_tpl = ["Call me at {v} after 5pm.", "Phone: {v}", '{{"phone": "{v}"}}', "2024-05-14 INFO sms sent to={v} ok",
             "Reach the front desk on {v} or by e-mail."]
for i, (p, tag) in enumerate(phones):
    case(phone_tpl[i % len(phone_tpl)].format(v=p), tags=["phone", tag])
case("mobile: [[PHONE_NUMBER|4165550199]]", tags=["phone", "plain_context"])
case("Order 4165550199 shipped.", tags=["phone", "negative", "plain_no_context"])
case("Version 3.14.159 released 2024-05-14.", tags=["phone", "negative", "version"])

# ---------------------------------------------------------------- IP
case("Server at [[IP_ADDRESS|192.168.1.10]] is down.", tags=["ip", "v4"])
case("upstream=[[IP_ADDRESS|10.0.3.17]]:8443", tags=["ip", "v4"])
case("allow from [[IP_ADDRESS|203.0.113.0]]/24", tags=["ip", "v4"])
case("client [[IP_ADDRESS|2001:db8:85a3::8a2e:370:7334]] connected", tags=["ip", "v6"])
case("link-local [[IP_ADDRESS|fe80::1ff:fe23:4567:890a]]%eth0", tags=["ip", "v6"])
case("full form [[IP_ADDRESS|2001:0db8:0000:0000:0000:ff00:0042:8329]]", tags=["ip", "v6"])
case("listen [[[IP_ADDRESS|2001:db8::1]]]:443", tags=["ip", "v6"])
case('{"remote_addr": "[[IP_ADDRESS|198.51.100.23]]", "status": 403}', tags=["ip", "json"])
case("Version 1.2.3 and v2.10.4 and release 10.0.19041.1", tags=["ip", "negative", "version"])
case("OID 1.3.6.1.4.1.311 and 999.1.1.1", tags=["ip", "negative"])
case("Meeting at 12:30:45 and MAC 00:1A:2B:3C:4D:5E", tags=["ip", "negative"])
case("std::vector<int> v; std::string s; a::b::c", tags=["ip", "negative", "code"])

# ---------------------------------------------------------------- postal, SSN
case("Ship to 24 Sussex Dr, Ottawa ON [[CA_POSTAL_CODE|K1M 1M4]]", tags=["postal"])
case("Postal code: [[CA_POSTAL_CODE|H2X 1Y4]]", tags=["postal"])
case("Toronto, [[CA_POSTAL_CODE|M5V3L9]], Canada", tags=["postal"])
case("Vancouver BC [[CA_POSTAL_CODE|V6B-4Y8]]", tags=["postal"])
case("Model ZX1 2AB is not a postal code (Z, D, F never lead).", tags=["postal", "negative"])
case("SSN [[US_SSN|123-45-6789]] on the W-2", tags=["ssn"])
case("social security number [[US_SSN|078051120]]", tags=["ssn", "context"])
case("SSN 000-12-3456 and 666-12-3456 are invalid.", tags=["ssn", "negative"])

# ---------------------------------------------------------------- mixed, multi-line, code, logs
case("Hi,\n\nI'm updating my direct deposit. My SIN is [[CA_SIN|046 454 286]] and the new account is "
     "[[BANK_ACCOUNT|00012-003 1234567]]. You can reach me at [[PHONE_NUMBER|(416) 555-0199]] or "
     "[[EMAIL_ADDRESS|pat@example.com]].\n\nThanks,\nPat", tags=["mixed", "multiline"])
case(f"import anthropic\nclient = anthropic.Anthropic(api_key=\"[[API_KEY|{ant}]]\")\n"
     "resp = client.messages.create(model='claude-3-5-sonnet', max_tokens=1024)\n", tags=["mixed", "code"])
case("2024-05-14T10:22:01.123Z ERROR checkout failed user=[[EMAIL_ADDRESS|kim@example.com]] "
     "card=[[CREDIT_CARD|5555555555554444]] ip=[[IP_ADDRESS|198.51.100.4]] trace=4bf92f3577b34da6a3ce929d0e0e4736",
     tags=["mixed", "log"])
case('[{"name": "A", "card": "[[CREDIT_CARD|4012 8888 8888 1881]]"}, {"name": "B", "iban": "[[IBAN_CODE|DE89 3704 0044 0532 0130 00]]"}]',
     tags=["mixed", "json"])
case("INSERT INTO customers (email, sin) VALUES ('[[EMAIL_ADDRESS|r.roy@example.ca]]', '[[CA_SIN|130-692-544]]');",
     tags=["mixed", "code"])
case("Summary of the call:\n- customer verified with SIN [[CA_SIN|193 456 787]]\n- card on file "
     "[[CREDIT_CARD|3782 822463 10005]]\n- follow up at [[EMAIL_ADDRESS|help@example-corp.com]]", tags=["mixed", "multiline"])
case("Nothing sensitive here: the meeting moved to 3pm in room 4B, bring the Q2 roadmap.", tags=["clean"])
case("Can you explain how transformers use attention? Keep it under 200 words.", tags=["clean"])
case("def add(a, b):\n    return a + b\n\nprint(add(2, 3))", tags=["clean", "code"])
case("Release 2.4.1 (build 20240514.3) fixes 12 bugs; see CHANGELOG.md.", tags=["clean", "version"])
case("ISBN 978-0-306-40615-7 and ISBN-10 0-306-40615-2 are on the back cover.", tags=["clean", "isbn"])
case("ISBN 9780306406157", tags=["clean", "isbn"])
case("Timestamps 2024-05-14T09:21:33Z, 1715678493, and 14/05/2024 09:21.", tags=["clean", "timestamp"])
case("Tracking 1Z999AA10123456784 via UPS.", tags=["clean"])
case("Invoice INV-2024-000123 total 1,234,567.89 USD due 2024-06-30.", tags=["clean"])
case("Order #482915736 ships Tuesday.", tags=["clean", "order"])
case("Order numbers 100234567 and 100234568 were merged.", tags=["clean", "order"])

# ---------------------------------------------------------------- marking
case("[PUBLIC]\nOur office hours are 9 to 5, Monday to Friday.", public=True, tags=["marking"])
case("\n\n  [public]  \nPress release: the product launches in June.", public=True, tags=["marking"])
case("classification: public\nBlog draft about our open-source tools.", public=True, tags=["marking"])
case("Classification: PUBLIC\nFAQ: how do I reset my password?", public=True, tags=["marking"])
case("[PUBLIC]\nQuestions? Write to [[EMAIL_ADDRESS|press@example.com]].", public=True, tags=["marking", "pii"])
case("[PUBLIC]\nShip to Ottawa [[CA_POSTAL_CODE|K1A 0B1]]", public=True, tags=["marking", "pii"])
case("[PUBLIC]\nPress contact [[EMAIL_ADDRESS|press@example-corp.com]]", public=True, tags=["marking", "internal_email"])
case("[PUBLIC]\nCard on file: [[CREDIT_CARD|4111111111111111]]", public=True, tags=["marking", "restricted"])
case("classification: public\nkey [[API_KEY|" + oai + "]]", public=True, tags=["marking", "secret"])
case("Intro line\n[PUBLIC]\nnot marked: the marker is not the first non-blank line", tags=["marking", "negative"])
case("[PUBLIC] inline text does not count", tags=["marking", "negative"])
case("classification: internal\nquarterly numbers", tags=["marking", "negative"])

# ---------------------------------------------------------------- normalisation (offsets into the original)
case("Card: [[CREDIT_CARD|４１１１ １１１１ １１１１ １１１１]] (full-width)", tags=["normalize", "fullwidth"])
case("Card: [[CREDIT_CARD|4111\u200b1111\u200b1111\u200b1111]] (zero-width)", tags=["normalize", "zero_width"])
case("SIN [[CA_SIN|046\u00ad454\u00ad286]] (soft hyphens)", tags=["normalize", "soft_hyphen"])
case("Résumé of Zoë: SIN [[CA_SIN|０４６ ４５４ ２８６]], email [[EMAIL_ADDRESS|zoë@example.com]]", tags=["normalize"])
case("NAS\u00a0: [[CA_SIN|046\u00a0454\u00a0286]]", tags=["normalize", "nbsp"])
case("card [[CREDIT_CARD|5555\u20135555\u20135555\u20134444]] with en dashes", tags=["normalize", "dash"])
case("café ☕ — nothing to see, 日本語のテキスト", tags=["normalize", "clean"])
case("\ufeffBOM first, then card [[CREDIT_CARD|378282246310005]]", tags=["normalize", "bom"])

# ---------------------------------------------------------------- more realistic positions
case("https://shop.example.net/pay?card=[[CREDIT_CARD|4111111111111111]]&cvv=123", tags=["card", "url"])
case("name,sin,dob\nJane Roe,[[CA_SIN|046454286]],1980-01-01", tags=["sin", "csv"])
case("| Employee | SIN |\n| E-7 | [[CA_SIN|130 692 544]] |", tags=["sin", "table"])
case("<customer><sin>[[CA_SIN|123-456-782]]</sin><card>[[CREDIT_CARD|5105 1051 0510 5100]]</card></customer>", tags=["mixed", "xml"])
case("card:[[CREDIT_CARD|4012888888881881]];exp:1227", tags=["card", "compact"])
case("Cards on file: [[CREDIT_CARD|4111111111111111]], [[CREDIT_CARD|5555555555554444]] and [[CREDIT_CARD|378282246310005]].", tags=["card", "list"])
case("Amex [[CREDIT_CARD|3714-496353-98431]] expires soon", tags=["card", "amex"])
case("  - pan: \"[[CREDIT_CARD|6011 1111 1111 1117]]\"\n    holder: J. Roe", tags=["card", "yaml"])
case("Wire details — IBAN [[IBAN_CODE|NL91 ABNA 0417 1643 00]], BIC ABNANL2A", tags=["iban", "prose"])
case("Send to <[[EMAIL_ADDRESS|jane.roe@example.com]]> and (cc: [[EMAIL_ADDRESS|ops@corp.example.org]])", tags=["email"])
case("Ext. [[PHONE_NUMBER|416-555-0123]] x204 is the help desk", tags=["phone"])
case("fax: [[PHONE_NUMBER|+1 905 555 0147]]", tags=["phone"])
case("ssh deploy@[[IP_ADDRESS|172.16.254.1]] -p 2222", tags=["ip"])
case("DNS [[IP_ADDRESS|::1]] and [[IP_ADDRESS|0.0.0.0]] are listed", tags=["ip", "loopback"])
case("Colors #411111 and #ffcc00, sizes 1024x768 and 1920x1080.", tags=["clean"])
case("Phone numbers like [[PHONE_NUMBER|416-555-0199]] are not SINs.", tags=["phone", "not_sin"])
case("The Luhn algorithm was patented in 1960 (US patent 2,950,048).", tags=["clean"])
case("Quantities 123456789 kg and 987654321 tonnes were shipped.", tags=["clean", "nine_digits"])
case("Zip codes 90210 and 10001-1234 in the US.", tags=["clean"])
case("Version strings: 1.0.0-rc.1, 2024.05.14, 10.15.7, 3.11.4", tags=["clean", "version"])
case("UUIDs 6ba7b810-9dad-11d1-80b4-00c04fd430c8 and 6ba7b811-9dad-11d1-80b4-00c04fd430c8", tags=["clean", "uuid"])
case("git log: 4b825dc642cb6eb9a060e54bf8d69288fbee4904 (empty tree), abbrev 4b825dc", tags=["clean", "sha"])
case("Temperatures 21.5, 22.0 and 19.75; ratio 0.618033988", tags=["clean", "decimal"])
case("ISBN-13: 978-1-4028-9462-6 and 978 0 13 110362 7", tags=["clean", "isbn"])
case("Ticket PROJ-4111 and PR #5555 were merged on 2024-05-14 at 16:42:07 UTC.", tags=["clean"])
case("Credit limit 4111 dollars, balance 1111.11, due 11/11", tags=["clean"])
case("accounts payable processed 12 invoices", tags=["bank", "negative"])
case("The account manager is Jane; call her tomorrow.", tags=["bank", "negative"])
case("After checking 15000000 rows the job finished.", tags=["bank", "negative", "verb"])
case("Checking #: [[BANK_ACCOUNT|004512345678]]", tags=["bank", "context"])
case("Meeting ID: 851 2345 6789, passcode 4321", tags=["clean", "meeting_id"])
case("Tel.: [[PHONE_NUMBER|(514) 555-0176]] (bureau)", tags=["phone"])

# ---------------------------------------------------------------- written after the rules, run once, not tuned
case("my visa is [[CREDIT_CARD|4111-1111-1111-1111]] exp 03/26", tags=["blind", "card"])
case("S.I.N. [[CA_SIN|046 454 286]]", tags=["blind", "sin"])
case("Social Insurance Number (SIN): [[CA_SIN|130 692 544]]", tags=["blind", "sin"])
case('{"card": [[CREDIT_CARD|4111111111111111]], "cvv": 123}', tags=["blind", "card", "json"])
case("IBAN: [[IBAN_CODE|FR76 3000 6000 0112 3456 7890 189]]", tags=["blind", "iban"])
case("Please send to account no. [[BANK_ACCOUNT|123456789]] at BMO", tags=["blind", "bank"])
case("transit 12345 institution 003 account [[BANK_ACCOUNT|1234567]]", tags=["blind", "bank"])
case("SIN: [[CA_SIN|046-454-286]]\nSIN: [[CA_SIN|130-692-544]]", tags=["blind", "sin", "multiline"])
case("email me at [[EMAIL_ADDRESS|first.last+tag@sub.example-corp.com]]", tags=["blind", "email", "internal"])
case("call [[PHONE_NUMBER|416 555 0199]] or [[PHONE_NUMBER|+1-416-555-0199]]", tags=["blind", "phone"])
case("IP: [[IP_ADDRESS|10.10.10.10]], gateway [[IP_ADDRESS|10.10.10.1]]", tags=["blind", "ip"])
case("Call 1-800-FLOWERS, model 4111-ABC, ext 4111, ticket 123-456-789", tags=["blind", "negative"])
case("PO Box 4111, Toronto ON [[CA_POSTAL_CODE|M5V 2T6]]", tags=["blind", "postal"])
case("Lot [[CREDIT_CARD|4111111111111111]] of product X", tags=["blind", "card", "fail_closed"])
case("My SIN number is [[CA_SIN|046454286]] and my wife's is [[CA_SIN|130692544]]", tags=["blind", "sin"])
case("Card ending in 1111; full PAN [[CREDIT_CARD|4111 1111 1111 1111]]", tags=["blind", "card"])
case("numéro de carte : [[CREDIT_CARD|4111 1111 1111 1111]]", tags=["blind", "card"])
case("Mi tarjeta es [[CREDIT_CARD|4111111111111111]]", tags=["blind", "card"])
case("card=[[CREDIT_CARD|4111111111111111]]&exp=1226", tags=["blind", "card"])
case("SIN [[CA_SIN|０４６４５４２８６]]", tags=["blind", "sin", "normalize"])
case("046-454-286 on its own needs a SIN word", tags=["blind", "negative", "unassigned_no_context"])

with open(os.path.join(HERE, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for c in CASES:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"{len(CASES)} cases, {sum(len(c['entities']) for c in CASES)} entities")
