-- Put a dead worker's unacknowledged messages of one queue back on that queue, as
-- Dramatiq's maintenance does, and drop its acknowledgement set.
--
-- KEYS = [the dead worker's ack set for the queue, the queue (list), the queue's .msgs hash]
-- Returns how many messages went back (those whose content still exists).
local returned = 0
for _, message_id in ipairs(redis.call("smembers", KEYS[1])) do
    if redis.call("hexists", KEYS[3], message_id) == 1 then
        redis.call("rpush", KEYS[2], message_id)
        returned = returned + 1
    end
end
redis.call("del", KEYS[1])
return returned
