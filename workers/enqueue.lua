-- Deduplicate and enqueue a request's events in one atomic step.
--
-- ARGV = [namespace, dedup_prefix, dedup_ttl_s,
--         (event_id, kind, destination, extra, data) ...]
--
-- kind "queue": a Dramatiq message, written exactly as Dramatiq's RedisBroker
--   "enqueue" does (a hash entry in $namespace:$destination.msgs, its id pushed on
--   $namespace:$destination); extra is the message id.
-- kind "buffer": a profile update appended to $destination:pending; extra is the
--   profile's identity key, counted in $destination:identities, and
--   $destination:since remembers when the oldest pending update came.
--
-- Only events whose id was not seen within the TTL are written. Returns one flag per
-- event: 1 written, 0 duplicate. A dedup key never exists without its event.
local namespace, prefix, ttl = ARGV[1], ARGV[2], ARGV[3]
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local flags = {}
for i = 4, #ARGV, 5 do
    local kind, destination, extra, data = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    if redis.call("set", prefix .. ARGV[i], kind, "NX", "EX", ttl) then
        if kind == "queue" then
            local queue = namespace .. ":" .. destination
            redis.call("hset", queue .. ".msgs", extra, data)
            redis.call("rpush", queue, extra)
        else
            redis.call("rpush", destination .. ":pending", data)
            redis.call("sadd", destination .. ":identities", extra)
            redis.call("set", destination .. ":since", now, "NX")
        end
        flags[#flags + 1] = 1
    else
        flags[#flags + 1] = 0
    end
end
return flags
