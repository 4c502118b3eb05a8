#!/usr/bin/env python3
"""Writes the adversarial classification corpus: main.jsonl and heldout.jsonl.

main.jsonl crosses every card network x length x grouping x context (none,
English, French, JSON, CSV, log line, Markdown table) with Luhn-valid values
(positives: they must be RESTRICTED), the same values with a broken check digit
(negatives) and hard negatives (order and tracking numbers, timestamps, phone
numbers, UUIDs, versions, AWS account ids, GL codes, invoice numbers), plus SIN,
IBAN and bank-account positives and negatives in the same contexts.

heldout.jsonl is built by a separate section with its own seed, phrasing,
contexts and values. It was written before the detection rules were tuned and
is not tuned against: it measures how the rules generalise.

Labels use the corpus format (tests/classify/corpus/README.md): inline
[[TYPE|value]] markers become {"type","start","end","level"} with UTF-8 byte
offsets. Only RESTRICTED entities are labelled here; the test measures
RESTRICTED recall and precision only.

A Luhn-valid number with an issuer prefix and length is a card by definition
(fail closed), so hard negatives are drawn outside that set: a random "order
number" that happens to be a valid PAN is not a negative, it is a card.

Run from anywhere: python3 tests/classify/adversarial/generate.py
"""
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL = re.compile(r"\[\[([A-Z_]+)\|(.*?)\]\]", re.S)


# --------------------------------------------------------------------- helpers
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


# The card definition the generator uses for its oracle (what is a card by
# definition, whatever the text around it says): issuer ranges and lengths.
NETWORKS = {
    # name: ([prefixes], [lengths])
    "visa": (["4"], [13, 16, 19]),
    "mastercard": (["51", "52", "53", "54", "55", "2221", "2500", "2720"], [16]),
    "amex": (["34", "37"], [15]),
    "discover": (["6011", "644", "649", "65"], [16, 19]),
    "jcb": (["3528", "3550", "3589"], [16, 19]),
    "diners": (["300", "305", "36", "38"], [14, 16]),
    "unionpay": (["62"], [16, 17, 18, 19]),
    "maestro": (["50", "56", "58", "6759", "63", "67", "69"], [12, 13, 14, 15, 16, 17, 18, 19]),
    "mir": (["2200", "2204"], [16]),
    "rupay": (["60", "508", "81", "82"], [16]),
    "dankort": (["5019"], [16]),
    "interac": (["4506", "4519", "4724", "4536"], [16, 19]),
    "uatp": (["1"], [15]),
    "verve": (["506099", "506150", "650002"], [16, 19]),
    "troy": (["9792"], [16]),
}


def is_card(d):
    """The oracle: Luhn-valid with a known issuer prefix and length."""
    if not (12 <= len(d) <= 19) or not luhn_ok(d):
        return False
    n = len(d)
    p = lambda k: int(d[:k])
    if d[0] == "4":
        return n == 13 or n >= 16
    if 51 <= p(2) <= 55 or 2221 <= p(4) <= 2720:
        return n == 16
    if p(2) in (34, 37):
        return n == 15
    if 2200 <= p(4) <= 2204:
        return n >= 16
    if d[0] == "1":
        return n == 15
    if p(2) in (50,) or 56 <= p(2) <= 69:
        return True
    if p(4) in range(3528, 3590):
        return n >= 16
    if 300 <= p(3) <= 305 or p(4) == 3095 or p(2) in (36, 38, 39):
        return n >= 14
    if p(2) in (81, 82):
        return n >= 16
    if p(4) == 9792:
        return n == 16
    return False


def make_pan(rng, prefix, length):
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


UNICODE_ZERO = {"arabic": 0x660, "ext_arabic": 0x6F0, "devanagari": 0x966, "bengali": 0x9E6, "thai": 0xE50,
                "fullwidth": 0xFF10}


