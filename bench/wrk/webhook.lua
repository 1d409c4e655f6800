-- POSTs pre-signed Stripe events from a pool file (bench/events.py: write_wrk_pool), each once.
-- Arguments after `--`: <pool file> <path> <thread count>. Each thread takes every n-th event of the pool;
-- a thread whose share runs out stops (the run is bounded by the pool and by wrk's -d).
-- done() prints one JSON line for bench/run.py.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  pool_path, url_path, nthreads = args[1], args[2], tonumber(args[3])
  local f = assert(io.open(pool_path, "rb"))
  bodies, signatures = {}, {}
  local index = 0
  while true do
    local signature = f:read("*l")
    if not signature then break end
    local size = tonumber(f:read("*l"))
    local body = f:read(size)
    if index % nthreads == id then
      table.insert(signatures, signature)
      table.insert(bodies, body)
    end
    index = index + 1
  end
  f:close()
  next_index, sent, exhausted = 1, 0, 0
end

function request()
  if next_index > #bodies then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/api/health/")
  end
  local i = next_index
  next_index = next_index + 1
  sent = sent + 1
  return wrk.format("POST", url_path, {
    ["Content-Type"] = "application/json; charset=utf-8",
    ["Stripe-Signature"] = signatures[i],
    ["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
  }, bodies[i])
end

function done(summary, latency, requests)
  local sent_total, exhausted_threads = 0, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
    exhausted_threads = exhausted_threads + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
    '"sent": %d, "exhausted_threads": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, sent_total, exhausted_threads))
end
