-- Dramatiq's Redis message layout, as its RedisBroker "enqueue" writes a message: the
-- encoded message in the hash $namespace:$queue.msgs under its id, and the id pushed on
-- the list $namespace:$queue. Every script that enqueues calls this (workers/queue/layout.py).
local function enqueue_message(namespace, queue, message_id, data)
    local queue_key = namespace .. ":" .. queue
    redis.call("hset", queue_key .. ".msgs", message_id, data)
    redis.call("rpush", queue_key, message_id)
end

-- redis.call(command, key, values...) for a list of values of any length, a thousand
-- values a call (Lua cannot unpack many more at once; the count is even, so pairs stay
-- whole).
local function call_with_all(command, key, values)
    for first = 1, #values, 1000 do
        redis.call(command, key, unpack(values, first, math.min(first + 999, #values)))
    end
end

-- The same as enqueue_message for several messages of one queue, in a write or two
-- whatever their number: ids in queue order, fields their (id, data) pairs.
local function enqueue_messages(namespace, queue, ids, fields)
    local queue_key = namespace .. ":" .. queue
    call_with_all("hset", queue_key .. ".msgs", fields)
    call_with_all("rpush", queue_key, ids)
end

-- A delayed message due later than the horizon waits in the due set instead
-- (workers/queue/due.py): its id scored by its eta in $namespace:__due__, and
-- "$delay_queue\n$data" under its id in $namespace:__due__.msgs. Writing the same
-- message twice leaves one entry.
local function defer_message(namespace, queue, message_id, data, eta_ms)
    local due_key = namespace .. ":__due__"
    redis.call("zadd", due_key, eta_ms, message_id)
    redis.call("hset", due_key .. ".msgs", message_id, queue .. "\n" .. data)
end
