-- Move one dead letter back onto its queue, atomically.
--
-- KEYS = [dlq entries hash, dlq index zset]
-- ARGV = [namespace, dead letter id, queue name, new redis message id, message data]
--
-- Enqueues the message (enqueue_message, layout.lua) and removes the dead letter, only if the dead letter still exists: returns 1 if moved, 0 if it was gone
-- (already replayed or purged), so a letter is never re-enqueued twice.
local entries, index = KEYS[1], KEYS[2]
local namespace, letter_id, queue, message_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call("hdel", entries, letter_id) == 0 then
    return 0
end
redis.call("zrem", index, letter_id)
enqueue_message(namespace, queue, message_id, data)
return 1
