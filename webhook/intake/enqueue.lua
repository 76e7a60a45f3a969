-- Deduplicate and enqueue a request's events in one atomic step.
--
-- ARGV = [dedup_ttl_s, trace_ttl_s, (event_id, type, kind, destination, extra, keys,
--         data) ...]
-- The fixed names and bounds (namespace, dedup_prefix, sequence, order_prefix,
-- after_prefix, unsettled, every_profile, order_ttl, trace_prefix, trace_max, tail,
-- tail_window_ms) are locals put before this script when it loads
-- (webhook/intake/queue.py).
--
-- kind "queue": a Dramatiq message for the queue $destination, enqueued with
--   enqueue_messages (workers/queue/layout.lua); extra is the message id. keys (a JSON
--   array of the user's identity keys, "[]" for none) are the keys whose open profile
--   updates the event must wait for (workers/profiles/order.py); $every_profile
--   among them (a campaign start) waits for every profile update accepted before it.
-- kind "buffer": a profile update appended to $destination:pending, numbered from the
--   $sequence counter ("<number> <data>"); extra is the profile's identity key,
--   counted in $destination:identities, and $destination:since remembers when the
--   oldest pending update came. Each of keys gets the number as its open update; the
--   first (the profile's, settled with the rest of its keys) gets a place in
--   $unsettled, scored by its lowest unsettled number, if it had none.
--
-- Only events whose id was not seen within the TTL are written, each key once per
-- request whatever the number of events (a Redis call costs more than what it writes:
-- bench/capacity.py). Returns one flag per event: 1 written, 0 duplicate. A dedup key
-- never exists without its event; its value says what the event became, 1 a message, 2
-- a buffered profile update (both shared integers: they cost nothing), for its trace
-- (workers/trace). A duplicate adds an entry to the event's trace when traces are kept
-- (trace_ttl_s > 0). The accepted events are one entry of the live tail stream
-- (workers/trace/tail.py): a JSON array of [id, type] pairs, the stream trimmed to about
-- its last tail_window_ms.
local ttl, trace_ttl = ARGV[1], tonumber(ARGV[2])
local FIRST, WIDTH = 3, 7
local now = now_ms()
local flags, accepted, profiles = {}, {}, 0

-- Which events are new: each one's dedup key, in order (a later copy of an id in the
-- same request is a duplicate of the first).
for i = FIRST, #ARGV, WIDTH do
    local event_id, kind = ARGV[i], ARGV[i + 2]
    if redis.call("set", dedup_prefix .. event_id, kind == "queue" and 1 or 2, "NX", "EX", ttl) then
        flags[#flags + 1] = 1
        accepted[#accepted + 1] = {event_id, ARGV[i + 1]}
        if kind ~= "queue" then
            profiles = profiles + 1
        end
    else
        if trace_ttl > 0 then
            local entry = '{"at":' .. now .. ',"do":"duplicate"}'
            append_trace(trace_prefix .. event_id, entry, trace_ttl, trace_max, "0", "", "1")
        end
        flags[#flags + 1] = 0
    end
end
if #accepted == 0 then
    return flags
end

-- The new events' writes, gathered so that each key is written once per request: the
-- messages of each queue, the buffered updates (numbered in order from one INCRBY),
-- and each identity key's newest open update, which an event later in the request
-- already waits for.
local number = profiles > 0 and redis.call("incrby", sequence, profiles) - profiles or nil
local request_first = number and number + 1
local queues, queue_order, opened, opened_order, first_open = {}, {}, {}, {}, {}
local buffers, buffer_order = {}, {}

local function gathered(groups, order, name)
    local group = groups[name]
    if not group then
        group = {ids = {}, items = {}}
        groups[name] = group
        order[#order + 1] = name
    end
    return group
end

-- A start waits for every update numbered up to now (its mark) while the lowest
-- unsettled one is within it: those of this request, then those in $unsettled.
local function note_global_wait(after)
    local mark = number or tonumber(redis.call("get", sequence) or "0")
    local lowest = redis.call("zrange", unsettled, 0, 0, "WITHSCORES")
    local low = lowest[2] and tonumber(lowest[2])
    if next(opened) and (not low or request_first < low) then
        low = request_first
    end
    if low and low <= mark then
        redis.call("hset", after, every_profile, mark, "low", low)
        redis.call("expire", after, order_ttl)
    end
end

local function note_waits(event_id, keys)
    local after = after_prefix .. event_id
    for _, key in ipairs(keys) do
        local open = opened[key]
        if key == every_profile then
            note_global_wait(after)
        elseif not open then
            local order = redis.call("hmget", order_prefix .. key, "open", "acked")
            if order[1] and tonumber(order[2] or "0") < tonumber(order[1]) then
                open = order[1]
            end
        end
        if open then
            redis.call("hset", after, key, open)
            redis.call("expire", after, order_ttl)
        end
    end
end

for i = FIRST, #ARGV, WIDTH do
    if flags[(i - FIRST) / WIDTH + 1] == 1 then
        local event_id, kind, destination = ARGV[i], ARGV[i + 2], ARGV[i + 3]
        local extra, keys, data = ARGV[i + 4], cjson.decode(ARGV[i + 5]), ARGV[i + 6]
        if kind == "queue" then
            note_waits(event_id, keys)
            local group = gathered(queues, queue_order, destination)
            group.ids[#group.ids + 1] = extra
            group.items[#group.items + 1] = extra
            group.items[#group.items + 1] = data
        else
            number = number + 1
            for _, key in ipairs(keys) do
                if not opened[key] then
                    opened_order[#opened_order + 1] = key
                end
                opened[key] = number
            end
            first_open[keys[1]] = first_open[keys[1]] or number
            local group = gathered(buffers, buffer_order, destination)
            group.ids[#group.ids + 1] = extra
            group.items[#group.items + 1] = number .. " " .. data
        end
    end
end

for _, queue in ipairs(queue_order) do
    enqueue_messages(namespace, queue, queues[queue].ids, queues[queue].items)
end
for _, buffer in ipairs(buffer_order) do
    call_with_all("rpush", buffer .. ":pending", buffers[buffer].items)
    call_with_all("sadd", buffer .. ":identities", buffers[buffer].ids)
    redis.call("set", buffer .. ":since", now, "NX")
end
local scored = {}
for _, key in ipairs(opened_order) do
    redis.call("hset", order_prefix .. key, "open", opened[key])
    redis.call("expire", order_prefix .. key, order_ttl)
    if first_open[key] then
        scored[#scored + 1] = first_open[key]
        scored[#scored + 1] = key
    end
end
for first = 1, #scored, 1000 do
    redis.call("zadd", unsettled, "NX", unpack(scored, first, math.min(first + 999, #scored)))
end
redis.call("xadd", tail, "MINID", "~", now - tail_window_ms, "*",
    "outcome", "accepted", "at", now, "events", cjson.encode(accepted))
return flags