def script_digits(s, script):
    z = UNICODE_ZERO[script]
    return "".join(chr(z + int(c)) if c.isdigit() else c for c in s)


def grp(number, sizes, seps):
    """Groups `number` by `sizes` (the last size repeats), joined by `seps` (cycled)."""
    out, i, k = [], 0, 0
    while i < len(number):
        s = sizes[min(k, len(sizes) - 1)]
        out.append(number[i:i + s])
        i += s
        k += 1
    res = out[0]
    for j, g in enumerate(out[1:]):
        res += seps[j % len(seps)] + g
    return res


class Writer:
    def __init__(self):
        self.cases = []

    def case(self, marked, tags=()):
        text, entities, pos = "", [], 0
        for m in LABEL.finditer(marked):
            text += marked[pos:m.start()]
            start = len(text.encode("utf-8"))
            text += m.group(2)
            end = len(text.encode("utf-8"))
            entities.append({"type": m.group(1), "start": start, "end": end, "level": "RESTRICTED"})
            pos = m.end()
        text += marked[pos:]
        level = "RESTRICTED" if entities else "NOT_RESTRICTED"
        self.cases.append({"text": text, "entities": entities, "level": level, "tags": list(tags)})

    def write(self, name):
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            for c in self.cases:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        pos = sum(1 for c in self.cases if c["entities"])
        print(f"{name}: {len(self.cases)} cases, {pos} with RESTRICTED entities")


def esc(v):
    # Markers are built with str.format: the values never hold braces.
    return v


