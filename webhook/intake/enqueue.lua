-- Deduplicate and enqueue a request's events in one atomic step.
--
-- ARGV = [namespace, dedup_prefix, dedup_ttl_s,
--         (event_id, kind, destination, extra, data) ...]
--
-- kind "queue": a Dramatiq message for the queue $destination, enqueued with
--   enqueue_message (workers/queue/layout.lua); extra is the message id.
-- kind "buffer": a profile update appended to $destination:pending; extra is the
--   profile's identity key, counted in $destination:identities, and
--   $destination:since remembers when the oldest pending update came.
--
-- Only events whose id was not seen within the TTL are written. Returns one flag per
-- event: 1 written, 0 duplicate. A dedup key never exists without its event.
local namespace, prefix, ttl = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local flags = {}
for i = 4, #ARGV, 5 do
    local kind, destination, extra, data = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    -- The value is never read: "1" is one of Redis's shared integers, so it costs nothing.
    if redis.call("set", prefix .. ARGV[i], 1, "NX", "EX", ttl) then
        if kind == "queue" then
            enqueue_message(namespace, destination, extra, data)
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
