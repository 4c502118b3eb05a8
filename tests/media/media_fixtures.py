#!/usr/bin/env python3
"""Test images and PDFs for the multimodal tests, made by the tests themselves.

Images are rendered with ImageMagick (`convert`, Debian's imagemagick) in
Debian's DejaVu Sans; PDFs are written here by hand (one page with a text
layer in Helvetica, pages that are only a scanned image), because Debian's
ImageMagick policy refuses to write PDF.

  media_fixtures.py OUT_DIR [NAME...]   writes the named fixtures (all by default)
"""
import os
import random
import subprocess
import sys
import tempfile

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# A valid SIN (Luhn) and a test card number; tests look for them whole.
SIN = "046 454 286"
CARD = "4111 1111 1111 1111"
NAME = "Jane Tremblay"
EMAIL = "jane.tremblay@example.com"


def text_image(lines, *, fmt="png", width=1100, pointsize=36, fg="black", bg="white", rotate=0, extra=()):
    """`lines` rendered one under another; bytes of the image in `fmt`."""
    line_height = int(pointsize * 1.9)
    height = line_height * (len(lines) + 1)
    args = ["convert", "-size", f"{width}x{height}", f"xc:{bg}", "-font", FONT, "-pointsize", str(pointsize),
            "-fill", fg]
    for i, line in enumerate(lines):
        args += ["-annotate", f"+40+{line_height * (i + 1)}", line]
    if rotate:
        args += ["-background", bg, "-rotate", str(rotate)]
    args += list(extra)
    args += ["-strip", f"{fmt}:-"]
    return subprocess.run(args, check=True, capture_output=True).stdout


def gray_jpeg(lines, **kw):
    return text_image(lines, fmt="jpg", extra=("-colorspace", "Gray", "-density", "200"), **kw)


def _pdf_escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(pages):
    """A PDF of `pages`: ("text", [lines]) is a page with a text layer,
    ("scan", jpeg_bytes, width_px, height_px) a page that is only an image
    at 200 dpi (no text layer)."""
    objects = []  # bytes of each object, numbered from 1

    def add(body):
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1
    add(b"")  # the page tree's slot: written below, once its kids' numbers are known
    kids = []
    for page in pages:
        if page[0] == "text":
            ops = ["BT", "/F1 14 Tf", "72 740 Td"]
            for line in page[1]:
                ops += [f"({_pdf_escape(line)}) Tj", "0 -24 Td"]
            ops.append("ET")
            content = "\n".join(ops).encode("latin-1")
            stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
            kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
                            b"/Contents %d 0 R >>" % (pages_id, font, stream)))
        else:
            _, jpeg, w, h = page
            image = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % (w, h, len(jpeg))
                        + jpeg + b"\nendstream")
            pw, ph = w * 72 / 200, h * 72 / 200
            content = f"q {pw:.2f} 0 0 {ph:.2f} 0 0 cm /Im1 Do Q".encode()
            stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
            kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im1 %d 0 R >> >> "
                            b"/Contents %d 0 R >>" % (pages_id, pw, ph, image, stream)))
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def _identify(data):
    out = subprocess.run(["identify", "-format", "%w %h", "-"], input=data, check=True, capture_output=True).stdout
    w, h = out.split()
    return int(w), int(h)


def scan_page(lines):
    jpeg = gray_jpeg(lines, width=1600, pointsize=40)
    w, h = _identify(jpeg)
    return ("scan", jpeg, w, h)


# name -> (what it holds, a function making its bytes)
FIXTURES = {
    "sin.png": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME])),
    "sin.jpg": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], fmt="jpg")),
    "sin.webp": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], fmt="webp")),
    "sin.gif": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], fmt="gif")),
    "sin_fr.png": ("CA_SIN", lambda: text_image([f"Numéro d'assurance sociale : {SIN}", "Relevé T4 — Année 2025"])),
    "sin_rot90.png": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], rotate=90)),
    "sin_rot180.png": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], rotate=180)),
    "sin_skew.png": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], rotate=4)),
    "sin_low.png": ("CA_SIN", lambda: text_image([f"Social Insurance Number: {SIN}", NAME], fg="#a0a0a0", bg="#d0d0d0")),
    "card.png": ("CREDIT_CARD", lambda: text_image(["VISA  CLASSIC", CARD, "VALID THRU 12/29   JANE TREMBLAY"],
                                                   width=900, pointsize=44, fg="white", bg="#1a4d8f")),
    "cheque.png": ("BANK_ACCOUNT", lambda: text_image(
        ["PAY TO THE ORDER OF  Jane Tremblay    $ 120.00", "Banque Laurentienne  VOID",
         "Transit 12345  Institution 003  Account 1234567"], width=1400)),
    "person_email.png": ("EMAIL", lambda: text_image([f"Contact: {NAME}", f"E-mail: {EMAIL}"])),
    "plain.png": ("", lambda: text_image(["Quarterly sales grew in Ontario", "Next review in March"])),
    # For the OCR latency benchmark (bench/media_bench.cpp): a receipt-sized
    # image, a screenshot-sized one and an A4 page scanned at 300 dpi.
    "size_small.png": ("CA_SIN", lambda: text_image([f"SIN {SIN}", NAME], width=640, pointsize=28)),
    "size_medium.png": ("CA_SIN", lambda: text_image(
        [f"Line {i}: the quarterly report for {NAME}" for i in range(7)] + [f"SIN {SIN}"], width=1280, pointsize=28)),
    "size_a4.png": ("CA_SIN", lambda: text_image(
        [f"Paragraph {i}: employees are paid on the last business day of the month." for i in range(36)]
        + [f"Social Insurance Number: {SIN}"], width=2480, pointsize=42)),
    "two_pages.pdf": ("CA_SIN", lambda: pdf([("text", ["Employee record", f"Name: {NAME}", "Department: Finance"]),
                                             scan_page([f"Social Insurance Number: {SIN}"])])),
    "text_only.pdf": ("EMAIL", lambda: pdf([("text", ["Meeting notes", f"Contact {NAME} at {EMAIL}"])])),
}


