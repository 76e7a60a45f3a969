-- Dramatiq's Redis message layout, as its RedisBroker "enqueue" writes a message: the
-- encoded message in the hash $namespace:$queue.msgs under its id, and the id pushed on
-- the list $namespace:$queue. Every script that enqueues calls this (workers/queue/layout.py).
local function enqueue_message(namespace, queue, message_id, data)
    local queue_key = namespace .. ":" .. queue
    redis.call("hset", queue_key .. ".msgs", message_id, data)
    redis.call("rpush", queue_key, message_id)
end
