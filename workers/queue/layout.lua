-- Dramatiq's Redis message layout, as its RedisBroker "enqueue" writes a message: the
-- encoded message in the hash $namespace:$queue.msgs under its id, and the id pushed on
-- the list $namespace:$queue. Every script that enqueues calls this (workers/queue/layout.py).
local function enqueue_message(namespace, queue, message_id, data)
    local queue_key = namespace .. ":" .. queue
    redis.call("hset", queue_key .. ".msgs", message_id, data)
    redis.call("rpush", queue_key, message_id)
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
