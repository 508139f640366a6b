-- bench/wrk_random.lua: wrk script for `make bench`: one random corpus page per
-- request, one request per connection, results printed as one JSON line.
-- Usage: wrk ... -s wrk_random.lua URL -- PAGES_TXT [SEED]
-- PAGES_TXT lists "/path size" per line (bench/corpus.py writes it). Each wrk
-- thread seeds its own generator with SEED and its thread number, so a run
-- requests the same page sequence per thread (wrk's timing still varies).
-- Environment (read in done(), which gets no script arguments):
--   WRK_GOOD_TIMEOUT_US  the benchmark's per-request timeout: the JSON's
--                        "within_timeout" counts the responses no slower.
--                        wrk's own --timeout only bounds its latency record
--                        (it never drops a connection), so the caller sets
--                        it above the run's length and every response has
--                        a latency sample.
--   WRK_DONE_MARK        a file done() creates first thing: its time is the
--                        end of wrk's measured window (start: that minus
--                        "duration_us"), for CPU sampled over that window.

wrk.headers["Connection"] = "close"

local threads = {}
local nthreads = 0

function setup(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads)
   table.insert(threads, thread)
end

local requests = {}
local nreq = 0

function init(args)
   -- args[0] is the URL in wrk 4.1; the script's own arguments follow.
   local list = args[1]
   local seed = tonumber(args[2] or "1")
   if list == nil then
      error("wrk_random.lua: pass the page list after --")
   end
   for line in io.lines(list) do
      local path = line:match("^(%S+)")
      if path then
         nreq = nreq + 1
         requests[nreq] = wrk.format("GET", path)
      end
   end
   if nreq == 0 then
      error("wrk_random.lua: no pages in " .. list)
   end
   math.randomseed(seed * 1000 + (tid or 0))
end

function request()
   return requests[math.random(nreq)]
end

-- Latency histogram in log2 buckets of microseconds: bucket k counts the
-- requests with 2^k <= latency < 2^(k+1) (k = 0 also takes 0 us).
-- wrk 4.1's latency(i) and latency:percentile(p) each scan the whole value
-- range, so iterating latency(i) over every distinct value costs seconds; a
-- binary search over ranks needs a few hundred percentile calls instead.
-- wrk does not expose its latency sample count, which can differ from the
-- request count by a fraction of a percent (a request completed after its
-- timeout has no sample; responses at the stop are counted unevenly). Ranks
-- are therefore taken over the request count: the histogram is the latency
-- distribution scaled to the requests, exact when the two counts agree (checked
-- against a full latency(i) walk), and the top bucket takes any rest.
local function value_at_rank(latency, r, count)
   -- wrk: rank = round(p / 100 * samples + 0.5); p for rank r, clear of ties.
   local v = latency:percentile((r - 0.25) / count * 100)
   if v == 0 and latency.min > 0 then
      return math.huge -- past the last sample wrk answers 0
   end
   return v
end

-- Samples with latency < limit, in [0, count].
local function count_below(latency, limit, count)
   local lo, hi = 0, count -- invariant: value(lo) < limit (value(0) = -inf)
   while lo < hi do
      local mid = math.floor((lo + hi + 1) / 2)
      if value_at_rank(latency, mid, count) < limit then
         lo = mid
      else
         hi = mid - 1
      end
   end
   return lo
end

local function log2_histogram(latency, count)
   if count == 0 then
      return "[]"
   end
   local top = 0
   while latency.max >= 2 ^ (top + 1) do
      top = top + 1
   end
   local out, prev = {}, 0
   for k = 0, top do
      local below = k == top and count or count_below(latency, 2 ^ (k + 1), count)
      out[#out + 1] = tostring(below - prev)
      prev = below
   end
   return "[" .. table.concat(out, ",") .. "]"
end

function done(summary, latency, requests)
   local mark = os.getenv("WRK_DONE_MARK")
   if mark and mark ~= "" then
      local f = io.open(mark, "w")
      if f then f:close() end
   end
   local e = summary.errors
   local n = summary.requests
   local good_us = tonumber(os.getenv("WRK_GOOD_TIMEOUT_US") or "")
   local within = -1
   if good_us and n > 0 then
      within = count_below(latency, good_us + 1, n)
   elseif good_us then
      within = 0
   end
   local p50, p90, p99, p999, lmin, lmax, lmean = 0, 0, 0, 0, 0, 0, 0
   if n > 0 then
      p50 = latency:percentile(50)
      p90 = latency:percentile(90)
      p99 = latency:percentile(99)
      p999 = latency:percentile(99.9)
      lmin, lmax, lmean = latency.min, latency.max, latency.mean
   end
   io.write(string.format(
      'WRK_JSON {"threads":%d,"duration_us":%d,"requests":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},' ..
      '"within_timeout":%d,"timeout_us":%d,"latency_log2_us":%s}\n',
      nthreads, summary.duration, n, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      lmin, lmean, p50, p90, p99, p999, lmax, within, good_us or -1, log2_histogram(latency, n)))
end