def write(out_dir, names=None):
    os.makedirs(out_dir, exist_ok=True)
    for name in names or FIXTURES:
        path = os.path.join(out_dir, name)
        if os.path.exists(path):
            continue
        data = FIXTURES[name][1]()
        # Atomic: tests in parallel processes may ask for the same file.
        fd, tmp = tempfile.mkstemp(dir=out_dir)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return out_dir


def luhn_complete(digits):
    """`digits` (all but the check digit) with its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def random_sin(rng):
    # First digit 1-7 (9 is temporary residents, 0 and 8 unused): valid Luhn.
    s = luhn_complete(str(rng.randint(1, 7)) + "".join(str(rng.randint(0, 9)) for _ in range(7)))
    return f"{s[0:3]} {s[3:6]} {s[6:9]}"


def random_card(rng):
    c = luhn_complete("4" + "".join(str(rng.randint(0, 9)) for _ in range(14)))
    return " ".join(c[i:i + 4] for i in range(0, 16, 4))


def detection_set(out_dir, count, seed=20):
    """`count` images, each with one RESTRICTED value in a random layout:
    SIN (English or French label) or card, rotation, contrast, size, format.
    Returns [(path, entity type, variant)]."""
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    out = []
    for i in range(count):
        kind = rng.choice(["sin_en", "sin_fr", "card"])
        value = random_card(rng) if kind == "card" else random_sin(rng)
        label = {"sin_en": "Social Insurance Number:", "sin_fr": "NAS :", "card": "Card number"}[kind]
        variant = rng.choice(["plain", "rot90", "rot180", "skew", "low", "small", "jpg"])
        kw = {"pointsize": 36}
        fmt = "png"
        if variant == "rot90":
            kw["rotate"] = 90
        elif variant == "rot180":
            kw["rotate"] = 180
        elif variant == "skew":
            kw["rotate"] = rng.choice([-5, -3, 3, 5])
        elif variant == "low":
            kw.update(fg="#9a9a9a", bg="#d4d4d4")
        elif variant == "small":
            kw["pointsize"] = 20
        elif variant == "jpg":
            fmt = "jpg"
        data = text_image([f"{label} {value}", "Please keep this document"], fmt=fmt, **kw)
        path = os.path.join(out_dir, f"{i:03d}_{kind}_{variant}.{fmt}")
        with open(path, "wb") as f:
            f.write(data)
        out.append((path, "CREDIT_CARD" if kind == "card" else "CA_SIN", variant))
    return out


def negative_set(out_dir, count, seed=21):
    """`count` images with numbers that are not RESTRICTED (phone numbers,
    dates, amounts, order numbers, a 9-digit reference without a SIN word),
    in the same layouts as detection_set. Returns [(path, variant)]."""
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    out = []
    for i in range(count):
        line = rng.choice([
            f"Phone {rng.randint(200, 989)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
            f"Invoice date 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}  total $ {rng.randint(10, 9999)}.{rng.randint(0, 99):02d}",
            f"Order number {rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            f"Reference {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
            f"Room {rng.randint(100, 999)}, floor {rng.randint(1, 40)}, badge {rng.randint(10000, 99999)}",
        ])
        variant = rng.choice(["plain", "rot90", "skew", "low", "jpg"])
        kw, fmt = {"pointsize": 36}, "png"
        if variant == "rot90":
            kw["rotate"] = 90
        elif variant == "skew":
            kw["rotate"] = rng.choice([-4, 4])
        elif variant == "low":
            kw.update(fg="#9a9a9a", bg="#d4d4d4")
        elif variant == "jpg":
            fmt = "jpg"
        path = os.path.join(out_dir, f"neg_{i:03d}_{variant}.{fmt}")
        with open(path, "wb") as f:
            f.write(text_image([line, "Thank you for your business"], fmt=fmt, **kw))
        out.append((path, variant))
    return out


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2:] or None)
