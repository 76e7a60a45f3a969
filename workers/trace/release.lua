-- Take out of Redis what a move wrote to SQL (workers/trace/mover.py).
--
-- KEYS = [settled]; ARGV = [lease, (trace, count, entry × count) ...]
-- Each entry moved is removed by its value, wherever it now is in the list: entries
-- added meanwhile stay (and a final one among them has scored the trace again, so it
-- moves next time). A trace still scored with this move's lease leaves the set.
local lease = tonumber(ARGV[1])
local i = 2
while i <= #ARGV do
    local trace, count = ARGV[i], tonumber(ARGV[i + 1])
    for j = i + 2, i + 1 + count do
        redis.call("lrem", trace, 1, ARGV[j])
    end
    if tonumber(redis.call("zscore", KEYS[1], trace)) == lease then
        redis.call("zrem", KEYS[1], trace)
    end
    i = i + 2 + count
end
return 0
