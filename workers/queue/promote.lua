-- Move the due set's messages whose eta is before ARGV[2] (now + horizon) into their
-- delay queues, at most ARGV[3] of them, in one atomic step (workers/queue/due.py).
--
-- KEYS = [$namespace:__due__, $namespace:__due__.msgs]
-- ARGV = [namespace, until_ms, limit]
-- Returns how many moved.
local ids = redis.call("zrangebyscore", KEYS[1], "-inf", ARGV[2], "LIMIT", 0, ARGV[3])
for _, message_id in ipairs(ids) do
    local entry = redis.call("hget", KEYS[2], message_id)
    if entry then
        local newline = string.find(entry, "\n", 1, true)
        enqueue_message(ARGV[1], string.sub(entry, 1, newline - 1), message_id,
            string.sub(entry, newline + 1))
    end
    redis.call("zrem", KEYS[1], message_id)
    redis.call("hdel", KEYS[2], message_id)
end
return #ids
