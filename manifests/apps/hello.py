#!/usr/bin/env python3
"""corral's demo app: a line to stdout every 2 s, one to stderr every 10 s; exits cleanly on SIGTERM."""

import os
import signal
import sys
import time

instance = os.environ.get("CORRAL_INSTANCE", "?")
running = True


def stop(signum, _frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

print(f"hello {instance}: started (pid {os.getpid()})", flush=True)
tick = 0
while running:
    print(f"hello {instance}: tick {tick}", flush=True)
    if tick % 5 == 0:
        print(f"hello {instance}: still here (stderr)", file=sys.stderr, flush=True)
    tick += 1
    # Sleep in short steps so SIGTERM is answered quickly.
    for _ in range(20):
        if not running:
            break
        time.sleep(0.1)

print(f"hello {instance}: got SIGTERM, bye", flush=True)
sys.exit(0)
