-- Deduplicate and enqueue a request's events in one atomic step.
--
-- ARGV = [namespace, dedup_prefix, dedup_ttl_s, sequence, order_prefix,
--         after_prefix, order_ttl_s, trace_prefix, trace_ttl_s, trace_max, tail,
--         tail_max, (event_id, type, kind, destination, extra, keys, data) ...]
--
-- kind "queue": a Dramatiq message for the queue $destination, enqueued with
--   enqueue_message (workers/queue/layout.lua); extra is the message id. keys (a JSON
--   array of the user's identity keys, "[]" for none) are the keys whose open profile
--   updates the event must wait for (workers/profiles/order.py).
-- kind "buffer": a profile update appended to $destination:pending, numbered from the
--   $sequence counter ("<number> <data>"); extra is the profile's identity key,
--   counted in $destination:identities, and $destination:since remembers when the
--   oldest pending update came. Each of keys gets the number as its open update.
--
-- Only events whose id was not seen within the TTL are written. Returns one flag per
-- event: 1 written, 0 duplicate. A dedup key never exists without its event; its value
-- says what the event became, 1 a message, 2 a buffered profile update (both shared
-- integers: they cost nothing), for its trace (workers/trace). A duplicate adds an
-- entry to the event's trace when traces are kept (trace_ttl_s > 0). The accepted
-- events are one entry of the live tail stream (workers/trace/tail.py): a JSON array
-- of [id, type] pairs, the stream capped at about tail_max entries.
local namespace, prefix, ttl = ARGV[1], ARGV[2], ARGV[3]
local sequence, order_prefix, after_prefix, order_ttl = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local trace_prefix, trace_ttl, trace_max = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local tail, tail_max = ARGV[11], ARGV[12]
local accepted = {}
local now = now_ms()
local flags = {}

local function note_waits(event_id, keys)
    local after = after_prefix .. event_id
    for _, key in ipairs(keys) do
        local order = redis.call("hmget", order_prefix .. key, "open", "acked")
        if order[1] and tonumber(order[2] or "0") < tonumber(order[1]) then
            redis.call("hset", after, key, order[1])
            redis.call("expire", after, order_ttl)
        end
    end
end

local function open_update(number, keys)
    for _, key in ipairs(keys) do
        redis.call("hset", order_prefix .. key, "open", number)
        redis.call("expire", order_prefix .. key, order_ttl)
    end
end

for i = 13, #ARGV, 7 do
    local event_id, event_type, kind, destination = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local extra, keys, data = ARGV[i + 4], cjson.decode(ARGV[i + 5]), ARGV[i + 6]
    local became = kind == "queue" and 1 or 2
    if redis.call("set", prefix .. event_id, became, "NX", "EX", ttl) then
        if kind == "queue" then
            note_waits(event_id, keys)
            enqueue_message(namespace, destination, extra, data)
        else
            local number = redis.call("incr", sequence)
            open_update(number, keys)
            redis.call("rpush", destination .. ":pending", number .. " " .. data)
            redis.call("sadd", destination .. ":identities", extra)
            redis.call("set", destination .. ":since", now, "NX")
        end
        flags[#flags + 1] = 1
        accepted[#accepted + 1] = {event_id, event_type}
    else
        if trace_ttl > 0 then
            local entry = '{"at":' .. now .. ',"do":"duplicate"}'
            append_trace(trace_prefix .. event_id, entry, trace_ttl, trace_max, "0", "")
        end
        flags[#flags + 1] = 0
    end
end
if #accepted > 0 then
    redis.call("xadd", tail, "MAXLEN", "~", tail_max, "*",
        "outcome", "accepted", "at", now, "events", cjson.encode(accepted))
end
return flags