# ===================================================================== main split
def main_split():
    rng = random.Random(12012)
    w = Writer()

    def groupings(n):
        g = [
            ("compact", lambda d: d),
            ("space4", lambda d: grp(d, [4], [" "])),
            ("hyphen4", lambda d: grp(d, [4], ["-"])),
            ("dot4", lambda d: grp(d, [4], ["."])),
            ("tab4", lambda d: grp(d, [4], ["\t"])),
            ("nbsp4", lambda d: grp(d, [4], ["\u00a0"])),
            ("thin4", lambda d: grp(d, [4], ["\u2009"])),
            ("nnbsp4", lambda d: grp(d, [4], ["\u202f"])),
            ("newline4", lambda d: grp(d, [4], ["\n"])),
            ("crlf8", lambda d: grp(d, [8], ["\r\n"])),
            ("mixed4", lambda d: grp(d, [4], [" ", "-", "."])),
            ("pairs", lambda d: grp(d, [2], [" "])),
            ("spaced_dash", lambda d: grp(d, [4], [" - "])),
            ("arabic", lambda d: script_digits(grp(d, [4], [" "]), "arabic")),
            ("ext_arabic", lambda d: script_digits(d, "ext_arabic")),
            ("devanagari", lambda d: script_digits(grp(d, [4], ["-"]), "devanagari")),
            ("bengali", lambda d: script_digits(d, "bengali")),
            ("thai", lambda d: script_digits(grp(d, [4], [" "]), "thai")),
            ("fullwidth", lambda d: script_digits(grp(d, [4], [" "]), "fullwidth")),
        ]
        if n == 15:
            g += [("amex465", lambda d: grp(d, [4, 6, 5], [" "])), ("uatp456", lambda d: grp(d, [4, 5, 6], [" "]))]
        if n == 14:
            g += [("diners464", lambda d: grp(d, [4, 6, 4], [" "]))]
        return g

    contexts = {
        "none": "Please process {v} before Friday.",
        "english": "Charge my card {v} for the renewal.",
        "french": "Veuillez débiter ma carte {v} pour le renouvellement.",
        "json": '{{"customer": 48213, "payment": {{"number": "{v}", "exp": "12/27"}}}}',
        "csv": "name,number,exp\nJane Roe,{v},12/27",
        "log": "2024-05-14T10:22:01Z ERROR charge failed number={v} amount=42.50 currency=CAD",
        "markdown": "| name | number |\n|------|--------|\n| J. Doe | {v} |",
    }
    # Contexts with a payment word, for numbers outside every issuer range.
    card_word_contexts = {
        "english": "My credit card number is {v}, please charge it.",
        "french": "Numéro de carte : {v}",
        "json": '{{"card_number": "{v}"}}',
        "csv": "name,card,exp\nJane Roe,{v},12/27",
        "log": "2024-05-14 WARN payment declined card={v}",
        "markdown": "| holder | card |\n|---|---|\n| J. Doe | {v} |",
    }

    k = 0
    for net, (prefixes, lengths) in NETWORKS.items():
        for n in lengths:
            for gname, gfun in groupings(n):
                for cname, tpl in contexts.items():
                    prefix = prefixes[k % len(prefixes)]
                    k += 1
                    pan = make_pan(rng, prefix, n)
                    assert is_card(pan), (net, pan)
                    w.case(tpl.format(v="[[CREDIT_CARD|" + gfun(pan) + "]]"), tags=["card", net, str(n), gname, cname])
                    # The same number with a broken check digit: a negative, unless it
                    # still reads as a card in some other way (it never should).
                    if k % 3 == 0:
                        bad = luhn_break(pan)
                        w.case(tpl.format(v=gfun(bad)), tags=["card", "negative", "luhn_fail", net, gname, cname])

    # Outside every issuer range, with a payment word: a card whatever its prefix.
    for n in range(13, 20):
        for cname, tpl in card_word_contexts.items():
            for gname, gfun in [("compact", lambda d: d), ("space4", lambda d: grp(d, [4], [" "])),
                                ("mixed4", lambda d: grp(d, [4], ["-", " "]))]:
                while True:
                    pan = make_pan(rng, rng.choice("789"), n)
                    if not is_card(pan):
                        break
                w.case(tpl.format(v="[[CREDIT_CARD|" + gfun(pan) + "]]"), tags=["card", "context_only", str(n), gname, cname])
                bad = luhn_break(pan)
                w.case(tpl.format(v=gfun(bad)), tags=["card", "negative", "luhn_fail", "context_only", cname])
    # ...and the same numbers without a payment word are not cards.
    for n in range(13, 20):
        while True:
            pan = make_pan(rng, rng.choice("789"), n)
            if not is_card(pan):
                break
        w.case(f"Reference {pan} was archived.", tags=["card", "negative", "no_network_no_context"])

    # The Maestro report that started issue 12.
    w.case("Charge my Maestro card [[CREDIT_CARD|6759 6498 2643 8453]] for the renewal", tags=["card", "maestro", "report"])

    # ------------------------------------------------------------ hard negatives
    def rdigits(n, first="123456789"):
        return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))

    def not_card(make):
        while True:
            v = make()
            if not is_card(re.sub(r"\D", "", v)):
                return v

    hard = []
    for _ in range(12):
        hard.append(("order", "Order #{} has shipped.".format(not_card(lambda: rdigits(rng.choice([8, 10, 12, 14, 16]))))))
        hard.append(("order", "Your order no. {}-{}-{} is confirmed.".format(rdigits(3), rdigits(7, "0123456789"), rdigits(7, "0123456789"))))
        hard.append(("tracking", "UPS tracking 1Z{}{}".format("".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(6)), rdigits(10))))
        hard.append(("tracking", "FedEx {} {} {}".format(rdigits(4), rdigits(4, "0123456789"), rdigits(4, "0123456789"))))
        hard.append(("tracking", "USPS " + not_card(lambda: grp("9400" + rdigits(18, "0123456789"), [4], [" "]))))
        hard.append(("timestamp", "ts={}{:02d}{:02d}{:02d}{:02d}{:02d}".format(rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))))
        hard.append(("timestamp", "epoch_ms={} epoch_us={}".format(rng.randint(1_600_000_000_000, 1_800_000_000_000), rng.randint(1_600_000_000_000_000, 1_800_000_000_000_000))))
        hard.append(("timestamp", "2024-{:02d}-{:02d} {:02d}:{:02d}:{:02d}.{:06d} INFO done".format(rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999999))))
        hard.append(("phone", "Call +1 {} {} {} tomorrow.".format(rng.randint(200, 999), rng.randint(200, 999), rdigits(4, "0123456789"))))
        hard.append(("phone", "Tel: +44 20 {} {}".format(rdigits(4), rdigits(4, "0123456789"))))
        hard.append(("phone", "Phone (416) 555-{} ext {}".format(rdigits(4, "0123456789"), rdigits(3))))
        hard.append(("uuid", "request_id {:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}".format(rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48))))
        hard.append(("version", "Upgraded to {}.{}.{} (build {}.{}.{}.{})".format(rng.randint(1, 20), rng.randint(0, 30), rng.randint(0, 99), rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28), rng.randint(1, 999))))
        hard.append(("aws", "AWS account {} owns the bucket.".format(not_card(lambda: rdigits(12, "0123456789")))))
        hard.append(("aws", "arn:aws:iam::{}:role/deploy".format(not_card(lambda: rdigits(12, "0123456789")))))
        hard.append(("gl", "GL account {}-{}-{}".format(rdigits(4), rdigits(3), rdigits(4))))
        hard.append(("gl", "Post to GL code {}.{}.{}".format(rdigits(4), rdigits(3), rdigits(3))))
        hard.append(("invoice", "Invoice INV-{}-{:06d} is due.".format(rng.randint(2019, 2026), rng.randint(1, 999999))))
        hard.append(("invoice", "Invoice {} total 1,234.56".format(not_card(lambda: rdigits(rng.choice([10, 13, 15]))))))
        hard.append(("crm", "customer account {}".format(rdigits(8))))
        hard.append(("sin_fail", "SIN {}".format(grp(luhn_break(luhn_complete(rdigits(8))), [3], [" "])))),
        hard.append(("sin_unassigned", "Ticket {} closed".format(grp(luhn_complete("0" + rdigits(7, "0123456789")), [3], [" "]))))
        hard.append(("iban_fail", "IBAN DE{}{}".format(rng.randint(10, 99), rdigits(18, "0123456789"))))
    for tag, text in hard:
        # An IBAN with random check digits is valid one time in 97: redraw those.
        if tag == "iban_fail":
            m = re.search(r"DE(\d{20})", text)
            if m and iban_ok("DE" + m.group(1)):
                continue
        w.case(text, tags=["negative", "hard", tag])

    # ------------------------------------------------------------ SIN
    sins = [luhn_complete(rng.choice("1234567") + rdigits(7, "0123456789")) for _ in range(6)] + \
           [luhn_complete("0" + rdigits(7, "0123456789")), "046454286", luhn_complete("8" + rdigits(7, "0123456789"))]
    sin_forms = {"space": [" "], "hyphen": ["-"], "dot": ["."], "slash": ["/"], "compact": None}
    sin_ctx = {
        "english": "My SIN is {v}.",
        "english2": "Social insurance number: {v}",
        "french": "Numéro d'assurance sociale : {v}",
        "french2": "NAS {v}",
        "json": '{{"employee": "E-1042", "sin": "{v}"}}',
        "csv": "name,sin,dob\nJane Roe,{v},1980-01-01",
        "log": "2024-05-14 WARN hr-sync sin={v} masked=false",
        "markdown": "| Employee | SIN |\n|---|---|\n| E-7 | {v} |",
        "xml": "<employee><sin>{v}</sin></employee>",
    }
    for s in sins:
        for fname, seps in sin_forms.items():
            v = s if seps is None else grp(s, [3], seps)
            for cname, tpl in sin_ctx.items():
                w.case(tpl.format(v="[[CA_SIN|" + v + "]]"), tags=["sin", fname, cname])
            bad = luhn_break(s)
            bv = bad if seps is None else grp(bad, [3], seps)
            w.case(sin_ctx["english"].format(v=bv), tags=["sin", "negative", "luhn_fail", fname])

    # ------------------------------------------------------------ IBAN
    def iban_make(country, length):
        bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
        for cd in range(2, 99):
            cand = f"{country}{cd:02d}{bban}"
            if iban_ok(cand):
                return cand
        raise AssertionError

    ibans = ["GB82WEST12345698765432", "NL91ABNA0417164300", "FR1420041010050500013M02606", "CH9300762011623852957"]
    ibans += [iban_make(c, n) for c, n in [("DE", 22), ("ES", 24), ("IT", 27), ("BE", 16), ("PL", 28), ("NO", 15),
                                           ("SA", 24), ("BR", 29)]]
    iban_forms = {
        "compact": lambda s: s,
        "space4": lambda s: grp(s, [4], [" "]),
        "hyphen4": lambda s: grp(s, [4], ["-"]),
        "lower": lambda s: s.lower(),
        "lower_space4": lambda s: grp(s.lower(), [4], [" "]),
    }
    iban_ctx = {
        "english": "Please send the refund to IBAN {v} by Friday.",
        "french": "Virement SEPA vers {v} (réf. INV-2024-0042)",
        "json": '{{"beneficiary": {{"iban": "{v}"}}}}',
        "csv": "name,iban\nJane Roe,{v}",
        "log": "2024-05-14 INFO payout iban={v} status=queued",
        "markdown": "| payee | IBAN |\n|---|---|\n| ACME | {v} |",
        "none": "{v}",
    }
    for ib in ibans:
        assert iban_ok(ib), ib
        for fname, f in iban_forms.items():
            for cname, tpl in iban_ctx.items():
                w.case(tpl.format(v="[[IBAN_CODE|" + f(ib) + "]]"), tags=["iban", fname, cname])
        bad = ib[:2] + ("%02d" % ((int(ib[2:4]) + 1) % 100 or 2)) + ib[4:]
        if not iban_ok(bad):
            w.case(iban_ctx["english"].format(v=bad), tags=["iban", "negative", "mod97_fail"])

    # ------------------------------------------------------------ bank accounts
    accounts = [rdigits(n, "0123456789") for n in (7, 7, 8, 9, 10, 11, 12, 12)]
    bank_ctx = {
        "english": "Please wire it to my bank account {v} today.",
        "english2": "Chequing account number: {v}",
        "french": "Mon numéro de compte est {v}.",
        "french2": "Compte bancaire : {v}",
        "json": '{{"account_number": "{v}", "currency": "CAD"}}',
        "csv": "name,account\nJane Roe,{v}",
        "log": "2024-05-14 INFO direct deposit acct={v} ok",
        "markdown": "| payee | account |\n|---|---|\n| ACME | {v} |",
    }
    for a in accounts:
        for cname, tpl in bank_ctx.items():
            w.case(tpl.format(v="[[BANK_ACCOUNT|" + a + "]]"), tags=["bank", cname])
    for _ in range(8):
        transit, inst, acct = rdigits(5, "0123456789"), rng.choice(["001", "002", "003", "004", "006", "010", "815"]), rdigits(7, "0123456789")
        w.case("Direct deposit to [[BANK_ACCOUNT|{}-{}-{}]] please.".format(transit, inst, acct), tags=["bank", "transit"])
        w.case("void cheque: [[BANK_ACCOUNT|{} {} {}]]".format(transit, inst, acct), tags=["bank", "transit"])
        w.case("Transit/institution/account: [[BANK_ACCOUNT|{}-{} {}]]".format(transit, inst, acct), tags=["bank", "transit"])
    for neg in ["AWS account {} owns the bucket.", "customer account {} was merged.", "CRM account {} has 3 contacts.",
                "GL account {} balance 0.00", "service account {} created", "Your account was locked {} times."]:
        for _ in range(3):
            w.case(neg.format(not_card(lambda: rdigits(rng.choice([8, 10, 12]), "0123456789"))), tags=["bank", "negative", "hard"])
    return w


