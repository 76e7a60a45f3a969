-- Claim up to ARGV[3] traces settled at least ARGV[1] ms ago, for a move to SQL
-- (workers/trace/mover.py).
--
-- KEYS = [settled]; ARGV = [delay_ms, lease_ms, limit]
-- Returns {lease, trace, ...}. Each trace claimed is scored lease (now + lease_ms): no
-- other worker takes it before then, and a worker that dies mid-move leaves it to the
-- next. A new final entry scores it now again (append_trace), so the release keeps it.
local now = now_ms()
local due = redis.call("zrangebyscore", KEYS[1], "-inf", now - tonumber(ARGV[1]),
    "LIMIT", 0, tonumber(ARGV[3]))
local lease = now + tonumber(ARGV[2])
for _, trace in ipairs(due) do
    redis.call("zadd", KEYS[1], lease, trace)
end
table.insert(due, 1, lease)
return due
