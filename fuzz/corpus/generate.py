#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from the test fixtures.

    python3 fuzz/corpus/generate.py        (from anywhere; rewrites the seeds)

Seeds come from tests/fixtures/wire (request, response, stream and error
bodies of each codec), examples/aegis.yaml and the YAML examples in
docs/CONFIG.md (config), the JSON bodies in tests/jobs/job_request_test.cpp
and docs/JOBS.md (jobs). The codec targets read a selector byte first (which
parser, see each target), prepended here; their error-body seeds start with a
two-byte HTTP status and a Retry-After line. scripts/fuzz passes these
directories to libFuzzer as read-only seeds.
"""
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "corpus"
WIRE = ROOT / "tests" / "fixtures" / "wire"

# Selectors: the first byte's value modulo the number of parsers.
OPENAI = {"chat_request": 0, "chat_response": 1, "stream": 2, "embed_request": 3, "embed_response": 4, "error": 5}
ANTHROPIC = {"chat_request": 0, "chat_response": 1, "stream": 2, "error": 3}
OLLAMA = OPENAI


def error_seed(status, body, retry_after=b""):
    return bytes([status >> 8, status & 0xFF]) + retry_after + b"\n" + body


def openai_kind(name):
    if name.startswith("stream"):
        return "stream"
    if name.startswith("error"):
        return "error"
    if name.startswith("embeddings_request") or name.startswith("embed_request"):
        return "embed_request"
    if name.startswith("embeddings_response") or name.startswith("embed_response"):
        return "embed_response"
    if "request" in name:
        return "chat_request"
    return "chat_response"


def codec(target, folder, selectors):
    seeds = {}
    for path in sorted((WIRE / folder).iterdir()):
        if path.suffix not in (".json", ".sse", ".ndjson"):
            continue
        kind = openai_kind(path.stem)
        if kind not in selectors:
            continue
        body = path.read_bytes()
        if kind == "error":
            status = int(re.search(r"(\d{3})", path.stem).group(1))
            body = error_seed(status, body, b"30" if status == 429 else b"")
        seeds[path.stem] = bytes([selectors[kind]]) + body
    return seeds


def stream_seeds():
    seeds = {}
    for path in sorted(WIRE.glob("*/*")):
        if path.suffix in (".sse", ".ndjson"):
            seeds[path.parent.name + "_" + path.stem] = path.read_bytes()
            # The same stream with CRLF line ends.
            seeds[path.parent.name + "_" + path.stem + "_crlf"] = path.read_bytes().replace(b"\n", b"\r\n")
    return seeds


def config_seeds():
    seeds = {"example": (ROOT / "examples" / "aegis.yaml").read_bytes()}
    text = (ROOT / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
        seeds["config_md_%02d" % i] = block.encode("utf-8")
    return seeds


def jobs_seeds():
    bodies = []
    test = (ROOT / "tests" / "jobs" / "job_request_test.cpp").read_text(encoding="utf-8")
    for raw in re.findall(r'R"\((.*?)\)"', test, re.S):
        try:
            json.loads(raw)
        except ValueError:
            continue  # a fragment glued to other strings in the test
        bodies.append(raw)
    doc = (ROOT / "docs" / "JOBS.md").read_text(encoding="utf-8")
    for block in re.findall(r"```json\n(.*?)```", doc, re.S):
        try:
            json.loads(block)
        except ValueError:
            continue
        bodies.append(block)
    # Selector byte 0xff: the largest of the smaller limits the target also tries.
    return {"body_%02d" % i: b"\xff" + b.encode("utf-8") for i, b in enumerate(bodies)}


def write(target, seeds):
    folder = OUT / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


def main():
    write("openai_fuzz", codec("openai_fuzz", "openai", OPENAI))
    write("anthropic_fuzz", codec("anthropic_fuzz", "anthropic", ANTHROPIC))
    write("ollama_fuzz", codec("ollama_fuzz", "ollama", OLLAMA))
    write("stream_fuzz", stream_seeds())
    write("config_fuzz", config_seeds())
    write("jobs_fuzz", jobs_seeds())


if __name__ == "__main__":
    main()
