-- Deduplicate and enqueue a request's events in one atomic step.
--
-- ARGV = [namespace, dedup_prefix, dedup_ttl_s,
--         (event_id, queue_name, redis_message_id, message_data) ...]
--
-- Writes each new message exactly as Dramatiq's RedisBroker "enqueue" does
-- (a hash entry in $namespace:$queue.msgs, its id pushed on $namespace:$queue),
-- and only if its event id was not seen within the TTL. Returns one flag per
-- event: 1 enqueued, 0 duplicate. A dedup key never exists without its message.
local namespace, prefix, ttl = ARGV[1], ARGV[2], ARGV[3]
local flags = {}
for i = 4, #ARGV, 4 do
    local message_id = ARGV[i + 2]
    if redis.call("set", prefix .. ARGV[i], message_id, "NX", "EX", ttl) then
        local queue = namespace .. ":" .. ARGV[i + 1]
        redis.call("hset", queue .. ".msgs", message_id, ARGV[i + 3])
        redis.call("rpush", queue, message_id)
        flags[#flags + 1] = 1
    else
        flags[#flags + 1] = 0
    end
end
return flags
