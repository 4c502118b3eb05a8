"""Time to first byte of streaming chat completions (python3 stdlib only).

CONNECTIONS keep-alive HTTP/1.1 connections, each sending one streaming
OpenAI chat completion after the other for SECONDS (closed loop). For each
request, from writing the request:
  ttfb  until the first byte of the response body (for a chunked body the
        first data byte of the first chunk, not the chunk-size line);
  ttft  until the first SSE event that carries answer text ("content" not
        empty). `aegis sim` sends its role-only first event at once and the
        first token after --ttft-ms, so the two differ for a direct request.
The rest of the stream is read to its end; anything but a 200 stream with a
token is an error.

Usage: ttfb.py URL KEY CONNECTIONS SECONDS [WARMUP_SECONDS=1]
Prints one line: RESULT {"requests","ttfb_p50_ms","ttfb_p99_ms","ttft_p50_ms","ttft_p99_ms","errors",
"peak_streams"} (requests finished during the warm-up are not counted; peak_streams is the most
streams open at once: answered 200 and not yet at their end).
"""
import asyncio
import json
import math
import re
import sys
import time
from urllib.parse import urlparse

BODY = json.dumps({
    "model": "sim-small", "stream": True, "max_tokens": 16,
    "messages": [{"role": "user", "content": "Summarise the quarterly report in two sentences please."}],
}).encode()
TOKEN = re.compile(rb'"content":\s*"[^"]')  # an OpenAI chunk whose delta holds answer text


class BadResponse(Exception):
    pass


class OpenStreams:
    def __init__(self):
        self.now = 0
        self.peak = 0

    def opened(self):
        self.now += 1
        self.peak = max(self.peak, self.now)

    def closed(self):
        self.now -= 1


async def read_headers(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def body_pieces(reader, headers):
    """The response body as it arrives; the first piece is its first byte alone."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        first = True
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected: the final CRLF
                return
            if first:
                yield await reader.readexactly(1)
                size -= 1
                first = False
            if size:
                yield await reader.readexactly(size)
            await reader.readexactly(2)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length:
            yield await reader.readexactly(1)
        if length > 1:
            yield await reader.readexactly(length - 1)
    else:  # delimited by the close
        yield await reader.readexactly(1)
        while piece := await reader.read(65536):
            yield piece


async def one_request(reader, writer, host, port, path, key, streams):
    """Returns (first body byte s, first answer token s, keep-alive?) or raises."""
    request = (f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
               f"authorization: Bearer {key}\r\ncontent-length: {len(BODY)}\r\n\r\n").encode() + BODY
    t0 = time.perf_counter()
    writer.write(request)
    await writer.drain()
    status, headers = await read_headers(reader)
    if status != 200:
        raise BadResponse(f"HTTP {status}")
    first_byte = first_token = None
    seen = b""
    streams.opened()
    try:
        async for piece in body_pieces(reader, headers):
            if first_byte is None:
                first_byte = time.perf_counter() - t0
            if first_token is None:
                seen += piece
                if TOKEN.search(seen):
                    first_token = time.perf_counter() - t0
    finally:
        streams.closed()
    if first_byte is None or first_token is None:
        raise BadResponse("no answer token in the stream")
    keep = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
    return first_byte, first_token, keep and headers.get("connection", "").lower() != "close"


async def worker(url, key, deadline, measure_from, samples, errors, streams):
    host, port, path = url.hostname, url.port, url.path
    reader = writer = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            first_byte, first_token, keep = await one_request(reader, writer, host, port, path, key, streams)
            if time.perf_counter() >= measure_from:
                samples.append((first_byte, first_token))
            if not keep:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, BadResponse, ValueError):
            if time.perf_counter() >= measure_from:
                errors[0] += 1
            if writer is not None:
                writer.close()
                writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    rank = math.ceil(q / 100 * len(sorted_values))  # nearest rank
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]


async def main():
    url = urlparse(sys.argv[1])
    key, conns, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    warmup = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    start = time.perf_counter()
    samples, errors, streams = [], [0], OpenStreams()
    await asyncio.gather(*(worker(url, key, start + warmup + secs, start + warmup, samples, errors, streams)
                           for _ in range(conns)))
    byte = sorted(s[0] for s in samples)
    token = sorted(s[1] for s in samples)
    ms = lambda values, q: round(percentile(values, q) * 1000, 3)  # noqa: E731
    print("RESULT " + json.dumps({
        "requests": len(samples),
        "ttfb_p50_ms": ms(byte, 50), "ttfb_p99_ms": ms(byte, 99),
        "ttft_p50_ms": ms(token, 50), "ttft_p99_ms": ms(token, 99),
        "errors": errors[0], "peak_streams": streams.peak,
    }))


if __name__ == "__main__":
    asyncio.run(main())
