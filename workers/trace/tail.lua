-- Add one outcome to the live tail (workers/trace/tail.py), trimmed to about its newest
-- ARGV[1] entries. KEYS = [tail]; ARGV = [max_entries, field, value, ...]
return redis.call("xadd", KEYS[1], "MAXLEN", "~", ARGV[1], "*", unpack(ARGV, 2))
