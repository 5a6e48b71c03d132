-- wrk script for `make bench`: at the end of a run, print wrk's totals as one JSON line
-- (prefixed `RESULT `) so bench/run.sh need not scrape wrk's human-readable summary.
-- errors.status counts responses with a status >= 400 (wrk's "Non-2xx or 3xx responses");
-- connect/read/write/timeout are wrk's "Socket errors". No request()/response() hooks are
-- defined, so wrk keeps its fast native path and the numbers match a run without a script.

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"status":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
