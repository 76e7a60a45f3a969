-- Append one entry to an event's trace (append_trace, workers/trace/append.lua).
--
-- KEYS = [trace]; ARGV = [entry, ttl_s, max_entries, settles, repeats, final]
append_trace(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6])