def iban_ok(s):
    s = s.upper()
    r = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in r)
    return int(num) % 97 == 1


# ================================================================= held-out split
# Written before tuning, with its own seed, phrasing, contexts and values; not
# tuned against.
def heldout_split():
    rng = random.Random(777_2024)
    w = Writer()

    def pan(prefix, n):
        return make_pan(rng, prefix, n)

    phr = [
        "hey can u put the {v} card on file, thx",
        "Client dictated: {v} (exp 09/28)",
        "PAN on the receipt reads {v}",
        "La carte de crédit du client est la {v}.",
        "Por favor use la tarjeta {v} para el pago.",
        "payment_method:\n  type: card\n  number: {v}\n",
        "INSERT INTO payments(pan, amount) VALUES ('{v}', 19.99);",
        "<card><number>{v}</number></card>",
        "Subject: refund\n\nHi, the number is\n{v}\nthanks",
        "card,holder\n{v},J Roe",
        "> cc: {v}",
        "debit card {v} was declined at the POS",
        "Visa/MC: {v}",
        "kindly charge {v} and send the receipt",
    ]
    shapes = [
        ("compact", lambda d: d),
        ("4s_space", lambda d: grp(d, [4], [" "])),
        ("4s_dash", lambda d: grp(d, [4], ["-"])),
        ("4s_double_space", lambda d: grp(d, [4], ["  "])),
        ("3s_space", lambda d: grp(d, [3], [" "])),
        ("5s_dash", lambda d: grp(d, [5], ["-"])),
        ("pairs_dash", lambda d: grp(d, [2], ["-"])),
        ("mixed_space_dot", lambda d: grp(d, [4], [" ", "."])),
        ("wrapped", lambda d: grp(d, [8], ["\n"])),
        ("tab_dash", lambda d: grp(d, [4], ["\t", "-"])),
        ("6_rest", lambda d: grp(d, [6, 10], [" "])),
        ("devanagari_space", lambda d: script_digits(grp(d, [4], [" "]), "devanagari")),
        ("ext_arabic_compact", lambda d: script_digits(d, "ext_arabic")),
        ("thai_dash", lambda d: script_digits(grp(d, [4], ["-"]), "thai")),
        ("figure_space", lambda d: grp(d, [4], ["\u2007"])),
        ("en_dash", lambda d: grp(d, [4], ["\u2013"])),
    ]
    issuers = [("4", 16), ("4", 13), ("53", 16), ("2611", 16), ("37", 15), ("6011", 16), ("3540", 16),
               ("36", 14), ("6212", 19), ("5018", 12), ("6304", 19), ("6762", 16), ("2201", 16), ("6522", 16),
               ("5019", 16), ("1", 15), ("5061", 18), ("9792", 16), ("8171", 17), ("6799", 13)]
    i = 0
    for prefix, n in issuers:
        for sname, sf in shapes:
            d = pan(prefix, n)
            tpl = phr[i % len(phr)]
            i += 1
            w.case(tpl.format(v="[[CREDIT_CARD|" + sf(d) + "]]"), tags=["card", prefix, str(n), sname])
            if i % 2 == 0:
                w.case(tpl.format(v=sf(luhn_break(d))), tags=["card", "negative", "luhn_fail", sname])
    # No issuer prefix, payment word present.
    for n in (13, 16, 19):
        for tpl in ["card number {v}", "numéro de carte bancaire: {v}", "CC# {v}", "tarjeta de débito {v}"]:
            while True:
                d = pan(rng.choice("0789"), n)
                if not is_card(d):
                    break
            w.case(tpl.format(v="[[CREDIT_CARD|" + d + "]]"), tags=["card", "context_only"])

    def rd(n):
        return "".join(rng.choice("0123456789") for _ in range(n))

    def not_card(make):
        while True:
            v = make()
            if not is_card(re.sub(r"\D", "", v)):
                return v

    negs = []
    for _ in range(10):
        negs += [
            "Shipment {} left the depot".format(not_card(lambda: rd(rng.choice([12, 14, 18])))),
            "PO-{}-{} approved".format(rd(4), rd(6)),
            "job finished at {}-{}-{}T{}:{}:{}+00:00".format(rng.randint(2000, 2030), rd(2), rd(2), rd(2), rd(2), rd(2)),
            "ring me on 07{} {}".format(rd(3), rd(6)),
            "+49 30 {} {}".format(rd(4), rd(4)),
            "trace-id {:032x}".format(rng.getrandbits(128)),
            "release v{}.{}.{}-beta.{}".format(rng.randint(0, 9), rng.randint(0, 99), rng.randint(0, 999), rng.randint(1, 9)),
            "Account ID: {} (AWS)".format(not_card(lambda: rd(12))),
            "ledger 4{}-{}".format(rd(3), rd(4)),
            "facture no {}".format(not_card(lambda: rd(rng.choice([9, 11])))),
            "room 4{} floor {}".format(rd(2), rd(1)),
            "ISBN 978-{}-{}-{}-{}".format(rd(1), rd(3), rd(5), rd(1)),
            "Meeting ID: {} {} {}".format(rd(3), rd(4), rd(4)),
            "lat 45.{} lon -73.{}".format(rd(6), rd(6)),
        ]
    for t in negs:
        w.case(t, tags=["negative", "hard"])

    # SIN in other phrasings.
    for _ in range(12):
        s = luhn_complete(rng.choice("123456790") + rd(7))
        for tpl, sep in [("S.I.N.: {v}", " "), ("sin={v}", "/"), ("no d'assurance sociale {v}", "."),
                         ("SIN/NAS - {v}", "-"), ('{{"SIN":"{v}"}}', None), ("employee,SIN\nE-9,{v}", "/")]:
            v = s if sep is None else grp(s, [3], [sep])
            w.case(tpl.format(v="[[CA_SIN|" + v + "]]"), tags=["sin"])
    # IBAN in other phrasings and countries.
    def iban_make(country, length):
        bban = rd(length - 4)
        for cd in range(2, 99):
            c = f"{country}{cd:02d}{bban}"
            if iban_ok(c):
                return c
        raise AssertionError
    for c, n in [("AT", 20), ("DK", 18), ("FI", 18), ("IE", 22), ("PT", 25), ("SE", 24), ("HU", 28), ("RO", 24)]:
        ib = iban_make(c, n)
        for tpl, f in [("iban:{v}", lambda s: s.lower()), ("Kontonummer (IBAN) {v}", lambda s: grp(s, [4], [" "])),
                       ("pay {v} now", lambda s: grp(s, [4], ["-"]))]:
            w.case(tpl.format(v="[[IBAN_CODE|" + f(ib) + "]]"), tags=["iban"])
    # Bank accounts in other phrasings.
    for _ in range(6):
        a = rd(rng.choice([7, 9, 12]))
        for tpl in ["savings acct {v}", "caisse populaire, folio {v}", "credit union account: {v}",
                    "numéro de compte {v}", "void cheque attached, account {v}", "direct deposit account # {v}"]:
            w.case(tpl.format(v="[[BANK_ACCOUNT|" + a + "]]"), tags=["bank"])
    for _ in range(6):
        w.case("billing account {} (Google Cloud)".format(not_card(lambda: rd(10))), tags=["bank", "negative"])
        w.case("Salesforce customer account {}".format(not_card(lambda: rd(9))), tags=["bank", "negative"])
    return w


if __name__ == "__main__":
    main_split().write("main.jsonl")
    heldout_split().write("heldout.jsonl")
