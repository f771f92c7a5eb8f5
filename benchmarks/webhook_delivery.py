"""Webhook delivery: one `deliver_due` run against a slow receiver, requests one at a time vs. in a pool.

The receiver (on 127.0.0.1) answers every request after `--delay` seconds, like a CRM that takes two
seconds per call. Prints a markdown table: messages, delay, concurrency, wall time of the run.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from leadscore.webhooks import Destination, MemoryOutbox, OutboxMessage, WebhookDispatcher, generate_secret


def receiver(delay_s: float) -> ThreadingHTTPServer:
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            time.sleep(delay_s)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(messages: int, delay_s: float, concurrency: int) -> float:
    server = receiver(delay_s)
    try:
        now = datetime.now(UTC)
        box = MemoryOutbox()
        box.enqueue(OutboxMessage(f"trg_{i}", "crm", {"n": i}, now, now) for i in range(messages))
        dest = Destination(name="crm", url=f"http://127.0.0.1:{server.server_address[1]}/", secret=generate_secret())
        with httpx.Client() as client:
            dispatcher = WebhookDispatcher([dest], box, client, concurrency=concurrency)
            started = time.perf_counter()
            report = dispatcher.deliver_due(now)
            took = time.perf_counter() - started
        assert report.delivered == messages, report
        return took
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=14)
    parser.add_argument("--delay", type=float, default=2.0, help="seconds the receiver takes per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    print("| messages | receiver delay | concurrency | run time |")
    print("|---:|---:|---:|---:|")
    for c in args.concurrency:
        took = run(args.messages, args.delay, c)
        print(f"| {args.messages} | {args.delay:g} s | {c} | {took:.2f} s |")


if __name__ == "__main__":
    main()
